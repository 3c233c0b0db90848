/* test_httpc.c - tn_httpc over real loopback HTTP.
 *
 * A tiny HTTP/1.1 receiver runs in this process: one accept thread on 127.0.0.1:<ephemeral>
 * and one thread per connection (keep-alive). It records every request and answers by path:
 *   /ok           200, application/json, {"ok":true}
 *   /echo         200, echoes the request body with the request's Content-Type
 *   /delay        200 after 100 ms (tracks how many requests it holds at once)
 *   /slow         waits up to 5 s (or until the client goes away), then closes
 *   /large        200, LARGE_LEN bytes with Content-Length
 *   /large-nolen  200, LARGE_LEN bytes, no Content-Length, close-delimited
 *   /close        closes the connection without answering
 *   /notfound     404 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/metrics.h"
#include "notify/httpc.h"

#include <arpa/inet.h>
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

#define LARGE_LEN (1024 * 1024)
#define MAX_RECS 256
#define MAX_CONNS 512

/* ---- the receiver ----------------------------------------------------------------------- */

typedef struct {
    char method[16];
    char path[256];
    char *head; /* raw header block, NUL-terminated */
    char *body;
    size_t body_len;
} rec_t;

typedef struct {
    int lfd;
    int port;
    pthread_t accept_thr;
    atomic_int stop;
    pthread_mutex_t mu;
    rec_t recs[MAX_RECS];
    int nrecs;
    pthread_t conn_thr[MAX_CONNS];
    int conn_fd[MAX_CONNS];
    int nconns;
    int delay_now, delay_max; /* /delay requests held at once */
} srv_t;

typedef struct {
    srv_t *s;
    int fd;
} conn_arg_t;

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static int send_response(int fd, int head_only, int status, const char *ctype, const char *body,
                         size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", status,
                     status == 200 ? "OK" : "Not Found", ctype, len);
    if (send_all(fd, head, (size_t)n)) return -1;
    return head_only ? 0 : send_all(fd, body, len);
}

static char *large_body(void)
{
    char *b = malloc(LARGE_LEN);
    assert_non_null(b);
    for (size_t i = 0; i < LARGE_LEN; i++)
        b[i] = (char)('a' + i % 26);
    return b;
}

/* Finds a header's value in a raw header block; copies it to out. */
static int find_header(const char *head, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t vl = e ? (size_t)(e - v) : strlen(v);
            if (vl >= outlen) vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 1;
        }
    }
    return 0;
}

/* Waits up to ms, returning early when the peer closes or the server stops. */
static void wait_or_hangup(srv_t *s, int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (int waited = 0; waited < ms && !atomic_load(&s->stop); waited += 20) {
        if (poll(&pfd, 1, 20) > 0) {
            char b;
            if (recv(fd, &b, 1, MSG_PEEK) <= 0) return;
        }
    }
}

static void *conn_main(void *p)
{
    conn_arg_t a = *(conn_arg_t *)p;
    free(p);
    srv_t *s = a.s;
    int fd = a.fd;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return NULL;

    while (!atomic_load(&s->stop)) {
        /* Read the header block. */
        char *end;
        while (buf[len] = '\0', !(end = strstr(buf, "\r\n\r\n"))) {
            if (len == cap) goto out;
            ssize_t r = recv(fd, buf + len, cap - len, 0);
            if (r <= 0) goto out;
            len += (size_t)r;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        char cl[32] = "0";
        buf[head_len - 2] = '\0'; /* keep the last header's CRLF for find_header */
        find_header(buf, "Content-Length", cl, sizeof cl);
        size_t body_len = strtoul(cl, NULL, 10);

        rec_t rec;
        memset(&rec, 0, sizeof rec);
        sscanf(buf, "%15s %255s", rec.method, rec.path);
        rec.head = strdup(buf);
        rec.body = malloc(body_len + 1);
        if (!rec.head || !rec.body) goto out;
        size_t have = len - head_len < body_len ? len - head_len : body_len;
        memcpy(rec.body, buf + head_len, have);
        while (have < body_len) {
            ssize_t r = recv(fd, rec.body + have, body_len - have, 0);
            if (r <= 0) {
                free(rec.head), free(rec.body);
                goto out;
            }
            have += (size_t)r;
        }
        rec.body[body_len] = '\0';
        rec.body_len = body_len;
        /* Keep whatever followed this request. */
        size_t used = head_len + (len - head_len < body_len ? len - head_len : body_len);
        memmove(buf, buf + used, len - used);
        len -= used;

        int head_only = strcmp(rec.method, "HEAD") == 0; /* HEAD replies carry no body */
        char path[256], ctype[128] = "application/octet-stream";
        snprintf(path, sizeof path, "%s", rec.path);
        find_header(rec.head, "Content-Type", ctype, sizeof ctype);
        pthread_mutex_lock(&s->mu);
        if (s->nrecs < MAX_RECS) {
            s->recs[s->nrecs++] = rec;
        } else {
            free(rec.head), free(rec.body);
            rec.body = NULL;
        }
        pthread_mutex_unlock(&s->mu);

        int rc = 0;
        if (strcmp(path, "/ok") == 0) {
            rc = send_response(fd, head_only, 200, "application/json", "{\"ok\":true}", 11);
        } else if (strcmp(path, "/echo") == 0) {
            /* rec is owned by the table now; re-read it under the lock. */
            pthread_mutex_lock(&s->mu);
            rc = rec.body ? send_response(fd, head_only, 200, ctype, rec.body, body_len) : -1;
            pthread_mutex_unlock(&s->mu);
        } else if (strcmp(path, "/delay") == 0) {
            pthread_mutex_lock(&s->mu);
            if (++s->delay_now > s->delay_max) s->delay_max = s->delay_now;
            pthread_mutex_unlock(&s->mu);
            usleep(100 * 1000);
            pthread_mutex_lock(&s->mu);
            s->delay_now--;
            pthread_mutex_unlock(&s->mu);
            rc = send_response(fd, head_only, 200, "text/plain", "delayed", 7);
        } else if (strcmp(path, "/slow") == 0) {
            wait_or_hangup(s, fd, 5000);
            rc = -1;
        } else if (strcmp(path, "/large") == 0) {
            char *b = large_body();
            rc = send_response(fd, head_only, 200, "application/octet-stream", b, LARGE_LEN);
            free(b);
        } else if (strcmp(path, "/large-nolen") == 0) {
            const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Connection: close\r\n\r\n";
            char *b = large_body();
            if (send_all(fd, h, strlen(h)) == 0) send_all(fd, b, LARGE_LEN);
            free(b);
            rc = -1;
        } else if (strcmp(path, "/close") == 0) {
            rc = -1;
        } else {
            rc = send_response(fd, head_only, 404, "text/plain", "no", 2);
        }
        if (rc) break;
    }
out:
    /* The fd is closed by srv_stop after joining, so it cannot be reused under us. */
    shutdown(fd, SHUT_RDWR);
    free(buf);
    return NULL;
}

static void *accept_main(void *p)
{
    srv_t *s = p;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            if (atomic_load(&s->stop)) break;
            continue;
        }
        conn_arg_t *a = malloc(sizeof *a);
        pthread_mutex_lock(&s->mu);
        int ok = a && s->nconns < MAX_CONNS && !atomic_load(&s->stop);
        if (ok) {
            a->s = s;
            a->fd = fd;
            s->conn_fd[s->nconns] = fd;
            ok = pthread_create(&s->conn_thr[s->nconns], NULL, conn_main, a) == 0;
            if (ok) s->nconns++;
        }
        pthread_mutex_unlock(&s->mu);
        if (!ok) {
            free(a);
            close(fd);
        }
    }
    return NULL;
}

static srv_t *srv_start(void)
{
    srv_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->lfd, 128), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &sl), 0);
    s->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&s->accept_thr, NULL, accept_main, s), 0);
    return s;
}

static void srv_stop(srv_t *s)
{
    atomic_store(&s->stop, 1);
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->accept_thr, NULL);
    close(s->lfd);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nconns; i++)
        shutdown(s->conn_fd[i], SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nconns; i++) {
        pthread_join(s->conn_thr[i], NULL);
        close(s->conn_fd[i]);
    }
    for (int i = 0; i < s->nrecs; i++)
        free(s->recs[i].head), free(s->recs[i].body);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int srv_nrecs(srv_t *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->nrecs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- fixture ---------------------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    uv_timer_t guard;
    int guard_fired;
    srv_t *srv;
    tn_httpc_t *c;
    char url[128];
    /* completions */
    int ncalls;
    int want; /* uv_stop when ncalls reaches want */
    tn_httpc_result_t last;
    char last_body[64];
    size_t last_body_len;
    char last_ctype[64];
    char last_error_text[256];
    uint64_t ids[64];
} fx_t;

static const char *url_of(fx_t *f, const char *path)
{
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d%s", f->srv->port, path);
    return f->url;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
    f->guard.data = f;
    f->srv = srv_start();
    f->c = tn_httpc_create(&f->loop);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    if (f->c) tn_httpc_destroy(f->c);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    srv_stop(f->srv);
    free(f);
    return 0;
}

static void on_guard(uv_timer_t *t)
{
    fx_t *f = t->data;
    f->guard_fired = 1;
    uv_stop(&f->loop);
}

/* Runs the loop until want callbacks happened, or ms passed. */
static void run_for(fx_t *f, int want, uint64_t ms)
{
    f->want = want;
    f->guard_fired = 0;
    uv_timer_start(&f->guard, on_guard, ms, 0);
    if (f->ncalls < want || want == 0) uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&f->guard);
}

static void on_done(const tn_httpc_result_t *res, void *arg)
{
    fx_t *f = arg;
    f->ncalls++;
    f->last = *res;
    f->last_body_len = res->body_len;
    snprintf(f->last_body, sizeof f->last_body, "%s", res->body);
    snprintf(f->last_ctype, sizeof f->last_ctype, "%s", res->content_type ? res->content_type : "");
    snprintf(f->last_error_text, sizeof f->last_error_text, "%s", res->error_text);
    f->last.body = NULL;
    f->last.content_type = NULL;
    f->last.error_text = NULL;
    if (f->want && f->ncalls >= f->want) uv_stop(&f->loop);
}

static void on_never(const tn_httpc_result_t *res, void *arg)
{
    fail_msg("callback called for a cancelled request (error %d)", res->error);
}

static double metric(const char *result)
{
    char labels[64];
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    return tn_metric_value(tn_metrics_counter("tocsin_http_client_requests_total", labels, ""));
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_post_json(void **state)
{
    fx_t *f = *state;
    const char *json = "{\"alert\":\"cpu high\",\"value\":97.5,\"tags\":[\"a\",\"b\"]}";
    const char *hdrs[] = {"Content-Type: application/json", "X-Tocsin-Test: yes", NULL};
    tn_httpc_req_t req = {
        .url = url_of(f, "/echo"), .headers = hdrs, .body = json, .body_len = strlen(json)};
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    assert_int_equal(tn_httpc_pending(f->c), 1);
    run_for(f, 1, 5000);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.error, 0);
    assert_string_equal(f->last_error_text, "");
    assert_int_equal(f->last.status, 200);
    assert_string_equal(f->last_body, json);
    assert_string_equal(f->last_ctype, "application/json");
    assert_int_equal(tn_httpc_pending(f->c), 0);

    assert_int_equal(srv_nrecs(f->srv), 1);
    rec_t *r = &f->srv->recs[0];
    char v[128];
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/echo");
    assert_int_equal(r->body_len, strlen(json));
    assert_memory_equal(r->body, json, strlen(json));
    assert_true(find_header(r->head, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json");
    assert_true(find_header(r->head, "X-Tocsin-Test", v, sizeof v));
    assert_string_equal(v, "yes");
    assert_true(find_header(r->head, "User-Agent", v, sizeof v));
    assert_true(strncmp(v, "tocsin/", 7) == 0);
    assert_false(find_header(r->head, "Expect", v, sizeof v));
}

static void test_put_binary_body(void **state)
{
    fx_t *f = *state;
    char body[300];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)(i * 7); /* includes NULs */
    char *copy = malloc(sizeof body);
    assert_non_null(copy);
    memcpy(copy, body, sizeof body);
    tn_httpc_req_t req = {
        .method = "PUT", .url = url_of(f, "/echo"), .body = copy, .body_len = sizeof body};
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    memset(copy, 'X', sizeof body); /* the request must have copied the body */
    free(copy);
    run_for(f, 1, 5000);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.error, 0);
    assert_int_equal(f->last_body_len, sizeof body);
    assert_int_equal(srv_nrecs(f->srv), 1);
    rec_t *r = &f->srv->recs[0];
    assert_string_equal(r->method, "PUT");
    assert_int_equal(r->body_len, sizeof body);
    assert_memory_equal(r->body, body, sizeof body);
}

static void test_get(void **state)
{
    fx_t *f = *state;
    double ok_before = metric("ok");
    tn_httpc_req_t req = {.url = url_of(f, "/ok")};
    uint64_t id = 0;
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, &id), 0);
    assert_true(id != 0);
    run_for(f, 1, 5000);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.error, 0);
    assert_int_equal(f->last.status, 200);
    assert_string_equal(f->last_body, "{\"ok\":true}");
    assert_int_equal(f->last_body_len, 11);
    assert_string_equal(f->last_ctype, "application/json");
    assert_true(f->last.total_ms >= 0.0 && f->last.total_ms < 5000.0);
    assert_true(metric("ok") == ok_before + 1);
    assert_int_equal(srv_nrecs(f->srv), 1);
    assert_string_equal(f->srv->recs[0].method, "GET");
    assert_int_equal(f->srv->recs[0].body_len, 0);
    /* A finished request can no longer be cancelled. */
    assert_int_equal(tn_httpc_cancel(f->c, id), TN_ENOTFOUND);

    /* A 404 is a response, not a transport error. The connection is reused. */
    req.url = url_of(f, "/notfound");
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    run_for(f, 2, 5000);
    assert_int_equal(f->ncalls, 2);
    assert_int_equal(f->last.error, 0);
    assert_int_equal(f->last.status, 404);
    assert_string_equal(f->last_body, "no");
}

static void check_large_body(const tn_httpc_result_t *res, void *arg)
{
    fx_t *f = arg;
    if (res->error == 0 && res->body_len == LARGE_LEN) {
        char *b = large_body();
        assert_memory_equal(res->body, b, LARGE_LEN);
        assert_int_equal(res->body[LARGE_LEN], '\0');
        free(b);
    }
    on_done(res, f);
}

/* 1 MiB under the default 4 MiB cap arrives byte-exact, with and without Content-Length. */
static void test_large_body_exact(void **state)
{
    fx_t *f = *state;
    tn_httpc_req_t req = {.url = url_of(f, "/large")};
    assert_int_equal(tn_httpc_request(f->c, &req, check_large_body, f, NULL), 0);
    run_for(f, 1, 10000);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.error, 0);
    assert_int_equal(f->last_body_len, LARGE_LEN);

    req.url = url_of(f, "/large-nolen");
    assert_int_equal(tn_httpc_request(f->c, &req, check_large_body, f, NULL), 0);
    run_for(f, 2, 10000);
    assert_int_equal(f->ncalls, 2);
    assert_int_equal(f->last.error, 0);
    assert_int_equal(f->last_body_len, LARGE_LEN);
}

static void test_too_big(void **state)
{
    fx_t *f = *state;
    /* Announced by Content-Length. */
    tn_httpc_req_t req = {.url = url_of(f, "/large"), .max_response_bytes = 64 * 1024};
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    run_for(f, 1, 10000);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.error, TN_ETOOBIG);
    assert_true(strlen(f->last_error_text) > 0);

    /* Not announced: the write callback stops it. */
    req.url = url_of(f, "/large-nolen");
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    run_for(f, 2, 10000);
    assert_int_equal(f->ncalls, 2);
    assert_int_equal(f->last.error, TN_ETOOBIG);
    assert_true(f->last_body_len <= 64 * 1024);
    assert_int_equal(tn_httpc_pending(f->c), 0);
}

static void test_timeout(void **state)
{
    fx_t *f = *state;
    double before = metric("timeout");
    tn_httpc_req_t req = {.url = url_of(f, "/slow"), .timeout_ms = 300};
    uint64_t t0 = uv_hrtime();
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    run_for(f, 1, 5000);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.error, TN_ETIMEDOUT);
    assert_int_equal(f->last.status, 0);
    assert_true(strlen(f->last_error_text) > 0);
    assert_true(ms >= 250 && ms < 2000);
    assert_true(f->last.total_ms >= 250 && f->last.total_ms < 2000);
    assert_true(metric("timeout") == before + 1);
}

static void test_refused(void **state)
{
    fx_t *f = *state;
    /* A port nobody listens on: bind one, then close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(sa.sin_port));
    tn_httpc_req_t req = {.url = url};
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    run_for(f, 1, 5000);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.error, TN_ECLOSED);
    assert_int_equal(f->last.status, 0);
    assert_true(strlen(f->last_error_text) > 0);
}

static void test_closed_without_answer(void **state)
{
    fx_t *f = *state;
    tn_httpc_req_t req = {.url = url_of(f, "/close")};
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    run_for(f, 1, 5000);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.error, TN_EIO); /* CURLE_GOT_NOTHING */
    assert_int_equal(f->last.status, 0);
    assert_true(strlen(f->last_error_text) > 0);
}

static int g_ticks;
static void on_tick(uv_timer_t *t)
{
    g_ticks++;
}

static void test_concurrent(void **state)
{
    fx_t *f = *state;
    uv_timer_t tick;
    g_ticks = 0;
    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    tn_httpc_req_t req = {.url = url_of(f, "/delay")};
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < 50; i++)
        assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    assert_int_equal(tn_httpc_pending(f->c), 50);
    run_for(f, 50, 20000);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    assert_int_equal(f->ncalls, 50);
    assert_int_equal(tn_httpc_pending(f->c), 0);
    assert_int_equal(srv_nrecs(f->srv), 50);
    /* 50 x 100 ms one after the other would take 5 s. */
    assert_true(ms < 3000);
    /* The server held many requests at once, and the loop kept running meanwhile. */
    pthread_mutex_lock(&f->srv->mu);
    int max = f->srv->delay_max;
    pthread_mutex_unlock(&f->srv->mu);
    assert_true(max >= 10);
    assert_true(g_ticks >= 3);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* let tick's close callback run */
}

static void test_cancel(void **state)
{
    fx_t *f = *state;
    tn_httpc_req_t req = {.url = url_of(f, "/slow")};
    uint64_t a, b;
    /* Cancelled before the loop ever ran it. */
    assert_int_equal(tn_httpc_request(f->c, &req, on_never, f, &a), 0);
    /* Cancelled while the server holds it. */
    assert_int_equal(tn_httpc_request(f->c, &req, on_never, f, &b), 0);
    assert_int_equal(tn_httpc_pending(f->c), 2);
    assert_int_equal(tn_httpc_cancel(f->c, a), 0);
    assert_int_equal(tn_httpc_cancel(f->c, a), TN_ENOTFOUND);
    assert_int_equal(tn_httpc_pending(f->c), 1);
    for (int i = 0; i < 100 && srv_nrecs(f->srv) < 1; i++)
        run_for(f, 0, 20);
    assert_int_equal(srv_nrecs(f->srv), 1);
    assert_int_equal(tn_httpc_cancel(f->c, b), 0);
    assert_int_equal(tn_httpc_pending(f->c), 0);
    assert_int_equal(tn_httpc_cancel(f->c, 12345), TN_ENOTFOUND);
    run_for(f, 0, 300);
    assert_int_equal(f->ncalls, 0);

    /* The client still works afterwards. */
    req.url = url_of(f, "/ok");
    assert_int_equal(tn_httpc_request(f->c, &req, on_done, f, NULL), 0);
    run_for(f, 1, 5000);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->last.status, 200);
}

static void test_destroy_in_flight(void **state)
{
    fx_t *f = *state;
    tn_httpc_req_t req = {.url = url_of(f, "/slow"), .body = "x", .body_len = 1};
    for (int i = 0; i < 5; i++)
        assert_int_equal(tn_httpc_request(f->c, &req, on_never, f, NULL), 0);
    /* One more that has not even connected yet when destroyed. */
    for (int i = 0; i < 100 && srv_nrecs(f->srv) < 5; i++)
        run_for(f, 0, 20);
    assert_int_equal(srv_nrecs(f->srv), 5);
    req.url = url_of(f, "/ok");
    assert_int_equal(tn_httpc_request(f->c, &req, on_never, f, NULL), 0);
    tn_httpc_destroy(f->c);
    f->c = NULL;
    run_for(f, 0, 200);
    assert_int_equal(f->ncalls, 0);
}

/* A callback that starts the next request, up to 3 in a chain. */
static void on_chain(const tn_httpc_result_t *res, void *arg)
{
    fx_t *f = arg;
    on_done(res, f);
    if (f->ncalls < 3) {
        tn_httpc_req_t req = {.url = url_of(f, "/ok")};
        assert_int_equal(tn_httpc_request(f->c, &req, on_chain, f, NULL), 0);
    }
}

static void test_callback_starts_request(void **state)
{
    fx_t *f = *state;
    tn_httpc_req_t req = {.url = url_of(f, "/ok")};
    assert_int_equal(tn_httpc_request(f->c, &req, on_chain, f, NULL), 0);
    run_for(f, 3, 5000);
    assert_int_equal(f->ncalls, 3);
    assert_int_equal(f->last.status, 200);
    assert_int_equal(tn_httpc_pending(f->c), 0);
    assert_int_equal(srv_nrecs(f->srv), 3);
}

/* The first callback cancels every other request. */
static void on_cancel_others(const tn_httpc_result_t *res, void *arg)
{
    fx_t *f = arg;
    on_done(res, f);
    for (int i = 0; i < 10; i++)
        tn_httpc_cancel(f->c, f->ids[i]);
    assert_int_equal(tn_httpc_pending(f->c), 0);
}

static void test_callback_cancels_others(void **state)
{
    fx_t *f = *state;
    tn_httpc_req_t req = {.url = url_of(f, "/ok")};
    for (int i = 0; i < 10; i++)
        assert_int_equal(tn_httpc_request(f->c, &req, on_cancel_others, f, &f->ids[i]), 0);
    run_for(f, 0, 500);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(tn_httpc_pending(f->c), 0);
}

/* The first callback destroys the client. */
static void on_destroy(const tn_httpc_result_t *res, void *arg)
{
    fx_t *f = arg;
    on_done(res, f);
    tn_httpc_destroy(f->c);
    f->c = NULL;
}

static void test_callback_destroys(void **state)
{
    fx_t *f = *state;
    tn_httpc_req_t req = {.url = url_of(f, "/ok")};
    for (int i = 0; i < 10; i++)
        assert_int_equal(tn_httpc_request(f->c, &req, on_destroy, f, NULL), 0);
    req.url = url_of(f, "/slow");
    assert_int_equal(tn_httpc_request(f->c, &req, on_destroy, f, NULL), 0);
    run_for(f, 0, 500);
    assert_int_equal(f->ncalls, 1);
    assert_null(f->c);
}

static void test_invalid(void **state)
{
    fx_t *f = *state;
    const char *bad_urls[] = {"file:///etc/passwd",
                              "ftp://127.0.0.1/x",
                              "gopher://127.0.0.1/",
                              "dict://127.0.0.1/",
                              "",
                              "127.0.0.1/ok",
                              "http://",
                              "http://exa mple.com/",
                              NULL};
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        tn_httpc_req_t req = {.url = bad_urls[i]};
        uint64_t id = 777;
        assert_int_equal(tn_httpc_request(f->c, &req, on_never, f, &id), TN_EINVAL);
        assert_int_equal(id, 777);
    }
    const char *inject[] = {"X-A: 1\r\nX-B: 2", NULL};
    const char *empty[] = {"", NULL};
    tn_httpc_req_t bad[] = {
        {.method = "GE T", .url = url_of(f, "/ok")},
        {.method = "", .url = url_of(f, "/ok")},
        {.method = "GET\r\n", .url = url_of(f, "/ok")},
        {.url = url_of(f, "/ok"), .headers = inject},
        {.url = url_of(f, "/ok"), .headers = empty},
        {.url = url_of(f, "/ok"), .body = NULL, .body_len = 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tn_httpc_request(f->c, &bad[i], on_never, f, NULL), TN_EINVAL);
    assert_int_equal(tn_httpc_request(f->c, NULL, on_never, f, NULL), TN_EINVAL);
    tn_httpc_req_t ok = {.url = url_of(f, "/ok")};
    assert_int_equal(tn_httpc_request(f->c, &ok, NULL, f, NULL), TN_EINVAL);
    assert_int_equal(tn_httpc_pending(f->c), 0);
    run_for(f, 0, 100);
    assert_int_equal(f->ncalls, 0);
    assert_int_equal(srv_nrecs(f->srv), 0);

    /* Upper-case scheme and https are accepted (https only parsed here, not fetched). */
    tn_httpc_req_t up = {.url = url_of(f, "/ok")};
    char upper[128];
    snprintf(upper, sizeof upper, "HTTP://127.0.0.1:%d/ok", f->srv->port);
    up.url = upper;
    assert_int_equal(tn_httpc_request(f->c, &up, on_done, f, NULL), 0);
    run_for(f, 1, 5000);
    assert_int_equal(f->last.status, 200);
}

static void test_head_and_empty_post(void **state)
{
    fx_t *f = *state;
    tn_httpc_req_t head = {.method = "HEAD", .url = url_of(f, "/ok")};
    assert_int_equal(tn_httpc_request(f->c, &head, on_done, f, NULL), 0);
    run_for(f, 1, 5000);
    assert_int_equal(f->last.error, 0);
    assert_int_equal(f->last.status, 200);
    assert_int_equal(f->last_body_len, 0);
    tn_httpc_req_t post = {.method = "POST", .url = url_of(f, "/echo")};
    assert_int_equal(tn_httpc_request(f->c, &post, on_done, f, NULL), 0);
    run_for(f, 2, 5000);
    assert_int_equal(f->last.error, 0);
    assert_int_equal(f->last.status, 200);
    assert_int_equal(srv_nrecs(f->srv), 2);
    assert_string_equal(f->srv->recs[0].method, "HEAD");
    assert_string_equal(f->srv->recs[1].method, "POST");
    assert_int_equal(f->srv->recs[1].body_len, 0);
}

/* Destroying a client that never ran anything, and one with idle cached connections. */
static void test_create_destroy(void **state)
{
    fx_t *f = *state;
    tn_httpc_t *c = tn_httpc_create(&f->loop);
    assert_non_null(c);
    tn_httpc_destroy(c);
    run_for(f, 0, 10);
    assert_int_equal(tn_httpc_pending(NULL), 0);
    assert_int_equal(tn_httpc_cancel(NULL, 1), TN_ENOTFOUND);
    tn_httpc_destroy(NULL);
}

int main(void)
{
    /* libcurl honours these; the tests talk to 127.0.0.1 directly. */
    const char *proxies[] = {"http_proxy", "https_proxy", "all_proxy", "ALL_PROXY", "HTTPS_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++)
        unsetenv(proxies[i]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_post_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_binary_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_body_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_without_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_starts_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_cancels_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_destroys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_and_empty_post, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_destroy, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tn_metrics_shutdown();
    return rc;
}
