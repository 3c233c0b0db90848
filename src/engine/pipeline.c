/* pipeline.c - from the samples stream to anomalies, incidents and runbooks.
 *
 * The reader hands over a batch of sample entries. Each is scored by detect; each anomaly is
 * written to the anomalies stream and offered to the rules. The batch is acknowledged (XACK) only
 * when every write it caused is confirmed: an entry is never acknowledged before it is safely
 * processed. */
#include "engine/engine_internal.h"
#include "core/error.h"
#include "core/hmap.h"
#include "core/log.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reader gives one batch at a time, so the batch state lives in the engine. */
typedef tn_engine_t batch_t;

static void batch_step(int err, void *arg)
{
    tn_engine_t *e = arg;
    (void)err; /* failures are logged where they happen; see docs/architecture.md */
    if (--e->batch_pending == 0 && !e->stopping && e->reader) tn_reader_done(e->reader);
}

void tn_engine__publish_anomaly(tn_engine_t *e, const json_t *a, unsigned *pending,
                                void (*step)(int err, void *arg), void *arg)
{
    char value[32], expected[32], lower[32], upper[32], z[32], score[32], ts[24];
    snprintf(value, sizeof value, "%.17g", json_number_value(json_object_get(a, "value")));
    snprintf(expected, sizeof expected, "%.17g", json_number_value(json_object_get(a, "expected")));
    snprintf(lower, sizeof lower, "%.17g", json_number_value(json_object_get(a, "lower")));
    snprintf(upper, sizeof upper, "%.17g", json_number_value(json_object_get(a, "upper")));
    snprintf(z, sizeof z, "%.6g", json_number_value(json_object_get(a, "z")));
    snprintf(score, sizeof score, "%.6f", json_number_value(json_object_get(a, "score")));
    snprintf(ts, sizeof ts, "%lld", (long long)json_integer_value(json_object_get(a, "ts")));
    char *labels = json_dumps(json_object_get(a, "labels"), JSON_COMPACT | JSON_SORT_KEYS);
    const char *fields[] = {"sid",      json_string_value(json_object_get(a, "sid")),
                            "metric",   json_string_value(json_object_get(a, "metric")),
                            "labels",   labels ? labels : "{}",
                            "service",  json_string_value(json_object_get(a, "service")),
                            "value",    value,
                            "expected", expected,
                            "lower",    lower,
                            "upper",    upper,
                            "z",        z,
                            "score",    score,
                            "detector", json_string_value(json_object_get(a, "detector")),
                            "ts",       ts,
                            "sample",   json_string_value(json_object_get(a, "sample"))};
    (*pending)++;
    if (tn_streams_xadd(e->streams, tn_streams_key(e->streams, TN_STREAM_ANOMALIES), fields, 13,
                        step, arg)) {
        (*pending)--;
        tn_log_warn("pipeline", "anomaly not written: redis unavailable");
    }
    free(labels);
    (*pending)++;
    tn_correlate_anomaly(e->correlate, a, step, arg);
}

/* The sample's entity (its label set): a row that completes and is flagged opens an anomaly
 * named after the series that explains it most. */
static void entity_sample(tn_engine_t *e, const tn_sample_view_t *v)
{
    tn_entity_verdict_t ev;
    if (tn_entities_add(e->entities, v->labels, v->labels_len, v->name, v->name_len, v->value,
                        v->ts_ms, &ev)) {
        tn_log_error("pipeline", "out of memory scoring an entity");
        return;
    }
    if (!ev.opened || !ev.top_metric) return;
    tn_metric_inc(e->m.anomalies);
    char key[1024], sid[17];
    int n = snprintf(key, sizeof key, "entity\x1f%.*s", (int)v->labels_len, v->labels);
    snprintf(sid, sizeof sid, "%016llx",
             (unsigned long long)tn_hash64(key, n > 0 && (size_t)n < sizeof key ? (size_t)n : 0));
    json_t *lab = json_loadb(v->labels, v->labels_len, 0, NULL);
    if (!json_is_object(lab)) {
        json_decref(lab);
        lab = json_object();
    }
    json_t *svc = json_object_get(lab, "service");
    int dist = !strcmp(ev.by, "mahalanobis");
    double expected = isnan(ev.top_expected) ? ev.top_value : ev.top_expected;
    double sd = isnan(ev.top_sd) ? 0 : ev.top_sd;
    json_t *a = json_pack("{s:s, s:s, s:O, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:I, s:s}",
                          "sid", sid, "metric", ev.top_metric, "labels", lab, "service",
                          json_is_string(svc) ? json_string_value(svc) : "", "value", ev.top_value,
                          "expected", expected, "stddev", sd, "lower", expected - 4 * sd, "upper",
                          expected + 4 * sd, "z", dist ? ev.distance_z : 0.0, "score",
                          dist ? erf(ev.distance_z / M_SQRT2) : ev.score, "detector",
                          dist ? "entity_mahalanobis" : "entity_iforest", "ts",
                          (json_int_t)ev.ts_ms, "sample", e->batch_entry_id);
    json_decref(lab);
    if (!a) {
        tn_log_error("pipeline", "out of memory building an anomaly");
        return;
    }
    tn_log_info("detect",
                "entity %.*s: its %u series together are unusual (%s: %s %.4g, forest score "
                "%.3f, distance z %.1f); %s explains %.0f%%",
                (int)v->labels_len, v->labels, ev.ncols, ev.by, ev.top_metric, ev.top_value,
                ev.score, ev.distance_z, ev.top_metric, 100 * ev.top_share);
    tn_engine__publish_anomaly(e, a, &e->batch_pending, batch_step, e);
    json_decref(a);
}

static void handle_sample(const tn_sample_view_t *v, void *arg)
{
    tn_engine_t *e = arg;
    char sid[17];
    if (v->sid_len != 16) return;
    memcpy(sid, v->sid, 16);
    sid[16] = '\0';
    tn_verdict_t vd;
    if (tn_detector_score_labeled(e->detector, sid, v->name, v->name_len, v->labels, v->labels_len,
                                  v->value, v->ts_ms, &vd)) {
        tn_log_error("pipeline", "out of memory scoring %s", sid);
        return;
    }
    tn_metric_inc(e->m.samples_scored);
    if (e->recent && vd.kind != TN_VERDICT_SKIPPED &&
        tn_recent_add(e->recent, sid, v->name, v->name_len, v->labels, v->labels_len, v->ts_ms,
                      v->value, vd.kind == TN_VERDICT_WARMUP ? NAN : vd.expected,
                      vd.kind == TN_VERDICT_WARMUP ? NAN : vd.lower,
                      vd.kind == TN_VERDICT_WARMUP ? NAN : vd.upper, vd.score,
                      vd.kind == TN_VERDICT_ANOMALY))
        tn_log_warn("pipeline", "out of memory: %s not charted", sid);
    if (e->rollup)
        tn_rollup_add(e->rollup, sid, v->name, v->name_len, v->labels, v->labels_len, v->value,
                      v->ts_ms);
    if (e->entities) entity_sample(e, v);
    if (!vd.opened) return;
    tn_metric_inc(e->m.anomalies);

    json_t *lab = json_loadb(v->labels, v->labels_len, 0, NULL);
    if (!json_is_object(lab)) {
        json_decref(lab);
        lab = json_object();
    }
    json_t *svc = json_object_get(lab, "service");
    json_t *a = json_pack("{s:s, s:s%, s:O, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:I, s:s}",
                          "sid", sid, "metric", v->name, v->name_len, "labels", lab, "service",
                          json_is_string(svc) ? json_string_value(svc) : "", "value", v->value,
                          "expected", vd.expected, "stddev", vd.stddev, "lower", vd.lower, "upper",
                          vd.upper, "z", vd.z, "score", vd.score, "detector", vd.detector, "ts",
                          (json_int_t)v->ts_ms, "sample", e->batch_entry_id);
    json_decref(lab);
    if (!a) {
        tn_log_error("pipeline", "out of memory building an anomaly");
        return;
    }
    tn_log_info("detect",
                "anomaly on %.*s%.*s: value %.6g, expected %.6g (band %.6g..%.6g), z=%+.1f, "
                "score %.4f",
                (int)v->name_len, v->name, (int)v->labels_len, v->labels, v->value, vd.expected,
                vd.lower, vd.upper, vd.z, vd.score);
    tn_engine__publish_anomaly(e, a, &e->batch_pending, batch_step, e);
    json_decref(a);
}

void tn_engine__score_sample(tn_engine_t *e, const tn_sample_view_t *v)
{
    handle_sample(v, e);
}

static void handle_entry(tn_engine_t *e, batch_t *b, const tn_entry_t *en)
{
    (void)b;
    e->batch_entry_id = en->id;
    if (tn_streams_decode_samples(en->nfields, en->names, en->values, en->value_lens, handle_sample,
                                  e) < 0)
        tn_log_warn("pipeline", "malformed sample entry %s in %s: skipped", en->id, en->stream);
}

/* A batch's samples, put in time order before scoring: the partitions are read together but each
 * is read as it comes, so a backlog arrives partition by partition; in time order the samples
 * that one scrape or collection took at the same instant (the rows of an entity) come together.
 * The order of each series is kept (ties keep their order, and each series is in one
 * partition). The buffers are kept from batch to batch (tn_engine__batch_free). */
typedef struct {
    int64_t ts;
    uint32_t idx;
} order_t;

typedef struct {
    tn_engine_t *e;
    const char *entry_id;
    int oom;
} collect_t;

static void collect(const tn_sample_view_t *v, void *arg)
{
    collect_t *c = arg;
    tn_engine_t *e = c->e;
    if (c->oom) return;
    if (e->sq_n == e->sq_cap) {
        size_t cap = e->sq_cap ? e->sq_cap * 2 : 4096;
        tn_sample_view_t *q = realloc(e->sq_views, cap * sizeof *q);
        if (q) e->sq_views = q;
        const char **ids = q ? realloc(e->sq_ids, cap * sizeof *ids) : NULL;
        if (ids) e->sq_ids = ids;
        order_t *o = ids ? realloc(e->sq_order, cap * sizeof *o) : NULL;
        if (!o) {
            c->oom = 1;
            return;
        }
        e->sq_order = o;
        e->sq_cap = cap;
    }
    size_t n = e->sq_n++;
    e->sq_views[n] = *v;
    e->sq_ids[n] = c->entry_id;
    ((order_t *)e->sq_order)[n] = (order_t){v->ts_ms, (uint32_t)n};
}

static int by_time(const void *a, const void *b)
{
    const order_t *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void tn_engine__batch_free(tn_engine_t *e)
{
    free(e->sq_views);
    free(e->sq_ids);
    free(e->sq_order);
    e->sq_views = NULL;
    e->sq_ids = NULL;
    e->sq_order = NULL;
    e->sq_n = e->sq_cap = 0;
}

void tn_engine__on_batch(tn_reader_t *rd, const tn_entry_t *entries, size_t n, void *arg)
{
    (void)rd;
    tn_engine_t *e = arg;
    e->batch_pending = 1; /* guard */
    collect_t c = {.e = e};
    e->sq_n = 0;
    for (size_t i = 0; i < n && !c.oom; i++) {
        c.entry_id = entries[i].id;
        if (tn_streams_decode_samples(entries[i].nfields, entries[i].names, entries[i].values,
                                      entries[i].value_lens, collect, &c) < 0)
            tn_log_warn("pipeline", "malformed sample entry %s in %s: skipped", entries[i].id,
                        entries[i].stream);
    }
    if (c.oom || e->sq_n > UINT32_MAX) { /* no memory to order them: score them as they came */
        tn_log_warn("pipeline", "out of memory ordering a batch of samples; scoring it unordered");
        for (size_t i = 0; i < n; i++)
            handle_entry(e, e, &entries[i]);
    } else {
        order_t *o = e->sq_order;
        int sorted = 1;
        for (size_t i = 1; i < e->sq_n && sorted; i++)
            sorted = o[i - 1].ts <= o[i].ts;
        if (!sorted) qsort(o, e->sq_n, sizeof *o, by_time);
        for (size_t i = 0; i < e->sq_n; i++) {
            e->batch_entry_id = e->sq_ids[o[i].idx];
            handle_sample(&e->sq_views[o[i].idx], e);
        }
    }
    if (e->sq_cap > (1u << 20)) tn_engine__batch_free(e); /* an unusually large batch */
    batch_step(0, e);
}

void tn_engine__start_runbook(void *arg, const char *runbook, const json_t *params,
                              const json_t *incident, const char *origin)
{
    tn_engine_t *e = arg;
    if (!e->automate) return;
    int rc = tn_automate_start(e->automate, runbook, params, incident, origin, NULL);
    if (rc && rc != TN_ENOTFOUND && rc != TN_EBUSY && rc != TN_EINVAL) /* those are logged */
        tn_log_error("pipeline", "runbook %s not started: %s", runbook, tn_strerror(rc));
}
