/* otlp_common.h - internal to the OTLP JSON parsers (otlp_*.c): request context, rejection
 * report, JSON number rules of the OTLP encoding, attributes and AnyValue. Not a public API. */
#ifndef TN_INGEST_OTLP_COMMON_H
#define TN_INGEST_OTLP_COMMON_H

#include <jansson.h>
#include <stdint.h>

#include "ingest/otlp.h"

#define TN__OTLP_PATH_MAX 256

/* Writes "<parent>.<key>[<i>]" ("<key>[<i>]" when parent is NULL) into buf, truncated to size. */
void tn__otlp_path(char *buf, size_t size, const char *parent, const char *key, size_t i);

/* One parse call. Records are counted in request order (index) whatever their fate. */
typedef struct {
    int64_t now_ms;
    size_t max_items;
    tn_batch_t *out;
    tn_ingest_report_t *rep;
    tn_buf_t *fatal;
    size_t index;    /* ordinal of the next point / record / span in the request */
    size_t produced; /* records appended to out by this call */
    tn_buf_t err;    /* the current record's rejection reason */
    tn_buf_t text;   /* scratch for AnyValue text */
    /* state before the call, restored on failure */
    size_t n_samples, n_logs, n_spans;
    size_t accepted, rejected, errors_len;
} tn__otlp_ctx_t;

/* Parses body, checks the top level is an object and that root[list_key] is an array (absent
 * or null: *list = NULL, an empty request). 0, or TN_EINVAL/TN_ENOMEM with fatal set (the
 * context is then already finished: do not call tn__otlp_end). On 0, *root must be released
 * with tn__otlp_end. */
void tn__otlp_ctx_init(tn__otlp_ctx_t *c, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal);
int tn__otlp_begin(tn__otlp_ctx_t *c, const char *body, size_t len, const tn_parse_opts_t *o,
                   tn_batch_t *out, tn_ingest_report_t *rep, tn_buf_t *fatal, const char *list_key,
                   json_t **root, json_t **list);
/* Closes the report, rolls out and rep back when rc != 0 (fatal gets "out of memory" for
 * TN_ENOMEM when empty), releases root. Returns rc. */
int tn__otlp_end(tn__otlp_ctx_t *c, int rc, json_t *root);

/* Counts the current record as accepted / rejected ("<path>: <prefix><msg>"). 0 or TN_ENOMEM. */
void tn__otlp_accept(tn__otlp_ctx_t *c);
int tn__otlp_reject(tn__otlp_ctx_t *c, const char *path, const char *prefix, const char *msg);
/* Before appending n records: TN_ETOOBIG (fatal set) past max_items. */
int tn__otlp_room(tn__otlp_ctx_t *c, size_t n);

/* obj[key], or NULL when obj is not an object, key is absent or its value is null. */
json_t *tn__otlp_get(json_t *obj, const char *key);
/* obj[key] as an array (NULL when absent); any other type: TN_EINVAL, fatal names
 * "<path>.<key> must be an array". */
int tn__otlp_list(tn__otlp_ctx_t *c, json_t *obj, const char *path, const char *key, json_t **arr);
/* Checks an element above the record level is an object: else TN_EINVAL with fatal set. */
int tn__otlp_need_object(tn__otlp_ctx_t *c, json_t *v, const char *path);

/* OTLP JSON scalars: 0 or TN_EINVAL. 64-bit integers are numbers (integral) or decimal strings;
 * doubles are numbers, numeric strings, "NaN", "Infinity" or "-Infinity". */
int tn__otlp_u64(json_t *v, uint64_t *out);
int tn__otlp_i64(json_t *v, int64_t *out);
int tn__otlp_double(json_t *v, double *out);
/* An int32 field: a JSON integer in [lo, hi]. */
int tn__otlp_int(json_t *v, int64_t lo, int64_t hi, int64_t *out);
/* An enum field: its number (OTLP/JSON's encoding: a JSON integer in [lo, hi]) or, as the
 * OpenTelemetry Collector also accepts, its name in the proto: prefix followed by names[i] for
 * the value i (i < n), e.g. "SPAN_KIND_" "SERVER" = 2. 0 or TN_EINVAL. */
int tn__otlp_enum(json_t *v, const char *prefix, const char *const *names, size_t n, int64_t lo,
                  int64_t hi, int64_t *out);
/* A *UnixNano field in ms: absent or 0 gives dflt. 0, or TN_EINVAL with "<field> is not a
 * number" in err. */
int tn__otlp_time_ms(json_t *obj, const char *field, int64_t dflt, int64_t *ms, tn_buf_t *err);
/* The same in ns (absent: 0). */
int tn__otlp_time_ns(json_t *obj, const char *field, uint64_t *ns, tn_buf_t *err);

/* Shortest text that reads back as v: "0.5", "1e+06", "NaN", "+Inf", "-Inf". */
void tn__otlp_fmt_double(double v, char buf[32]);
/* Appends an AnyValue as text (see otlp.h). 0, TN_EINVAL (err) or TN_ENOMEM. */
int tn__otlp_anyvalue_text(json_t *av, tn_buf_t *out, tn_buf_t *err);

/* Adds a KeyValue list (absent: nothing) through tn_labels_add. 0, TN_EINVAL (err names
 * "attributes[i]") or TN_ENOMEM. */
int tn__otlp_attrs(tn_labels_t *l, json_t *attrs, tn_buf_t *text, tn_buf_t *err);

/* Adds the labels of res whose names l does not have yet. 0, TN_EINVAL (too many) or ENOMEM. */
int tn__otlp_merge(tn_labels_t *l, const tn_labels_t *res, tn_buf_t *err);

/* A traceId / spanId field (digits 32 or 16): absent, "" or all zeros (when zero_is_empty) give
 * "", else tn_norm_hex_id. 0 or TN_EINVAL with "<field> must be <digits> hex digits" in err. */
int tn__otlp_hex_id(json_t *obj, const char *field, size_t digits, int zero_is_empty, char *out,
                    tn_buf_t *err);

/* A resource: its attributes into l (finished). When they are unusable, res_err gets the
 * reason (every record under the resource will be rejected with it) and l is emptied.
 * 0 or TN_ENOMEM. */
int tn__otlp_resource(tn__otlp_ctx_t *c, json_t *resource_parent, tn_labels_t *l,
                      tn_buf_t *res_err);

/* Parses one record (point, log record, span) into c->out. 0, TN_EINVAL with the reason in
 * c->err (whatever it appended is dropped by the caller), TN_ENOMEM or TN_ETOOBIG (fatal set).
 * arg is what the caller of tn__otlp_record passed. */
typedef int (*tn__otlp_record_fn)(tn__otlp_ctx_t *c, json_t *rec, void *arg);

/* Runs fn on one record and counts it: rejected when rec is not an object (what names it:
 * "log record", ...), when res_err is not empty, or when fn says TN_EINVAL. 0, or TN_ENOMEM /
 * TN_ETOOBIG to stop the whole request. */
int tn__otlp_record(tn__otlp_ctx_t *c, const char *path, const char *what, json_t *rec,
                    const tn_buf_t *res_err, tn__otlp_record_fn fn, void *arg);

/* Walks list (resourceX[]) -> scope_key[] -> rec_key[] calling tn__otlp_record with the
 * resource's labels (const tn_labels_t *) as arg. 0 or TN_EINVAL/TN_ENOMEM/TN_ETOOBIG (fatal). */
int tn__otlp_walk(tn__otlp_ctx_t *c, json_t *list, const char *list_key, const char *scope_key,
                  const char *rec_key, const char *what, tn__otlp_record_fn fn);

/* The jansson (DOM) metrics parser, same contract as tn_parse_otlp_metrics: the reference the
 * streaming parser is tested against (otlp_metrics_dom.c). */
int tn__otlp_metrics_dom(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                         tn_ingest_report_t *rep, tn_buf_t *fatal);

#endif
