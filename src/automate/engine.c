#include "automate/engine.h"
#include "automate/approval.h"
#include "correlate/engine.h"
#include "correlate/incidents.h"
#include "script/bindings.h"
#include "script/contract.h"
#include "script/convert.h"
#include "script/runtime.h"
#include "script/scriptset.h"
#include "script/task.h"
#include "core/error.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/metrics.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
    tn_automate_t *a;
    char id[40];
    char *runbook;
    char *origin;
    char *incident_id;
    char *approved_by; /* "" when none */
    int level;
    int dry_run;
    int64_t start_ms;
    unsigned steps;
    json_t *record; /* its entry in the history (steps appended) */
    tn_task_t *task;
    struct run *prev, *next;
} run_t;

/* Cooldown and runaway-guard memory of one runbook and key. */
#define GUARD_SLOTS 64
typedef struct {
    int64_t last_ms;
    int64_t times[GUARD_SLOTS]; /* start times within the last hour (ring) */
    unsigned n, head;
} guard_t;

struct tn_automate {
    tn_automate_opts_t o;
    tn_scriptset_t *books;
    run_t *runs; /* running */
    unsigned nrunning;
    unsigned seq;
    int destroying;
    tn_hmap_t guards;          /* "runbook\x1fkey" -> guard_t */
    tn_approvals_t *approvals; /* asks waiting for a person (NULL without a loop) */
    uv_timer_t *schedule;      /* every second: the runbooks due by their every_s trigger */
    tn_incidents_t *incidents; /* borrowed, for tocsin.incident in runbooks (may be NULL) */
    json_t *history;           /* the latest runs, oldest first (at most automate.keep_runs) */
    tn_automate_listener_fn listener;
    void *listener_arg;
    tn_metric_t *m_ok, *m_failed, *m_started, *m_skipped;
};

static const tn_field_spec_t g_runbook_spec[] = {
    {"name", LUA_TSTRING, 1, "unique runbook name"},
    {"description", LUA_TSTRING, 0, "what the runbook does"},
    {"level", LUA_TNUMBER, 1, "automation level: 1 enrich, 2 diagnose, 3 remediate, 4 prevent"},
    {"params", LUA_TTABLE, 0, "parameters: a default, or { type =, default =, required =, ... }"},
    {"run", LUA_TFUNCTION, 1, "function(ctx) performing the runbook"},
    {"dry_run", LUA_TBOOLEAN, 0, "always run dry: actions logged, none performed"},
    {"policy", LUA_TTABLE, 0, "cooldown_s, max_concurrent, max_per_hour, key, max_level"},
    {"triggers", LUA_TTABLE, 0,
     "{ { incident = { service =, severity =, title = } }, "
     "{ every_s = N } }: what starts it besides rules and the API"},
    {NULL, 0, 0, NULL},
};

/* The policy fields: name, whether integer, minimum, maximum. */
static const struct {
    const char *name;
    double min, max;
} g_policy_num[] = {{"cooldown_s", 0, 1e7},
                    {"max_concurrent", 1, 1e6},
                    {"max_per_hour", 1, GUARD_SLOTS},
                    {"max_level", 1, 4}};

static int validate_book(void *owner, lua_State *L, const char *path, tn_buf_t *err)
{
    (void)owner;
    int rc = tn_contract_check(L, -1, g_runbook_spec, path, "runbook", err);
    if (rc) return rc;
    lua_getfield(L, -1, "level");
    lua_Integer lv = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    if (lv < 1 || lv > 4) {
        tn_buf_printf(err, "%s:%d: runbook field 'level' must be an integer from 1 to 4", path,
                      tn_contract_line_of(path, "level"));
        return TN_EINVAL;
    }
    lua_getfield(L, -1, "policy");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            int known = 0, ok = 1;
            for (size_t i = 0; k && i < sizeof g_policy_num / sizeof g_policy_num[0]; i++)
                if (!strcmp(k, g_policy_num[i].name)) {
                    known = 1;
                    ok = lua_isinteger(L, -1) && lua_tointeger(L, -1) >= g_policy_num[i].min &&
                         lua_tointeger(L, -1) <= g_policy_num[i].max;
                    if (!ok)
                        tn_buf_printf(err,
                                      "%s:%d: runbook policy field '%s' must be an integer from "
                                      "%.0f to %.0f",
                                      path, tn_contract_line_of(path, k), k, g_policy_num[i].min,
                                      g_policy_num[i].max);
                }
            if (k && !strcmp(k, "key")) {
                known = 1;
                ok = lua_type(L, -1) == LUA_TSTRING;
                if (!ok)
                    tn_buf_printf(err, "%s:%d: runbook policy field 'key' must be a string", path,
                                  tn_contract_line_of(path, "key"));
            }
            if (!known)
                tn_buf_printf(err,
                              "%s:%d: unknown runbook policy field '%s' (cooldown_s, "
                              "max_concurrent, max_per_hour, key, max_level)",
                              path, k ? tn_contract_line_of(path, k) : 0, k ? k : "?");
            if (!known || !ok) {
                lua_pop(L, 3);
                return TN_EINVAL;
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "triggers");
    if (lua_istable(L, -1)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            int ok = lua_istable(L, -1);
            if (ok) {
                lua_getfield(L, -1, "command");
                const char *cmd = lua_tostring(L, -1);
                int command = cmd != NULL;
                for (const char *c = cmd; command && *c; c++)
                    command = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                              *c == '_';
                command = command && *cmd && strlen(cmd) <= 48;
                int has_cmd = !lua_isnil(L, -1);
                lua_pop(L, 1);
                lua_getfield(L, -1, "incident");
                lua_getfield(L, -2, "every_s");
                int inc = lua_istable(L, -2), every = lua_isinteger(L, -1);
                ok = (inc + every + has_cmd == 1) && (!has_cmd || command) &&
                     (!every || (lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= 7 * 86400));
                if (ok && inc) { /* incident = { field = "glob", ... } with known fields */
                    lua_pushnil(L);
                    while (ok && lua_next(L, -3)) {
                        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
                        ok = lua_type(L, -1) == LUA_TSTRING &&
                             (!strcmp(k, "service") || !strcmp(k, "severity") ||
                              !strcmp(k, "title") || !strcmp(k, "fingerprint"));
                        lua_pop(L, 1);
                        if (!ok) lua_pop(L, 1);
                    }
                }
                lua_pop(L, 2);
            }
            lua_pop(L, 1);
            if (!ok) {
                tn_buf_printf(err,
                              "%s:%d: runbook trigger %d must be { incident = { service =, "
                              "severity =, title =, fingerprint = (patterns with *) } }, "
                              "{ every_s = 1 .. 604800 } or { command = \"name\" } (a chat "
                              "command: lower case, digits, - and _)",
                              path, tn_contract_line_of(path, "triggers"), (int)i);
                lua_pop(L, 1);
                return TN_EINVAL;
            }
        }
    }
    lua_pop(L, 1);
    return 0;
}

static void on_schedule(uv_timer_t *h);
static void schedule_closed(uv_handle_t *h);

/* ---- tocsin.incident for runbooks: the incident a run is about, and notes on it ---------- */

static tn_incidents_t *book_incidents(lua_State *L, const char *what)
{
    tn_automate_t *a = lua_touserdata(L, lua_upvalueindex(1));
    tn_task_t *t = tn_task_check(L, what);
    (void)t;
    if (!a || !a->incidents) luaL_error(L, "%s: no incidents here", what);
    return a->incidents;
}

static const char *run_name(lua_State *L)
{
    tn_task_t *t = tn_task_current(L);
    const run_t *r = t ? tn_task_arg(t) : NULL;
    return r ? r->runbook : "runbook";
}

static int push_incident(lua_State *L, tn_incident_t *inc, int rc, const char *why)
{
    return tn_correlate_push_incident(L, rc ? NULL : inc, rc, why, "invalid_transition",
                                      "incident");
}

/* incident.get(id) */
static int rb_get(lua_State *L)
{
    tn_incidents_t *in = book_incidents(L, "incident.get");
    tn_incident_t *inc = tn_incidents_get(in, luaL_checkstring(L, 1));
    return push_incident(L, inc, inc ? 0 : TN_ENOTFOUND, NULL);
}

/* incident.annotate(id, note) / incident.link(id, url [, title]): a note on its timeline */
static int rb_annotate(lua_State *L)
{
    tn_incidents_t *in = book_incidents(L, "incident.annotate");
    const char *id = luaL_checkstring(L, 1), *note = luaL_checkstring(L, 2);
    tn_task_t *t = tn_task_current(L);
    if (tn_task_dry_run(t)) return tn_task_dry_result(L, t, "incident.annotate", note);
    int rc = tn_incidents_annotate(in, id, run_name(L), note, tn_now_ms(), NULL, NULL);
    if (!rc) tn_task_observe(t, "incident.annotate", 1, 0, "{}");
    return push_incident(L, tn_incidents_get(in, id), rc, NULL);
}

static int rb_link(lua_State *L)
{
    tn_incidents_t *in = book_incidents(L, "incident.link");
    const char *id = luaL_checkstring(L, 1), *url = luaL_checkstring(L, 2);
    const char *title = luaL_optstring(L, 3, "link");
    lua_pushfstring(L, "%s: %s", title, url);
    const char *note = lua_tostring(L, -1);
    tn_task_t *t = tn_task_current(L);
    if (tn_task_dry_run(t)) return tn_task_dry_result(L, t, "incident.link", note);
    int rc = tn_incidents_annotate(in, id, run_name(L), note, tn_now_ms(), NULL, NULL);
    if (!rc) tn_task_observe(t, "incident.link", 1, 0, "{}");
    return push_incident(L, tn_incidents_get(in, id), rc, NULL);
}

/* incident.ack / mitigate / resolve(id [, note]) */
static int rb_state(lua_State *L, const char *state, const char *what)
{
    tn_incidents_t *in = book_incidents(L, what);
    const char *id = luaL_checkstring(L, 1), *note = luaL_optstring(L, 2, NULL);
    tn_task_t *t = tn_task_current(L);
    if (tn_task_dry_run(t)) return tn_task_dry_result(L, t, what, state);
    tn_incident_t *inc = NULL;
    const char *why = NULL;
    int rc = tn_incidents_set_state(in, id, state, run_name(L), note, tn_now_ms(), &inc, &why, NULL,
                                    NULL);
    char d[96];
    snprintf(d, sizeof d, "{\"state\":\"%s\",\"ok\":%s}", state, rc ? "false" : "true");
    tn_task_observe(t, what, rc == 0, 0, d);
    return push_incident(L, inc, rc, why);
}
static int rb_ack(lua_State *L)
{
    return rb_state(L, "acknowledged", "incident.ack");
}
static int rb_mitigate(lua_State *L)
{
    return rb_state(L, "mitigated", "incident.mitigate");
}
static int rb_resolve(lua_State *L)
{
    return rb_state(L, "resolved", "incident.resolve");
}

static int open_book_incident(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"get", rb_get},           {"annotate", rb_annotate}, {"link", rb_link}, {"ack", rb_ack},
        {"mitigate", rb_mitigate}, {"resolve", rb_resolve},   {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}

void tn_automate_set_incidents(tn_automate_t *a, tn_incidents_t *in)
{
    a->incidents = in;
}

static int setup_book(void *owner, tn_lua_t *lua)
{
    tn_automate_t *a = owner;
    return tn_lua_preload(lua, "tocsin.approval", tn_approvals_open, a ? a->approvals : NULL) ||
                   tn_lua_preload(lua, "tocsin.incident", open_book_incident, a)
               ? TN_ENOMEM
               : 0;
}

static void run_of(void *task_arg, const char **id, const char **runbook);

static void book_opts(tn_automate_t *a, const tn_config_t *cfg, tn_catalog_t *catalog,
                      const tn_script_services_t *svc, tn_scriptset_opts_t *o)
{
    *o = (tn_scriptset_opts_t){.kind = "runbook",
                               .dir = cfg->scripts.runbooks_dir,
                               .cfg = cfg,
                               .catalog = catalog,
                               .owner = a,
                               .svc = svc,
                               .setup = setup_book,
                               .validate = validate_book};
}

int tn_automate_check_file(const char *path, const tn_config_t *cfg, tn_buf_t *err)
{
    tn_script_services_t svc = {.cfg = cfg};
    tn_scriptset_opts_t o;
    book_opts(NULL, cfg, NULL, &svc, &o);
    return tn_scriptset_check_file(&o, path, err);
}

tn_automate_t *tn_automate_create(const tn_automate_opts_t *opts)
{
    tn_automate_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->o = *opts;
    if (opts->svc && opts->svc->loop &&
        !(a->approvals = tn_approvals_create(opts->svc->loop, run_of))) {
        free(a);
        return NULL;
    }
    tn_scriptset_opts_t so;
    book_opts(a, opts->cfg, opts->catalog, opts->svc, &so);
    a->books = tn_scriptset_create(&so);
    if (!a->books) {
        tn_approvals_destroy(a->approvals);
        free(a);
        return NULL;
    }
    a->m_started =
        tn_metrics_counter("tocsin_runbook_runs_started_total", NULL, "Runbook runs started.");
    a->m_ok = tn_metrics_counter("tocsin_runbook_runs_total", "result=\"ok\"",
                                 "Runbook runs finished, by result.");
    a->m_failed = tn_metrics_counter("tocsin_runbook_runs_total", "result=\"failed\"",
                                     "Runbook runs finished, by result.");
    a->m_skipped = tn_metrics_counter(
        "tocsin_runbook_runs_refused_total", NULL,
        "Runbook runs not started: cooldown, concurrency, runaway guard or approval needed.");
    tn_hmap_init(&a->guards);
    if (opts->svc && opts->svc->loop && (a->schedule = malloc(sizeof *a->schedule))) {
        uv_timer_init(opts->svc->loop, a->schedule);
        a->schedule->data = a;
        uv_timer_start(a->schedule, on_schedule, 1000, 1000);
    }
    if (!(a->history = json_array())) {
        tn_scriptset_destroy(a->books);
        free(a);
        return NULL;
    }
    return a;
}

int tn_automate_load(tn_automate_t *a)
{
    int failed = tn_scriptset_reload_all(a->books);
    return failed < 0 ? failed : (int)tn_scriptset_count(a->books);
}

tn_scriptset_t *tn_automate_runbooks(tn_automate_t *a)
{
    return a->books;
}

unsigned tn_automate_running(const tn_automate_t *a)
{
    return a->nrunning;
}
unsigned tn_automate_runbook_count(const tn_automate_t *a)
{
    return (unsigned)tn_scriptset_count(a->books);
}

/* ---- audit ------------------------------------------------------------------------------ */

static void audit_written(int err, void *arg)
{
    (void)arg;
    if (err) tn_log_warn("automate", "audit entry not written: %s", tn_strerror(err));
}

static void audit(tn_automate_t *a, const run_t *r, const char *event, const char *status,
                  const char *detail, double ms)
{
    char level[8], dur[32], ts[24];
    snprintf(level, sizeof level, "%d", r->level);
    snprintf(dur, sizeof dur, "%.3f", ms);
    snprintf(ts, sizeof ts, "%lld", (long long)tn_now_ms());
    const char *fields[] = {"run",    r->id,     "runbook",  r->runbook,
                            "event",  event,     "status",   status,
                            "level",  level,     "incident", r->incident_id,
                            "origin", r->origin, "detail",   detail ? detail : "{}",
                            "ms",     dur,       "ts",       ts};
    int rc = tn_streams_xadd(a->o.streams, tn_streams_key(a->o.streams, TN_STREAM_AUDIT), fields,
                             10, audit_written, NULL);
    if (rc)
        tn_log_warn("automate", "audit entry for run %s not written: %s", r->id, tn_strerror(rc));
}

static void on_step(tn_task_t *t, const char *action, int ok, double ms, const char *detail,
                    void *arg)
{
    (void)t;
    run_t *r = arg;
    r->steps++;
    tn_log_info("automate", "run %s (%s): %s %s in %.1f ms %s", r->id, r->runbook, action,
                ok ? "ok" : "failed", ms, detail);
    char buf[768];
    snprintf(buf, sizeof buf, "{\"action\":\"%s\",\"step\":%u,\"result\":%.600s}", action, r->steps,
             detail ? detail : "{}");
    audit(r->a, r, "step", ok ? "ok" : "failed", buf, ms);
    json_t *steps = json_object_get(r->record, "steps");
    json_t *res = detail ? json_loads(detail, 0, NULL) : NULL;
    if (steps && json_array_size(steps) < 200)
        json_array_append_new(steps, json_pack("{s:s, s:s, s:f, s:o}", "action", action, "status",
                                               ok ? "ok" : "failed", "ms", ms, "result",
                                               res ? res : json_object()));
    else
        json_decref(res);
}

static void run_of(void *task_arg, const char **id, const char **runbook)
{
    const run_t *r = task_arg;
    *id = r ? r->id : "";
    *runbook = r ? r->runbook : "";
}

tn_approvals_t *tn_automate_approvals(tn_automate_t *a)
{
    return a->approvals;
}

static void run_free(run_t *r)
{
    free(r->runbook);
    free(r->origin);
    free(r->incident_id);
    free(r->approved_by);
    json_decref(r->record);
    free(r);
}

/* Adds an entry to the history (reference taken), dropping the oldest beyond keep_runs. */
static void remember(tn_automate_t *a, json_t *rec)
{
    if (!rec) return;
    json_array_append_new(a->history, rec);
    size_t keep = (size_t)a->o.cfg->automate.keep_runs;
    while (json_array_size(a->history) > keep)
        json_array_remove(a->history, 0);
}

/* Takes a run off the running list and frees it. */
static void run_unlink(tn_automate_t *a, run_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        a->runs = r->next;
    if (r->next) r->next->prev = r->prev;
    a->nrunning--;
    run_free(r);
}

void tn_automate_set_listener(tn_automate_t *a, tn_automate_listener_fn fn, void *arg)
{
    a->listener = fn;
    a->listener_arg = arg;
}

/* What the run function returned, as JSON (a string, a table...), or null. */
static json_t *run_output(tn_task_t *t, int nres)
{
    if (nres < 1) return json_null();
    lua_State *co = tn_task_thread(t);
    int idx = lua_gettop(co) - nres + 1;
    if (lua_isnil(co, idx)) return json_null();
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *v = tn_lua_to_json(co, idx, &err);
    if (!v) v = json_pack("{s:s}", "unconvertible", err.data ? err.data : "?");
    tn_buf_deinit(&err);
    return v;
}

static void on_run_done(tn_task_t *t, int status, const char *err, int nres, void *arg)
{
    run_t *r = arg;
    tn_automate_t *a = r->a;
    double ms = (double)(tn_now_ms() - r->start_ms);
    if (r->record) {
        const char *st = status == 0 ? "ok" : status == TN_ECANCELED ? "canceled" : "failed";
        json_object_set_new(r->record, "status", json_string(st));
        json_object_set_new(r->record, "ms", json_real(ms));
        json_object_set_new(r->record, "finished_ms", json_integer((json_int_t)tn_now_ms()));
        if (status && err) json_object_set_new(r->record, "error", json_string(err));
        if (status == 0) json_object_set_new(r->record, "output", run_output(t, nres));
    }
    if (status == 0) {
        tn_metric_inc(a->m_ok);
        tn_log_info("automate", "run %s (%s) finished ok in %.0f ms, %u step(s)", r->id, r->runbook,
                    ms, r->steps);
        audit(a, r, "run.finished", "ok", NULL, ms);
    } else {
        tn_metric_inc(a->m_failed);
        const char *st = status == TN_ECANCELED ? "canceled" : "failed";
        tn_log_error("automate", "run %s (%s) %s after %.0f ms: %s", r->id, r->runbook, st, ms,
                     err ? err : "?");
        tn_buf_t d;
        tn_buf_init(&d);
        tn_buf_puts(&d, "{\"error\":");
        tn_buf_json_str(&d, err ? err : "", err ? strlen(err) : 0);
        tn_buf_puts(&d, "}");
        audit(a, r, "run.finished", st, d.data, ms);
        tn_buf_deinit(&d);
    }
    if (a->listener && r->record && !a->destroying)
        a->listener(a->listener_arg, "run.finished", r->record);
    run_unlink(a, r);
}

/* Protected: builds ctx on the runbook's state: (book table, run lightuserdata, params lud,
 * incident lud) -> run function, ctx. */
typedef struct {
    const run_t *r;
    const json_t *params;
    const json_t *incident;
    int text_params; /* strings convert to the declared type (chat) */
} ctx_args_t;

static const char *const g_param_types[] = {"string",  "integer", "number",
                                            "boolean", "table",   NULL};

/* Whether the value at idx is a parameter spec ({ type = "string", ... }) rather than a plain
 * default. */
static int is_spec(lua_State *L, int idx)
{
    if (!lua_istable(L, idx)) return 0;
    lua_getfield(L, idx, "type");
    int yes = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
        for (int i = 0; g_param_types[i]; i++)
            yes |= !strcmp(lua_tostring(L, -1), g_param_types[i]);
    lua_pop(L, 1);
    return yes;
}

/* The type name of the value at idx, as parameters count it. */
static const char *value_type(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        return "string";
    case LUA_TBOOLEAN:
        return "boolean";
    case LUA_TTABLE:
        return "table";
    case LUA_TNUMBER:
        return lua_isinteger(L, idx) ? "integer" : "number";
    default:
        return lua_typename(L, lua_type(L, idx));
    }
}

/* Parameters typed as text (chat): the string on top becomes an integer, a number or a boolean
 * when want says so and it reads as one (else it stays, and the type check refuses it). */
static void coerce_text(lua_State *L, const char *want)
{
    if (lua_type(L, -1) != LUA_TSTRING || !want) return;
    const char *s = lua_tostring(L, -1);
    if (!strcmp(want, "boolean")) {
        int t = !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on");
        int f = !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off");
        if (t || f) {
            lua_pop(L, 1);
            lua_pushboolean(L, t);
        }
    } else if (!strcmp(want, "integer") || !strcmp(want, "number")) {
        size_t len;
        s = lua_tolstring(L, -1, &len);
        if (len && lua_stringtonumber(L, s) == len + 1) { /* pushed the number */
            if (!strcmp(want, "integer") && !lua_isinteger(L, -1)) {
                lua_pop(L, 1);
                return;
            }
            lua_remove(L, -2);
        }
    }
}

/* Checks the value on top against the spec at spec (absolute index) for parameter k; raises a
 * Lua error naming the parameter. text: the value came as text (coerce_text). */
static void check_param(lua_State *L, int spec, const char *k, int text)
{
    lua_getfield(L, spec, "type");
    const char *want = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (text) coerce_text(L, want);
    const char *got = value_type(L, -1);
    int ok = !strcmp(want, got) || (!strcmp(want, "number") && !strcmp(got, "integer"));
    if (!ok && !strcmp(want, "integer") && lua_type(L, -1) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, -1); /* 3.0 from JSON is an integer */
        if (n == (lua_Number)(lua_Integer)n) {
            lua_pop(L, 1);
            lua_pushinteger(L, (lua_Integer)n);
            ok = 1;
        }
    }
    if (!ok) luaL_error(L, "parameter '%s' must be of type %s, not %s", k, want, got);
    if (lua_type(L, -1) == LUA_TNUMBER) {
        lua_Number v = lua_tonumber(L, -1);
        lua_getfield(L, spec, "min");
        if (lua_isnumber(L, -1) && v < lua_tonumber(L, -1))
            luaL_error(L, "parameter '%s' must be at least %s", k, lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_getfield(L, spec, "max");
        if (lua_isnumber(L, -1) && v > lua_tonumber(L, -1))
            luaL_error(L, "parameter '%s' must be at most %s", k, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        lua_getfield(L, spec, "pattern");
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_getglobal(L, "string");
            lua_getfield(L, -1, "match");
            lua_pushvalue(L, -4); /* the value */
            lua_pushfstring(L, "^%s$", lua_tostring(L, -4));
            lua_call(L, 2, 1);
            if (lua_isnil(L, -1))
                luaL_error(L, "parameter '%s' does not match %s", k, lua_tostring(L, -3));
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, spec, "enum");
    if (lua_istable(L, -1)) {
        int found = 0;
        for (lua_Integer i = 1; !found && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
            lua_rawgeti(L, -1, i);
            found = lua_rawequal(L, -1, -3);
            lua_pop(L, 1);
        }
        if (!found) luaL_error(L, "parameter '%s' is not one of the values allowed", k);
    }
    lua_pop(L, 1);
}

static int build_ctx(lua_State *L)
{
    const ctx_args_t *c = lua_touserdata(L, 2);
    lua_getfield(L, 1, "run");
    lua_createtable(L, 0, 8);
    lua_pushstring(L, c->r->id);
    lua_setfield(L, -2, "run_id");
    lua_pushstring(L, c->r->runbook);
    lua_setfield(L, -2, "runbook");
    lua_pushinteger(L, c->r->level);
    lua_setfield(L, -2, "level");
    lua_pushstring(L, c->r->origin);
    lua_setfield(L, -2, "origin");
    /* params: the given values (checked against their specs), else the defaults; a required
     * one must be given; parameters the runbook does not declare pass as they are */
    lua_newtable(L);
    int out = lua_gettop(L);
    if (c->params) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)c->params, k, v)
        {
            tn_lua_push_json(L, v);
            lua_setfield(L, out, k);
        }
    }
    lua_getfield(L, 1, "params");
    int decl = lua_gettop(L);
    if (lua_istable(L, decl)) {
        lua_pushnil(L);
        while (lua_next(L, decl)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                lua_pop(L, 1);
                continue;
            }
            const char *k = lua_tostring(L, -2);
            int spec = lua_gettop(L);
            lua_getfield(L, out, k);
            if (is_spec(L, spec)) {
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    lua_getfield(L, spec, "required");
                    int required = lua_toboolean(L, -1);
                    lua_pop(L, 1);
                    lua_getfield(L, spec, "default");
                    if (lua_isnil(L, -1) && required)
                        luaL_error(L, "parameter '%s' is required", k);
                } else {
                    check_param(L, spec, k, c->text_params);
                }
            } else if (lua_isnil(L, -1)) { /* a plain default */
                lua_pop(L, 1);
                lua_pushvalue(L, spec);
            } else {
                if (c->text_params) coerce_text(L, value_type(L, spec));
                if (strcmp(value_type(L, -1), value_type(L, spec)) &&
                    !(lua_type(L, -1) == LUA_TNUMBER && lua_type(L, spec) == LUA_TNUMBER))
                    luaL_error(L, "parameter '%s' must be of type %s (like its default), not %s", k,
                               value_type(L, spec), value_type(L, -1));
            }
            lua_setfield(L, out, k);
            lua_pop(L, 1); /* the spec or default */
        }
    }
    lua_pop(L, 1); /* declarations */
    lua_setfield(L, -2, "params");
    if (c->incident) {
        tn_lua_push_json(L, c->incident);
        lua_setfield(L, -2, "incident");
    }
    return 2;
}

/* An integer field of the runbook's policy table (on top of L: the book), or def. */
static lua_Integer policy_int(lua_State *L, const char *k, lua_Integer def)
{
    lua_Integer v = def;
    if (lua_getfield(L, -1, "policy") == LUA_TTABLE) {
        lua_getfield(L, -1, k);
        if (lua_isinteger(L, -1)) v = lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return v;
}

/* What the cooldown and the guard count per: policy.key ("service" by default: the incident's or
 * params.service; "incident"; "runbook": one for all; else the parameter of that name). */
static void policy_key(lua_State *L, const tn_automate_req_t *q, char *out, size_t cap)
{
    const char *key = "service";
    if (lua_getfield(L, -1, "policy") == LUA_TTABLE) {
        lua_getfield(L, -1, "key");
        if (lua_type(L, -1) == LUA_TSTRING) key = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    const char *v = "";
    if (!strcmp(key, "incident")) {
        v = json_string_value(json_object_get(q->incident, "id"));
    } else if (strcmp(key, "runbook")) {
        v = json_string_value(json_object_get(q->params, key));
        if (!v && !strcmp(key, "service"))
            v = json_string_value(json_object_get(q->incident, "service"));
    }
    snprintf(out, cap, "%s=%.200s", key, v ? v : "");
    lua_pop(L, 1);
}

/* A run that was not started: audited and remembered with the reason. */
static void refuse(tn_automate_t *a, const tn_automate_req_t *q, int level, const char *status,
                   const char *why)
{
    run_t r = {.a = a, .level = level};
    snprintf(r.id, sizeof r.id, "SKIP-%lld-%u", (long long)tn_now_ms(), ++a->seq);
    r.runbook = (char *)q->name;
    r.origin = (char *)(q->origin ? q->origin : "api");
    json_t *iid = json_object_get(q->incident, "id");
    r.incident_id = (char *)(json_is_string(iid) ? json_string_value(iid) : "");
    tn_buf_t d;
    tn_buf_init(&d);
    tn_buf_puts(&d, "{\"reason\":");
    tn_buf_json_str(&d, why, strlen(why));
    tn_buf_puts(&d, "}");
    audit(a, &r, "run.refused", status, d.data, 0);
    tn_buf_deinit(&d);
    tn_metric_inc(a->m_skipped);
    tn_log_warn("automate", "runbook '%s' (asked for by %s) not started: %s", q->name, r.origin,
                why);
    remember(a, json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:I, s:s, s:[]}", "run", r.id, "runbook",
                          q->name, "level", level, "origin", r.origin, "incident", r.incident_id,
                          "status", status, "started_ms", (json_int_t)tn_now_ms(), "reason", why,
                          "steps"));
}

int tn_automate_start(tn_automate_t *a, const char *name, const json_t *params,
                      const json_t *incident, const char *origin, char *run_id)
{
    tn_automate_req_t q = {.name = name, .params = params, .incident = incident, .origin = origin};
    return tn_automate_start_ex(a, &q, run_id, NULL, NULL);
}

int tn_automate_start_ex(tn_automate_t *a, const tn_automate_req_t *q, char *run_id,
                         const char **why_out, const char **status_out)
{
    static char why[512];
    if (why_out) *why_out = NULL;
    if (status_out) *status_out = NULL;
    tn_script_t *b = tn_scriptset_find(a->books, q->name);
    if (!b) {
        tn_log_warn("automate", "no runbook named '%s' (asked for by %s)", q->name,
                    q->origin ? q->origin : "?");
        return TN_ENOTFOUND;
    }
    lua_State *L = tn_lua_state(b->lua);
    tn_script_push(b);
    lua_getfield(L, -1, "level");
    int level = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "dry_run");
    int dry = lua_toboolean(L, -1) || a->o.cfg->automate.dry_run || q->dry_run;
    lua_pop(L, 1);
    /* the policy: who may run it unattended, how often, how many at once */
    /* the runbook's own bound replaces the global one: raised for one that only reports,
     * lowered for a dangerous one (it is in the file, for reviewers to see) */
    lua_Integer max_level = policy_int(L, "max_level", a->o.cfg->automate.max_level);
    lua_Integer cooldown_s = policy_int(L, "cooldown_s", 0);
    lua_Integer max_conc = policy_int(L, "max_concurrent", 0);
    lua_Integer per_hour = policy_int(L, "max_per_hour", 0);
    char key[256], gkey[512];
    policy_key(L, q, key, sizeof key);
    lua_pop(L, 1);
    snprintf(gkey, sizeof gkey, "%s\x1f%s", q->name, key);
    int64_t now = tn_now_ms();
    guard_t *g = tn_hmap_get(&a->guards, gkey);
    const char *status = NULL;
    if (level > max_level && !dry && !(q->approved_by && *q->approved_by)) {
        status = "needs_approval";
        snprintf(why, sizeof why,
                 "level %d is above %lld, the highest that runs without a human: start it with "
                 "approved_by (POST /api/v1/runs), or as a dry run",
                 level, (long long)max_level);
    } else if (max_conc > 0) {
        lua_Integer n = 0;
        for (run_t *r = a->runs; r; r = r->next)
            n += !strcmp(r->runbook, b->name);
        if (n >= max_conc) {
            status = "max_concurrent";
            snprintf(why, sizeof why, "%lld run(s) of it already in progress (max_concurrent %lld)",
                     (long long)n, (long long)max_conc);
        }
    }
    /* a dry run does nothing: the cooldown and the runaway guard neither stop nor count it */
    if (!status && !dry && g && cooldown_s > 0 && now - g->last_ms < cooldown_s * 1000) {
        status = "cooldown";
        snprintf(why, sizeof why, "ran for %.120s %lld s ago (cooldown_s %lld)", key,
                 (long long)((now - g->last_ms) / 1000), (long long)cooldown_s);
    }
    if (!status && !dry && g && per_hour > 0) {
        unsigned recent = 0;
        for (unsigned k = 0; k < g->n; k++)
            recent += now - g->times[k] < 3600 * 1000;
        if (recent >= per_hour) {
            status = "max_per_hour";
            snprintf(why, sizeof why,
                     "%u run(s) for %.120s in the last hour (max_per_hour %lld): runaway guard",
                     recent, key, (long long)per_hour);
        }
    }
    if (status) {
        refuse(a, q, level, status, why);
        if (why_out) *why_out = why;
        if (status_out) *status_out = status;
        return TN_EBUSY;
    }
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g || tn_hmap_put(&a->guards, gkey, g, NULL)) {
            free(g);
            return TN_ENOMEM;
        }
    }
    run_t *r = calloc(1, sizeof *r);
    if (!r) return TN_ENOMEM;
    r->a = a;
    r->start_ms = now;
    r->level = level;
    r->dry_run = dry;
    snprintf(r->id, sizeof r->id, "RUN-%lld-%u", (long long)r->start_ms, ++a->seq);
    r->runbook = strdup(b->name);
    r->origin = strdup(q->origin ? q->origin : "api");
    r->approved_by = strdup(q->approved_by ? q->approved_by : "");
    json_t *iid = q->incident ? json_object_get(q->incident, "id") : NULL;
    r->incident_id = strdup(json_is_string(iid) ? json_string_value(iid) : "");
    if (!r->runbook || !r->origin || !r->incident_id || !r->approved_by) {
        run_free(r);
        return TN_ENOMEM;
    }
    r->record = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:b, s:s, s:I, s:O, s:[]}", "run", r->id,
                          "runbook", r->runbook, "level", r->level, "origin", r->origin, "incident",
                          r->incident_id, "approved_by", r->approved_by, "dry_run", r->dry_run,
                          "status", "running", "started_ms", (json_int_t)now, "params",
                          json_is_object(q->params) ? q->params : json_null(), "steps");
    ctx_args_t ca = {r, json_is_object(q->params) ? q->params : NULL, q->incident, q->text_params};
    lua_pushcfunction(L, build_ctx);
    tn_script_push(b);
    lua_pushlightuserdata(L, &ca);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
        snprintf(why, sizeof why, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_pop(L, 1);
        run_free(r);
        refuse(a, q, level, "bad_params", why);
        if (why_out) *why_out = why;
        if (status_out) *status_out = "bad_params";
        return TN_EINVAL;
    }
    lua_pushboolean(L, r->dry_run); /* ctx.dry_run */
    lua_setfield(L, -2, "dry_run");
    lua_pushstring(L, r->approved_by);
    lua_setfield(L, -2, "approved_by");
    if (!r->dry_run) { /* the cooldown and the guard count this start */
        g->last_ms = now;
        g->times[g->head] = now;
        g->head = (g->head + 1) % GUARD_SLOTS;
        if (g->n < GUARD_SLOTS) g->n++;
    }
    /* link before spawning: the task may finish at once */
    r->next = a->runs;
    if (a->runs) a->runs->prev = r;
    a->runs = r;
    a->nrunning++;
    tn_metric_inc(a->m_started);
    remember(a, json_incref(r->record));
    if (run_id) snprintf(run_id, 40, "%s", r->id);
    tn_log_info("automate", "run %s: starting runbook '%s' (level %d%s) for %s%s%s%s%s", r->id,
                r->runbook, r->level, r->dry_run ? ", dry run" : "", r->origin,
                *r->incident_id ? ", incident " : "", r->incident_id,
                *r->approved_by ? ", approved by " : "", r->approved_by);
    audit(a, r, "run.started", r->dry_run ? "dry_run" : "running", NULL, 0);
    tn_task_t *t = NULL;
    int rc = r->dry_run ? tn_task_spawn_dry(b->lua, 1, on_run_done, on_step, r, &t)
                        : tn_task_spawn_observed(b->lua, 1, on_run_done, on_step, r, &t);
    if (rc == 0 && t) r->task = t; /* still running (else r is already freed) */
    if (rc) {
        run_unlink(a, r);
        return rc;
    }
    return 0;
}

/* Glob match: '*' is any run of characters; the rest is literal. */
static int glob(const char *p, const char *s)
{
    if (!*p) return !*s;
    if (*p == '*') {
        for (;; s++) {
            if (glob(p + 1, s)) return 1;
            if (!*s) return 0;
        }
    }
    return *s && *p == *s && glob(p + 1, s + 1);
}

/* Whether trigger i of the book on top of L matches the incident. */
static int incident_matches(lua_State *L, const json_t *inc)
{
    if (lua_getfield(L, -1, "incident") != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    int match = 1;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *k = lua_tostring(L, -2), *pat = lua_tostring(L, -1);
        const char *v = json_string_value(json_object_get(inc, k));
        if (match && (!pat || !glob(pat, v ? v : ""))) match = 0;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return match;
}

void tn_automate_incident_opened(tn_automate_t *a, const json_t *incident)
{
    size_t n = tn_scriptset_count(a->books);
    char names[64][128];
    size_t nm = 0;
    for (size_t i = 0; i < n && nm < 64; i++) {
        tn_script_t *b = tn_scriptset_at(a->books, i);
        lua_State *L = tn_lua_state(b->lua);
        tn_script_push(b);
        int hit = 0;
        if (lua_getfield(L, -1, "triggers") == LUA_TTABLE) {
            lua_Integer k = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer j = 1; j <= k && !hit; j++) {
                lua_rawgeti(L, -1, j);
                hit = lua_istable(L, -1) && incident_matches(L, incident);
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 2);
        if (hit) snprintf(names[nm++], sizeof names[0], "%s", b->name);
    }
    for (size_t i = 0; i < nm; i++) { /* started after the walk: a start may reload nothing */
        tn_automate_req_t q = {.name = names[i], .incident = incident, .origin = "trigger"};
        json_t *svc = json_object_get(incident, "service");
        json_t *params = json_pack("{s:O}", "service", svc ? svc : json_string(""));
        q.params = params;
        tn_automate_start_ex(a, &q, NULL, NULL, NULL);
        json_decref(params);
    }
}

/* The schedule: every second, runbooks with an every_s trigger that are due are started. */
static void on_schedule(uv_timer_t *h)
{
    tn_automate_t *a = h->data;
    int64_t now = tn_now_ms();
    size_t n = tn_scriptset_count(a->books);
    for (size_t i = 0; i < n; i++) {
        tn_script_t *b = tn_scriptset_at(a->books, i);
        lua_State *L = tn_lua_state(b->lua);
        tn_script_push(b);
        lua_Integer every = 0;
        if (lua_getfield(L, -1, "triggers") == LUA_TTABLE) {
            lua_Integer k = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer j = 1; j <= k && !every; j++) {
                lua_rawgeti(L, -1, j);
                if (lua_istable(L, -1)) {
                    lua_getfield(L, -1, "every_s");
                    every = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
                    lua_pop(L, 1);
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 2);
        if (!every) continue;
        char key[160];
        snprintf(key, sizeof key, "schedule\x1f%.120s", b->name);
        guard_t *g = tn_hmap_get(&a->guards, key);
        if (!g) { /* the first period starts now */
            if (!(g = calloc(1, sizeof *g)) || tn_hmap_put(&a->guards, key, g, NULL)) {
                free(g);
                continue;
            }
            g->last_ms = now;
            continue;
        }
        if (now - g->last_ms < every * 1000) continue;
        g->last_ms = now;
        char name[128];
        snprintf(name, sizeof name, "%s", b->name);
        tn_automate_req_t q = {.name = name, .origin = "schedule"};
        tn_automate_start_ex(a, &q, NULL, NULL, NULL);
        n = tn_scriptset_count(a->books); /* unchanged by a start; read again for safety */
    }
}

static void schedule_closed(uv_handle_t *h)
{
    free(h);
}

const char *tn_automate_command_runbook(tn_automate_t *a, const char *command)
{
    size_t n = tn_scriptset_count(a->books);
    for (size_t i = 0; i < n; i++) {
        tn_script_t *b = tn_scriptset_at(a->books, i);
        lua_State *L = tn_lua_state(b->lua);
        tn_script_push(b);
        int found = 0;
        if (lua_getfield(L, -1, "triggers") == LUA_TTABLE) {
            lua_Integer nt = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer k = 1; k <= nt && !found; k++) {
                lua_rawgeti(L, -1, k);
                if (lua_istable(L, -1)) {
                    if (lua_getfield(L, -1, "command") == LUA_TSTRING)
                        found = !strcmp(lua_tostring(L, -1), command);
                    lua_pop(L, 1);
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 2);
        if (found) return b->name;
    }
    return NULL;
}

int tn_automate_runbook_level(tn_automate_t *a, const char *name)
{
    tn_script_t *b = tn_scriptset_find(a->books, name);
    if (!b) return TN_ENOTFOUND;
    lua_State *L = tn_lua_state(b->lua);
    tn_script_push(b);
    lua_getfield(L, -1, "level");
    int level = (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    return level;
}

/* Sorts a JSON list of strings in place (insertion sort: lists of parameter names). */
static void sort_strings(json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            json_t *x = json_array_get(arr, j - 1), *y = json_array_get(arr, j);
            if (strcmp(json_string_value(x), json_string_value(y)) <= 0) break;
            json_incref(x);
            json_array_set(arr, j - 1, y);
            json_array_set_new(arr, j, x);
        }
}

json_t *tn_automate_runbooks_json(tn_automate_t *a)
{
    json_t *arr = json_array();
    size_t n = tn_scriptset_count(a->books);
    for (size_t i = 0; arr && i < n; i++) {
        tn_script_t *b = tn_scriptset_at(a->books, i);
        lua_State *L = tn_lua_state(b->lua);
        tn_script_push(b);
        lua_getfield(L, -1, "description");
        lua_getfield(L, -2, "level");
        json_t *params = json_array();
        lua_getfield(L, -3, "params");
        if (lua_istable(L, -1)) {
            lua_pushnil(L);
            while (params && lua_next(L, -2)) {
                if (lua_type(L, -2) == LUA_TSTRING)
                    json_array_append_new(params, json_string(lua_tostring(L, -2)));
                lua_pop(L, 1);
            }
            sort_strings(params);
        }
        json_t *o = params ? json_pack("{s:s, s:s, s:i, s:o}", "name", b->name, "description",
                                       lua_isstring(L, -3) ? lua_tostring(L, -3) : "", "level",
                                       (int)lua_tointeger(L, -2), "params", params)
                           : NULL;
        const char *cmd = NULL;
        if (lua_getfield(L, -4, "triggers") == LUA_TTABLE) /* its chat command, if any */
            for (lua_Integer k = 1; !cmd && k <= (lua_Integer)lua_rawlen(L, -1); k++) {
                lua_rawgeti(L, -1, k);
                if (lua_istable(L, -1)) {
                    if (lua_getfield(L, -1, "command") == LUA_TSTRING && o)
                        json_object_set_new(o, "command", json_string(cmd = lua_tostring(L, -1)));
                    lua_pop(L, 1);
                }
                lua_pop(L, 1);
            }
        lua_pop(L, 1);
        lua_pop(L, 4);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

json_t *tn_automate_runs(tn_automate_t *a, size_t limit)
{
    size_t n = json_array_size(a->history), from = n > limit ? n - limit : 0;
    json_t *arr = json_array();
    for (size_t i = n; arr && i > from; i--) /* newest first */
        json_array_append(arr, json_array_get(a->history, i - 1));
    return arr;
}

int tn_automate_runs_json(tn_automate_t *a, size_t limit, tn_buf_t *out)
{
    json_t *arr = tn_automate_runs(a, limit);
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!text) return TN_ENOMEM;
    int rc = tn_buf_puts(out, text);
    free(text);
    return rc;
}

void tn_automate_destroy(tn_automate_t *a)
{
    if (!a) return;
    a->destroying = 1;
    while (a->runs) {
        run_t *r = a->runs;
        tn_task_t *t = r->task;
        if (!t) break;
        tn_task_cancel(t); /* on_run_done unlinks and frees r */
    }
    if (a->schedule) {
        uv_timer_stop(a->schedule);
        uv_close((uv_handle_t *)a->schedule, schedule_closed);
    }
    tn_approvals_destroy(a->approvals); /* what the cancels left */
    tn_scriptset_destroy(a->books);
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&a->guards, &it, NULL, &v))
        free(v);
    tn_hmap_deinit(&a->guards);
    json_decref(a->history);
    free(a);
}
