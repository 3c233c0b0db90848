/* engine.h - automation: runbooks from runbooks/ (Lua), each run a task (coroutine) that may
 * wait on actions (http.request, ...) without blocking the loop.
 *
 * A runbook file returns
 *   { name = "notify-oncall", description = "...", level = 1,   -- 1 enrich .. 4 prevent
 *     params = { channel = "#ops" },                              -- defaults (optional)
 *     dry_run = false,                                            -- always dry (optional)
 *     policy = { cooldown_s =, max_concurrent =, max_per_hour =, key =, max_level = },
 *     run = function(ctx) ... end }
 * ctx = { run_id, runbook, level, origin, dry_run, approved_by, params = {...},
 *         incident = {...} or nil }.
 *
 * Audit trail: every run appends to the audit stream a "run.started" entry, one "step" entry per
 * action it performs, and a "run.finished" entry with its status and duration. */
#ifndef TN_AUTOMATE_ENGINE_H
#define TN_AUTOMATE_ENGINE_H

#include <jansson.h>

#include "core/buf.h"
#include "core/config.h"
#include "notify/httpc.h"
#include "script/catalog.h"
#include "script/scriptset.h"
#include "script/services.h"
#include "store/streams.h"

typedef struct tn_automate tn_automate_t;

typedef struct {
    const tn_config_t *cfg;          /* borrowed */
    tn_streams_t *streams;           /* borrowed */
    tn_httpc_t *httpc;               /* borrowed */
    tn_catalog_t *catalog;           /* borrowed, may be NULL */
    const tn_script_services_t *svc; /* borrowed: what bindings may use */
} tn_automate_opts_t;

tn_automate_t *tn_automate_create(const tn_automate_opts_t *opts);
/* Cancels running runbooks (audited as "canceled") and frees everything. */
void tn_automate_destroy(tn_automate_t *a);

/* (Re)loads every runbooks_dir/NAME.lua; a failing file is logged and skipped (its previous
 * version stays active). Returns the number active or TN_ENOMEM. Runs in progress finish on the
 * version they started with. */
int tn_automate_load(tn_automate_t *a);

/* The runbooks, for per-file hot reload (tn_scriptset_reload_file). */
tn_scriptset_t *tn_automate_runbooks(tn_automate_t *a);

/* Starts a run of runbook `name`. params/incident borrowed (incident may be NULL). The run id is
 * written into run_id (size >= 40) when given. 0, TN_ENOTFOUND (no such runbook) or TN_ENOMEM. */
int tn_automate_start(tn_automate_t *a, const char *name, const json_t *params,
                      const json_t *incident, const char *origin, char *run_id);

/* A start with everything said (strings and JSON borrowed for the call). */
typedef struct {
    const char *name;
    const json_t *params;    /* object or NULL */
    const json_t *incident;  /* the incident it is for, or NULL */
    const char *origin;      /* the rule, "api", "chatops", ... */
    const char *approved_by; /* a person who approved it (lets a level above automate.max_level
                                run), or NULL */
    int dry_run;             /* run it dry (also when the runbook or automate.dry_run says so) */
    int text_params;         /* params are strings typed by a person (chat): "3" becomes 3 for
                                an integer parameter, "true" true for a boolean one */
} tn_automate_req_t;

/* Starts a run after its parameters check and its policy allows it. Refused runs are audited
 * (event run.refused) and remembered; *status (optional) then says why in a word
 * (bad_params, needs_approval, max_concurrent, cooldown, max_per_hour) and *why (optional) in
 * a sentence (both static). 0, TN_ENOTFOUND, TN_EINVAL (bad parameters), TN_EBUSY (refused by
 * the policy), TN_ENOMEM. */
int tn_automate_start_ex(tn_automate_t *a, const tn_automate_req_t *q, char *run_id,
                         const char **why, const char **status);

/* Appends a JSON list of the latest runs (newest first, at most limit; refused ones too): run,
 * runbook, level, origin, incident, approved_by, dry_run, status, started_ms, finished_ms, ms,
 * params, steps [{action, status, ms, result}], output (what the run function returned, as
 * JSON: a string, a table, or null), error or reason. */
int tn_automate_runs_json(tn_automate_t *a, size_t limit, tn_buf_t *out);
/* The same list as a new JSON array (the caller owns it; its items are the history's own
 * records, shared: do not change them), or NULL on allocation failure. */
json_t *tn_automate_runs(tn_automate_t *a, size_t limit);

/* An incident opened or reopened (borrowed): the runbooks whose triggers match it start
 * (origin "trigger", params.service = its service), subject to their policy. */
void tn_automate_incident_opened(tn_automate_t *a, const json_t *incident);

/* The incidents runbooks may note on and change (tocsin.incident in runbooks: get, annotate,
 * link, ack, mitigate, resolve); borrowed, set once correlation exists. */
struct tn_incidents;
void tn_automate_set_incidents(tn_automate_t *a, struct tn_incidents *in);

/* The asks waiting for a person (approval.h; borrowed), or NULL. */
struct tn_approvals *tn_automate_approvals(tn_automate_t *a);

/* Told when a run ends (event "run.finished"): run (borrowed for the call) is its entry as
 * GET /api/runs shows it (status, ms, steps, output, error). One listener; NULL removes it. */
typedef void (*tn_automate_listener_fn)(void *arg, const char *event, const json_t *run);
void tn_automate_set_listener(tn_automate_t *a, tn_automate_listener_fn fn, void *arg);

/* The runbook whose triggers include { command = NAME } (a chat command that runs it), or NULL.
 * Borrowed: valid until the next reload. */
const char *tn_automate_command_runbook(tn_automate_t *a, const char *command);

/* The level (1..4) of the loaded runbook name, or TN_ENOTFOUND. */
int tn_automate_runbook_level(tn_automate_t *a, const char *name);

/* A new JSON list of the loaded runbooks (caller owns it): {name, description, level, params
 * (the parameter names), command (its chat command, when a trigger names one)}, in file order;
 * NULL on allocation failure. */
json_t *tn_automate_runbooks_json(tn_automate_t *a);

unsigned tn_automate_running(const tn_automate_t *a);
unsigned tn_automate_runbook_count(const tn_automate_t *a);

/* Loads and validates one runbook file without an engine (for `tocsin check`). */
int tn_automate_check_file(const char *path, const tn_config_t *cfg, tn_buf_t *err);

#endif
