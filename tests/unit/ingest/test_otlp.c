/* test_otlp.c - OTLP/HTTP JSON parsers (ingest/otlp_*.c) against the official examples in
 * shared/vectors/otlp, partial success, hostile bodies, the partial-success response, and
 * tn_gunzip (ingest/gzip.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../vectors.h"

#include "core/error.h"
#include "ingest/gzip.h"
#include "ingest/otlp.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define NOW 1700000000000LL
#define VEC_TS_MS 1544712660300LL

/* ---- helpers ---------------------------------------------------------------------------- */

/* Reads shared/vectors/otlp/<name> (TN_SOURCE_DIR from ctest, then guesses). */
static char *read_vector(const char *name, size_t *len)
{
    char rel[512];
    snprintf(rel, sizeof rel, "otlp/%s", name);
    return tn_test_read_vector(rel, len);
}

typedef int (*parser_fn)(const char *, size_t, const tn_parse_opts_t *, tn_batch_t *,
                         tn_ingest_report_t *, tn_buf_t *);

/* One parse with fresh report / fatal; the caller deinits t. */
typedef struct {
    tn_batch_t b;
    tn_ingest_report_t rep;
    tn_buf_t fatal;
    int rc;
} run_t;

static void run_n(run_t *t, parser_fn fn, const char *body, size_t len, size_t max)
{
    tn_batch_init(&t->b);
    tn_ingest_report_init(&t->rep);
    tn_buf_init(&t->fatal);
    tn_parse_opts_t o = {.now_ms = NOW, .max_items = max};
    t->rc = fn(body, len, &o, &t->b, &t->rep, &t->fatal);
    if (t->rc == 0) assert_int_equal(t->fatal.len, 0);
    if (t->rep.errors.len) { /* always a valid JSON array */
        json_t *a = json_loadb(t->rep.errors.data, t->rep.errors.len, 0, NULL);
        assert_true(json_is_array(a));
        json_decref(a);
    }
}

static void run(run_t *t, parser_fn fn, const char *body)
{
    run_n(t, fn, body, strlen(body), 100000);
}

static void done(run_t *t)
{
    tn_batch_deinit(&t->b);
    tn_ingest_report_deinit(&t->rep);
    tn_buf_deinit(&t->fatal);
}

static const char *fatal_of(const run_t *t)
{
    return t->fatal.data ? t->fatal.data : "";
}

static const char *errors_of(const run_t *t)
{
    return t->rep.errors.data ? t->rep.errors.data : "";
}

static const char *label(const tn_label_t *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, name) == 0) return l[i].value;
    return NULL;
}

static const char *slabel(const tn_sample_t *s, const char *name)
{
    return label(s->labels, s->nlabels, name);
}

/* Checks a sample's name, value, time, number of labels and one label. */
static void assert_sample(const tn_sample_t *s, const char *name, double value, int64_t ts,
                          size_t nlabels, const char *lname, const char *lvalue)
{
    assert_string_equal(s->name, name);
    if (isnan(value))
        assert_true(isnan(s->value));
    else
        assert_true(s->value == value);
    assert_int_equal(s->ts_ms, ts);
    assert_int_equal(s->nlabels, nlabels);
    assert_int_equal(strlen(s->sid), 16);
    for (size_t i = 1; i < s->nlabels; i++)
        assert_true(strcmp(s->labels[i - 1].name, s->labels[i].name) < 0);
    if (lname) {
        const char *v = slabel(s, lname);
        assert_non_null(v);
        assert_string_equal(v, lvalue);
    }
}

/* A metrics body with one gauge holding the given dataPoints JSON. */
static char *gauge_body(const char *points)
{
    static const char fmt[] =
        "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
        "\"value\":{\"stringValue\":\"svc\"}}]},\"scopeMetrics\":[{\"metrics\":[{\"name\":\"g\","
        "\"gauge\":{\"dataPoints\":[%s]}}]}]}]}";
    size_t n = sizeof fmt + strlen(points);
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, fmt, points);
    return s;
}

static char *spans_body(const char *spans)
{
    static const char fmt[] =
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
        "\"value\":{\"stringValue\":\"svc\"}}]},\"scopeSpans\":[{\"spans\":[%s]}]}]}";
    size_t n = sizeof fmt + strlen(spans);
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, fmt, spans);
    return s;
}

static char *logs_body(const char *recs)
{
    static const char fmt[] = "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[%s]}]}]}";
    size_t n = sizeof fmt + strlen(recs);
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, fmt, recs);
    return s;
}

#define SPAN_OK                                                                                    \
    "\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","            \
    "\"startTimeUnixNano\":\"1000000000\",\"endTimeUnixNano\":\"1002000000\""

/* ---- the official examples -------------------------------------------------------------- */

static void test_vector_metrics(void **state)
{
    size_t len;
    char *body = read_vector("metrics.json", &len);
    run_t t;
    run_n(&t, tn_parse_otlp_metrics, body, len, 1000);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 4); /* data points */
    assert_int_equal(t.rep.rejected, 0);
    assert_int_equal(t.rep.errors.len, 0);
    assert_int_equal(t.b.samples.n, 8);
    assert_int_equal(tn_batch_count(&t.b), 8);
    tn_sample_t *s = t.b.samples.items;

    /* sum "my.counter": asDouble 5, attribute my.counter.attr, resource service.name */
    assert_sample(&s[0], "my_counter", 5, VEC_TS_MS, 2, "my_counter_attr", "some value");
    assert_string_equal(slabel(&s[0], "service"), "my.service");
    assert_string_equal(s[0].labels[0].name, "my_counter_attr");
    assert_string_equal(s[0].labels[1].name, "service");
    assert_string_equal(s[0].unit, "1");
    assert_null(slabel(&s[0], "my_scope_attribute")); /* scope attributes are not used */

    assert_sample(&s[1], "my_gauge", 10, VEC_TS_MS, 2, "my_gauge_attr", "some value");
    assert_string_equal(slabel(&s[1], "service"), "my.service");
    assert_string_equal(s[1].unit, "1");

    /* histogram: count "2", sum 2, bucketCounts ["1","1"], explicitBounds [1] */
    assert_sample(&s[2], "my_histogram_count", 2, VEC_TS_MS, 2, "my_histogram_attr", "some value");
    assert_sample(&s[3], "my_histogram_sum", 2, VEC_TS_MS, 2, "service", "my.service");
    assert_sample(&s[4], "my_histogram_bucket", 1, VEC_TS_MS, 3, "le", "1");
    assert_string_equal(slabel(&s[4], "my_histogram_attr"), "some value");
    assert_sample(&s[5], "my_histogram_bucket", 2, VEC_TS_MS, 3, "le", "+Inf");
    assert_string_equal(s[5].labels[0].name, "le");
    assert_string_not_equal(s[4].sid, s[5].sid);
    assert_string_not_equal(s[2].sid, s[3].sid);

    /* exponential histogram: count "3", sum 10 */
    assert_sample(&s[6], "my_exponential_histogram_count", 3, VEC_TS_MS, 2,
                  "my_exponential_histogram_attr", "some value");
    assert_sample(&s[7], "my_exponential_histogram_sum", 10, VEC_TS_MS, 2, "service", "my.service");
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(s[i].unit, "1");
    done(&t);
    free(body);
}

static void test_vector_logs(void **state)
{
    size_t len;
    char *body = read_vector("logs.json", &len);
    run_t t;
    run_n(&t, tn_parse_otlp_logs, body, len, 1000);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 1);
    assert_int_equal(t.rep.rejected, 0);
    assert_int_equal(t.b.nlogs, 1);
    assert_int_equal(tn_batch_count(&t.b), 1);
    tn_log_t *l = &t.b.logs[0];
    assert_int_equal(l->ts_ms, VEC_TS_MS);
    assert_string_equal(l->severity, "info"); /* severityText "Information" */
    assert_string_equal(l->body, "Example log record");
    assert_string_equal(l->trace_id, "5b8efff798038103d269b633813fc60c");
    assert_string_equal(l->span_id, "eee19b7ec3c1b174");
    static const char *const want[][2] = {
        {"array_attribute", "[\"many\",\"values\"]"},
        {"boolean_attribute", "true"},
        {"double_attribute", "637.704"},
        {"int_attribute", "10"},
        {"map_attribute", "{\"some.map.key\":\"some value\"}"},
        {"service", "my.service"},
        {"string_attribute", "some string"},
    };
    assert_int_equal(l->labels.n, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(l->labels.items[i].name, want[i][0]);
        assert_string_equal(l->labels.items[i].value, want[i][1]);
    }
    done(&t);
    free(body);
}

static void test_vector_traces(void **state)
{
    size_t len;
    char *body = read_vector("trace.json", &len);
    run_t t;
    run_n(&t, tn_parse_otlp_traces, body, len, 1000);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 1);
    assert_int_equal(t.rep.rejected, 0);
    assert_int_equal(t.b.nspans, 1);
    tn_span_t *s = &t.b.spans[0];
    assert_string_equal(s->trace_id, "5b8efff798038103d269b633813fc60c");
    assert_string_equal(s->span_id, "eee19b7ec3c1b174");
    assert_string_equal(s->parent_id, "eee19b7ec3c1b173");
    assert_string_equal(s->name, "I'm a server span");
    assert_string_equal(s->service, "my.service");
    assert_string_equal(s->kind, "server");
    assert_int_equal(s->start_us, 1544712660000000LL);
    assert_int_equal(s->duration_us, 1000000);
    assert_int_equal(s->error, 0);
    assert_int_equal(s->labels.n, 2);
    assert_string_equal(s->labels.items[0].name, "my_span_attr");
    assert_string_equal(s->labels.items[0].value, "some value");
    assert_string_equal(s->labels.items[1].name, "service");
    assert_string_equal(s->labels.items[1].value, "my.service");
    done(&t);
    free(body);
}

/* Each parser ignores the others' bodies: a well-formed but empty request for it. */
static void test_vectors_crossed(void **state)
{
    const char *files[] = {"metrics.json", "logs.json", "trace.json"};
    parser_fn fns[] = {tn_parse_otlp_metrics, tn_parse_otlp_logs, tn_parse_otlp_traces};
    for (int f = 0; f < 3; f++) {
        size_t len;
        char *body = read_vector(files[f], &len);
        for (int p = 0; p < 3; p++) {
            run_t t;
            run_n(&t, fns[p], body, len, 1000);
            assert_int_equal(t.rc, 0);
            assert_int_equal(tn_batch_count(&t.b), f == p ? (f == 0 ? 8 : 1) : 0);
            done(&t);
        }
        free(body);
    }
}

/* ---- metrics ---------------------------------------------------------------------------- */

static void test_metrics_int_values(void **state)
{
    char *body = gauge_body("{\"asInt\":\"42\",\"timeUnixNano\":\"1544712660300000000\"},"
                            "{\"asInt\":42,\"timeUnixNano\":1544712660300000000},"
                            "{\"asInt\":\"-7\"},"
                            "{\"asInt\":\"9223372036854775807\"},"
                            "{\"asDouble\":\"2.5\"},"
                            "{\"asDouble\":3,"
                            "\"attributes\":[{\"key\":\"n\",\"value\":{\"intValue\":10}},"
                            "{\"key\":\"s\",\"value\":{\"intValue\":\"-010\"}}]}");
    run_t t;
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 6);
    assert_int_equal(t.b.samples.n, 6);
    tn_sample_t *s = t.b.samples.items;
    assert_sample(&s[0], "g", 42, VEC_TS_MS, 1, "service", "svc");
    assert_sample(&s[1], "g", 42, VEC_TS_MS, 1, "service", "svc");
    assert_string_equal(s[0].sid, s[1].sid);
    assert_null(s[0].unit);
    assert_sample(&s[2], "g", -7, NOW, 1, NULL, NULL); /* no timestamp: now */
    assert_sample(&s[3], "g", 9223372036854775807.0, NOW, 1, NULL, NULL);
    assert_sample(&s[4], "g", 2.5, NOW, 1, NULL, NULL);
    assert_sample(&s[5], "g", 3, NOW, 3, "n", "10");
    assert_string_equal(slabel(&s[5], "s"), "-10");
    done(&t);
    free(body);
}

static void test_metrics_nan_infinity(void **state)
{
    char *body = gauge_body("{\"asDouble\":\"NaN\"},{\"asDouble\":\"Infinity\"},"
                            "{\"asDouble\":\"-Infinity\"},{\"asDouble\":\"nan\"},"
                            "{\"asDouble\":\"inf\"},{\"asDouble\":\" 1\"},{\"asDouble\":\"0x10\"},"
                            "{\"asDouble\":\"1e999\"},{\"asDouble\":true}");
    run_t t;
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 3);
    assert_int_equal(t.rep.rejected, 6);
    assert_true(isnan(t.b.samples.items[0].value));
    assert_true(isinf(t.b.samples.items[1].value) && t.b.samples.items[1].value > 0);
    assert_true(isinf(t.b.samples.items[2].value) && t.b.samples.items[2].value < 0);
    assert_non_null(strstr(errors_of(&t),
                           "{\"index\":3,\"error\":\"resourceMetrics[0].scopeMetrics[0]."
                           "metrics[0].gauge.dataPoints[3]: asDouble is not a number\"}"));
    done(&t);
    free(body);
}

static void test_metrics_partial_success(void **state)
{
    char *body = gauge_body("{\"asDouble\":1},"
                            "{\"asDouble\":2,\"timeUnixNano\":\"yesterday\"},"
                            "{\"asDouble\":3},"
                            "{\"asInt\":\"12x\"},"
                            "{\"asDouble\":5}");
    run_t t;
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.b.samples.n, 3);
    assert_int_equal(t.rep.accepted, 3);
    assert_int_equal(t.rep.rejected, 2);
    assert_true(t.b.samples.items[0].value == 1);
    assert_true(t.b.samples.items[1].value == 3);
    assert_true(t.b.samples.items[2].value == 5);
    assert_string_equal(
        errors_of(&t),
        "[{\"index\":1,\"error\":\"resourceMetrics[0].scopeMetrics[0].metrics[0].gauge."
        "dataPoints[1]: timeUnixNano is not a number\"},"
        "{\"index\":3,\"error\":\"resourceMetrics[0].scopeMetrics[0].metrics[0].gauge."
        "dataPoints[3]: asInt is not an integer\"}]");

    tn_buf_t out;
    tn_buf_init(&out);
    assert_int_equal(tn_otlp_partial_success_json("metrics", &t.rep, &out), 0);
    assert_string_equal(
        out.data,
        "{\"partialSuccess\":{\"rejectedDataPoints\":\"2\",\"errorMessage\":\"2 data points "
        "rejected: resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1]: "
        "timeUnixNano is not a number; resourceMetrics[0].scopeMetrics[0].metrics[0].gauge."
        "dataPoints[3]: asInt is not an integer\"}}");
    tn_buf_deinit(&out);
    done(&t);
    free(body);
}

static void test_metrics_skipped_points(void **state)
{
    /* no value, NO_RECORDED_VALUE flag, both values (rejected), not an object (rejected) */
    char *body = gauge_body("{\"timeUnixNano\":\"1\"},{\"asDouble\":1,\"flags\":1},"
                            "{\"asDouble\":1,\"flags\":\"2\"},{\"asDouble\":1,\"asInt\":\"1\"},7,"
                            "{\"asDouble\":1,\"flags\":-1}");
    run_t t;
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.b.samples.n, 1);
    assert_int_equal(t.rep.accepted, 3);
    assert_int_equal(t.rep.rejected, 3);
    assert_non_null(strstr(errors_of(&t), "dataPoints[3]: both asDouble and asInt are set"));
    assert_non_null(strstr(errors_of(&t), "dataPoints[4]: data point must be an object"));
    assert_non_null(strstr(errors_of(&t), "dataPoints[5]: flags is not a number"));
    done(&t);
    free(body);
}

static void test_metrics_histogram_summary(void **state)
{
    const char *body =
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
        "{\"name\":\"http.server.duration\",\"unit\":\"ms\",\"histogram\":{\"dataPoints\":["
        "{\"count\":\"10\",\"sum\":\"123.5\",\"bucketCounts\":[\"1\",2,\"3\",\"4\"],"
        "\"explicitBounds\":[0.005,0.1,1e6],\"timeUnixNano\":\"2000000000\"},"
        "{\"count\":5},"                                              /* no buckets: only +Inf */
        "{\"bucketCounts\":[1,2],\"explicitBounds\":[1,2]},"          /* wrong count: rejected */
        "{\"bucketCounts\":[1,2,3],\"explicitBounds\":[2,1]},"        /* not increasing */
        "{\"bucketCounts\":[1,2],\"explicitBounds\":[\"Infinity\"]}," /* not finite */
        "{\"bucketCounts\":[1,\"-2\"],\"explicitBounds\":[1]}"        /* negative count */
        "]}},"
        "{\"name\":\"rpc.latency\",\"summary\":{\"dataPoints\":[{\"count\":\"4\",\"sum\":8,"
        "\"quantileValues\":[{\"quantile\":0.5,\"value\":1.5},{\"quantile\":0.99,\"value\":"
        "\"NaN\"},{\"value\":0.1}]},"
        "{\"quantileValues\":[{\"quantile\":2,\"value\":1}]}]}},"
        "{\"name\":\"9lives\",\"exponentialHistogram\":{\"dataPoints\":[{\"count\":7}]}}"
        "]}]}]}";
    run_t t;
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 4);
    assert_int_equal(t.rep.rejected, 5);
    tn_sample_t *s = t.b.samples.items;
    assert_int_equal(t.b.samples.n, 6 + 2 + 5 + 1);
    assert_sample(&s[0], "http_server_duration_count", 10, 2000, 0, NULL, NULL);
    assert_string_equal(s[0].unit, "ms");
    assert_sample(&s[1], "http_server_duration_sum", 123.5, 2000, 0, NULL, NULL);
    assert_sample(&s[2], "http_server_duration_bucket", 1, 2000, 1, "le", "0.005");
    assert_sample(&s[3], "http_server_duration_bucket", 3, 2000, 1, "le", "0.1");
    assert_sample(&s[4], "http_server_duration_bucket", 6, 2000, 1, "le", "1e+06");
    assert_sample(&s[5], "http_server_duration_bucket", 10, 2000, 1, "le", "+Inf");
    assert_sample(&s[6], "http_server_duration_count", 5, NOW, 0, NULL, NULL);
    assert_sample(&s[7], "http_server_duration_bucket", 5, NOW, 1, "le", "+Inf");
    assert_sample(&s[8], "rpc_latency_count", 4, NOW, 0, NULL, NULL);
    assert_sample(&s[9], "rpc_latency_sum", 8, NOW, 0, NULL, NULL);
    assert_sample(&s[10], "rpc_latency", 1.5, NOW, 1, "quantile", "0.5");
    assert_sample(&s[11], "rpc_latency", NAN, NOW, 1, "quantile", "0.99");
    assert_sample(&s[12], "rpc_latency", 0.1, NOW, 1, "quantile", "0");
    assert_sample(&s[13], "_9lives_count", 7, NOW, 0, NULL, NULL);
    const char *e = errors_of(&t);
    assert_non_null(strstr(e, "histogram.dataPoints[2]: bucketCounts has 2 entries for 2 "
                              "explicitBounds (want one more)"));
    assert_non_null(strstr(e, "histogram.dataPoints[3]: explicitBounds[1] is not above"));
    assert_non_null(strstr(e, "histogram.dataPoints[4]: explicitBounds[0] is not a finite"));
    assert_non_null(strstr(e, "histogram.dataPoints[5]: bucketCounts[1] is not a number"));
    assert_non_null(strstr(e, "metrics[1].summary.dataPoints[1]: quantileValues[0].quantile "
                              "must be between 0 and 1"));
    done(&t);
}

static void test_metrics_names_units(void **state)
{
    char longname[300];
    memset(longname, 'a', 257);
    longname[257] = '\0';
    char body[2048];
    snprintf(body, sizeof body,
             "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
             "{\"name\":\"a.b-c/d:e\",\"unit\":\"By\",\"sum\":{\"dataPoints\":[{\"asInt\":1}]}},"
             "{\"name\":\"\",\"gauge\":{\"dataPoints\":[{\"asInt\":1},{\"asInt\":2}]}},"
             "{\"name\":\"%s\",\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}},"
             "{\"name\":\"u\",\"unit\":5,\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}},"
             "{\"name\":\"x\",\"newKind\":{\"dataPoints\":[{\"asInt\":1}]}},"
             "{\"name\":\"caf\\u00e9\",\"unit\":\"\",\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}}"
             "]}]}]}",
             longname);
    run_t t;
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 2);
    assert_int_equal(t.rep.rejected, 4);
    assert_int_equal(t.b.samples.n, 2);
    assert_string_equal(t.b.samples.items[0].name, "a_b_c_d:e");
    assert_string_equal(t.b.samples.items[0].unit, "By");
    assert_string_equal(t.b.samples.items[1].name, "caf__"); /* two UTF-8 bytes */
    assert_null(t.b.samples.items[1].unit);
    const char *e = errors_of(&t);
    assert_non_null(strstr(e, "metrics[1].gauge.dataPoints[0]: metric name is missing"));
    assert_non_null(strstr(e, "metrics[1].gauge.dataPoints[1]: metric name is missing"));
    assert_non_null(strstr(e, "metrics[2].gauge.dataPoints[0]: metric name is longer than"));
    assert_non_null(strstr(e, "metrics[3].gauge.dataPoints[0]: unit must be a string"));
    done(&t);
}

static void test_metrics_label_merge(void **state)
{
    const char *body =
        "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
        "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"from-resource\"}},"
        "{\"key\":\"region\",\"value\":{\"stringValue\":\"eu\"}}]},"
        "\"scopeMetrics\":[{\"scope\":{\"name\":\"lib\"},\"metrics\":[{\"name\":\"m\","
        "\"gauge\":{\"dataPoints\":["
        "{\"asInt\":1,\"attributes\":[{\"key\":\"host\",\"value\":{\"stringValue\":\"p\"}}]},"
        "{\"asInt\":2,\"attributes\":[{\"key\":\"a.b\",\"value\":{\"stringValue\":\"1\"}},"
        "{\"key\":\"a_b\",\"value\":{\"stringValue\":\"2\"}}]},"
        "{\"asInt\":3,\"attributes\":[{\"key\":\"\",\"value\":{\"stringValue\":\"1\"}}]},"
        "{\"asInt\":4,\"attributes\":[{\"key\":\"e\",\"value\":{}},{\"key\":\"f\"},"
        "{\"key\":\"b\",\"value\":{\"bytesValue\":\"AAEC\"}},"
        "{\"key\":\"d\",\"value\":{\"doubleValue\":0.1}},"
        "{\"key\":\"le\",\"value\":{\"boolValue\":false}}]},"
        "{\"asInt\":5,\"attributes\":[{\"key\":\"x\",\"value\":{\"stringValue\":\"1\","
        "\"intValue\":1}}]},"
        "{\"asInt\":6,\"attributes\":{\"key\":\"x\"}},"
        "{\"asInt\":7,\"attributes\":[{\"value\":{\"stringValue\":\"1\"}}]},"
        "{\"asInt\":8,\"attributes\":[{\"key\":\"x\",\"value\":{\"intValue\":1.5}}]}"
        "]}}]}]},"
        /* a resource whose attributes clash: every point under it is rejected */
        "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
        "\"a\"}},{\"key\":\"service_name\",\"value\":{\"stringValue\":\"b\"}}]},"
        "\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\",\"gauge\":{\"dataPoints\":["
        "{\"asInt\":1},{\"asInt\":2}]}}]}]}]}";
    run_t t;
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 2);
    assert_int_equal(t.rep.rejected, 8);
    tn_sample_t *s = t.b.samples.items;
    assert_int_equal(t.b.samples.n, 2);
    /* the point's host wins over the resource's host.name */
    assert_sample(&s[0], "m", 1, NOW, 2, "host", "p");
    assert_string_equal(slabel(&s[0], "region"), "eu");
    assert_sample(&s[1], "m", 4, NOW, 7, "host", "from-resource");
    assert_string_equal(slabel(&s[1], "e"), "");
    assert_string_equal(slabel(&s[1], "f"), "");
    assert_string_equal(slabel(&s[1], "b"), "AAEC");
    assert_string_equal(slabel(&s[1], "d"), "0.1");
    assert_string_equal(slabel(&s[1], "le"), "false");
    const char *e = errors_of(&t);
    assert_non_null(strstr(e, "dataPoints[1]: duplicate label 'a_b'"));
    assert_non_null(strstr(e, "dataPoints[2]: attributes[0]: empty label name"));
    assert_non_null(strstr(e, "dataPoints[4]: attributes[0] 'x': value has both stringValue "
                              "and intValue"));
    assert_non_null(strstr(e, "dataPoints[5]: attributes must be an array"));
    assert_non_null(strstr(e, "dataPoints[6]: attributes[0] must be an object with a string "
                              "'key'"));
    assert_non_null(strstr(e, "dataPoints[7]: attributes[0] 'x': intValue must be an integer"));
    assert_non_null(strstr(e, "resourceMetrics[1].scopeMetrics[0].metrics[0].gauge."
                              "dataPoints[1]: resource: duplicate label 'service'"));
    done(&t);
}

static void test_metrics_max_items(void **state)
{
    size_t len;
    char *body = read_vector("metrics.json", &len);
    run_t t;
    run_n(&t, tn_parse_otlp_metrics, body, len, 8);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.b.samples.n, 8);
    done(&t);

    /* one over: nothing is kept, the report is untouched */
    run_n(&t, tn_parse_otlp_metrics, body, len, 7);
    assert_int_equal(t.rc, TN_ETOOBIG);
    assert_int_equal(t.b.samples.n, 0);
    assert_int_equal(t.rep.accepted, 0);
    assert_int_equal(t.rep.rejected, 0);
    assert_string_equal(fatal_of(&t), "too many records in one request (limit 7)");
    done(&t);
    free(body);

    /* a failed call leaves what an earlier call appended in place */
    tn_batch_t b;
    tn_batch_init(&b);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    tn_parse_opts_t o = {.now_ms = NOW, .max_items = 2};
    char *ok = gauge_body("{\"asInt\":1},{\"asInt\":\"x\"}");
    char *big = gauge_body("{\"asInt\":1},{\"asInt\":\"y\"},{\"asInt\":2},{\"asInt\":3}");
    assert_int_equal(tn_parse_otlp_metrics(ok, strlen(ok), &o, &b, &rep, &fatal), 0);
    char *before = strdup(rep.errors.data);
    assert_int_equal(tn_parse_otlp_metrics(big, strlen(big), &o, &b, &rep, &fatal), TN_ETOOBIG);
    assert_int_equal(b.samples.n, 1);
    assert_int_equal(rep.accepted, 1);
    assert_int_equal(rep.rejected, 1);
    assert_string_equal(rep.errors.data, before);
    free(before);
    free(ok);
    free(big);
    tn_batch_deinit(&b);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
}

/* ---- logs ------------------------------------------------------------------------------- */

static void test_logs_severity_time_body(void **state)
{
    char *body = logs_body(
        "{\"severityNumber\":1},{\"severityNumber\":5},{\"severityNumber\":9},"
        "{\"severityNumber\":13},{\"severityNumber\":17},{\"severityNumber\":21},"
        "{\"severityNumber\":24},{\"severityNumber\":0},{\"severityNumber\":25},"
        "{\"severityText\":\"Foo\",\"severityNumber\":18},{\"severityText\":\"WARNING\","
        "\"severityNumber\":1},"
        "{\"observedTimeUnixNano\":\"1544712660300999999\",\"body\":{\"intValue\":\"5\"}},"
        "{\"timeUnixNano\":0,\"observedTimeUnixNano\":\"3000000\",\"body\":{\"kvlistValue\":"
        "{\"values\":[{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":1},"
        "{\"doubleValue\":\"NaN\"},{\"boolValue\":true},{},{\"kvlistValue\":{}}]}}},"
        "{\"key\":\"b\"}]}}},"
        "{\"body\":{\"stringValue\":\"line\\nwith \\\"quotes\\\"\"}},"
        "{\"severityNumber\":\"9\"},{\"severityText\":9},{\"body\":\"plain\"},"
        /* the proto's names too, as the OpenTelemetry Collector accepts them */
        "{\"severityNumber\":\"SEVERITY_NUMBER_WARN2\"},{\"severityNumber\":\"SEVERITY_NUMBER_"
        "FATAL4\"},"
        "{\"severityNumber\":\"SEVERITY_NUMBER_UNSPECIFIED\"},{\"severityNumber\":\"SEVERITY_"
        "NUMBER_WARN5\"},"
        "{\"severityNumber\":\"INFO\"}");
    run_t t;
    run(&t, tn_parse_otlp_logs, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 17);
    assert_int_equal(t.rep.rejected, 5);
    assert_int_equal(t.b.nlogs, 17);
    assert_string_equal(t.b.logs[14].severity, "warn");
    assert_string_equal(t.b.logs[15].severity, "fatal");
    assert_string_equal(t.b.logs[16].severity, "");
    const char *sev[] = {"trace", "debug", "info", "warn",  "error", "fatal",
                         "fatal", "",      "",     "error", "warn",  ""};
    for (size_t i = 0; i < 12; i++)
        assert_string_equal(t.b.logs[i].severity, sev[i]);
    assert_int_equal(t.b.logs[0].ts_ms, NOW);
    assert_string_equal(t.b.logs[0].body, "");
    assert_string_equal(t.b.logs[0].trace_id, "");
    assert_string_equal(t.b.logs[0].span_id, "");
    assert_int_equal(t.b.logs[0].labels.n, 0);
    assert_int_equal(t.b.logs[11].ts_ms, VEC_TS_MS);
    assert_string_equal(t.b.logs[11].body, "5");
    assert_int_equal(t.b.logs[12].ts_ms, 3);
    assert_string_equal(t.b.logs[12].body, "{\"a\":[1,\"NaN\",true,null,{}],\"b\":null}");
    assert_string_equal(t.b.logs[13].body, "line\nwith \"quotes\"");
    const char *e = errors_of(&t);
    assert_non_null(strstr(e, "logRecords[14]: severityNumber must be an integer or a "
                              "SeverityNumber name"));
    assert_non_null(strstr(e, "logRecords[20]: severityNumber must be"));
    assert_non_null(strstr(e, "logRecords[21]: severityNumber must be"));
    assert_non_null(strstr(e, "logRecords[15]: severityText must be a string"));
    assert_non_null(strstr(e, "logRecords[16]: body: value must be an object"));
    done(&t);
    free(body);
}

static void test_logs_ids(void **state)
{
    char *body = logs_body(
        "{\"traceId\":\"5b8efff798038103D269B633813FC60C\",\"spanId\":\"EEE19b7ec3c1b174\"},"
        "{\"traceId\":\"\",\"spanId\":\"\"},"
        "{\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"0000000000000000\"},"
        "{\"traceId\":\"5b8efff798038103d269b633813fc60\"},"
        "{\"traceId\":\"zz8efff798038103d269b633813fc60c\"},"
        "{\"spanId\":\"eee19b7ec3c1b17g\"},{\"spanId\":12}");
    run_t t;
    run(&t, tn_parse_otlp_logs, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 3);
    assert_int_equal(t.rep.rejected, 4);
    assert_string_equal(t.b.logs[0].trace_id, "5b8efff798038103d269b633813fc60c");
    assert_string_equal(t.b.logs[0].span_id, "eee19b7ec3c1b174");
    for (int i = 1; i < 3; i++) {
        assert_string_equal(t.b.logs[i].trace_id, "");
        assert_string_equal(t.b.logs[i].span_id, "");
    }
    const char *e = errors_of(&t);
    assert_non_null(strstr(e, "logRecords[3]: traceId must be 32 hex digits, not all zero"));
    assert_non_null(strstr(e, "logRecords[4]: traceId must be 32 hex digits"));
    assert_non_null(strstr(e, "logRecords[5]: spanId must be 16 hex digits"));
    assert_non_null(strstr(e, "logRecords[6]: spanId must be 16 hex digits"));
    done(&t);
    free(body);
}

/* ---- traces ----------------------------------------------------------------------------- */

static void test_traces_kinds_status(void **state)
{
    char *body = spans_body(
        "{" SPAN_OK "},{" SPAN_OK ",\"kind\":1},{" SPAN_OK ",\"kind\":2},{" SPAN_OK
        ",\"kind\":3},{" SPAN_OK ",\"kind\":4},{" SPAN_OK ",\"kind\":5,\"status\":{\"code\":2,"
        "\"message\":\"boom\"}},{" SPAN_OK ",\"status\":{\"code\":1}},"
        /* the proto's names too, as the OpenTelemetry Collector accepts them */
        "{" SPAN_OK ",\"kind\":\"SPAN_KIND_SERVER\",\"status\":{\"code\":\"STATUS_CODE_ERROR\"}},"
        "{" SPAN_OK ",\"kind\":\"SPAN_KIND_CONSUMER\",\"status\":{\"code\":\"STATUS_CODE_OK\"}},"
        "{" SPAN_OK ",\"kind\":6},{" SPAN_OK ",\"kind\":\"SPAN_KIND_SERVERX\"},{" SPAN_OK
        ",\"status\":{\"code\":\"2\"}},{" SPAN_OK ",\"name\":7},{" SPAN_OK
        ",\"kind\":\"server\"},{" SPAN_OK ",\"kind\":\"SPAN_KIND_\"},{" SPAN_OK
        ",\"status\":{\"code\":\"ERROR\"}}");
    run_t t;
    run(&t, tn_parse_otlp_traces, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 9);
    assert_int_equal(t.rep.rejected, 7);
    const char *kinds[] = {"unspecified", "internal",    "server", "client",  "producer",
                           "consumer",    "unspecified", "server", "consumer"};
    for (int i = 0; i < 9; i++) {
        tn_span_t *s = &t.b.spans[i];
        assert_string_equal(s->kind, kinds[i]);
        assert_int_equal(s->error, i == 5 || i == 7);
        assert_string_equal(s->name, "");
        assert_string_equal(s->service, "svc");
        assert_string_equal(s->parent_id, "");
        assert_int_equal(s->start_us, 1000000);
        assert_int_equal(s->duration_us, 2000);
    }
    const char *e = errors_of(&t);
    assert_non_null(strstr(e, "spans[9]: kind must be an integer from 0 to 5 or a SpanKind name"));
    assert_non_null(strstr(e, "spans[10]: kind must be an integer from 0 to 5"));
    assert_non_null(strstr(e, "spans[11]: status must be an object with an integer code or a "
                              "StatusCode name"));
    assert_non_null(strstr(e, "spans[12]: name must be a string"));
    assert_non_null(strstr(e, "spans[13]: kind must be"));
    assert_non_null(strstr(e, "spans[14]: kind must be"));
    assert_non_null(strstr(e, "spans[15]: status must be"));
    done(&t);
    free(body);
}

static void test_traces_partial_success(void **state)
{
    char *body = spans_body(
        "{" SPAN_OK ",\"name\":\"a\"},"
        "{\"spanId\":\"eee19b7ec3c1b174\",\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\"},"
        "{" SPAN_OK ",\"name\":\"b\",\"parentSpanId\":\"AAAAAAAAAAAAAAAA\"},"
        "{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
        "\"startTimeUnixNano\":\"2000\",\"endTimeUnixNano\":\"1000\"},"
        "{" SPAN_OK ",\"name\":\"c\",\"parentSpanId\":\"0000000000000000\"}");
    run_t t;
    run(&t, tn_parse_otlp_traces, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.b.nspans, 3);
    assert_int_equal(t.rep.accepted, 3);
    assert_int_equal(t.rep.rejected, 2);
    assert_string_equal(t.b.spans[0].name, "a");
    assert_string_equal(t.b.spans[1].name, "b");
    assert_string_equal(t.b.spans[1].parent_id, "aaaaaaaaaaaaaaaa");
    assert_string_equal(t.b.spans[2].name, "c");
    assert_string_equal(t.b.spans[2].parent_id, "");
    assert_string_equal(errors_of(&t),
                        "[{\"index\":1,\"error\":\"resourceSpans[0].scopeSpans[0].spans[1]: "
                        "traceId is missing\"},{\"index\":3,\"error\":\"resourceSpans[0]."
                        "scopeSpans[0].spans[3]: endTimeUnixNano is before startTimeUnixNano\"}]");
    tn_buf_t out;
    tn_buf_init(&out);
    assert_int_equal(tn_otlp_partial_success_json("traces", &t.rep, &out), 0);
    assert_string_equal(out.data,
                        "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"2 spans "
                        "rejected: resourceSpans[0].scopeSpans[0].spans[1]: traceId is missing; "
                        "resourceSpans[0].scopeSpans[0].spans[3]: endTimeUnixNano is before "
                        "startTimeUnixNano\"}}");
    tn_buf_deinit(&out);
    done(&t);
    free(body);
}

static void test_traces_bad_ids_times(void **state)
{
    char *body = spans_body(
        "{\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"eee19b7ec3c1b174\","
        "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\"},"
        "{\"traceId\":\"5b8efff798038103d269b633813fc60c\","
        "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\"},"
        "{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
        "\"endTimeUnixNano\":\"2\"},"
        "{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
        "\"startTimeUnixNano\":\"-1\",\"endTimeUnixNano\":\"2\"},"
        "{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
        "\"startTimeUnixNano\":\"18446744073709551616\",\"endTimeUnixNano\":\"2\"},"
        "{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
        "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"18446744073709551615\"},"
        "{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
        "\"startTimeUnixNano\":1.5e9,\"endTimeUnixNano\":2e9},"
        "{" SPAN_OK ",\"parentSpanId\":\"xyz\"}");
    run_t t;
    run(&t, tn_parse_otlp_traces, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 2);
    assert_int_equal(t.rep.rejected, 6);
    assert_int_equal(t.b.spans[0].start_us, 0);
    assert_int_equal(t.b.spans[0].duration_us, 18446744073709551LL);
    assert_int_equal(t.b.spans[1].start_us, 1500000);
    assert_int_equal(t.b.spans[1].duration_us, 500000);
    const char *e = errors_of(&t);
    assert_non_null(strstr(e, "spans[0]: traceId must be 32 hex digits, not all zero"));
    assert_non_null(strstr(e, "spans[1]: spanId is missing"));
    assert_non_null(strstr(e, "spans[2]: startTimeUnixNano is missing"));
    assert_non_null(strstr(e, "spans[3]: startTimeUnixNano is not a number"));
    assert_non_null(strstr(e, "spans[4]: startTimeUnixNano is not a number"));
    assert_non_null(strstr(e, "spans[7]: parentSpanId must be 16 hex digits"));
    done(&t);
    free(body);
}

/* ---- whole-body failures and hostile input ---------------------------------------------- */

static void test_malformed_bodies(void **state)
{
    static const struct {
        const char *body;
        const char *fatal;
    } cases[] = {
        {"", "invalid JSON at line 1, column 0: "},
        {"{\"resourceMetrics\": [", "invalid JSON at line 1, column 21: "},
        {"{\"resourceMetrics\": []} x", "invalid JSON at line 1, column 25: "},
        {"{\"a\":1,\"a\":2}", "invalid JSON at line 1, column "},
        {"[]", "body must be a JSON object with a 'resourceMetrics' array"},
        {"\"x\"", "invalid JSON"},
        {"{\"resourceMetrics\":{}}", "resourceMetrics must be an array"},
        {"{\"resourceMetrics\":[1]}", "resourceMetrics[0] must be an object"},
        {"{\"resourceMetrics\":[{\"scopeMetrics\":3}]}",
         "resourceMetrics[0].scopeMetrics must be an array"},
        {"{\"resourceMetrics\":[{\"scopeMetrics\":[null]}]}",
         "resourceMetrics[0].scopeMetrics[0] must be an object"},
        {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[[]]}]}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0] must be an object"},
        {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":5}]}]}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge must be an object"},
        {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"dataPoints\":{}}}]}]"
         "}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints must be an array"},
        {"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\",\"gauge\":{},"
         "\"sum\":{}}]}]}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0] has both gauge and sum"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_t t;
        run(&t, tn_parse_otlp_metrics, cases[i].body);
        if (t.rc != TN_EINVAL) fail_msg("case %zu: rc %d", i, t.rc);
        if (strncmp(fatal_of(&t), cases[i].fatal, strlen(cases[i].fatal)))
            fail_msg("case %zu: fatal '%s'", i, fatal_of(&t));
        assert_int_equal(tn_batch_count(&t.b), 0);
        assert_int_equal(t.rep.accepted + t.rep.rejected, 0);
        done(&t);
    }
    /* the fatal error comes after good points: they are dropped again */
    run_t t;
    run(&t, tn_parse_otlp_logs,
        "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{},{}]}]},{\"scopeLogs\":5}]}");
    assert_int_equal(t.rc, TN_EINVAL);
    assert_string_equal(fatal_of(&t), "resourceLogs[1].scopeLogs must be an array");
    assert_int_equal(t.b.nlogs, 0);
    assert_int_equal(t.rep.accepted, 0);
    done(&t);
    run(&t, tn_parse_otlp_traces, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":true}]}]}");
    assert_int_equal(t.rc, TN_EINVAL);
    assert_string_equal(fatal_of(&t), "resourceSpans[0].scopeSpans[0].spans must be an array");
    done(&t);
}

static void test_empty_requests(void **state)
{
    const char *bodies[] = {"{}",
                            "{\"resourceMetrics\":null}",
                            "{\"resourceMetrics\":[]}",
                            "{\"resourceMetrics\":[{}]}",
                            "{\"resourceMetrics\":[{\"scopeMetrics\""
                            ":[{\"metrics\":[{\"name\":\"m\"}]}]}]}",
                            " {\"unknown\":{\"x\":[1,2]}} "};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        run_t t;
        run(&t, tn_parse_otlp_metrics, bodies[i]);
        assert_int_equal(t.rc, 0);
        assert_int_equal(tn_batch_count(&t.b), 0);
        assert_int_equal(t.rep.accepted + t.rep.rejected, 0);
        done(&t);
    }
}

static void test_truncated_vectors(void **state)
{
    const char *files[] = {"metrics.json", "logs.json", "trace.json"};
    parser_fn fns[] = {tn_parse_otlp_metrics, tn_parse_otlp_logs, tn_parse_otlp_traces};
    for (int f = 0; f < 3; f++) {
        size_t len;
        char *body = read_vector(files[f], &len);
        for (size_t cut = 0; cut < len - 1; cut += 7) {
            run_t t;
            run_n(&t, fns[f], body, cut, 1000);
            assert_int_equal(t.rc, TN_EINVAL);
            assert_non_null(strstr(fatal_of(&t), "invalid JSON at line"));
            assert_int_equal(tn_batch_count(&t.b), 0);
            done(&t);
        }
        free(body);
    }
}

static void test_hostile(void **state)
{
    /* deep nesting of the JSON itself: jansson refuses past 2048 levels */
    size_t n = 100000;
    char *deep = malloc(2 * n + 32);
    assert_non_null(deep);
    strcpy(deep, "{\"resourceMetrics\":");
    size_t off = strlen(deep);
    memset(deep + off, '[', n);
    memset(deep + off + n, ']', n);
    strcpy(deep + off + 2 * n, "}");
    run_t t;
    run(&t, tn_parse_otlp_metrics, deep);
    assert_int_equal(t.rc, TN_EINVAL);
    assert_non_null(strstr(fatal_of(&t), "invalid JSON"));
    done(&t);
    free(deep);

    /* a kvlist nested 40 levels: the record is rejected, its neighbours kept */
    tn_buf_t b;
    tn_buf_init(&b);
    tn_buf_puts(&b, "{},{\"body\":");
    for (int i = 0; i < 40; i++)
        tn_buf_puts(&b, "{\"kvlistValue\":{\"values\":[{\"key\":\"k\","
                        "\"value\":");
    tn_buf_puts(&b, "{\"stringValue\":\"x\"}");
    for (int i = 0; i < 40; i++)
        tn_buf_puts(&b, "}]}}");
    tn_buf_puts(&b, "},{}");
    char *body = logs_body(b.data);
    run(&t, tn_parse_otlp_logs, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 2);
    assert_int_equal(t.rep.rejected, 1);
    assert_non_null(strstr(errors_of(&t), "logRecords[1]: body: value nested deeper than 32"));
    done(&t);
    free(body);

    /* an attribute value over 4096 bytes; 100 attributes */
    tn_buf_reset(&b);
    tn_buf_puts(&b, "{\"asInt\":1,\"attributes\":[{\"key\":\"big\",\"value\":{\"stringValue\":\"");
    for (int i = 0; i < 4097; i++)
        tn_buf_puts(&b, "x");
    tn_buf_puts(&b, "\"}}]},{\"asInt\":2,\"attributes\":[");
    for (int i = 0; i < 100; i++)
        tn_buf_printf(&b, "%s{\"key\":\"k%d\",\"value\":{\"intValue\":%d}}", i ? "," : "", i, i);
    tn_buf_puts(&b,
                "]},{\"asInt\":3,\"attributes\":[{\"key\":\"ok\",\"value\":{\"stringValue\":\"");
    for (int i = 0; i < 4096; i++)
        tn_buf_puts(&b, "y");
    tn_buf_puts(&b, "\"}}]}");
    body = gauge_body(b.data);
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 1);
    assert_int_equal(t.rep.rejected, 2);
    assert_int_equal(strlen(slabel(&t.b.samples.items[0], "ok")), 4096);
    const char *e = errors_of(&t);
    assert_non_null(strstr(e, "dataPoints[0]: attributes[0]: label 'big' value is longer than "
                              "4096 bytes"));
    assert_non_null(strstr(e, "dataPoints[1]: attributes[64]: too many labels (limit 64)"));
    done(&t);
    free(body);
    tn_buf_deinit(&b);

    /* huge integers: beyond int64 as a JSON number is a JSON error for the whole body */
    body = gauge_body("{\"asInt\":\"9223372036854775808\"},{\"asInt\":\"-9223372036854775808\"},"
                      "{\"asInt\":\"+1\"},{\"asInt\":\"\"},{\"asInt\":1.0},{\"asInt\":1.5}");
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.accepted, 2);
    assert_int_equal(t.rep.rejected, 4);
    assert_true(t.b.samples.items[0].value == -9223372036854775808.0);
    assert_true(t.b.samples.items[1].value == 1);
    done(&t);
    free(body);
    body = gauge_body("{\"asInt\":99999999999999999999}");
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, TN_EINVAL);
    done(&t);
    free(body);
    /* NUL escaped in a string: refused by the JSON parser */
    body = gauge_body("{\"asInt\":1,\"attributes\":[{\"key\":\"a\",\"value\":{\"stringValue\":"
                      "\"x\\u0000y\"}}]}");
    run(&t, tn_parse_otlp_metrics, body);
    assert_int_equal(t.rc, TN_EINVAL);
    done(&t);
    free(body);
}

/* A NULL opts means now and no limit; a report reused over calls stays one JSON array. */
static void test_report_reuse(void **state)
{
    tn_batch_t b;
    tn_batch_init(&b);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    char *body = gauge_body("{\"asInt\":1},{\"asInt\":\"x\"}");
    int64_t t0 = tn_now_ms();
    for (int i = 0; i < 3; i++)
        assert_int_equal(tn_parse_otlp_metrics(body, strlen(body), NULL, &b, &rep, &fatal), 0);
    assert_true(b.samples.items[0].ts_ms >= t0 && b.samples.items[0].ts_ms <= tn_now_ms());
    assert_int_equal(rep.accepted, 3);
    assert_int_equal(rep.rejected, 3);
    json_t *a = json_loads(rep.errors.data, 0, NULL);
    assert_int_equal(json_array_size(a), 3);
    json_decref(a);
    free(body);
    tn_batch_deinit(&b);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
}

/* ---- partial success response ----------------------------------------------------------- */

static void test_partial_success_json(void **state)
{
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t out;
    tn_buf_init(&out);
    rep.accepted = 5;
    assert_int_equal(tn_otlp_partial_success_json("logs", &rep, &out), 0);
    assert_string_equal(out.data, "{}");
    tn_buf_reset(&out);
    assert_int_equal(tn_otlp_partial_success_json("events", &rep, &out), TN_EINVAL);
    assert_int_equal(tn_otlp_partial_success_json(NULL, &rep, &out), TN_EINVAL);
    assert_int_equal(out.len, 0);

    /* 25 rejected log records: 20 listed, "and 5 more" */
    char *recs = malloc(25 * 32);
    recs[0] = '\0';
    for (int i = 0; i < 25; i++)
        strcat(recs, i ? ",{\"spanId\":\"x\"}" : "{\"spanId\":\"x\"}");
    char *body = logs_body(recs);
    run_t t;
    run(&t, tn_parse_otlp_logs, body);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.rep.rejected, 25);
    json_t *a = json_loads(errors_of(&t), 0, NULL);
    assert_int_equal(json_array_size(a), 20);
    json_decref(a);
    assert_int_equal(tn_otlp_partial_success_json("logs", &t.rep, &out), 0);
    json_t *r = json_loads(out.data, 0, NULL);
    assert_non_null(r);
    json_t *ps = json_object_get(r, "partialSuccess");
    assert_string_equal(json_string_value(json_object_get(ps, "rejectedLogRecords")), "25");
    const char *msg = json_string_value(json_object_get(ps, "errorMessage"));
    assert_non_null(msg);
    assert_int_equal(strncmp(msg,
                             "25 log records rejected: resourceLogs[0].scopeLogs[0]."
                             "logRecords[0]: spanId must be 16 hex digits, not all zero; ",
                             100),
                     0);
    assert_non_null(strstr(msg, "logRecords[19]: spanId must be 16 hex digits, not all zero; "
                                "and 5 more"));
    assert_null(strstr(msg, "logRecords[20]"));
    json_decref(r);
    done(&t);
    free(body);
    free(recs);

    /* one rejected span: singular */
    rep.rejected = 1;
    tn_buf_reset(&out);
    assert_int_equal(tn_otlp_partial_success_json("traces", &rep, &out), 0);
    assert_string_equal(out.data,
                        "{\"partialSuccess\":{\"rejectedSpans\":\"1\",\"errorMessage\":\"1 span "
                        "rejected\"}}");
    tn_buf_deinit(&out);
    tn_ingest_report_deinit(&rep);
}

/* ---- gzip ------------------------------------------------------------------------------- */

static unsigned char *gz(const void *in, size_t len, int window_bits, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)len) + 64;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void test_gzip_round_trip(void **state)
{
    size_t len;
    char *body = read_vector("trace.json", &len);

    /* zlib format from compress() */
    uLongf zlen = compressBound((uLong)len);
    unsigned char *z = malloc(zlen);
    assert_int_equal(compress(z, &zlen, (const Bytef *)body, (uLong)len), Z_OK);
    char *out;
    size_t out_len;
    assert_int_equal(tn_gunzip((char *)z, zlen, 1 << 20, &out, &out_len), 0);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, body, len);
    assert_int_equal(out[out_len], '\0');
    /* and the result parses like the original */
    run_t t;
    run_n(&t, tn_parse_otlp_traces, out, out_len, 10);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.b.nspans, 1);
    done(&t);
    free(out);
    free(z);

    /* gzip format; the limit exactly at the size; one below */
    size_t glen;
    unsigned char *g = gz(body, len, 15 + 16, &glen);
    assert_int_equal(g[0], 0x1f);
    assert_int_equal(tn_gunzip((char *)g, glen, len, &out, &out_len), 0);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, body, len);
    free(out);
    assert_int_equal(tn_gunzip((char *)g, glen, len - 1, &out, &out_len), TN_ETOOBIG);
    assert_null(out);
    assert_int_equal(out_len, 0);

    /* two members back to back (cat a.gz b.gz) */
    unsigned char *two = malloc(2 * glen + 1);
    memcpy(two, g, glen);
    memcpy(two + glen, g, glen);
    assert_int_equal(tn_gunzip((char *)two, 2 * glen, 1 << 20, &out, &out_len), 0);
    assert_int_equal(out_len, 2 * len);
    assert_memory_equal(out + len, body, len);
    free(out);
    /* trailing garbage after the member */
    two[glen] = 'x';
    assert_int_equal(tn_gunzip((char *)two, glen + 1, 1 << 20, &out, &out_len), TN_EINVAL);
    two[glen] = 0x1f;
    assert_int_equal(tn_gunzip((char *)two, glen + 1, 1 << 20, &out, &out_len), TN_EINVAL);
    free(two);

    /* empty payload compressed */
    unsigned char *e = gz("", 0, 31, &glen);
    assert_int_equal(tn_gunzip((char *)e, glen, 0, &out, &out_len), 0);
    assert_int_equal(out_len, 0);
    assert_string_equal(out, "");
    free(out);
    free(e);
    free(g);
    free(body);
}

static void test_gzip_corrupt(void **state)
{
    size_t len, glen;
    char *body = read_vector("logs.json", &len);
    unsigned char *g = gz(body, len, 31, &glen);
    char *out = (char *)1;
    size_t out_len = 7;
    /* every truncation is an error */
    for (size_t cut = 0; cut < glen; cut++) {
        assert_int_equal(tn_gunzip((char *)g, cut, 1 << 20, &out, &out_len), TN_EINVAL);
        assert_null(out);
        assert_int_equal(out_len, 0);
    }
    /* a flipped byte in the data or the CRC */
    g[glen / 2] ^= 0x55;
    int rc = tn_gunzip((char *)g, glen, 1 << 20, &out, &out_len);
    assert_true(rc == TN_EINVAL);
    g[glen / 2] ^= 0x55;
    g[glen - 6] ^= 1; /* CRC32 */
    assert_int_equal(tn_gunzip((char *)g, glen, 1 << 20, &out, &out_len), TN_EINVAL);
    assert_int_equal(tn_gunzip("not gzip at all", 15, 1 << 20, &out, &out_len), TN_EINVAL);
    assert_int_equal(tn_gunzip(NULL, 0, 1 << 20, &out, &out_len), TN_EINVAL);
    free(g);
    free(body);
}

static void test_gzip_bomb(void **state)
{
    size_t n = 10 << 20;
    char *zeros = calloc(1, n);
    assert_non_null(zeros);
    size_t glen;
    unsigned char *g = gz(zeros, n, 31, &glen);
    free(zeros);
    assert_true(glen < 20000);
    char *out;
    size_t out_len;
    clock_t c0 = clock();
    assert_int_equal(tn_gunzip((char *)g, glen, 1 << 20, &out, &out_len), TN_ETOOBIG);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    assert_true(secs < 1.0);
    assert_null(out);
    /* the same with the room for it */
    assert_int_equal(tn_gunzip((char *)g, glen, n, &out, &out_len), 0);
    assert_int_equal(out_len, n);
    free(out);
    free(g);
}

/* The batch's own memory for packed samples (tn_batch_alloc): aligned blocks that do not
 * overlap, small ones sharing chunks, big ones in their own, all freed by tn_batch_deinit (the
 * sanitizer builds and valgrind see a leak or an overrun). */
static void test_batch_alloc(void **state)
{
    (void)state;
    tn_batch_t b;
    tn_batch_init(&b);
    enum { N = 3000 };
    static unsigned char *blocks[N];
    static size_t sizes[N];
    for (size_t i = 0; i < N; i++) {
        sizes[i] = i % 97 == 0 ? 20000 + i * 13 : 1 + (i * 37) % 300; /* some past a chunk's 1/4 */
        blocks[i] = tn_batch_alloc(&b, sizes[i]);
        assert_non_null(blocks[i]);
        assert_int_equal((uintptr_t)blocks[i] % 16, 0);
        memset(blocks[i], (int)(i & 0xff), sizes[i]);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            if (blocks[i][k] != (unsigned char)(i & 0xff)) fail_msg("block %zu overwritten", i);
    assert_null(tn_batch_alloc(&b, 0));
    tn_batch_deinit(&b);
    assert_null(b.chunks);
    tn_batch_deinit(&b); /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_alloc),
        cmocka_unit_test(test_vector_metrics),
        cmocka_unit_test(test_vector_logs),
        cmocka_unit_test(test_vector_traces),
        cmocka_unit_test(test_vectors_crossed),
        cmocka_unit_test(test_metrics_int_values),
        cmocka_unit_test(test_metrics_nan_infinity),
        cmocka_unit_test(test_metrics_partial_success),
        cmocka_unit_test(test_metrics_skipped_points),
        cmocka_unit_test(test_metrics_histogram_summary),
        cmocka_unit_test(test_metrics_names_units),
        cmocka_unit_test(test_metrics_label_merge),
        cmocka_unit_test(test_metrics_max_items),
        cmocka_unit_test(test_logs_severity_time_body),
        cmocka_unit_test(test_logs_ids),
        cmocka_unit_test(test_traces_kinds_status),
        cmocka_unit_test(test_traces_partial_success),
        cmocka_unit_test(test_traces_bad_ids_times),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_empty_requests),
        cmocka_unit_test(test_truncated_vectors),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_report_reuse),
        cmocka_unit_test(test_partial_success_json),
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_gzip_corrupt),
        cmocka_unit_test(test_gzip_bomb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
