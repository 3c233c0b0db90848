/* inputs.c - adapters from each protocol's parser to the input table. */
#include "ingest/inputs.h"
#include "ingest/alerts.h"
#include "ingest/datadog.h"
#include "ingest/influx.h"
#include "ingest/logs_json.h"
#include "ingest/otlp.h"
#include "ingest/prom_text.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

void tn_input_answer_default(tn_http_req_t *req, const tn_ingest_report_t *rep)
{
    tn_buf_t b;
    tn_buf_init(&b);
    tn_buf_printf(&b, "{\"accepted\":%zu,\"rejected\":%zu", rep->accepted, rep->rejected);
    if (rep->errors.len) tn_buf_printf(&b, ",\"errors\":%s", rep->errors.data);
    tn_buf_puts(&b, "}");
    if (b.data)
        tn_http_respond(req, 202, NULL, b.data, b.len);
    else
        tn_http_respond_error(req, 500, "internal", "out of memory");
    tn_buf_deinit(&b);
}

/* ---- adapters ---------------------------------------------------------------------------- */

static int p_samples(const char *body, size_t len, const tn_parse_opts_t *o,
                     const tn_input_args_t *a, tn_batch_t *out, tn_ingest_report_t *rep,
                     tn_buf_t *fatal)
{
    (void)a;
    return tn_ingest_json_samples(body, len, o->max_items, o->now_ms, &out->samples, rep, fatal);
}

#define ADAPT(fn, parser)                                                                          \
    static int fn(const char *body, size_t len, const tn_parse_opts_t *o,                          \
                  const tn_input_args_t *a, tn_batch_t *out, tn_ingest_report_t *rep,              \
                  tn_buf_t *fatal)                                                                 \
    {                                                                                              \
        (void)a;                                                                                   \
        return parser(body, len, o, out, rep, fatal);                                              \
    }

ADAPT(p_otlp_metrics, tn_parse_otlp_metrics)
ADAPT(p_otlp_logs, tn_parse_otlp_logs)
ADAPT(p_otlp_traces, tn_parse_otlp_traces)
ADAPT(p_prom_text, tn_parse_prom_text)
ADAPT(p_am_alerts, tn_parse_am_alerts)
ADAPT(p_am_webhook, tn_parse_am_webhook)
ADAPT(p_pagerduty, tn_parse_pagerduty_webhook)
ADAPT(p_events, tn_parse_change_events)
ADAPT(p_datadog, tn_parse_datadog_series)
ADAPT(p_logs_json, tn_parse_logs_json)

static int p_influx(const char *body, size_t len, const tn_parse_opts_t *o,
                    const tn_input_args_t *a, tn_batch_t *out, tn_ingest_report_t *rep,
                    tn_buf_t *fatal)
{
    return tn_parse_influx(body, len, o, a ? a->precision : NULL, out, rep, fatal);
}

/* ---- answers ----------------------------------------------------------------------------- */

static void answer_otlp(tn_http_req_t *req, const tn_ingest_report_t *rep, const char *kind)
{
    tn_buf_t b;
    tn_buf_init(&b);
    if (tn_otlp_partial_success_json(kind, rep, &b) || !b.data) {
        tn_buf_deinit(&b);
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    tn_http_respond(req, 200, "application/json", b.data, b.len);
    tn_buf_deinit(&b);
}
static void a_otlp_metrics(tn_http_req_t *r, const tn_ingest_report_t *p)
{
    answer_otlp(r, p, "metrics");
}
static void a_otlp_logs(tn_http_req_t *r, const tn_ingest_report_t *p)
{
    answer_otlp(r, p, "logs");
}
static void a_otlp_traces(tn_http_req_t *r, const tn_ingest_report_t *p)
{
    answer_otlp(r, p, "traces");
}

/* Influx: 204 when every line was written; 400 "partial write" naming the bad lines otherwise
 * (the good lines are stored, as InfluxDB does). */
static void a_influx(tn_http_req_t *req, const tn_ingest_report_t *rep)
{
    if (!rep->rejected) {
        tn_http_respond(req, 204, NULL, NULL, 0);
        return;
    }
    tn_buf_t b;
    tn_buf_init(&b);
    tn_buf_printf(&b,
                  "{\"code\":\"invalid\",\"message\":\"partial write: %zu line(s) rejected, "
                  "%zu sample(s) written\",\"errors\":%s}",
                  rep->rejected, rep->accepted, rep->errors.data ? rep->errors.data : "[]");
    tn_http_respond(req, 400, NULL, b.data, b.len);
    tn_buf_deinit(&b);
}

/* Alertmanager's POST /api/v2/alerts answers 200 with an empty body. */
static void a_am_alerts(tn_http_req_t *req, const tn_ingest_report_t *rep)
{
    if (rep->rejected)
        tn_input_answer_default(req, rep);
    else
        tn_http_respond(req, 200, NULL, NULL, 0);
}

static void a_datadog(tn_http_req_t *req, const tn_ingest_report_t *rep)
{
    tn_buf_t b;
    tn_buf_init(&b);
    if (tn_datadog_response_json(rep, &b) || !b.data) {
        tn_buf_deinit(&b);
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    tn_http_respond(req, 202, NULL, b.data, b.len);
    tn_buf_deinit(&b);
}

static const tn_input_t g_inputs[] = {
    {"samples", "POST", "/api/v1/samples", "tocsin JSON samples", p_samples, NULL, 1},
    {"otlp_metrics", "POST", "/v1/metrics", "OTLP/HTTP JSON metrics", p_otlp_metrics,
     a_otlp_metrics, 1},
    {"otlp_logs", "POST", "/v1/logs", "OTLP/HTTP JSON logs", p_otlp_logs, a_otlp_logs, 1},
    {"otlp_traces", "POST", "/v1/traces", "OTLP/HTTP JSON traces", p_otlp_traces, a_otlp_traces, 1},
    {"prometheus", "POST", "/api/v1/import/prometheus", "Prometheus text exposition (push)",
     p_prom_text, NULL, 1},
    {"influx", "POST", "/write", "Influx line protocol", p_influx, a_influx, 1},
    {"influx_v2", "POST", "/api/v2/write", "Influx line protocol (v2 path)", p_influx, a_influx, 1},
    {"alertmanager_alerts", "POST", "/api/v2/alerts", "Prometheus alerts (Alertmanager API v2)",
     p_am_alerts, a_am_alerts, 1},
    {"alertmanager_webhook", "POST", "/api/v1/alertmanager", "Alertmanager webhook payloads",
     p_am_webhook, NULL, 1},
    {"pagerduty", "POST", "/api/v1/pagerduty", "PagerDuty v3 webhooks", p_pagerduty, NULL, 1},
    {"events", "POST", "/api/v1/events", "deploy / config-change events", p_events, NULL, 1},
    {"datadog", "POST", "/api/v2/series", "Datadog series (v2 JSON)", p_datadog, a_datadog, 1},
    {"logs", "POST", "/api/v1/logs", "Fluentd / Logstash JSON and NDJSON logs", p_logs_json, NULL,
     0},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0},
};

const tn_input_t *tn_inputs(void)
{
    return g_inputs;
}

const tn_input_t *tn_input_find(const char *name)
{
    for (const tn_input_t *i = g_inputs; i->name; i++)
        if (strcmp(i->name, name) == 0) return i;
    return NULL;
}
