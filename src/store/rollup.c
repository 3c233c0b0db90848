#include "store/rollup.h"
#include "core/error.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W5M (5 * 60 * 1000LL)
#define W1H (60 * 60 * 1000LL)

typedef struct {
    int64_t bucket;  /* start; INT64_MIN when empty */
    int64_t written; /* the latest bucket written (late samples before it are dropped) */
    uint64_t count;
    double sum, min, max, last;
} agg_t;

typedef struct {
    char *name;
    char *labels;
    agg_t a[2]; /* 5m, 1h */
} series_t;

struct tn_rollup {
    tn_streams_t *streams;
    int64_t grace_ms;
    tn_hmap_t series; /* sid -> series_t */
    tn_metric_t *m_written, *m_late;
};

static const int64_t g_width[2] = {W5M, W1H};
static const tn_pstream_kind_t g_kind[2] = {TN_PSTREAM_ROLLUP_5M, TN_PSTREAM_ROLLUP_1H};

tn_rollup_t *tn_rollup_create(tn_streams_t *streams, int64_t grace_ms)
{
    tn_rollup_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->streams = streams;
    r->grace_ms = grace_ms;
    tn_hmap_init(&r->series);
    r->m_written = tn_metrics_counter("tocsin_rollups_written_total", NULL,
                                      "5-minute and 1-hour rollup entries written.");
    r->m_late = tn_metrics_counter("tocsin_rollup_late_samples_total", NULL,
                                   "Samples older than their series' last written rollup.");
    return r;
}

void tn_rollup_destroy(tn_rollup_t *r)
{
    if (!r) return;
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&r->series, &it, NULL, &v)) {
        series_t *s = v;
        free(s->name);
        free(s->labels);
        free(s);
    }
    tn_hmap_deinit(&r->series);
    free(r);
}

size_t tn_rollup_series(const tn_rollup_t *r)
{
    return r->series.len;
}

static void on_written(int err, void *arg)
{
    (void)arg;
    if (err) tn_log_warn("store", "rollup not written: %s", tn_strerror(err));
}

static void write_bucket(tn_rollup_t *r, const char *sid, series_t *s, int k)
{
    agg_t *a = &s->a[k];
    char bucket[24], width[24], count[24], sum[32], mn[32], mx[32], last[32];
    snprintf(bucket, sizeof bucket, "%lld", (long long)a->bucket);
    snprintf(width, sizeof width, "%lld", (long long)g_width[k]);
    snprintf(count, sizeof count, "%llu", (unsigned long long)a->count);
    snprintf(sum, sizeof sum, "%.17g", a->sum);
    snprintf(mn, sizeof mn, "%.17g", a->min);
    snprintf(mx, sizeof mx, "%.17g", a->max);
    snprintf(last, sizeof last, "%.17g", a->last);
    const char *f[] = {"sid",  sid,     "name", s->name, "labels", s->labels, "bucket",
                       bucket, "width", width,  "count", count,    "sum",     sum,
                       "min",  mn,      "max",  mx,      "last",   last};
    tn_wgroup_t *g = tn_streams_group(r->streams, on_written, NULL);
    if (g) {
        if (tn_wgroup_pxadd(g, g_kind[k], tn_streams_partition_of(r->streams, sid), f, NULL, 10) ==
            0)
            tn_metric_inc(r->m_written);
        tn_wgroup_close(g);
    }
    a->written = a->bucket;
    a->bucket = INT64_MIN;
    a->count = 0;
}

void tn_rollup_add(tn_rollup_t *r, const char *sid, const char *name, size_t name_len,
                   const char *labels, size_t labels_len, double value, int64_t ts_ms)
{
    if (!isfinite(value)) return;
    series_t *s = tn_hmap_get(&r->series, sid);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return;
        s->name = strndup(name, name_len);
        s->labels = strndup(labels, labels_len);
        for (int k = 0; k < 2; k++)
            s->a[k].bucket = s->a[k].written = INT64_MIN;
        if (!s->name || !s->labels || tn_hmap_put(&r->series, sid, s, NULL)) {
            free(s->name), free(s->labels), free(s);
            return;
        }
    }
    for (int k = 0; k < 2; k++) {
        agg_t *a = &s->a[k];
        int64_t b = ts_ms - (((ts_ms % g_width[k]) + g_width[k]) % g_width[k]);
        if (b <= a->written) {
            tn_metric_inc(r->m_late);
            continue;
        }
        if (a->bucket != INT64_MIN && b > a->bucket) write_bucket(r, sid, s, k);
        if (a->bucket != INT64_MIN && b < a->bucket) { /* older than the open bucket */
            tn_metric_inc(r->m_late);
            continue;
        }
        if (a->bucket == INT64_MIN) {
            a->bucket = b;
            a->count = 0;
            a->sum = 0;
            a->min = a->max = value;
        }
        a->count++;
        a->sum += value;
        if (value < a->min) a->min = value;
        if (value > a->max) a->max = value;
        a->last = value;
    }
}

size_t tn_rollup_flush(tn_rollup_t *r, int64_t now_ms)
{
    size_t n = 0, it = 0;
    const char *sid;
    void *v;
    while (tn_hmap_next(&r->series, &it, &sid, &v)) {
        series_t *s = v;
        for (int k = 0; k < 2; k++) {
            agg_t *a = &s->a[k];
            if (a->bucket == INT64_MIN) continue;
            if (now_ms == INT64_MAX || a->bucket + g_width[k] + r->grace_ms <= now_ms) {
                write_bucket(r, sid, s, k);
                n++;
            }
        }
    }
    return n;
}
