#include "detect/ensemble.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_names[TN_DET_COUNT] = {
    "zscore", "ewma", "mad", "iqr", "seasonal", "holtwinters", "ar", "flat", "shift",
};

int tn_det_family(int id)
{
    static const int fam[TN_DET_COUNT] = {0, 0, 1, 1, 2, 3, 4, 5, 6};
    return id >= 0 && id < TN_DET_COUNT ? fam[id] : 0;
}

const char *tn_det_name(int id)
{
    return id >= 0 && id < TN_DET_COUNT ? g_names[id] : "none";
}

int tn_det_parse(const char *name)
{
    for (int i = 0; i < TN_DET_COUNT; i++)
        if (!strcmp(name, g_names[i])) return i;
    if (!strcmp(name, "hw")) return TN_DET_HOLTWINTERS;
    return -1;
}

#define STEP_SAMPLES 9
#define TN_PERSIST                                                                                 \
    8 /* seasonal z values averaged for persistence */ /* diffs whose median is the typical step   \
                                                        */

struct tn_ens {
    tn_ens_params_t p;
    uint64_t n;
    int64_t last_ts;
    double last_x;
    int64_t diffs[STEP_SAMPLES];
    uint32_t ndiffs;
    int64_t step; /* typical step, 0 until known */
    tn_bz_t bz;
    tn_be_t be;
    tn_bhw_t hw;
    tn_sortwin_t sw;
    tn_ar_t ar;
    tn_seasonal_t se;
    int se_built, se_failed;
    tn_shift_t sh;
    double sp[TN_PERSIST]; /* the seasonal baseline's last calibrated z */
    int sp_pos, sp_n;
    /* flat: the current run of equal values and the repeat rate before it */
    uint32_t run;
    double rep, tot;
    int in_anomaly;
    uint32_t normal_run;
    tn_ens_counts_t c;
};

static int on(const tn_ens_params_t *p, int id)
{
    return (p->detectors & TN_DET_BIT(id)) != 0;
}

int tn_ens_params_resolve(tn_ens_params_t *p)
{
    if (!p->detectors) p->detectors = TN_DET_ALL;
    if (p->detectors & ~TN_DET_ALL) return TN_EINVAL;
    if (p->threshold == 0) p->threshold = 4;
    if (!p->agree) p->agree = 2;
    if (p->strong == 0) p->strong = 1.5;
    if (!p->min_samples) p->min_samples = 20;
    if (!p->clear_after) p->clear_after = 3;
    if (!p->window) p->window = 60;
    if (p->ewma_alpha == 0) p->ewma_alpha = 2.0 / (p->window + 1);
    if (!p->ar_p) p->ar_p = 3;
    if (!p->ar_window) p->ar_window = p->window > 4 * p->ar_p + 4 ? p->window : 4 * p->ar_p + 4;
    if (!p->ar_refit) p->ar_refit = p->ar_window / 4 ? p->ar_window / 4 : 1;
    if (p->hw_alpha == 0) p->hw_alpha = 0.3;
    if (p->hw_beta == 0) p->hw_beta = 0.05;
    if (p->hw_gamma == 0) p->hw_gamma = 0.2;
    if (!p->n_seasons) {
        p->n_seasons = 2;
        p->seasons_ms[0] = 86400000;
        p->seasons_ms[1] = 7 * 86400000LL;
    }
    if (!p->season_buckets) p->season_buckets = 288;
    if (!p->season_periods) p->season_periods = 2;
    if (p->gap_factor == 0) p->gap_factor = 2.5;
    if (!p->shift_recent) /* a quarter window, at least 4 (the window when it is smaller) */
        p->shift_recent = p->window / 4 > 4 ? p->window / 4 : (p->window < 4 ? p->window : 4);
    if (!(p->threshold > 0) || p->window < 3 || !(p->ewma_alpha > 0 && p->ewma_alpha <= 1) ||
        p->ar_p > TN_AR_MAX_P || p->ar_window < 4 * p->ar_p + 4 || p->n_seasons > TN_SEASONS_MAX ||
        p->season_periods > TN_SEASON_PERIODS_MAX || !(p->gap_factor > 1) ||
        (p->strong > 0 && p->strong < 1) || !(p->hw_alpha > 0 && p->hw_alpha <= 1) ||
        !(p->hw_beta > 0 && p->hw_beta <= 1) || !(p->hw_gamma > 0 && p->hw_gamma <= 1) ||
        p->window > 10000000 || p->ar_window > 10000000 || p->hw_season > 10000000 ||
        p->shift_recent < 2 || p->shift_recent > p->window)
        return TN_EINVAL;
    for (uint32_t i = 0; i < p->n_seasons; i++)
        if (p->seasons_ms[i] <= 0) return TN_EINVAL;
    return 0;
}

int tn_ens_params_same_state(const tn_ens_params_t *a, const tn_ens_params_t *b)
{
    if (a->detectors != b->detectors || a->window != b->window || a->ewma_alpha != b->ewma_alpha ||
        a->ar_p != b->ar_p || a->ar_window != b->ar_window || a->ar_refit != b->ar_refit ||
        a->hw_alpha != b->hw_alpha || a->hw_beta != b->hw_beta || a->hw_gamma != b->hw_gamma ||
        a->hw_season != b->hw_season || a->n_seasons != b->n_seasons ||
        a->season_buckets != b->season_buckets || a->season_periods != b->season_periods)
        return 0;
    for (uint32_t i = 0; i < a->n_seasons; i++)
        if (a->seasons_ms[i] != b->seasons_ms[i]) return 0;
    return 1;
}

void tn_ens_destroy(tn_ens_t *e)
{
    if (!e) return;
    tn_bz_deinit(&e->bz);
    tn_be_deinit(&e->be);
    tn_bhw_deinit(&e->hw);
    tn_sortwin_deinit(&e->sw);
    tn_ar_deinit(&e->ar);
    tn_seasonal_deinit(&e->se);
    tn_shift_deinit(&e->sh);
    free(e);
}

tn_ens_t *tn_ens_create(const tn_ens_params_t *params)
{
    tn_ens_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->p = *params;
    if (tn_ens_params_resolve(&e->p)) {
        free(e);
        return NULL;
    }
    const tn_ens_params_t *p = &e->p;
    double rate = 2.0 / (p->window + 1);
    int rc = 0;
    if (!rc && on(p, TN_DET_ZSCORE)) rc = tn_bz_init(&e->bz, 1, p->window);
    if (!rc && on(p, TN_DET_EWMA)) rc = tn_be_init(&e->be, 1, p->ewma_alpha);
    if (!rc && on(p, TN_DET_HOLTWINTERS))
        rc = tn_bhw_init(&e->hw, 1, p->hw_season, p->hw_alpha, p->hw_beta, p->hw_gamma, rate);
    if (!rc && (on(p, TN_DET_MAD) || on(p, TN_DET_IQR))) rc = tn_sortwin_init(&e->sw, p->window);
    if (!rc && on(p, TN_DET_AR)) rc = tn_ar_init(&e->ar, p->ar_p, p->ar_window, p->ar_refit);
    if (!rc && on(p, TN_DET_SHIFT))
        rc = tn_shift_init(&e->sh, p->window, p->shift_recent, 1.0 / (4.0 * p->window));
    if (rc) {
        tn_ens_destroy(e);
        return NULL;
    }
    return e;
}

const tn_ens_counts_t *tn_ens_counts(const tn_ens_t *e)
{
    return &e->c;
}

const tn_ens_params_t *tn_ens_params(const tn_ens_t *e)
{
    return &e->p;
}

void tn_ens_retune(tn_ens_t *e, const tn_ens_params_t *p)
{
    tn_ens_params_t r = *p;
    if (tn_ens_params_resolve(&r) || !tn_ens_params_same_state(&e->p, &r)) return;
    e->p = r;
}

/* Acklam's rational approximation of the normal quantile, tail region, written in terms of
 * log p so that tails far below the smallest double still give a z. Relative error < 1.2e-9. */
double tn_ens_z_from_logtail(double logq)
{
    if (logq >= 0) return 0;
    double logp = logq - M_LN2; /* one-sided tail p = q / 2 */
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (logp < log(0.02425)) {
        double q = sqrt(-2 * logp);
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double p = exp(logp), q = p - 0.5, r = q * q;
    return -(((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double tn_ens_calibrate(double t, double dof)
{
    if (!(dof > 0)) return t;
    if (dof < 1) dof = 1;
    double z = (8 * dof + 1) / (8 * dof + 3) * sqrt(dof * log1p(t * t / dof));
    return copysign(z, t);
}

static int64_t median_step(const int64_t *v, uint32_t n)
{
    int64_t s[STEP_SAMPLES];
    memcpy(s, v, n * sizeof *s);
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && s[j - 1] > s[j]; j--) {
            int64_t t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    return s[n / 2];
}

static void band(tn_det_out_t *o, double thr)
{
    o->lower = o->expected - thr * o->scale;
    o->upper = o->expected + thr * o->scale;
}

/* flat: P(a repeat) from history, and the z of the current run's probability */
static void flat_update(tn_ens_t *e, double x, tn_det_out_t *o)
{
    if (e->n > 0) {
        double last = e->last_x;
        int eq = x == last || fabs(x - last) <= 1e-12 * fmax(1.0, fabs(last));
        if (eq) {
            e->run++;
        } else {
            e->rep += e->run;
            e->tot += e->run + 1;
            e->run = 0;
            double cap = 8.0 * e->p.window;
            if (e->tot > cap) {
                e->rep *= 0.5;
                e->tot *= 0.5;
            }
        }
    }
    o->expected = x;
    o->scale = 0;
    o->ready = e->tot >= e->p.min_samples;
    if (o->ready && e->run > 0) {
        double prate = (e->rep + 0.5) / (e->tot + 1);
        o->z = tn_ens_z_from_logtail(e->run * log(prate));
    }
    o->lower = o->upper = x;
}

static void build_seasonal(tn_ens_t *e)
{
    const tn_ens_params_t *p = &e->p;
    if (tn_seasonal_init(&e->se, p->seasons_ms, p->n_seasons, e->step, p->season_buckets,
                         p->season_periods, 2.0 / (p->window + 1), p->min_samples))
        e->se_failed = 1;
    else
        e->se_built = 1;
}

/* hysteresis and combination */
static void combine(tn_ens_t *e, tn_ens_result_t *r)
{
    const tn_ens_params_t *p = &e->p;
    /* detectors that fail together vote together: the largest |zc| of each family */
    double fam[TN_FAMILIES];
    int fam_on[TN_FAMILIES] = {0};
    for (int d = 0; d < TN_DET_COUNT; d++) {
        if (!r->det[d].ready) continue;
        r->active |= TN_DET_BIT(d);
        double az = fabs(r->det[d].zc);
        if (az >= p->threshold) r->flagged |= TN_DET_BIT(d);
        int f = tn_det_family(d);
        if (!fam_on[f] || az > fam[f]) fam[f] = az;
        fam_on[f] = 1;
    }
    double a[TN_FAMILIES];
    int na = 0;
    for (int f = 0; f < TN_FAMILIES; f++) {
        if (!fam_on[f]) continue;
        int j = na++;
        while (j > 0 && a[j - 1] < fam[f]) { /* descending */
            a[j] = a[j - 1];
            j--;
        }
        a[j] = fam[f];
    }
    if (na == 0) {
        r->kind = TN_ENS_WARMUP;
        return;
    }
    uint32_t k = p->agree < (uint32_t)na ? p->agree : (uint32_t)na;
    double comb = a[k - 1];
    if (p->strong > 0 && a[0] / p->strong > comb) comb = a[0] / p->strong;
    if (r->det[TN_DET_SEASONAL].ready && comb > 2 * fabs(r->det[TN_DET_SEASONAL].zc))
        comb = 2 * fabs(r->det[TN_DET_SEASONAL].zc);
    r->lead = -1;
    for (int d = 0; d < TN_DET_COUNT; d++)
        if (r->det[d].ready && fabs(r->det[d].zc) >= comb) {
            r->lead = d;
            break;
        }
    if (r->lead < 0) r->lead = __builtin_ctz(r->active);
    r->z = copysign(comb, r->det[r->lead].zc);
    r->score = erf(comb / M_SQRT2);
    if (e->n < p->min_samples || e->n < p->hw_season) { /* at least a season when known */
        r->kind = TN_ENS_WARMUP;
        return;
    }
    if (comb >= p->threshold) {
        r->kind = TN_ENS_ANOMALY;
        e->normal_run = 0;
        if (!e->in_anomaly) r->opened = 1;
        e->in_anomaly = 1;
    } else {
        r->kind = TN_ENS_NORMAL;
        if (e->in_anomaly && ++e->normal_run >= p->clear_after) {
            e->in_anomaly = 0;
            e->normal_run = 0;
            r->closed = 1;
        }
    }
}

int tn_ens_update(tn_ens_t *e, int64_t ts, double x, tn_ens_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->lead = -1;
    r->kind = TN_ENS_SKIPPED;
    r->n = e->n;
    if (isnan(x)) {
        r->skip = TN_SKIP_NAN;
        e->c.nan++;
        return 0;
    }
    if (isinf(x)) {
        r->skip = TN_SKIP_INF;
        e->c.inf++;
        return 0;
    }
    int rc = 0;
    const tn_ens_params_t *p = &e->p;
    if (e->n > 0) {
        if (ts < e->last_ts) {
            r->skip = TN_SKIP_OUT_OF_ORDER;
            e->c.out_of_order++;
            return 0;
        }
        if (ts == e->last_ts) {
            if (x == e->last_x) {
                r->skip = TN_SKIP_DUPLICATE;
                e->c.duplicate++;
                return 0;
            }
            r->dup_ts = 1;
            e->c.dup_ts++;
        } else {
            int64_t dt = ts - e->last_ts;
            if (e->step == 0) {
                e->diffs[e->ndiffs++] = dt;
                if (e->ndiffs == STEP_SAMPLES) e->step = median_step(e->diffs, e->ndiffs);
            } else if ((double)dt > p->gap_factor * (double)e->step) {
                r->gap = 1;
                e->c.gaps++;
                if (on(p, TN_DET_HOLTWINTERS)) {
                    int64_t missing = dt / e->step - 1;
                    int64_t cap = 4 * (int64_t)(p->hw_season ? p->hw_season : 1);
                    tn_bhw_skip(&e->hw, (uint32_t)(missing < cap ? missing : cap));
                }
            }
        }
    }
    e->c.accepted++;
    double thr = p->threshold;
    tn_det_out_t *o = r->det;
    if (on(p, TN_DET_ZSCORE)) {
        double z, m, s;
        o[TN_DET_ZSCORE].ready = e->bz.count >= 2;
        o[TN_DET_ZSCORE].dof = e->bz.count - 1.0;
        tn_bz_step(&e->bz, &x, &z, &m, &s);
        o[TN_DET_ZSCORE].z = z;
        o[TN_DET_ZSCORE].expected = m;
        o[TN_DET_ZSCORE].scale = s;
        band(&o[TN_DET_ZSCORE], thr);
    }
    if (on(p, TN_DET_EWMA)) {
        double z, m, s;
        o[TN_DET_EWMA].ready = e->be.n >= 2;
        /* effective sample size of the weights: min(n, (2 - a) / a) */
        double ne = (2 - p->ewma_alpha) / p->ewma_alpha;
        o[TN_DET_EWMA].dof = (e->be.n < ne ? (double)e->be.n : ne) - 1;
        tn_be_step(&e->be, &x, &z, &m, &s);
        o[TN_DET_EWMA].z = z;
        o[TN_DET_EWMA].expected = m;
        o[TN_DET_EWMA].scale = s;
        band(&o[TN_DET_EWMA], thr);
    }
    if (on(p, TN_DET_MAD) || on(p, TN_DET_IQR)) {
        if (e->sw.count >= 3) {
            tn_robust_out_t ro;
            if (on(p, TN_DET_MAD)) {
                tn_robust_mad(&e->sw, x, thr, &ro);
                o[TN_DET_MAD] = (tn_det_out_t){
                    1,        ro.z,     ro.expected,        ro.scale,
                    ro.lower, ro.upper, 0.37 * e->sw.count, 0}; /* MAD: 37% efficient */
            }
            if (on(p, TN_DET_IQR)) {
                tn_robust_iqr(&e->sw, x, thr, &ro);
                o[TN_DET_IQR] = (tn_det_out_t){1,        ro.z,     ro.expected,        ro.scale,
                                               ro.lower, ro.upper, 0.37 * e->sw.count, 0};
            }
        }
        tn_sortwin_add(&e->sw, x);
    }
    if (on(p, TN_DET_SEASONAL)) {
        if (!e->se_built && !e->se_failed && e->step > 0) {
            build_seasonal(e);
            if (e->se_failed) rc = TN_ENOMEM;
        }
        if (e->se_built) {
            tn_seasonal_out_t so;
            tn_seasonal_update(&e->se, ts, x, &so);
            o[TN_DET_SEASONAL] = (tn_det_out_t){so.ready,         so.z, so.expected, so.scale, 0, 0,
                                                0.88 * p->window, 0}; /* mean abs deviation */
            band(&o[TN_DET_SEASONAL], thr);
        }
    }
    if (on(p, TN_DET_HOLTWINTERS)) {
        double z, f, s;
        uint64_t need = (uint64_t)(p->hw_season > 1 ? p->hw_season : 1) + p->min_samples;
        o[TN_DET_HOLTWINTERS].ready = e->hw.n >= need;
        o[TN_DET_HOLTWINTERS].dof = p->window;
        tn_bhw_step(&e->hw, &x, &z, &f, &s);
        o[TN_DET_HOLTWINTERS].z = z;
        o[TN_DET_HOLTWINTERS].expected = f;
        o[TN_DET_HOLTWINTERS].scale = s;
        band(&o[TN_DET_HOLTWINTERS], thr);
    }
    if (on(p, TN_DET_AR)) {
        tn_det_out_t *a = &o[TN_DET_AR];
        tn_ar_update(&e->ar, x, &a->ready, &a->z, &a->expected, &a->scale);
        if (e->ar.count < p->ar_window / 2 + 1) a->ready = 0; /* a fit on half a window at least */
        a->dof = (double)e->ar.count - p->ar_p;
        band(a, thr);
    }
    if (on(p, TN_DET_FLAT)) flat_update(e, x, &o[TN_DET_FLAT]);
    if (on(p, TN_DET_SHIFT)) {
        tn_det_out_t *s = &o[TN_DET_SHIFT];
        tn_shift_update(&e->sh, x, 2 * (uint64_t)p->window, &s->ready, &s->z, &s->expected,
                        &s->scale);
        /* its tail under null data (simulated: white noise, AR(1) with phi 0.9) is that of a
         * t with 25 to 50 degrees of freedom at the defaults: 8 window / recent is 32 */
        s->dof = 8.0 * p->window / p->shift_recent;
        band(s, thr);
    }
    int single = !(p->detectors & (p->detectors - 1));
    for (int d = 0; d < TN_DET_COUNT; d++) {
        if (!o[d].ready) o[d].z = 0;
        o[d].zc = single ? o[d].z : tn_ens_calibrate(o[d].z, o[d].dof);
    }
    if (o[TN_DET_SEASONAL].ready) { /* persistence: the mean of the last few z, x sqrt(k) */
        e->sp[e->sp_pos] = o[TN_DET_SEASONAL].zc;
        e->sp_pos = (e->sp_pos + 1) % TN_PERSIST;
        if (e->sp_n < TN_PERSIST) e->sp_n++;
        if (e->sp_n == TN_PERSIST) {
            double sum = 0;
            for (int k = 0; k < TN_PERSIST; k++)
                sum += e->sp[k];
            double zp = sum / sqrt((double)TN_PERSIST);
            if (fabs(zp) > fabs(o[TN_DET_SEASONAL].zc)) o[TN_DET_SEASONAL].zc = zp;
        }
    }
    combine(e, r);
    e->n++;
    e->last_ts = ts;
    e->last_x = x;
    return rc;
}
