/* history.h - the incident history kept in Redis, read with blocking calls (for command-line
 * tools such as `tocsin report`; never from the engine's loop).
 *
 * Incidents are the hashes <prefix>:incident:<id> the engine writes (correlate/incidents.h);
 * runbook runs are the run.started entries of the audit stream <prefix>:audit. */
#ifndef TN_STORE_HISTORY_H
#define TN_STORE_HISTORY_H

#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"

/* Connects to url ("redis://host:port[/db]" or "unix:/path[?db=N]"), then reads every incident
 * hash whose opened_ms is in [since_ms, until_ms] and every run.started audit entry. On success
 * *incidents is a new JSON list of {id, title, service, severity, state, started_ms, opened_ms,
 * acknowledged_ms, mitigated_ms, resolved_ms} (integers; 0 when not reached) and *runs a new
 * list of {run, runbook, level, incident, status, origin, ts}; the caller owns both. Returns 0,
 * or TN_EINVAL (bad URL), TN_ECLOSED (cannot connect), TN_EIO (a command failed), TN_ENOMEM,
 * with a message in err. timeout_ms bounds each call. */
int tn_history_load(const char *url, const char *prefix, int64_t since_ms, int64_t until_ms,
                    unsigned timeout_ms, json_t **incidents, json_t **runs, tn_buf_t *err);

#endif
