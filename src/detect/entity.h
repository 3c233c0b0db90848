/* entity.h - multivariate scoring of entities: the series that share one label set (the CPU,
 * memory, latency and error series of one host or service) form rows that an isolation forest
 * (detect/iforest.h) scores online. Pure computation: no I/O.
 *
 * An entity is keyed by its labels (canonical JSON text); its columns are its metric names (at
 * most TN_ENTITY_MAX_COLS, in order of first appearance). Each complete row is scored two ways:
 *  - the entity's isolation forest (tn_iforest_observe: rolling baseline, periodic retraining),
 *    for any shape of normal data (clusters, nonlinear relations);
 *  - its Mahalanobis distance under a whitening fitted on the last 256 normal rows (refitted
 *    every 256 rows): each series standardized, the rows rotated onto the principal axes of
 *    their correlation and scaled to unit variance, the squared length turned into a normal z
 *    (Wilson-Hilferty, chi-square with d degrees of freedom). A row that breaks the usual
 *    relation between the series (high latency at low load) is far out on a minor axis though
 *    each of its values is ordinary; and the forest, whose splits lie within the training
 *    range, scores every row beyond that range like the most extreme training row, which the
 *    distance does not.
 * The explanation names the series with the largest share of the row's Mahalanobis distance
 * (x~_j (R^-1 x~)_j), or before the first fit the forest's most isolating series. Entities with
 * one column are not scored.
 *
 * Thresholds: the distance flags at z >= distance_z; the forest's score is compared with the
 * recent scores of the same entity's normal rows: above max(floor, q + margin), q the `quantile`
 * of the last TN_ENTITY_HISTORY normal scores, once that history holds at least 32 scores, and
 * for two rows in a row (one row above it is too often an edge of normal data: measured 1% of
 * normal rows, 0.01% for two in a row). A row above it once is neither flagged nor learnt.
 * Flagged rows enter neither the history nor the whitening's rows. Hysteresis as for series: the
 * first flagged row opens (opened = 1), `clear_after` unflagged rows close it.
 *
 * Rows: samples of one timestamp make a row (as one scrape or one collection gives them); the
 * series of an entity may arrive in any interleaving (they are in different partitions), so a
 * row waits for its missing values while fewer than 128 newer rows have come, and rows are
 * scored in time order once complete; a row every series has passed is given up. A series missing
 * from 128 such rows in a row is dropped from the entity; a new series joins it. Either change of
 * columns starts the model over.
 *
 * Bounded: at most max_entities entities with two series or more (a further second series is
 * counted and not tracked), and at most a million label sets in all (each with one series costs
 * a few hundred bytes). tn_entities_count counts the entities with two series or more. */
#ifndef TN_DETECT_ENTITY_H
#define TN_DETECT_ENTITY_H

#include <stddef.h>
#include <stdint.h>

#define TN_ENTITY_MAX_COLS 16
#define TN_ENTITY_HISTORY 256

typedef struct tn_entities tn_entities_t;

typedef struct {
    size_t max_entities;  /* 0 = 100 */
    uint32_t ntrees;      /* forest size, 0 = 50 */
    uint32_t psi;         /* subsample per tree, 0 = 128 */
    double floor;         /* 0 = 0.6 */
    double quantile;      /* 0 = 0.99 */
    double margin;        /* 0 = 0.02 */
    uint32_t clear_after; /* 0 = 3 */
    double distance_z;    /* Mahalanobis distance as a normal z that flags, 0 = 5 */
    uint64_t seed;
} tn_entities_opts_t;

typedef struct {
    int scored;        /* a complete row was scored (by the forest, the distance or both) */
    int flagged;       /* above a threshold */
    const char *by;    /* static: "mahalanobis" or "iforest" when flagged */
    double distance_z; /* the row's Mahalanobis distance as a normal z; NaN before the fit */
    int opened, closed;
    double score, threshold; /* the forest's; NaN while it is not trained */
    uint32_t ncols;
    const char *top_metric; /* the column that isolated the row most (borrowed until the next
                               call), or NULL */
    double top_share;
    double top_value;    /* that column's value in the row */
    double top_expected; /* its mean over the rows of the last fit (NaN before the first) */
    double top_sd;       /* and its standard deviation there */
    int64_t ts_ms;       /* the row's time: its newest sample */
} tn_entity_verdict_t;

/* opts may be NULL. NULL on allocation failure or invalid options; the caller owns the result
 * (tn_entities_destroy). */
tn_entities_t *tn_entities_create(const tn_entities_opts_t *opts);
void tn_entities_destroy(tn_entities_t *e);

/* Adds one sample (all strings borrowed). out->scored says whether it completed a row that was
 * scored. Returns 0 or TN_ENOMEM. NaN and infinite values are ignored. */
int tn_entities_add(tn_entities_t *e, const char *labels, size_t labels_len, const char *metric,
                    size_t metric_len, double value, int64_t ts_ms, tn_entity_verdict_t *out);

size_t tn_entities_count(const tn_entities_t *e);
uint64_t tn_entities_untracked(const tn_entities_t *e); /* samples of entities beyond the cap */
uint64_t tn_entities_rows(const tn_entities_t *e);      /* complete rows scored or learnt */

#endif
