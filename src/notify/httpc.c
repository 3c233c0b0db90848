/* httpc.c - outbound HTTP: libcurl's multi-socket interface driven by the libuv loop.
 *
 * Shape (after curl's docs/examples/multi-uv.c):
 *   - one uv_timer_t embedded in the client, armed by CURLMOPT_TIMERFUNCTION;
 *   - one heap-allocated sock_t (holding a uv_poll_t) per socket curl asks us to watch,
 *     created by CURLMOPT_SOCKETFUNCTION and freed only in its close callback;
 *   - after every curl_multi_socket_action, finished transfers are read with
 *     curl_multi_info_read, removed from the multi handle and queued on c->done; only then
 *     are user callbacks called, one at a time, so a callback may start requests, cancel
 *     others or destroy the client.
 *
 * The client's memory is freed in the timer's close callback, which cannot run while we are
 * delivering completions, so after a user callback we may still read c->destroyed. */
#include "notify/httpc.h"

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef TN_VERSION
#define TN_VERSION "dev"
#endif

#define HTTPC_DEFAULT_TIMEOUT_MS 10000
#define HTTPC_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HTTPC_DEFAULT_MAX_RESPONSE (4u * 1024 * 1024)
#define HTTPC_MAX_METHOD 32

static const char *const LOG = "httpc";

typedef struct xfer xfer_t;
typedef struct sock sock_t;

/* A list of transfers: either the client's active list (attached to the multi handle) or
 * its done list (finished, detached, callback not yet called). */
typedef struct {
    xfer_t *head;
    xfer_t *tail;
} xfer_list_t;

struct xfer {
    xfer_t *prev, *next;
    tn_httpc_t *c;
    CURL *easy;
    uint64_t id;
    tn_httpc_cb cb;
    void *arg;
    struct curl_slist *headers; /* owned */
    char *body;                 /* owned copy of the request body, or NULL */
    tn_buf_t resp;              /* response body */
    size_t max_resp;
    uint64_t start_ns;
    /* Filled when the transfer finishes. */
    int error;
    long status;
    double total_ms;
    unsigned too_big : 1; /* write callback refused data over max_resp */
    unsigned oom : 1;     /* write callback could not grow resp */
    unsigned broken : 1;  /* a socket of this transfer could not be watched */
    char errbuf[CURL_ERROR_SIZE];
};

/* One watched socket. Owned by the client while on c->socks; once closing, owned by libuv
 * until on_sock_closed frees it. */
struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    tn_httpc_t *c;
    sock_t *prev, *next;
};

struct tn_httpc {
    uv_loop_t *loop; /* borrowed */
    CURLM *multi;
    uv_timer_t timer; /* freed with the client in on_client_closed */
    xfer_list_t active;
    xfer_list_t done;
    sock_t *socks; /* live (not closing) socket watchers */
    unsigned pending;
    unsigned nbroken;
    uint64_t next_id;
    int destroyed;
    int delivering;
};

/* ---- lists ------------------------------------------------------------------------------ */

static void xfer_push(xfer_list_t *l, xfer_t *x)
{
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
}

static void xfer_unlink(xfer_list_t *l, xfer_t *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
}

static xfer_t *xfer_find(xfer_list_t *l, uint64_t id)
{
    for (xfer_t *x = l->head; x; x = x->next)
        if (x->id == id) return x;
    return NULL;
}

/* The transfer behind an easy handle (borrowed), or NULL for curl's internal handles. */
static xfer_t *xfer_of(CURL *easy)
{
    char *p = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p) != CURLE_OK) return NULL;
    return (xfer_t *)(void *)p;
}

/* Frees x and everything it owns. x must already be detached from the multi handle and
 * unlinked from the client's lists. */
static void xfer_free(xfer_t *x)
{
    if (x->easy) curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->body);
    tn_buf_deinit(&x->resp);
    free(x);
}

/* ---- socket watchers -------------------------------------------------------------------- */

static void on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Stops watching sk and hands it to libuv; it is freed in on_sock_closed. */
static void sock_close(tn_httpc_t *c, sock_t *sk)
{
    if (sk->prev)
        sk->prev->next = sk->next;
    else
        c->socks = sk->next;
    if (sk->next) sk->next->prev = sk->prev;
    sk->prev = sk->next = NULL;
    uv_close((uv_handle_t *)&sk->poll, on_sock_closed);
}

static void process_completions(tn_httpc_t *c);

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_t *sk = h->data;
    tn_httpc_t *c = sk->c;
    int flags = 0;
    int running;

    if (status < 0) flags |= CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    /* sk may be closed by curl's socket callback during this call: do not touch it after. */
    CURLMcode mc = curl_multi_socket_action(c->multi, sk->fd, flags, &running);
    if (mc != CURLM_OK) tn_log_warn(LOG, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
    process_completions(c);
}

/* Marks the transfer behind easy as failed; process_completions finishes it. */
static void mark_broken(tn_httpc_t *c, CURL *easy)
{
    xfer_t *x = easy ? xfer_of(easy) : NULL;
    if (!x) return;
    if (x->c != c || x->broken) return;
    x->broken = 1;
    c->nbroken++;
}

/* CURLMOPT_SOCKETFUNCTION. socketp is our sock_t for s, or NULL when s is new to curl. */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    tn_httpc_t *c = userp;
    sock_t *sk = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            sock_close(c, sk);
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }

    if (!sk) {
        /* A watcher still registered for this descriptor number belongs to a socket curl
         * closed without telling us; the number is being reused. Retire the stale watcher
         * first, or uv_poll_init_socket would fail with UV_EEXIST. */
        for (sock_t *old = c->socks; old; old = old->next) {
            if (old->fd == s) {
                tn_log_debug(LOG, "retiring stale watcher for fd %d", (int)s);
                sock_close(c, old);
                break;
            }
        }
        sk = calloc(1, sizeof *sk);
        if (!sk) {
            mark_broken(c, easy);
            return 0;
        }
        int err = uv_poll_init_socket(c->loop, &sk->poll, s);
        if (err) {
            tn_log_warn(LOG, "uv_poll_init_socket(%d): %s", (int)s, uv_strerror(err));
            free(sk);
            mark_broken(c, easy);
            return 0;
        }
        sk->poll.data = sk;
        sk->fd = s;
        sk->c = c;
        sk->next = c->socks;
        if (c->socks) c->socks->prev = sk;
        c->socks = sk;
        curl_multi_assign(c->multi, s, sk);
    }

    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    int err = uv_poll_start(&sk->poll, events, on_poll);
    if (err) {
        tn_log_warn(LOG, "uv_poll_start(%d): %s", (int)s, uv_strerror(err));
        mark_broken(c, easy);
    }
    return 0;
}

/* ---- timer ------------------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t)
{
    tn_httpc_t *c = t->data;
    int running;
    CURLMcode mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK) tn_log_warn(LOG, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
    process_completions(c);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; otherwise (re)arm it. A 0 timeout also goes
 * through the loop: curl must not be re-entered from its own callback. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    tn_httpc_t *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- completions ------------------------------------------------------------------------ */

static int map_curl_error(const xfer_t *x, CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return TN_ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return TN_ECLOSED;
    case CURLE_FILESIZE_EXCEEDED:
        return TN_ETOOBIG;
    case CURLE_WRITE_ERROR:
        return x->too_big ? TN_ETOOBIG : TN_EIO;
    default:
        return TN_EIO;
    }
}

/* Detaches a finished (or broken) transfer from the multi handle, records its outcome and
 * moves it from c->active to c->done. */
static void finish(tn_httpc_t *c, xfer_t *x, CURLcode code)
{
    curl_multi_remove_handle(c->multi, x->easy);
    xfer_unlink(&c->active, x);
    if (x->broken) {
        c->nbroken--;
        x->error = TN_EIO;
        snprintf(x->errbuf, sizeof x->errbuf, "cannot watch the connection's socket");
    } else {
        x->error = map_curl_error(x, code);
        if (x->error == TN_ETOOBIG)
            snprintf(x->errbuf, sizeof x->errbuf, "response body larger than %zu bytes",
                     x->max_resp);
        else if (x->oom)
            snprintf(x->errbuf, sizeof x->errbuf, "out of memory storing the response");
        else if (x->error && !x->errbuf[0])
            snprintf(x->errbuf, sizeof x->errbuf, "%s", curl_easy_strerror(code));
    }
    long status = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK) x->status = status;
    x->total_ms = (double)(uv_hrtime() - x->start_ns) / 1e6;
    xfer_push(&c->done, x);
}

static void count_result(int error)
{
    const char *labels = error == 0              ? "result=\"ok\""
                         : error == TN_ETIMEDOUT ? "result=\"timeout\""
                                                 : "result=\"error\"";
    tn_metric_inc(tn_metrics_counter("tocsin_http_client_requests_total", labels,
                                     "Outbound HTTP requests by result."));
}

/* Calls the callbacks of c->done one at a time. Each transfer is unlinked before its
 * callback runs, so the callback may cancel (or destroy) anything else. */
static void deliver(tn_httpc_t *c)
{
    if (c->delivering) return;
    c->delivering = 1;
    xfer_t *x;
    while (!c->destroyed && (x = c->done.head)) {
        xfer_unlink(&c->done, x);
        c->pending--;

        tn_httpc_result_t res;
        memset(&res, 0, sizeof res);
        res.error = x->error;
        res.error_text = x->error ? x->errbuf : "";
        res.status = x->status;
        res.body = x->resp.data ? x->resp.data : "";
        res.body_len = x->resp.len;
        char *ctype = NULL;
        if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK)
            res.content_type = ctype;
        res.total_ms = x->total_ms;
        res.retry_after_ms = -1;
#if LIBCURL_VERSION_NUM >= 0x074200 /* CURLINFO_RETRY_AFTER: 7.66.0 */
        curl_off_t ra = 0;
        if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            res.retry_after_ms = ra > INT64_MAX / 1000 ? INT64_MAX : (int64_t)ra * 1000;
#endif
        count_result(res.error);

        x->cb(&res, x->arg);
        xfer_free(x);
    }
    /* c is still allocated even if a callback destroyed it: see the file comment. */
    c->delivering = 0;
}

/* Reads every finished transfer from curl, then calls their callbacks. Called after each
 * curl_multi_socket_action. */
static void process_completions(tn_httpc_t *c)
{
    if (c->destroyed) return;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        /* msg is invalid once the handle is removed: copy what we need first. */
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        xfer_t *x = xfer_of(easy);
        if (!x) {
            curl_multi_remove_handle(c->multi, easy);
            continue;
        }
        finish(c, x, code);
    }
    if (c->nbroken) {
        xfer_t *x = c->active.head;
        while (x) {
            xfer_t *next = x->next;
            if (x->broken) finish(c, x, CURLE_OK);
            x = next;
        }
    }
    deliver(c);
}

/* ---- requests --------------------------------------------------------------------------- */

/* CURLOPT_WRITEFUNCTION: appends to x->resp; returning less than n aborts the transfer. */
static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    xfer_t *x = userp;
    size_t n = size * nmemb;
    if (n > x->max_resp - x->resp.len) {
        x->too_big = 1;
        return 0;
    }
    if (tn_buf_append(&x->resp, data, n) != 0) {
        x->oom = 1;
        return 0;
    }
    return n;
}

/* 0 if url parses as an absolute http:// or https:// URL with a host, else TN_EINVAL
 * (or TN_ENOMEM). */
static int check_url(const char *url)
{
    if (!url || !*url) return TN_EINVAL;
    CURLU *u = curl_url();
    if (!u) return TN_ENOMEM;
    int rc = 0;
    char *scheme = NULL, *host = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OUT_OF_MEMORY) {
        rc = TN_ENOMEM;
    } else if (uc != CURLUE_OK) {
        rc = TN_EINVAL;
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = TN_EINVAL;
    } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        rc = TN_EINVAL;
    } else if (!*host) {
        rc = TN_EINVAL;
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* An HTTP token (RFC 9110 tchar), 1..HTTPC_MAX_METHOD characters. */
static int valid_method(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > HTTPC_MAX_METHOD) return 0;
    for (const unsigned char *p = (const unsigned char *)m; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
            continue;
        if (!strchr("!#$%&'*+-.^_`|~", *p)) return 0;
    }
    return 1;
}

/* A header line must be non-empty and may not smuggle in extra lines. */
static int valid_header(const char *h)
{
    return *h && !strpbrk(h, "\r\n");
}

static long clamp_ms(uint64_t ms)
{
    return ms > (uint64_t)LONG_MAX ? LONG_MAX : (long)ms;
}

/* Sets an easy option; on failure sets rc and jumps to fail. */
#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        CURLcode setopt_rc_ = curl_easy_setopt(x->easy, opt, val);                                 \
        if (setopt_rc_ != CURLE_OK) {                                                              \
            rc = setopt_rc_ == CURLE_OUT_OF_MEMORY ? TN_ENOMEM : TN_EINVAL;                        \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* Configures x->easy from req. 0, TN_EINVAL or TN_ENOMEM. */
static int setup_easy(xfer_t *x, const tn_httpc_req_t *req, const char *method, int has_body)
{
    int rc = 0;
    SETOPT(CURLOPT_PRIVATE, (void *)x);
    SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SETOPT(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SETOPT(CURLOPT_USERAGENT, "tocsin/" TN_VERSION);
    SETOPT(CURLOPT_TIMEOUT_MS,
           clamp_ms(req->timeout_ms ? req->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS));
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
           clamp_ms(req->connect_timeout_ms ? req->connect_timeout_ms
                                            : HTTPC_DEFAULT_CONNECT_TIMEOUT_MS));
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, (void *)x);
    /* Fails early with CURLE_FILESIZE_EXCEEDED when Content-Length announces too much. */
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_resp);
    if (x->headers) SETOPT(CURLOPT_HTTPHEADER, x->headers);

    if (has_body) {
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(CURLOPT_POSTFIELDS, (void *)(x->body ? x->body : ""));
        if (strcmp(method, "POST") != 0) SETOPT(CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        SETOPT(CURLOPT_POSTFIELDS, "");
    } else {
        SETOPT(CURLOPT_CUSTOMREQUEST, method);
    }
    return 0;
fail:
    return rc;
}

#undef SETOPT

/* Builds the header list: the caller's lines plus "Expect:" (no 100-continue round trip)
 * unless the caller set Expect. The list is owned by x. 0, TN_EINVAL or TN_ENOMEM. */
static int build_headers(xfer_t *x, const char *const *headers)
{
    int has_expect = 0;
    struct curl_slist *l;
    for (const char *const *h = headers; h && *h; h++) {
        if (!valid_header(*h)) return TN_EINVAL;
        if (strncasecmp(*h, "Expect:", 7) == 0 || strncasecmp(*h, "Expect;", 7) == 0)
            has_expect = 1;
        if (!(l = curl_slist_append(x->headers, *h))) return TN_ENOMEM;
        x->headers = l;
    }
    if (!has_expect) {
        if (!(l = curl_slist_append(x->headers, "Expect:"))) return TN_ENOMEM;
        x->headers = l;
    }
    return 0;
}

int tn_httpc_request(tn_httpc_t *c, const tn_httpc_req_t *req, tn_httpc_cb cb, void *arg,
                     uint64_t *id_out)
{
    if (!c || !req || !cb || c->destroyed) return TN_EINVAL;
    if (req->body_len && !req->body) return TN_EINVAL;
    int has_body = req->body != NULL;
    const char *method = req->method ? req->method : (has_body ? "POST" : "GET");
    if (!valid_method(method)) return TN_EINVAL;
    int rc = check_url(req->url);
    if (rc) return rc;

    xfer_t *x = calloc(1, sizeof *x);
    if (!x) return TN_ENOMEM;
    tn_buf_init(&x->resp);
    x->c = c;
    x->cb = cb;
    x->arg = arg;
    x->max_resp = req->max_response_bytes ? req->max_response_bytes : HTTPC_DEFAULT_MAX_RESPONSE;

    if ((rc = build_headers(x, req->headers))) goto fail;
    if (has_body) {
        x->body = malloc(req->body_len ? req->body_len : 1);
        if (!x->body) {
            rc = TN_ENOMEM;
            goto fail;
        }
        if (req->body_len) memcpy(x->body, req->body, req->body_len);
    }
    if (!(x->easy = curl_easy_init())) {
        rc = TN_ENOMEM;
        goto fail;
    }
    if ((rc = setup_easy(x, req, method, has_body))) goto fail;

    x->start_ns = uv_hrtime();
    CURLMcode mc = curl_multi_add_handle(c->multi, x->easy);
    if (mc != CURLM_OK) {
        tn_log_warn(LOG, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        rc = mc == CURLM_OUT_OF_MEMORY ? TN_ENOMEM : TN_EIO;
        goto fail;
    }
    x->id = ++c->next_id;
    xfer_push(&c->active, x);
    c->pending++;
    if (id_out) *id_out = x->id;
    return 0;

fail:
    xfer_free(x);
    return rc;
}

int tn_httpc_cancel(tn_httpc_t *c, uint64_t id)
{
    if (!c || c->destroyed) return TN_ENOTFOUND;
    xfer_t *x = xfer_find(&c->active, id);
    if (x) {
        curl_multi_remove_handle(c->multi, x->easy);
        if (x->broken) c->nbroken--;
        xfer_unlink(&c->active, x);
    } else if ((x = xfer_find(&c->done, id))) {
        xfer_unlink(&c->done, x);
    } else {
        return TN_ENOTFOUND;
    }
    c->pending--;
    xfer_free(x);
    return 0;
}

unsigned tn_httpc_pending(const tn_httpc_t *c)
{
    return c ? c->pending : 0;
}

/* ---- lifetime --------------------------------------------------------------------------- */

tn_httpc_t *tn_httpc_create(uv_loop_t *loop)
{
    static int curl_ready;
    if (!curl_ready) {
        CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (cc != CURLE_OK) {
            tn_log_error(LOG, "curl_global_init: %s", curl_easy_strerror(cc));
            return NULL;
        }
        curl_ready = 1;
    }

    tn_httpc_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->loop = loop;
    if (!(c->multi = curl_multi_init())) {
        free(c);
        return NULL;
    }
    if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, (void *)c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, (void *)c) != CURLM_OK ||
        uv_timer_init(loop, &c->timer) != 0) {
        curl_multi_cleanup(c->multi);
        free(c);
        return NULL;
    }
    c->timer.data = c;
    return c;
}

static void on_client_closed(uv_handle_t *h)
{
    free(h->data);
}

void tn_httpc_destroy(tn_httpc_t *c)
{
    if (!c || c->destroyed) return;
    c->destroyed = 1;

    xfer_t *x;
    while ((x = c->active.head)) {
        /* May call on_curl_socket (REMOVE) and on_curl_timer: both still safe here. */
        curl_multi_remove_handle(c->multi, x->easy);
        xfer_unlink(&c->active, x);
        xfer_free(x);
    }
    while ((x = c->done.head)) {
        xfer_unlink(&c->done, x);
        xfer_free(x);
    }
    c->pending = 0;
    c->nbroken = 0;

    /* Sockets curl still holds (cached connections): stop watching them before curl closes
     * them, then keep curl from calling back into a client that is going away. */
    while (c->socks) {
        curl_multi_assign(c->multi, c->socks->fd, NULL);
        sock_close(c, c->socks);
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, (curl_socket_callback)NULL);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, (curl_multi_timer_callback)NULL);
    curl_multi_cleanup(c->multi);
    c->multi = NULL;

    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_client_closed);
}
