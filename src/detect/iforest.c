/* iforest.c - isolation forest: flat structure-of-arrays trees, block scoring, online refresh. */
#include "detect/iforest.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EULER_GAMMA 0.5772156649015329
#define SCORE_BLOCK 128 /* rows scored together against one tree at a time */

struct tn_iforest {
    uint32_t d, ntrees, psi;
    tn_iforest_opts_t opts;
    uint64_t rng[4];

    /* the forest: tree t owns nodes [t * npt, (t + 1) * npt) of each array */
    int trained;
    uint32_t psi_used, npt;
    double cpsi;     /* c(psi_used) */
    uint32_t height; /* ceil(log2 psi_used): no leaf is deeper */
    uint32_t *feat;  /* split feature (0 for a leaf) */
    double *val;     /* split threshold: x <= val goes left (+Inf for a leaf) */
    uint32_t *left;  /* left child index within the tree, right child is left + 1; a leaf
                        points to itself, so walking `height` steps always ends on a leaf */
    double *leaf;    /* a leaf's path length: its depth + c(its size); 0 inside */
    uint32_t *nrows; /* training rows that reached the node */

    uint64_t rejected, trainings;

    /* online baseline ring, row-major, allocated on first observe */
    double *ring;
    uint32_t ring_cap, ring_len, ring_pos, since_train;
    double *scratch; /* d values for explanations in observe */
};

/* ---- generator: splitmix64 to seed xoshiro256** ----------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double rng_unit(uint64_t s[4]) /* [0, 1) */
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static uint32_t rng_below(uint64_t s[4], uint32_t n) /* [0, n), n >= 1 */
{
    return (uint32_t)((rng_next(s) >> 32) * (uint64_t)n >> 32);
}

/* ---- math ------------------------------------------------------------------------------- */

double tn_iforest_c(double n)
{
    if (n <= 1) return 0;
    if (n <= 2) return 1;
    return 2.0 * (log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n;
}

static int row_finite(const double *row, uint32_t d)
{
    for (uint32_t j = 0; j < d; j++)
        if (!isfinite(row[j])) return 0;
    return 1;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

tn_iforest_t *tn_iforest_create(uint32_t d, const tn_iforest_opts_t *opts)
{
    tn_iforest_opts_t o = {0};
    if (opts) o = *opts;
    if (!o.ntrees) o.ntrees = TN_IFOREST_DEFAULT_NTREES;
    if (!o.psi) o.psi = TN_IFOREST_DEFAULT_PSI;
    if (!o.baseline_rows) o.baseline_rows = o.psi <= UINT32_MAX / 4 ? 4 * o.psi : o.psi;
    if (!o.min_train) o.min_train = o.psi < o.baseline_rows ? o.psi : o.baseline_rows;
    if (!o.refresh_every) o.refresh_every = o.baseline_rows;
    if (d < 1 || d > 65535 || o.psi < 2 || o.psi > (1u << 24) || o.ntrees > (1u << 20) ||
        o.min_train < 2 || o.min_train > o.baseline_rows || o.baseline_rows > (1u << 28) ||
        !(o.exclude_above >= 0) || o.exclude_above > 1)
        return NULL;
    tn_iforest_t *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->d = d;
    f->ntrees = o.ntrees;
    f->psi = o.psi;
    f->opts = o;
    uint64_t sm = o.seed;
    for (int i = 0; i < 4; i++)
        f->rng[i] = splitmix64(&sm);
    return f;
}

static void free_forest(uint32_t *feat, double *val, uint32_t *left, double *leaf, uint32_t *nrows)
{
    free(feat);
    free(val);
    free(left);
    free(leaf);
    free(nrows);
}

void tn_iforest_destroy(tn_iforest_t *f)
{
    if (!f) return;
    free_forest(f->feat, f->val, f->left, f->leaf, f->nrows);
    free(f->ring);
    free(f->scratch);
    free(f);
}

int tn_iforest_trained(const tn_iforest_t *f)
{
    return f->trained;
}
uint32_t tn_iforest_dims(const tn_iforest_t *f)
{
    return f->d;
}
uint32_t tn_iforest_psi_used(const tn_iforest_t *f)
{
    return f->trained ? f->psi_used : 0;
}
uint64_t tn_iforest_rejected(const tn_iforest_t *f)
{
    return f->rejected;
}
uint64_t tn_iforest_trainings(const tn_iforest_t *f)
{
    return f->trainings;
}

/* ---- training --------------------------------------------------------------------------- */

typedef struct {
    uint32_t node, start, end, depth;
} frame_t;

/* Grows tree t from the subsample X (column-major, X[j * m + i], m rows) into the node arrays
 * at base. idx (m) and order (d) are scratch; stack holds at least height + 2 frames. */
static void grow_tree(tn_iforest_t *f, const double *X, uint32_t m, uint32_t height, size_t base,
                      uint32_t *idx, uint32_t *order, frame_t *stack)
{
    uint32_t *feat = f->feat + base;
    double *val = f->val + base, *leaf = f->leaf + base;
    uint32_t *left = f->left + base, *nrows = f->nrows + base;
    for (uint32_t i = 0; i < m; i++)
        idx[i] = i;
    uint32_t next = 1, sp = 0;
    stack[sp++] = (frame_t){0, 0, m, 0};
    while (sp) {
        frame_t fr = stack[--sp];
        uint32_t cnt = fr.end - fr.start;
        nrows[fr.node] = cnt;
        int32_t split = -1;
        double lo = 0, hi = 0;
        if (cnt > 1 && fr.depth < height) {
            /* a random feature among those not constant in this node */
            for (uint32_t k = 0; k < f->d && split < 0; k++) {
                uint32_t r = k + rng_below(f->rng, f->d - k);
                uint32_t j = order[r];
                order[r] = order[k];
                order[k] = j;
                const double *col = X + (size_t)j * m;
                lo = hi = col[idx[fr.start]];
                for (uint32_t i = fr.start + 1; i < fr.end; i++) {
                    double x = col[idx[i]];
                    lo = x < lo ? x : lo;
                    hi = x > hi ? x : hi;
                }
                if (hi > lo) split = (int32_t)j;
            }
        }
        if (split < 0) {
            feat[fr.node] = 0;
            val[fr.node] = INFINITY;
            left[fr.node] = fr.node;
            leaf[fr.node] = fr.depth + tn_iforest_c(cnt);
            continue;
        }
        double t = lo + rng_unit(f->rng) * (hi - lo);
        if (t >= hi) t = lo; /* rounding: keep both sides non-empty */
        const double *col = X + (size_t)split * m;
        uint32_t a = fr.start, b = fr.end;
        while (a < b) { /* partition: x <= t first */
            if (col[idx[a]] <= t) {
                a++;
            } else {
                uint32_t tmp = idx[a];
                idx[a] = idx[--b];
                idx[b] = tmp;
            }
        }
        feat[fr.node] = (uint32_t)split;
        val[fr.node] = t;
        left[fr.node] = next;
        leaf[fr.node] = 0;
        stack[sp++] = (frame_t){next + 1, a, fr.end, fr.depth + 1};
        stack[sp++] = (frame_t){next, fr.start, a, fr.depth + 1};
        next += 2;
    }
}

int tn_iforest_fit(tn_iforest_t *f, const double *rows, size_t n)
{
    const uint32_t d = f->d;
    uint32_t *perm = malloc(sizeof(uint32_t) * (n ? n : 1));
    if (!perm) return TN_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (row_finite(rows + i * d, d))
            perm[m++] = (uint32_t)i;
        else
            f->rejected++;
    }
    if (m < 2 || m > UINT32_MAX) {
        free(perm);
        return TN_EINVAL;
    }
    uint32_t psi = m < f->psi ? (uint32_t)m : f->psi;
    uint32_t height = 0;
    while ((1ull << height) < psi)
        height++;
    uint32_t npt = 2 * psi - 1;
    size_t total = (size_t)f->ntrees * npt;

    uint32_t *feat = malloc(sizeof(*feat) * total);
    double *val = malloc(sizeof(*val) * total);
    uint32_t *left = calloc(total, sizeof(*left));
    double *leaf = malloc(sizeof(*leaf) * total);
    uint32_t *nrows = malloc(sizeof(*nrows) * total);
    double *X = malloc(sizeof(double) * (size_t)psi * d);
    uint32_t *idx = malloc(sizeof(uint32_t) * psi);
    uint32_t *order = malloc(sizeof(uint32_t) * d);
    frame_t *stack = malloc(sizeof(frame_t) * (height + 2));
    if (!feat || !val || !left || !leaf || !nrows || !X || !idx || !order || !stack) {
        free_forest(feat, val, left, leaf, nrows);
        free(X);
        free(idx);
        free(order);
        free(stack);
        free(perm);
        return TN_ENOMEM;
    }
    uint32_t *old_feat = f->feat;
    double *old_val = f->val, *old_leaf = f->leaf;
    uint32_t *old_left = f->left, *old_nrows = f->nrows;
    f->feat = feat;
    f->val = val;
    f->left = left;
    f->leaf = leaf;
    f->nrows = nrows;
    for (uint32_t j = 0; j < d; j++)
        order[j] = j;

    for (uint32_t t = 0; t < f->ntrees; t++) {
        /* partial Fisher-Yates: perm[0..psi) becomes a uniform sample without replacement
         * whatever order the previous trees left perm in */
        for (uint32_t i = 0; i < psi; i++) {
            uint32_t r = i + rng_below(f->rng, (uint32_t)m - i);
            uint32_t tmp = perm[i];
            perm[i] = perm[r];
            perm[r] = tmp;
        }
        for (uint32_t i = 0; i < psi; i++) {
            const double *row = rows + (size_t)perm[i] * d;
            for (uint32_t j = 0; j < d; j++)
                X[(size_t)j * psi + i] = row[j];
        }
        grow_tree(f, X, psi, height, (size_t)t * npt, idx, order, stack);
    }
    free_forest(old_feat, old_val, old_left, old_leaf, old_nrows);
    free(X);
    free(idx);
    free(order);
    free(stack);
    free(perm);
    f->psi_used = psi;
    f->height = height;
    f->npt = npt;
    f->cpsi = tn_iforest_c(psi);
    f->trained = 1;
    f->trainings++;
    return 0;
}

/* ---- scoring ---------------------------------------------------------------------------- */

static inline double leaf_value(const tn_iforest_t *f, size_t base, const double *row)
{
    const uint32_t *feat = f->feat + base, *left = f->left + base;
    const double *val = f->val + base;
    uint32_t n = 0;
    while (left[n] != n)
        n = left[n] + (row[feat[n]] > val[n]);
    return f->leaf[base + n];
}

#define LANES 8 /* rows walked down one tree in lockstep: independent chains of loads overlap */

/* Adds each row's path length in tree t to h[k] for the rows rows[ok[k]]. */
static void walk_tree(const tn_iforest_t *f, size_t base, const double *rows, const uint32_t *ok,
                      uint32_t nok, double *h)
{
    const uint32_t *feat = f->feat + base, *left = f->left + base, d = f->d;
    const double *val = f->val + base, *leaf = f->leaf + base;
    for (uint32_t k0 = 0; k0 < nok; k0 += LANES) {
        uint32_t g = nok - k0 < LANES ? nok - k0 : LANES;
        uint32_t n[LANES] = {0};
        const double *r[LANES];
        for (uint32_t l = 0; l < g; l++)
            r[l] = rows + (size_t)ok[k0 + l] * d;
        if (g == LANES) {
            for (uint32_t s = 0; s < f->height; s++)
                for (uint32_t l = 0; l < LANES; l++)
                    n[l] = left[n[l]] + (r[l][feat[n[l]]] > val[n[l]]);
        } else {
            for (uint32_t s = 0; s < f->height; s++)
                for (uint32_t l = 0; l < g; l++)
                    n[l] = left[n[l]] + (r[l][feat[n[l]]] > val[n[l]]);
        }
        for (uint32_t l = 0; l < g; l++)
            h[ok[k0 + l]] += leaf[n[l]];
    }
}

static double path_of(const tn_iforest_t *f, const double *row)
{
    double h = 0;
    for (uint32_t t = 0; t < f->ntrees; t++)
        h += leaf_value(f, (size_t)t * f->npt, row);
    return h / f->ntrees;
}

static double score_of_path(const tn_iforest_t *f, double path)
{
    return f->cpsi > 0 ? exp2(-path / f->cpsi) : 0.5;
}

int tn_iforest_path_length(const tn_iforest_t *f, const double *row, double *path)
{
    *path = NAN;
    if (!f->trained || !row_finite(row, f->d)) return TN_EINVAL;
    *path = path_of(f, row);
    return 0;
}

int tn_iforest_score(tn_iforest_t *f, const double *row, double *score)
{
    *score = NAN;
    if (!f->trained) return TN_EINVAL;
    if (!row_finite(row, f->d)) {
        f->rejected++;
        return TN_EINVAL;
    }
    *score = score_of_path(f, path_of(f, row));
    return 0;
}

int tn_iforest_score_batch(tn_iforest_t *f, const double *rows, size_t n, double *scores)
{
    if (!f->trained) {
        for (size_t i = 0; i < n; i++)
            scores[i] = NAN;
        return TN_EINVAL;
    }
    const uint32_t d = f->d;
    double h[SCORE_BLOCK];
    uint32_t ok[SCORE_BLOCK];
    for (size_t b0 = 0; b0 < n; b0 += SCORE_BLOCK) {
        uint32_t bn = n - b0 < SCORE_BLOCK ? (uint32_t)(n - b0) : SCORE_BLOCK, nok = 0;
        for (uint32_t i = 0; i < bn; i++) {
            h[i] = 0;
            if (row_finite(rows + (b0 + i) * d, d))
                ok[nok++] = i;
            else
                f->rejected++;
        }
        for (uint32_t t = 0; t < f->ntrees; t++)
            walk_tree(f, (size_t)t * f->npt, rows + b0 * d, ok, nok, h);
        for (uint32_t i = 0; i < bn; i++)
            scores[b0 + i] = NAN;
        for (uint32_t k = 0; k < nok; k++)
            scores[b0 + ok[k]] = score_of_path(f, h[ok[k]] / f->ntrees);
    }
    return 0;
}

int tn_iforest_explain(const tn_iforest_t *f, const double *row, double *share)
{
    const uint32_t d = f->d;
    for (uint32_t j = 0; j < d; j++)
        share[j] = 0;
    if (!f->trained || !row_finite(row, d)) return TN_EINVAL;
    double total = 0;
    for (uint32_t t = 0; t < f->ntrees; t++) {
        size_t base = (size_t)t * f->npt;
        const uint32_t *feat = f->feat + base, *left = f->left + base, *nrows = f->nrows + base;
        const double *val = f->val + base;
        uint32_t n = 0;
        while (left[n] != n) {
            uint32_t c = left[n] + (row[feat[n]] > val[n]);
            double bits = log2((double)nrows[n] / nrows[c]);
            share[feat[n]] += bits;
            total += bits;
            n = c;
        }
    }
    for (uint32_t j = 0; j < d; j++)
        share[j] = total > 0 ? share[j] / total : 1.0 / d;
    return 0;
}

/* ---- online ----------------------------------------------------------------------------- */

int tn_iforest_observe(tn_iforest_t *f, const double *row, tn_iforest_result_t *out)
{
    const uint32_t d = f->d;
    *out = (tn_iforest_result_t){0, NAN, NAN, 0, 0};
    if (!row_finite(row, d)) {
        f->rejected++;
        return TN_EINVAL;
    }
    if (!f->ring) {
        f->ring = malloc(sizeof(double) * (size_t)f->opts.baseline_rows * d);
        f->scratch = malloc(sizeof(double) * d);
        if (!f->ring || !f->scratch) {
            free(f->ring);
            free(f->scratch);
            f->ring = f->scratch = NULL;
            return TN_ENOMEM;
        }
        f->ring_cap = f->opts.baseline_rows;
    }
    if (f->trained) {
        out->scored = 1;
        out->path = path_of(f, row);
        out->score = score_of_path(f, out->path);
        tn_iforest_explain(f, row, f->scratch);
        for (uint32_t j = 0; j < d; j++) {
            if (f->scratch[j] > out->top_share) {
                out->top_share = f->scratch[j];
                out->top = j;
            }
        }
    }
    if (f->trained && f->opts.exclude_above > 0 && out->score >= f->opts.exclude_above) return 0;
    memcpy(f->ring + (size_t)f->ring_pos * d, row, sizeof(double) * d);
    f->ring_pos = (f->ring_pos + 1) % f->ring_cap;
    if (f->ring_len < f->ring_cap) f->ring_len++;
    f->since_train++;
    int due =
        f->trained ? f->since_train >= f->opts.refresh_every : f->ring_len >= f->opts.min_train;
    if (due) {
        int rc = tn_iforest_fit(f, f->ring, f->ring_len);
        if (rc) return rc;
        f->since_train = 0;
    }
    return 0;
}
