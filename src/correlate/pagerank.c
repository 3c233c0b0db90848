/* pagerank.c - personalized PageRank by power iteration over an edge list. */
#include "correlate/pagerank.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *std_alloc(void *ud, void *p, size_t n)
{
    (void)ud;
    if (n == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, n);
}

int tn_pagerank(size_t n, const tn_graph_link_t *edges, size_t m, const tn_pagerank_opts_t *opts,
                double *scores, tn_pagerank_info_t *info)
{
    tn_pagerank_opts_t o = {0};
    if (opts) o = *opts;
    if (info) memset(info, 0, sizeof *info);
    if (o.damping == 0) o.damping = TN_PAGERANK_DAMPING;
    if (o.tol == 0) o.tol = TN_PAGERANK_TOL;
    if (o.max_iter == 0) o.max_iter = TN_PAGERANK_MAX_ITER;
    if (!o.alloc) o.alloc = std_alloc;
    if (!(o.damping > 0 && o.damping < 1) || !(o.tol > 0) || !isfinite(o.tol) ||
        !(o.backward >= 0) || !isfinite(o.backward))
        return TN_EINVAL;
    if (n == 0) return 0;
    if (n > TN_PAGERANK_MAX_NODES) return TN_ETOOBIG;
    if (!scores || (!edges && m)) return TN_EINVAL;
    for (size_t e = 0; e < m; e++)
        if (edges[e].from >= n || edges[e].to >= n || !(edges[e].weight >= 0) ||
            !isfinite(edges[e].weight))
            return TN_EINVAL;
    double psum = 0;
    if (o.personalization) {
        for (size_t i = 0; i < n; i++) {
            double v = o.personalization[i];
            if (!(v >= 0) || !isfinite(v)) return TN_EINVAL;
            psum += v;
        }
        if (!(psum > 0) || !isfinite(psum)) return TN_EINVAL;
    }

    double *work = o.alloc(o.alloc_ud, NULL, 4 * n * sizeof(double));
    if (!work) return TN_ENOMEM;
    double *p = work, *outw = work + n, *x = work + 2 * n, *next = work + 3 * n;
    for (size_t i = 0; i < n; i++) {
        p[i] = o.personalization ? o.personalization[i] / psum : 1.0 / (double)n;
        outw[i] = 0;
        x[i] = p[i];
    }
    for (size_t e = 0; e < m; e++) {
        uint32_t a = o.reverse ? edges[e].to : edges[e].from;
        uint32_t b = o.reverse ? edges[e].from : edges[e].to;
        outw[a] += edges[e].weight;
        outw[b] += edges[e].weight * o.backward;
    }
    const double d = o.damping;
    unsigned it = 0;
    double delta = INFINITY;
    while (it < o.max_iter) {
        double dangling = 0;
        for (size_t i = 0; i < n; i++) {
            if (outw[i] > 0) {
                next[i] = d * x[i] / outw[i];
            } else {
                dangling += x[i];
                next[i] = 0;
            }
        }
        /* next[] now holds each node's mass per unit of out-weight; the new iterate is summed
         * in scores[] (the caller's array, as scratch), then normalized into x[] */
        double restart = d * dangling + (1 - d);
        for (size_t i = 0; i < n; i++)
            scores[i] = restart * p[i];
        for (size_t e = 0; e < m; e++) {
            uint32_t a = o.reverse ? edges[e].to : edges[e].from;
            uint32_t b = o.reverse ? edges[e].from : edges[e].to;
            double w = edges[e].weight;
            scores[b] += next[a] * w;
            if (o.backward > 0) scores[a] += next[b] * w * o.backward;
        }
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += scores[i];
        delta = 0;
        for (size_t i = 0; i < n; i++) {
            double v = scores[i] / sum;
            delta += fabs(v - x[i]);
            x[i] = v;
        }
        it++;
        if (delta < o.tol) break;
    }
    memcpy(scores, x, n * sizeof *scores);
    if (info) {
        info->iterations = it;
        info->delta = delta;
        info->converged = delta < o.tol;
    }
    o.alloc(o.alloc_ud, work, 0);
    return 0;
}

/* Does node i come before node j? Higher score first, NaN last, then lower index. */
static int before(const double *s, size_t i, size_t j)
{
    int ni = isnan(s[i]), nj = isnan(s[j]);
    if (ni != nj) return nj;
    if (!ni && s[i] != s[j]) return s[i] > s[j];
    return i < j;
}

static void sift(const double *s, size_t *h, size_t root, size_t len)
{
    /* max-heap on "comes after": the root is the node that goes last */
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= len) return;
        if (c + 1 < len && before(s, h[c], h[c + 1])) c++;
        if (!before(s, h[root], h[c])) return;
        size_t t = h[root];
        h[root] = h[c];
        h[c] = t;
        root = c;
    }
}

void tn_pagerank_rank(size_t n, const double *scores, size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;)
        sift(scores, order, i, n);
    for (size_t len = n; len > 1; len--) {
        size_t t = order[0];
        order[0] = order[len - 1];
        order[len - 1] = t;
        sift(scores, order, 0, len - 1);
    }
}
