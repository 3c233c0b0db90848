/* ensemble.h - every detector of one series, their combination into one score, hygiene and
 * hysteresis. Pure computation: the caller feeds (timestamp, value) pairs and gets results.
 *
 * Each detector turns the sample into a z on the normal scale (its residual divided by a scale
 * that estimates the standard deviation of normal data). A scale estimated from few values makes
 * z heavy-tailed (Student t), more so for robust scales, so before combining, each z is
 * calibrated: mapped to the normal z of the same tail probability under a t with the
 * detector's effective degrees of freedom. The calibrated scores erf(|zc|/sqrt 2) are then
 * comparable across detectors and series. Detectors of one family (below) vote together with
 * their largest |zc|. The combined |z| is the agree-th largest vote of the families that are
 * ready (so `agree` independent views must see the sample as unusual), or the largest vote
 * divided by `strong` when that is more (one view alone is enough when it is far out). When the
 * seasonal baseline is ready its view caps the result at twice its own |z|: what the same time
 * yesterday or last week explains is not an anomaly. The seasonal baseline's zc is the larger of
 * its instantaneous one and its persistence, the mean of its last 8 zc times sqrt 8 (its
 * residuals at different times compare with different slots, so they are nearly independent
 * under normal data, and a sustained deviation adds up). See docs/detection.md. */
#ifndef TN_DETECT_ENSEMBLE_H
#define TN_DETECT_ENSEMBLE_H

#include "detect/ar.h"
#include "detect/batch.h"
#include "detect/robust.h"
#include "detect/seasonal.h"
#include "detect/shift.h"
#include "detect/shift.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TN_DET_ZSCORE = 0,  /* rolling mean and stddev over `window` */
    TN_DET_EWMA,        /* exponentially weighted mean and variance */
    TN_DET_MAD,         /* rolling median and MAD */
    TN_DET_IQR,         /* rolling quartile fences */
    TN_DET_SEASONAL,    /* same time in previous seasons */
    TN_DET_HOLTWINTERS, /* additive Holt-Winters one-step forecast */
    TN_DET_AR,          /* AR(p) one-step forecast */
    TN_DET_FLAT,        /* stuck value: a run of equal values that history makes improbable */
    TN_DET_SHIFT,       /* recent mean against the mean before it (trend changes, drifts) */
    TN_DET_COUNT
} tn_det_id_t;

#define TN_DET_BIT(id) (1u << (id))
#define TN_DET_ALL ((1u << TN_DET_COUNT) - 1)

/* Detectors that share their failure modes form a family, and a family has one vote in the
 * agreement: zscore and ewma (mean and variance), mad and iqr (order statistics of the same
 * window); the others are a family each. */
#define TN_FAMILIES 7
int tn_det_family(int id);

/* Static name ("zscore", "ewma", "mad", "iqr", "seasonal", "holtwinters", "ar", "flat",
 * "shift"). */
const char *tn_det_name(int id);
/* The id for a name, or -1. "hw" is accepted for holtwinters. */
int tn_det_parse(const char *name);

typedef struct {
    uint32_t detectors;   /* mask of TN_DET_BIT(); 0 = all */
    double threshold;     /* combined |z| at or above opens an anomaly; 0 = 4 */
    uint32_t agree;       /* families that must reach it together; 0 = 2 (capped at the ready) */
    double strong;        /* one family at strong * threshold suffices; 0 = 1.5, < 0 = never */
    uint32_t min_samples; /* warm-up: no verdict before (nor before hw_season); 0 = 20 */
    uint32_t clear_after; /* consecutive normal samples that close an anomaly; 0 = 3 */
    uint32_t window;      /* zscore, mad, iqr window; 0 = 60 */
    double ewma_alpha;    /* 0 = 2 / (window + 1) */
    uint32_t ar_p;        /* 0 = 3 */
    uint32_t ar_window;   /* 0 = max(window, 4p + 4) */
    uint32_t ar_refit;    /* 0 = ar_window / 4 */
    double hw_alpha, hw_beta, hw_gamma; /* 0 = 0.3, 0.05, 0.2 */
    uint32_t hw_season;                 /* samples per season; 0 = no season */
    uint32_t n_seasons;                 /* seasonal baseline; 0 = one day and one week */
    int64_t seasons_ms[TN_SEASONS_MAX];
    uint32_t season_buckets; /* slots per season at most; 0 = 288 */
    uint32_t season_periods; /* previous seasons compared; 0 = 2 */
    double gap_factor;       /* a step longer than this many typical steps is a gap; 0 = 2.5 */
    uint32_t shift_recent;   /* shift: values in the recent mean; 0 = max(4, window / 4) */
} tn_ens_params_t;

/* Fills every 0 with its default. 0 or TN_EINVAL (values out of range). */
int tn_ens_params_resolve(tn_ens_params_t *p);
/* 1 if series state built for a can be kept under b (same detectors, windows and seasons). */
int tn_ens_params_same_state(const tn_ens_params_t *a, const tn_ens_params_t *b);

typedef struct {
    int ready;
    double z, expected, scale, lower, upper;
    double dof; /* degrees of freedom behind the scale estimate; 0 = z is exact */
    double zc;  /* z calibrated to the normal scale (see tn_ens_calibrate); z when dof is 0 */
} tn_det_out_t;

typedef enum {
    TN_ENS_WARMUP = 0,
    TN_ENS_NORMAL,
    TN_ENS_ANOMALY,
    TN_ENS_SKIPPED,
} tn_ens_kind_t;

typedef enum {
    TN_SKIP_NONE = 0,
    TN_SKIP_NAN,
    TN_SKIP_INF,
    TN_SKIP_OUT_OF_ORDER, /* older than the series' last timestamp */
    TN_SKIP_DUPLICATE,    /* same timestamp and same value as the last sample */
} tn_skip_t;

typedef struct {
    tn_ens_kind_t kind;
    tn_skip_t skip;
    int opened, closed;
    int gap;          /* a gap preceded this sample */
    int dup_ts;       /* same timestamp as the last sample, other value: scored */
    uint64_t n;       /* samples accepted before this one */
    uint32_t active;  /* detectors ready (mask) */
    uint32_t flagged; /* detectors at or above the threshold (mask) */
    int lead;         /* detector whose explanation is reported, -1 if none */
    double z;         /* combined, signed like the lead's */
    double score;     /* erf(|z| / sqrt 2) */
    tn_det_out_t det[TN_DET_COUNT];
} tn_ens_result_t;

typedef struct {
    uint64_t nan, inf, out_of_order, duplicate, dup_ts, gaps, accepted;
} tn_ens_counts_t;

typedef struct tn_ens tn_ens_t;

/* Copies *p (resolved). NULL on allocation failure or invalid params. */
tn_ens_t *tn_ens_create(const tn_ens_params_t *p);
void tn_ens_destroy(tn_ens_t *e);
/* Scores one sample. 0, or TN_ENOMEM (a lazily built detector could not be allocated; the
 * sample is then scored without it). */
int tn_ens_update(tn_ens_t *e, int64_t ts_ms, double x, tn_ens_result_t *out);
const tn_ens_counts_t *tn_ens_counts(const tn_ens_t *e);
const tn_ens_params_t *tn_ens_params(const tn_ens_t *e);
/* Replaces thresholds, agreement and hysteresis settings; p must be same_state. */
void tn_ens_retune(tn_ens_t *e, const tn_ens_params_t *p);
/* z of a t statistic with dof degrees of freedom mapped to the normal z of the same tail
 * probability (Wallace 1959: (8 dof + 1)/(8 dof + 3) sqrt(dof ln(1 + t^2 / dof))); t for dof 0. */
double tn_ens_calibrate(double t, double dof);
/* The two-sided normal tail probability q as a z: Phi^-1(1 - q/2), given log q. */
double tn_ens_z_from_logtail(double logq);

#endif
