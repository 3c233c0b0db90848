/* test_drift.c - no drift over 10^9 updates: 1024 series of the rolling z-score (structure of
 * arrays, detect/batch.c) advanced 10^6 steps each, values around 1e6 with small noise and
 * occasional jumps, then every series' running mean and sum of squares checked against an exact
 * long-double recomputation of its window; EWMA likewise against a long-double recurrence.
 * Under the sanitizers (10-50x slower) the run is 10^8 updates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "detect/batch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define TN_SLOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TN_SLOW 1
#endif
#endif
#ifndef TN_SLOW
#define TN_SLOW 0
#endif

#define LANES 1024

/* A cheap per-lane generator (LCG), vectorizable, so the test measures the detector. */
static void fill(double *x, uint64_t *state, uint64_t t)
{
    for (size_t i = 0; i < LANES; i++) {
        state[i] = state[i] * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(state[i] >> 11) * (1.0 / 9007199254740992.0);
        x[i] = 1e6 + 1000.0 * (double)i + 50 * (u - 0.5);
        if ((t + i) % 100003 == 0) x[i] += 1e4; /* a jump now and then */
    }
}

static void test_no_drift_1e9(void **state)
{
    (void)state;
    const uint64_t steps = TN_SLOW ? 100000 : 1000000; /* x 1024 lanes */
    const uint32_t W = 100;
    tn_bz_t b;
    assert_int_equal(tn_bz_init(&b, LANES, W), 0);
    tn_be_t e;
    const double alpha = 0.01;
    assert_int_equal(tn_be_init(&e, LANES, alpha), 0);
    uint64_t *rs = malloc(sizeof(uint64_t) * LANES);
    double *x = malloc(sizeof(double) * LANES), *z = malloc(sizeof(double) * LANES);
    long double *em = malloc(sizeof(long double) * LANES),
                *ev = malloc(sizeof(long double) * LANES);
    assert_non_null(rs);
    assert_non_null(x);
    assert_non_null(z);
    assert_non_null(em);
    assert_non_null(ev);
    for (size_t i = 0; i < LANES; i++)
        rs[i] = 0x9e3779b97f4a7c15ULL * (i + 1);
    const uint64_t ewma_ref_from = steps - 20000; /* the long-double EWMA tracks the tail */
    for (uint64_t t = 0; t < steps; t++) {
        fill(x, rs, t);
        tn_bz_step(&b, x, z, NULL, NULL);
        if (t == ewma_ref_from)
            for (size_t i = 0; i < LANES; i++)
                em[i] = e.mean[i], ev[i] = e.var[i];
        tn_be_step(&e, x, z, NULL, NULL);
        if (t >= ewma_ref_from)
            for (size_t i = 0; i < LANES; i++) {
                long double d = x[i] - em[i];
                em[i] += alpha * d;
                ev[i] = (1 - alpha) * (ev[i] + alpha * d * d);
            }
    }
    printf("updates: %llu rolling z-score + %llu EWMA\n", (unsigned long long)(steps * LANES),
           (unsigned long long)(steps * LANES));
    /* the exact window of every lane, from its ring */
    double worst_mean = 0, worst_m2 = 0;
    for (size_t i = 0; i < LANES; i++) {
        long double s = 0, ss = 0;
        for (uint32_t k = 0; k < W; k++)
            s += b.ring[(size_t)k * LANES + i];
        long double mean = s / W;
        for (uint32_t k = 0; k < W; k++) {
            long double d = b.ring[(size_t)k * LANES + i] - mean;
            ss += d * d;
        }
        double em_ = fabs((double)(b.mean[i] - mean)) / fabs((double)mean);
        double e2 = fabs((double)(b.m2[i] - ss)) / (double)ss;
        if (em_ > worst_mean) worst_mean = em_;
        if (e2 > worst_m2) worst_m2 = e2;
    }
    printf("rolling z-score after %llu steps: worst relative error of mean %.3g, of m2 %.3g\n",
           (unsigned long long)steps, worst_mean, worst_m2);
    assert_true(worst_mean < 1e-14);
    /* without the periodic exact recompute, m2 of a window around 1e6 drifts far more */
    assert_true(worst_m2 < 1e-10);
    double worst_em = 0, worst_ev = 0;
    for (size_t i = 0; i < LANES; i++) {
        double a = fabs((double)(e.mean[i] - em[i])) / fabs((double)em[i]);
        double v = fabs((double)(e.var[i] - ev[i])) / (double)ev[i];
        if (a > worst_em) worst_em = a;
        if (v > worst_ev) worst_ev = v;
    }
    printf("EWMA: worst relative error of mean %.3g, of variance %.3g (vs long double over the "
           "last 20000 steps)\n",
           worst_em, worst_ev);
    assert_true(worst_em < 1e-13);
    assert_true(worst_ev < 1e-9);
    free(rs);
    free(x);
    free(z);
    free(em);
    free(ev);
    tn_bz_deinit(&b);
    tn_be_deinit(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_drift_1e9)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
