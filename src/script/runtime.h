/* runtime.h - one sandboxed Lua 5.4 state per script (rule, runbook or config file).
 *
 * Model: every script gets its own lua_State (tn_lua_t). Isolation is therefore complete (a
 * script cannot see or change another's globals), each state has its own memory ceiling, and
 * hot reload replaces one state without touching the others. A state is reference-counted:
 * its owner holds one reference and every task (coroutine) running in it holds one, so an old
 * version stays alive until the last runbook started on it finishes.
 *
 * Limits: a counting allocator refuses to grow the state past memory_limit bytes (the script
 * gets a "memory limit exceeded" error), and a count hook stops a callback after
 * instruction_limit VM instructions. Both are counted in /metrics.
 *
 * Sandbox: base (without dofile, loadfile; load only takes text), string (without dump), table,
 * math, utf8, and os.time/os.clock/os.date/os.difftime. `require` resolves engine modules
 * ("tocsin.log", ...) registered with tn_lua_preload, then lib_dir/<name>.lua; nothing else.
 * print() writes to the engine log.
 *
 * Contexts tell what a binding may do: LOAD (running the file's top level: no I/O), RULE
 * (synchronous callback, cannot wait), TASK (a runbook coroutine: may wait on actions). */
#ifndef TN_SCRIPT_RUNTIME_H
#define TN_SCRIPT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>

#include "core/buf.h"

typedef struct tn_lua tn_lua_t;
typedef struct tn_task tn_task_t;

typedef enum {
    TN_CTX_LOAD = 1,
    TN_CTX_RULE = 2,
    TN_CTX_TASK = 4,
} tn_lua_ctx_t;

typedef struct {
    const char *name;           /* for messages, usually the file path; copied */
    const char *lib_dir;        /* where require finds Lua modules; NULL = none; copied */
    size_t memory_limit;        /* bytes; 0 = unlimited */
    uint64_t instruction_limit; /* per callback; 0 = unlimited */
    void *owner;                /* borrowed pointer for bindings (tn_lua_owner) */
} tn_lua_opts_t;

/* Creates a sandboxed state with one reference held by the caller. NULL on failure. */
tn_lua_t *tn_lua_create(const tn_lua_opts_t *opts);
void tn_lua_retain(tn_lua_t *lua);
/* Drops a reference; the state is closed when the last one goes. */
void tn_lua_release(tn_lua_t *lua);

lua_State *tn_lua_state(const tn_lua_t *lua);
const char *tn_lua_name(const tn_lua_t *lua);
void *tn_lua_owner(const tn_lua_t *lua);
/* The tn_lua_t that owns L (any thread of it). */
tn_lua_t *tn_lua_from(lua_State *L);
size_t tn_lua_memory(const tn_lua_t *lua);

/* Makes require(name) return the module built by open(L) (called once, with owner-data
 * `ud` as upvalue 1 of open). name copied. 0 or TN_ENOMEM. */
int tn_lua_preload(tn_lua_t *lua, const char *name, lua_CFunction open, void *ud);

/* Compiles and runs a file's top level in LOAD context; on success leaves its first result on
 * the stack (nil if none) and returns 0. On failure returns TN_ESCRIPT (or TN_EIO when the file
 * cannot be read) and writes "file:line: message" into err. */
int tn_lua_dofile(tn_lua_t *lua, const char *path, tn_buf_t *err);

/* Protected call of the function below nargs arguments on the state's stack, in context ctx,
 * with the instruction budget reset. On error returns TN_ESCRIPT, leaves nothing and writes
 * "message\nstack traceback:..." into err. */
int tn_lua_pcall(tn_lua_t *lua, tn_lua_ctx_t ctx, int nargs, int nresults, tn_buf_t *err);

/* The context the running code is in, and a guard for bindings: raises
 * "<what> cannot be used in <context> context" when ctx is not in allowed (a mask). */
tn_lua_ctx_t tn_lua_context(lua_State *L);
void tn_lua_check_context(lua_State *L, int allowed, const char *what);

/* Readable name of the current context ("load", "rule", "task"). */
const char *tn_lua_context_name(tn_lua_ctx_t ctx);

/* Sets the current context and resets the instruction budget (used by tasks on resume). */
void tn_lua__enter(tn_lua_t *lua, tn_lua_ctx_t ctx);
void tn_lua__leave(tn_lua_t *lua, tn_lua_ctx_t prev);

/* Lua message handler that appends a traceback (for lua_pcall). */
int tn_lua_traceback(lua_State *L);

/* Builds a read-only proxy of the table at the top of the stack (replaces it): writes raise
 * "attempt to modify read-only table", getmetatable() returns false. */
void tn_lua_readonly(lua_State *L);

#endif
