/* approval.c - pending approvals of runbook runs (approval.h). */
#include "automate/approval.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sample.h"
#include "script/runtime.h"

#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WHO 32

typedef struct ask {
    tn_approvals_t *ap;
    char id[48];
    char run[40];
    char runbook[128];
    char *reason;
    char *who[MAX_WHO];
    size_t nwho;
    int approve_on_timeout;
    int64_t created_ms, deadline_ms;
    tn_task_t *task; /* NULL once decided or canceled */
    uv_timer_t *timer;
    struct ask *prev, *next;
} ask_t;

struct tn_approvals {
    uv_loop_t *loop;
    tn_approvals_run_fn run_of;
    ask_t *asks; /* pending */
    size_t n;
    unsigned seq;
    tn_approvals_listener_fn listener;
    void *listener_arg;
};

void tn_approvals_set_listener(tn_approvals_t *ap, tn_approvals_listener_fn fn, void *arg)
{
    ap->listener = fn;
    ap->listener_arg = arg;
}

static json_t *ask_json(const ask_t *k)
{
    json_t *who = json_array();
    for (size_t i = 0; who && i < k->nwho; i++)
        json_array_append_new(who, json_string(k->who[i]));
    return who ? json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:s}", "id", k->id, "run", k->run,
                           "runbook", k->runbook, "reason", k->reason, "who", who, "created_ms",
                           (json_int_t)k->created_ms, "deadline_ms", (json_int_t)k->deadline_ms,
                           "on_timeout", k->approve_on_timeout ? "approve" : "deny")
               : NULL;
}

/* Tells the listener (if any) of an ask; decided adds the decision. */
static void tell(tn_approvals_t *ap, const ask_t *k, const char *event, const char *how,
                 int granted, const char *by, const char *note)
{
    if (!ap->listener) return;
    json_t *o = ask_json(k);
    if (!o) {
        tn_log_warn("automate", "out of memory: approval %s not announced", k->id);
        return;
    }
    if (how)
        json_object_update_new(o, json_pack("{s:s, s:b, s:s, s:s}", "decision", how, "granted",
                                            granted, "by", by ? by : "", "note", note ? note : ""));
    ap->listener(ap->listener_arg, event, o);
    json_decref(o);
}

/* Whether run ends in "-" + num: its number ("RUN-1796123374688-7" is 7). */
static int run_number_is(const char *run, const char *num)
{
    size_t rl = strlen(run), nl = strlen(num);
    return nl && rl > nl && run[rl - nl - 1] == '-' && !strcmp(run + rl - nl, num);
}

int tn_approvals_lookup(tn_approvals_t *ap, const char *ref, char *id, char *run, char *runbook)
{
    const ask_t *hit = NULL;
    for (const ask_t *k = ap->asks; k && !hit; k = k->next)
        if (!strcmp(k->id, ref) || !strcmp(k->run, ref)) hit = k;
    unsigned n = 0;
    for (const ask_t *k = ap->asks; !hit && k; k = k->next) /* by the run's number: one only */
        if (run_number_is(k->run, ref) && n++ == 0) hit = k;
    if (!hit || n > 1) return TN_ENOTFOUND;
    if (id) snprintf(id, 48, "%s", hit->id);
    if (run) snprintf(run, 40, "%s", hit->run);
    if (runbook) snprintf(runbook, 128, "%s", hit->runbook);
    return 0;
}

tn_approvals_t *tn_approvals_create(uv_loop_t *loop, tn_approvals_run_fn run_of)
{
    tn_approvals_t *ap = calloc(1, sizeof *ap);
    if (!ap) return NULL;
    ap->loop = loop;
    ap->run_of = run_of;
    return ap;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

static void ask_free(ask_t *k)
{
    if (k->timer) {
        uv_timer_stop(k->timer);
        uv_close((uv_handle_t *)k->timer, timer_closed);
    }
    for (size_t i = 0; i < k->nwho; i++)
        free(k->who[i]);
    free(k->reason);
    free(k);
}

static void unlink_ask(tn_approvals_t *ap, ask_t *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        ap->asks = k->next;
    if (k->next) k->next->prev = k->prev;
    ap->n--;
}

void tn_approvals_destroy(tn_approvals_t *ap)
{
    if (!ap) return;
    while (ap->asks) {
        ask_t *k = ap->asks;
        unlink_ask(ap, k);
        ask_free(k);
    }
    free(ap);
}

size_t tn_approvals_pending(const tn_approvals_t *ap)
{
    return ap->n;
}

/* Resumes the waiting run with (granted, by, note) and audits the decision. */
static void resolve(ask_t *k, int granted, const char *by, const char *note, const char *how)
{
    tn_approvals_t *ap = k->ap;
    tn_task_t *t = k->task;
    k->task = NULL;
    unlink_ask(ap, k);
    double waited = (double)(tn_now_ms() - k->created_ms);
    tn_log_info("automate", "approval %s for run %s (%s): %s by %s%s%s", k->id, k->run, k->runbook,
                how, by, note && *note ? ": " : "", note && *note ? note : "");
    tell(ap, k, "decided", how, granted, by, note);
    if (t) {
        json_t *d =
            json_pack("{s:s, s:s, s:b, s:s, s:s, s:f}", "approval", k->id, "decision", how,
                      "granted", granted, "by", by, "note", note ? note : "", "waited_ms", waited);
        char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        tn_task_observe(t, "approval.ask", granted, waited, detail ? detail : "{}");
        free(detail);
        lua_State *co = tn_task_thread(t);
        if (lua_checkstack(co, 3)) {
            lua_pushboolean(co, granted);
            lua_pushstring(co, by);
            lua_pushstring(co, note ? note : "");
            ask_free(k);
            tn_task_resume(t, 3);
            return;
        }
    }
    ask_free(k);
}

static void on_timeout(uv_timer_t *h)
{
    ask_t *k = h->data;
    resolve(k, k->approve_on_timeout, "timeout", "nobody decided in time",
            k->approve_on_timeout ? "approved on timeout" : "denied on timeout");
}

static void ask_cancel(void *op)
{
    ask_t *k = op;
    k->task = NULL;
    unlink_ask(k->ap, k);
    ask_free(k);
}

int tn_approvals_decide(tn_approvals_t *ap, const char *id, int approve, const char *by,
                        const char *note, const char **why)
{
    ask_t *k = ap->asks;
    while (k && strcmp(k->id, id))
        k = k->next;
    if (!k) return TN_ENOTFOUND;
    if (!by || !*by) {
        if (why) *why = "say who decides (by)";
        return TN_EINVAL;
    }
    if (k->nwho) {
        int allowed = 0;
        for (size_t i = 0; i < k->nwho && !allowed; i++)
            allowed = !strcmp(k->who[i], by);
        if (!allowed) {
            if (why) *why = "not among the people this runbook asks (who)";
            return TN_EINVAL;
        }
    }
    resolve(k, approve, by, note, approve ? "approved" : "denied");
    return 0;
}

int tn_approvals_json(tn_approvals_t *ap, tn_buf_t *out)
{
    json_t *arr = json_array();
    for (ask_t *k = ap->asks; arr && k; k = k->next) {
        json_t *o = ask_json(k);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!s) return TN_ENOMEM;
    int rc = tn_buf_puts(out, s);
    free(s);
    return rc;
}

/* approval.ask{ reason =, who = {...}, timeout_s = 600, on_timeout = "deny"|"approve" }
 * -> granted, by, note */
static int l_ask(lua_State *L)
{
    tn_approvals_t *ap = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "reason");
    const char *reason = luaL_optstring(L, -1, "");
    lua_getfield(L, 1, "timeout_s");
    lua_Number timeout = luaL_optnumber(L, -1, 600);
    lua_getfield(L, 1, "on_timeout");
    const char *ot = luaL_optstring(L, -1, "deny");
    if (timeout <= 0 || timeout > 7 * 86400)
        return luaL_error(L, "approval.ask: timeout_s must be in (0, 604800]");
    if (strcmp(ot, "deny") && strcmp(ot, "approve"))
        return luaL_error(L, "approval.ask: on_timeout must be \"deny\" or \"approve\"");
    tn_task_t *t = tn_task_check(L, "approval.ask");
    if (!ap) return luaL_error(L, "approval.ask: approvals are not available here");
    if (tn_task_dry_run(t)) { /* nothing will be done anyway */
        tn_task_observe(t, "approval.ask", 1, 0,
                        "{\"dry_run\":true,\"decision\":\"approved\",\"by\":\"dry-run\"}");
        lua_pushboolean(L, 1);
        lua_pushliteral(L, "dry-run");
        lua_pushliteral(L, "");
        return 3;
    }
    ask_t *k = calloc(1, sizeof *k);
    if (!k || !(k->reason = strdup(reason))) {
        free(k);
        return luaL_error(L, "approval.ask: out of memory");
    }
    k->ap = ap;
    lua_getfield(L, 1, "who");
    if (lua_istable(L, -1)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            const char *w = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            if (!w || !*w || k->nwho >= MAX_WHO || !(k->who[k->nwho] = strdup(w))) {
                lua_pop(L, 1);
                ask_free(k);
                return luaL_error(L, "approval.ask: who must list up to %d names", MAX_WHO);
            }
            k->nwho++;
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        ask_free(k);
        return luaL_error(L, "approval.ask: who must be a list of names");
    }
    lua_pop(L, 1);
    k->approve_on_timeout = !strcmp(ot, "approve");
    k->created_ms = tn_now_ms();
    k->deadline_ms = k->created_ms + (int64_t)(timeout * 1000);
    snprintf(k->id, sizeof k->id, "APR-%lld-%u", (long long)k->created_ms, ++ap->seq);
    const char *run = "", *book = "";
    if (ap->run_of) ap->run_of(tn_task_arg(t), &run, &book);
    snprintf(k->run, sizeof k->run, "%s", run ? run : "");
    snprintf(k->runbook, sizeof k->runbook, "%s", book ? book : "");
    if (!(k->timer = malloc(sizeof *k->timer))) {
        ask_free(k);
        return luaL_error(L, "approval.ask: out of memory");
    }
    uv_timer_init(ap->loop, k->timer);
    k->timer->data = k;
    uv_timer_start(k->timer, on_timeout, (uint64_t)(timeout * 1000), 0);
    k->task = t;
    k->next = ap->asks;
    if (ap->asks) ap->asks->prev = k;
    ap->asks = k;
    ap->n++;
    tn_log_info("automate", "run %s (%s) asks for approval %s: %s (timeout %.0f s, then %s)",
                k->run, k->runbook, k->id, k->reason, timeout, ot);
    tell(ap, k, "asked", NULL, 0, NULL, NULL); /* before the wait: lua_yield does not return */
    return tn_task_wait(L, t, ask_cancel, k);
}

int tn_approvals_open(lua_State *L)
{
    static const luaL_Reg fns[] = {{"ask", l_ask}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
