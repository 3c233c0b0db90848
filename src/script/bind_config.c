/* tocsin.config - read-only access to the engine's settings. */
#include "script/bindings.h"
#include "core/config.h"

#include <lauxlib.h>

static int l_get(lua_State *L)
{
    const tn_config_t *cfg = lua_touserdata(L, lua_upvalueindex(1));
    const char *key = luaL_checkstring(L, 1);
    const tn_conf_opt_t *o = tn_config_find(key);
    if (!o) return luaL_error(L, "config.get: unknown key '%s'", key);
    const void *f = (const char *)cfg + o->offset;
    switch (o->type) {
    case TN_CONF_STR:
        lua_pushstring(L, *(char *const *)f);
        break;
    case TN_CONF_INT:
        lua_pushinteger(L, (lua_Integer) * (const int64_t *)f);
        break;
    case TN_CONF_NUM:
        lua_pushnumber(L, *(const double *)f);
        break;
    case TN_CONF_BOOL:
        lua_pushboolean(L, *(const bool *)f);
        break;
    case TN_CONF_LIST: {
        const tn_conf_list_t *l = f;
        lua_createtable(L, (int)l->n, 0);
        for (size_t i = 0; i < l->n; i++) {
            lua_pushstring(L, l->items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    }
    return 1;
}

int tn_bind_config(lua_State *L)
{
    lua_newtable(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, l_get, 1);
    lua_setfield(L, -2, "get");
    return 1;
}
