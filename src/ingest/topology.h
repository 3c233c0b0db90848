/* topology.h - the service graph: declared in a CMDB-style JSON file, learned from traces.
 *
 * File (topology.file; reloaded when it changes, on SIGHUP and POST /api/reload):
 *   { "services": [ { "name": "checkout", "tier": "backend", "team": "shop",
 *                     "hosts": ["web-1"], "depends_on": ["payments", "redis"] } ],
 *     "hosts":    [ { "name": "web-1", "datacenter": "eu-1" } ] }
 * `name` is required; unknown fields are kept as attributes. An edge A -> B means "A calls /
 * depends on B". A file that fails to load leaves the previous graph in place.
 *
 * Traces: a span whose parent span belongs to another service makes the edge
 * parent-service -> child-service (source "traces"), counted. The last 100,000 span ids are
 * remembered to find parents across batches.
 *
 * The graph is kept in memory and written as JSON to the key <prefix>:topology when it changes. */
#ifndef TN_INGEST_TOPOLOGY_H
#define TN_INGEST_TOPOLOGY_H

#include "core/buf.h"
#include "ingest/records.h"

typedef struct tn_topology tn_topology_t;

tn_topology_t *tn_topology_create(void);
void tn_topology_destroy(tn_topology_t *t);

/* Loads (or reloads) the file. 0, or TN_EIO / TN_EINVAL with "path: ..." in err (the previous
 * declared graph stays). */
int tn_topology_load_file(tn_topology_t *t, const char *path, tn_buf_t *err);

/* Learns edges from a batch of spans; returns the number of new edges. */
int tn_topology_learn(tn_topology_t *t, const tn_span_t *spans, size_t n);
/* Learns the edge from -> to that an alert's labels named (its service, and the dependency in
 * a label such as upstream or peer_service). 1 when the edge is new, 0 when it was known (or
 * from/to is empty or the same), TN_ENOMEM. */
int tn_topology_learn_label(tn_topology_t *t, const char *from, const char *to);

/* {"services":[{"name":..., "attributes":{...}}], "edges":[{"from","to","source","count"}]};
 * source is "cmdb", "traces", "labels" or their combination joined by '+' ("cmdb+traces"),
 * count the spans and alerts that showed the edge. */
int tn_topology_json(const tn_topology_t *t, tn_buf_t *out);

/* Edge queries for the layers above (correlation, RCA). */
size_t tn_topology_edge_count(const tn_topology_t *t);
/* Calls node(arg, name) for each service the file names and edge(arg, from, to, declared,
 * observed, labeled) for each edge (declared: from the file; observed: spans that showed it;
 * labeled: alerts whose labels named it). Strings borrowed for the call. */
void tn_topology_each(const tn_topology_t *t, void (*node)(void *arg, const char *name),
                      void (*edge)(void *arg, const char *from, const char *to, int declared,
                                   uint64_t observed, uint64_t labeled),
                      void *arg);
int tn_topology_has_edge(const tn_topology_t *t, const char *from, const char *to);

#endif
