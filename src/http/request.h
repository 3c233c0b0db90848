/* request.h - internal to src/http: the request object and the pure HTTP/1.1 request parser.
 *
 * The parser wraps http-parser. It builds one request at a time (method, raw target split into
 * path and query, headers, de-chunked body) and enforces the limits:
 *   - request line + headers over max_header_bytes            -> 431 headers_too_large
 *   - Content-Length over max_body_bytes (before any body byte) -> 413 body_too_large
 *   - chunked body growing over max_body_bytes (checked on each chunk header) -> 413
 *   - anything malformed (bad request line, NUL bytes, bad or duplicate Content-Length,
 *     Content-Length together with Transfer-Encoding, ...) -> 400 bad_request
 * It does no I/O: server.c feeds it socket bytes; the unit tests and the fuzz target feed it
 * buffers. Only this folder includes http_parser.h (and only request.c does). */
#ifndef TN_HTTP_REQUEST_H
#define TN_HTTP_REQUEST_H

#include "core/buf.h"
#include "http/server.h"

#include <stdbool.h>
#include <stddef.h>

struct tn__http_conn;

struct tn_http_req {
    /* Filled by the parser. */
    const char *method; /* static string from http-parser, e.g. "GET" */
    tn_buf_t url;       /* raw request target as received */
    tn_buf_t target;    /* "path\0query\0": path at data, query at data + path_len + 1 */
    size_t path_len;
    tn_buf_t headers; /* nheaders x "name\0value\0" (names are tokens, values have no control bytes
                         but tab) */
    size_t nheaders;
    tn_buf_t body; /* de-chunked */
    unsigned short http_major, http_minor;
    bool keep_alive; /* HTTP/1.1 without "Connection: close", or 1.0 with keep-alive */
    bool is_head;

    /* Filled by the server (server.c / response.c). */
    tn_http_server_t *srv;      /* set when dispatched; keeps the server alive until answered */
    struct tn__http_conn *conn; /* NULL when the client has gone */
    bool gone;
    void (*on_gone)(tn_http_req_t *req, void *arg);
    void *on_gone_arg;
    tn_buf_t resp_headers; /* "Name: value\r\n" lines for the answer */
    char peer[64];
};

/* Frees a request and everything it holds. NULL is a no-op. Does not touch srv or conn. */
void tn__http_req_free(tn_http_req_t *req);

typedef struct tn__http_parser tn__http_parser_t;

enum {
    TN__HTTP_MORE = 0, /* every byte consumed, the request is not complete yet */
    TN__HTTP_DONE = 1, /* a request is complete; take it before feeding again */
};

/* Creates a parser for one connection. Limits of 0 mean "no limit" (tests only).
 * Returns NULL on allocation failure. Caller owns it: tn__http_parser_destroy. */
tn__http_parser_t *tn__http_parser_create(size_t max_header_bytes, size_t max_body_bytes);
/* Frees the parser and any request it is still building. NULL is a no-op. */
void tn__http_parser_destroy(tn__http_parser_t *p);

/* Feeds bytes (borrowed; not kept). *used is set to the number of bytes consumed. Returns
 *   TN__HTTP_MORE  all bytes consumed, need more;
 *   TN__HTTP_DONE  a request is complete after *used bytes; the rest belongs to the next
 *                  request. Take it with tn__http_parser_take() before feeding again (feeding
 *                  before that consumes nothing and returns TN__HTTP_DONE again);
 *   TN_EPROTO      bad input: tn__http_parser_error() gives the status (400, 413, 431);
 *   TN_ENOMEM      allocation failed.
 * After an error the parser stays failed: every further feed returns the same error. */
int tn__http_parser_feed(tn__http_parser_t *p, const char *data, size_t len, size_t *used);

/* The completed request; caller owns it (tn__http_req_free). NULL unless the last feed
 * returned TN__HTTP_DONE. Resets the parser for the next request on the connection. */
tn_http_req_t *tn__http_parser_take(tn__http_parser_t *p);

/* True when bytes of an unfinished request have been consumed (the request has begun). */
bool tn__http_parser_started(const tn__http_parser_t *p);

/* True once per request when the headers asked for "Expect: 100-continue" and were accepted:
 * the server should then send "HTTP/1.1 100 Continue". Clears the flag. */
bool tn__http_parser_want_continue(tn__http_parser_t *p);

/* After TN_EPROTO: the HTTP status to answer with, and (when code/message are not NULL) a
 * short error code ("bad_request", "body_too_large", "headers_too_large") and a human message.
 * Strings are borrowed from the parser, valid until it is destroyed. 0 when not failed. */
int tn__http_parser_error(const tn__http_parser_t *p, const char **code, const char **message);

#endif
