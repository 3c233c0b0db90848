/* ar.h - AR(p) one-step-ahead residual score for one series (the cheap end of the ARIMA family).
 *
 * The model is fitted on the last `window` values by Yule-Walker: the biased autocovariances
 * c0..cp of the demeaned window, solved by Levinson-Durbin in O(p^2); the innovation variance is
 * Levinson's final prediction error. It is refitted every `refit` values (O(window * p) each
 * time). The incoming value is scored against the forecast mean + sum phi_k (x_{t-k} - mean). */
#ifndef TN_DETECT_AR_H
#define TN_DETECT_AR_H

#include <stdint.h>

#define TN_AR_MAX_P 16

typedef struct {
    uint32_t p, window, refit;
    uint32_t count, pos, since_fit;
    int fitted;
    double *ring;       /* owned, window slots */
    double mean, sigma; /* of the last fit */
    double phi[TN_AR_MAX_P];
} tn_ar_t;

/* 1 <= p <= TN_AR_MAX_P, window >= 4p + 4, refit >= 1. 0, TN_EINVAL or TN_ENOMEM. */
int tn_ar_init(tn_ar_t *a, uint32_t p, uint32_t window, uint32_t refit);
void tn_ar_deinit(tn_ar_t *a);
/* Levinson-Durbin for autocovariances c[0..p]: writes phi[0..p-1] and returns the final
 * prediction error variance (0 if c[0] is 0; the recursion stops early if the error vanishes). */
double tn_ar_levinson(const double *c, uint32_t p, double *phi);
/* Scores x (when fitted: *ready = 1, z, forecast and sigma), then adds it and refits when due. */
void tn_ar_update(tn_ar_t *a, double x, int *ready, double *z, double *forecast, double *sigma);

#endif
