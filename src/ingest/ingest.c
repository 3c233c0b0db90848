/* ingest.c - the HTTP inputs: decode, parse, write, then answer. */
#include "ingest/ingest.h"
#include "ingest/gzip.h"
#include "ingest/inputs.h"
#include "ingest/writer.h"
#include "core/error.h"
#include "core/json_arena.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_INPUTS 32

typedef struct {
    tn_ingest_t *in;
    const tn_input_t *input;
    tn_metric_t *accepted, *rejected;
} route_t;

struct tn_ingest {
    tn_streams_t *streams;
    size_t inflight, max_inflight;
    size_t max_items, max_decoded;
    route_t routes[MAX_INPUTS];
    tn_metric_t *refused, *bad_requests;
    tn_span_observer_fn on_span;
    void *on_span_arg;
    tn_event_observer_fn on_event;
    void *on_event_arg;
};

typedef struct {
    tn_ingest_t *in;
    const route_t *route;
    tn_http_req_t *req;
    size_t n;
    tn_ingest_report_t rep;
} pending_t;

tn_ingest_t *tn_ingest_create(tn_streams_t *streams, size_t max_inflight)
{
    tn_ingest_t *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->streams = streams;
    in->max_inflight = max_inflight;
    in->max_items = 1000000;
    in->max_decoded = 64u << 20;
    in->refused = tn_metrics_counter("tocsin_ingest_requests_refused_total", NULL,
                                     "Ingest requests answered 429 or 503 (backpressure).");
    in->bad_requests = tn_metrics_counter("tocsin_ingest_bad_requests_total", NULL,
                                          "Ingest requests answered 4xx for bad input.");
    return in;
}

void tn_ingest_destroy(tn_ingest_t *in)
{
    free(in);
}

size_t tn_ingest_inflight(const tn_ingest_t *in)
{
    return in->inflight;
}

void tn_ingest_set_limits(tn_ingest_t *in, size_t max_items, size_t max_decoded)
{
    if (max_items) in->max_items = max_items;
    if (max_decoded) in->max_decoded = max_decoded;
}

void tn_ingest_on_event(tn_ingest_t *in, tn_event_observer_fn fn, void *arg)
{
    in->on_event = fn;
    in->on_event_arg = arg;
}

void tn_ingest_on_span(tn_ingest_t *in, tn_span_observer_fn fn, void *arg)
{
    in->on_span = fn;
    in->on_span_arg = arg;
}

int tn_ingest_accepting(const tn_ingest_t *in)
{
    return in->inflight < in->max_inflight;
}

static void on_written(int err, void *arg)
{
    pending_t *p = arg;
    tn_ingest_t *in = p->in;
    in->inflight -= p->n;
    if (err) {
        tn_metric_inc(in->refused);
        tn_log_warn("ingest", "%s: %zu record(s) not stored: %s; client told to retry",
                    p->route->input->name, p->n, tn_strerror(err));
        tn_http_resp_header(p->req, "Retry-After", "1");
        tn_http_respond_error(p->req, 503, "unavailable",
                              "storage is unavailable (%s); retry (some records may have been "
                              "stored: retrying may duplicate them, never lose them)",
                              tn_strerror(err));
    } else {
        tn_metric_add(p->route->accepted, (double)p->n);
        if (p->route->input->answer)
            p->route->input->answer(p->req, &p->rep);
        else
            tn_input_answer_default(p->req, &p->rep);
    }
    tn_ingest_report_deinit(&p->rep);
    free(p);
}

/* Decodes a Content-Encoding. *body/len replaced when decoded (*owned set, free it). 0, or an
 * HTTP status with the answer sent. */
static int decode_body(tn_ingest_t *in, tn_http_req_t *req, const char **body, size_t *len,
                       char **owned)
{
    const char *enc = tn_http_req_header(req, "Content-Encoding");
    *owned = NULL;
    if (!enc || !*enc || !strcasecmp(enc, "identity")) return 0;
    if (strcasecmp(enc, "gzip") && strcasecmp(enc, "x-gzip") && strcasecmp(enc, "deflate")) {
        tn_http_respond_error(req, 415, "unsupported_encoding",
                              "Content-Encoding '%.40s' is not supported (use gzip or none)", enc);
        return 415;
    }
    size_t out_len;
    int rc = tn_gunzip(*body, *len, in->max_decoded, owned, &out_len);
    if (rc == TN_ETOOBIG) {
        tn_http_respond_error(req, 413, "body_too_large", "decompressed body exceeds %zu bytes",
                              in->max_decoded);
        return 413;
    }
    if (rc == TN_ENOMEM) {
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return 500;
    }
    if (rc) {
        tn_http_respond_error(req, 400, "bad_encoding", "the %s body is corrupt or truncated", enc);
        return 400;
    }
    *body = *owned;
    *len = out_len;
    return 0;
}

static void h_input(tn_http_req_t *req, void *data)
{
    route_t *route = data;
    tn_ingest_t *in = route->in;
    const tn_input_t *input = route->input;
    if (in->inflight >= in->max_inflight) {
        tn_metric_inc(in->refused);
        tn_http_resp_header(req, "Retry-After", "1");
        tn_http_respond_error(req, 429, "too_many_requests",
                              "%zu records are waiting for storage; retry shortly", in->inflight);
        return;
    }
    const char *ct = tn_http_req_header(req, "Content-Type");
    if (ct && (strstr(ct, "protobuf") || strstr(ct, "msgpack"))) {
        tn_metric_inc(in->bad_requests);
        tn_http_respond_error(req, 415, "unsupported_media_type",
                              "%s: Content-Type '%.60s' is not supported; send JSON or text "
                              "(OTLP/HTTP JSON: application/json)",
                              input->name, ct);
        return;
    }
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    char *owned;
    if (decode_body(in, req, &body, &len, &owned)) {
        tn_metric_inc(in->bad_requests);
        return;
    }
    char precision[8] = "";
    tn_input_args_t args = {NULL};
    if (tn_http_req_query_param(req, "precision", precision, sizeof precision) == 0)
        args.precision = precision;

    tn_batch_t batch;
    tn_batch_init(&batch);
    pending_t *p = calloc(1, sizeof *p);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    if (!p) {
        tn_http_respond_error(req, 500, "internal", "out of memory");
        goto out;
    }
    tn_ingest_report_init(&p->rep);
    tn_parse_opts_t o = {.now_ms = tn_now_ms(), .max_items = in->max_items};
    tn_json_arena_t arena; /* the parse's jansson values die with it */
    tn_json_arena_begin(&arena);
    int rc = input->parse(body, len, &o, &args, &batch, &p->rep, &fatal);
    tn_json_arena_end(&arena);
    tn_metric_add(route->rejected, (double)p->rep.rejected);
    size_t n = tn_batch_count(&batch);
    if (rc || (n == 0 && p->rep.rejected)) {
        tn_metric_inc(in->bad_requests);
        if (rc == TN_ENOMEM)
            tn_http_respond_error(req, 500, "internal", "out of memory");
        else if (rc == TN_ETOOBIG)
            tn_http_respond_error(req, 413, "too_many_records", "%s: %s", input->name,
                                  fatal.data ? fatal.data : "too many records");
        else if (rc)
            tn_http_respond_error(req, 400, "bad_request", "%s: %s", input->name,
                                  fatal.data ? fatal.data : "invalid body");
        else {
            tn_buf_t b;
            tn_buf_init(&b);
            tn_buf_printf(&b,
                          "{\"error\":\"bad_request\",\"message\":\"%s: no valid record in the "
                          "body\",\"accepted\":0,\"rejected\":%zu,\"errors\":%s}",
                          input->name, p->rep.rejected,
                          p->rep.errors.data ? p->rep.errors.data : "[]");
            tn_http_respond(req, 400, NULL, b.data, b.len);
            tn_buf_deinit(&b);
        }
        tn_ingest_report_deinit(&p->rep);
        free(p);
        goto out;
    }
    if (in->on_span && batch.nspans) in->on_span(in->on_span_arg, batch.spans, batch.nspans);
    if (in->on_event && batch.nevents) in->on_event(in->on_event_arg, batch.events, batch.nevents);
    p->in = in;
    p->route = route;
    p->req = req;
    p->n = n;
    in->inflight += n;
    tn_ingest_write(in->streams, &batch, on_written, p); /* may answer before it returns */
out:
    tn_batch_deinit(&batch);
    tn_buf_deinit(&fatal);
    free(owned);
}

int tn_ingest_routes(tn_ingest_t *in, tn_http_server_t *srv)
{
    int k = 0;
    for (const tn_input_t *i = tn_inputs(); i->name && k < MAX_INPUTS; i++, k++) {
        route_t *r = &in->routes[k];
        char labels[96];
        r->in = in;
        r->input = i;
        snprintf(labels, sizeof labels, "input=\"%s\",result=\"accepted\"", i->name);
        r->accepted = tn_metrics_counter("tocsin_ingest_records_total", labels,
                                         "Records received, by input and result.");
        snprintf(labels, sizeof labels, "input=\"%s\",result=\"rejected\"", i->name);
        r->rejected = tn_metrics_counter("tocsin_ingest_records_total", labels,
                                         "Records received, by input and result.");
        if (i->method && tn_http_server_route(srv, i->method, i->path, h_input, r))
            return TN_ENOMEM;
    }
    return 0;
}
