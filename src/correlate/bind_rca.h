/* bind_rca.h - the Lua module tocsin.rca: the random walk (personalized PageRank) of
 * correlate/pagerank.h for root-cause heuristics. Any context; never waits.
 *
 *   local ranked, info = rca.pagerank{
 *     edges = { { "web", "api", 1.0 }, { "api", "db", 0.9 }, ... },  -- from, to[, weight = 1]
 *     nodes = { "cache" },              -- optional: nodes without edges
 *     personalization = { web = 0.9, api = 0.7 },  -- optional (uniform): where walks restart
 *     damping = 0.85, reverse = false, backward = 0, max_iter = 1000, tol = 1e-10 }
 *   -- ranked: { { service = "db", score = 0.41 }, ... } by descending score (ties by first
 *   -- appearance); info: { iterations = n, converged = true }
 * An edge A -> B is walked from A to B (in the service graph "A calls B": symptom to cause);
 * `reverse` walks edges the other way, `backward` adds weaker reverse edges (docs/rca.md).
 * Bad input raises an error naming the field; at most 100,000 nodes. */
#ifndef TN_CORRELATE_BIND_RCA_H
#define TN_CORRELATE_BIND_RCA_H

#include <lua.h>

int tn_correlate_open_rca(lua_State *L);

#endif
