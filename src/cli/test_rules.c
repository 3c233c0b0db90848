/* test_rules.c - tocsin.testrules, the harness behind tocsin.testing's t.rules() in
 * `tocsin test`: the real correlation engine (the rules of a directory, incidents, the service
 * graph, RCA) in the test's process, on a simulated clock, with nothing leaving the process
 * (Redis is never connected: incidents live in memory, as when Redis is away).
 *
 *   local h = require("tocsin.testrules").new{ rules = "rules", topology = {...}, now = ms,
 *                                               log = "error" }
 * topology: the topology file's shape (services with depends_on) or the published one (services
 * and edges {from, to, source}).
 *   h:signal{ name =, service =, severity =, kind = "alert" | "anomaly", ts =, labels = {...} }
 *   h:change{ type = "deploy", service =, title =, version =, ts = }
 *   h:clear(fingerprint)    h:advance(seconds)    h:now()
 *   h:incidents()  -> every incident, in opening order (with alerts, transitions, rca)
 *   h:runbooks()   -> the runbooks the rules asked for: { runbook, params, incident, origin }
 *   h:close() */
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sample.h"
#include "correlate/bind_changes.h"
#include "correlate/engine.h"
#include "correlate/graph.h"
#include "correlate/incidents.h"
#include "script/convert.h"
#include "script/services.h"
#include "store/redis.h"
#include "store/streams.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MT "tocsin.testrules.harness"

typedef struct {
    uv_loop_t loop;
    int loop_ok;
    tn_config_t cfg; /* a shallow copy of the test's, rules_dir pointing at rules */
    char *rules;
    tn_redis_t *redis;
    tn_streams_t *streams;
    tn_script_services_t svc;
    tn_correlate_t *c;
    json_t *requests;
    int64_t now;
    unsigned seq;
    tn_log_level_t saved_level;
} harness_t;

static void on_runbook(void *arg, const char *runbook, const json_t *params, const json_t *incident,
                       const char *origin)
{
    harness_t *h = arg;
    json_t *iid = incident ? json_object_get(incident, "id") : NULL;
    json_array_append_new(h->requests,
                          json_pack("{s:s, s:O, s:O, s:s}", "runbook", runbook, "params",
                                    params ? (json_t *)params : json_null(), "incident",
                                    iid ? iid : json_null(), "origin", origin ? origin : ""));
}

static void redis_closed(void *arg)
{
    (void)arg;
}

static void harness_free(harness_t *h)
{
    if (h->c) tn_correlate_destroy(h->c);
    h->c = NULL;
    if (h->streams) tn_streams_destroy(h->streams);
    h->streams = NULL;
    if (h->redis) {
        tn_redis_close(h->redis, redis_closed, NULL);
        h->redis = NULL;
    }
    if (h->loop_ok) {
        uv_run(&h->loop, UV_RUN_DEFAULT);
        uv_loop_close(&h->loop);
        h->loop_ok = 0;
        tn_clock_simulate(0);
        tn_log_set_level(h->saved_level);
    }
    json_decref(h->requests);
    h->requests = NULL;
    free(h->rules);
    h->rules = NULL;
}

static harness_t *check(lua_State *L)
{
    harness_t *h = luaL_checkudata(L, 1, MT);
    if (!h->c) luaL_error(L, "testrules: the harness is closed");
    return h;
}

static int l_gc(lua_State *L)
{
    harness_free(luaL_checkudata(L, 1, MT));
    return 0;
}

/* The topology file's depends_on (services: [{name, depends_on: [...]}]) as graph edges
 * (source "cmdb"), beside any edges given as they are. */
static void depends_to_edges(json_t *topo)
{
    json_t *edges = json_object_get(topo, "edges");
    if (!edges) json_object_set_new(topo, "edges", edges = json_array());
    if (!json_is_array(edges)) return; /* tn_graph_add_topology says what is wrong */
    size_t i, k;
    json_t *s, *d;
    json_array_foreach(json_object_get(topo, "services"), i, s)
    {
        json_t *name = json_object_get(s, "name");
        json_array_foreach(json_object_get(s, "depends_on"), k, d)
        {
            if (json_is_string(name) && json_is_string(d))
                json_array_append_new(
                    edges, json_pack("{s:O, s:O, s:s}", "from", name, "to", d, "source", "cmdb"));
        }
    }
}

/* testrules.new{ rules =, topology =, now = } (cfg as upvalue 1) */
static int l_new(lua_State *L)
{
    const tn_config_t *cfg = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "rules");
    const char *rules = luaL_optstring(L, -1, cfg->scripts.rules_dir);
    lua_getfield(L, 1, "now");
    int64_t now = (int64_t)luaL_optinteger(L, -1, 1764000000000);
    lua_getfield(L, 1, "log"); /* the engine's log level while it runs: "error" by default */
    tn_log_level_t level = TN_LOG_ERROR;
    if (!lua_isnil(L, -1) && tn_log_parse_level(luaL_checkstring(L, -1), &level))
        return luaL_error(L, "testrules.new: log must be debug, info, warn or error");
    lua_getfield(L, 1, "topology");
    json_t *topo = NULL;
    tn_buf_t err;
    tn_buf_init(&err);
    if (!lua_isnil(L, -1) && !(topo = tn_lua_to_json(L, lua_gettop(L), &err))) {
        lua_pushfstring(L, "testrules.new: topology: %s", err.data ? err.data : "?");
        tn_buf_deinit(&err);
        return lua_error(L);
    }
    harness_t *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    luaL_setmetatable(L, MT);
    h->cfg = *cfg;
    h->now = now;
    h->saved_level = tn_log_get_level();
    if (uv_loop_init(&h->loop)) {
        json_decref(topo);
        return luaL_error(L, "testrules.new: cannot make an event loop");
    }
    h->loop_ok = 1;
    tn_log_set_level(level); /* "not written to redis" warnings are expected here */
    tn_clock_simulate(now);
    h->rules = strdup(rules);
    h->cfg.scripts.rules_dir = h->rules;
    tn_redis_opts_t ro = {.url = "redis://127.0.0.1:1", .name = "test"}; /* never started */
    tn_streams_opts_t so = {.prefix = "tocsin-test", .partitions = 1, .batch_max = 1};
    h->requests = json_array();
    if (h->rules && h->requests && (h->redis = tn_redis_create(&h->loop, &ro)))
        h->streams = tn_streams_create(h->redis, &so);
    h->svc = (tn_script_services_t){.loop = &h->loop, .cfg = &h->cfg, .streams = h->streams};
    tn_correlate_opts_t co = {.cfg = &h->cfg,
                              .streams = h->streams,
                              .svc = &h->svc,
                              .start_runbook = on_runbook,
                              .start_arg = h,
                              .keep_all = 1};
    if (!h->streams || !(h->c = tn_correlate_create(&co))) {
        json_decref(topo);
        harness_free(h);
        return luaL_error(L, "testrules.new: out of memory");
    }
    if (topo) depends_to_edges(topo);
    if (topo && tn_graph_add_topology(tn_correlate_graph(h->c), topo, &err)) {
        json_decref(topo);
        lua_pushfstring(L, "testrules.new: topology: %s", err.data ? err.data : "invalid");
        tn_buf_deinit(&err);
        harness_free(h);
        return lua_error(L);
    }
    json_decref(topo);
    tn_buf_deinit(&err);
    int rc = tn_scriptset_reload_all(tn_correlate_rules(h->c));
    if (rc != 0) {
        harness_free(h);
        if (rc < 0) return luaL_error(L, "testrules.new: out of memory");
        return luaL_error(L, "testrules.new: %d rule file(s) in %s failed to load (see above)", rc,
                          rules);
    }
    if (tn_correlate_rule_count(h->c) == 0) {
        harness_free(h);
        return luaL_error(L, "testrules.new: no rules in %s", rules);
    }
    return 1;
}

static void done(int err, void *arg)
{
    (void)err, (void)arg;
}

/* h:signal{...}: fills what the engine would (kind, id, fingerprint, ts, severity, score) */
static int l_signal(lua_State *L)
{
    harness_t *h = check(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *s = tn_lua_to_json(L, 2, &err);
    if (!json_is_object(s)) {
        json_decref(s);
        lua_pushfstring(L, "h:signal: %s", err.data ? err.data : "a table is required");
        tn_buf_deinit(&err);
        return lua_error(L);
    }
    tn_buf_deinit(&err);
    const char *name = json_string_value(json_object_get(s, "name"));
    if (!name) {
        json_decref(s);
        return luaL_error(L, "h:signal: name is required");
    }
    const char *kind = json_string_value(json_object_get(s, "kind"));
    if (!kind) json_object_set_new(s, "kind", json_string(kind = "alert"));
    json_t *ts = json_object_get(s, "ts");
    if (json_is_integer(ts) && json_integer_value(ts) > h->now) {
        h->now = (int64_t)json_integer_value(ts);
        tn_clock_simulate(h->now);
    }
    if (!json_is_integer(ts)) json_object_set_new(s, "ts", json_integer((json_int_t)h->now));
    const char *svc = json_string_value(json_object_get(s, "service"));
    if (!svc) json_object_set_new(s, "service", json_string(svc = ""));
    if (!json_object_get(s, "severity"))
        json_object_set_new(s, "severity", json_string("critical"));
    if (!json_object_get(s, "score")) json_object_set_new(s, "score", json_real(1.0));
    if (!json_object_get(s, "labels"))
        json_object_set_new(s, "labels",
                            json_pack("{s:s, s:s}", "alertname", name, "service", svc));
    char fp[256], id[300];
    snprintf(fp, sizeof fp, "%s/%s", name, svc);
    if (!json_object_get(s, "fingerprint")) json_object_set_new(s, "fingerprint", json_string(fp));
    snprintf(id, sizeof id, "%s@%lld#%u", json_string_value(json_object_get(s, "fingerprint")),
             (long long)json_integer_value(json_object_get(s, "ts")), ++h->seq);
    if (!json_object_get(s, "id")) json_object_set_new(s, "id", json_string(id));
    if (!strcmp(kind, "anomaly")) {
        if (!json_object_get(s, "sid"))
            json_object_set(s, "sid", json_object_get(s, "fingerprint"));
        if (!json_object_get(s, "metric")) json_object_set_new(s, "metric", json_string(name));
        tn_correlate_anomaly(h->c, s, done, NULL);
    } else {
        tn_correlate_signal(h->c, s, done, NULL);
    }
    json_decref(s);
    return 0;
}

/* h:change{ type =, service =, title =, version =, ts = } */
static int l_change(lua_State *L)
{
    harness_t *h = check(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "type");
    lua_getfield(L, 2, "service");
    lua_getfield(L, 2, "title");
    lua_getfield(L, 2, "version");
    lua_getfield(L, 2, "ts");
    int64_t ts = (int64_t)luaL_optinteger(L, -1, h->now);
    if (tn_changes_add(tn_correlate_changes(h->c), luaL_optstring(L, -5, "deploy"),
                       luaL_optstring(L, -4, ""), luaL_optstring(L, -3, ""),
                       luaL_optstring(L, -2, ""), ts))
        return luaL_error(L, "h:change: out of memory");
    return 0;
}

static int l_clear(lua_State *L)
{
    harness_t *h = check(L);
    lua_pushinteger(L, (lua_Integer)tn_correlate_clear(h->c, luaL_checkstring(L, 2)));
    return 1;
}

/* h:advance(seconds): the clock moves on; incidents are kept up (auto-resolve, forgetting) */
static int l_advance(lua_State *L)
{
    harness_t *h = check(L);
    double s = luaL_checknumber(L, 2);
    luaL_argcheck(L, s >= 0, 2, "seconds must not be negative");
    int64_t until = h->now + (int64_t)(s * 1000);
    while (h->now < until) { /* the engine ticks every second */
        h->now = h->now + 1000 < until ? h->now + 1000 : until;
        tn_clock_simulate(h->now);
        tn_correlate_tick(h->c, h->now);
    }
    return 0;
}

static int l_now(lua_State *L)
{
    harness_t *h = check(L);
    lua_pushinteger(L, (lua_Integer)h->now);
    return 1;
}

typedef struct {
    json_t *arr;
} collect_t;

static void collect(tn_incident_t *inc, void *arg)
{
    collect_t *c = arg;
    json_t *j = tn_incident_to_json_full(inc);
    if (j) {
        json_object_set_new(j, "merged_into", json_string(inc->merged_into));
        json_array_append_new(c->arr, j);
    }
}

static int l_incidents(lua_State *L)
{
    harness_t *h = check(L);
    collect_t c = {json_array()};
    if (!c.arr) return luaL_error(L, "out of memory");
    tn_incidents_each(tn_correlate_incidents(h->c), collect, &c);
    tn_lua_push_json(L, c.arr);
    json_decref(c.arr);
    return 1;
}

static int l_runbooks(lua_State *L)
{
    harness_t *h = check(L);
    tn_lua_push_json(L, h->requests);
    return 1;
}

static int l_close(lua_State *L)
{
    harness_free(luaL_checkudata(L, 1, MT));
    return 0;
}

int tn_cli_open_testrules(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"signal", l_signal},     {"change", l_change}, {"clear", l_clear},
        {"advance", l_advance},   {"now", l_now},       {"incidents", l_incidents},
        {"runbooks", l_runbooks}, {"close", l_close},   {NULL, NULL}};
    if (luaL_newmetatable(L, MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, l_new, 1);
    lua_setfield(L, -2, "new");
    return 1;
}
