/* influx_tcp.c - Influx line protocol over TCP. */
#include "ingest/influx.h"
#include "ingest/listeners.h"
#include "ingest/writer.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE_BUFFER (4u << 20) /* a connection holding more without a newline is closed */

typedef struct conn conn_t;

struct tn_influx_tcp {
    uv_tcp_t server;
    tn_streams_t *streams;
    tn_ingest_t *ingest;
    conn_t *conns;
    uv_timer_t resume; /* retries reading when backpressure eases */
    uv_timer_t sweep;  /* closes connections idle longer than idle_ms */
    uint64_t idle_ms;
    unsigned max_conns, nconns;
    int64_t refused_logged_ms;
    int port;
    int stopping;
    unsigned open_handles;
    tn_metric_t *m_lines, *m_bad, *m_paused, *m_conns, *m_closed_idle, *m_closed_long, *m_refused;
};

struct conn {
    uv_tcp_t tcp;
    tn_influx_tcp_t *t;
    tn_buf_t buf;
    int writing; /* a write of this connection is not yet confirmed */
    int reading;
    int closing;
    uint64_t last_ms; /* last bytes received (uv_now) */
    conn_t *prev, *next;
};

static void maybe_free(tn_influx_tcp_t *t)
{
    if (t->stopping && t->open_handles == 0) free(t);
}

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    tn_influx_tcp_t *t = c->t;
    tn_buf_deinit(&c->buf);
    if (!c->writing)
        free(c);
    else
        c->closing = 2; /* freed by the write callback */
    t->open_handles--;
    maybe_free(t);
}

static void conn_close(conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    tn_influx_tcp_t *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    t->nconns--;
    tn_metric_set(t->m_conns, t->nconns);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    if (tn_buf_reserve(&c->buf, suggested)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(c->buf.data + c->buf.len, (unsigned)(c->buf.cap - c->buf.len - 1));
}

static void process(conn_t *c);

static void on_written(int err, void *arg)
{
    conn_t *c = arg;
    c->writing = 0;
    if (err) tn_log_warn("ingest", "influx tcp: write to storage failed: %s", tn_strerror(err));
    if (c->closing == 2) {
        free(c);
        return;
    }
    if (!c->closing) process(c);
}

static void start_reading(conn_t *c);
static void on_resume(uv_timer_t *timer);

/* Parses and writes the complete lines in the buffer, one write at a time per connection. */
static void process(conn_t *c)
{
    tn_influx_tcp_t *t = c->t;
    if (c->writing || c->closing) return;
    size_t n = tn_influx_complete_prefix(c->buf.data ? c->buf.data : "", c->buf.len);
    if (n > 0) {
        tn_batch_t b;
        tn_batch_init(&b);
        tn_ingest_report_t rep;
        tn_ingest_report_init(&rep);
        tn_buf_t fatal;
        tn_buf_init(&fatal);
        tn_parse_opts_t o = {.now_ms = tn_now_ms(), .max_items = 10000000};
        int rc = tn_parse_influx(c->buf.data, n, &o, NULL, &b, &rep, &fatal);
        tn_metric_add(t->m_lines, (double)rep.accepted);
        if (rc || rep.rejected) {
            tn_metric_add(t->m_bad, (double)rep.rejected);
            tn_log_warn("ingest", "influx tcp: %zu bad line(s): %.300s", rep.rejected,
                        rc ? (fatal.data ? fatal.data : "?")
                           : (rep.errors.data ? rep.errors.data : "?"));
        }
        memmove(c->buf.data, c->buf.data + n, c->buf.len - n);
        c->buf.len -= n;
        if (tn_batch_count(&b)) {
            c->writing = 1;
            tn_ingest_write(t->streams, &b, on_written, c); /* may complete at once */
        }
        tn_batch_deinit(&b);
        tn_ingest_report_deinit(&rep);
        tn_buf_deinit(&fatal);
    }
    if (!c->writing && !c->closing) start_reading(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    (void)buf;
    if (nread < 0) {
        if (c->buf.len) { /* a last line without newline */
            tn_buf_append(&c->buf, "\n", 1);
            c->reading = 0;
            uv_read_stop(s);
            process(c);
        }
        conn_close(c);
        return;
    }
    c->buf.len += (size_t)nread;
    c->last_ms = uv_now(s->loop);
    if (c->buf.len > MAX_LINE_BUFFER && tn_influx_complete_prefix(c->buf.data, c->buf.len) == 0) {
        tn_log_warn("ingest", "influx tcp: line longer than %u bytes; closing", MAX_LINE_BUFFER);
        tn_metric_inc(c->t->m_closed_long);
        conn_close(c);
        return;
    }
    /* stop reading while a write is outstanding or the engine is saturated */
    uv_read_stop(s);
    c->reading = 0;
    process(c);
}

static void start_reading(conn_t *c)
{
    if (c->reading || c->closing) return;
    if (!tn_ingest_accepting(c->t->ingest)) {
        tn_metric_inc(c->t->m_paused);
        uv_timer_start(&c->t->resume, on_resume, 50, 0);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
}

static void on_resume(uv_timer_t *timer)
{
    tn_influx_tcp_t *t = timer->data;
    for (conn_t *c = t->conns; c; c = c->next)
        if (!c->writing) start_reading(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    tn_influx_tcp_t *t = server->data;
    if (status < 0) return;
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        tn_log_error("ingest", "influx tcp: out of memory; connection left pending");
        return;
    }
    c->t = t;
    tn_buf_init(&c->buf);
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    t->open_handles++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) || t->nconns >= t->max_conns) {
        if (t->nconns >= t->max_conns) {
            tn_metric_inc(t->m_refused);
            int64_t now = (int64_t)uv_now(server->loop);
            if (now - t->refused_logged_ms >= 10000) { /* one line per 10 s, not per connection */
                t->refused_logged_ms = now;
                tn_log_warn("ingest", "influx tcp: %u connections open (the limit); refusing more",
                            t->nconns);
            }
        }
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    c->last_ms = uv_now(server->loop);
    t->nconns++;
    tn_metric_set(t->m_conns, t->nconns);
    c->next = t->conns;
    if (t->conns) t->conns->prev = c;
    t->conns = c;
    start_reading(c);
}

/* Closes the connections that sent nothing for idle_ms while we waited for them (a connection
 * that is not read because of backpressure is never idle by its client's fault). */
static void on_sweep(uv_timer_t *timer)
{
    tn_influx_tcp_t *t = timer->data;
    uint64_t now = uv_now(timer->loop);
    for (conn_t *c = t->conns, *next; c; c = next) {
        next = c->next;
        if (c->reading && !c->writing && now - c->last_ms >= t->idle_ms) {
            tn_log_info("ingest", "influx tcp: closing a connection idle for %llu ms",
                        (unsigned long long)(now - c->last_ms));
            tn_metric_inc(t->m_closed_idle);
            if (c->buf.len)
                tn_log_warn("ingest", "influx tcp: dropped %zu bytes of an unfinished line",
                            c->buf.len);
            conn_close(c);
        }
    }
}

int tn_influx_tcp_start(uv_loop_t *loop, const tn_influx_tcp_opts_t *opts, tn_streams_t *streams,
                        tn_ingest_t *ingest, tn_influx_tcp_t **out)
{
    const char *addr = opts->addr;
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) return TN_EINVAL;
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    int port = atoi(colon + 1);
    struct sockaddr_storage sa;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa))
        return TN_EINVAL;
    tn_influx_tcp_t *t = calloc(1, sizeof *t);
    if (!t) return TN_ENOMEM;
    t->streams = streams;
    t->ingest = ingest;
    uv_tcp_init(loop, &t->server);
    uv_timer_init(loop, &t->resume);
    uv_timer_init(loop, &t->sweep);
    t->server.data = t->resume.data = t->sweep.data = t;
    t->open_handles = 3;
    t->idle_ms = opts->idle_ms ? opts->idle_ms : 300000;
    t->max_conns = opts->max_conns ? opts->max_conns : 1024;
    t->refused_logged_ms = INT64_MIN / 2;
    t->m_conns = tn_metrics_gauge("tocsin_ingest_tcp_connections", NULL,
                                  "Open connections of the Influx TCP input.");
    t->m_closed_idle =
        tn_metrics_counter("tocsin_ingest_tcp_closed_total", "reason=\"idle\"",
                           "Influx TCP connections closed by the engine, by reason.");
    t->m_closed_long =
        tn_metrics_counter("tocsin_ingest_tcp_closed_total", "reason=\"line_too_long\"",
                           "Influx TCP connections closed by the engine, by reason.");
    t->m_refused = tn_metrics_counter("tocsin_ingest_tcp_closed_total", "reason=\"too_many\"",
                                      "Influx TCP connections closed by the engine, by reason.");
    t->m_lines = tn_metrics_counter("tocsin_ingest_records_total",
                                    "input=\"influx_tcp\",result=\"accepted\"",
                                    "Records received, by input and result.");
    t->m_bad = tn_metrics_counter("tocsin_ingest_records_total",
                                  "input=\"influx_tcp\",result=\"rejected\"",
                                  "Records received, by input and result.");
    t->m_paused = tn_metrics_counter("tocsin_ingest_tcp_paused_total", NULL,
                                     "Times a TCP input stopped reading under backpressure.");
    int rc = uv_tcp_bind(&t->server, (const struct sockaddr *)&sa, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&t->server, 128, on_connection);
    if (rc) {
        tn_log_error("ingest", "influx tcp: cannot listen on %s: %s", addr, uv_strerror(rc));
        tn_influx_tcp_stop(t);
        return TN_EIO;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&t->server, (struct sockaddr *)&bound, &len);
    t->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    uint64_t every = t->idle_ms / 4 < 1000 ? (t->idle_ms / 4 ? t->idle_ms / 4 : 1) : 1000;
    uv_timer_start(&t->sweep, on_sweep, every, every);
    tn_log_info("ingest", "influx line protocol on tcp %s:%d", host, t->port);
    *out = t;
    return 0;
}

int tn_influx_tcp_port(const tn_influx_tcp_t *t)
{
    return t->port;
}

static void on_server_closed(uv_handle_t *h)
{
    tn_influx_tcp_t *t = h->data;
    t->open_handles--;
    maybe_free(t);
}

void tn_influx_tcp_stop(tn_influx_tcp_t *t)
{
    if (!t) return;
    t->stopping = 1;
    while (t->conns)
        conn_close(t->conns);
    uv_close((uv_handle_t *)&t->server, on_server_closed);
    uv_close((uv_handle_t *)&t->resume, on_server_closed);
    uv_close((uv_handle_t *)&t->sweep, on_server_closed);
}
