/* seasonal.h - seasonal baseline for one series: the value is compared with the same time of
 * day (week, ...) in the previous `periods` seasons.
 *
 * Each season of length period_ms is cut into `buckets` equal slots (resolution period/buckets;
 * the caller chooses it from the series' sampling step). A slot keeps the mean of the samples
 * that fell into it, as float, for each of the last `periods` + 1 seasons (the current one
 * included). The expected value is the median of the same slot in the previous seasons that
 * have data there: missing data (gaps, a series younger than a season, NaN) just leaves a slot
 * empty, and with no previous season present the baseline abstains. The scale is an EWMA of the
 * absolute residual times
 * sqrt(pi/2), fed with residuals `buckets` samples late (at most 1024), so that a drift that
 * starts now (a trend change) is measured against the scale from before it; once warm, a residual
 * beyond 4 scales is clipped there and weighs a tenth, so an anomaly does not widen the band it is
 * measured against. With several seasons (day and week), the one that explains the value best (the
 * smallest |z|) speaks: a value is unusual only if it is unusual for every season. */
#ifndef TN_DETECT_SEASONAL_H
#define TN_DETECT_SEASONAL_H

#include <stdint.h>

#define TN_SEASONS_MAX 4
#define TN_SEASON_PERIODS_MAX 8

typedef struct {
    int64_t period_ms, res_ms;
    uint32_t buckets, periods;
    float *val;                             /* owned, (periods + 1) * buckets; NaN = no data */
    uint16_t *cnt;                          /* owned, the same shape */
    int64_t pid[TN_SEASON_PERIODS_MAX + 1]; /* season index stored in each slot row */
    double absres;                          /* EWMA of |residual| */
    double wsum;                            /* total weight of the EWMA (its start-up bias) */
    uint64_t residuals;                     /* residuals that reached the scale */
    float *lag; /* owned, lag_cap: residuals on their way to the scale */
    uint32_t lag_cap, lag_pos, lag_count;
} tn_season_t;

typedef struct {
    uint32_t n;
    double rate; /* residual EWMA rate */
    uint32_t min_residuals;
    tn_season_t s[TN_SEASONS_MAX];
} tn_seasonal_t;

typedef struct {
    int ready;
    double z, expected, scale;
    int season; /* index of the season that spoke */
} tn_seasonal_out_t;

/* periods_ms[0..n-1] > 0; step_ms is the series' sampling step (> 0): each season gets
 * min(max_buckets, period / step) slots (at least 1). periods in 1..TN_SEASON_PERIODS_MAX.
 * 0, TN_EINVAL or TN_ENOMEM. */
int tn_seasonal_init(tn_seasonal_t *s, const int64_t *periods_ms, uint32_t n, int64_t step_ms,
                     uint32_t max_buckets, uint32_t periods, double rate, uint32_t min_residuals);
void tn_seasonal_deinit(tn_seasonal_t *s);
/* Scores x at ts_ms against the previous seasons, then records it. */
void tn_seasonal_update(tn_seasonal_t *s, int64_t ts_ms, double x, tn_seasonal_out_t *out);

#endif
