/* tocsin.exec - running a program from a runbook task, never through a shell.
 *
 *   local r, err = exec.run{ argv = { "/usr/bin/systemctl", "restart", "api" },
 *                            timeout = 30,        -- seconds, default 30
 *                            max_output = 1048576 }   -- bytes kept per stream
 *   r   = { status = 0, signal = 0, stdout = "...", stderr = "...", truncated = false, ms = 12.5 }
 *   err = "denied" (argv[1] not in scripts.exec_allow) | "timeout" (killed) | "error: <text>"
 *
 * argv[1] must be exactly one of the configured scripts.exec_allow entries: an absolute path,
 * or a bare name looked up on PATH. stdin is /dev/null; the environment is the engine's. */
#include "script/bindings.h"
#include "script/services.h"
#include "script/task.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sample.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 256

typedef struct {
    tn_task_t *task; /* NULL once cancelled */
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timer;
    tn_buf_t obuf, ebuf;
    size_t cap;
    int truncated;
    int64_t exit_status;
    int term_signal;
    int exited, out_eof, err_eof, timed_out;
    int handles; /* open handles; op freed when the last closes */
    int64_t start_ms;
    char argv0[256];
} exec_op_t;

static void on_handle_closed(uv_handle_t *h)
{
    exec_op_t *op = h->data;
    if (--op->handles == 0) {
        tn_buf_deinit(&op->obuf);
        tn_buf_deinit(&op->ebuf);
        free(op);
    }
}

static void close_all(exec_op_t *op)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&op->proc, (uv_handle_t *)&op->out, (uv_handle_t *)&op->err,
                         (uv_handle_t *)&op->timer};
    for (int i = 0; i < 4; i++)
        if (!uv_is_closing(hs[i])) uv_close(hs[i], on_handle_closed);
}

static int push_result(lua_State *L)
{
    exec_op_t *op = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (op->timed_out) {
        lua_pushnil(L);
        lua_pushliteral(L, "timeout");
        return 2;
    }
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)op->exit_status);
    lua_setfield(L, -2, "status");
    lua_pushinteger(L, op->term_signal);
    lua_setfield(L, -2, "signal");
    lua_pushlstring(L, op->obuf.data ? op->obuf.data : "", op->obuf.len);
    lua_setfield(L, -2, "stdout");
    lua_pushlstring(L, op->ebuf.data ? op->ebuf.data : "", op->ebuf.len);
    lua_setfield(L, -2, "stderr");
    lua_pushboolean(L, op->truncated);
    lua_setfield(L, -2, "truncated");
    lua_pushnumber(L, (lua_Number)(tn_now_ms() - op->start_ms));
    lua_setfield(L, -2, "ms");
    lua_pushnil(L);
    return 2;
}

static void maybe_finish(exec_op_t *op)
{
    if (!op->exited || !op->out_eof || !op->err_eof) return;
    uv_timer_stop(&op->timer);
    tn_task_t *t = op->task;
    op->task = NULL;
    if (t) {
        char detail[512];
        snprintf(detail, sizeof detail, "{\"argv0\":\"%.200s\",\"status\":%lld,\"signal\":%d%s}",
                 op->argv0, (long long)op->exit_status, op->term_signal,
                 op->timed_out ? ",\"timeout\":true" : "");
        tn_task_observe(t, "exec", !op->timed_out && op->exit_status == 0 && !op->term_signal,
                        (double)(tn_now_ms() - op->start_ms), detail);
        lua_State *L = tn_lua_state(tn_task_lua(t));
        lua_pushcfunction(L, push_result);
        lua_pushlightuserdata(L, op);
        if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
            lua_pushnil(L);
            lua_insert(L, -2);
        }
        lua_xmove(L, tn_task_thread(t), 2);
        close_all(op);
        tn_task_resume(t, 2);
        return;
    }
    close_all(op);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    exec_op_t *op = p->data;
    op->exited = 1;
    op->exit_status = status;
    op->term_signal = sig;
    maybe_finish(op);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char scratch[65536];
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    exec_op_t *op = s->data;
    int is_out = s == (uv_stream_t *)&op->out;
    tn_buf_t *b = is_out ? &op->obuf : &op->ebuf;
    if (n > 0) {
        size_t room = op->cap > b->len ? op->cap - b->len : 0;
        size_t take = (size_t)n < room ? (size_t)n : room;
        if (take < (size_t)n) op->truncated = 1;
        if (take && tn_buf_append(b, buf->base, take)) op->truncated = 1;
        return;
    }
    if (n < 0) {
        uv_read_stop(s);
        if (is_out)
            op->out_eof = 1;
        else
            op->err_eof = 1;
        maybe_finish(op);
    }
}

static void on_timeout(uv_timer_t *t)
{
    exec_op_t *op = t->data;
    op->timed_out = 1;
    tn_log_warn("script", "exec %s: timed out; killing it", op->argv0);
    uv_process_kill(&op->proc, SIGKILL);
}

static void exec_cancel(void *p)
{
    exec_op_t *op = p;
    op->task = NULL;
    if (!op->exited) uv_process_kill(&op->proc, SIGKILL); /* reaped by on_exit_cb */
}

static int allowed(const tn_config_t *cfg, const char *argv0)
{
    if (!cfg) return 0;
    for (size_t i = 0; i < cfg->scripts.exec_allow.n; i++)
        if (strcmp(cfg->scripts.exec_allow.items[i], argv0) == 0) return 1;
    return 0;
}

static int l_run(lua_State *L)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "argv");
    if (lua_type(L, -1) != LUA_TTABLE)
        return luaL_error(L, "exec.run: argv must be a list of strings (no shell strings)");
    int argc = (int)lua_rawlen(L, -1);
    if (argc < 1 || argc > MAX_ARGS)
        return luaL_error(L, "exec.run: argv must have 1 to %d items", MAX_ARGS);
    const char *argv[MAX_ARGS + 1];
    for (int i = 0; i < argc; i++) {
        lua_rawgeti(L, -1, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "exec.run: argv[%d] must be a string", i + 1);
        size_t len;
        argv[i] = lua_tolstring(L, -1, &len); /* anchored by the argv table */
        if (strlen(argv[i]) != len) return luaL_error(L, "exec.run: argv[%d] contains NUL", i + 1);
        lua_pop(L, 1);
    }
    argv[argc] = NULL;
    lua_getfield(L, 1, "timeout");
    lua_Number timeout = luaL_optnumber(L, -1, 30);
    lua_getfield(L, 1, "max_output");
    lua_Integer cap = luaL_optinteger(L, -1, 1 << 20);
    lua_pop(L, 2);
    if (timeout <= 0 || timeout > 86400) return luaL_error(L, "exec.run: timeout out of range");
    if (cap < 0 || cap > (64 << 20)) return luaL_error(L, "exec.run: max_output out of range");
    tn_task_t *t = tn_task_check(L, "exec.run");
    if (tn_task_dry_run(t)) {
        tn_buf_t w;
        tn_buf_init(&w);
        for (int i = 0; i < argc && w.len < 400; i++)
            tn_buf_printf(&w, "%s%s", i ? " " : "", argv[i]);
        int n = tn_task_dry_result(L, t, "exec.run", w.data ? w.data : "");
        tn_buf_deinit(&w);
        return n;
    }
    if (!svc || !svc->loop) return luaL_error(L, "exec.run: no event loop");

    if (!allowed(svc->cfg, argv[0])) {
        tn_log_warn("script", "%s: exec of '%s' denied (not in scripts.exec_allow)",
                    tn_lua_name(tn_task_lua(t)), argv[0]);
        char detail[300];
        snprintf(detail, sizeof detail, "{\"argv0\":\"%.200s\",\"denied\":true}", argv[0]);
        for (char *p = detail; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
        tn_task_observe(t, "exec", 0, 0, detail);
        lua_pushnil(L);
        lua_pushliteral(L, "denied");
        return 2;
    }
    exec_op_t *op = calloc(1, sizeof *op);
    if (!op) return luaL_error(L, "exec.run: out of memory");
    op->task = t;
    op->cap = (size_t)cap;
    op->start_ms = tn_now_ms();
    snprintf(op->argv0, sizeof op->argv0, "%s", argv[0]);
    tn_buf_init(&op->obuf);
    tn_buf_init(&op->ebuf);
    uv_pipe_init(svc->loop, &op->out, 0);
    uv_pipe_init(svc->loop, &op->err, 0);
    uv_timer_init(svc->loop, &op->timer);
    op->out.data = op->err.data = op->timer.data = op->proc.data = op;
    op->handles = 3;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&op->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&op->err}};
    uv_process_options_t po = {.exit_cb = on_exit_cb,
                               .file = argv[0],
                               .args = (char **)argv,
                               .stdio_count = 3,
                               .stdio = stdio};
    int rc = uv_spawn(svc->loop, &op->proc, &po);
    if (rc) {
        /* the process handle must still be closed */
        op->handles++;
        op->task = NULL;
        op->exited = op->out_eof = op->err_eof = 1;
        close_all(op);
        lua_pushnil(L);
        lua_pushfstring(L, "error: cannot run %s: %s", argv[0], uv_strerror(rc));
        return 2;
    }
    op->handles++;
    uv_read_start((uv_stream_t *)&op->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&op->err, on_alloc, on_read);
    uv_timer_start(&op->timer, on_timeout, (uint64_t)(timeout * 1000), 0);
    return tn_task_wait(L, t, exec_cancel, op);
}

int tn_bind_exec(lua_State *L)
{
    static const luaL_Reg fns[] = {{"run", l_run}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
