/* convert.h - the one converter between engine JSON values (jansson) and Lua values.
 * jansson is the engine's JSON value type across layers. */
#ifndef TN_SCRIPT_CONVERT_H
#define TN_SCRIPT_CONVERT_H

#include <jansson.h>
#include <lua.h>

#include "core/buf.h"

/* Pushes v (borrowed) as a Lua value: objects and arrays become tables, null becomes nil
 * (inside an array: the light userdata json.null). May raise a Lua memory error. */
void tn_lua_push_json(lua_State *L, const json_t *v);

/* Converts the Lua value at idx to a new JSON value (caller owns the reference). Tables with
 * keys 1..n become arrays, other tables objects with string keys; an empty table is an object.
 * Returns NULL and writes the reason into err on cycles, depth > 64, functions, non-string keys
 * or NaN. Does not raise. */
json_t *tn_lua_to_json(lua_State *L, int idx, tn_buf_t *err);

/* The json.null sentinel (light userdata). */
void tn_lua_push_null(lua_State *L);

#endif
