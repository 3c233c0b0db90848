/* test_runtime.c - the sandboxed Lua runtime (script/runtime.c), its limits and contexts,
 * require with engine modules (tocsin.json, tocsin.log), the contract checker
 * (script/contract.c) and coroutine tasks on a real libuv loop (script/task.c).
 *
 * Tasks wait through wait_ms(n), a test-only binding shaped like the engine's: it checks that
 * it runs in a task, validates its argument, starts a uv_timer and yields with tn_task_wait;
 * the timer callback pushes n and resumes the task. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/log.h"
#include "script/bindings.h"
#include "script/contract.h"
#include "script/runtime.h"
#include "script/task.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

static uv_loop_t g_loop;

/* ---- helpers ---------------------------------------------------------------------------- */

static tn_lua_t *make_lua(size_t memory_limit, uint64_t instruction_limit)
{
    tn_lua_opts_t o = {.name = "test.lua",
                       .memory_limit = memory_limit,
                       .instruction_limit = instruction_limit,
                       .owner = &g_loop};
    tn_lua_t *lua = tn_lua_create(&o);
    assert_non_null(lua);
    return lua;
}

/* Compiles code as chunk "@sandbox.lua" and runs it in ctx; returns the tn_lua_pcall code. */
static int run_ctx(tn_lua_t *lua, tn_lua_ctx_t ctx, const char *code, int nres, tn_buf_t *err)
{
    lua_State *L = tn_lua_state(lua);
    if (luaL_loadbufferx(L, code, strlen(code), "@sandbox.lua", "t") != LUA_OK)
        fail_msg("compile: %s", lua_tostring(L, -1));
    return tn_lua_pcall(lua, ctx, 0, nres, err);
}

static int run(tn_lua_t *lua, const char *code, int nres, tn_buf_t *err)
{
    return run_ctx(lua, TN_CTX_RULE, code, nres, err);
}

/* Runs code that must succeed and return one string; compares it to want. */
static void assert_returns(tn_lua_t *lua, const char *code, const char *want)
{
    tn_buf_t err;
    tn_buf_init(&err);
    lua_State *L = tn_lua_state(lua);
    int top = lua_gettop(L);
    int rc = run(lua, code, 1, &err);
    if (rc) fail_msg("%s\n-> %s", code, err.data);
    const char *got = lua_tostring(L, -1);
    if (!got || strcmp(got, want) != 0) fail_msg("%s\n-> '%s', want '%s'", code, got, want);
    lua_pop(L, 1);
    assert_int_equal(lua_gettop(L), top);
    tn_buf_deinit(&err);
}

/* Runs code that must fail; err gets the message. */
static void assert_fails(tn_lua_t *lua, const char *code, tn_buf_t *err)
{
    lua_State *L = tn_lua_state(lua);
    int top = lua_gettop(L);
    tn_buf_reset(err);
    assert_int_equal(run(lua, code, 0, err), TN_ESCRIPT);
    assert_non_null(err->data);
    assert_int_equal(lua_gettop(L), top); /* nothing left behind */
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle)) fail_msg("'%s' does not contain '%s'", hay, needle);
}

static void assert_starts(const char *s, const char *prefix)
{
    if (!s || strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", s, prefix);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void temp_file(const char *text, char path[64])
{
    snprintf(path, 64, "/tmp/tn_test_rt_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, text);
}

/* A userdata whose __gc sets *flag: tells when lua_close ran. */
static int gc_probe(lua_State *L)
{
    int **p = lua_touserdata(L, 1);
    **p = 1;
    return 0;
}

static void add_gc_probe(tn_lua_t *lua, int *flag)
{
    lua_State *L = tn_lua_state(lua);
    int **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = flag;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, gc_probe);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "tn_test_gc_probe");
}

/* ---- test-only bindings ----------------------------------------------------------------- */

typedef struct {
    uv_timer_t timer;
    tn_task_t *task;
    lua_Integer ms;
    int *canceled; /* optional: set by the cancel hook */
} waiter_t;

static int g_cancel_calls;

static void waiter_free(uv_handle_t *h)
{
    free(h->data);
}

static void on_timer(uv_timer_t *timer)
{
    waiter_t *w = timer->data;
    tn_task_t *t = w->task;
    lua_pushinteger(tn_task_thread(t), w->ms);
    uv_close((uv_handle_t *)&w->timer, waiter_free);
    tn_task_resume(t, 1);
}

static void cancel_wait(void *op)
{
    waiter_t *w = op;
    g_cancel_calls++;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, waiter_free);
}

/* wait_ms(n) -> n, after n milliseconds. Task context only. */
static int l_wait_ms(lua_State *L)
{
    tn_task_t *t = tn_task_check(L, "wait_ms");
    lua_Integer ms = luaL_checkinteger(L, 1);
    luaL_argcheck(L, ms >= 0, 1, "must be >= 0");
    waiter_t *w = calloc(1, sizeof *w);
    if (!w) return luaL_error(L, "wait_ms: out of memory");
    w->task = t;
    w->ms = ms;
    uv_timer_init(&g_loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_timer, (uint64_t)ms, 0);
    return tn_task_wait(L, t, cancel_wait, w);
}

/* raw_yield(): yields without tn_task_wait (what a bare coroutine.yield would do). */
static int l_raw_yield(lua_State *L)
{
    return lua_yield(L, 0);
}

/* context() -> "load" / "rule" / "task" */
static int l_context(lua_State *L)
{
    lua_pushstring(L, tn_lua_context_name(tn_lua_context(L)));
    return 1;
}

/* task_only(): a binding allowed in task context only. */
static int l_task_only(lua_State *L)
{
    tn_lua_check_context(L, TN_CTX_TASK, "task_only");
    lua_pushboolean(L, 1);
    return 1;
}

/* act(name): reports an engine action to the task's observer. */
static int l_act(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    tn_task_observe(tn_task_check(L, "act"), name, 1, 2.5, "{\"x\":1}");
    return 0;
}

static void add_bindings(tn_lua_t *lua)
{
    lua_State *L = tn_lua_state(lua);
    lua_register(L, "wait_ms", l_wait_ms);
    lua_register(L, "raw_yield", l_raw_yield);
    lua_register(L, "context", l_context);
    lua_register(L, "task_only", l_task_only);
    lua_register(L, "act", l_act);
}

/* ---- task plumbing ---------------------------------------------------------------------- */

typedef struct {
    int calls;
    int status;
    char err[4096];
    int nres;
    lua_Integer r[2];
    char s[64];
    int order; /* position among completions */
} done_t;

static int g_done_seq;

static void on_done(tn_task_t *t, int status, const char *err, int nres, void *arg)
{
    done_t *d = arg;
    lua_State *co = tn_task_thread(t);
    d->calls++;
    d->status = status;
    snprintf(d->err, sizeof d->err, "%s", err ? err : "");
    d->nres = nres;
    d->order = g_done_seq++;
    for (int i = 0; i < nres && i < 2; i++) {
        int idx = -nres + i;
        if (lua_isinteger(co, idx))
            d->r[i] = lua_tointeger(co, idx);
        else if (lua_type(co, idx) == LUA_TSTRING)
            snprintf(d->s, sizeof d->s, "%s", lua_tostring(co, idx));
    }
    assert_ptr_equal(tn_task_arg(t), arg);
}

/* Loads code as chunk name and spawns it with nargs integer arguments. */
static tn_task_t *spawn(tn_lua_t *lua, const char *name, const char *code, done_t *d, int nargs,
                        const lua_Integer *args)
{
    lua_State *L = tn_lua_state(lua);
    if (luaL_loadbufferx(L, code, strlen(code), name, "t") != LUA_OK)
        fail_msg("compile: %s", lua_tostring(L, -1));
    for (int i = 0; i < nargs; i++)
        lua_pushinteger(L, args[i]);
    int top = lua_gettop(L);
    tn_task_t *t = (tn_task_t *)1;
    assert_int_equal(tn_task_spawn(lua, nargs, on_done, d, &t), 0);
    assert_int_equal(lua_gettop(L), top - nargs - 1); /* function and arguments taken */
    return t;
}

static int setup_group(void **state)
{
    (void)state;
    tn_log_set_level(TN_LOG_ERROR);
    return uv_loop_init(&g_loop);
}

static int teardown_group(void **state)
{
    (void)state;
    uv_run(&g_loop, UV_RUN_DEFAULT);
    return uv_loop_close(&g_loop);
}

/* ---- the sandbox ------------------------------------------------------------------------ */

static void test_sandbox_globals(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    assert_returns(lua,
                   "local absent = {}\n"
                   "for _, k in ipairs({'io', 'dofile', 'loadfile', 'package', 'debug',\n"
                   "                    'coroutine', 'require_', 'loadstring', 'module'}) do\n"
                   "  if _G[k] ~= nil then absent[#absent + 1] = k end\n"
                   "end\n"
                   "for _, k in ipairs({'execute', 'exit', 'getenv', 'remove', 'rename',\n"
                   "                    'tmpname', 'setlocale'}) do\n"
                   "  if os[k] ~= nil then absent[#absent + 1] = 'os.' .. k end\n"
                   "end\n"
                   "if string.dump ~= nil then absent[#absent + 1] = 'string.dump' end\n"
                   "return table.concat(absent, ',')",
                   "");
    /* what stays */
    assert_returns(lua,
                   "return table.concat({type(os.time), type(os.clock), type(os.date),\n"
                   "  type(os.difftime), type(string.format), type(math.floor), type(utf8.char),\n"
                   "  type(table.sort), type(pcall), type(require), type(load), type(print)}, ' ')",
                   "function function function function function function function function "
                   "function function function function");
    /* ("x"):rep still works through the string metatable, and string.dump is gone there too */
    assert_returns(lua, "return ('ab'):rep(2) .. tostring(('x').dump)", "ababnil");
    /* standard modules through require */
    assert_returns(lua, "return tostring(require('string') == string and require('os') == os)",
                   "true");
    tn_buf_t err;
    tn_buf_init(&err);
    assert_fails(lua, "os.execute('true')", &err);
    assert_starts(err.data, "sandbox.lua:1: attempt to call a nil value (field 'execute')");
    assert_fails(lua, "io.open('/etc/passwd')", &err);
    assert_starts(err.data, "sandbox.lua:1: attempt to index a nil value (global 'io')");
    assert_fails(lua, "dofile('/etc/passwd')", &err);
    assert_starts(err.data, "sandbox.lua:1: attempt to call a nil value (global 'dofile')");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

static void test_sandbox_load(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    tn_buf_t err;
    tn_buf_init(&err);
    /* text chunks work, with a chunk name and an environment */
    assert_returns(lua, "return tostring(load('return 1 + 1')())", "2");
    assert_returns(lua, "return tostring(load('return x', 'c', 't', { x = 5 })())", "5");
    assert_returns(lua, "local f, e = load('return +', '=chunk') return tostring(f) .. ' ' .. e",
                   "nil chunk:1: unexpected symbol near '+'");
    /* binary mode is refused outright */
    assert_fails(lua, "load('return 1', 'x', 'b')", &err);
    assert_starts(err.data, "sandbox.lua:1: load: only text chunks are allowed");
    assert_fails(lua, "load('return 1', 'x', 'bt')", &err);
    assert_starts(err.data, "sandbox.lua:1: load: only text chunks are allowed");
    /* a binary chunk in text mode is not loaded */
    assert_returns(lua,
                   "local f, e = load('\\27Lua\\84\\0\\25\\147\\r\\n\\26\\n')\n"
                   "return tostring(f) .. ' ' .. e",
                   "nil attempt to load a binary chunk (mode is 't')");
    /* no bytecode can be produced in the first place */
    assert_fails(lua, "return string.dump(function() end)", &err);
    assert_starts(err.data, "sandbox.lua:1: attempt to call a nil value (field 'dump')");
    /* load takes only strings (no reader functions that could assemble bytes) */
    assert_fails(lua, "load(function() return nil end)", &err);
    assert_contains(err.data, "bad argument #1 to 'load' (string expected, got function)");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

static void test_sandbox_collectgarbage(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    tn_buf_t err;
    tn_buf_init(&err);
    static const char *refused[] = {"stop",         "restart",  "incremental",
                                    "generational", "setpause", "isrunning"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char code[64], want[96];
        snprintf(code, sizeof code, "collectgarbage('%s')", refused[i]);
        snprintf(want, sizeof want, "sandbox.lua:1: collectgarbage('%s') is not allowed",
                 refused[i]);
        assert_fails(lua, code, &err);
        assert_starts(err.data, want);
    }
    assert_returns(lua,
                   "return math.type(collectgarbage('count')) .. ' ' .. collectgarbage() .. ' ' "
                   ".. collectgarbage('collect') .. ' ' .. collectgarbage('step')",
                   "float 0 0 0");
    assert_returns(lua, "return tostring(collectgarbage('count') > 0)", "true");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

static void test_require(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    assert_int_equal(tn_lua_preload(lua, "tocsin.json", tn_bind_json, NULL), 0);
    assert_int_equal(tn_lua_preload(lua, "tocsin.log", tn_bind_log, NULL), 0);
    assert_returns(lua,
                   "local json = require('tocsin.json')\n"
                   "assert(require('tocsin.json') == json, 'modules are cached')\n"
                   "local t = json.decode('{\"a\":[1,2,{\"b\":\"c\"}],\"n\":null}')\n"
                   "assert(t.a[3].b == 'c' and t.n == nil and #t.a == 3)\n"
                   "local v, e = json.decode('{bad')\n"
                   "assert(v == nil and e:find('^invalid JSON at line 1'), e)\n"
                   "return json.encode({ list = { 1, 2.5, 'x', true } })",
                   "{\"list\":[1,2.5,\"x\",true]}");
    assert_returns(lua,
                   "local log = require('tocsin.log')\n"
                   "log.debug('hidden %d', 1) log.info('x') log.warn('%s=%q', 'k', 'v')\n"
                   "return type(log.error)",
                   "function");
    tn_buf_t err;
    tn_buf_init(&err);
    assert_fails(lua, "require('nosuch')", &err);
    assert_starts(err.data, "sandbox.lua:1: module 'nosuch' not found (engine modules and no "
                            "library directory)\nstack traceback:");
    /* names are not paths */
    assert_fails(lua, "require('tocsin.http')", &err);
    assert_starts(err.data, "sandbox.lua:1: module 'tocsin.http' not found");
    assert_fails(lua, "require()", &err);
    assert_contains(err.data, "bad argument #1 to 'require'");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

static void test_require_lib_dir(void **state)
{
    (void)state;
    char dir[64] = "/tmp/tn_test_lib_XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/mylib.lua", dir);
    write_file(path,
               "local n = 0\nreturn { answer = 42, next = function() n = n + 1 return n end }\n");
    char sub[96];
    snprintf(sub, sizeof sub, "%s/pkg", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    char subfile[128];
    snprintf(subfile, sizeof subfile, "%s/pkg/sub.lua", dir);
    write_file(subfile, "return 'sub:' .. ...\n");
    char broken[128];
    snprintf(broken, sizeof broken, "%s/broken.lua", dir);
    write_file(broken, "return {\n");

    tn_lua_opts_t o = {.name = "lib.lua", .lib_dir = dir};
    tn_lua_t *lua = tn_lua_create(&o);
    assert_non_null(lua);
    assert_returns(lua,
                   "local m = require('mylib')\n"
                   "m.next() assert(require('mylib').next() == 2, 'loaded once')\n"
                   "return m.answer .. ' ' .. require('pkg.sub')",
                   "42 sub:pkg.sub");
    tn_buf_t err;
    tn_buf_init(&err);
    assert_fails(lua, "require('../etc/passwd')", &err);
    assert_starts(err.data, "sandbox.lua:1: require: bad module name '../etc/passwd'");
    assert_fails(lua, "require('pkg..sub')", &err);
    assert_starts(err.data, "sandbox.lua:1: require: bad module name 'pkg..sub'");
    assert_fails(lua, "require('.hidden')", &err);
    assert_starts(err.data, "sandbox.lua:1: require: bad module name '.hidden'");
    assert_fails(lua, "require('missing')", &err);
    char want[160];
    snprintf(want, sizeof want,
             "sandbox.lua:1: module 'missing' not found (engine modules and %s/)", dir);
    assert_starts(err.data, want);
    assert_fails(lua, "require('broken')", &err);
    snprintf(want, sizeof want, "%s:2:", broken);
    assert_starts(err.data, want);
    tn_buf_deinit(&err);
    tn_lua_release(lua);
    unlink(path);
    unlink(subfile);
    unlink(broken);
    rmdir(sub);
    rmdir(dir);
}

static void test_readonly_and_accessors(void **state)
{
    (void)state;
    int owner;
    tn_lua_opts_t o = {.name = "acc.lua", .owner = &owner};
    tn_lua_t *lua = tn_lua_create(&o);
    assert_non_null(lua);
    lua_State *L = tn_lua_state(lua);
    assert_ptr_equal(tn_lua_from(L), lua);
    assert_ptr_equal(tn_lua_owner(lua), &owner);
    assert_string_equal(tn_lua_name(lua), "acc.lua");
    assert_true(tn_lua_memory(lua) > 0);
    assert_string_equal(tn_lua_context_name(TN_CTX_LOAD), "load");
    assert_string_equal(tn_lua_context_name(TN_CTX_RULE), "rule");
    assert_string_equal(tn_lua_context_name(TN_CTX_TASK), "task");

    lua_createtable(L, 0, 1);
    lua_pushinteger(L, 7);
    lua_setfield(L, -2, "x");
    tn_lua_readonly(L);
    lua_setglobal(L, "ro");
    assert_returns(lua, "return ro.x .. ' ' .. tostring(getmetatable(ro))", "7 false");
    tn_buf_t err;
    tn_buf_init(&err);
    assert_fails(lua, "ro.y = 1", &err);
    assert_starts(err.data, "sandbox.lua:1: attempt to modify read-only table");
    assert_fails(lua, "setmetatable(ro, nil)", &err);
    assert_contains(err.data, "cannot change a protected metatable");
    assert_returns(lua, "return tostring(ro.y)", "nil");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

/* ---- limits ----------------------------------------------------------------------------- */

static void test_instruction_limit(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 100000);
    tn_buf_t err;
    tn_buf_init(&err);
    assert_fails(lua, "while true do end", &err);
    assert_starts(err.data, "sandbox.lua:1: instruction limit exceeded (100000 instructions)\n"
                            "stack traceback:");
    /* a pcall inside the script cannot swallow it: the budget stays spent until the call
     * returns (bounded loops, so a regression fails instead of hanging) */
    assert_fails(lua,
                 "local n = 0\n"
                 "for k = 1, 50 do pcall(function() while true do n = n + 1 end end) end\n"
                 "return n",
                 &err);
    assert_starts(err.data, "sandbox.lua:2: instruction limit exceeded (100000 instructions)");
    assert_fails(lua,
                 "for k = 1, 50 do\n"
                 "  xpcall(function() pcall(function() while true do end end) end,\n"
                 "         function(e) return e end)\n"
                 "end\n",
                 &err);
    assert_contains(err.data, "instruction limit exceeded");
    /* the state is usable afterwards, and each call gets a fresh budget */
    for (int i = 0; i < 3; i++)
        assert_returns(lua, "local s = 0 for i = 1, 10000 do s = s + i end return tostring(s)",
                       "50005000");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

static void test_memory_limit(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(8u << 20, 0);
    size_t base = tn_lua_memory(lua);
    tn_buf_t err;
    tn_buf_init(&err);
    assert_fails(lua, "local t = {} for i = 1, 1e9 do t[i] = i end", &err);
    assert_contains(err.data, "memory limit exceeded");
    assert_starts(err.data, "test.lua: memory limit");
    assert_returns(lua, "collectgarbage() return tostring(#{1, 2, 3})", "3");
    assert_true(tn_lua_memory(lua) < base + (1u << 20));

    assert_fails(lua, "local s = string.rep('x', 1e9)", &err);
    assert_contains(err.data, "memory limit exceeded");
    assert_fails(lua, "local s = string.rep('x', 16 * 1024 * 1024)", &err);
    assert_contains(err.data, "memory limit exceeded");
    /* many small strings */
    assert_fails(lua, "local t = {} for i = 1, 1e9 do t[#t + 1] = 'k' .. i end", &err);
    assert_contains(err.data, "memory limit exceeded");
    /* usable afterwards, and up to the ceiling */
    assert_returns(lua,
                   "collectgarbage()\n"
                   "local t = {} for i = 1, 1000 do t[i] = i end\n"
                   "return #t .. ' ' .. #string.rep('y', 1024 * 1024)",
                   "1000 1048576");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

static void test_errors_have_location_and_traceback(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 1000000);
    tn_buf_t err;
    tn_buf_init(&err);
    assert_fails(lua,
                 "local function inner() error('boom') end\n"
                 "local function outer() inner() end\n"
                 "outer()\n",
                 &err);
    assert_starts(err.data, "sandbox.lua:1: boom\nstack traceback:\n");
    assert_contains(err.data, "sandbox.lua:1: in ");
    assert_contains(err.data, "sandbox.lua:2: in ");
    assert_contains(err.data, "sandbox.lua:3: in ");
    assert_fails(lua, "\n\nlocal x = nil + 1", &err);
    assert_starts(err.data, "sandbox.lua:3: attempt to perform arithmetic on a nil value\n"
                            "stack traceback:");
    /* non-string error values */
    assert_fails(lua, "error({})", &err);
    assert_starts(err.data, "(error object is a table value)\nstack traceback:");
    assert_fails(lua, "error(setmetatable({}, { __tostring = function() return 'custom' end }))",
                 &err);
    assert_string_equal(err.data, "custom");
    assert_fails(lua, "error('no position', 0)", &err);
    assert_starts(err.data, "no position\nstack traceback:");

    /* a file: syntax and runtime errors are "file:line: message" */
    char path[64], want[128];
    temp_file("local a = 1\nlocal b = 2\nerror('at three')\n", path);
    lua_State *L = tn_lua_state(lua);
    int top = lua_gettop(L);
    tn_buf_reset(&err);
    assert_int_equal(tn_lua_dofile(lua, path, &err), TN_ESCRIPT);
    snprintf(want, sizeof want, "%s:3: at three\nstack traceback:", path);
    assert_starts(err.data, want);
    assert_int_equal(lua_gettop(L), top);
    write_file(path, "local a = 1\nlocal = 2\n");
    tn_buf_reset(&err);
    assert_int_equal(tn_lua_dofile(lua, path, &err), TN_ESCRIPT);
    snprintf(want, sizeof want, "%s:2: <name> expected near '='", path);
    assert_string_equal(err.data, want);
    /* success leaves the first result, in LOAD context */
    lua_register(L, "context", l_context);
    write_file(path, "return context(), 2\n");
    tn_buf_reset(&err);
    assert_int_equal(tn_lua_dofile(lua, path, &err), 0);
    assert_int_equal(lua_gettop(L), top + 1);
    assert_string_equal(lua_tostring(L, -1), "load");
    lua_pop(L, 1);
    write_file(path, "local x = 1\n");
    assert_int_equal(tn_lua_dofile(lua, path, &err), 0);
    assert_true(lua_isnil(L, -1));
    lua_pop(L, 1);
    unlink(path);
    tn_buf_reset(&err);
    assert_int_equal(tn_lua_dofile(lua, "/nonexistent/x.lua", &err), TN_EIO);
    assert_string_equal(err.data, "/nonexistent/x.lua: cannot open file");
    assert_int_equal(lua_gettop(L), top);
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

static void test_contexts(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    add_bindings(lua);
    assert_returns(lua, "return context()", "rule");
    lua_State *L = tn_lua_state(lua);
    luaL_loadstring(L, "return context()");
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_lua_pcall(lua, TN_CTX_LOAD, 0, 1, &err), 0);
    assert_string_equal(lua_tostring(L, -1), "load");
    lua_pop(L, 1);
    assert_fails(lua, "task_only()", &err);
    assert_starts(err.data, "sandbox.lua:1: task_only cannot be used in rule context");
    /* waiting outside a task is refused before anything is started */
    assert_fails(lua, "wait_ms(1)", &err);
    assert_starts(err.data, "sandbox.lua:1: wait_ms must be called from a runbook task (not from "
                            "rule context)");
    assert_null(tn_task_current(L));
    assert_int_equal(uv_loop_alive(&g_loop), 0);
    /* the context is restored after a call */
    assert_int_equal(tn_lua_context(L), TN_CTX_LOAD);
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

/* ---- contracts -------------------------------------------------------------------------- */

static const tn_field_spec_t g_rule_spec[] = {
    {"name", LUA_TSTRING, 1, "unique name"},   {"match", LUA_TFUNCTION, 1, "predicate"},
    {"priority", LUA_TNUMBER, 0, "order"},     {"enabled", LUA_TBOOLEAN, 0, "on/off"},
    {"labels", LUA_TTABLE, 0, "extra labels"}, {NULL, 0, 0, NULL},
};

/* Writes text to a file, runs it and checks the returned value; err gets the message. */
static int check_contract(tn_lua_t *lua, const char *text, char path[64], tn_buf_t *err)
{
    temp_file(text, path);
    lua_State *L = tn_lua_state(lua);
    int top = lua_gettop(L);
    tn_buf_reset(err);
    if (tn_lua_dofile(lua, path, err)) fail_msg("%s", err->data);
    int rc = tn_contract_check(L, -1, g_rule_spec, path, "rule", err);
    lua_pop(L, 1);
    assert_int_equal(lua_gettop(L), top);
    unlink(path);
    return rc;
}

static void test_contract(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64], want[256];
    assert_int_equal(check_contract(lua,
                                    "return {\n"
                                    "  name = 'cpu',\n"
                                    "  match = function(e) return true end,\n"
                                    "  priority = 5,\n"
                                    "  enabled = false,\n"
                                    "  labels = {},\n"
                                    "}\n",
                                    path, &err),
                     0);
    assert_int_equal(err.len, 0);
    /* optional fields may be left out */
    assert_int_equal(check_contract(lua, "return { name = 'a', match = print }\n", path, &err), 0);

    /* an unknown key names itself, its line and the allowed keys */
    assert_int_equal(check_contract(lua,
                                    "-- a rule\n"
                                    "return {\n"
                                    "  name = 'cpu',\n"
                                    "  match = function() end,\n"
                                    "  -- priority is misspelled below\n"
                                    "  priorty = 5,\n"
                                    "}\n",
                                    path, &err),
                     TN_EINVAL);
    snprintf(want, sizeof want,
             "%s:6: unknown rule field 'priorty' (allowed: name match priority enabled labels)",
             path);
    assert_string_equal(err.data, want);

    /* wrong type, with the line of the key */
    assert_int_equal(check_contract(lua,
                                    "return {\n"
                                    "  match = function() end,\n"
                                    "  name = 42,\n"
                                    "}\n",
                                    path, &err),
                     TN_EINVAL);
    snprintf(want, sizeof want, "%s:3: rule field 'name' must be a string, got number", path);
    assert_string_equal(err.data, want);
    assert_int_equal(check_contract(lua,
                                    "return {\n  name = 'x',\n  match = 'not a function',\n}\n",
                                    path, &err),
                     TN_EINVAL);
    snprintf(want, sizeof want, "%s:3: rule field 'match' must be a function, got string", path);
    assert_string_equal(err.data, want);

    /* missing required field */
    assert_int_equal(check_contract(lua, "return {\n  name = 'cpu',\n}\n", path, &err), TN_EINVAL);
    snprintf(want, sizeof want, "%s:1: rule is missing required field 'match' (a function)", path);
    assert_string_equal(err.data, want);

    /* not a table, and keys that are not names */
    assert_int_equal(check_contract(lua, "return 5\n", path, &err), TN_EINVAL);
    snprintf(want, sizeof want, "%s:1: a rule file must return a table (got number)", path);
    assert_string_equal(err.data, want);
    assert_int_equal(check_contract(lua, "return { 'cpu' }\n", path, &err), TN_EINVAL);
    snprintf(want, sizeof want, "%s:1: rule table keys must be names (found a number key)", path);
    assert_string_equal(err.data, want);

    /* metatables do not fool the required-field check */
    assert_int_equal(check_contract(lua,
                                    "return setmetatable({ name = 'a' },\n"
                                    "  { __index = { match = print } })\n",
                                    path, &err),
                     TN_EINVAL);
    assert_contains(err.data, "missing required field 'match'");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
}

static void test_contract_line_of(void **state)
{
    (void)state;
    char path[64];
    temp_file("local rename = 1\n"  /* 'name' inside another word */
              "if name == 1 then\n" /* a comparison, not an assignment */
              "end\n"
              "return {\n"
              "  name\t= 'x',\n"
              "  other = { name = 'y' },\n"
              "}\n",
              path);
    assert_int_equal(tn_contract_line_of(path, "name"), 5);
    assert_int_equal(tn_contract_line_of(path, "other"), 6);
    assert_int_equal(tn_contract_line_of(path, "absent"), 1);
    assert_int_equal(tn_contract_line_of("/nonexistent/file.lua", "name"), 1);
    unlink(path);
}

/* ---- tasks ------------------------------------------------------------------------------ */

static void test_tasks_interleave(void **state)
{
    (void)state;
    enum { N = 50 };
    tn_lua_t *lua = make_lua(16u << 20, 1000000);
    add_bindings(lua);
    static done_t done[N];
    memset(done, 0, sizeof done);
    g_done_seq = 0;
    lua_Integer ms[N];
    for (int i = 0; i < N; i++) {
        ms[i] = (lua_Integer)((i * 7) % N) * 2 + 2; /* 2..100, all different, shuffled */
        lua_Integer args[2] = {i, ms[i]};
        tn_task_t *t = spawn(lua, "@tasks.lua",
                             "local id, ms = ...\n"
                             "assert(context() == 'task')\n"
                             "local got = wait_ms(ms)\n"
                             "assert(context() == 'task')\n"
                             "return id, got\n",
                             &done[i], 2, args);
        assert_non_null(t);
        assert_ptr_equal(tn_task_lua(t), lua);
        assert_ptr_equal(tn_task_current(tn_task_thread(t)), t);
        assert_int_equal(done[i].calls, 0);
    }
    assert_int_equal(tn_task_count(), N);
    assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(tn_task_count(), 0);
    int rank_in_spawn_order = 1;
    for (int i = 0; i < N; i++) {
        assert_int_equal(done[i].calls, 1);
        if (done[i].status != 0) fail_msg("task %d: %s", i, done[i].err);
        assert_int_equal(done[i].nres, 2);
        assert_int_equal(done[i].r[0], i);
        assert_int_equal(done[i].r[1], ms[i]); /* the value the timer pushed */
        /* the task with the k-th shortest wait finished k-th */
        assert_int_equal(done[i].order, (int)(ms[i] / 2 - 1));
        if (done[i].order != i) rank_in_spawn_order = 0;
    }
    assert_false(rank_in_spawn_order);
    tn_lua_release(lua);
}

static void test_task_multiple_waits_and_budget(void **state)
{
    (void)state;
    /* each resume gets a fresh instruction budget: 5 slices of ~60k instructions pass a
     * 100k limit that the whole run (300k) would exceed */
    tn_lua_t *lua = make_lua(0, 100000);
    add_bindings(lua);
    done_t d = {0};
    tn_task_t *t = spawn(lua, "@budget.lua",
                         "local total = 0\n"
                         "for k = 1, 5 do\n"
                         "  total = total + wait_ms(1)\n"
                         "  for i = 1, 20000 do total = total + 0 end\n"
                         "end\n"
                         "return total\n",
                         &d, 0, NULL);
    assert_non_null(t);
    uv_run(&g_loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    if (d.status) fail_msg("%s", d.err);
    assert_int_equal(d.r[0], 5);

    /* but one slice cannot run forever */
    memset(&d, 0, sizeof d);
    t = spawn(lua, "@forever.lua", "wait_ms(1)\nwhile true do end\n", &d, 0, NULL);
    assert_non_null(t);
    uv_run(&g_loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, TN_ESCRIPT);
    assert_starts(d.err, "forever.lua:2: instruction limit exceeded (100000 instructions)");
    assert_int_equal(tn_task_count(), 0);
    tn_lua_release(lua);
}

static void test_task_without_wait(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    done_t d = {0};
    lua_Integer args[1] = {21};
    tn_task_t *t = spawn(lua, "@now.lua", "local x = ... return x * 2\n", &d, 1, args);
    assert_null(t); /* already finished */
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.nres, 1);
    assert_int_equal(d.r[0], 42);
    memset(&d, 0, sizeof d);
    t = spawn(lua, "@now.lua", "error('at once')\n", &d, 0, NULL);
    assert_null(t);
    assert_int_equal(d.status, TN_ESCRIPT);
    assert_starts(d.err, "now.lua:1: at once\nstack traceback:");
    assert_int_equal(tn_task_count(), 0);
    tn_lua_release(lua);
}

static void test_task_error_after_wait(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    add_bindings(lua);
    done_t d = {0};
    tn_task_t *t = spawn(lua, "@task_err.lua",
                         "local function step(n)\n"
                         "  wait_ms(n)\n"
                         "  local cfg = nil\n"
                         "  return cfg.value\n"
                         "end\n"
                         "local r = step(3)\n"
                         "return r\n",
                         &d, 0, NULL);
    assert_non_null(t);
    assert_int_equal(d.calls, 0);
    uv_run(&g_loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, TN_ESCRIPT);
    assert_starts(d.err, "task_err.lua:4: attempt to index a nil value (local 'cfg')\n"
                         "stack traceback:\n");
    assert_contains(d.err, "task_err.lua:4: in ");
    assert_contains(d.err, "task_err.lua:6: in ");
    assert_int_equal(d.nres, 0);
    assert_int_equal(tn_task_count(), 0);

    /* bad arguments to a binding raise inside the task, before anything is started */
    memset(&d, 0, sizeof d);
    t = spawn(lua, "@task_arg.lua", "wait_ms('soon')\n", &d, 0, NULL);
    assert_null(t);
    assert_int_equal(d.status, TN_ESCRIPT);
    assert_starts(d.err, "task_arg.lua:1: bad argument #1 to 'wait_ms' (number expected, got "
                         "string)");
    assert_int_equal(uv_loop_alive(&g_loop), 0);

    /* memory errors in a task are reported as such */
    tn_lua_t *small = make_lua(4u << 20, 0);
    add_bindings(small);
    memset(&d, 0, sizeof d);
    t = spawn(small, "@task_mem.lua", "wait_ms(1)\nlocal s = string.rep('x', 1e9)\n", &d, 0, NULL);
    uv_run(&g_loop, UV_RUN_DEFAULT);
    assert_int_equal(d.status, TN_ESCRIPT);
    assert_starts(d.err, "memory limit exceeded");
    tn_lua_release(small);
    tn_lua_release(lua);
}

static void test_task_bare_yield(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    add_bindings(lua);
    /* the sandbox has no coroutine library; a C function yielding without tn_task_wait takes
     * the same path a bare coroutine.yield would */
    assert_returns(lua, "return tostring(coroutine)", "nil");
    done_t d = {0};
    tn_task_t *t = spawn(lua, "@yield.lua", "raw_yield(1, 2)\nreturn 'unreachable'\n", &d, 0, NULL);
    assert_null(t);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, TN_ESCRIPT);
    assert_string_equal(d.err,
                        "coroutine.yield outside of an engine action is not allowed in a task");
    /* also after a real wait */
    memset(&d, 0, sizeof d);
    t = spawn(lua, "@yield2.lua", "wait_ms(1)\nraw_yield()\nreturn 'unreachable'\n", &d, 0, NULL);
    assert_non_null(t);
    uv_run(&g_loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, TN_ESCRIPT);
    assert_string_equal(d.err,
                        "coroutine.yield outside of an engine action is not allowed in a task");
    assert_int_equal(tn_task_count(), 0);
    tn_lua_release(lua);
}

static void test_task_cancel(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    add_bindings(lua);
    int closed = 0;
    add_gc_probe(lua, &closed);
    done_t d = {0}, other = {0};
    g_cancel_calls = 0;
    tn_task_t *t =
        spawn(lua, "@cancel.lua", "wait_ms(100000)\nerror('must not resume')\n", &d, 0, NULL);
    tn_task_t *t2 = spawn(lua, "@other.lua", "return wait_ms(5)\n", &other, 0, NULL);
    assert_non_null(t);
    assert_non_null(t2);
    assert_int_equal(tn_task_count(), 2);
    tn_task_cancel(t);
    assert_int_equal(g_cancel_calls, 1);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, TN_ECANCELED);
    assert_int_equal(tn_task_count(), 1);
    /* the other task is unaffected; the cancelled timer never fires */
    uv_run(&g_loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(g_cancel_calls, 1);
    assert_int_equal(other.calls, 1);
    assert_int_equal(other.status, 0);
    assert_int_equal(other.r[0], 5);
    assert_int_equal(tn_task_count(), 0);
    assert_int_equal(closed, 0);
    tn_lua_release(lua);
    assert_int_equal(closed, 1);
}

static void observe_cb(tn_task_t *t, const char *action, int ok, double ms, const char *detail,
                       void *arg)
{
    done_t *d = arg;
    snprintf(d->s, sizeof d->s, "%s %d %.1f %s", action, ok, ms, detail);
    d->r[1]++;
}

static void test_task_observer(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    add_bindings(lua);
    lua_State *L = tn_lua_state(lua);
    luaL_loadstring(L, "act('restart') act('notify')");
    done_t d = {0};
    assert_int_equal(tn_task_spawn_observed(lua, 0, on_done, observe_cb, &d, NULL), 0);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.r[1], 2);
    assert_string_equal(d.s, "notify 1 2.5 {\"x\":1}");
    tn_lua_release(lua);
}

static void test_release_while_task_runs(void **state)
{
    (void)state;
    tn_lua_t *lua = make_lua(0, 0);
    add_bindings(lua);
    int closed = 0;
    add_gc_probe(lua, &closed);
    done_t d = {0};
    tn_task_t *t = spawn(lua, "@long.lua",
                         "local got = wait_ms(20)\n"
                         "local parts = {}\n"
                         "for i = 1, 3 do parts[i] = string.rep('a', i) end\n"
                         "return table.concat(parts, '-') .. ':' .. got\n",
                         &d, 0, NULL);
    assert_non_null(t);
    /* the owner lets go (a reload replaced this version): the task keeps it alive */
    tn_lua_release(lua);
    assert_int_equal(closed, 0);
    assert_int_equal(d.calls, 0);
    uv_run(&g_loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    if (d.status) fail_msg("%s", d.err);
    assert_string_equal(d.s, "a-aa-aaa:20");
    /* the task's reference was the last one */
    assert_int_equal(closed, 1);
    assert_int_equal(tn_task_count(), 0);

    /* plain reference counting */
    lua = make_lua(0, 0);
    closed = 0;
    add_gc_probe(lua, &closed);
    tn_lua_retain(lua);
    tn_lua_retain(lua);
    tn_lua_release(lua);
    tn_lua_release(lua);
    assert_int_equal(closed, 0);
    assert_returns(lua, "return 'alive'", "alive");
    tn_lua_release(lua);
    assert_int_equal(closed, 1);
    tn_lua_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_globals),
        cmocka_unit_test(test_sandbox_load),
        cmocka_unit_test(test_sandbox_collectgarbage),
        cmocka_unit_test(test_require),
        cmocka_unit_test(test_require_lib_dir),
        cmocka_unit_test(test_readonly_and_accessors),
        cmocka_unit_test(test_instruction_limit),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_errors_have_location_and_traceback),
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_contract_line_of),
        cmocka_unit_test(test_tasks_interleave),
        cmocka_unit_test(test_task_multiple_waits_and_budget),
        cmocka_unit_test(test_task_without_wait),
        cmocka_unit_test(test_task_error_after_wait),
        cmocka_unit_test(test_task_bare_yield),
        cmocka_unit_test(test_task_cancel),
        cmocka_unit_test(test_task_observer),
        cmocka_unit_test(test_release_while_task_runs),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
