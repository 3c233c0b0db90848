/* shift.h - level-change score for one series: the mean of the last `recent` values (the new
 * one included) against the mean of the `window` values before them.
 *
 * d = mean(recent) - mean(reference). Its spread is not assumed (real series are
 * autocorrelated, which makes the spread of a mean much larger than sigma^2 / n): it is learnt
 * from d itself, as an EWMA of d^2 fed with values `window + recent` samples late, so a drift
 * that starts now is measured against the spread from before it; once warm, a d beyond 4 scales
 * is clipped and weighs a tenth. z = d / sqrt(EWMA). It sees what adapting detectors miss: a
 * slow trend change or a drift, as the gap between the recent and the earlier mean grows. */
#ifndef TN_DETECT_SHIFT_H
#define TN_DETECT_SHIFT_H

#include <stdint.h>

typedef struct {
    uint32_t window, recent, cap; /* cap = window + recent - 1 previous values kept */
    uint32_t count, pos;
    double *ring; /* owned, cap values */
    float *lag;   /* owned, window + recent: d values on their way to the scale */
    uint32_t lag_cap, lag_pos, lag_count;
    double rate, ms, wsum; /* EWMA of d^2 and its total weight */
    uint64_t fed;          /* d values that reached the scale */
} tn_shift_t;

/* window >= 3, 2 <= recent <= window, rate in (0, 1]. 0, TN_EINVAL or TN_ENOMEM. */
int tn_shift_init(tn_shift_t *s, uint32_t window, uint32_t recent, double rate);
void tn_shift_deinit(tn_shift_t *s);
/* Scores x (*ready once `min_fed` d values shaped the scale), then keeps it. expected is the
 * reference mean; scale the learnt spread of d. */
void tn_shift_update(tn_shift_t *s, double x, uint64_t min_fed, int *ready, double *z,
                     double *expected, double *scale);

#endif
