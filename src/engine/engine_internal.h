/* engine_internal.h - the engine's state, shared by engine.c, pipeline.c and api.c. */
#ifndef TN_ENGINE_INTERNAL_H
#define TN_ENGINE_INTERNAL_H

#include <uv.h>

#include "automate/engine.h"
#include "chatops/chatops.h"
#include "chatops/silence.h"
#include "core/config.h"
#include "core/metrics.h"
#include "correlate/engine.h"
#include "detect/detector.h"
#include "detect/entity.h"
#include "detect/recent.h"
#include "ingest/ingest.h"
#include "ingest/redis_fed.h"
#include "ingest/listeners.h"
#include "ingest/topology.h"
#include "script/catalog.h"
#include "script/scriptset.h"
#include "script/services.h"
#include "http/server.h"
#include "notify/grafana.h"
#include "notify/httpc.h"
#include "store/reader.h"
#include "store/rollup.h"
#include "store/redis.h"
#include "store/redis_server.h"
#include "store/streams.h"

typedef struct tn_reloader tn_reloader_t;
typedef struct tn_logtrace tn_logtrace_t;
typedef struct tn_replay tn_replay_t;

typedef struct tn_engine {
    const tn_config_t *cfg;
    uv_loop_t *loop;
    int64_t started_ms;
    int exit_code;
    int stopping;
    unsigned closing;       /* asynchronous closes still running */
    unsigned redis_closing; /* redis connections still closing (then the embedded server stops) */

    tn_redis_server_t *embedded;
    char *redis_url;
    tn_redis_t *redis; /* commands */
    tn_redis_t *rconn; /* the reader's blocking connection */
    tn_redis_t *iconn; /* the Redis-fed inputs' blocking connection */
    tn_redis_t *lconn; /* the logs and spans reader's blocking connection */
    tn_logtrace_t *logtrace;
    tn_redis_fed_t *fed;
    tn_influx_tcp_t *influx_tcp;
    tn_scraper_t *scraper;
    tn_topology_t *topology;
    tn_rollup_t *rollup;
    uv_timer_t *rollup_timer;
    uv_timer_t *incident_timer; /* incidents: auto-resolve, forgetting old ones */
    uv_timer_t *trim_timer;     /* retention by age: XTRIM of the partitions written */
    uv_timer_t *grace_timer;    /* a signal came: HTTP requests in flight finish, then stop */
    int64_t grace_started;
    uv_fs_poll_t *topology_poll;
    tn_streams_t *streams;
    tn_reader_t *reader;
    tn_http_server_t *http;
    tn_httpc_t *httpc;
    tn_grafana_t *grafana; /* incidents as Grafana annotations (NULL: not configured) */
    tn_detector_t *detector;
    tn_scriptset_t *detection; /* detection policy files (detection.c) */
    tn_entities_t *entities;   /* multivariate: the series of one label set together */
    tn_recent_t *recent;       /* the latest points of series, for charts (NULL: none) */
    tn_correlate_t *correlate;
    tn_automate_t *automate;
    tn_chatops_t *chatops;
    tn_silences_t *silences;
    tn_ingest_t *ingest;
    tn_catalog_t *catalog;
    tn_script_services_t svc; /* lent to script bindings */
    tn_reloader_t *reloader;
    tn_replay_t *replay; /* `tocsin replay`: no inputs, readers or timers (replay.c) */

    uv_signal_t sig_int, sig_term;
    uv_timer_t drain; /* shutdown: waits for the last writes before closing Redis */
    int64_t drain_started;

    unsigned batch_pending;     /* writes caused by the batch in hand (pipeline.c) */
    const char *batch_entry_id; /* the entry being handled (pipeline.c) */
    /* the batch's samples in time order (pipeline.c), kept from batch to batch */
    tn_sample_view_t *sq_views;
    const char **sq_ids;
    void *sq_order;
    size_t sq_n, sq_cap;

    struct {
        tn_metric_t *anomalies, *samples_scored, *redis_up, *runs_running, *incidents_open, *series,
            *rules, *runbooks, *uptime, *redis_latency, *ingest_inflight, *reloads;
    } m;
} tn_engine_t;

/* pipeline.c: the stream reader's consumer; batch_free releases its kept buffers. */
void tn_engine__on_batch(tn_reader_t *rd, const tn_entry_t *entries, size_t n, void *arg);
void tn_engine__batch_free(tn_engine_t *e);
/* Writes an anomaly (the object the rules see: sid, metric, labels, service, value, expected,
 * lower, upper, z, score, detector, ts, sample) to the anomalies stream and offers it to the
 * rules. Each asynchronous step adds one to *pending and calls step(err, arg) when done. a
 * borrowed. */
void tn_engine__publish_anomaly(tn_engine_t *e, const json_t *a, unsigned *pending,
                                void (*step)(int err, void *arg), void *arg);
/* An alert event as the signal the rules see (engine/signals.c): kind "alert", id (the given
 * one, else "<fingerprint>@<ts>"), fingerprint, name (the title), service (label service, app,
 * application or job), severity (critical, warning or info from the labels severity, priority
 * or urgency), score (critical 1, warning 0.7, info 0.4), ts, labels, status, source, text
 * (the annotation summary or description). A new object (caller owns), or NULL. */
json_t *tn_engine__alert_signal(const tn_event_t *ev, const char *id);
/* Offers an alert to the rules (a firing one) or clears it (a resolved one). */
void tn_engine__offer_alert(tn_engine_t *e, const tn_event_t *ev, const char *id);
/* correlate -> automate hand-off. */
void tn_engine__start_runbook(void *arg, const char *runbook, const json_t *params,
                              const json_t *incident, const char *origin);

/* reload.c: file watchers, SIGHUP. */
int tn_engine__reloader_start(tn_engine_t *e);
void tn_engine__reloader_stop(tn_engine_t *e);
/* Reloads every rule and runbook; *failed (optional) counts files that failed. */
void tn_engine__reload_all(tn_engine_t *e, int *failed);

/* detection.c: the detection policy files. start loads them and applies the merged policy;
 * apply rebuilds it from the loaded files after a reload. */
int tn_engine__detection_start(tn_engine_t *e);
void tn_engine__detection_apply(tn_engine_t *e);
void tn_engine__detection_stop(tn_engine_t *e);

/* engine.c: stops everything (exit code code) once the loop has finished its work. */
void tn_engine__stop(tn_engine_t *e, int code);

/* pipeline.c: scores one sample (detectors, entities) and publishes its anomalies; the writes
 * count in e->batch_pending. */
void tn_engine__score_sample(tn_engine_t *e, const tn_sample_view_t *v);

/* replay.c: the engine's parts are up (Redis answers): replay the file, then stop. */
void tn_engine__replay_begin(tn_engine_t *e);
/* Runbook requests during a replay are recorded for the report, not run. */
void tn_engine__replay_runbook(void *arg, const char *runbook, const json_t *params,
                               const json_t *incident, const char *origin);

/* logtrace.c: log templates and trace anomalies from the logs and spans streams. start: NULL on
 * allocation failure; conn (a dedicated connection) borrowed. stop ends reading (writes in
 * flight still complete); destroy, after the loop has finished, frees it. */
tn_logtrace_t *tn_logtrace_start(tn_engine_t *e, tn_redis_t *conn);
/* Replay: conn NULL to tn_logtrace_start gives one with no reader and no timer; entries (log or
 * span entries as the streams hold them; stream names tell which) are handed to it here. */
void tn_logtrace_feed(tn_logtrace_t *lt, const tn_entry_t *entries, size_t n);
/* Closes the intervals that end before until_ms (their anomalies are published). */
void tn_logtrace_flush(tn_logtrace_t *lt, int64_t until_ms);
void tn_logtrace_stop(tn_logtrace_t *lt);
void tn_logtrace_destroy(tn_logtrace_t *lt);

/* (Re)loads topology.file when configured; failures keep the previous graph. */
void tn_engine__load_topology(tn_engine_t *e);
/* The topology changed: the rules' graph is rebuilt and the topology republished. */
void tn_engine__topology_changed(tn_engine_t *e);
/* Runs the engine for a replay (replay.c owns r). Returns the exit code. */
int tn_engine__run_replay(const tn_config_t *cfg, tn_replay_t *r);

/* api.c: registers the HTTP routes. 0 or TN_ENOMEM. */
int tn_engine__routes(tn_engine_t *e);

#endif
