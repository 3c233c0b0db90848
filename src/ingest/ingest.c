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
#include <uv.h>

#define MAX_INPUTS 32

typedef struct {
    tn_ingest_t *in;
    const tn_input_t *input;
    tn_metric_t *accepted, *rejected;
} route_t;

struct tn_ingest {
    uv_loop_t *loop;
    tn_streams_t *streams;         /* NULL once stopped */
    unsigned parsing, max_parsing; /* requests being decoded and parsed off the loop */
    size_t inflight, max_inflight;
    size_t max_items, max_decoded;
    route_t routes[MAX_INPUTS];
    tn_metric_t *refused, *bad_requests, *threaded;
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

tn_ingest_t *tn_ingest_create(uv_loop_t *loop, tn_streams_t *streams, size_t max_inflight)
{
    tn_ingest_t *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->loop = loop;
    in->streams = streams;
    in->max_inflight = max_inflight;
    in->max_items = 1000000;
    in->max_decoded = 64u << 20;
    in->refused = tn_metrics_counter("tocsin_ingest_requests_refused_total", NULL,
                                     "Ingest requests answered 429 or 503 (backpressure).");
    in->bad_requests = tn_metrics_counter("tocsin_ingest_bad_requests_total", NULL,
                                          "Ingest requests answered 4xx for bad input.");
    in->threaded = tn_metrics_counter("tocsin_ingest_parsed_on_threads_total", NULL,
                                      "Request bodies decoded and parsed on a worker thread.");
    return in;
}

void tn_ingest_destroy(tn_ingest_t *in)
{
    free(in);
}

void tn_ingest_stop(tn_ingest_t *in)
{
    if (in) in->streams = NULL;
}

void tn_ingest_set_parse_threads(tn_ingest_t *in, unsigned n)
{
    in->max_parsing = in->loop ? n : 0;
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

/* The part of a request that can run off the loop: decode the body, parse it. Reads the
 * request's body and headers only (they stay valid and unchanged until the answer); writes
 * nothing shared. */
typedef struct {
    uv_work_t work;
    tn_ingest_t *in;
    route_t *route;
    tn_http_req_t *req;
    const char *body, *enc;
    size_t len;
    char *owned; /* the decoded body, when it was encoded */
    char precision[8];
    int has_precision;
    tn_parse_opts_t o;
    int status; /* 0: parsed (rc tells how); else the decoding failed with this HTTP status */
    int rc;
    tn_batch_t batch;
    tn_ingest_report_t rep;
    tn_buf_t fatal;
} job_t;

/* Decodes a Content-Encoding into j->owned. 0, or the HTTP status of the failure. */
static int decode_body(job_t *j)
{
    const char *enc = j->enc;
    if (!enc || !*enc || !strcasecmp(enc, "identity")) return 0;
    if (strcasecmp(enc, "gzip") && strcasecmp(enc, "x-gzip") && strcasecmp(enc, "deflate"))
        return 415;
    size_t out_len;
    int rc = tn_gunzip(j->body, j->len, j->in->max_decoded, &j->owned, &out_len);
    if (rc == TN_ETOOBIG) return 413;
    if (rc == TN_ENOMEM) return 500;
    if (rc) return 400;
    j->body = j->owned;
    j->len = out_len;
    return 0;
}

static void job_run(job_t *j)
{
    if ((j->status = decode_body(j))) return;
    tn_input_args_t args = {.precision = j->has_precision ? j->precision : NULL};
    const tn_input_t *input = j->route->input;
    tn_json_arena_t arena; /* the parse's jansson values die with it (the arena is this thread's) */
    tn_json_arena_begin(&arena);
    j->rc = input->parse(j->body, j->len, &j->o, &args, &j->batch, &j->rep, &j->fatal);
    tn_json_arena_end(&arena);
}

static void job_free(job_t *j)
{
    tn_batch_deinit(&j->batch);
    tn_buf_deinit(&j->fatal);
    free(j->owned);
    free(j);
}

/* Back on the loop: answer a failure, or write the records (answered once Redis confirmed). */
static void job_finish(job_t *j)
{
    tn_ingest_t *in = j->in;
    route_t *route = j->route;
    const tn_input_t *input = route->input;
    tn_http_req_t *req = j->req;
    if (j->status) {
        tn_metric_inc(in->bad_requests);
        if (j->status == 415)
            tn_http_respond_error(req, 415, "unsupported_encoding",
                                  "Content-Encoding '%.40s' is not supported (use gzip or none)",
                                  j->enc);
        else if (j->status == 413)
            tn_http_respond_error(req, 413, "body_too_large", "decompressed body exceeds %zu bytes",
                                  in->max_decoded);
        else if (j->status == 500)
            tn_http_respond_error(req, 500, "internal", "out of memory");
        else
            tn_http_respond_error(req, 400, "bad_encoding", "the %s body is corrupt or truncated",
                                  j->enc);
        tn_ingest_report_deinit(&j->rep);
        job_free(j);
        return;
    }
    int rc = j->rc;
    tn_metric_add(route->rejected, (double)j->rep.rejected);
    size_t n = tn_batch_count(&j->batch);
    if (rc || (n == 0 && j->rep.rejected)) {
        tn_metric_inc(in->bad_requests);
        if (rc == TN_ENOMEM)
            tn_http_respond_error(req, 500, "internal", "out of memory");
        else if (rc == TN_ETOOBIG)
            tn_http_respond_error(req, 413, "too_many_records", "%s: %s", input->name,
                                  j->fatal.data ? j->fatal.data : "too many records");
        else if (rc)
            tn_http_respond_error(req, 400, "bad_request", "%s: %s", input->name,
                                  j->fatal.data ? j->fatal.data : "invalid body");
        else {
            tn_buf_t b;
            tn_buf_init(&b);
            tn_buf_printf(&b,
                          "{\"error\":\"bad_request\",\"message\":\"%s: no valid record in the "
                          "body\",\"accepted\":0,\"rejected\":%zu,\"errors\":%s}",
                          input->name, j->rep.rejected,
                          j->rep.errors.data ? j->rep.errors.data : "[]");
            if (b.data)
                tn_http_respond(req, 400, NULL, b.data, b.len);
            else
                tn_http_respond_error(req, 500, "internal", "out of memory");
            tn_buf_deinit(&b);
        }
        tn_ingest_report_deinit(&j->rep);
        job_free(j);
        return;
    }
    if (!in->streams) { /* the engine stopped while the body was parsed */
        tn_metric_inc(in->refused);
        tn_http_resp_header(req, "Retry-After", "1");
        tn_http_respond_error(req, 503, "unavailable", "the engine is stopping; retry");
        tn_ingest_report_deinit(&j->rep);
        job_free(j);
        return;
    }
    pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        tn_http_respond_error(req, 500, "internal", "out of memory");
        tn_ingest_report_deinit(&j->rep);
        job_free(j);
        return;
    }
    if (in->on_span && j->batch.nspans)
        in->on_span(in->on_span_arg, j->batch.spans, j->batch.nspans);
    if (in->on_event && j->batch.nevents)
        in->on_event(in->on_event_arg, j->batch.events, j->batch.nevents);
    p->in = in;
    p->route = route;
    p->req = req;
    p->n = n;
    p->rep = j->rep; /* moved */
    in->inflight += n;
    tn_ingest_write(in->streams, &j->batch, on_written, p); /* may answer before it returns */
    job_free(j);
}

static void on_work(uv_work_t *w)
{
    job_run(w->data);
}

static void after_work(uv_work_t *w, int status)
{
    (void)status; /* UV_ECANCELED cannot happen: nothing cancels */
    job_t *j = w->data;
    j->in->parsing--;
    tn_metric_inc(j->in->threaded);
    job_finish(j);
}

/* Bodies at least this big are decoded and parsed on libuv's thread pool (smaller ones cost
 * less than the hand-off). */
#define THREAD_MIN_BYTES (32u << 10)
/* ... unless Redis is the bottleneck: with this many commands unanswered, parsing faster buys
 * nothing, and the threads take CPU that Redis needs where they share cores (measured on 2
 * cores, one XADD per sample: 0.40-0.48 M samples/s parsed on 2 threads, 0.47-0.54 M on the
 * loop). Batched entries keep the backlog short, and their parsing stays on the threads. */
#define THREAD_MAX_BACKLOG 4096u

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
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        tn_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    j->in = in;
    j->route = route;
    j->req = req;
    j->body = tn_http_req_body(req, &j->len);
    j->enc = tn_http_req_header(req, "Content-Encoding");
    j->has_precision =
        tn_http_req_query_param(req, "precision", j->precision, sizeof j->precision) == 0;
    j->o = (tn_parse_opts_t){.now_ms = tn_now_ms(), .max_items = in->max_items};
    tn_batch_init(&j->batch);
    tn_ingest_report_init(&j->rep);
    tn_buf_init(&j->fatal);
    j->work.data = j;
    int big = j->len >= THREAD_MIN_BYTES || (j->enc && *j->enc && j->len >= THREAD_MIN_BYTES / 8);
    if (input->threadsafe && big && in->parsing < in->max_parsing &&
        (!in->streams || tn_streams_backlog(in->streams) < THREAD_MAX_BACKLOG) &&
        uv_queue_work(in->loop, &j->work, on_work, after_work) == 0) {
        in->parsing++;
        return;
    }
    job_run(j); /* small, or every parse thread busy: here (the loop waits: backpressure) */
    job_finish(j);
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
