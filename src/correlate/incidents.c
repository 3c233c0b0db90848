#include "correlate/incidents.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tn_incidents {
    tn_streams_t *streams;
    tn_hmap_t by_fp; /* fingerprint -> incident (open ones) */
    tn_hmap_t by_id; /* id -> incident */
    unsigned seq;
    tn_metric_t *m_opened, *m_attached;
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
    tn_hmap_init(&in->by_id);
    in->m_opened = tn_metrics_counter("tocsin_incidents_opened_total", NULL, "Incidents opened.");
    in->m_attached = tn_metrics_counter("tocsin_incident_alerts_attached_total", NULL,
                                        "Alerts attached to an already open incident.");
    return in;
}

static void incident_free(tn_incident_t *inc)
{
    free(inc->fingerprint);
    free(inc->title);
    free(inc->service);
    free(inc->severity);
    free(inc->state);
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

json_t *tn_incident_to_json(const tn_incident_t *inc)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i}", "id", inc->id, "fingerprint",
                     inc->fingerprint, "title", inc->title, "service", inc->service, "severity",
                     inc->severity, "state", inc->state, "opened_ms", (json_int_t)inc->opened_ms,
                     "updated_ms", (json_int_t)inc->updated_ms, "alerts", (int)inc->alerts);
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

/* Writes the incident's event and hash. */
static int write_change(tn_incidents_t *in, tn_incident_t *inc, const char *event,
                        const json_t *alert, tn_incidents_cb cb, void *arg)
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
                            "alert",    alert_text ? alert_text : "{}"};
    w->pending++;
    if (tn_streams_xadd(in->streams, tn_streams_key(in->streams, TN_STREAM_INCIDENTS), fields, 9,
                        on_written, w))
        w->pending--, w->err = TN_ECLOSED;
    free(alert_text);

    char key[128], opened[24];
    snprintf(key, sizeof key, "%s:incident:%s", tn_streams_prefix(in->streams), inc->id);
    snprintf(opened, sizeof opened, "%lld", (long long)inc->opened_ms);
    const char *argv[] = {"HSET",     key,          "id",         inc->id,       "title",
                          inc->title, "service",    inc->service, "severity",    inc->severity,
                          "state",    inc->state,   "alerts",     alerts,        "opened_ms",
                          opened,     "updated_ms", ts,           "fingerprint", inc->fingerprint};
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
                           const json_t *alert, tn_incidents_cb cb, void *arg)
{
    int rc = write_change(in, inc, event, alert, cb, arg);
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
    if (inc) {
        inc->alerts++;
        inc->updated_ms = req->now_ms;
        tn_metric_inc(in->m_attached);
        *out = inc;
        return write_or_report(in, inc, "alert_attached", req->alert, cb, arg);
    }
    inc = calloc(1, sizeof *inc);
    if (!inc) return TN_ENOMEM;
    snprintf(inc->id, sizeof inc->id, "INC-%lld-%u", (long long)req->now_ms, ++in->seq);
    inc->fingerprint = strdup(req->fingerprint);
    inc->title = strdup(req->title);
    inc->service = strdup(req->service ? req->service : "");
    inc->severity = strdup(req->severity ? req->severity : "warning");
    inc->state = strdup("open");
    inc->opened_ms = inc->updated_ms = req->now_ms;
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
    return write_or_report(in, inc, "opened", req->alert, cb, arg);
}
