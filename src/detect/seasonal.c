#include "detect/seasonal.h"
#include "detect/batch.h"
#include "detect/robust.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int tn_seasonal_init(tn_seasonal_t *s, const int64_t *periods_ms, uint32_t n, int64_t step_ms,
                     uint32_t max_buckets, uint32_t periods, double rate, uint32_t min_residuals)
{
    memset(s, 0, sizeof *s);
    if (n > TN_SEASONS_MAX || step_ms <= 0 || max_buckets < 1 || periods < 1 ||
        periods > TN_SEASON_PERIODS_MAX || !(rate > 0 && rate <= 1))
        return TN_EINVAL;
    s->rate = rate;
    s->min_residuals = min_residuals;
    for (uint32_t i = 0; i < n; i++) {
        tn_season_t *z = &s->s[i];
        if (periods_ms[i] <= 0) {
            tn_seasonal_deinit(s);
            return TN_EINVAL;
        }
        int64_t nb = periods_ms[i] / step_ms;
        if (nb > max_buckets) nb = max_buckets;
        if (nb < 1) nb = 1;
        z->period_ms = periods_ms[i];
        z->buckets = (uint32_t)nb;
        z->res_ms = periods_ms[i] / nb;
        if (z->res_ms < 1) z->res_ms = 1;
        z->periods = periods;
        size_t cells = (size_t)(periods + 1) * z->buckets;
        z->val = malloc(sizeof(float) * cells);
        z->cnt = calloc(cells, sizeof(uint16_t));
        z->lag_cap = z->buckets < 1024 ? z->buckets : 1024;
        z->lag = calloc(z->lag_cap, sizeof(float));
        s->n = i + 1;
        if (!z->val || !z->cnt || !z->lag) {
            tn_seasonal_deinit(s);
            return TN_ENOMEM;
        }
        for (size_t c = 0; c < cells; c++)
            z->val[c] = NAN;
        for (uint32_t r = 0; r <= periods; r++)
            z->pid[r] = INT64_MIN;
    }
    return 0;
}

void tn_seasonal_deinit(tn_seasonal_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        free(s->s[i].val);
        free(s->s[i].cnt);
        free(s->s[i].lag);
        s->s[i].lag = NULL;
        s->s[i].val = NULL;
        s->s[i].cnt = NULL;
    }
    s->n = 0;
}

static void sort_small(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static void one(tn_season_t *z, const tn_seasonal_t *s, int64_t ts, double x,
                tn_seasonal_out_t *out)
{
    int64_t slot = floordiv(ts, z->res_ms);
    int64_t pid = floordiv(slot, z->buckets);
    uint32_t phase = (uint32_t)(slot - pid * z->buckets);
    uint32_t rows = z->periods + 1;
    double ref[TN_SEASON_PERIODS_MAX];
    int nref = 0;
    for (uint32_t k = 1; k <= z->periods; k++) {
        int64_t p = pid - k;
        uint32_t r = (uint32_t)(((p % rows) + rows) % rows);
        if (z->pid[r] != p) continue;
        float v = z->val[(size_t)r * z->buckets + phase];
        if (!isnan(v)) ref[nref++] = v;
    }
    out->ready = 0;
    out->z = 0;
    out->expected = x;
    out->scale = 0;
    if (nref > 0) {
        sort_small(ref, nref);
        double e = nref % 2 ? ref[nref / 2] : 0.5 * (ref[nref / 2 - 1] + ref[nref / 2]);
        double scale = z->wsum > 0 ? TN_MEANAD_TO_SD * z->absres / z->wsum : 0;
        out->expected = e;
        out->scale = scale;
        if (z->residuals >= s->min_residuals) {
            out->ready = 1;
            out->z = tn_batch_z(x - e, scale, e);
        }
        /* the residual reaches the scale only after `lag_cap` more residuals */
        double r = fabs(x - e);
        if (z->lag_count == z->lag_cap) {
            double old = z->lag[z->lag_pos], rate = s->rate;
            if (z->residuals >= s->min_residuals && scale > 0 && old > 4 * scale) {
                old = 4 * scale; /* an outlier: clipped, and it counts less */
                rate *= 0.1;
            }
            z->absres = (1 - rate) * z->absres + rate * old;
            z->wsum = (1 - rate) * z->wsum + rate;
            z->residuals++;
        } else {
            z->lag_count++;
        }
        z->lag[z->lag_pos] = (float)r;
        z->lag_pos = (z->lag_pos + 1) % z->lag_cap;
    }
    /* record x in the current season's row, starting the row afresh for a new season */
    uint32_t r = (uint32_t)(((pid % rows) + rows) % rows);
    float *row = z->val + (size_t)r * z->buckets;
    uint16_t *crow = z->cnt + (size_t)r * z->buckets;
    if (z->pid[r] != pid) {
        for (uint32_t b = 0; b < z->buckets; b++) {
            row[b] = NAN;
            crow[b] = 0;
        }
        z->pid[r] = pid;
    }
    if (crow[phase] == 0)
        row[phase] = (float)x;
    else if (crow[phase] < UINT16_MAX)
        row[phase] = (float)(row[phase] + (x - row[phase]) / (crow[phase] + 1));
    if (crow[phase] < UINT16_MAX) crow[phase]++;
}

void tn_seasonal_update(tn_seasonal_t *s, int64_t ts_ms, double x, tn_seasonal_out_t *out)
{
    out->ready = 0;
    out->z = 0;
    out->expected = x;
    out->scale = 0;
    out->season = -1;
    for (uint32_t i = 0; i < s->n; i++) {
        tn_seasonal_out_t o;
        one(&s->s[i], s, ts_ms, x, &o);
        if (o.ready && (!out->ready || fabs(o.z) < fabs(out->z))) {
            *out = o;
            out->season = (int)i;
        }
    }
}
