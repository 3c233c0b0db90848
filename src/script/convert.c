#include "script/convert.h"

#include <lauxlib.h>
#include <math.h>

static char g_null;

void tn_lua_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, &g_null);
}

static void push(lua_State *L, const json_t *v, int depth)
{
    luaL_checkstack(L, 3, "json too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (json_is_null(x)) continue;
            push(L, x, depth + 1);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(v, i);
            if (json_is_null(x))
                tn_lua_push_null(L);
            else
                push(L, x, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    case JSON_NULL:
        lua_pushnil(L);
        break;
    }
}

void tn_lua_push_json(lua_State *L, const json_t *v)
{
    push(L, v, 0);
}

static json_t *to_json(lua_State *L, int idx, tn_buf_t *err, int depth)
{
    idx = lua_absindex(L, idx);
    if (depth > 64) {
        tn_buf_puts(err, "value nested too deeply (cycle?)");
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        else {
            double d = lua_tonumber(L, idx);
            if (isnan(d) || isinf(d)) {
                tn_buf_puts(err, "NaN and infinity cannot be encoded as JSON");
                return NULL;
            }
            return json_real(d);
        }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        json_t *j = json_stringn(s, len);
        if (!j) tn_buf_puts(err, "string is not valid UTF-8");
        return j;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &g_null) return json_null();
        break;
    case LUA_TTABLE: {
        if (!lua_checkstack(L, 4)) {
            tn_buf_puts(err, "out of stack");
            return NULL;
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        size_t count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            lua_pop(L, 1);
        }
        if (n > 0 && (size_t)n == count) {
            json_t *a = json_array();
            if (!a) return NULL;
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, i);
                json_t *x = to_json(L, -1, err, depth + 1);
                lua_pop(L, 1);
                if (!x || json_array_append_new(a, x)) {
                    json_decref(a);
                    return NULL;
                }
            }
            return a;
        }
        json_t *o = json_object();
        if (!o) return NULL;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                tn_buf_printf(err, "table key of type %s cannot be a JSON object key",
                              luaL_typename(L, -2));
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            json_t *x = to_json(L, -1, err, depth + 1);
            if (!x || json_object_set_new(o, lua_tostring(L, -2), x)) {
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            lua_pop(L, 1);
        }
        return o;
    }
    default:
        break;
    }
    tn_buf_printf(err, "a %s value cannot be encoded as JSON", luaL_typename(L, idx));
    return NULL;
}

json_t *tn_lua_to_json(lua_State *L, int idx, tn_buf_t *err)
{
    return to_json(L, idx, err, 0);
}
