/* bind_topology.c - tocsin.topology; see bind_topology.h. */
#include "correlate/bind_topology.h"
#include "core/error.h"
#include "correlate/graph.h"

#include <lauxlib.h>
#include <stdlib.h>

static tn_graph_t *graph(lua_State *L)
{
    tn_graph_t *g = lua_touserdata(L, lua_upvalueindex(1));
    if (!g) luaL_error(L, "tocsin.topology: no service graph in this context");
    return g;
}

/* Pushes a list of node names from a walk. The result array is sized by a first counting call
 * (walks allocate nothing: graph.h), then filled. */
typedef int (*walk_fn)(tn_graph_t *g, int id, int arg, int *out, int *dist, size_t cap);

static int push_walk(lua_State *L, tn_graph_t *g, int id, int arg, walk_fn fn, int with_dist)
{
    int n = fn(g, id, arg, NULL, NULL, 0);
    if (n < 0) return luaL_error(L, "tocsin.topology: %s", tn_strerror(n));
    int *ids = n ? malloc((size_t)n * 2 * sizeof *ids) : NULL;
    if (n && !ids) return luaL_error(L, "tocsin.topology: out of memory");
    if (n) fn(g, id, arg, ids, ids + n, (size_t)n);
    lua_createtable(L, with_dist ? 0 : n, with_dist ? n : 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, tn_graph_node_name(g, ids[i]));
        if (with_dist) {
            lua_pushinteger(L, ids[n + i]);
            lua_rawset(L, -3);
        } else {
            lua_rawseti(L, -2, i + 1);
        }
    }
    free(ids);
    return 1;
}

static int w_neighbors(tn_graph_t *g, int id, int dir, int *out, int *dist, size_t cap)
{
    (void)dist;
    return tn_graph_neighbors(g, id, dir, out, cap);
}
static int w_reach(tn_graph_t *g, int id, int dir, int *out, int *dist, size_t cap)
{
    (void)dist;
    return tn_graph_reach(g, id, dir, -1, out, NULL, cap);
}
static int w_khop(tn_graph_t *g, int id, int k, int *out, int *dist, size_t cap)
{
    return tn_graph_khop(g, id, k, out, dist, cap);
}

static int walk(lua_State *L, walk_fn fn, int arg, int with_dist)
{
    tn_graph_t *g = graph(L);
    int id = tn_graph_node_id(g, luaL_checkstring(L, 1));
    if (id < 0) {
        lua_newtable(L);
        if (with_dist) { /* svc itself, at 0, even when the graph does not know it */
            lua_pushvalue(L, 1);
            lua_pushinteger(L, 0);
            lua_rawset(L, -3);
        }
        return 1;
    }
    return push_walk(L, g, id, arg, fn, with_dist);
}

static int l_has(lua_State *L)
{
    lua_pushboolean(L, tn_graph_node_id(graph(L), luaL_checkstring(L, 1)) >= 0);
    return 1;
}
static int l_callers(lua_State *L)
{
    return walk(L, w_neighbors, TN_GRAPH_IN, 0);
}
static int l_callees(lua_State *L)
{
    return walk(L, w_neighbors, TN_GRAPH_OUT, 0);
}
static int l_neighbors(lua_State *L)
{
    return walk(L, w_neighbors, TN_GRAPH_BOTH, 0);
}
static int l_upstream(lua_State *L)
{
    return walk(L, w_reach, TN_GRAPH_IN, 0);
}
static int l_downstream(lua_State *L)
{
    return walk(L, w_reach, TN_GRAPH_OUT, 0);
}
static int l_khop(lua_State *L)
{
    lua_Integer k = luaL_checkinteger(L, 2);
    luaL_argcheck(L, k >= 0 && k <= 1000000, 2, "hops must be 0 or more");
    return walk(L, w_khop, (int)k, 1);
}

/* (a, b, directed) -> ids; pushes nil, reason and returns 2 when a name is unknown. */
static int two_ids(lua_State *L, tn_graph_t *g, int *a, int *b)
{
    *a = tn_graph_node_id(g, luaL_checkstring(L, 1));
    *b = tn_graph_node_id(g, luaL_checkstring(L, 2));
    if (*a >= 0 && *b >= 0) return 0;
    lua_pushnil(L);
    lua_pushliteral(L, "unknown_service");
    return 2;
}

static int l_path(lua_State *L)
{
    tn_graph_t *g = graph(L);
    int a, b, directed = lua_toboolean(L, 3);
    if (two_ids(L, g, &a, &b)) return 2;
    int n = tn_graph_path(g, a, b, directed, NULL, 0);
    if (n == TN_ENOTFOUND) {
        lua_pushnil(L);
        lua_pushliteral(L, "no_path");
        return 2;
    }
    if (n < 0) return luaL_error(L, "topology.path: %s", tn_strerror(n));
    int *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) return luaL_error(L, "topology.path: out of memory");
    tn_graph_path(g, a, b, directed, ids, (size_t)n);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, tn_graph_node_name(g, ids[i]));
        lua_rawseti(L, -2, i + 1);
    }
    free(ids);
    return 1;
}

static int l_distance(lua_State *L)
{
    tn_graph_t *g = graph(L);
    int a, b;
    if (two_ids(L, g, &a, &b)) return 2;
    int d = tn_graph_distance(g, a, b, lua_toboolean(L, 3));
    if (d < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "no_path");
        return 2;
    }
    lua_pushinteger(L, d);
    return 1;
}

static int l_edges(lua_State *L)
{
    tn_graph_t *g = graph(L);
    size_t m = tn_graph_edge_count(g);
    lua_createtable(L, (int)m, 0);
    for (size_t i = 0; i < m; i++) {
        const tn_graph_edge_t *e = tn_graph_edge(g, i);
        lua_createtable(L, 0, 4);
        lua_pushstring(L, tn_graph_node_name(g, e->from));
        lua_setfield(L, -2, "from");
        lua_pushstring(L, tn_graph_node_name(g, e->to));
        lua_setfield(L, -2, "to");
        lua_newtable(L);
        int k = 0;
        if (e->sources & TN_GRAPH_SRC_CMDB) lua_pushliteral(L, "cmdb"), lua_rawseti(L, -2, ++k);
        if (e->sources & TN_GRAPH_SRC_TRACES) lua_pushliteral(L, "traces"), lua_rawseti(L, -2, ++k);
        if (e->sources & TN_GRAPH_SRC_LABELS) lua_pushliteral(L, "labels"), lua_rawseti(L, -2, ++k);
        lua_setfield(L, -2, "sources");
        lua_pushinteger(L, (lua_Integer)e->observed);
        lua_setfield(L, -2, "observed");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

int tn_correlate_open_topology(lua_State *L)
{
    static const luaL_Reg fns[] = {{"has", l_has},
                                   {"callers", l_callers},
                                   {"callees", l_callees},
                                   {"neighbors", l_neighbors},
                                   {"upstream", l_upstream},
                                   {"downstream", l_downstream},
                                   {"khop", l_khop},
                                   {"path", l_path},
                                   {"distance", l_distance},
                                   {"edges", l_edges},
                                   {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
