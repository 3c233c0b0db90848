/* datadog.h - Datadog metrics intake: POST /api/v2/series (what the Datadog Agent, DogStatsD
 * forwarders and the datadog-api-client libraries send).
 *
 * Body (https://docs.datadoghq.com/api/latest/metrics/#submit-metrics):
 *   {"series": [{"metric": "system.load.1",            required, non-empty string
 *                "type": 0,                            optional: 0 unspecified, 1 count,
 *                                                      2 rate, 3 gauge (checked, not kept)
 *                "points": [{"timestamp": 1475317847,  required: epoch seconds (number)
 *                            "value": 0.7}],           required number
 *                "resources": [{"name": "dummyhost",   optional: each gives the label
 *                               "type": "host"}],      type=name (host="dummyhost")
 *                "tags": ["env:prod", "canary"],       optional strings
 *                "unit": "second",                     optional string (<= 64 bytes), kept
 *                "interval": 10, ...}]}                other fields are ignored
 * Each point gives one sample (core/sample.h):
 *   name   the metric with every byte outside [a-zA-Z0-9_:] replaced by '_' ("system.load.1" ->
 *          "system_load_1"), '_' prefixed when it starts with a digit; at most 256 bytes
 *   labels "key:value" tags split at the first ':' (key normalized by tn_norm_label_name);
 *          a bare tag "canary" (or ":x", empty key) gives tag_<tag>="true"; when a key comes
 *          again (two tags, or a tag and a resource) its values are joined with ',' in order of
 *          appearance, repeats dropped
 *   value, ts_ms (timestamp * 1000), unit
 * rep->accepted counts samples (points); rep->rejected counts rejections: a bad series (all its
 * points dropped) or a bad point (only itself dropped) is one rejection each. index = position
 * of the series in "series"; messages name the point ("point 2: ...").
 * o->max_items limits the total number of points. Otherwise the contract of alerts.h. */
#ifndef TN_INGEST_DATADOG_H
#define TN_INGEST_DATADOG_H

#include <stddef.h>

#include "core/buf.h"
#include "ingest/json_samples.h"
#include "ingest/records.h"

int tn_parse_datadog_series(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                            tn_ingest_report_t *rep, tn_buf_t *fatal);

/* The body Datadog answers to a series submission (with 202 Accepted): {"errors":[]}, or one
 * string per reported rejection ("series 1: point 0: ...") plus "and N more rejected" when the
 * report was cut at 20. Appends to out. 0 or TN_ENOMEM. */
int tn_datadog_response_json(const tn_ingest_report_t *rep, tn_buf_t *out);

/* The error body Datadog sends with 400 / 413: {"errors":["<msg>"]}. 0 or TN_ENOMEM. */
int tn_datadog_error_json(const char *msg, tn_buf_t *out);

#endif
