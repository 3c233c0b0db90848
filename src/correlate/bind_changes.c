/* bind_changes.c - recent change events and tocsin.changes; see bind_changes.h. */
#include "correlate/bind_changes.h"
#include "core/error.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *type, *service, *title, *version;
    int64_t ts_ms;
} change_t;

struct tn_changes {
    change_t ring[TN_CHANGES_MAX];
    size_t head, n; /* ring[head] is the oldest */
};

tn_changes_t *tn_changes_create(void)
{
    return calloc(1, sizeof(tn_changes_t));
}

static void change_free(change_t *c)
{
    free(c->type), free(c->service), free(c->title), free(c->version);
    memset(c, 0, sizeof *c);
}

void tn_changes_destroy(tn_changes_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        change_free(&c->ring[(c->head + i) % TN_CHANGES_MAX]);
    free(c);
}

size_t tn_changes_count(const tn_changes_t *c)
{
    return c->n;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int tn_changes_add(tn_changes_t *c, const char *type, const char *service, const char *title,
                   const char *version, int64_t ts_ms)
{
    change_t n = {dup_or_empty(type), dup_or_empty(service), dup_or_empty(title),
                  dup_or_empty(version), ts_ms};
    if (!n.type || !n.service || !n.title || !n.version) {
        change_free(&n);
        return TN_ENOMEM;
    }
    if (c->n == TN_CHANGES_MAX) { /* the oldest goes */
        change_free(&c->ring[c->head]);
        c->head = (c->head + 1) % TN_CHANGES_MAX;
        c->n--;
    }
    c->ring[(c->head + c->n) % TN_CHANGES_MAX] = n;
    c->n++;
    return 0;
}

static int l_recent(lua_State *L)
{
    tn_changes_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *service = NULL;
    int64_t since = INT64_MIN, until = INT64_MAX;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        if (lua_getfield(L, 1, "service") == LUA_TSTRING) service = lua_tostring(L, -1);
        if (lua_getfield(L, 1, "since_ms") != LUA_TNIL) since = (int64_t)luaL_checkinteger(L, -1);
        if (lua_getfield(L, 1, "until_ms") != LUA_TNIL) until = (int64_t)luaL_checkinteger(L, -1);
        /* service stays anchored on the stack */
    }
    lua_newtable(L);
    int k = 0;
    for (size_t i = c ? c->n : 0; i-- > 0;) { /* newest first */
        const change_t *ch = &c->ring[(c->head + i) % TN_CHANGES_MAX];
        if (ch->ts_ms < since || ch->ts_ms > until) continue;
        if (service && strcmp(service, ch->service)) continue;
        lua_createtable(L, 0, 5);
        lua_pushstring(L, ch->type);
        lua_setfield(L, -2, "type");
        lua_pushstring(L, ch->service);
        lua_setfield(L, -2, "service");
        lua_pushstring(L, ch->title);
        lua_setfield(L, -2, "title");
        lua_pushstring(L, ch->version);
        lua_setfield(L, -2, "version");
        lua_pushinteger(L, ch->ts_ms);
        lua_setfield(L, -2, "ts");
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

int tn_correlate_open_changes(lua_State *L)
{
    static const luaL_Reg fns[] = {{"recent", l_recent}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
