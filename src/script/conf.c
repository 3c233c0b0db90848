#include "script/conf.h"
#include "script/runtime.h"
#include "core/error.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

static const char *lua_type_word(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) return lua_isinteger(L, idx) ? "integer" : "number";
    return luaL_typename(L, idx);
}

static int has_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (const tn_conf_opt_t *o = tn_config_schema(); o->key; o++)
        if (strncmp(o->key, prefix, n) == 0 && o->key[n] == '.') return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A list key given as a table of string keys: each pair becomes the item "name=value" (sorted,
 * so the order does not depend on the table's). */
static int set_pairs(tn_config_t *cfg, lua_State *L, const tn_conf_opt_t *o, const char *path,
                     tn_buf_t *err)
{
    size_t n = 0, cap = 8;
    char **items = malloc(cap * sizeof *items);
    int rc = items ? 0 : TN_ENOMEM;
    lua_pushnil(L);
    while (!rc && lua_next(L, -2)) {
        int kt = lua_type(L, -2), vt = lua_type(L, -1);
        if (kt != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TNUMBER)) {
            tn_buf_printf(err,
                          "%s: key '%s' must be a list of strings or a table of name = value "
                          "strings (found %s = %s)",
                          path, o->key, lua_type_word(L, -2), lua_type_word(L, -1));
            lua_pop(L, 2);
            rc = TN_EINVAL;
            break;
        }
        char **grown = n == cap ? realloc(items, (cap *= 2) * sizeof *items) : items;
        size_t kl, vl;
        const char *k = lua_tolstring(L, -2, &kl);
        lua_pushvalue(L, -1); /* tolstring on a copy: a number key would confuse lua_next */
        const char *v = lua_tolstring(L, -1, &vl);
        char *it = grown ? malloc(kl + vl + 2) : NULL;
        if (!it) {
            if (grown) items = grown;
            lua_pop(L, 3);
            rc = TN_ENOMEM;
            break;
        }
        items = grown;
        memcpy(it, k, kl);
        it[kl] = '=';
        memcpy(it + kl + 1, v, vl + 1);
        items[n++] = it;
        lua_pop(L, 2);
    }
    if (!rc) {
        qsort(items, n, sizeof *items, cmp_str);
        rc = tn_config_set_list(cfg, o, (const char *const *)items, n);
    }
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    return rc;
}

static int set_value(tn_config_t *cfg, lua_State *L, const tn_conf_opt_t *o, const char *path,
                     tn_buf_t *err)
{
    int t = lua_type(L, -1);
    switch (o->type) {
    case TN_CONF_STR:
        if (t != LUA_TSTRING) break;
        return tn_config_set_str(cfg, o, lua_tostring(L, -1));
    case TN_CONF_INT:
    case TN_CONF_NUM:
        if (t != LUA_TNUMBER) break;
        {
            int rc = tn_config_set_num(cfg, o, lua_tonumber(L, -1), err);
            if (rc) {
                tn_buf_t tmp;
                tn_buf_init(&tmp);
                tn_buf_printf(&tmp, "%s: %s", path, err->data);
                tn_buf_reset(err);
                tn_buf_puts(err, tmp.data);
                tn_buf_deinit(&tmp);
            }
            return rc;
        }
    case TN_CONF_BOOL:
        if (t != LUA_TBOOLEAN) break;
        return tn_config_set_bool(cfg, o, lua_toboolean(L, -1));
    case TN_CONF_LIST: {
        if (t != LUA_TTABLE) break;
        size_t n = lua_rawlen(L, -1);
        if (n == 0) {
            lua_pushnil(L);
            if (lua_next(L, -2)) { /* { name = "value", ... }: NAME=VALUE items */
                lua_pop(L, 2);
                return set_pairs(cfg, L, o, path, err);
            }
        }
        const char **items = calloc(n ? n : 1, sizeof *items);
        if (!items) return TN_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING) {
                tn_buf_printf(err, "%s: key '%s' must be a list of strings, item %zu is %s", path,
                              o->key, i + 1, lua_type_word(L, -1));
                lua_pop(L, 1);
                free(items);
                return TN_EINVAL;
            }
            items[i] = lua_tostring(L, -1); /* anchored by the table */
            lua_pop(L, 1);
        }
        int rc = tn_config_set_list(cfg, o, items, n);
        free(items);
        return rc;
    }
    }
    static const char *want[] = {"a string", "an integer", "a number", "a boolean",
                                 "a list of strings"};
    tn_buf_printf(err, "%s: key '%s' must be %s, got %s", path, o->key, want[o->type],
                  lua_type_word(L, -1));
    return TN_EINVAL;
}

/* Walks the table at the top of the stack; prefix "" for the root. */
static int walk(tn_config_t *cfg, lua_State *L, const char *prefix, const char *path, tn_buf_t *err)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            tn_buf_printf(err, "%s: configuration keys must be strings (found a %s key%s%s)", path,
                          lua_type_word(L, -2), *prefix ? " in " : "", prefix);
            lua_pop(L, 2);
            return TN_EINVAL;
        }
        char key[256];
        int n =
            snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", lua_tostring(L, -2));
        if (n < 0 || (size_t)n >= sizeof key) {
            tn_buf_printf(err, "%s: key too long", path);
            lua_pop(L, 2);
            return TN_EINVAL;
        }
        const tn_conf_opt_t *o = tn_config_find(key);
        int rc;
        if (o)
            rc = set_value(cfg, L, o, path, err);
        else if (lua_type(L, -1) == LUA_TTABLE && has_section(key))
            rc = walk(cfg, L, key, path, err);
        else {
            tn_buf_printf(err, "%s: unknown key '%s'", path, key);
            rc = TN_EINVAL;
        }
        if (rc) {
            lua_pop(L, 2);
            return rc;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static int l_getenv(lua_State *L)
{
    const char *v = getenv(luaL_checkstring(L, 1));
    if (v)
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
    return 1;
}

int tn_config_load_lua(tn_config_t *cfg, const char *path, tn_buf_t *err)
{
    tn_lua_opts_t opts = {.name = path, .memory_limit = 16u << 20, .instruction_limit = 10000000};
    tn_lua_t *lua = tn_lua_create(&opts);
    if (!lua) return TN_ENOMEM;
    lua_State *L = tn_lua_state(lua);
    lua_getglobal(L, "os");
    lua_pushcfunction(L, l_getenv);
    lua_setfield(L, -2, "getenv");
    lua_pop(L, 1);
    int rc = tn_lua_dofile(lua, path, err);
    if (rc == 0) {
        if (lua_type(L, -1) != LUA_TTABLE) {
            tn_buf_printf(err, "%s: the configuration file must return a table (got %s)", path,
                          lua_type_word(L, -1));
            rc = TN_EINVAL;
        } else {
            rc = walk(cfg, L, "", path, err);
        }
        lua_pop(L, 1);
    }
    tn_lua_release(lua);
    return rc;
}
