#include "detect/detector.h"
#include "detect/zscore.h"
#include "core/error.h"
#include "core/hmap.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    tn_zscore_t zs;
    int64_t last_ts;
    uint32_t normal_run;
    int in_anomaly;
} series_t;

struct tn_detector {
    tn_detector_opts_t o;
    tn_hmap_t series;
    uint64_t skipped;
};

tn_detector_t *tn_detector_create(const tn_detector_opts_t *opts)
{
    tn_detector_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->o = *opts;
    if (!d->o.clear_after) d->o.clear_after = 3;
    if (!d->o.max_series) d->o.max_series = 1000000;
    if (d->o.window < 2) d->o.window = 2;
    tn_hmap_init(&d->series);
    return d;
}

void tn_detector_destroy(tn_detector_t *d)
{
    if (!d) return;
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&d->series, &it, NULL, &v)) {
        series_t *s = v;
        tn_zscore_deinit(&s->zs);
        free(s);
    }
    tn_hmap_deinit(&d->series);
    free(d);
}

size_t tn_detector_series_count(const tn_detector_t *d)
{
    return d->series.len;
}
uint64_t tn_detector_skipped(const tn_detector_t *d)
{
    return d->skipped;
}

int tn_detector_score(tn_detector_t *d, const char *sid, double value, int64_t ts_ms,
                      tn_verdict_t *out)
{
    *out = (tn_verdict_t){.kind = TN_VERDICT_SKIPPED, .detector = "zscore"};
    if (!isfinite(value)) {
        d->skipped++;
        return 0;
    }
    series_t *s = tn_hmap_get(&d->series, sid);
    if (!s) {
        if (d->series.len >= d->o.max_series) {
            d->skipped++;
            return 0;
        }
        s = calloc(1, sizeof *s);
        if (!s) return TN_ENOMEM;
        if (tn_zscore_init(&s->zs, d->o.window) || tn_hmap_put(&d->series, sid, s, NULL)) {
            tn_zscore_deinit(&s->zs);
            free(s);
            return TN_ENOMEM;
        }
        s->last_ts = INT64_MIN;
    }
    if (ts_ms < s->last_ts) {
        d->skipped++;
        return 0;
    }
    s->last_ts = ts_ms;
    tn_zscore_result_t r;
    tn_zscore_update(&s->zs, value, &r);
    out->z = r.z;
    out->score = r.score;
    out->expected = r.mean;
    out->stddev = r.stddev;
    out->lower = r.mean - d->o.threshold * r.stddev;
    out->upper = r.mean + d->o.threshold * r.stddev;
    out->n = r.n;
    if (r.n < d->o.min_samples) {
        out->kind = TN_VERDICT_WARMUP;
        return 0;
    }
    if (fabs(r.z) >= d->o.threshold) {
        out->kind = TN_VERDICT_ANOMALY;
        s->normal_run = 0;
        if (!s->in_anomaly) out->opened = 1;
        s->in_anomaly = 1;
    } else {
        out->kind = TN_VERDICT_NORMAL;
        if (s->in_anomaly && ++s->normal_run >= d->o.clear_after) {
            s->in_anomaly = 0;
            s->normal_run = 0;
            out->closed = 1;
        }
    }
    return 0;
}
