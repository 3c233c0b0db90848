/* json_samples.h - tocsin's own JSON sample format (POST /api/v1/samples).
 *
 * Body: one sample object, an array of them, or {"samples": [...]}. A sample:
 *   {"name": "http_latency_ms",          required, metric name
 *    "value": 12.5,                      required, number
 *    "labels": {"service": "checkout"},  optional, string -> string
 *    "timestamp": 1764000000123,         optional, number (unit by magnitude) or RFC 3339 string;
 *                                        default: time of arrival
 *    "timestamp_unit": "ms",             optional: s, ms, us, ns
 *    "unit": "ms"}                       optional, kept as is
 * Unknown fields are errors (typos must not pass silently). Bad samples are rejected one by one;
 * the good ones in the same body are accepted. */
#ifndef TN_INGEST_JSON_SAMPLES_H
#define TN_INGEST_JSON_SAMPLES_H

#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/sample.h"

typedef struct {
    size_t accepted;
    size_t rejected;
    tn_buf_t errors; /* JSON array text of the first 20 rejections [{"index":i,"error":"..."}] */
} tn_ingest_report_t;

void tn_ingest_report_init(tn_ingest_report_t *r);
/* Counts one rejected item and, for the first 20, records {"<key>":index,"error":msg} (key is
 * "index" or "line"; bytes of msg that are not valid UTF-8 become '?', so the report stays JSON).
 */
void tn_ingest_report_reject(tn_ingest_report_t *r, const char *key, size_t index, const char *msg);
void tn_ingest_report_deinit(tn_ingest_report_t *r);

/* Parses body into out (appends; out owns the samples). now_ms is the default timestamp.
 * Returns 0 when the body was well-formed JSON of the right shape (individual samples may still
 * be rejected: see report), TN_EINVAL when the whole body is unusable (fatal holds the reason),
 * TN_ETOOBIG when it holds more than max_samples samples, TN_ENOMEM. */
int tn_ingest_json_samples(const char *body, size_t len, size_t max_samples, int64_t now_ms,
                           tn_samples_t *out, tn_ingest_report_t *report, tn_buf_t *fatal);

/* Whether a jansson load error is an allocation failure (jansson reports most of them without a
 * position). */
int tn_json_load_oom(const json_error_t *je);

#endif
