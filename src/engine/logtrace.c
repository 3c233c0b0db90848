/* logtrace.c - detection on the logs and spans streams: log templates (detect/drain.h) and their
 * rates, and latency / error-rate anomalies per service and per call edge (detect/traces.h).
 *
 * One consumer-group reader (group tocsin-detect, on its own blocking connection) reads the
 * logs and spans partitions. Both are partitioned by service, and each partition has its own
 * miner and trace scorer: a partition is in time order, while entries of different partitions
 * come in no common order (a backlog is read partition by partition), and interval statistics
 * need time order. Logs are mined with the service as their first token, so templates are per
 * service. A span names its parent's service when the parent came in the same request; else the
 * parent is looked up in a bounded index of span ids, so a call across services counts for the
 * edge parent -> child. Intervals close as the data's timestamps
 * move on; when data is live (timestamps near the clock) a timer also closes them when traffic
 * stops, so a silenced heartbeat is seen. Verdicts that flag become anomalies, written to the
 * anomalies stream and offered to the rules like the samples' (pipeline.c); a batch is
 * acknowledged only when those writes are confirmed. */
#include "engine/engine_internal.h"
#include "core/error.h"
#include "core/hmap.h"
#include "core/log.h"
#include "detect/drain.h"
#include "detect/policy.h"
#include "detect/traces.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPAN_INDEX_MAX 200000 /* span id -> service entries kept (then the index starts over) */
#define MAX_MSG 8192          /* log bytes mined (service prefix included) */
#define LIVE_MS 300000        /* data within this of the clock is live */
#define CLEAR_AFTER 3         /* normal intervals that close an open log or trace anomaly */
#define OPEN_MAX 100000       /* keys with hysteresis state kept (then it starts over) */

typedef struct {
    tn_logtrace_t *lt;
    unsigned p;
    tn_drain_t *drain;
    tn_traces_t *traces;
} part_t;

struct tn_logtrace {
    tn_engine_t *e;
    tn_reader_t *reader;
    part_t *parts;
    unsigned np;
    tn_hmap_t spans; /* span id -> service (owned strings) */
    tn_hmap_t open;  /* "partition/kind/key" -> run_t: hysteresis */
    uv_timer_t *tick;
    int64_t interval_ms;
    int64_t last_data_ms;  /* newest timestamp seen */
    unsigned pending;      /* writes caused by the batch in hand */
    unsigned tick_pending; /* writes caused by the timer's flush */
    int in_batch;
    const char *entry_id; /* the entry being handled */
    tn_metric_t *m_logs, *m_spans, *m_templates, *m_anomalies, *m_bad;
};

static void step(int err, void *arg)
{
    tn_logtrace_t *lt = arg;
    (void)err; /* failures are logged where they happen */
    if (--lt->pending == 0 && !lt->e->stopping && lt->reader) tn_reader_done(lt->reader);
}

typedef struct {
    int open;
    unsigned normal;
} run_t;

/* Hysteresis over intervals: a key's first flagged interval opens an anomaly (returns 1, publish
 * it); flagged intervals after it continue it (0); CLEAR_AFTER normal intervals close it. */
static int hysteresis(tn_logtrace_t *lt, unsigned p, const char *kind, const char *key, int flagged)
{
    char k[512];
    snprintf(k, sizeof k, "%u/%s/%s", p, kind, key);
    run_t *r = tn_hmap_get(&lt->open, k);
    if (!r) {
        if (!flagged) return 0;
        if (lt->open.len >= OPEN_MAX) {
            size_t it = 0;
            void *v;
            while (tn_hmap_next(&lt->open, &it, NULL, &v))
                free(v);
            tn_hmap_deinit(&lt->open);
            tn_hmap_init(&lt->open);
        }
        r = calloc(1, sizeof *r);
        if (!r || tn_hmap_put(&lt->open, k, r, NULL)) {
            free(r);
            return 1; /* no memory for the state: report every flagged interval */
        }
    }
    if (flagged) {
        r->normal = 0;
        if (r->open) return 0;
        r->open = 1;
        return 1;
    }
    if (r->open && ++r->normal >= CLEAR_AFTER) r->open = 0;
    return 0;
}

static void tick_step(int err, void *arg)
{
    tn_logtrace_t *lt = arg;
    (void)err;
    lt->tick_pending--;
}

static void sid_of(char sid[17], const char *a, const char *b)
{
    char key[512];
    int n = snprintf(key, sizeof key, "%s\x1f%s", a, b);
    uint64_t h = tn_hash64(key, n > 0 ? ((size_t)n < sizeof key ? (size_t)n : sizeof key - 1) : 0);
    snprintf(sid, 17, "%016llx", (unsigned long long)h);
}

static void publish(tn_logtrace_t *lt, json_t *a)
{
    if (!a) {
        tn_log_error("detect", "out of memory building an anomaly");
        return;
    }
    tn_metric_inc(lt->m_anomalies);
    tn_metric_inc(lt->e->m.anomalies);
    if (lt->in_batch)
        tn_engine__publish_anomaly(lt->e, a, &lt->pending, step, lt);
    else
        tn_engine__publish_anomaly(lt->e, a, &lt->tick_pending, tick_step, lt);
    json_decref(a);
}

/* ---- logs -------------------------------------------------------------------------------- */

/* The service is the first token of every mined message. */
static void split_service(const char *text, char *svc, size_t cap, const char **rest)
{
    size_t n = strcspn(text, " ");
    snprintf(svc, cap, "%.*s", (int)(n < cap ? n : cap - 1), text);
    *rest = text[n] ? text + n + 1 : text + n;
}

/* A whole decimal number, the whole string. */
static int whole_number(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno) return 0;
    *out = v;
    return 1;
}

static void on_rate(void *ud, const tn_drain_rate_t *v)
{
    part_t *pt = ud;
    tn_logtrace_t *lt = pt->lt;
    char svc[128], sid[17], id[32];
    if (v->kind == TN_DRAIN_RATE_WARMUP) return;
    snprintf(id, sizeof id, "%u", v->id);
    int flagged = v->kind == TN_DRAIN_RATE_HIGH || v->kind == TN_DRAIN_RATE_LOW;
    if (!hysteresis(lt, pt->p, v->kind == TN_DRAIN_RATE_LOW ? "low" : "high", id, flagged)) return;
    const char *tmpl;
    split_service(v->template_text, svc, sizeof svc, &tmpl);
    snprintf(id, sizeof id, "%u.%u", pt->p, v->id); /* template ids are per partition */
    sid_of(sid, "log_template_rate", id);
    tn_log_info("detect",
                "log template %u of %s %s: %llu in the interval, expected %.1f: \"%.120s\"", v->id,
                svc, v->kind == TN_DRAIN_RATE_HIGH ? "surged" : "dropped",
                (unsigned long long)v->count, v->expected, tmpl);
    json_t *a = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s%}, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:I, s:s}",
        "sid", sid, "metric", "log_template_rate", "labels", "service", svc, "template_id", id,
        "template", tmpl, strlen(tmpl) < 300 ? strlen(tmpl) : (size_t)300, "service", svc, "value",
        (double)v->count, "expected", v->expected, "stddev",
        v->z != 0 ? fabs(((double)v->count - v->expected) / v->z) : 0.0, "lower", v->lower, "upper",
        v->upper, "z", v->z, "score", v->score, "detector", "drain_rate", "ts",
        (json_int_t)(v->interval_start_ms + lt->interval_ms), "sample",
        lt->entry_id ? lt->entry_id : "");
    publish(lt, a);
}

static void handle_log(tn_logtrace_t *lt, part_t *pt, const tn_entry_t *en)
{
    const char *body = tn_entry_get(en, "body"), *labels = tn_entry_get(en, "labels"),
               *ts = tn_entry_get(en, "ts");
    if (!body || !ts) {
        tn_metric_inc(lt->m_bad);
        return;
    }
    char svc[128] = "unknown";
    size_t vlen;
    if (labels) tn_policy_label(labels, strlen(labels), "service", svc, sizeof svc, &vlen);
    for (char *p = svc; *p; p++)
        if (*p == ' ' || *p == '\t') *p = '_'; /* one token */
    if (!svc[0]) snprintf(svc, sizeof svc, "unknown");
    char msg[MAX_MSG];
    int n = snprintf(msg, sizeof msg, "%s %s", svc, body);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    int64_t t;
    if (!whole_number(ts, &t) || t <= 0) { /* not written by tocsin: its time is unknown */
        tn_metric_inc(lt->m_bad);
        return;
    }
    if (t > lt->last_data_ms) lt->last_data_ms = t;
    tn_drain_match_t m;
    if (tn_drain_add(pt->drain, msg, len, t, &m)) {
        tn_log_warn("detect", "out of memory mining a log line of %s", svc);
        return;
    }
    tn_metric_inc(lt->m_logs);
    size_t nt = 0;
    for (unsigned p = 0; p < lt->np; p++)
        nt += tn_drain_cluster_count(lt->parts[p].drain);
    tn_metric_set(lt->m_templates, (double)nt);
    if (!m.novel) return;
    const char *tmpl;
    char s2[128], sid[17], id[16];
    split_service(m.template_text, s2, sizeof s2, &tmpl);
    snprintf(id, sizeof id, "%u.%u", pt->p, m.id);
    sid_of(sid, "log_template_new", id);
    tn_log_info("detect", "new log template %u of %s: \"%.120s\"", m.id, svc, tmpl);
    json_t *a = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s%}, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:I, s:s}",
        "sid", sid, "metric", "log_template_new", "labels", "service", svc, "template_id", id,
        "template", tmpl, strlen(tmpl) < 300 ? strlen(tmpl) : (size_t)300, "service", svc, "value",
        1.0, "expected", 0.0, "stddev", 0.0, "lower", 0.0, "upper", 0.0, "z", 0.0, "score", 1.0,
        "detector", "drain_new", "ts", (json_int_t)t, "sample", en->id);
    publish(lt, a);
}

/* ---- spans ------------------------------------------------------------------------------- */

static void on_verdict(void *ud, const tn_trace_verdict_t *v)
{
    part_t *pt = ud;
    tn_logtrace_t *lt = pt->lt;
    if (v->warmup) return;
    int64_t ts = v->interval_start_ms + lt->interval_ms;
    for (int k = 0; k < 2; k++) {
        int lat = k == 0;
        if (!hysteresis(lt, pt->p, lat ? "latency" : "errors", v->key,
                        lat ? v->latency_anomaly : v->error_anomaly))
            continue;
        const char *metric = lat ? "span_latency_p95_ms" : "span_error_rate";
        char sid[17];
        sid_of(sid, metric, v->key);
        double value = lat ? v->latency : v->error_rate;
        double expected = lat ? v->latency_expected : v->error_expected;
        double z = lat ? v->latency_z : v->error_z;
        double band = lat ? 4 * v->latency_mad : 0;
        tn_log_info("detect", "%s on %s: %.4g, expected %.4g (z=%.1f, %llu spans, %llu errors)",
                    lat ? "latency regression" : "error burst", v->key, value, expected, z,
                    (unsigned long long)v->count, (unsigned long long)v->errors);
        json_t *labels = json_pack("{s:s}", "service", v->service);
        if (labels && v->parent) {
            json_object_set_new(labels, "parent", json_string(v->parent));
            json_object_set_new(labels, "edge", json_string(v->key));
        }
        json_t *a =
            labels ? json_pack("{s:s, s:s, s:o, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
                               "s:s, s:I, s:s}",
                               "sid", sid, "metric", metric, "labels", labels, "service",
                               v->service, "value", value, "expected", expected, "stddev",
                               lat ? v->latency_mad : 0.0, "lower", lat ? expected - band : 0.0,
                               "upper", lat ? expected + band : expected, "z", z, "score",
                               lat ? v->latency_score : v->error_score, "detector",
                               lat ? "traces_latency" : "traces_errors", "ts", (json_int_t)ts,
                               "sample", lt->entry_id ? lt->entry_id : "")
                   : NULL;
        publish(lt, a);
    }
}

static const char *service_of_span(tn_logtrace_t *lt, const char *span_id)
{
    return span_id && *span_id ? tn_hmap_get(&lt->spans, span_id) : NULL;
}

static void forget_spans(tn_logtrace_t *lt)
{
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&lt->spans, &it, NULL, &v))
        free(v);
    tn_hmap_deinit(&lt->spans);
    tn_hmap_init(&lt->spans);
}

static void index_span(tn_logtrace_t *lt, const tn_entry_t *en)
{
    const char *id = tn_entry_get(en, "span_id"), *svc = tn_entry_get(en, "service");
    if (!id || !*id || !svc || !*svc || tn_hmap_get(&lt->spans, id)) return;
    if (lt->spans.len >= SPAN_INDEX_MAX) forget_spans(lt);
    char *copy = strdup(svc);
    if (!copy || tn_hmap_put(&lt->spans, id, copy, NULL)) free(copy);
}

static void handle_span(tn_logtrace_t *lt, part_t *pt, const tn_entry_t *en)
{
    const char *svc = tn_entry_get(en, "service"), *start = tn_entry_get(en, "start_us"),
               *dur = tn_entry_get(en, "duration_us"), *err = tn_entry_get(en, "error");
    if (!svc || !*svc || !start || !dur) {
        tn_metric_inc(lt->m_bad);
        return;
    }
    int64_t start_us, dur_us;
    if (!whole_number(start, &start_us) || !whole_number(dur, &dur_us) || start_us <= 0 ||
        dur_us < 0) {
        tn_metric_inc(lt->m_bad);
        return;
    }
    double d_us = (double)dur_us;
    int64_t end_ms = (start_us + dur_us) / 1000;
    if (end_ms > lt->last_data_ms) lt->last_data_ms = end_ms;
    const char *parent = tn_entry_get(en, "parent_service");
    if (!parent || !*parent) parent = service_of_span(lt, tn_entry_get(en, "parent_id"));
    tn_trace_span_t s = {.service = svc,
                         .parent_service = parent && strcmp(parent, svc) ? parent : NULL,
                         .duration_ms = d_us / 1000.0,
                         .error = err && err[0] == '1',
                         .ts_ms = end_ms};
    int rc = tn_traces_add(pt->traces, &s);
    if (rc == TN_ENOMEM) tn_log_warn("detect", "out of memory adding a span of %s", svc);
    tn_metric_inc(lt->m_spans);
}

static void handle_entries(tn_logtrace_t *lt, const tn_entry_t *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) /* parents first: a child may come before its parent */
        if (strstr(entries[i].stream, ":spans:")) index_span(lt, &entries[i]);
    for (size_t i = 0; i < n; i++) {
        lt->entry_id = entries[i].id;
        const char *tag = strrchr(entries[i].stream, '{');
        unsigned p = tag ? (unsigned)strtoul(tag + 1, NULL, 10) : 0;
        part_t *pt = &lt->parts[p < lt->np ? p : 0];
        if (strstr(entries[i].stream, ":spans:"))
            handle_span(lt, pt, &entries[i]);
        else
            handle_log(lt, pt, &entries[i]);
    }
    lt->entry_id = NULL;
}

static void on_batch(tn_reader_t *rd, const tn_entry_t *entries, size_t n, void *arg)
{
    (void)rd;
    tn_logtrace_t *lt = arg;
    lt->pending = 1; /* guard */
    lt->in_batch = 1;
    handle_entries(lt, entries, n);
    lt->in_batch = 0;
    step(0, lt);
}

void tn_logtrace_feed(tn_logtrace_t *lt, const tn_entry_t *entries, size_t n)
{
    lt->pending++; /* guard */
    lt->in_batch = 1;
    handle_entries(lt, entries, n);
    lt->in_batch = 0;
    step(0, lt);
}

/* While data is live, close the intervals the clock has passed (traffic that stopped). */
static void on_tick(uv_timer_t *t)
{
    tn_logtrace_t *lt = t->data;
    int64_t now = tn_now_ms();
    if (lt->last_data_ms < now - LIVE_MS || lt->e->stopping) return;
    for (unsigned p = 0; p < lt->np; p++) {
        tn_drain_flush(lt->parts[p].drain, now - 1000);
        tn_traces_flush(lt->parts[p].traces, now - 1000);
    }
}

void tn_logtrace_flush(tn_logtrace_t *lt, int64_t until_ms)
{
    for (unsigned p = 0; p < lt->np; p++) {
        tn_drain_flush(lt->parts[p].drain, until_ms);
        tn_traces_flush(lt->parts[p].traces, until_ms);
    }
}

static void on_tick_closed(uv_handle_t *h)
{
    free(h);
}

tn_logtrace_t *tn_logtrace_start(tn_engine_t *e, tn_redis_t *conn)
{
    const tn_config_t *cfg = e->cfg;
    tn_logtrace_t *lt = calloc(1, sizeof *lt);
    if (!lt) return NULL;
    lt->e = e;
    lt->interval_ms = cfg->detect.interval_ms;
    lt->last_data_ms = INT64_MIN / 2;
    tn_hmap_init(&lt->spans);
    tn_hmap_init(&lt->open);
    unsigned np = tn_streams_partitions(e->streams), nk = 0;
    lt->parts = calloc(np, sizeof *lt->parts);
    int ok = lt->parts != NULL;
    if (ok) lt->np = np;
    for (unsigned p = 0; p < lt->np && ok; p++) {
        part_t *pt = &lt->parts[p];
        pt->lt = lt;
        pt->p = p;
        tn_drain_opts_t dopt = {.interval_ms = lt->interval_ms, .on_rate = on_rate, .ud = pt};
        tn_traces_opts_t topt = {
            .interval_ms = lt->interval_ms, .on_verdict = on_verdict, .ud = pt};
        pt->drain = tn_drain_create(&dopt);
        pt->traces = tn_traces_create(&topt);
        ok = pt->drain && pt->traces;
    }
    lt->tick = malloc(sizeof *lt->tick);
    const char *keys[2048];
    for (unsigned p = 0; p < np && nk + 2 <= 2048; p++) {
        keys[nk++] = tn_streams_pkey(e->streams, TN_PSTREAM_LOGS, p);
        keys[nk++] = tn_streams_pkey(e->streams, TN_PSTREAM_SPANS, p);
    }
    tn_reader_opts_t ro = {.streams = keys,
                           .nstreams = nk,
                           .group = "tocsin-detect",
                           .consumer = cfg->engine_name,
                           .batch = (unsigned)cfg->streams.read_batch,
                           .block_ms = (unsigned)cfg->streams.read_block_ms};
    if (ok && !conn) { /* replay: entries are fed */
        free(lt->tick);
        lt->tick = NULL;
    } else if (ok && lt->tick) {
        lt->reader = tn_reader_create(e->loop, conn, &ro, on_batch, lt);
    }
    if (!ok || (conn && !lt->reader)) {
        free(lt->tick);
        lt->tick = NULL;
        tn_logtrace_destroy(lt);
        return NULL;
    }
    lt->m_logs = tn_metrics_counter("tocsin_detect_logs_total", NULL, "Log records mined.");
    lt->m_spans = tn_metrics_counter("tocsin_detect_spans_total", NULL, "Spans scored.");
    lt->m_bad = tn_metrics_counter("tocsin_detect_bad_entries_total", NULL,
                                   "Log and span entries skipped: a field missing, or a time "
                                   "or duration that is not a number.");
    lt->m_templates =
        tn_metrics_gauge("tocsin_detect_log_templates", NULL, "Log templates known (Drain).");
    lt->m_anomalies = tn_metrics_counter("tocsin_detect_log_trace_anomalies_total", NULL,
                                         "Anomalies found in log template rates and spans.");
    if (!conn) return lt;
    uv_timer_init(e->loop, lt->tick);
    lt->tick->data = lt;
    uint64_t every = (uint64_t)(lt->interval_ms / 4 > 250 ? lt->interval_ms / 4 : 250);
    uv_timer_start(lt->tick, on_tick, every, every);
    tn_reader_start(lt->reader);
    return lt;
}

void tn_logtrace_stop(tn_logtrace_t *lt)
{
    if (!lt) return;
    tn_reader_destroy(lt->reader);
    lt->reader = NULL;
    if (lt->tick) {
        uv_timer_stop(lt->tick);
        uv_close((uv_handle_t *)lt->tick, on_tick_closed);
        lt->tick = NULL;
    }
}

void tn_logtrace_destroy(tn_logtrace_t *lt)
{
    if (!lt) return;
    tn_logtrace_stop(lt);
    for (unsigned p = 0; p < lt->np; p++) {
        tn_drain_destroy(lt->parts[p].drain);
        tn_traces_destroy(lt->parts[p].traces);
    }
    free(lt->parts);
    forget_spans(lt);
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&lt->open, &it, NULL, &v))
        free(v);
    tn_hmap_deinit(&lt->open);
    tn_hmap_deinit(&lt->spans);
    free(lt);
}
