/* otlp.h - OpenTelemetry OTLP/HTTP JSON requests (POST /v1/metrics, /v1/logs, /v1/traces).
 *
 * Bodies are ExportMetricsServiceRequest / ExportLogsServiceRequest / ExportTraceServiceRequest
 * in the OTLP JSON encoding: lowerCamelCase field names, 64-bit integers as decimal strings or
 * numbers, doubles as numbers or the strings "NaN", "Infinity", "-Infinity" (or a numeric
 * string), enums as integers, traceId/spanId as hex strings in any case, null meaning "not set",
 * unknown fields ignored. A gzip body (Content-Encoding: gzip) goes through tn_gunzip (gzip.h)
 * first. Metrics bodies go through the pull tokenizer (jsonpull.h) and a flat index of the fields
 * read below, logs and traces through jansson: both take and refuse the same JSON, with the same
 * messages (but for a NUL byte just after a number or literal: jansson skips it, the tokenizer
 * refuses it as RFC 8259 does).
 *
 * Labels of every record: the point's / record's / span's attributes, then the resource
 * attributes whose canonical name is not already there (so a point attribute overrides a
 * resource attribute of the same canonical name). Scope name, version and attributes are not
 * used. Names go through tn_labels_add (service.name -> service, dots -> '_', ...). Two point
 * attributes with the same canonical name ("a.b" and "a_b") reject the record; so do more than
 * TN_MAX_LABELS labels, a value longer than TN_MAX_LABEL_VALUE_LEN bytes, an empty or invalid key.
 * AnyValue -> text: stringValue and bytesValue (base64 as given) as they are, intValue in
 * decimal, doubleValue shortest round-trip ("637.704", "5", "NaN", "+Inf", "-Inf"), boolValue
 * "true"/"false", arrayValue / kvlistValue as compact JSON (["a",1] / {"k":"v"}; non-finite
 * doubles inside are the strings "NaN", "Infinity", "-Infinity"), no value at all "". Nesting
 * deeper than 32 levels rejects the record.
 *
 * Metrics (samples): the name has every character outside [a-zA-Z0-9_:] replaced by '_' and a
 * '_' prefix when it starts with a digit; unit kept (at most 64 bytes); ts = timeUnixNano / 1e6,
 * or o->now_ms when missing or 0.
 *   gauge, sum            one sample per point: asDouble or asInt (a point with neither, or with
 *                         flags & 1 NO_RECORDED_VALUE, is skipped: counted accepted, no sample)
 *   histogram             name_count, name_sum (when sum is present), name_bucket{le="<bound>"}
 *                         cumulative, and name_bucket{le="+Inf"} = count (count defaults to the
 *                         sum of bucketCounts); bucketCounts must have len(explicitBounds)+1
 *                         entries (or none: then only the +Inf bucket), bounds increasing
 *   exponentialHistogram  name_count, name_sum (when present)
 *   summary               name_count, name_sum, name{quantile="<q>"} per quantileValues entry
 * Logs: ts from timeUnixNano, else observedTimeUnixNano, else now; severity from severityText
 * (tn_norm_severity), else severityNumber (1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20
 * error, 21-24 fatal), else ""; body as AnyValue text ("" when absent); traceId / spanId
 * lowercased ("" when absent, empty or all zeros; anything else not 32 / 16 hex digits rejects).
 * Traces: traceId (32 hex) and spanId (16 hex) required, parentSpanId optional ("" for a root,
 * also when all zeros); name; service = the resource's service.name ("" if none); kind 0..5 ->
 * "unspecified","internal","server","client","producer","consumer" (absent 0, else rejected);
 * start_us = startTimeUnixNano / 1000, duration_us = (end - start) / 1000 (both required and
 * non-zero; end < start rejects); error = status.code == 2.
 *
 * Return values (all three parsers): 0 when the body is a well-formed request (an empty one
 * included); individual data points / log records / spans may still be rejected:
 * rep->rejected, and rep->errors holds [{"index":i,"error":"<path>: <reason>"}] for the first 20,
 * i counting the points / records / spans of the request from 0 and the path like
 * "resourceMetrics[0].scopeMetrics[1].metrics[2].gauge.dataPoints[3]: timeUnixNano is not a
 * number". rep->accepted counts data points (metrics: one point may give several samples, or none
 * when skipped), log records or spans. TN_EINVAL when the body is unusable: invalid JSON (fatal
 * says line and column; duplicate keys, and integers outside int64 written as bare numbers, count
 * as invalid JSON: send 64-bit values as strings), top level not an object, a list (resourceX,
 * scopeX, metrics, dataPoints, logRecords, spans) that is not an array or an element of one above
 * the record level that is not an object, a metric with two data kinds; TN_ETOOBIG when the request
 * would add more than o->max_items records (samples, logs or spans) to out; TN_ENOMEM. On any
 * non-zero return out and rep are left as they were before the call and fatal holds the reason. o
 * may be NULL (now = tn_now_ms(), no limit). A report may be reused over calls: counts add up and
 * rep->errors stays one JSON array (still holding at most 20 entries). out and rep are borrowed;
 * the records appended to out are owned by out. */
#ifndef TN_INGEST_OTLP_H
#define TN_INGEST_OTLP_H

#include <stddef.h>

#include "core/buf.h"
#include "ingest/json_samples.h"
#include "ingest/records.h"

int tn_parse_otlp_metrics(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                          tn_ingest_report_t *rep, tn_buf_t *fatal);
int tn_parse_otlp_logs(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal);
int tn_parse_otlp_traces(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                         tn_ingest_report_t *rep, tn_buf_t *fatal);

/* Appends the OTLP/HTTP JSON response body for a request parsed with rep (the caller answers
 * 200 OK with it). kind is "metrics", "logs" or "traces". Nothing rejected: {} (partial_success
 * left unset, as the spec requires for a full success). Otherwise, with 64-bit counts as decimal
 * strings per the OTLP JSON encoding:
 *   {"partialSuccess":{"rejectedDataPoints":"2","errorMessage":"2 data points rejected: <e1>;
 * <e2>"}} (rejectedLogRecords / rejectedSpans, "log record(s)" / "span(s)"); the message lists the
 * reported errors ("<path>: <reason>") joined by "; ", then "; and N more" when rep->rejected is
 * larger than the number listed. 0, TN_EINVAL (unknown kind) or TN_ENOMEM. */
int tn_otlp_partial_success_json(const char *kind, const tn_ingest_report_t *rep, tn_buf_t *out);

#endif
