/* tocsin.time - clocks and waiting.
 *   time.now()        -> milliseconds since the epoch (integer)     any context
 *   time.sleep(s)     -> true after s seconds (0 <= s <= 86400)     task context
 *   time.deadline(s [, msg]) a wait still going s seconds from now returns nil, msg; nil clears
 */
#include "script/bindings.h"
#include "script/services.h"
#include "script/task.h"
#include "core/sample.h"

#include <lauxlib.h>
#include <stdlib.h>

typedef struct {
    uv_timer_t timer;
    tn_task_t *task;
} sleep_op_t;

static void on_closed(uv_handle_t *h)
{
    free(h);
}

static void on_wake(uv_timer_t *t)
{
    sleep_op_t *op = (sleep_op_t *)t;
    tn_task_t *task = op->task;
    uv_close((uv_handle_t *)t, on_closed);
    lua_pushboolean(tn_task_thread(task), 1);
    tn_task_resume(task, 1);
}

static void sleep_cancel(void *p)
{
    sleep_op_t *op = p;
    uv_timer_stop(&op->timer);
    uv_close((uv_handle_t *)&op->timer, on_closed);
}

static int l_sleep(lua_State *L)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && s <= 86400, 1, "seconds must be in [0, 86400]");
    tn_task_t *t = tn_task_check(L, "time.sleep");
    if (!svc || !svc->loop) return luaL_error(L, "time.sleep: no event loop");
    sleep_op_t *op = calloc(1, sizeof *op);
    if (!op) return luaL_error(L, "time.sleep: out of memory");
    op->task = t;
    uv_timer_init(svc->loop, &op->timer);
    uv_timer_start(&op->timer, on_wake, (uint64_t)(s * 1000.0), 0);
    return tn_task_wait(L, t, sleep_cancel, op);
}

/* time.deadline(s [, message]): a wait still in progress s seconds from now returns nil,
 * message ("deadline of s s passed" by default); time.deadline(nil) clears it. Task context. */
static int l_deadline(lua_State *L)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    tn_task_t *t = tn_task_check(L, "time.deadline");
    if (lua_isnoneornil(L, 1)) {
        tn_task_set_deadline(t, NULL, 0, NULL);
        return 0;
    }
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s > 0 && s <= 86400, 1, "seconds must be in (0, 86400]");
    const char *msg = luaL_optstring(L, 2, NULL);
    if (!svc || !svc->loop) return luaL_error(L, "time.deadline: no event loop");
    char buf[96];
    if (!msg) {
        snprintf(buf, sizeof buf, "deadline of %g s passed", (double)s);
        msg = buf;
    }
    if (tn_task_set_deadline(t, svc->loop, s, msg))
        return luaL_error(L, "time.deadline: out of memory");
    return 0;
}

static int l_now(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)tn_now_ms());
    return 1;
}

int tn_bind_time(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"sleep", l_sleep}, {"now", l_now}, {"deadline", l_deadline}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
