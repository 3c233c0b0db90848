/* tocsin.http - outbound HTTP from runbook tasks. The coroutine yields until the transfer ends.
 *
 *   local resp, err = http.request{ method = "POST", url = u, headers = {...},
 *                                   body = "..." | json = {...}, timeout = 5 }
 *   resp = { status = 200, body = "...", content_type = "...", json = <decoded or nil> }
 *   err  = "timeout" | "closed" | "too_big" | "error: <text>"
 */
#include "script/bindings.h"
#include "script/convert.h"
#include "script/services.h"
#include "script/task.h"
#include "notify/httpc.h"
#include "core/error.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_HEADERS 64

typedef struct {
    tn_task_t *task;
    tn_httpc_t *httpc;
    uint64_t id;
    char method[16];
    char *url;
    const tn_httpc_result_t *res; /* during push_result only */
} http_op_t;

static void op_cancel(void *p)
{
    http_op_t *op = p;
    tn_httpc_cancel(op->httpc, op->id);
    free(op->url);
    free(op);
}

static int push_result(lua_State *L)
{
    const tn_httpc_result_t *res = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (res->error) {
        lua_pushnil(L);
        switch (res->error) {
        case TN_ETIMEDOUT:
            lua_pushliteral(L, "timeout");
            break;
        case TN_ECLOSED:
            lua_pushliteral(L, "closed");
            break;
        case TN_ETOOBIG:
            lua_pushliteral(L, "too_big");
            break;
        default:
            lua_pushfstring(L, "error: %s", res->error_text ? res->error_text : "?");
        }
        return 2;
    }
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, res->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, res->body ? res->body : "", res->body_len);
    lua_setfield(L, -2, "body");
    if (res->content_type) {
        lua_pushstring(L, res->content_type);
        lua_setfield(L, -2, "content_type");
        if (strstr(res->content_type, "json") && res->body_len) {
            json_t *j = json_loadb(res->body, res->body_len, JSON_DECODE_ANY, NULL);
            if (j) {
                tn_lua_push_json(L, j);
                json_decref(j);
                lua_setfield(L, -2, "json");
            }
        }
    }
    lua_pushnil(L);
    return 2;
}

static void on_done(const tn_httpc_result_t *res, void *arg)
{
    http_op_t *op = arg;
    tn_task_t *t = op->task;
    lua_State *L = tn_lua_state(tn_task_lua(t));
    lua_State *co = tn_task_thread(t);

    /* the audit keeps the URL without its query string or user:password (credentials live
     * there); notify.* masks webhook paths too */
    const char *u = op->url, *at = strchr(u, '@'), *scheme = strstr(u, "://");
    const char *host = scheme ? scheme + 3 : u;
    if (at && at > host && at < host + strcspn(host, "/")) host = at + 1;
    tn_buf_t d;
    tn_buf_init(&d);
    tn_buf_printf(&d, "{\"method\":\"%s\",\"url\":", op->method);
    tn_buf_t clean;
    tn_buf_init(&clean);
    if (scheme) tn_buf_append(&clean, u, (size_t)(scheme + 3 - u));
    size_t keep = strcspn(host, "?#");
    tn_buf_append(&clean, host, keep > 300 ? 300 : keep);
    tn_buf_json_str(&d, clean.data ? clean.data : "", clean.len);
    tn_buf_printf(&d, ",\"status\":%ld%s}", res->status, res->error ? ",\"error\":true" : "");
    tn_task_observe(t, "http.request", !res->error && res->status < 400, res->total_ms,
                    d.data ? d.data : "{}");
    tn_buf_deinit(&clean);
    tn_buf_deinit(&d);

    lua_pushcfunction(L, push_result);
    lua_pushlightuserdata(L, (void *)res);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2); /* nil, message */
    }
    lua_xmove(L, co, 2);
    free(op->url);
    free(op);
    tn_task_resume(t, 2);
}

static double opt_timeout(lua_State *L, int idx)
{
    lua_getfield(L, idx, "timeout");
    double t = luaL_optnumber(L, -1, 10.0);
    lua_pop(L, 1);
    if (t <= 0 || t > 3600) luaL_error(L, "http.request: timeout must be in (0, 3600] seconds");
    return t;
}

/* http.request(opts) */
static int l_request(lua_State *L)
{
    const tn_script_services_t *svc = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);

    lua_getfield(L, 1, "url");
    const char *url = luaL_checkstring(L, -1); /* stays on the stack: index 2 */
    lua_getfield(L, 1, "method");
    const char *method = luaL_optstring(L, -1, NULL); /* index 3 */
    if (method && (strlen(method) >= 16 || !*method))
        return luaL_error(L, "http.request: bad method");

    /* body: json table encoded, or body string (index 4) */
    const char *body = NULL;
    size_t body_len = 0;
    int is_json = 0;
    lua_getfield(L, 1, "json");
    if (!lua_isnil(L, -1)) {
        tn_buf_t err;
        tn_buf_init(&err);
        json_t *j = tn_lua_to_json(L, -1, &err);
        if (!j) {
            lua_pushfstring(L, "http.request: json: %s", err.data ? err.data : "out of memory");
            tn_buf_deinit(&err);
            return lua_error(L);
        }
        char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(j);
        if (!s) return luaL_error(L, "http.request: out of memory");
        lua_pop(L, 1);
        lua_pushstring(L, s);
        free(s);
        is_json = 1;
    } else {
        lua_pop(L, 1);
        lua_getfield(L, 1, "body");
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "http.request: body must be a string");
    }
    if (!lua_isnil(L, 4)) body = lua_tolstring(L, 4, &body_len);

    /* headers (index 5): table name -> value */
    const char *hdrs[MAX_HEADERS + 2];
    int nh = 0;
    lua_getfield(L, 1, "headers");
    if (!lua_isnil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        lua_newtable(L); /* index 6: anchors the formatted lines */
        lua_pushnil(L);
        while (lua_next(L, 5)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "http.request: headers must map strings to strings");
            if (nh >= MAX_HEADERS) return luaL_error(L, "http.request: too many headers");
            const char *k = lua_tostring(L, -2), *v = lua_tostring(L, -1);
            if (strpbrk(k, ":\r\n") || strpbrk(v, "\r\n"))
                return luaL_error(L, "http.request: header '%s' contains a forbidden character", k);
            lua_pushfstring(L, "%s: %s", k, v);
            hdrs[nh++] = lua_tostring(L, -1);
            lua_rawseti(L, 6, nh);
            lua_pop(L, 1);
        }
    }
    if (is_json) hdrs[nh++] = "Content-Type: application/json";
    hdrs[nh] = NULL;
    double timeout = opt_timeout(L, 1);

    tn_task_t *t = tn_task_check(L, "http.request");
    if (tn_task_dry_run(t)) {
        char would[320]; /* the query string may hold credentials: left out */
        snprintf(would, sizeof would, "%s %.*s", method ? method : (body ? "POST" : "GET"),
                 (int)strcspn(url, "?#"), url);
        return tn_task_dry_result(L, t, "http.request", would);
    }
    tn_httpc_t *httpc = svc ? svc->httpc : NULL;
    if (!httpc) return luaL_error(L, "http.request: no HTTP client");
    http_op_t *op = calloc(1, sizeof *op);
    if (!op || !(op->url = strdup(url))) {
        free(op);
        return luaL_error(L, "http.request: out of memory");
    }
    snprintf(op->method, sizeof op->method, "%s", method ? method : (body ? "POST" : "GET"));
    op->task = t;
    op->httpc = httpc;
    tn_httpc_req_t req = {.method = op->method,
                          .url = url,
                          .headers = hdrs,
                          .body = body,
                          .body_len = body_len,
                          .timeout_ms = (uint64_t)(timeout * 1000)};
    int rc = tn_httpc_request(httpc, &req, on_done, op, &op->id);
    if (rc) {
        free(op->url);
        free(op);
        lua_pushnil(L);
        lua_pushfstring(L, "error: %s", tn_strerror(rc));
        return 2;
    }
    return tn_task_wait(L, t, op_cancel, op);
}

/* http.get(url [, opts]) / http.post(url, opts): sugar over request. */
static int with_method(lua_State *L, const char *method)
{
    const char *url = luaL_checkstring(L, 1);
    if (lua_isnoneornil(L, 2))
        lua_newtable(L);
    else
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_pushstring(L, url);
    lua_setfield(L, 2, "url");
    lua_pushstring(L, method);
    lua_setfield(L, 2, "method");
    lua_remove(L, 1); /* the options table is now argument 1; same upvalue as request */
    return l_request(L);
}

static int l_get(lua_State *L)
{
    return with_method(L, "GET");
}
static int l_post(lua_State *L)
{
    return with_method(L, "POST");
}

int tn_bind_http(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"request", l_request}, {"get", l_get}, {"post", l_post}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}
