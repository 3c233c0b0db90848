/* redis_server.c - the embedded redis-server child process (contract in redis_server.h).
 *
 * Steps, each logged: create the directories, check for a live or stale socket, spawn, probe
 * the socket with PING every 50 ms until it answers +PONG (or the start timeout passes), and
 * at stop SIGTERM, then SIGKILL after 5 s. The probe is a plain uv_pipe_t speaking RESP, so
 * it needs no hiredis context and never blocks the loop.
 *
 * The child runs in its own session (UV_PROCESS_DETACHED): a Ctrl-C in the terminal reaches
 * only the engine, which then stops redis-server after its own last writes. */
#include "store/redis_server.h"
#include "store/redis_internal.h"
#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define COMP "store"
#define PROBE_INTERVAL_MS 50
#define STOP_GRACE_MS 5000

typedef enum {
    SRV_STARTING, /* spawned, probing */
    SRV_READY,    /* answered PING */
    SRV_FAILING,  /* not ready in time: being stopped, ready(err) follows the exit */
    SRV_STOPPING, /* tn_redis_server_stop called */
    SRV_EXITED,   /* the child is gone */
} srv_state_t;

typedef struct probe {
    uv_pipe_t pipe;
    uv_connect_t connect;
    uv_write_t write;
    tn_redis_server_t *s;
    char buf[64];
    size_t len;
    bool closing;
} probe_t;

struct tn_redis_server {
    uv_loop_t *loop; /* borrowed */
    uv_process_t proc;
    uv_timer_t timer; /* probe ticks while starting; the SIGKILL deadline while stopping */
    char *data_dir, *redis_dir, *sock_path, *log_path, *pid_path, *url, *bin;
    unsigned timeout_ms;
    uint64_t start_ns, stop_ns;
    srv_state_t state;
    int fail_status; /* for ready() once a failed start has exited */
    bool killed;     /* SIGKILL was sent */
    bool stop_called;
    unsigned open_handles;
    probe_t *probe;

    tn_redis_server_ready_cb ready;
    void *ready_arg;
    void (*exit_cb)(tn_redis_server_t *s, int64_t exit_status, int term_signal, void *arg);
    void *exit_arg;
    void (*done)(void *arg);
    void *done_arg;
};

static void server_free(tn_redis_server_t *s)
{
    free(s->data_dir);
    free(s->redis_dir);
    free(s->sock_path);
    free(s->log_path);
    free(s->pid_path);
    free(s->url);
    free(s->bin);
    free(s);
}

/* One of s's handles (process, timer, probe pipe) finished closing; the last one completes
 * tn_redis_server_stop. */
static void handle_done(tn_redis_server_t *s)
{
    if (--s->open_handles > 0) return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    server_free(s);
    if (done) done(arg);
}

static void on_handle_close(uv_handle_t *h)
{
    handle_done(h->data);
}

static uint64_t ms_since(uint64_t ns)
{
    return (uv_hrtime() - ns) / 1000000u;
}

/* ---- readiness probe: connect to the socket, send PING, expect +PONG ---- */

static void on_probe_close(uv_handle_t *h)
{
    probe_t *p = h->data;
    tn_redis_server_t *s = p->s;
    if (s->probe == p) s->probe = NULL;
    free(p);
    handle_done(s);
}

static void probe_end(probe_t *p)
{
    if (p->closing) return;
    p->closing = true;
    uv_close((uv_handle_t *)&p->pipe, on_probe_close);
}

static void server_ready(tn_redis_server_t *s)
{
    s->state = SRV_READY;
    uv_timer_stop(&s->timer);
    tn_log_info(COMP, "embedded redis-server ready in %llu ms (pid %d)",
                (unsigned long long)ms_since(s->start_ns), s->proc.pid);
    if (s->ready) s->ready(s, 0, s->ready_arg);
}

static void on_probe_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    probe_t *p = h->data;
    buf->base = p->buf + p->len;
    buf->len = sizeof p->buf - 1 - p->len;
}

static void on_probe_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    probe_t *p = st->data;
    if (nread < 0) {
        probe_end(p);
        return;
    }
    p->len += (size_t)nread;
    p->buf[p->len] = '\0';
    if (strstr(p->buf, "\r\n") == NULL && p->len < sizeof p->buf - 1) return;

    bool ok = strncmp(p->buf, "+PONG\r\n", 7) == 0;
    if (!ok)
        tn_log_debug(COMP, "embedded redis-server not ready yet: %.*s",
                     (int)strcspn(p->buf, "\r\n"), p->buf);
    probe_end(p);
    if (ok && p->s->state == SRV_STARTING) server_ready(p->s);
}

static void on_probe_write(uv_write_t *req, int status)
{
    if (status < 0) probe_end(req->data);
}

static void on_probe_connect(uv_connect_t *req, int status)
{
    probe_t *p = req->data;
    static char ping[] = "*1\r\n$4\r\nPING\r\n";
    if (status < 0 || p->closing) {
        probe_end(p);
        return;
    }
    uv_buf_t b = uv_buf_init(ping, sizeof ping - 1);
    if (uv_write(&p->write, (uv_stream_t *)&p->pipe, &b, 1, on_probe_write) != 0 ||
        uv_read_start((uv_stream_t *)&p->pipe, on_probe_alloc, on_probe_read) != 0)
        probe_end(p);
}

static void probe_start(tn_redis_server_t *s)
{
    probe_t *p = calloc(1, sizeof *p);
    if (p == NULL) return; /* the next tick tries again */
    if (uv_pipe_init(s->loop, &p->pipe, 0) != 0) {
        free(p);
        return;
    }
    p->s = s;
    p->pipe.data = p;
    p->connect.data = p;
    p->write.data = p;
    s->probe = p;
    s->open_handles++;
    uv_pipe_connect(&p->connect, &p->pipe, s->sock_path, on_probe_connect);
}

/* ---- stopping ---- */

static void on_kill_timer(uv_timer_t *t)
{
    tn_redis_server_t *s = t->data;
    if (s->state == SRV_EXITED) return;
    tn_log_warn(COMP, "embedded redis-server (pid %d) did not stop within %d ms; sending SIGKILL",
                s->proc.pid, STOP_GRACE_MS);
    s->killed = true;
    uv_process_kill(&s->proc, SIGKILL);
}

/* SIGTERM now, SIGKILL after the grace period. */
static void begin_kill(tn_redis_server_t *s)
{
    int rc = uv_process_kill(&s->proc, SIGTERM);
    if (rc != 0 && rc != UV_ESRCH)
        tn_log_warn(COMP, "embedded redis-server: SIGTERM failed: %s", uv_strerror(rc));
    uv_timer_start(&s->timer, on_kill_timer, STOP_GRACE_MS, 0);
}

static void close_all(tn_redis_server_t *s)
{
    if (s->probe) probe_end(s->probe);
    uv_close((uv_handle_t *)&s->proc, on_handle_close);
    uv_close((uv_handle_t *)&s->timer, on_handle_close);
}

static void on_tick(uv_timer_t *t)
{
    tn_redis_server_t *s = t->data;
    if (s->state != SRV_STARTING) return;
    if (ms_since(s->start_ns) >= s->timeout_ms) {
        tn_log_error(COMP,
                     "embedded redis-server did not become ready within %u ms (see %s); "
                     "stopping it",
                     s->timeout_ms, s->log_path);
        s->state = SRV_FAILING;
        s->fail_status = TN_ETIMEDOUT;
        if (s->probe) probe_end(s->probe);
        begin_kill(s);
        return;
    }
    if (s->probe == NULL) probe_start(s);
}

static void on_child_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    tn_redis_server_t *s = proc->data;
    srv_state_t was = s->state;
    s->state = SRV_EXITED;
    uv_timer_stop(&s->timer);
    if (s->probe) probe_end(s->probe);

    switch (was) {
    case SRV_STARTING:
        tn_log_error(COMP,
                     "embedded redis-server exited during startup (status %lld, signal %d); "
                     "see %s",
                     (long long)exit_status, term_signal, s->log_path);
        if (s->ready) s->ready(s, TN_EIO, s->ready_arg);
        break;
    case SRV_FAILING:
        tn_log_info(COMP, "embedded redis-server stopped");
        if (s->ready) s->ready(s, s->fail_status, s->ready_arg);
        break;
    case SRV_READY:
        tn_log_error(COMP,
                     "embedded redis-server (pid %d) exited unexpectedly (status %lld, "
                     "signal %d); see %s",
                     proc->pid, (long long)exit_status, term_signal, s->log_path);
        if (s->exit_cb) s->exit_cb(s, exit_status, term_signal, s->exit_arg);
        break;
    case SRV_STOPPING:
        tn_log_info(COMP, "embedded redis-server stopped in %llu ms%s",
                    (unsigned long long)ms_since(s->stop_ns), s->killed ? " (killed)" : "");
        close_all(s);
        break;
    case SRV_EXITED:
        break;
    }
}

/* ---- starting ---- */

/* mkdir -p with mode for the directories it creates. 0 or errno. */
static int mkdir_p(const char *path, mode_t mode)
{
    char *tmp = strdup(path);
    if (tmp == NULL) return ENOMEM;
    int err = 0;
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
            err = errno;
            break;
        }
        *p = c;
        if (c == '\0') break;
    }
    free(tmp);
    if (err == 0) {
        struct stat st;
        if (stat(path, &st) != 0) return errno;
        if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    }
    return err;
}

/* "redis-server" from PATH, or the given path; NULL if not executable (errno set). */
static char *find_binary(const char *given)
{
    if (given != NULL && strchr(given, '/') != NULL) {
        if (access(given, X_OK) != 0) return NULL;
        return strdup(given);
    }
    const char *name = given ? given : "redis-server";
    const char *path = getenv("PATH");
    if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *cand = malloc((n ? n : 1) + strlen(name) + 2);
        if (cand == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        sprintf(cand, "%.*s/%s", (int)(n ? n : 1), n ? path : ".", name);
        if (access(cand, X_OK) == 0) return cand;
        free(cand);
        path += n;
        if (*path == ':') path++;
    }
    errno = ENOENT;
    return NULL;
}

/* Removes a socket file nobody listens on. 0, or TN_EBUSY if a server answers on it, or
 * TN_EEXIST if the path is not a socket (both logged). */
static int clear_stale_socket(const tn_redis_server_t *s)
{
    struct stat st;
    if (lstat(s->sock_path, &st) != 0) return 0;
    if (!S_ISSOCK(st.st_mode)) {
        tn_log_error(COMP, "%s exists and is not a socket; remove it", s->sock_path);
        return TN_EEXIST;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, s->sock_path, strlen(s->sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        /* A unix-socket connect does not wait on the network; it answers at once. */
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
        if (rc == 0) {
            tn_log_error(COMP,
                         "%s is already served by a running redis-server (see %s); stop it "
                         "first",
                         s->sock_path, s->pid_path);
            return TN_EBUSY;
        }
    }
    if (unlink(s->sock_path) != 0 && errno != ENOENT) {
        tn_log_error(COMP, "cannot remove stale socket %s: %s", s->sock_path, strerror(errno));
        return TN_EIO;
    }
    tn_log_info(COMP, "removed stale socket %s", s->sock_path);
    return 0;
}

/* a + b in a new string (caller frees), NULL on allocation failure. */
static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s == NULL) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

static void on_spawn_failed_close(uv_handle_t *h)
{
    server_free(h->data);
}

int tn_redis_server_start(uv_loop_t *loop, const char *data_dir, const char *redis_server_path,
                          unsigned timeout_ms, tn_redis_server_ready_cb ready, void *arg,
                          tn_redis_server_t **out)
{
    int rc, err;
    *out = NULL;
    if (data_dir == NULL || data_dir[0] == '\0') return TN_EINVAL;

    tn_redis_server_t *s = calloc(1, sizeof *s);
    if (s == NULL) return TN_ENOMEM;
    s->loop = loop;
    s->timeout_ms = timeout_ms ? timeout_ms : 10000;
    s->ready = ready;
    s->ready_arg = arg;
    s->data_dir = strdup(data_dir);
    s->redis_dir = join(data_dir, "/redis");
    s->sock_path = join(data_dir, "/redis.sock");
    s->log_path = join(data_dir, "/redis.log");
    s->pid_path = join(data_dir, "/redis.pid");
    s->url = join("unix:", s->sock_path ? s->sock_path : "");
    if (!s->data_dir || !s->redis_dir || !s->sock_path || !s->log_path || !s->pid_path || !s->url) {
        rc = TN_ENOMEM;
        goto fail;
    }
    if (strlen(s->sock_path) > TN__REDIS_UNIX_PATH_MAX) {
        tn_log_error(COMP, "data directory path too long for a unix socket: %s", s->sock_path);
        rc = TN_EINVAL;
        goto fail;
    }

    if ((err = mkdir_p(s->data_dir, 0700)) != 0 || (err = mkdir_p(s->redis_dir, 0700)) != 0) {
        tn_log_error(COMP, "cannot create %s: %s", s->redis_dir, strerror(err));
        rc = TN_EIO;
        goto fail;
    }

    s->bin = find_binary(redis_server_path);
    if (s->bin == NULL) {
        rc = errno == ENOMEM ? TN_ENOMEM : TN_ENOTFOUND;
        tn_log_error(COMP,
                     "cannot start the embedded redis-server: %s %s (install the "
                     "redis-server package, or configure a Redis URL)",
                     redis_server_path ? redis_server_path : "redis-server",
                     redis_server_path && strchr(redis_server_path, '/') ? "is not executable"
                                                                         : "not found in PATH");
        goto fail;
    }
    if ((rc = clear_stale_socket(s)) != 0) goto fail;

    /* clang-format off */
    char *args[] = {
        s->bin,
        "--port", "0",                    /* no TCP: the unix socket only */
        "--unixsocket", s->sock_path,
        "--unixsocketperm", "700",
        "--dir", s->redis_dir,
        "--appendonly", "yes",
        "--save", "",
        "--daemonize", "no",
        "--pidfile", s->pid_path,
        "--logfile", s->log_path,
        NULL,
    };
    /* clang-format on */
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD; /* fatal config errors are printed before the logfile opens */
    stdio[2].data.fd = 2;
    uv_process_options_t po;
    memset(&po, 0, sizeof po);
    po.file = s->bin;
    po.args = args;
    po.exit_cb = on_child_exit;
    po.flags = UV_PROCESS_DETACHED;
    po.stdio = stdio;
    po.stdio_count = 3;

    tn_log_info(COMP, "starting embedded redis-server (%s, data in %s)", s->url, s->redis_dir);
    s->start_ns = uv_hrtime();
    s->proc.data = s;
    rc = uv_spawn(loop, &s->proc, &po);
    if (rc != 0) {
        tn_log_error(COMP, "cannot start %s: %s", s->bin, uv_strerror(rc));
        uv_close((uv_handle_t *)&s->proc, on_spawn_failed_close); /* frees s */
        return rc == UV_ENOENT ? TN_ENOTFOUND : TN_EIO;
    }
    tn_log_debug(COMP, "embedded redis-server spawned (pid %d)", s->proc.pid);

    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->open_handles = 2;
    s->state = SRV_STARTING;
    uv_timer_start(&s->timer, on_tick, 10, PROBE_INTERVAL_MS);
    *out = s;
    return 0;

fail:
    server_free(s);
    return rc;
}

const char *tn_redis_server_url(const tn_redis_server_t *s)
{
    return s->url;
}

int tn_redis_server_pid(const tn_redis_server_t *s)
{
    return s->state == SRV_EXITED ? 0 : s->proc.pid;
}

void tn_redis_server_on_exit(tn_redis_server_t *s,
                             void (*cb)(tn_redis_server_t *s, int64_t exit_status, int term_signal,
                                        void *arg),
                             void *arg)
{
    s->exit_cb = cb;
    s->exit_arg = arg;
}

void tn_redis_server_stop(tn_redis_server_t *s, void (*done)(void *arg), void *arg)
{
    if (s->stop_called) {
        tn_log_error(COMP, "embedded redis-server stopped twice (ignored)");
        return;
    }
    s->stop_called = true;
    s->done = done;
    s->done_arg = arg;
    s->stop_ns = uv_hrtime();
    if (s->probe) probe_end(s->probe);

    if (s->state == SRV_EXITED) {
        close_all(s);
        return;
    }
    tn_log_info(COMP, "stopping embedded redis-server (pid %d)", s->proc.pid);
    srv_state_t was = s->state;
    s->state = SRV_STOPPING; /* no ready() after this */
    if (was != SRV_FAILING) begin_kill(s);
}
