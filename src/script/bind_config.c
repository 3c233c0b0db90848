/* tocsin.config - read-only access to the engine's settings. */
#include "script/bindings.h"
#include "core/config.h"
#include "script/runtime.h"
#include "script/services.h"

#include <lauxlib.h>

static int l_get(lua_State *L)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    const char *key = luaL_checkstring(L, 1);
    const tn_config_t *cfg = svc ? svc->cfg : NULL;
    if (!cfg) return luaL_error(L, "config.get: no configuration");
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

int tn_bind_all(tn_lua_t *lua, const void *svc)
{
    static const struct {
        const char *name;
        lua_CFunction open;
    } mods[] = {{"tocsin.log", tn_bind_log},       {"tocsin.json", tn_bind_json},
                {"tocsin.config", tn_bind_config}, {"tocsin.http", tn_bind_http},
                {"tocsin.time", tn_bind_time},     {"tocsin.exec", tn_bind_exec},
                {"tocsin.redis", tn_bind_redis},   {"tocsin.emit", tn_bind_emit},
                {"tocsin.notify", tn_bind_notify}};
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
        if (tn_lua_preload(lua, mods[i].name, mods[i].open, (void *)svc)) return -1;
    return 0;
}
