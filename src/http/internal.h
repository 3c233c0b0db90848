/* internal.h - internal to src/http: the server and connection structs shared by server.c
 * (listening, connections, reading, timers, routing) and response.c (answers and writes).
 *
 * A connection goes through these phases:
 *
 *   IDLE --first byte--> READING --request complete--> HANDLER --tn_http_respond--> WRITING
 *    ^                                                                                 |
 *    +------------------------ written, keep-alive -----------------------------------+
 *
 *   WRITING --written, last answer--> LINGER (write side shut, input drained) --> CLOSED
 *   any phase --EOF, error, timeout, tn_http_server_close--> CLOSED
 *
 * The connection's one timer is the keep-alive idle timeout in IDLE (read_timeout before the
 * first request), the read deadline in READING (-> 408), the write timeout in WRITING
 * (keepalive_timeout_ms) and the linger bound in LINGER. It is stopped in HANDLER.
 * While a request is unanswered (HANDLER, WRITING) bytes are still read, to notice a client
 * that goes away, but only buffered (up to TN__HTTP_INBUF_MAX, then reading stops).
 * End of input: in HANDLER the client is gone (the request becomes gone, the connection
 * closes); in WRITING it is taken as a half-close: the requests already buffered are still
 * answered, then the connection closes. */
#ifndef TN_HTTP_INTERNAL_H
#define TN_HTTP_INTERNAL_H

#include "http/request.h"

#include <uv.h>

#define TN__HTTP_READ_SIZE 65536    /* one read; the buffer is shared by the server's conns */
#define TN__HTTP_INBUF_MAX 65536    /* unparsed bytes buffered while a request is pending */
#define TN__HTTP_LINGER_MS 2000     /* drain input this long after the last answer */
#define TN__HTTP_LINGER_MAX 4194304 /* ... or this many bytes */

typedef struct {
    char *method; /* NULL: any method */
    char *path;   /* without the trailing '*' of a prefix route */
    size_t path_len;
    bool prefix;
    tn_http_handler_fn fn;
    void *data; /* borrowed */
} tn__http_route_t;

typedef enum {
    TN__CONN_IDLE,
    TN__CONN_READING,
    TN__CONN_HANDLER,
    TN__CONN_WRITING,
    TN__CONN_LINGER,
    TN__CONN_CLOSED,
} tn__http_phase_t;

typedef struct tn__http_conn {
    uv_tcp_t tcp; /* the handles are embedded: the conn is freed once both closed */
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    tn_http_server_t *srv;
    tn__http_parser_t *parser; /* owned */
    tn_buf_t in;               /* bytes read but not parsed yet (pipelined requests) */
    size_t in_off;             /* parsed prefix of in */
    tn_http_req_t *pending;    /* dispatched, unanswered; owned by the handler until answered */
    tn__http_phase_t phase;
    bool reading;           /* uv_read_start is in effect */
    bool close_after_write; /* the answer being written is the last one */
    bool eof;               /* the client has half-closed while an answer was being written */
    int open_handles;
    size_t lingered;
    char peer[64];
    struct tn__http_conn *prev, *next;
} tn__http_conn_t;

struct tn_http_server {
    uv_loop_t *loop; /* borrowed */
    tn_http_limits_t limits;
    uv_tcp_t listener;
    bool listening, closing, listener_closed;
    bool draining; /* tn_http_server_drain: no new connections, each closes after its answer */
    int port;
    tn__http_route_t *routes;
    size_t nroutes, routes_cap;
    tn__http_conn_t *conns; /* every conn until its handles are closed */
    unsigned nconns;
    size_t reqs_outstanding; /* dispatched requests not answered yet, gone ones included */
    char *rbuf;              /* TN__HTTP_READ_SIZE bytes, lent to one read at a time */
    uint64_t last_limit_warn;
    void (*done)(void *arg);
    void *done_arg;
};

/* server.c */

/* Closes the connection now (idempotent). A pending request becomes gone (its on_gone
 * callback runs from here). The conn is freed later, in the handles' close callbacks. */
void tn__http_conn_close(tn__http_conn_t *c);
/* The last answer is about to be written: enter WRITING and arm the write timeout. */
void tn__http_conn_answering(tn__http_conn_t *c, bool keep_alive);
/* The answer has been written (status from uv_write): keep the connection going or end it. */
void tn__http_conn_written(tn__http_conn_t *c, int status);
/* A dispatched request has been released (answered or dropped). May free the server when it
 * is closing: the caller must not touch srv afterwards. */
void tn__http_server_req_released(tn_http_server_t *srv);

/* response.c */

/* Writes head then body (either may be NULL / 0). Takes ownership of both (malloc'ed; freed
 * in the write callback, or here on failure). final: the end of an answer, which calls
 * tn__http_conn_written when written. 0, TN_ENOMEM or TN_ECLOSED. */
int tn__http_write(tn__http_conn_t *c, char *head, size_t hlen, char *body, size_t blen,
                   bool final);
/* Answers without a request (bad input, timeout) with a JSON error and Connection: close.
 * 0 or a negative TN_E*; on failure the caller closes the connection. */
int tn__http_conn_send_error(tn__http_conn_t *c, int status, const char *code, const char *message);
/* Appends {"error":"<code>","message":"<message>"} to b. 0 or TN_ENOMEM. */
int tn__http_error_json(tn_buf_t *b, const char *code, const char *message);

#endif
