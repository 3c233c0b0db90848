#include "detect/detector.h"
#include "core/error.h"
#include "core/hmap.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    tn_ens_t *ens;
    uint64_t gen; /* policy generation the series was matched under */
} series_t;

struct tn_detector {
    tn_detector_opts_t o;
    tn_policy_t *policy; /* always set: the options' defaults when no policy was given */
    uint64_t gen;
    tn_hmap_t series;
    tn_detector_stats_t st;
};

static tn_policy_t *default_policy(const tn_detector_opts_t *o)
{
    tn_ens_params_t p = {.detectors = o->detectors,
                         .threshold = o->threshold,
                         .min_samples = o->min_samples,
                         .clear_after = o->clear_after,
                         .window = o->window};
    return tn_policy_create(&p);
}

tn_detector_t *tn_detector_create(const tn_detector_opts_t *opts)
{
    tn_detector_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->o = *opts;
    if (!d->o.max_series) d->o.max_series = 1000000;
    if (d->o.window < 3) d->o.window = 3;
    if (!(d->policy = default_policy(&d->o))) {
        free(d);
        return NULL;
    }
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
        tn_ens_destroy(s->ens);
        free(s);
    }
    tn_hmap_deinit(&d->series);
    tn_policy_unref(d->policy);
    free(d);
}

void tn_detector_set_policy(tn_detector_t *d, tn_policy_t *p)
{
    tn_policy_t *np = p ? tn_policy_ref(p) : default_policy(&d->o);
    if (!np) return; /* out of memory: keep the current one */
    tn_policy_unref(d->policy);
    d->policy = np;
    d->gen++;
}

size_t tn_detector_series_count(const tn_detector_t *d)
{
    return d->series.len;
}

uint64_t tn_detector_skipped(const tn_detector_t *d)
{
    return d->st.skipped;
}

void tn_detector_stats(const tn_detector_t *d, tn_detector_stats_t *st)
{
    *st = d->st;
    st->series = d->series.len;
}

void tn_detector_verdict(const tn_ens_result_t *r, uint32_t mask, tn_verdict_t *out)
{
    int single = mask && !(mask & (mask - 1));
    *out = (tn_verdict_t){.n = (uint32_t)(r->n > UINT32_MAX ? UINT32_MAX : r->n),
                          .skip = r->skip,
                          .gap = r->gap,
                          .active = r->active,
                          .flagged = r->flagged};
    switch (r->kind) {
    case TN_ENS_WARMUP:
        out->kind = TN_VERDICT_WARMUP;
        break;
    case TN_ENS_NORMAL:
        out->kind = TN_VERDICT_NORMAL;
        break;
    case TN_ENS_ANOMALY:
        out->kind = TN_VERDICT_ANOMALY;
        break;
    default:
        out->kind = TN_VERDICT_SKIPPED;
        break;
    }
    out->opened = r->opened;
    out->closed = r->closed;
    int lead = r->lead >= 0 ? r->lead : (single ? __builtin_ctz(mask) : -1);
    out->detector = lead >= 0 && (single || r->lead >= 0) ? tn_det_name(lead) : "ensemble";
    if (r->kind == TN_ENS_SKIPPED) return;
    out->z = r->z;
    out->score = r->score;
    if (lead >= 0) {
        const tn_det_out_t *o = &r->det[lead];
        out->expected = o->expected;
        out->stddev = o->scale;
        out->lower = o->lower;
        out->upper = o->upper;
    }
}

int tn_detector_score_labeled(tn_detector_t *d, const char *sid, const char *name, size_t name_len,
                              const char *labels, size_t labels_len, double value, int64_t ts_ms,
                              tn_verdict_t *out)
{
    tn_ens_result_t r;
    uint32_t mask = d->o.detectors;
    series_t *s = tn_hmap_get(&d->series, sid);
    if (!s && !isfinite(value)) { /* no series for a value that cannot be scored */
        tn_ens_result_t sk = {
            .kind = TN_ENS_SKIPPED, .lead = -1, .skip = isnan(value) ? TN_SKIP_NAN : TN_SKIP_INF};
        tn_detector_verdict(&sk, mask, out);
        d->st.skipped++;
        if (isnan(value))
            d->st.nan++;
        else
            d->st.inf++;
        return 0;
    }
    if (!s) {
        tn_ens_result_t sk = {.kind = TN_ENS_SKIPPED, .lead = -1};
        tn_detector_verdict(&sk, mask, out);
        if (d->series.len >= d->o.max_series) {
            d->st.skipped++;
            d->st.untracked++;
            return 0;
        }
        const tn_ens_params_t *p;
        tn_policy_match(d->policy, name, name_len, labels, labels_len, &p, NULL);
        s = calloc(1, sizeof *s);
        if (!s) return TN_ENOMEM;
        s->gen = d->gen;
        if (!(s->ens = tn_ens_create(p)) || tn_hmap_put(&d->series, sid, s, NULL)) {
            tn_ens_destroy(s->ens);
            free(s);
            return TN_ENOMEM;
        }
    } else if (s->gen != d->gen) {
        const tn_ens_params_t *p;
        tn_policy_match(d->policy, name, name_len, labels, labels_len, &p, NULL);
        if (tn_ens_params_same_state(tn_ens_params(s->ens), p)) {
            tn_ens_retune(s->ens, p);
        } else {
            tn_ens_t *ne = tn_ens_create(p);
            if (!ne) {
                tn_ens_result_t sk = {.kind = TN_ENS_SKIPPED, .lead = -1};
                tn_detector_verdict(&sk, mask, out);
                return TN_ENOMEM;
            }
            tn_ens_destroy(s->ens);
            s->ens = ne;
            d->st.resets++;
        }
        s->gen = d->gen;
    }
    mask = tn_ens_params(s->ens)->detectors;
    const tn_ens_counts_t before = *tn_ens_counts(s->ens);
    int rc = tn_ens_update(s->ens, ts_ms, value, &r);
    const tn_ens_counts_t *c = tn_ens_counts(s->ens);
    d->st.nan += c->nan - before.nan;
    d->st.inf += c->inf - before.inf;
    d->st.out_of_order += c->out_of_order - before.out_of_order;
    d->st.duplicate += c->duplicate - before.duplicate;
    d->st.dup_ts += c->dup_ts - before.dup_ts;
    d->st.gaps += c->gaps - before.gaps;
    if (r.kind == TN_ENS_SKIPPED) d->st.skipped++;
    tn_detector_verdict(&r, mask, out);
    return rc == TN_ENOMEM ? 0 : rc; /* a lazily built detector missing is not fatal */
}

int tn_detector_score(tn_detector_t *d, const char *sid, double value, int64_t ts_ms,
                      tn_verdict_t *out)
{
    return tn_detector_score_labeled(d, sid, "", 0, "{}", 2, value, ts_ms, out);
}
