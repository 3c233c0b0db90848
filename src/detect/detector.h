/* detector.h - the detection stage: per-series ensembles (detect/ensemble.h), chosen by a
 * policy (detect/policy.h), with warm-up, hysteresis and input hygiene. Pure computation: no
 * I/O, no Lua. The caller feeds samples and gets verdicts.
 *
 * Hysteresis: after warm-up (min_samples), a combined |z| >= threshold opens an anomaly; it
 * closes only after `clear_after` consecutive normal samples. Only the opening sample gets
 * verdict.opened = 1, so a level shift is one anomaly, not one per sample.
 * Hygiene: NaN, +-Inf, timestamps older than the series' last one, and exact duplicates (same
 * timestamp and value) are skipped and counted; a repeated timestamp with a new value is scored
 * and counted; gaps (a step over gap_factor typical steps) are counted. */
#ifndef TN_DETECT_DETECTOR_H
#define TN_DETECT_DETECTOR_H

#include "detect/policy.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tn_detector tn_detector_t;

typedef struct {
    uint32_t window;      /* rolling windows (zscore, mad, iqr) */
    double threshold;     /* combined |z| at or above opens an anomaly */
    uint32_t min_samples; /* warm-up */
    uint32_t clear_after; /* consecutive normal samples that close an anomaly; 0 = 3 */
    size_t max_series;    /* 0 = 1,000,000; further new series are not tracked */
    uint32_t detectors;   /* TN_DET_BIT() mask; 0 = the whole ensemble */
} tn_detector_opts_t;

typedef enum {
    TN_VERDICT_NORMAL = 0,
    TN_VERDICT_WARMUP,
    TN_VERDICT_ANOMALY,
    TN_VERDICT_SKIPPED, /* NaN/Inf, out of order, duplicate, or series limit */
} tn_verdict_kind_t;

typedef struct {
    tn_verdict_kind_t kind;
    int opened;               /* this sample opened an anomaly */
    int closed;               /* this sample closed one */
    double z;                 /* combined z (signed); for a single detector its z */
    double score;             /* in [0,1]: erf(|z| / sqrt 2) */
    double expected, stddev;  /* the lead detector's expected value and scale */
    double lower, upper;      /* its band: expected -+ threshold * stddev */
    uint32_t n;               /* samples of this series accepted before this one */
    const char *detector;     /* static: the lead detector, or "ensemble" */
    uint32_t active, flagged; /* TN_DET_BIT() masks: ready, at or above threshold */
    tn_skip_t skip;
    int gap;
} tn_verdict_t;

typedef struct {
    size_t series;
    uint64_t skipped; /* all skipped samples */
    uint64_t nan, inf, out_of_order, duplicate, dup_ts, gaps;
    uint64_t untracked; /* samples of series beyond max_series */
    uint64_t resets;    /* series rebuilt because a new policy changed their detectors */
} tn_detector_stats_t;

/* NULL on allocation failure or invalid options. */
tn_detector_t *tn_detector_create(const tn_detector_opts_t *opts);
void tn_detector_destroy(tn_detector_t *d);

/* Swaps in a new policy (hot reload); the detector takes its own reference (p stays the
 * caller's). NULL returns to the options' defaults. New series use it at once; an existing
 * series picks it up at its next sample, keeping its state when its detectors, windows and
 * seasons are unchanged (thresholds and agreement are retuned), else starting afresh. */
void tn_detector_set_policy(tn_detector_t *d, tn_policy_t *p);

/* Scores one sample of series sid. 0 or TN_ENOMEM (verdict SKIPPED). Matches the policy with
 * an empty metric name and no labels. */
int tn_detector_score(tn_detector_t *d, const char *sid, double value, int64_t ts_ms,
                      tn_verdict_t *out);
/* The same with the series' metric name and canonical labels JSON for policy matching
 * (both borrowed; only read when the series is new or the policy changed). */
int tn_detector_score_labeled(tn_detector_t *d, const char *sid, const char *name, size_t name_len,
                              const char *labels, size_t labels_len, double value, int64_t ts_ms,
                              tn_verdict_t *out);

size_t tn_detector_series_count(const tn_detector_t *d);
uint64_t tn_detector_skipped(const tn_detector_t *d);
void tn_detector_stats(const tn_detector_t *d, tn_detector_stats_t *st);

/* Fills a verdict from an ensemble result (for callers that drive tn_ens_t themselves). */
void tn_detector_verdict(const tn_ens_result_t *r, uint32_t mask, tn_verdict_t *out);

#endif
