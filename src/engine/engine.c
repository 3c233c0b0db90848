/* engine.c - startup and shutdown of the daemon. */
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "core/error.h"
#include "core/json_arena.h"
#include "core/fs.h"
#include "core/log.h"
#include "ingest/normalize.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void start_core(tn_engine_t *e);
static void stop(tn_engine_t *e, int code);
static void on_rollup_tick(uv_timer_t *t);
static void on_drain(uv_timer_t *t);

#define DRAIN_MS 2000

static void init_metrics(tn_engine_t *e)
{
    e->m.samples_scored = tn_metrics_counter("tocsin_detect_samples_scored_total", NULL,
                                             "Samples scored by the detectors.");
    e->m.anomalies = tn_metrics_counter("tocsin_detect_anomalies_total", NULL,
                                        "Anomalies opened by the detectors.");
    e->m.redis_up = tn_metrics_gauge("tocsin_redis_connected", NULL,
                                     "1 when the command connection to Redis is up.");
    e->m.redis_latency = tn_metrics_gauge("tocsin_redis_last_latency_seconds", NULL,
                                          "Round trip of the latest Redis reply.");
    e->m.runs_running =
        tn_metrics_gauge("tocsin_runbook_runs_running", NULL, "Runbook runs in progress.");
    e->m.incidents_open = tn_metrics_gauge("tocsin_incidents_open", NULL, "Open incidents.");
    e->m.series = tn_metrics_gauge("tocsin_detect_series", NULL, "Series tracked by detect.");
    e->m.rules = tn_metrics_gauge("tocsin_rules_loaded", NULL, "Correlation rules loaded.");
    e->m.runbooks = tn_metrics_gauge("tocsin_runbooks_loaded", NULL, "Runbooks loaded.");
    e->m.uptime = tn_metrics_gauge("tocsin_uptime_seconds", NULL, "Seconds since start.");
    e->m.reloads =
        tn_metrics_counter("tocsin_script_reloads_total", NULL,
                           "Reloads performed (file changes, SIGHUP, POST /api/reload).");
    e->m.ingest_inflight = tn_metrics_gauge("tocsin_ingest_inflight_samples", NULL,
                                            "Accepted samples not yet confirmed by Redis.");
}

static void on_redis_state(tn_redis_t *r, bool up, void *arg)
{
    (void)r;
    tn_engine_t *e = arg;
    tn_metric_set(e->m.redis_up, up ? 1 : 0);
    if (up && e->replay && !e->stopping) tn_engine__replay_begin(e);
}

void tn_engine__stop(tn_engine_t *e, int code)
{
    stop(e, code);
}

static void on_embedded_exit(tn_redis_server_t *s, int64_t status, int sig, void *arg)
{
    (void)s;
    tn_engine_t *e = arg;
    tn_log_error("engine", "embedded redis-server exited (status %lld, signal %d); stopping",
                 (long long)status, sig);
    stop(e, 1); /* tn_redis_server_stop of an exited child completes at once and frees it */
}

static void on_embedded_ready(tn_redis_server_t *s, int status, void *arg)
{
    tn_engine_t *e = arg;
    if (status) {
        tn_log_error("engine", "embedded redis-server did not start: %s", tn_strerror(status));
        stop(e, 1); /* frees it */
        return;
    }
    e->redis_url = strdup(tn_redis_server_url(s));
    if (!e->redis_url) {
        stop(e, 1);
        return;
    }
    tn_redis_server_on_exit(s, on_embedded_exit, e);
    start_core(e);
}

static void on_hook_sent(const tn_httpc_result_t *res, void *arg)
{
    (void)arg;
    if (res->error || res->status >= 300)
        tn_log_warn("reload", "script error notification not delivered (%s, HTTP %ld)",
                    res->error ? res->error_text : "ok", res->status);
}

/* A script failed to (re)load: tell people through the configured hook. */
static void on_script_error(void *arg, const char *path, const char *kind, const char *error)
{
    tn_engine_t *e = arg;
    const char *url = e->cfg->scripts.error_webhook;
    if (!*url || !e->httpc) return;
    char text[1024];
    snprintf(text, sizeof text,
             "tocsin: %s %s was not loaded; the previous version stays "
             "active.\n%.800s",
             kind, path, error);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s}", "text", text, "path", path, "kind", kind, "error", error);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) return;
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    tn_httpc_req_t req = {.method = "POST",
                          .url = url,
                          .headers = hdrs,
                          .body = body,
                          .body_len = strlen(body),
                          .timeout_ms = 5000};
    if (tn_httpc_request(e->httpc, &req, on_hook_sent, NULL, NULL))
        tn_log_warn("reload", "cannot notify %s about the script error", url);
    free(body);
}

static void graph_node(void *arg, const char *name)
{
    tn_graph_add_node(arg, name);
}
static void graph_edge(void *arg, const char *from, const char *to, int declared, uint64_t observed,
                       uint64_t labeled)
{
    unsigned src = (declared ? TN_GRAPH_SRC_CMDB : 0) | (observed ? TN_GRAPH_SRC_TRACES : 0) |
                   (labeled ? TN_GRAPH_SRC_LABELS : 0);
    tn_graph_add_edge(arg, from, to, src, 1.0, observed);
}

/* The rules' service graph (tocsin.topology) from the topology: rebuilt whole on a change. */
static void sync_graph(tn_engine_t *e)
{
    if (!e->correlate || !e->topology) return;
    tn_graph_t *g = tn_correlate_graph(e->correlate);
    tn_graph_clear(g);
    tn_topology_each(e->topology, graph_node, graph_edge, g);
}

static void publish_topology(tn_engine_t *e)
{
    sync_graph(e);
    tn_buf_t b;
    tn_buf_init(&b);
    if (tn_topology_json(e->topology, &b) == 0 && e->streams) {
        char key[160];
        snprintf(key, sizeof key, "%s:topology", tn_streams_prefix(e->streams));
        const char *argv[] = {"SET", key, b.data};
        tn_streams_cmd(e->streams, 3, argv, NULL, NULL);
    }
    tn_buf_deinit(&b);
}

void tn_engine__topology_changed(tn_engine_t *e)
{
    publish_topology(e);
}

void tn_engine__load_topology(tn_engine_t *e)
{
    if (!e->topology || !*e->cfg->topology.file) return;
    tn_buf_t err;
    tn_buf_init(&err);
    if (tn_topology_load_file(e->topology, e->cfg->topology.file, &err))
        tn_log_error("topology", "not loaded: %s (the previous graph stays)", err.data);
    else
        publish_topology(e);
    tn_buf_deinit(&err);
}

/* Alerts go to the rules as signals (resolved ones clear their incidents' members); deploys
 * and config changes (every other event) go to correlation for RCA. */
static void on_events(void *arg, const tn_event_t *ev, size_t n)
{
    tn_engine_t *e = arg;
    if (!e->correlate) return;
    for (size_t i = 0; i < n; i++) {
        if (!ev[i].type) continue;
        if (!strcmp(ev[i].type, "alert")) {
            tn_engine__offer_alert(e, &ev[i], NULL);
            continue;
        }
        tn_changes_add(tn_correlate_changes(e->correlate), ev[i].type,
                       tn_labels_get(&ev[i].labels, "service"), ev[i].title,
                       tn_labels_get(&ev[i].labels, "version"), ev[i].ts_ms);
    }
}

static void on_spans(void *arg, const tn_span_t *spans, size_t n)
{
    tn_engine_t *e = arg;
    if (tn_topology_learn(e->topology, spans, n) > 0) publish_topology(e);
}

static void on_topology_changed(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                                const uv_stat_t *cur)
{
    (void)prev, (void)cur;
    tn_engine_t *e = h->data;
    if (status == 0) tn_engine__load_topology(e);
}

static void on_poll_closed(uv_handle_t *h)
{
    free(h);
}

/* A heap-allocated repeating timer of e (close_timer frees it); NULL when out of memory. */
static uv_timer_t *open_timer(tn_engine_t *e, uv_timer_cb cb, uint64_t every_ms)
{
    uv_timer_t *t = malloc(sizeof *t);
    if (t == NULL) return NULL;
    uv_timer_init(e->loop, t);
    t->data = e;
    uv_timer_start(t, cb, every_ms, every_ms);
    return t;
}

/* Closes a heap-allocated timer, if any (freed once closed), and forgets it. */
static void close_timer(uv_timer_t **t)
{
    if (*t == NULL) return;
    uv_close((uv_handle_t *)*t, on_poll_closed);
    *t = NULL;
}

static void on_rollup_tick(uv_timer_t *t)
{
    tn_engine_t *e = t->data;
    if (e->rollup && e->redis && tn_redis_is_up(e->redis)) tn_rollup_flush(e->rollup, tn_now_ms());
}

static void on_trim_tick(uv_timer_t *t)
{
    tn_engine_t *e = t->data;
    if (e->streams) tn_streams_trim(e->streams, tn_now_ms());
}

static void on_incident_tick(uv_timer_t *t)
{
    tn_engine_t *e = t->data;
    if (e->correlate && !e->stopping) tn_correlate_tick(e->correlate, tn_now_ms());
}

/* An incident opened: the runbooks whose triggers match it start. */
static void incident_opened(void *arg, const json_t *incident)
{
    tn_engine_t *e = arg;
    if (e->automate && !e->stopping) tn_automate_incident_opened(e->automate, incident);
}

/* The incident times as summaries per service: MTTD, MTTA, MTTR on the dashboard. */
static void observe_times(const tn_incident_t *inc, const char *event)
{
    const char *name = NULL, *help = NULL;
    int64_t from = 0, to = 0;
    if (!strcmp(event, "opened")) {
        name = "tocsin_incident_time_to_detect_seconds";
        help = "From an incident's first signal (its onset) to its opening, by service.";
        from = inc->started_ms, to = inc->opened_ms;
    } else if (!strcmp(event, "acknowledged")) {
        name = "tocsin_incident_time_to_acknowledge_seconds";
        help = "From an incident's opening to its acknowledgement, by service.";
        from = inc->opened_ms, to = inc->acknowledged_ms;
    } else if (!strcmp(event, "resolved")) {
        name = "tocsin_incident_time_to_resolve_seconds";
        help = "From an incident's onset to its resolution, by service.";
        from = inc->started_ms ? inc->started_ms : inc->opened_ms, to = inc->resolved_ms;
    }
    if (!name || !from || to < from) return;
    tn_buf_t l;
    tn_buf_init(&l);
    tn_buf_puts(&l, "service=\"");
    tn_metrics_label_value(&l, inc->service);
    tn_buf_puts(&l, "\"");
    if (l.data)
        tn_metric_observe(tn_metrics_summary(name, l.data, help), (double)(to - from) / 1e3);
    tn_buf_deinit(&l);
}

/* Every incident change: metrics and Grafana annotations. */
static void incident_changed(void *arg, const tn_incident_t *inc, const char *event)
{
    tn_engine_t *e = arg;
    observe_times(inc, event);
    if (!e->grafana || e->stopping) return;
    json_t *j = tn_incident_to_json(inc);
    if (j) tn_grafana_incident(e->grafana, event, j);
    json_decref(j);
}

static const char *signal_silenced(void *arg, const json_t *signal)
{
    tn_engine_t *e = arg;
    return e->silences ? tn_silences_match(e->silences, signal, tn_now_ms()) : NULL;
}

/* chat `status`: one line about the engine. */
static void chat_status(void *arg, tn_buf_t *out)
{
    tn_engine_t *e = arg;
    tn_buf_printf(out, "tocsin %s up %llds, redis %s (%.1f ms), %u rule(s), %u runbook(s).\n",
                  TN_VERSION, (long long)((tn_now_ms() - e->started_ms) / 1000),
                  e->redis && tn_redis_is_up(e->redis) ? "up" : "DOWN",
                  e->redis ? tn_redis_last_latency_ms(e->redis) : 0.0,
                  e->correlate ? tn_correlate_rule_count(e->correlate) : 0,
                  e->automate ? tn_automate_runbook_count(e->automate) : 0);
}

static void chat_reload(void *arg, int *failed)
{
    tn_log_info("reload", "chat: reloading every rule, runbook and command");
    tn_engine__reload_all(arg, failed);
}

static void start_core(tn_engine_t *e)
{
    const tn_config_t *cfg = e->cfg;
    if (e->stopping) return;
    tn_redis_opts_t ro = {.url = e->redis_url,
                          .name = "main",
                          .connect_timeout_ms = (uint64_t)cfg->redis.connect_timeout_ms,
                          .command_timeout_ms = (uint64_t)cfg->redis.command_timeout_ms};
    e->redis = tn_redis_create(e->loop, &ro);
    int live = !e->replay; /* a replay has no inputs, readers or timers */
    ro.name = "reader";
    e->rconn = live ? tn_redis_create(e->loop, &ro) : NULL;
    ro.name = "inputs";
    e->iconn = live && cfg->ingest.redis_fed ? tn_redis_create(e->loop, &ro) : NULL;
    int logs_traces = cfg->detect.enabled && cfg->detect.logs_traces;
    ro.name = "logreader";
    e->lconn = live && logs_traces ? tn_redis_create(e->loop, &ro) : NULL;
    if (!e->redis || (live && !e->rconn) || (live && cfg->ingest.redis_fed && !e->iconn) ||
        (live && logs_traces && !e->lconn))
        goto fail;
    tn_redis_on_state(e->redis, on_redis_state, e);
    if (tn_redis_start(e->redis) || (e->rconn && tn_redis_start(e->rconn)) ||
        (e->iconn && tn_redis_start(e->iconn)) || (e->lconn && tn_redis_start(e->lconn)))
        goto fail;

    tn_streams_opts_t so = {.prefix = cfg->streams.prefix,
                            .partitions = (unsigned)cfg->streams.partitions,
                            .batch_max = (unsigned)cfg->streams.batch_max,
                            .maxlen = cfg->streams.maxlen,
                            .hot_ms = cfg->retention.hot_s * 1000,
                            .warm_ms = cfg->retention.warm_s * 1000,
                            .cold_ms = cfg->retention.cold_s * 1000};
    e->streams = tn_streams_create(e->redis, &so);
    e->httpc = tn_httpc_create(e->loop);
    tn_detector_opts_t dopt = {.window = (uint32_t)cfg->zscore.window,
                               .threshold = cfg->zscore.threshold,
                               .min_samples = (uint32_t)cfg->zscore.min_samples};
    e->detector = tn_detector_create(&dopt);
    tn_entities_opts_t eo = {.max_entities = (size_t)cfg->detect.entities_max};
    if (cfg->detect.entities && !(e->entities = tn_entities_create(&eo))) goto fail;
    if (cfg->web.chart_series > 0 && !(e->recent = tn_recent_create((size_t)cfg->web.chart_series,
                                                                    (size_t)cfg->web.chart_points)))
        goto fail;
    if (live) {
        e->rollup = tn_rollup_create(e->streams, 60000);
        if (!e->rollup || !(e->rollup_timer = open_timer(e, on_rollup_tick, 10000)) ||
            !(e->trim_timer = open_timer(e, on_trim_tick, 1000)))
            goto fail;
    }
    e->topology = tn_topology_create();
    if (!e->topology) goto fail;
    tn_engine__load_topology(e);
    if (live && *cfg->topology.file && (e->topology_poll = malloc(sizeof *e->topology_poll))) {
        uv_fs_poll_init(e->loop, e->topology_poll);
        e->topology_poll->data = e;
        uv_fs_poll_start(e->topology_poll, on_topology_changed, cfg->topology.file, 1000);
    }
    e->ingest = tn_ingest_create(e->loop, e->streams, (size_t)cfg->ingest.max_inflight);
    if (e->ingest) tn_ingest_set_parse_threads(e->ingest, (unsigned)cfg->ingest.parse_threads);
    if (e->ingest) tn_ingest_on_span(e->ingest, on_spans, e);
    if (e->ingest) tn_ingest_on_event(e->ingest, on_events, e);
    if (e->ingest)
        tn_ingest_set_limits(e->ingest, (size_t)cfg->ingest.max_records,
                             (size_t)cfg->ingest.max_decoded_bytes);
    if (!e->streams || !e->httpc || !e->detector || !e->ingest) goto fail;

    e->svc = (tn_script_services_t){
        .loop = e->loop, .cfg = cfg, .httpc = e->httpc, .redis = e->redis, .streams = e->streams};
    e->catalog = tn_catalog_create();
    if (!e->catalog) goto fail;
    tn_catalog_on_error(e->catalog, on_script_error, e);
    tn_automate_opts_t ao = {.cfg = cfg,
                             .streams = e->streams,
                             .httpc = e->httpc,
                             .catalog = e->catalog,
                             .svc = &e->svc};
    e->automate = tn_automate_create(&ao);
    tn_correlate_opts_t co = {.cfg = cfg,
                              .streams = e->streams,
                              .catalog = e->catalog,
                              .svc = &e->svc,
                              .start_runbook =
                                  live ? tn_engine__start_runbook : tn_engine__replay_runbook,
                              .start_arg = live ? (void *)e : (void *)e->replay,
                              .keep_all = !live,
                              .on_opened = live ? incident_opened : NULL,
                              .silenced = live ? signal_silenced : NULL,
                              .silence_arg = e};
    e->silences = tn_silences_create();
    e->correlate = tn_correlate_create(&co);
    if (!e->automate || !e->correlate || !e->silences) goto fail;
    tn_automate_set_incidents(e->automate, tn_correlate_incidents(e->correlate));
    if (live) {
        int oom = 0;
        e->grafana = tn_grafana_create(cfg, e->httpc, &oom);
        if (oom) goto fail;
        tn_incidents_on_change(tn_correlate_incidents(e->correlate), incident_changed, e);
        if (e->grafana)
            tn_log_info("engine", "incidents are annotated in Grafana at %s", cfg->grafana.url);
    }
    sync_graph(e);
    if (live) {
        if (!(e->incident_timer = open_timer(e, on_incident_tick, 1000))) goto fail;
    }
    int nb = tn_automate_load(e->automate), nr = tn_correlate_load(e->correlate);
    if (nb < 0 || nr < 0) goto fail;
    if (live) {
        tn_chatops_opts_t cho = {.cfg = cfg,
                                 .streams = e->streams,
                                 .httpc = e->httpc,
                                 .automate = e->automate,
                                 .correlate = e->correlate,
                                 .silences = e->silences,
                                 .catalog = e->catalog,
                                 .svc = &e->svc,
                                 .status = chat_status,
                                 .reload = chat_reload,
                                 .arg = e};
        if (!(e->chatops = tn_chatops_create(&cho)) || tn_chatops_load(e->chatops) < 0) goto fail;
    }
    tn_metric_set(e->m.rules, nr);
    tn_metric_set(e->m.runbooks, nb);
    if (tn_engine__detection_start(e)) goto fail;
    if (!live) { /* the replay starts once Redis answers (on_redis_state) */
        if (cfg->detect.enabled && logs_traces && !(e->logtrace = tn_logtrace_start(e, NULL)))
            goto fail;
        tn_log_info("engine", "replay: %d rule(s), redis %s", nr, e->redis_url);
        return;
    }
    if (tn_engine__reloader_start(e)) goto fail;

    const char *keys[1024];
    unsigned np = tn_streams_partitions(e->streams);
    for (unsigned p = 0; p < np; p++)
        keys[p] = tn_streams_pkey(e->streams, TN_PSTREAM_SAMPLES, p);
    tn_reader_opts_t rdo = {.streams = keys,
                            .nstreams = np,
                            .group = "tocsin-detect",
                            .consumer = cfg->engine_name,
                            .batch = (unsigned)cfg->streams.read_batch,
                            .block_ms = (unsigned)cfg->streams.read_block_ms};
    if (cfg->detect.enabled) { /* else an ingest-only engine: others read the streams */
        e->reader = tn_reader_create(e->loop, e->rconn, &rdo, tn_engine__on_batch, e);
        if (!e->reader) goto fail;
        tn_reader_start(e->reader);
        if (e->lconn && !(e->logtrace = tn_logtrace_start(e, e->lconn))) goto fail;
    } else {
        tn_log_info("engine",
                    "detect.enabled is false: ingesting only, samples are not scored here");
    }
    if (e->iconn && !(e->fed = tn_redis_fed_start(e->loop, e->iconn, e->streams, cfg->engine_name)))
        goto fail;
    tn_influx_tcp_opts_t to = {.addr = cfg->ingest.influx_tcp,
                               .idle_ms = (uint64_t)cfg->ingest.influx_tcp_idle_ms,
                               .max_conns = (unsigned)cfg->ingest.influx_tcp_max_conns};
    if (*cfg->ingest.influx_tcp &&
        tn_influx_tcp_start(e->loop, &to, e->streams, e->ingest, &e->influx_tcp)) {
        stop(e, 1);
        return;
    }
    tn_scraper_opts_t sco = {.targets = &cfg->ingest.scrape_targets,
                             .interval_ms = (uint64_t)cfg->ingest.scrape_interval_ms,
                             .timeout_ms = (uint64_t)cfg->ingest.scrape_timeout_ms,
                             .max_bytes = (uint64_t)cfg->ingest.scrape_max_bytes};
    if (cfg->ingest.scrape_targets.n &&
        tn_scraper_start(e->loop, &sco, e->httpc, e->streams, &e->scraper))
        goto fail;

    tn_http_limits_t lim;
    tn_http_limits_default(&lim);
    lim.max_body_bytes = (size_t)cfg->http.max_body_bytes;
    lim.max_header_bytes = (size_t)cfg->http.max_header_bytes;
    lim.read_timeout_ms = (uint64_t)cfg->http.read_timeout_ms;
    lim.keepalive_timeout_ms = (uint64_t)cfg->http.keepalive_timeout_ms;
    lim.max_connections = (unsigned)cfg->http.max_connections;
    e->http = tn_http_server_create(e->loop, &lim);
    if (!e->http || tn_engine__routes(e)) goto fail;
    if (tn_http_server_listen(e->http, cfg->http.listen, (int)cfg->http.port)) {
        tn_log_error("engine", "cannot listen on %s:%lld", cfg->http.listen,
                     (long long)cfg->http.port);
        stop(e, 1);
        return;
    }
    tn_log_info("engine", "tocsin %s ready: http://%s:%d, redis %s, %d rule(s), %d runbook(s)",
                TN_VERSION, cfg->http.listen, tn_http_server_port(e->http), e->redis_url, nr, nb);
    return;
fail:
    tn_log_error("engine", "cannot start: out of memory or bad setup");
    stop(e, 1);
}

static void on_grace_tick(uv_timer_t *t)
{
    tn_engine_t *e = t->data;
    int64_t waited = tn_now_ms() - e->grace_started;
    int busy = e->http && tn_http_server_busy(e->http);
    if (busy && waited < e->cfg->http.shutdown_grace_ms) return;
    if (busy)
        tn_log_warn("engine", "requests still in flight after %lld ms; closing them",
                    (long long)waited);
    else
        tn_log_info("engine", "requests in flight finished (%lld ms)", (long long)waited);
    stop(e, 0); /* closes this timer */
}

static void on_signal(uv_signal_t *h, int signum)
{
    tn_engine_t *e = h->data;
    if (e->stopping) {
        tn_log_warn("engine", "second signal: exiting now");
        exit(1);
    }
    const char *sig = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (e->grace_timer) {
        tn_log_warn("engine", "second %s: stopping without waiting", sig);
        stop(e, 0);
        return;
    }
    tn_log_info("engine", "%s received: shutting down", sig);
    /* A graceful stop: no new connections; requests being read or answered (ingest waiting for
     * Redis, a chat command) finish first, so their senders get an answer instead of a reset
     * and do not send again what was stored. */
    if (e->http && e->cfg->http.shutdown_grace_ms > 0 && tn_http_server_busy(e->http) &&
        (e->grace_timer = malloc(sizeof *e->grace_timer))) {
        tn_http_server_drain(e->http);
        tn_log_info("engine", "letting the requests in flight finish (at most %lld ms)",
                    (long long)e->cfg->http.shutdown_grace_ms);
        e->grace_started = tn_now_ms();
        uv_timer_init(e->loop, e->grace_timer);
        e->grace_timer->data = e;
        uv_timer_start(e->grace_timer, on_grace_tick, 10, 10);
        return;
    }
    stop(e, 0);
}

static void closed_one(void *arg)
{
    tn_engine_t *e = arg;
    e->closing--;
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_embedded_stopped(void *arg)
{
    tn_engine_t *e = arg;
    e->closing--;
}

static void after_redis_closed(void *arg)
{
    tn_engine_t *e = arg;
    e->closing--;
    if (--e->redis_closing == 0 && e->embedded) {
        tn_redis_server_t *s = e->embedded;
        e->embedded = NULL;
        e->closing++;
        tn_redis_server_stop(s, on_embedded_stopped, e);
    }
}

static void stop(tn_engine_t *e, int code)
{
    if (e->stopping) return;
    e->stopping = 1;
    e->exit_code = code;
    if (e->http) {
        e->closing++;
        tn_http_server_close(e->http, closed_one, e);
        e->http = NULL;
    }
    tn_engine__reloader_stop(e);
    tn_reader_destroy(e->reader);
    e->reader = NULL;
    tn_logtrace_stop(e->logtrace); /* its writes in flight complete; freed after the loop */
    tn_redis_fed_stop(e->fed);
    e->fed = NULL;
    tn_influx_tcp_stop(e->influx_tcp);
    e->influx_tcp = NULL;
    tn_scraper_stop(e->scraper);
    e->scraper = NULL;
    close_timer(&e->rollup_timer);
    close_timer(&e->incident_timer);
    close_timer(&e->trim_timer);
    close_timer(&e->grace_timer);
    if (e->rollup && e->streams && e->redis && tn_redis_is_up(e->redis)) {
        size_t n = tn_rollup_flush(e->rollup, INT64_MAX); /* the open buckets, as they are */
        if (n) tn_log_info("engine", "wrote %zu open rollup bucket(s) before stopping", n);
    }
    tn_rollup_destroy(e->rollup);
    e->rollup = NULL;
    if (e->topology_poll) {
        uv_fs_poll_stop(e->topology_poll);
        uv_close((uv_handle_t *)e->topology_poll, on_poll_closed);
        e->topology_poll = NULL;
    }
    tn_chatops_destroy(e->chatops); /* cancels commands in progress */
    e->chatops = NULL;
    tn_automate_destroy(e->automate); /* cancels runs in progress */
    e->automate = NULL;
    tn_correlate_destroy(e->correlate);
    e->correlate = NULL;
    tn_engine__detection_stop(e);
    tn_entities_destroy(e->entities);
    e->entities = NULL;
    tn_recent_destroy(e->recent);
    e->recent = NULL;
    tn_detector_destroy(e->detector);
    e->detector = NULL;
    tn_grafana_destroy(e->grafana); /* its calls in flight are canceled with the client */
    e->grafana = NULL;
    if (e->httpc) tn_httpc_destroy(e->httpc);
    e->httpc = NULL;
    tn_ingest_stop(e->ingest); /* bodies still being parsed get 503 */
    tn_streams_destroy(e->streams);
    e->streams = NULL;
    uv_signal_stop(&e->sig_int);
    uv_signal_stop(&e->sig_term);
    uv_close((uv_handle_t *)&e->sig_int, on_signal_closed);
    uv_close((uv_handle_t *)&e->sig_term, on_signal_closed);
    /* the redis connections close last, once the writes already sent are answered (at most
     * DRAIN_MS); then the embedded server stops */
    e->drain_started = tn_now_ms();
    uv_timer_init(e->loop, &e->drain);
    e->drain.data = e;
    e->closing++;
    uv_timer_start(&e->drain, on_drain, 0, 10);
}

static void on_drain_closed(uv_handle_t *h)
{
    tn_engine_t *e = h->data;
    e->closing--;
}

static void on_drain(uv_timer_t *t)
{
    tn_engine_t *e = t->data;
    unsigned pending = e->redis ? tn_redis_pending(e->redis) : 0;
    int64_t waited = tn_now_ms() - e->drain_started;
    if (pending && waited < DRAIN_MS) return;
    if (pending)
        tn_log_warn("engine", "%u redis command(s) still unanswered after %d ms; closing anyway",
                    pending, DRAIN_MS);
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, on_drain_closed);
    unsigned nconn =
        (e->redis != NULL) + (e->rconn != NULL) + (e->iconn != NULL) + (e->lconn != NULL);
    if (nconn == 0 && e->embedded) {
        tn_redis_server_t *s = e->embedded;
        e->embedded = NULL;
        e->closing++;
        tn_redis_server_stop(s, on_embedded_stopped, e);
    }
    e->closing += nconn;
    e->redis_closing = nconn;
    if (e->redis) tn_redis_close(e->redis, after_redis_closed, e);
    if (e->rconn) tn_redis_close(e->rconn, after_redis_closed, e);
    if (e->iconn) tn_redis_close(e->iconn, after_redis_closed, e);
    if (e->lconn) tn_redis_close(e->lconn, after_redis_closed, e);
    e->redis = e->rconn = e->iconn = e->lconn = NULL;
}

static int run(const tn_config_t *cfg, tn_replay_t *replay);

int tn_engine_run(const tn_config_t *cfg)
{
    return run(cfg, NULL);
}

int tn_engine__run_replay(const tn_config_t *cfg, tn_replay_t *replay)
{
    return run(cfg, replay);
}

static int run(const tn_config_t *cfg, tn_replay_t *replay)
{
    /* Ingest allocates and frees a lot per request; glibc's default is to give freed memory back
     * to the kernel at once and to mmap large request bodies, and the page faults to get it back
     * cost 3-4x the ingest throughput on small VMs. Keep it in the process instead (bounded). */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    tn_buf_t aerr;
    tn_buf_init(&aerr);
    int arc = tn_norm_set_aliases((const char *const *)cfg->ingest.label_aliases.items,
                                  cfg->ingest.label_aliases.n, &aerr);
    if (arc) {
        tn_log_error("engine", "ingest.label_aliases: %s",
                     aerr.data ? aerr.data : tn_strerror(arc));
        tn_buf_deinit(&aerr);
        return 1;
    }
    tn_buf_deinit(&aerr);
    /* libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise) parses large
     * ingest bodies; leave one thread for file system work. Read when the pool first starts. */
    if (cfg->ingest.parse_threads > 3 && !getenv("UV_THREADPOOL_SIZE")) {
        char n[16];
        snprintf(n, sizeof n, "%d", (int)cfg->ingest.parse_threads + 1);
        setenv("UV_THREADPOOL_SIZE", n, 0);
    }
    tn_json_arena_install(); /* request bodies are parsed in arenas (core/json_arena.h) */
    tn_engine_t e;
    memset(&e, 0, sizeof e);
    e.cfg = cfg;
    e.replay = replay;
    e.loop = uv_default_loop();
    e.started_ms = tn_now_ms();
    init_metrics(&e);
    signal(SIGPIPE, SIG_IGN);
    uv_signal_init(e.loop, &e.sig_int);
    uv_signal_init(e.loop, &e.sig_term);
    e.sig_int.data = e.sig_term.data = &e;
    uv_signal_start(&e.sig_int, on_signal, SIGINT);
    uv_signal_start(&e.sig_term, on_signal, SIGTERM);

    tn_log_info("engine", "tocsin %s starting (pid %d)", TN_VERSION, (int)getpid());
    if (*cfg->redis.url) {
        e.redis_url = strdup(cfg->redis.url);
        if (!e.redis_url) return 1;
        start_core(&e);
    } else {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/redis", cfg->data_dir);
        if (tn_fs_mkdirs(cfg->data_dir, 0700)) {
            tn_log_error("engine", "cannot create data directory %s", cfg->data_dir);
            return 1;
        }
        tn_log_info("engine", "no redis.url configured: using an embedded redis-server in %s",
                    cfg->data_dir);
        int rc = tn_redis_server_start(e.loop, cfg->data_dir, cfg->redis.server_bin, 10000,
                                       on_embedded_ready, &e, &e.embedded);
        if (rc) {
            tn_log_error("engine", "cannot start redis-server (%s): %s", cfg->redis.server_bin,
                         tn_strerror(rc));
            stop(&e, 1);
        }
    }
    uv_run(e.loop, UV_RUN_DEFAULT);
    free(e.redis_url);
    tn_ingest_destroy(e.ingest); /* after the HTTP server answered its last request */
    tn_catalog_destroy(e.catalog);
    tn_silences_destroy(e.silences);
    tn_topology_destroy(e.topology);
    tn_logtrace_destroy(e.logtrace);
    tn_engine__batch_free(&e);
    int rc = uv_loop_close(e.loop);
    if (rc) tn_log_warn("engine", "event loop closed with handles still open");
    tn_norm_reset_aliases();
    tn_log_info("engine", "stopped");
    return e.exit_code;
}
