/* sample.h - the canonical metric sample every input is normalized into.
 *
 * Canonical form: a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), labels sorted by name with unique
 * valid names ([a-zA-Z_][a-zA-Z0-9_]*), a float64 value, a timestamp in milliseconds since the
 * Unix epoch, an optional unit, and a stable series id: 16 hex digits of FNV-1a 64 over
 * name + '\0' + each "label\0value\0" in order. */
#ifndef TN_CORE_SAMPLE_H
#define TN_CORE_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define TN_MAX_LABELS 64
#define TN_MAX_NAME_LEN 256
#define TN_MAX_LABEL_VALUE_LEN 4096

typedef struct {
    char *name;
    char *value;
} tn_label_t;

typedef struct {
    char *name;
    tn_label_t *labels;
    size_t nlabels;
    double value;
    int64_t ts_ms;
    char *unit; /* NULL when not given */
    char sid[17];
    /* 1: name, unit, the labels array and every label string are one allocation, at labels;
     * tn_sample_deinit frees it alone (the array cannot grow, the strings cannot be replaced).
     * 2: the same block, owned by the tn_batch_t it came from (tn_batch_alloc): not freed */
    unsigned char packed;
    uint64_t sid_hash; /* the same id as a number (sid is its hex); 0 until finished */
} tn_sample_t;

/* Frees everything the sample owns and zeroes it. */
void tn_sample_deinit(tn_sample_t *s);

/* Sorts labels, rejects duplicates, computes sid. 0 or TN_EINVAL (err names the label). */
int tn_sample_finish(tn_sample_t *s, tn_buf_t *err);

/* Appends the labels as a canonical JSON object ({"a":"1","b":"2"}, sorted). */
int tn_sample_labels_json(const tn_sample_t *s, tn_buf_t *out);

/* Name and label validation. */
int tn_metric_name_valid(const char *name);
int tn_label_name_valid(const char *name);

/* Current wall-clock time in ms. */
int64_t tn_now_ms(void);
/* Replay: tn_now_ms() answers now_ms from now on (0: the real clock again). The process has
 * one clock: only `tocsin replay` sets it. */
void tn_clock_simulate(int64_t now_ms);

/* A growable vector of samples; owns them. */
typedef struct {
    tn_sample_t *items;
    size_t n, cap;
} tn_samples_t;

void tn_samples_init(tn_samples_t *v);
void tn_samples_deinit(tn_samples_t *v);
/* Returns a zeroed slot at the end, or NULL on allocation failure. */
tn_sample_t *tn_samples_push(tn_samples_t *v);

#endif
