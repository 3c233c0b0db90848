/* tocsin.notify - notifications from runbook tasks: Slack and Mattermost incoming webhooks, the
 * PagerDuty Events API v2 and generic webhooks. Task context only.
 *
 *   local r, err = notify.slack(url, { text = "...", blocks = {...}, channel = "#ops" } [, opts])
 *   local r, err = notify.mattermost(url, { text = "...", attachments = {...} } [, opts])
 *   local r, err = notify.pagerduty{ action = "trigger", routing_key = k, summary = "...",
 *                                    source = "db-1", severity = "critical", ... }
 *   local r, err = notify.webhook(url, body_table_or_string [, { headers =, method = }])
 *   opts (and the pagerduty table): retries = 3, timeout = 10, backoff = 0.5, max_backoff = 60
 *   r   = { status =, body =, attempts =, ms = } (+ dedup_key for pagerduty)
 *   err = "rejected: <status> <body>" | "unavailable: <status> <body>" | "timeout" | "closed"
 *         | "too_big" | "error: <text>", followed by the same table as r
 *
 * The task waits once for the whole delivery: each attempt is a transfer on the engine's HTTP
 * client (notify/httpc.c), and the wait before a retry a libuv timer, so the loop never blocks.
 * Connection failures, 429 and 5xx are retried with exponential backoff and jitter (Retry-After
 * is honoured on 429 and 503); other statuses are final. Every
 * attempt is logged and the delivery is one audit step; URLs and routing keys are masked in
 * both (notify/targets.h). Bad arguments raise before anything is started. */
#include "script/bindings.h"
#include "script/convert.h"
#include "script/services.h"
#include "script/task.h"
#include "notify/httpc.h"
#include "notify/targets.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

#include <lauxlib.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#define MAX_HEADERS 64
#define MAX_RETRIES 10
#define MAX_RESPONSE (1024u * 1024) /* the largest response kept (an error page, at most) */
#define REASON_BODY 200             /* bytes of a refused response quoted in the reason */

static const char *const LOG = "notify";

typedef struct {
    unsigned retries;
    uint64_t timeout_ms;
    uint64_t backoff_ms;
    uint64_t max_backoff_ms;
} ctl_t;

/* One delivery: a series of attempts with waits between them. Owned by the binding from the
 * call until finish() or the cancel hook hands the timer to libuv; freed in on_closed. */
typedef struct {
    uv_timer_t timer; /* the wait before a retry; first member (on_backoff casts) */
    tn_task_t *task;  /* NULL once finished or cancelled */
    tn_httpc_t *httpc;
    uint64_t http_id;
    int in_http;
    tn_notify_kind_t kind;
    char action[24]; /* "notify.slack", ... */
    ctl_t ctl;
    char method[16];
    char *url;        /* owned */
    char *url_masked; /* owned */
    char *body;       /* owned, NULL for none */
    size_t body_len;
    char *headers[MAX_HEADERS + 3]; /* owned "Name: value" lines, NULL-terminated */
    uint64_t start_ns;
    double ms; /* total, set by finish */
    unsigned attempts;
    int ok;
    /* the last attempt */
    int error;
    long status;
    char *resp; /* owned copy of the response body */
    size_t resp_len;
    int64_t retry_after_ms; /* -1 when the response had none */
    char error_text[256];
    /* pagerduty */
    char pd_action[16];
    char *pd_key_masked; /* owned */
    char *pd_dedup;      /* owned, the request's dedup_key or NULL */
    int pd_dedup_is_key; /* the dedup_key equals the routing key: masked like it */
} notify_op_t;

/* ---- lifetime --------------------------------------------------------------------------- */

static void op_free(notify_op_t *op)
{
    free(op->url);
    free(op->url_masked);
    free(op->body);
    for (int i = 0; op->headers[i]; i++)
        free(op->headers[i]);
    free(op->resp);
    free(op->pd_key_masked);
    free(op->pd_dedup);
    free(op);
}

static void on_closed(uv_handle_t *h)
{
    op_free((notify_op_t *)h);
}

/* Stops whatever is pending and hands op to libuv; it is freed in on_closed. */
static void op_close(notify_op_t *op)
{
    if (op->in_http) tn_httpc_cancel(op->httpc, op->http_id);
    op->in_http = 0;
    uv_timer_stop(&op->timer);
    uv_close((uv_handle_t *)&op->timer, on_closed);
}

/* Cancel hook: the task is going away while this delivery waits. */
static void op_cancel(void *p)
{
    notify_op_t *op = p;
    tn_log_info(LOG, "%s %s: canceled after %u attempt(s)", op->action, op->url_masked,
                op->attempts);
    op->task = NULL;
    op_close(op);
}

/* ---- jitter ----------------------------------------------------------------------------- */

static double jitter(void)
{
    static uint64_t s;
    if (!s) s = (uv_hrtime() ^ ((uint64_t)getpid() << 32)) | 1;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return (double)((s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Retry-After of the last response in ms (429 and 503 only), or -1. */
static int64_t retry_after_of(const tn_httpc_result_t *res)
{
#ifdef TN_HTTPC_RETRY_AFTER
    if (!res->error && (res->status == 429 || res->status == 503)) return res->retry_after_ms;
#else
    (void)res;
#endif
    return -1;
}

/* ---- results ---------------------------------------------------------------------------- */

static const char *error_word(int error)
{
    switch (error) {
    case TN_ETIMEDOUT:
        return "timeout";
    case TN_ECLOSED:
        return "closed";
    case TN_ETOOBIG:
        return "too_big";
    default:
        return "error";
    }
}

/* "ok", "rejected", "unavailable", or the transport error's word. */
static const char *outcome_word(const notify_op_t *op)
{
    if (op->ok) return "ok";
    if (op->error) return error_word(op->error);
    return tn_notify_retryable(0, op->status) ? "unavailable" : "rejected";
}

/* The dedup_key PagerDuty answered with, else the one sent (pushed), or nothing (0). */
static int push_dedup(lua_State *L, const notify_op_t *op)
{
    if (op->resp_len) {
        json_t *j = json_loadb(op->resp, op->resp_len, 0, NULL);
        const char *k = json_string_value(json_object_get(j, "dedup_key"));
        if (k) lua_pushstring(L, k);
        json_decref(j);
        if (k) return 1;
    }
    if (op->pd_dedup) {
        lua_pushstring(L, op->pd_dedup);
        return 1;
    }
    return 0;
}

/* Protected: (op) -> r  or  nil, reason, r. */
static int push_result(lua_State *L)
{
    const notify_op_t *op = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (!op->ok) {
        lua_pushnil(L);
        if (op->error == TN_ETIMEDOUT || op->error == TN_ECLOSED || op->error == TN_ETOOBIG) {
            lua_pushstring(L, error_word(op->error));
        } else if (op->error) {
            lua_pushfstring(L, "error: %s", op->error_text[0] ? op->error_text : "?");
        } else {
            char b[REASON_BODY + 1];
            size_t n = op->resp_len < REASON_BODY ? op->resp_len : REASON_BODY;
            memcpy(b, op->resp ? op->resp : "", n);
            b[n] = '\0';
            for (char *p = b; *p; p++)
                if ((unsigned char)*p < 0x20) *p = ' ';
            lua_pushfstring(L, "%s: %d %s", outcome_word(op), (int)op->status, b);
        }
    }
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, op->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, op->resp ? op->resp : "", op->resp_len);
    lua_setfield(L, -2, "body");
    lua_pushinteger(L, op->attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushnumber(L, op->ms);
    lua_setfield(L, -2, "ms");
    if (op->retry_after_ms >= 0) {
        lua_pushnumber(L, (lua_Number)op->retry_after_ms / 1000.0);
        lua_setfield(L, -2, "retry_after");
    }
    if (op->kind == TN_NOTIFY_PAGERDUTY && push_dedup(L, op)) lua_setfield(L, -2, "dedup_key");
    return lua_gettop(L);
}

/* Appends s as a JSON string of at most max bytes, cut on a character boundary. */
static void json_str_cut(tn_buf_t *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    tn_buf_json_str(b, s, n);
}

/* The audit step's detail: target, masked URL (and routing key), attempts, final status,
 * outcome and duration. Never the request body or headers. */
static void audit_detail(const notify_op_t *op, tn_buf_t *b)
{
    tn_buf_puts(b, "{\"target\":\"");
    tn_buf_puts(b, tn_notify_kind_name(op->kind));
    tn_buf_puts(b, "\",\"url\":");
    json_str_cut(b, op->url_masked, 160);
    if (op->kind == TN_NOTIFY_WEBHOOK) tn_buf_printf(b, ",\"method\":\"%s\"", op->method);
    if (op->kind == TN_NOTIFY_PAGERDUTY) {
        tn_buf_printf(b, ",\"event_action\":\"%s\",\"routing_key\":", op->pd_action);
        json_str_cut(b, op->pd_key_masked, 16);
        if (op->pd_dedup) {
            tn_buf_puts(b, ",\"dedup_key\":");
            json_str_cut(b, op->pd_dedup_is_key ? op->pd_key_masked : op->pd_dedup, 64);
        }
    }
    tn_buf_printf(b, ",\"attempts\":%u,\"status\":%ld,\"result\":\"%s\"", op->attempts, op->status,
                  outcome_word(op));
    if (op->retry_after_ms >= 0)
        tn_buf_printf(b, ",\"retry_after_ms\":%lld", (long long)op->retry_after_ms);
    tn_buf_printf(b, ",\"ms\":%.1f}", op->ms);
}

/* The delivery is over (op->ok and the last attempt say how): one audit step, the results
 * pushed on the task's thread, the op closed, the task resumed. */
static void finish(notify_op_t *op)
{
    tn_task_t *t = op->task;
    op->task = NULL;
    op->ms = (double)(uv_hrtime() - op->start_ns) / 1e6;

    tn_buf_t d;
    tn_buf_init(&d);
    audit_detail(op, &d);
    tn_task_observe(t, op->action, op->ok, op->ms, d.data ? d.data : "{}");
    tn_buf_deinit(&d);

    lua_State *L = tn_lua_state(tn_task_lua(t));
    int top = lua_gettop(L);
    int n;
    lua_pushcfunction(L, push_result);
    lua_pushlightuserdata(L, op);
    if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2); /* nil, message */
        n = 2;
    } else {
        n = lua_gettop(L) - top;
    }
    lua_xmove(L, tn_task_thread(t), n);
    op_close(op);
    tn_task_resume(t, n);
}

/* ---- attempts --------------------------------------------------------------------------- */

static void on_http_done(const tn_httpc_result_t *res, void *arg);

/* Starts the next attempt. 0 or a TN_E* code (the callback will not be called). */
static int attempt(notify_op_t *op)
{
    tn_httpc_req_t req = {.method = op->method,
                          .url = op->url,
                          .headers = (const char *const *)op->headers,
                          .body = op->body,
                          .body_len = op->body_len,
                          .timeout_ms = op->ctl.timeout_ms,
                          .max_response_bytes = MAX_RESPONSE};
    int rc = tn_httpc_request(op->httpc, &req, on_http_done, op, &op->http_id);
    if (rc == 0) op->in_http = 1;
    return rc;
}

static void on_backoff(uv_timer_t *timer)
{
    notify_op_t *op = (notify_op_t *)timer;
    int rc = attempt(op);
    if (rc) {
        op->error = rc;
        op->status = 0;
        snprintf(op->error_text, sizeof op->error_text, "cannot start a request: %s",
                 tn_strerror(rc));
        tn_log_warn(LOG, "%s %s: %s", op->action, op->url_masked, op->error_text);
        finish(op);
    }
}

static void on_http_done(const tn_httpc_result_t *res, void *arg)
{
    notify_op_t *op = arg;
    op->in_http = 0;
    op->attempts++;
    op->error = res->error;
    op->status = res->error ? 0 : res->status;
    snprintf(op->error_text, sizeof op->error_text, "%s", res->error_text ? res->error_text : "");
    free(op->resp);
    op->resp = NULL;
    op->resp_len = 0;
    if (!res->error && res->body_len && (op->resp = malloc(res->body_len + 1))) {
        memcpy(op->resp, res->body, res->body_len);
        op->resp[res->body_len] = '\0';
        op->resp_len = res->body_len;
    }
    op->retry_after_ms = retry_after_of(res);
    op->ok = !res->error && tn_notify_accepted(op->kind, res->status, res->body, res->body_len);

    char what[300];
    if (res->error)
        snprintf(what, sizeof what, "%s (%s)", error_word(res->error),
                 op->error_text[0] ? op->error_text : "no response");
    else
        snprintf(what, sizeof what, "HTTP %ld%s", res->status, op->ok ? ", delivered" : "");
    unsigned of = op->ctl.retries + 1;

    if (op->ok) {
        tn_log_info(LOG, "%s %s: attempt %u of %u: %s in %.1f ms", op->action, op->url_masked,
                    op->attempts, of, what, res->total_ms);
        finish(op);
        return;
    }
    const char *stop = NULL;
    uint64_t delay = 0;
    if (!tn_notify_retryable(res->error, res->status))
        stop = "not retried";
    else if (op->attempts > op->ctl.retries)
        stop = "no retries left";
    else if (op->retry_after_ms > (int64_t)op->ctl.max_backoff_ms)
        stop = "Retry-After is longer than max_backoff, giving up";
    else if (op->retry_after_ms >= 0)
        delay = (uint64_t)op->retry_after_ms;
    else
        delay = tn_notify_backoff_ms(op->attempts, op->ctl.backoff_ms, op->ctl.max_backoff_ms,
                                     jitter());
    if (stop) {
        tn_log_warn(LOG, "%s %s: attempt %u of %u: %s in %.1f ms; %s", op->action, op->url_masked,
                    op->attempts, of, what, res->total_ms, stop);
        finish(op);
        return;
    }
    tn_log_warn(LOG, "%s %s: attempt %u of %u: %s in %.1f ms; retrying in %llu ms%s", op->action,
                op->url_masked, op->attempts, of, what, res->total_ms, (unsigned long long)delay,
                op->retry_after_ms >= 0 ? " (Retry-After)" : "");
    uv_timer_start(&op->timer, on_backoff, delay, 0);
}

/* ---- arguments -------------------------------------------------------------------------- */

/* Reads retries, timeout, backoff and max_backoff from the table at idx (absent: defaults). */
static void read_ctl(lua_State *L, int idx, const char *fn, ctl_t *c)
{
    *c = (ctl_t){.retries = 3, .timeout_ms = 10000, .backoff_ms = 500, .max_backoff_ms = 60000};
    if (lua_isnoneornil(L, idx)) return;
    lua_getfield(L, idx, "retries");
    if (!lua_isnil(L, -1)) {
        int isint = 0;
        lua_Integer n = lua_tointegerx(L, -1, &isint);
        if (!isint || n < 0 || n > MAX_RETRIES)
            luaL_error(L, "%s: 'retries' must be an integer from 0 to %d", fn, MAX_RETRIES);
        c->retries = (unsigned)n;
    }
    lua_pop(L, 1);
    static const struct {
        const char *name;
        double lo, hi;
        size_t off;
    } nums[] = {{"timeout", 0.001, 300, offsetof(ctl_t, timeout_ms)},
                {"backoff", 0, 600, offsetof(ctl_t, backoff_ms)},
                {"max_backoff", 0, 3600, offsetof(ctl_t, max_backoff_ms)}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        lua_getfield(L, idx, nums[i].name);
        if (!lua_isnil(L, -1)) {
            int isnum = 0;
            lua_Number v = lua_tonumberx(L, -1, &isnum);
            if (!isnum || !(v >= nums[i].lo && v <= nums[i].hi))
                luaL_error(L, "%s: '%s' must be a number of seconds from %f to %f", fn,
                           nums[i].name, (lua_Number)nums[i].lo, (lua_Number)nums[i].hi);
            *(uint64_t *)((char *)c + nums[i].off) = (uint64_t)(v * 1000.0 + 0.5);
        }
        lua_pop(L, 1);
    }
}

static int is_ctl_key(const char *k)
{
    return !strcmp(k, "retries") || !strcmp(k, "timeout") || !strcmp(k, "backoff") ||
           !strcmp(k, "max_backoff");
}

/* The options table at idx may hold the delivery options and, for webhook, headers and
 * method. Raises on anything else. */
static void check_opts(lua_State *L, int idx, const char *fn, int webhook)
{
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: option names must be strings", fn);
        const char *k = lua_tostring(L, -1);
        if (!is_ctl_key(k) && !(webhook && (!strcmp(k, "headers") || !strcmp(k, "method"))))
            luaL_error(L, "%s: unknown option '%s'", fn, k);
    }
}

static void check_url(lua_State *L, const char *url, const char *fn)
{
    if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
        luaL_error(L, "%s: the URL must start with https:// or http://", fn);
}

/* Raises the message on top of the stack, with the caller's position in front of it. */
static int raise_top(lua_State *L)
{
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Converts the table at idx to JSON, without the keys in drop (NULL-terminated, may be NULL).
 * Raises on values JSON cannot carry. The caller owns the result. */
static json_t *table_json(lua_State *L, int idx, const char *fn, const char *what,
                          const char *const *drop)
{
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *j = tn_lua_to_json(L, idx, &err);
    if (!j) {
        lua_pushfstring(L, "%s: %s: %s", fn, what, err.data ? err.data : "out of memory");
        tn_buf_deinit(&err);
        raise_top(L);
    }
    tn_buf_deinit(&err);
    for (; drop && *drop; drop++)
        if (json_is_object(j)) json_object_del(j, *drop);
    return j;
}

typedef json_t *(*builder_t)(const json_t *fields, tn_buf_t *err);

/* A generic webhook's table body goes as it is. */
static json_t *webhook_body(const json_t *fields, tn_buf_t *err)
{
    (void)err;
    return json_incref((json_t *)fields);
}

/* Builds the body from fields (reference taken) and pushes it as a Lua string. Raises with the
 * builder's message, prefixed "notify.", on bad input. */
static void push_body(lua_State *L, builder_t build, json_t *fields)
{
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *body = build(fields, &err);
    json_decref(fields);
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) {
        lua_pushfstring(L, "notify.%s", err.data ? err.data : "out of memory");
        tn_buf_deinit(&err);
        raise_top(L);
    }
    tn_buf_deinit(&err);
    lua_pushstring(L, s);
    free(s);
}

/* ---- starting a delivery ---------------------------------------------------------------- */

typedef struct {
    tn_notify_kind_t kind;
    const char *fn; /* "notify.slack" */
    const char *url;
    const char *method;
    const char *body;
    size_t body_len;
    const char *const *headers; /* NULL-terminated lines, or NULL */
    ctl_t ctl;
    /* pagerduty */
    const char *pd_action, *pd_key, *pd_dedup;
} start_t;

static char *dup_or_null(const char *s, int *fail)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *fail = 1;
    return d;
}

/* A dry run: audits and logs what would be sent (masked, like a real delivery) and returns the
 * stand-in result, with attempts = 0 and, for pagerduty, the dedup_key given. */
static int dry_result(lua_State *L, tn_task_t *t, const start_t *s)
{
    tn_buf_t w;
    tn_buf_init(&w);
    tn_buf_printf(&w, "%s %s ", tn_notify_kind_name(s->kind), s->method);
    tn_notify_mask_url(s->url, &w);
    if (s->kind == TN_NOTIFY_PAGERDUTY) {
        tn_buf_printf(&w, " %s, routing_key ", s->pd_action);
        tn_notify_mask_key(s->pd_key, &w);
        if (s->pd_dedup && strcmp(s->pd_dedup, s->pd_key) != 0)
            tn_buf_printf(&w, ", dedup_key %.64s", s->pd_dedup);
    }
    tn_buf_printf(&w, ", %zu bytes", s->body_len);
    lua_pushstring(L, w.data ? w.data : ""); /* anchored: tn_buf freed before anything raises */
    tn_buf_deinit(&w);
    int n = tn_task_dry_result(L, t, s->fn, lua_tostring(L, -1));
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "attempts");
    if (s->kind == TN_NOTIFY_PAGERDUTY && s->pd_dedup) {
        lua_pushstring(L, s->pd_dedup);
        lua_setfield(L, -2, "dedup_key");
    }
    return n;
}

/* Checks the context, copies everything the delivery needs and starts the first attempt; the
 * task waits. Raises on misuse; a request that cannot start gives nil, "error: ...". */
static int start(lua_State *L, const start_t *s)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    tn_task_t *t = tn_task_check(L, s->fn);
    if (tn_task_dry_run(t)) return dry_result(L, t, s);
    if (!svc || !svc->httpc || !svc->loop) return luaL_error(L, "%s: no HTTP client", s->fn);

    notify_op_t *op = calloc(1, sizeof *op);
    if (!op) return luaL_error(L, "%s: out of memory", s->fn);
    int fail = 0;
    op->kind = s->kind;
    snprintf(op->action, sizeof op->action, "%s", s->fn);
    snprintf(op->method, sizeof op->method, "%s", s->method);
    op->ctl = s->ctl;
    op->task = t;
    op->httpc = svc->httpc;
    op->retry_after_ms = -1;
    op->url = dup_or_null(s->url, &fail);
    tn_buf_t m;
    tn_buf_init(&m);
    if (tn_notify_mask_url(s->url, &m) || !m.data) fail = 1;
    op->url_masked = tn_buf_steal(&m);
    if (s->body) {
        op->body = malloc(s->body_len ? s->body_len : 1);
        if (op->body)
            memcpy(op->body, s->body, s->body_len);
        else
            fail = 1;
        op->body_len = s->body_len;
    }
    int nh = 0;
    for (const char *const *h = s->headers; h && *h && !fail; h++)
        if (!(op->headers[nh++] = strdup(*h))) fail = 1;
    if (s->kind == TN_NOTIFY_PAGERDUTY) {
        snprintf(op->pd_action, sizeof op->pd_action, "%s", s->pd_action);
        if (tn_notify_mask_key(s->pd_key, &m) || !m.data) fail = 1;
        op->pd_key_masked = tn_buf_steal(&m);
        op->pd_dedup = dup_or_null(s->pd_dedup, &fail);
        op->pd_dedup_is_key = s->pd_dedup && strcmp(s->pd_dedup, s->pd_key) == 0;
    }
    tn_buf_deinit(&m);
    if (fail || uv_timer_init(svc->loop, &op->timer) != 0) {
        op_free(op);
        return luaL_error(L, "%s: out of memory", s->fn);
    }
    op->start_ns = uv_hrtime();
    int rc = attempt(op);
    if (rc) {
        op->task = NULL;
        op_close(op);
        lua_pushnil(L);
        lua_pushfstring(L, "error: %s", tn_strerror(rc));
        return 2;
    }
    return tn_task_wait(L, t, op_cancel, op);
}

/* notify.slack(url, message [, opts]) / notify.mattermost(url, message [, opts]) */
static int chat(lua_State *L, tn_notify_kind_t kind, const char *fn, builder_t build)
{
    const char *url = luaL_checkstring(L, 1);
    check_url(L, url, fn);
    luaL_checktype(L, 2, LUA_TTABLE);
    check_opts(L, 3, fn, 0);
    lua_settop(L, 3);
    start_t s = {.kind = kind, .fn = fn, .url = url, .method = "POST"};
    read_ctl(L, 3, fn, &s.ctl);
    push_body(L, build, table_json(L, 2, fn, "message", NULL)); /* index 4 */
    s.body = lua_tolstring(L, 4, &s.body_len);
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    s.headers = hdrs;
    return start(L, &s);
}

static int l_slack(lua_State *L)
{
    return chat(L, TN_NOTIFY_SLACK, "notify.slack", tn_notify_slack_body);
}

static int l_mattermost(lua_State *L)
{
    return chat(L, TN_NOTIFY_MATTERMOST, "notify.mattermost", tn_notify_mattermost_body);
}

/* notify.pagerduty{ action =, routing_key =, ..., url =, retries =, ... } */
static int l_pagerduty(lua_State *L)
{
    static const char *const fn = "notify.pagerduty";
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    start_t s = {.kind = TN_NOTIFY_PAGERDUTY, .fn = fn, .method = "POST"};
    read_ctl(L, 1, fn, &s.ctl);
    lua_getfield(L, 1, "url"); /* index 2 */
    if (lua_isnil(L, 2)) {
        lua_pop(L, 1);
        lua_pushstring(L, TN_NOTIFY_PAGERDUTY_URL);
    } else if (lua_type(L, 2) != LUA_TSTRING) {
        return luaL_error(L, "%s: 'url' must be a string", fn);
    }
    s.url = lua_tostring(L, 2);
    check_url(L, s.url, fn);
    static const char *const drop[] = {"url", "retries", "timeout", "backoff", "max_backoff", NULL};
    push_body(L, tn_notify_pagerduty_body, table_json(L, 1, fn, "event", drop)); /* index 3 */
    s.body = lua_tolstring(L, 3, &s.body_len);
    if (s.body_len > TN_NOTIFY_PAGERDUTY_MAX_BODY)
        return luaL_error(L, "%s: the event is %d bytes, PagerDuty takes at most %d", fn,
                          (int)s.body_len, (int)TN_NOTIFY_PAGERDUTY_MAX_BODY);
    /* validated by the builder: strings */
    lua_getfield(L, 1, "action");      /* 4 */
    lua_getfield(L, 1, "routing_key"); /* 5 */
    lua_getfield(L, 1, "dedup_key");   /* 6 */
    s.pd_action = lua_tostring(L, 4);
    s.pd_key = lua_tostring(L, 5);
    s.pd_dedup = lua_tostring(L, 6);
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    s.headers = hdrs;
    return start(L, &s);
}

/* notify.webhook(url, body [, { headers =, method =, retries =, ... }]) */
static int l_webhook(lua_State *L)
{
    static const char *const fn = "notify.webhook";
    const char *url = luaL_checkstring(L, 1);
    check_url(L, url, fn);
    int bt = lua_type(L, 2);
    if (bt != LUA_TTABLE && bt != LUA_TSTRING && bt != LUA_TNIL && bt != LUA_TNONE)
        return luaL_error(L, "%s: the body must be a table (sent as JSON), a string or nil", fn);
    check_opts(L, 3, fn, 1);
    lua_settop(L, 3);
    start_t s = {.kind = TN_NOTIFY_WEBHOOK, .fn = fn, .url = url, .method = "POST"};
    read_ctl(L, 3, fn, &s.ctl);

    lua_newtable(L); /* index 4: anchors the strings below */
    if (!lua_isnil(L, 3)) {
        lua_getfield(L, 3, "method");
        if (!lua_isnil(L, -1)) {
            const char *m = lua_tostring(L, -1);
            size_t n = m ? strlen(m) : 0;
            int good = lua_type(L, -1) == LUA_TSTRING && n > 0 && n < 16;
            for (size_t i = 0; good && i < n; i++)
                good = m[i] >= 'A' && m[i] <= 'Z';
            if (!good) return luaL_error(L, "%s: 'method' must be an HTTP method in capitals", fn);
            s.method = m;
            lua_rawseti(L, 4, 1);
        } else {
            lua_pop(L, 1);
        }
    }

    const char *hdrs[MAX_HEADERS + 2];
    int nh = 0, has_ctype = 0;
    if (!lua_isnil(L, 3)) {
        lua_getfield(L, 3, "headers"); /* index 5 */
        if (!lua_isnil(L, 5)) {
            if (!lua_istable(L, 5)) return luaL_error(L, "%s: 'headers' must be a table", fn);
            lua_pushnil(L);
            while (lua_next(L, 5)) {
                if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                    return luaL_error(L, "%s: headers must map strings to strings", fn);
                if (nh >= MAX_HEADERS) return luaL_error(L, "%s: too many headers", fn);
                const char *k = lua_tostring(L, -2), *v = lua_tostring(L, -1);
                if (!*k || strpbrk(k, ":\r\n \t") || strpbrk(v, "\r\n"))
                    return luaL_error(L, "%s: header '%s' contains a forbidden character", fn, k);
                if (strcasecmp(k, "Content-Type") == 0) has_ctype = 1;
                lua_pushfstring(L, "%s: %s", k, v);
                hdrs[nh++] = lua_tostring(L, -1);
                lua_rawseti(L, 4, nh + 1);
                lua_pop(L, 1);
            }
        }
    }
    if (bt == LUA_TTABLE) {
        push_body(L, webhook_body, table_json(L, 2, fn, "body", NULL));
        if (!has_ctype) hdrs[nh++] = "Content-Type: application/json";
    } else if (bt == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (!has_ctype) hdrs[nh++] = "Content-Type: text/plain; charset=utf-8";
    } else {
        lua_pushnil(L);
    }
    if (!lua_isnil(L, -1)) s.body = lua_tolstring(L, -1, &s.body_len);
    hdrs[nh] = NULL;
    s.headers = hdrs;
    return start(L, &s);
}

int tn_bind_notify(lua_State *L)
{
    static const luaL_Reg fns[] = {{"slack", l_slack},
                                   {"mattermost", l_mattermost},
                                   {"pagerduty", l_pagerduty},
                                   {"webhook", l_webhook},
                                   {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
