/* approval.h - runbooks that ask a person before they act: tocsin.approval.
 *
 *   local ok, by, note = approval.ask{ reason = "restart db-1?", who = { "alice", "bob" },
 *                                      timeout_s = 600, on_timeout = "deny" }
 *
 * The run waits (the loop does not) until someone decides through POST /api/v1/approvals
 * {"id", "decision": "approve"|"deny", "by", "note"} (ChatOps will call the same), or until the
 * timeout, when on_timeout decides ("deny" by default, or "approve"). `who` (optional) lists the
 * people who may decide; anyone may when it is absent. In a dry run the ask is approved at once
 * by "dry-run". Each ask is a step of the run's audit trail: its decision, who, and how long it
 * waited. */
#ifndef TN_AUTOMATE_APPROVAL_H
#define TN_AUTOMATE_APPROVAL_H

#include <jansson.h>
#include <lua.h>
#include <uv.h>

#include "core/buf.h"
#include "script/task.h"

typedef struct tn_approvals tn_approvals_t;

/* Says which run a task is (id, runbook: borrowed strings), for the pending list. */
typedef void (*tn_approvals_run_fn)(void *task_arg, const char **run_id, const char **runbook);

/* loop borrowed. NULL on allocation failure. */
tn_approvals_t *tn_approvals_create(uv_loop_t *loop, tn_approvals_run_fn run_of);
/* Pending asks are dropped (their runs are being canceled by their owner). The timers close on
 * the loop: run it once more before closing the loop. */
void tn_approvals_destroy(tn_approvals_t *ap);

/* The tocsin.approval module (for tn_lua_preload; arg = the approvals). */
int tn_approvals_open(lua_State *L);

/* Decides a pending ask. 0 (the run resumes), TN_ENOTFOUND (no such pending ask), TN_EINVAL
 * (by is not among who: *why says so; by empty). by/note borrowed. */
int tn_approvals_decide(tn_approvals_t *ap, const char *id, int approve, const char *by,
                        const char *note, const char **why);

/* Appends the pending asks as a JSON list: {id, run, runbook, reason, who, created_ms,
 * deadline_ms, on_timeout}. */
int tn_approvals_json(tn_approvals_t *ap, tn_buf_t *out);

size_t tn_approvals_pending(const tn_approvals_t *ap);

/* Finds a pending ask by its id or its run's id ("APR-..." or "RUN-..."), else by its run's
 * number ("7" for RUN-...-7, when only one pending run has it): copies its id (size >= 48), run
 * (>= 40) and runbook (>= 128) into the buffers given (any may be NULL). 0 or TN_ENOTFOUND. */
int tn_approvals_lookup(tn_approvals_t *ap, const char *ref, char *id, char *run, char *runbook);

/* Told of each ask when it is made (event "asked") and when it is decided, by a person or the
 * timeout (event "decided"). ask (borrowed for the call): {id, run, runbook, reason, who,
 * created_ms, deadline_ms, on_timeout} and, when decided, decision ("approved", "denied",
 * "approved on timeout", ...), granted, by, note. One listener; NULL removes it. The listener
 * must not decide an ask from inside the call (the run is still running then). */
typedef void (*tn_approvals_listener_fn)(void *arg, const char *event, const json_t *ask);
void tn_approvals_set_listener(tn_approvals_t *ap, tn_approvals_listener_fn fn, void *arg);

#endif
