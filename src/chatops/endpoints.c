/* endpoints.c - Slack, Mattermost and the chat API over HTTP (endpoints.h). */
#include "chatops/endpoints.h"
#include "chatops/form.h"
#include "chatops/sign.h"
#include "core/error.h"
#include "core/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { P_SLACK, P_MATTERMOST, P_API };

/* One message waiting for its answer. */
typedef struct {
    tn_chatops_t *c;
    int platform;
    tn_http_req_t *req; /* NULL once answered (or gone) */
    char *response_url; /* may be NULL */
    char *command;      /* the first word, for "working on it" */
    uv_timer_t timer;
    int timer_on, timer_closing, replied;
    int in_dispatch; /* dispatch frees it */
    int button;      /* a button click: the answer replaces the message with the buttons */
} pending_t;

static void pending_maybe_free(pending_t *p)
{
    if (!p->replied || p->timer_closing || p->req || p->in_dispatch) return;
    free(p->response_url);
    free(p->command);
    free(p);
}

static void timer_closed(uv_handle_t *h)
{
    pending_t *p = h->data;
    p->timer_closing = 0;
    pending_maybe_free(p);
}

static void stop_timer(pending_t *p)
{
    if (!p->timer_on) return;
    p->timer_on = 0;
    p->timer_closing = 1;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, timer_closed);
}

static int status_code(const char *status)
{
    if (!strcmp(status, "ok")) return 200;
    if (!strcmp(status, "denied")) return 403;
    if (!strcmp(status, "not_found")) return 404;
    if (!strcmp(status, "usage") || !strcmp(status, "unknown")) return 400;
    return 500;
}

static void on_reply(void *arg, const tn_chat_answer_t *a)
{
    pending_t *p = arg;
    p->replied = 1;
    stop_timer(p);
    if (p->req) {
        tn_http_req_t *req = p->req;
        p->req = NULL;
        if (p->platform == P_API)
            tn_http_respond_json(req, status_code(a->status),
                                 json_pack("{s:s, s:s, s:s}", "status", a->status, "command",
                                           a->command ? a->command : "", "text",
                                           a->text ? a->text : ""));
        else /* Slack and Mattermost show the text of a 200 answer, whatever the status */
            tn_http_respond_json(req, 200, tn_chatops_slack_message(a));
    } else if (!p->response_url || !*p->response_url) {
        tn_log_warn("chatops",
                    "the answer to `%s` came after the request was answered, and the "
                    "request has no response_url: dropped",
                    p->command);
    } else {
        json_t *msg = tn_chatops_slack_message(a);
        if (msg && p->button) /* done: the buttons go; refused: they stay for someone else */
            json_object_set_new(msg, "replace_original", json_boolean(!strcmp(a->status, "ok")));
        tn_chatops_post(p->c, p->response_url, msg);
        json_decref(msg);
    }
    pending_maybe_free(p);
}

static void on_slow(uv_timer_t *h)
{
    pending_t *p = h->data;
    if (!p->req || p->replied) return;
    tn_http_req_t *req = p->req;
    p->req = NULL;
    char text[256];
    snprintf(text, sizeof text, "Working on `%.64s`; the answer will follow here.", p->command);
    tn_http_respond_json(req, 200,
                         json_pack("{s:s, s:s}", "response_type", "ephemeral", "text", text));
    stop_timer(p);
}

static void on_gone(tn_http_req_t *req, void *arg)
{
    (void)req;
    pending_t *p = arg;
    p->req = NULL; /* a later answer goes to the response_url, if any */
    pending_maybe_free(p);
}

/* Hands the message to chatops and answers req now, or after the reply timeout ("working on
 * it"), or when the answer comes (the chat API waits for it). req NULL: a button click already
 * acknowledged, whose answer goes to the response_url. */
static void dispatch(tn_chatops_t *c, tn_http_req_t *req, int platform, const tn_chat_msg_t *m,
                     const char *approval, int approve)
{
    pending_t *p = calloc(1, sizeof *p);
    char cmd[65] = "";
    sscanf(m->text ? m->text : "", "%64s", cmd);
    if (!p || (m->response_url && !(p->response_url = strdup(m->response_url))) ||
        !(p->command = strdup(cmd))) {
        if (p) free(p->response_url);
        free(p);
        if (req) tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    p->c = c;
    p->platform = platform;
    p->req = req;
    p->button = approval != NULL;
    p->in_dispatch = 1;
    if (approval)
        tn_chatops_decide(c, m, approval, approve, on_reply, p);
    else
        tn_chatops_handle(c, m, on_reply, p);
    p->in_dispatch = 0;
    if (p->replied) { /* answered already */
        pending_maybe_free(p);
        return;
    }
    if (!req) return;
    tn_http_req_on_gone(req, on_gone, p);
    if (platform != P_API) {
        uv_timer_init(tn_chatops_loop(c), &p->timer);
        p->timer.data = p;
        p->timer_on = 1;
        uv_timer_start(&p->timer, on_slow, (uint64_t)tn_chatops_config(c)->chatops.reply_timeout_ms,
                       0);
    }
}

/* ---- Slack ------------------------------------------------------------------------------ */

/* Verifies the request's signature; on failure answers 401, audits, and returns -1. */
static int slack_check(tn_chatops_t *c, tn_http_req_t *req)
{
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    const tn_config_t *cfg = tn_chatops_config(c);
    tn_sign_result_t r = tn_sign_slack_verify(
        cfg->chatops.slack_signing_secret, tn_http_req_header(req, "X-Slack-Request-Timestamp"),
        tn_http_req_header(req, "X-Slack-Signature"), body, len, (int64_t)time(NULL),
        cfg->chatops.slack_max_skew_s);
    if (r == TN_SIGN_OK) return 0;
    static const char *const why[] = {
        [TN_SIGN_MISSING] = "the X-Slack-Request-Timestamp or X-Slack-Signature header is missing",
        [TN_SIGN_MALFORMED] = "the signature headers are malformed",
        [TN_SIGN_STALE] = "the request timestamp is too far from now (replayed or clock skew)",
        [TN_SIGN_MISMATCH] = "the signature does not match the body (wrong signing secret or "
                             "altered body)",
        [TN_SIGN_NOSECRET] = "chatops.slack.signing_secret is not set",
    };
    char reason[160];
    snprintf(reason, sizeof reason, "slack signature %s", tn_sign_result_str(r));
    tn_chatops_refused(c, "slack", reason, tn_http_req_peer(req));
    tn_http_respond_error(req, 401, "unauthorized", "Slack request refused: %s", why[r]);
    return -1;
}

static int parse_form(tn_http_req_t *req, tn_form_t *f)
{
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_form_parse(body, len, 0, f, &err);
    if (rc)
        tn_http_respond_error(req, rc == TN_ENOMEM ? 500 : 400, "bad_request",
                              "the body is not a valid form: %s", err.data ? err.data : "?");
    tn_buf_deinit(&err);
    return rc;
}

static const char *nz(const char *a, const char *b)
{
    return a && *a ? a : b;
}

static void h_slack_command(tn_http_req_t *req, void *data)
{
    tn_chatops_t *c = data;
    if (slack_check(c, req)) return;
    tn_form_t f;
    if (parse_form(req, &f)) return;
    const char *user = nz(tn_form_get(&f, "user_name"), tn_form_get(&f, "user_id"));
    if (!user || !*user) {
        tn_http_respond_error(req, 400, "bad_request", "field user_name or user_id is required");
        tn_form_free(&f);
        return;
    }
    tn_chat_msg_t m = {.platform = "slack",
                       .user = user,
                       .user_id = tn_form_get(&f, "user_id"),
                       .channel = tn_form_get(&f, "channel_name"),
                       .channel_id = tn_form_get(&f, "channel_id"),
                       .text = nz(tn_form_get(&f, "text"), ""),
                       .response_url = tn_form_get(&f, "response_url")};
    dispatch(c, req, P_SLACK, &m, NULL, 0);
    tn_form_free(&f);
}

static void h_slack_interactive(tn_http_req_t *req, void *data)
{
    tn_chatops_t *c = data;
    if (slack_check(c, req)) return;
    tn_form_t f;
    if (parse_form(req, &f)) return;
    const char *payload = tn_form_get(&f, "payload");
    json_error_t je;
    json_t *j = payload ? json_loads(payload, 0, &je) : NULL;
    if (!json_is_object(j)) {
        tn_http_respond_error(req, 400, "bad_request", "field payload must be a JSON object%s%s",
                              payload ? ": " : " (missing)", payload ? je.text : "");
        json_decref(j);
        tn_form_free(&f);
        return;
    }
    json_t *act = json_array_get(json_object_get(j, "actions"), 0);
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *aid = json_string_value(json_object_get(act, "action_id"));
    const char *value = json_string_value(json_object_get(act, "value"));
    json_t *u = json_object_get(j, "user"), *ch = json_object_get(j, "channel");
    const char *user = nz(json_string_value(json_object_get(u, "username")),
                          nz(json_string_value(json_object_get(u, "name")),
                             json_string_value(json_object_get(u, "id"))));
    int approve = aid && !strcmp(aid, "tocsin_approve"), deny = aid && !strcmp(aid, "tocsin_deny");
    if (!type || strcmp(type, "block_actions") || !(approve || deny) || !value || !user) {
        /* not one of ours: Slack only needs the 200 */
        tn_log_info("chatops", "slack interaction ignored (type %s, action %s)", type ? type : "?",
                    aid ? aid : "?");
        tn_http_respond(req, 200, NULL, "{}", 2);
        json_decref(j);
        tn_form_free(&f);
        return;
    }
    tn_chat_msg_t m = {.platform = "slack",
                       .user = user,
                       .user_id = json_string_value(json_object_get(u, "id")),
                       .channel = json_string_value(json_object_get(ch, "name")),
                       .channel_id = json_string_value(json_object_get(ch, "id")),
                       .response_url = json_string_value(json_object_get(j, "response_url"))};
    /* Slack ignores the body of this answer: acknowledge now, the result goes to response_url */
    tn_http_respond(req, 200, NULL, "{}", 2);
    dispatch(c, NULL, P_SLACK, &m, value, approve);
    json_decref(j);
    tn_form_free(&f);
}

/* ---- Mattermost ------------------------------------------------------------------------- */

static void h_mattermost(tn_http_req_t *req, void *data)
{
    tn_chatops_t *c = data;
    tn_form_t f;
    if (parse_form(req, &f)) return;
    const char *token = tn_form_get(&f, "token");
    const char *auth = tn_http_req_header(req, "Authorization");
    if ((!token || !*token) && auth && !strncmp(auth, "Token ", 6)) token = auth + 6;
    const tn_conf_list_t *tl = &tn_chatops_config(c)->chatops.mattermost_tokens;
    int ok = 0;
    for (size_t i = 0; i < tl->n; i++)
        ok |= tn_sign_token_equal(tl->items[i], token);
    if (!ok) {
        const char *why = !tl->n              ? "chatops.mattermost.tokens is not set"
                          : !token || !*token ? "no token in the request"
                                              : "the token is not one of chatops.mattermost.tokens";
        tn_chatops_refused(c, "mattermost", why, tn_http_req_peer(req));
        tn_http_respond_error(req, 401, "unauthorized", "Mattermost request refused: %s", why);
        tn_form_free(&f);
        return;
    }
    const char *user = nz(tn_form_get(&f, "user_name"), tn_form_get(&f, "user_id"));
    if (!user || !*user) {
        tn_http_respond_error(req, 400, "bad_request", "field user_name or user_id is required");
        tn_form_free(&f);
        return;
    }
    /* an outgoing webhook's text starts with its trigger word */
    const char *text = nz(tn_form_get(&f, "text"), "");
    const char *trig = tn_form_get(&f, "trigger_word");
    size_t tlen = trig ? strlen(trig) : 0;
    if (tlen && !strncmp(text, trig, tlen)) text += tlen;
    tn_chat_msg_t m = {.platform = "mattermost",
                       .user = user,
                       .user_id = tn_form_get(&f, "user_id"),
                       .channel = tn_form_get(&f, "channel_name"),
                       .channel_id = tn_form_get(&f, "channel_id"),
                       .text = text,
                       .response_url = tn_form_get(&f, "response_url")};
    dispatch(c, req, P_MATTERMOST, &m, NULL, 0);
    tn_form_free(&f);
}

/* ---- the chat API (tocsin chat) --------------------------------------------------------- */

static void h_chat(tn_http_req_t *req, void *data)
{
    tn_chatops_t *c = data;
    const char *auth = tn_http_req_header(req, "Authorization");
    const char *token = auth && !strncmp(auth, "Bearer ", 7) ? auth + 7 : NULL;
    const tn_conf_list_t *tl = &tn_chatops_config(c)->chatops.api_tokens;
    char user[128] = "";
    for (size_t i = 0; token && i < tl->n; i++) {
        const char *eq = strchr(tl->items[i], '=');
        if (eq && tn_sign_token_equal(eq + 1, token))
            snprintf(user, sizeof user, "%.*s", (int)(eq - tl->items[i]), tl->items[i]);
    }
    if (!*user) {
        const char *why = !tl->n   ? "chatops.api_tokens is not set"
                          : !token ? "no \"Authorization: Bearer TOKEN\" header"
                                   : "the token is not one of chatops.api_tokens";
        tn_chatops_refused(c, "cli", why, tn_http_req_peer(req));
        tn_http_respond_error(req, 401, "unauthorized", "chat API request refused: %s", why);
        return;
    }
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    const char *text = json_string_value(json_object_get(j, "text"));
    json_t *channel = json_object_get(j, "channel");
    if (!json_is_object(j) || !text || (channel && !json_is_string(channel))) {
        tn_http_respond_error(req, 400, "bad_request",
                              "a JSON object is required: text (the command line), channel "
                              "(optional string)%s%s",
                              j ? "" : ": ", j ? "" : je.text);
        json_decref(j);
        return;
    }
    tn_chat_msg_t m = {.platform = "cli",
                       .user = user,
                       .channel = channel ? json_string_value(channel) : "cli",
                       .text = text};
    dispatch(c, req, P_API, &m, NULL, 0);
    json_decref(j);
}

int tn_chatops_routes(tn_chatops_t *c, tn_http_server_t *http)
{
    int rc = 0;
    rc |= tn_http_server_route(http, "POST", "/chatops/slack/command", h_slack_command, c);
    rc |= tn_http_server_route(http, "POST", "/chatops/slack/interactive", h_slack_interactive, c);
    rc |= tn_http_server_route(http, "POST", "/chatops/mattermost/command", h_mattermost, c);
    rc |= tn_http_server_route(http, "POST", "/api/v1/chat", h_chat, c);
    return rc ? TN_ENOMEM : 0;
}
