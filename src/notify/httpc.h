/* httpc.h - outbound HTTP: libcurl's multi-socket interface driven by the libuv loop.
 * Nothing here blocks the loop thread. Only this folder includes curl.
 *
 * A request that fails to start returns a negative code and its callback is never called.
 * Otherwise the callback is called exactly once (unless cancelled), from the loop. */
#ifndef TN_NOTIFY_HTTPC_H
#define TN_NOTIFY_HTTPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct tn_httpc tn_httpc_t;

typedef struct {
    const char *method;         /* "GET", "POST", ...; NULL = GET, or POST when body set */
    const char *url;            /* http:// or https:// only */
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const char *body;           /* may be NULL */
    size_t body_len;
    uint64_t timeout_ms;         /* whole transfer; 0 = 10000 */
    uint64_t connect_timeout_ms; /* 0 = 5000 */
    size_t max_response_bytes;   /* response body cap; 0 = 4 MiB; larger -> TN_ETOOBIG */
} tn_httpc_req_t;

typedef struct {
    int error; /* 0, or TN_ETIMEDOUT, TN_ECLOSED (connect failed), TN_ETOOBIG, TN_EIO */
    const char *error_text; /* curl's message when error != 0, else "" */
    long status;            /* HTTP status, 0 when no response */
    const char *body;       /* response body, NUL-terminated, borrowed for the callback only */
    size_t body_len;
    const char *content_type; /* borrowed, may be NULL */
    double total_ms;          /* wall time of the transfer */
    int64_t retry_after_ms;   /* the response's Retry-After (seconds or HTTP date), -1 if none */
} tn_httpc_result_t;

/* tn_httpc_result_t has retry_after_ms. */
#define TN_HTTPC_RETRY_AFTER 1

typedef void (*tn_httpc_cb)(const tn_httpc_result_t *res, void *arg);

/* Creates a client on loop (borrowed). Calls curl_global_init once per process.
 * NULL on failure. */
tn_httpc_t *tn_httpc_create(uv_loop_t *loop);

/* Starts a request; everything in req is copied. *id_out (optional) receives an id for
 * tn_httpc_cancel. 0, TN_EINVAL (bad url/method) or TN_ENOMEM. */
int tn_httpc_request(tn_httpc_t *c, const tn_httpc_req_t *req, tn_httpc_cb cb, void *arg,
                     uint64_t *id_out);

/* Cancels a pending request; its callback will not be called. 0 or TN_ENOTFOUND. */
int tn_httpc_cancel(tn_httpc_t *c, uint64_t id);

/* Number of transfers in flight. */
unsigned tn_httpc_pending(const tn_httpc_t *c);

/* Cancels everything still pending (callbacks not called), closes the libuv handles and
 * frees the client once they are closed. c must not be used afterwards. The loop must run
 * for the close callbacks to fire. */
void tn_httpc_destroy(tn_httpc_t *c);

#endif
