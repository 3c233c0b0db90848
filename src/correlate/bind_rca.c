/* bind_rca.c - tocsin.rca; see bind_rca.h. */
#include "correlate/bind_rca.h"
#include "core/error.h"
#include "correlate/pagerank.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>

#define MAX_NODES 100000

/* The node index of the string at idx, adding it to names (a Lua table at names_idx: name ->
 * index, and the list at list_idx) when new. */
static uint32_t node_of(lua_State *L, int names_idx, int list_idx, int idx, uint32_t *n)
{
    lua_pushvalue(L, idx);
    if (lua_rawget(L, names_idx) == LUA_TNUMBER) {
        uint32_t i = (uint32_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        return i;
    }
    lua_pop(L, 1);
    if (*n >= MAX_NODES) luaL_error(L, "rca.pagerank: more than %d nodes", MAX_NODES);
    lua_pushvalue(L, idx);
    lua_pushinteger(L, *n);
    lua_rawset(L, names_idx);
    lua_pushvalue(L, idx);
    lua_rawseti(L, list_idx, (lua_Integer)*n + 1);
    return (*n)++;
}

static double opt_number(lua_State *L, int t, const char *k, double dflt)
{
    double v = dflt;
    int ty = lua_getfield(L, t, k);
    if (ty == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    else if (ty != LUA_TNIL)
        luaL_error(L, "rca.pagerank: %s must be a number", k);
    lua_pop(L, 1);
    return v;
}

typedef struct {
    tn_graph_link_t *links;
    double *pers, *scores;
    size_t *order;
} bufs_t;

static int free_bufs(lua_State *L)
{
    bufs_t *b = lua_touserdata(L, 1);
    free(b->links), free(b->pers), free(b->scores), free(b->order);
    b->links = NULL, b->pers = b->scores = NULL, b->order = NULL;
    return 0;
}

static int l_pagerank(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    /* 2: the buffers, freed by __gc/__close whatever happens; 3: name -> index; 4: index -> name */
    bufs_t *b = lua_newuserdatauv(L, sizeof *b, 0);
    *b = (bufs_t){0};
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, free_bufs);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, 2);
    lua_newtable(L);
    lua_newtable(L);
    uint32_t n = 0;
    size_t m = 0;
    if (lua_getfield(L, 1, "edges") != LUA_TTABLE)
        return luaL_error(L, "rca.pagerank: edges must be a list of {from, to[, weight]}");
    lua_Integer ne = luaL_len(L, 5);
    if (ne > 0 && !(b->links = malloc((size_t)ne * sizeof *b->links)))
        return luaL_error(L, "rca.pagerank: out of memory");
    for (lua_Integer i = 1; i <= ne; i++) {
        if (lua_geti(L, 5, i) != LUA_TTABLE)
            return luaL_error(L, "rca.pagerank: edges[%d] must be {from, to[, weight]}", (int)i);
        lua_geti(L, 6, 1);
        lua_geti(L, 6, 2);
        lua_geti(L, 6, 3);
        if (lua_type(L, 7) != LUA_TSTRING || lua_type(L, 8) != LUA_TSTRING)
            return luaL_error(L, "rca.pagerank: edges[%d]: from and to must be names", (int)i);
        double w = lua_isnil(L, 9) ? 1.0 : lua_tonumber(L, 9);
        if (!lua_isnil(L, 9) && (!lua_isnumber(L, 9) || !isfinite(w) || w < 0))
            return luaL_error(L, "rca.pagerank: edges[%d]: weight must be a number >= 0", (int)i);
        uint32_t f = node_of(L, 3, 4, 7, &n), t = node_of(L, 3, 4, 8, &n);
        b->links[m++] = (tn_graph_link_t){f, t, w};
        lua_settop(L, 5);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "nodes") == LUA_TTABLE) {
        lua_Integer nn = luaL_len(L, 5);
        for (lua_Integer i = 1; i <= nn; i++) {
            if (lua_geti(L, 5, i) != LUA_TSTRING)
                return luaL_error(L, "rca.pagerank: nodes[%d] must be a name", (int)i);
            node_of(L, 3, 4, 6, &n);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    int has_p = lua_getfield(L, 1, "personalization") == LUA_TTABLE;
    if (has_p) { /* its names are nodes too */
        lua_pushnil(L);
        while (lua_next(L, 5)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER)
                return luaL_error(L, "rca.pagerank: personalization maps names to numbers");
            node_of(L, 3, 4, -2, &n);
            lua_pop(L, 1);
        }
    }
    if (!(b->scores = malloc((n ? n : 1) * sizeof *b->scores)) ||
        !(b->order = malloc((n ? n : 1) * sizeof *b->order)) ||
        (has_p && !(b->pers = calloc(n ? n : 1, sizeof *b->pers))))
        return luaL_error(L, "rca.pagerank: out of memory");
    if (has_p) {
        lua_pushnil(L);
        while (lua_next(L, 5)) {
            lua_pushvalue(L, -2);
            lua_rawget(L, 3);
            b->pers[lua_tointeger(L, -1)] = lua_tonumber(L, -2);
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "reverse");
    int reverse = lua_toboolean(L, -1);
    lua_pop(L, 1);
    tn_pagerank_opts_t o = {.damping = opt_number(L, 1, "damping", 0),
                            .tol = opt_number(L, 1, "tol", 0),
                            .max_iter = (unsigned)opt_number(L, 1, "max_iter", 0),
                            .personalization = b->pers,
                            .reverse = reverse,
                            .backward = opt_number(L, 1, "backward", 0)};
    tn_pagerank_info_t info;
    int rc = tn_pagerank(n, b->links, m, &o, b->scores, &info);
    if (rc == TN_EINVAL)
        return luaL_error(L, "rca.pagerank: invalid options or personalization (damping in "
                             "(0,1), weights >= 0, personalization >= 0 and not all 0)");
    if (rc) return luaL_error(L, "rca.pagerank: %s", tn_strerror(rc));
    tn_pagerank_rank(n, b->scores, b->order);
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_rawgeti(L, 4, (lua_Integer)b->order[i] + 1);
        lua_setfield(L, -2, "service");
        lua_pushnumber(L, b->scores[b->order[i]]);
        lua_setfield(L, -2, "score");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, info.iterations);
    lua_setfield(L, -2, "iterations");
    lua_pushboolean(L, info.converged);
    lua_setfield(L, -2, "converged");
    lua_pushnumber(L, info.delta);
    lua_setfield(L, -2, "delta");
    return 2;
}

int tn_correlate_open_rca(lua_State *L)
{
    static const luaL_Reg fns[] = {{"pagerank", l_pagerank}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
