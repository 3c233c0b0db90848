/* graph.h - a directed service graph and the walks correlation and RCA need.
 *
 * Nodes are service names, interned: each name gets a stable integer id (0, 1, 2, ... in the
 * order they were first added) that stays valid until tn_graph_clear or tn_graph_destroy.
 * An edge A -> B means "A calls / depends on B". An edge carries the sources that declared it
 * (CMDB file, traces, labels, OR-ed together), the number of spans that showed it and a weight;
 * adding an edge that exists merges into it. Self-loops are stored (and ignored by the walks).
 *
 * Bounded: at most max_nodes nodes and max_edges edges (TN_ETOOBIG beyond). Every allocation
 * goes through the allocator given at creation (realloc semantics), and a failed allocation
 * leaves the graph as it was before the call (TN_ENOMEM).
 *
 * Queries allocate nothing: they use scratch arrays the graph sizes when nodes are added, so a
 * query never fails for lack of memory, and one graph answers one query at a time (the engine
 * is single-threaded; queries therefore take a non-const graph). Results are written into
 * arrays the caller provides, snprintf style: the return value is the full count, of which at
 * most `cap` entries were written (call again with a larger array when it is larger). Passing
 * out = NULL, cap = 0 just counts. Costs: V nodes, E edges; a walk is O(V + E) worst case, and
 * only touches what it reaches.
 *
 * Errors: TN_EINVAL (bad argument, e.g. an id out of range), TN_ENOTFOUND (unknown name,
 * unreachable target), TN_ENOMEM, TN_ETOOBIG. */
#ifndef TN_CORRELATE_GRAPH_H
#define TN_CORRELATE_GRAPH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct tn_graph tn_graph_t;

/* Allocator with realloc semantics: (ud, NULL, n) allocates, (ud, p, n) resizes, (ud, p, 0)
 * frees and returns NULL. Returning NULL for n > 0 is an allocation failure. */
typedef void *(*tn_graph_alloc_fn)(void *ud, void *ptr, size_t size);

/* Where an edge was learned (bits, OR-ed together on the edge). */
enum {
    TN_GRAPH_SRC_CMDB = 1u << 0,   /* declared in the topology file */
    TN_GRAPH_SRC_TRACES = 1u << 1, /* a span whose parent is in another service */
    TN_GRAPH_SRC_LABELS = 1u << 2, /* labels naming a peer service */
};

/* Walk directions. */
enum {
    TN_GRAPH_OUT = 1,  /* along edges: callees, what a service depends on */
    TN_GRAPH_IN = 2,   /* against edges: callers, what depends on a service */
    TN_GRAPH_BOTH = 3, /* undirected */
};

#define TN_GRAPH_DEFAULT_MAX_NODES 65536u
#define TN_GRAPH_DEFAULT_MAX_EDGES 1048576u
#define TN_GRAPH_MAX_NAME 512 /* bytes of a service name, without the NUL */

typedef struct {
    size_t max_nodes;        /* 0: TN_GRAPH_DEFAULT_MAX_NODES (never more than INT32_MAX) */
    size_t max_edges;        /* 0: TN_GRAPH_DEFAULT_MAX_EDGES */
    tn_graph_alloc_fn alloc; /* NULL: the C library's realloc and free */
    void *alloc_ud;          /* passed to alloc */
} tn_graph_opts_t;

typedef struct {
    int from, to;      /* node ids */
    unsigned sources;  /* TN_GRAPH_SRC_* bits */
    uint64_t observed; /* spans that showed the edge (sum of what was added) */
    double weight;     /* sum of the weights added */
} tn_graph_edge_t;

/* An edge of an edge list over local node indices 0..n-1 (see tn_graph_induced, tn_pagerank). */
typedef struct {
    uint32_t from, to;
    double weight;
} tn_graph_link_t;

/* opts may be NULL (defaults); it is copied. Returns a graph the caller destroys, or NULL when
 * the first allocation fails. */
tn_graph_t *tn_graph_create(const tn_graph_opts_t *opts);
/* Frees the graph and everything it owns (names returned by tn_graph_node_name included). */
void tn_graph_destroy(tn_graph_t *g);
/* Removes every node and edge (ids restart at 0); keeps the memory for reuse. */
void tn_graph_clear(tn_graph_t *g);

/* Interns name (copied; 1..TN_GRAPH_MAX_NAME bytes). Returns its id (>= 0; the existing id if
 * the name is known), TN_EINVAL, TN_ENOMEM or TN_ETOOBIG. */
int tn_graph_add_node(tn_graph_t *g, const char *name);
/* The id of name, or TN_ENOTFOUND. */
int tn_graph_node_id(const tn_graph_t *g, const char *name);
/* The name of id (borrowed: valid until clear/destroy), or NULL when id is out of range. */
const char *tn_graph_node_name(const tn_graph_t *g, int id);
size_t tn_graph_node_count(const tn_graph_t *g);
size_t tn_graph_edge_count(const tn_graph_t *g);

/* Adds the edge from -> to, interning both names, or merges into the existing edge: sources
 * are OR-ed in, weight (finite, >= 0) and observed are added. Returns the edge's index
 * (>= 0, stable until clear), or TN_EINVAL, TN_ENOMEM, TN_ETOOBIG; on error nothing changed
 * (except that the names may have been interned). */
int tn_graph_add_edge(tn_graph_t *g, const char *from, const char *to, unsigned sources,
                      double weight, uint64_t observed);
/* The same on ids (both must exist). */
int tn_graph_add_edge_id(tn_graph_t *g, int from, int to, unsigned sources, double weight,
                         uint64_t observed);
/* Adds the services and edges of a topology document, the JSON tn_topology_json writes
 * (src/ingest/topology.h):
 *   {"services": [{"name": "checkout", ...}, ...],
 *    "edges": [{"from": "checkout", "to": "payments", "source": "cmdb+traces", "count": 12}]}
 * Both arrays are optional. source is "cmdb", "traces" or "labels", or several joined by '+';
 * count (optional, an integer >= 0) is added to observed; each edge adds weight 1. topo is
 * borrowed. The whole document is checked first: on TN_EINVAL nothing was added and err (may
 * be NULL) names the problem ("edges[3].source: unknown source \"x\""). On TN_ENOMEM or
 * TN_ETOOBIG part of it may have been added (clear the graph to start again). 0 on success. */
int tn_graph_add_topology(tn_graph_t *g, const json_t *topo, tn_buf_t *err);

/* The index of the edge from -> to, or TN_ENOTFOUND (TN_EINVAL for ids out of range). */
int tn_graph_find_edge(const tn_graph_t *g, int from, int to);
/* Edge number idx (borrowed: valid until the next add or clear), or NULL. */
const tn_graph_edge_t *tn_graph_edge(const tn_graph_t *g, size_t idx);

/* Direct neighbours of id: callees (TN_GRAPH_OUT), callers (TN_GRAPH_IN) or both, each once,
 * id itself excluded, in the order their edges were added. Returns the count. O(degree). */
int tn_graph_neighbors(tn_graph_t *g, int id, int dir, int *out, size_t cap);

/* Breadth-first walk from id in direction dir, up to max_hops hops (< 0: unlimited). Writes
 * the nodes reached, id itself excluded, nearest first (ties in edge order), and, when dist is
 * not NULL, each one's hop count into dist[i] (dist has room for cap entries). Returns the
 * count. O(V + E). */
int tn_graph_reach(tn_graph_t *g, int id, int dir, int max_hops, int *out, int *dist, size_t cap);

/* Every service that transitively depends on id (its callers, their callers, ...): reach IN. */
int tn_graph_upstream(tn_graph_t *g, int id, int *out, size_t cap);
/* Everything id transitively depends on (callees, theirs, ...): reach OUT. */
int tn_graph_downstream(tn_graph_t *g, int id, int *out, size_t cap);

/* The undirected neighbourhood within k hops (k >= 0), id itself INCLUDED first at distance 0.
 * dist as in tn_graph_reach. Returns the count (>= 1). */
int tn_graph_khop(tn_graph_t *g, int id, int k, int *out, int *dist, size_t cap);

/* A shortest path from -> to by BFS: along edges when directed is non-zero, else ignoring
 * their direction. Writes the node sequence from..to (both included; [from] when from == to)
 * and returns its number of nodes (hops + 1), or TN_ENOTFOUND when to is unreachable. */
int tn_graph_path(tn_graph_t *g, int from, int to, int directed, int *out, size_t cap);
/* The hop distance from -> to (0 when equal), or TN_ENOTFOUND when unreachable. */
int tn_graph_distance(tn_graph_t *g, int from, int to, int directed);

/* The subgraph induced by a set of node ids: the nodes, and every edge whose two ends are in
 * the set, over local indices (the position of each node in nodes[]). */
typedef struct {
    size_t n;               /* nodes */
    int *nodes;             /* graph ids, in the order given, duplicates dropped */
    size_t m;               /* edges */
    tn_graph_link_t *links; /* from/to are indices into nodes[]; weight is the edge's */
} tn_graph_sub_t;

/* Fills *out (owned by the caller afterwards: release it with tn_graph_sub_free on the same
 * graph, which frees through the graph's allocator). Ids out of range: TN_EINVAL. On error
 * *out is empty and owns nothing. O(sum of the set's out-degrees). */
int tn_graph_induced(tn_graph_t *g, const int *ids, size_t nids, tn_graph_sub_t *out);
void tn_graph_sub_free(tn_graph_t *g, tn_graph_sub_t *sub);

#endif
