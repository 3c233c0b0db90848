/* detect_policy.c - detection policy files (Lua) -> detect/policy.h; see detect_policy.h. */
#include "script/detect_policy.h"
#include "core/error.h"
#include "script/contract.h"

#include <lauxlib.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MATCHERS 16

typedef enum { P_UINT, P_DOUBLE } ptype_t;

static const struct {
    const char *key;
    ptype_t type;
    size_t off;
} g_params[] = {
    {"threshold", P_DOUBLE, offsetof(tn_ens_params_t, threshold)},
    {"agree", P_UINT, offsetof(tn_ens_params_t, agree)},
    {"strong", P_DOUBLE, offsetof(tn_ens_params_t, strong)},
    {"min_samples", P_UINT, offsetof(tn_ens_params_t, min_samples)},
    {"clear_after", P_UINT, offsetof(tn_ens_params_t, clear_after)},
    {"window", P_UINT, offsetof(tn_ens_params_t, window)},
    {"ewma_alpha", P_DOUBLE, offsetof(tn_ens_params_t, ewma_alpha)},
    {"ar_p", P_UINT, offsetof(tn_ens_params_t, ar_p)},
    {"ar_window", P_UINT, offsetof(tn_ens_params_t, ar_window)},
    {"ar_refit", P_UINT, offsetof(tn_ens_params_t, ar_refit)},
    {"hw_alpha", P_DOUBLE, offsetof(tn_ens_params_t, hw_alpha)},
    {"hw_beta", P_DOUBLE, offsetof(tn_ens_params_t, hw_beta)},
    {"hw_gamma", P_DOUBLE, offsetof(tn_ens_params_t, hw_gamma)},
    {"hw_season", P_UINT, offsetof(tn_ens_params_t, hw_season)},
    {"season_buckets", P_UINT, offsetof(tn_ens_params_t, season_buckets)},
    {"season_periods", P_UINT, offsetof(tn_ens_params_t, season_periods)},
    {"gap_factor", P_DOUBLE, offsetof(tn_ens_params_t, gap_factor)},
    {"shift_recent", P_UINT, offsetof(tn_ens_params_t, shift_recent)},
};
#define NPARAMS (sizeof g_params / sizeof g_params[0])

/* The keys of a `defaults` table (the parameters) and of a policy entry (those and matching). */
static const tn_field_spec_t g_file_spec[] = {
    {"name", LUA_TSTRING, 1, "name of this policy file"},
    {"description", LUA_TSTRING, 0, "what it is for"},
    {"defaults", LUA_TTABLE, 0, "parameters for series no policy matches"},
    {"policies", LUA_TTABLE, 0, "ordered list: the first match wins"},
    {NULL, 0, 0, NULL}};

static int line_of(const char *path, const char *key)
{
    return tn_contract_line_of(path, key);
}

/* Is every key of the table at idx a parameter, a matching key (when entry), or `detectors` /
 * `seasons`? */
static int check_keys(lua_State *L, int idx, int entry, const char *path, const char *where,
                      tn_buf_t *err)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            tn_buf_printf(err, "%s:%d: %s: keys must be names (found a %s key)", path,
                          line_of(path, where), where, luaL_typename(L, -1));
            lua_pop(L, 1);
            return TN_EINVAL;
        }
        const char *k = lua_tostring(L, -1);
        int ok = !strcmp(k, "detectors") || !strcmp(k, "seasons");
        for (size_t i = 0; i < NPARAMS && !ok; i++)
            ok = !strcmp(k, g_params[i].key);
        if (entry && !ok) ok = !strcmp(k, "name") || !strcmp(k, "metric") || !strcmp(k, "labels");
        if (!ok) {
            tn_buf_printf(err, "%s:%d: %s: unknown key '%s' (parameters:", path, line_of(path, k),
                          where, k);
            for (size_t i = 0; i < NPARAMS; i++)
                tn_buf_printf(err, " %s", g_params[i].key);
            tn_buf_printf(err, " detectors seasons%s)",
                          entry ? "; matching: name metric labels" : "");
            lua_pop(L, 1);
            return TN_EINVAL;
        }
    }
    return 0;
}

/* "90s", "5m", "12h", "1d", "1w" or a number of seconds -> ms. 0 or -1. */
static int parse_duration(lua_State *L, int idx, int64_t *ms)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        double s = lua_tonumber(L, idx);
        if (!(s >= 1 && s <= 1e9)) return -1;
        *ms = (int64_t)llround(s * 1000);
        return 0;
    }
    if (lua_type(L, idx) != LUA_TSTRING) return -1;
    const char *s = lua_tostring(L, idx);
    char *end;
    double v = strtod(s, &end);
    static const struct {
        char unit;
        double ms;
    } units[] = {{'s', 1e3}, {'m', 6e4}, {'h', 3.6e6}, {'d', 8.64e7}, {'w', 6.048e8}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (end != s && end[0] == units[i].unit && end[1] == '\0' && v > 0 &&
            v * units[i].ms <= 1e12) {
            *ms = (int64_t)llround(v * units[i].ms);
            return 0;
        }
    }
    return -1;
}

/* Reads the parameters of the table at idx into *p (keys already checked). */
static int read_params(lua_State *L, int idx, const char *path, const char *where,
                       tn_ens_params_t *p, tn_buf_t *err)
{
    idx = lua_absindex(L, idx);
    for (size_t i = 0; i < NPARAMS; i++) {
        int t = lua_getfield(L, idx, g_params[i].key);
        if (t == LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        double v = lua_tonumber(L, -1);
        int isnum = t == LUA_TNUMBER;
        lua_pop(L, 1);
        if (!isnum || !isfinite(v) || v < 0 ||
            (g_params[i].type == P_UINT && (v != floor(v) || v > 1e9))) {
            tn_buf_printf(err, "%s:%d: %s: %s must be a %s", path, line_of(path, g_params[i].key),
                          where, g_params[i].key,
                          g_params[i].type == P_UINT ? "whole number >= 0" : "number >= 0");
            return TN_EINVAL;
        }
        char *f = (char *)p + g_params[i].off;
        if (g_params[i].type == P_UINT)
            *(uint32_t *)(void *)f = (uint32_t)v;
        else
            *(double *)(void *)f = v;
    }
    if (lua_getfield(L, idx, "detectors") != LUA_TNIL) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) < 1) {
            tn_buf_printf(err, "%s:%d: %s: detectors must be a non-empty list of names", path,
                          line_of(path, "detectors"), where);
            lua_pop(L, 1);
            return TN_EINVAL;
        }
        uint32_t mask = 0;
        for (lua_Integer k = 1; k <= luaL_len(L, -1); k++) {
            lua_geti(L, -1, k);
            int id = lua_type(L, -1) == LUA_TSTRING ? tn_det_parse(lua_tostring(L, -1)) : -1;
            if (id < 0) {
                tn_buf_printf(err, "%s:%d: %s: unknown detector '%s' (known:", path,
                              line_of(path, "detectors"), where,
                              lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
                for (int d = 0; d < TN_DET_COUNT; d++)
                    tn_buf_printf(err, " %s", tn_det_name(d));
                tn_buf_puts(err, ")");
                lua_pop(L, 2);
                return TN_EINVAL;
            }
            mask |= TN_DET_BIT(id);
            lua_pop(L, 1);
        }
        p->detectors = mask;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "seasons") != LUA_TNIL) {
        lua_Integer n = lua_istable(L, -1) ? luaL_len(L, -1) : -1;
        if (n < 1 || n > TN_SEASONS_MAX) {
            tn_buf_printf(err, "%s:%d: %s: seasons must be a list of 1 to %d durations", path,
                          line_of(path, "seasons"), where, TN_SEASONS_MAX);
            lua_pop(L, 1);
            return TN_EINVAL;
        }
        for (lua_Integer k = 1; k <= n; k++) {
            lua_geti(L, -1, k);
            int bad = parse_duration(L, -1, &p->seasons_ms[k - 1]);
            lua_pop(L, 1);
            if (bad) {
                tn_buf_printf(err,
                              "%s:%d: %s: seasons[%lld] is not a duration (seconds, or \"30m\", "
                              "\"1d\", \"1w\"...)",
                              path, line_of(path, "seasons"), where, (long long)k);
                lua_pop(L, 1);
                return TN_EINVAL;
            }
        }
        p->n_seasons = (uint32_t)n;
    }
    lua_pop(L, 1);
    tn_ens_params_t copy = *p;
    if (tn_ens_params_resolve(&copy)) {
        tn_buf_printf(err, "%s:%d: %s: a parameter is out of range (see docs/detection.md)", path,
                      line_of(path, where), where);
        return TN_EINVAL;
    }
    return 0;
}

/* Builds the matchers of an entry's `labels` table. Strings in m point into Lua (valid while
 * the table is on the stack). */
static int read_labels(lua_State *L, int idx, const char *path, const char *where,
                       tn_policy_matcher_t *m, size_t *nm, tn_buf_t *err)
{
    *nm = 0;
    idx = lua_absindex(L, idx);
    if (lua_getfield(L, idx, "labels") == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_istable(L, -1)) {
        tn_buf_printf(err, "%s:%d: %s: labels must be a table of name = pattern", path,
                      line_of(path, "labels"), where);
        lua_pop(L, 1);
        return TN_EINVAL;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            tn_buf_printf(err, "%s:%d: %s: labels must map names to strings", path,
                          line_of(path, "labels"), where);
            lua_pop(L, 3);
            return TN_EINVAL;
        }
        if (*nm == MAX_MATCHERS) {
            tn_buf_printf(err, "%s:%d: %s: at most %d label matchers", path,
                          line_of(path, "labels"), where, MAX_MATCHERS);
            lua_pop(L, 3);
            return TN_EINVAL;
        }
        const char *v = lua_tostring(L, -1);
        int neg = v[0] == '!';
        const char *pat = v + neg;
        int glob = strpbrk(pat, "*?") != NULL;
        m[*nm] = (tn_policy_matcher_t){.label = lua_tostring(L, -2),
                                       .pattern = pat,
                                       .op = glob ? (neg ? TN_MATCH_NGLOB : TN_MATCH_GLOB)
                                                  : (neg ? TN_MATCH_NE : TN_MATCH_EQ)};
        (*nm)++;
        lua_pop(L, 1);
    }
    return 0; /* the labels table stays on the stack: the caller pops it */
}

int tn_detect_policy_check(lua_State *L, int idx, const char *path, tn_buf_t *err)
{
    idx = lua_absindex(L, idx);
    int rc = tn_contract_check(L, idx, g_file_spec, path, "detection policy", err);
    if (rc) return rc;
    tn_ens_params_t d = {0};
    int present;
    if ((rc = tn_detect_policy_defaults(L, idx, path, &d, &present, err))) return rc;
    tn_policy_t *p = tn_policy_create(present ? &d : NULL);
    if (!p) return TN_ENOMEM;
    rc = tn_detect_policy_add(L, idx, path, p, err);
    tn_policy_unref(p);
    return rc;
}

int tn_detect_policy_defaults(lua_State *L, int idx, const char *path, tn_ens_params_t *out,
                              int *present, tn_buf_t *err)
{
    idx = lua_absindex(L, idx);
    memset(out, 0, sizeof *out);
    *present = 0;
    if (lua_getfield(L, idx, "defaults") == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int rc = check_keys(L, -1, 0, path, "defaults", err);
    if (!rc) rc = read_params(L, -1, path, "defaults", out, err);
    lua_pop(L, 1);
    *present = rc == 0;
    return rc;
}

int tn_detect_policy_add(lua_State *L, int idx, const char *path, tn_policy_t *p, tn_buf_t *err)
{
    idx = lua_absindex(L, idx);
    if (lua_getfield(L, idx, "policies") == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int rc = 0, base = lua_gettop(L);
    if (!lua_istable(L, -1)) {
        tn_buf_printf(err, "%s:%d: policies must be a list of tables", path,
                      line_of(path, "policies"));
        lua_pop(L, 1);
        return TN_EINVAL;
    }
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer k = 1; k <= n && !rc; k++) {
        char where[64];
        snprintf(where, sizeof where, "policies[%lld]", (long long)k);
        lua_geti(L, -1, k);
        if (!lua_istable(L, -1)) {
            tn_buf_printf(err, "%s:%d: %s must be a table", path, line_of(path, "policies"), where);
            lua_settop(L, base - 1);
            return TN_EINVAL;
        }
        rc = check_keys(L, -1, 1, path, where, err);
        const char *name = NULL, *metric = NULL;
        if (!rc) {
            int tn = lua_getfield(L, -1, "name"), tm = lua_getfield(L, -2, "metric");
            if ((tn != LUA_TNIL && tn != LUA_TSTRING) || (tm != LUA_TNIL && tm != LUA_TSTRING)) {
                tn_buf_printf(
                    err, "%s:%d: %s: name and metric must be strings", path,
                    line_of(path, tm != LUA_TNIL && tm != LUA_TSTRING ? "metric" : "name"), where);
                rc = TN_EINVAL;
            }
            name = tn == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            metric = tm == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            /* the two strings stay on the stack while used */
        }
        tn_ens_params_t params = {0};
        if (!rc) rc = read_params(L, -3, path, where, &params, err);
        tn_policy_matcher_t m[MAX_MATCHERS];
        size_t nm = 0;
        if (!rc) rc = read_labels(L, -3, path, where, m, &nm, err);
        if (!rc) {
            const char *why = NULL;
            rc = tn_policy_add(p, name, metric, m, nm, &params, &why);
            if (rc == TN_EINVAL)
                tn_buf_printf(err, "%s:%d: %s: %s", path, line_of(path, "policies"), where,
                              why ? why : "invalid");
        }
        lua_settop(L, base); /* entry, name, metric and labels go */
    }
    lua_settop(L, base - 1);
    return rc;
}
