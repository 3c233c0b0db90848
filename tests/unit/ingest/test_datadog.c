/* test_datadog.c - Datadog POST /api/v2/series (ingest/datadog.c): the datadog-api-spec
 * examples in ../shared/vectors/datadog, tags and resources, the response bodies, hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../vectors.h"

#include "core/error.h"
#include "core/sample.h"
#include "ingest/datadog.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1700000000000LL

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct {
    int rc;
    tn_batch_t b;
    tn_ingest_report_t rep;
    tn_buf_t fatal;
} res_t;

static char *read_vector(const char *rel, size_t *len)
{
    return tn_test_read_vector(rel, len);
}

static void run_len(const char *body, size_t len, size_t max, res_t *r)
{
    tn_parse_opts_t o = {NOW, max};
    tn_batch_init(&r->b);
    tn_ingest_report_init(&r->rep);
    tn_buf_init(&r->fatal);
    r->rc = tn_parse_datadog_series(body, len, &o, &r->b, &r->rep, &r->fatal);
    if (r->rc == 0) {
        assert_int_equal(r->rep.accepted, r->b.samples.n);
        if (r->rep.errors.len) {
            json_t *j = json_loadb(r->rep.errors.data, r->rep.errors.len, 0, NULL);
            assert_non_null(j);
            json_decref(j);
        }
    } else {
        assert_int_equal(r->b.samples.n, 0);
        assert_true(r->fatal.len > 0);
    }
    for (size_t i = 0; i < r->b.samples.n; i++) {
        const tn_sample_t *s = &r->b.samples.items[i];
        assert_true(tn_metric_name_valid(s->name));
        assert_int_equal(strlen(s->sid), 16);
        for (size_t j = 0; j < s->nlabels; j++) {
            assert_true(tn_label_name_valid(s->labels[j].name));
            if (j) assert_true(strcmp(s->labels[j - 1].name, s->labels[j].name) < 0);
        }
    }
}

static void run(const char *body, size_t max, res_t *r)
{
    run_len(body, strlen(body), max, r);
}

static void res_free(res_t *r)
{
    tn_batch_deinit(&r->b);
    tn_ingest_report_deinit(&r->rep);
    tn_buf_deinit(&r->fatal);
}

static const char *errors(const res_t *r)
{
    return r->rep.errors.data ? r->rep.errors.data : "";
}

static const char *labels_str(const tn_sample_t *s)
{
    static char buf[16384];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->nlabels; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=%s", i ? "," : "", s->labels[i].name,
                              s->labels[i].value);
    return buf;
}

static void assert_sample(const tn_sample_t *s, const char *name, double value, int64_t ts,
                          const char *unit, const char *labels)
{
    assert_string_equal(s->name, name);
    assert_float_equal(s->value, value, 0);
    assert_int_equal(s->ts_ms, ts);
    if (unit)
        assert_string_equal(s->unit, unit);
    else
        assert_null(s->unit);
    assert_string_equal(labels_str(s), labels);
}

static char *response(const tn_ingest_report_t *rep)
{
    tn_buf_t out;
    tn_buf_init(&out);
    assert_int_equal(tn_datadog_response_json(rep, &out), 0);
    json_t *j = json_loads(out.data, 0, NULL); /* always valid JSON */
    assert_non_null(j);
    json_decref(j);
    return tn_buf_steal(&out);
}

/* ---- vectors ---------------------------------------------------------------------------- */

static void test_vector_fixed_timestamp(void **state)
{
    (void)state;
    size_t len;
    char *body = read_vector("datadog/series_v2_fixed_timestamp.json", &len);
    res_t r;
    run_len(body, len, 100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_int_equal(r.rep.rejected, 0);
    assert_sample(&r.b.samples.items[0], "system_load_1", 0.7, 1475317847000LL, NULL,
                  "host=dummyhost");
    char *resp = response(&r.rep);
    assert_string_equal(resp, "{\"errors\":[]}");
    free(resp);
    res_free(&r);

    run_len(body, len, 0, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    assert_string_equal(r.fatal.data, "too many points in one request (1, limit 0)");
    res_free(&r);
    run_len(body, len - 3, 100, &r); /* truncated */
    assert_int_equal(r.rc, TN_EINVAL);
    assert_string_equal(r.fatal.data,
                        "invalid JSON at line 1, column 146: ']' expected near end of file");
    res_free(&r);
    free(body);
}

/* The "payload accepted" example: {{ timestamp('now') }} replaced by the current epoch seconds. */
static void test_vector_template(void **state)
{
    (void)state;
    size_t len;
    char *tpl = read_vector("datadog/series_v2_payload_accepted_TEMPLATE.txt", &len);
    const char *mark = "{{ timestamp('now') }}";
    char *at = strstr(tpl, mark);
    assert_non_null(at);
    long long now_s = (long long)time(NULL);
    char body[512];
    snprintf(body, sizeof body, "%.*s%lld%s", (int)(at - tpl), tpl, now_s, at + strlen(mark));
    res_t r;
    run(body, 100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_sample(&r.b.samples.items[0], "system_load_1", 0.7, now_s * 1000, NULL,
                  "host=dummyhost");
    res_free(&r);

    /* the verbatim template is not JSON */
    run(tpl, 100, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_non_null(strstr(r.fatal.data, "invalid JSON at line 1, column "));
    res_free(&r);
    free(tpl);
}

/* ---- mapping ---------------------------------------------------------------------------- */

static void test_tags_resources(void **state)
{
    (void)state;
    res_t r;
    run("{\"series\":[{\"metric\":\"trace.http.request.hits\",\"type\":1,\"unit\":\"request\","
        "\"interval\":10,\"points\":[{\"timestamp\":1700000000,\"value\":3},"
        "{\"timestamp\":1700000010.5,\"value\":-2.25}],"
        "\"tags\":[\"env:prod\",\"env:staging\",\"env:prod\",\"canary\",\"url:http://x:8080/a\","
        "\":weird\",\"service.name:checkout\",\"empty:\",\"\"],"
        "\"resources\":[{\"name\":\"i-123\",\"type\":\"host\"},{\"name\":\"h2\",\"type\":\"host\"}]"
        "}]}",
        100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 2);
    const char *want = "empty=,env=prod,staging,host=i-123,h2,service=checkout,tag__weird=true,"
                       "tag_canary=true,url=http://x:8080/a";
    assert_sample(&r.b.samples.items[0], "trace_http_request_hits", 3, 1700000000000LL, "request",
                  want);
    assert_sample(&r.b.samples.items[1], "trace_http_request_hits", -2.25, 1700000010500LL,
                  "request", want);
    assert_string_equal(r.b.samples.items[0].sid, r.b.samples.items[1].sid);
    res_free(&r);

    /* names: digits first get '_', every odd byte (NUL included) becomes '_' */
    run("{\"series\":[{\"metric\":\"1a-b c:d\\u0000\\u00e9\",\"points\":[{\"timestamp\":1,"
        "\"value\":1}]},{\"metric\":\"ok\",\"type\":3,\"points\":[{\"timestamp\":1,\"value\":1}],"
        "\"tags\":null,\"resources\":null,\"unit\":null}]}",
        100, &r);
    assert_int_equal(r.rc, 0);
    assert_sample(&r.b.samples.items[0], "_1a_b_c:d___", 1, 1000, NULL, "");
    assert_sample(&r.b.samples.items[1], "ok", 1, 1000, NULL, "");
    res_free(&r);
}

static void test_partial(void **state)
{
    (void)state;
    res_t r;
    run("{\"series\":["
        "{\"metric\":\"good\",\"points\":[{\"timestamp\":1700000000,\"value\":1},"
        " {\"timestamp\":-1,\"value\":1},{\"timestamp\":1700000000},{\"value\":1},5,"
        " {\"timestamp\":\"now\",\"value\":1},{\"timestamp\":1e12,\"value\":1},"
        " {\"timestamp\":1700000001,\"value\":2}]},"
        "{\"points\":[{\"timestamp\":1,\"value\":1}]},"
        "{\"metric\":\"\",\"points\":[{\"timestamp\":1,\"value\":1}]},"
        "{\"metric\":\"m\",\"type\":4,\"points\":[{\"timestamp\":1,\"value\":1}]},"
        "{\"metric\":\"m\",\"points\":[]},"
        "{\"metric\":\"m\",\"points\":[{\"timestamp\":1,\"value\":1}],\"tags\":\"a:b\"},"
        "{\"metric\":\"m\",\"points\":[{\"timestamp\":1,\"value\":1}],\"tags\":[1]},"
        "{\"metric\":\"m\",\"points\":[{\"timestamp\":1,\"value\":1}],\"tags\":[\"a:x\\u0000\"]},"
        "{\"metric\":\"m\",\"points\":[{\"timestamp\":1,\"value\":1}],\"resources\":[{\"name\":1}]}"
        ","
        "{\"metric\":\"m\",\"points\":[{\"timestamp\":1,\"value\":1}],\"unit\":7},"
        "{\"metric\":\"m\",\"points\":[{\"timestamp\":1,\"value\":1}],\"tags\":[\"__name__:x\"]},"
        "7]}",
        100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 2);
    assert_int_equal(r.rep.rejected, 17);
    assert_sample(&r.b.samples.items[0], "good", 1, 1700000000000LL, NULL, "");
    assert_sample(&r.b.samples.items[1], "good", 2, 1700000001000LL, NULL, "");
    assert_string_equal(
        errors(&r),
        "[{\"index\":0,\"error\":\"point 1: timestamp must be a finite, non-negative number\"},"
        "{\"index\":0,\"error\":\"point 2: field 'value' must be a number\"},"
        "{\"index\":0,\"error\":\"point 3: field 'timestamp' must be a number (epoch seconds)\"},"
        "{\"index\":0,\"error\":\"point 4 must be an object\"},"
        "{\"index\":0,\"error\":\"point 5: field 'timestamp' must be a number (epoch seconds)\"},"
        "{\"index\":0,\"error\":\"point 6: timestamp is too far in the future\"},"
        "{\"index\":1,\"error\":\"missing field 'metric'\"},"
        "{\"index\":2,\"error\":\"field 'metric' must be a non-empty string\"},"
        "{\"index\":3,\"error\":\"field 'type' must be 0 (unspecified), 1 (count), 2 (rate) or 3 "
        "(gauge)\"},"
        "{\"index\":4,\"error\":\"field 'points' must be a non-empty array\"},"
        "{\"index\":5,\"error\":\"field 'tags' must be an array of strings\"},"
        "{\"index\":6,\"error\":\"tags[0] must be a string without NUL bytes\"},"
        "{\"index\":7,\"error\":\"tags[0] must be a string without NUL bytes\"},"
        "{\"index\":8,\"error\":\"resources[0] must have string fields 'name' and 'type'\"},"
        "{\"index\":9,\"error\":\"field 'unit' must be a string of at most 64 bytes\"},"
        "{\"index\":10,\"error\":\"invalid label name '__name__'\"},"
        "{\"index\":11,\"error\":\"series must be a JSON object\"}]");

    char *resp = response(&r.rep);
    assert_string_equal(
        resp, "{\"errors\":[\"series 0: point 1: timestamp must be a finite, non-negative number\","
              "\"series 0: point 2: field 'value' must be a number\","
              "\"series 0: point 3: field 'timestamp' must be a number (epoch seconds)\","
              "\"series 0: point 4 must be an object\","
              "\"series 0: point 5: field 'timestamp' must be a number (epoch seconds)\","
              "\"series 0: point 6: timestamp is too far in the future\","
              "\"series 1: missing field 'metric'\","
              "\"series 2: field 'metric' must be a non-empty string\","
              "\"series 3: field 'type' must be 0 (unspecified), 1 (count), 2 (rate) or 3 "
              "(gauge)\","
              "\"series 4: field 'points' must be a non-empty array\","
              "\"series 5: field 'tags' must be an array of strings\","
              "\"series 6: tags[0] must be a string without NUL bytes\","
              "\"series 7: tags[0] must be a string without NUL bytes\","
              "\"series 8: resources[0] must have string fields 'name' and 'type'\","
              "\"series 9: field 'unit' must be a string of at most 64 bytes\","
              "\"series 10: invalid label name '__name__'\","
              "\"series 11: series must be a JSON object\"]}");
    free(resp);
    res_free(&r);
}

static void test_response_cap(void **state)
{
    (void)state;
    char body[4096];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"series\":[");
    for (int i = 0; i < 25; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s{\"metric\":\"m\"}", i ? "," : "");
    snprintf(body + n, sizeof body - n, "]}");
    res_t r;
    run(body, 100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.rejected, 25);
    char *resp = response(&r.rep);
    json_t *j = json_loads(resp, 0, NULL);
    json_t *e = json_object_get(j, "errors");
    assert_int_equal(json_array_size(e), 21);
    assert_string_equal(json_string_value(json_array_get(e, 19)),
                        "series 19: field 'points' must be a non-empty array");
    assert_string_equal(json_string_value(json_array_get(e, 20)), "and 5 more rejected");
    json_decref(j);
    free(resp);
    res_free(&r);

    tn_buf_t out;
    tn_buf_init(&out);
    assert_int_equal(tn_datadog_error_json("invalid \"JSON\"", &out), 0);
    assert_string_equal(out.data, "{\"errors\":[\"invalid \\\"JSON\\\"\"]}");
    tn_buf_deinit(&out);
}

static void test_malformed_hostile(void **state)
{
    (void)state;
    res_t r;
    static const struct {
        const char *body, *fatal;
    } bad[] = {
        {"", "empty body"},
        {"[]", "body must be a Datadog v2 series payload: {\"series\": [...]}"},
        {"{\"series\":{}}", "body must be a Datadog v2 series payload: {\"series\": [...]}"},
        {"{}", "body must be a Datadog v2 series payload: {\"series\": [...]}"},
        {"null", "body must be a Datadog v2 series payload: {\"series\": [...]}"},
        {"{\"series\":[{\"metric\":\"m\",\"points\":[{\"timestamp\":1,\"value\":1e999}]}]}",
         "invalid JSON at line 1, column 63: real number overflow near '1e999'"},
        {"{\"series\":[],\"series\":[]}",
         "invalid JSON at line 1, column 21: duplicate object key near '\"series\"'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(bad[i].body, 10, &r);
        assert_int_equal(r.rc, TN_EINVAL);
        assert_string_equal(r.fatal.data, bad[i].fatal);
        res_free(&r);
    }
    run("{\"series\":[]}", 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.b.samples.n, 0);
    res_free(&r);

    /* deep nesting */
    char *d = malloc(200001);
    assert_non_null(d);
    strcpy(d, "{\"series\":");
    memset(d + 10, '[', 200000 - 10);
    d[200000] = '\0';
    run(d, 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_non_null(strstr(r.fatal.data, "maximum parsing depth"));
    res_free(&r);
    free(d);

    /* max_items counts points across series (a series without points counts 1) */
    const char *three = "{\"series\":[{\"metric\":\"a\",\"points\":[{\"timestamp\":1,\"value\":1},"
                        "{\"timestamp\":2,\"value\":1}]},{\"metric\":\"b\"}]}";
    run(three, 2, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    res_free(&r);
    run(three, 3, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 2);
    res_free(&r);

    /* a 1 MB tag value and a 1 MB metric name are rejected; the other series is kept */
    size_t big = 1 << 20;
    char *body = malloc(2 * big + 512);
    assert_non_null(body);
    size_t n = (size_t)snprintf(body, 512,
                                "{\"series\":[{\"metric\":\"m\",\"points\":"
                                "[{\"timestamp\":1,\"value\":1}],\"tags\":[\"k:");
    memset(body + n, 'v', big);
    n += big;
    n += (size_t)snprintf(body + n, 512, "\"]},{\"metric\":\"");
    memset(body + n, 'm', big);
    n += big;
    snprintf(body + n, 512,
             "\",\"points\":[{\"timestamp\":1,\"value\":1}]},"
             "{\"metric\":\"ok\",\"points\":[{\"timestamp\":1,\"value\":1}]}]}");
    run(body, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_string_equal(errors(&r),
                        "[{\"index\":0,\"error\":\"label 'k' value is longer than 4096 bytes\"},"
                        "{\"index\":1,\"error\":\"metric name is longer than 256 bytes\"}]");
    res_free(&r);
    free(body);

    /* many tags: 64 distinct keys fit, 65 do not; joined values stop at 4096 bytes */
    char tags[16384];
    n = (size_t)snprintf(tags, sizeof tags,
                         "{\"series\":[{\"metric\":\"m\",\"points\":[{\"timestamp\":1,"
                         "\"value\":1}],\"tags\":[");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(tags + n, sizeof tags - n, "%s\"k%d:v\"", i ? "," : "", i);
    snprintf(tags + n, sizeof tags - n, "]}]}");
    run(tags, 10, &r);
    assert_string_equal(errors(&r), "[{\"index\":0,\"error\":\"too many labels (limit 64)\"}]");
    res_free(&r);
    n = (size_t)snprintf(tags, sizeof tags,
                         "{\"series\":[{\"metric\":\"m\",\"points\":[{\"timestamp\":1,"
                         "\"value\":1}],\"tags\":[");
    for (int i = 0; i < 1500; i++)
        n += (size_t)snprintf(tags + n, sizeof tags - n, "%s\"k:%d\"", i ? "," : "", i);
    snprintf(tags + n, sizeof tags - n, "]}]}");
    run(tags, 10, &r);
    assert_string_equal(
        errors(&r), "[{\"index\":0,\"error\":\"label 'k' values are longer than 4096 bytes\"}]");
    res_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_fixed_timestamp), cmocka_unit_test(test_vector_template),
        cmocka_unit_test(test_tags_resources),         cmocka_unit_test(test_partial),
        cmocka_unit_test(test_response_cap),           cmocka_unit_test(test_malformed_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
