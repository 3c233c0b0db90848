/* task.h - a Lua function running as a coroutine that may wait on engine actions
 * (the OpenResty "cosocket" shape).
 *
 * A binding that must wait (http.request, sleep, ...) starts its operation, registers a cancel
 * hook with tn_task_wait() and returns its result: the coroutine yields. When the operation
 * completes, its callback pushes the results on tn_task_thread(t) and calls tn_task_resume(t, n):
 * the coroutine continues and sees those values as the binding's return values.
 *
 * Lifetime: a task holds a reference on its tn_lua_t and an anchor in its registry. When the
 * function returns or raises, done() is called once and the task is freed after done returns.
 * Engine yields are told apart from user yields: a bare coroutine.yield at task level is an
 * error. */
#ifndef TN_SCRIPT_TASK_H
#define TN_SCRIPT_TASK_H

#include <lua.h>
#include <stdint.h>

#include "script/runtime.h"

#include <uv.h>

/* status: 0 when the function returned, TN_ESCRIPT when it raised (err holds message and
 * traceback), TN_ECANCELED when cancelled. On success the function's results are on
 * tn_task_thread(t) (nres of them) for done to read. err borrowed for the call. */
typedef void (*tn_task_done_cb)(tn_task_t *t, int status, const char *err, int nres, void *arg);

/* Takes the function and nargs arguments from the top of tn_lua_state(lua) (popped) and starts
 * it as a task: it runs until it first waits or ends. done may be called before tn_task_spawn
 * returns (a task that never waits). Returns 0 (and *out when the task is still running, else
 * NULL) or TN_ENOMEM (nothing started, done not called). */
int tn_task_spawn(tn_lua_t *lua, int nargs, tn_task_done_cb done, void *arg, tn_task_t **out);

/* Observer for engine actions performed by the task (for the audit trail). detail is a
 * borrowed JSON text. */
typedef void (*tn_task_observe_cb)(tn_task_t *t, const char *action, int ok, double ms,
                                   const char *detail, void *arg);

/* Same as tn_task_spawn, with an observer in place before the task first runs. */
int tn_task_spawn_observed(tn_lua_t *lua, int nargs, tn_task_done_cb done,
                           tn_task_observe_cb observe, void *arg, tn_task_t **out);

lua_State *tn_task_thread(const tn_task_t *t);
tn_lua_t *tn_task_lua(const tn_task_t *t);
void *tn_task_arg(const tn_task_t *t);
uint64_t tn_task_id(const tn_task_t *t);

/* Same as tn_task_spawn_observed, for a dry run: the bindings that act on the world (http,
 * exec, redis, emit, notify) log and audit what they would do and return
 * { dry_run = true, ok = true, status = 0, body = "" } instead (tn_task_dry_result). */
int tn_task_spawn_dry(tn_lua_t *lua, int nargs, tn_task_done_cb done, tn_task_observe_cb observe,
                      void *arg, tn_task_t **out);
int tn_task_dry_run(const tn_task_t *t);
/* For a binding in a dry run, as `return tn_task_dry_result(L, t, "http.request", would)`:
 * observes the action (audit detail {"dry_run":true,"would":"<would>"}), pushes the stand-in
 * result and returns 1. would (borrowed) says what would have been done. */
int tn_task_dry_result(lua_State *L, tn_task_t *t, const char *action, const char *would);

/* Interrupts a waiting task: its pending operation is canceled and the wait returns nil, msg.
 * Returns 1 when it was waiting (t may have finished and be freed when this returns), else 0. */
int tn_task_interrupt(tn_task_t *t, const char *msg);
/* A deadline (seconds > 0; <= 0 clears it): when it passes while the task waits, the wait
 * returns nil, msg (time.deadline). One per task; freed with the task. 0 or TN_ENOMEM. */
int tn_task_set_deadline(tn_task_t *t, uv_loop_t *loop, double seconds, const char *msg);

/* The task whose coroutine is L, or NULL (main thread or a user coroutine). */
tn_task_t *tn_task_current(lua_State *L);
/* Same, but raises "<what> must be called from a runbook task" when there is none. */
tn_task_t *tn_task_check(lua_State *L, const char *what);

/* Called by a binding, as `return tn_task_wait(L, t, cancel, op)`: marks the task as waiting
 * (cancel(op) will be called if the task is cancelled meanwhile) and yields. */
int tn_task_wait(lua_State *L, tn_task_t *t, void (*cancel)(void *op), void *op);

/* Resumes a waiting task with the nres values already pushed on its thread. */
void tn_task_resume(tn_task_t *t, int nres);

/* Cancels a task: its pending operation's cancel hook runs, then done(TN_ECANCELED). */
void tn_task_cancel(tn_task_t *t);

void tn_task_set_observer(tn_task_t *t, tn_task_observe_cb cb);
void tn_task_observe(tn_task_t *t, const char *action, int ok, double ms, const char *detail);

/* Number of tasks alive in the process. */
unsigned tn_task_count(void);

#endif
