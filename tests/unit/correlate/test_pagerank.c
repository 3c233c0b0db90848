/* test_pagerank.c - correlate/pagerank.c: scores on random weighted graphs (dangling nodes,
 * self-loops, repeated edges, reversed and backward edges, personalization or not) are checked
 * against a direct dense solve of (I - d P^T) x = (1 - d) v done here by Gaussian elimination;
 * plus sums, convergence and the iteration cap, the personalization's effect, the RCA chain,
 * bad arguments, allocation failure, and the ranking against a naive stable sort. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "correlate/pagerank.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_rng = 99;
static uint64_t next_u64(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int rnd(int n)
{
    return (int)(next_u64() % (uint64_t)n);
}
static double urand(void)
{
    return (double)(next_u64() >> 11) / 9007199254740992.0;
}

/* The reference: builds the dense row-stochastic P (dangling rows = v) from the edge list with
 * the same reverse/backward meaning, then solves (I - d P^T) x = (1 - d) v. */
static void dense_solve(size_t n, const tn_graph_link_t *edges, size_t m, double d,
                        const double *pers, int reverse, double backward, double *x)
{
    double *W = calloc(n * n, sizeof *W), *A = calloc(n * n, sizeof *A);
    double *v = malloc(n * sizeof *v);
    assert_non_null(W), assert_non_null(A), assert_non_null(v);
    double ps = 0;
    for (size_t i = 0; i < n; i++)
        ps += pers ? pers[i] : 1.0;
    for (size_t i = 0; i < n; i++)
        v[i] = (pers ? pers[i] : 1.0) / ps;
    for (size_t e = 0; e < m; e++) {
        size_t a = reverse ? edges[e].to : edges[e].from, b = reverse ? edges[e].from : edges[e].to;
        W[a * n + b] += edges[e].weight;
        W[b * n + a] += edges[e].weight * backward;
    }
    for (size_t u = 0; u < n; u++) {
        double rs = 0;
        for (size_t j = 0; j < n; j++)
            rs += W[u * n + j];
        for (size_t j = 0; j < n; j++) /* P[u][j], stored transposed in A as -d P^T */
            A[j * n + u] = -d * (rs > 0 ? W[u * n + j] / rs : v[j]);
    }
    for (size_t i = 0; i < n; i++) {
        A[i * n + i] += 1.0;
        x[i] = (1 - d) * v[i];
    }
    /* Gaussian elimination with partial pivoting */
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[piv * n + c])) piv = r;
        if (piv != c) {
            for (size_t k = 0; k < n; k++) {
                double t = A[c * n + k];
                A[c * n + k] = A[piv * n + k];
                A[piv * n + k] = t;
            }
            double t = x[c];
            x[c] = x[piv];
            x[piv] = t;
        }
        for (size_t r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (size_t k = c; k < n; k++)
                A[r * n + k] -= f * A[c * n + k];
            x[r] -= f * x[c];
        }
    }
    for (size_t c = n; c-- > 0;) {
        for (size_t k = c + 1; k < n; k++)
            x[c] -= A[c * n + k] * x[k];
        x[c] /= A[c * n + c];
    }
    free(W), free(A), free(v);
}

static void test_against_dense_solve(void **state)
{
    (void)state;
    double worst = 0;
    for (int iter = 0; iter < 400; iter++) {
        size_t n = 1 + (size_t)rnd(40), m = (size_t)rnd((int)(3 * n + 1));
        tn_graph_link_t *edges = malloc((m + 1) * sizeof *edges);
        double *pers = malloc(n * sizeof *pers), *x = malloc(n * sizeof *x);
        double *ref = malloc(n * sizeof *ref);
        assert_non_null(edges), assert_non_null(pers), assert_non_null(x), assert_non_null(ref);
        for (size_t e = 0; e < m; e++) {
            edges[e].from = (uint32_t)rnd((int)n);
            edges[e].to = rnd(8) == 0 ? edges[e].from : (uint32_t)rnd((int)n); /* self-loops */
            edges[e].weight = rnd(10) == 0 ? 0.0 : 0.1 + 5 * urand();
        }
        int use_pers = rnd(3) != 0;
        for (size_t i = 0; i < n; i++)
            pers[i] = rnd(3) == 0 ? 0.0 : urand();
        pers[rnd((int)n)] = 1.0; /* not all zero */
        tn_pagerank_opts_t o = {
            .damping = rnd(2) ? 0.0 : 0.5 + 0.45 * urand(),
            .tol = 1e-13,
            .max_iter = 100000,
            .personalization = use_pers ? pers : NULL,
            .reverse = rnd(2),
            .backward = rnd(3) == 0 ? 0.3 : 0.0,
        };
        tn_pagerank_info_t info;
        assert_int_equal(tn_pagerank(n, edges, m, &o, x, &info), 0);
        assert_true(info.converged);
        assert_true(info.iterations >= 1);
        dense_solve(n, edges, m, o.damping ? o.damping : 0.85, o.personalization, o.reverse,
                    o.backward, ref);
        double sum = 0, rsum = 0;
        for (size_t i = 0; i < n; i++) {
            sum += x[i], rsum += ref[i];
            assert_true(x[i] >= 0);
            double err = fabs(x[i] - ref[i]);
            if (err > worst) worst = err;
            if (err > 1e-9)
                fail_msg("n=%zu m=%zu node %zu: %.15g vs solve %.15g", n, m, i, x[i], ref[i]);
        }
        assert_true(fabs(sum - 1) < 1e-12);
        assert_true(fabs(rsum - 1) < 1e-9); /* the reference itself is a distribution */
        free(edges), free(pers), free(x), free(ref);
    }
    print_message("pagerank vs dense solve: worst |difference| %.3g\n", worst);
}

static void test_dangling_and_empty(void **state)
{
    (void)state;
    double x[4], p[4] = {1, 2, 3, 4};
    /* no edges: every node is dangling, the walk is the personalization itself */
    tn_pagerank_opts_t o = {.personalization = p};
    assert_int_equal(tn_pagerank(4, NULL, 0, &o, x, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(x[i] - p[i] / 10.0) < 1e-12);
    assert_int_equal(tn_pagerank(4, NULL, 0, NULL, x, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(x[i] - 0.25) < 1e-12);
    /* a single node with a self-loop */
    tn_graph_link_t self = {0, 0, 1.0};
    assert_int_equal(tn_pagerank(1, &self, 1, NULL, x, NULL), 0);
    assert_true(fabs(x[0] - 1.0) < 1e-12);
    /* n = 0 does nothing */
    assert_int_equal(tn_pagerank(0, NULL, 0, NULL, NULL, NULL), 0);
    /* a weight-0 edge leaves its node dangling: 0 -(0)-> 1 is the same as no edge */
    tn_graph_link_t zero = {0, 1, 0.0};
    double y[2];
    assert_int_equal(tn_pagerank(2, &zero, 1, NULL, y, NULL), 0);
    assert_true(fabs(y[0] - 0.5) < 1e-12 && fabs(y[1] - 0.5) < 1e-12);
}

static void test_convergence_and_cap(void **state)
{
    (void)state;
    /* a ring of 50: uniform is the fixed point from a uniform start; personalize to move it */
    enum { N = 50 };
    tn_graph_link_t ring[N];
    for (uint32_t i = 0; i < N; i++)
        ring[i] = (tn_graph_link_t){i, (i + 1) % N, 1.0};
    double x[N], p[N] = {0};
    p[0] = 1;
    tn_pagerank_info_t info;
    tn_pagerank_opts_t o = {.personalization = p, .max_iter = 3};
    assert_int_equal(tn_pagerank(N, ring, N, &o, x, &info), 0);
    assert_int_equal(info.iterations, 3);
    assert_false(info.converged);
    double s = 0;
    for (int i = 0; i < N; i++)
        s += x[i];
    assert_true(fabs(s - 1) < 1e-12);
    o.max_iter = 0;
    o.tol = 1e-12;
    assert_int_equal(tn_pagerank(N, ring, N, &o, x, &info), 0);
    assert_true(info.converged);
    assert_true(info.delta < 1e-12);
    assert_true(info.iterations > 3 && info.iterations < TN_PAGERANK_MAX_ITER);
    /* personalization effect: mass decays along the ring from node 0 */
    for (int i = 1; i < N; i++)
        assert_true(x[i] < x[i - 1]);
    /* closed form on the ring: x_i = (1-d) d^i / (1 - d^N) */
    for (int i = 0; i < N; i++)
        assert_true(fabs(x[i] - 0.15 * pow(0.85, i) / (1 - pow(0.85, N))) < 1e-10);
    /* uniform personalization: every node 1/N */
    assert_int_equal(tn_pagerank(N, ring, N, NULL, x, &info), 0);
    for (int i = 0; i < N; i++)
        assert_true(fabs(x[i] - 1.0 / N) < 1e-12);
}

static void test_rca_chain(void **state)
{
    (void)state;
    enum { DB, API, WEB, CACHE };
    double anomaly[4] = {0.4, 0.7, 0.9, 0.05}; /* the symptoms are loudest */
    double x[4];
    size_t order[4];
    /* fault propagation db -> api -> web (cause -> symptom), walked reversed: db first */
    tn_graph_link_t chain[] = {{DB, API, 1}, {API, WEB, 1}};
    tn_pagerank_opts_t o = {.personalization = anomaly, .reverse = 1};
    assert_int_equal(tn_pagerank(3, chain, 2, &o, x, NULL), 0);
    tn_pagerank_rank(3, x, order);
    assert_int_equal(order[0], DB);
    assert_int_equal(order[2], WEB);
    /* walked the wrong way, the walk ends at the symptom */
    o.reverse = 0;
    assert_int_equal(tn_pagerank(3, chain, 2, &o, x, NULL), 0);
    tn_pagerank_rank(3, x, order);
    assert_int_equal(order[0], WEB);
    /* a healthy side dependency cache -> api: with unit weights api splits its walk evenly and
     * ranks first; weighting each edge by the anomaly of its cause end (MicroRCA-style) puts
     * db first again and cache last */
    tn_graph_link_t side[] = {{DB, API, 1}, {API, WEB, 1}, {CACHE, API, 1}};
    o.reverse = 1;
    assert_int_equal(tn_pagerank(4, side, 3, &o, x, NULL), 0);
    tn_pagerank_rank(4, x, order);
    assert_int_equal(order[0], API);
    for (int e = 0; e < 3; e++)
        side[e].weight = anomaly[side[e].from];
    assert_int_equal(tn_pagerank(4, side, 3, &o, x, NULL), 0);
    tn_pagerank_rank(4, x, order);
    assert_int_equal(order[0], DB);
    assert_int_equal(order[3], CACHE);
    /* the same from the dependency graph (caller -> callee: web -> api -> db, api -> cache),
     * walked as it is, weighted by the callee's anomaly: db first */
    tn_graph_link_t dep[] = {{WEB, API, 1}, {API, DB, 1}, {API, CACHE, 1}};
    for (int e = 0; e < 3; e++)
        dep[e].weight = anomaly[dep[e].to];
    o.reverse = 0;
    assert_int_equal(tn_pagerank(4, dep, 3, &o, x, NULL), 0);
    tn_pagerank_rank(4, x, order);
    assert_int_equal(order[0], DB);
    assert_true(x[DB] > 2 * x[CACHE]);
    /* backward edges make the leaf db non-dangling: all its walk goes back to api, which then
     * ranks first (documented: pair them with a self-loop weighted by the node's anomaly) */
    o.backward = 0.2;
    assert_int_equal(tn_pagerank(4, dep, 3, &o, x, NULL), 0);
    tn_pagerank_rank(4, x, order);
    assert_int_equal(order[0], API);
    tn_graph_link_t dep_self[4] = {dep[0], dep[1], dep[2], {DB, DB, anomaly[DB]}};
    assert_int_equal(tn_pagerank(4, dep_self, 4, &o, x, NULL), 0);
    tn_pagerank_rank(4, x, order);
    assert_int_equal(order[0], DB);
}

static void *no_memory(void *ud, void *p, size_t n)
{
    (void)ud;
    if (n == 0) free(p);
    return NULL;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    double x[3] = {7, 7, 7};
    tn_graph_link_t e[2] = {{0, 1, 1}, {1, 2, 1}};
    tn_pagerank_opts_t o = {0};
    assert_int_equal(tn_pagerank(3, e, 2, NULL, NULL, NULL), TN_EINVAL);
    assert_int_equal(tn_pagerank(3, NULL, 2, NULL, x, NULL), TN_EINVAL);
    tn_graph_link_t bad = {0, 3, 1};
    assert_int_equal(tn_pagerank(3, &bad, 1, NULL, x, NULL), TN_EINVAL);
    bad = (tn_graph_link_t){0, 1, -1};
    assert_int_equal(tn_pagerank(3, &bad, 1, NULL, x, NULL), TN_EINVAL);
    bad.weight = NAN;
    assert_int_equal(tn_pagerank(3, &bad, 1, NULL, x, NULL), TN_EINVAL);
    bad.weight = INFINITY;
    assert_int_equal(tn_pagerank(3, &bad, 1, NULL, x, NULL), TN_EINVAL);
    o.damping = 1.0;
    assert_int_equal(tn_pagerank(3, e, 2, &o, x, NULL), TN_EINVAL);
    o.damping = -0.5;
    assert_int_equal(tn_pagerank(3, e, 2, &o, x, NULL), TN_EINVAL);
    o = (tn_pagerank_opts_t){.tol = -1};
    assert_int_equal(tn_pagerank(3, e, 2, &o, x, NULL), TN_EINVAL);
    o = (tn_pagerank_opts_t){.backward = -1};
    assert_int_equal(tn_pagerank(3, e, 2, &o, x, NULL), TN_EINVAL);
    double zero[3] = {0, 0, 0}, neg[3] = {1, -1, 1}, nan3[3] = {1, NAN, 1};
    o = (tn_pagerank_opts_t){.personalization = zero};
    assert_int_equal(tn_pagerank(3, e, 2, &o, x, NULL), TN_EINVAL);
    o.personalization = neg;
    assert_int_equal(tn_pagerank(3, e, 2, &o, x, NULL), TN_EINVAL);
    o.personalization = nan3;
    assert_int_equal(tn_pagerank(3, e, 2, &o, x, NULL), TN_EINVAL);
    assert_int_equal(tn_pagerank(TN_PAGERANK_MAX_NODES + 1, NULL, 0, NULL, x, NULL), TN_ETOOBIG);
    o = (tn_pagerank_opts_t){.alloc = no_memory};
    assert_int_equal(tn_pagerank(3, e, 2, &o, x, NULL), TN_ENOMEM);
    for (int i = 0; i < 3; i++)
        assert_true(x[i] == 7); /* untouched on every error */
}

/* Naive stable reference: repeatedly pick the best remaining (higher score, NaN last, lower
 * index on ties). */
static void naive_rank(size_t n, const double *s, size_t *order)
{
    char *used = calloc(n, 1);
    assert_non_null(used);
    for (size_t k = 0; k < n; k++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (used[i]) continue;
            if (best == n) {
                best = i;
                continue;
            }
            if (isnan(s[best]) && !isnan(s[i]))
                best = i;
            else if (!isnan(s[best]) && !isnan(s[i]) && s[i] > s[best])
                best = i;
        }
        used[best] = 1;
        order[k] = best;
    }
    free(used);
}

static void test_rank(void **state)
{
    (void)state;
    for (int iter = 0; iter < 500; iter++) {
        size_t n = (size_t)rnd(60);
        double s[60];
        size_t got[60], want[60];
        for (size_t i = 0; i < n; i++)
            s[i] = rnd(10) == 0 ? NAN : (double)rnd(6) / 4.0; /* many ties */
        tn_pagerank_rank(n, s, got);
        naive_rank(n, s, want);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(got[i], want[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_dense_solve), cmocka_unit_test(test_dangling_and_empty),
        cmocka_unit_test(test_convergence_and_cap), cmocka_unit_test(test_rca_chain),
        cmocka_unit_test(test_bad_arguments),       cmocka_unit_test(test_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
