#include "ingest/normalize.h"
#include "core/error.h"
#include "core/sample.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Well-known aliases from OpenTelemetry semantic conventions and Prometheus habits. */
static const struct {
    const char *from, *to;
} g_aliases[] = {
    {"service.name", "service"},
    {"service_name", "service"},
    {"host.name", "host"},
    {"hostname", "host"},
    {"deployment.environment", "env"},
    {"deployment.environment.name", "env"},
    {"k8s.namespace.name", "namespace"},
    {"k8s.pod.name", "pod"},
    {"service.version", "version"},
};

int tn_norm_label_name(const char *in, char *out, size_t size, tn_buf_t *err)
{
    for (size_t i = 0; i < sizeof g_aliases / sizeof g_aliases[0]; i++) {
        if (strcmp(in, g_aliases[i].from) == 0) {
            in = g_aliases[i].to;
            break;
        }
    }
    size_t n = strlen(in), j = 0;
    if (n == 0) {
        tn_buf_puts(err, "empty label name");
        return TN_EINVAL;
    }
    if (n > TN_MAX_NAME_LEN || n + 2 > size) {
        tn_buf_printf(err, "label name '%.40s...' is longer than %d bytes", in, TN_MAX_NAME_LEN);
        return TN_EINVAL;
    }
    if (isdigit((unsigned char)in[0])) out[j++] = '_';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = (isalnum(c) && c < 0x80) || c == '_' ? (char)c : '_';
    }
    out[j] = '\0';
    if (strcmp(out, "__name__") == 0 || !tn_label_name_valid(out)) {
        tn_buf_printf(err, "invalid label name '%s'", in);
        return TN_EINVAL;
    }
    return 0;
}

int tn_norm_ts_unit(const char *s, tn_ts_unit_t *unit)
{
    static const struct {
        const char *name;
        tn_ts_unit_t unit;
    } units[] = {{"s", TN_TS_S}, {"ms", TN_TS_MS}, {"us", TN_TS_US}, {"ns", TN_TS_NS}};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, units[i].name) == 0) return *unit = units[i].unit, 0;
    return TN_EINVAL;
}

int tn_norm_ts_number(double v, tn_ts_unit_t unit, int64_t *ms, tn_buf_t *err)
{
    if (isnan(v) || isinf(v) || v < 0) {
        tn_buf_puts(err, "timestamp must be a finite, non-negative number");
        return TN_EINVAL;
    }
    if (unit == TN_TS_AUTO) {
        if (v < 1e11)
            unit = TN_TS_S;
        else if (v < 1e14)
            unit = TN_TS_MS;
        else if (v < 1e17)
            unit = TN_TS_US;
        else
            unit = TN_TS_NS;
    }
    double m;
    switch (unit) {
    case TN_TS_S:
        m = v * 1e3;
        break;
    case TN_TS_MS:
        m = v;
        break;
    case TN_TS_US:
        m = v / 1e3;
        break;
    default:
        m = v / 1e6;
        break;
    }
    if (m > 253402300799999.0) { /* after 9999-12-31 */
        tn_buf_puts(err, "timestamp is too far in the future");
        return TN_EINVAL;
    }
    *ms = (int64_t)floor(m);
    return 0;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), from Howard Hinnant's algorithm. */
int64_t tn_norm_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int tn_norm_ts_rfc3339(const char *s, int64_t *ms, tn_buf_t *err)
{
    const char *p = s;
    int Y, M, D, h, mi, sec, frac_ms = 0;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D) ||
        (*p != 'T' && *p != 't' && *p != ' '))
        goto bad;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        goto bad;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (nd < 3) frac_ms = frac_ms * 10 + (*p - '0');
            nd++, p++;
        }
        if (nd == 0) goto bad;
        for (int k = nd; k < 3; k++)
            frac_ms *= 10;
    }
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh)) goto bad;
        if (*p == ':') p++;
        if (digits(&p, 2, &om)) goto bad;
        if (oh > 23 || om > 59) goto bad;
        off_min = sign * (oh * 60 + om);
    } else {
        goto bad;
    }
    if (*p) goto bad;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 60) goto bad;
    if (M == 2 && D == 29 && !(Y % 4 == 0 && (Y % 100 != 0 || Y % 400 == 0))) goto bad;
    int64_t days = tn_norm_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t t = ((days * 24 + h) * 60 + mi) * 60 + sec - (int64_t)off_min * 60;
    if (t < 0) {
        tn_buf_printf(err, "timestamp '%.64s' is before 1970", s);
        return TN_EINVAL;
    }
    *ms = t * 1000 + frac_ms;
    return 0;
bad:
    tn_buf_printf(err, "invalid RFC 3339 timestamp '%.64s'", s);
    return TN_EINVAL;
}
