/* test_graph.c - correlate/graph.c: every walk is checked against an independent reference
 * computed here (Floyd-Warshall on a dense matrix, directed and undirected) on random graphs
 * with fixed seeds, cycles and self-loops included; plus unknown names, the empty graph, limits,
 * truncated outputs, edge merging, clear, and allocation failures injected at every point. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "correlate/graph.h"
#include "ingest/topology.h"

#include <jansson.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INF 1000000

static uint64_t g_rng;
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

/* The reference: a dense adjacency matrix and all-pairs hop distances. */
typedef struct {
    int n;
    unsigned char *adj; /* adj[i*n+j]: edge i -> j */
    int *dd, *du;       /* directed and undirected distances */
} ref_t;

static void floyd(int n, int *d)
{
    for (int k = 0; k < n; k++)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (d[i * n + k] + d[k * n + j] < d[i * n + j])
                    d[i * n + j] = d[i * n + k] + d[k * n + j];
}

static void ref_init(ref_t *r, int n)
{
    r->n = n;
    r->adj = calloc((size_t)n * n, 1);
    r->dd = malloc(sizeof(int) * n * n);
    r->du = malloc(sizeof(int) * n * n);
    assert_non_null(r->adj);
    assert_non_null(r->dd);
    assert_non_null(r->du);
}

static void ref_solve(ref_t *r)
{
    int n = r->n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int a = r->adj[i * n + j], b = r->adj[j * n + i];
            r->dd[i * n + j] = i == j ? 0 : a ? 1 : INF;
            r->du[i * n + j] = i == j ? 0 : (a || b) ? 1 : INF;
        }
    floyd(n, r->dd);
    floyd(n, r->du);
}

static void ref_free(ref_t *r)
{
    free(r->adj), free(r->dd), free(r->du);
}

static void name_of(char *buf, int i)
{
    snprintf(buf, 32, "svc-%d", i);
}

/* A random graph of n nodes and about m edges (self-loops and cycles included), added through
 * the name API; the reference gets the same edges. Ids equal i because nodes are added first. */
static tn_graph_t *random_graph(ref_t *r, int n, int m)
{
    tn_graph_t *g = tn_graph_create(NULL);
    assert_non_null(g);
    ref_init(r, n);
    char a[32], b[32];
    for (int i = 0; i < n; i++) {
        name_of(a, i);
        assert_int_equal(tn_graph_add_node(g, a), i);
    }
    for (int k = 0; k < m; k++) {
        int i = rnd(n), j = rnd(10) == 0 ? i : rnd(n);
        name_of(a, i), name_of(b, j);
        assert_true(tn_graph_add_edge(g, a, b, TN_GRAPH_SRC_TRACES, 1.0, 1) >= 0);
        r->adj[i * n + j] = 1;
    }
    ref_solve(r);
    return g;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The sorted set {j : pred(j)} into out; returns its size. */
static int expected_set(const ref_t *r, int x, int kind, int k, int *out)
{
    int n = r->n, c = 0;
    for (int j = 0; j < n; j++) {
        int in = 0;
        switch (kind) {
        case 0:
            in = j != x && r->dd[x * n + j] < INF;
            break; /* downstream */
        case 1:
            in = j != x && r->dd[j * n + x] < INF;
            break; /* upstream */
        case 2:
            in = r->du[x * n + j] <= k;
            break; /* k-hop, self included */
        case 3:
            in = j != x && r->adj[x * n + j];
            break; /* callees */
        case 4:
            in = j != x && r->adj[j * n + x];
            break; /* callers */
        case 5:
            in = j != x && (r->adj[x * n + j] || r->adj[j * n + x]);
            break;
        }
        if (in) out[c++] = j;
    }
    return c;
}

static void assert_same_set(int *got, int ngot, const int *want, int nwant)
{
    assert_int_equal(ngot, nwant);
    qsort(got, (size_t)ngot, sizeof *got, cmp_int);
    for (int i = 0; i < ngot; i++)
        assert_int_equal(got[i], want[i]);
}

static void check_graph(tn_graph_t *g, const ref_t *r)
{
    int n = r->n;
    int *got = malloc(sizeof(int) * (n + 1)), *dist = malloc(sizeof(int) * (n + 1));
    int *want = malloc(sizeof(int) * (n + 1));
    assert_non_null(got), assert_non_null(dist), assert_non_null(want);
    for (int x = 0; x < n; x++) {
        int c, w;
        /* direct neighbours */
        static const int dirs[3] = {TN_GRAPH_OUT, TN_GRAPH_IN, TN_GRAPH_BOTH};
        for (int d = 0; d < 3; d++) {
            c = tn_graph_neighbors(g, x, dirs[d], got, (size_t)n);
            w = expected_set(r, x, 3 + d, 0, want);
            assert_same_set(got, c, want, w);
        }
        /* downstream: reach OUT, with distances equal to the reference and nearest first */
        c = tn_graph_reach(g, x, TN_GRAPH_OUT, -1, got, dist, (size_t)n);
        for (int i = 0; i < c; i++) {
            assert_int_equal(dist[i], r->dd[x * n + got[i]]);
            if (i) assert_true(dist[i] >= dist[i - 1]);
        }
        w = expected_set(r, x, 0, 0, want);
        assert_same_set(got, c, want, w);
        c = tn_graph_downstream(g, x, got, (size_t)n);
        assert_same_set(got, c, want, w);
        /* upstream */
        c = tn_graph_upstream(g, x, got, (size_t)n);
        w = expected_set(r, x, 1, 0, want);
        assert_same_set(got, c, want, w);
        /* k-hop for k = 0..3: self first at distance 0, distances from the undirected reference */
        for (int k = 0; k <= 3; k++) {
            c = tn_graph_khop(g, x, k, got, dist, (size_t)n);
            assert_true(c >= 1);
            assert_int_equal(got[0], x);
            assert_int_equal(dist[0], 0);
            for (int i = 0; i < c; i++) {
                assert_int_equal(dist[i], r->du[x * n + got[i]]);
                assert_true(dist[i] <= k);
            }
            w = expected_set(r, x, 2, k, want);
            assert_same_set(got, c, want, w);
        }
        /* paths and distances to every target, both variants */
        for (int y = 0; y < n; y++) {
            for (int directed = 0; directed <= 1; directed++) {
                int ref = directed ? r->dd[x * n + y] : r->du[x * n + y];
                int dd = tn_graph_distance(g, x, y, directed);
                c = tn_graph_path(g, x, y, directed, got, (size_t)n);
                if (ref == INF) {
                    assert_int_equal(dd, TN_ENOTFOUND);
                    assert_int_equal(c, TN_ENOTFOUND);
                    continue;
                }
                assert_int_equal(dd, ref);
                assert_int_equal(c, ref + 1);
                assert_int_equal(got[0], x);
                assert_int_equal(got[c - 1], y);
                for (int i = 0; i + 1 < c; i++) {
                    int a = got[i], b = got[i + 1];
                    if (directed)
                        assert_true(r->adj[a * n + b]);
                    else
                        assert_true(r->adj[a * n + b] || r->adj[b * n + a]);
                }
            }
        }
    }
    free(got), free(dist), free(want);
}

static void test_random_graphs(void **state)
{
    (void)state;
    static const int shapes[][2] = {{1, 0},   {2, 3},    {8, 6},    {20, 25},
                                    {40, 40}, {40, 160}, {120, 150}};
    for (unsigned seed = 1; seed <= 6; seed++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            g_rng = seed * 1000003u + s;
            ref_t r;
            tn_graph_t *g = random_graph(&r, shapes[s][0], shapes[s][1]);
            check_graph(g, &r);
            /* the induced subgraph of a random subset: exactly the reference's edges inside it */
            int n = r.n, ids[200], nids = 0;
            for (int i = 0; i < n; i++)
                if (rnd(2)) ids[nids++] = i;
            if (nids) ids[nids++] = ids[0]; /* a duplicate is dropped */
            tn_graph_sub_t sub;
            assert_int_equal(tn_graph_induced(g, ids, (size_t)nids, &sub), 0);
            assert_int_equal(sub.n, nids ? nids - 1 : 0);
            size_t want = 0;
            for (size_t a = 0; a < sub.n; a++) {
                assert_int_equal(sub.nodes[a], ids[a]);
                for (size_t b = 0; b < sub.n; b++)
                    want += r.adj[sub.nodes[a] * n + sub.nodes[b]];
            }
            assert_int_equal(sub.m, want);
            for (size_t e = 0; e < sub.m; e++) {
                assert_true(sub.links[e].from < sub.n && sub.links[e].to < sub.n);
                assert_true(r.adj[sub.nodes[sub.links[e].from] * n + sub.nodes[sub.links[e].to]]);
                assert_true(sub.links[e].weight >= 1.0);
            }
            tn_graph_sub_free(g, &sub);
            assert_null(sub.nodes);
            tn_graph_destroy(g);
            ref_free(&r);
        }
    }
}

static void test_names_and_edges(void **state)
{
    (void)state;
    tn_graph_t *g = tn_graph_create(NULL);
    assert_non_null(g);
    assert_int_equal(tn_graph_node_count(g), 0);
    assert_int_equal(tn_graph_node_id(g, "web"), TN_ENOTFOUND);
    assert_null(tn_graph_node_name(g, 0));
    /* queries on the empty graph: every id is out of range */
    assert_int_equal(tn_graph_upstream(g, 0, NULL, 0), TN_EINVAL);
    assert_int_equal(tn_graph_khop(g, 0, 1, NULL, NULL, 0), TN_EINVAL);
    assert_int_equal(tn_graph_distance(g, 0, 0, 1), TN_EINVAL);
    tn_graph_sub_t sub;
    assert_int_equal(tn_graph_induced(g, NULL, 0, &sub), 0);
    assert_int_equal(sub.n, 0);
    assert_int_equal(tn_graph_add_node(g, ""), TN_EINVAL);
    assert_int_equal(tn_graph_add_node(g, NULL), TN_EINVAL);

    int web = tn_graph_add_node(g, "web");
    assert_int_equal(web, 0);
    assert_int_equal(tn_graph_add_node(g, "web"), 0);
    int e = tn_graph_add_edge(g, "web", "api", TN_GRAPH_SRC_CMDB, 1.0, 0);
    assert_int_equal(e, 0);
    int api = tn_graph_node_id(g, "api");
    assert_int_equal(api, 1);
    assert_string_equal(tn_graph_node_name(g, api), "api");
    /* merging: sources OR-ed, weight and observed added */
    assert_int_equal(tn_graph_add_edge(g, "web", "api", TN_GRAPH_SRC_TRACES, 2.5, 7), e);
    assert_int_equal(tn_graph_add_edge_id(g, web, api, TN_GRAPH_SRC_TRACES, 0.5, 3), e);
    const tn_graph_edge_t *ed = tn_graph_edge(g, (size_t)e);
    assert_int_equal(ed->from, web);
    assert_int_equal(ed->to, api);
    assert_int_equal(ed->sources, TN_GRAPH_SRC_CMDB | TN_GRAPH_SRC_TRACES);
    assert_int_equal(ed->observed, 10);
    assert_true(ed->weight == 4.0);
    assert_int_equal(tn_graph_edge_count(g), 1);
    assert_null(tn_graph_edge(g, 1));
    assert_int_equal(tn_graph_find_edge(g, web, api), e);
    assert_int_equal(tn_graph_find_edge(g, api, web), TN_ENOTFOUND);
    assert_int_equal(tn_graph_find_edge(g, api, 9), TN_EINVAL);
    /* bad arguments */
    assert_int_equal(tn_graph_add_edge(g, "web", "api", 0, -1.0, 0), TN_EINVAL);
    assert_int_equal(tn_graph_add_edge(g, "web", "api", 0, 1.0 / 0.0, 0), TN_EINVAL);
    assert_int_equal(tn_graph_add_edge_id(g, web, 5, 0, 1.0, 0), TN_EINVAL);
    assert_int_equal(tn_graph_neighbors(g, web, 7, NULL, 0), TN_EINVAL);
    assert_int_equal(tn_graph_khop(g, web, -1, NULL, NULL, 0), TN_EINVAL);
    assert_int_equal(tn_graph_path(g, web, -1, 1, NULL, 0), TN_EINVAL);

    /* a chain web -> api -> db with a self-loop on db and a cycle db -> cache -> db */
    tn_graph_add_edge(g, "api", "db", TN_GRAPH_SRC_CMDB, 1, 0);
    tn_graph_add_edge(g, "db", "db", TN_GRAPH_SRC_LABELS, 1, 0);
    tn_graph_add_edge(g, "db", "cache", TN_GRAPH_SRC_CMDB, 1, 0);
    tn_graph_add_edge(g, "cache", "db", TN_GRAPH_SRC_CMDB, 1, 0);
    int db = tn_graph_node_id(g, "db"), cache = tn_graph_node_id(g, "cache");
    int out[8], dist[8];
    assert_int_equal(tn_graph_upstream(g, db, out, 8), 3); /* api, cache, web */
    assert_int_equal(tn_graph_downstream(g, web, out, 8), 3);
    assert_int_equal(tn_graph_downstream(g, db, out, 8), 1); /* cache; db itself excluded */
    assert_int_equal(out[0], cache);
    assert_int_equal(tn_graph_neighbors(g, db, TN_GRAPH_BOTH, out, 8), 2); /* api, cache */
    assert_int_equal(tn_graph_path(g, web, cache, 1, out, 8), 4);
    assert_int_equal(out[0], web), assert_int_equal(out[1], api), assert_int_equal(out[2], db);
    assert_int_equal(out[3], cache);
    assert_int_equal(tn_graph_path(g, cache, web, 1, out, 8), TN_ENOTFOUND);
    assert_int_equal(tn_graph_path(g, cache, web, 0, out, 8), 4);
    assert_int_equal(tn_graph_path(g, db, db, 1, out, 8), 1);
    assert_int_equal(out[0], db);
    assert_int_equal(tn_graph_distance(g, web, cache, 1), 3);
    assert_int_equal(tn_graph_distance(g, cache, api, 1), TN_ENOTFOUND);
    assert_int_equal(tn_graph_distance(g, cache, api, 0), 2);
    /* truncated outputs: the full count, the prefix of the full answer */
    int full[8];
    int c = tn_graph_khop(g, web, 3, full, dist, 8);
    assert_int_equal(c, 4);
    int part[2] = {-1, -1};
    assert_int_equal(tn_graph_khop(g, web, 3, part, NULL, 2), 4);
    assert_int_equal(part[0], full[0]), assert_int_equal(part[1], full[1]);
    assert_int_equal(tn_graph_khop(g, web, 3, NULL, NULL, 0), 4);
    int two[2];
    assert_int_equal(tn_graph_path(g, web, cache, 1, two, 2), 4);
    assert_int_equal(two[0], web), assert_int_equal(two[1], api);

    /* clear: everything gone, ids restart */
    tn_graph_clear(g);
    assert_int_equal(tn_graph_node_count(g), 0);
    assert_int_equal(tn_graph_edge_count(g), 0);
    assert_int_equal(tn_graph_node_id(g, "web"), TN_ENOTFOUND);
    assert_int_equal(tn_graph_add_edge(g, "x", "y", 0, 1, 0), 0);
    assert_int_equal(tn_graph_node_id(g, "x"), 0);
    assert_int_equal(tn_graph_distance(g, 0, 1, 1), 1);
    tn_graph_destroy(g);
    tn_graph_destroy(NULL);
}

static void test_limits(void **state)
{
    (void)state;
    tn_graph_opts_t o = {.max_nodes = 3, .max_edges = 2};
    tn_graph_t *g = tn_graph_create(&o);
    assert_non_null(g);
    assert_int_equal(tn_graph_add_edge(g, "a", "b", 0, 1, 0), 0);
    assert_int_equal(tn_graph_add_edge(g, "b", "c", 0, 1, 0), 1);
    assert_int_equal(tn_graph_add_edge(g, "c", "a", 0, 1, 0), TN_ETOOBIG);
    assert_int_equal(tn_graph_add_edge(g, "a", "b", 0, 1, 0), 0); /* merging is always allowed */
    assert_int_equal(tn_graph_add_node(g, "d"), TN_ETOOBIG);
    assert_int_equal(tn_graph_node_count(g), 3);
    char longname[TN_GRAPH_MAX_NAME + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(tn_graph_add_node(g, longname), TN_EINVAL);
    tn_graph_destroy(g);
}

/* An allocator that fails once `budget` allocations have succeeded, and counts live blocks. */
typedef struct {
    long budget;
    long live;
} fail_alloc_t;

static void *failing(void *ud, void *p, size_t n)
{
    fail_alloc_t *f = ud;
    if (n == 0) {
        if (p) f->live--;
        free(p);
        return NULL;
    }
    if (f->budget == 0) return NULL;
    if (f->budget > 0) f->budget--;
    void *q = realloc(p, n);
    if (q && !p) f->live++;
    return q;
}

/* Builds a 60-node random graph with budget allocations allowed: every call either succeeds or
 * says TN_ENOMEM; afterwards the graph must hold exactly the edges that were accepted, and every
 * query must agree with the reference of those edges. Then nothing may be left allocated. */
static void test_allocation_failures(void **state)
{
    (void)state;
    int completed = 0;
    for (long budget = 0; !completed; budget++) {
        fail_alloc_t f = {.budget = budget};
        tn_graph_opts_t o = {.alloc = failing, .alloc_ud = &f};
        tn_graph_t *g = tn_graph_create(&o);
        if (!g) {
            assert_int_equal(f.live, 0);
            continue;
        }
        g_rng = 77;
        ref_t r;
        ref_init(&r, 60);
        int failures = 0;
        char a[32], b[32];
        for (int k = 0; k < 150; k++) {
            int i = rnd(60), j = rnd(60);
            name_of(a, i), name_of(b, j);
            int rc = tn_graph_add_edge(g, a, b, 0, 1, 1);
            if (rc == TN_ENOMEM) {
                failures++;
                continue;
            }
            assert_true(rc >= 0);
            r.adj[i * 60 + j] = 1;
        }
        /* compare through names: ids depend on which adds succeeded */
        int got[64], want[64];
        ref_solve(&r);
        for (int i = 0; i < 60; i++) {
            name_of(a, i);
            int id = tn_graph_node_id(g, a);
            if (id < 0) continue;
            int c = tn_graph_downstream(g, id, got, 64);
            assert_true(c >= 0);
            for (int x = 0; x < c; x++) {
                const char *nm = tn_graph_node_name(g, got[x]);
                got[x] = atoi(nm + 4);
            }
            int w = expected_set(&r, i, 0, 0, want);
            assert_same_set(got, c, want, w);
        }
        if (!failures) {
            tn_graph_sub_t sub;
            int ids[3] = {0, 1, 2};
            f.budget = -1; /* no more failures */
            assert_int_equal(tn_graph_induced(g, ids, 3, &sub), 0);
            tn_graph_sub_free(g, &sub);
            completed = 1;
        } else {
            tn_graph_sub_t sub;
            int ids[3] = {0, 0, 0};
            f.budget = 0;
            if (tn_graph_node_count(g)) {
                assert_int_equal(tn_graph_induced(g, ids, 3, &sub), TN_ENOMEM);
                assert_null(sub.nodes);
            }
        }
        tn_graph_destroy(g);
        assert_int_equal(f.live, 0);
        ref_free(&r);
    }
}

/* The document the ingest layer writes (tn_topology_json after a CMDB file and some spans)
 * loads into the graph with the right sources and counts. */
static void test_topology_document(void **state)
{
    (void)state;
    char path[] = "/tmp/tn-test-graph-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *cmdb = "{\"services\": [{\"name\": \"web\", \"depends_on\": [\"checkout\"]},"
                       " {\"name\": \"checkout\", \"depends_on\": [\"payments\"]},"
                       " {\"name\": \"payments\"}, {\"name\": \"lonely\"}]}";
    assert_int_equal(write(fd, cmdb, strlen(cmdb)), (ssize_t)strlen(cmdb));
    close(fd);
    tn_topology_t *t = tn_topology_create();
    assert_non_null(t);
    tn_buf_t err, js;
    tn_buf_init(&err), tn_buf_init(&js);
    assert_int_equal(tn_topology_load_file(t, path, &err), 0);
    unlink(path);
    /* spans: checkout -> payments (twice, also declared) and checkout -> search (traces only) */
    tn_span_t sp[4];
    memset(sp, 0, sizeof sp);
    char *svc[4] = {"checkout", "payments", "payments", "search"};
    const char *ids[4] = {"a1", "b1", "b2", "c1"};
    for (int i = 0; i < 4; i++) {
        strcpy(sp[i].span_id, ids[i]);
        strcpy(sp[i].parent_id, i ? "a1" : "");
        sp[i].service = svc[i];
    }
    assert_int_equal(tn_topology_learn(t, sp, 4), 1);
    assert_int_equal(tn_topology_json(t, &js), 0);
    json_t *doc = json_loads(js.data, 0, NULL);
    assert_non_null(doc);

    tn_graph_t *g = tn_graph_create(NULL);
    assert_non_null(g);
    assert_int_equal(tn_graph_add_topology(g, doc, &err), 0);
    assert_int_equal(tn_graph_node_count(g), 5); /* web checkout payments lonely search */
    assert_true(tn_graph_node_id(g, "lonely") >= 0);
    int web = tn_graph_node_id(g, "web"), co = tn_graph_node_id(g, "checkout");
    int pay = tn_graph_node_id(g, "payments"), search = tn_graph_node_id(g, "search");
    assert_true(search >= 0);
    assert_int_equal(tn_graph_edge_count(g), 3);
    const tn_graph_edge_t *e = tn_graph_edge(g, (size_t)tn_graph_find_edge(g, co, pay));
    assert_int_equal(e->sources, TN_GRAPH_SRC_CMDB | TN_GRAPH_SRC_TRACES);
    assert_int_equal(e->observed, 2);
    e = tn_graph_edge(g, (size_t)tn_graph_find_edge(g, co, search));
    assert_int_equal(e->sources, TN_GRAPH_SRC_TRACES);
    assert_int_equal(e->observed, 1);
    e = tn_graph_edge(g, (size_t)tn_graph_find_edge(g, web, co));
    assert_int_equal(e->sources, TN_GRAPH_SRC_CMDB);
    assert_int_equal(tn_graph_downstream(g, web, NULL, 0), 3);
    json_decref(doc);

    /* bad documents: nothing added, the error names the place */
    static const char *bad[][2] = {
        {"[]", "expected a JSON object"},
        {"{\"edges\": {}}", "edges: must be an array"},
        {"{\"services\": [{\"name\": \"\"}]}", "services[0].name"},
        {"{\"edges\": [{\"from\": \"a\", \"to\": \"b\", \"source\": \"cmdb\"}, {\"from\": \"a\"}]}",
         "edges[1].to"},
        {"{\"edges\": [{\"from\": \"a\", \"to\": \"b\", \"source\": \"cmdb+\"}]}",
         "edges[0].source"},
        {"{\"edges\": [{\"from\": \"a\", \"to\": \"b\", \"source\": \"dns\"}]}", "edges[0].source"},
        {"{\"edges\": [{\"from\": \"a\", \"to\": \"b\", \"source\": \"traces\", \"count\": -1}]}",
         "edges[0].count"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tn_graph_clear(g);
        tn_buf_reset(&err);
        json_t *d = json_loads(bad[i][0], JSON_DECODE_ANY, NULL);
        assert_non_null(d);
        assert_int_equal(tn_graph_add_topology(g, d, &err), TN_EINVAL);
        if (!strstr(err.data, bad[i][1])) fail_msg("%s: error \"%s\"", bad[i][0], err.data);
        assert_int_equal(tn_graph_node_count(g), 0);
        json_decref(d);
    }
    /* "labels" and combined sources */
    json_t *d = json_loads("{\"edges\": [{\"from\": \"a\", \"to\": \"b\", \"source\": "
                           "\"labels+cmdb\"}]}",
                           0, NULL);
    assert_int_equal(tn_graph_add_topology(g, d, NULL), 0);
    assert_int_equal(tn_graph_edge(g, 0)->sources, TN_GRAPH_SRC_LABELS | TN_GRAPH_SRC_CMDB);
    json_decref(d);
    tn_graph_destroy(g);
    tn_topology_destroy(t);
    tn_buf_deinit(&err), tn_buf_deinit(&js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_graphs),
        cmocka_unit_test(test_names_and_edges),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_topology_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
