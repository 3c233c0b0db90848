/* tocsin.log - engine log lines from scripts, tagged with the script's name. */
#include "script/bindings.h"
#include "script/runtime.h"
#include "core/log.h"

#include <lauxlib.h>

static int do_log(lua_State *L, tn_log_level_t level)
{
    int n = lua_gettop(L);
    const char *msg;
    if (n >= 2) {
        /* string.format(fmt, ...) */
        lua_getglobal(L, "string");
        lua_getfield(L, -1, "format");
        lua_remove(L, -2);
        lua_insert(L, 1);
        lua_call(L, n, 1);
        msg = lua_tostring(L, -1);
    } else {
        msg = luaL_tolstring(L, 1, NULL);
    }
    tn_log(level, "script", "%s: %s", tn_lua_name(tn_lua_from(L)), msg ? msg : "");
    return 0;
}

static int l_debug(lua_State *L)
{
    return do_log(L, TN_LOG_DEBUG);
}
static int l_info(lua_State *L)
{
    return do_log(L, TN_LOG_INFO);
}
static int l_warn(lua_State *L)
{
    return do_log(L, TN_LOG_WARN);
}
static int l_error(lua_State *L)
{
    return do_log(L, TN_LOG_ERROR);
}

int tn_bind_log(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"debug", l_debug}, {"info", l_info}, {"warn", l_warn}, {"error", l_error}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
