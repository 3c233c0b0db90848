/* response.c - answers: response heads, JSON error bodies and the write path (uv_write). */
#include "http/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <http_parser.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMP "http"

/* ---- writing -------------------------------------------------------------------------------- */

typedef struct {
    uv_write_t req; /* first: the uv_write_t pointer is the struct's */
    tn__http_conn_t *conn;
    char *head, *body;
    bool final;
} write_t;

static void on_write(uv_write_t *w, int status)
{
    write_t *wr = (write_t *)w;
    tn__http_conn_t *c = wr->conn; /* alive: write callbacks run before the close callback */
    bool final = wr->final;
    free(wr->head);
    free(wr->body);
    free(wr);
    if (final)
        tn__http_conn_written(c, status);
    else if (status < 0)
        tn__http_conn_close(c);
}

int tn__http_write(tn__http_conn_t *c, char *head, size_t hlen, char *body, size_t blen, bool final)
{
    int err = hlen > UINT_MAX || blen > UINT_MAX ? TN_ETOOBIG : 0;
    write_t *wr = err ? NULL : malloc(sizeof *wr);
    if (!wr) {
        free(head);
        free(body);
        return err ? err : TN_ENOMEM;
    }
    wr->conn = c;
    wr->head = head;
    wr->body = body;
    wr->final = final;
    uv_buf_t bufs[2];
    unsigned n = 0;
    if (hlen) bufs[n++] = uv_buf_init(head, (unsigned)hlen);
    if (blen) bufs[n++] = uv_buf_init(body, (unsigned)blen);
    int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, bufs, n, on_write);
    if (rc) {
        tn_log_debug(COMP, "%s: write: %s", c->peer, uv_strerror(rc));
        free(head);
        free(body);
        free(wr);
        return TN_ECLOSED;
    }
    return 0;
}

/* ---- heads -------------------------------------------------------------------------------- */

static void count_response(int status)
{
    char labels[24];
    snprintf(labels, sizeof labels, "code=\"%dxx\"", status / 100);
    tn_metric_inc(tn_metrics_counter("tocsin_http_requests_total", labels,
                                     "HTTP responses sent, by status class"));
}

static const char *reason(int status)
{
    const char *r = http_status_str((enum http_status)status);
    return r && r[0] != '<' ? r : "Unknown";
}

/* True when s holds a control character other than tab (CR and LF would inject headers). */
static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f) return true;
    return false;
}

static bool is_token(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* Builds the status line and headers. 204 and 304 carry no Content-Length (and no body). */
static int build_head(tn_buf_t *h, int status, const char *ctype, size_t len, bool keep_alive,
                      const tn_buf_t *extra)
{
    if (tn_buf_printf(h, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status, reason(status), ctype))
        return TN_ENOMEM;
    if (status != 204 && status != 304 && tn_buf_printf(h, "Content-Length: %zu\r\n", len))
        return TN_ENOMEM;
    if (tn_buf_puts(h, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n"))
        return TN_ENOMEM;
    if (extra && extra->len && tn_buf_append(h, extra->data, extra->len)) return TN_ENOMEM;
    return tn_buf_puts(h, "\r\n");
}

int tn__http_error_json(tn_buf_t *b, const char *code, const char *message)
{
    if (tn_buf_puts(b, "{\"error\":") || tn_buf_json_str(b, code, strlen(code)) ||
        tn_buf_puts(b, ",\"message\":") || tn_buf_json_str(b, message, strlen(message)) ||
        tn_buf_puts(b, "}"))
        return TN_ENOMEM;
    return 0;
}

int tn__http_conn_send_error(tn__http_conn_t *c, int status, const char *code, const char *message)
{
    tn_buf_t body, head;
    tn_buf_init(&body);
    tn_buf_init(&head);
    if (tn__http_error_json(&body, code, message) ||
        build_head(&head, status, "application/json", body.len, false, NULL)) {
        tn_buf_deinit(&body);
        tn_buf_deinit(&head);
        return TN_ENOMEM;
    }
    count_response(status);
    tn__http_conn_answering(c, false);
    size_t hlen = head.len, blen = body.len;
    return tn__http_write(c, tn_buf_steal(&head), hlen, tn_buf_steal(&body), blen, true);
}

/* ---- answering (public) -------------------------------------------------------------------- */

/* Frees the request and lets the server know; srv may be freed by this. */
static void req_release(tn_http_req_t *req)
{
    tn_http_server_t *srv = req->srv;
    tn__http_req_free(req);
    if (srv) tn__http_server_req_released(srv);
}

/* Gives up on answering (out of memory): the client sees the connection close. */
static int req_abandon(tn_http_req_t *req, int err)
{
    tn__http_conn_t *c = req->conn;
    if (c) {
        c->pending = NULL;
        req->conn = NULL;
        tn_log_error(COMP, "%s: cannot answer: %s", c->peer, tn_strerror(err));
        tn__http_conn_close(c);
    }
    req_release(req);
    return err;
}

int tn_http_resp_header(tn_http_req_t *req, const char *name, const char *value)
{
    static const char *const managed[] = {"Content-Length", "Content-Type", "Connection",
                                          "Transfer-Encoding"};
    if (!is_token(name) || has_ctl(value)) return TN_EINVAL;
    for (size_t i = 0; i < sizeof managed / sizeof *managed; i++)
        if (strcasecmp(name, managed[i]) == 0) return TN_EINVAL;
    return tn_buf_printf(&req->resp_headers, "%s: %s\r\n", name, value);
}

int tn_http_respond_json(tn_http_req_t *req, int status, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return tn_http_respond_error(req, 500, "internal", "out of memory");
    return tn_http_respond_owned(req, status, NULL, s, strlen(s));
}

int tn_http_respond_owned(tn_http_req_t *req, int status, const char *content_type, char *body,
                          size_t len)
{
    tn_require(req != NULL && (body != NULL || len == 0));
    tn__http_conn_t *c = req->conn;
    if (!c) { /* the client has gone: discard */
        free(body);
        req_release(req);
        return TN_ECLOSED;
    }
    tn_require(c->pending == req);
    if (status < 200 || status > 599) {
        tn_log_error(COMP, "invalid response status %d for %s %s; sending 500", status, req->method,
                     tn_http_req_path(req));
        status = 500;
    }
    if (!content_type) content_type = "application/json";
    if (has_ctl(content_type)) {
        tn_log_error(COMP, "invalid Content-Type for %s; using application/octet-stream",
                     tn_http_req_path(req));
        content_type = "application/octet-stream";
    }

    tn_buf_t head;
    tn_buf_init(&head);
    bool keep_alive = req->keep_alive && !c->srv->draining; /* draining: the last answer */
    if (build_head(&head, status, content_type, len, keep_alive, &req->resp_headers)) {
        tn_buf_deinit(&head);
        free(body);
        return req_abandon(req, TN_ENOMEM);
    }
    if (req->is_head || status == 204 || status == 304) { /* no body bytes on the wire */
        free(body);
        body = NULL;
        len = 0;
    }
    count_response(status);
    tn_log_debug(COMP, "%s %s %s -> %d", c->peer, req->method, tn_http_req_path(req), status);
    c->pending = NULL;
    req->conn = NULL;
    tn__http_conn_answering(c, keep_alive);
    size_t hlen = head.len;
    int rc = tn__http_write(c, tn_buf_steal(&head), hlen, body, len, true);
    if (rc) tn__http_conn_close(c);
    req_release(req);
    return rc ? TN_ECLOSED : 0;
}

int tn_http_respond(tn_http_req_t *req, int status, const char *content_type, const char *body,
                    size_t len)
{
    char *copy = NULL;
    if (len > 0) {
        if (!req->conn) return tn_http_respond_owned(req, status, content_type, NULL, 0);
        copy = malloc(len);
        if (!copy) return req_abandon(req, TN_ENOMEM);
        memcpy(copy, body, len);
    }
    return tn_http_respond_owned(req, status, content_type, copy, len);
}

int tn_http_respond_error(tn_http_req_t *req, int status, const char *code, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char small[256], *msg = small;
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL)
        vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    if (n < 0) msg = small, small[0] = '\0';
    if (!msg) return req_abandon(req, TN_ENOMEM);

    tn_buf_t b;
    tn_buf_init(&b);
    int rc = tn__http_error_json(&b, code ? code : "error", msg);
    if (msg != small) free(msg);
    if (rc) {
        tn_buf_deinit(&b);
        return req_abandon(req, rc);
    }
    size_t len = b.len;
    return tn_http_respond_owned(req, status, "application/json", tn_buf_steal(&b), len);
}
