/* pagerank.h - personalized PageRank (random walk with restart) over a small weighted directed
 * graph given as an edge list over nodes 0..n-1 (for RCA: the anomaly subgraph, e.g. from
 * tn_graph_induced).
 *
 * The walker at node u follows an out-edge u -> v with probability d * w(u,v) / W(u) (W(u) the
 * sum of u's out-weights), and restarts with probability 1 - d at a node drawn from the
 * personalization vector p. A dangling node (W(u) = 0: no out-edge, or only weight-0 ones)
 * sends all of its mass to p. The scores x are the stationary distribution:
 *     x = d * (P^T x) + (d * dangling(x) + (1 - d)) * p,   sum(x) = 1,
 * i.e. (I - d P^T) x = (1 - d) p with the dangling rows of P replaced by p. Computed by power
 * iteration until the L1 change between two iterations is below tol, or max_iter iterations.
 * Cost: O(max_iter * (n + m)) time, 2n doubles of memory.
 *
 * RCA use (MicroRCA, CauseInfer, MonitorRank-style): faults propagate against the dependency
 * edges (a slow database makes its callers slow), so a walker that starts at the symptoms
 * (personalization = anomaly scores) and moves from symptom to cause ends, most often, at the
 * root cause. In the service graph an edge A -> B means "A calls B", which already points from
 * symptom to cause: walk it as it is. Given fault-propagation edges (cause -> symptom, e.g.
 * "db -> api -> web"), set reverse so the walk goes web -> api -> db.
 *
 * Weights matter: with unit weights a healthy dependency takes as much of the walk as the
 * faulty one (api -> cache as much as api -> db); weight each edge by the anomaly score of its
 * cause end, or by how well the two services' metrics correlate (MicroRCA). `backward` adds,
 * for each edge, a weaker edge the other way (weight * backward), which lets the walker leave
 * a healthy branch it wandered into (CloudRanger / MicroCause); 0 disables it. It also makes a
 * leaf cause non-dangling, so all of the leaf's walk flows back to its caller: pair it with a
 * self-loop on each node weighted by the node's own anomaly score (MicroCause's self step), which
 * tests/unit/correlate/test_pagerank.c shows restoring the right order. */
#ifndef TN_CORRELATE_PAGERANK_H
#define TN_CORRELATE_PAGERANK_H

#include <stddef.h>

#include "correlate/graph.h" /* tn_graph_link_t, tn_graph_alloc_fn */

#define TN_PAGERANK_DAMPING 0.85
#define TN_PAGERANK_TOL 1e-10
#define TN_PAGERANK_MAX_ITER 1000u
#define TN_PAGERANK_MAX_NODES 1000000u

typedef struct {
    double damping;                /* 0: TN_PAGERANK_DAMPING; else in (0, 1) */
    double tol;                    /* 0: TN_PAGERANK_TOL; else > 0 (L1 change) */
    unsigned max_iter;             /* 0: TN_PAGERANK_MAX_ITER */
    const double *personalization; /* n values >= 0, not all 0, normalized here; NULL: uniform.
                                      Borrowed for the call. */
    int reverse;                   /* walk every edge backwards */
    double backward;               /* >= 0: also walk each edge the other way with this factor */
    tn_graph_alloc_fn alloc;       /* NULL: realloc/free */
    void *alloc_ud;
} tn_pagerank_opts_t;

typedef struct {
    unsigned iterations;
    double delta;  /* L1 change of the last iteration */
    int converged; /* delta < tol */
} tn_pagerank_info_t;

/* Scores of the n nodes into scores[0..n) (caller's array; they sum to 1). edges (borrowed)
 * must have from, to < n and finite weights >= 0 (an edge may repeat: weights add; self-loops
 * count). opts and info may be NULL. Not converging within max_iter is not an error: the last
 * iterate is returned and info->converged is 0. Returns 0; TN_EINVAL for an edge out of range
 * or with a negative or non-finite weight, an option out of range, or a personalization with a
 * negative or non-finite value or summing to 0; TN_ETOOBIG when n > TN_PAGERANK_MAX_NODES;
 * TN_ENOMEM (scores untouched). n = 0 is valid and does nothing. */
int tn_pagerank(size_t n, const tn_graph_link_t *edges, size_t m, const tn_pagerank_opts_t *opts,
                double *scores, tn_pagerank_info_t *info);

/* Node indices by descending score into order[0..n) (caller's array); ties by ascending index,
 * so the order is stable and deterministic; NaN scores last. O(n log n), no allocation. */
void tn_pagerank_rank(size_t n, const double *scores, size_t *order);

#endif
