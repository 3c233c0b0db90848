/* task.c - coroutine tasks that yield on engine actions. */
#include "script/task.h"
#include "core/error.h"
#include "core/log.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct tn_task {
    tn_lua_t *lua;
    lua_State *co;
    int ref; /* registry anchor of the coroutine */
    uint64_t id;
    tn_task_done_cb done;
    void *arg;
    tn_task_observe_cb observe;
    int waiting; /* engine yield in progress */
    int running; /* inside lua_resume */
    int finished;
    void (*cancel)(void *op);
    void *op;
    int *alive;           /* cleared when the task is freed (see tn_task_spawn) */
    int dry_run;          /* actions are logged and audited, none performed */
    uv_timer_t *deadline; /* time.deadline: interrupts a wait when it fires (NULL: none) */
    char deadline_msg[96];
};

static uint64_t g_next_id = 1;
static unsigned g_count;

unsigned tn_task_count(void)
{
    return g_count;
}

lua_State *tn_task_thread(const tn_task_t *t)
{
    return t->co;
}
tn_lua_t *tn_task_lua(const tn_task_t *t)
{
    return t->lua;
}
void *tn_task_arg(const tn_task_t *t)
{
    return t->arg;
}
uint64_t tn_task_id(const tn_task_t *t)
{
    return t->id;
}

tn_task_t *tn_task_current(lua_State *L)
{
    tn_task_t *t = *(tn_task_t **)lua_getextraspace(L);
    return (t && t->co == L) ? t : NULL;
}

tn_task_t *tn_task_check(lua_State *L, const char *what)
{
    tn_task_t *t = tn_task_current(L);
    if (!t)
        luaL_error(L, "%s must be called from a runbook task (not from %s context)", what,
                   tn_lua_context_name(tn_lua_context(L)));
    return t;
}

static void deadline_closed(uv_handle_t *h)
{
    free(h);
}

static void drop_deadline(tn_task_t *t)
{
    if (!t->deadline) return;
    uv_timer_stop(t->deadline);
    uv_close((uv_handle_t *)t->deadline, deadline_closed);
    t->deadline = NULL;
}

static void task_free(tn_task_t *t)
{
    drop_deadline(t);
    lua_State *L = tn_lua_state(t->lua);
    if (t->alive) *t->alive = 0;
    *(tn_task_t **)lua_getextraspace(t->co) = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    tn_lua_release(t->lua);
    g_count--;
    free(t);
}

static void finish(tn_task_t *t, int status, const char *err, int nres)
{
    t->finished = 1;
    if (t->done) t->done(t, status, err, nres, t->arg);
    task_free(t);
}

/* Runs the coroutine until it waits or ends. */
static void run(tn_task_t *t, int nargs)
{
    tn_lua_t *lua = t->lua;
    tn_lua_ctx_t prev = tn_lua_context(tn_lua_state(lua));
    tn_lua__enter(lua, TN_CTX_TASK);
    t->running = 1;
    t->waiting = 0;
    int nres = 0;
    int status = lua_resume(t->co, NULL, nargs, &nres);
    t->running = 0;
    tn_lua__leave(lua, prev);
    if (status == LUA_YIELD) {
        if (t->waiting) return;
        lua_pop(t->co, nres);
        finish(t, TN_ESCRIPT,
               "coroutine.yield outside of an engine action is not allowed in a task", 0);
        return;
    }
    if (status == LUA_OK) {
        finish(t, 0, NULL, nres);
        return;
    }
    /* error: message plus the coroutine's traceback */
    lua_State *L = tn_lua_state(lua);
    const char *msg = lua_tostring(t->co, -1);
    if (status == LUA_ERRMEM) msg = "memory limit exceeded";
    luaL_traceback(L, t->co, msg ? msg : "(error object is not a string)", 0);
    const char *full = lua_tostring(L, -1);
    tn_buf_t b;
    tn_buf_init(&b);
    tn_buf_puts(&b, full ? full : "error");
    lua_pop(L, 1);
    finish(t, TN_ESCRIPT, b.data ? b.data : "error", 0);
    tn_buf_deinit(&b);
}

/* Creates and anchors a thread (protected: allocation may fail under the memory ceiling). */
static int new_thread(lua_State *L)
{
    lua_newthread(L);
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

int tn_task_spawn(tn_lua_t *lua, int nargs, tn_task_done_cb done, void *arg, tn_task_t **out)
{
    return tn_task_spawn_observed(lua, nargs, done, NULL, arg, out);
}

static int g_spawn_dry_run; /* for the next spawn only (tn_task_spawn_dry) */

int tn_task_spawn_dry(tn_lua_t *lua, int nargs, tn_task_done_cb done, tn_task_observe_cb observe,
                      void *arg, tn_task_t **out)
{
    g_spawn_dry_run = 1;
    int rc = tn_task_spawn_observed(lua, nargs, done, observe, arg, out);
    g_spawn_dry_run = 0;
    return rc;
}

int tn_task_dry_run(const tn_task_t *t)
{
    return t && t->dry_run;
}

int tn_task_dry_result(lua_State *L, tn_task_t *t, const char *action, const char *would)
{
    tn_buf_t d;
    tn_buf_init(&d);
    tn_buf_puts(&d, "{\"dry_run\":true,\"would\":");
    tn_buf_json_str(&d, would ? would : "", would ? strlen(would) : 0);
    tn_buf_puts(&d, "}");
    tn_log_info("script", "dry run: %s not performed (%s)", action, would ? would : "");
    tn_task_observe(t, action, 1, 0, d.data);
    tn_buf_deinit(&d);
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ok");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "status");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "body");
    return 1;
}

int tn_task_spawn_observed(tn_lua_t *lua, int nargs, tn_task_done_cb done,
                           tn_task_observe_cb observe, void *arg, tn_task_t **out)
{
    lua_State *L = tn_lua_state(lua);
    if (out) *out = NULL;
    tn_task_t *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    lua_pushcfunction(L, new_thread);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        free(t);
        goto nomem;
    }
    t->ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    t->co = lua_tothread(L, -1);
    lua_pop(L, 1);
    if (!lua_checkstack(t->co, nargs + 1)) {
        luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
        free(t);
        goto nomem;
    }
    lua_xmove(L, t->co, nargs + 1);
    *(tn_task_t **)lua_getextraspace(t->co) = t;
    t->lua = lua;
    tn_lua_retain(lua);
    t->id = g_next_id++;
    t->done = done;
    t->observe = observe;
    t->arg = arg;
    t->dry_run = g_spawn_dry_run;
    g_count++;
    int alive = 1;
    t->alive = &alive;
    run(t, nargs);
    if (alive) {
        t->alive = NULL;
        if (out) *out = t;
    }
    return 0;
nomem:
    lua_pop(L, nargs + 1);
    return TN_ENOMEM;
}

int tn_task_wait(lua_State *L, tn_task_t *t, void (*cancel)(void *op), void *op)
{
    t->waiting = 1;
    t->cancel = cancel;
    t->op = op;
    return lua_yield(L, 0);
}

void tn_task_resume(tn_task_t *t, int nres)
{
    tn_require(!t->running && !t->finished);
    t->cancel = NULL;
    t->op = NULL;
    run(t, nres);
}

void tn_task_cancel(tn_task_t *t)
{
    tn_require(!t->running);
    if (t->finished) return;
    if (t->cancel) t->cancel(t->op);
    t->cancel = NULL;
    finish(t, TN_ECANCELED, "canceled", 0);
}

void tn_task_set_observer(tn_task_t *t, tn_task_observe_cb cb)
{
    t->observe = cb;
}

void tn_task_observe(tn_task_t *t, const char *action, int ok, double ms, const char *detail)
{
    if (t->observe) t->observe(t, action, ok, ms, detail, t->arg);
}

int tn_task_interrupt(tn_task_t *t, const char *msg)
{
    if (!t->waiting || t->running || t->finished) return 0;
    if (t->cancel) t->cancel(t->op);
    t->cancel = NULL;
    t->op = NULL;
    if (!lua_checkstack(t->co, 2)) return 0;
    lua_pushnil(t->co);
    lua_pushstring(t->co, msg);
    run(t, 2);
    return 1;
}

static void on_deadline(uv_timer_t *h)
{
    tn_task_t *t = h->data;
    char msg[sizeof t->deadline_msg];
    snprintf(msg, sizeof msg, "%s", t->deadline_msg);
    drop_deadline(t);
    tn_log_info("script", "task %llu: %s", (unsigned long long)t->id, msg);
    tn_task_interrupt(t, msg); /* t may be freed by now */
}

int tn_task_set_deadline(tn_task_t *t, uv_loop_t *loop, double seconds, const char *msg)
{
    drop_deadline(t);
    if (seconds <= 0) return 0;
    t->deadline = malloc(sizeof *t->deadline);
    if (!t->deadline) return TN_ENOMEM;
    uv_timer_init(loop, t->deadline);
    t->deadline->data = t;
    snprintf(t->deadline_msg, sizeof t->deadline_msg, "%s", msg ? msg : "deadline passed");
    uv_timer_start(t->deadline, on_deadline, (uint64_t)(seconds * 1000.0), 0);
    return 0;
}
