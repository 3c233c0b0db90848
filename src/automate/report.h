/* report.h - what automation changed: MTTD, MTTA and MTTR over a period, per service and per
 * automation level, from the incident history (store/history.h). Pure: no I/O.
 *
 * Times of one incident: to detect = opened - started (its first signal), to acknowledge =
 * acknowledged - opened, to resolve = resolved - started (opened when the onset is unknown).
 * Its automation level is the highest level of a runbook that ran for it (not dry runs; 0: none).
 * Merged incidents are left out (their signals count in the incident that took them). */
#ifndef TN_AUTOMATE_REPORT_H
#define TN_AUTOMATE_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"

/* incidents, runs: borrowed, as tn_history_load returns them. A new object (the caller owns
 * it), or NULL on allocation failure:
 *   {since_ms, until_ms, overall: STATS, services: [{service, STATS...}], levels: [{level,
 *    name, STATS...}]}
 * STATS = {incidents, acknowledged, resolved, open, ttd: T, tta: T, ttr: T},
 * T = {n, mean_s, median_s, p90_s} (null figures when n = 0). Services sorted by incidents,
 * then name; levels 0..4, only those with incidents. */
json_t *tn_report_build(const json_t *incidents, const json_t *runs, int64_t since_ms,
                        int64_t until_ms);

/* The report as a table, one line per service and per level. 0 or TN_ENOMEM. */
int tn_report_table(const json_t *report, tn_buf_t *out);

#endif
