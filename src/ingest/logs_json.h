/* logs_json.h - JSON log records from Fluentd (out_http, and the Forward protocol in its JSON
 * notation) and Logstash (http output, format json / json_batch / ndjson), into tn_log_t.
 *
 * The body's form is told by its first non-space byte (a UTF-8 BOM is skipped; the content type
 * is not needed):
 *   '['  a JSON array of records (Fluentd json_array, Logstash json_batch) - or, when its first
 *        element is a string, a Fluentd Forward-protocol message in JSON notation:
 *          Message mode ["tag", time, {record}, {option}?]
 *          Forward mode ["tag", [[time, {record}], ...], {option}?]
 *        (the tag becomes the label tag, time the record's default timestamp)
 *   '{'  one record object (Logstash json) when the whole body is one JSON value, else NDJSON
 *        (Fluentd / Logstash ndjson): one record per line, empty lines skipped, "\r\n" accepted.
 *        A bad line is rejected by its line number ({"line":n,"error":...}, n from 1); when no
 *        line at all is valid JSON the body is refused (TN_EINVAL).
 * Items (for o->max_items and report indexes): array elements, forward entries, non-empty lines.
 *
 * A record (a JSON object) gives a tn_log_t:
 *   body      the first of "message", "log", "msg", "MESSAGE" that is a string (a NUL byte in it
 *             rejects the record); when none is, the whole record as compact JSON
 *   ts_ms     the first of "@timestamp", "timestamp", "time", "ts" that is present: RFC 3339
 *             string or number (unit by magnitude); another type or a bad value rejects the
 *             record; absent: the forward time, else o->now_ms
 *   severity  the first of "level", "severity", "log_level", "lvl", then ECS "log": {"level"},
 *             that is present: text via tn_norm_severity; numbers 0-7 as syslog severities
 *             (0-2 fatal, 3 error, 4 warn, 5-6 info, 7 debug) and 10/20/30/40/50/60 as pino /
 *             bunyan levels (trace .. fatal); "" when unknown (the field then stays a label).
 *             When none is present, a string "status" (Datadog's level field) that is a known
 *             severity; a numeric or unknown status stays a label (HTTP status codes).
 *   trace_id  "trace_id" or "traceId" (or ECS "trace": {"id"}) when it is 32 hex digits,
 *   span_id   "span_id" or "spanId" (or ECS "span": {"id"}) when 16 hex digits (lowercased);
 *             an invalid id stays a label
 *   labels    every other top-level field with a scalar value: strings as they are, numbers as
 *             their shortest text, true/false; null and arrays are skipped. An object value is
 *             flattened one level: its scalar members become "parent.child" (normalized:
 *             parent_child, host.name -> host), deeper members are skipped. "@version"
 *             (Logstash) is skipped. At most 32 labels, in document order: a field whose name is
 *             invalid or already taken, whose value is longer than 4096 bytes or holds a NUL
 *             byte, or that comes after the 32nd label is dropped, never an error.
 * Duplicate keys are allowed (the last wins, as in most log shippers). Otherwise the contract of
 * alerts.h. */
#ifndef TN_INGEST_LOGS_JSON_H
#define TN_INGEST_LOGS_JSON_H

#include <stddef.h>

#include "core/buf.h"
#include "ingest/json_samples.h"
#include "ingest/records.h"

#define TN_LOG_MAX_LABELS 32

int tn_parse_logs_json(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal);

#endif
