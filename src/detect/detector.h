/* detector.h - the detection stage: per-series state, scoring and anomaly hysteresis.
 * Pure computation: no I/O, no Lua. The caller feeds samples and gets verdicts.
 *
 * Hysteresis: a series opens an anomaly when |z| >= threshold after warm-up (min_samples), and
 * closes it only after `clear_after` consecutive normal samples. Only the opening sample gets
 * verdict.opened = 1, so a level shift is one anomaly, not one per sample.
 * NaN/Inf values and timestamps older than the series' last one are skipped and counted. */
#ifndef TN_DETECT_DETECTOR_H
#define TN_DETECT_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct tn_detector tn_detector_t;

typedef struct {
    uint32_t window;      /* rolling z-score window */
    double threshold;     /* |z| at or above opens an anomaly */
    uint32_t min_samples; /* warm-up */
    uint32_t clear_after; /* consecutive normal samples that close an anomaly; 0 = 3 */
    size_t max_series;    /* 0 = 1,000,000; further new series are not tracked */
} tn_detector_opts_t;

typedef enum {
    TN_VERDICT_NORMAL = 0,
    TN_VERDICT_WARMUP,
    TN_VERDICT_ANOMALY,
    TN_VERDICT_SKIPPED, /* NaN/Inf, out of order, or series limit */
} tn_verdict_kind_t;

typedef struct {
    tn_verdict_kind_t kind;
    int opened; /* this sample opened an anomaly */
    int closed; /* this sample closed one */
    double z, score, expected, stddev;
    double lower, upper; /* expected band: mean -+ threshold * stddev */
    uint32_t n;
    const char *detector; /* static name */
} tn_verdict_t;

tn_detector_t *tn_detector_create(const tn_detector_opts_t *opts);
void tn_detector_destroy(tn_detector_t *d);

/* Scores one sample of series sid. 0 or TN_ENOMEM (verdict SKIPPED). */
int tn_detector_score(tn_detector_t *d, const char *sid, double value, int64_t ts_ms,
                      tn_verdict_t *out);

size_t tn_detector_series_count(const tn_detector_t *d);
uint64_t tn_detector_skipped(const tn_detector_t *d);

#endif
