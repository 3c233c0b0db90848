#include "ingest/ingest.h"
#include "ingest/json_samples.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAMPLES_PER_REQUEST 100000

struct tn_ingest {
    tn_streams_t *streams;
    size_t inflight, max_inflight;
    tn_metric_t *accepted, *rejected, *refused, *bad_requests;
};

typedef struct {
    tn_ingest_t *in;
    tn_http_req_t *req;
    size_t n;
    size_t rejected;
    char *errors; /* JSON array text or NULL */
} pending_t;

tn_ingest_t *tn_ingest_create(tn_streams_t *streams, size_t max_inflight)
{
    tn_ingest_t *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->streams = streams;
    in->max_inflight = max_inflight;
    in->accepted = tn_metrics_counter("tocsin_ingest_samples_total", "result=\"accepted\"",
                                      "Samples received, by result.");
    in->rejected = tn_metrics_counter("tocsin_ingest_samples_total", "result=\"rejected\"",
                                      "Samples received, by result.");
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

static void on_written(int err, void *arg)
{
    pending_t *p = arg;
    tn_ingest_t *in = p->in;
    in->inflight -= p->n;
    if (err) {
        tn_metric_inc(in->refused);
        tn_log_warn("ingest", "%zu sample(s) not stored: %s; client told to retry", p->n,
                    tn_strerror(err));
        tn_http_resp_header(p->req, "Retry-After", "1");
        tn_http_respond_error(p->req, 503, "unavailable",
                              "storage is unavailable (%s); nothing was stored, retry",
                              tn_strerror(err));
    } else {
        tn_metric_add(in->accepted, (double)p->n);
        tn_buf_t b;
        tn_buf_init(&b);
        tn_buf_printf(&b, "{\"accepted\":%zu,\"rejected\":%zu", p->n, p->rejected);
        if (p->errors) tn_buf_printf(&b, ",\"errors\":%s", p->errors);
        tn_buf_puts(&b, "}");
        if (b.data)
            tn_http_respond(p->req, 202, NULL, b.data, b.len);
        else
            tn_http_respond_error(p->req, 500, "internal", "out of memory");
        tn_buf_deinit(&b);
    }
    free(p->errors);
    free(p);
}

static void h_samples(tn_http_req_t *req, void *data)
{
    tn_ingest_t *in = data;
    const char *ct = tn_http_req_header(req, "Content-Type");
    if (ct && !strstr(ct, "json")) {
        tn_metric_inc(in->bad_requests);
        tn_http_respond_error(req, 415, "unsupported_media_type",
                              "Content-Type must be application/json, got '%.100s'", ct);
        return;
    }
    if (in->inflight >= in->max_inflight) {
        tn_metric_inc(in->refused);
        tn_http_resp_header(req, "Retry-After", "1");
        tn_http_respond_error(req, 429, "too_many_requests",
                              "%zu samples are waiting for storage; retry shortly", in->inflight);
        return;
    }
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    tn_samples_t samples;
    tn_samples_init(&samples);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    int rc = tn_ingest_json_samples(body, len, MAX_SAMPLES_PER_REQUEST, tn_now_ms(), &samples, &rep,
                                    &fatal);
    if (rc || samples.n == 0) {
        tn_metric_inc(in->bad_requests);
        tn_metric_add(in->rejected, (double)rep.rejected);
        if (rc == TN_ENOMEM)
            tn_http_respond_error(req, 500, "internal", "out of memory");
        else if (rc == TN_ETOOBIG)
            tn_http_respond_error(req, 413, "too_many_samples", "%s", fatal.data);
        else if (rc)
            tn_http_respond_error(req, 400, "bad_request", "%s", fatal.data);
        else {
            /* every sample rejected: 400 with the reasons */
            tn_buf_t b;
            tn_buf_init(&b);
            tn_buf_printf(&b,
                          "{\"error\":\"bad_request\",\"message\":\"no valid sample in the "
                          "body\",\"accepted\":0,\"rejected\":%zu,\"errors\":%s}",
                          rep.rejected, rep.errors.data ? rep.errors.data : "[]");
            tn_http_respond(req, 400, NULL, b.data, b.len);
            tn_buf_deinit(&b);
        }
        tn_log_debug("ingest", "bad samples request from %s: %s", tn_http_req_peer(req),
                     fatal.data ? fatal.data : "all samples rejected");
        goto out;
    }
    tn_metric_add(in->rejected, (double)rep.rejected);
    pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        tn_http_respond_error(req, 500, "internal", "out of memory");
        goto out;
    }
    p->in = in;
    p->req = req;
    p->n = samples.n;
    p->rejected = rep.rejected;
    p->errors = rep.errors.len ? tn_buf_steal(&rep.errors) : NULL;
    rc = tn_streams_add_samples(in->streams, samples.items, samples.n, on_written, p);
    if (rc) {
        tn_metric_inc(in->refused);
        free(p->errors);
        free(p);
        tn_http_resp_header(req, "Retry-After", "1");
        tn_http_respond_error(req, 503, "unavailable",
                              "storage is unavailable (%s); nothing was stored, retry",
                              tn_strerror(rc));
        goto out;
    }
    in->inflight += samples.n;
out:
    tn_samples_deinit(&samples);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
}

int tn_ingest_routes(tn_ingest_t *in, tn_http_server_t *srv)
{
    return tn_http_server_route(srv, "POST", "/api/v1/samples", h_samples, in);
}
