#include "ingest/normalize.h"
#include "core/error.h"
#include "core/sample.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Well-known aliases from OpenTelemetry semantic conventions and Prometheus habits; configured
 * ones (tn_norm_set_aliases) are looked up before them. */
static const char *const g_builtin[][2] = {
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
#define N_BUILTIN (sizeof g_builtin / sizeof g_builtin[0])

static int canon_name(const char *in, char *out, size_t size, tn_buf_t *err);

/* The table in use: set before any input runs, then only read (by worker threads too). */
static const char *const (*g_aliases)[2] = g_builtin;
static size_t g_naliases = N_BUILTIN;
static char *(*g_owned)[2]; /* configured pairs, then the built-in ones, when set */
static size_t g_nowned;     /* configured pairs (their FROM strings are owned) */

void tn_norm_reset_aliases(void)
{
    for (size_t i = 0; g_owned && i < g_nowned; i++)
        free(g_owned[i][0]); /* one allocation: "from\0to" */
    free(g_owned);
    g_nowned = 0;
    g_owned = NULL;
    g_aliases = g_builtin;
    g_naliases = N_BUILTIN;
}

int tn_norm_set_aliases(const char *const *pairs, size_t n, tn_buf_t *err)
{
    char *(*t)[2] = calloc(n + N_BUILTIN, sizeof *t);
    if (!t) return TN_ENOMEM;
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *eq = strchr(pairs[i], '=');
        char canon[TN_MAX_NAME_LEN + 2];
        if (!eq || eq == pairs[i] || !eq[1]) {
            tn_buf_printf(err, "label alias '%.80s' is not FROM=TO", pairs[i]);
            rc = TN_EINVAL;
            break;
        }
        char *from = strdup(pairs[i]);
        if (!from) {
            rc = TN_ENOMEM;
            break;
        }
        from[eq - pairs[i]] = '\0';
        char *to = from + (eq - pairs[i]) + 1;
        /* TO must be a label name as it is: aliases are not chained or rewritten */
        tn_buf_t e2;
        tn_buf_init(&e2);
        int bad = canon_name(to, canon, sizeof canon, &e2) || strcmp(canon, to);
        tn_buf_deinit(&e2);
        if (bad) {
            tn_buf_printf(err, "label alias '%.80s': '%.40s' is not a valid label name", pairs[i],
                          to);
            free(from);
            rc = TN_EINVAL;
            break;
        }
        t[k][0] = from;
        t[k][1] = to;
        k++;
    }
    if (rc) {
        for (size_t i = 0; i < k; i++)
            free(t[i][0]);
        free(t);
        return rc;
    }
    for (size_t i = 0; i < N_BUILTIN; i++) {
        t[k + i][0] = (char *)g_builtin[i][0]; /* not owned */
        t[k + i][1] = (char *)g_builtin[i][1];
    }
    tn_norm_reset_aliases();
    g_owned = t;
    g_nowned = k;
    g_aliases = (const char *const(*)[2])t;
    g_naliases = k + N_BUILTIN;
    return 0;
}

int tn_norm_label_name(const char *in, char *out, size_t size, tn_buf_t *err)
{
    for (size_t i = 0; i < g_naliases; i++) {
        if (strcmp(in, g_aliases[i][0]) == 0) {
            in = g_aliases[i][1];
            break;
        }
    }
    return canon_name(in, out, size, err);
}

/* The name rules, without aliases. */
static int canon_name(const char *in, char *out, size_t size, tn_buf_t *err)
{
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

size_t tn_norm_metric_name(const char *n, size_t len, char *out, const char **error)
{
    if (!n || !len) {
        *error = "metric name is missing";
        return 0;
    }
    if (len + (n[0] >= '0' && n[0] <= '9') > TN_MAX_NAME_LEN) {
        *error = "metric name is longer than 256 bytes"; /* TN_MAX_NAME_LEN */
        _Static_assert(TN_MAX_NAME_LEN == 256, "the message above");
        return 0;
    }
    size_t j = 0;
    if (n[0] >= '0' && n[0] <= '9') out[j++] = '_';
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == ':';
        out[j++] = ok ? ch : '_';
    }
    out[j] = '\0';
    return j;
}
