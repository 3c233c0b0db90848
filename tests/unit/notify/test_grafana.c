/* Unit tests: incidents as Grafana annotations (notify/grafana.c): the body against Grafana's
 * documented create request, and the id of its documented answer (not valid JSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../vectors.h"
#include "core/config.h"
#include "core/error.h"
#include "notify/grafana.h"

static json_t *incident(const char *state)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:[{s:s, s:f}]}", "id", "INC-1-7",
                     "title", "latency_ms on checkout", "service", "checkout", "severity",
                     "critical", "state", state, "started_ms", (json_int_t)1507037197339,
                     "opened_ms", (json_int_t)1507037200000, "resolved_ms",
                     !strcmp(state, "resolved") ? json_integer(1507180805056) : json_null(), "rca",
                     "service", "payments", "score", 0.9);
}

static void test_body_has_the_documented_fields(void **state)
{
    (void)state;
    tn_config_t cfg;
    assert_int_equal(tn_config_init(&cfg), 0);
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_config_set_text(&cfg, "grafana.dashboard_uid", "jcIIG-07z", &err), 0);
    size_t len;
    char *doc = tn_test_read_vector("grafana/annotations_create_request.json", &len);
    json_t *want = json_loadb(doc, len, 0, NULL);
    assert_non_null(want);

    json_t *inc = incident("resolved");
    json_t *got = tn_grafana_annotation(&cfg, "resolved", inc);
    assert_non_null(got);
    /* every field we send is one the API documents, with the same JSON type */
    const char *k;
    json_t *v;
    json_object_foreach(got, k, v)
    {
        json_t *w = json_object_get(want, k);
        assert_non_null(w);
        assert_int_equal(json_typeof(v), json_typeof(w));
    }
    assert_int_equal(json_integer_value(json_object_get(got, "time")), 1507037197339);
    assert_int_equal(json_integer_value(json_object_get(got, "timeEnd")), 1507180805056);
    assert_string_equal(json_string_value(json_object_get(got, "dashboardUID")), "jcIIG-07z");
    const char *text = json_string_value(json_object_get(got, "text"));
    assert_non_null(strstr(text, "INC-1-7 resolved: latency_ms on checkout"));
    assert_non_null(strstr(text, "probable cause payments"));
    json_t *tags = json_object_get(got, "tags");
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "tocsin");
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "incident");
    assert_string_equal(json_string_value(json_array_get(tags, 2)), "checkout");
    assert_string_equal(json_string_value(json_array_get(tags, 3)), "critical");
    json_decref(got);
    json_decref(inc);

    inc = incident("open"); /* an opening: a point, no end yet */
    got = tn_grafana_annotation(&cfg, "opened", inc);
    assert_null(json_object_get(got, "timeEnd"));
    json_decref(got);
    json_decref(inc);
    json_decref(want);
    free(doc);
    tn_buf_deinit(&err);
    tn_config_deinit(&cfg);
}

static void test_created_id(void **state)
{
    (void)state;
    size_t len;
    char *doc = tn_test_read_vector(
        "grafana/annotations_create_response_doc_verbatim_INVALID_JSON.txt", &len);
    assert_null(json_loadb(doc, len, 0, NULL)); /* as documented: a trailing comma */
    assert_int_equal(tn_grafana_created_id(doc, len), 1);
    free(doc);
    const char ok[] = "{\"message\":\"Annotation added\",\"id\":4711}";
    assert_int_equal(tn_grafana_created_id(ok, sizeof ok - 1), 4711);
    const char none[] = "{\"message\":\"nothing\"}";
    assert_int_equal(tn_grafana_created_id(none, sizeof none - 1), 0);
    const char hostile[] = "\"id\"";
    assert_int_equal(tn_grafana_created_id(hostile, sizeof hostile - 1), 0);
    assert_int_equal(tn_grafana_created_id("", 0), 0);
}

static void test_no_url_no_client(void **state)
{
    (void)state;
    tn_config_t cfg;
    assert_int_equal(tn_config_init(&cfg), 0);
    int oom = 1;
    assert_null(tn_grafana_create(&cfg, NULL, &oom));
    assert_int_equal(oom, 0);
    tn_grafana_incident(NULL, "opened", NULL); /* a no-op */
    tn_config_deinit(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_has_the_documented_fields),
        cmocka_unit_test(test_created_id),
        cmocka_unit_test(test_no_url_no_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
