/* tocsin.emit - scripts publish into the pipeline.
 *
 *   emit.sample{ name = "queue_depth", value = 12, labels = { service = "api" } }
 *       the same shape and validation as POST /api/v1/samples; the sample goes through
 *       detection like any other.
 *   emit.event("deploy", { service = "payments", version = "2.4.0" })
 *       appended to the events stream as type + JSON data.
 * In a task, both wait until Redis confirmed the write and return true or nil, reason
 * ("invalid: <why>", "closed", "timeout"). In a rule (which cannot wait) the write is started
 * and true is returned at once; a failed write is logged. */
#include "script/bindings.h"
#include "script/convert.h"
#include "script/services.h"
#include "script/task.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sample.h"
#include "ingest/json_samples.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    tn_task_t *task; /* NULL when cancelled or not waiting */
    int64_t start_ms;
    char what[16];
    char *script; /* for the log when nobody waits */
} emit_op_t;

static void op_cancel(void *p)
{
    ((emit_op_t *)p)->task = NULL;
}

static void on_written(int err, void *arg)
{
    emit_op_t *op = arg;
    tn_task_t *t = op->task;
    if (t) {
        char detail[64];
        snprintf(detail, sizeof detail, "{\"emit\":\"%s\"}", op->what);
        tn_task_observe(t, "emit", !err, (double)(tn_now_ms() - op->start_ms), detail);
        lua_State *co = tn_task_thread(t);
        if (err) {
            lua_pushnil(co);
            lua_pushstring(co, err == TN_ETIMEDOUT ? "timeout" : "closed");
        } else {
            lua_pushboolean(co, 1);
            lua_pushnil(co);
        }
        free(op->script);
        free(op);
        tn_task_resume(t, 2);
        return;
    }
    if (err)
        tn_log_warn("script", "%s: emitted %s not stored: %s", op->script ? op->script : "?",
                    op->what, tn_strerror(err));
    free(op->script);
    free(op);
}

/* Starts the write described by start(); waits in a task, returns at once elsewhere. */
static int finish(lua_State *L, const char *what, int rc, emit_op_t *op)
{
    if (rc) {
        free(op->script);
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, rc == TN_ECLOSED ? "closed" : tn_strerror(rc));
        return 2;
    }
    if (op->task) return tn_task_wait(L, op->task, op_cancel, op);
    lua_pushboolean(L, 1);
    return 1;
}

static emit_op_t *new_op(lua_State *L, const char *what)
{
    emit_op_t *op = calloc(1, sizeof *op);
    if (!op) luaL_error(L, "emit.%s: out of memory", what);
    op->task = tn_task_current(L);
    op->start_ms = tn_now_ms();
    snprintf(op->what, sizeof op->what, "%s", what);
    op->script = strdup(tn_lua_name(tn_lua_from(L)));
    return op;
}

static int l_sample(lua_State *L)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    tn_lua_check_context(L, TN_CTX_RULE | TN_CTX_TASK, "emit.sample");
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *j = tn_lua_to_json(L, 1, &err);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid: %s", err.data ? err.data : "out of memory");
        tn_buf_deinit(&err);
        return 2;
    }
    tn_samples_t samples;
    tn_samples_init(&samples);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    int rc = tn_ingest_json_samples(text, strlen(text), 1, tn_now_ms(), &samples, &rep, &err);
    free(text);
    if (rc || samples.n != 1) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid: %s",
                        err.len ? err.data : (rep.errors.data ? rep.errors.data : "bad sample"));
        tn_samples_deinit(&samples);
        tn_ingest_report_deinit(&rep);
        tn_buf_deinit(&err);
        return 2;
    }
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&err);
    if (!svc || !svc->streams) {
        tn_samples_deinit(&samples);
        return luaL_error(L, "emit.sample: the pipeline is not running");
    }
    tn_task_t *dt = tn_task_current(L);
    if (tn_task_dry_run(dt)) {
        char would[320];
        snprintf(would, sizeof would, "sample %.256s = %g", samples.items[0].name,
                 samples.items[0].value);
        tn_samples_deinit(&samples);
        return tn_task_dry_result(L, dt, "emit.sample", would);
    }
    emit_op_t *op = new_op(L, "sample");
    rc = tn_streams_add_samples(svc->streams, samples.items, 1, on_written, op);
    tn_samples_deinit(&samples);
    return finish(L, "sample", rc, op);
}

static int l_event(lua_State *L)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    const char *type = luaL_checkstring(L, 1);
    luaL_argcheck(L, *type && strlen(type) <= 64, 1, "event type must be 1 to 64 bytes");
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    tn_lua_check_context(L, TN_CTX_RULE | TN_CTX_TASK, "emit.event");
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *j = lua_isnoneornil(L, 2) ? json_object() : tn_lua_to_json(L, 2, &err);
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!data) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid: %s", err.data ? err.data : "out of memory");
        tn_buf_deinit(&err);
        return 2;
    }
    tn_buf_deinit(&err);
    if (!svc || !svc->streams) {
        free(data);
        return luaL_error(L, "emit.event: the pipeline is not running");
    }
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)tn_now_ms());
    const char *fields[] = {"type", type, "data",   data,
                            "ts",   ts,   "source", tn_lua_name(tn_lua_from(L))};
    tn_task_t *dt = tn_task_current(L);
    if (tn_task_dry_run(dt)) {
        char would[96];
        snprintf(would, sizeof would, "event %.64s", type);
        free(data);
        return tn_task_dry_result(L, dt, "emit.event", would);
    }
    emit_op_t *op = new_op(L, "event");
    int rc = tn_streams_xadd(svc->streams, tn_streams_key(svc->streams, TN_STREAM_EVENTS), fields,
                             4, on_written, op);
    free(data);
    return finish(L, "event", rc, op);
}

int tn_bind_emit(lua_State *L)
{
    static const luaL_Reg fns[] = {{"sample", l_sample}, {"event", l_event}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
