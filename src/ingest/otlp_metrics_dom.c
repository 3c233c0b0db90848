/* otlp_metrics_dom.c - ExportMetricsServiceRequest (JSON) -> samples through jansson's DOM: the
 * parser tocsin had before otlp_metrics.c (the streaming one), kept as its reference. The
 * differential tests (tests/unit/ingest/test_otlp_diff.c, tests/fuzz/fuzz_otlp.c) check that
 * both give the same samples, rejections and errors. Mapping: otlp.h. */
#include "ingest/otlp_common.h"
#include "ingest/normalize.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UNIT_LEN 64

enum { K_GAUGE, K_SUM, K_HISTOGRAM, K_EXPHISTOGRAM, K_SUMMARY, K_N };
static const char *const g_kinds[K_N] = {"gauge", "sum", "histogram", "exponentialHistogram",
                                         "summary"};

/* What every point of one metric shares. */
typedef struct {
    const tn_labels_t *res;
    int kind;
    char name[TN_MAX_NAME_LEN + 2]; /* sanitized */
    const char *unit;               /* NULL when none */
    const char *error;              /* metric-level reason to reject every point, or NULL */
} metric_t;

/* Appends one sample name<suffix>{base labels, extra=extra_value} = value at ts. 0, TN_EINVAL
 * (c->err), TN_ENOMEM, TN_ETOOBIG. */
static int emit(tn__otlp_ctx_t *c, const metric_t *m, const char *suffix, double value, int64_t ts,
                const tn_labels_t *base, const char *extra, const char *extra_value)
{
    int rc = tn__otlp_room(c, 1);
    if (rc) return rc;
    char name[TN_MAX_NAME_LEN + 16];
    snprintf(name, sizeof name, "%s%s", m->name, suffix);
    if (!tn_metric_name_valid(name)) {
        tn_buf_printf(&c->err, "metric name '%.64s...' is longer than %d bytes", name,
                      TN_MAX_NAME_LEN);
        return TN_EINVAL;
    }
    tn_labels_t l;
    tn_labels_init(&l);
    rc = tn_labels_copy(&l, base);
    if (!rc && extra) rc = tn_labels_add_raw(&l, extra, extra_value, (size_t)-1);
    if (rc == TN_ETOOBIG) {
        tn_buf_printf(&c->err, "too many labels (limit %d)", TN_MAX_LABELS);
        rc = TN_EINVAL;
    }
    tn_sample_t *s = rc ? NULL : tn_samples_push(&c->out->samples);
    if (!rc && !s) rc = TN_ENOMEM;
    if (rc) {
        tn_labels_deinit(&l);
        return rc;
    }
    s->value = value;
    s->ts_ms = ts;
    s->name = strdup(name);
    if (m->unit) s->unit = strdup(m->unit);
    if (!s->name || (m->unit && !s->unit)) {
        rc = TN_ENOMEM;
        tn_labels_deinit(&l);
    } else {
        rc = tn_sample_take_labels(s, &l, &c->err);
    }
    if (rc) {
        tn_batch_drop_sample(c->out);
        return rc;
    }
    c->produced++;
    return 0;
}

/* An optional double field: 0 (*present says whether it was there) or TN_EINVAL. */
static int opt_double(tn__otlp_ctx_t *c, json_t *o, const char *field, double *v, int *present)
{
    json_t *x = tn__otlp_get(o, field);
    *v = 0;
    if (present) *present = x != NULL;
    if (x && tn__otlp_double(x, v)) {
        tn_buf_printf(&c->err, "%s is not a number", field);
        return TN_EINVAL;
    }
    return 0;
}

/* An optional uint64 field as a double (absent: 0, *present 0). */
static int opt_count(tn__otlp_ctx_t *c, json_t *o, const char *field, double *v, int *present)
{
    json_t *x = tn__otlp_get(o, field);
    uint64_t u = 0;
    if (present) *present = x != NULL;
    if (x && tn__otlp_u64(x, &u)) {
        tn_buf_printf(&c->err, "%s is not a number", field);
        return TN_EINVAL;
    }
    *v = (double)u;
    return 0;
}

static int number_point(tn__otlp_ctx_t *c, const metric_t *m, json_t *dp, int64_t ts,
                        const tn_labels_t *l)
{
    json_t *ad = tn__otlp_get(dp, "asDouble"), *ai = tn__otlp_get(dp, "asInt");
    double v;
    int64_t i;
    if (ad && ai) {
        tn_buf_puts(&c->err, "both asDouble and asInt are set");
        return TN_EINVAL;
    }
    if (!ad && !ai) return 0; /* no value: skipped */
    if (ad && tn__otlp_double(ad, &v)) {
        tn_buf_puts(&c->err, "asDouble is not a number");
        return TN_EINVAL;
    }
    if (ai) {
        if (tn__otlp_i64(ai, &i)) {
            tn_buf_puts(&c->err, "asInt is not an integer");
            return TN_EINVAL;
        }
        v = (double)i;
    }
    return emit(c, m, "", v, ts, l, NULL, NULL);
}

static int histogram_point(tn__otlp_ctx_t *c, const metric_t *m, json_t *dp, int64_t ts,
                           const tn_labels_t *l)
{
    double count, sum;
    int has_count, has_sum;
    if (opt_count(c, dp, "count", &count, &has_count) || opt_double(c, dp, "sum", &sum, &has_sum))
        return TN_EINVAL;
    json_t *bc = tn__otlp_get(dp, "bucketCounts"), *eb = tn__otlp_get(dp, "explicitBounds");
    if ((bc && !json_is_array(bc)) || (eb && !json_is_array(eb))) {
        tn_buf_puts(&c->err, "bucketCounts and explicitBounds must be arrays");
        return TN_EINVAL;
    }
    size_t nb = json_array_size(bc), ne = json_array_size(eb);
    if (nb && nb != ne + 1) {
        tn_buf_printf(
            &c->err, "bucketCounts has %zu entries for %zu explicitBounds (want one more)", nb, ne);
        return TN_EINVAL;
    }
    /* validate everything before emitting */
    double prev = -INFINITY, total = 0;
    for (size_t i = 0; i < nb; i++) {
        double b, n;
        uint64_t u;
        if (tn__otlp_u64(json_array_get(bc, i), &u)) {
            tn_buf_printf(&c->err, "bucketCounts[%zu] is not a number", i);
            return TN_EINVAL;
        }
        n = (double)u;
        total += n;
        if (i == ne) break;
        if (tn__otlp_double(json_array_get(eb, i), &b) || !isfinite(b)) {
            tn_buf_printf(&c->err, "explicitBounds[%zu] is not a finite number", i);
            return TN_EINVAL;
        }
        if (b <= prev) {
            tn_buf_printf(&c->err, "explicitBounds[%zu] is not above the previous bound", i);
            return TN_EINVAL;
        }
        prev = b;
    }
    if (!has_count) count = total;

    int rc = emit(c, m, "_count", count, ts, l, NULL, NULL);
    if (!rc && has_sum) rc = emit(c, m, "_sum", sum, ts, l, NULL, NULL);
    double cum = 0;
    char le[32];
    for (size_t i = 0; i + 1 < nb && !rc; i++) {
        uint64_t u = 0;
        double b = 0;
        tn__otlp_u64(json_array_get(bc, i), &u);
        tn__otlp_double(json_array_get(eb, i), &b);
        cum += (double)u;
        tn__otlp_fmt_double(b, le);
        rc = emit(c, m, "_bucket", cum, ts, l, "le", le);
    }
    if (!rc) rc = emit(c, m, "_bucket", count, ts, l, "le", "+Inf");
    return rc;
}

static int summary_point(tn__otlp_ctx_t *c, const metric_t *m, json_t *dp, int64_t ts,
                         const tn_labels_t *l)
{
    double count, sum;
    if (opt_count(c, dp, "count", &count, NULL) || opt_double(c, dp, "sum", &sum, NULL))
        return TN_EINVAL;
    json_t *qv = tn__otlp_get(dp, "quantileValues");
    if (qv && !json_is_array(qv)) {
        tn_buf_puts(&c->err, "quantileValues must be an array");
        return TN_EINVAL;
    }
    size_t i;
    json_t *x;
    json_array_foreach(qv, i, x)
    {
        double q, v;
        if (!json_is_object(x)) {
            tn_buf_printf(&c->err, "quantileValues[%zu] must be an object", i);
            return TN_EINVAL;
        }
        if (opt_double(c, x, "quantile", &q, NULL) || opt_double(c, x, "value", &v, NULL)) {
            tn_buf_printf(&c->err, " in quantileValues[%zu]", i);
            return TN_EINVAL;
        }
        if (!(q >= 0 && q <= 1)) {
            tn_buf_printf(&c->err, "quantileValues[%zu].quantile must be between 0 and 1", i);
            return TN_EINVAL;
        }
    }
    int rc = emit(c, m, "_count", count, ts, l, NULL, NULL);
    if (!rc) rc = emit(c, m, "_sum", sum, ts, l, NULL, NULL);
    json_array_foreach(qv, i, x)
    {
        if (rc) break;
        double q, v;
        char qs[32];
        tn__otlp_double(json_object_get(x, "quantile"), &q);
        if (!tn__otlp_get(x, "quantile")) q = 0;
        if (!tn__otlp_get(x, "value") || tn__otlp_double(json_object_get(x, "value"), &v)) v = 0;
        tn__otlp_fmt_double(q, qs);
        rc = emit(c, m, "", v, ts, l, "quantile", qs);
    }
    return rc;
}

/* tn__otlp_record_fn for one data point of metric arg. */
static int parse_point(tn__otlp_ctx_t *c, json_t *dp, void *arg)
{
    const metric_t *m = arg;
    if (m->error) {
        tn_buf_puts(&c->err, m->error);
        return TN_EINVAL;
    }
    json_t *fl = tn__otlp_get(dp, "flags");
    uint64_t flags = 0;
    if (fl && (tn__otlp_u64(fl, &flags) || flags > UINT32_MAX)) {
        tn_buf_puts(&c->err, "flags is not a number");
        return TN_EINVAL;
    }
    int64_t ts;
    if (tn__otlp_time_ms(dp, "timeUnixNano", c->now_ms, &ts, &c->err)) return TN_EINVAL;
    if (flags & 1) return 0; /* NO_RECORDED_VALUE: skipped */

    tn_labels_t l;
    tn_labels_init(&l);
    int rc = tn__otlp_attrs(&l, tn__otlp_get(dp, "attributes"), &c->text, &c->err);
    if (!rc) rc = tn__otlp_merge(&l, m->res, &c->err);
    if (!rc) rc = tn_labels_finish(&l, &c->err);
    if (!rc) {
        switch (m->kind) {
        case K_GAUGE:
        case K_SUM:
            rc = number_point(c, m, dp, ts, &l);
            break;
        case K_HISTOGRAM:
            rc = histogram_point(c, m, dp, ts, &l);
            break;
        case K_EXPHISTOGRAM: {
            double count, sum;
            int has_sum;
            if (opt_count(c, dp, "count", &count, NULL) ||
                opt_double(c, dp, "sum", &sum, &has_sum)) {
                rc = TN_EINVAL;
                break;
            }
            rc = emit(c, m, "_count", count, ts, &l, NULL, NULL);
            if (!rc && has_sum) rc = emit(c, m, "_sum", sum, ts, &l, NULL, NULL);
            break;
        }
        default:
            rc = summary_point(c, m, dp, ts, &l);
        }
    }
    tn_labels_deinit(&l);
    return rc;
}

/* Fills m from metric object x (name, unit, kind) and finds its dataPoints. 0, or TN_EINVAL
 * (fatal) when the shape is unusable. m->error is set for metric-level problems that reject
 * each point. */
static int metric_head(tn__otlp_ctx_t *c, json_t *x, const char *path, metric_t *m, json_t **points,
                       char *kpath, size_t kpath_size)
{
    *points = NULL;
    m->kind = -1;
    m->error = NULL;
    m->unit = NULL;
    m->name[0] = '\0';
    json_t *data = NULL;
    for (int k = 0; k < K_N; k++) {
        json_t *d = tn__otlp_get(x, g_kinds[k]);
        if (!d) continue;
        if (m->kind >= 0) {
            tn_buf_printf(c->fatal, "%s has both %s and %s", path, g_kinds[m->kind], g_kinds[k]);
            return TN_EINVAL;
        }
        m->kind = k;
        data = d;
    }
    if (m->kind < 0) return 0; /* no data kind we know: nothing to do */
    if (snprintf(kpath, kpath_size, "%s.%s", path, g_kinds[m->kind]) < 0) kpath[0] = '\0';
    int rc = tn__otlp_need_object(c, data, kpath);
    if (!rc) rc = tn__otlp_list(c, data, kpath, "dataPoints", points);
    if (rc) return rc;

    json_t *name = tn__otlp_get(x, "name"), *unit = tn__otlp_get(x, "unit");
    const char *n = json_string_value(name);
    tn_norm_metric_name(n, n && *n ? json_string_length(name) : 0, m->name, &m->error);
    if (unit && (!json_is_string(unit) || json_string_length(unit) > MAX_UNIT_LEN))
        m->error = "unit must be a string of at most 64 bytes";
    else if (unit && json_string_length(unit))
        m->unit = json_string_value(unit);
    return 0;
}

static int walk_metrics(tn__otlp_ctx_t *c, json_t *list)
{
    metric_t m;
    tn_labels_t res;
    tn_labels_init(&res);
    tn_buf_t res_err;
    tn_buf_init(&res_err);
    m.res = &res;
    char rpath[TN__OTLP_PATH_MAX], spath[TN__OTLP_PATH_MAX], mpath[TN__OTLP_PATH_MAX];
    char kpath[TN__OTLP_PATH_MAX], path[TN__OTLP_PATH_MAX];
    int rc = 0;
    size_t r, s, k, i;
    json_t *rx, *sx, *mx, *dp;
    json_array_foreach(list, r, rx)
    {
        tn__otlp_path(rpath, sizeof rpath, NULL, "resourceMetrics", r);
        json_t *scopes;
        if ((rc = tn__otlp_need_object(c, rx, rpath)) ||
            (rc = tn__otlp_list(c, rx, rpath, "scopeMetrics", &scopes)))
            break;
        tn_labels_deinit(&res);
        if ((rc = tn__otlp_resource(c, rx, &res, &res_err))) break;
        json_array_foreach(scopes, s, sx)
        {
            tn__otlp_path(spath, sizeof spath, rpath, "scopeMetrics", s);
            json_t *metrics;
            if ((rc = tn__otlp_need_object(c, sx, spath)) ||
                (rc = tn__otlp_list(c, sx, spath, "metrics", &metrics)))
                break;
            json_array_foreach(metrics, k, mx)
            {
                tn__otlp_path(mpath, sizeof mpath, spath, "metrics", k);
                json_t *points;
                if ((rc = tn__otlp_need_object(c, mx, mpath)) ||
                    (rc = metric_head(c, mx, mpath, &m, &points, kpath, sizeof kpath)))
                    break;
                json_array_foreach(points, i, dp)
                {
                    tn__otlp_path(path, sizeof path, kpath, "dataPoints", i);
                    rc = tn__otlp_record(c, path, "data point", dp, &res_err, parse_point, &m);
                    if (rc) break;
                }
                if (rc) break;
            }
            if (rc) break;
        }
        if (rc) break;
    }
    tn_labels_deinit(&res);
    tn_buf_deinit(&res_err);
    return rc;
}

int tn__otlp_metrics_dom(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                         tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    tn__otlp_ctx_t c;
    json_t *root, *list;
    int rc = tn__otlp_begin(&c, body, len, o, out, rep, fatal, "resourceMetrics", &root, &list);
    if (rc) return rc;
    return tn__otlp_end(&c, walk_metrics(&c, list), root);
}
