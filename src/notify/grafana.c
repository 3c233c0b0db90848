/* grafana.c - incidents as Grafana annotations (grafana.h). */
#include "notify/grafana.h"
#include "core/error.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct call {
    struct tn_grafana *g;
    char incident[48];
    int create;
    uint64_t req;
    struct call *prev, *next;
} call_t;

struct tn_grafana {
    const tn_config_t *cfg;
    tn_httpc_t *httpc;
    tn_hmap_t ids; /* incident id -> annotation id (malloc'ed long long) */
    call_t *calls; /* in flight */
    tn_metric_t *m_ok, *m_failed;
};

static void call_unlink(tn_grafana_t *g, call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g->calls = c->next;
    if (c->next) c->next->prev = c->prev;
}

tn_grafana_t *tn_grafana_create(const tn_config_t *cfg, tn_httpc_t *httpc, int *oom)
{
    if (oom) *oom = 0;
    if (!cfg->grafana.url || !*cfg->grafana.url) return NULL;
    tn_grafana_t *g = calloc(1, sizeof *g);
    if (!g) {
        if (oom) *oom = 1;
        return NULL;
    }
    g->cfg = cfg;
    g->httpc = httpc;
    tn_hmap_init(&g->ids);
    const char *help = "Annotations sent to Grafana, by result.";
    g->m_ok = tn_metrics_counter("tocsin_grafana_annotations_total", "result=\"ok\"", help);
    g->m_failed = tn_metrics_counter("tocsin_grafana_annotations_total", "result=\"failed\"", help);
    return g;
}

void tn_grafana_destroy(tn_grafana_t *g)
{
    if (!g) return;
    while (g->calls) { /* their callbacks will not run */
        call_t *c = g->calls;
        tn_httpc_cancel(g->httpc, c->req);
        call_unlink(g, c);
        free(c);
    }
    void *v;
    for (size_t i = 0; tn_hmap_next(&g->ids, &i, NULL, &v);)
        free(v);
    tn_hmap_deinit(&g->ids);
    free(g);
}

long long tn_grafana_created_id(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *id = json_object_get(j, "id");
    long long v = json_is_integer(id) ? (long long)json_integer_value(id) : 0;
    json_decref(j);
    if (v > 0) return v;
    /* lenient: "id": 123 anywhere in the text */
    const char *end = body + len;
    for (const char *p = body; p && p + 4 < end; p++) {
        p = memchr(p, '"', (size_t)(end - p));
        if (!p || end - p < 4) break;
        if (strncmp(p, "\"id\"", 4)) continue;
        const char *q = p + 4;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == ':'))
            q++;
        long long n = 0;
        int digits = 0;
        while (q < end && *q >= '0' && *q <= '9' && digits < 18) {
            n = n * 10 + (*q++ - '0');
            digits++;
        }
        if (digits) return n;
    }
    return 0;
}

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

json_t *tn_grafana_annotation(const tn_config_t *cfg, const char *event, const json_t *inc)
{
    json_t *tags = json_array();
    for (size_t i = 0; tags && i < cfg->grafana.tags.n; i++)
        json_array_append_new(tags, json_string(cfg->grafana.tags.items[i]));
    const char *svc = str(inc, "service"), *sev = str(inc, "severity");
    json_array_append_new(tags, json_string("incident"));
    if (*svc) json_array_append_new(tags, json_string(svc));
    if (*sev) json_array_append_new(tags, json_string(sev));
    json_t *start = json_object_get(inc, "started_ms");
    if (!json_is_integer(start)) start = json_object_get(inc, "opened_ms");
    char text[1024];
    const json_t *rca = json_array_get(json_object_get(inc, "rca"), 0);
    const char *cause = json_string_value(json_object_get(rca, "service"));
    snprintf(text, sizeof text, "%s %s: %s (%s%s%s)", str(inc, "id"), event, str(inc, "title"),
             *svc ? svc : "no service", cause ? ", probable cause " : "", cause ? cause : "");
    json_t *o = tags ? json_pack("{s:I, s:o, s:s}", "time", (json_int_t)json_integer_value(start),
                                 "tags", tags, "text", text)
                     : NULL;
    if (o && !strcmp(event, "resolved") && json_is_integer(json_object_get(inc, "resolved_ms")))
        json_object_set(o, "timeEnd", json_object_get(inc, "resolved_ms"));
    if (o && cfg->grafana.dashboard_uid && *cfg->grafana.dashboard_uid)
        json_object_set_new(o, "dashboardUID", json_string(cfg->grafana.dashboard_uid));
    return o;
}

static void on_answer(const tn_httpc_result_t *res, void *arg)
{
    call_t *c = arg;
    tn_grafana_t *g = c->g;
    call_unlink(g, c);
    int ok = !res->error && res->status >= 200 && res->status < 300;
    if (!ok) {
        tn_metric_inc(g->m_failed);
        tn_log_warn("grafana", "annotation for incident %s not %s: %s (HTTP %ld)", c->incident,
                    c->create ? "created" : "updated", res->error ? res->error_text : "refused",
                    res->status);
    } else {
        tn_metric_inc(g->m_ok);
        long long id = c->create ? tn_grafana_created_id(res->body, res->body_len) : 0;
        long long *slot = id > 0 ? malloc(sizeof *slot) : NULL;
        void *old = NULL;
        if (slot) {
            *slot = id;
            if (tn_hmap_put(&g->ids, c->incident, slot, &old)) free(slot);
            free(old);
        }
    }
    free(c);
}

void tn_grafana_incident(tn_grafana_t *g, const char *event, const json_t *inc)
{
    static const char *const events[] = {"opened",    "reopened", "acknowledged",
                                         "mitigated", "resolved", NULL};
    int known = 0;
    for (int i = 0; events[i]; i++)
        known |= !strcmp(event, events[i]);
    if (!g || !known) return;
    const char *id = str(inc, "id");
    long long *ann = tn_hmap_get(&g->ids, id);
    int create = !strcmp(event, "opened") || !strcmp(event, "reopened") || !ann;
    json_t *body = tn_grafana_annotation(g->cfg, event, inc);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    call_t *c = text ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        free(text);
        tn_log_warn("grafana", "out of memory: no annotation for incident %s", id);
        return;
    }
    c->g = g;
    c->create = create;
    snprintf(c->incident, sizeof c->incident, "%s", id);
    char url[2048], auth[1100];
    if (create)
        snprintf(url, sizeof url, "%.1900s/api/annotations", g->cfg->grafana.url);
    else
        snprintf(url, sizeof url, "%.1900s/api/annotations/%lld", g->cfg->grafana.url, *ann);
    snprintf(auth, sizeof auth, "Authorization: Bearer %.1000s", g->cfg->grafana.token);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json",
                             *g->cfg->grafana.token ? auth : NULL, NULL};
    tn_httpc_req_t req = {.method = create ? "POST" : "PATCH",
                          .url = url,
                          .headers = headers,
                          .body = text,
                          .body_len = strlen(text),
                          .timeout_ms = (uint64_t)g->cfg->notify.timeout_ms};
    c->next = g->calls; /* linked first: the answer unlinks it */
    if (g->calls) g->calls->prev = c;
    g->calls = c;
    if (tn_httpc_request(g->httpc, &req, on_answer, c, &c->req)) {
        tn_metric_inc(g->m_failed);
        tn_log_warn("grafana", "annotation for incident %s not sent", id);
        call_unlink(g, c);
        free(c);
    }
    free(text);
    if (!strcmp(event, "resolved") && ann) { /* its last change: forget it */
        free(tn_hmap_del(&g->ids, id));
    }
}
