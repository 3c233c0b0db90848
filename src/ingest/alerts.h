/* alerts.h - alert and change-event inputs: Prometheus -> Alertmanager API, the Alertmanager
 * webhook receiver, PagerDuty webhooks v3 and tocsin's own change events. Each parser appends
 * tn_event_t records (ingest/records.h) to a batch.
 *
 * Contract shared by every tn_parse_* of this file, datadog.h and logs_json.h:
 *   body, len     the request body (borrowed; need not be NUL-terminated)
 *   o             now_ms (default time, and "now" for alert status), max_items
 *   out           appended to; owns what is appended
 *   rep           freshly initialized (tn_ingest_report_init): accepted / rejected counts and the
 *                 JSON array of the first 20 rejections [{"index":i,"error":"..."}] (NDJSON logs
 *                 use {"line":n,...}); index counts from 0 in the array the parser names
 *   fatal         why the whole body was refused
 * Returns 0 when the body was well-formed (items may still be rejected one by one: the good ones
 * are kept), TN_EINVAL when the whole body is unusable (invalid JSON is reported with its line and
 * column), TN_ETOOBIG when it holds more than o->max_items items (nothing appended), TN_ENOMEM
 * (out is left as it was on entry; rep is then meaningless).
 * JSON strings may hold \u0000: a NUL byte in a value that must become a C string (label value,
 * title, fingerprint) rejects the item. Label names go through tn_norm_label_name; label sets are
 * sorted and unique; more than TN_MAX_LABELS labels, a value over TN_MAX_LABEL_VALUE_LEN bytes or
 * two names that normalize alike reject the item. Titles longer than 1024 bytes are cut (at a
 * UTF-8 boundary). Duplicate keys in a JSON object make the body invalid. */
#ifndef TN_INGEST_ALERTS_H
#define TN_INGEST_ALERTS_H

#include <stddef.h>

#include "core/buf.h"
#include "ingest/json_samples.h"
#include "ingest/records.h"

/* Prometheus -> Alertmanager API v2: POST /api/v2/alerts. Body: a JSON array of postable alerts
 *   {"labels": {"alertname": "DiskFull", ...},  required, non-empty object of strings
 *    "annotations": {"summary": "..."},         optional, object of strings
 *    "startsAt": "2026-11-24T11:30:00Z",        optional RFC 3339 (Go's zero time = unset)
 *    "endsAt": "...",                           optional RFC 3339, not before startsAt
 *    "generatorURL": "http://..."}              optional string
 * Other fields are ignored (Alertmanager ignores them too). Each alert gives an event:
 *   type "alert", source "prometheus",
 *   status "resolved" when endsAt is set and <= now_ms, else "firing",
 *   ts_ms startsAt (resolved: endsAt; neither: now_ms),
 *   title labels.alertname (or "alert"),
 *   fingerprint Alertmanager's own: FNV-1a 64 over the label pairs sorted by raw name, each as
 *     name 0xff value 0xff, as 16 lowercase hex digits (model.LabelSet.Fingerprint),
 *   labels the alert labels (names normalized),
 *   data {"annotations":{...},"generatorURL":"...","startsAt":"...","endsAt":"..."} (fields
 *     that were given, as given). index = position in the array. */
int tn_parse_am_alerts(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal);

/* Alertmanager webhook receiver (webhook_config), version "4":
 *   {"version":"4","groupKey":"...","status":"firing|resolved","receiver":"...",
 *    "groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"...",
 *    "alerts":[{"status","labels","annotations","startsAt","endsAt","generatorURL",
 *               "fingerprint"}]}
 * The body must be an object with an "alerts" array (else TN_EINVAL). Each alert is read as in
 * tn_parse_am_alerts, with: source "alertmanager"; status = the alert's "status" ("firing" or
 * "resolved"; any other value rejects the alert), when absent "resolved" if the group is
 * resolved, else from endsAt as above; fingerprint = the alert's "fingerprint" when given (a
 * string of 1..64 bytes), else computed; data also holds "receiver", "groupKey" and
 * "externalURL" of the group. index = position in "alerts". */
int tn_parse_am_webhook(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                        tn_ingest_report_t *rep, tn_buf_t *fatal);

/* PagerDuty webhooks v3: one event per request
 *   {"event":{"id","event_type":"incident.triggered","resource_type":"incident",
 *             "occurred_at":"2020-10-02T18:45:22.169Z","agent":{...},"client":{...},
 *             "data":{"id","title","status","urgency","service":{"summary"},...}}}
 * The body must be an object with an "event" object (else TN_EINVAL; v2 "messages" bodies are
 * refused by name). The event (index 0) needs a string event_type of [a-z0-9_.]{1,64}; it gives:
 *   type resource_type when it is [a-z0-9_]{1,32}, else the part of event_type before the first
 *     '.' ("incident" when that is empty),
 *   source "pagerduty",
 *   status event_type without its "<type>." prefix ("triggered", "acknowledged", "resolved",
 *     "priority_updated", "responder.added", ...),
 *   ts_ms occurred_at (now_ms when absent),
 *   title data.title, else data.summary, else data.name, else event_type,
 *   fingerprint data.id, else event.id, else a hash of event_type and occurred_at,
 *   labels (each when it is a string) service = data.service.summary (data.summary when the
 *     resource is a service), urgency = data.urgency, priority = data.priority.summary,
 *     escalation_policy = data.escalation_policy.summary, team = data.teams[0].summary,
 *     agent = event.agent.summary,
 *   data the event's "data" object as JSON (NULL when absent). */
int tn_parse_pagerduty_webhook(const char *body, size_t len, const tn_parse_opts_t *o,
                               tn_batch_t *out, tn_ingest_report_t *rep, tn_buf_t *fatal);

/* tocsin's generic change events (deploys, config changes, rollbacks, feature flags, ...).
 * Body: one event object or an array of them:
 *   {"type": "deploy",                  required, [a-z_]{1,32}: deploy, config_change, rollback,
 *                                       feature_flag, scale, maintenance, ...
 *    "service": "checkout",             optional string -> label service
 *    "title": "checkout 1.4.2",         optional string; default "<type> <service> <version>"
 *    "timestamp": 1764000000123,        optional: number (unit by magnitude) or RFC 3339 string;
 *                                       default now_ms
 *    "version": "1.4.2",                optional string or integer -> label version
 *    "status": "succeeded",             optional, [a-z_]{1,32}; default ""
 *    "labels": {"env": "prod"},         optional object of strings
 *    ...}                               any other field is kept, as given, in data
 * Each gives an event with source "api", data = a JSON object of the other fields (NULL when
 * there are none) and fingerprint = 16 hex digits of FNV-1a 64 over
 * type '\0' service '\0' version '\0' decimal ts_ms (so a retried delivery with the same
 * timestamp has the same identity). A label given both ways (service/version and in "labels")
 * rejects the event. index = position in the array (0 for a single object). */
int tn_parse_change_events(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                           tn_ingest_report_t *rep, tn_buf_t *fatal);

#endif
