/* test_influx.c - the InfluxDB line protocol parser (ingest/influx.c): the documented examples of
 * the line protocol reference and tutorial (docs.influxdata.com, influxdata/docs-v2), escapes,
 * types, precisions, partial batches, hostile input, the streaming prefix helper and allocation
 * failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/sample.h"
#include "ingest/influx.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static void parse_len(result_t *r, const char *body, size_t len, const char *precision)
{
    tn_batch_init(&r->out);
    tn_ingest_report_init(&r->rep);
    tn_buf_init(&r->fatal);
    tn_parse_opts_t o = {NOW, 0};
    r->rc = tn_parse_influx(body, len, &o, precision, &r->out, &r->rep, &r->fatal);
}

static void parse(result_t *r, const char *body)
{
    parse_len(r, body, strlen(body), NULL);
}

static void labels_text(const tn_sample_t *s, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < s->nlabels && n < size; j++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s=%s", j ? "," : "", s->labels[j].name,
                              s->labels[j].value);
}

/* The sample with this name and these labels ("a=1,b=2", sorted), or NULL. */
static const tn_sample_t *find(const result_t *r, const char *name, const char *labels)
{
    for (size_t i = 0; i < r->out.samples.n; i++) {
        const tn_sample_t *s = &r->out.samples.items[i];
        if (strcmp(s->name, name) != 0) continue;
        char buf[8192];
        labels_text(s, buf, sizeof buf);
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

/* Sample i is name{labels} = v at ts. */
static void assert_sample(const result_t *r, size_t i, const char *name, const char *labels,
                          double v, int64_t ts)
{
    if (i >= r->out.samples.n) fail_msg("no sample %zu (have %zu)", i, r->out.samples.n);
    const tn_sample_t *s = &r->out.samples.items[i];
    char buf[8192];
    labels_text(s, buf, sizeof buf);
    if (strcmp(s->name, name) || strcmp(buf, labels) || !(s->value == v) || s->ts_ms != ts)
        fail_msg("sample %zu: %s{%s} %.17g %lld, want %s{%s} %.17g %lld", i, s->name, buf, s->value,
                 (long long)s->ts_ms, name, labels, v, (long long)ts);
    assert_null(s->unit);
}

static void assert_errors(const result_t *r, const char *want)
{
    assert_string_equal(r->rep.errors.data ? r->rep.errors.data : "", want);
}

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

/* One line, expected to be rejected with this reason. */
static void assert_bad(const char *line, const char *reason)
{
    result_t r;
    parse(&r, line);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.samples.n, 0);
    assert_int_equal(r.rep.rejected, 1);
    char want[1024];
    snprintf(want, sizeof want, "[{\"line\":1,\"error\":\"line 1: %s\"}]", reason);
    if (strcmp(r.rep.errors.data, want) != 0)
        fail_msg("'%s': got %s, want %s", line, r.rep.errors.data, want);
    res_free(&r);
}

/* ---- the documented examples ------------------------------------------------------------ */

/* InfluxDB 1.x line protocol tutorial (influxdb/v1.x/write_protocols/line_protocol_tutorial). */
static void test_doc_tutorial(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "weather,location=us-midwest temperature=82 1465839830100400200\n"
              "weather,location=us-midwest,season=summer temperature=82 1465839830100400200\n"
              "weather temperature=82 1465839830100400200\n"
              "weather,location=us-midwest temperature=82,bug_concentration=98 "
              "1465839830100400200\n"
              "weather,location=us-midwest temperature=82\n"
              "weather,location=us-midwest temperature=82i 1465839830100400200\n"
              "weather,location=us-midwest temperature=\"too warm\" 1465839830100400200\n"
              "weather,location=us-midwest too_hot=true 1465839830100400200\n");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(r.rep.accepted, 8); /* the string field is no sample */
    assert_canonical(&r);
    const int64_t ts = 1465839830100LL; /* 2016-06-13T17:43:50.1004002Z, truncated to ms */
    assert_sample(&r, 0, "weather_temperature", "location=us-midwest", 82, ts);
    assert_sample(&r, 1, "weather_temperature", "location=us-midwest,season=summer", 82, ts);
    assert_sample(&r, 2, "weather_temperature", "", 82, ts);
    assert_sample(&r, 3, "weather_temperature", "location=us-midwest", 82, ts);
    assert_sample(&r, 4, "weather_bug_concentration", "location=us-midwest", 98, ts);
    assert_sample(&r, 5, "weather_temperature", "location=us-midwest", 82, NOW);
    assert_sample(&r, 6, "weather_temperature", "location=us-midwest", 82, ts);
    assert_sample(&r, 7, "weather_too_hot", "location=us-midwest", 1, ts);
    /* same series, same sid */
    assert_string_equal(r.out.samples.items[0].sid, r.out.samples.items[3].sid);
    assert_string_not_equal(r.out.samples.items[3].sid, r.out.samples.items[4].sid);
    res_free(&r);

    /* special characters */
    parse(&r, "weather,location=us\\,midwest temperature=82 1465839830100400200\n"
              "weather,location=us-midwest temp\\=rature=82 1465839830100400200\n"
              "weather,location\\ place=us-midwest temperature=82 1465839830100400200\n"
              "wea\\,ther,location=us-midwest temperature=82 1465839830100400200\n"
              "wea\\ ther,location=us-midwest temperature=82 1465839830100400200\n"
              "weather,location=us-midwest temperature=\"too\\\"hot\\\"\" 1465839830100400200\n"
              "we\xe2\x9b\x85\xef\xb8\x8fther,location=us-midwest temper\xf0\x9f\x94\xa5ture=82 "
              "1465839830100400200\n");
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(r.rep.accepted, 6);
    assert_canonical(&r);
    assert_sample(&r, 0, "weather_temperature", "location=us,midwest", 82, ts);
    assert_sample(&r, 1, "weather_temp_rature", "location=us-midwest", 82, ts);
    assert_sample(&r, 2, "weather_temperature", "location_place=us-midwest", 82, ts);
    assert_sample(&r, 3, "wea_ther_temperature", "location=us-midwest", 82, ts);
    assert_sample(&r, 4, "wea_ther_temperature", "location=us-midwest", 82, ts);
    /* ⛅ and U+FE0F are two characters, 🔥 one */
    assert_sample(&r, 5, "we__ther_temper_ture", "location=us-midwest", 82, ts);
    res_free(&r);
}

/* InfluxDB v2 line protocol reference (influxdb/v2/reference/syntax/line-protocol). */
static void test_doc_reference(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "myMeasurement,tag1=value1,tag2=value2 fieldKey=\"fieldValue\" 1556813561098000000\n"
              "measurementName fieldKey=\"field string value\" 1556813561098000000\n"
              /* Float field value examples */
              "myMeasurement fieldKey=1.0\n"
              "myMeasurement fieldKey=1\n"
              "myMeasurement fieldKey=-1.234456e+78\n"
              /* Integer field value examples */
              "myMeasurement fieldKey=1i\n"
              "myMeasurement fieldKey=12485903i\n"
              "myMeasurement fieldKey=-12485903i\n"
              /* UInteger field value examples */
              "myMeasurement fieldKey=1u\n"
              "myMeasurement fieldKey=12485903u\n"
              /* String example */
              "# String measurement name, field key, and field value\n"
              "myMeasurement fieldKey=\"this is a string\"\n"
              /* Boolean field value examples */
              "myMeasurement fieldKey=true\n"
              "myMeasurement fieldKey=false\n"
              "myMeasurement fieldKey=t\n"
              "myMeasurement fieldKey=f\n"
              "myMeasurement fieldKey=TRUE\n"
              "myMeasurement fieldKey=FALSE\n"
              /* Unix timestamp example */
              "myMeasurementName fieldKey=\"fieldValue\" 1556813561098000000\n"
              /* Examples of special characters in line protocol */
              "# Measurement name with spaces\n"
              "my\\ Measurement fieldKey=\"string value\"\n"
              "\n"
              "# Double quotes in a string field value\n"
              "myMeasurement fieldKey=\"\\\"string\\\" within a string\"\n"
              "\n"
              "# Tag keys and values with spaces\n"
              "myMeasurement,tag\\ Key1=tag\\ Value1,tag\\ Key2=tag\\ Value2 fieldKey=100\n"
              "\n"
              "# Emojis\n"
              "myMeasurement,tagKey=\xf0\x9f\x8d\xad fieldKey=\"Launch \xf0\x9f\x9a\x80\" "
              "1556813561098000000\n"
              /* Comments */
              "# This is a comment\n"
              "myMeasurement fieldKey=\"string value\" 1556813561098000000\n");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.rejected, 0);
    assert_null(r.rep.errors.data);
    assert_int_equal(r.rep.accepted, 15);
    assert_canonical(&r);
    static const double want[] = {
        1.0, 1, -1.234456e+78, 1, 12485903, -12485903, 1, 12485903, 1, 0, 1, 0, 1, 0};
    for (size_t i = 0; i < 14; i++)
        assert_sample(&r, i, "myMeasurement_fieldKey", "", want[i], NOW);
    assert_sample(&r, 14, "myMeasurement_fieldKey", "tag_Key1=tag Value1,tag_Key2=tag Value2", 100,
                  NOW);
    res_free(&r);

    /* the documented limits */
    parse(&r, "m i=-9223372036854775808i,j=9223372036854775807i,u=0u,v=18446744073709551615u "
              "9223372036854775806\n"
              "m x=1 -9223372036854775806\n");
    assert_int_equal(r.rep.accepted, 4);
    assert_sample(&r, 0, "m_i", "", -9223372036854775807.0 - 1, 9223372036854LL);
    assert_sample(&r, 1, "m_j", "", 9223372036854775807.0, 9223372036854LL);
    assert_sample(&r, 2, "m_u", "", 0, 9223372036854LL);
    assert_sample(&r, 3, "m_v", "", 18446744073709551615.0, 9223372036854LL);
    assert_errors(&r, "[{\"line\":2,\"error\":\"line 2: timestamp '-9223372036854775806' is "
                      "before 1970\"}]");
    res_free(&r);
}

/* "Escaping backslashes": \ -> \, \\ -> \, \\\ -> \\, \\\\ -> \\, \\\\\ -> \\\, \\\\\\ -> \\\ */
static void test_backslashes(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "m,t=a\\b f=1\n"
              "m,t=a\\\\b f=2\n"
              "m,t=a\\\\\\b f=3\n"
              "m,t=a\\\\\\\\b f=4\n"
              "m,t=a\\\\\\\\\\b f=5\n"
              "m,t=a\\\\\\\\\\\\b f=6\n"
              "m,t=a\\=b\\,c\\ d f=7\n"
              "m\\=x,t=1 f=8\n" /* '=' is not escaped in a measurement */
              "m,t\\=k=1 f\\,k\\ x\\=y=9\n");
    assert_int_equal(r.rep.rejected, 0);
    assert_sample(&r, 0, "m_f", "t=a\\b", 1, NOW);
    assert_sample(&r, 1, "m_f", "t=a\\b", 2, NOW);
    assert_sample(&r, 2, "m_f", "t=a\\\\b", 3, NOW);
    assert_sample(&r, 3, "m_f", "t=a\\\\b", 4, NOW);
    assert_sample(&r, 4, "m_f", "t=a\\\\\\b", 5, NOW);
    assert_sample(&r, 5, "m_f", "t=a\\\\\\b", 6, NOW);
    assert_sample(&r, 6, "m_f", "t=a=b,c d", 7, NOW);
    assert_sample(&r, 7, "m__x_f", "t=1", 8, NOW);
    assert_sample(&r, 8, "m_f_k_x_y", "t_k=1", 9, NOW);
    res_free(&r);

    /* string values: \" and \\ do not end the string; ',' ' ' '=' inside are plain */
    parse(&r, "m s=\"a\\\\\",x=1,t=\"b, c=d \\\"e\\\"\",y=2 7000000\n");
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(r.rep.accepted, 2);
    assert_sample(&r, 0, "m_x", "", 1, 7);
    assert_sample(&r, 1, "m_y", "", 2, 7);
    res_free(&r);
}

static void test_types(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "m a=1,b=-1.5,c=.5,d=1.,e=1e3,f=1E-3,g=-0,h=0.1,i=123456789012345678901234567890\n"
              "m a=T,b=True,c=F,d=False,e=true,f=false\n"
              "m a=\"only\",b=\"strings\"\n");
    assert_int_equal(r.rep.rejected, 0);
    assert_int_equal(r.rep.accepted, 15);
    static const char *names[] = {"m_a", "m_b", "m_c", "m_d", "m_e", "m_f", "m_g", "m_h", "m_i"};
    static const double vals[] = {
        1, -1.5, .5, 1., 1e3, 1E-3, -0.0, 0.1, 123456789012345678901234567890.0};
    for (size_t i = 0; i < 9; i++)
        assert_sample(&r, i, names[i], "", vals[i], NOW);
    assert_true(signbit(r.out.samples.items[6].value));
    static const double bools[] = {1, 1, 0, 0, 1, 0};
    for (size_t i = 0; i < 6; i++)
        assert_sample(&r, 9 + i, names[i], "", bools[i], NOW);
    res_free(&r);

    assert_bad("m f=99999999999999999999i", "integer '99999999999999999999i' is out of range");
    assert_bad("m f=-9223372036854775809i", "integer '-9223372036854775809i' is out of range");
    assert_bad("m f=18446744073709551616u",
               "unsigned integer '18446744073709551616u' is out of range");
    assert_bad("m f=-1u", "invalid unsigned integer '-1u'");
    assert_bad("m f=1.5i", "invalid integer '1.5i'");
    assert_bad("m f=+1i", "invalid integer '+1i'");
    assert_bad("m f=i", "invalid integer 'i'");
    assert_bad("m f=1x", "invalid number '1x'");
    assert_bad("m f=+1", "invalid number '+1'");
    assert_bad("m f=1.2.3", "invalid number '1.2.3'");
    assert_bad("m f=NaN", "invalid number 'NaN'");
    assert_bad("m f=-inf", "invalid number '-inf'");
    assert_bad("m f=1e400", "invalid number '1e400'");
    assert_bad("m f=0x10", "invalid number '0x10'");
    assert_bad("m f=tru", "invalid boolean 'tru'");
    assert_bad("m f=TRue", "invalid boolean 'TRue'");
    assert_bad("m f='x'", "invalid number ''x''");
}

static void test_precision(void **state)
{
    (void)state;
    static const struct {
        const char *prec, *ts;
        int64_t ms;
    } cases[] = {
        {NULL, "1556813561098000000", 1556813561098LL},
        {"ns", "1556813561098999999", 1556813561098LL}, /* truncated */
        {"n", "1556813561098000000", 1556813561098LL},
        {"us", "1556813561098000", 1556813561098LL},
        {"u", "1556813561098999", 1556813561098LL},
        {"ms", "1556813561098", 1556813561098LL},
        {"s", "1556813561", 1556813561000LL},
        {"m", "25946892", 1556813520000LL},
        {"h", "432448", 1556812800000LL},
        {"s", "0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "m f=1 %s\n", cases[i].ts);
        result_t r;
        parse_len(&r, line, strlen(line), cases[i].prec);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.rep.rejected, 0);
        assert_int_equal(r.out.samples.items[0].ts_ms, cases[i].ms);
        res_free(&r);
    }
    result_t r;
    parse_len(&r, "m f=1 1\n", 8, "sec");
    assert_int_equal(r.rc, TN_EINVAL);
    assert_string_equal(r.fatal.data, "precision must be one of ns, us, ms, s (or n, u, m, h)");
    res_free(&r);
    /* out of range once converted */
    const char *far = "m f=1 253402300800\nm f=1 9223372036854775807\nm f=1 1e9\n";
    parse_len(&r, far, strlen(far), "s");
    assert_int_equal(r.rep.rejected, 3);
    assert_errors(&r, "[{\"line\":1,\"error\":\"line 1: timestamp '253402300800' is out of "
                      "range\"},"
                      "{\"line\":2,\"error\":\"line 2: timestamp '9223372036854775807' is out of "
                      "range\"},"
                      "{\"line\":3,\"error\":\"line 3: invalid timestamp '1e9'\"}]");
    res_free(&r);
    parse(&r, "m f=1 99999999999999999999\nm f=1 -1\nm f=1 1 2\nm f=1 12x\n");
    assert_errors(&r, "[{\"line\":1,\"error\":\"line 1: timestamp '99999999999999999999' is out "
                      "of range\"},"
                      "{\"line\":2,\"error\":\"line 2: timestamp '-1' is before 1970\"},"
                      "{\"line\":3,\"error\":\"line 3: unexpected text after the timestamp "
                      "'2'\"},"
                      "{\"line\":4,\"error\":\"line 4: invalid timestamp '12x'\"}]");
    res_free(&r);
}

static void test_partial_batch(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "cpu,host=a usage=1 1000000000\n"                              /* 1 */
              "cpu,host=a usage=\n"                                          /* 2 */
              "cpu,host=b usage=2 2000000000\r\n"                            /* 3: CRLF */
              "\n"                                                           /* 4 */
              "  # indented comment\n"                                       /* 5 */
              "cpu\n"                                                        /* 6 */
              "cpu,host=c usage=3,idle=4i,up=t,msg=\"x y\"   3000000000  \n" /* 7 */
              "cpu,host=d usage=\"unterminated\n"                            /* 8 */
              "cpu,host=e usage=5"); /* 9: no final newline */
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 6);
    assert_int_equal(r.rep.rejected, 3);
    assert_canonical(&r);
    assert_sample(&r, 0, "cpu_usage", "host=a", 1, 1000);
    assert_sample(&r, 1, "cpu_usage", "host=b", 2, 2000);
    assert_sample(&r, 2, "cpu_usage", "host=c", 3, 3000);
    assert_sample(&r, 3, "cpu_idle", "host=c", 4, 3000);
    assert_sample(&r, 4, "cpu_up", "host=c", 1, 3000);
    assert_sample(&r, 5, "cpu_usage", "host=e", 5, NOW);
    assert_errors(&r, "[{\"line\":2,\"error\":\"line 2: field 'usage' has no value\"},"
                      "{\"line\":6,\"error\":\"line 6: missing field set\"},"
                      "{\"line\":8,\"error\":\"line 8: unterminated string in field 'usage'\"}]");
    res_free(&r);
}

static void test_names_and_labels(void **state)
{
    (void)state;
    result_t r;
    parse(&r, "prometheus,job=x go_goroutines=33\n" /* Telegraf metric_version=2 */
              "prometheus 1st=1\n"
              "1cpu usage=1\n"
              "cpu 1st=1\n"
              "disk.io,host=a read-bytes=1\n"
              "temp\xc3\xa9rature t=1\n"
              "cpu,hostname=h1,service.name=api,k8s.pod.name=p usage=1\n"
              "cpu,z=1,a=2,m=3 usage=1\n"
              "c:d e:f=1\n");
    assert_int_equal(r.rep.rejected, 0);
    assert_canonical(&r);
    assert_sample(&r, 0, "go_goroutines", "job=x", 33, NOW);
    assert_sample(&r, 1, "_1st", "", 1, NOW);
    assert_sample(&r, 2, "_1cpu_usage", "", 1, NOW);
    assert_sample(&r, 3, "cpu_1st", "", 1, NOW);
    assert_sample(&r, 4, "disk_io_read_bytes", "host=a", 1, NOW);
    assert_sample(&r, 5, "temp_rature_t", "", 1, NOW);
    assert_sample(&r, 6, "cpu_usage", "host=h1,pod=p,service=api", 1, NOW);
    assert_sample(&r, 7, "cpu_usage", "a=2,m=3,z=1", 1, NOW);
    assert_sample(&r, 8, "c:d_e:f", "", 1, NOW);
    res_free(&r);

    /* several fields share the tag set, each its own series */
    parse(&r, "cpu,host=a,dc=x u=1,s=2,i=3,msg=\"skip\",w=4\n");
    assert_int_equal(r.rep.accepted, 4);
    for (size_t i = 0; i < 4; i++) {
        const tn_sample_t *s = &r.out.samples.items[i];
        assert_int_equal(s->nlabels, 2);
        assert_string_equal(s->labels[0].name, "dc");
        assert_string_equal(s->labels[1].value, "a");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s->sid, r.out.samples.items[j].sid);
    }
    get(&r, "cpu_w", "dc=x,host=a");
    res_free(&r);

    /* many fields (the sorted duplicate check) */
    tn_buf_t b;
    tn_buf_init(&b);
    tn_buf_puts(&b, "m ");
    for (int i = 0; i < 40; i++)
        tn_buf_printf(&b, "%sf%d=%d", i ? "," : "", i, i);
    tn_buf_puts(&b, "\nm ");
    for (int i = 0; i < 40; i++)
        tn_buf_printf(&b, "%sf%d=%d", i ? "," : "", i % 39, i);
    tn_buf_puts(&b, "\n");
    parse_len(&r, b.data, b.len, NULL);
    assert_int_equal(r.rep.accepted, 40);
    assert_errors(&r, "[{\"line\":2,\"error\":\"line 2: duplicate field 'm_f0'\"}]");
    get(&r, "m_f39", "");
    res_free(&r);
    tn_buf_deinit(&b);

    /* a name too long */
    tn_buf_init(&b);
    for (int i = 0; i < 250; i++)
        tn_buf_puts(&b, "m");
    tn_buf_puts(&b, " abcdefgh=1\n");
    parse_len(&r, b.data, b.len, NULL);
    assert_int_equal(r.rep.rejected, 1);
    assert_non_null(strstr(r.rep.errors.data, "' is too long"));
    res_free(&r);
    tn_buf_deinit(&b);
}

static void test_malformed(void **state)
{
    (void)state;
    assert_bad("cpu", "missing field set");
    assert_bad("cpu ", "missing field set");
    assert_bad("cpu,host=a", "missing field set");
    assert_bad("cpu,host=a ", "missing field set");
    assert_bad(",host=a f=1", "missing measurement");
    assert_bad(" ,host=a f=1", "missing measurement");
    assert_bad("cpu,=a f=1", "empty tag key");
    assert_bad("cpu, f=1", "empty tag key");
    assert_bad("cpu,host f=1", "tag 'host' has no value");
    assert_bad("cpu,host= f=1", "tag 'host' has an empty value");
    assert_bad("cpu,host=a,host=b f=1", "duplicate label 'host'");
    assert_bad("cpu,host=a,hostname=b f=1", "duplicate label 'host'");
    assert_bad("cpu,__name__=x f=1", "invalid label name '__name__'");
    assert_bad("cpu f", "field 'f' has no value");
    assert_bad("cpu f=", "field 'f' has no value");
    assert_bad("cpu f=,g=1", "field 'f' has no value");
    assert_bad("cpu =1", "empty field key");
    assert_bad("cpu f=1,", "empty field key");
    assert_bad("cpu f=1,,g=2", "empty field key");
    assert_bad("cpu f=1,f=2", "duplicate field 'cpu_f'");
    assert_bad("cpu a.b=1,a_b=2", "duplicate field 'cpu_a_b'");
    assert_bad("cpu f=\"abc", "unterminated string in field 'f'");
    assert_bad("cpu f=\"abc\\\"", "unterminated string in field 'f'");
    assert_bad("cpu f=\"abc\\", "unterminated string in field 'f'");
    assert_bad("cpu f=\"x\"y", "unexpected text after the string in field 'f'");
    assert_bad("cpu f=1 1 2", "unexpected text after the timestamp '2'");
    assert_bad("cpu,t=v\\ f=1", "missing field set"); /* "\ " is an escaped space */
    assert_bad("cpu,t=\xff f=1", "tag 't' value is not valid UTF-8");
}

static void test_hostile(void **state)
{
    (void)state;
    result_t r;
    /* NUL bytes and control characters */
    static const char nul[] = "ok f=1\nc\0pu f=1\ncpu,t=a\0b f=1\ncpu,t\0=a f=1\ncpu f\0=1\n"
                              "cpu s=\"a\0b\",f=2\ncpu f=1\0\nok f=3\n";
    parse_len(&r, nul, sizeof nul - 1, NULL);
    assert_int_equal(r.rep.accepted, 3);
    assert_errors(&r, "[{\"line\":2,\"error\":\"line 2: control character in the measurement\"},"
                      "{\"line\":3,\"error\":\"line 3: label 't' value contains a NUL byte\"},"
                      "{\"line\":4,\"error\":\"line 4: control character in a tag key\"},"
                      "{\"line\":5,\"error\":\"line 5: control character in a field key\"},"
                      "{\"line\":7,\"error\":\"line 7: invalid number '1?'\"}]");
    assert_sample(&r, 1, "cpu_f", "", 2, NOW); /* a NUL in a skipped string is harmless */
    res_free(&r);

    /* bytes that only look like UTF-8 (a surrogate, past U+10FFFF): the report stays JSON */
    parse(&r, "_ d\x92\xf4\x92\x81\x91\nm,t=\xed\xb5\xb5 f=1\n");
    assert_int_equal(r.rep.rejected, 2);
    assert_errors(&r, "[{\"line\":1,\"error\":\"line 1: field 'd?"
                      "?"
                      "?"
                      "?"
                      "?' has no value\"},"
                      "{\"line\":2,\"error\":\"line 2: tag 't' value is not valid UTF-8\"}]");
    json_error_t je;
    json_t *j = json_loads(r.rep.errors.data, 0, &je);
    assert_non_null(j);
    json_decref(j);
    res_free(&r);

    /* 1 MB lines: a string field (skipped), a tag value (over the limit), a measurement */
    size_t big = 1 << 20;
    char *b = malloc(3 * big + 256);
    assert_non_null(b);
    size_t n = 0;
    memcpy(b + n, "m s=\"", 5), n += 5;
    memset(b + n, 'x', big), n += big;
    memcpy(b + n, "\",f=1\nm,t=", 10), n += 10;
    memset(b + n, 'y', big), n += big;
    memcpy(b + n, " f=2\n", 5), n += 5;
    memset(b + n, 'z', big), n += big;
    memcpy(b + n, " f=3\nok f=4\n", 12), n += 12;
    parse_len(&r, b, n, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rep.accepted, 2);
    assert_sample(&r, 0, "m_f", "", 1, NOW);
    assert_sample(&r, 1, "ok_f", "", 4, NOW);
    assert_int_equal(r.rep.rejected, 2);
    assert_non_null(strstr(r.rep.errors.data, "line 2: label 't' value is longer than 4096"));
    assert_non_null(strstr(r.rep.errors.data, "line 3: metric name 'zzzz"));
    res_free(&r);
    free(b);

    /* 100k tags: rejected at the 65th, quickly */
    tn_buf_t t;
    tn_buf_init(&t);
    tn_buf_puts(&t, "m");
    for (int i = 0; i < 100000; i++)
        tn_buf_printf(&t, ",t%d=v", i);
    tn_buf_puts(&t, " f=1\nok f=1\n");
    clock_t c0 = clock();
    parse_len(&r, t.data, t.len, NULL);
    assert_true((double)(clock() - c0) / CLOCKS_PER_SEC < 1.0);
    assert_int_equal(r.rep.accepted, 1);
    assert_errors(&r, "[{\"line\":1,\"error\":\"line 1: too many labels (limit 64)\"}]");
    res_free(&r);
    tn_buf_deinit(&t);

    /* 100k fields: fine, and bounded by max_items */
    tn_buf_init(&t);
    tn_buf_puts(&t, "m ");
    for (int i = 0; i < 100000; i++)
        tn_buf_printf(&t, "%sf%d=%d", i ? "," : "", i, i);
    parse_len(&r, t.data, t.len, NULL);
    assert_int_equal(r.rep.accepted, 100000);
    res_free(&r);
    tn_batch_t out;
    tn_batch_init(&out);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    tn_parse_opts_t o = {NOW, 1000};
    assert_int_equal(tn_parse_influx("a f=1\n", 6, &o, NULL, &out, &rep, &fatal), 0);
    assert_int_equal(tn_parse_influx(t.data, t.len, &o, NULL, &out, &rep, &fatal), TN_ETOOBIG);
    assert_string_equal(fatal.data, "more than 1000 samples in one request (line 1)");
    assert_int_equal(out.samples.n, 1);
    assert_int_equal(rep.accepted, 1);
    tn_batch_deinit(&out);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
    tn_buf_deinit(&t);

    /* every prefix of a body parses without harm */
    const char *body =
        "weather,location=us\\,midwest,season=summer temperature=82,s=\"a \\\"b\\\" "
        "c\",ok=true,n=-12i,u=3u 1465839830100400200\n# c\nx\\ y,a\\=b=c\\ d z=1e3\n";
    size_t len = strlen(body);
    for (size_t k = 0; k <= len; k++) {
        char *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, body, k);
        parse_len(&r, copy, k, NULL);
        assert_int_equal(r.rc, 0);
        assert_canonical(&r);
        assert_int_equal(r.rep.accepted, r.out.samples.n);
        res_free(&r);
        free(copy);
    }
}

/* Feeding a stream in arbitrary chunks through tn_influx_complete_prefix gives the same samples
 * as parsing it whole. */
static void test_streaming_prefix(void **state)
{
    (void)state;
    assert_int_equal(tn_influx_complete_prefix("", 0), 0);
    assert_int_equal(tn_influx_complete_prefix("m f=1", 5), 0);
    assert_int_equal(tn_influx_complete_prefix("m f=1\n", 6), 6);
    assert_int_equal(tn_influx_complete_prefix("m f=1\nm f=", 10), 6);
    assert_int_equal(tn_influx_complete_prefix("a\r\nb\r\nc", 7), 6);

    const char *body = "cpu,host=a usage=1 1000000000\r\n"
                       "cpu,host=b usage=2,s=\"x,y z\" 2000000000\n"
                       "# comment\n"
                       "\n"
                       "mem,host=a used=3i,free=4u 3000000000\n"
                       "bad line\n"
                       "disk,host=a,path=/\\ x ok=true 4000000000\n";
    size_t len = strlen(body);
    result_t whole;
    parse_len(&whole, body, len, NULL);
    assert_int_equal(whole.rep.accepted, 5);
    assert_int_equal(whole.rep.rejected, 1);

    for (size_t chunk = 1; chunk <= len; chunk++) {
        tn_batch_t out;
        tn_batch_init(&out);
        tn_ingest_report_t rep;
        tn_ingest_report_init(&rep);
        tn_buf_t fatal, pending;
        tn_buf_init(&fatal);
        tn_buf_init(&pending);
        tn_parse_opts_t o = {NOW, 0};
        for (size_t off = 0; off < len; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;
            tn_buf_append(&pending, body + off, n);
            size_t done = tn_influx_complete_prefix(pending.data, pending.len);
            if (!done) continue;
            assert_int_equal(pending.data[done - 1], '\n');
            assert_int_equal(tn_parse_influx(pending.data, done, &o, NULL, &out, &rep, &fatal), 0);
            memmove(pending.data, pending.data + done, pending.len - done);
            pending.len -= done;
        }
        assert_int_equal(pending.len, 0); /* the body ends with a newline */
        assert_int_equal(out.samples.n, whole.out.samples.n);
        assert_int_equal(rep.accepted, 5);
        assert_int_equal(rep.rejected, 1);
        for (size_t i = 0; i < out.samples.n; i++) {
            assert_string_equal(out.samples.items[i].sid, whole.out.samples.items[i].sid);
            assert_true(out.samples.items[i].value == whole.out.samples.items[i].value);
            assert_int_equal(out.samples.items[i].ts_ms, whole.out.samples.items[i].ts_ms);
        }
        tn_batch_deinit(&out);
        tn_ingest_report_deinit(&rep);
        tn_buf_deinit(&fatal);
        tn_buf_deinit(&pending);
    }
    assert_sample(&whole, 4, "disk_ok", "host=a,path=/ x", 1, 4000);
    res_free(&whole);
}

static void test_allocation_failures(void **state)
{
    (void)state;
#ifdef TN_TEST_NO_MALLOC_HOOK
    skip();
#else
    const char *body = "weather,location=us\\,midwest,season=summer temperature=82,bug=98i,"
                       "ok=true,s=\"x\" 1465839830100400200\n"
                       "bad,t= f=1\n"
                       "prometheus,hostname=h go_goroutines=3\n"
                       "m f0=0,f1=1,f2=2,f3=3,f4=4,f5=5,f6=6,f7=7,f8=8,f9=9,f10=10,f11=11,f12=12,"
                       "f13=13,f14=14,f15=15,f16=16,f17=17\n"
                       "m,a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10 x=1\n";
    int ok = 0, nomem = 0;
    for (long k = 0;; k++) {
        result_t r;
        tn_batch_init(&r.out);
        tn_ingest_report_init(&r.rep);
        tn_buf_init(&r.fatal);
        long live0 = g_live;
        g_allocs = 0;
        g_fail_at = k;
        r.rc = tn_parse_influx(body, strlen(body), NULL, NULL, &r.out, &r.rep, &r.fatal);
        g_fail_at = -1;
        int done = g_allocs <= k;
        if (r.rc == TN_ENOMEM) {
            nomem++;
            assert_int_equal(r.out.samples.n, 0);
            assert_int_equal(r.rep.accepted, 0);
        } else {
            assert_int_equal(r.rc, 0);
            ok++;
        }
        res_free(&r);
        assert_int_equal(g_live, live0);
        if (done) {
            assert_int_equal(r.rc, 0);
            break;
        }
    }
    assert_true(nomem > 50);
    assert_true(ok >= 1);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_tutorial),
        cmocka_unit_test(test_doc_reference),
        cmocka_unit_test(test_backslashes),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_precision),
        cmocka_unit_test(test_partial_batch),
        cmocka_unit_test(test_names_and_labels),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_streaming_prefix),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
