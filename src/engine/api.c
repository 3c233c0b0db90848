/* api.c - the engine's own HTTP routes: health, metrics and the JSON API. */
#include "engine/engine_internal.h"
#include "automate/approval.h"
#include "chatops/args.h"
#include "chatops/endpoints.h"
#include "core/error.h"
#include "core/log.h"
#include "web/web.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void h_healthz(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    int up = e->redis && tn_redis_is_up(e->redis);
    tn_buf_t b;
    tn_buf_init(&b);
    tn_buf_printf(&b,
                  "{\"status\":\"ok\",\"version\":\"%s\",\"redis\":\"%s\",\"uptime_s\":%lld,"
                  "\"rules\":%u,\"runbooks\":%u,\"runs_in_progress\":%u}",
                  TN_VERSION, up ? "up" : "down", (long long)((tn_now_ms() - e->started_ms) / 1000),
                  e->correlate ? tn_correlate_rule_count(e->correlate) : 0,
                  e->automate ? tn_automate_runbook_count(e->automate) : 0,
                  e->automate ? tn_automate_running(e->automate) : 0);
    if (b.data)
        tn_http_respond(req, 200, NULL, b.data, b.len);
    else
        tn_http_respond_error(req, 500, "internal", "out of memory");
    tn_buf_deinit(&b);
}

/* Ready to take traffic: Redis reachable. */
static void h_readyz(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    if (e->redis && tn_redis_is_up(e->redis)) {
        tn_http_respond(req, 200, NULL, "{\"ready\":true}", 14);
    } else {
        tn_http_resp_header(req, "Retry-After", "1");
        tn_http_respond_error(req, 503, "unavailable", "redis is not connected");
    }
}

/* One tocsin_anomaly_score line: the series id, its metric and service. */
static void score_line(const char *sid, const char *metric, const char *labels, double score,
                       void *arg)
{
    tn_buf_t *b = arg;
    json_t *l = json_loads(labels, 0, NULL);
    const char *svc = json_string_value(json_object_get(l, "service"));
    tn_buf_printf(b, "tocsin_anomaly_score{sid=\"%s\",metric=\"", sid);
    tn_metrics_label_value(b, metric);
    tn_buf_puts(b, "\",service=\"");
    tn_metrics_label_value(b, svc ? svc : "");
    tn_buf_printf(b, "\"} %.6g\n", score);
    json_decref(l);
}

static void h_metrics(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    tn_metric_set(e->m.uptime, (double)(tn_now_ms() - e->started_ms) / 1000.0);
    if (e->automate) tn_metric_set(e->m.runs_running, tn_automate_running(e->automate));
    if (e->correlate)
        tn_metric_set(e->m.incidents_open,
                      (double)tn_incidents_open_count(tn_correlate_incidents(e->correlate)));
    if (e->detector) {
        tn_metric_set(e->m.series, (double)tn_detector_series_count(e->detector));
        /* the detector's hygiene counts, read at scrape time */
        tn_detector_stats_t st;
        tn_detector_stats(e->detector, &st);
        static const char *const help = "Samples detect did not score, by reason.";
        static const struct {
            const char *reason;
            size_t off;
        } reasons[] = {{"nan", offsetof(tn_detector_stats_t, nan)},
                       {"inf", offsetof(tn_detector_stats_t, inf)},
                       {"out_of_order", offsetof(tn_detector_stats_t, out_of_order)},
                       {"duplicate", offsetof(tn_detector_stats_t, duplicate)},
                       {"untracked_series", offsetof(tn_detector_stats_t, untracked)}};
        for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
            char lab[64];
            snprintf(lab, sizeof lab, "reason=\"%s\"", reasons[i].reason);
            tn_metric_set(
                tn_metrics_counter("tocsin_detect_skipped_total", lab, help),
                (double)*(const uint64_t *)(const void *)((const char *)&st + reasons[i].off));
        }
        tn_metric_set(tn_metrics_counter("tocsin_detect_repeated_timestamps_total", NULL,
                                         "Samples with their series' last timestamp and a new "
                                         "value (scored)."),
                      (double)st.dup_ts);
        tn_metric_set(tn_metrics_counter("tocsin_detect_gaps_total", NULL,
                                         "Gaps in series (a step over gap_factor typical steps)."),
                      (double)st.gaps);
        tn_metric_set(tn_metrics_counter("tocsin_detect_policy_resets_total", NULL,
                                         "Series restarted because a new policy changed their "
                                         "detectors."),
                      (double)st.resets);
    }
    if (e->entities)
        tn_metric_set(tn_metrics_gauge("tocsin_detect_entities", NULL,
                                       "Entities (label sets with two series or more) scored "
                                       "together."),
                      (double)tn_entities_count(e->entities));
    if (e->redis) tn_metric_set(e->m.redis_latency, tn_redis_last_latency_ms(e->redis) / 1e3);
    tn_approvals_t *ap = e->automate ? tn_automate_approvals(e->automate) : NULL;
    tn_metric_set(tn_metrics_gauge("tocsin_approvals_pending", NULL,
                                   "Runbook runs waiting for a person's approval."),
                  ap ? (double)tn_approvals_pending(ap) : 0);
    tn_metric_set(tn_metrics_gauge("tocsin_silences_active", NULL, "Active silences."),
                  e->silences ? (double)tn_silences_active(e->silences, tn_now_ms()) : 0);
    tn_metric_set(tn_metrics_gauge("tocsin_chart_series", NULL,
                                   "Series whose latest points are kept for charts."),
                  e->recent ? (double)tn_recent_tracked(e->recent) : 0);
    if (e->ingest) tn_metric_set(e->m.ingest_inflight, (double)tn_ingest_inflight(e->ingest));
    tn_buf_t b;
    tn_buf_init(&b);
    if (tn_metrics_render(&b)) {
        tn_buf_deinit(&b);
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    if (e->cfg->metrics.anomaly_scores && e->recent) { /* opt-in, bounded: not registered */
        tn_buf_puts(&b, "# HELP tocsin_anomaly_score The latest anomaly score (0..1) of the "
                        "series scoring highest (metrics.anomaly_series_max of them).\n"
                        "# TYPE tocsin_anomaly_score gauge\n");
        tn_recent_top(e->recent, (size_t)e->cfg->metrics.anomaly_series_max, score_line, &b);
    }
    if (!b.data) {
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    size_t len = b.len;
    tn_http_respond_owned(req, 200, "text/plain; version=0.0.4; charset=utf-8", tn_buf_steal(&b),
                          len);
}

static void h_incidents(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    tn_buf_t b;
    tn_buf_init(&b);
    if (!e->correlate || tn_incidents_list_json(tn_correlate_incidents(e->correlate), &b)) {
        tn_buf_deinit(&b);
        tn_http_respond_error(req, 503, "unavailable", "the engine is not ready");
        return;
    }
    size_t len = b.len;
    tn_http_respond_owned(req, 200, NULL, tn_buf_steal(&b), len);
}

/* GET /api/v1/incidents/ID: the incident with its members ("alerts"), transitions and its
 * timeline from Redis (<prefix>:incident:<id>:timeline, the latest 500 entries). */
typedef struct {
    tn_http_req_t *req;
    json_t *inc;
    int gone;
} inc_get_t;

static void inc_gone(tn_http_req_t *req, void *arg)
{
    (void)req;
    ((inc_get_t *)arg)->gone = 1;
}

static void inc_answer(inc_get_t *g, json_t *timeline)
{
    json_object_set_new(g->inc, "timeline", timeline ? timeline : json_array());
    if (g->gone) {
        tn_http_respond(g->req, 200, NULL, "{}", 2); /* discarded: the client is gone */
        json_decref(g->inc);
    } else {
        tn_http_respond_json(g->req, 200, g->inc);
    }
    free(g);
}

static void on_timeline(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    (void)r;
    inc_get_t *g = arg;
    json_t *tl = json_array();
    for (size_t i = 0; tl && !err && rep && i < tn_reply_len(rep); i++) {
        const tn_redis_reply_t *ent = tn_reply_elem(rep, i);
        const tn_redis_reply_t *kv = tn_reply_elem(ent, 1);
        json_t *o = json_object();
        for (size_t k = 0; o && kv && k + 1 < tn_reply_len(kv); k += 2) {
            size_t kl, vl;
            const char *key = tn_reply_str(tn_reply_elem(kv, k), &kl);
            const char *val = tn_reply_str(tn_reply_elem(kv, k + 1), &vl);
            if (!key || !val) continue;
            json_t *v = NULL;
            if (!strcmp(key, "ts"))
                v = json_integer(strtoll(val, NULL, 10));
            else if (!strcmp(key, "alert"))
                v = strcmp(val, "{}") ? json_loadb(val, vl, 0, NULL) : NULL;
            else
                v = json_stringn(val, vl);
            if (v) json_object_set_new(o, key, v);
        }
        if (o) json_array_append_new(tl, o);
    }
    if (err) tn_log_warn("api", "incident timeline not read: %s", tn_strerror(err));
    inc_answer(g, tl);
}

static void h_incident_get(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    const char *id = tn_http_req_path(req) + strlen("/api/v1/incidents/");
    tn_incident_t *inc = e->correlate && *id && strlen(id) < 40
                             ? tn_incidents_get(tn_correlate_incidents(e->correlate), id)
                             : NULL;
    if (!inc) {
        tn_http_respond_error(req, 404, "not_found", "no incident '%.60s' in memory", id);
        return;
    }
    inc_get_t *g = calloc(1, sizeof *g);
    if (!g || !(g->inc = tn_incident_to_json_full(inc))) {
        free(g);
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    g->req = req;
    char key[200];
    snprintf(key, sizeof key, "%s:incident:%s:timeline", tn_streams_prefix(e->streams), inc->id);
    const char *argv[] = {"XRANGE", key, "-", "+", "COUNT", "500"};
    tn_http_req_on_gone(req, inc_gone, g);
    if (!e->redis || tn_redis_cmd_argv(e->redis, on_timeline, g, 0, 6, argv, NULL))
        inc_answer(g, NULL); /* without its timeline: Redis is away */
}

/* GET /api/v1/series/SID: the series' latest points with the detector's expected band. */
static void h_series(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    const char *sid = tn_http_req_path(req) + strlen("/api/v1/series/");
    int missing = 0;
    json_t *o = e->recent ? tn_recent_json(e->recent, sid, &missing) : NULL;
    if (!e->recent || missing) {
        tn_http_respond_error(req, 404, "not_found",
                              e->recent ? "no chart for series '%.40s' (not scored lately, or "
                                          "web.chart_series are all taken)"
                                        : "charts are off (web.chart_series = 0)%.0s",
                              sid);
        return;
    }
    tn_http_respond_json(req, 200, o);
}

/* POST /api/v1/incidents/state {"id", "state", "by", "note"}: acknowledge, mitigate, resolve or
 * reopen an incident; or {"id", "note", "by"} without state: a note on its timeline. */
static void h_incident_state(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        tn_http_respond_error(req, 400, "bad_request", "a JSON object is required (%s)",
                              j ? "not an object" : je.text);
        return;
    }
    json_t *id = json_object_get(j, "id"), *state = json_object_get(j, "state"),
           *by = json_object_get(j, "by"), *note = json_object_get(j, "note");
    if (!json_is_string(id) || (state && !json_is_string(state)) || (by && !json_is_string(by)) ||
        (note && !json_is_string(note)) || (!state && !note)) {
        json_decref(j);
        tn_http_respond_error(req, 400, "bad_request",
                              "fields: id (string), state (acknowledged, mitigated, resolved or "
                              "open), by and note (strings); state or note is required");
        return;
    }
    if (!e->correlate) {
        json_decref(j);
        tn_http_respond_error(req, 503, "unavailable", "the engine is not ready");
        return;
    }
    tn_incidents_t *in = tn_correlate_incidents(e->correlate);
    const char *why = NULL, *who = by ? json_string_value(by) : "api";
    tn_incident_t *inc = NULL;
    int rc = state ? tn_incidents_set_state(in, json_string_value(id), json_string_value(state),
                                            who, note ? json_string_value(note) : NULL, tn_now_ms(),
                                            &inc, &why, NULL, NULL)
                   : tn_incidents_annotate(in, json_string_value(id), who, json_string_value(note),
                                           tn_now_ms(), NULL, NULL);
    if (rc == TN_ENOTFOUND)
        tn_http_respond_error(req, 404, "not_found", "no incident '%s'", json_string_value(id));
    else if (rc == TN_EINVAL)
        tn_http_respond_error(req, 409, "invalid_transition", "%s", why ? why : "invalid state");
    else if (rc)
        tn_http_respond_error(req, 500, "internal", "%s", tn_strerror(rc));
    else {
        if (!inc) inc = tn_incidents_get(in, json_string_value(id));
        tn_http_respond_json(req, 200, inc ? tn_incident_to_json(inc) : NULL);
    }
    json_decref(j);
}

static void h_runs_post(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (!j) {
        tn_http_respond_error(req, 400, "bad_request", "invalid JSON at line %d, column %d: %s",
                              je.line, je.column, je.text);
        return;
    }
    json_t *name = json_object_get(j, "runbook"), *params = json_object_get(j, "params");
    if (!json_is_string(name)) {
        json_decref(j);
        tn_http_respond_error(req, 400, "bad_request", "field 'runbook' (string) is required");
        return;
    }
    if (params && !json_is_object(params)) {
        json_decref(j);
        tn_http_respond_error(req, 400, "bad_request", "field 'params' must be an object");
        return;
    }
    json_t *by = json_object_get(j, "approved_by"), *dry = json_object_get(j, "dry_run");
    if ((by && !json_is_string(by)) || (dry && !json_is_boolean(dry))) {
        json_decref(j);
        tn_http_respond_error(req, 400, "bad_request",
                              "field 'approved_by' must be a string and 'dry_run' a boolean");
        return;
    }
    char run_id[40] = "";
    const char *why = NULL, *status = NULL;
    tn_automate_req_t q = {.name = json_string_value(name),
                           .params = params,
                           .origin = "api",
                           .approved_by = json_string_value(by),
                           .dry_run = json_is_true(dry)};
    int rc =
        e->automate ? tn_automate_start_ex(e->automate, &q, run_id, &why, &status) : TN_ECLOSED;
    if (rc == TN_ENOTFOUND)
        tn_http_respond_error(req, 404, "not_found", "no runbook named '%s'",
                              json_string_value(name));
    else if (rc == TN_EINVAL)
        tn_http_respond_error(req, 400, "bad_params", "%s", why ? why : "bad parameters");
    else if (rc == TN_EBUSY && status && !strcmp(status, "needs_approval"))
        tn_http_respond_error(req, 403, "needs_approval", "%s", why);
    else if (rc == TN_EBUSY)
        tn_http_respond_error(req, 429, status ? status : "refused", "%s",
                              why ? why : "refused by its policy");
    else if (rc)
        tn_http_respond_error(req, 503, "unavailable", "run not started: %s", tn_strerror(rc));
    else {
        char out[96];
        int n = snprintf(out, sizeof out, "{\"run\":\"%s\"}", run_id);
        tn_http_respond(req, 202, NULL, out, (size_t)n);
    }
    json_decref(j);
}

/* GET /api/runs[?limit=N]: the latest runs, newest first, with their steps. */
static void h_runs_get(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    size_t limit = 50;
    const char *q = tn_http_req_query(req);
    const char *l = q ? strstr(q, "limit=") : NULL;
    if (l) {
        char *end;
        unsigned long v = strtoul(l + 6, &end, 10);
        if (end == l + 6 || v == 0 || v > 100000) {
            tn_http_respond_error(req, 400, "bad_request", "limit must be from 1 to 100000");
            return;
        }
        limit = v;
    }
    tn_buf_t b;
    tn_buf_init(&b);
    if (!e->automate || tn_automate_runs_json(e->automate, limit, &b)) {
        tn_buf_deinit(&b);
        tn_http_respond_error(req, 503, "unavailable", "automation is not running");
        return;
    }
    size_t len = b.len;
    tn_http_respond_owned(req, 200, NULL, tn_buf_steal(&b), len);
}

/* GET /api/v1/approvals: the asks waiting for a person. */
static void h_approvals_get(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    tn_approvals_t *ap = e->automate ? tn_automate_approvals(e->automate) : NULL;
    tn_buf_t b;
    tn_buf_init(&b);
    if (!ap || tn_approvals_json(ap, &b)) {
        tn_buf_deinit(&b);
        tn_http_respond_error(req, 503, "unavailable", "automation is not running");
        return;
    }
    size_t len = b.len;
    tn_http_respond_owned(req, 200, NULL, tn_buf_steal(&b), len);
}

/* POST /api/v1/approvals {"id", "decision": "approve"|"deny", "by", "note"} */
static void h_approvals_post(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *dec = json_string_value(json_object_get(j, "decision"));
    const char *by = json_string_value(json_object_get(j, "by"));
    json_t *note = json_object_get(j, "note");
    if (!json_is_object(j) || !id || !dec || (strcmp(dec, "approve") && strcmp(dec, "deny")) ||
        !by || !*by || (note && !json_is_string(note))) {
        json_decref(j);
        tn_http_respond_error(req, 400, "bad_request",
                              "a JSON object is required: id (string), decision (\"approve\" or "
                              "\"deny\"), by (who decides), note (optional string)");
        return;
    }
    tn_approvals_t *ap = e->automate ? tn_automate_approvals(e->automate) : NULL;
    const char *why = NULL;
    int rc =
        ap ? tn_approvals_decide(ap, id, !strcmp(dec, "approve"), by, json_string_value(note), &why)
           : TN_ECLOSED;
    if (rc == TN_ENOTFOUND)
        tn_http_respond_error(req, 404, "not_found", "no pending approval '%s'", id);
    else if (rc == TN_EINVAL)
        tn_http_respond_error(req, 403, "forbidden", "%s may not decide it: %s", by,
                              why ? why : "?");
    else if (rc)
        tn_http_respond_error(req, 503, "unavailable", "automation is not running");
    else {
        const char ok[] = "{\"ok\":true}";
        tn_http_respond(req, 200, NULL, ok, sizeof ok - 1);
    }
    json_decref(j);
}

static void h_scripts(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    tn_buf_t b;
    tn_buf_init(&b);
    if (!e->catalog || tn_catalog_json(e->catalog, &b)) {
        tn_buf_deinit(&b);
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    size_t len = b.len;
    tn_http_respond_owned(req, 200, NULL, tn_buf_steal(&b), len);
}

/* POST /api/reload: reload every rule and runbook now; answers with the catalog. */
static void h_reload(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    int failed = 0;
    tn_log_info("reload", "POST /api/reload from %s", tn_http_req_peer(req));
    tn_engine__reload_all(e, &failed);
    tn_buf_t b;
    tn_buf_init(&b);
    tn_buf_printf(&b, "{\"failed\":%d,\"rules\":%u,\"runbooks\":%u,\"scripts\":", failed,
                  e->correlate ? tn_correlate_rule_count(e->correlate) : 0,
                  e->automate ? tn_automate_runbook_count(e->automate) : 0);
    if (e->catalog) tn_catalog_json(e->catalog, &b);
    tn_buf_puts(&b, "}");
    if (!b.data) {
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    size_t len = b.len;
    tn_http_respond_owned(req, failed ? 422 : 200, NULL, tn_buf_steal(&b), len);
}

static void h_topology(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    tn_buf_t b;
    tn_buf_init(&b);
    if (!e->topology || tn_topology_json(e->topology, &b)) {
        tn_buf_deinit(&b);
        tn_http_respond_error(req, 503, "unavailable", "no topology");
        return;
    }
    size_t len = b.len;
    tn_http_respond_owned(req, 200, NULL, tn_buf_steal(&b), len);
}

/* GET /api/v1/silences: the active silences. */
static void h_silences_get(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    tn_http_respond_json(req, 200, e->silences ? tn_silences_json(e->silences, tn_now_ms()) : NULL);
}

/* POST /api/v1/silences {"matchers", "duration", "by", "comment"} -> {"id"};
 * {"expire": ID} ends one. */
static void h_silences_post(tn_http_req_t *req, void *data)
{
    tn_engine_t *e = data;
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    const char *expire = json_string_value(json_object_get(j, "expire"));
    const char *matchers = json_string_value(json_object_get(j, "matchers"));
    const char *dur = json_string_value(json_object_get(j, "duration"));
    const char *by = json_string_value(json_object_get(j, "by"));
    json_t *comment = json_object_get(j, "comment");
    if (json_is_object(j) && expire) {
        if (tn_silences_expire(e->silences, expire))
            tn_http_respond_error(req, 404, "not_found", "no active silence '%s'", expire);
        else
            tn_http_respond(req, 200, NULL, "{\"ok\":true}", 11);
        json_decref(j);
        return;
    }
    if (!json_is_object(j) || !matchers || !dur || !by || !*by ||
        (comment && !json_is_string(comment))) {
        json_decref(j);
        tn_http_respond_error(req, 400, "bad_request",
                              "a JSON object is required: matchers (e.g. \"service=api\"), "
                              "duration (e.g. \"2h\"), by (who), comment (optional); or expire "
                              "(a silence id)");
        return;
    }
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms;
    char id[32];
    int rc = tn_args_duration(dur, &ms, &err);
    if (!rc)
        rc = tn_silences_add(e->silences, matchers, tn_now_ms(), ms, by, json_string_value(comment),
                             id, &err);
    if (rc == TN_EINVAL)
        tn_http_respond_error(req, 400, "bad_request", "%s", err.data ? err.data : "invalid");
    else if (rc == TN_ETOOBIG)
        tn_http_respond_error(req, 429, "too_many", "%s", err.data ? err.data : "too many");
    else if (rc)
        tn_http_respond_error(req, 500, "internal", "%s", tn_strerror(rc));
    else {
        tn_log_info("chatops", "silence %s (%s for %s) set by %s over the API", id, matchers, dur,
                    by);
        char out[64];
        int n = snprintf(out, sizeof out, "{\"id\":\"%s\"}", id);
        tn_http_respond(req, 201, NULL, out, (size_t)n);
    }
    tn_buf_deinit(&err);
    json_decref(j);
}

int tn_engine__routes(tn_engine_t *e)
{
    int rc = 0;
    rc |= tn_http_server_route(e->http, "GET", "/healthz", h_healthz, e);
    rc |= tn_http_server_route(e->http, "GET", "/readyz", h_readyz, e);
    rc |= tn_http_server_route(e->http, "GET", "/metrics", h_metrics, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/v1/incidents", h_incidents, e);
    rc |= tn_http_server_route(e->http, "POST", "/api/v1/runs", h_runs_post, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/v1/runs", h_runs_get, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/runs", h_runs_get, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/v1/approvals", h_approvals_get, e);
    rc |= tn_http_server_route(e->http, "POST", "/api/v1/approvals", h_approvals_post, e);
    rc |= tn_http_server_route(e->http, "POST", "/api/v1/incidents/state", h_incident_state, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/v1/incidents/*", h_incident_get, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/v1/series/*", h_series, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/scripts", h_scripts, e);
    rc |= tn_http_server_route(e->http, "POST", "/api/reload", h_reload, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/topology", h_topology, e);
    rc |= tn_http_server_route(e->http, "GET", "/api/v1/silences", h_silences_get, e);
    rc |= tn_http_server_route(e->http, "POST", "/api/v1/silences", h_silences_post, e);
    if (e->chatops) rc |= tn_chatops_routes(e->chatops, e->http);
    rc |= tn_ingest_routes(e->ingest, e->http);
    rc |= tn_web_routes(e->http);
    return rc ? TN_ENOMEM : 0;
}
