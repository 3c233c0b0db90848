#include "correlate/incidents.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tn_incidents {
    tn_streams_t *streams;
    tn_hmap_t by_fp;       /* fingerprint -> incident (open ones) */
    tn_hmap_t resolved_fp; /* fingerprint -> the latest resolved incident with it */
    tn_hmap_t by_id;       /* id -> incident */
    unsigned seq;
    tn_metric_t *m_opened, *m_attached, *m_reopened, *m_auto_resolved;
};

typedef struct {
    unsigned pending;
    int err;
    tn_incidents_cb cb;
    void *arg;
} wr_t;

tn_incidents_t *tn_incidents_create(tn_streams_t *streams)
{
    tn_incidents_t *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->streams = streams;
    tn_hmap_init(&in->by_fp);
    tn_hmap_init(&in->resolved_fp);
    tn_hmap_init(&in->by_id);
    in->m_opened = tn_metrics_counter("tocsin_incidents_opened_total", NULL, "Incidents opened.");
    in->m_attached = tn_metrics_counter("tocsin_incident_alerts_attached_total", NULL,
                                        "Alerts attached to an already open incident.");
    in->m_reopened = tn_metrics_counter("tocsin_incidents_reopened_total", NULL,
                                        "Resolved incidents reopened by a new alert.");
    in->m_auto_resolved = tn_metrics_counter("tocsin_incidents_auto_resolved_total", NULL,
                                             "Incidents resolved because their signals cleared.");
    return in;
}

static void incident_free(tn_incident_t *inc)
{
    free(inc->fingerprint);
    free(inc->title);
    free(inc->service);
    free(inc->severity);
    free(inc->state);
    free(inc->rca);
    free(inc);
}

void tn_incidents_destroy(tn_incidents_t *in)
{
    if (!in) return;
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&in->by_id, &it, NULL, &v))
        incident_free(v);
    tn_hmap_deinit(&in->by_id);
    tn_hmap_deinit(&in->by_fp);
    tn_hmap_deinit(&in->resolved_fp);
    free(in);
}

size_t tn_incidents_open_count(const tn_incidents_t *in)
{
    return in->by_fp.len;
}

tn_incident_t *tn_incidents_find(tn_incidents_t *in, const char *fingerprint)
{
    return tn_hmap_get(&in->by_fp, fingerprint);
}

tn_incident_t *tn_incidents_get(tn_incidents_t *in, const char *id)
{
    return tn_hmap_get(&in->by_id, id);
}

static json_t *ms_or_null(int64_t v)
{
    return v ? json_integer((json_int_t)v) : json_null();
}

static json_t *span_or_null(int64_t from, int64_t to)
{
    return from && to ? json_integer((json_int_t)(to - from)) : json_null();
}

json_t *tn_incident_to_json(const tn_incident_t *inc)
{
    json_t *rca = inc->rca ? json_loads(inc->rca, 0, NULL) : NULL;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:I, s:i, s:i, "
        "s:o, s:o, s:o}",
        "id", inc->id, "fingerprint", inc->fingerprint, "title", inc->title, "service",
        inc->service, "severity", inc->severity, "state", inc->state, "started_ms",
        ms_or_null(inc->started_ms), "opened_ms", (json_int_t)inc->opened_ms, "acknowledged_ms",
        ms_or_null(inc->acknowledged_ms), "mitigated_ms", ms_or_null(inc->mitigated_ms),
        "resolved_ms", ms_or_null(inc->resolved_ms), "updated_ms", (json_int_t)inc->updated_ms,
        "alerts", (int)inc->alerts, "reopened", (int)inc->reopened, "time_to_detect_ms",
        span_or_null(inc->started_ms, inc->opened_ms), "time_to_acknowledge_ms",
        span_or_null(inc->opened_ms, inc->acknowledged_ms), "time_to_resolve_ms",
        span_or_null(inc->started_ms ? inc->started_ms : inc->opened_ms, inc->resolved_ms));
    if (o)
        json_object_set_new(o, "rca", rca ? rca : json_array());
    else
        json_decref(rca);
    return o;
}

int tn_incidents_list_json(tn_incidents_t *in, tn_buf_t *out)
{
    json_t *arr = json_array();
    if (!arr) return TN_ENOMEM;
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&in->by_id, &it, NULL, &v))
        json_array_append_new(arr, tn_incident_to_json(v));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!s) return TN_ENOMEM;
    int rc = tn_buf_puts(out, s);
    free(s);
    return rc;
}

static void on_written(int err, void *arg)
{
    wr_t *w = arg;
    if (err && !w->err) w->err = err;
    if (--w->pending == 0) {
        if (w->err) tn_log_warn("correlate", "incident write failed: %s", tn_strerror(w->err));
        if (w->cb) w->cb(w->err, w->arg);
        free(w);
    }
}

/* Writes the incident's event (incidents stream and its own timeline) and hash. */
static int write_change(tn_incidents_t *in, tn_incident_t *inc, const char *event,
                        const json_t *alert, const char *by, const char *note, tn_incidents_cb cb,
                        void *arg)
{
    wr_t *w = calloc(1, sizeof *w);
    if (!w) return TN_ENOMEM;
    w->cb = cb;
    w->arg = arg;
    w->pending = 1; /* guard */
    char ts[24], alerts[16];
    snprintf(ts, sizeof ts, "%lld", (long long)inc->updated_ms);
    snprintf(alerts, sizeof alerts, "%u", inc->alerts);
    char *alert_text = alert ? json_dumps(alert, JSON_COMPACT) : NULL;
    const char *fields[] = {"event",    event,
                            "incident", inc->id,
                            "title",    inc->title,
                            "service",  inc->service,
                            "severity", inc->severity,
                            "state",    inc->state,
                            "alerts",   alerts,
                            "ts",       ts,
                            "alert",    alert_text ? alert_text : "{}",
                            "by",       by ? by : "",
                            "note",     note ? note : ""};
    w->pending++;
    if (tn_streams_xadd(in->streams, tn_streams_key(in->streams, TN_STREAM_INCIDENTS), fields, 11,
                        on_written, w))
        w->pending--, w->err = TN_ECLOSED;
    char key[160];
    snprintf(key, sizeof key, "%s:incident:%s:timeline", tn_streams_prefix(in->streams), inc->id);
    const char *tl[] = {"event", event,        "state", inc->state,
                        "by",    by ? by : "", "note",  note ? note : "",
                        "ts",    ts,           "alert", alert_text ? alert_text : "{}"};
    w->pending++;
    if (tn_streams_xadd(in->streams, key, tl, 6, on_written, w)) w->pending--, w->err = TN_ECLOSED;
    free(alert_text);

    char opened[24], started[24], acked[24], mitig[24], resolved[24], reopened[16];
    snprintf(key, sizeof key, "%s:incident:%s", tn_streams_prefix(in->streams), inc->id);
    snprintf(opened, sizeof opened, "%lld", (long long)inc->opened_ms);
    snprintf(started, sizeof started, "%lld", (long long)inc->started_ms);
    snprintf(acked, sizeof acked, "%lld", (long long)inc->acknowledged_ms);
    snprintf(mitig, sizeof mitig, "%lld", (long long)inc->mitigated_ms);
    snprintf(resolved, sizeof resolved, "%lld", (long long)inc->resolved_ms);
    snprintf(reopened, sizeof reopened, "%u", inc->reopened);
    const char *argv[] = {"HSET",
                          key,
                          "id",
                          inc->id,
                          "title",
                          inc->title,
                          "service",
                          inc->service,
                          "severity",
                          inc->severity,
                          "state",
                          inc->state,
                          "alerts",
                          alerts,
                          "opened_ms",
                          opened,
                          "updated_ms",
                          ts,
                          "fingerprint",
                          inc->fingerprint,
                          "started_ms",
                          started,
                          "acknowledged_ms",
                          acked,
                          "mitigated_ms",
                          mitig,
                          "resolved_ms",
                          resolved,
                          "reopened",
                          reopened};
    w->pending++;
    if (tn_streams_cmd(in->streams, (int)(sizeof argv / sizeof argv[0]), argv, on_written, w))
        w->pending--, w->err = TN_ECLOSED;
    if (w->pending == 1 && w->err) { /* nothing sent */
        free(w);
        return TN_ECLOSED;
    }
    on_written(0, w); /* drop the guard */
    return 0;
}

/* The in-memory change stands even when Redis is unreachable: the failure is logged and
 * reported to cb at once. */
static int write_or_report(tn_incidents_t *in, tn_incident_t *inc, const char *event,
                           const json_t *alert, const char *by, const char *note,
                           tn_incidents_cb cb, void *arg)
{
    int rc = write_change(in, inc, event, alert, by, note, cb, arg);
    if (rc == 0) return 0;
    tn_log_warn("correlate", "incident %s %s, but it could not be written to redis: %s", inc->id,
                event, tn_strerror(rc));
    if (cb) cb(rc, arg);
    return 0;
}

int tn_incidents_open(tn_incidents_t *in, const tn_incident_open_t *req, tn_incident_t **out,
                      int *created, tn_incidents_cb cb, void *arg)
{
    if (!req->fingerprint || !*req->fingerprint || !req->title) return TN_EINVAL;
    tn_incident_t *inc = tn_hmap_get(&in->by_fp, req->fingerprint);
    *created = 0;
    json_t *ats = req->alert ? json_object_get(req->alert, "ts") : NULL;
    int64_t alert_ms = json_is_integer(ats) ? (int64_t)json_integer_value(ats) : 0;
    if (!inc && req->reopen_window_ms > 0) { /* flapping: a recent resolved one comes back */
        tn_incident_t *r = tn_hmap_get(&in->resolved_fp, req->fingerprint);
        if (r && r->resolved_ms && req->now_ms - r->resolved_ms <= req->reopen_window_ms &&
            tn_hmap_put(&in->by_fp, r->fingerprint, r, NULL) == 0) {
            tn_hmap_del(&in->resolved_fp, r->fingerprint);
            char *st = strdup("open");
            if (st) free(r->state), r->state = st;
            r->resolved_ms = 0;
            r->reopened++;
            r->alerts++;
            r->updated_ms = r->last_alert_ms = req->now_ms;
            tn_metric_inc(in->m_reopened);
            tn_log_info("correlate", "incident %s reopened by a new alert (%u time(s))", r->id,
                        r->reopened);
            *created = 2;
            *out = r;
            return write_or_report(in, r, "reopened", req->alert, "tocsin", NULL, cb, arg);
        }
    }
    if (inc) {
        inc->alerts++;
        inc->updated_ms = inc->last_alert_ms = req->now_ms;
        if (alert_ms > 0 && (!inc->started_ms || alert_ms < inc->started_ms))
            inc->started_ms = alert_ms;
        tn_metric_inc(in->m_attached);
        *out = inc;
        return write_or_report(in, inc, "alert_attached", req->alert, NULL, NULL, cb, arg);
    }
    inc = calloc(1, sizeof *inc);
    if (!inc) return TN_ENOMEM;
    snprintf(inc->id, sizeof inc->id, "INC-%lld-%u", (long long)req->now_ms, ++in->seq);
    inc->fingerprint = strdup(req->fingerprint);
    inc->title = strdup(req->title);
    inc->service = strdup(req->service ? req->service : "");
    inc->severity = strdup(req->severity ? req->severity : "warning");
    inc->state = strdup("open");
    inc->opened_ms = inc->updated_ms = inc->last_alert_ms = req->now_ms;
    inc->started_ms = alert_ms > 0 && alert_ms <= req->now_ms ? alert_ms : req->now_ms;
    inc->alerts = 1;
    if (!inc->fingerprint || !inc->title || !inc->service || !inc->severity || !inc->state ||
        tn_hmap_put(&in->by_id, inc->id, inc, NULL)) {
        incident_free(inc);
        return TN_ENOMEM;
    }
    if (tn_hmap_put(&in->by_fp, inc->fingerprint, inc, NULL)) {
        tn_hmap_del(&in->by_id, inc->id);
        incident_free(inc);
        return TN_ENOMEM;
    }
    *created = 1;
    *out = inc;
    tn_metric_inc(in->m_opened);
    tn_log_info("correlate", "incident %s opened: %s (service %s, severity %s)", inc->id,
                inc->title, *inc->service ? inc->service : "-", inc->severity);
    return write_or_report(in, inc, "opened", req->alert, NULL, NULL, cb, arg);
}

static int state_rank(const char *s)
{
    static const char *const states[] = {"open", "acknowledged", "mitigated", "resolved"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, states[i])) return i;
    return -1;
}

/* Moves a resolved incident out of the open set (or back into it). */
static int set_resolved(tn_incidents_t *in, tn_incident_t *inc, int resolved)
{
    if (resolved) {
        tn_hmap_del(&in->by_fp, inc->fingerprint);
        tn_incident_t *old = tn_hmap_get(&in->resolved_fp, inc->fingerprint);
        (void)old; /* an older resolved one with this fingerprint is replaced (still in by_id) */
        return tn_hmap_put(&in->resolved_fp, inc->fingerprint, inc, NULL);
    }
    if (tn_hmap_get(&in->by_fp, inc->fingerprint)) return TN_EINVAL; /* another one is open */
    int rc = tn_hmap_put(&in->by_fp, inc->fingerprint, inc, NULL);
    if (!rc && tn_hmap_get(&in->resolved_fp, inc->fingerprint) == inc)
        tn_hmap_del(&in->resolved_fp, inc->fingerprint);
    return rc;
}

int tn_incidents_set_state(tn_incidents_t *in, const char *id, const char *state, const char *by,
                           const char *note, int64_t now_ms, tn_incident_t **out, const char **why,
                           tn_incidents_cb cb, void *arg)
{
    const char *reason = NULL;
    tn_incident_t *inc = tn_hmap_get(&in->by_id, id);
    if (!inc) return TN_ENOTFOUND;
    int from = state_rank(inc->state), to = state_rank(state);
    if (to < 0)
        reason = "unknown state (open, acknowledged, mitigated or resolved)";
    else if (to == from)
        reason = "the incident is already in that state";
    else if (from == 3 && to != 0)
        reason = "a resolved incident can only be reopened (state open)";
    else if (to == 0 && from != 3)
        reason = "only a resolved incident can be reopened";
    else if (to < from && !(from == 2 && to == 1))
        reason = "an incident does not go back (except mitigated -> acknowledged)";
    if (!reason && (to == 3 || from == 3) && set_resolved(in, inc, to == 3))
        reason = "another open incident has the same fingerprint";
    if (reason) {
        if (why) *why = reason;
        return TN_EINVAL;
    }
    char *st = strdup(state);
    if (!st) return TN_ENOMEM;
    free(inc->state);
    inc->state = st;
    inc->updated_ms = now_ms;
    const char *event = state;
    if (to == 1 && !inc->acknowledged_ms) inc->acknowledged_ms = now_ms;
    if (to == 2 && !inc->mitigated_ms) inc->mitigated_ms = now_ms;
    if (to == 3) inc->resolved_ms = now_ms;
    if (to == 0) {
        inc->resolved_ms = 0;
        inc->reopened++;
        inc->last_alert_ms = now_ms;
        event = "reopened";
    }
    tn_log_info("correlate", "incident %s %s by %s%s%s", inc->id, event, by && *by ? by : "-",
                note && *note ? ": " : "", note && *note ? note : "");
    if (out) *out = inc;
    return write_or_report(in, inc, event, NULL, by, note, cb, arg);
}

int tn_incidents_set_rca(tn_incidents_t *in, const char *id, const json_t *rca, int64_t now_ms)
{
    tn_incident_t *inc = tn_hmap_get(&in->by_id, id);
    if (!inc) return TN_ENOTFOUND;
    if (!json_is_array(rca)) return TN_EINVAL;
    char *text = json_dumps(rca, JSON_COMPACT);
    if (!text) return TN_ENOMEM;
    /* the timeline notes a change of the leading candidate only */
    const char *lead = json_string_value(json_object_get(json_array_get(rca, 0), "service"));
    json_t *prev = inc->rca ? json_loads(inc->rca, 0, NULL) : NULL;
    const char *plead = json_string_value(json_object_get(json_array_get(prev, 0), "service"));
    int changed = lead && (!plead || strcmp(lead, plead));
    char note[200] = "";
    if (changed) snprintf(note, sizeof note, "probable root cause: %.150s", lead);
    json_decref(prev);
    free(inc->rca);
    inc->rca = text;
    char key[160];
    snprintf(key, sizeof key, "%s:incident:%s", tn_streams_prefix(in->streams), inc->id);
    const char *argv[] = {"HSET", key, "rca", text};
    tn_streams_cmd(in->streams, 4, argv, NULL, NULL);
    if (!changed) return 0;
    inc->updated_ms = now_ms;
    return write_or_report(in, inc, "rca", NULL, "tocsin", note, NULL, NULL);
}

int tn_incidents_annotate(tn_incidents_t *in, const char *id, const char *by, const char *note,
                          int64_t now_ms, tn_incidents_cb cb, void *arg)
{
    tn_incident_t *inc = tn_hmap_get(&in->by_id, id);
    if (!inc) return TN_ENOTFOUND;
    inc->updated_ms = now_ms;
    return write_or_report(in, inc, "note", NULL, by, note, cb, arg);
}

size_t tn_incidents_expire(tn_incidents_t *in, int64_t now_ms, int64_t quiet_ms,
                           int64_t reopen_window_ms)
{
    size_t resolved = 0, it = 0;
    void *v;
    tn_incident_t *quiet[64];
    size_t nq = 0;
    while (nq < 64 && tn_hmap_next(&in->by_fp, &it, NULL, &v)) { /* collect, then change */
        tn_incident_t *inc = v;
        if (quiet_ms > 0 && now_ms - inc->last_alert_ms >= quiet_ms) quiet[nq++] = inc;
    }
    for (size_t i = 0; i < nq; i++) {
        char note[96];
        snprintf(note, sizeof note, "no new alert for %lld s: its signals cleared",
                 (long long)(quiet_ms / 1000));
        if (tn_incidents_set_state(in, quiet[i]->id, "resolved", "tocsin", note, now_ms, NULL, NULL,
                                   NULL, NULL) == 0) {
            tn_metric_inc(in->m_auto_resolved);
            resolved++;
        }
    }
    /* forget resolved incidents past the reopen window (Redis keeps them) */
    tn_incident_t *old[64];
    size_t no = 0;
    it = 0;
    while (no < 64 && tn_hmap_next(&in->by_id, &it, NULL, &v)) {
        tn_incident_t *inc = v;
        if (inc->resolved_ms && now_ms - inc->resolved_ms > reopen_window_ms) old[no++] = inc;
    }
    for (size_t i = 0; i < no; i++) {
        if (tn_hmap_get(&in->resolved_fp, old[i]->fingerprint) == old[i])
            tn_hmap_del(&in->resolved_fp, old[i]->fingerprint);
        tn_hmap_del(&in->by_id, old[i]->id);
        incident_free(old[i]);
    }
    return resolved;
}
