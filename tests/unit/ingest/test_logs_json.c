/* test_logs_json.c - JSON log records from Fluentd and Logstash (ingest/logs_json.c): the
 * fluent-logger-golang and Forward-protocol vectors in ../shared/vectors/fluentd, arrays, single
 * objects, NDJSON, field mapping, and hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../vectors.h"

#include "core/error.h"
#include "core/sample.h"
#include "ingest/logs_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    r->rc = tn_parse_logs_json(body, len, &o, &r->b, &r->rep, &r->fatal);
    if (r->rc == 0) {
        assert_int_equal(r->rep.accepted, r->b.nlogs);
        if (r->rep.errors.len) {
            json_t *j = json_loadb(r->rep.errors.data, r->rep.errors.len, 0, NULL);
            assert_non_null(j);
            json_decref(j);
        }
    } else {
        assert_int_equal(r->b.nlogs, 0);
        assert_int_equal(r->rep.errors.len, 0);
        assert_true(r->fatal.len > 0);
    }
    for (size_t i = 0; i < r->b.nlogs; i++) {
        const tn_log_t *l = &r->b.logs[i];
        assert_non_null(l->body);
        assert_non_null(l->severity);
        assert_true(l->labels.n <= TN_LOG_MAX_LABELS);
        for (size_t j = 0; j < l->labels.n; j++) {
            assert_true(tn_label_name_valid(l->labels.items[j].name));
            if (j) assert_true(strcmp(l->labels.items[j - 1].name, l->labels.items[j].name) < 0);
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

static const char *labels_str(const tn_labels_t *l)
{
    static char buf[16384];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->n; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=%s", i ? "," : "", l->items[i].name,
                              l->items[i].value);
    return buf;
}

static void assert_log(const tn_log_t *l, int64_t ts, const char *sev, const char *body,
                       const char *trace, const char *span, const char *labels)
{
    assert_int_equal(l->ts_ms, ts);
    assert_string_equal(l->severity, sev);
    assert_string_equal(l->body, body);
    assert_string_equal(l->trace_id, trace);
    assert_string_equal(l->span_id, span);
    assert_string_equal(labels_str(&l->labels), labels);
}

/* ---- vectors ---------------------------------------------------------------------------- */

/* fluent-logger-golang: the JSON form of a Message-mode entry, and the decoded msgpack cases
 * rebuilt as [tag, time, record, option] (EventTime as fractional seconds). */
static void test_fluent_logger_golang(void **state)
{
    (void)state;
    size_t len;
    char *text = read_vector("fluentd/fluent-logger-golang_msgpack_vectors.json", &len);
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    res_t r;
    run(json_string_value(json_object_get(v, "json_mode_example")), 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_log(&r.b.logs[0], 1267867237000LL, "", "{\"foo\":\"bar\",\"hoge\":\"hoge\"}", "", "",
               "foo=bar,hoge=hoge,tag=tag");
    res_free(&r);

    json_t *cases = json_object_get(v, "cases");
    assert_int_equal(json_array_size(cases), 4);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        json_t *d = json_object_get(c, "decoded");
        json_t *t = json_object_get(d, "time");
        json_t *et = json_object_get(t, "EventTime");
        double secs = et ? (double)json_integer_value(json_object_get(et, "sec")) +
                               (double)json_integer_value(json_object_get(et, "nsec")) / 1e9
                         : (double)json_integer_value(t);
        json_t *msg = json_pack("[O f O O]", json_object_get(d, "tag"), secs,
                                json_object_get(d, "record"), json_object_get(d, "option"));
        char *body = json_dumps(msg, JSON_COMPACT);
        run(body, 10, &r);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.rep.accepted, 1);
        const tn_log_t *l = &r.b.logs[0];
        assert_int_equal(l->ts_ms, 1267867237000LL); /* nsec 256 is below a millisecond */
        assert_string_equal(tn_labels_get(&l->labels, "tag"), "tag");
        assert_string_equal(tn_labels_get(&l->labels, "foo"), "bar");
        if (json_object_size(json_object_get(d, "record")) == 2)
            assert_string_equal(labels_str(&l->labels), "foo=bar,hoge=hoge,tag=tag");
        else
            assert_string_equal(l->body, "{\"foo\":\"bar\"}");
        res_free(&r);
        free(body);
        json_decref(msg);
    }
    json_decref(v);
    free(text);
}

/* The Forward protocol spec's Message and Forward examples in JSON notation. */
static void test_forward_spec(void **state)
{
    (void)state;
    size_t len;
    char *text = read_vector("fluentd/forward_spec_v1_examples.json", &len);
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    char *msg = json_dumps(json_object_get(v, "Message"), 0);
    res_t r;
    run(msg, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_log(&r.b.logs[0], 1441588984000LL, "", "bar", "", "", "tag=tag.name");
    res_free(&r);
    free(msg);

    char *fwd = json_dumps(json_object_get(v, "Forward"), JSON_INDENT(2));
    run(fwd, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 3);
    assert_log(&r.b.logs[0], 1441588984000LL, "", "foo", "", "", "tag=tag.name");
    assert_log(&r.b.logs[1], 1441588985000LL, "", "bar", "", "", "tag=tag.name");
    assert_log(&r.b.logs[2], 1441588986000LL, "", "baz", "", "", "tag=tag.name");
    res_free(&r);
    run(fwd, 2, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    assert_string_equal(r.fatal.data, "too many records in one request (3, limit 2)");
    res_free(&r);
    free(fwd);
    json_decref(v);
    free(text);

    run("[\"t\",[[1441588984,{\"message\":\"a\"}],[\"x\",{}],{},[-1,{}],[1441588985,5]]]", 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_string_equal(
        errors(&r),
        "[{\"index\":1,\"error\":\"forward entry must be [time, record]\"},"
        "{\"index\":2,\"error\":\"forward entry must be [time, record]\"},"
        "{\"index\":3,\"error\":\"forward time: timestamp must be a finite, non-negative number\"},"
        "{\"index\":4,\"error\":\"record must be a JSON object\"}]");
    res_free(&r);
    run("[\"t\",\"x\"]", 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_string_equal(r.fatal.data,
                        "an array starting with a string must be a Fluentd forward message: "
                        "[tag, time, record, option] or [tag, [[time, record], ...], option]");
    res_free(&r);
}

/* Datadog's log intake examples are plain JSON arrays of records too. */
static void test_datadog_log_vectors(void **state)
{
    (void)state;
    size_t len;
    char *body = read_vector("datadog/logs_v2_submit.json", &len);
    res_t r;
    run_len(body, len, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_log(&r.b.logs[0], NOW, "",
               "2019-11-19T14:37:58,995 INFO [process.name][20081] Hello World", "", "",
               "ddsource=nginx,ddtags=env:staging,version:5.1,host=i-012345678,"
               "service=payment");
    res_free(&r);
    free(body);
    body = read_vector("datadog/logs_v2_submit_with_status.json", &len);
    run_len(body, len, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_log(&r.b.logs[0], NOW, "info",
               "2019-11-19T14:37:58,995 INFO [process.name][20081] Hello World", "", "",
               "ddsource=nginx,ddtags=env:staging,version:5.1,host=i-012345678,service=payment");
    res_free(&r);
    free(body);
}

/* ---- forms ------------------------------------------------------------------------------ */

static void test_logstash_forms(void **state)
{
    (void)state;
    /* Logstash http output, format json: one ECS event */
    const char *ecs =
        "{\"@timestamp\":\"2024-05-01T10:00:00.500Z\",\"@version\":\"1\",\"message\":\"GET /\","
        "\"host\":{\"name\":\"web1\",\"ip\":[\"10.0.0.1\"],\"os\":{\"name\":\"linux\"}},"
        "\"log\":{\"level\":\"WARNING\",\"file\":{\"path\":\"/var/log/x\"},\"logger\":\"app\"},"
        "\"event\":{\"original\":\"GET / "
        "200\"},\"trace\":{\"id\":\"0AF7651916CD43DD8448EB211C80319C\"},"
        "\"span\":{\"id\":\"b7ad6b7169203331\"},\"http\":{\"response\":{\"status_code\":200}},"
        "\"tags\":[\"a\"],\"status\":200}";
    res_t r;
    run(ecs, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_log(&r.b.logs[0], 1714557600500LL, "warn", "GET /", "0af7651916cd43dd8448eb211c80319c",
               "b7ad6b7169203331", "event_original=GET / 200,host=web1,log_logger=app,status=200");
    res_free(&r);

    /* json_batch: an array; ndjson: lines */
    run("[{\"message\":\"a\",\"@timestamp\":\"2024-05-01T10:00:00Z\"},"
        " {\"message\":\"b\",\"@timestamp\":1714557601}]",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_log(&r.b.logs[0], 1714557600000LL, "", "a", "", "", "");
    assert_log(&r.b.logs[1], 1714557601000LL, "", "b", "", "", "");
    res_free(&r);
    run("{\"message\":\"a\",\"@timestamp\":\"2024-05-01T10:00:00Z\"}\r\n"
        "\r\n"
        "   \n"
        "{\"message\":\"b\",\"level\":\"error\"}\n"
        "{\"message\":\"c\"",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 2);
    assert_log(&r.b.logs[1], NOW, "error", "b", "", "", "");
    assert_string_equal(errors(&r), "[{\"line\":5,\"error\":\"invalid JSON at column 14: '}' "
                                    "expected near end of file\"}]");
    res_free(&r);
}

static void test_fluentd_forms(void **state)
{
    (void)state;
    res_t r;
    /* out_http json_array with docker records; time injected as a float */
    run("[{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":1714557600.123456,"
        "\"container_name\":\"/web\",\"kubernetes\":{\"pod_name\":\"web-1\",\"namespace_name\":"
        "\"prod\",\"labels\":{\"app\":\"web\"}}},"
        " {\"msg\":\"m\",\"ts\":\"2024-05-01T10:00:00+02:00\",\"lvl\":\"dbg\"},"
        " {\"MESSAGE\":\"journald\",\"PRIORITY\":\"6\"}]",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_log(&r.b.logs[0], 1714557600123LL, "", "hello\n", "", "",
               "container_name=/web,kubernetes_namespace_name=prod,kubernetes_pod_name=web-1,"
               "stream=stdout");
    assert_log(&r.b.logs[1], 1714550400000LL, "debug", "m", "", "", "");
    assert_log(&r.b.logs[2], NOW, "", "journald", "", "", "PRIORITY=6");
    res_free(&r);

    /* out_http ndjson (the default) */
    run("{\"message\":\"x\",\"level\":50}\n{\"message\":\"y\",\"level\":3}\n", 10, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.b.logs[0].severity, "error");
    assert_string_equal(r.b.logs[1].severity, "error");
    res_free(&r);
}

/* ---- fields ----------------------------------------------------------------------------- */

static void test_fields(void **state)
{
    (void)state;
    res_t r;
    run("[{\"message\":42,\"level\":\"verbose\",\"trace_id\":\"xyz\",\"span_id\":\"00000000000000"
        "00\",\"traceId\":\"4BF92F3577B34DA6A3CE929D0E0E4736\",\"spanId\":\"00F067AA0BA902B7\","
        "\"n\":0.1,\"big\":1e300,\"i\":-7,\"t\":true,\"f\":false,\"z\":null,\"a\":[1],"
        "\"o\":{\"x\":{\"y\":1},\"s\":\"v\"}},"
        " {\"log\":{\"level\":\"info\"},\"level\":null,\"severity\":\"CRIT\"},"
        " {\"timestamp\":1700000000123456,\"time\":\"ignored: timestamp comes first\"},"
        " {\"ts\":1700000000123456789},"
        " {\"status\":\"Warning\",\"message\":\"s\"},"
        " {\"status\":\"active\",\"message\":\"s\"}]",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 6);
    /* no string body field: the whole record; unknown level stays a label; the first valid id */
    assert_string_equal(r.b.logs[0].severity, "");
    assert_string_equal(r.b.logs[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(r.b.logs[0].span_id, "00f067aa0ba902b7");
    assert_string_equal(labels_str(&r.b.logs[0].labels),
                        "big=1e+300,f=false,i=-7,level=verbose,message=42,n=0.1,o_s=v,"
                        "span_id=0000000000000000,t=true,trace_id=xyz");
    assert_non_null(strstr(r.b.logs[0].body, "{\"message\":42,\"level\":\"verbose\","));
    /* ECS log.level comes after the flat keys; a null level is skipped */
    assert_string_equal(r.b.logs[1].severity, "fatal");
    assert_string_equal(labels_str(&r.b.logs[1].labels), "log_level=info");
    assert_int_equal(r.b.logs[2].ts_ms, 1700000000123LL);
    assert_string_equal(labels_str(&r.b.logs[2].labels), "time=ignored: timestamp comes first");
    assert_int_equal(r.b.logs[3].ts_ms, 1700000000123LL);
    assert_string_equal(r.b.logs[4].severity, "warn");
    assert_string_equal(labels_str(&r.b.logs[4].labels), "");
    assert_string_equal(r.b.logs[5].severity, "");
    assert_string_equal(labels_str(&r.b.logs[5].labels), "status=active");
    res_free(&r);

    /* bad timestamps and bodies reject the record */
    run("[{\"time\":-1},{\"time\":1e300},{\"@timestamp\":\"soon\"},{\"ts\":{}},"
        "{\"message\":\"a\\u0000b\"},{\"timestamp\":\"1969-12-31T23:59:59Z\"},7,"
        "{\"timestamp\":\"9999-12-31T23:59:59Z\",\"message\":\"far\"}]",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_int_equal(r.b.logs[0].ts_ms, 253402300799000LL);
    assert_string_equal(
        errors(&r),
        "[{\"index\":0,\"error\":\"field 'time': timestamp must be a finite, non-negative "
        "number\"},"
        "{\"index\":1,\"error\":\"field 'time': timestamp is too far in the future\"},"
        "{\"index\":2,\"error\":\"field '@timestamp': invalid RFC 3339 timestamp 'soon'\"},"
        "{\"index\":3,\"error\":\"field 'ts' must be a number or an RFC 3339 string\"},"
        "{\"index\":4,\"error\":\"field 'message' contains a NUL byte\"},"
        "{\"index\":5,\"error\":\"field 'timestamp': timestamp '1969-12-31T23:59:59Z' is before "
        "1970\"},"
        "{\"index\":6,\"error\":\"record must be a JSON object\"}]");
    res_free(&r);
}

/* At most 32 labels; bad names, long or NUL values and repeats are dropped, not errors. */
static void test_label_limits(void **state)
{
    (void)state;
    char body[8192];
    size_t n = (size_t)snprintf(body, sizeof body,
                                "{\"message\":\"m\",\"__name__\":\"x\",\"\":\"e\",\"nul\":"
                                "\"a\\u0000\",\"host\":\"h1\",\"hostname\":\"h2\"");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, ",\"f%02d\":%d", i, i);
    snprintf(body + n, sizeof body - n, "}");
    res_t r;
    run(body, 10, &r);
    assert_int_equal(r.rc, 0);
    const tn_labels_t *l = &r.b.logs[0].labels;
    assert_int_equal(l->n, 32);
    assert_string_equal(tn_labels_get(l, "host"), "h1");
    assert_non_null(tn_labels_get(l, "f30"));
    assert_null(tn_labels_get(l, "f31"));
    assert_null(tn_labels_get(l, "nul"));
    res_free(&r);

    /* 1 MB message kept as the body; 1 MB label value dropped */
    size_t big = 1 << 20;
    char *b = malloc(2 * big + 100);
    assert_non_null(b);
    n = (size_t)snprintf(b, 100, "{\"message\":\"");
    memset(b + n, 'm', big);
    n += big;
    n += (size_t)snprintf(b + n, 100, "\",\"k\":\"");
    memset(b + n, 'v', big);
    n += big;
    snprintf(b + n, 100, "\",\"ok\":\"1\"}");
    run(b, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(strlen(r.b.logs[0].body), big);
    assert_string_equal(labels_str(&r.b.logs[0].labels), "ok=1");
    res_free(&r);
    free(b);
}

static void test_malformed_hostile(void **state)
{
    (void)state;
    res_t r;
    static const struct {
        const char *body, *fatal;
    } bad[] = {
        {"", "empty body"},
        {"\xEF\xBB\xBF \n", "empty body"},
        {"hello", "body must be JSON log records: an array, one object, or NDJSON"},
        {"42", "body must be JSON log records: an array, one object, or NDJSON"},
        {"[{\"message\":\"a\"},", "invalid JSON at line 1, column 17: ']' expected near end of "
                                  "file"},
        {"{\"message\":\"a\"", "invalid JSON at line 1, column 14: '}' expected near end of file"},
        {"[{\"n\":1e999}]", "invalid JSON at line 1, column 11: real number overflow near '1e999'"},
        {"{\n\"message\":\n", "line 1: invalid JSON at column 1: string or '}' expected near end "
                              "of file"},
        {"{x\n{y\n", "line 1: invalid JSON at column 2: string or '}' expected near 'x'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(bad[i].body, 10, &r);
        assert_int_equal(r.rc, TN_EINVAL);
        assert_string_equal(r.fatal.data, bad[i].fatal);
        res_free(&r);
    }
    run("[]", 10, &r);
    assert_int_equal(r.rc, 0);
    res_free(&r);
    run("\xEF\xBB\xBF{\"message\":\"bom\"}", 10, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.b.logs[0].body, "bom");
    res_free(&r);

    /* NDJSON: bad lines named by number, the rest kept; 1e999 on one line only hurts that line */
    run("{\"message\":\"1\"}\n{\"n\":1e999}\n[1]\n\"s\"\n{\"message\":\"5\"}", 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 2);
    assert_string_equal(errors(&r),
                        "[{\"line\":2,\"error\":\"invalid JSON at column 10: real number overflow "
                        "near '1e999'\"},"
                        "{\"line\":3,\"error\":\"record must be a JSON object\"},"
                        "{\"line\":4,\"error\":\"record must be a JSON object\"}]");
    res_free(&r);
    run("{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}\n", 2, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    assert_string_equal(r.fatal.data, "too many records in one request (3, limit 2)");
    res_free(&r);
    run("[{},{},{}]", 2, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    res_free(&r);
    run("{}", 0, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    res_free(&r);

    /* deep nesting: as a whole body, and on one NDJSON line */
    size_t depth = 100000;
    char *d = malloc(depth + 64);
    assert_non_null(d);
    memset(d, '[', depth);
    d[depth] = '\0';
    run(d, 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_non_null(strstr(r.fatal.data, "maximum parsing depth"));
    res_free(&r);
    strcpy(d, "{\"message\":\"ok\"}\n{\"a\":");
    memset(d + strlen(d), '[', depth - 30);
    d[depth - 8] = '\0';
    run(d, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_non_null(strstr(errors(&r), "maximum parsing depth"));
    res_free(&r);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fluent_logger_golang), cmocka_unit_test(test_forward_spec),
        cmocka_unit_test(test_datadog_log_vectors),  cmocka_unit_test(test_logstash_forms),
        cmocka_unit_test(test_fluentd_forms),        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_label_limits),         cmocka_unit_test(test_malformed_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
