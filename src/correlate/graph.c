/* graph.c - the service graph: interned names (open addressing), edges in one array with an
 * (from, to) index, per-node adjacency lists of edge indices, and BFS scratch sized with the
 * nodes so queries never allocate. */
#include "correlate/graph.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    uint64_t hash;
    int *out, *in; /* edge indices */
    uint32_t nout, capout, nin, capin;
} node_t;

struct tn_graph {
    tn_graph_opts_t o;
    node_t *nodes;
    size_t nn, capn;
    int *names; /* open addressing over nodes: id + 1, 0 empty; size names_cap (power of 2) */
    size_t names_cap;
    tn_graph_edge_t *edges;
    size_t ne, cape;
    int *etab; /* open addressing over edges: index + 1, 0 empty; size etab_cap */
    size_t etab_cap;
    /* BFS scratch, capn entries each */
    uint32_t *mark; /* == stamp: visited in the current query */
    uint32_t stamp;
    int *queue, *dist, *parent;
};

static void *std_alloc(void *ud, void *p, size_t n)
{
    (void)ud;
    if (n == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, n);
}

static void *mem(const tn_graph_t *g, void *p, size_t n)
{
    return g->o.alloc(g->o.alloc_ud, p, n);
}

/* Resizes *p to count elements of size sz; 0 or TN_ENOMEM (then *p is unchanged). */
static int grow(const tn_graph_t *g, void *pp, size_t count, size_t sz)
{
    void **p = pp;
    if (count > SIZE_MAX / sz) return TN_ENOMEM;
    void *q = mem(g, *p, count * sz);
    if (!q) return TN_ENOMEM;
    *p = q;
    return 0;
}

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
    z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    return z ^ (z >> 33);
}

static uint64_t edge_hash(int from, int to)
{
    return mix64(((uint64_t)(uint32_t)from << 32) | (uint32_t)to);
}

tn_graph_t *tn_graph_create(const tn_graph_opts_t *opts)
{
    tn_graph_opts_t o = {0};
    if (opts) o = *opts;
    if (!o.alloc) o.alloc = std_alloc;
    if (!o.max_nodes) o.max_nodes = TN_GRAPH_DEFAULT_MAX_NODES;
    if (o.max_nodes > INT32_MAX) o.max_nodes = INT32_MAX;
    if (!o.max_edges) o.max_edges = TN_GRAPH_DEFAULT_MAX_EDGES;
    if (o.max_edges > INT32_MAX) o.max_edges = INT32_MAX;
    tn_graph_t *g = o.alloc(o.alloc_ud, NULL, sizeof *g);
    if (!g) return NULL;
    memset(g, 0, sizeof *g);
    g->o = o;
    return g;
}

static void free_nodes(tn_graph_t *g)
{
    for (size_t i = 0; i < g->nn; i++) {
        mem(g, g->nodes[i].name, 0);
        mem(g, g->nodes[i].out, 0);
        mem(g, g->nodes[i].in, 0);
    }
}

void tn_graph_destroy(tn_graph_t *g)
{
    if (!g) return;
    free_nodes(g);
    mem(g, g->nodes, 0);
    mem(g, g->names, 0);
    mem(g, g->edges, 0);
    mem(g, g->etab, 0);
    mem(g, g->mark, 0);
    mem(g, g->queue, 0);
    mem(g, g->dist, 0);
    mem(g, g->parent, 0);
    mem(g, g, 0);
}

void tn_graph_clear(tn_graph_t *g)
{
    free_nodes(g);
    g->nn = 0;
    g->ne = 0;
    if (g->names) memset(g->names, 0, g->names_cap * sizeof *g->names);
    if (g->etab) memset(g->etab, 0, g->etab_cap * sizeof *g->etab);
}

size_t tn_graph_node_count(const tn_graph_t *g)
{
    return g->nn;
}

size_t tn_graph_edge_count(const tn_graph_t *g)
{
    return g->ne;
}

static int lookup(const tn_graph_t *g, const char *name, size_t len, uint64_t h)
{
    if (!g->names_cap) return TN_ENOTFOUND;
    size_t mask = g->names_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int v = g->names[i];
        if (!v) return TN_ENOTFOUND;
        const node_t *nd = &g->nodes[v - 1];
        if (nd->hash == h && !strncmp(nd->name, name, len) && !nd->name[len]) return v - 1;
    }
}

int tn_graph_node_id(const tn_graph_t *g, const char *name)
{
    if (!name) return TN_EINVAL;
    size_t len = strlen(name);
    return lookup(g, name, len, name_hash(name, len));
}

const char *tn_graph_node_name(const tn_graph_t *g, int id)
{
    if (id < 0 || (size_t)id >= g->nn) return NULL;
    return g->nodes[id].name;
}

static void names_insert(int *tab, size_t cap, uint64_t h, int v)
{
    size_t mask = cap - 1, i = h & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = v;
}

int tn_graph_add_node(tn_graph_t *g, const char *name)
{
    if (!name) return TN_EINVAL;
    size_t len = strlen(name);
    if (len == 0 || len > TN_GRAPH_MAX_NAME) return TN_EINVAL;
    uint64_t h = name_hash(name, len);
    int id = lookup(g, name, len, h);
    if (id >= 0) return id;
    if (g->nn >= g->o.max_nodes) return TN_ETOOBIG;
    if ((g->nn + 1) * 2 > g->names_cap) { /* load factor <= 1/2 */
        size_t cap = g->names_cap ? g->names_cap * 2 : 16;
        int *tab = NULL;
        if (grow(g, &tab, cap, sizeof *tab)) return TN_ENOMEM;
        memset(tab, 0, cap * sizeof *tab);
        for (size_t i = 0; i < g->nn; i++)
            names_insert(tab, cap, g->nodes[i].hash, (int)i + 1);
        mem(g, g->names, 0);
        g->names = tab;
        g->names_cap = cap;
    }
    if (g->nn == g->capn) {
        size_t cap = g->capn ? g->capn * 2 : 16;
        if (cap > g->o.max_nodes) cap = g->o.max_nodes;
        /* each array may end up larger than capn if a later one fails: harmless */
        if (grow(g, &g->nodes, cap, sizeof *g->nodes) || grow(g, &g->queue, cap, sizeof(int)) ||
            grow(g, &g->dist, cap, sizeof(int)) || grow(g, &g->parent, cap, sizeof(int)))
            return TN_ENOMEM;
        uint32_t *mark = g->mark;
        if (grow(g, &mark, cap, sizeof *mark)) return TN_ENOMEM;
        memset(mark + g->capn, 0, (cap - g->capn) * sizeof *mark);
        g->mark = mark;
        g->capn = cap;
    }
    char *copy = mem(g, NULL, len + 1);
    if (!copy) return TN_ENOMEM;
    memcpy(copy, name, len + 1);
    node_t *nd = &g->nodes[g->nn];
    memset(nd, 0, sizeof *nd);
    nd->name = copy;
    nd->hash = h;
    names_insert(g->names, g->names_cap, h, (int)g->nn + 1);
    return (int)g->nn++;
}

static int valid_id(const tn_graph_t *g, int id)
{
    return id >= 0 && (size_t)id < g->nn;
}

int tn_graph_find_edge(const tn_graph_t *g, int from, int to)
{
    if (!valid_id(g, from) || !valid_id(g, to)) return TN_EINVAL;
    if (!g->etab_cap) return TN_ENOTFOUND;
    size_t mask = g->etab_cap - 1;
    for (size_t i = edge_hash(from, to) & mask;; i = (i + 1) & mask) {
        int v = g->etab[i];
        if (!v) return TN_ENOTFOUND;
        if (g->edges[v - 1].from == from && g->edges[v - 1].to == to) return v - 1;
    }
}

const tn_graph_edge_t *tn_graph_edge(const tn_graph_t *g, size_t idx)
{
    return idx < g->ne ? &g->edges[idx] : NULL;
}

static int reserve_adj(const tn_graph_t *g, int **list, uint32_t n, uint32_t *cap)
{
    if (n < *cap) return 0;
    uint32_t c = *cap ? *cap * 2 : 4;
    if (grow(g, list, c, sizeof **list)) return TN_ENOMEM;
    *cap = c;
    return 0;
}

int tn_graph_add_edge_id(tn_graph_t *g, int from, int to, unsigned sources, double weight,
                         uint64_t observed)
{
    if (!valid_id(g, from) || !valid_id(g, to) || !isfinite(weight) || weight < 0) return TN_EINVAL;
    int idx = tn_graph_find_edge(g, from, to);
    if (idx >= 0) {
        tn_graph_edge_t *e = &g->edges[idx];
        e->sources |= sources;
        e->weight += weight;
        e->observed = observed > UINT64_MAX - e->observed ? UINT64_MAX : e->observed + observed;
        return idx;
    }
    if (g->ne >= g->o.max_edges) return TN_ETOOBIG;
    if ((g->ne + 1) * 2 > g->etab_cap) {
        size_t cap = g->etab_cap ? g->etab_cap * 2 : 16;
        int *tab = NULL;
        if (grow(g, &tab, cap, sizeof *tab)) return TN_ENOMEM;
        memset(tab, 0, cap * sizeof *tab);
        for (size_t i = 0; i < g->ne; i++)
            names_insert(tab, cap, edge_hash(g->edges[i].from, g->edges[i].to), (int)i + 1);
        mem(g, g->etab, 0);
        g->etab = tab;
        g->etab_cap = cap;
    }
    if (g->ne == g->cape) {
        size_t cap = g->cape ? g->cape * 2 : 16;
        if (grow(g, &g->edges, cap, sizeof *g->edges)) return TN_ENOMEM;
        g->cape = cap;
    }
    node_t *a = &g->nodes[from], *b = &g->nodes[to];
    if (reserve_adj(g, &a->out, a->nout, &a->capout) || reserve_adj(g, &b->in, b->nin, &b->capin))
        return TN_ENOMEM;
    idx = (int)g->ne++;
    g->edges[idx] = (tn_graph_edge_t){
        .from = from, .to = to, .sources = sources, .observed = observed, .weight = weight};
    a->out[a->nout++] = idx;
    b->in[b->nin++] = idx;
    names_insert(g->etab, g->etab_cap, edge_hash(from, to), idx + 1);
    return idx;
}

int tn_graph_add_edge(tn_graph_t *g, const char *from, const char *to, unsigned sources,
                      double weight, uint64_t observed)
{
    if (!isfinite(weight) || weight < 0) return TN_EINVAL;
    int a = tn_graph_add_node(g, from);
    if (a < 0) return a;
    int b = tn_graph_add_node(g, to);
    if (b < 0) return b;
    return tn_graph_add_edge_id(g, a, b, sources, weight, observed);
}

/* Starts a query: a fresh visit stamp. */
static uint32_t new_stamp(tn_graph_t *g)
{
    if (++g->stamp == 0) { /* wrapped: forget every old mark */
        if (g->mark) memset(g->mark, 0, g->capn * sizeof *g->mark);
        g->stamp = 1;
    }
    return g->stamp;
}

/* Calls visit on each neighbour of u in direction dir (with duplicates for BOTH). */
#define FOR_NEIGHBORS(g, u, dir, v, body)                                                          \
    do {                                                                                           \
        const node_t *nd_ = &(g)->nodes[u];                                                        \
        if ((dir)&TN_GRAPH_OUT)                                                                    \
            for (uint32_t i_ = 0; i_ < nd_->nout; i_++) {                                          \
                int v = (g)->edges[nd_->out[i_]].to;                                               \
                body                                                                               \
            }                                                                                      \
        if ((dir)&TN_GRAPH_IN)                                                                     \
            for (uint32_t i_ = 0; i_ < nd_->nin; i_++) {                                           \
                int v = (g)->edges[nd_->in[i_]].from;                                              \
                body                                                                               \
            }                                                                                      \
    } while (0)

static int valid_dir(int dir)
{
    return dir == TN_GRAPH_OUT || dir == TN_GRAPH_IN || dir == TN_GRAPH_BOTH;
}

int tn_graph_neighbors(tn_graph_t *g, int id, int dir, int *out, size_t cap)
{
    if (!valid_id(g, id) || !valid_dir(dir) || (!out && cap)) return TN_EINVAL;
    uint32_t s = new_stamp(g);
    g->mark[id] = s;
    int count = 0;
    FOR_NEIGHBORS(g, id, dir, v, {
        if (g->mark[v] != s) {
            g->mark[v] = s;
            if ((size_t)count < cap) out[count] = v;
            count++;
        }
    });
    return count;
}

/* BFS from src: fills g->queue[0..return) with the nodes reached (src first) and g->dist; stops
 * expanding at max_hops (< 0: never) and as soon as stop (>= 0) is reached. */
static int bfs(tn_graph_t *g, int src, int dir, int max_hops, int stop)
{
    uint32_t s = new_stamp(g);
    int head = 0, tail = 0;
    g->mark[src] = s;
    g->dist[src] = 0;
    g->parent[src] = -1;
    g->queue[tail++] = src;
    if (src == stop) return tail;
    while (head < tail) {
        int u = g->queue[head++];
        if (max_hops >= 0 && g->dist[u] >= max_hops) continue;
        FOR_NEIGHBORS(g, u, dir, v, {
            if (g->mark[v] != s) {
                g->mark[v] = s;
                g->dist[v] = g->dist[u] + 1;
                g->parent[v] = u;
                g->queue[tail++] = v;
                if (v == stop) return tail;
            }
        });
    }
    return tail;
}

static int reach(tn_graph_t *g, int id, int dir, int max_hops, int self, int *out, int *dist,
                 size_t cap)
{
    if (!valid_id(g, id) || !valid_dir(dir) || (!out && cap)) return TN_EINVAL;
    int n = bfs(g, id, dir, max_hops, -1);
    int count = 0;
    for (int i = self ? 0 : 1; i < n; i++, count++) {
        if ((size_t)count >= cap) continue;
        out[count] = g->queue[i];
        if (dist) dist[count] = g->dist[g->queue[i]];
    }
    return count;
}

int tn_graph_reach(tn_graph_t *g, int id, int dir, int max_hops, int *out, int *dist, size_t cap)
{
    return reach(g, id, dir, max_hops, 0, out, dist, cap);
}

int tn_graph_upstream(tn_graph_t *g, int id, int *out, size_t cap)
{
    return reach(g, id, TN_GRAPH_IN, -1, 0, out, NULL, cap);
}

int tn_graph_downstream(tn_graph_t *g, int id, int *out, size_t cap)
{
    return reach(g, id, TN_GRAPH_OUT, -1, 0, out, NULL, cap);
}

int tn_graph_khop(tn_graph_t *g, int id, int k, int *out, int *dist, size_t cap)
{
    if (k < 0) return TN_EINVAL;
    return reach(g, id, TN_GRAPH_BOTH, k, 1, out, dist, cap);
}

int tn_graph_path(tn_graph_t *g, int from, int to, int directed, int *out, size_t cap)
{
    if (!valid_id(g, from) || !valid_id(g, to) || (!out && cap)) return TN_EINVAL;
    bfs(g, from, directed ? TN_GRAPH_OUT : TN_GRAPH_BOTH, -1, to);
    if (g->mark[to] != g->stamp) return TN_ENOTFOUND;
    int len = g->dist[to] + 1;
    int pos = len - 1;
    for (int v = to; v >= 0; v = g->parent[v], pos--)
        if ((size_t)pos < cap) out[pos] = v;
    return len;
}

int tn_graph_distance(tn_graph_t *g, int from, int to, int directed)
{
    if (!valid_id(g, from) || !valid_id(g, to)) return TN_EINVAL;
    bfs(g, from, directed ? TN_GRAPH_OUT : TN_GRAPH_BOTH, -1, to);
    return g->mark[to] == g->stamp ? g->dist[to] : TN_ENOTFOUND;
}

int tn_graph_induced(tn_graph_t *g, const int *ids, size_t nids, tn_graph_sub_t *out)
{
    memset(out, 0, sizeof *out);
    if (!ids && nids) return TN_EINVAL;
    for (size_t i = 0; i < nids; i++)
        if (!valid_id(g, ids[i])) return TN_EINVAL;
    if (nids == 0) return 0;
    uint32_t s = new_stamp(g);
    int *nodes = NULL;
    if (grow(g, &nodes, nids, sizeof *nodes)) return TN_ENOMEM;
    size_t n = 0, m = 0;
    for (size_t i = 0; i < nids; i++) {
        int v = ids[i];
        if (g->mark[v] == s) continue;
        g->mark[v] = s;
        g->dist[v] = (int)n; /* local index */
        nodes[n++] = v;
    }
    for (size_t i = 0; i < n; i++) {
        const node_t *nd = &g->nodes[nodes[i]];
        for (uint32_t j = 0; j < nd->nout; j++)
            m += g->mark[g->edges[nd->out[j]].to] == s;
    }
    tn_graph_link_t *links = NULL;
    if (m && grow(g, &links, m, sizeof *links)) {
        mem(g, nodes, 0);
        return TN_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const node_t *nd = &g->nodes[nodes[i]];
        for (uint32_t j = 0; j < nd->nout; j++) {
            const tn_graph_edge_t *e = &g->edges[nd->out[j]];
            if (g->mark[e->to] != s) continue;
            links[k++] = (tn_graph_link_t){
                .from = (uint32_t)i, .to = (uint32_t)g->dist[e->to], .weight = e->weight};
        }
    }
    out->n = n;
    out->nodes = nodes;
    out->m = m;
    out->links = links;
    return 0;
}

void tn_graph_sub_free(tn_graph_t *g, tn_graph_sub_t *sub)
{
    if (!sub) return;
    mem(g, sub->nodes, 0);
    mem(g, sub->links, 0);
    memset(sub, 0, sizeof *sub);
}

/* Parses "cmdb+traces" into bits; 0 for an unknown or empty source. */
static unsigned parse_sources(const char *s)
{
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {{"cmdb", TN_GRAPH_SRC_CMDB},
                 {"traces", TN_GRAPH_SRC_TRACES},
                 {"labels", TN_GRAPH_SRC_LABELS}};
    unsigned bits = 0;
    while (*s) {
        size_t len = strcspn(s, "+"), k;
        for (k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strlen(known[k].name) == len && !strncmp(known[k].name, s, len)) break;
        if (k == sizeof known / sizeof known[0]) return 0;
        bits |= known[k].bit;
        s += len;
        if (*s == '+' && !*++s) return 0; /* trailing '+' */
    }
    return bits;
}

static int bad_name(const json_t *v)
{
    if (!json_is_string(v)) return 1;
    size_t len = json_string_length(v);
    return len == 0 || len > TN_GRAPH_MAX_NAME || strlen(json_string_value(v)) != len;
}

#define TOPO_FAIL(...)                                                                             \
    do {                                                                                           \
        if (err) tn_buf_printf(err, __VA_ARGS__);                                                  \
        return TN_EINVAL;                                                                          \
    } while (0)

int tn_graph_add_topology(tn_graph_t *g, const json_t *topo, tn_buf_t *err)
{
    if (!json_is_object(topo)) TOPO_FAIL("topology: expected a JSON object");
    const json_t *services = json_object_get(topo, "services");
    const json_t *edges = json_object_get(topo, "edges");
    if (services && !json_is_array(services)) TOPO_FAIL("services: must be an array");
    if (edges && !json_is_array(edges)) TOPO_FAIL("edges: must be an array");
    size_t i;
    const json_t *v;
    json_array_foreach(services, i, v)
    {
        if (bad_name(json_object_get(v, "name")))
            TOPO_FAIL("services[%zu].name: a service name (1..%d bytes) is required", i,
                      TN_GRAPH_MAX_NAME);
    }
    json_array_foreach(edges, i, v)
    {
        if (bad_name(json_object_get(v, "from")))
            TOPO_FAIL("edges[%zu].from: a service name is required", i);
        if (bad_name(json_object_get(v, "to")))
            TOPO_FAIL("edges[%zu].to: a service name is required", i);
        const json_t *src = json_object_get(v, "source"), *count = json_object_get(v, "count");
        if (!json_is_string(src) || !parse_sources(json_string_value(src)))
            TOPO_FAIL("edges[%zu].source: expected \"cmdb\", \"traces\" or \"labels\" (or several "
                      "joined by '+')",
                      i);
        if (count && (!json_is_integer(count) || json_integer_value(count) < 0))
            TOPO_FAIL("edges[%zu].count: expected an integer >= 0", i);
    }
    json_array_foreach(services, i, v)
    {
        int rc = tn_graph_add_node(g, json_string_value(json_object_get(v, "name")));
        if (rc < 0) return rc;
    }
    json_array_foreach(edges, i, v)
    {
        const json_t *count = json_object_get(v, "count");
        int rc = tn_graph_add_edge(g, json_string_value(json_object_get(v, "from")),
                                   json_string_value(json_object_get(v, "to")),
                                   parse_sources(json_string_value(json_object_get(v, "source"))),
                                   1.0, count ? (uint64_t)json_integer_value(count) : 0);
        if (rc < 0) return rc;
    }
    return 0;
}
