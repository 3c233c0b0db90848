/* bindings.h - the engine's generic Lua modules. Each is a lua_CFunction for tn_lua_preload;
 * upvalue 1 is the light userdata given there. Layer-specific modules (tocsin.incident,
 * tocsin.runbook) live with their layers.
 *
 *   tocsin.log     log.debug/info/warn/error(fmt, ...)       any context        (ud unused)
 *   tocsin.json    json.encode(v), json.decode(s), json.null any context        (ud unused)
 *   tocsin.http    http.request{...}, http.get, http.post   task context only  (ud: tn_httpc_t*)
 *   tocsin.config  config.get(key)                          any context        (ud: tn_config_t*)
 */
#ifndef TN_SCRIPT_BINDINGS_H
#define TN_SCRIPT_BINDINGS_H

#include <lua.h>

int tn_bind_log(lua_State *L);
int tn_bind_json(lua_State *L);
int tn_bind_http(lua_State *L);
int tn_bind_config(lua_State *L);

#endif
