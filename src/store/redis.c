/* redis.c - one asynchronous Redis connection: our libuv adapter for hiredis 0.14, deadlines,
 * and reconnection with exponential backoff. The contract is in redis.h.
 *
 * Life of a connection
 *   IDLE --start--> CONNECTING --handshake reply--> UP
 *   CONNECTING/UP --failure, loss or timeout--> WAITING --backoff timer--> CONNECTING ...
 *   any --tn_redis_close--> CLOSED (handles close, then r is freed)
 * The handshake is a PING (or SELECT <db>) sent right after connect(2): "up" means the server
 * answered, not merely that the kernel accepted the socket (a stopped server still does).
 *
 * Pending commands live in our own FIFO (replies are positional). hiredis has its own callback
 * list; each of its entries points at our entry, and a reply must belong to the head of ours.
 *
 * Re-entrancy. hiredis calls us back from inside redisAsyncHandleRead/Write: replies, the
 * connection result, and the cleanup hook when it frees a context on an error. hiredis 0.14
 * must not be freed from inside its callbacks, so a teardown never runs there: while
 * r->in_hiredis > 0 it is only requested (r->drop_requested) and conn_drop() runs once hiredis
 * has returned (after_hiredis) or from a zero timer. When a context is freed, hiredis calls
 * each of its callbacks with a NULL reply; we ignore those, and conn_drop() then fails our
 * FIFO from our own stack frame. So user callbacks only ever run (a) for a real reply, inside
 * hiredis, or (b) from conn_drop(), outside it. */
#include "store/redis.h"
#include "store/redis_internal.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/num.h"
#include "core/log.h"
#include "core/metrics.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMP "store"

/* A command sent and not yet answered. */
typedef struct pending {
    struct pending *next;
    tn_redis_cb cb; /* may be NULL */
    void *arg;
    uint64_t deadline;   /* loop time (ms) */
    uint64_t timeout_ms; /* for the log line */
    uint64_t sent_ns;    /* uv_hrtime() at send, for the latency (0: not sampled) */
    bool internal;       /* the handshake, not counted by tn_redis_pending() */
} pending_t;

/* FIFO entries kept for reuse: a calloc and a free per command showed in one-XADD-per-sample
 * ingestion */
#define SPARE_MAX 4096

/* The uv_poll_t behind one hiredis context: hiredis's ev.data. Heap allocated, because a new
 * context (new fd) may be needed before the old handle has finished closing; freed in its
 * close callback. */
typedef struct watch {
    uv_poll_t handle;
    tn_redis_t *r;
    int events;   /* UV_READABLE | UV_WRITABLE as last started */
    bool closing; /* uv_close called */
} watch_t;

typedef enum { ST_IDLE, ST_CONNECTING, ST_UP, ST_WAITING, ST_CLOSED } conn_state_t;

struct tn_redis {
    uv_loop_t *loop; /* borrowed */
    char *name;
    tn__redis_addr_t addr;
    uint64_t connect_timeout_ms, command_timeout_ms, backoff_min_ms, backoff_max_ms;

    conn_state_t state;
    redisAsyncContext *ac; /* while CONNECTING or UP */
    watch_t *watch;        /* ac's poll handle */

    uv_timer_t deadline_timer; /* earliest command deadline (or 0 for a deferred drop) */
    uint64_t armed_for;        /* the deadline deadline_timer is armed for */
    uv_timer_t retry_timer;    /* backoff before the next connection attempt */

    pending_t *head, *tail;
    unsigned npending; /* user commands in the FIFO */
    pending_t *spare;  /* freed FIFO entries (a list through next), up to SPARE_MAX */
    unsigned nspare;
    unsigned nsent; /* commands sent (latency sampling) */

    unsigned in_hiredis; /* > 0 while a hiredis call is on the stack */
    bool drop_requested; /* tear down as soon as we are out of hiredis */
    bool closing;        /* tn_redis_close called */
    bool handles_closing;
    unsigned open_handles;
    char reason[192]; /* why the current connection is being dropped (first reason wins) */

    uint64_t backoff_ms;   /* delay before the next attempt */
    unsigned failures;     /* failed attempts since the connection was last up */
    bool ever_up;          /* a loss was logged already: attempt failures are quieter */
    bool saturated_logged; /* "still cannot connect" said once per outage */
    double last_latency_ms;

    tn_redis_state_cb state_cb;
    void *state_arg;
    void (*done)(void *arg);
    void *done_arg;

    tn_metric_t *m_up, *m_reconnects, *m_timeouts; /* borrowed from the registry; may be NULL */
};

static void conn_attempt(tn_redis_t *r);
static void conn_drop(tn_redis_t *r, pending_t *late);
static void on_deadline(uv_timer_t *t);

static void set_reason(tn_redis_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(tn_redis_t *r, const char *fmt, ...)
{
    if (r->reason[0] != '\0') return; /* the first cause is the interesting one */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

/* Asks for a teardown from a frame where it cannot happen now (inside hiredis or inside a
 * public call that must not run callbacks). */
static void request_drop(tn_redis_t *r)
{
    if (r->drop_requested || r->state == ST_CLOSED) return;
    r->drop_requested = true;
    uv_timer_start(&r->deadline_timer, on_deadline, 0, 0);
}

/* ---- the libuv adapter: hiredis's ev hooks drive one uv_poll_t ---- */

static void after_hiredis(tn_redis_t *r);

/* One of r's handles finished closing; the last one finishes tn_redis_close (the timers are
 * only closed then, so open_handles reaches 0 only when closing). */
static void handle_closed(tn_redis_t *r)
{
    if (--r->open_handles > 0) return;
    void (*done)(void *) = r->done;
    void *arg = r->done_arg;
    while (r->spare != NULL) {
        pending_t *p = r->spare;
        r->spare = p->next;
        free(p);
    }
    tn__redis_reply_pool_drain();
    tn__redis_addr_deinit(&r->addr);
    free(r->name);
    free(r);
    if (done) done(arg);
}

static void on_watch_close(uv_handle_t *h)
{
    watch_t *w = h->data;
    tn_redis_t *r = w->r;
    free(w);
    handle_closed(r);
}

static void on_watch(uv_poll_t *h, int status, int events)
{
    watch_t *w = h->data;
    tn_redis_t *r = w->r;
    if (w->closing || r->watch != w || r->ac == NULL) return;

    r->in_hiredis++;
    if (status < 0) {
        /* libuv stopped the handle (POLLERR gives UV_EBADF). Let hiredis read the socket so it
         * sees the real error (or EOF); if the read finds nothing, the error is ours to act on,
         * otherwise the connection would hang forever (the bundled adapter ignores this). */
        w->events = 0;
        tn_log_debug(COMP, "redis[%s] poll error: %s", r->name, uv_strerror(status));
        redisAsyncHandleRead(r->ac);
        if (r->ac != NULL) {
            set_reason(r, "poll error: %s", uv_strerror(status));
            request_drop(r);
        }
    } else {
        if (events & UV_READABLE) redisAsyncHandleRead(r->ac);
        if (r->ac != NULL && (events & UV_WRITABLE)) redisAsyncHandleWrite(r->ac);
    }
    r->in_hiredis--;
    after_hiredis(r);
}

static void watch_update(watch_t *w, int events)
{
    if (w->closing || events == w->events) return;
    w->events = events;
    int rc = events ? uv_poll_start(&w->handle, events, on_watch) : uv_poll_stop(&w->handle);
    if (rc != 0) {
        set_reason(w->r, "poll: %s", uv_strerror(rc));
        request_drop(w->r);
    }
}

static void ev_add_read(void *data)
{
    watch_t *w = data;
    watch_update(w, w->events | UV_READABLE);
}

static void ev_del_read(void *data)
{
    watch_t *w = data;
    watch_update(w, w->events & ~UV_READABLE);
}

static void ev_add_write(void *data)
{
    watch_t *w = data;
    watch_update(w, w->events | UV_WRITABLE);
}

static void ev_del_write(void *data)
{
    watch_t *w = data;
    watch_update(w, w->events & ~UV_WRITABLE);
}

/* hiredis is freeing the context (on an error, or because we called redisAsyncFree). The
 * context is still readable here; the fd is closed right after, so the handle is closed now. */
static void ev_cleanup(void *data)
{
    watch_t *w = data;
    tn_redis_t *r = w->r;
    if (w->closing) return;
    if (r->watch == w) {
        if (r->ac != NULL && r->ac->c.err != 0) set_reason(r, "%s", r->ac->c.errstr);
        set_reason(r, "connection closed");
        r->ac = NULL;
        r->watch = NULL;
    }
    w->closing = true;
    uv_close((uv_handle_t *)&w->handle, on_watch_close);
}

/* Makes ac driven by the loop. 0 or a TN_E* code (then nothing is attached). */
static int watch_attach(tn_redis_t *r, redisAsyncContext *ac)
{
    watch_t *w = calloc(1, sizeof *w);
    if (w == NULL) return TN_ENOMEM;
    int rc = uv_poll_init(r->loop, &w->handle, ac->c.fd);
    if (rc != 0) {
        free(w);
        set_reason(r, "poll: %s", uv_strerror(rc));
        return TN_EIO;
    }
    /* hiredis 0.14 opens its sockets without close-on-exec: keep them out of child processes
     * (the embedded redis-server would hold our connections open). */
    int fl = fcntl(ac->c.fd, F_GETFD);
    if (fl >= 0) fcntl(ac->c.fd, F_SETFD, fl | FD_CLOEXEC);
    w->handle.data = w;
    w->r = r;
    r->open_handles++;
    r->watch = w;
    r->ac = ac;
    ac->data = r;
    ac->ev.data = w;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return 0;
}

/* ---- pending commands and deadlines ---- */

static void deadline_arm(tn_redis_t *r, uint64_t deadline)
{
    uint64_t now = uv_now(r->loop);
    r->armed_for = deadline;
    uv_timer_start(&r->deadline_timer, on_deadline, deadline > now ? deadline - now : 0, 0);
}

static void on_deadline(uv_timer_t *t)
{
    tn_redis_t *r = t->data;
    if (r->drop_requested) {
        conn_drop(r, NULL);
        return;
    }

    uint64_t now = uv_now(r->loop);
    uint64_t next = UINT64_MAX;
    pending_t *late = NULL;
    for (pending_t *p = r->head; p != NULL; p = p->next) {
        if (p->deadline <= now) {
            late = p;
            break;
        }
        if (p->deadline < next) next = p->deadline;
    }
    if (late == NULL) {
        if (r->head != NULL) deadline_arm(r, next);
        return;
    }
    if (r->state == ST_UP) {
        tn_metric_inc(r->m_timeouts);
        set_reason(r, "command timed out after %llu ms", (unsigned long long)late->timeout_ms);
    } else {
        set_reason(r, "connect timed out after %llu ms", (unsigned long long)late->timeout_ms);
    }
    conn_drop(r, late);
}

static pending_t *pending_new(tn_redis_t *r)
{
    pending_t *p = r->spare;
    if (p == NULL) return calloc(1, sizeof *p);
    r->spare = p->next;
    r->nspare--;
    memset(p, 0, sizeof *p);
    return p;
}

static void pending_free(tn_redis_t *r, pending_t *p)
{
    if (r->nspare >= SPARE_MAX) {
        free(p);
        return;
    }
    p->next = r->spare;
    r->spare = p;
    r->nspare++;
}

/* The reply callback given to hiredis for every command; privdata is our FIFO entry. */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    tn_redis_t *r = ac->data;
    /* NULL: hiredis is freeing the context; conn_drop() fails our FIFO afterwards. */
    if (reply == NULL || r->drop_requested || r->state == ST_CLOSED) return;

    pending_t *p = r->head;
    tn_require(p != NULL && p == privdata);
    r->head = p->next;
    if (r->head == NULL) {
        r->tail = NULL;
        uv_timer_stop(&r->deadline_timer);
    }
    if (!p->internal) r->npending--;
    if (p->sent_ns) r->last_latency_ms = (double)(uv_hrtime() - p->sent_ns) / 1e6;
    if (p->cb) p->cb(r, (const tn_redis_reply_t *)reply, 0, p->arg);
    pending_free(r, p);
}

/* Hands a RESP-formatted command to hiredis and appends it to our FIFO. Returns 0 or a TN_E*
 * code (then cb is never called). */
static int send_formatted(tn_redis_t *r, tn_redis_cb cb, void *arg, uint64_t timeout_ms,
                          bool internal, const char *cmd, size_t len)
{
    redisAsyncContext *ac = r->ac;
    pending_t *p = pending_new(r);
    if (p == NULL) return TN_ENOMEM;

    int rc = redisAsyncFormattedCommand(ac, on_reply, p, cmd, len);
    /* hiredis 0.14 ignores its own allocation failures here: check that the callback was
     * queued and the bytes appended, or our FIFO and its list would no longer match. */
    bool queued = ac->replies.tail != NULL && ac->replies.tail->privdata == p;
    if (rc != REDIS_OK || !queued || ac->c.err != 0) {
        pending_free(r, p); /* hiredis never dereferences privdata; NULL replies are ignored */
        if (rc == REDIS_OK) {
            set_reason(r, "out of memory in hiredis");
            request_drop(r);
        }
        return rc == REDIS_OK ? TN_ENOMEM : TN_ECLOSED;
    }

    p->cb = cb;
    p->arg = arg;
    p->internal = internal;
    p->timeout_ms = timeout_ms;
    p->deadline = uv_now(r->loop) + timeout_ms;
    /* the latency of one command in 64, and of every command on an idle connection: reading the
     * clock twice per command was 3% of a one-sample-per-XADD ingest */
    if (r->tail == NULL || (r->nsent++ & 63) == 0) p->sent_ns = uv_hrtime();
    if (r->tail != NULL)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    if (!internal) r->npending++;
    if (!uv_is_active((uv_handle_t *)&r->deadline_timer) || p->deadline < r->armed_for)
        deadline_arm(r, p->deadline);
    return 0;
}

/* ---- connecting, dropping, reconnecting ---- */

static void on_handshake(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    if (err != 0) return; /* the connection is being dropped already */
    if (tn_reply_is_error(rep)) {
        set_reason(r, "%s: %s", r->addr.db ? "SELECT" : "PING", tn_reply_str(rep, NULL));
        request_drop(r);
        return;
    }
    r->state = ST_UP;
    r->failures = 0;
    r->saturated_logged = false;
    r->backoff_ms = r->backoff_min_ms;
    tn_metric_set(r->m_up, 1);
    tn_log_info(COMP, "redis[%s] connected to %s", r->name, r->addr.desc);
    if (r->state_cb) r->state_cb(r, true, r->state_arg);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    const tn_redis_t *r = ac->data;
    if (status == REDIS_OK)
        tn_log_debug(COMP, "redis[%s] socket connected to %s", r->name, r->addr.desc);
}

static void conn_attempt(tn_redis_t *r)
{
    redisAsyncContext *ac;
    char *cmd = NULL;
    int len, rc;

    r->state = ST_CONNECTING;
    r->reason[0] = '\0';
    if (r->addr.path)
        ac = redisAsyncConnectUnix(r->addr.path);
    else
        ac = redisAsyncConnect(r->addr.host, r->addr.port);
    if (ac == NULL || ac->err != 0) {
        set_reason(r, "%s", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        goto fail;
    }
    if (watch_attach(r, ac) != 0) {
        set_reason(r, "out of memory");
        redisAsyncFree(ac);
        goto fail;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    ac->c.reader->fn = &tn__redis_reply_fns; /* replies without a malloc each (redis_reply.c) */

    /* The handshake goes out as soon as the socket is writable; its deadline covers connect. */
    if (r->addr.db != 0)
        len = redisFormatCommand(&cmd, "SELECT %d", r->addr.db);
    else
        len = redisFormatCommand(&cmd, "PING");
    if (len < 0) {
        set_reason(r, "out of memory");
        goto fail;
    }
    rc = send_formatted(r, on_handshake, NULL, r->connect_timeout_ms, true, cmd, (size_t)len);
    redisFreeCommand(cmd);
    if (rc != 0) {
        set_reason(r, "%s", tn_strerror(rc));
        goto fail;
    }
    return;

fail:
    conn_drop(r, NULL);
}

static void on_retry(uv_timer_t *t)
{
    tn_redis_t *r = t->data;
    if (r->state != ST_WAITING) return;
    tn_metric_inc(r->m_reconnects);
    conn_attempt(r);
}

static void on_handle_close(uv_handle_t *h)
{
    handle_closed(h->data);
}

/* Tears the current connection down (if any), fails every pending command (late gets
 * TN_ETIMEDOUT, the others TN_ECLOSED), then either schedules the next attempt or, when
 * closing, closes the handles. Never called with hiredis on the stack. */
static void conn_drop(tn_redis_t *r, pending_t *late)
{
    tn_require(r->in_hiredis == 0);
    bool was_up = r->state == ST_UP;
    bool was_connecting = r->state == ST_CONNECTING;
    char reason[sizeof r->reason];

    r->drop_requested = false;
    uv_timer_stop(&r->deadline_timer);
    if (r->ac != NULL) {
        set_reason(r, "connection dropped");
        redisAsyncFree(r->ac); /* our NULL-reply callbacks do nothing; ev_cleanup clears r->ac */
    }
    tn_require(r->ac == NULL);
    pending_t *list = r->head;
    r->head = r->tail = NULL;
    r->npending = 0;
    snprintf(reason, sizeof reason, "%s", r->reason[0] ? r->reason : "connection closed");
    r->reason[0] = '\0';

    if (r->closing) {
        r->state = ST_CLOSED;
        uv_timer_stop(&r->retry_timer);
        tn_metric_set(r->m_up, 0);
        if (was_up) tn_log_debug(COMP, "redis[%s] closed", r->name);
    } else if (was_up || was_connecting) {
        if (was_up) r->backoff_ms = r->backoff_min_ms;
        uint64_t delay = r->backoff_ms;
        r->backoff_ms = delay > r->backoff_max_ms / 2 ? r->backoff_max_ms : delay * 2;
        r->state = ST_WAITING;
        tn_metric_set(r->m_up, 0);
        uv_timer_start(&r->retry_timer, on_retry, delay, 0);
        if (was_up) {
            r->ever_up = true;
            r->saturated_logged = false;
            tn_log_warn(COMP, "redis[%s] connection lost (%s); reconnecting in %llu ms", r->name,
                        reason, (unsigned long long)delay);
        } else if (++r->failures == 1 && !r->ever_up) {
            tn_log_warn(COMP, "redis[%s] cannot connect to %s (%s); retrying in %llu ms", r->name,
                        r->addr.desc, reason, (unsigned long long)delay);
        } else if (delay == r->backoff_max_ms && !r->saturated_logged) {
            r->saturated_logged = true;
            tn_log_warn(COMP, "redis[%s] still cannot connect to %s (%s); retrying every %llu ms",
                        r->name, r->addr.desc, reason, (unsigned long long)delay);
        } else {
            tn_log_debug(COMP,
                         "redis[%s] attempt %u to connect to %s failed (%s); retrying in %llu ms",
                         r->name, r->failures, r->addr.desc, reason, (unsigned long long)delay);
        }
    }

    /* User code from here on: it may send (gets TN_ECLOSED), or even close r. r's memory stays
     * valid until its handles' close callbacks, which never run inside this frame. */
    while (list != NULL) {
        pending_t *p = list;
        list = p->next;
        if (p->cb) p->cb(r, NULL, p == late ? TN_ETIMEDOUT : TN_ECLOSED, p->arg);
        pending_free(r, p);
    }
    if (was_up && !r->closing && r->state_cb) r->state_cb(r, false, r->state_arg);

    if (r->closing && !r->handles_closing) {
        r->handles_closing = true;
        uv_close((uv_handle_t *)&r->deadline_timer, on_handle_close);
        uv_close((uv_handle_t *)&r->retry_timer, on_handle_close);
    }
}

static void after_hiredis(tn_redis_t *r)
{
    if (r->in_hiredis > 0) return;
    bool lost = r->ac == NULL && (r->state == ST_UP || r->state == ST_CONNECTING);
    if (r->drop_requested || lost) conn_drop(r, NULL);
}

/* ---- public API ---- */

/* hiredis writes with write(2): a peer that has gone away would raise SIGPIPE and kill the
 * process. Ignore it unless the application installed its own handler. */
static void ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
        !(sa.sa_flags & SA_SIGINFO)) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

tn_redis_t *tn_redis_create(uv_loop_t *loop, const tn_redis_opts_t *opts)
{
    const char *name = opts->name ? opts->name : "default";
    tn_redis_t *r = calloc(1, sizeof *r);
    if (r == NULL) goto oom;
    r->name = strdup(name);
    if (r->name == NULL) goto oom;
    int rc = tn__redis_parse_url(opts->url, &r->addr);
    if (rc == TN_ENOMEM) goto oom;
    if (rc != 0) {
        tn_log_error(COMP,
                     "redis[%s] invalid url \"%s\" (expected redis://host[:port][/db] or "
                     "unix:/path[?db=N])",
                     name, opts->url ? opts->url : "");
        free(r->name);
        free(r);
        return NULL;
    }

    ignore_sigpipe();
    r->loop = loop;
    r->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 2000;
    r->command_timeout_ms = opts->command_timeout_ms ? opts->command_timeout_ms : 5000;
    r->backoff_min_ms = opts->backoff_min_ms ? opts->backoff_min_ms : 100;
    r->backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : 5000;
    if (r->backoff_max_ms < r->backoff_min_ms) r->backoff_max_ms = r->backoff_min_ms;
    r->backoff_ms = r->backoff_min_ms;
    r->last_latency_ms = -1;
    r->state = ST_IDLE;

    char labels[160];
    snprintf(labels, sizeof labels, "conn=\"%s\"", r->name);
    r->m_up = tn_metrics_gauge("tocsin_redis_up", labels, "1 when the Redis connection is up");
    r->m_reconnects = tn_metrics_counter("tocsin_redis_reconnects_total", labels,
                                         "Redis reconnection attempts after a loss or failure");
    r->m_timeouts = tn_metrics_counter("tocsin_redis_command_timeouts_total", labels,
                                       "Redis commands that passed their deadline");
    tn_metric_set(r->m_up, 0);

    uv_timer_init(loop, &r->deadline_timer);
    uv_timer_init(loop, &r->retry_timer);
    r->deadline_timer.data = r;
    r->retry_timer.data = r;
    r->open_handles = 2;
    return r;

oom:
    tn_log_error(COMP, "redis[%s] out of memory", name);
    if (r) free(r->name);
    free(r);
    return NULL;
}

int tn_redis_start(tn_redis_t *r)
{
    if (r->state != ST_IDLE || r->closing) return TN_EINVAL;
    conn_attempt(r);
    return 0;
}

void tn_redis_on_state(tn_redis_t *r, tn_redis_state_cb cb, void *arg)
{
    r->state_cb = cb;
    r->state_arg = arg;
}

bool tn_redis_is_up(const tn_redis_t *r)
{
    return r->state == ST_UP && !r->drop_requested;
}

/* Pub/sub, MONITOR and CLIENT REPLY OFF|SKIP change the reply protocol: replies would no longer
 * match our FIFO one to one. Callers use streams instead. */
/* Whether a command name (and its first argument) is one this client cannot serve. */
static bool name_unsupported(const char *name, size_t n, const char *sub, size_t subn)
{
    static const char *const names[] = {"subscribe",    "psubscribe",   "ssubscribe", "unsubscribe",
                                        "punsubscribe", "sunsubscribe", "monitor"};
    if (n == 0 || !strchr("spumcSPUMC", name[0])) return false; /* the common case */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0) return true;
    return n == 6 && strncasecmp(name, "client", 6) == 0 && sub && subn == 5 &&
           strncasecmp(sub, "reply", 5) == 0;
}

static bool cmd_unsupported(const char *cmd, size_t len)
{
    char name[16], sub[16];
    if (tn__redis_cmd_arg(cmd, len, 0, name, sizeof name) != 0) return true;
    if (!strchr("spumcSPUMC", name[0])) return false; /* without parsing the first argument */
    int has_sub = tn__redis_cmd_arg(cmd, len, 1, sub, sizeof sub) == 0;
    return name_unsupported(name, strlen(name), has_sub ? sub : NULL, has_sub ? strlen(sub) : 0);
}

static int send_user(tn_redis_t *r, tn_redis_cb cb, void *arg, uint64_t timeout_ms, const char *cmd,
                     size_t len)
{
    if (cmd_unsupported(cmd, len)) return TN_EINVAL;
    return send_formatted(r, cb, arg, timeout_ms ? timeout_ms : r->command_timeout_ms, false, cmd,
                          len);
}

int tn_redis_cmd_argv(tn_redis_t *r, tn_redis_cb cb, void *arg, uint64_t timeout_ms, int argc,
                      const char **argv, const size_t *argvlen)
{
    if (!tn_redis_is_up(r)) return TN_ECLOSED;
    if (argc <= 0 || argv == NULL) return TN_EINVAL;
    size_t n0 = argvlen ? argvlen[0] : strlen(argv[0]);
    if (n0 && strchr("spumcSPUMC", argv[0][0]) && /* else surely supported: no more lengths */
        name_unsupported(argv[0], n0, argc > 1 ? argv[1] : NULL,
                         argc > 1 ? (argvlen ? argvlen[1] : strlen(argv[1])) : 0))
        return TN_EINVAL;
    /* RESP by hand into a reused buffer: hiredis' own formatter (sdscatfmt per argument) cost a
     * fifth of the engine's time when every sample is its own XADD. */
    static _Thread_local tn_buf_t fmt;
    tn_buf_reset(&fmt);
    size_t need = 16;
    for (int i = 0; i < argc; i++)
        need += 24 + (argvlen ? argvlen[i] : strlen(argv[i]));
    if (tn_buf_reserve(&fmt, need)) return TN_ENOMEM;
    char *w = fmt.data;
    *w++ = '*';
    w += tn_num_format_i64(w, argc);
    *w++ = '\r', *w++ = '\n';
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        *w++ = '$';
        if (n < 10) { /* most arguments: field names, numbers, ids */
            *w++ = (char)('0' + n);
        } else if (n < 100) {
            *w++ = (char)('0' + n / 10);
            *w++ = (char)('0' + n % 10);
        } else {
            w += tn_num_format_i64(w, (int64_t)n);
        }
        *w++ = '\r', *w++ = '\n';
        memcpy(w, argv[i], n);
        w += n;
        *w++ = '\r', *w++ = '\n';
    }
    fmt.len = (size_t)(w - fmt.data);
    int rc = send_formatted(r, cb, arg, timeout_ms ? timeout_ms : r->command_timeout_ms, false,
                            fmt.data, fmt.len);
    if (fmt.cap > (1u << 20)) tn_buf_deinit(&fmt); /* keep a small one for the next command */
    return rc;
}

int tn_redis_cmd(tn_redis_t *r, tn_redis_cb cb, void *arg, const char *fmt, ...)
{
    if (!tn_redis_is_up(r)) return TN_ECLOSED;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len == -1) return TN_ENOMEM;
    if (len < 0) return TN_EINVAL; /* bad format string */
    int rc = send_user(r, cb, arg, 0, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

unsigned tn_redis_pending(const tn_redis_t *r)
{
    return r->npending;
}

double tn_redis_last_latency_ms(const tn_redis_t *r)
{
    return r->last_latency_ms;
}

unsigned tn_redis_connect_failures(const tn_redis_t *r)
{
    return r->failures;
}

const char *tn_redis_address(const tn_redis_t *r)
{
    return r->addr.desc;
}

void tn_redis_close(tn_redis_t *r, void (*done)(void *arg), void *arg)
{
    if (r->closing) {
        tn_log_error(COMP, "redis[%s] closed twice (ignored)", r->name);
        return;
    }
    r->closing = true;
    r->done = done;
    r->done_arg = arg;
    uv_timer_stop(&r->retry_timer);
    if (r->in_hiredis > 0) {
        /* From a reply or state callback: the drop runs when hiredis returns. */
        r->drop_requested = true;
        return;
    }
    conn_drop(r, NULL);
}
