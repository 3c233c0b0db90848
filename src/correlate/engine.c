#include "correlate/engine.h"
#include "correlate/bind_changes.h"
#include "correlate/bind_rca.h"
#include "correlate/bind_similarity.h"
#include "correlate/bind_topology.h"
#include "script/bindings.h"
#include "script/contract.h"
#include "script/convert.h"
#include "script/runtime.h"
#include "script/scriptset.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

/* Work caused by one anomaly: incident writes in flight and runbooks asked for. */
typedef struct {
    unsigned pending;
    int err;
    void (*done)(int err, void *arg);
    void *arg;
} dispatch_t;

typedef struct {
    char *runbook;
    json_t *params;
    json_t *incident;
    char *origin;
} rb_request_t;

struct tn_correlate {
    tn_correlate_opts_t o;
    tn_incidents_t *incidents;
    tn_scriptset_t *rules;
    tn_graph_t *graph;     /* the service graph the rules query (tocsin.topology) */
    tn_changes_t *changes; /* recent deploys and config changes (tocsin.changes) */
    dispatch_t *current;   /* during a rule call */
    const tn_script_t *current_rule;
    /* the incident the signal in hand was placed in by a rule (open or attach), "" = none */
    char placed[40];
    char placed_by[128];
    int placed_new, placed_reopened;
    rb_request_t *reqs;
    size_t nreqs, capreqs;
    tn_metric_t *m_calls, *m_errors, *m_silenced;
};

static const tn_field_spec_t g_rule_spec[] = {
    {"name", LUA_TSTRING, 1, "unique rule name"},
    {"description", LUA_TSTRING, 0, "what the rule does"},
    {"on_signal", LUA_TFUNCTION, 0, "function(signal) called for every alert and anomaly"},
    {"on_anomaly", LUA_TFUNCTION, 0, "function(anomaly) called for every anomaly"},
    {"on_alert", LUA_TFUNCTION, 0, "function(alert) called for every firing alert"},
    {NULL, 0, 0, NULL},
};

/* ---- tocsin.incident ---------------------------------------------------------------- */

static void dispatch_written(int err, void *arg)
{
    dispatch_t *d = arg;
    if (err && !d->err) d->err = err;
    if (--d->pending == 0) {
        if (d->done) d->done(d->err, d->arg);
        free(d);
    }
}

static const char *opt_field(lua_State *L, int t, const char *k, int required)
{
    lua_getfield(L, t, k);
    const char *v = NULL;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "incident.open: field '%s' must be a string", k);
        v = lua_tostring(L, -1); /* anchored in the options table */
    } else if (required) {
        luaL_error(L, "incident.open: field '%s' is required", k);
    }
    lua_pop(L, 1);
    return v;
}

int tn_correlate_push_incident(lua_State *L, const tn_incident_t *inc, int rc, const char *why,
                               const char *invalid, const char *what)
{
    if (rc) {
        lua_pushnil(L);
        if (rc == TN_ENOTFOUND)
            lua_pushliteral(L, "not_found");
        else if (rc == TN_EINVAL)
            lua_pushfstring(L, "%s: %s", invalid, why ? why : "?");
        else
            lua_pushstring(L, tn_strerror(rc));
        return 2;
    }
    json_t *j = inc ? tn_incident_to_json(inc) : NULL;
    if (!j) return luaL_error(L, "%s: out of memory", what);
    tn_lua_push_json(L, j);
    json_decref(j);
    return 1;
}

/* Notes where the signal in hand went (the later rules see it as signal.incident). */
static void place(tn_correlate_t *c, const tn_incident_t *inc, int created, int reopened)
{
    if (strcmp(c->placed, inc->id)) c->placed_new = c->placed_reopened = 0;
    snprintf(c->placed, sizeof c->placed, "%s", inc->id);
    snprintf(c->placed_by, sizeof c->placed_by, "%s",
             c->current_rule ? c->current_rule->name : "rule");
    c->placed_new |= created;
    c->placed_reopened |= reopened;
}

static int l_incident_open(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *title = opt_field(L, 1, "title", 1);
    const char *fp = opt_field(L, 1, "fingerprint", 0);
    const char *service = opt_field(L, 1, "service", 0);
    const char *severity = opt_field(L, 1, "severity", 0);
    if (severity && strcmp(severity, "critical") && strcmp(severity, "warning") &&
        strcmp(severity, "info"))
        return luaL_error(L, "incident.open: severity must be critical, warning or info");
    tn_lua_check_context(L, TN_CTX_RULE, "incident.open");
    if (!c || !c->current) return luaL_error(L, "incident.open: no anomaly is being handled");
    json_t *alert = NULL;
    lua_getfield(L, 1, "alert");
    if (!lua_isnil(L, -1)) {
        tn_buf_t err;
        tn_buf_init(&err);
        alert = tn_lua_to_json(L, -1, &err);
        tn_buf_deinit(&err);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "reopen");
    int reopen = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_pop(L, 1);
    tn_incident_open_t req = {.fingerprint = fp ? fp : title,
                              .title = title,
                              .service = service,
                              .severity = severity,
                              .alert = alert,
                              .now_ms = tn_now_ms(),
                              .reopen_window_ms =
                                  reopen ? c->o.cfg->correlate.reopen_window_s * 1000 : 0};
    tn_incident_t *inc;
    int created;
    c->current->pending++;
    int rc = tn_incidents_open(c->incidents, &req, &inc, &created, dispatch_written, c->current);
    json_decref(alert);
    if (rc) {
        c->current->pending--;
        lua_pushnil(L);
        lua_pushstring(L, tn_strerror(rc));
        return 2;
    }
    place(c, inc, created == 1, created == 2);
    json_t *j = tn_incident_to_json(inc);
    if (!j) return luaL_error(L, "incident.open: out of memory");
    tn_lua_push_json(L, j);
    json_decref(j);
    lua_pushboolean(L, created == 1);
    lua_setfield(L, -2, "new");
    lua_pushboolean(L, created == 2);
    lua_setfield(L, -2, "reopened");
    return 1;
}

/* incident.<verb>(id [, { by = ..., note = ... }]) -> the incident, or nil, reason. */
static int set_state(lua_State *L, const char *state, const char *verb)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1);
    const char *by = NULL, *note = NULL;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        by = opt_field(L, 2, "by", 0);
        note = opt_field(L, 2, "note", 0);
    }
    if (!c) return luaL_error(L, "incident.%s: no incidents in this context", verb);
    tn_incident_t *inc;
    const char *why = NULL;
    int rc = tn_incidents_set_state(c->incidents, id, state, by ? by : tn_lua_name(tn_lua_from(L)),
                                    note, tn_now_ms(), &inc, &why, NULL, NULL);
    char what[40];
    snprintf(what, sizeof what, "incident.%s", verb);
    return tn_correlate_push_incident(L, rc ? NULL : inc, rc, why, "invalid_transition", what);
}

static int l_incident_ack(lua_State *L)
{
    return set_state(L, "acknowledged", "ack");
}
static int l_incident_mitigate(lua_State *L)
{
    return set_state(L, "mitigated", "mitigate");
}
static int l_incident_resolve(lua_State *L)
{
    return set_state(L, "resolved", "resolve");
}
static int l_incident_reopen(lua_State *L)
{
    return set_state(L, "open", "reopen");
}

/* incident.set_rca(id, ranked): ranked is a list of { service =, score =, evidence = {...} }. */
static int l_incident_set_rca(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!c) return luaL_error(L, "incident.set_rca: no incidents in this context");
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *j = tn_lua_to_json(L, 2, &err);
    if (!j) {
        lua_pushfstring(L, "incident.set_rca: %s", err.data ? err.data : "not convertible");
        tn_buf_deinit(&err);
        return lua_error(L);
    }
    tn_buf_deinit(&err);
    if (json_is_object(j) && json_object_size(j) == 0) { /* an empty Lua table */
        json_decref(j);
        j = json_array();
    }
    int rc = tn_incidents_set_rca(c->incidents, id, j, tn_now_ms());
    json_decref(j);
    if (rc) {
        lua_pushnil(L);
        lua_pushstring(L, rc == TN_ENOTFOUND ? "not_found"
                          : rc == TN_EINVAL  ? "not a list"
                                             : tn_strerror(rc));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_incident_annotate(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1), *note = luaL_checkstring(L, 2);
    const char *by = NULL;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        by = opt_field(L, 3, "by", 0);
    }
    if (!c) return luaL_error(L, "incident.annotate: no incidents in this context");
    int rc = tn_incidents_annotate(c->incidents, id, by ? by : tn_lua_name(tn_lua_from(L)), note,
                                   tn_now_ms(), NULL, NULL);
    if (rc) {
        lua_pushnil(L);
        lua_pushstring(L, rc == TN_ENOTFOUND ? "not_found" : tn_strerror(rc));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_incident_get(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1);
    tn_incident_t *inc = c ? tn_incidents_get(c->incidents, id) : NULL;
    return tn_correlate_push_incident(L, inc, inc ? 0 : TN_ENOTFOUND, NULL, NULL, "incident.get");
}

/* incident.find(fingerprint) -> the open incident with it, or nil, "not_found". */
static int l_incident_find(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *fp = luaL_checkstring(L, 1);
    tn_incident_t *inc = c ? tn_incidents_find(c->incidents, fp) : NULL;
    return tn_correlate_push_incident(L, inc, inc ? 0 : TN_ENOTFOUND, NULL, NULL, "incident.find");
}

/* incident.attach(id, signal) -> the incident (reopened = true when it was resolved moments
 * ago), or nil, "not_found". */
static int l_incident_attach(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    tn_lua_check_context(L, TN_CTX_RULE, "incident.attach");
    if (!c || !c->current) return luaL_error(L, "incident.attach: no signal is being handled");
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *sig = tn_lua_to_json(L, 2, &err);
    tn_buf_deinit(&err);
    if (!sig) return luaL_error(L, "incident.attach: the signal is not convertible");
    tn_incident_t *inc;
    int reopened;
    c->current->pending++;
    int rc = tn_incidents_attach(c->incidents, id, sig, tn_now_ms(),
                                 c->o.cfg->correlate.reopen_window_s * 1000, &inc, &reopened,
                                 dispatch_written, c->current);
    json_decref(sig);
    if (rc) {
        c->current->pending--;
        lua_pushnil(L);
        lua_pushstring(L, rc == TN_ENOTFOUND ? "not_found" : tn_strerror(rc));
        return 2;
    }
    place(c, inc, 0, reopened);
    json_t *j = tn_incident_to_json(inc);
    if (!j) return luaL_error(L, "incident.attach: out of memory");
    tn_lua_push_json(L, j);
    json_decref(j);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "new");
    lua_pushboolean(L, reopened);
    lua_setfield(L, -2, "reopened");
    return 1;
}

/* incident.merge(into, from [, { note = ... }]) -> the merged incident, or nil, reason. */
static int l_incident_merge(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *into = luaL_checkstring(L, 1), *from = luaL_checkstring(L, 2);
    const char *note = NULL;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        note = opt_field(L, 3, "note", 0);
    }
    if (!c) return luaL_error(L, "incident.merge: no incidents in this context");
    const char *why = NULL;
    const char *by = c->current_rule ? c->current_rule->name : tn_lua_name(tn_lua_from(L));
    int rc = tn_incidents_merge(c->incidents, into, from, by, note, tn_now_ms(), &why);
    if (!rc && !strcmp(c->placed, from)) snprintf(c->placed, sizeof c->placed, "%s", into);
    return tn_correlate_push_incident(L, rc ? NULL : tn_incidents_get(c->incidents, into), rc, why,
                                      "invalid", "incident.merge");
}

/* incident.split(id, { alert ids }, { fingerprint =, title = }) -> the new incident, or nil,
 * reason. */
static int l_incident_split(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    const char *fp = opt_field(L, 3, "fingerprint", 1);
    const char *title = opt_field(L, 3, "title", 1);
    if (!c) return luaL_error(L, "incident.split: no incidents in this context");
    lua_Integer n = luaL_len(L, 2);
    if (n < 1 || n > TN_INCIDENT_MAX_MEMBERS)
        return luaL_error(L, "incident.split: give between 1 and %d alert ids",
                          TN_INCIDENT_MAX_MEMBERS);
    const char **ids = lua_newuserdatauv(L, (size_t)n * sizeof *ids, 0); /* freed by the GC */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "incident.split: alert id %d is not a string", (int)i);
        ids[i - 1] = lua_tostring(L, -1); /* anchored in the table */
        lua_pop(L, 1);
    }
    const char *why = NULL;
    const char *by = c->current_rule ? c->current_rule->name : tn_lua_name(tn_lua_from(L));
    tn_incident_t *inc;
    int rc = tn_incidents_split(c->incidents, id, ids, (size_t)n, fp, title, by, tn_now_ms(), &inc,
                                &why);
    return tn_correlate_push_incident(L, rc ? NULL : inc, rc, why, "invalid", "incident.split");
}

typedef struct {
    lua_State *L;
    int n, oom;
    int64_t since_ms;          /* only incidents with a signal this recent (0: all) */
    const char *services[256]; /* only incidents holding one of them (none: all) */
    size_t nservices;
} list_t;

static void list_one(tn_incident_t *inc, void *arg)
{
    list_t *l = arg;
    if (l->since_ms && inc->last_alert_ms < l->since_ms) return;
    if (l->nservices) {
        int hit = 0;
        for (size_t i = 0; i < l->nservices && !hit; i++)
            hit = tn_hmap_get(&inc->service_set, l->services[i]) != NULL;
        if (!hit) return;
    }
    json_t *j = tn_incident_to_json(inc);
    if (!j || !lua_checkstack(l->L, 4)) {
        json_decref(j);
        l->oom = 1;
        return;
    }
    tn_lua_push_json(l->L, j);
    json_decref(j);
    lua_rawseti(l->L, -2, ++l->n);
}

/* incident.list([{ since_ms =, services = { names } }]) -> the open incidents (not resolved,
 * not merged), oldest first; with since_ms only those with a signal since then, with services
 * only those holding one of them (filtered here, so a rule asking about its neighbours does not
 * pay for thousands of unrelated incidents). */
static int l_incident_list(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    list_t l = {.L = L};
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "since_ms");
        l.since_ms = (int64_t)luaL_optinteger(L, -1, 0);
        lua_pop(L, 1);
        lua_getfield(L, 1, "services"); /* stays on the stack: anchors the names */
        if (lua_istable(L, -1)) {
            lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer i = 1; i <= n && l.nservices < 256; i++) {
                lua_rawgeti(L, -1, i);
                if (lua_type(L, -1) == LUA_TSTRING) l.services[l.nservices++] = lua_tostring(L, -1);
                lua_pop(L, 1); /* the string stays anchored in the table */
            }
            if (!l.nservices) l.nservices = (size_t)-1; /* an empty list matches nothing */
        }
    }
    lua_newtable(L);
    if (!c || l.nservices == (size_t)-1) return 1;
    tn_incidents_each_open(c->incidents, list_one, &l);
    if (l.oom) return luaL_error(L, "incident.list: out of memory");
    return 1;
}

/* incident.similar(signal or simhash_hex, { since_ms =, threshold = 0.9, last = 200 }) -> the
 * open incident with the most similar signal of the same service (a signal given; a bare
 * SimHash: signals without one) among the latest `last` of each (SimHash similarity of the
 * signatures members keep, at least threshold), and the similarity; or nil. */
static int l_incident_similar(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    uint64_t h = 0;
    char service[512] = "";
    if (lua_istable(L, 1)) { /* a signal: its signature as members keep theirs */
        tn_buf_t err;
        tn_buf_init(&err);
        json_t *sig = tn_lua_to_json(L, 1, &err);
        tn_buf_deinit(&err);
        if (!sig) return luaL_error(L, "incident.similar: the signal is not convertible");
        h = tn_incident_signal_simhash(sig);
        const char *sv = json_string_value(json_object_get(sig, "service"));
        snprintf(service, sizeof service, "%s", sv ? sv : "");
        json_decref(sig);
    } else {
        const char *hex = luaL_checkstring(L, 1);
        char *end;
        h = strtoull(hex, &end, 16);
        if (*end || !*hex)
            return luaL_error(L, "incident.similar: give a signal or a SimHash (16 hex digits)");
    }
    int64_t since = 0;
    double threshold = 0.9;
    lua_Integer last = 200;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "since_ms");
        since = (int64_t)luaL_optinteger(L, -1, 0);
        lua_getfield(L, 2, "threshold");
        threshold = luaL_optnumber(L, -1, 0.9);
        lua_getfield(L, 2, "last");
        last = luaL_optinteger(L, -1, 200);
        lua_pop(L, 3);
    }
    tn_incident_t *best =
        c ? tn_incidents_most_similar(c->incidents, (uint64_t)h, service, since,
                                      (size_t)(last > 0 ? last : 0), threshold, &threshold)
          : NULL;
    if (!best) {
        lua_pushnil(L);
        return 1;
    }
    json_t *j = tn_incident_to_json(best);
    if (!j) return luaL_error(L, "incident.similar: out of memory");
    tn_lua_push_json(L, j);
    json_decref(j);
    lua_pushnumber(L, threshold);
    return 2;
}

/* incident.members(id [, last]) -> { {id, kind, name, service, severity, score, ts, active,
 * simhash}, ... }: every signal, or only the latest `last`. */
static int l_incident_members(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1);
    tn_incident_t *inc = c ? tn_incidents_get(c->incidents, id) : NULL;
    if (!inc) {
        lua_pushnil(L);
        lua_pushliteral(L, "not_found");
        return 2;
    }
    lua_Integer last = luaL_optinteger(L, 2, (lua_Integer)inc->nmembers);
    json_t *j = tn_incident_members_json_last(inc, last > 0 ? (size_t)last : 0);
    if (!j) return luaL_error(L, "incident.members: out of memory");
    tn_lua_push_json(L, j);
    json_decref(j);
    return 1;
}

static int open_incident(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"open", l_incident_open},         {"get", l_incident_get},
        {"find", l_incident_find},         {"ack", l_incident_ack},
        {"mitigate", l_incident_mitigate}, {"resolve", l_incident_resolve},
        {"reopen", l_incident_reopen},     {"annotate", l_incident_annotate},
        {"set_rca", l_incident_set_rca},   {"attach", l_incident_attach},
        {"merge", l_incident_merge},       {"split", l_incident_split},
        {"list", l_incident_list},         {"similar", l_incident_similar},
        {"members", l_incident_members},   {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}

/* ---- tocsin.runbook (from rules: queue a start) --------------------------------------- */

static int l_runbook_start(lua_State *L)
{
    tn_correlate_t *c = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    tn_lua_check_context(L, TN_CTX_RULE, "runbook.start");
    if (!c || !c->current) return luaL_error(L, "runbook.start: no anomaly is being handled");
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *params = lua_isnoneornil(L, 2) ? json_object() : tn_lua_to_json(L, 2, &err);
    if (!params) {
        lua_pushfstring(L, "runbook.start: params: %s", err.data ? err.data : "out of memory");
        tn_buf_deinit(&err);
        return lua_error(L);
    }
    tn_buf_deinit(&err);
    /* the incident the params name, if any, travels along */
    json_t *incident = NULL;
    json_t *iid = json_object_get(params, "incident");
    if (json_is_string(iid)) {
        tn_incident_t *inc = tn_incidents_get(c->incidents, json_string_value(iid));
        if (inc) incident = tn_incident_to_json(inc);
    }
    if (c->nreqs == c->capreqs) {
        size_t cap = c->capreqs ? c->capreqs * 2 : 8;
        rb_request_t *r = realloc(c->reqs, cap * sizeof *r);
        if (!r) {
            json_decref(params);
            json_decref(incident);
            return luaL_error(L, "runbook.start: out of memory");
        }
        c->reqs = r;
        c->capreqs = cap;
    }
    rb_request_t *r = &c->reqs[c->nreqs];
    r->runbook = strdup(name);
    r->origin = strdup(c->current_rule ? c->current_rule->name : "rule");
    if (!r->runbook || !r->origin) {
        free(r->runbook), free(r->origin);
        json_decref(params);
        json_decref(incident);
        return luaL_error(L, "runbook.start: out of memory");
    }
    r->params = params;
    r->incident = incident;
    c->nreqs++;
    lua_pushboolean(L, 1);
    return 1;
}

static int open_runbook(lua_State *L)
{
    static const luaL_Reg fns[] = {{"start", l_runbook_start}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}

/* ---- loading ----------------------------------------------------------------------------- */

static int setup_state(void *owner, tn_lua_t *lua)
{
    tn_correlate_t *c = owner;
    if (tn_lua_preload(lua, "tocsin.incident", open_incident, c) ||
        tn_lua_preload(lua, "tocsin.runbook", open_runbook, c) ||
        tn_lua_preload(lua, "tocsin.topology", tn_correlate_open_topology, c ? c->graph : NULL) ||
        tn_lua_preload(lua, "tocsin.similarity", tn_correlate_open_similarity, NULL) ||
        tn_lua_preload(lua, "tocsin.rca", tn_correlate_open_rca, NULL) ||
        tn_lua_preload(lua, "tocsin.changes", tn_correlate_open_changes, c ? c->changes : NULL))
        return TN_ENOMEM;
    return 0;
}

static int validate_rule(void *owner, lua_State *L, const char *path, tn_buf_t *err)
{
    (void)owner;
    int rc = tn_contract_check(L, -1, g_rule_spec, path, "rule", err);
    if (rc) return rc;
    int any = 0;
    static const char *const hooks[] = {"on_signal", "on_anomaly", "on_alert"};
    for (int i = 0; i < 3; i++) {
        lua_getfield(L, -1, hooks[i]);
        any |= lua_isfunction(L, -1);
        lua_pop(L, 1);
    }
    if (any) return 0;
    tn_buf_printf(err, "%s: rule: needs on_signal, on_anomaly or on_alert (a function)", path);
    return TN_EINVAL;
}

static void rule_opts(tn_correlate_t *c, const tn_config_t *cfg, tn_catalog_t *catalog,
                      const tn_script_services_t *svc, tn_scriptset_opts_t *o)
{
    *o = (tn_scriptset_opts_t){.kind = "rule",
                               .dir = cfg->scripts.rules_dir,
                               .cfg = cfg,
                               .catalog = catalog,
                               .owner = c,
                               .svc = svc,
                               .setup = setup_state,
                               .validate = validate_rule};
}

int tn_correlate_check_file(const char *path, const tn_config_t *cfg, tn_buf_t *err)
{
    tn_script_services_t svc = {.cfg = cfg};
    tn_scriptset_opts_t o;
    rule_opts(NULL, cfg, NULL, &svc, &o);
    return tn_scriptset_check_file(&o, path, err);
}

tn_correlate_t *tn_correlate_create(const tn_correlate_opts_t *opts)
{
    tn_correlate_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->o = *opts;
    c->graph = tn_graph_create(NULL);
    c->changes = tn_changes_create();
    c->incidents = tn_incidents_create(opts->streams);
    tn_scriptset_opts_t so;
    rule_opts(c, opts->cfg, opts->catalog, opts->svc, &so);
    c->rules = tn_scriptset_create(&so);
    if (!c->incidents || !c->rules || !c->graph || !c->changes) {
        tn_incidents_destroy(c->incidents);
        tn_scriptset_destroy(c->rules);
        tn_graph_destroy(c->graph);
        tn_changes_destroy(c->changes);
        free(c);
        return NULL;
    }
    c->m_calls = tn_metrics_counter("tocsin_rule_calls_total", NULL, "Rule callbacks run.");
    c->m_errors = tn_metrics_counter("tocsin_rule_errors_total", NULL,
                                     "Rule callbacks that failed (error or limit).");
    c->m_silenced = tn_metrics_counter("tocsin_signals_silenced_total", NULL,
                                       "Signals a silence kept from the rules.");
    return c;
}

int tn_correlate_load(tn_correlate_t *c)
{
    int failed = tn_scriptset_reload_all(c->rules);
    return failed < 0 ? failed : (int)tn_scriptset_count(c->rules);
}

tn_scriptset_t *tn_correlate_rules(tn_correlate_t *c)
{
    return c->rules;
}

void tn_correlate_destroy(tn_correlate_t *c)
{
    if (!c) return;
    tn_scriptset_destroy(c->rules);
    tn_incidents_destroy(c->incidents);
    tn_graph_destroy(c->graph);
    tn_changes_destroy(c->changes);
    free(c->reqs);
    free(c);
}

tn_changes_t *tn_correlate_changes(tn_correlate_t *c)
{
    return c->changes;
}

void tn_correlate_tick(tn_correlate_t *c, int64_t now_ms)
{
    tn_incidents_expire(c->incidents, now_ms, c->o.cfg->correlate.auto_resolve_s * 1000,
                        c->o.cfg->correlate.clear_s * 1000,
                        c->o.cfg->correlate.reopen_window_s * 1000, c->o.keep_all);
}

size_t tn_correlate_clear(tn_correlate_t *c, const char *signal_fp)
{
    return tn_incidents_clear(c->incidents, signal_fp, tn_now_ms());
}

tn_graph_t *tn_correlate_graph(tn_correlate_t *c)
{
    return c->graph;
}

tn_incidents_t *tn_correlate_incidents(tn_correlate_t *c)
{
    return c->incidents;
}
unsigned tn_correlate_rule_count(const tn_correlate_t *c)
{
    return (unsigned)tn_scriptset_count(c->rules);
}

/* Protected trampoline: (rule table, signal lightuserdata, placed table or nil) ->
 * rule.on_signal(signal), or on_anomaly / on_alert by the signal's kind. */
static int call_rule(lua_State *L)
{
    const json_t *a = lua_touserdata(L, 2);
    int placed = !lua_isnil(L, 3);
    const char *kind = json_string_value(json_object_get(a, "kind"));
    lua_settop(L, 3);
    if (lua_getfield(L, 1, "on_signal") != LUA_TFUNCTION) {
        lua_pop(L, 1);
        if (lua_getfield(L, 1, kind && !strcmp(kind, "alert") ? "on_alert" : "on_anomaly") !=
            LUA_TFUNCTION)
            return 0; /* the rule does not take this kind */
    }
    tn_lua_push_json(L, a);
    if (placed) { /* where an earlier rule put it */
        static const char *const keys[] = {"incident", "incident_new", "incident_reopened",
                                           "placed_by"};
        for (int i = 0; i < 4; i++) {
            lua_getfield(L, 3, keys[i]);
            lua_setfield(L, -2, keys[i]);
        }
    }
    lua_call(L, 1, 0);
    return 0;
}

void tn_correlate_signal(tn_correlate_t *c, const json_t *signal, void (*done)(int err, void *),
                         void *arg)
{
    const char *sil = c->o.silenced ? c->o.silenced(c->o.silence_arg, signal) : NULL;
    if (sil) {
        tn_metric_inc(c->m_silenced);
        tn_log_debug("correlate", "signal %s muted by silence %s",
                     json_string_value(json_object_get(signal, "id")), sil);
        if (done) done(0, arg);
        return;
    }
    dispatch_t *d = calloc(1, sizeof *d);
    if (!d) {
        tn_log_error("correlate", "out of memory: signal not correlated");
        if (done) done(TN_ENOMEM, arg);
        return;
    }
    d->done = done;
    d->arg = arg;
    d->pending = 1; /* guard */
    c->placed[0] = '\0';
    c->placed_new = c->placed_reopened = 0;
    tn_buf_t err;
    tn_buf_init(&err);
    size_t nrules = tn_scriptset_count(c->rules);
    for (size_t i = 0; i < nrules; i++) {
        tn_script_t *r = tn_scriptset_at(c->rules, i);
        lua_State *L = tn_lua_state(r->lua);
        c->current = d;
        c->current_rule = r;
        lua_pushcfunction(L, call_rule);
        tn_script_push(r);
        lua_pushlightuserdata(L, (void *)signal);
        if (*c->placed) {
            lua_createtable(L, 0, 4);
            lua_pushstring(L, c->placed);
            lua_setfield(L, -2, "incident");
            lua_pushboolean(L, c->placed_new);
            lua_setfield(L, -2, "incident_new");
            lua_pushboolean(L, c->placed_reopened);
            lua_setfield(L, -2, "incident_reopened");
            lua_pushstring(L, c->placed_by);
            lua_setfield(L, -2, "placed_by");
        } else {
            lua_pushnil(L);
        }
        tn_buf_reset(&err);
        tn_metric_inc(c->m_calls);
        if (tn_lua_pcall(r->lua, TN_CTX_RULE, 3, 0, &err)) {
            tn_metric_inc(c->m_errors);
            tn_log_error("correlate", "rule '%s' failed: %s", r->name, err.data ? err.data : "?");
        }
        c->current = NULL;
        c->current_rule = NULL;
    }
    tn_buf_deinit(&err);
    if (*c->placed && (c->placed_new || c->placed_reopened) && c->o.on_opened) {
        tn_incident_t *inc = tn_incidents_get(c->incidents, c->placed);
        json_t *j = inc ? tn_incident_to_json(inc) : NULL;
        if (j) c->o.on_opened(c->o.start_arg, j);
        json_decref(j);
    }
    /* hand on the runbooks the rules asked for */
    size_t nreqs = c->nreqs;
    c->nreqs = 0;
    for (size_t i = 0; i < nreqs; i++) {
        rb_request_t *q = &c->reqs[i];
        if (c->o.start_runbook)
            c->o.start_runbook(c->o.start_arg, q->runbook, q->params, q->incident, q->origin);
        free(q->runbook);
        free(q->origin);
        json_decref(q->params);
        json_decref(q->incident);
    }
    dispatch_written(0, d); /* drop the guard */
}

void tn_correlate_anomaly(tn_correlate_t *c, const json_t *anomaly, void (*done)(int err, void *),
                          void *arg)
{
    json_t *s = json_copy((json_t *)anomaly); /* shallow: the values stay shared */
    if (!s) {
        tn_log_error("correlate", "out of memory: anomaly not correlated");
        if (done) done(TN_ENOMEM, arg);
        return;
    }
    const char *sid = json_string_value(json_object_get(anomaly, "sid"));
    json_t *ts = json_object_get(anomaly, "ts");
    char id[96];
    snprintf(id, sizeof id, "%.60s@%lld", sid ? sid : "", (long long)json_integer_value(ts));
    json_t *metric = json_object_get(anomaly, "metric");
    if (json_object_set_new(s, "kind", json_string("anomaly")) ||
        (!json_object_get(s, "id") && json_object_set_new(s, "id", json_string(id))) ||
        (!json_object_get(s, "name") && metric && json_object_set(s, "name", metric)) ||
        (!json_object_get(s, "fingerprint") && sid &&
         json_object_set_new(s, "fingerprint", json_string(sid)))) {
        json_decref(s);
        tn_log_error("correlate", "out of memory: anomaly not correlated");
        if (done) done(TN_ENOMEM, arg);
        return;
    }
    tn_correlate_signal(c, s, done, arg);
    json_decref(s);
}
