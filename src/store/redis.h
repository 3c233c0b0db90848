/* redis.h - one asynchronous Redis connection on the libuv loop (hiredis 0.14).
 *
 * Only store/ includes hiredis. We own the libuv adapter (uv_poll; a poll error is reported
 * to hiredis so the connection is torn down instead of hanging) and the timeouts (uv_timer):
 * a connect deadline and a deadline per command. A command that passes its deadline gets
 * TN_ETIMEDOUT and the connection is dropped and re-established (replies are positional, so a
 * late reply would be given to the wrong command).
 *
 * Reconnect: after any loss the connection is retried with exponential backoff (100 ms doubling
 * to 5 s) forever, with one log line per attempt state change; tn_redis_on_state() reports
 * up/down transitions.
 *
 * Callbacks: a command that cannot be sent (not connected, allocation failure) returns a
 * negative code and its callback is never called. Otherwise the callback is called exactly
 * once: with err 0 and a reply (which may be a Redis error reply: tn_reply_is_error), or with
 * err TN_ETIMEDOUT / TN_ECLOSED and reply NULL. The reply is borrowed for the callback only. */
#ifndef TN_STORE_REDIS_H
#define TN_STORE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct tn_redis tn_redis_t;
typedef struct tn_redis_reply tn_redis_reply_t; /* a hiredis redisReply, seen through accessors */

typedef enum {
    TN_REPLY_STRING = 1,
    TN_REPLY_ARRAY,
    TN_REPLY_INTEGER,
    TN_REPLY_NIL,
    TN_REPLY_STATUS,
    TN_REPLY_ERROR,
} tn_reply_type_t;

typedef void (*tn_redis_cb)(tn_redis_t *r, const tn_redis_reply_t *reply, int err, void *arg);
typedef void (*tn_redis_state_cb)(tn_redis_t *r, bool up, void *arg);

typedef struct {
    const char *url;             /* "redis://host:port[/db]" or "unix:/path/to.sock[?db=N]" */
    const char *name;            /* for log lines, e.g. "main", "reader" */
    uint64_t connect_timeout_ms; /* default 2000 */
    uint64_t command_timeout_ms; /* default deadline per command; default 5000 */
    uint64_t backoff_min_ms;     /* default 100 */
    uint64_t backoff_max_ms;     /* default 5000 */
} tn_redis_opts_t;

/* Creates a connection object (not yet connected). opts strings are copied; loop borrowed.
 * NULL on allocation failure or an unparseable url (logged). */
tn_redis_t *tn_redis_create(uv_loop_t *loop, const tn_redis_opts_t *opts);

/* Starts connecting (and reconnecting forever). 0 or negative code. */
int tn_redis_start(tn_redis_t *r);

/* Up/down notifications (optional; one callback). */
void tn_redis_on_state(tn_redis_t *r, tn_redis_state_cb cb, void *arg);

bool tn_redis_is_up(const tn_redis_t *r);

/* Sends a command given as an argv array (binary safe; argvlen may be NULL for C strings).
 * timeout_ms 0 means the connection's default deadline. Returns 0 or TN_ECLOSED / TN_ENOMEM. */
int tn_redis_cmd_argv(tn_redis_t *r, tn_redis_cb cb, void *arg, uint64_t timeout_ms, int argc,
                      const char **argv, const size_t *argvlen);

/* printf-like form (hiredis format: %s, %b with len, %d ...). Same contract. */
int tn_redis_cmd(tn_redis_t *r, tn_redis_cb cb, void *arg, const char *fmt, ...);

/* Number of commands sent and not yet answered. */
unsigned tn_redis_pending(const tn_redis_t *r);

/* Round-trip latency of the most recent reply in ms (for /metrics), or -1. */
double tn_redis_last_latency_ms(const tn_redis_t *r);

/* Stops: pending commands get TN_ECLOSED, no reconnect; frees when handles are closed, then
 * calls done(arg) if given. r must not be used afterwards. */
void tn_redis_close(tn_redis_t *r, void (*done)(void *arg), void *arg);

/* Reply accessors (reply borrowed). */
tn_reply_type_t tn_reply_type(const tn_redis_reply_t *rep);
bool tn_reply_is_error(const tn_redis_reply_t *rep);
/* String/status/error text; *len optional. NULL for other types. */
const char *tn_reply_str(const tn_redis_reply_t *rep, size_t *len);
long long tn_reply_int(const tn_redis_reply_t *rep);
size_t tn_reply_len(const tn_redis_reply_t *rep); /* array element count, 0 otherwise */
const tn_redis_reply_t *tn_reply_elem(const tn_redis_reply_t *rep, size_t i);

/* Additions (store/): failed connection attempts since the connection was last up (0 while up);
 * the address for log lines ("127.0.0.1:6379/2", "unix:/x/redis.sock"), borrowed. */
unsigned tn_redis_connect_failures(const tn_redis_t *r);
const char *tn_redis_address(const tn_redis_t *r);

#endif
