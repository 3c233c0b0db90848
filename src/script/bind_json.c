/* tocsin.json - JSON encode/decode on jansson. */
#include "script/bindings.h"
#include "script/convert.h"

#include <lauxlib.h>
#include <stdlib.h>

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *j = tn_lua_to_json(L, 1, &err);
    if (!j) {
        lua_pushnil(L);
        lua_pushstring(L, err.data ? err.data : "out of memory");
        tn_buf_deinit(&err);
        return 2;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) return luaL_error(L, "json.encode: out of memory");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    json_error_t e;
    json_t *j = json_loadb(s, len, JSON_DECODE_ANY, &e);
    if (!j) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON at line %d column %d: %s", e.line, e.column, e.text);
        return 2;
    }
    tn_lua_push_json(L, j);
    json_decref(j);
    return 1;
}

int tn_bind_json(lua_State *L)
{
    static const luaL_Reg fns[] = {{"encode", l_encode}, {"decode", l_decode}, {NULL, NULL}};
    luaL_newlib(L, fns);
    tn_lua_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}
