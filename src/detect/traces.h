/* traces.h - latency and error-rate anomalies per service and per edge of the service graph
 * (parent service -> child service), from spans. Pure computation: no I/O.
 *
 * Every span counts for its service's key and, when its parent span belongs to another service,
 * for the edge key "parent->child" (the call as the callee measured it). Per key and per
 * interval: the span count, the error count and a latency histogram (log-spaced buckets, four
 * per octave from 1 us, so a quantile is known to within one bucket, about 19%). When an
 * interval closes, each key that had spans in it is scored against its own past intervals (the
 * last `history` intervals in which it had at least min_count spans):
 *
 *  - latency: the interval's quantile q (p95 by default) against the median of the past
 *    intervals' quantiles, in units of their MAD (scaled by 1.4826, floored at 5% of the
 *    median): z = (observed - median) / (1.4826 MAD). Flagged when z >= z_threshold and the
 *    observed value is at least min_ratio times the median (a regression is an increase);
 *    latency_score = erf(z / sqrt 2) for z > 0, else 0.
 *  - errors: the baseline rate p0 = (errors + 1) / (spans + 2) pooled over the past intervals,
 *    against the interval's k errors in n spans by a binomial test on the variance-stabilising
 *    arcsine scale, z = 2 sqrt(n) (asin sqrt(k / n) - asin sqrt(p0)) (the plain score test
 *    (k - n p0) / sqrt(n p0 (1 - p0)) has far too light a tail when n p0 is small: 6 errors
 *    where 1 is usual would be 5 sigma). Flagged when z >= error_z and the rate exceeds p0 by
 *    at least min_error_delta; error_score = erf(z / sqrt 2) for z > 0, else 0.
 *
 * The verdict's score is the larger of the two. Keys are bounded (max_keys; spans of further
 * keys are counted and dropped) and a key idle for idle_intervals intervals is forgotten. */
#ifndef TN_DETECT_TRACES_H
#define TN_DETECT_TRACES_H

#include <stddef.h>
#include <stdint.h>

typedef struct tn_traces tn_traces_t;

typedef struct {
    const char *service;        /* required, borrowed */
    const char *parent_service; /* NULL or "" for a root span; borrowed */
    double duration_ms;         /* finite, >= 0 */
    int error;
    int64_t ts_ms;
} tn_trace_span_t;

/* One key's verdict for one closed interval; strings borrowed for the callback's duration. */
typedef struct {
    const char *key;     /* "service" or "parent->child" */
    const char *service; /* the (child) service */
    const char *parent;  /* edges: the calling service; NULL for service keys */
    int64_t interval_start_ms;
    uint64_t count, errors;
    uint32_t history; /* past intervals behind the verdict */
    int warmup;       /* history < warmup (or count < min_count): not scored */

    double latency;          /* observed quantile q, ms */
    double latency_expected; /* median of past quantiles, ms (NaN without history) */
    double latency_mad;      /* scaled MAD used, ms */
    double latency_z, latency_score;
    int latency_anomaly;

    double error_rate, error_expected; /* observed and baseline rates */
    double error_z, error_score;
    int error_anomaly;

    double score; /* max(latency_score, error_score), in [0,1] */
} tn_trace_verdict_t;

/* Called while an interval closes: it must not call back into the same tn_traces_t. */
typedef void (*tn_traces_cb)(void *ud, const tn_trace_verdict_t *v);

typedef struct {
    int64_t interval_ms;     /* 0 = 60000 */
    double quantile;         /* 0 = 0.95 */
    uint32_t history;        /* past intervals kept per key, 0 = 30 (at most 1024) */
    uint32_t warmup;         /* past intervals needed before scoring, 0 = 5 */
    uint32_t min_count;      /* spans in an interval for it to be scored or learnt, 0 = 20 */
    double z_threshold;      /* latency, 0 = 4 */
    double min_ratio;        /* latency, 0 = 1.2 */
    double error_z;          /* arcsine-scale z, 0 = 4 */
    double min_error_delta;  /* 0 = 0.01 */
    size_t max_keys;         /* 0 = 10000 */
    uint32_t idle_intervals; /* 0 = 1440 */
    uint32_t max_gap;        /* empty intervals closed one by one after a pause, 0 = 1440 */
    tn_traces_cb on_verdict; /* NULL = none */
    void *ud;
} tn_traces_opts_t;

/* opts may be NULL. NULL on allocation failure or invalid options; the caller owns the result
 * (tn_traces_destroy). */
tn_traces_t *tn_traces_create(const tn_traces_opts_t *opts);
void tn_traces_destroy(tn_traces_t *t);

/* Adds one span (borrowed) after closing the intervals its timestamp has moved past. Returns 0,
 * TN_EINVAL (no service, or a negative/non-finite duration: counted in tn_traces_rejected),
 * TN_ETOOBIG (a new key beyond max_keys: counted in tn_traces_dropped; the span still counts
 * for the keys that exist) or TN_ENOMEM. A span older than the current interval counts in it
 * (tn_traces_late). */
int tn_traces_add(tn_traces_t *t, const tn_trace_span_t *span);

/* Closes every interval ending at or before ts_ms. */
void tn_traces_flush(tn_traces_t *t, int64_t ts_ms);

size_t tn_traces_key_count(const tn_traces_t *t);
uint64_t tn_traces_rejected(const tn_traces_t *t);
uint64_t tn_traces_dropped(const tn_traces_t *t);
uint64_t tn_traces_late(const tn_traces_t *t);

/* The latency histogram's quantile estimate, exposed for tests: the q-quantile of n values
 * (borrowed) as the histogram computes it. NaN when n = 0. */
double tn_traces_hist_quantile(const double *v, size_t n, double q);

#endif
