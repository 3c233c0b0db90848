/* recent.c - the latest points of series for charts (recent.h). */
#include "detect/recent.h"
#include "core/error.h"
#include "core/hmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t ts;
    double value;
    float expected, lower, upper; /* NaN: no band yet */
    uint8_t anomalous;
} point_t;

typedef struct {
    char *sid, *metric, *labels;
    int64_t last_anomaly_ms; /* 0: never */
    double score;            /* the latest point's anomaly score */
    size_t head, n;          /* ring: oldest at head */
    point_t pts[];
} ring_t;

struct tn_recent {
    tn_hmap_t by_sid;
    size_t max_series, points;
};

tn_recent_t *tn_recent_create(size_t max_series, size_t points)
{
    if (!max_series || !points) return NULL;
    tn_recent_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    tn_hmap_init(&r->by_sid);
    r->max_series = max_series;
    r->points = points;
    return r;
}

static void ring_free(ring_t *g)
{
    if (!g) return;
    free(g->sid);
    free(g->metric);
    free(g->labels);
    free(g);
}

void tn_recent_destroy(tn_recent_t *r)
{
    if (!r) return;
    void *v;
    for (size_t i = 0; tn_hmap_next(&r->by_sid, &i, NULL, &v);)
        ring_free(v);
    tn_hmap_deinit(&r->by_sid);
    free(r);
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* The tracked series whose last anomaly is the oldest (never first), or NULL. */
static ring_t *victim(const tn_recent_t *r)
{
    ring_t *best = NULL;
    void *v;
    for (size_t i = 0; tn_hmap_next(&r->by_sid, &i, NULL, &v);) {
        ring_t *g = v;
        if (!best || g->last_anomaly_ms < best->last_anomaly_ms) best = g;
    }
    return best;
}

static float band(double x)
{
    return isfinite(x) ? (float)x : NAN;
}

int tn_recent_add(tn_recent_t *r, const char *sid, const char *metric, size_t metric_len,
                  const char *labels, size_t labels_len, int64_t ts_ms, double value,
                  double expected, double lower, double upper, double score, int anomalous)
{
    ring_t *g = tn_hmap_get(&r->by_sid, sid);
    if (!g) {
        if (r->by_sid.len >= r->max_series) {
            if (!anomalous) return 0; /* full: only anomalous series displace others */
            ring_t *old = victim(r);
            if (!old || old->last_anomaly_ms > ts_ms) return 0;
            tn_hmap_del(&r->by_sid, old->sid);
            ring_free(old);
        }
        g = calloc(1, sizeof *g + r->points * sizeof(point_t));
        if (!g || !(g->sid = strdup(sid)) || !(g->metric = dupn(metric, metric_len)) ||
            !(g->labels = dupn(labels ? labels : "{}", labels ? labels_len : 2)) ||
            tn_hmap_put(&r->by_sid, sid, g, NULL)) {
            ring_free(g);
            return TN_ENOMEM;
        }
    }
    point_t p = {ts_ms, value, band(expected), band(lower), band(upper), anomalous != 0};
    if (g->n < r->points) {
        g->pts[(g->head + g->n++) % r->points] = p;
    } else {
        g->pts[g->head] = p;
        g->head = (g->head + 1) % r->points;
    }
    if (anomalous) g->last_anomaly_ms = ts_ms;
    g->score = isfinite(score) ? score : 0;
    return 0;
}

static json_t *num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *tn_recent_json(const tn_recent_t *r, const char *sid, int *missing)
{
    if (missing) *missing = 0;
    const ring_t *g = tn_hmap_get(&r->by_sid, sid);
    if (!g) {
        if (missing) *missing = 1;
        return NULL;
    }
    json_t *pts = json_array();
    for (size_t i = 0; pts && i < g->n; i++) {
        const point_t *p = &g->pts[(g->head + i) % r->points];
        json_t *row = json_pack("[I, o, o, o, o, i]", (json_int_t)p->ts, num_or_null(p->value),
                                num_or_null(p->expected), num_or_null(p->lower),
                                num_or_null(p->upper), (int)p->anomalous);
        if (!row || json_array_append_new(pts, row)) {
            json_decref(pts);
            pts = NULL;
        }
    }
    json_t *labels = json_loads(g->labels, 0, NULL);
    json_t *o = pts ? json_pack("{s:s, s:s, s:o, s:o}", "sid", g->sid, "metric", g->metric,
                                "labels", labels ? labels : json_object(), "points", pts)
                    : NULL;
    if (!pts) json_decref(labels);
    return o;
}

size_t tn_recent_tracked(const tn_recent_t *r)
{
    return r->by_sid.len;
}

static int by_score_desc(const void *a, const void *b)
{
    double x = (*(ring_t *const *)a)->score, y = (*(ring_t *const *)b)->score;
    return x < y ? 1 : x > y ? -1 : strcmp((*(ring_t *const *)a)->sid, (*(ring_t *const *)b)->sid);
}

size_t tn_recent_top(const tn_recent_t *r, size_t n,
                     void (*fn)(const char *sid, const char *metric, const char *labels,
                                double score, void *arg),
                     void *arg)
{
    size_t len = r->by_sid.len, k = 0;
    ring_t **all = len ? malloc(len * sizeof *all) : NULL;
    if (!all) return 0;
    void *v;
    for (size_t i = 0; tn_hmap_next(&r->by_sid, &i, NULL, &v);)
        all[k++] = v;
    qsort(all, k, sizeof *all, by_score_desc);
    if (n > k) n = k;
    for (size_t i = 0; i < n; i++)
        fn(all[i]->sid, all[i]->metric, all[i]->labels, all[i]->score, arg);
    free(all);
    return n;
}
