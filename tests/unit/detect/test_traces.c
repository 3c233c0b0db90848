/* test_traces.c - trace anomalies (detect/traces.c): the histogram quantile against exact
 * quantiles, a latency regression on one edge of a synthetic service graph flagged on that
 * edge and its service (with the expected value checked against medians computed here from the
 * exact per-interval quantiles), an error burst flagged, steady traffic never flagged, and the
 * bounded, validated input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define TN_TEST_RNG_NO_GAUSS
#include "../rng.h"

#include "core/error.h"
#include "detect/traces.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double gauss(void)
{
    return sqrt(-2 * log(rnd01() + 1e-300)) * cos(2 * M_PI * rnd01());
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Exact q-quantile by linear interpolation between order statistics (sorts v). */
static double exact_quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof(double), cmp_double);
    double pos = q * (n - 1);
    size_t i = (size_t)pos;
    return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[n - 1];
}

static double exact_median(const double *v, size_t n)
{
    double tmp[256];
    memcpy(tmp, v, n * sizeof(double));
    return exact_quantile(tmp, n, 0.5);
}

/* ---- histogram -------------------------------------------------------------------------- */

static void test_hist_quantile(void **state)
{
    (void)state;
    const double bucket = exp2(0.25); /* one bucket's ratio */
    static double v[20000], w[20000];
    for (int rep = 0; rep < 5; rep++) {
        double mu = log(0.05) + rep * 2.5; /* medians from 50 us to 1.1 s */
        for (int i = 0; i < 20000; i++)
            v[i] = exp(mu + 0.8 * gauss());
        for (double q = 0.5; q < 1; q += 0.245) {
            double est = tn_traces_hist_quantile(v, 20000, q);
            memcpy(w, v, sizeof(v));
            double ex = exact_quantile(w, 20000, q);
            if (!(est / ex < bucket && ex / est < bucket))
                fail_msg("q %.3f: histogram %.6g, exact %.6g", q, est, ex);
        }
    }
    /* one value: inside its bucket */
    double one[50];
    for (int i = 0; i < 50; i++)
        one[i] = 5.0;
    double est = tn_traces_hist_quantile(one, 50, 0.95);
    assert_true(est / 5.0 < bucket && 5.0 / est < bucket);
    /* zero and sub-microsecond durations, and no values */
    double z[3] = {0, 0, 0.0004};
    assert_true(tn_traces_hist_quantile(z, 3, 0.95) < 0.001);
    assert_true(isnan(tn_traces_hist_quantile(z, 0, 0.5)));
    /* huge durations land in the last bucket without overflow */
    double big[2] = {1e12, 1e15};
    assert_true(isfinite(tn_traces_hist_quantile(big, 2, 0.5)));
}

/* ---- a service graph -------------------------------------------------------------------- */

enum { SVC_FRONTEND, SVC_API, SVC_DB, SVC_CACHE, NKEYS = 7 };
static const char *k_keys[NKEYS] = {"frontend",      "api",     "db",        "cache",
                                    "frontend->api", "api->db", "api->cache"};

#define MAXV 2048
typedef struct {
    tn_trace_verdict_t v[MAXV];
    char key[MAXV][32];
    size_t n;
} verdicts_t;

static void on_verdict(void *ud, const tn_trace_verdict_t *v)
{
    verdicts_t *vs = ud;
    assert_true(v->score >= 0 && v->score <= 1);
    if (v->parent) {
        char want[64];
        snprintf(want, sizeof want, "%s->%s", v->parent, v->service);
        assert_string_equal(v->key, want);
    } else {
        assert_string_equal(v->key, v->service);
    }
    if (vs->n < MAXV) {
        vs->v[vs->n] = *v;
        snprintf(vs->key[vs->n], sizeof vs->key[0], "%s", v->key);
        vs->v[vs->n].key = vs->key[vs->n];
        vs->v[vs->n].service = vs->v[vs->n].parent = NULL;
        vs->n++;
    }
}

static int key_index(const char *key)
{
    for (int i = 0; i < NKEYS; i++)
        if (strcmp(k_keys[i], key) == 0) return i;
    return -1;
}

static void span(tn_traces_t *t, const char *svc, const char *parent, double ms, int err,
                 int64_t ts)
{
    tn_trace_span_t s = {svc, parent, ms, err, ts};
    assert_int_equal(tn_traces_add(t, &s), 0);
}

static void test_service_graph(void **state)
{
    (void)state;
    static verdicts_t vs;
    vs.n = 0;
    const int64_t iv = 60000;
    tn_traces_opts_t o = {.interval_ms = iv, .on_verdict = on_verdict, .ud = &vs};
    tn_traces_t *t = tn_traces_create(&o);
    assert_non_null(t);
    const int n_int = 50, reg_from = 30, reg_to = 35, burst = 42, per = 200;
    static double db_lat[200];
    double db_p95[64];
    g_rng = 99;
    for (int it = 0; it < n_int; it++) {
        int regress = it >= reg_from && it < reg_to;
        for (int r = 0; r < per; r++) {
            int64_t ts = (int64_t)it * iv + (int64_t)r * (iv / per);
            double db = 10 * exp(0.3 * gauss()) * (regress ? 3 : 1);
            double cache = 1 * exp(0.3 * gauss());
            double api = 20 * exp(0.2 * gauss()) + db + cache;
            double fe = 15 * exp(0.2 * gauss()) + api;
            int cache_err = it == burst ? rnd01() < 0.3 : rnd01() < 0.005;
            db_lat[r] = db;
            span(t, "db", "api", db, rnd01() < 0.005, ts);
            span(t, "cache", "api", cache, cache_err, ts);
            span(t, "api", "frontend", api, rnd01() < 0.005, ts);
            span(t, "frontend", NULL, fe, rnd01() < 0.005, ts);
        }
        db_p95[it] = exact_quantile(db_lat, per, 0.95);
    }
    tn_traces_flush(t, (int64_t)n_int * iv);
    assert_int_equal(tn_traces_key_count(t), NKEYS);
    assert_int_equal(vs.n, (size_t)NKEYS * n_int);

    int lat_flags[NKEYS][64] = {{0}}, err_flags[NKEYS][64] = {{0}}, checked = 0;
    for (size_t i = 0; i < vs.n; i++) {
        const tn_trace_verdict_t *v = &vs.v[i];
        int k = key_index(v->key), it = (int)(v->interval_start_ms / iv);
        assert_true(k >= 0 && it >= 0 && it < n_int);
        assert_int_equal(v->count, per);
        assert_int_equal(v->history, it < 30 ? it : 30);
        assert_int_equal(v->warmup, it < 5);
        lat_flags[k][it] = v->latency_anomaly;
        err_flags[k][it] = v->error_anomaly;
        if (k == SVC_DB) {
            /* observed: the interval's p95 within a histogram bucket of the exact one */
            assert_true(v->latency / db_p95[it] < exp2(0.25) &&
                        db_p95[it] / v->latency < exp2(0.25));
            /* expected: the median of the past 30 intervals' p95 (within a bucket) */
            if (it >= 5) {
                int from = it > 30 ? it - 30 : 0;
                double want = exact_median(db_p95 + from, (size_t)(it - from));
                if (!(v->latency_expected / want < exp2(0.25) &&
                      want / v->latency_expected < exp2(0.25)))
                    fail_msg("interval %d: expected %.4g, want about %.4g", it, v->latency_expected,
                             want);
                checked++;
            }
            if (it == reg_from) {
                printf("db regression: observed p95 %.1f ms, expected %.1f ms (MAD %.2f), "
                       "z %.1f, score %.4f\n",
                       v->latency, v->latency_expected, v->latency_mad, v->latency_z, v->score);
                assert_true(v->score > 0.999);
            }
        }
        if (k == SVC_CACHE && it == burst)
            printf("cache error burst: rate %.3f, expected %.4f, z %.1f, score %.4f\n",
                   v->error_rate, v->error_expected, v->error_z, v->error_score);
    }
    assert_int_equal(checked, n_int - 5);
    int false_pos = 0;
    for (int it = 0; it < n_int; it++) {
        int regress = it >= reg_from && it < reg_to;
        /* the regression is flagged on the edge and on its service, every interval */
        if (regress) {
            assert_int_equal(lat_flags[5][it], 1); /* api->db */
            assert_int_equal(lat_flags[SVC_DB][it], 1);
        }
        /* the error burst on the cache, on its service and its edge */
        if (it == burst) {
            assert_int_equal(err_flags[SVC_CACHE][it], 1);
            assert_int_equal(err_flags[6][it], 1); /* api->cache */
        }
        for (int k = 0; k < NKEYS; k++) {
            /* the calls above db (api, frontend) may see the regression: they include it */
            int may_lat = regress && k != SVC_CACHE && k != 6;
            int may_err = it == burst && (k == SVC_CACHE || k == 6);
            false_pos += (lat_flags[k][it] && !may_lat) + (err_flags[k][it] && !may_err);
        }
    }
    printf("service graph: %d keys x %d intervals, %d false positives\n", NKEYS, n_int, false_pos);
    assert_int_equal(false_pos, 0);
    tn_traces_destroy(t);
}

/* ---- limits and validation -------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    static verdicts_t vs;
    vs.n = 0;
    tn_traces_opts_t o = {.interval_ms = 1000,
                          .max_keys = 3,
                          .idle_intervals = 2,
                          .on_verdict = on_verdict,
                          .ud = &vs};
    tn_traces_t *t = tn_traces_create(&o);
    assert_non_null(t);
    span(t, "a", NULL, 1, 0, 0);
    span(t, "b", "a", 1, 0, 0); /* keys b and a->b */
    assert_int_equal(tn_traces_key_count(t), 3);
    tn_trace_span_t s = {"c", NULL, 1, 0, 10};
    assert_int_equal(tn_traces_add(t, &s), TN_ETOOBIG);
    assert_int_equal(tn_traces_dropped(t), 1);
    s = (tn_trace_span_t){"b", "c", 1, 0, 10}; /* b counts, c->b is dropped */
    assert_int_equal(tn_traces_add(t, &s), TN_ETOOBIG);
    assert_int_equal(tn_traces_dropped(t), 2);
    /* same-service parent: no edge */
    span(t, "a", "a", 1, 0, 20);
    assert_int_equal(tn_traces_key_count(t), 3);
    /* invalid spans */
    s = (tn_trace_span_t){NULL, NULL, 1, 0, 30};
    assert_int_equal(tn_traces_add(t, &s), TN_EINVAL);
    s = (tn_trace_span_t){"", NULL, 1, 0, 30};
    assert_int_equal(tn_traces_add(t, &s), TN_EINVAL);
    s = (tn_trace_span_t){"a", NULL, NAN, 0, 30};
    assert_int_equal(tn_traces_add(t, &s), TN_EINVAL);
    s = (tn_trace_span_t){"a", NULL, -1, 0, 30};
    assert_int_equal(tn_traces_add(t, &s), TN_EINVAL);
    s = (tn_trace_span_t){"a", NULL, INFINITY, 0, 30};
    assert_int_equal(tn_traces_add(t, &s), TN_EINVAL);
    assert_int_equal(tn_traces_rejected(t), 5);
    /* the first interval closes with 3 verdicts: a (2 spans), b (2), a->b (1); few spans, so
     * not scored */
    span(t, "a", NULL, 1, 0, 1500);
    assert_int_equal(vs.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(vs.v[i].warmup, 1);
        assert_int_equal(vs.v[i].latency_anomaly + vs.v[i].error_anomaly, 0);
        if (strcmp(vs.v[i].key, "a") == 0) assert_int_equal(vs.v[i].count, 2);
    }
    /* late span */
    span(t, "a", NULL, 1, 0, 500);
    assert_int_equal(tn_traces_late(t), 1);
    /* b and a->b idle for 2 intervals are forgotten, making room for c */
    span(t, "a", NULL, 1, 0, 2500);
    span(t, "a", NULL, 1, 0, 3500);
    assert_int_equal(tn_traces_key_count(t), 1);
    span(t, "c", NULL, 1, 0, 3600);
    assert_int_equal(tn_traces_key_count(t), 2);
    tn_traces_destroy(t);
    /* invalid options */
    tn_traces_opts_t bad = {.quantile = 1.5};
    assert_null(tn_traces_create(&bad));
    bad = (tn_traces_opts_t){.history = 4, .warmup = 5};
    assert_null(tn_traces_create(&bad));
    bad = (tn_traces_opts_t){.min_ratio = 0.5};
    assert_null(tn_traces_create(&bad));
}

int main(void)
{
    g_rng = 2024; /* the sequence the tests were written against */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_quantile),
        cmocka_unit_test(test_service_graph),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
