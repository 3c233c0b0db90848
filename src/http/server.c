/* server.c - the HTTP server's sockets: listening, connections, reading, timers and routing.
 * Answers and writes are in response.c, parsing in request.c; phases in internal.h. */
#include "http/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMP "http"

static void conn_process(tn__http_conn_t *c);

static void gauge_conns(double delta)
{
    tn_metric_add(tn_metrics_gauge("tocsin_http_connections", NULL, "Open HTTP connections"),
                  delta);
}

/* ---- limits and server lifetime ----------------------------------------------------------- */

void tn_http_limits_default(tn_http_limits_t *l)
{
    l->max_header_bytes = 16 * 1024;
    l->max_body_bytes = 8 * 1024 * 1024;
    l->read_timeout_ms = 10000;
    l->keepalive_timeout_ms = 30000;
    l->max_connections = 1024;
}

tn_http_server_t *tn_http_server_create(uv_loop_t *loop, const tn_http_limits_t *limits)
{
    tn_http_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->rbuf = malloc(TN__HTTP_READ_SIZE);
    if (!srv->rbuf || uv_tcp_init(loop, &srv->listener) != 0) {
        free(srv->rbuf);
        free(srv);
        return NULL;
    }
    srv->loop = loop;
    srv->listener.data = srv;
    srv->port = -1;
    tn_http_limits_t def;
    tn_http_limits_default(&def);
    srv->limits = limits ? *limits : def;
    /* zero sizes and counts take their default; zero timeouts mean "none" */
    if (!srv->limits.max_header_bytes) srv->limits.max_header_bytes = def.max_header_bytes;
    if (!srv->limits.max_body_bytes) srv->limits.max_body_bytes = def.max_body_bytes;
    if (!srv->limits.max_connections) srv->limits.max_connections = def.max_connections;
    return srv;
}

/* Frees the server once it is closing and nothing refers to it any more. */
static void srv_maybe_finish(tn_http_server_t *srv)
{
    if (!srv->closing || !srv->listener_closed || srv->nconns > 0 || srv->reqs_outstanding > 0)
        return;
    void (*done)(void *) = srv->done;
    void *arg = srv->done_arg;
    for (size_t i = 0; i < srv->nroutes; i++) {
        free(srv->routes[i].method);
        free(srv->routes[i].path);
    }
    free(srv->routes);
    free(srv->rbuf);
    free(srv);
    if (done) done(arg);
}

void tn__http_server_req_released(tn_http_server_t *srv)
{
    tn_require(srv->reqs_outstanding > 0);
    srv->reqs_outstanding--;
    srv_maybe_finish(srv);
}

static void on_listener_close(uv_handle_t *h)
{
    tn_http_server_t *srv = h->data;
    srv->listener_closed = true;
    srv_maybe_finish(srv);
}

void tn_http_server_close(tn_http_server_t *srv, void (*done)(void *arg), void *arg)
{
    if (!srv) return;
    tn_require(!srv->closing);
    srv->closing = true;
    srv->done = done;
    srv->done_arg = arg;
    if (!srv->draining) uv_close((uv_handle_t *)&srv->listener, on_listener_close);
    /* conns leave the list only in their close callbacks, so iterating is safe even when an
     * on_gone callback answers requests of other connections */
    for (tn__http_conn_t *c = srv->conns, *next; c; c = next) {
        next = c->next;
        tn__http_conn_close(c);
    }
    if (srv->draining) srv_maybe_finish(srv); /* the listener may be closed already */
}

void tn_http_server_drain(tn_http_server_t *srv)
{
    if (!srv || srv->draining || srv->closing) return;
    srv->draining = true;
    uv_close((uv_handle_t *)&srv->listener, on_listener_close);
    for (tn__http_conn_t *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->phase == TN__CONN_IDLE) tn__http_conn_close(c); /* nothing started on it */
    }
}

bool tn_http_server_busy(const tn_http_server_t *srv)
{
    for (const tn__http_conn_t *c = srv ? srv->conns : NULL; c; c = c->next)
        if (c->phase == TN__CONN_READING || c->phase == TN__CONN_HANDLER ||
            c->phase == TN__CONN_WRITING)
            return true;
    return false;
}

int tn_http_server_route(tn_http_server_t *srv, const char *method, const char *path,
                         tn_http_handler_fn fn, void *data)
{
    if (!path || !fn) return TN_EINVAL;
    if (srv->nroutes == srv->routes_cap) {
        size_t cap = srv->routes_cap ? srv->routes_cap * 2 : 8;
        tn__http_route_t *r = realloc(srv->routes, cap * sizeof *r);
        if (!r) return TN_ENOMEM;
        srv->routes = r;
        srv->routes_cap = cap;
    }
    tn__http_route_t *rt = &srv->routes[srv->nroutes];
    memset(rt, 0, sizeof *rt);
    size_t len = strlen(path);
    rt->prefix = len > 0 && path[len - 1] == '*';
    rt->path_len = rt->prefix ? len - 1 : len;
    rt->path = strndup(path, rt->path_len);
    rt->method = method ? strdup(method) : NULL;
    if (!rt->path || (method && !rt->method)) {
        free(rt->path);
        free(rt->method);
        return TN_ENOMEM;
    }
    rt->fn = fn;
    rt->data = data;
    srv->nroutes++;
    return 0;
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_free(tn__http_conn_t *c)
{
    tn_http_server_t *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv->nconns--;
    gauge_conns(-1);
    tn__http_parser_destroy(c->parser);
    tn_buf_deinit(&c->in);
    free(c);
    srv_maybe_finish(srv);
}

static void on_conn_handle_close(uv_handle_t *h)
{
    tn__http_conn_t *c = h->data;
    if (--c->open_handles == 0) conn_free(c);
}

void tn__http_conn_close(tn__http_conn_t *c)
{
    if (c->phase == TN__CONN_CLOSED) return;
    c->phase = TN__CONN_CLOSED;
    c->reading = false;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_close);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_close);

    tn_http_req_t *req = c->pending;
    if (req) {
        c->pending = NULL;
        req->conn = NULL;
        req->gone = true;
        tn_metric_inc(tn_metrics_counter("tocsin_http_requests_gone_total", NULL,
                                         "Requests whose client went away before the answer"));
        void (*cb)(tn_http_req_t *, void *) = req->on_gone;
        req->on_gone = NULL;
        if (cb) cb(req, req->on_gone_arg); /* may answer, and so free, req */
    }
}

static void on_timer(uv_timer_t *t);

/* Arms the connection's timer; 0 ms means no timeout. */
static void conn_arm(tn__http_conn_t *c, uint64_t ms)
{
    if (ms)
        uv_timer_start(&c->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    tn__http_conn_t *c = h->data;
    /* libuv (unix) reads right after this and calls on_read before any other read: the one
     * buffer of the server is enough; on_read copies what it keeps */
    *buf = uv_buf_init(c->srv->rbuf, TN__HTTP_READ_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Reads while there is room for more buffered input; stops when full. */
static void conn_update_reading(tn__http_conn_t *c)
{
    if (c->phase == TN__CONN_CLOSED) return;
    bool want = !c->eof && c->in.len - c->in_off < TN__HTTP_INBUF_MAX;
    if (want && !c->reading) {
        int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc) {
            tn_log_debug(COMP, "%s: cannot read: %s", c->peer, uv_strerror(rc));
            tn__http_conn_close(c);
            return;
        }
        c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    tn__http_conn_t *c = req->data;
    if (status < 0) tn__http_conn_close(c);
}

/* After the last answer: shut the write side (the client sees the end of the answer), then
 * drain what the client still sends for a while before closing, so that closing with unread
 * input does not reset the connection before the client has read our answer. */
static void conn_linger(tn__http_conn_t *c)
{
    if (c->eof) { /* nothing more will come */
        tn__http_conn_close(c);
        return;
    }
    c->phase = TN__CONN_LINGER;
    tn_buf_reset(&c->in);
    c->in_off = 0;
    int rc = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc) {
        tn__http_conn_close(c);
        return;
    }
    conn_arm(c, TN__HTTP_LINGER_MS);
    conn_update_reading(c);
}

void tn__http_conn_answering(tn__http_conn_t *c, bool keep_alive)
{
    c->phase = TN__CONN_WRITING;
    c->close_after_write = !keep_alive || c->srv->draining;
    conn_arm(c, c->srv->limits.keepalive_timeout_ms);
}

void tn__http_conn_written(tn__http_conn_t *c, int status)
{
    if (c->phase == TN__CONN_CLOSED) return;
    if (status < 0) {
        tn_log_debug(COMP, "%s: write failed: %s", c->peer, uv_strerror(status));
        tn__http_conn_close(c);
        return;
    }
    if (c->close_after_write || c->srv->closing || c->srv->draining) {
        conn_linger(c);
        return;
    }
    c->phase = TN__CONN_IDLE;
    conn_arm(c, c->srv->limits.keepalive_timeout_ms);
    conn_process(c); /* the next pipelined request, if buffered */
    if (c->eof && (c->phase == TN__CONN_IDLE || c->phase == TN__CONN_READING))
        tn__http_conn_close(c); /* half-closed and every complete request answered */
}

/* Answers bad input or a timeout and ends the connection. */
static void conn_fail(tn__http_conn_t *c, int status, const char *code, const char *message)
{
    tn_log_debug(COMP, "%s: %d %s: %s", c->peer, status, code, message);
    tn_buf_reset(&c->in);
    c->in_off = 0;
    if (tn__http_conn_send_error(c, status, code, message)) tn__http_conn_close(c);
}

static void on_timer(uv_timer_t *t)
{
    tn__http_conn_t *c = t->data;
    char msg[96];
    switch (c->phase) {
    case TN__CONN_READING:
        snprintf(msg, sizeof msg, "request not received within %llu ms",
                 (unsigned long long)c->srv->limits.read_timeout_ms);
        conn_fail(c, 408, "timeout", msg);
        break;
    case TN__CONN_WRITING:
        tn_log_debug(COMP, "%s: answer not written in time, closing", c->peer);
        tn__http_conn_close(c);
        break;
    case TN__CONN_IDLE: /* keep-alive idle: close quietly */
    case TN__CONN_LINGER:
        tn__http_conn_close(c);
        break;
    case TN__CONN_HANDLER:
    case TN__CONN_CLOSED:
        break;
    }
}

/* ---- routing ------------------------------------------------------------------------------ */

static bool route_path_matches(const tn__http_route_t *rt, const char *path)
{
    if (rt->prefix) return strncmp(path, rt->path, rt->path_len) == 0;
    return strcmp(path, rt->path) == 0;
}

static bool route_method_matches(const tn__http_route_t *rt, const tn_http_req_t *req)
{
    if (!rt->method || strcmp(rt->method, req->method) == 0) return true;
    return req->is_head && strcmp(rt->method, "GET") == 0; /* HEAD is GET without the body */
}

static void route(tn_http_server_t *srv, tn_http_req_t *req)
{
    const char *path = tn_http_req_path(req);
    bool path_seen = false;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const tn__http_route_t *rt = &srv->routes[i];
        if (!route_path_matches(rt, path)) continue;
        if (route_method_matches(rt, req)) {
            rt->fn(req, rt->data);
            return;
        }
        path_seen = true;
    }
    if (!path_seen) {
        tn_http_respond_error(req, 404, "not_found", "no route for %s", path);
        return;
    }
    /* 405 with the methods that would have matched */
    tn_buf_t allow;
    tn_buf_init(&allow);
    int rc = 0;
    for (size_t i = 0; i < srv->nroutes && !rc; i++) {
        const tn__http_route_t *rt = &srv->routes[i];
        if (!route_path_matches(rt, path)) continue;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = route_path_matches(&srv->routes[j], path) &&
                  strcmp(srv->routes[j].method, rt->method) == 0;
        if (!dup) rc = tn_buf_printf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
    }
    if (!rc) tn_http_resp_header(req, "Allow", allow.data);
    tn_buf_deinit(&allow);
    tn_http_respond_error(req, 405, "method_not_allowed", "method %s not allowed on %s",
                          req->method, path);
}

/* Hands a complete request to its handler. The handler may answer now or later. */
static void conn_dispatch(tn__http_conn_t *c, tn_http_req_t *req)
{
    tn_http_server_t *srv = c->srv;
    c->phase = TN__CONN_HANDLER;
    uv_timer_stop(&c->timer);
    req->srv = srv;
    req->conn = c;
    memcpy(req->peer, c->peer, sizeof req->peer);
    c->pending = req;
    srv->reqs_outstanding++;
    route(srv, req);
}

/* ---- reading -------------------------------------------------------------------------------- */

/* Feeds bytes to the parser while the connection is between answers; dispatches at most one
 * request. Returns the number of bytes consumed (the rest waits in c->in). */
static size_t conn_feed(tn__http_conn_t *c, const char *data, size_t len)
{
    if (len == 0 || (c->phase != TN__CONN_IDLE && c->phase != TN__CONN_READING)) return 0;
    size_t used = 0;
    int rc = tn__http_parser_feed(c->parser, data, len, &used);
    if (rc == TN__HTTP_DONE) {
        conn_dispatch(c, tn__http_parser_take(c->parser));
    } else if (rc == TN__HTTP_MORE) {
        if (c->phase == TN__CONN_IDLE && tn__http_parser_started(c->parser)) {
            /* the read deadline runs from the first byte of the request */
            c->phase = TN__CONN_READING;
            conn_arm(c, c->srv->limits.read_timeout_ms);
        }
        if (tn__http_parser_want_continue(c->parser)) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            char *head = strdup(cont);
            if (!head || tn__http_write(c, head, sizeof cont - 1, NULL, 0, false))
                tn__http_conn_close(c);
        }
    } else if (rc == TN_EPROTO) {
        const char *code = "bad_request", *msg = "bad request";
        int status = tn__http_parser_error(c->parser, &code, &msg);
        conn_fail(c, status, code, msg);
    } else {
        tn_log_error(COMP, "%s: %s while reading a request", c->peer, tn_strerror(rc));
        tn__http_conn_close(c);
    }
    return used;
}

/* Parses what is buffered, then adjusts reading. */
static void conn_process(tn__http_conn_t *c)
{
    if (c->in_off < c->in.len)
        c->in_off += conn_feed(c, c->in.data + c->in_off, c->in.len - c->in_off);
    if (c->phase == TN__CONN_CLOSED) return;
    if (c->in_off == c->in.len) {
        tn_buf_reset(&c->in);
        c->in_off = 0;
    }
    conn_update_reading(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    tn__http_conn_t *c = s->data;
    if (nread == 0 || c->phase == TN__CONN_CLOSED) return;
    if (nread < 0) {
        if (nread == UV_EOF && c->phase == TN__CONN_WRITING && !c->close_after_write) {
            c->eof = true; /* half-close: answer what was sent (internal.h) */
            conn_update_reading(c);
            return;
        }
        if (nread != UV_EOF) tn_log_debug(COMP, "%s: read: %s", c->peer, uv_strerror((int)nread));
        tn__http_conn_close(c);
        return;
    }
    if (c->phase == TN__CONN_LINGER) {
        c->lingered += (size_t)nread;
        if (c->lingered > TN__HTTP_LINGER_MAX) tn__http_conn_close(c);
        return;
    }
    if (c->phase == TN__CONN_WRITING && c->close_after_write) return; /* ignored: we're done */

    const char *data = buf->base;
    size_t len = (size_t)nread;
    if (c->in_off == c->in.len) { /* nothing buffered: parse straight from the read buffer */
        size_t used = conn_feed(c, data, len);
        data += used;
        len -= used;
        if (c->phase == TN__CONN_CLOSED || c->phase == TN__CONN_LINGER) return;
        if (c->phase == TN__CONN_WRITING && c->close_after_write) return;
    }
    if (len > 0) {
        if (c->in_off > 0) { /* compact */
            memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
            c->in.len -= c->in_off;
            c->in_off = 0;
        }
        if (tn_buf_append(&c->in, data, len)) {
            tn_log_error(COMP, "%s: out of memory buffering input", c->peer);
            tn__http_conn_close(c);
            return;
        }
    }
    conn_process(c);
}

/* ---- accepting ------------------------------------------------------------------------------ */

static void format_peer(uv_tcp_t *t, char *out, size_t size)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "?";
    snprintf(out, size, "unknown");
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(out, size, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(out, size, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    }
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* Accepts and closes at once (over the connection cap, or out of memory). */
static void reject_connection(tn_http_server_t *srv, const char *why)
{
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t || uv_tcp_init(srv->loop, t) != 0) {
        /* without a handle libuv cannot hand us the socket; it retries on the next event */
        free(t);
        tn_log_error(COMP, "cannot accept a connection: out of memory");
        return;
    }
    uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, free_handle);
    tn_metric_inc(tn_metrics_counter("tocsin_http_connections_rejected_total", NULL,
                                     "Connections closed at once (limit or out of memory)"));
    uint64_t now = uv_now(srv->loop);
    if (srv->last_limit_warn == 0 || now - srv->last_limit_warn >= 10000) {
        srv->last_limit_warn = now ? now : 1;
        tn_log_warn(COMP, "connection rejected: %s (%u open)", why, srv->nconns);
    }
}

static void on_connection(uv_stream_t *ls, int status)
{
    tn_http_server_t *srv = ls->data;
    if (status < 0) {
        tn_log_warn(COMP, "accept: %s", uv_strerror(status));
        return;
    }
    if (srv->nconns >= srv->limits.max_connections) {
        reject_connection(srv, "max_connections reached");
        return;
    }
    tn__http_conn_t *c = calloc(1, sizeof *c);
    tn__http_parser_t *p =
        c ? tn__http_parser_create(srv->limits.max_header_bytes, srv->limits.max_body_bytes) : NULL;
    if (!p || uv_tcp_init(srv->loop, &c->tcp) != 0) {
        tn__http_parser_destroy(p);
        free(c);
        reject_connection(srv, "out of memory");
        return;
    }
    uv_timer_init(srv->loop, &c->timer);
    c->open_handles = 2;
    c->tcp.data = c->timer.data = c->shutdown_req.data = c;
    c->srv = srv;
    c->parser = p;
    tn_buf_init(&c->in);
    c->phase = TN__CONN_IDLE;
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    gauge_conns(1);

    int rc = uv_accept(ls, (uv_stream_t *)&c->tcp);
    if (rc) {
        tn_log_warn(COMP, "accept: %s", uv_strerror(rc));
        tn__http_conn_close(c);
        return;
    }
    format_peer(&c->tcp, c->peer, sizeof c->peer);
    uv_tcp_nodelay(&c->tcp, 1);
    conn_arm(c, srv->limits.read_timeout_ms); /* a first request is due within read_timeout */
    conn_update_reading(c);
}

int tn_http_server_listen(tn_http_server_t *srv, const char *host, int port)
{
    if (srv->listening || srv->closing || port < 0 || port > 65535) return TN_EINVAL;
    struct sockaddr_storage ss;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                               : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc) {
        tn_log_error(COMP, "invalid listen address %s: %s", host, uv_strerror(rc));
        return TN_EINVAL;
    }
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc) {
        tn_log_error(COMP, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        return rc == UV_EADDRINUSE ? TN_EBUSY : rc == UV_EADDRNOTAVAIL ? TN_EINVAL : TN_EIO;
    }
    int len = sizeof ss;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) == 0)
        srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    srv->listening = true;
    tn_log_info(COMP, "listening on %s:%d", host, srv->port);
    return 0;
}

int tn_http_server_port(const tn_http_server_t *srv)
{
    return srv->listening ? srv->port : -1;
}

/* ---- request state (public) -------------------------------------------------------------- */

bool tn_http_req_gone(const tn_http_req_t *req)
{
    return req->gone;
}

void tn_http_req_on_gone(tn_http_req_t *req, void (*cb)(tn_http_req_t *req, void *arg), void *arg)
{
    req->on_gone = cb;
    req->on_gone_arg = arg;
}
