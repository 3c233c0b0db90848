/* entity.c - rows of an entity's series scored by an isolation forest; see entity.h. */
#include "detect/entity.h"
#include "core/error.h"
#include "core/hmap.h"
#include "detect/iforest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PEND 512  /* rows waiting for their other series (ring capacity) */
#define LAG 128   /* a row waits for at most this many newer rows */
#define STALE 128 /* a series absent from this many rows in a row is dropped from the entity */
#define TINY_MAX 1000000 /* label sets tracked (most have one series: a few hundred bytes each) */

typedef struct {
    int64_t ts;
    uint32_t mask; /* columns filled */
    double v[TN_ENTITY_MAX_COLS];
} prow_t;

typedef struct {
    uint32_t ncols;
    char *cols[TN_ENTITY_MAX_COLS];
    int64_t last_ts[TN_ENTITY_MAX_COLS]; /* newest sample of each column */
    uint32_t missed[TN_ENTITY_MAX_COLS]; /* rows given up without it, in a row */
    int64_t joined[TN_ENTITY_MAX_COLS];  /* its first sample since the columns last changed */
    prow_t *pend; /* FIFO ring of PEND rows, oldest at phead; only with two columns or more */
    uint32_t phead, pn;
    double vals[TN_ENTITY_MAX_COLS]; /* the row being scored */
    int64_t row_ts;
    /* the last WHITEN_ROWS normal rows (ring), and the whitening fitted on them every
     * WHITEN_ROWS rows: z = W (x - mean), |z|^2 is the row's squared Mahalanobis distance */
    double *buf;
    uint32_t nbuf, bpos, since_fit;
    int whitened;
    double mean[TN_ENTITY_MAX_COLS], sd[TN_ENTITY_MAX_COLS];
    double w[TN_ENTITY_MAX_COLS * TN_ENTITY_MAX_COLS];    /* row-major, d x d */
    double rinv[TN_ENTITY_MAX_COLS * TN_ENTITY_MAX_COLS]; /* inverse correlation */
    tn_iforest_t *forest;
    double hist[TN_ENTITY_HISTORY];
    uint32_t nhist, hpos;
    int open;
    uint32_t normal;
    uint32_t forest_run; /* consecutive rows above the forest's threshold */
} entity_t;

struct tn_entities {
    tn_entities_opts_t o;
    tn_hmap_t by_labels;
    uint64_t untracked, rows, dropped_rows, resets;
    size_t multi; /* entities with two columns or more (the ones max_entities bounds) */
    char *key;    /* scratch for NUL-terminated keys */
    size_t key_cap;
};

tn_entities_t *tn_entities_create(const tn_entities_opts_t *opts)
{
    tn_entities_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (opts) e->o = *opts;
    if (!e->o.max_entities) e->o.max_entities = 100;
    if (!e->o.ntrees) e->o.ntrees = 50;
    if (!e->o.psi) e->o.psi = 128;
    if (e->o.floor == 0) e->o.floor = 0.6;
    if (e->o.quantile == 0) e->o.quantile = 0.99;
    if (e->o.margin == 0) e->o.margin = 0.02;
    if (!e->o.clear_after) e->o.clear_after = 3;
    if (e->o.distance_z == 0) e->o.distance_z = 5;
    if (e->o.psi < 2 || e->o.quantile <= 0 || e->o.quantile > 1 || e->o.floor < 0 ||
        e->o.floor > 1) {
        free(e);
        return NULL;
    }
    tn_hmap_init(&e->by_labels);
    return e;
}

#define WHITEN_ROWS 256

static void entity_free(entity_t *en)
{
    free(en->pend);
    free(en->buf);
    for (uint32_t i = 0; i < en->ncols; i++)
        free(en->cols[i]);
    tn_iforest_destroy(en->forest);
    free(en);
}

void tn_entities_destroy(tn_entities_t *e)
{
    if (!e) return;
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&e->by_labels, &it, NULL, &v))
        entity_free(v);
    tn_hmap_deinit(&e->by_labels);
    free(e->key);
    free(e);
}

size_t tn_entities_count(const tn_entities_t *e)
{
    return e->multi;
}
uint64_t tn_entities_untracked(const tn_entities_t *e)
{
    return e->untracked;
}
uint64_t tn_entities_rows(const tn_entities_t *e)
{
    return e->rows;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The threshold from the entity's recent normal scores; NaN while there are too few. */
static double threshold_of(const tn_entities_t *e, const entity_t *en)
{
    if (en->nhist < 32) return NAN;
    double tmp[TN_ENTITY_HISTORY];
    memcpy(tmp, en->hist, en->nhist * sizeof tmp[0]);
    qsort(tmp, en->nhist, sizeof tmp[0], cmp_double);
    double q = tmp[(size_t)floor(e->o.quantile * (en->nhist - 1))];
    double t = q + e->o.margin;
    return t > e->o.floor ? t : e->o.floor;
}

/* Eigen-decomposition of the symmetric d x d matrix a (destroyed) by cyclic Jacobi rotations:
 * eigenvalues in ev, eigenvectors in the columns of v (row-major). */
static void jacobi(double *a, uint32_t d, double *ev, double *v)
{
    for (uint32_t i = 0; i < d; i++)
        for (uint32_t j = 0; j < d; j++)
            v[i * d + j] = i == j;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0;
        for (uint32_t p = 0; p < d; p++)
            for (uint32_t q = p + 1; q < d; q++)
                off += a[p * d + q] * a[p * d + q];
        if (off < 1e-22) break;
        for (uint32_t p = 0; p < d; p++)
            for (uint32_t q = p + 1; q < d; q++) {
                double apq = a[p * d + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (uint32_t k = 0; k < d; k++) { /* a = J^T a J */
                    double akp = a[k * d + p], akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for (uint32_t k = 0; k < d; k++) {
                    double apk = a[p * d + k], aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for (uint32_t k = 0; k < d; k++) {
                    double vkp = v[k * d + p], vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
    }
    for (uint32_t i = 0; i < d; i++)
        ev[i] = a[i * d + i];
}

/* Fits the whitening on the buffered rows: standardize, then rotate onto the principal axes of
 * the correlation matrix and scale each to unit variance (small eigenvalues floored), so a row
 * that breaks the series' usual correlation lies far out on a minor axis, where the forest's
 * axis-parallel splits isolate it quickly. Also keeps the inverse correlation matrix for the
 * explanation. */
static void fit_whitening(entity_t *en)
{
    uint32_t d = en->ncols, n = en->nbuf;
    for (uint32_t j = 0; j < d; j++) {
        double m = 0, ss = 0;
        for (uint32_t i = 0; i < n; i++)
            m += en->buf[i * d + j];
        m /= n;
        for (uint32_t i = 0; i < n; i++) {
            double x = en->buf[i * d + j] - m;
            ss += x * x;
        }
        double sd = sqrt(ss / (n > 1 ? n - 1 : 1));
        en->mean[j] = m;
        en->sd[j] = sd > 1e-12 * (fabs(m) + 1) ? sd : 1; /* a constant column stays as it is */
    }
    double r[TN_ENTITY_MAX_COLS * TN_ENTITY_MAX_COLS], ev[TN_ENTITY_MAX_COLS];
    double v[TN_ENTITY_MAX_COLS * TN_ENTITY_MAX_COLS];
    for (uint32_t a = 0; a < d; a++)
        for (uint32_t b = a; b < d; b++) {
            double c = 0;
            for (uint32_t i = 0; i < n; i++)
                c += (en->buf[i * d + a] - en->mean[a]) / en->sd[a] *
                     ((en->buf[i * d + b] - en->mean[b]) / en->sd[b]);
            r[a * d + b] = r[b * d + a] = c / (n > 1 ? n - 1 : 1);
        }
    jacobi(r, d, ev, v);
    double tr = 0;
    for (uint32_t k = 0; k < d; k++)
        tr += ev[k] > 0 ? ev[k] : 0;
    double fl = 1e-3 * (tr > 0 ? tr : 1) / d;
    for (uint32_t k = 0; k < d; k++) {
        double l = ev[k] > fl ? ev[k] : fl;
        for (uint32_t j = 0; j < d; j++) /* W = L^-1/2 V^T diag(1/sd) */
            en->w[k * d + j] = v[j * d + k] / sqrt(l) / en->sd[j];
        ev[k] = l;
    }
    for (uint32_t a = 0; a < d; a++) /* R^-1 = V L^-1 V^T */
        for (uint32_t b = 0; b < d; b++) {
            double s = 0;
            for (uint32_t k = 0; k < d; k++)
                s += v[a * d + k] * v[b * d + k] / ev[k];
            en->rinv[a * d + b] = s;
        }
    en->whitened = 1;
}

static void whiten(const entity_t *en, const double *x, double *z)
{
    uint32_t d = en->ncols;
    for (uint32_t k = 0; k < d; k++) {
        double s = 0;
        for (uint32_t j = 0; j < d; j++)
            s += en->w[k * d + j] * (x[j] - en->mean[j]);
        z[k] = s;
    }
}

/* Columns are fixed: make the forest (NULL with fewer than two columns). */
/* The set of columns changed: the forest, the whitening and the score history depend on it,
 * so they start over (a new forest with d columns when d >= 2). */
static int reset_model(tn_entities_t *e, entity_t *en)
{
    tn_iforest_destroy(en->forest);
    en->forest = NULL;
    free(en->buf);
    en->buf = NULL;
    en->nbuf = en->bpos = en->since_fit = 0;
    en->whitened = 0;
    en->nhist = en->hpos = 0;
    en->open = 0;
    en->normal = 0;
    e->resets++;
    for (uint32_t c = 0; c < en->ncols; c++)
        en->joined[c] = INT64_MAX; /* set again by each column's next sample */
    if (en->ncols < 2) return 0;
    tn_iforest_opts_t fo = {.ntrees = e->o.ntrees,
                            .psi = e->o.psi,
                            .seed = e->o.seed ^ (uint64_t)e->by_labels.len,
                            .baseline_rows = 4 * e->o.psi,
                            .min_train = e->o.psi,
                            .refresh_every = 2 * e->o.psi};
    en->forest = tn_iforest_create(en->ncols, &fo);
    en->buf = malloc((size_t)WHITEN_ROWS * en->ncols * sizeof *en->buf);
    return en->forest && en->buf ? 0 : TN_ENOMEM;
}

/* The squared Mahalanobis distance of a d-dimensional row as a normal z (Wilson-Hilferty cube
 * root of chi-square with d degrees of freedom). */
static double chi2_z(double d2, uint32_t d)
{
    double k = (double)d, v = 2 / (9 * k);
    return (cbrt(d2 / k) - (1 - v)) / sqrt(v);
}

/* Scores one complete row: the forest (raw rows; its splits do not care about scale) and the
 * Mahalanobis distance under the whitening; applies the thresholds and hysteresis. */
static void score_row(tn_entities_t *e, entity_t *en, tn_entity_verdict_t *out)
{
    uint32_t d = en->ncols;
    const double *x = en->vals;
    e->rows++;
    tn_iforest_result_t r;
    double thr = threshold_of(e, en); /* before this row's score enters the history */
    if (tn_iforest_observe(en->forest, x, &r)) return;
    double mz = NAN;
    if (en->whitened) {
        double z[TN_ENTITY_MAX_COLS], d2 = 0;
        whiten(en, x, z);
        for (uint32_t k = 0; k < d; k++)
            d2 += z[k] * z[k];
        mz = chi2_z(d2, d);
    }
    /* the forest's view of one row is noisy at the edges of the data: it must hold for two rows
     * in a row; the distance is strong evidence on its own */
    int above = r.scored && !isnan(thr) && r.score > thr;
    en->forest_run = above ? en->forest_run + 1 : 0;
    int by_forest = above && en->forest_run >= 2;
    int by_distance = !isnan(mz) && mz >= e->o.distance_z;
    out->scored = r.scored || !isnan(mz);
    out->score = r.scored ? r.score : NAN;
    out->threshold = thr;
    out->distance_z = mz;
    out->ncols = d;
    out->ts_ms = en->row_ts;
    out->flagged = by_forest || by_distance;
    out->by = by_distance ? "mahalanobis" : by_forest ? "iforest" : NULL;
    if (above && !out->flagged) return; /* a first row above: wait for the next one */
    if (out->flagged) {
        uint32_t best = 0;
        if (en->whitened) { /* the series' share of the distance, x~_j (R^-1 x~)_j */
            double xs[TN_ENTITY_MAX_COLS], c[TN_ENTITY_MAX_COLS], tot = 0;
            for (uint32_t j = 0; j < d; j++)
                xs[j] = (x[j] - en->mean[j]) / en->sd[j];
            for (uint32_t j = 0; j < d; j++) {
                double s2 = 0;
                for (uint32_t k = 0; k < d; k++)
                    s2 += en->rinv[j * d + k] * xs[k];
                c[j] = fabs(xs[j] * s2);
                tot += c[j];
                if (c[j] > c[best]) best = j;
            }
            out->top_share = tot > 0 ? c[best] / tot : 0;
        } else {
            double share[TN_ENTITY_MAX_COLS];
            if (tn_iforest_explain(en->forest, x, share) == 0) {
                for (uint32_t j = 1; j < d; j++)
                    if (share[j] > share[best]) best = j;
                out->top_share = share[best];
            }
        }
        out->top_metric = en->cols[best];
        out->top_value = x[best];
        out->top_expected = en->whitened ? en->mean[best] : NAN;
        out->top_sd = en->whitened ? en->sd[best] : NAN;
        en->normal = 0;
        if (!en->open) out->opened = en->open = 1;
        return; /* flagged rows teach neither the threshold nor the whitening */
    }
    if (r.scored) {
        en->hist[en->hpos] = r.score;
        en->hpos = (en->hpos + 1) % TN_ENTITY_HISTORY;
        if (en->nhist < TN_ENTITY_HISTORY) en->nhist++;
    }
    if (en->open && ++en->normal >= e->o.clear_after) {
        en->open = 0;
        en->normal = 0;
        out->closed = 1;
    }
    memcpy(en->buf + (size_t)en->bpos * d, x, d * sizeof x[0]);
    en->bpos = (en->bpos + 1) % WHITEN_ROWS;
    if (en->nbuf < WHITEN_ROWS) en->nbuf++;
    if (en->nbuf == WHITEN_ROWS && ++en->since_fit >= (en->whitened ? WHITEN_ROWS : 1)) {
        fit_whitening(en); /* first when the ring is full, then every WHITEN_ROWS rows */
        en->since_fit = 0;
    }
}

/* Removes column c (its series stopped): pending rows keep the other columns' values. */
static void drop_column(entity_t *en, uint32_t c)
{
    free(en->cols[c]);
    for (uint32_t j = c; j + 1 < en->ncols; j++) {
        en->cols[j] = en->cols[j + 1];
        en->last_ts[j] = en->last_ts[j + 1];
        en->missed[j] = en->missed[j + 1];
    }
    for (uint32_t i = 0; i < en->pn; i++) {
        prow_t *r = &en->pend[(en->phead + i) % PEND];
        uint32_t low = r->mask & ((1u << c) - 1), high = (r->mask >> (c + 1)) << c;
        for (uint32_t j = c; j + 1 < en->ncols; j++)
            r->v[j] = r->v[j + 1];
        r->mask = low | high;
    }
    en->ncols--;
}

/* Scores or gives up the oldest pending rows: complete ones are scored in time order; one that
 * every column has passed can no longer complete. */
static int drain(tn_entities_t *e, entity_t *en, tn_entity_verdict_t *out)
{
    for (;;) {
        if (!en->pn) return 0;
        prow_t *r = &en->pend[en->phead];
        uint32_t full = en->ncols >= 32 ? 0xffffffffu : (1u << en->ncols) - 1;
        int complete = r->mask == full;
        int passed = 1;
        for (uint32_t c = 0; c < en->ncols && passed; c++)
            if (!(r->mask & (1u << c)) && en->last_ts[c] <= r->ts) passed = 0;
        if (!complete && !passed && en->pn <= LAG) return 0; /* may still complete */
        if (complete) {
            for (uint32_t c = 0; c < en->ncols; c++)
                en->missed[c] = 0;
            if (en->forest) {
                memcpy(en->vals, r->v, en->ncols * sizeof r->v[0]);
                en->row_ts = r->ts;
                tn_entity_verdict_t v;
                memset(&v, 0, sizeof v);
                score_row(e, en, &v);
                if (v.scored) *out = v; /* the newest scored row is the verdict */
            }
        } else {
            e->dropped_rows++;
            for (uint32_t c = en->ncols; c-- > 0;)
                if (!(r->mask & (1u << c)) && r->ts > en->joined[c] && ++en->missed[c] >= STALE) {
                    drop_column(en, c); /* its series is gone */
                    int rc = reset_model(e, en);
                    if (rc) return rc;
                }
        }
        en->phead = (en->phead + 1) % PEND;
        en->pn--;
    }
}

int tn_entities_add(tn_entities_t *e, const char *labels, size_t labels_len, const char *metric,
                    size_t metric_len, double value, int64_t ts_ms, tn_entity_verdict_t *out)
{
    memset(out, 0, sizeof *out);
    if (!isfinite(value)) return 0;
    if (labels_len + 1 > e->key_cap) {
        size_t cap = labels_len + 64;
        char *k = realloc(e->key, cap);
        if (!k) return TN_ENOMEM;
        e->key = k;
        e->key_cap = cap;
    }
    memcpy(e->key, labels, labels_len);
    e->key[labels_len] = '\0';
    entity_t *en = tn_hmap_get(&e->by_labels, e->key);
    if (!en) { /* one series so far: small until a second one comes */
        if (e->by_labels.len >= TINY_MAX) {
            e->untracked++;
            return 0;
        }
        en = calloc(1, sizeof *en);
        if (!en || tn_hmap_put(&e->by_labels, e->key, en, NULL)) {
            free(en);
            return TN_ENOMEM;
        }
    }
    uint32_t c = 0;
    while (c < en->ncols &&
           (strlen(en->cols[c]) != metric_len || memcmp(en->cols[c], metric, metric_len) != 0))
        c++;
    if (c == en->ncols) { /* a new series of this entity: the model starts over */
        if (en->ncols == TN_ENTITY_MAX_COLS || (en->ncols == 1 && e->multi >= e->o.max_entities)) {
            e->untracked++;
            return 0;
        }
        if (en->ncols == 1) { /* becomes a real entity */
            if (!(en->pend = malloc(PEND * sizeof *en->pend))) return TN_ENOMEM;
            e->multi++;
        }
        char *name = malloc(metric_len + 1);
        if (!name) return TN_ENOMEM;
        memcpy(name, metric, metric_len);
        name[metric_len] = '\0';
        en->cols[en->ncols] = name;
        en->last_ts[en->ncols] = INT64_MIN;
        en->missed[en->ncols] = 0;
        en->ncols++;
        int rc = reset_model(e, en);
        if (rc) return rc;
    }
    if (ts_ms < en->last_ts[c]) return 0; /* out of order for its series */
    en->last_ts[c] = ts_ms;
    if (en->joined[c] == INT64_MAX) en->joined[c] = ts_ms;
    if (!en->pend) return 0; /* one series: nothing to score together */
    /* its row: the newest pending rows are the likeliest */
    prow_t *row = NULL;
    for (uint32_t i = en->pn; i-- > 0;) {
        prow_t *r = &en->pend[(en->phead + i) % PEND];
        if (r->ts == ts_ms) {
            row = r;
            break;
        }
        if (r->ts < ts_ms) break; /* rows are in time order */
    }
    if (!row) {
        if (en->pn && en->pend[(en->phead + en->pn - 1) % PEND].ts > ts_ms) {
            /* older than the newest pending row: insert in order (rare: a late series) */
            if (en->pn == PEND) return drain(e, en, out);
            uint32_t i = en->pn;
            while (i > 0 && en->pend[(en->phead + i - 1) % PEND].ts > ts_ms) {
                en->pend[(en->phead + i) % PEND] = en->pend[(en->phead + i - 1) % PEND];
                i--;
            }
            row = &en->pend[(en->phead + i) % PEND];
        } else {
            if (en->pn == PEND) { /* full: the oldest row can no longer wait */
                prow_t *h = &en->pend[en->phead];
                h->mask |= 0x80000000u; /* marks it given up (never complete) */
                int rc = drain(e, en, out);
                if (rc) return rc;
                if (en->pn == PEND) { /* drain keeps nothing at capacity, but be safe */
                    en->phead = (en->phead + 1) % PEND;
                    en->pn--;
                    e->dropped_rows++;
                }
            }
            row = &en->pend[(en->phead + en->pn) % PEND];
        }
        en->pn++;
        row->ts = ts_ms;
        row->mask = 0;
    }
    row->v[c] = value;
    row->mask |= 1u << c;
    return drain(e, en, out);
}
