#include "automate/engine.h"
#include "script/bindings.h"
#include "script/contract.h"
#include "script/convert.h"
#include "script/runtime.h"
#include "script/scriptset.h"
#include "script/task.h"
#include "core/error.h"
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
    int level;
    int64_t start_ms;
    unsigned steps;
    tn_task_t *task;
    struct run *prev, *next;
} run_t;

struct tn_automate {
    tn_automate_opts_t o;
    tn_scriptset_t *books;
    run_t *runs; /* running */
    unsigned nrunning;
    unsigned seq;
    int destroying;
    tn_metric_t *m_ok, *m_failed, *m_started;
};

static const tn_field_spec_t g_runbook_spec[] = {
    {"name", LUA_TSTRING, 1, "unique runbook name"},
    {"description", LUA_TSTRING, 0, "what the runbook does"},
    {"level", LUA_TNUMBER, 1, "automation level: 1 enrich, 2 diagnose, 3 remediate, 4 prevent"},
    {"params", LUA_TTABLE, 0, "parameter defaults"},
    {"run", LUA_TFUNCTION, 1, "function(ctx) performing the runbook"},
    {NULL, 0, 0, NULL},
};

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
    return 0;
}

static void book_opts(tn_automate_t *a, const tn_config_t *cfg, tn_catalog_t *catalog,
                      const tn_script_services_t *svc, tn_scriptset_opts_t *o)
{
    *o = (tn_scriptset_opts_t){.kind = "runbook",
                               .dir = cfg->scripts.runbooks_dir,
                               .cfg = cfg,
                               .catalog = catalog,
                               .owner = a,
                               .svc = svc,
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
    tn_scriptset_opts_t so;
    book_opts(a, opts->cfg, opts->catalog, opts->svc, &so);
    a->books = tn_scriptset_create(&so);
    if (!a->books) {
        free(a);
        return NULL;
    }
    a->m_started =
        tn_metrics_counter("tocsin_runbook_runs_started_total", NULL, "Runbook runs started.");
    a->m_ok = tn_metrics_counter("tocsin_runbook_runs_total", "result=\"ok\"",
                                 "Runbook runs finished, by result.");
    a->m_failed = tn_metrics_counter("tocsin_runbook_runs_total", "result=\"failed\"",
                                     "Runbook runs finished, by result.");
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
}

static void run_free(run_t *r)
{
    free(r->runbook);
    free(r->origin);
    free(r->incident_id);
    free(r);
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

static void on_run_done(tn_task_t *t, int status, const char *err, int nres, void *arg)
{
    (void)t, (void)nres;
    run_t *r = arg;
    tn_automate_t *a = r->a;
    double ms = (double)(tn_now_ms() - r->start_ms);
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
    run_unlink(a, r);
}

/* Protected: builds ctx on the runbook's state: (book table, run lightuserdata, params lud,
 * incident lud) -> run function, ctx. */
typedef struct {
    const run_t *r;
    const json_t *params;
    const json_t *incident;
} ctx_args_t;

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
    /* params: defaults overlaid with the given values */
    lua_newtable(L);
    lua_getfield(L, 1, "params");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -5);
        }
    }
    lua_pop(L, 1);
    if (c->params) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)c->params, k, v)
        {
            tn_lua_push_json(L, v);
            lua_setfield(L, -2, k);
        }
    }
    lua_setfield(L, -2, "params");
    if (c->incident) {
        tn_lua_push_json(L, c->incident);
        lua_setfield(L, -2, "incident");
    }
    return 2;
}

int tn_automate_start(tn_automate_t *a, const char *name, const json_t *params,
                      const json_t *incident, const char *origin, char *run_id)
{
    tn_script_t *b = tn_scriptset_find(a->books, name);
    if (!b) {
        tn_log_warn("automate", "no runbook named '%s' (asked for by %s)", name,
                    origin ? origin : "?");
        return TN_ENOTFOUND;
    }
    run_t *r = calloc(1, sizeof *r);
    if (!r) return TN_ENOMEM;
    r->a = a;
    r->start_ms = tn_now_ms();
    snprintf(r->id, sizeof r->id, "RUN-%lld-%u", (long long)r->start_ms, ++a->seq);
    r->runbook = strdup(b->name);
    r->origin = strdup(origin ? origin : "api");
    json_t *iid = incident ? json_object_get(incident, "id") : NULL;
    r->incident_id = strdup(json_is_string(iid) ? json_string_value(iid) : "");
    lua_State *L = tn_lua_state(b->lua);
    tn_script_push(b);
    lua_getfield(L, -1, "level");
    r->level = (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    if (!r->runbook || !r->origin || !r->incident_id) {
        run_free(r);
        return TN_ENOMEM;
    }
    ctx_args_t ca = {r, json_is_object(params) ? params : NULL, incident};
    lua_pushcfunction(L, build_ctx);
    tn_script_push(b);
    lua_pushlightuserdata(L, &ca);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
        tn_log_error("automate", "cannot start run of %s: %s", name, lua_tostring(L, -1));
        lua_pop(L, 1);
        run_free(r);
        return TN_ENOMEM;
    }
    /* link before spawning: the task may finish at once */
    r->next = a->runs;
    if (a->runs) a->runs->prev = r;
    a->runs = r;
    a->nrunning++;
    tn_metric_inc(a->m_started);
    if (run_id) snprintf(run_id, 40, "%s", r->id);
    tn_log_info("automate", "run %s: starting runbook '%s' (level %d) for %s%s%s", r->id,
                r->runbook, r->level, r->origin, *r->incident_id ? ", incident " : "",
                r->incident_id);
    audit(a, r, "run.started", "running", NULL, 0);
    tn_task_t *t = NULL;
    int rc = tn_task_spawn_observed(b->lua, 1, on_run_done, on_step, r, &t);
    if (rc == 0 && t) r->task = t; /* still running (else r is already freed) */
    if (rc) {
        run_unlink(a, r);
        return rc;
    }
    return 0;
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
    tn_scriptset_destroy(a->books);
    free(a);
}
