#include "script/scriptset.h"
#include "script/bindings.h"
#include "script/state.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct tn_scriptset {
    tn_scriptset_opts_t o;
    char *dir;
    char *kind;
    tn_script_t *items; /* sorted by path */
    size_t n, cap;
};

tn_scriptset_t *tn_scriptset_create(const tn_scriptset_opts_t *opts)
{
    tn_scriptset_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->o = *opts;
    s->dir = strdup(opts->dir);
    s->kind = strdup(opts->kind);
    if (!s->dir || !s->kind) {
        free(s->dir), free(s->kind), free(s);
        return NULL;
    }
    s->o.dir = s->dir;
    s->o.kind = s->kind;
    return s;
}

static void script_release(tn_script_t *sc)
{
    if (sc->lua) {
        luaL_unref(tn_lua_state(sc->lua), LUA_REGISTRYINDEX, sc->ref);
        tn_lua_release(sc->lua);
    }
    free(sc->path);
    free(sc->name);
    memset(sc, 0, sizeof *sc);
}

void tn_scriptset_destroy(tn_scriptset_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        script_release(&s->items[i]);
    free(s->items);
    free(s->dir);
    free(s->kind);
    free(s);
}

size_t tn_scriptset_count(const tn_scriptset_t *s)
{
    return s->n;
}
tn_script_t *tn_scriptset_at(tn_scriptset_t *s, size_t i)
{
    return i < s->n ? &s->items[i] : NULL;
}
const char *tn_scriptset_dir(const tn_scriptset_t *s)
{
    return s->dir;
}

tn_script_t *tn_scriptset_find(tn_scriptset_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].name, name) == 0) return &s->items[i];
    return NULL;
}

void tn_script_push(const tn_script_t *sc)
{
    lua_rawgeti(tn_lua_state(sc->lua), LUA_REGISTRYINDEX, sc->ref);
}

/* Builds a script from path in a new state. carried: state to carry over (borrowed). */
static int build(const tn_scriptset_opts_t *o, const char *path, const json_t *carried,
                 tn_script_t *out, tn_buf_t *err)
{
    const tn_config_t *cfg = o->cfg;
    tn_lua_opts_t lo = {.name = path,
                        .lib_dir = cfg->scripts.lib_dir,
                        .memory_limit = (size_t)cfg->scripts.memory_limit,
                        .instruction_limit = (uint64_t)cfg->scripts.instruction_limit,
                        .owner = o->owner};
    tn_lua_t *lua = tn_lua_create(&lo);
    if (!lua) return TN_ENOMEM;
    if (tn_bind_all(lua, o->svc) || (o->setup && o->setup(o->owner, lua)) ||
        tn_state_preload(lua, carried)) {
        tn_lua_release(lua);
        return TN_ENOMEM;
    }
    lua_State *L = tn_lua_state(lua);
    int rc = tn_lua_dofile(lua, path, err);
    if (rc == 0) {
        rc = o->validate ? o->validate(o->owner, L, path, err) : 0;
        if (rc == 0 && out) {
            lua_pushliteral(L, "name");
            lua_rawget(L, -2);
            const char *name = lua_tostring(L, -1);
            out->name = strdup(name ? name : "");
            lua_pop(L, 1);
            out->path = strdup(path);
            lua_pushvalue(L, -1);
            out->ref = luaL_ref(L, LUA_REGISTRYINDEX);
            out->lua = lua;
            if (!out->name || !out->path || out->ref == LUA_REFNIL) {
                free(out->name), free(out->path);
                out->lua = NULL;
                rc = TN_ENOMEM;
            }
        }
        lua_pop(L, 1);
    }
    if (rc || !out) tn_lua_release(lua);
    return rc;
}

int tn_scriptset_check_file(const tn_scriptset_opts_t *opts, const char *path, tn_buf_t *err)
{
    return build(opts, path, NULL, NULL, err);
}

static size_t find_path(const tn_scriptset_t *s, const char *path, int *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->items[mid].path, path);
        if (c == 0) return *found = 1, mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static void remove_at(tn_scriptset_t *s, size_t i)
{
    tn_log_info("script", "%s '%s' removed (%s is gone)", s->kind, s->items[i].name,
                s->items[i].path);
    if (s->o.catalog) tn_catalog_removed(s->o.catalog, s->items[i].path);
    script_release(&s->items[i]);
    memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof *s->items);
    s->n--;
}

int tn_scriptset_reload_file(tn_scriptset_t *s, const char *path, tn_buf_t *err)
{
    int found;
    size_t i = find_path(s, path, &found);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (found) remove_at(s, i);
        return 0;
    }
    json_t *carried = NULL;
    if (found) {
        tn_buf_t e2;
        tn_buf_init(&e2);
        carried = tn_state_export(s->items[i].lua, &e2);
        if (!carried && e2.len)
            tn_log_warn("script", "%s: tocsin.state not carried over: %s", path, e2.data);
        tn_buf_deinit(&e2);
    }
    tn_script_t sc;
    memset(&sc, 0, sizeof sc);
    int rc = build(&s->o, path, carried, &sc, err);
    json_decref(carried);
    if (rc == 0) {
        for (size_t j = 0; j < s->n; j++) {
            if (j != i || !found) {
                if (strcmp(s->items[j].name, sc.name) == 0) {
                    tn_buf_printf(err, "%s:%d: %s name '%s' is already used by %s", path, 1,
                                  s->kind, sc.name, s->items[j].path);
                    script_release(&sc);
                    rc = TN_EEXIST;
                    break;
                }
            }
        }
    }
    if (rc == 0 && !found && s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        tn_script_t *p = realloc(s->items, cap * sizeof *p);
        if (!p) {
            script_release(&sc);
            tn_buf_puts(err, "out of memory");
            rc = TN_ENOMEM;
        } else {
            s->items = p;
            s->cap = cap;
        }
    }
    if (rc) {
        if (!err->len) tn_buf_printf(err, "%s: %s", path, tn_strerror(rc));
        tn_log_error("script", "%s not %s: %s%s", s->kind, found ? "reloaded" : "loaded", err->data,
                     found ? " (the previous version stays active)" : "");
        if (s->o.catalog) tn_catalog_failed(s->o.catalog, path, s->kind, err->data);
        return rc;
    }
    if (found) {
        script_release(&s->items[i]); /* running tasks keep the old state alive */
    } else {
        memmove(&s->items[i + 1], &s->items[i], (s->n - i) * sizeof *s->items);
        s->n++;
    }
    s->items[i] = sc;
    if (s->o.catalog) {
        tn_catalog_loaded(s->o.catalog, path, s->kind, sc.name);
        tn_log_info("script", "%s '%s' %s from %s (version %u)", s->kind, sc.name,
                    found ? "reloaded" : "loaded", path, tn_catalog_version(s->o.catalog, path));
    } else {
        tn_log_info("script", "%s '%s' %s from %s", s->kind, sc.name, found ? "reloaded" : "loaded",
                    path);
    }
    return 0;
}

int tn_scriptset_reload_all(tn_scriptset_t *s)
{
    char **files;
    size_t n;
    int rc = tn_fs_list(s->dir, ".lua", &files, &n);
    if (rc == TN_ENOTFOUND) {
        tn_log_warn("script", "%s directory %s not found: no %ss loaded", s->kind, s->dir, s->kind);
        files = NULL, n = 0;
    } else if (rc) {
        return rc;
    }
    /* drop scripts whose files are gone */
    for (size_t i = s->n; i-- > 0;) {
        int keep = 0;
        for (size_t j = 0; j < n && !keep; j++)
            keep = strcmp(files[j], s->items[i].path) == 0;
        if (!keep) remove_at(s, i);
    }
    int failed = 0;
    tn_buf_t err;
    tn_buf_init(&err);
    for (size_t j = 0; j < n; j++) {
        tn_buf_reset(&err);
        if (tn_scriptset_reload_file(s, files[j], &err)) failed++;
    }
    tn_buf_deinit(&err);
    tn_fs_list_free(files, n);
    return failed;
}
