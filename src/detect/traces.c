/* traces.c - per service and per edge latency quantile and error-rate anomalies. */
#include "detect/traces.h"
#include "core/error.h"
#include "core/hmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NB 136 /* buckets: [0,1us), then 4 per octave from 1 us up to ~2.6 hours */
#define PER_OCTAVE 4.0

typedef struct {
    char *service, *parent; /* owned (parent NULL for service keys) */
    uint32_t hist[NB];      /* current interval */
    uint64_t count, errors;
    uint64_t last_active; /* interval number of the last span */
    /* ring of past intervals (capacity = opts.history) */
    double *lat;
    uint64_t *cnt, *err;
    uint32_t nhist, pos;
} tkey_t;

struct tn_traces {
    tn_traces_opts_t o;
    tn_hmap_t keys;
    uint64_t rejected, dropped, late;
    int started;
    int64_t cur_start;
    uint64_t interval_no;
    char *kbuf;
    size_t kcap;
    double *scratch; /* history values */
};

/* ---- histogram -------------------------------------------------------------------------- */

static int bucket_of(double ms)
{
    double us = ms * 1000.0;
    if (!(us >= 1.0)) return 0;
    double b = 1.0 + floor(log2(us) * PER_OCTAVE);
    return b >= NB - 1 ? NB - 1 : (int)b;
}

static double hist_quantile(const uint32_t *h, uint64_t n, double q)
{
    if (n == 0) return NAN;
    double target = q * (double)n, cum = 0;
    for (int b = 0; b < NB; b++) {
        if (!h[b]) continue;
        if (cum + h[b] >= target || b == NB - 1) {
            double frac = (target - cum) / h[b];
            frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
            if (b == 0) return frac * 1e-3; /* [0, 1 us) */
            double lo = exp2((b - 1) / PER_OCTAVE), hi = exp2(b / PER_OCTAVE);
            return lo * pow(hi / lo, frac) * 1e-3;
        }
        cum += h[b];
    }
    return NAN;
}

double tn_traces_hist_quantile(const double *v, size_t n, double q)
{
    uint32_t h[NB] = {0};
    for (size_t i = 0; i < n; i++)
        h[bucket_of(v[i])]++;
    return hist_quantile(h, n, q);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

tn_traces_t *tn_traces_create(const tn_traces_opts_t *opts)
{
    tn_traces_opts_t o = {0};
    if (opts) o = *opts;
    if (!o.interval_ms) o.interval_ms = 60000;
    if (o.quantile == 0) o.quantile = 0.95;
    if (!o.history) o.history = 30;
    if (!o.warmup) o.warmup = 5;
    if (!o.min_count) o.min_count = 20;
    if (o.z_threshold == 0) o.z_threshold = 4;
    if (o.min_ratio == 0) o.min_ratio = 1.2;
    if (o.error_z == 0) o.error_z = 4;
    if (o.min_error_delta == 0) o.min_error_delta = 0.01;
    if (!o.max_keys) o.max_keys = 10000;
    if (!o.idle_intervals) o.idle_intervals = 1440;
    if (!o.max_gap) o.max_gap = 1440;
    if (o.interval_ms < 1 || !(o.quantile > 0 && o.quantile < 1) || o.history > 1024 ||
        o.warmup > o.history || !(o.z_threshold > 0) || !(o.min_ratio >= 1) || !(o.error_z > 0) ||
        !(o.min_error_delta >= 0 && o.min_error_delta < 1))
        return NULL;
    tn_traces_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->o = o;
    tn_hmap_init(&t->keys);
    t->scratch = malloc(sizeof(double) * o.history);
    if (!t->scratch) {
        free(t);
        return NULL;
    }
    return t;
}

static void free_key(tkey_t *k)
{
    if (!k) return;
    free(k->service);
    free(k->parent);
    free(k->lat);
    free(k->cnt);
    free(k->err);
    free(k);
}

void tn_traces_destroy(tn_traces_t *t)
{
    if (!t) return;
    const char *key;
    void *v;
    for (size_t it = 0; tn_hmap_next(&t->keys, &it, &key, &v);)
        free_key(v);
    tn_hmap_deinit(&t->keys);
    free(t->kbuf);
    free(t->scratch);
    free(t);
}

size_t tn_traces_key_count(const tn_traces_t *t)
{
    return t->keys.len;
}
uint64_t tn_traces_rejected(const tn_traces_t *t)
{
    return t->rejected;
}
uint64_t tn_traces_dropped(const tn_traces_t *t)
{
    return t->dropped;
}
uint64_t tn_traces_late(const tn_traces_t *t)
{
    return t->late;
}

/* ---- scoring ---------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, uint32_t n) /* sorts v */
{
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void score_key(tn_traces_t *t, const char *key, tkey_t *k, tn_trace_verdict_t *v)
{
    const tn_traces_opts_t *o = &t->o;
    *v = (tn_trace_verdict_t){.key = key,
                              .service = k->service,
                              .parent = k->parent,
                              .interval_start_ms = t->cur_start,
                              .count = k->count,
                              .errors = k->errors,
                              .history = k->nhist,
                              .latency_expected = NAN,
                              .error_expected = NAN};
    v->latency = hist_quantile(k->hist, k->count, o->quantile);
    v->error_rate = k->count ? (double)k->errors / k->count : 0;
    v->warmup = k->nhist < o->warmup || k->count < o->min_count;
    if (k->nhist == 0) return;

    for (uint32_t i = 0; i < k->nhist; i++)
        t->scratch[i] = k->lat[i];
    double med = median(t->scratch, k->nhist);
    for (uint32_t i = 0; i < k->nhist; i++)
        t->scratch[i] = fabs(k->lat[i] - med);
    double mad = 1.4826 * median(t->scratch, k->nhist);
    mad = fmax(mad, fmax(0.05 * med, 1e-6));
    v->latency_expected = med;
    v->latency_mad = mad;
    v->latency_z = (v->latency - med) / mad;

    double base_n = 0, base_e = 0;
    for (uint32_t i = 0; i < k->nhist; i++) {
        base_n += (double)k->cnt[i];
        base_e += (double)k->err[i];
    }
    double p0 = (base_e + 1) / (base_n + 2), n = (double)k->count;
    v->error_expected = p0;
    /* binomial test on the arcsine scale, where the rate's variance is 1 / (4 n) whatever p */
    v->error_z = n > 0 ? 2 * sqrt(n) * (asin(sqrt(v->error_rate)) - asin(sqrt(p0))) : 0;
    if (v->warmup) return;

    if (v->latency_z > 0) v->latency_score = erf(v->latency_z / M_SQRT2);
    v->latency_anomaly = v->latency_z >= o->z_threshold && v->latency >= o->min_ratio * med;
    if (v->error_z > 0) v->error_score = erf(v->error_z / M_SQRT2);
    v->error_anomaly = v->error_z >= o->error_z && v->error_rate - p0 >= o->min_error_delta;
    v->score = fmax(v->latency_score, v->error_score);
}

static void close_interval(tn_traces_t *t)
{
    const char *key;
    void *val;
    for (size_t it = 0; tn_hmap_next(&t->keys, &it, &key, &val);) {
        tkey_t *k = val;
        if (k->count == 0) {
            if (t->interval_no - k->last_active >= t->o.idle_intervals) {
                tn_hmap_del(&t->keys, key);
                free_key(k);
            }
            continue;
        }
        tn_trace_verdict_t v;
        score_key(t, key, k, &v);
        if (t->o.on_verdict) t->o.on_verdict(t->o.ud, &v);
        if (k->count >= t->o.min_count) { /* learn the interval */
            k->lat[k->pos] = v.latency;
            k->cnt[k->pos] = k->count;
            k->err[k->pos] = k->errors;
            k->pos = (k->pos + 1) % t->o.history;
            if (k->nhist < t->o.history) k->nhist++;
        }
        memset(k->hist, 0, sizeof(k->hist));
        k->count = k->errors = 0;
    }
    t->interval_no++;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void tn_traces_flush(tn_traces_t *t, int64_t ts_ms)
{
    const int64_t iv = t->o.interval_ms;
    if (!t->started) {
        t->started = 1;
        t->cur_start = floor_div(ts_ms, iv) * iv;
        return;
    }
    uint32_t n = 0;
    while (ts_ms >= t->cur_start + iv) {
        if (n++ >= t->o.max_gap) {
            t->cur_start = floor_div(ts_ms, iv) * iv;
            break;
        }
        close_interval(t);
        t->cur_start += iv;
    }
}

/* ---- adding ----------------------------------------------------------------------------- */

static int key_for(tn_traces_t *t, const char *service, const char *parent, tkey_t **out)
{
    size_t ls = strlen(service), lp = parent ? strlen(parent) : 0;
    size_t need = ls + lp + 3;
    if (need > t->kcap) {
        char *nb = realloc(t->kbuf, need);
        if (!nb) return TN_ENOMEM;
        t->kbuf = nb;
        t->kcap = need;
    }
    if (parent) {
        memcpy(t->kbuf, parent, lp);
        memcpy(t->kbuf + lp, "->", 2);
        memcpy(t->kbuf + lp + 2, service, ls + 1);
    } else {
        memcpy(t->kbuf, service, ls + 1);
    }
    tkey_t *k = tn_hmap_get(&t->keys, t->kbuf);
    if (k) {
        *out = k;
        return 0;
    }
    if (t->keys.len >= t->o.max_keys) {
        t->dropped++;
        return TN_ETOOBIG;
    }
    k = calloc(1, sizeof(*k));
    if (!k) return TN_ENOMEM;
    k->service = strdup(service);
    k->parent = parent ? strdup(parent) : NULL;
    k->lat = malloc(sizeof(double) * t->o.history);
    k->cnt = malloc(sizeof(uint64_t) * t->o.history);
    k->err = malloc(sizeof(uint64_t) * t->o.history);
    if (!k->service || (parent && !k->parent) || !k->lat || !k->cnt || !k->err ||
        tn_hmap_put(&t->keys, t->kbuf, k, NULL)) {
        free_key(k);
        return TN_ENOMEM;
    }
    *out = k;
    return 0;
}

static void count_span(tn_traces_t *t, tkey_t *k, const tn_trace_span_t *s)
{
    k->count++;
    k->errors += s->error != 0;
    k->hist[bucket_of(s->duration_ms)]++;
    k->last_active = t->interval_no;
}

int tn_traces_add(tn_traces_t *t, const tn_trace_span_t *s)
{
    if (!s->service || !*s->service || !isfinite(s->duration_ms) || s->duration_ms < 0) {
        t->rejected++;
        return TN_EINVAL;
    }
    tn_traces_flush(t, s->ts_ms);
    if (s->ts_ms < t->cur_start) t->late++;
    tkey_t *k;
    int rc = key_for(t, s->service, NULL, &k), rc2 = 0;
    if (rc == 0) count_span(t, k, s);
    const char *p = s->parent_service;
    if (p && *p && strcmp(p, s->service) != 0) {
        rc2 = key_for(t, s->service, p, &k);
        if (rc2 == 0) count_span(t, k, s);
    }
    if (rc == TN_ENOMEM || rc2 == TN_ENOMEM) return TN_ENOMEM;
    return rc ? rc : rc2;
}
