#include "correlate/incidents.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "correlate/similarity.h"

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
    tn_incidents_change_fn on_change;
    void *on_change_arg;
};

void tn_incidents_on_change(tn_incidents_t *in, tn_incidents_change_fn fn, void *arg)
{
    in->on_change = fn;
    in->on_change_arg = arg;
}

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

static void forget_services(tn_incident_t *inc);

static void member_free(tn_incident_member_t *m)
{
    free(m->id);
    free(m->fp);
    free(m->kind);
    free(m->name);
    free(m->service);
    free(m->severity);
}

static void incident_free(tn_incident_t *inc)
{
    for (size_t i = 0; i < inc->nmembers; i++)
        member_free(&inc->members[i]);
    free(inc->members);
    for (size_t i = 0; i < inc->naliases; i++)
        free(inc->aliases[i]);
    free(inc->aliases);
    forget_services(inc);
    free(inc->services);
    tn_hmap_deinit(&inc->service_set);
    free(inc->trans);
    free(inc->fingerprint);
    free(inc->title);
    free(inc->service);
    free(inc->severity);
    free(inc->state);
    free(inc->rca);
    free(inc);
}

static int is_open(const tn_incident_t *inc)
{
    return strcmp(inc->state, "resolved") && strcmp(inc->state, "merged");
}

static void add_transition(tn_incident_t *inc, const char *state, int64_t now_ms)
{
    if (inc->ntrans >= TN_INCIDENT_MAX_TRANSITIONS) return;
    if (!inc->trans) {
        inc->trans = malloc(TN_INCIDENT_MAX_TRANSITIONS * sizeof *inc->trans);
        if (!inc->trans) return; /* the transitions are a report: losing them is not fatal */
    }
    tn_incident_transition_t *t = &inc->trans[inc->ntrans++];
    snprintf(t->state, sizeof t->state, "%s", state);
    t->ts_ms = now_ms;
}

/* The per-service summary of an incident's members (the values of service_set). */
typedef struct {
    int64_t first_ms; /* its earliest signal's own time */
    int64_t last_ms;  /* its latest signal's own time */
    unsigned active;  /* its firing alerts */
    unsigned alerts;  /* its alerts (firing or resolved; the rest are anomalies) */
    unsigned n;       /* its signals */
    double max_score; /* its worst signal's score */
} svc_stat_t;

static svc_stat_t *note_service(tn_incident_t *inc, const char *service)
{
    static svc_stat_t none; /* signals without a service are not summed up */
    if (!*service) return &none;
    svc_stat_t *st = tn_hmap_get(&inc->service_set, service);
    if (st) return st;
    char **v = realloc(inc->services, (inc->nservices + 1) * sizeof *v);
    if (!v) return NULL;
    inc->services = v;
    st = calloc(1, sizeof *st);
    if (!st || !(v[inc->nservices] = strdup(service))) {
        free(st);
        return NULL;
    }
    if (tn_hmap_put(&inc->service_set, service, st, NULL)) {
        free(v[inc->nservices]);
        free(st);
        return NULL;
    }
    inc->nservices++;
    return st;
}

static void forget_services(tn_incident_t *inc)
{
    for (size_t i = 0; i < inc->nservices; i++) {
        free(tn_hmap_get(&inc->service_set, inc->services[i]));
        free(inc->services[i]);
    }
    inc->nservices = 0;
    tn_hmap_deinit(&inc->service_set);
    tn_hmap_init(&inc->service_set);
}

static void count_service(svc_stat_t *st, const tn_incident_member_t *m)
{
    if (m->ts_ms > st->last_ms) st->last_ms = m->ts_ms;
    if (!st->first_ms || (m->ts_ms && m->ts_ms < st->first_ms)) st->first_ms = m->ts_ms;
    if (m->active) st->active++;
    if (!strcmp(m->kind, "alert")) st->alerts++;
    st->n++;
    if (m->score > st->max_score) st->max_score = m->score;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Appends a member taken over from another incident (its strings move). */
static int push_member(tn_incident_t *inc, tn_incident_member_t *m)
{
    if (inc->nmembers == inc->capmembers) {
        size_t cap = inc->capmembers ? inc->capmembers * 2 : 8;
        tn_incident_member_t *v = realloc(inc->members, cap * sizeof *v);
        if (!v) return TN_ENOMEM;
        inc->members = v;
        inc->capmembers = cap;
    }
    svc_stat_t *st = note_service(inc, m->service);
    if (!st) return TN_ENOMEM;
    count_service(st, m);
    inc->members[inc->nmembers++] = *m;
    if (!strcmp(m->kind, "alert")) {
        inc->alert_members++;
        if (m->active) inc->active++, inc->cleared_ms = 0;
    }
    return 0;
}

uint64_t tn_incident_signal_simhash(const json_t *sig)
{
    tn_sim_tokens_t tok;
    tn_sim_init(&tok);
    const char *lk;
    json_t *lv;
    json_object_foreach(json_object_get(sig, "labels"), lk, lv)
    {
        if (json_is_string(lv)) /* the service is an identity: its value is not masked */
            tn_sim_add_label(&tok, lk, json_string_value(lv), strcmp(lk, "service") != 0, 1.0);
    }
    const char *service = jstr(sig, "service");
    if (*service && !json_object_get(json_object_get(sig, "labels"), "service"))
        tn_sim_add_label(&tok, "service", service, 0, 1.0);
    const char *name = jstr(sig, "name");
    if (!*name) name = jstr(sig, "metric");
    tn_sim_add_text(&tok, name, strlen(name), 1.0);
    const char *text = jstr(sig, "text");
    tn_sim_add_text(&tok, text, strlen(text), 1.0);
    return tn_sim_simhash(&tok);
}

/* Remembers the signal (borrowed; may be NULL) as a member. Beyond TN_INCIDENT_MAX_MEMBERS
 * it is only counted. */
static int add_member(tn_incident_t *inc, const json_t *sig)
{
    if (!sig || inc->nmembers >= TN_INCIDENT_MAX_MEMBERS) return 0;
    json_t *ts = json_object_get(sig, "ts");
    tn_incident_member_t m = {0};
    m.ts_ms = json_is_integer(ts) ? (int64_t)json_integer_value(ts) : 0;
    m.score = json_number_value(json_object_get(sig, "score"));
    const char *kind = jstr(sig, "kind");
    if (!*kind) kind = "anomaly";
    const char *name = jstr(sig, "name");
    if (!*name) name = jstr(sig, "metric");
    const char *id = jstr(sig, "id");
    char idbuf[96];
    if (!*id) {
        snprintf(idbuf, sizeof idbuf, "%.60s@%lld", jstr(sig, "sid"), (long long)m.ts_ms);
        id = idbuf;
    }
    const char *fp = jstr(sig, "fingerprint");
    if (!*fp) fp = jstr(sig, "sid");
    if (!*fp) fp = id;
    m.simhash = tn_incident_signal_simhash(sig);
    const char *status = jstr(sig, "status");
    m.active = !strcmp(kind, "alert") && strcmp(status, "resolved");
    m.id = strdup(id);
    m.fp = strdup(fp);
    m.kind = strdup(kind);
    m.name = strdup(name);
    m.service = strdup(jstr(sig, "service"));
    m.severity = strdup(jstr(sig, "severity"));
    if (!m.id || !m.fp || !m.kind || !m.name || !m.service || !m.severity || push_member(inc, &m)) {
        member_free(&m);
        return TN_ENOMEM;
    }
    if (!strcmp(m.severity, "critical") && inc->severity && strcmp(inc->severity, "critical")) {
        char *sev = strdup("critical"); /* the incident is as severe as its worst signal */
        if (sev) free(inc->severity), inc->severity = sev;
    }
    return 0;
}

/* The fingerprints that find this incident: its own and those of incidents merged into it. */
static void index_fps(tn_incidents_t *in, tn_incident_t *inc, int on)
{
    for (size_t i = 0; i <= inc->naliases; i++) {
        const char *fp = i ? inc->aliases[i - 1] : inc->fingerprint;
        if (on) {
            if (!tn_hmap_get(&in->by_fp, fp)) (void)tn_hmap_put(&in->by_fp, fp, inc, NULL);
        } else if (tn_hmap_get(&in->by_fp, fp) == inc) {
            tn_hmap_del(&in->by_fp, fp);
        }
    }
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
    size_t n = 0, it = 0;
    void *v;
    while (tn_hmap_next(&in->by_id, &it, NULL, &v))
        n += is_open(v);
    return n;
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
    if (!o) {
        json_decref(rca);
        return NULL;
    }
    json_object_set_new(o, "rca", rca ? rca : json_array());
    json_t *svc = json_array(), *info = json_object();
    for (size_t i = 0; svc && info && i < inc->nservices; i++) {
        const svc_stat_t *st = tn_hmap_get(&inc->service_set, inc->services[i]);
        json_array_append_new(svc, json_string(inc->services[i]));
        json_object_set_new(info, inc->services[i],
                            json_pack("{s:I, s:I, s:i, s:i, s:i, s:f}", "first_ms",
                                      (json_int_t)(st ? st->first_ms : 0), "last_ms",
                                      (json_int_t)(st ? st->last_ms : 0), "active",
                                      st ? (int)st->active : 0, "alerts", st ? (int)st->alerts : 0,
                                      "n", st ? (int)st->n : 0, "score", st ? st->max_score : 0.0));
    }
    if (!info || json_object_set_new(o, "service_info", info)) {
        json_decref(svc);
        json_decref(o);
        return NULL;
    }
    if (!svc || json_object_set_new(o, "services", svc) ||
        json_object_set_new(o, "active_alerts", json_integer(inc->active)) ||
        json_object_set_new(o, "last_alert_ms", json_integer((json_int_t)inc->last_alert_ms)) ||
        (*inc->merged_into &&
         json_object_set_new(o, "merged_into", json_string(inc->merged_into)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *tn_incident_members_json(const tn_incident_t *inc)
{
    return tn_incident_members_json_last(inc, inc->nmembers);
}

json_t *tn_incident_members_json_last(const tn_incident_t *inc, size_t last)
{
    json_t *arr = json_array();
    size_t from = inc->nmembers > last ? inc->nmembers - last : 0;
    for (size_t i = from; arr && i < inc->nmembers; i++) {
        const tn_incident_member_t *m = &inc->members[i];
        char sh[17];
        snprintf(sh, sizeof sh, "%016llx", (unsigned long long)m->simhash);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:b, s:s}", "id", m->id,
                              "fingerprint", m->fp ? m->fp : "", "kind", m->kind, "name", m->name,
                              "service", m->service, "severity", m->severity, "score", m->score,
                              "ts", (json_int_t)m->ts_ms, "active", m->active, "simhash", sh);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *tn_incident_to_json_full(const tn_incident_t *inc)
{
    json_t *o = tn_incident_to_json(inc);
    json_t *members = tn_incident_members_json(inc);
    json_t *trans = json_array();
    for (size_t i = 0; trans && i < inc->ntrans; i++)
        if (json_array_append_new(trans, json_pack("{s:s, s:I}", "state", inc->trans[i].state, "ts",
                                                   (json_int_t)inc->trans[i].ts_ms))) {
            json_decref(trans);
            trans = NULL;
        }
    if (!o || !members || !trans ||
        json_object_set_new(o, "alert_count", json_integer(inc->alerts)) ||
        json_object_set(o, "alerts", members) || json_object_set(o, "transitions", trans)) {
        json_decref(o);
        o = NULL;
    }
    json_decref(members);
    json_decref(trans);
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
    if (in->on_change) in->on_change(in->on_change_arg, inc, event);
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
            !tn_hmap_get(&in->by_fp, r->fingerprint) &&
            tn_hmap_put(&in->by_fp, r->fingerprint, r, NULL) == 0) {
            tn_hmap_del(&in->resolved_fp, r->fingerprint);
            index_fps(in, r, 1);
            if (add_member(r, req->alert)) return TN_ENOMEM;
            add_transition(r, "reopened", req->now_ms);
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
        if (add_member(inc, req->alert)) return TN_ENOMEM;
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
    inc->seq = in->seq;
    tn_hmap_init(&inc->service_set);
    if (!inc->fingerprint || !inc->title || !inc->service || !inc->severity || !inc->state ||
        add_member(inc, req->alert) || tn_hmap_put(&in->by_id, inc->id, inc, NULL)) {
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
    add_transition(inc, "open", req->now_ms);
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
        index_fps(in, inc, 0);
        /* an older resolved one with this fingerprint is replaced (still in by_id) */
        return tn_hmap_put(&in->resolved_fp, inc->fingerprint, inc, NULL);
    }
    tn_incident_t *other = tn_hmap_get(&in->by_fp, inc->fingerprint);
    if (other && other != inc) return TN_EINVAL; /* another one is open */
    int rc = tn_hmap_put(&in->by_fp, inc->fingerprint, inc, NULL);
    if (!rc && tn_hmap_get(&in->resolved_fp, inc->fingerprint) == inc)
        tn_hmap_del(&in->resolved_fp, inc->fingerprint);
    if (!rc) index_fps(in, inc, 1);
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
    if (from < 0)
        reason = "the incident was merged into another one";
    else if (to < 0)
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
    add_transition(inc, event, now_ms);
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

size_t tn_incidents_expire(tn_incidents_t *in, int64_t now_ms, int64_t quiet_ms, int64_t clear_ms,
                           int64_t reopen_window_ms, int keep)
{
    size_t resolved = 0, it = 0;
    void *v;
    tn_incident_t *due[64];
    int why[64];
    size_t nq = 0;
    while (nq < 64 && tn_hmap_next(&in->by_id, &it, NULL, &v)) { /* collect, then change */
        tn_incident_t *inc = v;
        if (!is_open(inc)) continue;
        if (quiet_ms > 0 && now_ms - inc->last_alert_ms >= quiet_ms)
            why[nq] = 0, due[nq++] = inc;
        else if (clear_ms > 0 && inc->alert_members && !inc->active && inc->cleared_ms &&
                 now_ms - inc->cleared_ms >= clear_ms && now_ms - inc->last_alert_ms >= clear_ms)
            why[nq] = 1, due[nq++] = inc;
    }
    for (size_t i = 0; i < nq; i++) {
        char note[96];
        if (why[i])
            snprintf(note, sizeof note, "all its alerts resolved %lld s ago",
                     (long long)((now_ms - due[i]->cleared_ms) / 1000));
        else
            snprintf(note, sizeof note, "no new alert for %lld s: its signals cleared",
                     (long long)(quiet_ms / 1000));
        if (tn_incidents_set_state(in, due[i]->id, "resolved", "tocsin", note, now_ms, NULL, NULL,
                                   NULL, NULL) == 0) {
            tn_metric_inc(in->m_auto_resolved);
            resolved++;
        }
    }
    if (keep) return resolved;
    /* forget resolved and merged incidents past the reopen window (Redis keeps them) */
    tn_incident_t *old[64];
    size_t no = 0;
    it = 0;
    while (no < 64 && tn_hmap_next(&in->by_id, &it, NULL, &v)) {
        tn_incident_t *inc = v;
        int64_t since = inc->resolved_ms    ? inc->resolved_ms
                        : *inc->merged_into ? inc->updated_ms
                                            : 0;
        if (since && now_ms - since > reopen_window_ms) old[no++] = inc;
    }
    for (size_t i = 0; i < no; i++) {
        if (tn_hmap_get(&in->resolved_fp, old[i]->fingerprint) == old[i])
            tn_hmap_del(&in->resolved_fp, old[i]->fingerprint);
        tn_hmap_del(&in->by_id, old[i]->id);
        incident_free(old[i]);
    }
    return resolved;
}

int tn_incidents_attach(tn_incidents_t *in, const char *id, const json_t *alert, int64_t now_ms,
                        int64_t reopen_window_ms, tn_incident_t **out, int *reopened,
                        tn_incidents_cb cb, void *arg)
{
    tn_incident_t *inc = tn_hmap_get(&in->by_id, id);
    *reopened = 0;
    if (!inc || *inc->merged_into) return TN_ENOTFOUND;
    if (!is_open(inc)) {
        if (!inc->resolved_ms || now_ms - inc->resolved_ms > reopen_window_ms ||
            set_resolved(in, inc, 0))
            return TN_ENOTFOUND;
        char *st = strdup("open");
        if (!st) return TN_ENOMEM;
        free(inc->state);
        inc->state = st;
        inc->resolved_ms = 0;
        inc->reopened++;
        add_transition(inc, "reopened", now_ms);
        tn_metric_inc(in->m_reopened);
        *reopened = 1;
    }
    if (add_member(inc, alert)) return TN_ENOMEM;
    json_t *ats = alert ? json_object_get(alert, "ts") : NULL;
    int64_t alert_ms = json_is_integer(ats) ? (int64_t)json_integer_value(ats) : 0;
    if (alert_ms > 0 && (!inc->started_ms || alert_ms < inc->started_ms))
        inc->started_ms = alert_ms;
    inc->alerts++;
    inc->updated_ms = inc->last_alert_ms = now_ms;
    tn_metric_inc(in->m_attached);
    *out = inc;
    return write_or_report(in, inc, *reopened ? "reopened" : "alert_attached", alert, NULL, NULL,
                           cb, arg);
}

int tn_incidents_merge(tn_incidents_t *in, const char *into_id, const char *from_id, const char *by,
                       const char *note, int64_t now_ms, const char **why)
{
    tn_incident_t *into = tn_hmap_get(&in->by_id, into_id),
                  *from = tn_hmap_get(&in->by_id, from_id);
    if (!into || !from) return TN_ENOTFOUND;
    const char *reason = NULL;
    if (into == from)
        reason = "an incident cannot be merged into itself";
    else if (!is_open(into) || !is_open(from))
        reason = "only open incidents can be merged";
    if (reason) {
        if (why) *why = reason;
        return TN_EINVAL;
    }
    char **al = realloc(into->aliases, (into->naliases + from->naliases + 1) * sizeof *al);
    if (!al) return TN_ENOMEM;
    into->aliases = al;
    size_t need = into->nmembers + from->nmembers;
    if (need > into->capmembers) {
        tn_incident_member_t *m = realloc(into->members, need * sizeof *m);
        if (!m) return TN_ENOMEM;
        into->members = m;
        into->capmembers = need;
    }
    char *st = strdup("merged");
    char *fp = strdup(from->fingerprint);
    if (!st || !fp) {
        free(st), free(fp);
        return TN_ENOMEM;
    }
    index_fps(in, from, 0);
    al[into->naliases++] = fp;
    for (size_t i = 0; i < from->naliases; i++)
        al[into->naliases++] = from->aliases[i];
    from->naliases = 0;
    for (size_t i = 0; i < from->nmembers; i++)
        if (push_member(into, &from->members[i])) /* only note_service can fail: keep it */
            into->members[into->nmembers++] = from->members[i];
    from->nmembers = 0;
    from->active = from->alert_members = 0;
    index_fps(in, into, 1);
    into->alerts += from->alerts;
    if (from->started_ms && (!into->started_ms || from->started_ms < into->started_ms))
        into->started_ms = from->started_ms;
    if (from->last_alert_ms > into->last_alert_ms) into->last_alert_ms = from->last_alert_ms;
    if (!into->active && from->cleared_ms > into->cleared_ms) into->cleared_ms = from->cleared_ms;
    if (!strcmp(from->severity, "critical") && strcmp(into->severity, "critical")) {
        char *sev = strdup("critical");
        if (sev) free(into->severity), into->severity = sev;
    }
    free(from->state);
    from->state = st;
    snprintf(from->merged_into, sizeof from->merged_into, "%s", into->id);
    into->updated_ms = from->updated_ms = now_ms;
    add_transition(from, "merged", now_ms);
    tn_log_info("correlate", "incident %s merged into %s by %s%s%s", from->id, into->id,
                by && *by ? by : "-", note && *note ? ": " : "", note && *note ? note : "");
    char n1[160], n2[160];
    snprintf(n1, sizeof n1, "absorbed %s%s%.100s", from->id, note && *note ? ": " : "",
             note ? note : "");
    snprintf(n2, sizeof n2, "merged into %s%s%.100s", into->id, note && *note ? ": " : "",
             note ? note : "");
    write_or_report(in, into, "merged", NULL, by, n1, NULL, NULL);
    write_or_report(in, from, "merged", NULL, by, n2, NULL, NULL);
    return 0;
}

static void recount(tn_incident_t *inc)
{
    inc->active = inc->alert_members = 0;
    inc->started_ms = 0;
    for (size_t i = 0; i < inc->nmembers; i++) {
        const tn_incident_member_t *m = &inc->members[i];
        if (!strcmp(m->kind, "alert")) inc->alert_members++, inc->active += m->active != 0;
        if (m->ts_ms > 0 && (!inc->started_ms || m->ts_ms < inc->started_ms))
            inc->started_ms = m->ts_ms;
    }
}

int tn_incidents_split(tn_incidents_t *in, const char *id, const char *const *member_ids, size_t n,
                       const char *fingerprint, const char *title, const char *by, int64_t now_ms,
                       tn_incident_t **out, const char **why)
{
    tn_incident_t *src = tn_hmap_get(&in->by_id, id);
    if (!src) return TN_ENOTFOUND;
    const char *reason = NULL;
    size_t moving = 0;
    for (size_t i = 0; i < src->nmembers; i++)
        for (size_t j = 0; j < n; j++)
            if (!strcmp(src->members[i].id, member_ids[j])) {
                moving++;
                break;
            }
    if (!is_open(src))
        reason = "only an open incident can be split";
    else if (!fingerprint || !*fingerprint || !title)
        reason = "the new incident needs a fingerprint and a title";
    else if (tn_hmap_get(&in->by_fp, fingerprint))
        reason = "an open incident already has that fingerprint";
    else if (!moving)
        reason = "none of the listed alerts is in the incident";
    else if (moving == src->nmembers)
        reason = "a split must leave at least one alert in the incident";
    if (reason) {
        if (why) *why = reason;
        return TN_EINVAL;
    }
    tn_incident_t *inc = calloc(1, sizeof *inc);
    if (!inc) return TN_ENOMEM;
    tn_hmap_init(&inc->service_set);
    snprintf(inc->id, sizeof inc->id, "INC-%lld-%u", (long long)now_ms, ++in->seq);
    inc->seq = in->seq;
    inc->fingerprint = strdup(fingerprint);
    inc->title = strdup(title);
    inc->state = strdup("open");
    inc->members = malloc(moving * sizeof *inc->members);
    if (!inc->fingerprint || !inc->title || !inc->state || !inc->members) goto oom;
    /* the first moved member names the service; the worst severity wins */
    const char *service = "", *severity = "warning";
    size_t keep = 0;
    for (size_t i = 0; i < src->nmembers; i++) {
        tn_incident_member_t *m = &src->members[i];
        int mv = 0;
        for (size_t j = 0; j < n && !mv; j++)
            mv = !strcmp(m->id, member_ids[j]);
        if (!mv) {
            src->members[keep++] = *m;
            continue;
        }
        if (!*service) service = m->service;
        if (!strcmp(m->severity, "critical")) severity = "critical";
        inc->members[inc->nmembers++] = *m;
        svc_stat_t *st = note_service(inc, m->service); /* a summary: kept when it can be */
        if (st) count_service(st, m);
    }
    inc->capmembers = inc->nmembers;
    src->nmembers = keep;
    /* the source's service list is rebuilt from what stays */
    forget_services(src);
    for (size_t i = 0; i < src->nmembers; i++) {
        svc_stat_t *st = note_service(src, src->members[i].service);
        if (st) count_service(st, &src->members[i]);
    }
    recount(src);
    recount(inc);
    inc->service = strdup(service);
    inc->severity = strdup(severity);
    inc->alerts = (unsigned)inc->nmembers;
    src->alerts = src->alerts > inc->alerts ? src->alerts - inc->alerts : (unsigned)src->nmembers;
    inc->opened_ms = inc->updated_ms = inc->last_alert_ms = src->updated_ms = now_ms;
    if (!inc->started_ms) inc->started_ms = now_ms;
    if (!inc->service || !inc->severity || tn_hmap_put(&in->by_id, inc->id, inc, NULL))
        goto oom_moved;
    if (tn_hmap_put(&in->by_fp, inc->fingerprint, inc, NULL)) {
        tn_hmap_del(&in->by_id, inc->id);
        goto oom_moved;
    }
    add_transition(inc, "open", now_ms);
    tn_metric_inc(in->m_opened);
    tn_log_info("correlate", "incident %s split out of %s by %s: %zu alert(s)", inc->id, src->id,
                by && *by ? by : "-", inc->nmembers);
    char note[120];
    snprintf(note, sizeof note, "%zu alert(s) split out into %s", inc->nmembers, inc->id);
    write_or_report(in, src, "split", NULL, by, note, NULL, NULL);
    snprintf(note, sizeof note, "split out of %s", src->id);
    write_or_report(in, inc, "opened", NULL, by, note, NULL, NULL);
    *out = inc;
    return 0;
oom_moved: /* give the members back */
    for (size_t i = 0; i < inc->nmembers; i++)
        (void)push_member(src, &inc->members[i]);
    inc->nmembers = 0;
    recount(src);
oom:
    incident_free(inc);
    return TN_ENOMEM;
}

size_t tn_incidents_clear(tn_incidents_t *in, const char *signal_fp, int64_t now_ms)
{
    size_t n = 0, it = 0;
    void *v;
    while (tn_hmap_next(&in->by_id, &it, NULL, &v)) {
        tn_incident_t *inc = v;
        if (!is_open(inc) || !inc->active) continue;
        for (size_t i = 0; i < inc->nmembers; i++) {
            tn_incident_member_t *m = &inc->members[i];
            if (m->active && !strcmp(m->fp, signal_fp)) {
                m->active = 0;
                inc->active--;
                svc_stat_t *st = *m->service ? tn_hmap_get(&inc->service_set, m->service) : NULL;
                if (st && st->active) st->active--;
                n++;
            }
        }
        if (!inc->active) inc->cleared_ms = now_ms;
    }
    return n;
}

static int by_seq(const void *a, const void *b)
{
    const tn_incident_t *x = *(tn_incident_t *const *)a, *y = *(tn_incident_t *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void each(tn_incidents_t *in, int open_only, void (*fn)(tn_incident_t *, void *), void *arg)
{
    size_t n = 0, it = 0;
    void *v;
    tn_incident_t **all = malloc((in->by_id.len + 1) * sizeof *all);
    if (!all) { /* no order then, but every incident still */
        while (tn_hmap_next(&in->by_id, &it, NULL, &v))
            if (!open_only || is_open(v)) fn(v, arg);
        return;
    }
    while (tn_hmap_next(&in->by_id, &it, NULL, &v))
        if (!open_only || is_open(v)) all[n++] = v;
    qsort(all, n, sizeof *all, by_seq);
    for (size_t i = 0; i < n; i++)
        fn(all[i], arg);
    free(all);
}

void tn_incidents_each_open(tn_incidents_t *in, void (*fn)(tn_incident_t *, void *), void *arg)
{
    each(in, 1, fn, arg);
}

void tn_incidents_each(tn_incidents_t *in, void (*fn)(tn_incident_t *, void *), void *arg)
{
    each(in, 0, fn, arg);
}

tn_incident_t *tn_incidents_most_similar(tn_incidents_t *in, uint64_t simhash, const char *service,
                                         int64_t since_ms, size_t last, double threshold,
                                         double *sim)
{
    if (!service) service = "";
    tn_incident_t *best = NULL;
    double best_sim = threshold;
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&in->by_id, &it, NULL, &v)) {
        tn_incident_t *inc = v;
        if (!is_open(inc) || (since_ms && inc->last_alert_ms < since_ms)) continue;
        size_t from = inc->nmembers > last ? inc->nmembers - last : 0;
        if (*service && !tn_hmap_get(&inc->service_set, service)) continue;
        for (size_t i = from; i < inc->nmembers; i++) {
            if (strcmp(inc->members[i].service, service)) continue; /* another service's */
            double x = tn_sim_simhash_similarity(simhash, inc->members[i].simhash);
            if (x > best_sim || (x == best_sim && !best) ||
                (x == best_sim && best && inc->seq < best->seq)) {
                best = inc;
                best_sim = x;
            }
        }
    }
    if (best && sim) *sim = best_sim;
    return best;
}
