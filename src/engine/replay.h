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

#include <stdio.h>

#include "core/config.h"

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

#endif
