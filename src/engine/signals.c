/* signals.c - alerts from the inputs become the signals the correlation rules see. */
#include "engine/engine_internal.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* critical, warning or info from the many words sources use; "" when none fits. */
static const char *norm_severity(const char *s)
{
    static const char *const crit[] = {"critical", "crit",  "page",      "high",     "error", "err",
                                       "fatal",    "emerg", "emergency", "alert",    "p1",    "p0",
                                       "sev1",     "sev0",  "major",     "disaster", NULL};
    static const char *const warn[] = {"warning", "warn", "medium", "minor", "moderate", "average",
                                       "p2",      "p3",   "sev2",   "sev3",  NULL};
    static const char *const info[] = {
        "info", "informational", "notice", "low", "none", "ok", "debug", "p4", "p5", "sev4", NULL};
    if (!s || !*s) return "";
    for (int i = 0; crit[i]; i++)
        if (!strcasecmp(s, crit[i])) return "critical";
    for (int i = 0; warn[i]; i++)
        if (!strcasecmp(s, warn[i])) return "warning";
    for (int i = 0; info[i]; i++)
        if (!strcasecmp(s, info[i])) return "info";
    return "";
}

json_t *tn_engine__alert_signal(const tn_event_t *ev, const char *id)
{
    const tn_labels_t *l = &ev->labels;
    const char *service = tn_labels_get(l, "service");
    static const char *const svc_keys[] = {"app", "application", "job", NULL};
    for (int i = 0; svc_keys[i] && (!service || !*service); i++)
        service = tn_labels_get(l, svc_keys[i]);
    const char *sev = norm_severity(tn_labels_get(l, "severity"));
    if (!*sev) sev = norm_severity(tn_labels_get(l, "priority"));
    if (!*sev) sev = norm_severity(tn_labels_get(l, "urgency"));
    if (!*sev) sev = "warning";
    double score = !strcmp(sev, "critical") ? 1.0 : !strcmp(sev, "warning") ? 0.7 : 0.4;
    char idbuf[128];
    if (!id || !*id) {
        snprintf(idbuf, sizeof idbuf, "%.80s@%lld", ev->fingerprint ? ev->fingerprint : "",
                 (long long)ev->ts_ms);
        id = idbuf;
    }
    const char *text = "";
    json_t *data = ev->data ? json_loads(ev->data, 0, NULL) : NULL;
    json_t *ann = json_object_get(data, "annotations");
    const char *t = json_string_value(json_object_get(ann, "summary"));
    if (!t) t = json_string_value(json_object_get(ann, "description"));
    if (!t) t = json_string_value(json_object_get(data, "summary"));
    if (t) text = t;
    json_t *labels = json_object();
    for (size_t i = 0; labels && i < l->n; i++)
        if (json_object_set_new(labels, l->items[i].name, json_string(l->items[i].value))) {
            json_decref(labels);
            labels = NULL;
        }
    json_t *s =
        labels ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:o, s:s, s:s, s:s}", "kind",
                           "alert", "id", id, "fingerprint", ev->fingerprint ? ev->fingerprint : id,
                           "name", ev->title && *ev->title ? ev->title : "alert", "service",
                           service ? service : "", "severity", sev, "score", score, "ts",
                           (json_int_t)ev->ts_ms, "labels", labels, "status",
                           ev->status && *ev->status ? ev->status : "firing", "source",
                           ev->source ? ev->source : "", "text", text)
               : NULL;
    json_decref(data);
    return s;
}

static void offered(int err, void *arg)
{
    (void)err, (void)arg; /* failures are logged where they happen */
}

/* The labels that name the dependency an alert is about (Envoy's sense of upstream: the
 * service called). */
static const char *const g_peer_labels[] = {"upstream",
                                            "upstream_service",
                                            "peer_service",
                                            "destination_service",
                                            "destination_workload",
                                            "target_service",
                                            "dependency",
                                            "backend",
                                            NULL};

void tn_engine__offer_alert(tn_engine_t *e, const tn_event_t *ev, const char *id)
{
    if (!e->correlate) return;
    const char *service = tn_labels_get(&ev->labels, "service");
    for (int i = 0; service && *service && e->topology && g_peer_labels[i]; i++) {
        const char *peer = tn_labels_get(&ev->labels, g_peer_labels[i]);
        if (peer && *peer && tn_topology_learn_label(e->topology, service, peer) > 0)
            tn_engine__topology_changed(e);
    }
    if (ev->status && !strcmp(ev->status, "resolved")) {
        if (ev->fingerprint) tn_correlate_clear(e->correlate, ev->fingerprint);
        return;
    }
    json_t *s = tn_engine__alert_signal(ev, id);
    if (!s) {
        tn_log_error("correlate", "out of memory: alert %s not correlated",
                     ev->title ? ev->title : "?");
        return;
    }
    tn_correlate_signal(e->correlate, s, offered, NULL);
    json_decref(s);
}
