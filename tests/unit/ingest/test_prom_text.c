/* test_prom_text.c - the Prometheus text 0.0.4 / OpenMetrics parser (ingest/prom_text.c) against
 * the upstream vectors in shared/vectors/prometheus, plus escapes, timestamps, rejected lines,
 * limits, hostile input and allocation failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../vectors.h"

#include "core/error.h"
#include "core/sample.h"
#include "ingest/prom_text.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL

/* ---- allocation failure injection (plain builds; sanitizers own malloc) ------------------- */

#include "../failalloc.h"

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct {
    tn_batch_t out;
    tn_ingest_report_t rep;
    tn_buf_t fatal;
    int rc;
} result_t;

static void res_free(result_t *r)
{
    tn_batch_deinit(&r->out);
    tn_ingest_report_deinit(&r->rep);
    tn_buf_deinit(&r->fatal);
}

static void parse_fmt(result_t *r, const char *body, size_t len, tn_prom_format_t fmt)
{
    tn_batch_init(&r->out);
    tn_ingest_report_init(&r->rep);
    tn_buf_init(&r->fatal);
    tn_parse_opts_t o = {NOW, 0};
    r->rc = tn_parse_prom_text_fmt(body, len, fmt, &o, &r->out, &r->rep, &r->fatal);
}

static void parse(result_t *r, const char *body)
{
    parse_fmt(r, body, strlen(body), TN_PROM_AUTO);
}

static char *read_vector(const char *name, size_t *len)
{
    char rel[512];
    snprintf(rel, sizeof rel, "prometheus/%s", name);
    return tn_test_read_vector(rel, len);
}

static void parse_vector(result_t *r, const char *name)
{
    size_t len;
    char *b = read_vector(name, &len);
    parse_fmt(r, b, len, TN_PROM_AUTO);
    free(b);
}

/* The sample with this name and these labels ("a=1,b=2", sorted), or NULL. */
static const tn_sample_t *find(const result_t *r, const char *name, const char *labels)
{
    for (size_t i = 0; i < r->out.samples.n; i++) {
        const tn_sample_t *s = &r->out.samples.items[i];
        if (strcmp(s->name, name) != 0) continue;
        char buf[8192] = "";
        size_t n = 0;
        for (size_t j = 0; j < s->nlabels; j++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=%s", j ? "," : "",
                                  s->labels[j].name, s->labels[j].value);
        if (strcmp(buf, labels) == 0) return s;
    }
    return NULL;
}

static const tn_sample_t *get(const result_t *r, const char *name, const char *labels)
{
    const tn_sample_t *s = find(r, name, labels);
    if (!s) fail_msg("no sample %s{%s}", name, labels);
    return s;
}

static void assert_value(const result_t *r, const char *name, const char *labels, double v)
{
    const tn_sample_t *s = get(r, name, labels);
    if (!(s->value == v)) fail_msg("%s{%s}: %.17g, want %.17g", name, labels, s->value, v);
}

static void assert_errors(const result_t *r, const char *want)
{
    assert_string_equal(r->rep.errors.data ? r->rep.errors.data : "", want);
}

/* Every accepted sample is canonical. */
static void assert_canonical(const result_t *r)
{
    for (size_t i = 0; i < r->out.samples.n; i++) {
        const tn_sample_t *s = &r->out.samples.items[i];
        assert_true(tn_metric_name_valid(s->name));
        assert_int_equal(strlen(s->sid), 16);
        for (size_t j = 0; j < s->nlabels; j++) {
            assert_true(tn_label_name_valid(s->labels[j].name));
            if (j) assert_true(strcmp(s->labels[j - 1].name, s->labels[j].name) < 0);
        }
    }
}

/* ---- the shared vectors ------------------------------------------------------------------- */

static void test_classic_example(void **state)
{
    (void)state;
    result_t r;
    parse_vector(&r, "exposition_formats_example_classic_0.0.4.txt");
    assert_int_equal(r.rc, 0);
    /* 20 sample lines; the "weird metric from before the epoch" has a negative timestamp */
    assert_int_equal(r.rep.accepted, 19);
    assert_int_equal(r.out.samples.n, 19);
    assert_int_equal(r.rep.rejected, 1);
    assert_errors(&r, "[{\"line\":13,\"error\":\"line 13: timestamp '-3982045' is before 1970\"}]");
    assert_canonical(&r);

    const tn_sample_t *s = get(&r, "http_requests_total", "code=200,method=post");
    assert_true(s->value == 1027);
    assert_int_equal(s->ts_ms, 1395066363000LL);
    assert_null(s->unit);
    s = get(&r, "http_requests_total", "code=400,method=post");
    assert_true(s->value == 3);
    assert_int_equal(s->ts_ms, 1395066363000LL);

    /* escaping in label values: \\ \" \n */
    s = get(&r, "msdos_file_access_time_seconds",
            "error=Cannot find file:\n\"FILE.TXT\",path=C:\\DIR\\FILE.TXT");
    assert_true(s->value == 1.458255915e9);
    assert_int_equal(s->ts_ms, NOW);

    s = get(&r, "metric_without_timestamp_and_labels", "");
    assert_true(s->value == 12.47);
    assert_int_equal(s->nlabels, 0);
    assert_int_equal(s->ts_ms, NOW);
    assert_null(find(&r, "something_weird", "problem=division by zero"));

    /* the histogram: one sample per bucket, le kept as text */
    static const struct {
        const char *le;
        double v;
    } buckets[] = {{"0.05", 24054}, {"0.1", 33444}, {"0.2", 100392},
                   {"0.5", 129389}, {"1", 133988},  {"+Inf", 144320}};
    for (size_t i = 0; i < 6; i++) {
        char l[64];
        snprintf(l, sizeof l, "le=%s", buckets[i].le);
        assert_value(&r, "http_request_duration_seconds_bucket", l, buckets[i].v);
    }
    assert_value(&r, "http_request_duration_seconds_sum", "", 53423);
    assert_value(&r, "http_request_duration_seconds_count", "", 144320);
    /* the summary */
    assert_value(&r, "rpc_duration_seconds", "quantile=0.01", 3102);
    assert_value(&r, "rpc_duration_seconds", "quantile=0.05", 3272);
    assert_value(&r, "rpc_duration_seconds", "quantile=0.5", 4773);
    assert_value(&r, "rpc_duration_seconds", "quantile=0.9", 9001);
    assert_value(&r, "rpc_duration_seconds", "quantile=0.99", 76656);
    assert_value(&r, "rpc_duration_seconds_sum", "", 1.7560473e+07);
    assert_value(&r, "rpc_duration_seconds_count", "", 2693);
    /* order is the order of the body */
    assert_string_equal(r.out.samples.items[0].name, "http_requests_total");
    assert_string_equal(r.out.samples.items[18].name, "rpc_duration_seconds_count");
    res_free(&r);

    /* the weird line itself, without its timestamp: +Inf */
    parse(&r, "something_weird{problem=\"division by zero\"} +Inf\n");
    assert_int_equal(r.rep.accepted, 1);
    s = get(&r, "something_weird", "problem=division by zero");
    assert_true(isinf(s->value) && s->value > 0);
    res_free(&r);
}

static void test_openmetrics_example(void **state)
{
    (void)state;
    result_t r;
    parse_vector(&r, "openmetrics_1.0_spec_complete_exposition_example.txt");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 8);
    assert_int_equal(r.rep.rejected, 0);
    assert_null(r.rep.errors.data);
    assert_canonical(&r);

    const char *v1 = "method=GET,path=/api/v1", *v2 = "method=POST,path=/api/v2";
    assert_value(&r, "acme_http_router_request_seconds_sum", v1, 9036.32);
    assert_value(&r, "acme_http_router_request_seconds_count", v1, 807283.0);
    assert_value(&r, "acme_http_router_request_seconds_created", v1, 1605281325.0);
    assert_value(&r, "acme_http_router_request_seconds_sum", v2, 479.3);
    assert_value(&r, "acme_http_router_request_seconds_count", v2, 34.0);
    assert_value(&r, "acme_http_router_request_seconds_created", v2, 1605281325.0);
    assert_value(&r, "go_goroutines", "", 69);
    assert_value(&r, "process_cpu_seconds_total", "", 4.20072246e+06);
    /* # UNIT applies to the family's samples */
    assert_string_equal(get(&r, "acme_http_router_request_seconds_created", v2)->unit, "seconds");
    assert_string_equal(get(&r, "acme_http_router_request_seconds_sum", v1)->unit, "seconds");
    assert_string_equal(get(&r, "process_cpu_seconds_total", "")->unit, "seconds");
    assert_null(get(&r, "go_goroutines", "")->unit);
    for (size_t i = 0; i < r.out.samples.n; i++)
        assert_int_equal(r.out.samples.items[i].ts_ms, NOW);
    res_free(&r);
}

static void test_omtestdata(void **state)
{
    (void)state;
    result_t r;
    parse_vector(&r, "omtestdata.txt");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 53);
    assert_int_equal(r.rep.rejected, 0);
    assert_canonical(&r);

    /* labels with empty values are no labels (Prometheus semantics) */
    const tn_sample_t *s = get(&r, "go_build_info", "");
    assert_true(s->value == 1.0);
    assert_int_equal(s->nlabels, 0);

    /* exemplars are ignored: the bucket keeps its value, no exemplar label, no exemplar ts */
    s = get(&r, "rpc_durations_histogram_seconds_bucket", "le=-0.0002899999999999998");
    assert_true(s->value == 3);
    assert_int_equal(s->nlabels, 1);
    assert_int_equal(s->ts_ms, NOW);
    assert_value(&r, "rpc_durations_histogram_seconds_bucket", "le=-0.0001899999999999998", 5);
    assert_value(&r, "rpc_durations_histogram_seconds_bucket", "le=1.0000000000000216e-05", 8);
    assert_value(&r, "rpc_durations_histogram_seconds_bucket", "le=0.0003100000000000002", 15);
    assert_value(&r, "rpc_durations_histogram_seconds_bucket", "le=+Inf", 15);
    assert_value(&r, "rpc_durations_histogram_seconds_sum", "", -8.452185437166741e-05);
    assert_int_equal(r.rep.accepted, r.out.samples.n);

    /* _created series are plain samples */
    size_t created = 0, buckets = 0;
    for (size_t i = 0; i < r.out.samples.n; i++) {
        const char *n = r.out.samples.items[i].name;
        size_t l = strlen(n);
        created += l > 8 && strcmp(n + l - 8, "_created") == 0;
        buckets += strcmp(n, "rpc_durations_histogram_seconds_bucket") == 0;
    }
    assert_int_equal(created, 9);
    assert_int_equal(buckets, 21);
    assert_value(&r, "promhttp_metric_handler_errors_created", "cause=encoding",
                 1.726839813016397e+09);
    assert_value(&r, "rpc_durations_seconds_created", "service=exponential",
                 1.7268398130168908e+09);
    assert_value(&r, "rpc_durations_seconds", "quantile=0.5,service=normal",
                 -5.066758674917046e-06);
    assert_value(&r, "rpc_requests_total", "service=uniform", 11.0);
    res_free(&r);
}

static void test_promtestdata(void **state)
{
    (void)state;
    result_t r;
    parse_vector(&r, "promtestdata.txt");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 410);
    assert_int_equal(r.rep.rejected, 0);
    assert_canonical(&r);
    size_t nans = 0;
    for (size_t i = 0; i < r.out.samples.n; i++)
        nans += isnan(r.out.samples.items[i].value) != 0;
    assert_int_equal(nans, 147);
    assert_value(&r, "go_gc_duration_seconds", "quantile=0", 4.9351e-05);
    assert_value(&r, "go_gc_duration_seconds", "quantile=0.25", 7.424100000000001e-05);
    assert_value(&r, "go_gc_duration_seconds_count", "", 99);
    assert_value(&r, "go_goroutines", "", 33);
    assert_value(&r, "go_memstats_last_gc_time_seconds", "", 1.4843955586166437e+09);
    assert_value(&r, "http_response_size_bytes_count", "handler=prometheus", 462);
    assert_value(&r, "prometheus_target_interval_length_seconds", "interval=50ms,quantile=0.05",
                 0.047306979000000006);
    assert_value(&r, "prometheus_target_interval_length_seconds_sum", "interval=50ms",
                 34.512091221999995);
    assert_true(isnan(
        get(&r, "http_request_duration_microseconds", "handler=alerts,quantile=0.99")->value));
    assert_string_equal(r.out.samples.items[409].name,
                        "prometheus_treecache_zookeeper_failures_total");
    /* every sample is its own series */
    for (size_t i = 1; i < r.out.samples.n; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(r.out.samples.items[i].sid, r.out.samples.items[j].sid);
    res_free(&r);
}

/* ---- syntax --------------------------------------------------------------------------------- */

static void test_escapes_and_label_syntax(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "a{x=\"back\\\\slash\",y=\"q\\\"uote\",z=\"new\\nline\"} 1\n"
              "b{x=\"tab\\tkept\"} 2\n"                         /* unknown escape: kept as is */
              "c{ x = \"1\" , y=\"2\", } 3\n"                   /* blanks, trailing comma */
              "d{} 4\n"                                         /* empty label set */
              "e{\"service.name\"=\"api\",hostname=\"h1\"} 5\n" /* quoted name, aliases */
              "f{x=\"caf\xc3\xa9 \xe2\x9b\x85\"} 6\n"           /* UTF-8 */
              "g{x=\"a,b}c{d=e\"} 7\n"                          /* separators inside quotes */
              ":colon:name 8\n");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(r.rep.accepted, 8);
    assert_canonical(&r);
    get(&r, "a", "x=back\\slash,y=q\"uote,z=new\nline");
    get(&r, "b", "x=tab\\tkept");
    get(&r, "c", "x=1,y=2");
    get(&r, "d", "");
    get(&r, "e", "host=h1,service=api");
    get(&r, "f", "x=caf\xc3\xa9 \xe2\x9b\x85");
    get(&r, "g", "x=a,b}c{d=e");
    get(&r, ":colon:name", "");
    res_free(&r);
}

static void test_values(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "v{i=\"1\"} NaN\nv{i=\"2\"} +Inf\nv{i=\"3\"} -Inf\nv{i=\"4\"} inf\n"
              "v{i=\"5\"} 1e3\nv{i=\"6\"} -0\nv{i=\"7\"} .5\nv{i=\"8\"} 0x1p3\n"
              "v{i=\"9\"} 1.7976931348623157e308\nv{i=\"10\"} 4.9e-324\n"
              "v{i=\"11\"} 0.1\nv{i=\"12\"} 123456789012345678901234567890\n"
              "v{i=\"13\"} +7\nv{i=\"14\"} Infinity\n");
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(r.rep.accepted, 14);
    assert_true(isnan(get(&r, "v", "i=1")->value));
    assert_true(get(&r, "v", "i=2")->value == INFINITY);
    assert_true(get(&r, "v", "i=3")->value == -INFINITY);
    assert_true(get(&r, "v", "i=4")->value == INFINITY);
    assert_value(&r, "v", "i=5", 1000);
    assert_true(get(&r, "v", "i=6")->value == 0 && signbit(get(&r, "v", "i=6")->value));
    assert_value(&r, "v", "i=7", 0.5);
    assert_value(&r, "v", "i=8", 8);
    assert_value(&r, "v", "i=9", 1.7976931348623157e308);
    assert_value(&r, "v", "i=10", 4.9e-324);
    assert_value(&r, "v", "i=11", 0.1);
    assert_value(&r, "v", "i=12", 123456789012345678901234567890.0);
    assert_value(&r, "v", "i=13", 7);
    assert_true(get(&r, "v", "i=14")->value == INFINITY);
    res_free(&r);

    parse(&r, "v 1_000\nv 1e400\nv nan1\nv 1.2.3\nv -\nv 0x\n");
    assert_int_equal(r.rep.accepted, 0);
    assert_int_equal(r.rep.rejected, 6);
    assert_errors(&r, "[{\"line\":1,\"error\":\"line 1: invalid value '1_000'\"},"
                      "{\"line\":2,\"error\":\"line 2: invalid value '1e400'\"},"
                      "{\"line\":3,\"error\":\"line 3: invalid value 'nan1'\"},"
                      "{\"line\":4,\"error\":\"line 4: invalid value '1.2.3'\"},"
                      "{\"line\":5,\"error\":\"line 5: invalid value '-'\"},"
                      "{\"line\":6,\"error\":\"line 6: invalid value '0x'\"}]");
    res_free(&r);
}

static void test_timestamps(void **state)
{
    (void)state;
    result_t r;
    /* text 0.0.4: integer milliseconds; a fraction or an exponent means seconds */
    const char *text = "a 1 1395066363000\nb 1 1520879607.789\nc 1 1.5e9\nd 1 0\ne 1   42   \n"
                       "f 1 253402300799999\n";
    parse_fmt(&r, text, strlen(text), TN_PROM_TEXT_004);
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(get(&r, "a", "")->ts_ms, 1395066363000LL);
    assert_int_equal(get(&r, "b", "")->ts_ms, 1520879607789LL);
    assert_int_equal(get(&r, "c", "")->ts_ms, 1500000000000LL);
    assert_int_equal(get(&r, "d", "")->ts_ms, 0);
    assert_int_equal(get(&r, "e", "")->ts_ms, 42);
    assert_int_equal(get(&r, "f", "")->ts_ms, 253402300799999LL);
    res_free(&r);

    /* OpenMetrics (detected by # EOF): seconds, kept to the millisecond */
    parse(&r, "a 1 1520879607\nb 1 1520879607.789\nc 1 1520879607.7899999\n"
              "d 1 1.5208796077e9 # {trace_id=\"x\"} 1 1520879607.1\n# EOF\n");
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(get(&r, "a", "")->ts_ms, 1520879607000LL);
    assert_int_equal(get(&r, "b", "")->ts_ms, 1520879607789LL);
    assert_int_equal(get(&r, "c", "")->ts_ms, 1520879607789LL);
    assert_int_equal(get(&r, "d", "")->ts_ms, 1520879607700LL);
    res_free(&r);

    /* the same body with the format forced */
    const char *om = "a 1 1520879607\n";
    parse_fmt(&r, om, strlen(om), TN_PROM_OPENMETRICS);
    assert_int_equal(get(&r, "a", "")->ts_ms, 1520879607000LL);
    res_free(&r);
    parse_fmt(&r, om, strlen(om), TN_PROM_AUTO);
    assert_int_equal(get(&r, "a", "")->ts_ms, 1520879607LL);
    res_free(&r);

    parse(&r, "a 1 -1\nb 1 99999999999999999999\nc 1 253402300800000\nd 1 12ab\n"
              "e 1 NaN\nf 1 1 2\n");
    assert_int_equal(r.rep.accepted, 0);
    assert_errors(&r, "[{\"line\":1,\"error\":\"line 1: timestamp '-1' is before 1970\"},"
                      "{\"line\":2,\"error\":\"line 2: timestamp '99999999999999999999' is out "
                      "of range\"},"
                      "{\"line\":3,\"error\":\"line 3: timestamp '253402300800000' is out of "
                      "range\"},"
                      "{\"line\":4,\"error\":\"line 4: invalid timestamp '12ab'\"},"
                      "{\"line\":5,\"error\":\"line 5: invalid timestamp 'NaN'\"},"
                      "{\"line\":6,\"error\":\"line 6: unexpected text after the sample '2'\"}]");
    res_free(&r);
}

static void test_rejected_lines(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "# HELP ok A good one.\n"            /* 1 */
              "# TYPE ok gauge\n"                  /* 2 */
              "ok{a=\"1\"} 1\n"                    /* 3 */
              "bad{1x=\"1\"} 1\n"                  /* 4 */
              "bad{a=\"1\",a=\"2\"} 1\n"           /* 5 */
              "bad{a=\"1\"\n"                      /* 6 */
              "bad{a=\"1} 1\n"                     /* 7 */
              "bad{a=1} 1\n"                       /* 8 */
              "bad{a\"1\"} 1\n"                    /* 9 */
              "bad{a=\"1\" b=\"2\"} 1\n"           /* 10 */
              "bad\n"                              /* 11 */
              "bad xyz\n"                          /* 12 */
              "1bad 1\n"                           /* 13 */
              "bad-name 1\n"                       /* 14 */
              "{a=\"1\"} 1\n"                      /* 15 */
              "# TYPE ok bogus\n"                  /* 16 */
              "# UNIT ok sec onds\n"               /* 17 */
              "# HELP\n"                           /* 18 */
              "# TYPE 0bad gauge\n"                /* 19 */
              "bad{host=\"a\",hostname=\"b\"} 1\n" /* 20 */
              "bad{__name__=\"x\"} 1\n"            /* 21 */
              "ok{a=\"2\"} 2\n");                  /* 22 */
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 2);
    assert_int_equal(r.rep.rejected, 18);
    assert_value(&r, "ok", "a=1", 1);
    assert_value(&r, "ok", "a=2", 2);
    assert_errors(&r, "[{\"line\":4,\"error\":\"line 4: invalid label name '1x'\"},"
                      "{\"line\":5,\"error\":\"line 5: duplicate label 'a'\"},"
                      "{\"line\":6,\"error\":\"line 6: unterminated label set\"},"
                      "{\"line\":7,\"error\":\"line 7: unterminated value of label 'a'\"},"
                      "{\"line\":8,\"error\":\"line 8: label 'a' needs a quoted value\"},"
                      "{\"line\":9,\"error\":\"line 9: expected '=' after label name 'a'\"},"
                      "{\"line\":10,\"error\":\"line 10: expected ',' or '}' in the label set\"},"
                      "{\"line\":11,\"error\":\"line 11: missing value\"},"
                      "{\"line\":12,\"error\":\"line 12: invalid value 'xyz'\"},"
                      "{\"line\":13,\"error\":\"line 13: invalid metric name '1bad'\"},"
                      "{\"line\":14,\"error\":\"line 14: invalid metric name 'bad-name'\"},"
                      "{\"line\":15,\"error\":\"line 15: missing metric name\"},"
                      "{\"line\":16,\"error\":\"line 16: unknown metric type 'bogus'\"},"
                      "{\"line\":17,\"error\":\"line 17: invalid unit 'sec onds'\"},"
                      "{\"line\":18,\"error\":\"line 18: HELP line without a metric name\"},"
                      "{\"line\":19,\"error\":\"line 19: invalid metric name '0bad'\"},"
                      "{\"line\":20,\"error\":\"line 20: duplicate label 'host'\"},"
                      "{\"line\":21,\"error\":\"line 21: invalid label name '__name__'\"}]");
    res_free(&r);
}

static void test_comments_blank_crlf_eof(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "\r\n   \n# a comment\n#HELP x not metadata\n  # indented comment\n"
              "\ta{b=\"c\"}\t2\t\r\n"
              "b 3\r\n"
              "# EOF\r\n");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.rejected, 0);
    assert_value(&r, "a", "b=c", 2);
    assert_value(&r, "b", "", 3);
    res_free(&r);

    /* the last line without '\n' */
    parse(&r, "a 1\nb 2");
    assert_int_equal(r.rep.accepted, 2);
    res_free(&r);

    /* anything after # EOF is reported once, and not parsed */
    const char *after = "a 1\n# EOF\n\nb 2\nc 3\n";
    parse_fmt(&r, after, strlen(after), TN_PROM_OPENMETRICS);
    assert_int_equal(r.rep.accepted, 1);
    assert_int_equal(r.rep.rejected, 1);
    assert_errors(&r, "[{\"line\":4,\"error\":\"line 4: content after # EOF\"}]");
    res_free(&r);

    /* empty bodies are fine */
    parse(&r, "");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.samples.n, 0);
    res_free(&r);
}

static void test_units(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "# TYPE req_seconds histogram\n# UNIT req_seconds seconds\n"
              "req_seconds_bucket{le=\"1\"} 1\nreq_seconds_count 1\nreq_seconds_sum 1\n"
              "req_seconds_other 1\nreq_seconds 1\n"
              "# TYPE other gauge\nother 1\nreq_seconds_sum 2\n# EOF\n");
    assert_int_equal(r.rep.accepted, 7);
    assert_string_equal(get(&r, "req_seconds_bucket", "le=1")->unit, "seconds");
    assert_string_equal(get(&r, "req_seconds_count", "")->unit, "seconds");
    assert_string_equal(get(&r, "req_seconds", "")->unit, "seconds");
    assert_string_equal(r.out.samples.items[2].unit, "seconds");
    assert_null(get(&r, "req_seconds_other", "")->unit);
    assert_null(get(&r, "other", "")->unit);
    assert_null(r.out.samples.items[6].unit); /* after another family's metadata */
    res_free(&r);
}

/* ---- limits and hostile input --------------------------------------------------------------- */

static void test_max_items(void **state)
{
    (void)state;
    tn_batch_t out;
    tn_batch_init(&out);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    tn_parse_opts_t o = {NOW, 2};
    const char *two = "a 1\nb 2\n", *three = "a 1\nb 2\nc 3\n";
    assert_int_equal(tn_parse_prom_text(two, strlen(two), &o, &out, &rep, &fatal), 0);
    assert_int_equal(out.samples.n, 2);
    assert_int_equal(tn_parse_prom_text(three, strlen(three), &o, &out, &rep, &fatal), TN_ETOOBIG);
    assert_int_equal(out.samples.n, 2); /* the earlier samples stay, this call's are gone */
    assert_int_equal(rep.accepted, 2);
    assert_string_equal(fatal.data, "more than 2 samples in one request (line 3)");
    tn_batch_deinit(&out);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
}

static void test_report_limits_and_reuse(void **state)
{
    (void)state;
    tn_buf_t body;
    tn_buf_init(&body);
    for (int i = 0; i < 25; i++)
        tn_buf_printf(&body, "bad{ 1\n");
    tn_buf_puts(&body, "ok 1\n");
    tn_batch_t out;
    tn_batch_init(&out);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    assert_int_equal(tn_parse_prom_text(body.data, body.len, NULL, &out, &rep, &fatal), 0);
    assert_int_equal(rep.rejected, 25);
    assert_int_equal(rep.accepted, 1);
    json_error_t je;
    json_t *j = json_loads(rep.errors.data, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 20);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 19), "line")), 20);
    json_decref(j);
    /* a second call into the same report keeps the JSON well formed */
    tn_ingest_report_deinit(&rep);
    tn_ingest_report_init(&rep);
    assert_int_equal(tn_parse_prom_text("x{ 1\n", 5, NULL, &out, &rep, &fatal), 0);
    assert_int_equal(tn_parse_prom_text("ok 1\ny{ 1\n", 10, NULL, &out, &rep, &fatal), 0);
    j = json_loads(rep.errors.data, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "line")), 2);
    json_decref(j);
    /* no options: the timestamp is now */
    assert_true(out.samples.items[out.samples.n - 1].ts_ms > NOW);
    tn_batch_deinit(&out);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
    tn_buf_deinit(&body);
}

static void test_hostile(void **state)
{
    (void)state;
    result_t r;
    /* NUL bytes: in a name, a label value, a value; the good lines around them stay */
    static const char nul[] = "ok 1\nb\0ad 1\nbad{a=\"x\0y\"} 1\nbad 1\0\nok{z=\"1\"} 2\n";
    parse_fmt(&r, nul, sizeof nul - 1, TN_PROM_AUTO);
    assert_int_equal(r.rep.accepted, 2);
    assert_int_equal(r.rep.rejected, 3);
    assert_errors(&r, "[{\"line\":2,\"error\":\"line 2: invalid metric name 'b?ad'\"},"
                      "{\"line\":3,\"error\":\"line 3: label 'a' value contains a NUL byte\"},"
                      "{\"line\":4,\"error\":\"line 4: invalid value '1?'\"}]");
    res_free(&r);

    /* invalid UTF-8 in a label value; and in a name (the report stays valid UTF-8) */
    parse(&r, "bad{a=\"\xff\xfe\"} 1\nbad{\"\xc3\x28\"=\"1\"} 1\nb\xe2\x82 1\n");
    assert_int_equal(r.rep.rejected, 3);
    assert_errors(&r, "[{\"line\":1,\"error\":\"line 1: label 'a' value is not valid UTF-8\"},"
                      "{\"line\":2,\"error\":\"line 2: invalid label name '?('\"},"
                      "{\"line\":3,\"error\":\"line 3: invalid metric name 'b?"
                      "?'\"}]");
    res_free(&r);

    /* bytes that only look like UTF-8 (a surrogate, past U+10FFFF): the report stays JSON */
    parse(&r, "\xed\xb5\xb5 1\nb\xf4\x92\x81\x91 1\n");
    assert_int_equal(r.rep.rejected, 2);
    assert_errors(&r, "[{\"line\":1,\"error\":\"line 1: invalid metric name '?"
                      "?"
                      "?'\"},"
                      "{\"line\":2,\"error\":\"line 2: invalid metric name 'b?"
                      "?"
                      "?"
                      "?'\"}]");
    json_error_t je;
    json_t *j = json_loads(r.rep.errors.data, 0, &je);
    assert_non_null(j);
    json_decref(j);
    res_free(&r);

    /* a 1 MB line: a label value over the limit; and a 1 MB garbage line */
    size_t big = 1 << 20;
    char *b = malloc(big + 64);
    assert_non_null(b);
    memcpy(b, "big{a=\"", 7);
    memset(b + 7, 'x', big);
    memcpy(b + 7 + big, "\"} 1\nok 1\n", 10);
    parse_fmt(&r, b, big + 17, TN_PROM_AUTO);
    assert_int_equal(r.rep.accepted, 1);
    assert_errors(&r,
                  "[{\"line\":1,\"error\":\"line 1: label 'a' value is longer than 4096 bytes\"}]");
    res_free(&r);
    memset(b, '{', big);
    parse_fmt(&r, b, big, TN_PROM_AUTO);
    assert_int_equal(r.rep.rejected, 1);
    res_free(&r);
    free(b);

    /* too many labels, a name too long */
    tn_buf_t body;
    tn_buf_init(&body);
    tn_buf_puts(&body, "many{");
    for (int i = 0; i < 100; i++)
        tn_buf_printf(&body, "l%d=\"v\",", i);
    tn_buf_puts(&body, "} 1\n");
    for (int i = 0; i < 300; i++)
        tn_buf_puts(&body, "n");
    tn_buf_puts(&body, " 1\nlong{");
    for (int i = 0; i < 300; i++)
        tn_buf_puts(&body, "l");
    tn_buf_puts(&body, "=\"v\"} 1\n");
    parse_fmt(&r, body.data, body.len, TN_PROM_AUTO);
    assert_int_equal(r.rep.accepted, 0);
    assert_int_equal(r.rep.rejected, 3);
    assert_non_null(strstr(r.rep.errors.data, "line 1: too many labels (limit 64)"));
    assert_non_null(strstr(r.rep.errors.data, "line 2: invalid metric name 'nnnn"));
    assert_non_null(strstr(r.rep.errors.data, "line 3: invalid label name 'llll"));
    res_free(&r);
    tn_buf_deinit(&body);

    /* a truncated body: every prefix of a real scrape parses without harm */
    size_t len;
    char *v = read_vector("omtestdata.txt", &len);
    for (size_t n = 0; n <= len; n += 7) {
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, v, n);
        parse_fmt(&r, copy, n, TN_PROM_AUTO);
        assert_int_equal(r.rc, 0);
        assert_canonical(&r);
        assert_int_equal(r.rep.accepted, r.out.samples.n);
        res_free(&r);
        free(copy);
    }
    free(v);
}

static void test_allocation_failures(void **state)
{
    (void)state;
#ifdef TN_TEST_NO_MALLOC_HOOK
    skip();
#else
    size_t len;
    char *v = read_vector("omtestdata.txt", &len);
    const char *extra = "esc{a=\"x\\\\y\",\"q.n\"=\"\\\"\"} 1\nbad{ 1\nbad 1 -5\n";
    tn_buf_t body;
    tn_buf_init(&body);
    tn_buf_puts(&body, extra);
    tn_buf_append(&body, v, len);
    free(v);
    int ok = 0, nomem = 0;
    for (long k = 0;; k++) {
        result_t r;
        tn_batch_init(&r.out);
        tn_ingest_report_init(&r.rep);
        tn_buf_init(&r.fatal);
        long live0 = g_live;
        g_allocs = 0;
        g_fail_at = k;
        r.rc = tn_parse_prom_text(body.data, body.len, NULL, &r.out, &r.rep, &r.fatal);
        g_fail_at = -1;
        int done = g_allocs <= k; /* the failure was never reached */
        if (r.rc == TN_ENOMEM) {
            nomem++;
            assert_int_equal(r.out.samples.n, 0);
            assert_int_equal(r.rep.accepted, 0);
        } else {
            assert_int_equal(r.rc, 0);
            ok++;
        }
        res_free(&r);
        assert_int_equal(g_live, live0 - 0); /* nothing leaked */
        if (done) {
            assert_int_equal(r.rc, 0);
            break;
        }
    }
    assert_true(nomem > 100);
    assert_true(ok >= 1);
    tn_buf_deinit(&body);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic_example),
        cmocka_unit_test(test_openmetrics_example),
        cmocka_unit_test(test_omtestdata),
        cmocka_unit_test(test_promtestdata),
        cmocka_unit_test(test_escapes_and_label_syntax),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_rejected_lines),
        cmocka_unit_test(test_comments_blank_crlf_eof),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_max_items),
        cmocka_unit_test(test_report_limits_and_reuse),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
