/* iforest.h - isolation forest (Liu, Ting and Zhou 2008) over the rows of one entity: each row is
 * d features measured at the same time (e.g. the CPU, memory, latency and error series of one
 * host). Pure math: no I/O.
 *
 * Training draws `ntrees` subsamples of `psi` rows without replacement (all rows when fewer) and
 * grows one random tree per subsample: at each node a random feature that is not constant in the
 * node, split at a uniform threshold between its minimum and maximum there, until a node holds
 * one row, its rows are all equal, or the height limit ceil(log2 psi) is reached. A row's path
 * length in a tree is the depth of the leaf it reaches plus c(size of that leaf), the expected
 * path length of an unbuilt subtree; the score is 2^(-E(h) / c(psi)) in [0,1]: about 0.5 or less
 * for ordinary rows, near 1 for rows that are isolated quickly.
 *
 * Memory: one flat structure-of-arrays node pool for the whole forest, (2 psi - 1) nodes per tree
 * (feature, threshold, left child, leaf path length, node size: 28 bytes a node). Batch scoring
 * walks 8 rows down a tree in lockstep for exactly ceil(log2 psi) steps (leaves point to
 * themselves), so the rows' chains of dependent loads overlap. Deterministic: the same seed, data
 * and options give the same forest on every platform (own xoshiro256** generator).
 *
 * Online use (tn_iforest_observe): rows enter a rolling baseline ring; the forest is trained
 * when the ring first holds `min_train` rows and retrained every `refresh_every` further rows. */
#ifndef TN_DETECT_IFOREST_H
#define TN_DETECT_IFOREST_H

#include <stddef.h>
#include <stdint.h>

typedef struct tn_iforest tn_iforest_t;

typedef struct {
    uint32_t ntrees;        /* 0 = 100 */
    uint32_t psi;           /* subsample size per tree, 0 = 256; at least 2 */
    uint64_t seed;          /* generator seed (0 is a valid seed) */
    uint32_t baseline_rows; /* online: rolling baseline capacity, 0 = 4 * psi */
    uint32_t min_train;     /* online: rows before the first training, 0 = psi */
    uint32_t refresh_every; /* online: retrain after this many new rows, 0 = baseline_rows */
    double exclude_above;   /* online: rows scoring >= this do not enter the baseline; 0 = all do */
} tn_iforest_opts_t;

#define TN_IFOREST_DEFAULT_NTREES 100u
#define TN_IFOREST_DEFAULT_PSI 256u

/* Result of scoring one row. */
typedef struct {
    int scored;       /* 0 while the forest is not trained yet (warm-up) or the row was rejected */
    double score;     /* in [0,1]; NaN when not scored */
    double path;      /* mean path length E(h) over the trees */
    uint32_t top;     /* feature that contributed most to isolating the row */
    double top_share; /* its share of the isolation, in [0,1] */
} tn_iforest_result_t;

/* Creates an untrained forest for rows of d features (1 <= d <= 65535). opts may be NULL
 * (defaults). Returns NULL on allocation failure or invalid options. The caller owns the result
 * and frees it with tn_iforest_destroy. */
tn_iforest_t *tn_iforest_create(uint32_t d, const tn_iforest_opts_t *opts);
void tn_iforest_destroy(tn_iforest_t *f);

/* Trains (or retrains) on n rows, row-major (rows[i * d + j]); rows is borrowed and not kept.
 * Rows containing NaN or +-Inf are skipped and counted (tn_iforest_rejected). Returns 0,
 * TN_EINVAL when fewer than 2 usable rows remain (the previous forest, if any, is kept), or
 * TN_ENOMEM (the previous forest, if any, is kept). */
int tn_iforest_fit(tn_iforest_t *f, const double *rows, size_t n);

int tn_iforest_trained(const tn_iforest_t *f);
uint32_t tn_iforest_dims(const tn_iforest_t *f);
/* Subsample size actually used by the current forest (min(psi, usable rows)); 0 if untrained. */
uint32_t tn_iforest_psi_used(const tn_iforest_t *f);
/* Rows with NaN/Inf seen by fit, score and observe since creation. */
uint64_t tn_iforest_rejected(const tn_iforest_t *f);
/* Number of (re)trainings since creation. */
uint64_t tn_iforest_trainings(const tn_iforest_t *f);

/* Scores one row (d values, borrowed). Returns 0, or TN_EINVAL (not trained or a non-finite
 * value: the row is counted as rejected and *score is NaN). */
int tn_iforest_score(tn_iforest_t *f, const double *row, double *score);

/* Scores n rows into scores[0..n-1] (caller-provided). Rows with a non-finite value get NaN and
 * are counted. Tree-major over blocks of rows, so each tree stays in cache. 0 or TN_EINVAL (not
 * trained). */
int tn_iforest_score_batch(tn_iforest_t *f, const double *rows, size_t n, double *scores);

/* Mean path length E(h) of one row over the trees (the quantity the score is made of). */
int tn_iforest_path_length(const tn_iforest_t *f, const double *row, double *path);

/* Explanation of one row: share[j] (caller-provided, d values, summing to 1) is the fraction of
 * the row's isolation due to feature j. Each split on the row's path halves-or-less the rows it
 * is with; the split is credited log2(rows in the node / rows in the child the row goes to), and
 * a feature's share is its credit summed over all trees, divided by the total. Returns 0 or
 * TN_EINVAL (not trained or non-finite row). When the row is never separated (a duplicate of
 * the whole training set) all shares are 1/d. */
int tn_iforest_explain(const tn_iforest_t *f, const double *row, double *share);

/* Online step: scores row against the current forest (out->scored = 0 during warm-up), then
 * adds it to the baseline ring (unless it scored >= exclude_above) and trains when due. The
 * row is borrowed. Returns 0, TN_EINVAL (non-finite value: counted, nothing else changes) or
 * TN_ENOMEM (training failed; the previous forest stays and training is retried on the next
 * row). */
int tn_iforest_observe(tn_iforest_t *f, const double *row, tn_iforest_result_t *out);

/* c(n): the average path length of an unsuccessful search in a binary search tree of n keys,
 * 2 H(n-1) - 2 (n-1) / n with H(i) ~ ln(i) + Euler's constant; c(2) = 1, c(n <= 1) = 0. */
double tn_iforest_c(double n);

#endif
