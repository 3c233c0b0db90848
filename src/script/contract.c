#include "script/contract.h"
#include "core/error.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

int tn_contract_line_of(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    char line[1024];
    int n = 0, found = 1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        n++;
        for (char *p = strstr(line, key); p; p = strstr(p + 1, key)) {
            int before_ok = p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
            const char *q = p + klen;
            while (*q == ' ' || *q == '\t')
                q++;
            if (before_ok && *q == '=' && q[1] != '=') {
                found = n;
                goto done;
            }
        }
    }
done:
    fclose(f);
    return found;
}

static const char *type_word(int t)
{
    switch (t) {
    case LUA_TSTRING:
        return "a string";
    case LUA_TNUMBER:
        return "a number";
    case LUA_TFUNCTION:
        return "a function";
    case LUA_TTABLE:
        return "a table";
    case LUA_TBOOLEAN:
        return "a boolean";
    }
    return "?";
}

int tn_contract_check(lua_State *L, int idx, const tn_field_spec_t *spec, const char *path,
                      const char *what, tn_buf_t *err)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE) {
        tn_buf_printf(err, "%s:1: a %s file must return a table (got %s)", path, what,
                      luaL_typename(L, idx));
        return TN_EINVAL;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            tn_buf_printf(err, "%s:1: %s table keys must be names (found a %s key)", path, what,
                          luaL_typename(L, -2));
            lua_pop(L, 2);
            return TN_EINVAL;
        }
        const char *k = lua_tostring(L, -2);
        const tn_field_spec_t *f = spec;
        while (f->key && strcmp(f->key, k) != 0)
            f++;
        if (!f->key) {
            tn_buf_printf(err, "%s:%d: unknown %s field '%s' (allowed:", path,
                          tn_contract_line_of(path, k), what, k);
            for (f = spec; f->key; f++)
                tn_buf_printf(err, " %s", f->key);
            tn_buf_puts(err, ")");
            lua_pop(L, 2);
            return TN_EINVAL;
        }
        if (lua_type(L, -1) != f->type) {
            tn_buf_printf(err, "%s:%d: %s field '%s' must be %s, got %s", path,
                          tn_contract_line_of(path, k), what, k, type_word(f->type),
                          luaL_typename(L, -1));
            lua_pop(L, 2);
            return TN_EINVAL;
        }
        lua_pop(L, 1);
    }
    for (const tn_field_spec_t *f = spec; f->key; f++) {
        if (!f->required) continue;
        lua_pushstring(L, f->key);
        lua_rawget(L, idx); /* no metamethods */
        int missing = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (missing) {
            tn_buf_printf(err, "%s:1: %s is missing required field '%s' (%s)", path, what, f->key,
                          type_word(f->type));
            return TN_EINVAL;
        }
    }
    return 0;
}
