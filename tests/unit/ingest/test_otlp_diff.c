/* test_otlp_diff.c - the streaming OTLP metrics parser (ingest/otlp_metrics.c) against the jansson
 * one it replaced (tn__otlp_metrics_dom): identical samples, reports and errors over the shared
 * vectors, the bodies of test_otlp.c, every truncation and many byte edits of them, thousands of
 * generated valid-but-random requests, and hostile or malformed JSON (tests/fuzz/otlp_diff.h
 * does the comparing). Also the tokenizer itself (ingest/jsonpull.h): events, errors, offsets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../vectors.h"
#include "../../fuzz/otlp_diff.h"

#include "ingest/jsonpull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------- */

static size_t g_cases, g_accepted, g_fatal, g_rejected_points;

/* Both parsers on body: fails the test, naming the body, when they differ. */
static void same_n(const char *body, size_t len, size_t max_items)
{
    char why[1024];
    for (int prefill = 0; prefill < 2; prefill++) {
        const char *d = otlp_diff(body, len, max_items, prefill, why, sizeof why);
        if (*d)
            fail_msg("parsers differ (%s) on %zu bytes: %.*s", d, len, (int)(len < 600 ? len : 600),
                     body);
    }
    /* counts for the summary line, from the streaming parser */
    otlp_diff_run_t r;
    otlp_diff_one(&r, 0, body, len, max_items, 0);
    g_cases++;
    if (r.rc == 0)
        g_accepted++, g_rejected_points += r.rep.rejected;
    else
        g_fatal++;
    otlp_diff_done(&r);
}

static void same(const char *body)
{
    same_n(body, strlen(body), 100000);
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return n ? (uint32_t)(g_rng % n) : 0;
}
static int chance(int pct)
{
    return (int)rnd(100) < pct;
}

static char *read_vec(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "otlp/%s", name);
    return tn_test_read_vector(rel, len);
}

/* ---- the shared vectors and test_otlp.c's bodies ----------------------------------------- */

static const char *const g_vectors[] = {"metrics.json", "logs.json", "trace.json", "events.json"};

static void test_vectors(void **state)
{
    for (size_t v = 0; v < sizeof g_vectors / sizeof g_vectors[0]; v++) {
        size_t len;
        char *body = read_vec(g_vectors[v], &len);
        for (size_t max = 0; max < 12; max++)
            same_n(body, len, max);
        same_n(body, len, 100000);
        /* every truncation */
        for (size_t cut = 0; cut < len; cut++)
            same_n(body, cut, 1000);
        free(body);
    }
}

#define GAUGE_PRE                                                                                  \
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"    \
    "{\"stringValue\":\"svc\"}}]},\"scopeMetrics\":[{\"metrics\":[{\"name\":\"g\",\"gauge\":{"     \
    "\"dataPoints\":["
#define GAUGE_POST "]}}]}]}]}"
#define GAUGE(points) GAUGE_PRE points GAUGE_POST

static const char *const g_bodies[] = {
    GAUGE("{\"asInt\":\"42\",\"timeUnixNano\":\"1544712660300000000\"},"
          "{\"asInt\":42,\"timeUnixNano\":1544712660300000000},{\"asInt\":\"-7\"},"
          "{\"asInt\":\"9223372036854775807\"},{\"asDouble\":\"2.5\"},{\"asDouble\":3,"
          "\"attributes\":[{\"key\":\"n\",\"value\":{\"intValue\":10}},{\"key\":\"s\",\"value\":"
          "{\"intValue\":\"-010\"}}]}"),
    GAUGE("{\"asDouble\":\"NaN\"},{\"asDouble\":\"Infinity\"},{\"asDouble\":\"-Infinity\"},"
          "{\"asDouble\":\"nan\"},{\"asDouble\":\"inf\"},{\"asDouble\":\" 1\"},"
          "{\"asDouble\":\"0x10\"},{\"asDouble\":\"1e999\"},{\"asDouble\":true}"),
    GAUGE("{\"asDouble\":1},{\"asDouble\":2,\"timeUnixNano\":\"yesterday\"},{\"asDouble\":3},"
          "{\"asInt\":\"12x\"},{\"asDouble\":5}"),
    GAUGE("{\"timeUnixNano\":\"1\"},{\"asDouble\":1,\"flags\":1},{\"asDouble\":1,\"flags\":\"2\"},"
          "{\"asDouble\":1,\"asInt\":\"1\"},7,{\"asDouble\":1,\"flags\":-1}"),
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
    "{\"name\":\"http.server.duration\",\"unit\":\"ms\",\"histogram\":{\"dataPoints\":["
    "{\"count\":\"10\",\"sum\":\"123.5\",\"bucketCounts\":[\"1\",2,\"3\",\"4\"],"
    "\"explicitBounds\":[0.005,0.1,1e6],\"timeUnixNano\":\"2000000000\"},{\"count\":5},"
    "{\"bucketCounts\":[1,2],\"explicitBounds\":[1,2]},"
    "{\"bucketCounts\":[1,2,3],\"explicitBounds\":[2,1]},"
    "{\"bucketCounts\":[1,2],\"explicitBounds\":[\"Infinity\"]},"
    "{\"bucketCounts\":[1,\"-2\"],\"explicitBounds\":[1]}]}},"
    "{\"name\":\"rpc.latency\",\"summary\":{\"dataPoints\":[{\"count\":\"4\",\"sum\":8,"
    "\"quantileValues\":[{\"quantile\":0.5,\"value\":1.5},{\"quantile\":0.99,\"value\":"
    "\"NaN\"},{\"value\":0.1}]},{\"quantileValues\":[{\"quantile\":2,\"value\":1}]}]}},"
    "{\"name\":\"9lives\",\"exponentialHistogram\":{\"dataPoints\":[{\"count\":7}]}}]}]}]}",
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
    "{\"key\":\"b\",\"value\":{\"bytesValue\":\"AAEC\"}},{\"key\":\"d\",\"value\":{\"doubleValue\":"
    "0.1}},{\"key\":\"le\",\"value\":{\"boolValue\":false}}]},"
    "{\"asInt\":5,\"attributes\":[{\"key\":\"x\",\"value\":{\"stringValue\":\"1\","
    "\"intValue\":1}}]},{\"asInt\":6,\"attributes\":{\"key\":\"x\"}},"
    "{\"asInt\":7,\"attributes\":[{\"value\":{\"stringValue\":\"1\"}}]},"
    "{\"asInt\":8,\"attributes\":[{\"key\":\"x\",\"value\":{\"intValue\":1.5}}]}]}}]}]},"
    "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
    "\"a\"}},{\"key\":\"service_name\",\"value\":{\"stringValue\":\"b\"}}]},"
    "\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\",\"gauge\":{\"dataPoints\":["
    "{\"asInt\":1},{\"asInt\":2}]}}]}]}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
    "{\"name\":\"a.b-c/d:e\",\"unit\":\"By\",\"sum\":{\"dataPoints\":[{\"asInt\":1}]}},"
    "{\"name\":\"\",\"gauge\":{\"dataPoints\":[{\"asInt\":1},{\"asInt\":2}]}},"
    "{\"name\":\"u\",\"unit\":5,\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}},"
    "{\"name\":\"x\",\"newKind\":{\"dataPoints\":[{\"asInt\":1}]}},"
    "{\"name\":\"caf\\u00e9\",\"unit\":\"\",\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}}]}]}]}",
    GAUGE("{\"asInt\":\"9223372036854775808\"},{\"asInt\":\"-9223372036854775808\"},"
          "{\"asInt\":\"+1\"},{\"asInt\":\"\"},{\"asInt\":1.0},{\"asInt\":1.5}"),
    GAUGE("{\"asInt\":99999999999999999999}"),
    GAUGE(
        "{\"asInt\":1,\"attributes\":[{\"key\":\"a\",\"value\":{\"stringValue\":\"x\\u0000y\"}}]}"),
    /* test_otlp.c's malformed bodies */
    "",
    "{\"resourceMetrics\": [",
    "{\"resourceMetrics\": []} x",
    "{\"a\":1,\"a\":2}",
    "[]",
    "\"x\"",
    "{\"resourceMetrics\":{}}",
    "{\"resourceMetrics\":[1]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":3}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[null]}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[[]]}]}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":5}]}]}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"dataPoints\":{}}}]}]}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\",\"gauge\":{},"
    "\"sum\":{}}]}]}]}",
    "{}",
    "{\"resourceMetrics\":null}",
    "{\"resourceMetrics\":[]}",
    "{\"resourceMetrics\":[{}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\"}]}]}]}",
    " {\"unknown\":{\"x\":[1,2]}} ",
    /* field orders the DOM did not care about */
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"attri"
    "butes\":[{\"value\":{\"intValue\":\"3\"},\"key\":\"k\"}],\"asInt\":\"5\"}]},\"unit\":\"s\","
    "\"name\":\"late\"}]}],\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
    "{\"stringValue\":\"after\"}}]}}]}",
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"asInt"
    "\":1}]},\"sum\":{\"dataPoints\":[{\"asInt\":2}]},\"name\":\"two\"}]}]}]}",
    /* escaped keys are the same keys */
    "{\"resource\\u004detrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"n\\u0061me\":\"esc\",\"g"
    "auge\":{\"dataPoints\":[{\"as\\u0044ouble\":1.5,\"attributes\":[{\"k\\u0065y\":\"\\u00e9"
    "\\ud83d\\ude00\",\"value\":{\"stringValue\":\"\\\"q\\\"\\n\\t\\/\\\\\"}}]}]}}]}]}]}",
    "{\"resourceMetrics\":[],\"resource\\u004detrics\":[]}",
};

static void test_bodies(void **state)
{
    for (size_t i = 0; i < sizeof g_bodies / sizeof g_bodies[0]; i++) {
        const char *b = g_bodies[i];
        size_t len = strlen(b);
        same_n(b, len, 100000);
        for (size_t max = 0; max < 8; max++)
            same_n(b, len, max);
        for (size_t cut = 0; cut < len; cut++)
            same_n(b, cut, 1000);
    }
}

/* ---- generated requests ------------------------------------------------------------------ */

typedef struct {
    tn_buf_t *b;
    int ws; /* put random whitespace between tokens */
} gen_t;

static void put(gen_t *g, const char *s)
{
    tn_buf_puts(g->b, s);
}

static void sp(gen_t *g)
{
    static const char *const ws[] = {" ", "\n", "\t", "\r\n", "  "};
    if (g->ws && chance(20)) put(g, ws[rnd(5)]);
}

static void gen_string(gen_t *g, const char *plain)
{
    put(g, "\"");
    if (plain && !chance(15)) {
        /* the intended text, sometimes with an escaped letter */
        for (const char *p = plain; *p; p++) {
            if (chance(5) && *p >= 'a' && *p <= 'z')
                tn_buf_printf(g->b, "\\u%04x", *p);
            else
                tn_buf_append(g->b, p, 1);
        }
    } else {
        static const char *const parts[] = {"a",
                                            "b",
                                            "Z",
                                            "9",
                                            "_",
                                            ".",
                                            "-",
                                            " ",
                                            "\\n",
                                            "\\\"",
                                            "\\\\",
                                            "\\/",
                                            "\\t",
                                            "\\u00e9",
                                            "\xc3\xa9",
                                            "\xe2\x82\xac",
                                            "\xf0\x9f\x98\x80",
                                            "\\ud83d\\ude00",
                                            "\\u20AC",
                                            "\\b\\f\\r",
                                            "service.name",
                                            "host.name",
                                            "k8s.pod.name",
                                            "le",
                                            "quantile",
                                            "x\\u0041y",
                                            "\x7f"};
        int n = (int)rnd(6);
        for (int i = 0; i < n; i++)
            put(g, parts[rnd(sizeof parts / sizeof parts[0])]);
    }
    put(g, "\"");
}

static void gen_number(gen_t *g, int integral)
{
    static const char *const ints[] = {"0",
                                       "1",
                                       "-1",
                                       "42",
                                       "1700000000000000000",
                                       "-0",
                                       "7",
                                       "255",
                                       "65536",
                                       "9223372036854775807",
                                       "-9223372036854775808",
                                       "4294967295",
                                       "4294967296"};
    static const char *const reals[] = {"1.5",
                                        "0.1",
                                        "-2.25",
                                        "1e3",
                                        "1E-7",
                                        "2.5e+2",
                                        "0.0",
                                        "-0.0",
                                        "1e308",
                                        "4.9e-324",
                                        "1e-400",
                                        "123456789012345678901234567890.5",
                                        "0.30000000000000004",
                                        "6.02214076e23",
                                        "1.0",
                                        "3.14159265358979323846264338327950288"};
    if (integral || chance(40))
        put(g, ints[rnd(sizeof ints / sizeof ints[0])]);
    else
        put(g, reals[rnd(sizeof reals / sizeof reals[0])]);
}

static void gen_scalar(gen_t *g)
{
    switch (rnd(8)) {
    case 0:
        put(g, "true");
        break;
    case 1:
        put(g, "false");
        break;
    case 2:
        put(g, "null");
        break;
    case 3:
    case 4:
        gen_number(g, 0);
        break;
    default:
        gen_string(g, NULL);
    }
}

/* Any JSON value, for unknown fields. */
static void gen_any(gen_t *g, int depth)
{
    int k = depth > 3 ? 0 : (int)rnd(4);
    if (k < 2) {
        gen_scalar(g);
        return;
    }
    int n = (int)rnd(4);
    put(g, k == 2 ? "[" : "{");
    for (int i = 0; i < n; i++) {
        if (i) put(g, ",");
        sp(g);
        if (k == 3) {
            tn_buf_printf(g->b, "\"u%d\":", i);
            sp(g);
        }
        gen_any(g, depth + 1);
    }
    put(g, k == 2 ? "]" : "}");
}

/* An object from members written by fns, in a random order, with unknown members and nulls
 * mixed in. Each fn writes "key":value. */
typedef void (*member_fn)(gen_t *g, int depth);

static void gen_object(gen_t *g, member_fn *fns, int n, int depth)
{
    int order[16];
    for (int i = 0; i < n; i++)
        order[i] = i;
    if (chance(60))
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rnd((uint32_t)i + 1), t = order[i];
            order[i] = order[j], order[j] = t;
        }
    put(g, "{");
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (chance(5)) { /* an unknown member */
            if (!first) put(g, ",");
            first = 0;
            sp(g);
            tn_buf_printf(g->b, "\"unknown%u\":", rnd(1000));
            gen_any(g, 0);
        }
        if (!fns[order[i]]) continue;
        size_t mark = g->b->len;
        if (!first) put(g, ",");
        sp(g);
        size_t before = g->b->len;
        fns[order[i]](g, depth);
        if (g->b->len == before)
            g->b->len = mark, g->b->data[mark] = '\0'; /* wrote nothing */
        else
            first = 0;
    }
    sp(g);
    put(g, "}");
}

static void gen_anyvalue(gen_t *g, int depth);

static void kv_key(gen_t *g, int d)
{
    static const char *const keys[] = {"service.name",
                                       "host.name",
                                       "host",
                                       "region",
                                       "a.b",
                                       "a_b",
                                       "le",
                                       "",
                                       "9x",
                                       "k",
                                       "deployment.environment",
                                       "__name__",
                                       "caf\xc3\xa9"};
    if (chance(3)) return; /* no key */
    put(g, "\"key\":");
    if (chance(3))
        gen_number(g, 1);
    else
        gen_string(g, keys[rnd(sizeof keys / sizeof keys[0])]);
}
static void kv_value(gen_t *g, int d)
{
    if (chance(5)) return;
    put(g, "\"value\":");
    sp(g);
    if (chance(3))
        put(g, "null");
    else
        gen_anyvalue(g, d + 1);
}

static void gen_kv(gen_t *g, int depth)
{
    member_fn f[] = {kv_key, kv_value};
    if (chance(2)) {
        gen_scalar(g);
        return;
    }
    gen_object(g, f, 2, depth);
}

static void gen_list(gen_t *g, void (*elem)(gen_t *, int), int max, int depth)
{
    int n = (int)rnd((uint32_t)max + 1);
    put(g, "[");
    for (int i = 0; i < n; i++) {
        if (i) put(g, ",");
        sp(g);
        elem(g, depth);
    }
    put(g, "]");
}

static void gen_anyvalue(gen_t *g, int depth)
{
    if (chance(3)) {
        gen_scalar(g);
        return;
    }
    int kind = (int)rnd(depth > 3 ? 5 : 8), two = chance(4);
    put(g, "{");
    for (int t = 0; t < 1 + two; t++) {
        if (t) put(g, ",");
        switch (t ? (int)rnd(7) : kind) {
        case 0:
            put(g, "\"stringValue\":");
            chance(5) ? gen_scalar(g) : gen_string(g, NULL);
            break;
        case 1:
            put(g, "\"boolValue\":");
            put(g, chance(5) ? "\"true\"" : chance(50) ? "true" : "false");
            break;
        case 2:
            put(g, "\"intValue\":");
            if (chance(50))
                put(g, "\""), gen_number(g, 1), put(g, "\"");
            else
                gen_number(g, chance(80));
            break;
        case 3:
            put(g, "\"doubleValue\":");
            if (chance(20))
                put(g, chance(50) ? "\"NaN\"" : "\"-Infinity\"");
            else
                gen_number(g, 0);
            break;
        case 4:
            put(g, "\"bytesValue\":\"AAEC\"");
            break;
        case 5:
            put(g, "\"arrayValue\":{\"values\":");
            gen_list(g, gen_anyvalue, 3, depth + 1);
            put(g, "}");
            break;
        case 6:
            put(g, "\"kvlistValue\":{\"values\":");
            gen_list(g, gen_kv, 3, depth + 1);
            put(g, "}");
            break;
        default:
            put(g, chance(50) ? "\"stringValue\":null" : "\"other\":1");
        }
    }
    put(g, "}");
}

static int g_kind; /* the data kind of the metric being generated */

static void p_time(gen_t *g, int d)
{
    if (chance(20)) return;
    put(g, "\"timeUnixNano\":");
    int r = (int)rnd(10);
    if (r < 6)
        tn_buf_printf(g->b, "\"17000000%02u000000000\"", rnd(100));
    else if (r < 8)
        tn_buf_printf(g->b, "17000000%02u000000000", rnd(100));
    else
        gen_scalar(g);
}
static void p_start(gen_t *g, int d)
{
    put(g, "\"startTimeUnixNano\":\"1699999999000000000\"");
}
static void p_attrs(gen_t *g, int d)
{
    if (chance(30)) return;
    put(g, "\"attributes\":");
    if (chance(3))
        gen_kv(g, d);
    else
        gen_list(g, gen_kv, 4, d);
}
static void p_flags(gen_t *g, int d)
{
    if (!chance(10)) return;
    put(g, "\"flags\":");
    if (chance(50))
        put(g, chance(50) ? "1" : "0");
    else
        gen_scalar(g);
}
static void p_value(gen_t *g, int d)
{
    int r = (int)rnd(10);
    if (r == 0) return;
    if (r < 5) {
        put(g, "\"asDouble\":");
        if (chance(10))
            gen_scalar(g);
        else if (chance(10))
            put(g, chance(50) ? "\"NaN\"" : "\"1.25\"");
        else
            gen_number(g, 0);
    } else if (r < 9) {
        put(g, "\"asInt\":");
        if (chance(40))
            put(g, "\""), gen_number(g, 1), put(g, "\"");
        else if (chance(10))
            gen_scalar(g);
        else
            gen_number(g, 1);
    } else {
        put(g, "\"asDouble\":1,\"asInt\":\"1\"");
    }
}
static void p_count(gen_t *g, int d)
{
    if (chance(20)) return;
    put(g, "\"count\":");
    if (chance(50))
        tn_buf_printf(g->b, "\"%u\"", rnd(50));
    else if (chance(90))
        tn_buf_printf(g->b, "%u", rnd(50));
    else
        gen_scalar(g);
}
static void p_sum(gen_t *g, int d)
{
    if (chance(20)) return;
    put(g, "\"sum\":");
    gen_number(g, 0);
}
static void p_buckets(gen_t *g, int d)
{
    int nb = (int)rnd(5), bad = chance(10);
    if (chance(10)) return;
    put(g, "\"bucketCounts\":[");
    for (int i = 0; i < nb; i++)
        if (bad && i == 1)
            tn_buf_printf(g->b, ",\"%ux\"", rnd(9));
        else if (chance(50))
            tn_buf_printf(g->b, "%s\"%u\"", i ? "," : "", rnd(9));
        else
            tn_buf_printf(g->b, "%s%u", i ? "," : "", rnd(9));
    put(g, "],\"explicitBounds\":[");
    double b = -1;
    for (int i = 0; i + 1 < nb + (chance(10) ? 1 : 0); i++) {
        b += chance(10) ? -1 : (double)rnd(8) / 4 + 0.25;
        tn_buf_printf(g->b, "%s%g", i ? "," : "", b);
    }
    put(g, "]");
}
static void p_quantiles(gen_t *g, int d)
{
    if (chance(20)) return;
    int n = (int)rnd(4);
    put(g, "\"quantileValues\":[");
    for (int i = 0; i < n; i++) {
        if (i) put(g, ",");
        if (chance(5)) {
            gen_scalar(g);
            continue;
        }
        put(g, "{");
        if (!chance(10)) tn_buf_printf(g->b, "\"quantile\":%g", chance(5) ? 1.5 : rnd(5) / 4.0);
        if (!chance(10))
            put(g, chance(20) ? ",\"value\":\"NaN\"" : ",\"value\":2.5");
        else
            put(g, ",\"other\":1");
        put(g, "}");
    }
    put(g, "]");
}
static void p_exemplars(gen_t *g, int d)
{
    if (chance(80)) return;
    put(g, "\"exemplars\":[{\"asDouble\":1,\"spanId\":\"eee19b7ec3c1b174\","
           "\"filteredAttributes\":[]}]");
}

static void gen_point(gen_t *g, int depth)
{
    if (chance(2)) {
        gen_scalar(g);
        return;
    }
    member_fn num[] = {p_time, p_start, p_attrs, p_flags, p_value, p_exemplars};
    member_fn hist[] = {p_time, p_start, p_attrs, p_flags, p_count, p_sum, p_buckets, p_exemplars};
    member_fn summ[] = {p_time, p_attrs, p_flags, p_count, p_sum, p_quantiles};
    if (g_kind < 2)
        gen_object(g, num, 6, depth);
    else if (g_kind == 2)
        gen_object(g, hist, 8, depth);
    else if (g_kind == 3)
        gen_object(g, (member_fn[]){p_time, p_attrs, p_count, p_sum}, 4, depth);
    else
        gen_object(g, summ, 6, depth);
}

static void k_points(gen_t *g, int d)
{
    put(g, "\"dataPoints\":");
    if (chance(2))
        gen_scalar(g);
    else
        gen_list(g, gen_point, 4, d);
}
static void k_temporality(gen_t *g, int d)
{
    if (g_kind == 1 || g_kind == 2) put(g, "\"aggregationTemporality\":2");
}

static void m_name(gen_t *g, int d)
{
    static const char *const names[] = {
        "http.server.duration", "cpu", "9lives", "a-b/c:d", "x", "mem_used_bytes", "caf\xc3\xa9"};
    if (chance(5)) return;
    put(g, "\"name\":");
    if (chance(3))
        gen_scalar(g);
    else
        gen_string(g, names[rnd(sizeof names / sizeof names[0])]);
}
static void m_unit(gen_t *g, int d)
{
    if (chance(40)) return;
    put(g, "\"unit\":");
    if (chance(5))
        gen_scalar(g);
    else
        gen_string(g, chance(50) ? "ms" : "");
}
static void m_desc(gen_t *g, int d)
{
    if (chance(50)) put(g, "\"description\":\"some text\"");
}
static void m_data(gen_t *g, int d)
{
    static const char *const kinds[] = {"gauge", "sum", "histogram", "exponentialHistogram",
                                        "summary"};
    g_kind = (int)rnd(5);
    int n = chance(2) ? 2 : chance(2) ? 0 : 1;
    for (int i = 0; i < n; i++) {
        if (i) put(g, ",");
        tn_buf_printf(g->b, "\"%s\":", kinds[i ? (g_kind + 1 + (int)rnd(4)) % 5 : g_kind]);
        if (chance(2)) {
            gen_scalar(g);
            continue;
        }
        member_fn f[] = {k_points, k_temporality};
        gen_object(g, f, 2, d);
    }
}

static void gen_metric(gen_t *g, int depth)
{
    if (chance(1)) {
        gen_scalar(g);
        return;
    }
    member_fn f[] = {m_name, m_unit, m_desc, m_data};
    gen_object(g, f, 4, depth);
}

static void s_metrics(gen_t *g, int d)
{
    if (chance(3)) return;
    put(g, "\"metrics\":");
    if (chance(1))
        gen_scalar(g);
    else
        gen_list(g, gen_metric, 3, d);
}
static void s_scope(gen_t *g, int d)
{
    if (chance(50)) put(g, "\"scope\":{\"name\":\"lib\",\"version\":\"1.0\",\"attributes\":[]}");
}

static void gen_scope(gen_t *g, int depth)
{
    if (chance(1)) {
        put(g, "null");
        return;
    }
    member_fn f[] = {s_scope, s_metrics};
    gen_object(g, f, 2, depth);
}

static void r_resource(gen_t *g, int d)
{
    if (chance(20)) return;
    put(g, "\"resource\":");
    if (chance(3)) {
        gen_scalar(g);
        return;
    }
    put(g, "{\"attributes\":");
    gen_list(g, gen_kv, 3, d);
    put(g, chance(30) ? ",\"droppedAttributesCount\":0}" : "}");
}
static void r_scopes(gen_t *g, int d)
{
    if (chance(5)) return;
    put(g, "\"scopeMetrics\":");
    if (chance(1))
        gen_scalar(g);
    else
        gen_list(g, gen_scope, 2, d);
}
static void r_schema(gen_t *g, int d)
{
    if (chance(30)) put(g, "\"schemaUrl\":\"https://opentelemetry.io/schemas/1.21.0\"");
}

static void gen_rm(gen_t *g, int depth)
{
    member_fn f[] = {r_resource, r_scopes, r_schema};
    if (chance(1)) {
        gen_scalar(g);
        return;
    }
    gen_object(g, f, 3, depth);
}

static void gen_request(tn_buf_t *b)
{
    gen_t g = {b, chance(30)};
    tn_buf_reset(b);
    sp(&g);
    put(&g, "{");
    if (chance(10)) put(&g, "\"other\":[1,2],");
    put(&g, "\"resourceMetrics\":");
    gen_list(&g, gen_rm, 3, 0);
    put(&g, "}");
    sp(&g);
}

static void test_generated(void **state)
{
    tn_buf_t b;
    tn_buf_init(&b);
    size_t n = 4000;
    for (size_t i = 0; i < n; i++) {
        gen_request(&b);
        same_n(b.data, b.len, i % 7 == 0 ? rnd(20) : 100000);
        /* and broken: a cut, a byte changed, dropped or doubled */
        if (i % 4 == 0 && b.len > 2) {
            size_t at = rnd((uint32_t)b.len);
            same_n(b.data, at, 1000);
            char *m = malloc(b.len + 2);
            assert_non_null(m);
            static const char bytes[] = "{}[]:,\"\\ 0-1e.atfnu\x80\xc3\xff";
            memcpy(m, b.data, b.len);
            m[at] = bytes[rnd(sizeof bytes - 1)];
            same_n(m, b.len, 1000);
            memcpy(m, b.data, at);
            memcpy(m + at, b.data + at + 1, b.len - at - 1);
            same_n(m, b.len - 1, 1000);
            memcpy(m, b.data, at + 1);
            memcpy(m + at + 1, b.data + at, b.len - at);
            same_n(m, b.len + 1, 1000);
            free(m);
        }
    }
    tn_buf_deinit(&b);
    print_message("generated: %zu cases so far, %zu parsed (%zu points rejected), %zu fatal\n",
                  g_cases, g_accepted, g_rejected_points, g_fatal);
    /* the generator must reach all outcomes */
    assert_true(g_accepted > 1000 && g_fatal > 1000 && g_rejected_points > 1000);
}

/* ---- malformed, truncated, oversized, hostile -------------------------------------------- */

static void test_malformed_json(void **state)
{
    static const char *const cases[] = {
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{,}",
        "{\"a\":1 \"b\":2}",
        "[1,]",
        "[,1]",
        "[1 2]",
        "{\"resourceMetrics\":[1,2,]}",
        "{} x",
        "{}{}",
        "{},",
        "[] ]",
        "  ",
        "\xef\xbb\xbf{}",
        "{\"a\":tru}",
        "{\"a\":truex}",
        "{\"a\":nul}",
        "{\"a\":True}",
        "{\"a\":-}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":1e+}",
        "{\"a\":+1}",
        "{\"a\":0x10}",
        "{\"a\":1.5.5}",
        "{\"a\":--1}",
        "{\"a\":-01}",
        "{\"a\":1ee5}",
        "{\"a\":Infinity}",
        "{\"a\":NaN}",
        "{\"a\":9223372036854775807}",
        "{\"a\":9223372036854775808}",
        "{\"a\":-9223372036854775808}",
        "{\"a\":-9223372036854775809}",
        "{\"a\":123456789012345678901234567890}",
        "{\"a\":1e308}",
        "{\"a\":1e309}",
        "{\"a\":-1e309}",
        "{\"a\":1e-400}",
        "{\"a\":0.0000000000000000000000000001e330}",
        "{\"a\":179769313486231570000000000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000.5}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12G4\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\n\"}",
        "{\"a\":\"\\ud800\\ud800\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"\\u0000\":1}",
        "{\"a\\u0000b\":1}",
        "{\"a\":\"x\ty\"}",
        "{\"a\":\"x\ny\"}",
        "{\"a\":\"x\x01y\"}",
        "{\"a\":\"x\x1fy\"}",
        "{\"a\":\"\\",
        "{\"a\":\"\\u00",
        "{\"a\":\"abc",
        "{\"a\":\"\xc0\x80\"}",
        "{\"a\":\"\xe0\x80\x80\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xf5\x80\x80\x80\"}",
        "{\"a\":\"\x80\"}",
        "{\"a\":\"\xe2\x82\"}",
        "{\"a\":\"\xe2\x82",
        "{\"a\":\"\\\xc3\xa9\"}",
        "{\"a\":\"\\u00\xc3\xa9\"}",
        "{\"a\":\"\\\xff\"}",
        "{\"a\":1\xff}",
        "{\"a\":-\xff}",
        "{\"a\":tr\xff}",
        "{\"a\":\xc3\xa9}",
        "{\"a\":\xff}",
        "\xff",
        "{\"a\":1}\xff",
        "{\"a\":1\xc3\xa9}",
        "{\"a\":1.\xff}",
        "{\"a\":1e\xff}",
        "{\"\xff\":1}",
        "{\"a\":\"0123456789012345678901234567890123456789\n\"}",
        "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1,\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":2}",
        "{\"a\":1,\"b\":2,\"\\u0061\":3}",
        "{\"resourceMetrics\":[],\"resourceMetrics\":[]}",
        "{\"a\":{\"b\":1,\"b\":2}}",
        "{\"a\":[{\"k\":1},{\"k\":1}]}",
        "{\"a\":\f1}",
        "{\"a\":\v1}",
        "{\"a\":[\"\\uDBFF\\uDFFF\",\"\\uD800\\uDC00\",\"\xf4\x8f\xbf\xbf\"]}",
        "{\"a\":\"\\u00e9\\u0800\\uFFFF\"}",
        "{\"a\"}",
        "{\"a\":1:2}",
        "{:1}",
        "{1:1}",
        "{\"a\":[}",
        "{\"a\":{]}",
        "[",
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\":1",
        "{\"a\":[1",
        "{\"a\":[1,",
        "{\"a\":[[[[",
        "\n\n  {\n\"a\":\n  x}",
        "{\"a\":\"\xc3\xa9\xc3\xa9\" x}",
        "\xc3\xa9\xc3\xa9 {}",
        "{\"a\":\"\\\"\"}x",
        "1",
        "true",
        "null",
        "\"s\"",
        "-1",
        "[1]",
        "{\"a\":[1,2,3]} \n\t\r ",
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{"
        "\"name\":\"m\",\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}}]}"
        "]}]} trailing",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same(cases[i]);
}

static void nest(tn_buf_t *b, const char *pre, size_t depth, const char *open, const char *mid,
                 const char *close, const char *post)
{
    tn_buf_reset(b);
    tn_buf_puts(b, pre);
    for (size_t i = 0; i < depth; i++)
        tn_buf_puts(b, open);
    tn_buf_puts(b, mid);
    for (size_t i = 0; i < depth; i++)
        tn_buf_puts(b, close);
    tn_buf_puts(b, post);
}

static void test_hostile(void **state)
{
    tn_buf_t b;
    tn_buf_init(&b);
    /* nesting around jansson's limit of 2048 levels, in a known and an unknown field */
    size_t depths[] = {2045, 2046, 2047, 2048, 2049, 100000};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        nest(&b, "{\"resourceMetrics\":", depths[i], "[", "", "]", "}");
        same(b.data);
        nest(&b, "{\"x\":", depths[i], "[", "1", "]", "}");
        same(b.data);
        nest(&b, "[", depths[i], "{\"a\":", "{}", "}", "]");
        same(b.data);
        /* an attribute value nested as deep (the AnyValue limit of 32 comes first) */
        nest(&b, GAUGE_PRE "{\"asInt\":1,\"attributes\":[{\"key\":\"k\",\"value\":", depths[i] / 40,
             "{\"arrayValue\":{\"values\":[", "{\"intValue\":1}", "]}}", "}]}" GAUGE_POST);
        same(b.data);
    }
    /* nested AnyValues around 32 levels */
    for (size_t d = 28; d < 36; d++) {
        nest(&b, GAUGE_PRE "{\"asInt\":1,\"attributes\":[{\"key\":\"k\",\"value\":", d,
             "{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":", "{\"stringValue\":\"x\"}",
             "}]}}", "}]}" GAUGE_POST);
        same(b.data);
    }
    /* one object with many keys, a duplicate at the end; many attributes */
    tn_buf_reset(&b);
    tn_buf_puts(&b, "{\"x\":{");
    for (int i = 0; i < 50000; i++)
        tn_buf_printf(&b, "\"k%d\":%d,", i, i);
    tn_buf_puts(&b, "\"k17\":0}}");
    same(b.data);
    b.data[b.len - 10] = 'z'; /* no duplicate any more */
    same(b.data);
    tn_buf_reset(&b);
    tn_buf_puts(&b, GAUGE_PRE "{\"asInt\":2,\"attributes\":[");
    for (int i = 0; i < 300; i++)
        tn_buf_printf(&b, "%s{\"key\":\"k%d\",\"value\":{\"intValue\":%d}}", i ? "," : "", i, i);
    tn_buf_puts(&b, "]}" GAUGE_POST);
    same(b.data);
    /* long strings: names, units, label values around the limits */
    size_t lens[] = {63, 64, 65, 255, 256, 257, 4095, 4096, 4097, 1 << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *s = malloc(lens[i] + 1);
        memset(s, 'a', lens[i]);
        s[lens[i]] = '\0';
        tn_buf_reset(&b);
        tn_buf_printf(
            &b,
            "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"%s\","
            "\"histogram\":{\"dataPoints\":[{\"count\":1}]}},{\"name\":\"m\",\"unit\":"
            "\"%s\",\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}},{\"name\":\"v\",\"gauge\":"
            "{\"dataPoints\":[{\"asInt\":1,\"attributes\":[{\"key\":\"%s\",\"value\":"
            "{\"stringValue\":\"%s\"}}]}]}}]}]}]}",
            s, s, s, s);
        same(b.data);
        free(s);
    }
    /* many points over max_items, in several metrics */
    tn_buf_reset(&b);
    tn_buf_puts(&b, "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[");
    for (int m = 0; m < 20; m++) {
        tn_buf_printf(&b, "%s{\"name\":\"m%d\",\"%s\":{\"dataPoints\":[", m ? "," : "", m,
                      m % 3 ? "gauge" : "histogram");
        for (int p = 0; p < 50; p++)
            tn_buf_printf(&b,
                          "%s{\"asInt\":%d,\"count\":%d,\"bucketCounts\":[1,2],"
                          "\"explicitBounds\":[0.5]}",
                          p ? "," : "", p, p);
        tn_buf_puts(&b, "]}}");
    }
    tn_buf_puts(&b, "]}]}]}");
    size_t maxes[] = {0, 1, 99, 100, 500, 2999, 3000, 100000};
    for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++)
        same_n(b.data, b.len, maxes[i]);
    /* whitespace, and a NULL body */
    same_n(NULL, 0, 10);
    tn_buf_deinit(&b);
}

/* ---- the tokenizer itself ---------------------------------------------------------------- */

static void test_jsonpull_events(void **state)
{
    const char *doc = " {\"a\" : [1, -2.5e3, \"x\\u00e9\\ud83d\\ude00\", true, false, null, {}],"
                      "\"b\\n\":{\"c\":[]}} ";
    tn_jp_t p;
    tn_jp_init(&p, doc, strlen(doc), TN_JP_REJECT_DUPLICATES);
    static const tn_jp_event_t want[] = {
        TN_JP_OBJECT,     TN_JP_KEY,       TN_JP_ARRAY,      TN_JP_INT,        TN_JP_REAL,
        TN_JP_STRING,     TN_JP_TRUE,      TN_JP_FALSE,      TN_JP_NULL,       TN_JP_OBJECT,
        TN_JP_OBJECT_END, TN_JP_ARRAY_END, TN_JP_KEY,        TN_JP_OBJECT,     TN_JP_KEY,
        TN_JP_ARRAY,      TN_JP_ARRAY_END, TN_JP_OBJECT_END, TN_JP_OBJECT_END, TN_JP_END,
        TN_JP_END};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        tn_jp_event_t ev = tn_jp_next(&p);
        if (ev != want[i]) fail_msg("event %zu: %d, want %d (%s)", i, ev, want[i], tn_jp_error(&p));
        if (i == 1) assert_true(p.len == 1 && p.str[0] == 'a' && p.off == 2);
        if (i == 3) assert_int_equal(tn_jp_int_value(p.str, p.len), 1);
        if (i == 4) assert_true(tn_jp_real_value(p.str, p.len) == -2500.0);
        if (i == 5) {
            assert_int_equal(p.len, 7);
            assert_memory_equal(p.str, "x\xc3\xa9\xf0\x9f\x98\x80", 7);
        }
        if (i == 12) assert_true(p.len == 2 && memcmp(p.str, "b\n", 2) == 0);
    }
    tn_jp_deinit(&p);

    /* errors: message, byte offset, line and column (characters) */
    const char *bad = "{\"a\":\n  \"\xc3\xa9\xc3\xa9\" x}";
    tn_jp_init(&p, bad, strlen(bad), 0);
    tn_jp_event_t ev;
    while ((ev = tn_jp_next(&p)) != TN_JP_ERROR && ev != TN_JP_END)
        ;
    assert_int_equal(ev, TN_JP_ERROR);
    assert_string_equal(tn_jp_error(&p), "'}' expected near 'x'");
    assert_int_equal(tn_jp_error_offset(&p), strlen(bad) - 1);
    assert_int_equal(tn_jp_error_line(&p), 2);
    assert_int_equal(tn_jp_error_column(&p), 8);
    assert_int_equal(tn_jp_error_code(&p), 0);
    tn_jp_deinit(&p);

    /* the one difference from jansson (which reads "[1\0]" as [1]): a NUL byte is refused */
    tn_jp_init(&p, "[1\0]", 4, 0);
    assert_int_equal(tn_jp_next(&p), TN_JP_ARRAY);
    assert_int_equal(tn_jp_next(&p), TN_JP_INT);
    assert_int_equal(tn_jp_next(&p), TN_JP_ERROR);
    assert_int_equal(tn_jp_next(&p), TN_JP_ERROR);
    tn_jp_deinit(&p);

    /* skipping a value checks it */
    const char *sk = "{\"skip\":{\"a\":[1,2,{\"b\":\"\\ud800\"}]},\"k\":1}";
    tn_jp_init(&p, sk, strlen(sk), 0);
    assert_int_equal(tn_jp_next(&p), TN_JP_OBJECT);
    assert_int_equal(tn_jp_next(&p), TN_JP_KEY);
    assert_int_equal(tn_jp_skip(&p, tn_jp_next(&p)), TN_JP_ERROR);
    assert_string_equal(tn_jp_error(&p), "invalid Unicode '\\uD800' near '\"\\ud800\"'");
    tn_jp_deinit(&p);

    /* the index: kept and dropped members, KEEP_ALL */
    tn_jp_doc_t d;
    tn_jp_doc_init(&d);
    const char *j = "{\"x\":[1,{\"y\":\"z\\n\"}],\"drop\":[[[]]]}";
    assert_int_equal(tn_jp_doc_build(&d, j, strlen(j), 0, TN_JP_KEEP_ALL), 0);
    assert_int_equal(d.n, 11); /* {, x, [, 1, {, y, "z", drop, [, [, [ */
    assert_int_equal(d.nodes[0].len, 2);
    assert_int_equal(d.nodes[2].len, 2);
    assert_int_equal(d.nodes[2].next, 7);
    assert_true(d.nodes[6].in_buf && memcmp(tn_jp_doc_str(&d, &d.nodes[6]), "z\n", 2) == 0);
    static const tn_jp_schema_t leaf = {NULL, NULL};
    static const tn_jp_member_t m[] = {{"drop", &leaf}, {NULL, NULL}};
    static const tn_jp_schema_t only_drop = {m, NULL};
    assert_int_equal(tn_jp_doc_build(&d, j, strlen(j), 0, &only_drop), 0);
    assert_int_equal(d.n, 3); /* {, drop, [] (kept empty) */
    assert_int_equal(d.nodes[2].type, TN_JP_ARRAY);
    assert_int_equal(d.nodes[2].len, 0);
    assert_int_equal(tn_jp_doc_build(&d, "{\"a\":1,\"a\":2}", 13, TN_JP_REJECT_DUPLICATES, NULL),
                     TN_EINVAL);
    assert_string_equal(tn_jp_error(&d.jp), "duplicate object key near '\"a\"'");
    tn_jp_doc_deinit(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonpull_events), cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_bodies),          cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_hostile),         cmocka_unit_test(test_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
