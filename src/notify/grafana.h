/* grafana.h - incidents as Grafana annotations (grafana.url, grafana.token).
 *
 * When an incident opens (or reopens), tocsin posts an annotation to Grafana's HTTP API
 * (POST <url>/api/annotations {time, tags, text[, dashboardUID]}) and remembers its id; when
 * it is acknowledged, mitigated or resolved the annotation is updated
 * (PATCH /api/annotations/ID): resolved, it becomes a region from the onset to the resolution,
 * so a dashboard shows the incident's whole span over the graphs. Tags: grafana.tags plus the
 * incident's service, severity and "incident". A failed call is logged and counted
 * (tocsin_grafana_annotations_total{result=}); incidents never wait for Grafana. */
#ifndef TN_NOTIFY_GRAFANA_H
#define TN_NOTIFY_GRAFANA_H

#include <jansson.h>

#include "core/config.h"
#include "notify/httpc.h"

typedef struct tn_grafana tn_grafana_t;

/* cfg and httpc borrowed. NULL when grafana.url is empty, or on allocation failure (*oom
 * set when given). */
tn_grafana_t *tn_grafana_create(const tn_config_t *cfg, tn_httpc_t *httpc, int *oom);
void tn_grafana_destroy(tn_grafana_t *g);

/* An incident changed (event "opened", "reopened", "acknowledged", "mitigated", "resolved",
 * ...; others are ignored). incident borrowed: its JSON (tn_incident_to_json). */
void tn_grafana_incident(tn_grafana_t *g, const char *event, const json_t *incident);

/* The annotation body for an incident (a new object, the caller owns it): {time, timeEnd
 * (resolved only), tags, text, dashboardUID (when configured)}. Exposed for the tests. */
json_t *tn_grafana_annotation(const tn_config_t *cfg, const char *event, const json_t *incident);

/* The "id" of Grafana's answer to a create: also from the documented example, which is not
 * valid JSON (a trailing comma). 0 when there is none. */
long long tn_grafana_created_id(const char *body, size_t len);

#endif
