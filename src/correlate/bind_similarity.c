/* bind_similarity.c - tocsin.similarity; see bind_similarity.h. */
#include "correlate/bind_similarity.h"
#include "correlate/similarity.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_TYPE "tocsin.signature"

static tn_sim_tokens_t *check_sig(lua_State *L, int i)
{
    return luaL_checkudata(L, i, SIG_TYPE);
}

/* Adds the string field k of table t as text, when present. */
static void add_text_field(lua_State *L, int t, const char *k, tn_sim_tokens_t *s)
{
    if (lua_getfield(L, t, k) == LUA_TSTRING) {
        size_t n;
        const char *v = lua_tolstring(L, -1, &n);
        tn_sim_add_text(s, v, n, 1.0);
    }
    lua_pop(L, 1);
}

static int l_signature(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "mask_values");
    int mask = lua_toboolean(L, -1);
    lua_pop(L, 1);
    tn_sim_tokens_t *s = lua_newuserdatauv(L, sizeof *s, 0); /* at the top: index 2 */
    tn_sim_init(s);
    luaL_setmetatable(L, SIG_TYPE);
    if (lua_getfield(L, 1, "labels") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING &&
                (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)) {
                lua_pushvalue(L, -1);
                const char *v = lua_tostring(L, -1); /* a copy: the key stays a key */
                tn_sim_add_label(s, lua_tostring(L, -3), v, mask, 1.0);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        return luaL_error(L, "similarity.signature: labels must be a table");
    }
    lua_pop(L, 1);
    static const char *const text_fields[] = {"text", "metric", "title", "summary", "detector"};
    for (size_t i = 0; i < sizeof text_fields / sizeof text_fields[0]; i++)
        add_text_field(L, 1, text_fields[i], s);
    return 1;
}

static int l_jaccard(lua_State *L)
{
    lua_pushnumber(L, tn_sim_jaccard(check_sig(L, 1), check_sig(L, 2)));
    return 1;
}

static int l_weighted_jaccard(lua_State *L)
{
    lua_pushnumber(L, tn_sim_jaccard_weighted(check_sig(L, 1), check_sig(L, 2)));
    return 1;
}

static int l_simhash(lua_State *L)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, tn_sim_simhash(check_sig(L, 1)));
    lua_pushstring(L, hex);
    return 1;
}

static int l_similarity(lua_State *L)
{
    lua_pushnumber(L, tn_sim_simhash_similarity(tn_sim_simhash(check_sig(L, 1)),
                                                tn_sim_simhash(check_sig(L, 2))));
    return 1;
}

static int l_tokens(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_sig(L, 1)->n);
    return 1;
}

static uint64_t check_hex(lua_State *L, int i)
{
    const char *s = luaL_checkstring(L, i);
    char *end;
    unsigned long long v = strtoull(s, &end, 16);
    luaL_argcheck(L, strlen(s) == 16 && *end == '\0', i, "a SimHash is 16 hex digits");
    return (uint64_t)v;
}

static int l_simhash_similarity(lua_State *L)
{
    lua_pushnumber(L, tn_sim_simhash_similarity(check_hex(L, 1), check_hex(L, 2)));
    return 1;
}

int tn_correlate_open_similarity(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"jaccard", l_jaccard}, {"weighted_jaccard", l_weighted_jaccard},
        {"simhash", l_simhash}, {"similarity", l_similarity},
        {"tokens", l_tokens},   {NULL, NULL}};
    if (luaL_newmetatable(L, SIG_TYPE)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"signature", l_signature},
                                   {"jaccard", l_jaccard},
                                   {"weighted_jaccard", l_weighted_jaccard},
                                   {"similarity", l_similarity},
                                   {"simhash_similarity", l_simhash_similarity},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
