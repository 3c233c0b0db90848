/* prom_text.h - the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text.
 *
 * One sample per line: name[{label="value",...}] value [timestamp] [# exemplar]
 *   - `# HELP`, `# TYPE` and other comments and blank lines are skipped; `# UNIT name unit`
 *     (OpenMetrics) sets the unit of the samples of that family (name, name_total, name_count,
 *     name_sum, name_bucket, name_created, name_gcount, name_gsum, name_info) until the next
 *     family's metadata line.
 *   - label values take the escapes \\ \" \n (another backslash pair is kept as is, like
 *     Prometheus does); label names are [a-zA-Z_][a-zA-Z0-9_]* or a quoted string (Prometheus 3),
 *     both normalized by tn_labels_add (aliases: "service.name" -> service, ...). A label with an
 *     empty value is the same as no label (Prometheus semantics) and is dropped; a duplicate
 *     label rejects the line.
 *   - values: Go float syntax plus NaN, +Inf, -Inf (any case, Inf or Infinity).
 *   - timestamps: text 0.0.4 = integer milliseconds; OpenMetrics = seconds (integer or with a
 *     fraction, kept to the millisecond, truncated). A timestamp with a fraction or an exponent is
 *     read as seconds in either format. Absent: opts->now_ms. Before 1970 or after 9999: the line
 *     is rejected (tocsin keeps no samples before the epoch).
 *   - exemplars (` # {...} v [ts]` after the value) are ignored.
 *   - `# EOF` ends the exposition; a non-blank line after it is reported once as rejected.
 *   - histogram and summary series are plain samples (`_bucket` with `le`, `quantile`, `_sum`,
 *     `_count`, `_created`), named as exposed.
 * OpenMetrics mode: TN_PROM_AUTO picks it when the last non-blank line of the body is `# EOF`.
 * CRLF line ends are accepted. */
#ifndef TN_INGEST_PROM_TEXT_H
#define TN_INGEST_PROM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ingest/json_samples.h"
#include "ingest/records.h"

typedef enum {
    TN_PROM_AUTO,        /* OpenMetrics when the body ends with `# EOF`, else text 0.0.4 */
    TN_PROM_TEXT_004,    /* Content-Type: text/plain; version=0.0.4 */
    TN_PROM_OPENMETRICS, /* Content-Type: application/openmetrics-text */
} tn_prom_format_t;

/* Parses body (len bytes, need not be NUL-terminated) and appends the samples to out->samples.
 * o may be NULL (now: tn_now_ms(), no limit); o->max_items 0 means no limit.
 * Each bad line is counted in rep->rejected and described in rep->errors (the first 20, as
 * [{"line":17,"error":"line 17: invalid label name '1x'"}, ...]); good lines are kept and counted
 * in rep->accepted. rep may be reused across calls (the JSON array stays well formed).
 * Returns 0 (even when lines were rejected), TN_ETOOBIG (more than o->max_items samples) or
 * TN_ENOMEM; on those errors fatal holds the reason and out is as it was before the call. */
int tn_parse_prom_text(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal);

/* The same with the format given (from the Content-Type) instead of guessed. */
int tn_parse_prom_text_fmt(const char *body, size_t len, tn_prom_format_t fmt,
                           const tn_parse_opts_t *o, tn_batch_t *out, tn_ingest_report_t *rep,
                           tn_buf_t *fatal);

/* ---- helpers shared by the text parsers (prom_text.c, influx.c) and otlp_metrics.c; internal ---
 */

/* Parses a whole token of digits with an optional '-' as int64 scaled by 10^frac_digits, keeping
 * at most frac_digits of a decimal fraction (truncated) and honouring an exponent when
 * allow_frac. 0, -1 (syntax) or -2 (out of range). */
int tn__text_parse_scaled(const char *s, size_t n, int frac_digits, int allow_frac, int64_t *out);
/* 1 when s[0..n) is valid UTF-8. */
int tn__utf8_valid(const char *s, size_t n);
/* Counts a rejected line and describes it in r->errors as {"line":N,"error":"line N: msg"}
 * (tn_ingest_report_reject; the first 20), reopening an array an earlier call closed. */
void tn__text_reject(tn_ingest_report_t *r, size_t line, const char *msg);
/* A memo of tn_norm_label_name for the label names of one parse (direct-mapped). */
#define TN__LCACHE_SLOTS 64
#define TN__LCACHE_NAME 62
typedef struct {
    struct {
        unsigned char rlen; /* 0: empty slot */
        char raw[TN__LCACHE_NAME];
        char canon[TN__LCACHE_NAME + 2];
    } slot[TN__LCACHE_SLOTS];
} tn__label_cache_t;
/* tn_labels_add (same checks, same messages) for a name given by length (no NUL inside). */
int tn__labels_add_cached(tn__label_cache_t *lc, tn_labels_t *l, const char *name, size_t nlen,
                          const char *value, size_t vlen, tn_buf_t *err);
/* Frees the labels' strings, keeps the array for the next line. */
void tn__labels_clear(tn_labels_t *l);
/* Moves the labels into s as an array of exactly l->n items (l keeps its own array, emptied),
 * then tn_sample_finish. 0, TN_EINVAL (duplicate, message in err) or TN_ENOMEM (l untouched). */
int tn__sample_take_labels(tn_sample_t *s, tn_labels_t *l, tn_buf_t *err);
/* How many samples to make room for before parsing body: its line count, bounded by len / 16 +
 * 16 and max_items (when not 0). */
size_t tn__text_expected_lines(const char *body, size_t len, size_t max_items);
/* Makes room for extra more samples in v without growing it twice. 0 or TN_ENOMEM. */
int tn__samples_reserve(tn_samples_t *v, size_t extra);
/* Closes the JSON array in r->errors (call once at the end of a parse). */
void tn__text_report_close(tn_ingest_report_t *r);
/* Appends at most max bytes of s to b for a message, each byte outside printable ASCII as '?'. */
void tn__text_quote(tn_buf_t *b, const char *s, size_t n, size_t max);

#endif
