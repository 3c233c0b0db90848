/* endpoints.h - the HTTP side of ChatOps.
 *
 *   POST /chatops/slack/command       Slack slash commands (form body, signed)
 *   POST /chatops/slack/interactive   Slack buttons (form body with a JSON payload, signed)
 *   POST /chatops/mattermost/command  Mattermost slash commands and outgoing webhooks (token)
 *   POST /api/v1/chat                 {"text": "incidents"} with "Authorization: Bearer TOKEN"
 *                                     (`tocsin chat`): {"status", "command", "text"}
 *
 * A request that fails its check (signature, timestamp, token) gets 401 with a JSON body naming
 * the problem and is audited ("chat.refused"). A slash command whose answer takes longer than
 * chatops.reply_timeout_ms is answered "working on it" at once and its answer is posted to the
 * request's response_url when it comes (Slack wants an answer within 3 s). */
#ifndef TN_CHATOPS_ENDPOINTS_H
#define TN_CHATOPS_ENDPOINTS_H

#include "chatops/chatops.h"
#include "http/server.h"

/* Adds the routes. c and http borrowed (c must outlive the server's requests). 0 or
 * TN_ENOMEM. */
int tn_chatops_routes(tn_chatops_t *c, tn_http_server_t *http);

#endif
