/* test_detectors.c - every detector's numbers against an independent, naive computation in the
 * test: two-pass windows, closed-form EWMA weights, sorted copies for order statistics, Gaussian
 * elimination for Yule-Walker, a full history scan for the seasonal baseline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../rng.h"

#include "core/error.h"
#include "detect/ar.h"
#include "detect/batch.h"
#include "detect/ensemble.h"
#include "detect/robust.h"
#include "detect/seasonal.h"
#include "detect/shift.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The zero-scale rule, written out again. */
static double ref_z(long double dev, long double sd, double expected)
{
    double eps = 1e-12 * fmax(1.0, fabs(expected));
    if (sd > eps) return (double)(dev / sd);
    return fabsl(dev) <= eps ? 0 : copysign(TN_Z_INF, (double)dev);
}

#define CHECK(got, want, tol, what, step)                                                          \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!(fabs(g_ - w_) <= (tol)*fmax(1.0, fabs(w_))))                                         \
            fail_msg("%s at step %zu: got %.17g, want %.17g", (what), (size_t)(step), g_, w_);     \
    } while (0)

static double series_value(size_t lane, size_t t)
{
    double x = 50 + 10 * lane + (1 + lane % 3) * gauss();
    if (t % 89 == 88) x += 40 * rnd01();
    if (lane == 2 && t >= 300 && t < 400) x = 7; /* a constant stretch: zero scale */
    return x;
}

/* ---- rolling z-score, several lanes ------------------------------------------------------- */
static void test_bz_naive(void **state)
{
    (void)state;
    const size_t L = 5, T = 1500;
    const uint32_t W = 37;
    tn_bz_t b;
    assert_int_equal(tn_bz_init(&b, L, 1), TN_EINVAL);
    assert_int_equal(tn_bz_init(&b, 0, 10), TN_EINVAL);
    assert_int_equal(tn_bz_init(&b, L, W), 0);
    double *hist = calloc(L * T, sizeof(double));
    assert_non_null(hist);
    g_rng = 11;
    for (size_t t = 0; t < T; t++) {
        double x[5], z[5], m[5], s[5];
        for (size_t i = 0; i < L; i++)
            x[i] = series_value(i, t);
        tn_bz_step(&b, x, z, m, s);
        for (size_t i = 0; i < L; i++) {
            size_t n = t < W ? t : W;
            const double *v = hist + i * T + (t - n);
            long double sum = 0, ss = 0;
            for (size_t k = 0; k < n; k++)
                sum += v[k];
            long double mean = n ? sum / n : 0;
            for (size_t k = 0; k < n; k++)
                ss += (v[k] - mean) * (v[k] - mean);
            long double sd = n > 1 ? sqrtl(ss / (n - 1)) : 0;
            double want = n < 2 ? 0 : ref_z(x[i] - mean, sd, (double)mean);
            if (n) CHECK(m[i], (double)mean, 1e-10, "mean", t);
            CHECK(s[i], (double)sd, 1e-9, "sd", t);
            CHECK(z[i], want, 1e-8, "z", t);
            hist[i * T + t] = x[i];
        }
    }
    /* the z-only path gives the same z */
    tn_bz_t c;
    assert_int_equal(tn_bz_init(&c, L, W), 0);
    tn_bz_t d;
    assert_int_equal(tn_bz_init(&d, L, W), 0);
    for (size_t t = 0; t < T; t++) {
        double x[5], z1[5], z2[5], m[5], s[5];
        for (size_t i = 0; i < L; i++)
            x[i] = hist[i * T + t];
        tn_bz_step(&c, x, z1, NULL, NULL);
        tn_bz_step(&d, x, z2, m, s);
        for (size_t i = 0; i < L; i++)
            assert_true(fabs(z1[i] - z2[i]) <= 1e-13 * fmax(1.0, fabs(z2[i])));
    }
    tn_bz_deinit(&c);
    tn_bz_deinit(&d);
    free(hist);
    tn_bz_deinit(&b);
    tn_bz_deinit(&b);
}

/* tn_bz_run (tiled over lanes, time-inner in blocks) gives bitwise the results of step-by-step
 * calls, for L lanes and window W over T steps fed in random chunks. */
static void bz_run_same(size_t L, uint32_t W, size_t T)
{
    tn_bz_t a, b;
    assert_int_equal(tn_bz_init(&a, L, W), 0);
    assert_int_equal(tn_bz_init(&b, L, W), 0);
    double *x = malloc(sizeof(double) * L * T), *za = malloc(sizeof(double) * L * T),
           *zb = malloc(sizeof(double) * L * T);
    assert_non_null(x);
    assert_non_null(za);
    assert_non_null(zb);
    g_rng = 13;
    for (size_t i = 0; i < L * T; i++)
        x[i] = 1e3 * (i % L) + gauss() + (rnd01() < 0.01 ? 50 : 0);
    for (size_t t = 0; t < T; t++)
        tn_bz_step(&a, x + t * L, za + t * L, NULL, NULL);
    for (size_t t = 0; t < T;) { /* chunks of 1 to 60 steps */
        size_t n = 1 + (size_t)(rnd01() * 60);
        if (n > T - t) n = T - t;
        tn_bz_run(&b, n, x + t * L, zb + t * L);
        t += n;
    }
    assert_memory_equal(za, zb, sizeof(double) * L * T);
    assert_memory_equal(a.mean, b.mean, sizeof(double) * L);
    assert_memory_equal(a.m2, b.m2, sizeof(double) * L);
    assert_int_equal(a.pos, b.pos);
    assert_int_equal(a.since_exact, b.since_exact);
    free(x);
    free(za);
    free(zb);
    tn_bz_deinit(&a);
    tn_bz_deinit(&b);
}

static void test_bz_run_same(void **state)
{
    (void)state;
    bz_run_same(1300, 37, 400); /* two full tiles and a partial one */
    bz_run_same(1301, 37, 300); /* lanes not a multiple of 4: the portable tail */
    bz_run_same(1303, 5, 200);
    bz_run_same(1024, 37, 200);  /* rows a multiple of 4 KiB apart: shortened chunks */
    bz_run_same(97, 2000, 4500); /* a long window: the exact recompute inside the run */
}

/* ---- EWMA: against the closed-form weighted sums ------------------------------------------- */
static void test_be_naive(void **state)
{
    (void)state;
    const size_t L = 3, T = 1200;
    const double a = 0.07;
    tn_be_t b;
    assert_int_equal(tn_be_init(&b, L, 0), TN_EINVAL);
    assert_int_equal(tn_be_init(&b, L, 1.5), TN_EINVAL);
    assert_int_equal(tn_be_init(&b, L, a), 0);
    double *hist = calloc(L * T, sizeof(double));
    long double *dev = calloc(L * T, sizeof(long double)); /* d_i = x_i - m_i */
    assert_non_null(hist);
    assert_non_null(dev);
    g_rng = 12;
    for (size_t t = 0; t < T; t++) {
        double x[3], z[3], m[3], s[3];
        for (size_t i = 0; i < L; i++)
            x[i] = series_value(i, t);
        tn_be_step(&b, x, z, m, s);
        for (size_t i = 0; i < L; i++) {
            const double *h = hist + i * T;
            /* m_t = (1-a)^(t-1) x_0 + sum_{k=1}^{t-1} a (1-a)^(t-1-k) x_k */
            long double mt = 0, vt = 0;
            if (t > 0) {
                mt = powl(1 - a, t - 1) * h[0];
                for (size_t k = 1; k < t; k++)
                    mt += a * powl(1 - a, t - 1 - k) * h[k];
                /* v_t = sum_{k=1}^{t-1} a (1-a)^(t-k) d_k^2 */
                for (size_t k = 1; k < t; k++)
                    vt += a * powl(1 - a, t - k) * dev[i * T + k] * dev[i * T + k];
            }
            if (t > 0) CHECK(m[i], (double)mt, 1e-10, "ewma mean", t);
            if (t >= 2) {
                long double w = 1 - powl(1 - a, t - 1);
                long double sd = sqrtl(vt / w);
                CHECK(s[i], (double)sd, 1e-8, "ewma sd", t);
                CHECK(z[i], ref_z(x[i] - mt, sd, (double)mt), 1e-7, "ewma z", t);
            } else {
                assert_true(z[i] == 0);
            }
            dev[i * T + t] = t > 0 ? x[i] - mt : 0;
            hist[i * T + t] = x[i];
        }
    }
    free(hist);
    free(dev);
    tn_be_deinit(&b);
}

/* ---- Holt-Winters: the textbook recurrences, written out plainly ----------------------------- */
static void check_hw(uint32_t m, uint64_t seed)
{
    const size_t T = 1500;
    const double al = 0.3, be = 0.05, ga = 0.2, r = 0.05;
    tn_bhw_t b;
    assert_int_equal(tn_bhw_init(&b, 2, m, al, be, ga, r), 0);
    long double level[2] = {0, 0}, trend[2] = {0, 0}, s2[2] = {0, 0};
    long double seas[2][64] = {{0}};
    double first[2][64];
    g_rng = seed;
    for (size_t t = 0; t < T; t++) {
        double x[2], z[2], f[2], s[2];
        for (int i = 0; i < 2; i++)
            x[i] = 20 + 0.01 * t + (m ? 5 * sin(2 * M_PI * (double)(t % m) / m) : 0) +
                   (1 + i) * gauss();
        tn_bhw_step(&b, x, z, f, s);
        for (int i = 0; i < 2; i++) {
            size_t init = m ? m : 1;
            if (t < init) {
                first[i][t] = x[i];
                if (t == init - 1) {
                    long double sum = 0;
                    for (size_t k = 0; k < init; k++)
                        sum += first[i][k];
                    level[i] = sum / init;
                    trend[i] = 0;
                    for (size_t k = 0; k < m; k++)
                        seas[i][k] = first[i][k] - level[i];
                }
                assert_true(z[i] == 0);
                continue;
            }
            size_t ph = m ? (t - m) % m : 0;
            long double sp = m ? seas[i][ph] : 0;
            long double fc = level[i] + trend[i] + sp, e = x[i] - fc;
            size_t resid = t - init;
            long double w = 1 - powl(1 - r, resid);
            long double sd = w > 0 ? sqrtl(s2[i] / w) : 0;
            CHECK(f[i], (double)fc, 1e-9, "hw forecast", t);
            if (resid >= 2) {
                CHECK(s[i], (double)sd, 1e-7, "hw sd", t);
                CHECK(z[i], ref_z(e, sd, (double)fc), 1e-6, "hw z", t);
            }
            s2[i] = (1 - r) * s2[i] + r * e * e;
            long double nl = al * (x[i] - sp) + (1 - al) * (level[i] + trend[i]);
            trend[i] = be * (nl - level[i]) + (1 - be) * trend[i];
            level[i] = nl;
            if (m) seas[i][ph] = ga * (x[i] - nl) + (1 - ga) * sp;
        }
    }
    tn_bhw_deinit(&b);
}

static void test_hw_naive(void **state)
{
    (void)state;
    tn_bhw_t b;
    assert_int_equal(tn_bhw_init(&b, 1, 0, 0, 0.1, 0.1, 0.1), TN_EINVAL);
    check_hw(0, 21);
    check_hw(24, 22);
    check_hw(7, 23);
}

/* ---- MAD and IQR against sorted copies ---------------------------------------------------- */
static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double q7(const double *s, size_t n, double p)
{
    double h = (n - 1) * p;
    size_t lo = (size_t)h;
    if (lo + 1 >= n) return s[n - 1];
    return s[lo] + (h - lo) * (s[lo + 1] - s[lo]);
}

static void test_robust_naive(void **state)
{
    (void)state;
    for (uint32_t W = 3; W <= 64; W += 61 / 3) {
        tn_sortwin_t w;
        assert_int_equal(tn_sortwin_init(&w, 2), TN_EINVAL);
        assert_int_equal(tn_sortwin_init(&w, W), 0);
        double hist[3000], tmp[64], dev[64];
        g_rng = 30 + W;
        for (size_t t = 0; t < 3000; t++) {
            double x = floor(20 * rnd01()) / 4; /* many ties */
            if (t >= 2000) x = 10 + gauss();    /* continuous */
            if (t % 50 == 7) x = 1e3;
            if (t >= 1000 && t < 1100) x = 3; /* constant: MAD and IQR 0 */
            size_t n = t < W ? t : W;
            if (n >= 3) {
                memcpy(tmp, hist + t - n, n * sizeof(double));
                qsort(tmp, n, sizeof(double), cmpd);
                double med = q7(tmp, n, 0.5);
                for (size_t k = 0; k < n; k++)
                    dev[k] = fabs(tmp[k] - med);
                double meanad = 0;
                for (size_t k = 0; k < n; k++)
                    meanad += dev[k];
                meanad /= n;
                qsort(dev, n, sizeof(double), cmpd);
                double mad = q7(dev, n, 0.5);
                tn_robust_out_t o;
                tn_robust_mad(&w, x, 3.5, &o);
                double quantum = 0; /* smallest positive gap */
                for (size_t k = 1; k < n; k++)
                    if (tmp[k] > tmp[k - 1] && (quantum == 0 || tmp[k] - tmp[k - 1] < quantum))
                        quantum = tmp[k] - tmp[k - 1];
                double sc = mad > 0 ? 1.482602218505602 * mad : 1.2533141373155003 * meanad;
                sc = fmax(sc, quantum);
                CHECK(o.expected, med, 1e-12, "median", t);
                CHECK(o.scale, sc, 1e-12, "mad scale", t);
                CHECK(o.z, ref_z(x - med, sc, med), 1e-9, "mad z", t);
                CHECK(o.lower, med - 3.5 * sc, 1e-12, "mad lower", t);
                double q1 = q7(tmp, n, 0.25), q3 = q7(tmp, n, 0.75);
                double isc =
                    (q3 - q1) > 0 ? (q3 - q1) / 1.3489795003921634 : 1.2533141373155003 * meanad;
                tn_robust_iqr(&w, x, 2.6979590007843268, &o);
                isc = fmax(isc, quantum);
                CHECK(o.expected, (q1 + q3) / 2, 1e-12, "midhinge", t);
                CHECK(o.z, ref_z(x - (q1 + q3) / 2, isc, (q1 + q3) / 2), 1e-9, "iqr z", t);
                if (q3 > q1 && isc > quantum) { /* threshold 2.698 is Tukey's fences */
                    CHECK(o.upper, q3 + 1.5 * (q3 - q1), 1e-9, "tukey upper", t);
                    CHECK(o.lower, q1 - 1.5 * (q3 - q1), 1e-9, "tukey lower", t);
                }
            }
            tn_sortwin_add(&w, x);
            hist[t] = x;
        }
        tn_sortwin_deinit(&w);
    }
}

/* ---- AR(p): Levinson against Gaussian elimination; scores against a naive refit ---------- */
static void solve(int n, long double A[][TN_AR_MAX_P + 1], long double *x)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabsl(A[r][c]) > fabsl(A[piv][c])) piv = r;
        for (int k = 0; k <= n; k++) {
            long double t = A[c][k];
            A[c][k] = A[piv][k];
            A[piv][k] = t;
        }
        for (int r = c + 1; r < n; r++) {
            long double f = A[r][c] / A[c][c];
            for (int k = c; k <= n; k++)
                A[r][k] -= f * A[c][k];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        long double s = A[r][n];
        for (int k = r + 1; k < n; k++)
            s -= A[r][k] * x[k];
        x[r] = s / A[r][r];
    }
}

static void naive_fit(const double *v, size_t n, uint32_t p, long double *phi, long double *mean,
                      long double *sigma2)
{
    long double m = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m /= n;
    long double c[TN_AR_MAX_P + 1];
    for (uint32_t k = 0; k <= p; k++) {
        c[k] = 0;
        for (size_t t = k; t < n; t++)
            c[k] += (v[t] - m) * (v[t - k] - m);
        c[k] /= n;
    }
    long double A[TN_AR_MAX_P][TN_AR_MAX_P + 1];
    for (uint32_t i = 0; i < p; i++) {
        for (uint32_t j = 0; j < p; j++)
            A[i][j] = c[i > j ? i - j : j - i];
        A[i][p] = c[i + 1];
    }
    solve((int)p, A, phi);
    long double s2 = c[0];
    for (uint32_t k = 0; k < p; k++)
        s2 -= phi[k] * c[k + 1];
    *mean = m;
    *sigma2 = s2;
}

static void test_ar_naive(void **state)
{
    (void)state;
    tn_ar_t a;
    assert_int_equal(tn_ar_init(&a, 0, 100, 10), TN_EINVAL);
    assert_int_equal(tn_ar_init(&a, 3, 15, 10), TN_EINVAL);
    assert_int_equal(tn_ar_init(&a, TN_AR_MAX_P + 1, 1000, 10), TN_EINVAL);
    /* Levinson on autocovariances of an AR(2) process: recovers the Yule-Walker solution */
    double c[4] = {2.0, 1.2, 0.5, 0.1}, phi[3];
    long double A[TN_AR_MAX_P][TN_AR_MAX_P + 1], want[3];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            A[i][j] = c[abs(i - j)];
        A[i][3] = c[i + 1];
    }
    solve(3, A, want);
    double e = tn_ar_levinson(c, 3, phi);
    for (int k = 0; k < 3; k++)
        CHECK(phi[k], (double)want[k], 1e-12, "levinson phi", k);
    CHECK(e, (double)(c[0] - want[0] * c[1] - want[1] * c[2] - want[2] * c[3]), 1e-12,
          "levinson error", 0);
    double zc[3] = {0, 0, 0};
    assert_true(tn_ar_levinson(zc, 2, phi) == 0);

    for (uint32_t p = 1; p <= 4; p++) {
        const uint32_t W = 50, R = 7;
        assert_int_equal(tn_ar_init(&a, p, W, R), 0);
        double hist[2000];
        long double phi_n[TN_AR_MAX_P] = {0}, mean = 0, s2 = 0;
        int fitted = 0;
        size_t since = 0;
        g_rng = 40 + p;
        double y1 = 0, y2 = 0;
        for (size_t t = 0; t < 2000; t++) {
            double x = 0.6 * y1 - 0.3 * y2 + gauss(); /* AR(2) */
            y2 = y1;
            y1 = x;
            x += 100;
            int ready;
            double z, f, sg;
            tn_ar_update(&a, x, &ready, &z, &f, &sg);
            assert_int_equal(ready, fitted);
            if (fitted) {
                long double fc = mean;
                for (uint32_t k = 0; k < p; k++)
                    fc += phi_n[k] * (hist[t - 1 - k] - mean);
                CHECK(f, (double)fc, 1e-8, "ar forecast", t);
                CHECK(sg, (double)sqrtl(s2), 1e-8, "ar sigma", t);
                CHECK(z, ref_z(x - fc, sqrtl(s2), (double)fc), 1e-6, "ar z", t);
            }
            hist[t] = x;
            since++;
            size_t n = t + 1 < W ? t + 1 : W;
            if ((!fitted && n >= 4 * p + 4) || (fitted && since >= R)) {
                naive_fit(hist + t + 1 - n, n, p, phi_n, &mean, &s2);
                fitted = 1;
                since = 0;
            }
        }
        tn_ar_deinit(&a);
    }
}

/* ---- seasonal baseline against a scan of the whole history -------------------------------- */
typedef struct {
    int64_t ts;
    double x;
} pt_t;

static int64_t fldiv(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static void test_seasonal_naive(void **state)
{
    (void)state;
    tn_seasonal_t s;
    int64_t bad[1] = {0};
    assert_int_equal(tn_seasonal_init(&s, bad, 1, 10, 50, 2, 0.1, 5), TN_EINVAL);
    /* two seasons: 1000 ms at 20 ms slots and 3000 ms at 60 ms slots; irregular steps of
     * 5..15 ms, a long gap, and timestamps starting below zero */
    int64_t periods[2] = {1000, 3000};
    const double rate = 0.1;
    const uint32_t K = 2, minres = 5;
    assert_int_equal(tn_seasonal_init(&s, periods, 2, 10, 50, K, rate, minres), 0);
    assert_int_equal(s.s[0].buckets, 50);
    assert_int_equal(s.s[0].res_ms, 20);
    assert_int_equal(s.s[1].res_ms, 60);
    pt_t *h = calloc(6000, sizeof *h);
    assert_non_null(h);
    double absres[2] = {0, 0}, wsum[2] = {0, 0};
    const size_t lag = 50; /* = buckets */
    static float made[2][6000];
    size_t nmade[2] = {0, 0};
    uint64_t nres[2] = {0, 0};
    g_rng = 50;
    int64_t ts = -2500;
    size_t ready_seen = 0;
    for (size_t t = 0; t < 6000; t++) {
        ts += 5 + (int64_t)(10 * rnd01());
        if (t == 2500) ts += 1700; /* missing data */
        double x = 10 + 3 * sin(2 * M_PI * (double)(((ts % 1000) + 1000) % 1000) / 1000) + gauss();
        if (t % 333 == 0) x += 25;
        tn_seasonal_out_t o;
        tn_seasonal_update(&s, ts, x, &o);
        /* naive: for each season, the mean of the samples in the same slot of the previous K
         * seasons, median over the seasons with data */
        int best = -1;
        double bz = 0, bexp = 0, bscale = 0;
        for (int si = 0; si < 2; si++) {
            int64_t res = si ? 60 : 20, nb = si ? 50 : 50;
            int64_t slot = fldiv(ts, res), pid = fldiv(slot, nb), ph = slot - pid * nb;
            double ref[2];
            int nref = 0;
            for (int64_t k = 1; k <= K; k++) {
                double sum = 0;
                int c = 0;
                for (size_t j = 0; j < t; j++) {
                    int64_t sl = fldiv(h[j].ts, res), pj = fldiv(sl, nb);
                    if (pj == pid - k && sl - pj * nb == ph) sum += h[j].x, c++;
                }
                if (c) ref[nref++] = sum / c;
            }
            if (!nref) continue;
            double e = nref == 1 ? ref[0] : (ref[0] + ref[1]) / 2;
            /* the weighted mean of the (clipped) absolute residuals, weights kept apart; a
             * residual is used `lag` residuals after it was made */
            double scale = wsum[si] > 0 ? 1.2533141373155003 * absres[si] / wsum[si] : 0;
            if (nres[si] >= minres) {
                double z = ref_z(x - e, scale, e);
                if (best < 0 || fabs(z) < fabs(bz)) best = si, bz = z, bexp = e, bscale = scale;
            }
            made[si][nmade[si]++] = (float)fabs(x - e);
            if (nmade[si] > lag) {
                double r = made[si][nmade[si] - 1 - lag], rr = rate;
                if (nres[si] >= minres && scale > 0 && r > 4 * scale) r = 4 * scale, rr = rate / 10;
                absres[si] = (1 - rr) * absres[si] + rr * r;
                wsum[si] = (1 - rr) * wsum[si] + rr;
                nres[si]++;
            }
        }
        assert_int_equal(o.ready, best >= 0);
        if (best >= 0) {
            ready_seen++;
            assert_int_equal(o.season, best);
            CHECK(o.expected, bexp, 1e-5, "seasonal expected", t);
            CHECK(o.scale, bscale, 1e-4, "seasonal scale", t);
            CHECK(o.z, bz, 1e-3, "seasonal z", t);
        }
        h[t] = (pt_t){ts, x};
    }
    assert_true(ready_seen > 3500);
    free(h);
    tn_seasonal_deinit(&s);
}

/* ---- shift: recent mean against the reference mean, scale learnt from d lagged ------------ */
static void test_shift_naive(void **state)
{
    (void)state;
    tn_shift_t s;
    assert_int_equal(tn_shift_init(&s, 2, 2, 0.1), TN_EINVAL);
    assert_int_equal(tn_shift_init(&s, 10, 11, 0.1), TN_EINVAL);
    assert_int_equal(tn_shift_init(&s, 10, 3, 0), TN_EINVAL);
    const uint32_t W = 30, R = 6;
    const double rate = 0.02;
    const uint64_t minfed = 40;
    assert_int_equal(tn_shift_init(&s, W, R, rate), 0);
    enum { T = 3000 };
    static double h[T], dd[T];
    size_t nd = 0;
    double ms = 0, wsum = 0;
    uint64_t fed = 0;
    int ready_seen = 0;
    g_rng = 60;
    for (size_t t = 0; t < T; t++) {
        double x =
            5 + gauss() + (t > 2000 ? 0.01 * (double)(t - 2000) : 0) + (t % 400 == 5 ? 9 : 0);
        int ready;
        double z, e, sc;
        tn_shift_update(&s, x, minfed, &ready, &z, &e, &sc);
        size_t need = W + R - 1; /* previous values */
        if (t >= need) {
            long double r = x, ref = 0;
            for (size_t k = t - (R - 1); k < t; k++)
                r += h[k];
            for (size_t k = t - need; k < t - (R - 1); k++)
                ref += h[k];
            double d = (double)(r / R - ref / W);
            double scale = wsum > 0 ? sqrt(ms / wsum) : 0;
            assert_int_equal(ready, fed >= minfed);
            CHECK(e, (double)(ref / W), 1e-12, "shift reference", t);
            CHECK(sc, scale, 1e-6, "shift scale", t);
            if (ready) {
                ready_seen++;
                CHECK(z, ref_z(d, scale, (double)(ref / W)), 1e-5, "shift z", t);
            }
            dd[nd++] = (float)d;
            if (nd > W + R) { /* the d made W + R values ago reaches the scale */
                double old = dd[nd - 1 - (W + R)], rr = rate;
                if (fed >= minfed && scale > 0 && fabs(old) > 4 * scale) old = 4 * scale, rr /= 10;
                ms = (1 - rr) * ms + rr * old * old;
                wsum = (1 - rr) * wsum + rr;
                fed++;
            }
        } else {
            assert_int_equal(ready, 0);
        }
        h[t] = x;
    }
    assert_true(ready_seen > 2500);
    tn_shift_deinit(&s);
}

/* ---- flat: the z of a run's tail probability ---------------------------------------------- */
static void test_z_from_logtail(void **state)
{
    (void)state;
    assert_true(tn_ens_z_from_logtail(0) == 0);
    for (double q = 0.9; q > 1e-300; q *= 0.01) {
        double z = tn_ens_z_from_logtail(log(q));
        /* erfc(z / sqrt 2) is the two-sided tail */
        double back = erfc(z / M_SQRT2);
        if (!(fabs(log(back) - log(q)) <= 1e-6 * fabs(log(q)) + 1e-6))
            fail_msg("q %g: z %.12g gives %g", q, z, back);
    }
    /* far beyond the doubles: still monotone and finite */
    double z1 = tn_ens_z_from_logtail(-1e4), z2 = tn_ens_z_from_logtail(-1e5);
    assert_true(isfinite(z1) && isfinite(z2) && z2 > z1 && z1 > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bz_naive),       cmocka_unit_test(test_bz_run_same),
        cmocka_unit_test(test_be_naive),       cmocka_unit_test(test_hw_naive),
        cmocka_unit_test(test_robust_naive),   cmocka_unit_test(test_ar_naive),
        cmocka_unit_test(test_seasonal_naive), cmocka_unit_test(test_shift_naive),
        cmocka_unit_test(test_z_from_logtail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
