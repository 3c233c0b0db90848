/* bindings.h - the engine's generic Lua modules. Each is a lua_CFunction for tn_lua_preload;
 * upvalue 1 is the light userdata given there. Layer-specific modules (tocsin.incident,
 * tocsin.runbook) live with their layers.
 *
 *   tocsin.log     log.debug/info/warn/error(fmt, ...)       any context   (ud unused)
 *   tocsin.json    json.encode(v), json.decode(s), json.null any context   (ud unused)
 * The others take a tn_script_services_t* (script/services.h) as ud:
 *   tocsin.config  config.get(key)                          any context
 *   tocsin.http    http.request{...}, http.get, http.post   task
 *   tocsin.time    time.now(), time.sleep(s)                now: any; sleep: task
 *   tocsin.exec    exec.run{argv = {...}, timeout = s}      task
 *   tocsin.redis   redis.call(cmd, ...)                     task
 *   tocsin.emit    emit.sample{...}, emit.event(type, t)    rule (no wait) and task (waits)
 */
#ifndef TN_SCRIPT_BINDINGS_H
#define TN_SCRIPT_BINDINGS_H

#include <lua.h>

int tn_bind_log(lua_State *L);
int tn_bind_json(lua_State *L);
int tn_bind_http(lua_State *L);
int tn_bind_notify(lua_State *L); /* tocsin.notify: slack, mattermost, pagerduty, webhook (task) */
int tn_bind_config(lua_State *L);
int tn_bind_time(lua_State *L);
int tn_bind_exec(lua_State *L);
int tn_bind_redis(lua_State *L);
int tn_bind_emit(lua_State *L);

typedef struct tn_lua tn_lua_t;
/* Registers every generic module above on lua. svc borrowed (may be NULL: modules load, and
 * functions needing a service raise when called). 0 or TN_ENOMEM. */
int tn_bind_all(tn_lua_t *lua, const void *svc);

#endif
