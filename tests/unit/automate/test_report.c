/* Unit tests: MTTD, MTTA and MTTR per service and per automation level (automate/report.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "automate/report.h"

/* An incident: onset at t0, opened 10 s later, acknowledged after ack s, resolved after res s
 * from the onset (0: not). */
static json_t *inc(const char *id, const char *svc, int64_t t0, int ack, int res, const char *state)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "id", id, "service", svc, "state",
                     state, "started_ms", (json_int_t)t0, "opened_ms", (json_int_t)(t0 + 10000),
                     "acknowledged_ms", (json_int_t)(ack ? t0 + 10000 + ack * 1000 : 0),
                     "resolved_ms", (json_int_t)(res ? t0 + res * 1000 : 0));
}

static json_t *run(const char *incident, int level, const char *status)
{
    return json_pack("{s:s, s:i, s:s}", "incident", incident, "level", level, "status", status);
}

static const json_t *find(const json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        json_t *v = json_object_get(o, key);
        if (json_is_string(v) && !strcmp(json_string_value(v), value)) return o;
        if (json_is_integer(v) && json_integer_value(v) == atoi(value)) return o;
    }
    return NULL;
}

static double fig(const json_t *st, const char *t, const char *k)
{
    return json_number_value(json_object_get(json_object_get(st, t), k));
}

static void test_report(void **state)
{
    (void)state;
    json_t *incs = json_array(), *runs = json_array();
    json_array_append_new(incs, inc("I1", "checkout", 1000000, 20, 300, "resolved"));
    json_array_append_new(incs, inc("I2", "checkout", 2000000, 40, 100, "resolved"));
    json_array_append_new(incs, inc("I3", "checkout", 3000000, 0, 0, "open"));
    json_array_append_new(incs, inc("I4", "payments", 4000000, 5, 60, "resolved"));
    json_array_append_new(incs, inc("I5", "payments", 5000000, 0, 0, "merged"));
    json_array_append_new(incs, inc("I6", "", 6000000, 0, 50, "resolved"));
    json_array_append_new(runs, run("I1", 1, "running"));
    json_array_append_new(runs, run("I1", 3, "running")); /* the highest level counts */
    json_array_append_new(runs, run("I2", 4, "dry_run")); /* a dry run changes nothing */
    json_array_append_new(runs, run("I4", 3, "running"));
    json_array_append_new(runs, run("", 2, "running")); /* not for an incident */
    json_t *rep = tn_report_build(incs, runs, 0, 10000000);
    assert_non_null(rep);
    const json_t *all = json_object_get(rep, "overall");
    assert_int_equal(json_integer_value(json_object_get(all, "incidents")), 5); /* not merged */
    assert_int_equal(json_integer_value(json_object_get(all, "resolved")), 4);
    assert_int_equal(json_integer_value(json_object_get(all, "open")), 1);
    assert_true(fig(all, "ttd", "mean_s") == 10.0);

    const json_t *services = json_object_get(rep, "services");
    assert_int_equal(json_array_size(services), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(services, 0), "service")),
                        "checkout"); /* the most incidents first */
    const json_t *co = find(services, "service", "checkout");
    assert_int_equal(json_integer_value(json_object_get(co, "incidents")), 3);
    assert_int_equal(json_integer_value(json_object_get(co, "acknowledged")), 2);
    assert_true(fig(co, "tta", "mean_s") == 30.0);
    assert_true(fig(co, "ttr", "mean_s") == 200.0);
    assert_true(fig(co, "ttr", "median_s") == 100.0); /* nearest rank of {100, 300} */
    assert_true(fig(co, "ttr", "p90_s") == 300.0);
    assert_non_null(find(services, "service", "(none)"));

    const json_t *levels = json_object_get(rep, "levels");
    const json_t *l3 = find(levels, "level", "3"), *l0 = find(levels, "level", "0");
    assert_non_null(l3);
    assert_non_null(l0);
    assert_null(find(levels, "level", "4")); /* I2 ran level 4 only dry */
    assert_string_equal(json_string_value(json_object_get(l3, "name")), "3 remediate");
    assert_int_equal(json_integer_value(json_object_get(l3, "incidents")), 2); /* I1, I4 */
    assert_true(fig(l3, "ttr", "mean_s") == 180.0);
    assert_int_equal(json_integer_value(json_object_get(l0, "incidents")), 3); /* I2, I3, I6 */
    assert_true(json_is_null(
        json_object_get(json_object_get(find(services, "service", "(none)"), "tta"), "mean_s")));

    tn_buf_t t;
    tn_buf_init(&t);
    assert_int_equal(tn_report_table(rep, &t), 0);
    assert_non_null(strstr(t.data, "checkout"));
    assert_non_null(strstr(t.data, "3 remediate"));
    assert_non_null(strstr(t.data, "3.3m")); /* 200 s */
    tn_buf_deinit(&t);
    json_decref(rep);

    json_t *empty = json_array();
    rep = tn_report_build(empty, empty, 0, 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(rep, "overall"), "incidents")), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "levels")), 0);
    json_decref(rep);
    json_decref(empty);
    json_decref(incs);
    json_decref(runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_report)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
