/* otlp_logs.c - ExportLogsServiceRequest (JSON) -> log records. Mapping: otlp.h. */
#include "ingest/otlp_common.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static const char *severity_from_number(int64_t n)
{
    static const char *const names[] = {"trace", "debug", "info", "warn", "error", "fatal"};
    return n >= 1 && n <= 24 ? names[(n - 1) / 4] : "";
}

/* SeverityNumber's names after "SEVERITY_NUMBER_", value i at i */
static const char *const g_severity_names[] = {
    "UNSPECIFIED", "TRACE",  "TRACE2", "TRACE3", "TRACE4", "DEBUG",  "DEBUG2", "DEBUG3", "DEBUG4",
    "INFO",        "INFO2",  "INFO3",  "INFO4",  "WARN",   "WARN2",  "WARN3",  "WARN4",  "ERROR",
    "ERROR2",      "ERROR3", "ERROR4", "FATAL",  "FATAL2", "FATAL3", "FATAL4"};

/* tn__otlp_record_fn: one LogRecord; arg is the resource's labels. */
static int parse_log(tn__otlp_ctx_t *c, json_t *rec, void *arg)
{
    const tn_labels_t *res = arg;
    tn_buf_t *err = &c->err;
    int64_t ts, observed;
    if (tn__otlp_time_ms(rec, "timeUnixNano", 0, &ts, err) ||
        tn__otlp_time_ms(rec, "observedTimeUnixNano", 0, &observed, err))
        return TN_EINVAL;
    if (!ts) ts = observed ? observed : c->now_ms;

    json_t *st = tn__otlp_get(rec, "severityText"), *sn = tn__otlp_get(rec, "severityNumber");
    if (st && !json_is_string(st)) {
        tn_buf_puts(err, "severityText must be a string");
        return TN_EINVAL;
    }
    int64_t num = 0;
    if (sn &&
        tn__otlp_enum(sn, "SEVERITY_NUMBER_", g_severity_names, 25, INT32_MIN, INT32_MAX, &num)) {
        tn_buf_puts(err, "severityNumber must be an integer or a SeverityNumber name");
        return TN_EINVAL;
    }
    const char *sev = tn_norm_severity(st ? json_string_value(st) : NULL);
    if (!*sev) sev = severity_from_number(num);

    char trace_id[33], span_id[17];
    if (tn__otlp_hex_id(rec, "traceId", 32, 1, trace_id, err) ||
        tn__otlp_hex_id(rec, "spanId", 16, 1, span_id, err))
        return TN_EINVAL;

    tn_buf_reset(&c->text);
    json_t *body = tn__otlp_get(rec, "body");
    if (body) {
        tn_buf_t e;
        tn_buf_init(&e);
        int rc = tn__otlp_anyvalue_text(body, &c->text, &e);
        if (rc == TN_EINVAL) tn_buf_printf(err, "body: %s", e.data ? e.data : "invalid");
        tn_buf_deinit(&e);
        if (rc) return rc;
    }

    int rc = tn__otlp_room(c, 1);
    if (rc) return rc;
    tn_log_t *l = tn_batch_push_log(c->out);
    if (!l) return TN_ENOMEM;
    c->produced++;
    l->ts_ms = ts;
    memcpy(l->trace_id, trace_id, sizeof trace_id);
    memcpy(l->span_id, span_id, sizeof span_id);
    l->severity = strdup(sev);
    l->body = malloc(c->text.len + 1);
    if (!l->severity || !l->body) return TN_ENOMEM;
    if (c->text.len) memcpy(l->body, c->text.data, c->text.len);
    l->body[c->text.len] = '\0';
    rc = tn__otlp_attrs(&l->labels, tn__otlp_get(rec, "attributes"), &c->text, err);
    if (!rc) rc = tn__otlp_merge(&l->labels, res, err);
    if (!rc) rc = tn_labels_finish(&l->labels, err);
    return rc;
}

int tn_parse_otlp_logs(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    tn__otlp_ctx_t c;
    json_t *root, *list;
    int rc = tn__otlp_begin(&c, body, len, o, out, rep, fatal, "resourceLogs", &root, &list);
    if (rc) return rc;
    rc =
        tn__otlp_walk(&c, list, "resourceLogs", "scopeLogs", "logRecords", "log record", parse_log);
    return tn__otlp_end(&c, rc, root);
}
