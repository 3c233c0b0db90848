/* detect_policy.h - detection policy files (Lua) -> detect/policy.h.
 *
 * A policy file returns a table (docs/detection.md, "Choosing detectors per metric"):
 *
 *   return {
 *     name = "default",
 *     defaults = { detectors = { "zscore", "mad", "seasonal" }, threshold = 4 },  -- optional
 *     policies = {                                                             -- optional
 *       { name = "latency", metric = "*_latency_*", labels = { service = "checkout*" },
 *         detectors = { "ewma", "mad", "holtwinters" }, threshold = 5, hw_season = 288 },
 *       { name = "not dev", labels = { env = "!dev" }, seasons = { "1d", "7d" } },
 *     },
 *   }
 *
 * Parameter keys are the fields of tn_ens_params_t (detect/ensemble.h); `detectors` is a list
 * of names, `seasons` a list of durations (seconds, or strings with s/m/h/d/w). A label value is
 * matched exactly, as a glob when it has * or ?, and negated by a leading '!'. Unknown keys,
 * wrong types and out-of-range values are errors naming file:line. */
#ifndef TN_SCRIPT_DETECT_POLICY_H
#define TN_SCRIPT_DETECT_POLICY_H

#include <lua.h>

#include "core/buf.h"
#include "detect/policy.h"

/* Checks the file's table at idx (the top-level keys and every entry). 0 or TN_EINVAL with
 * "path:line: message" in err. */
int tn_detect_policy_check(lua_State *L, int idx, const char *path, tn_buf_t *err);

/* Reads the file's `defaults` into *out (zeros = the built-in defaults) and sets *present.
 * The table must have passed tn_detect_policy_check. 0 or TN_EINVAL (err). */
int tn_detect_policy_defaults(lua_State *L, int idx, const char *path, tn_ens_params_t *out,
                              int *present, tn_buf_t *err);

/* Appends the file's `policies` to p (not yet shared), in order. 0, TN_ENOMEM or TN_EINVAL. */
int tn_detect_policy_add(lua_State *L, int idx, const char *path, tn_policy_t *p, tn_buf_t *err);

#endif
