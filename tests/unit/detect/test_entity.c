/* test_entity.c - entities (detect/entity.c): the series of one label set become rows for an
 * isolation forest. A row whose values are each ordinary but whose combination is not (the
 * correlation between the series breaks) is flagged, with the series that isolated it; normal
 * rows rarely are; bounds and hysteresis hold. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "detect/entity.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static uint64_t g_s = 42;
static double unif(void)
{
    g_s = g_s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(g_s >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = unif() + 1e-12, v = unif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static const char *L = "{\"host\":\"web-1\"}";

/* One row of host web-1: load drives cpu and latency together. */
static void add_row(tn_entities_t *e, int64_t t, double cpu, double lat, double err,
                    tn_entity_verdict_t *last)
{
    tn_entity_verdict_t v;
    assert_int_equal(tn_entities_add(e, L, strlen(L), "cpu", 3, cpu, t, &v), 0);
    assert_false(v.scored);
    assert_int_equal(tn_entities_add(e, L, strlen(L), "latency_ms", 10, lat, t, &v), 0);
    assert_false(v.scored);
    assert_int_equal(tn_entities_add(e, L, strlen(L), "errors", 6, err, t, last), 0);
}

static void test_broken_correlation_is_flagged(void **state)
{
    (void)state;
    tn_entities_opts_t o = {.seed = 1};
    tn_entities_t *e = tn_entities_create(&o);
    assert_non_null(e);
    tn_entity_verdict_t v;
    int flagged = 0, scored = 0;
    int64_t t = 1700000000000LL;
    for (int i = 0; i < 2000; i++, t += 10000) {
        double load = unif();
        add_row(e, t, 20 + 60 * load + gauss(), 50 + 200 * load + 3 * gauss(), fabs(gauss()) * 0.5,
                &v);
        if (v.scored) scored++;
        if (v.flagged && i >= 1000) flagged++;
    }
    assert_true(scored > 1500); /* trained after psi rows, rows counted from the 3rd cycle */
    printf("normal rows flagged: %d of 1000\n", flagged);
    assert_true(flagged <= 3); /* at most 0.3% false positives */
    /* cpu 25 (low load) with latency 240 (high load): each within its own range */
    add_row(e, t, 25, 240, 0.3, &v);
    assert_true(v.scored);
    printf("broken correlation: forest score %.3f (threshold %.3f), top %s (%.2f)\n", v.score,
           v.threshold, v.top_metric ? v.top_metric : "-", v.top_share);
    assert_true(v.flagged && v.opened);
    printf("  distance z %.1f, by %s\n", v.distance_z, v.by);
    assert_string_equal(v.by, "mahalanobis");
    assert_true(v.distance_z >= 5);
    assert_non_null(v.top_metric);
    assert_true(!strcmp(v.top_metric, "cpu") || !strcmp(v.top_metric, "latency_ms"));
    assert_int_equal(v.ncols, 3);
    /* still broken: the same anomaly goes on (not opened again) */
    t += 10000;
    add_row(e, t, 22, 245, 0.2, &v);
    assert_true(v.flagged && !v.opened);
    /* back to normal: closes after clear_after (3) normal rows */
    int closed_at = -1;
    for (int i = 0; i < 10 && closed_at < 0; i++) {
        t += 10000;
        double load = 0.5;
        add_row(e, t, 20 + 60 * load, 50 + 200 * load, 0.2, &v);
        if (v.closed) closed_at = i;
    }
    assert_int_equal(closed_at, 2);
    tn_entities_destroy(e);
}

/* Two clusters of normal rows (idle and busy); a row between them is near the mean, so its
 * distance is small, but it lies in an empty region the forest isolates at once. */
static void test_forest_finds_what_distance_cannot(void **state)
{
    (void)state;
    tn_entities_opts_t o = {.seed = 3};
    tn_entities_t *e = tn_entities_create(&o);
    assert_non_null(e);
    tn_entity_verdict_t v;
    int64_t t = 0;
    int fp = 0;
    for (int i = 0; i < 1500; i++, t += 1000) {
        double c = unif() < 0.5 ? 0 : 10;
        assert_int_equal(tn_entities_add(e, L, strlen(L), "a", 1, c + 0.5 * gauss(), t, &v), 0);
        assert_int_equal(tn_entities_add(e, L, strlen(L), "b", 1, c + 0.5 * gauss(), t, &v), 0);
        if (i >= 1000 && v.flagged) fp++;
    }
    printf("two clusters: %d of 500 normal rows flagged\n", fp);
    assert_true(fp <= 2);
    /* two rows between the clusters (the forest needs two rows in a row) */
    assert_int_equal(tn_entities_add(e, L, strlen(L), "a", 1, 5, t, &v), 0);
    assert_int_equal(tn_entities_add(e, L, strlen(L), "b", 1, 5, t, &v), 0);
    assert_false(v.flagged);
    t += 1000;
    assert_int_equal(tn_entities_add(e, L, strlen(L), "a", 1, 5.2, t, &v), 0);
    assert_int_equal(tn_entities_add(e, L, strlen(L), "b", 1, 4.9, t, &v), 0);
    printf("  between the clusters: forest %.3f (threshold %.3f), distance z %.1f, by %s\n",
           v.score, v.threshold, v.distance_z, v.by ? v.by : "-");
    assert_true(v.flagged);
    assert_string_equal(v.by, "iforest");
    assert_true(v.distance_z < 5);
    tn_entities_destroy(e);
}

static void add2(tn_entities_t *e, const char *l, int64_t t, double a, double b,
                 tn_entity_verdict_t *v)
{
    assert_int_equal(tn_entities_add(e, l, strlen(l), "a", 1, a, t, v), 0);
    assert_int_equal(tn_entities_add(e, l, strlen(l), "b", 1, b, t, v), 0);
}

static void test_single_series_and_bounds(void **state)
{
    (void)state;
    tn_entities_opts_t o = {.max_entities = 2, .seed = 2};
    tn_entities_t *e = tn_entities_create(&o);
    assert_non_null(e);
    tn_entity_verdict_t v;
    const char *a = "{\"host\":\"a\"}", *b = "{\"host\":\"b\"}", *c = "{\"host\":\"c\"}",
               *d = "{\"host\":\"d\"}";
    for (int i = 0; i < 500; i++) { /* one metric only: never scored, not an entity */
        assert_int_equal(tn_entities_add(e, a, strlen(a), "cpu", 3, gauss(), i * 1000, &v), 0);
        assert_false(v.scored);
    }
    assert_int_equal(tn_entities_count(e), 0);
    add2(e, b, 0, 1, 2, &v);
    add2(e, c, 0, 1, 2, &v);
    add2(e, d, 0, 1, 2, &v); /* a third entity with two series: over the cap */
    assert_int_equal(tn_entities_count(e), 2);
    assert_int_equal(tn_entities_untracked(e), 1);
    /* NaN and Inf are ignored */
    assert_int_equal(tn_entities_add(e, b, strlen(b), "a", 1, NAN, 1, &v), 0);
    assert_int_equal(tn_entities_add(e, b, strlen(b), "a", 1, INFINITY, 1, &v), 0);
    assert_false(v.scored);
    tn_entities_destroy(e);
}

/* The series of an entity arrive skewed (a is 100 rows ahead of b, as when a backlog is read
 * partition by partition): the rows still complete, in time order. */
static void test_skewed_series_still_make_rows(void **state)
{
    (void)state;
    tn_entities_t *e = tn_entities_create(NULL);
    assert_non_null(e);
    tn_entity_verdict_t v;
    const char *l = "{\"host\":\"s\"}";
    double av[1200], bv[1200];
    for (int i = 0; i < 1200; i++) {
        double load = unif();
        av[i] = 10 * load + 0.1 * gauss();
        bv[i] = 30 * load + 0.3 * gauss();
    }
    assert_int_equal(tn_entities_add(e, l, strlen(l), "a", 1, av[0], 0, &v), 0);
    assert_int_equal(tn_entities_add(e, l, strlen(l), "b", 1, bv[0], 0, &v), 0);
    int scored = 0;
    for (int i = 1; i < 1200; i++) {
        assert_int_equal(tn_entities_add(e, l, strlen(l), "a", 1, av[i], i * 1000LL, &v), 0);
        scored += v.scored;
        if (i >= 100) {
            int k = i - 100;
            if (k >= 1) {
                assert_int_equal(tn_entities_add(e, l, strlen(l), "b", 1, bv[k], k * 1000LL, &v),
                                 0);
                scored += v.scored;
            }
        }
    }
    assert_true(tn_entities_rows(e) >= 1090);
    assert_true(scored > 900);
    tn_entities_destroy(e);
}

static void test_series_join_and_leave(void **state)
{
    (void)state;
    tn_entities_t *e = tn_entities_create(NULL);
    assert_non_null(e);
    tn_entity_verdict_t v;
    int64_t t = 0;
    for (int i = 0; i < 400; i++, t += 1000)
        add2(e, L, t, gauss(), gauss(), &v);
    assert_true(v.scored);
    assert_int_equal(v.ncols, 2);
    for (int i = 0; i < 400; i++, t += 1000) { /* a third series joins: the model starts over */
        add2(e, L, t, gauss(), gauss(), &v);
        assert_int_equal(tn_entities_add(e, L, strlen(L), "c", 1, gauss(), t, &v), 0);
    }
    assert_true(v.scored);
    assert_int_equal(v.ncols, 3);
    for (int i = 0; i < 400; i++, t += 1000) /* c stops: dropped after 128 rows, back to two */
        add2(e, L, t, gauss(), gauss(), &v);
    assert_true(v.scored);
    assert_int_equal(v.ncols, 2);
    tn_entities_destroy(e);
}

static void test_invalid_options(void **state)
{
    (void)state;
    tn_entities_opts_t o = {.quantile = 1.5};
    assert_null(tn_entities_create(&o));
    o = (tn_entities_opts_t){.psi = 1};
    assert_null(tn_entities_create(&o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broken_correlation_is_flagged),
        cmocka_unit_test(test_forest_finds_what_distance_cannot),
        cmocka_unit_test(test_single_series_and_bounds),
        cmocka_unit_test(test_skewed_series_still_make_rows),
        cmocka_unit_test(test_series_join_and_leave),
        cmocka_unit_test(test_invalid_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
