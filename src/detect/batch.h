/* batch.h - detector state for many series that advance together ("lanes"), kept as structure
 * of arrays and scored one time step at a time, so the loop over lanes vectorizes.
 *
 * Every kernel scores x[lane] against the state as it was before x arrived (an outlier cannot
 * hide itself), then adds x. All x must be finite: hygiene (NaN, Inf, order) is the caller's job
 * (detect/ensemble.c). A single series is simply lanes = 1.
 *
 * Layout: per-lane scalars are arrays of `lanes` doubles; rings are slot-major
 * (ring[slot * lanes + lane]) so one time step touches one contiguous row.
 *
 * Vectorization: the step loops are branch-free over lanes (selects instead of branches) and
 * compiled with -O3 -fno-math-errno; on x86-64 with GCC they are also built for AVX2 next to the
 * baseline SSE2 (target_clones, chosen at load time), which is the portable fallback. Check with
 * `-fopt-info-vec-optimized` (docs/detection.md). The rolling z-score also has explicit AVX-512
 * loops (512-bit registers, 256-bit ones for the last four lanes), used when the CPU reports
 * AVX-512F and VL at run time. */
#ifndef TN_DETECT_BATCH_H
#define TN_DETECT_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* z for a zero scale: 0 if x is within rounding of the expected value, else +-TN_Z_INF. */
#define TN_Z_INF 1e9

/* ---- rolling z-score over the last `window` values ---------------------------------------- */
typedef struct {
    size_t lanes;
    uint32_t window;
    uint32_t count; /* values in each ring (<= window), the same for every lane */
    uint32_t pos;   /* next slot */
    uint32_t since_exact;
    double *ring; /* owned, window * lanes */
    double *mean; /* owned, lanes */
    double *m2;   /* owned, lanes: sum of squared deviations */
    double *tmp;  /* owned, 2 * lanes: scratch for the exact recompute */
} tn_bz_t;

/* 0, TN_EINVAL (window < 2 or lanes 0) or TN_ENOMEM. */
int tn_bz_init(tn_bz_t *b, size_t lanes, uint32_t window);
void tn_bz_deinit(tn_bz_t *b);
/* Writes z[lane] (and, when not NULL, the window's mean and sample stddev), then adds x.
 * Mean and m2 follow a sliding Welford update and are recomputed exactly (one shifted pass)
 * every `window` replacements, so rounding error cannot accumulate. */
void tn_bz_step(tn_bz_t *b, const double *x, double *z, double *mean, double *sd);

/* The same as `steps` calls of tn_bz_step (z only), for input rows x[steps][lanes] and output
 * z[steps][lanes] (both borrowed), but time-inner: each group of 8 lanes goes through a few steps
 * at a time with its mean and m2 in registers, in blocks of lanes whose rings stay in cache, so
 * memory traffic is the input and output only. Bitwise the same results. */
void tn_bz_run(tn_bz_t *b, size_t steps, const double *x, double *z);

/* ---- EWMA mean and variance --------------------------------------------------------------- */
typedef struct {
    size_t lanes;
    double alpha;
    uint64_t n;         /* values seen, the same for every lane */
    double decay;       /* (1 - alpha)^(n - 1): for the variance's start-up bias correction */
    double *mean, *var; /* owned, lanes */
} tn_be_t;

/* alpha in (0, 1]. 0, TN_EINVAL or TN_ENOMEM. */
int tn_be_init(tn_be_t *b, size_t lanes, double alpha);
void tn_be_deinit(tn_be_t *b);
/* z = (x - m) / sqrt(v / (1 - (1-alpha)^(n-1))), then m += a d, v = (1 - a)(v + a d^2) with
 * d = x - m (West/Finch incremental form: a contraction, so rounding errors decay). mean/sd
 * may be NULL. */
void tn_be_step(tn_be_t *b, const double *x, double *z, double *mean, double *sd);

/* ---- Holt-Winters, additive ---------------------------------------------------------------- */
typedef struct {
    size_t lanes;
    uint32_t season;                 /* samples per season; 0 = no season (Holt's linear trend) */
    double alpha, beta, gamma, rate; /* level, trend, season smoothing; residual variance rate */
    uint64_t n;                      /* values seen */
    uint32_t phase;                  /* position in the season */
    double decay;                    /* (1 - rate)^residuals, for the variance's bias correction */
    double *level, *trend, *s2;      /* owned, lanes; s2 = EWMA of squared one-step residuals */
    double *seas;                    /* owned, season * lanes (slot-major), NULL when season is 0 */
    double *tmp; /* owned, lanes: scratch (the season row when there is no season) */
} tn_bhw_t;

/* 0, TN_EINVAL (a coefficient outside (0,1]) or TN_ENOMEM. */
int tn_bhw_init(tn_bhw_t *b, size_t lanes, uint32_t season, double alpha, double beta, double gamma,
                double rate);
void tn_bhw_deinit(tn_bhw_t *b);
/* Number of values before forecasts are made: season (to initialise it) + 2. */
uint64_t tn_bhw_warmup(const tn_bhw_t *b);
/* Forecast f = level + trend + seas[phase]; z = (x - f) / residual sd; then the usual additive
 * updates. During the warm-up z is 0 and f is x. fc/sd may be NULL. */
void tn_bhw_step(tn_bhw_t *b, const double *x, double *z, double *fc, double *sd);
/* Advances every lane by `steps` missing samples: level += steps * trend, phase moves on. */
void tn_bhw_skip(tn_bhw_t *b, uint32_t steps);

/* z for a deviation dev measured against scale sd, with the zero-scale rule above. */
double tn_batch_z(double dev, double sd, double expected);

#endif
