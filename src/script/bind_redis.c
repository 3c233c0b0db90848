/* tocsin.redis - Redis commands from runbook tasks, on the engine's command connection.
 *
 *   local v, err = redis.call("HGET", "tocsin:incident:INC-1", "state")
 *   strings and status replies -> string, integers -> integer, arrays -> tables (nil items as
 *   false, like Redis' own Lua), nil -> nil; a Redis error reply -> nil, "<the error>";
 *   err = "timeout" | "closed" for connection problems.
 * Commands that change the connection's mode (SUBSCRIBE, MONITOR, ...) are refused. */
#include "script/bindings.h"
#include "script/services.h"
#include "script/task.h"
#include "core/error.h"
#include "core/sample.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 1024

typedef struct {
    tn_task_t *task; /* NULL when cancelled */
    int64_t start_ms;
    char cmd[32];
} redis_op_t;

static void push_reply(lua_State *L, const tn_redis_reply_t *r, int depth)
{
    luaL_checkstack(L, 3, "redis reply too deep");
    size_t len;
    const char *s;
    switch (tn_reply_type(r)) {
    case TN_REPLY_STRING:
    case TN_REPLY_STATUS:
    case TN_REPLY_ERROR:
        s = tn_reply_str(r, &len);
        lua_pushlstring(L, s ? s : "", s ? len : 0);
        break;
    case TN_REPLY_INTEGER:
        lua_pushinteger(L, tn_reply_int(r));
        break;
    case TN_REPLY_ARRAY: {
        size_t n = tn_reply_len(r);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            const tn_redis_reply_t *e = tn_reply_elem(r, i);
            if (tn_reply_type(e) == TN_REPLY_NIL)
                lua_pushboolean(L, 0);
            else
                push_reply(L, e, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    default:
        lua_pushnil(L);
        break;
    }
}

typedef struct {
    const tn_redis_reply_t *reply;
    int err;
} result_t;

static int push_result(lua_State *L)
{
    const result_t *res = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (res->err) {
        lua_pushnil(L);
        lua_pushstring(L, res->err == TN_ETIMEDOUT ? "timeout" : "closed");
    } else if (tn_reply_is_error(res->reply)) {
        lua_pushnil(L);
        push_reply(L, res->reply, 0);
    } else {
        push_reply(L, res->reply, 0);
        lua_pushnil(L);
    }
    return 2;
}

static void on_reply(tn_redis_t *r, const tn_redis_reply_t *reply, int err, void *arg)
{
    (void)r;
    redis_op_t *op = arg;
    tn_task_t *t = op->task;
    if (t) {
        char detail[96];
        snprintf(detail, sizeof detail, "{\"command\":\"%s\"}", op->cmd);
        tn_task_observe(t, "redis.call", !err && !tn_reply_is_error(reply),
                        (double)(tn_now_ms() - op->start_ms), detail);
        lua_State *L = tn_lua_state(tn_task_lua(t));
        result_t res = {reply, err};
        lua_pushcfunction(L, push_result);
        lua_pushlightuserdata(L, &res);
        if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
            lua_pushnil(L);
            lua_insert(L, -2);
        }
        lua_xmove(L, tn_task_thread(t), 2);
        free(op);
        tn_task_resume(t, 2);
        return;
    }
    free(op);
}

static void op_cancel(void *p)
{
    redis_op_t *op = p;
    op->task = NULL; /* the reply still comes; on_reply frees */
}

static int l_call(lua_State *L)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    int argc = lua_gettop(L);
    if (argc < 1 || argc > MAX_ARGS)
        return luaL_error(L, "redis.call: give a command and up to %d arguments", MAX_ARGS - 1);
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    for (int i = 0; i < argc; i++) {
        int t = lua_type(L, i + 1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            return luaL_error(L, "redis.call: argument %d must be a string or a number", i + 1);
        argv[i] = lua_tolstring(L, i + 1, &lens[i]); /* numbers converted in place */
    }
    tn_task_t *t = tn_task_check(L, "redis.call");
    if (tn_task_dry_run(t)) {
        char would[80];
        snprintf(would, sizeof would, "%.*s with %d argument(s)",
                 (int)(lens[0] < 32 ? lens[0] : 32), argv[0], argc - 1);
        return tn_task_dry_result(L, t, "redis.call", would);
    }
    if (!svc || !svc->redis) return luaL_error(L, "redis.call: no Redis connection");
    redis_op_t *op = calloc(1, sizeof *op);
    if (!op) return luaL_error(L, "redis.call: out of memory");
    op->task = t;
    op->start_ms = tn_now_ms();
    snprintf(op->cmd, sizeof op->cmd, "%.*s", (int)(lens[0] < 31 ? lens[0] : 31), argv[0]);
    for (char *p = op->cmd; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\') *p = '?';
    int rc = tn_redis_cmd_argv(svc->redis, on_reply, op, 0, argc, argv, lens);
    if (rc) {
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, rc == TN_EINVAL ? "command not allowed from scripts" : "closed");
        return 2;
    }
    return tn_task_wait(L, t, op_cancel, op);
}

int tn_bind_redis(lua_State *L)
{
    static const luaL_Reg fns[] = {{"call", l_call}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
