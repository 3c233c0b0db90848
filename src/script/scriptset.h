/* scriptset.h - the scripts of one directory (rules/ or runbooks/), each in its own Lua state,
 * loaded and hot-reloaded one file at a time.
 *
 * Reloading a file builds the new version in a fresh state first: it is compiled, run, and its
 * returned table validated (the contract of the kind, plus a unique name). Only then does it
 * replace the old version; if anything fails the old version stays active and the error goes
 * to the log and the catalog. The old state is released, but lives on while tasks started on it
 * are still running (they hold references). tocsin.state is carried from the old version to
 * the new one. */
#ifndef TN_SCRIPT_SCRIPTSET_H
#define TN_SCRIPT_SCRIPTSET_H

#include <lua.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"
#include "script/catalog.h"
#include "script/runtime.h"
#include "script/services.h"

typedef struct tn_scriptset tn_scriptset_t;

typedef struct {
    tn_lua_t *lua;
    char *path;
    char *name;
    int ref; /* registry reference to the table the file returned */
} tn_script_t;

typedef struct {
    const char *kind;                /* "rule", "runbook": for messages and the catalog */
    const char *dir;                 /* copied */
    const tn_config_t *cfg;          /* borrowed: lib_dir and limits */
    tn_catalog_t *catalog;           /* borrowed, may be NULL */
    void *owner;                     /* given to the callbacks and as tn_lua_owner() */
    const tn_script_services_t *svc; /* for the generic modules (tn_bind_all); may be NULL */
    /* Registers the modules of this kind beyond the generic ones. 0 or TN_ENOMEM. */
    int (*setup)(void *owner, tn_lua_t *lua);
    /* Checks the returned table at the top of L's stack (leave the stack as it was).
     * 0, or TN_EINVAL with "file:line: message" in err. */
    int (*validate)(void *owner, lua_State *L, const char *path, tn_buf_t *err);
} tn_scriptset_opts_t;

/* NULL on allocation failure. Strings in opts copied. */
tn_scriptset_t *tn_scriptset_create(const tn_scriptset_opts_t *opts);
void tn_scriptset_destroy(tn_scriptset_t *s);

/* (Re)loads every dir/NAME.lua and drops scripts whose files are gone. Returns the number of
 * files that failed (their previous versions, if any, stay active) or TN_ENOMEM. A missing
 * directory is logged and counts as empty. */
int tn_scriptset_reload_all(tn_scriptset_t *s);

/* (Re)loads one file; a path that no longer exists removes its script. 0 (loaded or removed),
 * or an error with the message in err (the old version stays active). */
int tn_scriptset_reload_file(tn_scriptset_t *s, const char *path, tn_buf_t *err);

size_t tn_scriptset_count(const tn_scriptset_t *s);
/* Scripts are kept sorted by path. Borrowed; valid until the next reload. */
tn_script_t *tn_scriptset_at(tn_scriptset_t *s, size_t i);
tn_script_t *tn_scriptset_find(tn_scriptset_t *s, const char *name);
const char *tn_scriptset_dir(const tn_scriptset_t *s);

/* Pushes the script's table on its state's stack. */
void tn_script_push(const tn_script_t *sc);

/* Loads and validates a file in a throw-away state (for `tocsin check`). */
int tn_scriptset_check_file(const tn_scriptset_opts_t *opts, const char *path, tn_buf_t *err);

#endif
