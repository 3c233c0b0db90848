/* test_zscore.c - the rolling z-score (detect/zscore.c) against an independent two-pass
 * computation, its long-run accuracy, and the detector's warm-up, hysteresis and skipping
 * rules (detect/detector.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define TN_TEST_RNG_NO_GAUSS
#include "../rng.h"

#include "core/error.h"
#include "detect/detector.h"
#include "detect/zscore.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct {
    double mean, stddev, z;
} ref_t;

/* Two-pass mean and sample standard deviation of v[0..n-1] in long double, and the z of x the
 * way zscore.h defines it. */
static ref_t naive(const double *v, size_t n, double x)
{
    ref_t r = {0, 0, 0};
    if (n == 0) return r;
    long double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    long double mean = sum / n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    r.mean = (double)mean;
    r.stddev = n > 1 ? (double)sqrtl(ss / (n - 1)) : 0;
    if (n < 2) return r;
    double eps = 1e-12 * fmax(1.0, fabs(r.mean));
    if (r.stddev > eps)
        r.z = (double)(((long double)x - mean) / sqrtl(ss / (n - 1)));
    else
        r.z = fabs(x - r.mean) <= eps ? 0 : copysign(1e9, x - r.mean);
    return r;
}

static int close_rel(double got, double want, double tol, double floor_)
{
    return fabs(got - want) <= tol * fmax(fabs(want), floor_);
}

#define ASSERT_REL(got, want, tol, floor_, what, step)                                             \
    do {                                                                                           \
        if (!close_rel((got), (want), (tol), (floor_)))                                            \
            fail_msg("%s at step %zu: got %.17g, want %.17g (rel err %.3g)", (what),               \
                     (size_t)(step), (got), (want),                                                \
                     fabs((got) - (want)) / fmax(fabs(want), (floor_)));                           \
    } while (0)

/* ---- tn_zscore -------------------------------------------------------------------------- */

static void test_init(void **state)
{
    (void)state;
    tn_zscore_t zs;
    assert_int_equal(tn_zscore_init(&zs, 0), TN_EINVAL);
    assert_int_equal(tn_zscore_init(&zs, 1), TN_EINVAL);
    assert_int_equal(tn_zscore_init(&zs, 2), 0);
    assert_int_equal(zs.window, 2);
    assert_int_equal(zs.count, 0);
    tn_zscore_deinit(&zs);
    assert_null(zs.ring);
    tn_zscore_deinit(&zs); /* twice is harmless */
}

static void check_against_naive(uint32_t window, size_t steps, uint64_t seed)
{
    tn_zscore_t zs;
    assert_int_equal(tn_zscore_init(&zs, window), 0);
    double *hist = malloc(sizeof(double) * steps);
    assert_non_null(hist);
    g_rng = seed;
    for (size_t i = 0; i < steps; i++) {
        /* values in [10, 110) with an occasional spike, so z spans a wide range */
        double x = 10 + 100 * rnd01();
        if (i % 97 == 96) x += 1000 * rnd01();
        size_t n = i < window ? i : window;
        ref_t r = naive(hist + (i - n), n, x);
        tn_zscore_result_t out;
        memset(&out, 0xff, sizeof out);
        tn_zscore_update(&zs, x, &out);
        assert_int_equal(out.n, n);
        ASSERT_REL(out.mean, r.mean, 1e-9, 1e-300, "mean", i);
        ASSERT_REL(out.stddev, r.stddev, 1e-9, 1e-300, "stddev", i);
        ASSERT_REL(out.z, r.z, 1e-9, 1.0, "z", i);
        ASSERT_REL(out.score, erf(fabs(r.z) / sqrt(2.0)), 1e-9, 1.0, "score", i);
        hist[i] = x;
    }
    assert_int_equal(zs.count, window < steps ? window : steps);
    free(hist);
    tn_zscore_deinit(&zs);
}

static void test_naive_w2(void **state)
{
    (void)state, check_against_naive(2, 5000, 1);
}
static void test_naive_w5(void **state)
{
    (void)state, check_against_naive(5, 5000, 2);
}
static void test_naive_w60(void **state)
{
    (void)state, check_against_naive(60, 5000, 3);
}
static void test_naive_w1000(void **state)
{
    (void)state, check_against_naive(1000, 5000, 4);
}

static void test_first_values(void **state)
{
    (void)state;
    tn_zscore_t zs;
    assert_int_equal(tn_zscore_init(&zs, 4), 0);
    tn_zscore_result_t r;
    tn_zscore_update(&zs, 7, &r); /* nothing to compare with */
    assert_int_equal(r.n, 0);
    assert_true(r.z == 0 && r.score == 0 && r.stddev == 0);
    tn_zscore_update(&zs, 9, &r); /* one value: no spread yet */
    assert_int_equal(r.n, 1);
    assert_true(r.mean == 7 && r.stddev == 0 && r.z == 0);
    tn_zscore_update(&zs, 11, &r); /* {7, 9}: mean 8, s = sqrt(2) */
    assert_int_equal(r.n, 2);
    assert_true(r.mean == 8);
    assert_true(fabs(r.stddev - sqrt(2.0)) < 1e-15);
    assert_true(fabs(r.z - 3 / sqrt(2.0)) < 1e-14);
    tn_zscore_deinit(&zs);
}

static void test_constant_series(void **state)
{
    (void)state;
    tn_zscore_t zs;
    assert_int_equal(tn_zscore_init(&zs, 10), 0);
    tn_zscore_result_t r;
    for (int i = 0; i < 25; i++) {
        tn_zscore_update(&zs, 5.0, &r);
        assert_true(r.z == 0);
        assert_true(r.score == 0);
        assert_true(r.stddev == 0);
        if (i > 0) assert_true(r.mean == 5.0);
    }
    /* within rounding of the mean is still "the same" */
    tn_zscore_update(&zs, 5.0 + 1e-13, &r);
    assert_true(r.z == 0);
    tn_zscore_deinit(&zs);

    assert_int_equal(tn_zscore_init(&zs, 10), 0);
    for (int i = 0; i < 25; i++)
        tn_zscore_update(&zs, 5.0, &r);
    tn_zscore_update(&zs, 6.0, &r);
    assert_true(r.z == 1e9);
    assert_true(r.score == 1.0);
    assert_true(r.mean == 5.0);
    assert_int_equal(r.n, 10);
    tn_zscore_deinit(&zs);

    assert_int_equal(tn_zscore_init(&zs, 3), 0);
    for (int i = 0; i < 5; i++)
        tn_zscore_update(&zs, -2.5, &r);
    tn_zscore_update(&zs, -3.0, &r);
    assert_true(r.z == -1e9);
    assert_true(r.score == 1.0);
    /* the window now holds {-2.5, -2.5, -3}: no longer constant */
    tn_zscore_update(&zs, -2.5, &r);
    assert_true(fabs(r.mean - (-8.0 / 3)) < 1e-15);
    assert_true(fabs(r.z) < 1);
    tn_zscore_deinit(&zs);
}

/* 2,000,000 values around 1e6 with small noise (+-50, i.e. 5e-5 relative): the incremental
 * state must match an exact recomputation of its window every 1000 steps and at the end, so
 * rounding error does not accumulate. The count is not a multiple of the window, so the end is
 * mid-way between two internal recomputations. (Without them, z is off by ~4e-9 here.) */
static void test_no_drift(void **state)
{
    (void)state;
    enum { W = 60 };
    const size_t steps = 2000000 + 37;
    tn_zscore_t zs;
    assert_int_equal(tn_zscore_init(&zs, W), 0);
    double last[W], ordered[W];
    g_rng = 42;
    tn_zscore_result_t r;
    size_t checks = 0;
    for (size_t i = 0; i <= steps; i++) {
        double x = 1e6 + 100 * (rnd01() - 0.5);
        if (i == steps || (i >= W && i % 1000 == 999)) {
            /* x is scored against exactly the last W values */
            for (size_t k = 0; k < W; k++)
                ordered[k] = last[(i + k) % W];
            ref_t want = naive(ordered, W, x);
            tn_zscore_update(&zs, x, &r);
            assert_int_equal(r.n, W);
            ASSERT_REL(r.mean, want.mean, 1e-9, 0, "mean", i);
            ASSERT_REL(r.stddev, want.stddev, 1e-9, 0, "stddev", i);
            ASSERT_REL(r.z, want.z, 1e-9, 1.0, "z", i);
            checks++;
        } else {
            tn_zscore_update(&zs, x, &r);
        }
        last[i % W] = x;
    }
    assert_int_equal(checks, 2001);
    tn_zscore_deinit(&zs);
}

static void test_score(void **state)
{
    (void)state;
    assert_true(tn_zscore_score(0) == 0);
    assert_true(fabs(tn_zscore_score(1) - 0.68268949213708585) < 1e-12);
    assert_true(fabs(tn_zscore_score(2) - 0.95449973610364158) < 1e-12);
    assert_true(fabs(tn_zscore_score(3) - 0.99730020393673979) < 1e-12);
    assert_true(tn_zscore_score(-3) == tn_zscore_score(3));
    assert_true(tn_zscore_score(40) == 1.0);
    assert_true(tn_zscore_score(1e9) == 1.0);
    assert_true(tn_zscore_score(-1e9) == 1.0);
    double prev = 0;
    for (double z = 0.1; z < 8; z += 0.1) {
        double s = tn_zscore_score(z);
        assert_true(s >= prev && s <= 1.0);
        prev = s;
    }
}

/* ---- tn_detector ------------------------------------------------------------------------ */

static tn_detector_t *make(uint32_t window, double threshold, uint32_t min_samples,
                           uint32_t clear_after, size_t max_series)
{
    tn_detector_opts_t o = {window,      threshold,  min_samples,
                            clear_after, max_series, TN_DET_BIT(TN_DET_ZSCORE)};
    tn_detector_t *d = tn_detector_create(&o);
    assert_non_null(d);
    return d;
}

static tn_verdict_t score(tn_detector_t *d, const char *sid, double v, int64_t ts)
{
    tn_verdict_t out;
    memset(&out, 0xff, sizeof out);
    assert_int_equal(tn_detector_score(d, sid, v, ts, &out), 0);
    assert_non_null(out.detector);
    assert_string_equal(out.detector, "zscore");
    return out;
}

/* Feeds 10, 11, 10, 11, ... */
static void baseline(tn_detector_t *d, const char *sid, int n, int64_t *ts)
{
    for (int i = 0; i < n; i++, (*ts)++)
        score(d, sid, 10 + (double)(*ts % 2), *ts);
}

static void test_detector_warmup(void **state)
{
    (void)state;
    tn_detector_t *d = make(20, 3, 5, 0, 0);
    for (int i = 0; i < 5; i++) {
        /* even a wild value gives no verdict during warm-up */
        tn_verdict_t v = score(d, "s", i == 3 ? 1e6 : 10 + i % 2, i);
        assert_int_equal(v.kind, TN_VERDICT_WARMUP);
        assert_int_equal(v.n, (uint32_t)i);
        assert_int_equal(v.opened, 0);
        assert_int_equal(v.closed, 0);
    }
    tn_verdict_t v = score(d, "s", 10, 5);
    assert_int_equal(v.n, 5);
    assert_int_not_equal(v.kind, TN_VERDICT_WARMUP);
    assert_int_equal(v.kind, TN_VERDICT_NORMAL); /* the 1e6 inflates the spread */
    assert_int_equal(tn_detector_series_count(d), 1);
    assert_int_equal(tn_detector_skipped(d), 0);
    tn_detector_destroy(d);
}

static void test_detector_verdict_fields(void **state)
{
    (void)state;
    tn_detector_t *d = make(4, 2.5, 2, 0, 0);
    score(d, "s", 10, 1);
    score(d, "s", 12, 2);
    score(d, "s", 14, 3);
    score(d, "s", 16, 4);
    tn_verdict_t v = score(d, "s", 15, 5); /* window {10,12,14,16}: mean 13, s = sqrt(20/3) */
    double s = sqrt(20.0 / 3);
    assert_int_equal(v.kind, TN_VERDICT_NORMAL);
    assert_int_equal(v.n, 4);
    assert_true(fabs(v.expected - 13) < 1e-12);
    assert_true(fabs(v.stddev - s) < 1e-12);
    assert_true(fabs(v.z - 2 / s) < 1e-12);
    assert_true(fabs(v.score - erf(2 / s / sqrt(2.0))) < 1e-12);
    assert_true(fabs(v.lower - (13 - 2.5 * s)) < 1e-12);
    assert_true(fabs(v.upper - (13 + 2.5 * s)) < 1e-12);
    /* the threshold is inclusive: window {12,14,16,15}, mean 14.25 */
    double m = 14.25, sd = sqrt(((12 - m) * (12 - m) + (14 - m) * (14 - m) + (16 - m) * (16 - m) +
                                 (15 - m) * (15 - m)) /
                                3);
    v = score(d, "s", m + 2.5 * sd * (1 + 1e-12), 6);
    assert_int_equal(v.kind, TN_VERDICT_ANOMALY);
    assert_int_equal(v.opened, 1);
    tn_detector_destroy(d);
}

static void test_detector_spike_and_hysteresis(void **state)
{
    (void)state;
    tn_detector_t *d = make(20, 3, 5, 0, 0); /* clear_after 0 means 3 */
    int64_t ts = 0;
    baseline(d, "s", 30, &ts);
    tn_verdict_t v = score(d, "s", 10 + (double)(ts % 2), ts);
    ts++;
    assert_int_equal(v.kind, TN_VERDICT_NORMAL);
    assert_int_equal(v.opened + v.closed, 0);

    /* a spike opens an anomaly */
    v = score(d, "s", 1000, ts++);
    assert_int_equal(v.kind, TN_VERDICT_ANOMALY);
    assert_int_equal(v.opened, 1);
    assert_int_equal(v.closed, 0);
    assert_true(v.z > 1000);
    assert_true(v.score == 1.0);
    /* each further spike is ~100x the last, so it stays anomalous: no new opening */
    for (double x = 1e5; x <= 1e9; x *= 100) {
        v = score(d, "s", x, ts++);
        assert_int_equal(v.kind, TN_VERDICT_ANOMALY);
        assert_int_equal(v.opened, 0);
        assert_int_equal(v.closed, 0);
    }
    /* two normal samples, then an anomaly: the run of normals starts again */
    for (int i = 0; i < 2; i++) {
        v = score(d, "s", 10, ts++);
        assert_int_equal(v.kind, TN_VERDICT_NORMAL);
        assert_int_equal(v.opened + v.closed, 0);
    }
    v = score(d, "s", 1e13, ts++);
    assert_int_equal(v.kind, TN_VERDICT_ANOMALY);
    assert_int_equal(v.opened, 0);
    /* three consecutive normal samples close it, on the third */
    for (int i = 0; i < 3; i++) {
        v = score(d, "s", 10, ts++);
        assert_int_equal(v.kind, TN_VERDICT_NORMAL);
        assert_int_equal(v.opened, 0);
        assert_int_equal(v.closed, i == 2);
    }
    /* closed once only */
    for (int i = 0; i < 5; i++) {
        v = score(d, "s", 10, ts++);
        assert_int_equal(v.closed, 0);
    }
    /* a new spike opens a new anomaly */
    v = score(d, "s", 1e16, ts++);
    assert_int_equal(v.kind, TN_VERDICT_ANOMALY);
    assert_int_equal(v.opened, 1);
    assert_int_equal(tn_detector_skipped(d), 0);
    tn_detector_destroy(d);
}

static void test_detector_clear_after(void **state)
{
    (void)state;
    tn_detector_t *d = make(30, 3, 5, 5, 0);
    int64_t ts = 0;
    baseline(d, "s", 30, &ts);
    tn_verdict_t v = score(d, "s", 500, ts++);
    assert_int_equal(v.opened, 1);
    for (int i = 0; i < 5; i++) {
        v = score(d, "s", 10, ts++);
        assert_int_equal(v.kind, TN_VERDICT_NORMAL);
        assert_int_equal(v.closed, i == 4);
    }
    tn_detector_destroy(d);
}

/* Random series with spikes and level shifts: every verdict agrees with an independent
 * computation of z and of the hysteresis state machine. */
static void test_detector_model(void **state)
{
    (void)state;
    const uint32_t window = 30, min_samples = 10, clear_after = 4;
    const double thr = 3.0;
    tn_detector_t *d = make(window, thr, min_samples, clear_after, 0);
    double hist[3000];
    g_rng = 7;
    int in_anomaly = 0, run = 0, opened = 0, closed = 0;
    for (size_t i = 0; i < 3000; i++) {
        double x = 100 + 10 * rnd01() + (i / 500 % 2 ? 200 : 0);
        if (rnd01() < 0.02) x += 300 * rnd01();
        size_t n = i < window ? i : window;
        ref_t r = naive(hist + (i - n), n, x);
        tn_verdict_t v = score(d, "model", x, (int64_t)i);
        assert_int_equal(v.n, i); /* samples accepted before */
        int want_open = 0, want_close = 0;
        tn_verdict_kind_t want;
        if (n < min_samples) {
            want = TN_VERDICT_WARMUP;
        } else if (fabs(r.z) >= thr) {
            want = TN_VERDICT_ANOMALY;
            want_open = !in_anomaly;
            in_anomaly = 1;
            run = 0;
        } else {
            want = TN_VERDICT_NORMAL;
            if (in_anomaly && ++run >= (int)clear_after) {
                in_anomaly = 0;
                run = 0;
                want_close = 1;
            }
        }
        if ((int)v.kind != (int)want)
            fail_msg("step %zu: kind %d, want %d (z %.17g vs %.17g)", i, v.kind, want, v.z, r.z);
        assert_int_equal(v.opened, want_open);
        assert_int_equal(v.closed, want_close);
        opened += v.opened;
        closed += v.closed;
        hist[i] = x;
    }
    /* the scenario really exercised both transitions, several times */
    assert_true(opened >= 5);
    assert_true(closed >= opened - 1);
    tn_detector_destroy(d);
}

static void test_detector_skips(void **state)
{
    (void)state;
    tn_detector_t *d = make(10, 3, 3, 0, 0);
    tn_verdict_t v;
    /* NaN/Inf for an unknown series: skipped and counted, no series created */
    v = score(d, "a", NAN, 1);
    assert_int_equal(v.kind, TN_VERDICT_SKIPPED);
    assert_int_equal(tn_detector_series_count(d), 0);
    assert_int_equal(tn_detector_skipped(d), 1);
    for (int i = 0; i < 5; i++)
        score(d, "a", 10 + i % 2, 100 + i);
    v = score(d, "a", INFINITY, 200);
    assert_int_equal(v.kind, TN_VERDICT_SKIPPED);
    assert_int_equal(v.opened + v.closed, 0);
    v = score(d, "a", -INFINITY, 201);
    assert_int_equal(v.kind, TN_VERDICT_SKIPPED);
    assert_int_equal(tn_detector_skipped(d), 3);
    /* skipped values did not enter the window, and did not move the clock */
    v = score(d, "a", 10, 105);
    assert_int_equal(v.kind, TN_VERDICT_NORMAL);
    assert_int_equal(v.n, 5);
    /* out of order: older than the last timestamp is skipped; equal is accepted */
    v = score(d, "a", 10, 104);
    assert_int_equal(v.kind, TN_VERDICT_SKIPPED);
    assert_int_equal(tn_detector_skipped(d), 4);
    v = score(d, "a", 11, 105);
    assert_int_equal(v.kind, TN_VERDICT_NORMAL);
    assert_int_equal(v.n, 6);
    /* even a huge out-of-order value cannot open an anomaly */
    v = score(d, "a", 1e9, 0);
    assert_int_equal(v.kind, TN_VERDICT_SKIPPED);
    assert_int_equal(v.opened, 0);
    v = score(d, "a", 10, 106);
    assert_int_equal(v.n, 7);
    /* series are independent: "b" starts its own clock and warm-up */
    v = score(d, "b", 10, 1);
    assert_int_equal(v.kind, TN_VERDICT_WARMUP);
    assert_int_equal(v.n, 0);
    assert_int_equal(tn_detector_series_count(d), 2);
    assert_int_equal(tn_detector_skipped(d), 5);
    /* negative timestamps are fine for a new series */
    v = score(d, "c", 10, -5);
    assert_int_equal(v.kind, TN_VERDICT_WARMUP);
    tn_detector_destroy(d);
}

static void test_detector_max_series(void **state)
{
    (void)state;
    tn_detector_t *d = make(10, 3, 2, 0, 3);
    static const char *sids[] = {"s0", "s1", "s2"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(score(d, sids[i], 1, 1).kind, TN_VERDICT_WARMUP);
    assert_int_equal(tn_detector_series_count(d), 3);
    tn_verdict_t v = score(d, "s3", 1, 1);
    assert_int_equal(v.kind, TN_VERDICT_SKIPPED);
    assert_int_equal(tn_detector_series_count(d), 3);
    assert_int_equal(tn_detector_skipped(d), 1);
    v = score(d, "s4", 1, 1);
    assert_int_equal(v.kind, TN_VERDICT_SKIPPED);
    assert_int_equal(tn_detector_skipped(d), 2);
    /* the tracked ones go on */
    v = score(d, "s1", 2, 2);
    assert_int_equal(v.kind, TN_VERDICT_WARMUP);
    assert_int_equal(v.n, 1);
    v = score(d, "s1", 2, 3);
    assert_int_equal(v.n, 2);
    assert_int_not_equal(v.kind, TN_VERDICT_SKIPPED);
    tn_detector_destroy(d);

    /* many series by default (and a clean destroy of all of them) */
    d = make(5, 3, 2, 0, 0);
    char sid[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(sid, sizeof sid, "%016x", i * 2654435761u);
        score(d, sid, i, i);
    }
    assert_int_equal(tn_detector_series_count(d), 5000);
    assert_int_equal(tn_detector_skipped(d), 0);
    tn_detector_destroy(d);
    tn_detector_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_naive_w2),
        cmocka_unit_test(test_naive_w5),
        cmocka_unit_test(test_naive_w60),
        cmocka_unit_test(test_naive_w1000),
        cmocka_unit_test(test_first_values),
        cmocka_unit_test(test_constant_series),
        cmocka_unit_test(test_no_drift),
        cmocka_unit_test(test_score),
        cmocka_unit_test(test_detector_warmup),
        cmocka_unit_test(test_detector_verdict_fields),
        cmocka_unit_test(test_detector_spike_and_hysteresis),
        cmocka_unit_test(test_detector_clear_after),
        cmocka_unit_test(test_detector_model),
        cmocka_unit_test(test_detector_skips),
        cmocka_unit_test(test_detector_max_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
