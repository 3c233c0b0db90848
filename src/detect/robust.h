/* robust.h - order statistics over a sliding window of one series: median, MAD and quartiles.
 *
 * The window is kept twice: a ring (arrival order) and a sorted copy, updated by binary search
 * and memmove, so an update costs O(window) moves and a median O(1); the MAD is found by
 * walking outwards from the median over the sorted copy (O(window / 2)). These are per-series
 * scalar loops, not vectorized across series. */
#ifndef TN_DETECT_ROBUST_H
#define TN_DETECT_ROBUST_H

#include <stdint.h>

typedef struct {
    uint32_t window, count, pos;
    double *ring;   /* owned, window slots */
    double *sorted; /* owned, count values ascending */
} tn_sortwin_t;

/* 0, TN_EINVAL (window < 3) or TN_ENOMEM. */
int tn_sortwin_init(tn_sortwin_t *w, uint32_t window);
void tn_sortwin_deinit(tn_sortwin_t *w);
/* Adds finite x, dropping the oldest value when full. */
void tn_sortwin_add(tn_sortwin_t *w, double x);
/* Quantile p in [0,1] by linear interpolation between order statistics (Hyndman-Fan type 7,
 * numpy's default). count must be > 0. */
double tn_sortwin_quantile(const tn_sortwin_t *w, double p);
/* Median absolute deviation from med (the window's median). */
double tn_sortwin_mad(const tn_sortwin_t *w, double med);
/* Mean absolute deviation from med: the fallback scale when more than half the window is equal. */
double tn_sortwin_meanad(const tn_sortwin_t *w, double med);

/* Scale factors that make these spreads estimate the standard deviation of normal data. */
#define TN_MAD_TO_SD 1.482602218505602     /* 1 / Phi^-1(3/4) */
#define TN_IQR_TO_SD 0.7413011092528010    /* 1 / (2 Phi^-1(3/4)) */
#define TN_MEANAD_TO_SD 1.2533141373155003 /* sqrt(pi / 2) */

/* The data's resolution: the smallest positive gap between two values of the window (0 if all
 * are equal). A robust spread below it is not measurable (discrete or quantized data, where
 * more than half the window sits on one level), so it floors the MAD and IQR scales. */
double tn_sortwin_quantum(const tn_sortwin_t *w);

typedef struct {
    double z, expected, scale, lower, upper;
} tn_robust_out_t;

/* Robust z of x against the window: (x - median) / (1.4826 MAD); when MAD is 0, the mean
 * absolute deviation (x 1.2533) is the scale; the scale is at least the window's quantum. Band:
 * median -+ thr * scale. */
void tn_robust_mad(const tn_sortwin_t *w, double x, double thr, tn_robust_out_t *out);
/* IQR fences: z = (x - midhinge) / (IQR / 1.349), so |z| >= thr is the same as being outside
 * the fences Q1 - k IQR, Q3 + k IQR with k = thr / 1.349 - 0.5 (thr 2.698 is Tukey's k 1.5).
 * When IQR is 0, the mean absolute deviation from the median is the scale. */
void tn_robust_iqr(const tn_sortwin_t *w, double x, double thr, tn_robust_out_t *out);

#endif
