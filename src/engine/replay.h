/* replay.h - `tocsin replay FILE`: a recorded event file (NDJSON, docs/replay.md) through
 * ingestion's normalization, detection and the correlation rules, at full speed with simulated
 * time; prints the incidents and their root-cause candidates.
 *
 * It runs the engine's own parts (embedded redis-server in a temporary directory, detectors,
 * entities, log templates and traces, rules, incidents) without the network inputs, the stream
 * readers and the timers: each event is handed on directly, in time order, and the clock
 * (tn_now_ms) is the events' own time. Runbooks the rules ask for are reported, not run. */
#ifndef TN_ENGINE_REPLAY_H
#define TN_ENGINE_REPLAY_H

#include <jansson.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/config.h"
#include "ingest/records.h"

typedef struct {
    const char *path; /* the NDJSON file ("-": standard input) */
    int json;         /* one JSON object per incident instead of text */
    int skip_bad;     /* skip malformed lines (counted) instead of stopping at the first */
    FILE *out;        /* where the report goes (borrowed) */
} tn_replay_opts_t;

/* Runs the replay. cfg borrowed (its redis.url must be empty: replay always uses its own
 * embedded redis-server under cfg->data_dir). Returns the process exit code: 0, 1 on a bad
 * file or a failure (the reason is logged and printed on stderr). */
int tn_engine_replay(const tn_config_t *cfg, const tn_replay_opts_t *o);

/* The line reader, for tests and the fuzz target: checks one line (s, len borrowed: a JSON
 * object with a known "type" and, but for topology, a valid "ts"); 0 with *ts (ms) and *type
 * (an index into the types: alert 0, sample 1, change 2, log 3, span 4, topology 5), or
 * TN_EINVAL with the reason in err. */
int tn_replay_check_line(const char *s, size_t len, int64_t *ts, int *type, tn_buf_t *err);
/* An alert line's object (o borrowed) as the event the inputs make: labels normalized (service
 * and severity from their fields), fingerprint given or computed into fp. 0, or TN_EINVAL with
 * the reason in err. On 0 the event borrows strings of o and fp and owns its labels and data:
 * free with tn_replay_alert_event_free. */
int tn_replay_alert_event(const json_t *o, int64_t ts, tn_event_t *ev, char fp[17], tn_buf_t *err);
void tn_replay_alert_event_free(tn_event_t *ev);

#endif
