/* engine.h - correlation: every anomaly is offered to each rule in rules/ (Lua), in file name
 * order. Rules open incidents (tocsin.incident) and ask for runbooks (tocsin.runbook); the
 * runbook requests are handed on, after the rule returns, to the callback given at creation
 * (correlate never calls the automation layer directly).
 *
 * A rule file returns { name = "...", description = "...", on_anomaly = function(a) ... end }.
 * Each rule runs in its own Lua state, in RULE context (synchronous, instruction-limited).
 * A failing rule is logged with its traceback, counted, and skipped. */
#ifndef TN_CORRELATE_ENGINE_H
#define TN_CORRELATE_ENGINE_H

#include <jansson.h>
#include <lua.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "correlate/bind_changes.h"
#include "correlate/graph.h"
#include "correlate/incidents.h"
#include "script/catalog.h"
#include "script/scriptset.h"
#include "script/services.h"
#include "store/streams.h"

typedef struct tn_correlate tn_correlate_t;

/* A runbook asked for by a rule. params and incident are borrowed for the call. */
typedef void (*tn_correlate_runbook_fn)(void *arg, const char *runbook, const json_t *params,
                                        const json_t *incident, const char *origin);

typedef struct {
    const tn_config_t *cfg;          /* borrowed: dirs and limits */
    tn_streams_t *streams;           /* borrowed */
    tn_catalog_t *catalog;           /* borrowed, may be NULL */
    const tn_script_services_t *svc; /* borrowed: what bindings may use */
    tn_correlate_runbook_fn start_runbook;
    void *start_arg;
    int keep_all; /* never forget resolved incidents (replay reports them all at the end) */
    /* An incident opened or reopened (borrowed for the call), after the rules ran; may be NULL. */
    void (*on_opened)(void *arg, const json_t *incident);
    /* The silence that mutes a signal (its id), or NULL; may be NULL. A muted signal reaches
     * no rule. */
    const char *(*silenced)(void *arg, const json_t *signal);
    void *silence_arg;
} tn_correlate_opts_t;

tn_correlate_t *tn_correlate_create(const tn_correlate_opts_t *opts);
void tn_correlate_destroy(tn_correlate_t *c);

/* (Re)loads every rules_dir/NAME.lua. A file that fails is logged and skipped (its previous
 * version stays active). Returns the number of rules active (>= 0) or TN_ENOMEM. */
int tn_correlate_load(tn_correlate_t *c);

/* The rules, for per-file hot reload (tn_scriptset_reload_file). */
tn_scriptset_t *tn_correlate_rules(tn_correlate_t *c);

/* Offers one signal (borrowed) to the rules, in file order. A signal is an object with
 *   kind "alert" or "anomaly", id, fingerprint, name, service, severity, score (0..1), ts (ms),
 *   labels, and per kind: alerts status, text, source; anomalies metric, value, expected,
 *   lower, upper, z, detector, sid.
 * Each rule gets it through on_signal, else on_alert / on_anomaly by kind. Once a rule placed
 * it (incident.open or incident.attach), the later rules see signal.incident (the id),
 * incident_new, incident_reopened and placed_by. done(err, arg) is called once all the
 * incident writes the rules caused are finished (possibly before this returns). */
void tn_correlate_signal(tn_correlate_t *c, const json_t *signal, void (*done)(int err, void *),
                         void *arg);
/* An anomaly of detect (borrowed): made a signal (kind, id "<sid>@<ts>", name = metric,
 * fingerprint = sid) and offered as above. */
void tn_correlate_anomaly(tn_correlate_t *c, const json_t *anomaly, void (*done)(int err, void *),
                          void *arg);
/* A resolved alert: the members with this fingerprint stop firing (an incident whose alerts
 * have all resolved is resolved after correlate.clear_s). Returns the members cleared. */
size_t tn_correlate_clear(tn_correlate_t *c, const char *signal_fp);

tn_incidents_t *tn_correlate_incidents(tn_correlate_t *c);
/* The service graph the rules query through tocsin.topology (borrowed: the owner fills it and
 * clears it on changes; the rules see the new graph at their next call). */
tn_graph_t *tn_correlate_graph(tn_correlate_t *c);
/* Periodic upkeep (the engine calls it about every second): incidents quiet for
 * correlate.auto_resolve_s are resolved, resolved ones older than correlate.reopen_window_s are
 * forgotten (Redis keeps them). */
void tn_correlate_tick(tn_correlate_t *c, int64_t now_ms);
/* Recent deploys and config changes (borrowed: the engine feeds them). */
tn_changes_t *tn_correlate_changes(tn_correlate_t *c);
unsigned tn_correlate_rule_count(const tn_correlate_t *c);

/* For the Lua bindings of incidents (rules' and runbooks'): pushes the incident as a table and
 * returns 1, or, for rc != 0, pushes nil and a reason ("not_found"; "<invalid>: <why>" for
 * TN_EINVAL; else the error's name) and returns 2. inc borrowed; what names the call in an
 * out-of-memory error. */
int tn_correlate_push_incident(lua_State *L, const tn_incident_t *inc, int rc, const char *why,
                               const char *invalid, const char *what);

/* Loads and validates one rule file without an engine (for `tocsin check`). */
int tn_correlate_check_file(const char *path, const tn_config_t *cfg, tn_buf_t *err);

#endif
