/* test_policy.c - the detection policy (detect/policy.c): globs, label lookup in canonical
 * labels JSON, first-match rule order, parameter validation, reference counting, and hot reload
 * through the detector (state kept when the detector set is unchanged, rebuilt otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "detect/detector.h"
#include "detect/policy.h"

#include <math.h>
#include <string.h>

static int glob(const char *p, const char *s)
{
    return tn_policy_glob(p, s, strlen(s));
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(glob("*", ""));
    assert_true(glob("*", "anything"));
    assert_true(glob("http_*", "http_latency_ms"));
    assert_false(glob("http_*", "grpc_latency_ms"));
    assert_true(glob("*_ms", "http_latency_ms"));
    assert_true(glob("*latency*", "http_latency_ms"));
    assert_true(glob("h?tp_*_ms", "http_latency_ms"));
    assert_false(glob("h?tp", "htp"));
    assert_true(glob("a*b*c", "aXXbYYc"));
    assert_false(glob("a*b*c", "aXXbYY"));
    assert_true(glob("a**c", "ac"));
    assert_true(glob("exact", "exact"));
    assert_false(glob("exact", "exactly"));
    assert_false(glob("", "x"));
    assert_true(glob("", ""));
    /* the length bounds the subject: no reading past it */
    assert_true(tn_policy_glob("ab", "abc", 2));
    assert_false(tn_policy_glob("abc", "abc", 2));
}

static void test_labels(void **state)
{
    (void)state;
    const char *l = "{\"env\":\"prod\",\"path\":\"/a\\\"b\\\\c\",\"service\":\"check\\u00e9\"}";
    char v[64];
    size_t n;
    assert_true(tn_policy_label(l, strlen(l), "env", v, sizeof v, &n));
    assert_string_equal(v, "prod");
    assert_int_equal(n, 4);
    assert_true(tn_policy_label(l, strlen(l), "path", v, sizeof v, &n));
    assert_string_equal(v, "/a\"b\\c");
    assert_true(tn_policy_label(l, strlen(l), "service", v, sizeof v, &n));
    assert_string_equal(v, "check\xc3\xa9");
    assert_false(tn_policy_label(l, strlen(l), "zone", v, sizeof v, &n));
    assert_false(tn_policy_label(l, strlen(l), "pro", v, sizeof v, &n));
    /* truncated to the buffer, full length reported */
    char small[4];
    assert_true(tn_policy_label(l, strlen(l), "env", small, sizeof small, &n));
    assert_string_equal(small, "pro");
    assert_int_equal(n, 4);
    /* malformed or empty: absent */
    assert_false(tn_policy_label("{}", 2, "env", v, sizeof v, &n));
    assert_false(tn_policy_label("{\"env\":", 7, "env", v, sizeof v, &n));
    assert_false(tn_policy_label("[1]", 3, "env", v, sizeof v, &n));
    assert_false(tn_policy_label("{\"env\":1}", 9, "env", v, sizeof v, &n));
}

static const char *match(const tn_policy_t *p, const char *metric, const char *labels,
                         const tn_ens_params_t **params)
{
    const char *name = NULL;
    int r = tn_policy_match(p, metric, strlen(metric), labels, strlen(labels), params, &name);
    return r < 0 ? "default" : name;
}

static void test_rules(void **state)
{
    (void)state;
    tn_ens_params_t def = {.threshold = 5};
    tn_policy_t *p = tn_policy_create(&def);
    assert_non_null(p);
    tn_ens_params_t a = {.detectors = TN_DET_BIT(TN_DET_ZSCORE), .threshold = 3, .window = 30};
    tn_ens_params_t b = {.n_seasons = 1, .seasons_ms = {86400000}, .hw_season = 24};
    tn_ens_params_t c = {.agree = 3};
    tn_policy_matcher_t prod_checkout[] = {{"env", "prod", TN_MATCH_EQ},
                                           {"service", "check*", TN_MATCH_GLOB}};
    tn_policy_matcher_t not_test[] = {{"env", "test", TN_MATCH_NE}};
    tn_policy_matcher_t has_zone[] = {{"zone", "", TN_MATCH_NE}};
    tn_policy_matcher_t no_batch[] = {{"job", "batch-*", TN_MATCH_NGLOB}};
    const char *err = NULL;
    assert_int_equal(tn_policy_add(p, "latency-prod", "*_latency_ms", prod_checkout, 2, &a, &err),
                     0);
    assert_int_equal(tn_policy_add(p, "daily", "orders_*", not_test, 1, &b, &err), 0);
    assert_int_equal(tn_policy_add(p, "zoned", NULL, has_zone, 1, &c, &err), 0);
    assert_int_equal(tn_policy_add(p, "not-batch", "jobs_*", no_batch, 1, NULL, &err), 0);
    assert_int_equal(tn_policy_rules(p), 4);
    const tn_ens_params_t *got;
    assert_string_equal(
        match(p, "http_latency_ms", "{\"env\":\"prod\",\"service\":\"checkout\"}", &got),
        "latency-prod");
    assert_int_equal(got->detectors, TN_DET_BIT(TN_DET_ZSCORE));
    assert_true(got->threshold == 3);
    assert_int_equal(got->window, 30);
    assert_int_equal(got->min_samples, 20); /* resolved defaults */
    /* one matcher fails: the next rules are tried */
    assert_string_equal(
        match(p, "http_latency_ms", "{\"env\":\"dev\",\"service\":\"checkout\"}", &got), "default");
    assert_true(got->threshold == 5);
    assert_string_equal(
        match(p, "http_latency_ms", "{\"env\":\"prod\",\"service\":\"cart\"}", &got), "default");
    /* an absent label is the empty string: NE "test" matches */
    assert_string_equal(match(p, "orders_total", "{}", &got), "daily");
    assert_int_equal(got->hw_season, 24);
    assert_int_equal(got->n_seasons, 1);
    assert_string_equal(match(p, "orders_total", "{\"env\":\"test\"}", &got), "default");
    /* first match wins: zoned is after daily */
    assert_string_equal(match(p, "orders_total", "{\"zone\":\"eu\"}", &got), "daily");
    assert_string_equal(match(p, "cpu", "{\"zone\":\"eu\"}", &got), "zoned");
    assert_int_equal(got->agree, 3);
    assert_string_equal(match(p, "cpu", "{\"zone\":\"\"}", &got), "default");
    assert_string_equal(match(p, "jobs_run", "{\"job\":\"batch-7\"}", &got), "default");
    assert_string_equal(match(p, "jobs_run", "{\"job\":\"web\"}", &got), "not-batch");
    assert_true(got->threshold == 5); /* NULL params: the policy's defaults */
    /* invalid rules are refused with a reason and leave the policy as it was */
    tn_ens_params_t bad = {.window = 2};
    err = NULL;
    assert_int_equal(tn_policy_add(p, "bad", NULL, NULL, 0, &bad, &err), TN_EINVAL);
    assert_non_null(err);
    tn_policy_matcher_t nolabel[] = {{"", "x", TN_MATCH_EQ}};
    assert_int_equal(tn_policy_add(p, "bad2", NULL, nolabel, 1, NULL, &err), TN_EINVAL);
    tn_policy_matcher_t badop[] = {{"a", "x", (tn_match_op_t)9}};
    assert_int_equal(tn_policy_add(p, "bad3", NULL, badop, 1, NULL, &err), TN_EINVAL);
    assert_int_equal(tn_policy_rules(p), 4);
    tn_ens_params_t baddef = {.ar_p = 99};
    assert_null(tn_policy_create(&baddef));
    /* references */
    assert_ptr_equal(tn_policy_ref(p), p);
    tn_policy_unref(p);
    tn_policy_unref(p);
    tn_policy_unref(NULL);
}

/* Hot reload: a new policy is picked up at a series' next sample; state is kept when the
 * detector set is unchanged (thresholds retuned), rebuilt when it changes. */
static void test_reload(void **state)
{
    (void)state;
    tn_detector_opts_t o = {.window = 20, .threshold = 4, .min_samples = 10};
    tn_detector_t *d = tn_detector_create(&o);
    assert_non_null(d);
    const char *lab = "{\"service\":\"api\"}";
    tn_verdict_t v;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(
            tn_detector_score_labeled(d, "a", "lat", 3, lab, strlen(lab), 10 + i % 3, i, &v), 0);
        assert_int_equal(
            tn_detector_score_labeled(d, "b", "err", 3, lab, strlen(lab), 10 + i % 3, i, &v), 0);
    }
    assert_int_equal(v.n, 49);
    /* a policy: "lat" keeps the same detectors with a huge threshold, "err" gets zscore only */
    tn_policy_t *p =
        tn_policy_create(&(tn_ens_params_t){.window = 20, .threshold = 4, .min_samples = 10});
    assert_non_null(p);
    tn_ens_params_t same = {.window = 20, .threshold = 1000, .min_samples = 10};
    tn_ens_params_t other = {
        .detectors = TN_DET_BIT(TN_DET_ZSCORE), .window = 20, .min_samples = 10};
    assert_int_equal(tn_policy_add(p, "lat", "lat", NULL, 0, &same, NULL), 0);
    assert_int_equal(tn_policy_add(p, "err", "err", NULL, 0, &other, NULL), 0);
    tn_detector_set_policy(d, p);
    tn_policy_unref(p); /* the detector holds its own reference */
    /* "a": state kept (n goes on), and the new threshold applies: a spike is not an anomaly */
    assert_int_equal(tn_detector_score_labeled(d, "a", "lat", 3, lab, strlen(lab), 500, 50, &v), 0);
    assert_int_equal(v.n, 50);
    assert_int_equal(v.kind, TN_VERDICT_NORMAL);
    assert_true(fabs(v.z) > 4);
    /* "b": rebuilt with zscore only: warm-up again */
    assert_int_equal(tn_detector_score_labeled(d, "b", "err", 3, lab, strlen(lab), 500, 50, &v), 0);
    assert_int_equal(v.n, 0);
    assert_int_equal(v.kind, TN_VERDICT_WARMUP);
    assert_string_equal(v.detector, "zscore");
    /* a new series uses the new policy at once */
    assert_int_equal(tn_detector_score_labeled(d, "c", "err", 3, lab, strlen(lab), 1, 1, &v), 0);
    assert_string_equal(v.detector, "zscore");
    tn_detector_stats_t st;
    tn_detector_stats(d, &st);
    assert_int_equal(st.resets, 1);
    assert_int_equal(st.series, 3);
    /* back to the defaults: "a" is retuned to threshold 4 (same detectors) */
    tn_detector_set_policy(d, NULL);
    for (int i = 51; i < 80; i++)
        tn_detector_score_labeled(d, "a", "lat", 3, lab, strlen(lab), 10 + i % 3, i, &v);
    assert_int_equal(tn_detector_score_labeled(d, "a", "lat", 3, lab, strlen(lab), 500, 80, &v), 0);
    assert_int_equal(v.kind, TN_VERDICT_ANOMALY);
    assert_int_equal(v.n, 80);
    tn_detector_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
