/* targets.h - the notification targets runbooks use (tocsin.notify): building and checking the
 * request bodies Slack and Mattermost incoming webhooks and the PagerDuty Events API v2
 * document, deciding what counts as delivered and what is worth retrying, the backoff between
 * attempts, and masking URLs and keys before they reach a log or the audit stream.
 *
 * Pure functions over jansson values: no I/O, no Lua, no allocation beyond what is returned.
 *
 * The body builders take the caller's fields as a JSON object (borrowed; the Lua binding
 * converts the runbook's table and removes its own options first) and return a new reference
 * (the caller owns it) with the document's field names, or NULL with the reason in err
 * ("<target>: '<field>' ..."). Unknown fields are errors: a typo must not pass silently. A list
 * field given as an empty object ({} from Lua) is taken as an empty list. */
#ifndef TN_NOTIFY_TARGETS_H
#define TN_NOTIFY_TARGETS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum {
    TN_NOTIFY_SLACK = 0,
    TN_NOTIFY_MATTERMOST,
    TN_NOTIFY_PAGERDUTY,
    TN_NOTIFY_WEBHOOK,
} tn_notify_kind_t;

/* "slack", "mattermost", "pagerduty", "webhook". Static. */
const char *tn_notify_kind_name(tn_notify_kind_t kind);

#define TN_NOTIFY_PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"
#define TN_NOTIFY_PAGERDUTY_MAX_BODY (512u * 1024) /* the Events API's size limit */

/* Slack incoming webhook: text, blocks (at most 50), attachments, thread_ts, mrkdwn,
 * unfurl_links, unfurl_media, and the legacy overrides channel, username, icon_emoji,
 * icon_url. One of text, blocks, attachments is required. */
json_t *tn_notify_slack_body(const json_t *fields, tn_buf_t *err);

/* Mattermost incoming webhook: text, channel, username, icon_url, icon_emoji, attachments,
 * type, props, priority. text is required unless attachments are given. */
json_t *tn_notify_mattermost_body(const json_t *fields, tn_buf_t *err);

/* PagerDuty Events API v2 alert event. fields: action ("trigger" | "acknowledge" |
 * "resolve", sent as event_action), routing_key, dedup_key (at most 255 characters; required
 * for acknowledge and resolve), and for trigger only: summary (at most 1024), source, severity
 * ("critical" | "error" | "warning" | "info"), timestamp (ISO 8601 text, or milliseconds since
 * the epoch, sent as ISO 8601 UTC), component, group, class, custom_details (object), links
 * ({ href, text }), images ({ src = "https://...", href, alt }), client, client_url.
 * acknowledge and resolve carry no payload: any trigger field with them is an error. */
json_t *tn_notify_pagerduty_body(const json_t *fields, tn_buf_t *err);

/* Whether a response means the notification was delivered: Slack and Mattermost answer 200
 * with the body "ok"; PagerDuty and a generic webhook any 2xx (PagerDuty documents 202). */
int tn_notify_accepted(tn_notify_kind_t kind, long status, const char *body, size_t len);

/* Whether an attempt that ended with error (a TN_E* code from the HTTP client, 0 when a
 * response came) and status is worth another try: connection failures, timeouts and I/O
 * errors, 429 and 5xx. Other statuses, and a response too large to keep, are final. */
int tn_notify_retryable(int error, long status);

/* The wait before retry number n (1 for the first retry): base_ms * 2^(n-1), at most max_ms,
 * then scaled by a jitter factor 0.8 + 0.4 * u (u in [0, 1), the caller's random number) and
 * kept within max_ms. */
uint64_t tn_notify_backoff_ms(unsigned n, uint64_t base_ms, uint64_t max_ms, double u);

/* Appends to out a form of url safe to log: scheme://host[:port], then a slash and three stars
 * when there is a path beyond "/", "?" and three stars for a query; credentials become "***@".
 * Webhook URLs carry their token in the path, so nothing of the path is kept. 0 or TN_ENOMEM. */
int tn_notify_mask_url(const char *url, tn_buf_t *out);

/* Appends a masked form of a key: "***" followed by its last 4 characters when it has at
 * least 16, else "***" alone. 0 or TN_ENOMEM. */
int tn_notify_mask_key(const char *key, tn_buf_t *out);

#endif
