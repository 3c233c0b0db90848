/* bind_topology.h - the Lua module tocsin.topology: the service graph (correlate/graph.h) as
 * rules see it. Every function may run in any context and never waits.
 *
 *   topology.has(svc)                      -> boolean
 *   topology.callers(svc), callees(svc), neighbors(svc)
 *                                          -> list of names (direct; neighbors: both ways)
 *   topology.upstream(svc)                 -> what transitively depends on svc (nearest first)
 *   topology.downstream(svc)               -> what svc transitively depends on
 *   topology.khop(svc, k)                  -> { [name] = hops } within k hops, either way,
 *                                             svc itself at 0
 *   topology.path(a, b [, directed])       -> list a..b, or nil, "no_path"
 *   topology.distance(a, b [, directed])   -> hops, or nil, "no_path"
 *   topology.edges()                       -> list of { from =, to =, sources = {...},
 *                                             observed = n }
 * An unknown service gives an empty list (has: false; path, distance: nil, "unknown_service").
 * The graph is the topology file merged with the edges learned from traces; the engine keeps it
 * current. */
#ifndef TN_CORRELATE_BIND_TOPOLOGY_H
#define TN_CORRELATE_BIND_TOPOLOGY_H

#include <lua.h>

/* lua_CFunction for tn_lua_preload; upvalue 1: the tn_graph_t * (light userdata, may be NULL:
 * then the functions raise "no service graph"). */
int tn_correlate_open_topology(lua_State *L);

#endif
