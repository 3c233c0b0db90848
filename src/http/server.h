/* server.h - the engine's HTTP/1.1 server: libuv TCP + http-parser.
 *
 * Keep-alive, pipelining (requests on one connection are answered in order),
 * limits on header and body size, a read deadline per request (slow clients get
 * 408 and are closed), a connection cap, a small routing table and JSON error bodies.
 * Only this folder includes http_parser.h.
 *
 * Request lifetime: a handler is called with a request it does not own. It must answer
 * it exactly once, now or later, with tn_http_respond*(). The request stays valid until
 * then even if the client goes away (the answer is then discarded); tn_http_req_gone()
 * tells, and tn_http_req_on_gone() is an optional notification. While a request is
 * unanswered the connection reads no further requests.
 *
 * Error bodies are JSON: {"error":"<code>","message":"<human text>"}. */
#ifndef TN_HTTP_SERVER_H
#define TN_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <jansson.h>
#include <uv.h>

typedef struct tn_http_server tn_http_server_t;
typedef struct tn_http_req tn_http_req_t;

typedef void (*tn_http_handler_fn)(tn_http_req_t *req, void *data);

typedef struct {
    size_t max_header_bytes;  /* all request-line + header bytes; default 16 KiB -> 431 */
    size_t max_body_bytes;    /* default 8 MiB -> 413 (checked on Content-Length and chunks) */
    uint64_t read_timeout_ms; /* from first byte of a request to its end; default 10 s -> 408 */
    uint64_t keepalive_timeout_ms; /* idle keep-alive connection closed after; default 30 s */
    unsigned max_connections;      /* further connections are accepted and closed; default 1024 */
} tn_http_limits_t;

/* Fills *l with the defaults above. In limits given to tn_http_server_create, a zero size or
 * count takes its default, and a zero timeout means "no timeout". The keep-alive timeout also
 * bounds the time an answer takes to be written (a client that does not read is dropped), and
 * the read timeout the wait for the first byte on a new connection (closed quietly). */
void tn_http_limits_default(tn_http_limits_t *l);

/* Creates a server on loop (borrowed; must outlive the server). limits may be NULL for
 * defaults; copied. Returns NULL on allocation failure. */
tn_http_server_t *tn_http_server_create(uv_loop_t *loop, const tn_http_limits_t *limits);

/* Adds a route. method: "GET", "POST", ... or NULL for any method. path: exact match, or a
 * prefix when it ends with '*' (e.g. "/api/runs/" followed by a star). First match in
 * insertion order wins. A path that matches with another method gets 405 (with an Allow
 * header); no match gets 404. A HEAD request also matches GET routes (the body is then left
 * out of the answer). Strings are copied; data borrowed. 0, TN_ENOMEM, or TN_EINVAL when
 * path or fn is NULL. */
int tn_http_server_route(tn_http_server_t *srv, const char *method, const char *path,
                         tn_http_handler_fn fn, void *data);

/* Binds and listens. host: "127.0.0.1", "0.0.0.0", "::1"; port 0 picks a free port.
 * 0 or a negative TN_E* (logs the system error). */
int tn_http_server_listen(tn_http_server_t *srv, const char *host, int port);

/* The bound port (useful after port 0), or -1. */
int tn_http_server_port(const tn_http_server_t *srv);

/* Stops listening, closes every connection (pending requests become "gone"), and frees the
 * server once all handles are closed and all pending requests have been answered; then calls
 * done(arg) if given. The server pointer must not be used after this call.
 * So the loop must keep running, and every handler must still answer its request (the answer
 * is discarded): done() may run from inside that last tn_http_respond*() call. on_gone
 * callbacks of pending requests run from inside this call. NULL is a no-op. */
void tn_http_server_close(tn_http_server_t *srv, void (*done)(void *arg), void *arg);

/* A graceful stop, before tn_http_server_close: stops accepting connections and closes those
 * with nothing started; a request being read, handled or written goes on, and its answer is its
 * connection's last (Connection: close). tn_http_server_busy tells whether any such request is
 * left; then (or at a deadline of the caller's) tn_http_server_close ends the rest. NULL and a
 * second call are no-ops. */
void tn_http_server_drain(tn_http_server_t *srv);
bool tn_http_server_busy(const tn_http_server_t *srv);
/* Request accessors. Returned strings are borrowed, NUL-terminated, valid until the answer. */
const char *tn_http_req_method(const tn_http_req_t *req);
const char *tn_http_req_path(const tn_http_req_t *req);  /* decoded? no: raw path, no query */
const char *tn_http_req_query(const tn_http_req_t *req); /* raw query string without '?', or "" */
/* Case-insensitive header lookup; NULL when absent. Repeated headers: the first. */
const char *tn_http_req_header(const tn_http_req_t *req, const char *name);
/* Body bytes (de-chunked); *len set; never NULL (empty body = ""). NUL-terminated. */
const char *tn_http_req_body(const tn_http_req_t *req, size_t *len);
/* Peer address as text, e.g. "127.0.0.1:53211". */
const char *tn_http_req_peer(const tn_http_req_t *req);
/* Query parameter value (percent-decoded) copied into buf; 0, TN_ENOTFOUND or TN_ETOOBIG. */
int tn_http_req_query_param(const tn_http_req_t *req, const char *name, char *buf, size_t size);

bool tn_http_req_gone(const tn_http_req_t *req);
/* Called at most once, when the client goes away before the answer (end of input or error on
 * the connection, or tn_http_server_close). Not called when registered on a request that is
 * already gone: check tn_http_req_gone(). The callback may answer the request. */
void tn_http_req_on_gone(tn_http_req_t *req, void (*cb)(tn_http_req_t *req, void *arg), void *arg);

/* Adds a response header for the coming answer (copied), e.g. ("Retry-After", "1").
 * 0, TN_ENOMEM, or TN_EINVAL for a name that is not a token, a value with control bytes
 * (CR, LF, ...) or a header the server sets itself (Content-Length, Content-Type, Connection,
 * Transfer-Encoding). */
int tn_http_resp_header(tn_http_req_t *req, const char *name, const char *value);

/* Answers the request. body is copied (may be NULL when len == 0). content_type NULL means
 * "application/json". After this call req is invalid. Returns 0, or TN_ECLOSED when the
 * client was gone (the request is still released), or TN_ENOMEM (the request is released and
 * the connection closed). status must be 200..599 (anything else is logged and sent as 500);
 * 204 and 304 are sent without body and Content-Length. Call it once per request. */
int tn_http_respond(tn_http_req_t *req, int status, const char *content_type, const char *body,
                    size_t len);
/* Same, taking ownership of body (malloc'ed; freed by the server). */
int tn_http_respond_owned(tn_http_req_t *req, int status, const char *content_type, char *body,
                          size_t len);
/* Answers with the JSON value o (compact; the call takes the reference, o may be NULL: an
 * allocation failed before), or 500 when it cannot be written. */
int tn_http_respond_json(tn_http_req_t *req, int status, json_t *o);

/* {"error":"<code>","message":"<formatted>"} with the given status. */
int tn_http_respond_error(tn_http_req_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
