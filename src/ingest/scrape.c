/* scrape.c - Prometheus scraping of configured targets, on the loop. */
#include "ingest/listeners.h"
#include "ingest/prom_text.h"
#include "ingest/writer.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct target {
    struct tn_scraper *s;
    char *url;
    char instance[256];
    uint64_t req_id;
    int in_flight;
    int last_up;
} target_t;

struct tn_scraper {
    uv_timer_t timer;
    tn_httpc_t *httpc;
    tn_streams_t *streams;
    target_t *targets;
    size_t n;
    uint64_t interval_ms, timeout_ms, max_bytes;
    tn_metric_t *m_ok, *m_failed;
};

/* Adds name=value unless the sample has that label; re-finishes the sample (sid). */
static int add_label(tn_sample_t *x, const char *name, const char *value)
{
    for (size_t i = 0; i < x->nlabels; i++)
        if (strcmp(x->labels[i].name, name) == 0) return 0;
    tn_label_t *l = realloc(x->labels, (x->nlabels + 1) * sizeof *l);
    if (!l) return TN_ENOMEM;
    x->labels = l;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n), free(v);
        return TN_ENOMEM;
    }
    x->labels[x->nlabels++] = (tn_label_t){n, v};
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_sample_finish(x, &err);
    tn_buf_deinit(&err);
    return rc;
}

static void on_written(int err, void *arg)
{
    target_t *t = arg;
    if (err) tn_log_warn("ingest", "scrape %s: samples not stored: %s", t->url, tn_strerror(err));
}

static void record_up(target_t *t, tn_batch_t *b, int up)
{
    tn_sample_t *x = tn_samples_push(&b->samples);
    if (!x) return;
    x->name = strdup("up");
    x->value = up;
    x->ts_ms = tn_now_ms();
    if (!x->name || add_label(x, "job", "tocsin-scrape") || add_label(x, "instance", t->instance))
        tn_batch_drop_sample(b);
}

static void on_response(const tn_httpc_result_t *res, void *arg)
{
    target_t *t = arg;
    t->in_flight = 0;
    tn_batch_t b;
    tn_batch_init(&b);
    int up = 0;
    char why[320] = "";
    if (res->error) {
        snprintf(why, sizeof why, "%s", res->error_text ? res->error_text : "request failed");
    } else if (res->status != 200) {
        snprintf(why, sizeof why, "HTTP status %d", (int)res->status);
    } else {
        tn_ingest_report_t rep;
        tn_ingest_report_init(&rep);
        tn_buf_t fatal;
        tn_buf_init(&fatal);
        tn_parse_opts_t o = {.now_ms = tn_now_ms(), .max_items = 1000000};
        int rc = tn_parse_prom_text(res->body, res->body_len, &o, &b, &rep, &fatal);
        if (rc) {
            snprintf(why, sizeof why, "%.300s", fatal.data ? fatal.data : "bad body");
        } else if (rep.rejected && !rep.accepted) {
            /* nothing in it is a sample: not a metrics endpoint (or a broken one) */
            snprintf(why, sizeof why, "no line parses (%zu rejected): %.250s", rep.rejected,
                     rep.errors.data ? rep.errors.data : "");
        } else {
            up = 1;
            if (rep.rejected) /* one bad line does not sink the good ones */
                tn_log_warn("ingest", "scrape %s: %zu line(s) rejected: %.200s", t->url,
                            rep.rejected, rep.errors.data ? rep.errors.data : "");
            for (size_t i = 0; i < b.samples.n; i++)
                if (add_label(&b.samples.items[i], "job", "tocsin-scrape") ||
                    add_label(&b.samples.items[i], "instance", t->instance))
                    break;
            tn_metric_inc(t->s->m_ok);
        }
        tn_ingest_report_deinit(&rep);
        tn_buf_deinit(&fatal);
    }
    if (!up) {
        tn_metric_inc(t->s->m_failed);
        if (t->last_up) tn_log_warn("ingest", "scrape %s failed: %s", t->url, why);
        tn_batch_deinit(&b); /* whatever parsed before the failure is not kept */
        tn_batch_init(&b);
    }
    if (up && !t->last_up) tn_log_info("ingest", "scrape %s: up", t->url);
    t->last_up = up;
    record_up(t, &b, up);
    tn_ingest_write(t->s->streams, &b, on_written, t);
    tn_batch_deinit(&b);
}

static void on_tick(uv_timer_t *timer)
{
    tn_scraper_t *s = timer->data;
    static const char *hdrs[] = {
        "Accept: application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4",
        NULL};
    for (size_t i = 0; i < s->n; i++) {
        target_t *t = &s->targets[i];
        if (t->in_flight) continue; /* the previous scrape is still running */
        tn_httpc_req_t req = {.method = "GET",
                              .url = t->url,
                              .headers = hdrs,
                              .timeout_ms = s->timeout_ms,
                              .max_response_bytes = s->max_bytes};
        if (tn_httpc_request(s->httpc, &req, on_response, t, &t->req_id) == 0)
            t->in_flight = 1;
        else
            tn_log_warn("ingest", "scrape %s: cannot start the request", t->url);
    }
}

int tn_scraper_start(uv_loop_t *loop, const tn_scraper_opts_t *opts, tn_httpc_t *httpc,
                     tn_streams_t *streams, tn_scraper_t **out)
{
    const tn_conf_list_t *targets = opts->targets;
    uint64_t interval_ms = opts->interval_ms;
    tn_scraper_t *s = calloc(1, sizeof *s);
    if (!s) return TN_ENOMEM;
    s->targets = calloc(targets->n ? targets->n : 1, sizeof *s->targets);
    if (!s->targets) {
        free(s);
        return TN_ENOMEM;
    }
    s->timer.data = s;
    s->httpc = httpc;
    s->streams = streams;
    s->interval_ms = interval_ms;
    s->timeout_ms =
        opts->timeout_ms && opts->timeout_ms < interval_ms ? opts->timeout_ms : interval_ms;
    s->max_bytes = opts->max_bytes ? opts->max_bytes : 64u << 20;
    for (size_t i = 0; i < targets->n; i++, s->n++) {
        target_t *t = &s->targets[i];
        t->s = s;
        t->last_up = 1;
        if (!(t->url = strdup(targets->items[i]))) {
            tn_scraper_stop(s);
            return TN_ENOMEM;
        }
        const char *h = strstr(t->url, "://");
        h = h ? h + 3 : t->url;
        size_t hl = strcspn(h, "/?#");
        snprintf(t->instance, sizeof t->instance, "%.*s", (int)hl, h);
    }
    s->m_ok = tn_metrics_counter("tocsin_scrapes_total", "result=\"ok\"",
                                 "Prometheus scrapes, by result.");
    s->m_failed = tn_metrics_counter("tocsin_scrapes_total", "result=\"failed\"",
                                     "Prometheus scrapes, by result.");
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_tick, 0, interval_ms);
    tn_log_info("ingest", "scraping %zu target(s) every %llu ms", s->n,
                (unsigned long long)interval_ms);
    *out = s;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    tn_scraper_t *s = h->data;
    for (size_t i = 0; i < s->n; i++)
        free(s->targets[i].url);
    free(s->targets);
    free(s);
}

void tn_scraper_stop(tn_scraper_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        if (s->targets[i].in_flight) tn_httpc_cancel(s->httpc, s->targets[i].req_id);
    if (uv_is_active((uv_handle_t *)&s->timer) || s->timer.loop) {
        uv_timer_stop(&s->timer);
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    } else {
        on_timer_closed((uv_handle_t *)&s->timer);
    }
}
