#include "script/state.h"
#include "script/convert.h"
#include "core/error.h"

#include <lauxlib.h>

static char g_state_key; /* registry[&g_state_key] = the state table */

static int open_state(lua_State *L)
{
    const json_t *carried = lua_touserdata(L, lua_upvalueindex(1));
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &g_state_key) == LUA_TTABLE) return 1;
    lua_pop(L, 1);
    if (json_is_object(carried) || json_is_array(carried))
        tn_lua_push_json(L, carried);
    else
        lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &g_state_key);
    return 1;
}

int tn_state_preload(tn_lua_t *lua, const json_t *carried)
{
    return tn_lua_preload(lua, "tocsin.state", open_state, (void *)carried);
}

json_t *tn_state_export(tn_lua_t *lua, tn_buf_t *err)
{
    lua_State *L = tn_lua_state(lua);
    if (!lua_checkstack(L, 8)) return NULL;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &g_state_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return NULL;
    }
    json_t *j = tn_lua_to_json(L, -1, err);
    lua_pop(L, 1);
    return j;
}
