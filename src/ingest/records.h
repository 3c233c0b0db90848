/* records.h - what every input parser produces: a batch of normalized records.
 *
 *   samples  metric points (core/sample.h): name, sorted canonical labels, float64, ms, unit, sid
 *   logs     log records: time, severity, body, labels, trace/span ids
 *   spans    trace spans: ids, service, name, kind, start, duration, error flag, labels
 *   events   alerts and change events: type, source, status, title, fingerprint, labels, data
 *
 * Parsers append to a tn_batch_t (which owns everything in it) and report rejected items in a
 * tn_ingest_report_t (json_samples.h) with an index or line number and a reason. Label names
 * always go through tn_norm_label_name (aliases, valid characters); label sets are sorted and
 * free of duplicates (tn_labels_finish). */
#ifndef TN_INGEST_RECORDS_H
#define TN_INGEST_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/sample.h"

/* A growable label set: owned names and values. With pool set (borrowed), the names and values
 * are copied into it instead of allocated one by one: they live as long as its bytes, and
 * tn_labels_deinit frees the array only. The pool never grows (its bytes must not move): reserve
 * it first; a label that does not fit is TN_ENOMEM. Such a set cannot be moved into a sample
 * (tn_sample_take_labels); copy it. */
typedef struct {
    tn_label_t *items;
    size_t n, cap;
    tn_buf_t *pool;
} tn_labels_t;

/* Bytes a pool needs for any label set of tn_labels_add (TN_MAX_LABELS of the longest names
 * and values, NUL-terminated). */
#define TN_LABELS_POOL_MAX                                                                         \
    ((size_t)TN_MAX_LABELS * (TN_MAX_NAME_LEN + 2 + TN_MAX_LABEL_VALUE_LEN + 1))

void tn_labels_init(tn_labels_t *l);
void tn_labels_deinit(tn_labels_t *l);
/* Adds name=value: the name is normalized (tn_norm_label_name), the value copied (at most
 * TN_MAX_LABEL_VALUE_LEN bytes, else TN_EINVAL). vlen may be (size_t)-1 for strlen.
 * 0, TN_EINVAL (message in err) or TN_ENOMEM. */
int tn_labels_add(tn_labels_t *l, const char *name, const char *value, size_t vlen, tn_buf_t *err);
/* Adds without normalizing the name (it must already be canonical). */
int tn_labels_add_raw(tn_labels_t *l, const char *name, const char *value, size_t vlen);
/* Sorts by name; a duplicate name is TN_EINVAL naming it. */
int tn_labels_finish(tn_labels_t *l, tn_buf_t *err);
/* Looks a label up (after finish or not). NULL when absent. */
const char *tn_labels_get(const tn_labels_t *l, const char *name);
/* Deep copy of src appended to dst. */
int tn_labels_copy(tn_labels_t *dst, const tn_labels_t *src);

/* Moves the labels into a sample (s->labels/nlabels; l becomes empty), then finishes the sample
 * (sid). 0 or TN_EINVAL/TN_ENOMEM. */
int tn_sample_take_labels(tn_sample_t *s, tn_labels_t *l, tn_buf_t *err);

typedef struct {
    int64_t ts_ms;
    char *severity; /* "trace","debug","info","warn","error","fatal", or "" when unknown */
    char *body;
    tn_labels_t labels;
    char trace_id[33]; /* lowercase hex or "" */
    char span_id[17];
} tn_log_t;

typedef struct {
    char trace_id[33]; /* lowercase hex */
    char span_id[17];
    char parent_id[17]; /* "" for a root span */
    char *name;
    char *service; /* "" when unknown */
    char *kind;    /* "server","client","internal","producer","consumer","unspecified" */
    int64_t start_us;
    int64_t duration_us;
    int error; /* the span's status is an error */
    tn_labels_t labels;
} tn_span_t;

typedef struct {
    char *type;        /* "alert", "deploy", "config_change", "incident", ... */
    char *source;      /* "alertmanager", "prometheus", "pagerduty", "api", ... */
    int64_t ts_ms;     /* when it happened (alerts: startsAt; resolved alerts: endsAt) */
    char *status;      /* alerts: "firing" / "resolved"; others may use "" */
    char *title;       /* alertname, summary, or a short text */
    char *fingerprint; /* stable identity (given by the source, or computed) */
    tn_labels_t labels;
    char *data; /* JSON object text with the rest (annotations, urls, ...), or NULL */
} tn_event_t;

typedef struct {
    tn_samples_t samples;
    tn_log_t *logs;
    size_t nlogs, caplogs;
    tn_span_t *spans;
    size_t nspans, capspans;
    tn_event_t *events;
    size_t nevents, capevents;
    struct tn_batch_chunk *chunks; /* tn_batch_alloc's memory, freed by tn_batch_deinit */
} tn_batch_t;

void tn_batch_init(tn_batch_t *b);
void tn_batch_deinit(tn_batch_t *b);
size_t tn_batch_count(const tn_batch_t *b);
/* Zeroed slots at the end, or NULL on allocation failure. On a parse error, drop the slot with
 * tn_batch_drop_*() (which frees what it holds). */
tn_log_t *tn_batch_push_log(tn_batch_t *b);
tn_span_t *tn_batch_push_span(tn_batch_t *b);
tn_event_t *tn_batch_push_event(tn_batch_t *b);
void tn_batch_drop_log(tn_batch_t *b);
void tn_batch_drop_span(tn_batch_t *b);
void tn_batch_drop_event(tn_batch_t *b);
void tn_batch_drop_sample(tn_batch_t *b);
/* size bytes (aligned for pointers) that live until tn_batch_deinit: the blocks of samples
 * marked packed = 2 (one malloc and one free per sample were a tenth of an OTLP ingest, with
 * the consolidations they caused). NULL on allocation failure. Owned by b: never free it. */
void *tn_batch_alloc(tn_batch_t *b, size_t size);

void tn_log_deinit(tn_log_t *l);
void tn_span_deinit(tn_span_t *s);
void tn_event_deinit(tn_event_t *e);

/* Options every parser takes. */
typedef struct {
    int64_t now_ms;   /* default timestamp */
    size_t max_items; /* more records than this: TN_ETOOBIG */
} tn_parse_opts_t;

/* Normalizes a hex id (trace 32, span 16 digits; any case) into out (lowercase). Empty input
 * gives "". 0 or TN_EINVAL. */
int tn_norm_hex_id(const char *in, size_t len, char *out, size_t digits);

/* Normalizes a severity text ("WARNING", "Err", "informational", ...) into the vocabulary above;
 * unknown gives "". Static result. */
const char *tn_norm_severity(const char *s);

#endif
