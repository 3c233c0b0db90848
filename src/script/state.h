/* state.h - tocsin.state: a table the engine keeps for a script across reloads.
 *
 *   local state = require("tocsin.state")     -- same contents after a hot reload
 *   state.windows = state.windows or {}
 *
 * On reload the engine exports the old version's table (as JSON: strings, numbers, booleans,
 * tables) and the new version's require("tocsin.state") starts from a copy of it. Functions and
 * other non-data values cannot be carried and make the export fail (logged; state restarts). */
#ifndef TN_SCRIPT_STATE_H
#define TN_SCRIPT_STATE_H

#include <jansson.h>

#include "script/runtime.h"

/* Registers tocsin.state on lua; carried (borrowed, may be NULL) must stay alive until the
 * file's top level has run (require is usually called there). 0 or TN_ENOMEM. */
int tn_state_preload(tn_lua_t *lua, const json_t *carried);

/* The state table as JSON (new reference), or NULL when the script never required it or it
 * holds values that cannot be carried (err says which). */
json_t *tn_state_export(tn_lua_t *lua, tn_buf_t *err);

#endif
