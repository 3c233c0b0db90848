/* cmd_detect.c - `tocsin detect`: score a CSV time series with the detectors of src/detect.
 *
 * Input: a header (optional) and rows `timestamp,value[,value...]`, `,` or `;` separated (the
 * first line decides). Timestamps are epoch seconds or milliseconds, RFC 3339 or
 * "YYYY-MM-DD HH:MM:SS". Each value column is scored by its own ensemble (or the one detector
 * asked for); a row's score is the largest of its columns' (the isolation forest, when present,
 * is the multivariate method; this is the per-column fallback). One output row per input row. */
#include "core/error.h"
#include "detect/ensemble.h"
#include "detect/iforest.h"
#include "ingest/normalize.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *g_detect_usage =
    "usage: tocsin detect [options] [FILE]\n"
    "\n"
    "Score a time series from a CSV file (or standard input): one output row per input row.\n"
    "\n"
    "input:\n"
    "  timestamp,value[,value...]  a header line is optional; ',' or ';' separates fields\n"
    "                         timestamps: epoch seconds or milliseconds, RFC 3339\n"
    "                         (2024-05-01T12:00:00Z, offsets, fractions) or\n"
    "                         \"YYYY-MM-DD HH:MM:SS\" (UTC). An empty or NaN value is missing\n"
    "                         data. Columns named anomaly, changepoint, label or is_anomaly are\n"
    "                         labels and are not scored unless --columns names them.\n"
    "\n"
    "options:\n"
    "  --detector NAME        ensemble (default) or one of: zscore, ewma, mad, iqr, seasonal,\n"
    "                         holtwinters, ar, flat, shift, iforest\n"
    "                         iforest: an isolation forest over all value columns together\n"
    "                         (multivariate rows): trained on the first --train rows, then\n"
    "                         every row is scored; anomaly 1 when the score is above the 0.99\n"
    "                         quantile of the training rows' scores; --explain names the\n"
    "                         column that isolated the row most\n"
    "  --train N              iforest: training rows (default 400; all rows if fewer)\n"
    "  --threshold Z          combined |z| that opens an anomaly (default 4)\n"
    "  --window N             rolling window of zscore, mad, iqr (default 60)\n"
    "  --min-samples N        warm-up: no verdict before N samples (default 20)\n"
    "  --agree K              detectors that must agree (default 2)\n"
    "  --clear-after N        normal samples that close an anomaly (default 3)\n"
    "  --season DUR           a season for the seasonal baseline (repeatable, at most 4): 30s,\n"
    "                         15m, 24h, 1d, 1w, or a number of samples. The first one is also\n"
    "                         the Holt-Winters season (in samples). Default: 1d and 1w for the\n"
    "                         baseline, no Holt-Winters season\n"
    "  --hw-season N          Holt-Winters season in samples (0: none)\n"
    "  --ar-order P           AR(p) order (default 3)\n"
    "  --columns LIST         value columns to score, by header name or 1-based index\n"
    "                         (comma separated; default: every column after the timestamp)\n"
    "  --ignore LIST          columns not to score\n"
    "  --explain              add the columns z, expected, lower, upper, detector, column,\n"
    "                         state\n"
    "  --stats                print counts (rows, skipped, gaps, anomalies) to standard error\n"
    "  -h, --help             show this help\n"
    "\n"
    "output: timestamp,score,anomaly[,explanation]: score in [0,1] (0 during warm-up and for\n"
    "skipped rows), anomaly 1 while an anomaly is open. Several value columns: each is scored\n"
    "on its own and the row gets the largest score (the explanation names the column).\n"
    "A malformed line is an error naming its line number (exit status 1).\n";

#define MAX_COLS 256
#define LINE_MAX_LEN (1 << 20)

typedef struct {
    tn_ens_params_t p;
    int explain, stats;
    const char *file;
    char *columns, *ignore; /* borrowed from argv */
    int nseason_arg;
    char *season_arg[TN_SEASONS_MAX];
    int hw_season_set;
    int iforest;         /* --detector iforest */
    uint32_t train_rows; /* --train, 0 = 400 */
} opts_t;

static int parse_uint(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > 100000000 || *s == '-') return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* A duration "30s", "15m", "24h", "1d", "1w", "500ms" in ms (> 0), or a plain number of samples
 * (*samples set, *ms 0). */
static int parse_duration(const char *s, int64_t *ms, uint32_t *samples)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0)) return -1;
    *ms = 0;
    *samples = 0;
    if (!*end) {
        if (v != floor(v) || v > 10000000) return -1;
        *samples = (uint32_t)v;
        return 0;
    }
    double unit = 0;
    if (!strcmp(end, "ms"))
        unit = 1;
    else if (!strcmp(end, "s"))
        unit = 1000;
    else if (!strcmp(end, "m"))
        unit = 60000;
    else if (!strcmp(end, "h"))
        unit = 3600000;
    else if (!strcmp(end, "d"))
        unit = 86400000;
    else if (!strcmp(end, "w"))
        unit = 7 * 86400000.0;
    else
        return -1;
    if (v * unit < 1 || v * unit > 3.2e12) return -1;
    *ms = (int64_t)llround(v * unit);
    return 0;
}

/* ---- timestamps ------------------------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "YYYY-MM-DD", then optionally [T ]HH:MM[:SS[.frac]] and Z or +-HH[:]MM. */
static int parse_date(const char *s, int64_t *ms)
{
    int Y, M, D, h = 0, mi = 0, sec = 0;
    if (strlen(s) < 10 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31) return -1;
    const char *p = s + 10;
    double frac = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi)) return -1;
        p += 5;
        if (*p == ':') {
            if (digits(p + 1, 2, &sec)) return -1;
            p += 3;
            if (*p == '.' || *p == ',') {
                double scale = 0.1;
                p++;
                if (!isdigit((unsigned char)*p)) return -1;
                while (isdigit((unsigned char)*p)) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return -1;
    }
    int64_t off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(p, 2, &oh)) return -1;
        p += 2;
        if (*p == ':') p++;
        if (digits(p, 2, &om)) return -1;
        p += 2;
        off_min = sign * (oh * 60 + om);
    }
    if (*p) return -1;
    int64_t days = tn_norm_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - off_min * 60;
    *ms = secs * 1000 + (int64_t)llround(frac * 1000);
    return 0;
}

/* Epoch seconds (with fraction) or milliseconds (integers from 1e11 on), or a date. */
static int parse_ts(const char *s, int64_t *ms)
{
    if (!*s) return -1;
    if (!parse_date(s, ms)) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || fabs(v) > 9e15) return -1;
    if (fabs(v) >= 1e11 && v == floor(v))
        *ms = (int64_t)v;
    else
        *ms = (int64_t)llround(v * 1000);
    return 0;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') { /* simple quoted field */
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

/* Splits line in place; returns the number of fields (or -1 if more than max). */
static int split(char *line, char sep, char **f, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return -1;
        char *q = strchr(p, sep);
        if (q) *q = '\0';
        f[n++] = trim(p);
        if (!q) break;
        p = q + 1;
    }
    return n;
}

static int is_label_name(const char *s)
{
    static const char *const names[] = {"anomaly",    "changepoint", "label",
                                        "is_anomaly", "labels",      "anomaly_label"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(s, names[i])) return 1;
    return 0;
}

/* Column i (0-based) named in the comma-separated list (names or 1-based indexes)? */
static int in_list(const char *list, int i, const char *name)
{
    const char *p = list;
    while (*p) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        char item[256];
        snprintf(item, sizeof item, "%.*s", (int)n, p);
        char *it = trim(item);
        char *end;
        long idx = strtol(it, &end, 10);
        if (*it && !*end && idx == i + 1) return 1;
        if (name && !strcmp(it, name)) return 1;
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

/* Every item of the list names a column? Returns the first unknown item in buf, or 0. */
static int list_unknown(const char *list, int ncols, char **names, char *buf, size_t cap)
{
    const char *p = list;
    while (*p) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        char item[256];
        snprintf(item, sizeof item, "%.*s", (int)n, p);
        char *it = trim(item);
        char *end;
        long idx = strtol(it, &end, 10);
        int ok = *it && !*end && idx >= 1 && idx <= ncols;
        for (int c = 0; !ok && names && c < ncols; c++)
            ok = names[c] && !strcmp(names[c], it);
        if (!ok) {
            snprintf(buf, cap, "%s", it);
            return 1;
        }
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

/* ---- scoring -------------------------------------------------------------------------------- */

typedef struct {
    int64_t ts;
    char *ts_text; /* owned */
    double v[MAX_COLS];
    long line;
} row_t;

typedef struct {
    opts_t *o;
    int ncols, nscore;
    int score_col[MAX_COLS]; /* field index of each scored column */
    char *names[MAX_COLS];   /* owned header names, or NULL */
    tn_ens_t *ens[MAX_COLS];
    uint32_t mask;
    int single;
    uint64_t rows, opened, skipped[5], gaps, dup_ts;
    FILE *out;
    double *if_x; /* iforest: kept rows (nscore values each), owned */
    char **if_ts; /* their timestamp texts, owned */
    size_t if_n, if_cap;
} run_t;

static const char *state_name(const tn_ens_result_t *r)
{
    switch (r->kind) {
    case TN_ENS_WARMUP:
        return "warmup";
    case TN_ENS_NORMAL:
        return "normal";
    case TN_ENS_ANOMALY:
        return "anomaly";
    default:
        break;
    }
    switch (r->skip) {
    case TN_SKIP_NAN:
        return "skipped:missing";
    case TN_SKIP_INF:
        return "skipped:inf";
    case TN_SKIP_OUT_OF_ORDER:
        return "skipped:out_of_order";
    case TN_SKIP_DUPLICATE:
        return "skipped:duplicate";
    default:
        return "skipped";
    }
}

static int build(run_t *R, int64_t step_ms)
{
    tn_ens_params_t p = R->o->p;
    opts_t *o = R->o;
    uint32_t n = 0;
    for (int i = 0; i < o->nseason_arg; i++) {
        int64_t ms;
        uint32_t samples;
        parse_duration(o->season_arg[i], &ms, &samples); /* validated already */
        if (!ms) ms = (int64_t)samples * (step_ms > 0 ? step_ms : 1000);
        if (i == 0 && !o->hw_season_set) {
            int64_t s = samples ? samples : (step_ms > 0 ? ms / step_ms : 0);
            if (s > 1 && s <= 100000) p.hw_season = (uint32_t)s;
        }
        p.seasons_ms[n++] = ms;
    }
    if (n) p.n_seasons = n;
    for (int c = 0; c < R->nscore; c++)
        if (!(R->ens[c] = tn_ens_create(&p))) {
            fprintf(stderr, "tocsin detect: out of memory or invalid parameters\n");
            return -1;
        }
    R->mask = tn_ens_params(R->ens[0])->detectors;
    R->single = !(R->mask & (R->mask - 1));
    return 0;
}

static void fmt(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.10g", v);
}

static int score_row(run_t *R, const row_t *row)
{
    double best = -1;
    int best_c = -1, anomaly = 0;
    tn_ens_result_t best_r, r;
    memset(&best_r, 0, sizeof best_r);
    best_r.lead = -1;
    for (int c = 0; c < R->nscore; c++) {
        if (tn_ens_update(R->ens[c], row->ts, row->v[c], &r) == TN_ENOMEM) {
            fprintf(stderr, "tocsin detect: out of memory\n");
            return -1;
        }
        if (r.kind == TN_ENS_SKIPPED) R->skipped[r.skip]++;
        R->gaps += r.gap;
        R->dup_ts += r.dup_ts;
        R->opened += r.opened;
        if (r.kind == TN_ENS_ANOMALY) anomaly = 1;
        double s = (r.kind == TN_ENS_NORMAL || r.kind == TN_ENS_ANOMALY) ? r.score : 0;
        if (s > best) {
            best = s;
            best_c = c;
            best_r = r;
        }
    }
    R->rows++;
    fprintf(R->out, "%s,%.9f,%d", row->ts_text, best < 0 ? 0 : best, anomaly);
    if (R->o->explain) {
        char z[32] = "", ex[32] = "", lo[32] = "", up[32] = "";
        const char *det = "";
        int lead = best_r.lead;
        if (lead < 0 && R->single) lead = __builtin_ctz(R->mask);
        if (best_r.kind == TN_ENS_NORMAL || best_r.kind == TN_ENS_ANOMALY) {
            fmt(z, sizeof z, best_r.z);
            if (lead >= 0) {
                fmt(ex, sizeof ex, best_r.det[lead].expected);
                fmt(lo, sizeof lo, best_r.det[lead].lower);
                fmt(up, sizeof up, best_r.det[lead].upper);
                det = tn_det_name(lead);
            }
        }
        int fc = best_c >= 0 ? R->score_col[best_c] : -1;
        char colname[64];
        if (fc >= 0 && R->names[fc])
            snprintf(colname, sizeof colname, "%s", R->names[fc]);
        else
            snprintf(colname, sizeof colname, "%d", fc + 1);
        for (char *q = colname; *q; q++) /* keep the output one CSV field */
            if (*q == ',' || *q == '"') *q = '_';
        fprintf(R->out, ",%s,%s,%s,%s,%s,%s,%s", z, ex, lo, up, det, colname, state_name(&best_r));
    }
    fputc('\n', R->out);
    return 0;
}

static int64_t median_i64(int64_t *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? v[n / 2] : 0;
}

/* ---- isolation forest (--detector iforest) ---------------------------------------------- */

/* Rows are kept until the end: the forest trains on the first --train rows (default 400; all
 * rows when there are fewer), then scores every row. A row is an anomaly when its score is
 * above the 0.99 quantile of the training rows' scores. */
static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int iforest_keep(run_t *R, row_t *row)
{
    if (R->if_n == R->if_cap) {
        size_t cap = R->if_cap ? 2 * R->if_cap : 1024;
        double *x = realloc(R->if_x, sizeof(double) * cap * R->nscore);
        if (x) R->if_x = x;
        char **ts = x ? realloc(R->if_ts, sizeof(char *) * cap) : NULL;
        if (ts) R->if_ts = ts;
        if (!x || !ts) {
            fprintf(stderr, "tocsin detect: out of memory\n");
            return -1;
        }
        R->if_cap = cap;
    }
    memcpy(R->if_x + R->if_n * R->nscore, row->v, sizeof(double) * R->nscore);
    R->if_ts[R->if_n++] = row->ts_text; /* taken */
    row->ts_text = NULL;
    return 0;
}

static int iforest_finish(run_t *R)
{
    size_t n = R->if_n, ntrain = R->o->train_rows ? R->o->train_rows : 400;
    if (ntrain > n) ntrain = n;
    tn_iforest_t *f = tn_iforest_create((uint32_t)R->nscore, NULL);
    double *s = malloc(sizeof(double) * (n ? n : 1)), *tr = malloc(sizeof(double) * (n ? n : 1));
    double *share = malloc(sizeof(double) * R->nscore);
    int status = -1;
    if (!f || !s || !tr || !share) {
        fprintf(stderr, "tocsin detect: out of memory\n");
        goto done;
    }
    int rc = tn_iforest_fit(f, R->if_x, ntrain);
    if (rc) {
        fprintf(stderr,
                "tocsin detect: isolation forest: %s (%zu training rows, %llu with "
                "missing values)\n",
                rc == TN_EINVAL ? "fewer than 2 complete training rows" : tn_strerror(rc), ntrain,
                (unsigned long long)tn_iforest_rejected(f));
        goto done;
    }
    tn_iforest_score_batch(f, R->if_x, n, s);
    size_t m = 0;
    for (size_t i = 0; i < ntrain; i++)
        if (!isnan(s[i])) tr[m++] = s[i];
    qsort(tr, m, sizeof(double), cmp_dbl);
    double pos = 0.99 * (m - 1), thr = tr[(size_t)pos];
    if ((size_t)pos + 1 < m) thr += (pos - (size_t)pos) * (tr[(size_t)pos + 1] - thr);
    for (size_t i = 0; i < n; i++) {
        int missing = isnan(s[i]), anomaly = !missing && s[i] > thr;
        R->rows++;
        R->opened += anomaly;
        const double *v = R->if_x + i * R->nscore;
        int inf = 0;
        for (int c = 0; missing && c < R->nscore; c++)
            inf |= isinf(v[c]) && !isnan(v[c]);
        if (missing) R->skipped[inf ? TN_SKIP_INF : TN_SKIP_NAN]++;
        fprintf(R->out, "%s,%.6f,%d", R->if_ts[i], missing ? 0 : s[i], anomaly);
        if (R->o->explain) {
            char colname[64] = "";
            if (!missing && !tn_iforest_explain(f, v, share)) {
                int top = 0;
                for (int c = 1; c < R->nscore; c++)
                    if (share[c] > share[top]) top = c;
                int fc = R->score_col[top];
                if (R->names[fc])
                    snprintf(colname, sizeof colname, "%s", R->names[fc]);
                else
                    snprintf(colname, sizeof colname, "%d", fc + 1);
                for (char *q = colname; *q; q++)
                    if (*q == ',' || *q == '"') *q = '_';
            }
            /* upper: the score threshold; column: the feature that isolated the row most */
            fprintf(R->out, ",,,,%.6f,iforest,%s,%s", thr, colname,
                    missing      ? (inf ? "skipped:inf" : "skipped:missing")
                    : anomaly    ? "anomaly"
                    : i < ntrain ? "train"
                                 : "normal");
        }
        fputc('\n', R->out);
    }
    status = 0;
done:
    tn_iforest_destroy(f);
    free(s);
    free(tr);
    free(share);
    return status;
}

/* Reads the whole input; returns the exit status. */
enum { BUF = 16 }; /* rows buffered to learn the sampling step */

/* The first rows, buffered until the sampling step is known: builds the detectors with the
 * median step between them, then scores those rows (their timestamp texts are freed). 0, or -1
 * with the error printed (rows not yet scored keep their texts for the caller to free). */
static int build_buffered(run_t *R, row_t *buf, int *nbuf)
{
    int64_t d[BUF];
    int nd = 0;
    for (int i = 1; i < *nbuf; i++)
        if (buf[i].ts > buf[i - 1].ts) d[nd++] = buf[i].ts - buf[i - 1].ts;
    if (build(R, median_i64(d, nd))) return -1;
    for (int i = 0; i < *nbuf; i++) {
        int rc = score_row(R, &buf[i]);
        free(buf[i].ts_text);
        buf[i].ts_text = NULL;
        if (rc) return -1;
    }
    *nbuf = 0;
    return 0;
}

static int run(opts_t *o, FILE *in)
{
    run_t R;
    memset(&R, 0, sizeof R);
    R.o = o;
    R.out = stdout;
    int status = 1;
    char *line = malloc(LINE_MAX_LEN);
    row_t buf[BUF];
    int nbuf = 0, built = 0;
    memset(buf, 0, sizeof buf);
    if (!line) {
        fprintf(stderr, "tocsin detect: out of memory\n");
        return 1;
    }
    long lineno = 0;
    char sep = 0;
    char *f[MAX_COLS + 1];
    int header_done = 0;
    while (fgets(line, LINE_MAX_LEN, in)) {
        lineno++;
        size_t len = strlen(line);
        if (len == LINE_MAX_LEN - 1 && line[len - 1] != '\n') {
            fprintf(stderr, "tocsin detect: line %ld: longer than %d bytes\n", lineno,
                    LINE_MAX_LEN - 2);
            goto out;
        }
        if (lineno == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) /* BOM */
            memmove(line, line + 3, len - 2);
        char *t = line;
        while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
            t++;
        if (!*t || *t == '#') continue; /* blank lines and comments */
        if (!sep) { /* the first line decides: ';' if it has more of them than ',' */
            int nc = 0, ns = 0;
            for (const char *q = line; *q; q++)
                nc += *q == ',', ns += *q == ';';
            sep = ns > nc ? ';' : ',';
        }
        int nf = split(line, sep, f, MAX_COLS + 1);
        if (nf < 0) {
            fprintf(stderr, "tocsin detect: line %ld: more than %d fields\n", lineno, MAX_COLS);
            goto out;
        }
        if (!header_done) {
            header_done = 1;
            int64_t ts;
            R.ncols = nf;
            if (nf < 2) {
                fprintf(stderr,
                        "tocsin detect: line %ld: expected timestamp and at least one value "
                        "(separated by '%c'), found %d field\n",
                        lineno, sep, nf);
                goto out;
            }
            int is_header = parse_ts(f[0], &ts) != 0;
            for (int c = 0; is_header && c < nf; c++)
                if (!(R.names[c] = strdup(f[c]))) {
                    fprintf(stderr, "tocsin detect: out of memory\n");
                    goto out;
                }
            char unknown[256];
            if (o->columns &&
                list_unknown(o->columns, nf, is_header ? R.names : NULL, unknown, sizeof unknown)) {
                fprintf(stderr, "tocsin detect: --columns: no column '%s'\n", unknown);
                goto out;
            }
            if (o->ignore &&
                list_unknown(o->ignore, nf, is_header ? R.names : NULL, unknown, sizeof unknown)) {
                fprintf(stderr, "tocsin detect: --ignore: no column '%s'\n", unknown);
                goto out;
            }
            for (int c = 1; c < nf; c++) {
                int take = o->columns ? in_list(o->columns, c, R.names[c])
                                      : !(R.names[c] && is_label_name(R.names[c]));
                if (o->ignore && in_list(o->ignore, c, R.names[c])) take = 0;
                if (take) R.score_col[R.nscore++] = c;
            }
            if (!R.nscore) {
                fprintf(stderr, "tocsin detect: no value column left to score\n");
                goto out;
            }
            fprintf(R.out, "%s,score,anomaly%s\n", is_header ? R.names[0] : "timestamp",
                    o->explain ? ",z,expected,lower,upper,detector,column,state" : "");
            if (is_header) continue;
        }
        if (nf != R.ncols) {
            fprintf(stderr, "tocsin detect: line %ld: expected %d fields, found %d\n", lineno,
                    R.ncols, nf);
            goto out;
        }
        row_t row;
        memset(&row, 0, sizeof row);
        row.line = lineno;
        if (parse_ts(f[0], &row.ts)) {
            fprintf(stderr, "tocsin detect: line %ld: bad timestamp '%s'\n", lineno, f[0]);
            goto out;
        }
        for (int c = 0; c < R.nscore; c++) {
            const char *s = f[R.score_col[c]];
            if (!*s || !strcasecmp(s, "nan") || !strcasecmp(s, "null") || !strcasecmp(s, "na")) {
                row.v[c] = NAN;
                continue;
            }
            char *end;
            row.v[c] = strtod(s, &end);
            if (end == s || *end) {
                int fc = R.score_col[c];
                if (R.names[fc])
                    fprintf(stderr, "tocsin detect: line %ld: column '%s': not a number: '%s'\n",
                            lineno, R.names[fc], s);
                else
                    fprintf(stderr, "tocsin detect: line %ld: column %d: not a number: '%s'\n",
                            lineno, fc + 1, s);
                goto out;
            }
        }
        if (!(row.ts_text = strdup(f[0]))) {
            fprintf(stderr, "tocsin detect: out of memory\n");
            goto out;
        }
        if (o->iforest) { /* scored at the end */
            if (iforest_keep(&R, &row)) {
                free(row.ts_text);
                goto out;
            }
            continue;
        }
        if (!built) { /* the first rows give the sampling step, needed for seasons in samples */
            buf[nbuf++] = row;
            if (nbuf < BUF) continue;
            if (build_buffered(&R, buf, &nbuf)) goto out;
            built = 1;
            continue;
        }
        int rc = score_row(&R, &row);
        free(row.ts_text);
        if (rc) goto out;
    }
    if (ferror(in)) {
        fprintf(stderr, "tocsin detect: read error\n");
        goto out;
    }
    if (!header_done) {
        fprintf(stderr, "tocsin detect: no input\n");
        goto out;
    }
    if (o->iforest) {
        if (iforest_finish(&R)) goto out;
    } else if (!built && R.nscore) {
        if (build_buffered(&R, buf, &nbuf)) goto out;
        built = 1;
    }
    if (fflush(R.out) || ferror(R.out)) {
        fprintf(stderr, "tocsin detect: write error\n");
        goto out;
    }
    if (o->stats)
        fprintf(stderr,
                "tocsin detect: %llu rows, %d columns scored, %llu anomalies opened; skipped: "
                "%llu missing, %llu inf, %llu out of order, %llu duplicate; %llu repeated "
                "timestamps, %llu gaps\n",
                (unsigned long long)R.rows, R.nscore, (unsigned long long)R.opened,
                (unsigned long long)R.skipped[TN_SKIP_NAN],
                (unsigned long long)R.skipped[TN_SKIP_INF],
                (unsigned long long)R.skipped[TN_SKIP_OUT_OF_ORDER],
                (unsigned long long)R.skipped[TN_SKIP_DUPLICATE], (unsigned long long)R.dup_ts,
                (unsigned long long)R.gaps);
    status = 0;
out:
    for (int i = 0; i < nbuf; i++)
        free(buf[i].ts_text);
    for (int c = 0; c < MAX_COLS; c++) {
        tn_ens_destroy(R.ens[c]);
        free(R.names[c]);
    }
    for (size_t i = 0; i < R.if_n; i++)
        free(R.if_ts[i]);
    free(R.if_ts);
    free(R.if_x);
    free(line);
    return status;
}

static int need(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "tocsin detect: %s needs a value\n", argv[i]);
        return -1;
    }
    return 0;
}

int tn_cli_detect(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *eq = NULL;
        char name[64];
        const char *val = NULL;
        if (!strncmp(a, "--", 2) && (eq = strchr(a, '='))) { /* --opt=value */
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            a = name;
            val = eq + 1;
        }
#define VALUE()                                                                                    \
    do {                                                                                           \
        if (!val) {                                                                                \
            if (need(argc, argv, i)) return 2;                                                     \
            val = argv[++i];                                                                       \
        }                                                                                          \
    } while (0)
#define BAD(what)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "tocsin detect: %s: %s '%s'\n", a, what, val);                             \
        return 2;                                                                                  \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(g_detect_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--explain")) {
            o.explain = 1;
        } else if (!strcmp(a, "--stats")) {
            o.stats = 1;
        } else if (!strcmp(a, "--detector")) {
            VALUE();
            o.iforest = !strcmp(val, "iforest");
            if (!strcmp(val, "ensemble") || o.iforest) {
                o.p.detectors = 0;
            } else {
                int id = tn_det_parse(val);
                if (id < 0) BAD("unknown detector");
                o.p.detectors = TN_DET_BIT(id);
            }
        } else if (!strcmp(a, "--train")) {
            VALUE();
            if (parse_uint(val, &o.train_rows) || o.train_rows < 2)
                BAD("needs an integer >= 2, not");
        } else if (!strcmp(a, "--threshold")) {
            VALUE();
            if (parse_double(val, &o.p.threshold) || !(o.p.threshold > 0))
                BAD("needs a positive number, not");
        } else if (!strcmp(a, "--window")) {
            VALUE();
            if (parse_uint(val, &o.p.window) || o.p.window < 3) BAD("needs an integer >= 3, not");
        } else if (!strcmp(a, "--min-samples")) {
            VALUE();
            if (parse_uint(val, &o.p.min_samples) || !o.p.min_samples)
                BAD("needs a positive integer, not");
        } else if (!strcmp(a, "--agree")) {
            VALUE();
            if (parse_uint(val, &o.p.agree) || !o.p.agree || o.p.agree > TN_DET_COUNT)
                BAD("needs an integer from 1 to 8, not");
        } else if (!strcmp(a, "--clear-after")) {
            VALUE();
            if (parse_uint(val, &o.p.clear_after) || !o.p.clear_after)
                BAD("needs a positive integer, not");
        } else if (!strcmp(a, "--hw-season")) {
            VALUE();
            if (parse_uint(val, &o.p.hw_season)) BAD("needs an integer, not");
            o.hw_season_set = 1;
        } else if (!strcmp(a, "--ar-order")) {
            VALUE();
            if (parse_uint(val, &o.p.ar_p) || !o.p.ar_p || o.p.ar_p > TN_AR_MAX_P)
                BAD("needs an integer from 1 to 16, not");
        } else if (!strcmp(a, "--season")) {
            VALUE();
            int64_t ms;
            uint32_t samples;
            if (parse_duration(val, &ms, &samples))
                BAD("needs a duration (30s, 1d, 1w) or samples, not");
            if (o.nseason_arg == TN_SEASONS_MAX) BAD("at most 4 seasons; one too many:");
            o.season_arg[o.nseason_arg++] = (char *)val;
        } else if (!strcmp(a, "--columns")) {
            VALUE();
            o.columns = (char *)val;
        } else if (!strcmp(a, "--ignore")) {
            VALUE();
            o.ignore = (char *)val;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tocsin detect: unknown option '%s' (see tocsin detect --help)\n", a);
            return 2;
        } else if (!o.file) {
            o.file = a;
        } else {
            fprintf(stderr, "tocsin detect: one input file only ('%s')\n", a);
            return 2;
        }
#undef VALUE
#undef BAD
    }
    tn_ens_params_t chk = o.p;
    if (tn_ens_params_resolve(&chk)) {
        fprintf(stderr, "tocsin detect: parameters out of range\n");
        return 2;
    }
    FILE *in = stdin;
    if (o.file && strcmp(o.file, "-") && !(in = fopen(o.file, "r"))) {
        fprintf(stderr, "tocsin detect: cannot open %s: %s\n", o.file, strerror(errno));
        return 1;
    }
    int rc = run(&o, in);
    if (in != stdin) fclose(in);
    return rc;
}
