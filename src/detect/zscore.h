/* zscore.h - rolling z-score over the last `window` samples of one series (pure math).
 *
 * The incoming value is scored against the window as it was before the value arrived (so a
 * spike cannot hide itself), then it enters the window. Mean and variance are kept with a
 * sliding Welford update and recomputed exactly from the ring every `window` replacements, so
 * rounding error cannot accumulate however long the series runs. */
#ifndef TN_DETECT_ZSCORE_H
#define TN_DETECT_ZSCORE_H

#include <stdint.h>

typedef struct {
    double *ring; /* owned, window slots */
    uint32_t window;
    uint32_t count; /* values in the ring (<= window) */
    uint32_t pos;   /* next slot to write */
    uint32_t since_exact;
    double mean;
    double m2; /* sum of squared deviations from mean */
} tn_zscore_t;

typedef struct {
    uint32_t n;    /* values the verdict is based on */
    double mean;   /* expected value */
    double stddev; /* sample standard deviation */
    double z;      /* (x - mean) / stddev; +-1e9 when stddev is 0 and x differs */
    double score;  /* in [0,1]: erf(|z| / sqrt 2), the two-sided normal confidence */
} tn_zscore_result_t;

/* 0 or TN_ENOMEM / TN_EINVAL (window < 2). */
int tn_zscore_init(tn_zscore_t *zs, uint32_t window);
void tn_zscore_deinit(tn_zscore_t *zs);

/* Scores x against the current window into *out, then adds x. x must be finite. */
void tn_zscore_update(tn_zscore_t *zs, double x, tn_zscore_result_t *out);

/* Score in [0,1] for a z value. */
double tn_zscore_score(double z);

#endif
