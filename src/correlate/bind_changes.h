/* bind_changes.h - recent change events (deploys, config changes: what people changed) for
 * root-cause heuristics, and the Lua module tocsin.changes. Any context; never waits.
 *
 *   changes.recent{ service = "payments",   -- optional: that service only
 *                   since_ms = t0, until_ms = t1 }  -- optional window (event times)
 *   -> { { type = "deploy", service = "payments", title = "...", version = "2.4.0",
 *          ts = ms }, ... }  newest first
 * The engine feeds every non-alert event accepted over HTTP; the last TN_CHANGES_MAX are kept. */
#ifndef TN_CORRELATE_BIND_CHANGES_H
#define TN_CORRELATE_BIND_CHANGES_H

#include <lua.h>
#include <stdint.h>

#define TN_CHANGES_MAX 512

typedef struct tn_changes tn_changes_t;

/* NULL on allocation failure; tn_changes_destroy frees. */
tn_changes_t *tn_changes_create(void);
void tn_changes_destroy(tn_changes_t *c);
/* Records one change (strings copied, may be NULL). The oldest goes when full. 0 or
 * TN_ENOMEM. */
int tn_changes_add(tn_changes_t *c, const char *type, const char *service, const char *title,
                   const char *version, int64_t ts_ms);
size_t tn_changes_count(const tn_changes_t *c);

/* lua_CFunction for tn_lua_preload; upvalue 1: the tn_changes_t * (may be NULL: no changes). */
int tn_correlate_open_changes(lua_State *L);

#endif
