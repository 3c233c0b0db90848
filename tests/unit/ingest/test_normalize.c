/* test_normalize.c - label names, timestamps (numbers and RFC 3339), the JSON sample format,
 * series ids and canonical labels: ingest/normalize.c, ingest/json_samples.c, core/sample.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/sample.h"
#include "ingest/json_samples.h"
#include "ingest/normalize.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1700000000000LL

/* ---- helpers ---------------------------------------------------------------------------- */

/* Normalizes a label name; returns the code, the name in out, the message in msg. */
static int norm(const char *in, char out[300], char msg[300])
{
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_norm_label_name(in, out, 300, &err);
    snprintf(msg, 300, "%s", err.data ? err.data : "");
    tn_buf_deinit(&err);
    return rc;
}

static void assert_norm(const char *in, const char *want)
{
    char out[300], msg[300];
    int rc = norm(in, out, msg);
    if (rc) fail_msg("'%s': %s", in, msg);
    assert_string_equal(out, want);
    assert_string_equal(msg, "");
}

static void assert_norm_bad(const char *in, const char *want_msg)
{
    char out[300], msg[300];
    assert_int_equal(norm(in, out, msg), TN_EINVAL);
    assert_string_equal(msg, want_msg);
}

static int64_t ts_num(double v, tn_ts_unit_t unit, int *rc)
{
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms = -12345;
    *rc = tn_norm_ts_number(v, unit, &ms, &err);
    if (*rc == 0)
        assert_int_equal(err.len, 0);
    else
        assert_string_equal(err.data, "timestamp must be a finite, non-negative number");
    tn_buf_deinit(&err);
    return ms;
}

static int64_t ts_ok(double v, tn_ts_unit_t unit)
{
    int rc;
    int64_t ms = ts_num(v, unit, &rc);
    assert_int_equal(rc, 0);
    return ms;
}

/* Reference: UTC civil time to ms with glibc's timegm. */
static int64_t civil_ms(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

static int64_t rfc_ok(const char *s)
{
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms = -1;
    int rc = tn_norm_ts_rfc3339(s, &ms, &err);
    if (rc) fail_msg("'%s': %s", s, err.data);
    assert_int_equal(err.len, 0);
    tn_buf_deinit(&err);
    return ms;
}

static void rfc_bad(const char *s)
{
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms = -77;
    int rc = tn_norm_ts_rfc3339(s, &ms, &err);
    if (rc != TN_EINVAL) fail_msg("'%s' accepted as %lld", s, (long long)ms);
    char want[128];
    snprintf(want, sizeof want, "invalid RFC 3339 timestamp '%.64s'", s);
    assert_string_equal(err.data, want);
    assert_int_equal(ms, -77); /* untouched */
    tn_buf_deinit(&err);
}

/* One parse of a JSON body. */
typedef struct {
    tn_samples_t out;
    tn_ingest_report_t rep;
    tn_buf_t fatal;
    int rc;
} parse_t;

static void parse_len(parse_t *p, const char *body, size_t len, size_t max)
{
    tn_samples_init(&p->out);
    tn_ingest_report_init(&p->rep);
    tn_buf_init(&p->fatal);
    p->rc = tn_ingest_json_samples(body, len, max, NOW, &p->out, &p->rep, &p->fatal);
}

static void parse(parse_t *p, const char *body)
{
    parse_len(p, body, strlen(body), 1000);
}

static void parse_done(parse_t *p)
{
    tn_samples_deinit(&p->out);
    tn_ingest_report_deinit(&p->rep);
    tn_buf_deinit(&p->fatal);
}

/* Parses a body holding one sample that must be rejected with exactly msg. */
static void assert_rejected(const char *body, const char *msg)
{
    parse_t p;
    parse(&p, body);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.fatal.len, 0);
    assert_int_equal(p.rep.accepted, 0);
    assert_int_equal(p.rep.rejected, 1);
    assert_int_equal(p.out.n, 0);
    tn_buf_t want;
    tn_buf_init(&want);
    tn_buf_puts(&want, "[{\"index\":0,\"error\":");
    tn_buf_json_str(&want, msg, strlen(msg));
    tn_buf_puts(&want, "}]");
    assert_string_equal(p.rep.errors.data, want.data);
    tn_buf_deinit(&want);
    parse_done(&p);
}

/* Parses a body that must be refused as a whole with TN_EINVAL and a message starting so. */
static void assert_fatal(const char *body, size_t len, const char *prefix)
{
    parse_t p;
    parse_len(&p, body, len, 1000);
    assert_int_equal(p.rc, TN_EINVAL);
    assert_non_null(p.fatal.data);
    if (strncmp(p.fatal.data, prefix, strlen(prefix)) != 0)
        fail_msg("fatal '%s' does not start with '%s'", p.fatal.data, prefix);
    assert_int_equal(p.rep.accepted, 0);
    assert_int_equal(p.rep.rejected, 0);
    assert_int_equal(p.out.n, 0);
    parse_done(&p);
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- label names ------------------------------------------------------------------------ */

static void test_label_aliases(void **state)
{
    (void)state;
    assert_norm("service.name", "service");
    assert_norm("service_name", "service");
    assert_norm("host.name", "host");
    assert_norm("hostname", "host");
    assert_norm("deployment.environment", "env");
    assert_norm("deployment.environment.name", "env");
    assert_norm("k8s.namespace.name", "namespace");
    assert_norm("k8s.pod.name", "pod");
    assert_norm("service.version", "version");
    /* aliases match whole names only, and case-sensitively */
    assert_norm("service.names", "service_names");
    assert_norm("Service.Name", "Service_Name");
    assert_norm("service", "service");
}

/* ingest.label_aliases: configured pairs come before the built-in ones; bad pairs are refused
 * and leave the table as it was. */
static void test_label_aliases_configured(void **state)
{
    (void)state;
    const char *pairs[] = {"cloud.region=region", "service.name=svc", "k8s.pod.name=pod_name"};
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_norm_set_aliases(pairs, 3, &err), 0);
    assert_norm("cloud.region", "region");
    assert_norm("service.name", "svc"); /* overrides the built-in alias */
    assert_norm("k8s.pod.name", "pod_name");
    assert_norm("host.name", "host"); /* built-in ones still apply */
    assert_norm("cloud.regions", "cloud_regions");
    const char *bad[][1] = {{"nopair"},   {"=region"},   {"cloud.zone="}, {"cloud.zone=zone.name"},
                            {"x=9lives"}, {"x=__name__"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tn_buf_reset(&err);
        assert_int_equal(tn_norm_set_aliases(bad[i], 1, &err), TN_EINVAL);
        assert_non_null(strstr(err.data, "label alias"));
        assert_norm("cloud.region", "region"); /* unchanged */
    }
    /* one bad pair among good ones: none is taken */
    const char *mixed[] = {"a.b=ab", "oops"};
    assert_int_equal(tn_norm_set_aliases(mixed, 2, &err), TN_EINVAL);
    assert_norm("a.b", "a_b");
    /* set again: replaces the pairs set before */
    const char *again[] = {"a.b=ab"};
    assert_int_equal(tn_norm_set_aliases(again, 1, &err), 0);
    assert_norm("a.b", "ab");
    assert_norm("cloud.region", "cloud_region");
    tn_norm_reset_aliases();
    assert_norm("a.b", "a_b");
    assert_norm("service.name", "service");
    tn_buf_deinit(&err);
}

static void test_label_chars(void **state)
{
    (void)state;
    assert_norm("http.method", "http_method");
    assert_norm("a-b/c d", "a_b_c_d");
    assert_norm("net.peer.port", "net_peer_port");
    assert_norm("already_ok_09", "already_ok_09");
    assert_norm("_x", "_x");
    assert_norm("9lives", "_9lives");
    assert_norm("0", "_0");
    assert_norm("1.2", "_1_2");
    assert_norm("caf\xc3\xa9", "caf__"); /* each non-ASCII byte becomes '_' */
    assert_norm("a:b", "a_b");           /* ':' is for metric names, not labels */
    char out[300], msg[300];
    /* 256 bytes is the longest name; a digit-led 256-byte name would become 257 */
    char name[300];
    memset(name, 'a', 256);
    name[256] = '\0';
    assert_int_equal(norm(name, out, msg), 0);
    assert_int_equal(strlen(out), 256);
    name[0] = '7';
    assert_int_equal(norm(name, out, msg), TN_EINVAL);
    name[0] = 'a';
    name[256] = 'a';
    name[257] = '\0';
    assert_int_equal(norm(name, out, msg), TN_EINVAL);
    assert_string_equal(msg, "label name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is longer "
                             "than 256 bytes");
    /* the output buffer is respected */
    tn_buf_t err;
    tn_buf_init(&err);
    char small[4];
    assert_int_equal(tn_norm_label_name("abc", small, sizeof small, &err), TN_EINVAL);
    assert_int_equal(tn_norm_label_name("ab", small, sizeof small, &err), 0);
    assert_string_equal(small, "ab");
    tn_buf_deinit(&err);
}

static void test_label_invalid(void **state)
{
    (void)state;
    assert_norm_bad("", "empty label name");
    assert_norm_bad("__name__", "invalid label name '__name__'");
    /* the reserved name cannot be reached by normalization either */
    assert_norm_bad("__name..", "invalid label name '__name..'");
    assert_norm("__name", "__name");
}

/* ---- numeric timestamps ----------------------------------------------------------------- */

static void test_ts_magnitude(void **state)
{
    (void)state;
    const int64_t want = 1764000000000LL;
    assert_int_equal(ts_ok(1764000000.0, TN_TS_AUTO), want);                /* s */
    assert_int_equal(ts_ok(1764000000000.0, TN_TS_AUTO), want);             /* ms */
    assert_int_equal(ts_ok(1764000000000000.0, TN_TS_AUTO), want);          /* us */
    assert_int_equal(ts_ok(1764000000000000000.0, TN_TS_AUTO), want);       /* ns */
    assert_int_equal(ts_ok(1764000000123.0, TN_TS_AUTO), want + 123);       /* ms */
    assert_int_equal(ts_ok(1764000000123000.0, TN_TS_AUTO), want + 123);    /* us */
    assert_int_equal(ts_ok(1764000000123456.0, TN_TS_AUTO), want + 123);    /* us, truncated */
    assert_int_equal(ts_ok(1764000000123000000.0, TN_TS_AUTO), want + 123); /* ns */
    assert_int_equal(ts_ok(1764000000.5, TN_TS_AUTO), want + 500);          /* fractional s */
    /* the boundaries between units */
    assert_int_equal(ts_ok(99999999999.0, TN_TS_AUTO), 99999999999000LL); /* last s */
    assert_int_equal(ts_ok(1e11, TN_TS_AUTO), 100000000000LL);            /* first ms */
    assert_int_equal(ts_ok(99999999999999.0, TN_TS_AUTO), 99999999999999LL);
    assert_int_equal(ts_ok(1e14, TN_TS_AUTO), 100000000000LL); /* first us */
    assert_int_equal(ts_ok(1e17, TN_TS_AUTO), 100000000000LL); /* first ns */
    assert_int_equal(ts_ok(0, TN_TS_AUTO), 0);
    assert_int_equal(ts_ok(1.0, TN_TS_AUTO), 1000);
}

static void test_ts_explicit_unit(void **state)
{
    (void)state;
    assert_int_equal(ts_ok(1764000000.0, TN_TS_MS), 1764000000LL);
    assert_int_equal(ts_ok(1764000000.0, TN_TS_S), 1764000000000LL);
    assert_int_equal(ts_ok(1764000000.0, TN_TS_US), 1764000LL);
    assert_int_equal(ts_ok(1764000000.0, TN_TS_NS), 1764LL);
    assert_int_equal(ts_ok(999999.0, TN_TS_NS), 0);
    assert_int_equal(ts_ok(253402300799.0, TN_TS_S), 253402300799000LL); /* 9999-12-31 */
    assert_int_equal(ts_ok(5, TN_TS_S), 5000);

    tn_ts_unit_t u = TN_TS_AUTO;
    assert_int_equal(tn_norm_ts_unit("s", &u), 0);
    assert_int_equal(u, TN_TS_S);
    assert_int_equal(tn_norm_ts_unit("ms", &u), 0);
    assert_int_equal(u, TN_TS_MS);
    assert_int_equal(tn_norm_ts_unit("us", &u), 0);
    assert_int_equal(u, TN_TS_US);
    assert_int_equal(tn_norm_ts_unit("ns", &u), 0);
    assert_int_equal(u, TN_TS_NS);
    u = TN_TS_AUTO;
    assert_int_equal(tn_norm_ts_unit("MS", &u), TN_EINVAL);
    assert_int_equal(tn_norm_ts_unit("sec", &u), TN_EINVAL);
    assert_int_equal(tn_norm_ts_unit("", &u), TN_EINVAL);
    assert_int_equal(tn_norm_ts_unit("m", &u), TN_EINVAL);
    assert_int_equal(u, TN_TS_AUTO);
}

static void test_ts_rejected(void **state)
{
    (void)state;
    int rc;
    ts_num(-1, TN_TS_AUTO, &rc);
    assert_int_equal(rc, TN_EINVAL);
    ts_num(-1e-9, TN_TS_MS, &rc);
    assert_int_equal(rc, TN_EINVAL);
    ts_num(NAN, TN_TS_AUTO, &rc);
    assert_int_equal(rc, TN_EINVAL);
    ts_num(INFINITY, TN_TS_AUTO, &rc);
    assert_int_equal(rc, TN_EINVAL);
    ts_num(-INFINITY, TN_TS_NS, &rc);
    assert_int_equal(rc, TN_EINVAL);
    /* after 9999-12-31 */
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms = 0;
    assert_int_equal(tn_norm_ts_number(253402300799999.0, TN_TS_MS, &ms, &err), 0);
    assert_int_equal(ms, 253402300799999LL);
    assert_int_equal(tn_norm_ts_number(253402300800000.0, TN_TS_MS, &ms, &err), TN_EINVAL);
    assert_string_equal(err.data, "timestamp is too far in the future");
    tn_buf_reset(&err);
    assert_int_equal(tn_norm_ts_number(1e300, TN_TS_AUTO, &ms, &err), TN_EINVAL);
    assert_string_equal(err.data, "timestamp is too far in the future");
    tn_buf_deinit(&err);
}

/* ---- RFC 3339 --------------------------------------------------------------------------- */

static void test_rfc3339_offsets(void **state)
{
    (void)state;
    const int64_t want = civil_ms(2026, 11, 24, 11, 30, 0);
    assert_int_equal(want, 1795519800000LL);
    assert_int_equal(rfc_ok("2026-11-24T11:30:00Z"), want);
    assert_int_equal(rfc_ok("2026-11-24t11:30:00z"), want);
    assert_int_equal(rfc_ok("2026-11-24 11:30:00Z"), want);
    assert_int_equal(rfc_ok("2026-11-24T13:30:00+02:00"), want);
    assert_int_equal(rfc_ok("2026-11-24T13:30:00+0200"), want);
    assert_int_equal(rfc_ok("2026-11-24T06:30:00-0500"), want);
    assert_int_equal(rfc_ok("2026-11-24T06:30:00-05:00"), want);
    assert_int_equal(rfc_ok("2026-11-24T11:30:00+00:00"), want);
    assert_int_equal(rfc_ok("2026-11-24T11:30:00-00:00"), want);
    assert_int_equal(rfc_ok("2026-11-24T17:15:00+05:45"), want);
    /* the offset crosses midnight and a year boundary */
    assert_int_equal(rfc_ok("2027-01-01T01:00:00+02:00"), civil_ms(2026, 12, 31, 23, 0, 0));
    assert_int_equal(rfc_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(rfc_ok("2000-02-29T12:00:00Z"), civil_ms(2000, 2, 29, 12, 0, 0));
    assert_int_equal(rfc_ok("2024-02-29T00:00:00Z"), civil_ms(2024, 2, 29, 0, 0, 0));
    assert_int_equal(rfc_ok("9999-12-31T23:59:59Z"), civil_ms(9999, 12, 31, 23, 59, 59));
    /* a leap second is the next second */
    assert_int_equal(rfc_ok("2016-12-31T23:59:60Z"), civil_ms(2017, 1, 1, 0, 0, 0));
}

static void test_rfc3339_fraction(void **state)
{
    (void)state;
    const int64_t base = civil_ms(2026, 11, 24, 11, 30, 0);
    static const struct {
        const char *s;
        int64_t ms;
    } cases[] = {
        {"2026-11-24T11:30:00.1Z", 100},         {"2026-11-24T11:30:00.12Z", 120},
        {"2026-11-24T11:30:00.123Z", 123},       {"2026-11-24T11:30:00.1234Z", 123},
        {"2026-11-24T11:30:00.12345Z", 123},     {"2026-11-24T11:30:00.123456Z", 123},
        {"2026-11-24T11:30:00.1234567Z", 123},   {"2026-11-24T11:30:00.12345678Z", 123},
        {"2026-11-24T11:30:00.123456789Z", 123}, {"2026-11-24T11:30:00.999999999Z", 999},
        {"2026-11-24T11:30:00.000000001Z", 0},   {"2026-11-24T11:30:00.05Z", 50},
        {"2026-11-24T11:30:00.007Z", 7},         {"2026-11-24T13:30:00.123456+02:00", 123},
        {"2026-11-24T06:30:00.1-0500", 100},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = rfc_ok(cases[i].s);
        if (got != base + cases[i].ms)
            fail_msg("'%s': %lld, want %lld", cases[i].s, (long long)got,
                     (long long)(base + cases[i].ms));
    }
}

static void test_rfc3339_invalid(void **state)
{
    (void)state;
    rfc_bad("2026-13-01T00:00:00Z"); /* month 13 */
    rfc_bad("2026-00-01T00:00:00Z"); /* month 0 */
    rfc_bad("2026-02-30T00:00:00Z"); /* Feb 30 */
    rfc_bad("2026-02-29T00:00:00Z"); /* not a leap year */
    rfc_bad("1900-02-29T00:00:00Z"); /* century, not a leap year */
    rfc_bad("2026-04-31T00:00:00Z"); /* April has 30 days */
    rfc_bad("2026-11-00T00:00:00Z"); /* day 0 */
    rfc_bad("2026-11-24T24:00:00Z"); /* hour 24 */
    rfc_bad("2026-11-24T11:60:00Z"); /* minute 60 */
    rfc_bad("2026-11-24T11:30:61Z"); /* second 61 */
    rfc_bad("garbage");
    rfc_bad("");
    rfc_bad("2026-11-2"); /* truncated */
    rfc_bad("2026-11");
    rfc_bad("2026-11-24"); /* date only */
    rfc_bad("2026-11-24T");
    rfc_bad("2026-11-24T11:30");
    rfc_bad("2026-11-24T11:30:00");      /* no offset */
    rfc_bad("2026-11-24T11:30:00.Z");    /* empty fraction */
    rfc_bad("2026-11-24T11:30:00.123");  /* fraction, no offset */
    rfc_bad("2026-11-24T11:30:00Zjunk"); /* trailing text */
    rfc_bad("2026-11-24T11:30:00Z ");
    rfc_bad("2026-11-24T11:30:00+2:00"); /* one-digit hour offset */
    rfc_bad("2026-11-24T11:30:00+02:0");
    rfc_bad("2026-11-24T11:30:00+02:");
    rfc_bad("2026-11-24T11:30:00+");
    rfc_bad("2026-11-24T11:30:00+24:00"); /* offset hour */
    rfc_bad("2026-11-24T11:30:00+02:60"); /* offset minute */
    rfc_bad("2026/11/24T11:30:00Z");
    rfc_bad("2026-11-24X11:30:00Z");
    rfc_bad("26-11-24T11:30:00Z");
    rfc_bad("+2026-11-24T11:30:00Z");
    rfc_bad("2026-1a-24T11:30:00Z");
    rfc_bad(" 2026-11-24T11:30:00Z");
    /* valid syntax before the epoch has its own message */
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms = -77;
    assert_int_equal(tn_norm_ts_rfc3339("1969-12-31T23:59:59Z", &ms, &err), TN_EINVAL);
    assert_string_equal(err.data, "timestamp '1969-12-31T23:59:59Z' is before 1970");
    tn_buf_reset(&err);
    assert_int_equal(tn_norm_ts_rfc3339("1970-01-01T00:30:00+01:00", &ms, &err), TN_EINVAL);
    assert_string_equal(err.data, "timestamp '1970-01-01T00:30:00+01:00' is before 1970");
    assert_int_equal(ms, -77);
    tn_buf_deinit(&err);
}

/* ---- JSON bodies: shapes ---------------------------------------------------------------- */

static void test_json_single_object(void **state)
{
    (void)state;
    parse_t p;
    parse(&p, "{\"name\":\"http_latency_ms\",\"value\":12.5,"
              "\"labels\":{\"service.name\":\"checkout\",\"host.name\":\"web-1\"},"
              "\"timestamp\":1764000000123,\"unit\":\"ms\"}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.rep.accepted, 1);
    assert_int_equal(p.rep.rejected, 0);
    assert_int_equal(p.rep.errors.len, 0);
    assert_int_equal(p.fatal.len, 0);
    assert_int_equal(p.out.n, 1);
    tn_sample_t *s = &p.out.items[0];
    assert_string_equal(s->name, "http_latency_ms");
    assert_true(s->value == 12.5);
    assert_int_equal(s->ts_ms, 1764000000123LL);
    assert_string_equal(s->unit, "ms");
    assert_int_equal(s->nlabels, 2);
    assert_string_equal(s->labels[0].name, "host");
    assert_string_equal(s->labels[0].value, "web-1");
    assert_string_equal(s->labels[1].name, "service");
    assert_string_equal(s->labels[1].value, "checkout");
    assert_int_equal(strlen(s->sid), 16);
    parse_done(&p);
}

static void test_json_array_and_wrapper(void **state)
{
    (void)state;
    static const char *bodies[] = {
        "[{\"name\":\"a\",\"value\":1},{\"name\":\"b\",\"value\":-2.5e3,\"timestamp\":null},"
        "{\"name\":\"c:d\",\"value\":0,\"labels\":null,\"unit\":null}]",
        "{\"samples\":[{\"name\":\"a\",\"value\":1},{\"name\":\"b\",\"value\":-2500},"
        "{\"name\":\"c:d\",\"value\":0}]}",
        " \n\t[ {\"value\":1,\"name\":\"a\"} , {\"name\":\"b\",\"value\":-2500.0},"
        "{\"name\":\"c:d\",\"value\":0.0,\"labels\":{}} ] \n",
    };
    for (size_t b = 0; b < 3; b++) {
        parse_t p;
        parse(&p, bodies[b]);
        assert_int_equal(p.rc, 0);
        assert_int_equal(p.rep.accepted, 3);
        assert_int_equal(p.rep.rejected, 0);
        assert_int_equal(p.out.n, 3);
        assert_string_equal(p.out.items[0].name, "a");
        assert_true(p.out.items[0].value == 1.0);
        assert_string_equal(p.out.items[1].name, "b");
        assert_true(p.out.items[1].value == -2500.0);
        assert_string_equal(p.out.items[2].name, "c:d");
        assert_true(p.out.items[2].value == 0.0);
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(p.out.items[i].ts_ms, NOW); /* time of arrival */
            assert_int_equal(p.out.items[i].nlabels, 0);
            assert_null(p.out.items[i].unit);
        }
        parse_done(&p);
    }
}

static void test_json_appends(void **state)
{
    (void)state;
    tn_samples_t out;
    tn_samples_init(&out);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    /* 40 samples in 2 bodies: the vector grows past its first capacity and keeps order */
    for (int round = 0; round < 2; round++) {
        tn_buf_t body;
        tn_buf_init(&body);
        tn_buf_puts(&body, "[");
        for (int i = 0; i < 20; i++)
            tn_buf_printf(&body, "%s{\"name\":\"m%d\",\"value\":%d}", i ? "," : "", round * 20 + i,
                          i);
        tn_buf_puts(&body, "]");
        assert_int_equal(tn_ingest_json_samples(body.data, body.len, 20, NOW, &out, &rep, &fatal),
                         0);
        tn_buf_deinit(&body);
    }
    assert_int_equal(out.n, 40);
    assert_int_equal(rep.accepted, 40);
    for (int i = 0; i < 40; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%d", i);
        assert_string_equal(out.items[i].name, want);
    }
    tn_samples_deinit(&out);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
}

static void test_json_timestamps(void **state)
{
    (void)state;
    parse_t p;
    parse(&p, "[{\"name\":\"a\",\"value\":1,\"timestamp\":1764000000},"
              "{\"name\":\"a\",\"value\":1,\"timestamp\":1764000000000000000},"
              "{\"name\":\"a\",\"value\":1,\"timestamp\":1764000000,\"timestamp_unit\":\"ms\"},"
              "{\"name\":\"a\",\"value\":1,\"timestamp\":\"2026-11-24T13:30:00.250+02:00\"},"
              "{\"name\":\"a\",\"value\":1,\"timestamp_unit\":\"us\"}]");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.rep.accepted, 5);
    assert_int_equal(p.out.items[0].ts_ms, 1764000000000LL);
    assert_int_equal(p.out.items[1].ts_ms, 1764000000000LL);
    assert_int_equal(p.out.items[2].ts_ms, 1764000000LL);
    assert_int_equal(p.out.items[3].ts_ms, 1795519800250LL);
    assert_int_equal(p.out.items[4].ts_ms, NOW);
    parse_done(&p);
}

/* ---- JSON bodies: rejected samples ------------------------------------------------------ */

static void test_json_bad_fields(void **state)
{
    (void)state;
    assert_rejected("{\"value\":1}", "missing field 'name'");
    assert_rejected("{\"name\":\"m\"}", "missing field 'value'");
    assert_rejected("{\"name\":\"m\",\"value\":\"12\"}", "field 'value' must be a number");
    assert_rejected("{\"name\":\"m\",\"value\":true}", "field 'value' must be a number");
    assert_rejected("{\"name\":\"m\",\"value\":null}", "field 'value' must be a number");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"valeu\":2}", "unknown field 'valeu'");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"Labels\":{}}", "unknown field 'Labels'");
    static const char *name_msg =
        "field 'name' must be a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*";
    assert_rejected("{\"name\":5,\"value\":1}", name_msg);
    assert_rejected("{\"name\":\"\",\"value\":1}", name_msg);
    assert_rejected("{\"name\":\"1m\",\"value\":1}", name_msg);
    assert_rejected("{\"name\":\"http.latency\",\"value\":1}", name_msg);
    assert_rejected("{\"name\":\"m\",\"value\":1,\"timestamp\":-5}",
                    "timestamp must be a finite, non-negative number");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"timestamp\":true}",
                    "field 'timestamp' must be a number or an RFC 3339 string");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"timestamp\":\"2026-02-30T00:00:00Z\"}",
                    "invalid RFC 3339 timestamp '2026-02-30T00:00:00Z'");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"timestamp\":1,\"timestamp_unit\":\"min\"}",
                    "field 'timestamp_unit' must be one of s, ms, us, ns");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"timestamp_unit\":1}",
                    "field 'timestamp_unit' must be one of s, ms, us, ns");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"unit\":7}",
                    "field 'unit' must be a string of at most 64 bytes");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"unit\":"
                    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                    "field 'unit' must be a string of at most 64 bytes");
    assert_rejected("[42]", "sample must be a JSON object");
    assert_rejected("[[]]", "sample must be a JSON object");
}

static void test_json_bad_labels(void **state)
{
    (void)state;
    assert_rejected("{\"name\":\"m\",\"value\":1,\"labels\":[\"a\"]}",
                    "field 'labels' must be an object of strings");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"labels\":\"a=b\"}",
                    "field 'labels' must be an object of strings");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":1}}",
                    "label 'a' must have a string value");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"x\",\"b\":null}}",
                    "label 'b' must have a string value");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":{\"b\":\"c\"}}}",
                    "label 'a' must have a string value");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"labels\":{\"\":\"x\"}}", "empty label name");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"labels\":{\"__name__\":\"x\"}}",
                    "invalid label name '__name__'");
    /* duplicates created by aliasing or by character replacement */
    assert_rejected("{\"name\":\"m\",\"value\":1,"
                    "\"labels\":{\"service.name\":\"a\",\"service\":\"b\"}}",
                    "duplicate label 'service'");
    assert_rejected("{\"name\":\"m\",\"value\":1,\"labels\":{\"a.b\":\"1\",\"a_b\":\"2\"}}",
                    "duplicate label 'a_b'");
    assert_rejected("{\"name\":\"m\",\"value\":1,"
                    "\"labels\":{\"host\":\"h\",\"x\":\"1\",\"hostname\":\"h\"}}",
                    "duplicate label 'host'");
}

static void test_json_partial(void **state)
{
    (void)state;
    parse_t p;
    parse(&p, "[{\"name\":\"good0\",\"value\":0},"
              "{\"name\":\"bad1\"},"
              "{\"name\":\"good2\",\"value\":2,\"labels\":{\"k\":\"v\"}},"
              "{\"name\":\"bad3\",\"value\":3,\"valeu\":3},"
              "{\"name\":\"good4\",\"value\":4}]");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.fatal.len, 0);
    assert_int_equal(p.rep.accepted, 3);
    assert_int_equal(p.rep.rejected, 2);
    assert_string_equal(p.rep.errors.data, "[{\"index\":1,\"error\":\"missing field 'value'\"},"
                                           "{\"index\":3,\"error\":\"unknown field 'valeu'\"}]");
    json_error_t je;
    json_t *errs = json_loads(p.rep.errors.data, 0, &je);
    assert_non_null(errs);
    assert_int_equal(json_array_size(errs), 2);
    json_decref(errs);
    assert_int_equal(p.out.n, 3);
    assert_string_equal(p.out.items[0].name, "good0");
    assert_string_equal(p.out.items[1].name, "good2");
    assert_string_equal(p.out.items[1].labels[0].value, "v");
    assert_string_equal(p.out.items[2].name, "good4");
    parse_done(&p);
}

static void test_json_many_rejections(void **state)
{
    (void)state;
    /* 25 bad samples: all counted, the first 20 reported, as valid JSON */
    tn_buf_t body;
    tn_buf_init(&body);
    tn_buf_puts(&body, "[");
    for (int i = 0; i < 25; i++)
        tn_buf_printf(&body, "%s{\"name\":\"m\",\"value\":\"%d\"}", i ? "," : "", i);
    tn_buf_puts(&body, ",{\"name\":\"ok\",\"value\":1}]");
    parse_t p;
    parse(&p, body.data);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.rep.accepted, 1);
    assert_int_equal(p.rep.rejected, 25);
    json_error_t je;
    json_t *errs = json_loads(p.rep.errors.data, 0, &je);
    if (!errs) fail_msg("errors is not JSON: %s: %s", je.text, p.rep.errors.data);
    assert_int_equal(json_array_size(errs), 20);
    for (size_t i = 0; i < 20; i++) {
        json_t *e = json_array_get(errs, i);
        assert_int_equal(json_integer_value(json_object_get(e, "index")), (json_int_t)i);
        assert_string_equal(json_string_value(json_object_get(e, "error")),
                            "field 'value' must be a number");
    }
    json_decref(errs);
    parse_done(&p);
    tn_buf_deinit(&body);
}

/* ---- JSON bodies: refused as a whole ---------------------------------------------------- */

static void test_json_malformed(void **state)
{
    (void)state;
    parse_t p;
    const char *body = "[{\"name\":\"m\",\n \"value\": 1,}]";
    parse(&p, body);
    assert_int_equal(p.rc, TN_EINVAL);
    assert_string_equal(p.fatal.data, "invalid JSON at line 2, column 13: string or '}' "
                                      "expected near '}'");
    assert_int_equal(p.out.n, 0);
    parse_done(&p);

    assert_fatal("", 0, "invalid JSON at line 1, column 0: ");
    assert_fatal("   ", 3, "invalid JSON at line 1, column 3: ");
    assert_fatal("nope", 4, "invalid JSON at line 1, column 4: '[' or '{' expected near 'nope'");
    assert_fatal("{\"name\":\"m\",\"value\":1}{}", 24, "invalid JSON at line 1, column 23: ");
    /* truncated */
    static const char *truncs[] = {"[{\"name\":\"m\",\"value\":1}",
                                   "[{\"name\":\"m\",\"value\":", "{\"name\":\"m", "[", "{"};
    for (size_t i = 0; i < sizeof truncs / sizeof truncs[0]; i++)
        assert_fatal(truncs[i], strlen(truncs[i]), "invalid JSON at line 1, column ");
    /* a valid body cut short by len: only len bytes are read */
    const char *full = "{\"name\":\"m\",\"value\":1}";
    char *exact = malloc(strlen(full) - 1);
    memcpy(exact, full, strlen(full) - 1); /* no closing brace, no NUL */
    assert_fatal(exact, strlen(full) - 1, "invalid JSON at line 1, column ");
    free(exact);
    /* duplicate keys are refused by the parser */
    assert_fatal("{\"name\":\"m\",\"value\":1,\"value\":2}", 32, "invalid JSON at line 1, ");
    assert_fatal("{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"1\",\"a\":\"2\"}}", 51,
                 "invalid JSON at line 1, ");
}

static void test_json_wrong_shape(void **state)
{
    (void)state;
    /* a scalar body is refused by the parser itself */
    assert_fatal("42", 2, "invalid JSON at line 1, column 2: '[' or '{' expected near '42'");
    assert_fatal("\"x\"", 3, "invalid JSON at line 1, column 3: '[' or '{' expected near '\"x\"'");
    assert_fatal("null", 4, "invalid JSON at line 1, column 4: '[' or '{' expected near 'null'");
    assert_fatal("[]", 2, "no samples in the body");
    assert_fatal("{\"samples\":[]}", 14, "no samples in the body");
    assert_fatal("{\"samples\":{}}", 14, "'samples' must be the only field and hold an array");
    assert_fatal("{\"samples\":[{\"name\":\"m\",\"value\":1}],\"x\":1}", 42,
                 "'samples' must be the only field and hold an array");
    /* an empty object is one sample, rejected by itself */
    assert_rejected("{}", "missing field 'name'");
}

static void test_json_too_many(void **state)
{
    (void)state;
    const char *body = "[{\"name\":\"a\",\"value\":1},{\"name\":\"b\",\"value\":1},"
                       "{\"name\":\"c\",\"value\":1}]";
    parse_t p;
    parse_len(&p, body, strlen(body), 2);
    assert_int_equal(p.rc, TN_ETOOBIG);
    assert_string_equal(p.fatal.data, "too many samples in one request (3, limit 2)");
    assert_int_equal(p.out.n, 0);
    assert_int_equal(p.rep.accepted, 0);
    assert_int_equal(p.rep.rejected, 0);
    parse_done(&p);
    parse_len(&p, body, strlen(body), 3);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.rep.accepted, 3);
    parse_done(&p);
    const char *wrapped =
        "{\"samples\":[{\"name\":\"a\",\"value\":1},{\"name\":\"b\",\"value\":1}]}";
    parse_len(&p, wrapped, strlen(wrapped), 1);
    assert_int_equal(p.rc, TN_ETOOBIG);
    assert_string_equal(p.fatal.data, "too many samples in one request (2, limit 1)");
    parse_done(&p);
}

/* ---- hostile input ---------------------------------------------------------------------- */

static void test_hostile_big_label_value(void **state)
{
    (void)state;
    tn_buf_t body;
    tn_buf_init(&body);
    tn_buf_puts(&body, "{\"name\":\"m\",\"value\":1,\"labels\":{\"big\":\"");
    for (int i = 0; i < 1024 * 1024; i++)
        tn_buf_append(&body, "x", 1);
    tn_buf_puts(&body, "\"}}");
    assert_rejected(body.data, "label 'big' value is longer than 4096 bytes");
    tn_buf_deinit(&body);

    /* exactly 4096 bytes is accepted */
    tn_buf_init(&body);
    tn_buf_puts(&body, "{\"name\":\"m\",\"value\":1,\"labels\":{\"big\":\"");
    for (int i = 0; i < 4096; i++)
        tn_buf_append(&body, "y", 1);
    tn_buf_puts(&body, "\"}}");
    parse_t p;
    parse(&p, body.data);
    assert_int_equal(p.rep.accepted, 1);
    assert_int_equal(strlen(p.out.items[0].labels[0].value), 4096);
    parse_done(&p);
    tn_buf_deinit(&body);

    /* a 100 KB label name */
    tn_buf_init(&body);
    tn_buf_puts(&body, "{\"name\":\"m\",\"value\":1,\"labels\":{\"");
    for (int i = 0; i < 100000; i++)
        tn_buf_append(&body, "n", 1);
    tn_buf_puts(&body, "\":\"v\"}}");
    assert_rejected(body.data, "label name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is "
                               "longer than 256 bytes");
    tn_buf_deinit(&body);
}

static void test_hostile_many_labels(void **state)
{
    (void)state;
    for (int n = 64; n <= 100; n += 36) {
        tn_buf_t body;
        tn_buf_init(&body);
        tn_buf_puts(&body, "{\"name\":\"m\",\"value\":1,\"labels\":{");
        for (int i = 0; i < n; i++)
            tn_buf_printf(&body, "%s\"l%03d\":\"v\"", i ? "," : "", i);
        tn_buf_puts(&body, "}}");
        if (n == 100) {
            assert_rejected(body.data, "too many labels (100, limit 64)");
        } else {
            parse_t p;
            parse(&p, body.data);
            assert_int_equal(p.rep.accepted, 1);
            assert_int_equal(p.out.items[0].nlabels, 64);
            assert_string_equal(p.out.items[0].labels[0].name, "l000");
            assert_string_equal(p.out.items[0].labels[63].name, "l063");
            parse_done(&p);
        }
        tn_buf_deinit(&body);
    }
}

static void test_hostile_deep_nesting(void **state)
{
    (void)state;
    size_t n = 10000;
    char *body = malloc(2 * n + 1);
    memset(body, '[', n);
    memset(body + n, ']', n);
    body[2 * n] = '\0';
    assert_fatal(body, 2 * n, "invalid JSON at line 1, column ");
    /* unclosed */
    assert_fatal(body, n, "invalid JSON at line 1, column ");
    free(body);
    /* deep nesting inside a label value */
    tn_buf_t b;
    tn_buf_init(&b);
    tn_buf_puts(&b, "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":");
    for (int i = 0; i < 10000; i++)
        tn_buf_puts(&b, "{\"a\":");
    tn_buf_puts(&b, "1");
    for (int i = 0; i < 10000; i++)
        tn_buf_puts(&b, "}");
    tn_buf_puts(&b, "}}");
    assert_fatal(b.data, b.len, "invalid JSON at line 1, column ");
    tn_buf_deinit(&b);
}

static void test_hostile_nul_bytes(void **state)
{
    (void)state;
    /* a raw NUL inside a string, inside a name, and after the document */
    static const char in_value[] = "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"x\0y\"}}";
    assert_fatal(in_value, sizeof in_value - 1, "invalid JSON at line 1, column ");
    static const char in_key[] = "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\0b\":\"x\"}}";
    assert_fatal(in_key, sizeof in_key - 1, "invalid JSON at line 1, column ");
    static const char trailing[] = "{\"name\":\"m\",\"value\":1}\0{\"name\":\"n\",\"value\":2}";
    assert_fatal(trailing, sizeof trailing - 1, "invalid JSON at line 1, column ");
    static const char leading[] = "\0{\"name\":\"m\",\"value\":1}";
    assert_fatal(leading, sizeof leading - 1, "invalid JSON at line 1, column ");
    /* an escaped NUL would cut C strings short: refused too */
    const char *esc = "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"x\\u0000y\"}}";
    assert_fatal(esc, strlen(esc), "invalid JSON at line 1, column ");
    const char *esc_name = "{\"name\":\"m\\u0000x\",\"value\":1}";
    assert_fatal(esc_name, strlen(esc_name), "invalid JSON at line 1, column ");
}

static void test_hostile_numbers(void **state)
{
    (void)state;
    /* JSON has no NaN/Infinity; overflowing numbers are refused by the parser */
    assert_fatal("{\"name\":\"m\",\"value\":NaN}", 24, "invalid JSON at line 1, column ");
    assert_fatal("{\"name\":\"m\",\"value\":1e999}", 26, "invalid JSON at line 1, column ");
    parse_t p;
    parse(&p, "{\"name\":\"m\",\"value\":-1.7976931348623157e308,\"timestamp\":1e300}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.rep.rejected, 1);
    parse_done(&p);
}

/* ---- series ids and canonical labels ---------------------------------------------------- */

static void sid_of(const char *body, char sid[17])
{
    parse_t p;
    parse(&p, body);
    assert_int_equal(p.rc, 0);
    if (p.rep.accepted != 1) fail_msg("%s: %s", body, p.rep.errors.data);
    memcpy(sid, p.out.items[0].sid, 17);
    parse_done(&p);
}

static void test_sid(void **state)
{
    (void)state;
    char a[17], b[17], c[17], d[17], e[17], f[17];
    sid_of("{\"name\":\"cpu\",\"value\":1,\"labels\":{\"host\":\"h1\",\"service\":\"api\","
           "\"zone\":\"z\"}}",
           a);
    sid_of("{\"labels\":{\"zone\":\"z\",\"service.name\":\"api\",\"host\":\"h1\"},\"value\":99,"
           "\"name\":\"cpu\",\"timestamp\":5}",
           b);
    sid_of("{\"name\":\"cpu\",\"value\":1,\"labels\":{\"service\":\"api\",\"zone\":\"z\","
           "\"host.name\":\"h1\"}}",
           c);
    assert_string_equal(a, b); /* label order, value and timestamp do not matter */
    assert_string_equal(a, c);
    sid_of("{\"name\":\"cpu\",\"value\":1,\"labels\":{\"host\":\"h2\",\"service\":\"api\","
           "\"zone\":\"z\"}}",
           d);
    assert_string_not_equal(a, d); /* a label value differs */
    sid_of("{\"name\":\"mem\",\"value\":1,\"labels\":{\"host\":\"h1\",\"service\":\"api\","
           "\"zone\":\"z\"}}",
           e);
    assert_string_not_equal(a, e); /* the name differs */
    /* the separators keep ("ab","c") and ("a","bc") apart */
    sid_of("{\"name\":\"m\",\"value\":1,\"labels\":{\"ab\":\"c\"}}", e);
    sid_of("{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"bc\"}}", f);
    assert_string_not_equal(e, f);

    /* the sid is FNV-1a 64 over name\0 label\0 value\0 ..., in 16 lower-case hex digits */
    uint64_t h = 14695981039346656037ULL;
    static const char parts[] = "cpu\0host\0h1\0service\0api\0zone\0z\0";
    h = fnv1a(h, parts, sizeof parts - 1);
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)h);
    assert_string_equal(a, want);
    sid_of("{\"name\":\"m\",\"value\":1}", f);
    h = fnv1a(14695981039346656037ULL, "m", 2);
    snprintf(want, sizeof want, "%016llx", (unsigned long long)h);
    assert_string_equal(f, want);
}

static void test_labels_json(void **state)
{
    (void)state;
    parse_t p;
    parse(&p, "{\"name\":\"m\",\"value\":1,\"labels\":{\"z\":\"1\",\"a\":\"2\",\"host.name\":\"h\","
              "\"q\":\"\\\"x\\\\\\n\\u0001\",\"B\":\"caf\xc3\xa9\"}}");
    assert_int_equal(p.rep.accepted, 1);
    tn_buf_t out;
    tn_buf_init(&out);
    assert_int_equal(tn_sample_labels_json(&p.out.items[0], &out), 0);
    assert_string_equal(out.data, "{\"B\":\"caf\xc3\xa9\",\"a\":\"2\",\"host\":\"h\","
                                  "\"q\":\"\\\"x\\\\\\n\\u0001\",\"z\":\"1\"}");
    /* it is valid JSON holding the same values */
    json_error_t je;
    json_t *j = json_loads(out.data, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "q")), "\"x\\\n\001");
    json_decref(j);
    parse_done(&p);

    /* no labels */
    tn_sample_t s;
    memset(&s, 0, sizeof s);
    tn_buf_reset(&out);
    assert_int_equal(tn_sample_labels_json(&s, &out), 0);
    assert_string_equal(out.data, "{}");
    tn_buf_deinit(&out);
}

static void test_sample_finish_direct(void **state)
{
    (void)state;
    tn_sample_t s;
    memset(&s, 0, sizeof s);
    s.name = strdup("m");
    s.labels = calloc(3, sizeof *s.labels);
    const char *kv[][2] = {{"c", "3"}, {"a", "1"}, {"b", "2"}};
    for (int i = 0; i < 3; i++) {
        s.labels[i].name = strdup(kv[i][0]);
        s.labels[i].value = strdup(kv[i][1]);
    }
    s.nlabels = 3;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_sample_finish(&s, &err), 0);
    assert_string_equal(s.labels[0].name, "a");
    assert_string_equal(s.labels[1].name, "b");
    assert_string_equal(s.labels[2].name, "c");
    /* make a duplicate */
    free(s.labels[2].name);
    s.labels[2].name = strdup("a");
    assert_int_equal(tn_sample_finish(&s, &err), TN_EINVAL);
    assert_string_equal(err.data, "duplicate label 'a'");
    tn_sample_deinit(&s);
    assert_null(s.name);
    assert_int_equal(s.nlabels, 0);
    tn_buf_deinit(&err);

    assert_true(tn_metric_name_valid("a:b_c9"));
    assert_true(tn_metric_name_valid(":x"));
    assert_false(tn_metric_name_valid("9a"));
    assert_false(tn_metric_name_valid("a-b"));
    assert_true(tn_label_name_valid("_"));
    assert_false(tn_label_name_valid("a:b"));
    assert_false(tn_label_name_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_aliases),
        cmocka_unit_test(test_label_aliases_configured),
        cmocka_unit_test(test_label_chars),
        cmocka_unit_test(test_label_invalid),
        cmocka_unit_test(test_ts_magnitude),
        cmocka_unit_test(test_ts_explicit_unit),
        cmocka_unit_test(test_ts_rejected),
        cmocka_unit_test(test_rfc3339_offsets),
        cmocka_unit_test(test_rfc3339_fraction),
        cmocka_unit_test(test_rfc3339_invalid),
        cmocka_unit_test(test_json_single_object),
        cmocka_unit_test(test_json_array_and_wrapper),
        cmocka_unit_test(test_json_appends),
        cmocka_unit_test(test_json_timestamps),
        cmocka_unit_test(test_json_bad_fields),
        cmocka_unit_test(test_json_bad_labels),
        cmocka_unit_test(test_json_partial),
        cmocka_unit_test(test_json_many_rejections),
        cmocka_unit_test(test_json_malformed),
        cmocka_unit_test(test_json_wrong_shape),
        cmocka_unit_test(test_json_too_many),
        cmocka_unit_test(test_hostile_big_label_value),
        cmocka_unit_test(test_hostile_many_labels),
        cmocka_unit_test(test_hostile_deep_nesting),
        cmocka_unit_test(test_hostile_nul_bytes),
        cmocka_unit_test(test_hostile_numbers),
        cmocka_unit_test(test_sid),
        cmocka_unit_test(test_labels_json),
        cmocka_unit_test(test_sample_finish_direct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
