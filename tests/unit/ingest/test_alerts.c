/* test_alerts.c - Alertmanager API and webhook, PagerDuty webhooks v3 and change events
 * (ingest/alerts.c), against the upstream vectors in ../shared/vectors and hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../vectors.h"

#include "core/error.h"
#include "core/sample.h"
#include "ingest/alerts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL

/* ---- helpers ---------------------------------------------------------------------------- */

typedef int (*parse_fn)(const char *, size_t, const tn_parse_opts_t *, tn_batch_t *,
                        tn_ingest_report_t *, tn_buf_t *);

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

/* Labels are canonical: valid names, sorted, unique. */
static void check_labels(const tn_labels_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        assert_true(tn_label_name_valid(l->items[i].name));
        if (i) assert_true(strcmp(l->items[i - 1].name, l->items[i].name) < 0);
    }
}

static void run_len(parse_fn fn, const char *body, size_t len, size_t max, res_t *r)
{
    tn_parse_opts_t o = {NOW, max};
    tn_batch_init(&r->b);
    tn_ingest_report_init(&r->rep);
    tn_buf_init(&r->fatal);
    r->rc = fn(body, len, &o, &r->b, &r->rep, &r->fatal);
    if (r->rc == 0) {
        assert_int_equal(r->rep.accepted, r->b.nevents);
        assert_int_equal(r->fatal.len, 0);
        if (r->rep.errors.len) { /* the report is valid JSON */
            json_t *j = json_loadb(r->rep.errors.data, r->rep.errors.len, 0, NULL);
            assert_non_null(j);
            assert_true(json_is_array(j));
            json_decref(j);
        }
    } else {
        assert_int_equal(r->b.nevents, 0);
        assert_true(r->fatal.len > 0);
    }
    for (size_t i = 0; i < r->b.nevents; i++) {
        const tn_event_t *e = &r->b.events[i];
        assert_true(e->type && *e->type && e->source && *e->source && e->status && e->title &&
                    e->fingerprint && *e->fingerprint);
        check_labels(&e->labels);
    }
}

static void run(parse_fn fn, const char *body, size_t max, res_t *r)
{
    run_len(fn, body, strlen(body), max, r);
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

/* The labels as "a=1,b=2". */
static const char *labels_str(const tn_labels_t *l)
{
    static char buf[8192];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->n; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=%s", i ? "," : "", l->items[i].name,
                              l->items[i].value);
    return buf;
}

/* data argument of assert_event: do not check */
static const char ANY[] = "<any>";

static void assert_event(const tn_event_t *e, const char *type, const char *source,
                         const char *status, int64_t ts, const char *title, const char *fp,
                         const char *labels, const char *data)
{
    assert_string_equal(e->type, type);
    assert_string_equal(e->source, source);
    assert_string_equal(e->status, status);
    assert_int_equal(e->ts_ms, ts);
    assert_string_equal(e->title, title);
    if (fp) assert_string_equal(e->fingerprint, fp);
    assert_string_equal(labels_str(&e->labels), labels);
    if (data == ANY)
        assert_non_null(e->data);
    else if (data)
        assert_string_equal(e->data, data);
    else
        assert_null(e->data);
}

/* A body of n '[' (hostile nesting). */
static char *deep(size_t n, char open)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, open, n);
    s[n] = '\0';
    return s;
}

/* {"labels":{"alertname":"A","x":"<n bytes>"}} as an array body. */
static char *big_label_alert(size_t n)
{
    static const char head[] = "[{\"labels\":{\"alertname\":\"A\",\"x\":\"";
    char *s = malloc(sizeof head + n + 8);
    assert_non_null(s);
    memcpy(s, head, sizeof head - 1);
    memset(s + sizeof head - 1, 'v', n);
    strcpy(s + sizeof head - 1 + n, "\"}}]");
    return s;
}

/* ---- Alertmanager API: vectors ---------------------------------------------------------- */

static void test_am_alerts_vector(void **state)
{
    (void)state;
    size_t len;
    char *body = read_vector("alertmanager/api_v2_postable_alerts_send_alerts_sh.json", &len);
    res_t r;
    run_len(tn_parse_am_alerts, body, len, 1000, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 6);
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(r.rep.errors.len, 0);
    assert_int_equal(r.b.nevents, 6);
    /* fingerprints: FNV-1a 64 over sorted name 0xff value 0xff (checked with an independent
     * implementation, and against prometheus/common's own vector in test_am_fingerprint) */
    assert_event(&r.b.events[0], "alert", "prometheus", "firing", NOW, "DiskRunningFull",
                 "8320f0af89d48747", "alertname=DiskRunningFull,dev=sda1,instance=example1",
                 "{\"annotations\":{\"info\":\"The disk sda1 is running full\",\"summary\":"
                 "\"please check the instance example1\"}}");
    assert_event(&r.b.events[1], "alert", "prometheus", "firing", NOW, "DiskRunningFull",
                 "e1d3beb1bb24a40c", "alertname=DiskRunningFull,dev=sda2,instance=example1",
                 "{\"annotations\":{\"info\":\"The disk sda2 is running full\",\"summary\":"
                 "\"please check the instance example1\",\"runbook\":\"the following link "
                 "http://test-url should be clickable\"}}");
    assert_event(&r.b.events[2], "alert", "prometheus", "firing", NOW, "DiskRunningFull",
                 "831ef0af89d40470", "alertname=DiskRunningFull,dev=sda1,instance=example2",
                 "{\"annotations\":{\"info\":\"The disk sda1 is running full\",\"summary\":"
                 "\"please check the instance example2\"}}");
    assert_event(&r.b.events[3], "alert", "prometheus", "firing", NOW, "DiskRunningFull",
                 "74eed9368316aaba", "alertname=DiskRunningFull,dev=sdb2,instance=example2",
                 "{\"annotations\":{\"info\":\"The disk sdb2 is running full\",\"summary\":"
                 "\"please check the instance example2\"}}");
    assert_event(&r.b.events[4], "alert", "prometheus", "firing", NOW, "DiskRunningFull",
                 "7666d3970f6e15cf",
                 "alertname=DiskRunningFull,dev=sda1,instance=example3,severity=critical", NULL);
    assert_event(&r.b.events[5], "alert", "prometheus", "firing", NOW, "DiskRunningFull",
                 "6543bc164be4f176",
                 "alertname=DiskRunningFull,dev=sda1,instance=example3,severity=warning", NULL);
    res_free(&r);

    /* truncated: the whole body is refused with a position */
    run_len(tn_parse_am_alerts, body, len / 2, 1000, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_non_null(strstr(r.fatal.data, "invalid JSON at line "));
    assert_non_null(strstr(r.fatal.data, ", column "));
    res_free(&r);

    /* max_items: 6 alerts */
    run_len(tn_parse_am_alerts, body, len, 5, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    assert_string_equal(r.fatal.data, "too many items in one request (6, limit 5)");
    res_free(&r);
    run_len(tn_parse_am_alerts, body, len, 6, &r);
    assert_int_equal(r.rc, 0);
    res_free(&r);
    free(body);
}

/* prometheus/common model: labelSetToFingerprint({"name":"garland, briggs","fear":"love is not
 * enough"}) = 5799056148416392346 = 0x507a62d79ee76c9a. */
static void test_am_fingerprint(void **state)
{
    (void)state;
    res_t r;
    run(tn_parse_am_alerts,
        "[{\"labels\":{\"name\":\"garland, briggs\",\"fear\":\"love is not enough\"}},"
        " {\"labels\":{\"fear\":\"love is not enough\",\"name\":\"garland, briggs\"},"
        "  \"annotations\":null}]",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.b.nevents, 2);
    assert_event(&r.b.events[0], "alert", "prometheus", "firing", NOW, "alert", "507a62d79ee76c9a",
                 "fear=love is not enough,name=garland, briggs", NULL);
    assert_string_equal(r.b.events[1].fingerprint, "507a62d79ee76c9a");
    res_free(&r);

    /* the fingerprint uses the raw names (as Alertmanager does), labels the normalized ones */
    run(tn_parse_am_alerts, "[{\"labels\":{\"hostname\":\"web1\",\"k8s.pod\":\"p\"}}]", 10, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(labels_str(&r.b.events[0].labels), "host=web1,k8s_pod=p");
    res_free(&r);
}

static void test_am_times(void **state)
{
    (void)state;
    res_t r;
    run(tn_parse_am_alerts,
        "[{\"labels\":{\"alertname\":\"Past\"},\"startsAt\":\"2023-11-14T22:00:00Z\","
        "  \"endsAt\":\"2023-11-14T22:10:00.250Z\",\"generatorURL\":\"http://prom/graph\"},"
        " {\"labels\":{\"alertname\":\"Future\"},\"startsAt\":\"2023-11-14T22:00:00+01:00\","
        "  \"endsAt\":\"2023-11-14T23:00:00Z\"},"
        " {\"labels\":{\"alertname\":\"Zero\"},\"startsAt\":\"2023-11-14T22:00:00Z\","
        "  \"endsAt\":\"0001-01-01T00:00:00Z\"},"
        " {\"labels\":{\"alertname\":\"Backwards\"},\"startsAt\":\"2023-11-14T22:00:00Z\","
        "  \"endsAt\":\"2023-11-14T21:00:00Z\"},"
        " {\"labels\":{\"alertname\":\"Far\"},\"startsAt\":\"9999-12-31T23:59:59.999Z\"},"
        " {\"labels\":{\"alertname\":\"Old\"},\"startsAt\":\"1969-12-31T23:59:59Z\"},"
        " {\"labels\":{\"alertname\":\"Num\"},\"startsAt\":1700000000},"
        " {\"labels\":{\"alertname\":\"Bad\"},\"endsAt\":\"yesterday\"},"
        " {\"labels\":{\"alertname\":\"Exact\"},\"endsAt\":\"2023-11-14T22:13:20Z\"}]",
        100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 5);
    assert_int_equal(r.rep.rejected, 4);
    /* NOW = 2023-11-14T22:13:20Z */
    assert_event(&r.b.events[0], "alert", "prometheus", "resolved", 1699999800250LL, "Past", NULL,
                 "alertname=Past",
                 "{\"generatorURL\":\"http://prom/graph\",\"startsAt\":\"2023-11-14T22:00:00Z\","
                 "\"endsAt\":\"2023-11-14T22:10:00.250Z\"}");
    assert_event(
        &r.b.events[1], "alert", "prometheus", "firing", 1699995600000LL, "Future", NULL,
        "alertname=Future",
        "{\"startsAt\":\"2023-11-14T22:00:00+01:00\",\"endsAt\":\"2023-11-14T23:00:00Z\"}");
    assert_string_equal(r.b.events[2].status, "firing");
    assert_int_equal(r.b.events[2].ts_ms, 1699999200000LL);
    assert_string_equal(r.b.events[3].title, "Far");
    assert_int_equal(r.b.events[3].ts_ms, 253402300799999LL);
    assert_string_equal(r.b.events[4].status, "resolved"); /* endsAt == now */
    assert_int_equal(r.b.events[4].ts_ms, NOW);
    assert_string_equal(
        errors(&r),
        "[{\"index\":3,\"error\":\"endsAt is before startsAt\"},"
        "{\"index\":5,\"error\":\"field 'startsAt': timestamp '1969-12-31T23:59:59Z' is before "
        "1970\"},"
        "{\"index\":6,\"error\":\"field 'startsAt' must be an RFC 3339 string\"},"
        "{\"index\":7,\"error\":\"field 'endsAt': invalid RFC 3339 timestamp 'yesterday'\"}]");
    res_free(&r);
}

static void test_am_partial_and_malformed(void **state)
{
    (void)state;
    res_t r;
    run(tn_parse_am_alerts,
        "[{\"labels\":{\"alertname\":\"Good\"}}, {\"labels\":{}}, 5, {\"annotations\":{}},"
        " {\"labels\":{\"a\":1}}, {\"labels\":[]}, {\"labels\":{\"a\":\"1\"},\"annotations\":"
        "{\"x\":2}}, {\"labels\":{\"a.b\":\"1\",\"a_b\":\"2\"}}, {\"labels\":{\"__name__\":\"x\"}},"
        " {\"labels\":{\"a\":\"1\"},\"generatorURL\":7}, {\"labels\":{\"alertname\":\"Good2\"}}]",
        100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 2);
    assert_int_equal(r.rep.rejected, 9);
    assert_string_equal(r.b.events[0].title, "Good");
    assert_string_equal(r.b.events[1].title, "Good2");
    assert_string_equal(errors(&r),
                        "[{\"index\":1,\"error\":\"at least one label pair required\"},"
                        "{\"index\":2,\"error\":\"alert must be a JSON object\"},"
                        "{\"index\":3,\"error\":\"missing field 'labels'\"},"
                        "{\"index\":4,\"error\":\"labels: label 'a' must have a string value\"},"
                        "{\"index\":5,\"error\":\"field 'labels' must be an object of strings\"},"
                        "{\"index\":6,\"error\":\"annotation 'x' must have a string value\"},"
                        "{\"index\":7,\"error\":\"duplicate label 'a_b'\"},"
                        "{\"index\":8,\"error\":\"invalid label name '__name__'\"},"
                        "{\"index\":9,\"error\":\"field 'generatorURL' must be a string\"}]");
    res_free(&r);

    run(tn_parse_am_alerts, "[]", 10, &r); /* Alertmanager accepts an empty list */
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.b.nevents, 0);
    assert_int_equal(r.rep.errors.len, 0);
    res_free(&r);

    static const struct {
        const char *body, *fatal;
    } bad[] = {
        {"", "empty body"},
        {" \n\t ", "empty body"},
        {"{\"labels\":{\"a\":\"b\"}}",
         "body must be a JSON array of alerts (Alertmanager POST /api/v2/alerts)"},
        {"\"x\"", "body must be a JSON array of alerts (Alertmanager POST /api/v2/alerts)"},
        {"[{\"labels\":{\"a\":\"b\"}},\n {\"labels\":", "invalid JSON at line 2, column 11: "
                                                        "unexpected token near end of file"},
        {"[{\"labels\":{\"a\":\"b\",\"a\":\"c\"}}]",
         "invalid JSON at line 1, column 23: duplicate object key near '\"a\"'"},
        {"[1e999]", "invalid JSON at line 1, column 6: real number overflow near '1e999'"},
        {"[{\"labels\":{\"a\\u0000\":\"b\"}}]",
         "invalid JSON at line 1, column 21: NUL byte in object key not supported near "
         "'\"a\\u0000\"'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(tn_parse_am_alerts, bad[i].body, 10, &r);
        assert_int_equal(r.rc, TN_EINVAL);
        assert_string_equal(r.fatal.data, bad[i].fatal);
        res_free(&r);
    }
}

static void test_am_hostile(void **state)
{
    (void)state;
    res_t r;
    /* nesting far beyond jansson's depth limit: refused, no stack overflow */
    char *d = deep(100000, '[');
    run(tn_parse_am_alerts, d, 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_non_null(strstr(r.fatal.data, "maximum parsing depth"));
    res_free(&r);
    free(d);

    /* a 1 MB label value is rejected, a 4096-byte one kept */
    char *big = big_label_alert(1 << 20);
    run(tn_parse_am_alerts, big, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.rejected, 1);
    assert_string_equal(errors(&r),
                        "[{\"index\":0,\"error\":\"label 'x' value is longer than 4096 bytes\"}]");
    res_free(&r);
    free(big);
    big = big_label_alert(4096);
    run(tn_parse_am_alerts, big, 10, &r);
    assert_int_equal(r.rep.accepted, 1);
    assert_int_equal(strlen(tn_labels_get(&r.b.events[0].labels, "x")), 4096);
    res_free(&r);
    free(big);

    /* NUL bytes in values: rejected by name; in annotations: kept escaped in data */
    run(tn_parse_am_alerts,
        "[{\"labels\":{\"alertname\":\"a\\u0000b\"}},"
        " {\"labels\":{\"alertname\":\"A\"},\"annotations\":{\"s\":\"x\\u0000y\"}},"
        " {\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"2023-11-14T22:00:00Z\\u0000junk\"}]",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_string_equal(r.b.events[0].data, "{\"annotations\":{\"s\":\"x\\u0000y\"}}");
    assert_string_equal(errors(&r),
                        "[{\"index\":0,\"error\":\"label 'alertname' value contains a NUL byte\"},"
                        "{\"index\":2,\"error\":\"field 'startsAt' must be an RFC 3339 string\"}]");
    res_free(&r);

    /* 65 labels: over TN_MAX_LABELS */
    char body[4096];
    size_t n = (size_t)snprintf(body, sizeof body, "[{\"labels\":{");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s\"l%d\":\"v\"", i ? "," : "", i);
    snprintf(body + n, sizeof body - n, "}}]");
    run(tn_parse_am_alerts, body, 10, &r);
    assert_int_equal(r.rep.rejected, 1);
    assert_string_equal(errors(&r), "[{\"index\":0,\"error\":\"too many labels (limit 64)\"}]");
    res_free(&r);

    /* a long alertname becomes a title of at most 1024 bytes, cut at a UTF-8 boundary */
    char *t = malloc(5000);
    assert_non_null(t);
    n = (size_t)snprintf(t, 5000, "[{\"labels\":{\"alertname\":\"x");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(t + n, 5000 - n, "\xc3\xa9"); /* é */
    snprintf(t + n, 5000 - n, "\"}}]");
    run(tn_parse_am_alerts, t, 10, &r);
    assert_int_equal(r.rep.accepted, 1);
    assert_int_equal(strlen(r.b.events[0].title), 1023);
    res_free(&r);
    free(t);
}

/* ---- Alertmanager webhook --------------------------------------------------------------- */

static void test_am_webhook_vector(void **state)
{
    (void)state;
    size_t len;
    char *body = read_vector("alertmanager/prometheus-msteams_prom_post_request.json", &len);
    res_t r;
    run_len(tn_parse_am_webhook, body, len, 1000, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    /* startsAt 2018-03-07T06:33:21.873077559-05:00 = 11:33:21.873Z; no status in the alert and
     * endsAt is Go's zero time: firing; no fingerprint: computed from the labels */
    assert_event(&r.b.events[0], "alert", "alertmanager", "firing", 1520422401873LL,
                 "high_memory_load", "b29784719d6a11e6",
                 "alertname=high_memory_load,instance=instance-with-hyphen_and_underscore,"
                 "job=docker_nodes,monitor=master,severity=warning",
                 "{\"annotations\":{\"description\":\"10.80.40.11 reported high memory usage "
                 "with 23.28%.\",\"summary\":\"Server High Memory usage\"},"
                 "\"startsAt\":\"2018-03-07T06:33:21.873077559-05:00\","
                 "\"endsAt\":\"0001-01-01T00:00:00Z\",\"receiver\":\"teams_proxy\","
                 "\"groupKey\":\"{}:{alertname=\\\"high_memory_load\\\"}\","
                 "\"externalURL\":\"http://docker.for.mac.host.internal:9093\"}");
    res_free(&r);

    run_len(tn_parse_am_webhook, body, len, 0, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    res_free(&r);
    run_len(tn_parse_am_webhook, body, len - 10, 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_string_equal(r.fatal.data,
                        "invalid JSON at line 34, column 4: '}' expected near end of file");
    res_free(&r);
    free(body);
}

static void test_am_webhook_fields(void **state)
{
    (void)state;
    res_t r;
    run(tn_parse_am_webhook,
        "{\"version\":\"4\",\"status\":\"firing\",\"receiver\":\"r\",\"alerts\":["
        " {\"status\":\"resolved\",\"labels\":{\"alertname\":\"A\"},"
        "  \"startsAt\":\"2023-11-14T21:00:00Z\",\"endsAt\":\"2023-11-14T21:30:00Z\","
        "  \"fingerprint\":\"fbab788ec4c1018b\"},"
        " {\"status\":\"firing\",\"labels\":{\"alertname\":\"B\"},"
        "  \"startsAt\":\"2023-11-14T21:00:00Z\",\"endsAt\":\"2023-11-14T21:30:00Z\"},"
        " {\"status\":\"pending\",\"labels\":{\"alertname\":\"C\"}},"
        " {\"labels\":{\"alertname\":\"D\"},\"fingerprint\":\"\"},"
        " {\"labels\":{\"alertname\":\"E\"},\"fingerprint\":null,\"status\":null}]}",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 3);
    assert_event(&r.b.events[0], "alert", "alertmanager", "resolved", 1699997400000LL, "A",
                 "fbab788ec4c1018b", "alertname=A",
                 "{\"startsAt\":\"2023-11-14T21:00:00Z\",\"endsAt\":\"2023-11-14T21:30:00Z\","
                 "\"receiver\":\"r\"}");
    /* the alert's own status wins over endsAt */
    assert_string_equal(r.b.events[1].status, "firing");
    assert_int_equal(r.b.events[1].ts_ms, 1699995600000LL);
    assert_string_equal(r.b.events[2].title, "E");
    assert_string_equal(r.b.events[2].status, "firing");
    assert_int_equal(strlen(r.b.events[2].fingerprint), 16);
    assert_string_equal(
        errors(&r),
        "[{\"index\":2,\"error\":\"field 'status' must be \\\"firing\\\" or \\\"resolved\\\"\"},"
        "{\"index\":3,\"error\":\"field 'fingerprint' must be a string of 1 to 64 bytes\"}]");
    res_free(&r);

    /* a resolved group resolves alerts that say nothing themselves */
    run(tn_parse_am_webhook,
        "{\"status\":\"resolved\",\"alerts\":[{\"labels\":{\"a\":\"b\"},"
        "\"endsAt\":\"2023-11-14T21:30:00Z\"}]}",
        10, &r);
    assert_string_equal(r.b.events[0].status, "resolved");
    assert_int_equal(r.b.events[0].ts_ms, 1699997400000LL);
    res_free(&r);

    static const char *const bad[] = {"[]", "{}", "{\"alerts\":{}}", "{\"alerts\":null}", "3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(tn_parse_am_webhook, bad[i], 10, &r);
        assert_int_equal(r.rc, TN_EINVAL);
        assert_string_equal(r.fatal.data,
                            "body must be an Alertmanager webhook object with an \"alerts\" array");
        res_free(&r);
    }
    run(tn_parse_am_webhook, "{\"alerts\":[]}", 10, &r);
    assert_int_equal(r.rc, 0);
    res_free(&r);
}

/* ---- PagerDuty -------------------------------------------------------------------------- */

static void test_pd_vectors(void **state)
{
    (void)state;
    size_t len;
    char *body = read_vector("pagerduty/webhook_v3_incident_priority_updated.json", &len);
    res_t r;
    run_len(tn_parse_pagerduty_webhook, body, len, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    /* occurred_at 2020-10-02T18:45:22.169Z */
    assert_event(&r.b.events[0], "incident", "pagerduty", "priority_updated", 1601664322169LL,
                 "A little bump in the road", "PGR0VU2",
                 "agent=Tenex Engineer,escalation_policy=Default,priority=P1,service=API Service,"
                 "team=Engineering,urgency=high",
                 ANY);
    /* data = the event's data object */
    json_t *d = json_loads(r.b.events[0].data, 0, NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "incident_key")),
                        "d3640fbd41094207a1c11e58e46b1662");
    assert_int_equal(json_integer_value(json_object_get(d, "number")), 2);
    assert_true(json_is_null(json_object_get(d, "resolve_reason")));
    assert_int_equal(json_object_size(d), 18);
    json_decref(d);
    res_free(&r);

    run_len(tn_parse_pagerduty_webhook, body, len, 0, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    res_free(&r);
    run_len(tn_parse_pagerduty_webhook, body, 300, 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    res_free(&r);
    free(body);

    body = read_vector("pagerduty/webhook_v3_service_updated.json", &len);
    run_len(tn_parse_pagerduty_webhook, body, len, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_event(&r.b.events[0], "service", "pagerduty", "updated", 1614692111682LL,
                 "testing service updates", "PF9KMXH",
                 "service=testing service updates,team=Engineering", ANY);
    assert_non_null(
        strstr(r.b.events[0].data, "\"alert_creation\":\"create_alerts_and_incidents\""));
    res_free(&r);
    free(body);

    /* the documented incident data object, delivered as incident.triggered */
    char *data = read_vector("pagerduty/webhook_v3_data_incident_object.json", &len);
    char *wrapped = malloc(len + 200);
    assert_non_null(wrapped);
    snprintf(wrapped, len + 200,
             "{\"event\":{\"id\":\"01BRB6ZP4M6T8ZG4X6BP63ZB9O\",\"event_type\":"
             "\"incident.triggered\",\"resource_type\":\"incident\",\"data\":%s}}",
             data);
    run(tn_parse_pagerduty_webhook, wrapped, 10, &r);
    assert_int_equal(r.rc, 0);
    assert_event(&r.b.events[0], "incident", "pagerduty", "triggered", NOW,
                 "A little bump in the road", "PGR0VU2",
                 "escalation_policy=Default,priority=P1,service=API Service,team=Engineering,"
                 "urgency=high",
                 ANY);
    assert_non_null(strstr(r.b.events[0].data, "\"incident_type\":{\"name\":\"major\"}"));
    res_free(&r);
    free(wrapped);
    free(data);

    /* the subscription-create body and the outbound Events API v2 are not webhooks */
    static const char *const not_webhooks[] = {
        "pagerduty/webhook_v3_subscription_create_example.json", "pagerduty/events_v2_trigger.json",
        "pagerduty/events_v2_resolve.json"};
    for (size_t i = 0; i < sizeof not_webhooks / sizeof not_webhooks[0]; i++) {
        body = read_vector(not_webhooks[i], &len);
        run_len(tn_parse_pagerduty_webhook, body, len, 10, &r);
        assert_int_equal(r.rc, TN_EINVAL);
        assert_string_equal(r.fatal.data,
                            "body must be a PagerDuty v3 webhook: {\"event\": {...}}");
        res_free(&r);
        free(body);
    }
}

static void test_pd_fields(void **state)
{
    (void)state;
    res_t r;
    /* a ping: no data object, no resource type */
    run(tn_parse_pagerduty_webhook,
        "{\"event\":{\"id\":\"E1\",\"event_type\":\"pagey.ping\",\"occurred_at\":null}}", 10, &r);
    assert_int_equal(r.rc, 0);
    assert_event(&r.b.events[0], "pagey", "pagerduty", "ping", NOW, "pagey.ping", "E1", "", NULL);
    res_free(&r);

    /* nested event types keep their tail; an odd resource_type falls back to the prefix */
    run(tn_parse_pagerduty_webhook,
        "{\"event\":{\"event_type\":\"incident.responder.added\",\"resource_type\":\"Bad Type\","
        "\"occurred_at\":\"2020-10-02T18:45:22Z\",\"data\":{\"summary\":\"S\",\"urgency\":7}}}",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_event(&r.b.events[0], "incident", "pagerduty", "responder.added", 1601664322000LL, "S",
                 NULL, "", "{\"summary\":\"S\",\"urgency\":7}");
    /* no id anywhere: a hash of event_type and occurred_at */
    assert_int_equal(strlen(r.b.events[0].fingerprint), 16);
    res_free(&r);

    static const struct {
        const char *body, *error;
    } bad[] = {
        {"{\"event\":{}}", "missing field 'event_type'"},
        {"{\"event\":{\"event_type\":\"Incident.Triggered\"}}",
         "field 'event_type' must match [a-z0-9_.]{1,64}"},
        {"{\"event\":{\"event_type\":5}}", "field 'event_type' must match [a-z0-9_.]{1,64}"},
        {"{\"event\":{\"event_type\":\"incident.triggered\",\"data\":[]}}",
         "field 'data' must be an object"},
        {"{\"event\":{\"event_type\":\"incident.triggered\",\"occurred_at\":\"-1\"}}",
         "field 'occurred_at': invalid RFC 3339 timestamp '-1'"},
        {"{\"event\":{\"event_type\":\"incident.triggered\",\"occurred_at\":1601664322}}",
         "field 'occurred_at' must be an RFC 3339 string"},
        {"{\"event\":{\"event_type\":\"incident.triggered\",\"data\":{\"title\":\"a\\u0000\"}}}",
         "field 'data.title' contains a NUL byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(tn_parse_pagerduty_webhook, bad[i].body, 10, &r);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.rep.rejected, 1);
        assert_int_equal(r.b.nevents, 0);
        char want[512];
        snprintf(want, sizeof want, "[{\"index\":0,\"error\":\"%s\"}]", bad[i].error);
        assert_string_equal(errors(&r), want);
        res_free(&r);
    }

    run(tn_parse_pagerduty_webhook, "{\"messages\":[{\"event\":\"incident.trigger\"}]}", 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_string_equal(r.fatal.data, "PagerDuty v2 webhooks (\"messages\") are not supported: use "
                                      "a v3 webhook subscription");
    res_free(&r);
    char *d = deep(5000, '{');
    run(tn_parse_pagerduty_webhook, d, 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    res_free(&r);
    free(d);
}

/* ---- change events ---------------------------------------------------------------------- */

static void test_change_single(void **state)
{
    (void)state;
    res_t r;
    run(tn_parse_change_events,
        "{\"type\":\"deploy\",\"service\":\"checkout\",\"version\":\"1.4.2\","
        "\"timestamp\":\"2026-11-24T11:30:00Z\",\"labels\":{\"env\":\"prod\",\"region\":\"eu\"},"
        "\"commit\":\"abc123\",\"author\":{\"name\":\"ann\"},\"status\":\"succeeded\"}",
        10, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    /* fingerprint: FNV-1a 64 of "deploy\0checkout\01.4.2\01795519800000" */
    assert_event(&r.b.events[0], "deploy", "api", "succeeded", 1795519800000LL,
                 "deploy checkout 1.4.2", "262a3b29d3ec80ac",
                 "env=prod,region=eu,service=checkout,version=1.4.2",
                 "{\"commit\":\"abc123\",\"author\":{\"name\":\"ann\"}}");
    res_free(&r);

    /* the same event again: same identity */
    run(tn_parse_change_events,
        "[{\"service\":\"checkout\",\"type\":\"deploy\",\"timestamp\":1795519800,"
        "\"version\":\"1.4.2\"}]",
        10, &r);
    assert_string_equal(r.b.events[0].fingerprint, "262a3b29d3ec80ac");
    assert_string_equal(r.b.events[0].status, "");
    assert_null(r.b.events[0].data);
    res_free(&r);
}

static void test_change_batch(void **state)
{
    (void)state;
    res_t r;
    run(tn_parse_change_events,
        "[{\"type\":\"config_change\",\"title\":\"raise pool size\",\"timestamp\":1700000000123},"
        " {\"type\":\"feature_flag\",\"version\":42,\"timestamp\":null},"
        " {\"type\":\"rollback\"},"
        " {\"service\":\"x\"},"
        " {\"type\":\"Deploy\"},"
        " {\"type\":\"a_very_long_type_name_over_32_chars\"},"
        " {\"type\":\"deploy\",\"timestamp\":-5},"
        " {\"type\":\"deploy\",\"timestamp\":1e300},"
        " {\"type\":\"deploy\",\"timestamp\":\"next tuesday\"},"
        " {\"type\":\"deploy\",\"timestamp\":true},"
        " {\"type\":\"deploy\",\"service\":\"a\",\"labels\":{\"service\":\"b\"}},"
        " {\"type\":\"deploy\",\"labels\":{\"a\":1}},"
        " {\"type\":\"deploy\",\"version\":1.5},"
        " {\"type\":\"deploy\",\"service\":5},"
        " {\"type\":\"deploy\",\"title\":\"a\\u0000b\"},"
        " {\"type\":\"deploy\",\"status\":\"OK\"},"
        " [], \"deploy\"]",
        100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 3);
    assert_int_equal(r.rep.rejected, 15);
    assert_event(&r.b.events[0], "config_change", "api", "", 1700000000123LL, "raise pool size",
                 NULL, "", NULL);
    assert_event(&r.b.events[1], "feature_flag", "api", "", NOW, "feature_flag 42", NULL,
                 "version=42", NULL);
    assert_event(&r.b.events[2], "rollback", "api", "", NOW, "rollback", NULL, "", NULL);
    assert_string_equal(
        errors(&r),
        "[{\"index\":3,\"error\":\"missing field 'type'\"},"
        "{\"index\":4,\"error\":\"field 'type' must match [a-z_]{1,32}\"},"
        "{\"index\":5,\"error\":\"field 'type' must match [a-z_]{1,32}\"},"
        "{\"index\":6,\"error\":\"timestamp must be a finite, non-negative number\"},"
        "{\"index\":7,\"error\":\"timestamp is too far in the future\"},"
        "{\"index\":8,\"error\":\"invalid RFC 3339 timestamp 'next tuesday'\"},"
        "{\"index\":9,\"error\":\"field 'timestamp' must be a number or an RFC 3339 string\"},"
        "{\"index\":10,\"error\":\"duplicate label 'service'\"},"
        "{\"index\":11,\"error\":\"labels: label 'a' must have a string value\"},"
        "{\"index\":12,\"error\":\"field 'version' must be a string or an integer\"},"
        "{\"index\":13,\"error\":\"field 'service' must be a string\"},"
        "{\"index\":14,\"error\":\"field 'title' must be a string without NUL bytes\"},"
        "{\"index\":15,\"error\":\"field 'status' must match [a-z_]{1,32}\"},"
        "{\"index\":16,\"error\":\"event must be a JSON object\"},"
        "{\"index\":17,\"error\":\"event must be a JSON object\"}]");
    res_free(&r);

    run(tn_parse_change_events, "[{\"type\":\"a\"},{\"type\":\"b\"},{\"type\":\"c\"}]", 2, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    res_free(&r);
    run(tn_parse_change_events, "{\"type\":\"a\"}", 0, &r);
    assert_int_equal(r.rc, TN_ETOOBIG);
    res_free(&r);
    run(tn_parse_change_events, "42", 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_string_equal(r.fatal.data, "body must be a change event object or an array of them");
    res_free(&r);
    run(tn_parse_change_events, "{\"type\":\"deploy\",", 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    assert_string_equal(r.fatal.data,
                        "invalid JSON at line 1, column 17: string or '}' expected near end of "
                        "file");
    res_free(&r);
    run(tn_parse_change_events, "{\"type\":\"deploy\",\"n\":1e999}", 10, &r);
    assert_int_equal(r.rc, TN_EINVAL);
    res_free(&r);
}

/* More rejections than the report shows: the count is right, the list stops at 20. */
static void test_report_cap(void **state)
{
    (void)state;
    char body[2048] = "[";
    for (int i = 0; i < 30; i++)
        strcat(body, i ? ",{}" : "{}");
    strcat(body, ",{\"type\":\"deploy\"}]");
    res_t r;
    run(tn_parse_change_events, body, 100, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 1);
    assert_int_equal(r.rep.rejected, 30);
    json_t *j = json_loads(r.rep.errors.data, 0, NULL);
    assert_int_equal(json_array_size(j), 20);
    json_decref(j);
    res_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_am_alerts_vector),  cmocka_unit_test(test_am_fingerprint),
        cmocka_unit_test(test_am_times),          cmocka_unit_test(test_am_partial_and_malformed),
        cmocka_unit_test(test_am_hostile),        cmocka_unit_test(test_am_webhook_vector),
        cmocka_unit_test(test_am_webhook_fields), cmocka_unit_test(test_pd_vectors),
        cmocka_unit_test(test_pd_fields),         cmocka_unit_test(test_change_single),
        cmocka_unit_test(test_change_batch),      cmocka_unit_test(test_report_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
