/* test_server.c - the HTTP server over real loopback sockets.
 *
 * Each test runs the server on its own uv loop in the main thread and a blocking-socket
 * client in a pthread. The client records the first failed check (cmocka asserts must stay in
 * the main thread), then wakes the loop through a uv_async, which closes the server; the test
 * ends when the loop has no handle left, and checks that the server's done callback ran. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- fixture ---------------------------------------------------------------------------- */

typedef struct fx fx_t;
struct fx {
    uv_loop_t loop;
    uv_async_t async;
    tn_http_server_t *srv;
    int port;
    pthread_t thr;
    void (*client)(fx_t *f);
    pthread_mutex_t mu;
    char failure[256];
    bool done_called;
    /* loop side, seen by the client */
    atomic_int held;       /* /hold requests that reached their handler */
    atomic_int gone_calls; /* on_gone notifications */
    int hold_rc;           /* what the late answer to /hold returned */
    bool hold_answered;
    bool answered_before_done;
    atomic_bool close_sent;
    uv_async_t drain_async;      /* the client asks the loop for tn_http_server_drain */
    atomic_int busy_after_drain; /* tn_http_server_busy right after the drain: 1 yes, 2 no */
};

static void fx_fail(fx_t *f, int line, const char *what)
{
    pthread_mutex_lock(&f->mu);
    if (!f->failure[0]) snprintf(f->failure, sizeof f->failure, "line %d: %s", line, what);
    pthread_mutex_unlock(&f->mu);
}

#define CHECK(f, cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) fx_fail(f, __LINE__, #cond);                                                  \
    } while (0)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- handlers (loop thread) ------------------------------------------------------------- */

typedef struct {
    uv_timer_t timer;
    tn_http_req_t *req;
    fx_t *f;
} later_t;

static void h_hello(tn_http_req_t *req, void *data)
{
    tn_http_resp_header(req, "X-Test", "yes");
    tn_http_respond(req, 200, "text/plain", "hello", 5);
}

static void h_echo(tn_http_req_t *req, void *data)
{
    size_t len;
    const char *body = tn_http_req_body(req, &len);
    const char *ct = tn_http_req_header(req, "Content-Type");
    tn_http_respond(req, 200, ct ? ct : "application/octet-stream", body, len);
}

static void h_path(tn_http_req_t *req, void *data)
{
    const char *p = tn_http_req_path(req);
    tn_http_respond(req, 200, "text/plain", p, strlen(p));
}

static void h_err(tn_http_req_t *req, void *data)
{
    tn_http_resp_header(req, "Retry-After", "1");
    tn_http_respond_error(req, 503, "unavailable", "say \"%s\"\nnow", "hi");
}

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void async_answer(uv_timer_t *t)
{
    later_t *l = t->data;
    tn_http_respond(l->req, 200, "text/plain", "async", 5);
    uv_close((uv_handle_t *)t, later_closed);
}

static void answer_later(tn_http_req_t *req, fx_t *f, uint64_t ms, uv_timer_cb cb)
{
    later_t *l = calloc(1, sizeof *l);
    l->req = req;
    l->f = f;
    uv_timer_init(&f->loop, &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, cb, ms, 0);
}

static void h_async(tn_http_req_t *req, void *data)
{
    answer_later(req, data, 50, async_answer);
}

static void hold_gone(tn_http_req_t *req, void *arg)
{
    fx_t *f = arg;
    if (!tn_http_req_gone(req)) fx_fail(f, __LINE__, "on_gone before gone");
    atomic_fetch_add(&f->gone_calls, 1);
}

static void hold_answer(uv_timer_t *t)
{
    later_t *l = t->data;
    l->f->hold_answered = true; /* before: when closing, the answer frees the server */
    l->f->hold_rc = tn_http_respond(l->req, 200, "text/plain", "late", 4);
    uv_close((uv_handle_t *)t, later_closed);
}

static void h_hold(tn_http_req_t *req, void *data)
{
    fx_t *f = data;
    tn_http_req_on_gone(req, hold_gone, f);
    answer_later(req, f, 400, hold_answer);
    atomic_fetch_add(&f->held, 1);
}

static void on_closed(void *arg)
{
    fx_t *f = arg;
    f->done_called = true;
    f->answered_before_done = f->hold_answered;
}

static void on_async(uv_async_t *a)
{
    fx_t *f = a->data;
    tn_http_server_close(f->srv, on_closed, f);
    f->srv = NULL;
    uv_close((uv_handle_t *)a, NULL);
    uv_close((uv_handle_t *)&f->drain_async, NULL);
}

static void on_drain_async(uv_async_t *a)
{
    fx_t *f = a->data;
    if (!f->srv) return;
    tn_http_server_drain(f->srv);
    tn_http_server_drain(f->srv); /* a second call is a no-op */
    atomic_store(&f->busy_after_drain, tn_http_server_busy(f->srv) ? 1 : 2);
}

/* Client thread: asks the loop to close the server (once). */
static void fx_close_server(fx_t *f)
{
    if (!atomic_exchange(&f->close_sent, true)) uv_async_send(&f->async);
}

static void *client_main(void *arg)
{
    fx_t *f = arg;
    f->client(f);
    fx_close_server(f);
    return NULL;
}

static void fx_run(const tn_http_limits_t *limits, void (*client)(fx_t *f), fx_t *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->srv = tn_http_server_create(&f->loop, limits);
    assert_non_null(f->srv);
    assert_int_equal(tn_http_server_port(f->srv), -1);
    tn_http_server_t *s = f->srv;
    assert_int_equal(tn_http_server_route(s, "GET", "/hello", h_hello, f), 0);
    assert_int_equal(tn_http_server_route(s, "DELETE", "/hello", h_hello, f), 0);
    assert_int_equal(tn_http_server_route(s, "POST", "/echo", h_echo, f), 0);
    assert_int_equal(tn_http_server_route(s, "GET", "/async", h_async, f), 0);
    assert_int_equal(tn_http_server_route(s, "GET", "/hold", h_hold, f), 0);
    assert_int_equal(tn_http_server_route(s, "GET", "/err", h_err, f), 0);
    assert_int_equal(tn_http_server_route(s, NULL, "/api/*", h_path, f), 0);
    assert_int_equal(tn_http_server_listen(s, "127.0.0.1", 0), 0);
    f->port = tn_http_server_port(s);
    assert_true(f->port > 0);
    assert_int_equal(tn_http_server_listen(s, "127.0.0.1", 0), TN_EINVAL);
    assert_int_equal(uv_async_init(&f->loop, &f->async, on_async), 0);
    f->async.data = f;
    assert_int_equal(uv_async_init(&f->loop, &f->drain_async, on_drain_async), 0);
    f->drain_async.data = f;
    f->client = client;
    assert_int_equal(pthread_create(&f->thr, NULL, client_main, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pthread_join(f->thr, NULL);
    if (f->failure[0]) fail_msg("client: %s", f->failure);
    assert_true(f->done_called);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    pthread_mutex_destroy(&f->mu);
}

/* ---- blocking client (client thread) ------------------------------------------------------ */

typedef struct {
    int fd;
    char buf[256 * 1024];
    size_t len;
} cl_t;

typedef struct {
    int status;
    char head[8192];
    char body[128 * 1024];
    size_t body_len;
} resp_t;

static cl_t *cl_open(fx_t *f)
{
    cl_t *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) fx_fail(f, __LINE__, "connect");
    return c;
}

static void cl_close(cl_t *c)
{
    close(c->fd);
    free(c);
}

static int cl_send(cl_t *c, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);
        if (n <= 0) return -1;
        s += n, len -= (size_t)n;
    }
    return 0;
}

static int cl_sends(cl_t *c, const char *s)
{
    return cl_send(c, s, strlen(s));
}

/* Reads more bytes; -1 on EOF, error or timeout. */
static int cl_fill(cl_t *c)
{
    if (c->len == sizeof c->buf) return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n <= 0) return -1;
    c->len += (size_t)n;
    return 0;
}

/* Copies the value of a response header into out ("" when absent); returns out. */
static const char *resp_header(const resp_t *r, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *l = strstr(r->head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ')
                h++;
            size_t vl = strcspn(h, "\r");
            snprintf(out, size, "%.*s", (int)vl, h);
            return out;
        }
    }
    return out;
}

/* Reads one response (head_req: no body follows). 0 or -1. */
static int cl_response(cl_t *c, resp_t *r, bool head_req)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (cl_fill(c)) return -1;
    size_t hlen = (size_t)(end - c->buf) + 4;
    if (hlen >= sizeof r->head) return -1;
    memcpy(r->head, c->buf, hlen);
    r->head[hlen] = '\0';
    if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1) return -1;
    char cl[32];
    resp_header(r, "Content-Length", cl, sizeof cl);
    size_t blen = head_req || r->status < 200 || !cl[0] ? 0 : strtoul(cl, NULL, 10);
    if (blen >= sizeof r->body) return -1;
    while (c->len < hlen + blen)
        if (cl_fill(c)) return -1;
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    return 0;
}

/* True when the server closes the connection (EOF or reset) within 3 s, with no data. */
static bool cl_closed(cl_t *c)
{
    if (c->len) return false;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, 3000) != 1) return false;
    char b[64];
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Sends a request and reads its response on c. */
static int cl_do(cl_t *c, const char *req, resp_t *r)
{
    if (cl_sends(c, req)) return -1;
    return cl_response(c, r, strncmp(req, "HEAD ", 5) == 0);
}

static char hv[256]; /* scratch for resp_header in checks (client thread only) */

/* ---- tests ------------------------------------------------------------------------------ */

static void client_routing(fx_t *f)
{
    static resp_t r;
    cl_t *c = cl_open(f);
    CHECK(f, cl_do(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r) == 0);
    CHECK(f, r.status == 200 && strcmp(r.body, "hello") == 0);
    CHECK(f, strcmp(resp_header(&r, "Content-Type", hv, sizeof hv), "text/plain") == 0);
    CHECK(f, strcmp(resp_header(&r, "Content-Length", hv, sizeof hv), "5") == 0);
    CHECK(f, strcmp(resp_header(&r, "Connection", hv, sizeof hv), "keep-alive") == 0);
    CHECK(f, strcmp(resp_header(&r, "X-Test", hv, sizeof hv), "yes") == 0);

    CHECK(f, cl_do(c, "GET /nope?x=1 HTTP/1.1\r\n\r\n", &r) == 0);
    CHECK(f, r.status == 404);
    CHECK(f, strcmp(resp_header(&r, "Content-Type", hv, sizeof hv), "application/json") == 0);
    CHECK(f, strcmp(r.body, "{\"error\":\"not_found\",\"message\":\"no route for /nope\"}") == 0);

    CHECK(f, cl_do(c, "POST /hello HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", &r) == 0);
    CHECK(f, r.status == 405);
    CHECK(f, strcmp(resp_header(&r, "Allow", hv, sizeof hv), "GET, DELETE") == 0);
    CHECK(f, strstr(r.body, "\"error\":\"method_not_allowed\"") != NULL);

    CHECK(f, cl_do(c, "PATCH /api/x/y?z HTTP/1.1\r\n\r\n", &r) == 0);
    CHECK(f, r.status == 200 && strcmp(r.body, "/api/x/y") == 0);

    CHECK(f, cl_do(c, "HEAD /hello HTTP/1.1\r\n\r\n", &r) == 0);
    CHECK(f, r.status == 200 && r.body_len == 0);
    CHECK(f, strcmp(resp_header(&r, "Content-Length", hv, sizeof hv), "5") == 0);

    CHECK(f, cl_do(c,
                   "POST /echo HTTP/1.1\r\nContent-Type: text/x\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                   &r) == 0);
    CHECK(f, r.status == 200 && strcmp(r.body, "abc") == 0);
    CHECK(f, strcmp(resp_header(&r, "Content-Type", hv, sizeof hv), "text/x") == 0);

    CHECK(f, cl_do(c, "GET /err HTTP/1.1\r\n\r\n", &r) == 0);
    CHECK(f, r.status == 503);
    CHECK(f, strcmp(resp_header(&r, "Retry-After", hv, sizeof hv), "1") == 0);
    CHECK(f,
          strcmp(r.body, "{\"error\":\"unavailable\",\"message\":\"say \\\"hi\\\"\\nnow\"}") == 0);

    CHECK(f, cl_do(c, "GET /no\"pe HTTP/1.1\r\n\r\n", &r) == 0); /* escaped in the JSON */
    CHECK(f, r.status == 404);
    CHECK(f, strstr(r.body, "/no\\\"pe\"}") != NULL);
    cl_close(c);
}

static void test_routing(void **state)
{
    fx_t f;
    fx_run(NULL, client_routing, &f);
    double ok =
        tn_metric_value(tn_metrics_counter("tocsin_http_requests_total", "code=\"2xx\"", ""));
    assert_true(ok >= 4);
}

static void client_keepalive(fx_t *f)
{
    static resp_t r;
    cl_t *c = cl_open(f);
    CHECK(f, cl_do(c, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    CHECK(f, cl_do(c, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    /* pipelined, the first answered later: answers come in order */
    CHECK(f, cl_sends(c, "GET /async HTTP/1.1\r\n\r\nGET /api/second HTTP/1.1\r\n\r\n"
                         "GET /hello HTTP/1.1\r\n\r\n") == 0);
    CHECK(f, cl_response(c, &r, false) == 0 && strcmp(r.body, "async") == 0);
    CHECK(f, cl_response(c, &r, false) == 0 && strcmp(r.body, "/api/second") == 0);
    CHECK(f, cl_response(c, &r, false) == 0 && strcmp(r.body, "hello") == 0);
    /* Connection: close is the last one */
    CHECK(f, cl_do(c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", &r) == 0);
    CHECK(f, r.status == 200);
    CHECK(f, strcmp(resp_header(&r, "Connection", hv, sizeof hv), "close") == 0);
    CHECK(f, cl_closed(c));
    cl_close(c);

    /* HTTP/1.0: closes unless asked to keep alive */
    c = cl_open(f);
    CHECK(f, cl_do(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r) == 0);
    CHECK(f, strcmp(resp_header(&r, "Connection", hv, sizeof hv), "keep-alive") == 0);
    CHECK(f, cl_do(c, "GET /hello HTTP/1.0\r\n\r\n", &r) == 0 && r.status == 200);
    CHECK(f, strcmp(resp_header(&r, "Connection", hv, sizeof hv), "close") == 0);
    CHECK(f, cl_closed(c));
    cl_close(c);

    /* pipelined then half-closed: every request is still answered */
    c = cl_open(f);
    CHECK(f, cl_sends(c, "GET /hello HTTP/1.1\r\n\r\nGET /api/2 HTTP/1.1\r\n\r\n"
                         "GET /api/3 HTTP/1.1\r\n\r\n") == 0);
    shutdown(c->fd, SHUT_WR);
    CHECK(f, cl_response(c, &r, false) == 0 && strcmp(r.body, "hello") == 0);
    CHECK(f, cl_response(c, &r, false) == 0 && strcmp(r.body, "/api/2") == 0);
    CHECK(f, cl_response(c, &r, false) == 0 && strcmp(r.body, "/api/3") == 0);
    CHECK(f, cl_closed(c));
    cl_close(c);

    /* Expect: 100-continue */
    c = cl_open(f);
    CHECK(f, cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n"
                         "Expect: 100-continue\r\n\r\n") == 0);
    CHECK(f, cl_response(c, &r, false) == 0 && r.status == 100);
    CHECK(f, cl_do(c, "body", &r) == 0 && r.status == 200 && strcmp(r.body, "body") == 0);
    cl_close(c);
}

static void test_keepalive_pipelining(void **state)
{
    fx_t f;
    fx_run(NULL, client_keepalive, &f);
}

static void client_idle(fx_t *f)
{
    static resp_t r;
    cl_t *c = cl_open(f);
    CHECK(f, cl_do(c, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    uint64_t t0 = now_ms();
    CHECK(f, cl_closed(c)); /* idle keep-alive: closed quietly */
    CHECK(f, now_ms() - t0 < 1500);
    cl_close(c);
}

static void test_keepalive_timeout(void **state)
{
    tn_http_limits_t l;
    tn_http_limits_default(&l);
    l.keepalive_timeout_ms = 200;
    fx_t f;
    fx_run(&l, client_idle, &f);
}

static void client_gone(fx_t *f)
{
    cl_t *c = cl_open(f);
    CHECK(f, cl_sends(c, "GET /hold HTTP/1.1\r\n\r\n") == 0);
    for (int i = 0; i < 200 && atomic_load(&f->held) == 0; i++)
        usleep(10000);
    cl_close(c); /* before the answer */
    for (int i = 0; i < 200 && atomic_load(&f->gone_calls) == 0; i++)
        usleep(10000);
    CHECK(f, atomic_load(&f->gone_calls) == 1);
    /* the server keeps serving */
    static resp_t r;
    c = cl_open(f);
    CHECK(f, cl_do(c, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    cl_close(c);
}

static void test_client_gone(void **state)
{
    fx_t f;
    fx_run(NULL, client_gone, &f);
    assert_int_equal(atomic_load(&f.gone_calls), 1);
    assert_true(f.hold_answered);
    assert_int_equal(f.hold_rc, TN_ECLOSED);
}

static void client_close_pending(fx_t *f)
{
    cl_t *c = cl_open(f);
    CHECK(f, cl_sends(c, "GET /hold HTTP/1.1\r\n\r\n") == 0);
    for (int i = 0; i < 200 && atomic_load(&f->held) == 0; i++)
        usleep(10000);
    CHECK(f, atomic_load(&f->held) == 1);
    /* close the server while /hold is unanswered: the connection is closed */
    fx_close_server(f);
    CHECK(f, cl_closed(c));
    cl_close(c);
}

static void test_close_waits_for_pending(void **state)
{
    fx_t f;
    fx_run(NULL, client_close_pending, &f);
    assert_true(f.hold_answered);
    assert_true(f.answered_before_done); /* the server was freed only after the answer */
    assert_int_equal(f.hold_rc, TN_ECLOSED);
    assert_int_equal(atomic_load(&f.gone_calls), 1);
}

/* A graceful stop: the idle connection is closed, no new connection is accepted, the request
 * in its handler is answered (its connection's last answer), then the server closes. */
static void client_drain(fx_t *f)
{
    static resp_t r;
    cl_t *idle = cl_open(f);
    CHECK(f, cl_do(idle, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    CHECK(f, strcmp(resp_header(&r, "Connection", hv, sizeof hv), "keep-alive") == 0);
    cl_t *held = cl_open(f);
    CHECK(f, cl_sends(held, "GET /hold HTTP/1.1\r\n\r\n") == 0);
    for (int i = 0; i < 200 && atomic_load(&f->held) == 0; i++)
        usleep(10000);
    CHECK(f, atomic_load(&f->held) == 1);
    uv_async_send(&f->drain_async);
    for (int i = 0; i < 200 && atomic_load(&f->busy_after_drain) == 0; i++)
        usleep(10000);
    CHECK(f, atomic_load(&f->busy_after_drain) == 1); /* /hold is still in its handler */
    CHECK(f, cl_closed(idle));
    /* no new connection */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(f, connect(fd, (struct sockaddr *)&a, sizeof a) != 0);
    close(fd);
    /* the held request is answered, with Connection: close, and its connection ends */
    CHECK(f, cl_response(held, &r, false) == 0);
    CHECK(f, r.status == 200 && strcmp(r.body, "late") == 0);
    CHECK(f, strcmp(resp_header(&r, "Connection", hv, sizeof hv), "close") == 0);
    CHECK(f, cl_closed(held));
    cl_close(idle);
    cl_close(held);
}

static void test_drain(void **state)
{
    fx_t f;
    fx_run(NULL, client_drain, &f);
    assert_true(f.hold_answered);
    assert_int_equal(f.hold_rc, 0); /* delivered, not discarded */
    assert_int_equal(atomic_load(&f.gone_calls), 0);
}

static void client_slow(fx_t *f)
{
    static resp_t r;
    cl_t *c = cl_open(f);
    const char *req = "GET /hello HTTP/1.1\r\nHost: slow\r\nX-Slow: yes\r\n\r\n";
    uint64_t t0 = now_ms();
    size_t i;
    for (i = 0; req[i]; i++) { /* a byte every 50 ms, until the server answers */
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) == 1) break;
        if (cl_send(c, req + i, 1)) break;
    }
    CHECK(f, req[i] != '\0'); /* did not get to finish */
    CHECK(f, cl_response(c, &r, false) == 0);
    uint64_t dt = now_ms() - t0;
    CHECK(f, r.status == 408);
    CHECK(f, dt >= 250 && dt < 1500);
    CHECK(f, strstr(r.body, "\"error\":\"timeout\"") != NULL);
    CHECK(f, strcmp(resp_header(&r, "Connection", hv, sizeof hv), "close") == 0);
    CHECK(f, cl_closed(c));
    cl_close(c);
}

static void test_slow_client(void **state)
{
    tn_http_limits_t l;
    tn_http_limits_default(&l);
    l.read_timeout_ms = 300;
    fx_t f;
    fx_run(&l, client_slow, &f);
}

static void client_too_large(fx_t *f)
{
    static resp_t r;
    /* headers only: refused at once, without waiting for the body */
    cl_t *c = cl_open(f);
    uint64_t t0 = now_ms();
    CHECK(f, cl_do(c, "POST /echo HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n", &r) == 0);
    CHECK(f, r.status == 413 && now_ms() - t0 < 1000);
    CHECK(f, strstr(r.body, "\"error\":\"body_too_large\"") != NULL);
    CHECK(f, strcmp(resp_header(&r, "Connection", hv, sizeof hv), "close") == 0);
    CHECK(f, cl_closed(c));
    cl_close(c);

    /* a client already sending the body still reads the 413 (no reset before it) */
    c = cl_open(f);
    static char chunk[32768];
    memset(chunk, 'x', sizeof chunk);
    CHECK(f, cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n") == 0);
    cl_send(c, chunk, sizeof chunk); /* may fail once the server has shut its side */
    CHECK(f, cl_response(c, &r, false) == 0 && r.status == 413);
    cl_close(c);

    /* headers over the limit; garbage */
    c = cl_open(f);
    static char big[4096];
    snprintf(big, sizeof big, "GET /hello HTTP/1.1\r\nX-Big: %03000d\r\n\r\n", 1);
    CHECK(f, cl_do(c, big, &r) == 0 && r.status == 431);
    CHECK(f, strstr(r.body, "\"error\":\"headers_too_large\"") != NULL);
    CHECK(f, cl_closed(c));
    cl_close(c);
    c = cl_open(f);
    CHECK(f, cl_do(c, "BLAH\x01 / HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 400);
    CHECK(f, strstr(r.body, "\"error\":\"bad_request\"") != NULL);
    CHECK(f, cl_closed(c));
    cl_close(c);

    /* and the server still serves others */
    c = cl_open(f);
    CHECK(f, cl_do(c, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    cl_close(c);
}

static void test_too_large(void **state)
{
    tn_http_limits_t l;
    tn_http_limits_default(&l);
    l.max_header_bytes = 1024;
    fx_t f;
    fx_run(&l, client_too_large, &f);
}

static void client_max_conns(fx_t *f)
{
    static resp_t r;
    cl_t *a = cl_open(f), *b = cl_open(f);
    CHECK(f, cl_do(a, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    CHECK(f, cl_do(b, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    cl_t *c = cl_open(f); /* the third: accepted and closed */
    CHECK(f, cl_closed(c));
    cl_close(c);
    CHECK(f, cl_do(a, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200);
    cl_close(a);
    bool served = false; /* once the server has seen a's close, there is room again */
    for (int i = 0; i < 40 && !served; i++) {
        c = cl_open(f);
        served = cl_do(c, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200;
        cl_close(c);
        if (!served) usleep(50000);
    }
    CHECK(f, served);
    cl_close(b);
}

static void test_max_connections(void **state)
{
    tn_http_limits_t l;
    tn_http_limits_default(&l);
    l.max_connections = 2;
    fx_t f;
    fx_run(&l, client_max_conns, &f);
}

static void test_listen_errors(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    tn_http_server_t *s = tn_http_server_create(&loop, NULL);
    assert_non_null(s);
    assert_int_equal(tn_http_server_listen(s, "not-an-ip", 0), TN_EINVAL);
    assert_int_equal(tn_http_server_listen(s, "127.0.0.1", 70000), TN_EINVAL);
    tn_http_server_close(s, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int teardown(void **state)
{
    tn_metrics_shutdown();
    return 0;
}

int main(void)
{
    tn_log_set_level(TN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_keepalive_pipelining),
        cmocka_unit_test(test_keepalive_timeout),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_close_waits_for_pending),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_listen_errors),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
