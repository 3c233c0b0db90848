/* otlp_traces.c - ExportTraceServiceRequest (JSON) -> spans. Mapping: otlp.h. */
#include "ingest/otlp_common.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static const char *const g_span_kinds[] = {"unspecified", "internal", "server",
                                           "client",      "producer", "consumer"};
/* the proto's names (SpanKind, Status.StatusCode), after their prefixes */
static const char *const g_kind_names[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                           "CLIENT",      "PRODUCER", "CONSUMER"};
static const char *const g_code_names[] = {"UNSET", "OK", "ERROR"};

/* tn__otlp_record_fn: one Span; arg is the resource's labels. */
static int parse_span(tn__otlp_ctx_t *c, json_t *sp, void *arg)
{
    const tn_labels_t *res = arg;
    tn_buf_t *err = &c->err;
    char trace_id[33], span_id[17], parent_id[17];
    if (tn__otlp_hex_id(sp, "traceId", 32, 0, trace_id, err) ||
        tn__otlp_hex_id(sp, "spanId", 16, 0, span_id, err) ||
        tn__otlp_hex_id(sp, "parentSpanId", 16, 1, parent_id, err))
        return TN_EINVAL;
    if (!trace_id[0] || !span_id[0]) {
        tn_buf_puts(err, !trace_id[0] ? "traceId is missing" : "spanId is missing");
        return TN_EINVAL;
    }
    json_t *name = tn__otlp_get(sp, "name"), *kind = tn__otlp_get(sp, "kind");
    if (name && !json_is_string(name)) {
        tn_buf_puts(err, "name must be a string");
        return TN_EINVAL;
    }
    int64_t k = 0;
    if (kind && tn__otlp_enum(kind, "SPAN_KIND_", g_kind_names, 6, 0, 5, &k)) {
        tn_buf_puts(err, "kind must be an integer from 0 to 5 or a SpanKind name");
        return TN_EINVAL;
    }
    uint64_t start, end;
    if (tn__otlp_time_ns(sp, "startTimeUnixNano", &start, err) ||
        tn__otlp_time_ns(sp, "endTimeUnixNano", &end, err))
        return TN_EINVAL;
    if (!start || !end) {
        tn_buf_puts(err, !start ? "startTimeUnixNano is missing" : "endTimeUnixNano is missing");
        return TN_EINVAL;
    }
    if (end < start) {
        tn_buf_puts(err, "endTimeUnixNano is before startTimeUnixNano");
        return TN_EINVAL;
    }
    json_t *status = tn__otlp_get(sp, "status"), *code = tn__otlp_get(status, "code");
    int64_t sc = 0;
    if ((status && !json_is_object(status)) ||
        (code && tn__otlp_enum(code, "STATUS_CODE_", g_code_names, 3, INT32_MIN, INT32_MAX, &sc))) {
        tn_buf_puts(err, "status must be an object with an integer code or a StatusCode name");
        return TN_EINVAL;
    }

    int rc = tn__otlp_room(c, 1);
    if (rc) return rc;
    tn_span_t *s = tn_batch_push_span(c->out);
    if (!s) return TN_ENOMEM;
    c->produced++;
    memcpy(s->trace_id, trace_id, sizeof trace_id);
    memcpy(s->span_id, span_id, sizeof span_id);
    memcpy(s->parent_id, parent_id, sizeof parent_id);
    s->start_us = (int64_t)(start / 1000);
    s->duration_us = (int64_t)((end - start) / 1000);
    s->error = sc == 2;
    const char *service = tn_labels_get(res, "service");
    s->name = strdup(name ? json_string_value(name) : "");
    s->service = strdup(service ? service : "");
    s->kind = strdup(g_span_kinds[k]);
    if (!s->name || !s->service || !s->kind) return TN_ENOMEM;
    rc = tn__otlp_attrs(&s->labels, tn__otlp_get(sp, "attributes"), &c->text, err);
    if (!rc) rc = tn__otlp_merge(&s->labels, res, err);
    if (!rc) rc = tn_labels_finish(&s->labels, err);
    return rc;
}

int tn_parse_otlp_traces(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                         tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    tn__otlp_ctx_t c;
    json_t *root, *list;
    int rc = tn__otlp_begin(&c, body, len, o, out, rep, fatal, "resourceSpans", &root, &list);
    if (rc) return rc;
    rc = tn__otlp_walk(&c, list, "resourceSpans", "scopeSpans", "spans", "span", parse_span);
    return tn__otlp_end(&c, rc, root);
}
