/* Unit tests: the latest points of series for charts (detect/recent.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "detect/recent.h"

static void add(tn_recent_t *r, const char *sid, int64_t ts, double v, int anomalous)
{
    assert_int_equal(tn_recent_add(r, sid, "m", 1, "{\"service\":\"a\"}", 15, ts, v, v - 1, v - 2,
                                   v + 2, anomalous ? 1.0 : 0.1, anomalous),
                     0);
}

static void test_ring_keeps_the_latest(void **state)
{
    (void)state;
    tn_recent_t *r = tn_recent_create(4, 3);
    assert_non_null(r);
    for (int i = 0; i < 5; i++)
        add(r, "s1", 1000 + i, i, 0);
    json_t *o = tn_recent_json(r, "s1", NULL);
    assert_non_null(o);
    json_t *pts = json_object_get(o, "points");
    assert_int_equal(json_array_size(pts), 3);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(pts, 0), 0)), 1002);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(pts, 2), 0)), 1004);
    assert_true(json_real_value(json_array_get(json_array_get(pts, 2), 1)) == 4.0);
    assert_string_equal(json_string_value(json_object_get(o, "metric")), "m");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "labels"), "service")),
                        "a");
    json_decref(o);
    int missing = 0;
    assert_null(tn_recent_json(r, "nope", &missing));
    assert_int_equal(missing, 1);
    tn_recent_destroy(r);
}

static void test_full_only_anomalies_displace(void **state)
{
    (void)state;
    tn_recent_t *r = tn_recent_create(2, 10);
    add(r, "a", 1, 1, 1); /* had an anomaly at 1 */
    add(r, "b", 2, 1, 0); /* never */
    add(r, "c", 3, 1, 0); /* full: a normal series is not tracked */
    assert_int_equal(tn_recent_tracked(r), 2);
    assert_null(tn_recent_json(r, "c", NULL));
    add(r, "d", 4, 1, 1); /* an anomaly displaces the never-anomalous one first */
    json_t *o;
    assert_non_null(o = tn_recent_json(r, "a", NULL));
    json_decref(o);
    assert_null(tn_recent_json(r, "b", NULL));
    assert_non_null(o = tn_recent_json(r, "d", NULL));
    json_decref(o);
    add(r, "e", 5, 1, 1); /* then the one whose last anomaly is the oldest */
    assert_null(tn_recent_json(r, "a", NULL));
    assert_non_null(o = tn_recent_json(r, "e", NULL));
    json_decref(o);
    tn_recent_destroy(r);
}

static void test_no_band_is_null(void **state)
{
    (void)state;
    tn_recent_t *r = tn_recent_create(1, 4);
    assert_int_equal(tn_recent_add(r, "w", "m", 1, NULL, 0, 7, 3.5, NAN, NAN, INFINITY, NAN, 0), 0);
    json_t *o = tn_recent_json(r, "w", NULL);
    json_t *p = json_array_get(json_object_get(o, "points"), 0);
    assert_true(json_is_null(json_array_get(p, 2)));
    assert_true(json_is_null(json_array_get(p, 3)));
    assert_true(json_is_null(json_array_get(p, 4)));
    assert_int_equal(json_integer_value(json_array_get(p, 5)), 0);
    char *s = json_dumps(o, JSON_COMPACT);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"labels\":{}"));
    free(s);
    json_decref(o);
    tn_recent_destroy(r);
}

typedef struct {
    char sids[8][8];
    int n;
} top_t;

static void on_top(const char *sid, const char *metric, const char *labels, double score, void *arg)
{
    (void)metric, (void)labels, (void)score;
    top_t *t = arg;
    snprintf(t->sids[t->n++], 8, "%s", sid);
}

static void test_top_scores(void **state)
{
    (void)state;
    tn_recent_t *r = tn_recent_create(8, 4);
    const char *sids[] = {"x", "y", "z"};
    double scores[] = {0.2, 0.9, 0.5};
    for (int i = 0; i < 3; i++)
        assert_int_equal(tn_recent_add(r, sids[i], "m", 1, NULL, 0, 1, 1, 1, 0, 2, scores[i], 0),
                         0);
    top_t t = {0};
    assert_int_equal(tn_recent_top(r, 2, on_top, &t), 2);
    assert_string_equal(t.sids[0], "y");
    assert_string_equal(t.sids[1], "z");
    assert_null(tn_recent_create(0, 4));
    assert_null(tn_recent_create(4, 0));
    tn_recent_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_keeps_the_latest),
        cmocka_unit_test(test_full_only_anomalies_displace),
        cmocka_unit_test(test_no_band_is_null),
        cmocka_unit_test(test_top_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
