/* contract.h - checking the table a script returns against its declared fields.
 * Unknown keys are errors (a typo must not pass silently); messages are "file:line: message",
 * the line being where the key appears in the source when it can be found. */
#ifndef TN_SCRIPT_CONTRACT_H
#define TN_SCRIPT_CONTRACT_H

#include <lua.h>

#include "core/buf.h"

typedef struct {
    const char *key;
    int type; /* LUA_TSTRING, LUA_TNUMBER, LUA_TFUNCTION, LUA_TTABLE, LUA_TBOOLEAN */
    int required;
    const char *doc;
} tn_field_spec_t;

/* Checks the value at idx: must be a table with only the declared keys, each of the declared
 * type, required ones present. what: "rule", "runbook". 0 or TN_EINVAL with err filled. */
int tn_contract_check(lua_State *L, int idx, const tn_field_spec_t *spec, const char *path,
                      const char *what, tn_buf_t *err);

/* Line (1-based) of the first "key =" in the file, or 1. */
int tn_contract_line_of(const char *path, const char *key);

#endif
