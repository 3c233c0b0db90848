/* policy.h - which detectors, thresholds and seasons apply to which series.
 *
 * A policy is an ordered list of rules; the first rule whose metric-name glob and label
 * matchers all match a series gives its ensemble parameters, else the policy's defaults apply.
 * Globs know `*` (any run, possibly empty) and `?` (one byte). A label that is absent matches as
 * the empty string (Prometheus semantics), so {op = NE, value = ""} means "present".
 *
 * Build a policy completely, then hand it to tn_detector_set_policy(): the detector swaps it in
 * as a whole (hot reload). A policy is immutable once shared and reference-counted; the
 * detector keeps its own reference. Pure C: the Lua config loader builds rules through this API
 * (the intended Lua shape is in docs/detection.md). */
#ifndef TN_DETECT_POLICY_H
#define TN_DETECT_POLICY_H

#include "detect/ensemble.h"

#include <stddef.h>

typedef enum {
    TN_MATCH_EQ = 0, /* label value equals pattern */
    TN_MATCH_NE,     /* differs */
    TN_MATCH_GLOB,   /* matches the glob */
    TN_MATCH_NGLOB,  /* does not match the glob */
} tn_match_op_t;

typedef struct {
    const char *label;   /* borrowed: copied by tn_policy_add */
    const char *pattern; /* borrowed: copied */
    tn_match_op_t op;
} tn_policy_matcher_t;

typedef struct tn_policy tn_policy_t;

/* A new policy with one reference. defaults (borrowed, copied and resolved; NULL = the
 * ensemble's defaults) apply to series no rule matches. NULL on allocation failure or invalid
 * defaults. */
tn_policy_t *tn_policy_create(const tn_ens_params_t *defaults);
tn_policy_t *tn_policy_ref(tn_policy_t *p);
/* Drops one reference; frees the policy with the last. NULL is fine. */
void tn_policy_unref(tn_policy_t *p);

/* Appends a rule (all arguments borrowed and copied). name may be NULL; metric_glob NULL or ""
 * matches every metric. 0, TN_ENOMEM or TN_EINVAL (params out of range: *err, if not NULL,
 * gets a static reason). Only while the policy is not shared yet. */
int tn_policy_add(tn_policy_t *p, const char *name, const char *metric_glob,
                  const tn_policy_matcher_t *m, size_t nm, const tn_ens_params_t *params,
                  const char **err);
size_t tn_policy_rules(const tn_policy_t *p);

/* The parameters for a series (borrowed from the policy, valid while it is referenced), given
 * its metric name and canonical labels JSON ({"k":"v",...}, as stored in the samples stream).
 * Returns the index of the matching rule, or -1 for the defaults. *rule_name is the rule's
 * name (or NULL) when rule_name is not NULL. */
int tn_policy_match(const tn_policy_t *p, const char *metric, size_t metric_len, const char *labels,
                    size_t labels_len, const tn_ens_params_t **params, const char **rule_name);

/* Glob match of s[0..n) against a NUL-terminated pattern. */
int tn_policy_glob(const char *pattern, const char *s, size_t n);
/* Looks up label key in canonical labels JSON: 1 and the decoded value in out (NUL-terminated,
 * truncated to cap - 1 bytes; *len gets the full length), or 0 if absent. */
int tn_policy_label(const char *labels, size_t len, const char *key, char *out, size_t cap,
                    size_t *vlen);

#endif
