/* test_redis.c - tn_redis against a real redis-server on a private port (never a mock).
 *
 * The server is started once for the file (fork/exec) and killed, stopped (SIGSTOP) or
 * restarted by the tests that need it. Every test runs its own loop and checks that the loop
 * closes cleanly (no handle left behind). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/metrics.h"
#include "store/redis.h"
#include "store/redis_internal.h"
#include "store/streams.h"
#include "core/sample.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_port;
static pid_t g_pid;
static char g_dir[64];

/* ---- the real server ---- */

static bool port_answers_ping(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool ok = false;
    char buf[16] = "";
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && write(fd, "PING\r\n", 6) == 6 &&
        read(fd, buf, sizeof buf - 1) > 0)
        ok = strncmp(buf, "+PONG", 5) == 0;
    close(fd);
    return ok;
}

static void server_start(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", g_port);
    g_pid = fork();
    assert_true(g_pid >= 0);
    if (g_pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, 1);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--enable-debug-command", "yes", "--dir", g_dir, "--logfile",
               "", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        if (port_answers_ping(g_port)) return;
        int status;
        assert_int_equal(waitpid(g_pid, &status, WNOHANG), 0); /* still running */
        usleep(20000);
    }
    fail_msg("redis-server did not start on port %d", g_port);
}

static void server_kill(int sig)
{
    if (g_pid <= 0) return;
    kill(g_pid, SIGCONT);
    kill(g_pid, sig);
    waitpid(g_pid, NULL, 0);
    g_pid = 0;
}

static int group_setup(void **state)
{
    g_port = 20000 + getpid() % 10000;
    snprintf(g_dir, sizeof g_dir, "/tmp/tn-test-redis-XXXXXX");
    if (mkdtemp(g_dir) == NULL) return -1;
    server_start();
    return 0;
}

static int group_teardown(void **state)
{
    server_kill(SIGTERM);
    rmdir(g_dir);
    tn_metrics_shutdown();
    return 0;
}

/* ---- loop helpers ---- */

static void on_tick(uv_timer_t *t) {}

/* Runs the loop until *counter >= target or ms pass. True if reached. */
static bool wait_count(uv_loop_t *loop, const int *counter, int target, uint64_t ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + ms;
    while (*counter < target && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *counter >= target;
}

static void run_for(uv_loop_t *loop, uint64_t ms)
{
    int never = 0;
    wait_count(loop, &never, 1, ms);
}

/* ---- a connection with its recorded events ---- */

typedef struct {
    int calls;
    int err;
    tn_reply_type_t type;
    char str[256];
    size_t len;
    long long integer;
    size_t elems;
} result_t;

typedef struct {
    uv_loop_t loop;
    tn_redis_t *r;
    int ups, downs, closed;
} conn_t;

static void on_result(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    result_t *res = arg;
    res->calls++;
    res->err = err;
    if (rep == NULL) return;
    res->type = tn_reply_type(rep);
    res->integer = tn_reply_int(rep);
    res->elems = tn_reply_len(rep);
    size_t n;
    const char *s = tn_reply_str(rep, &n);
    if (s) {
        res->len = n;
        memcpy(res->str, s, n < sizeof res->str ? n : sizeof res->str);
    }
}

static void on_state(tn_redis_t *r, bool up, void *arg)
{
    conn_t *c = arg;
    if (up)
        c->ups++;
    else
        c->downs++;
}

static void on_closed(void *arg)
{
    ((conn_t *)arg)->closed++;
}

static char *url_for(int port, int db)
{
    static char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/%d", port, db);
    return url;
}

static void conn_open(conn_t *c, const char *name, const tn_redis_opts_t *extra, bool wait_up)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    tn_redis_opts_t o = {0};
    if (extra) o = *extra;
    if (!o.url) o.url = url_for(g_port, 0);
    o.name = name;
    c->r = tn_redis_create(&c->loop, &o);
    assert_non_null(c->r);
    tn_redis_on_state(c->r, on_state, c);
    assert_int_equal(tn_redis_start(c->r), 0);
    if (wait_up) {
        assert_true(wait_count(&c->loop, &c->ups, 1, 3000));
        assert_true(tn_redis_is_up(c->r));
    }
}

static void conn_close(conn_t *c)
{
    tn_redis_close(c->r, on_closed, c);
    assert_true(wait_count(&c->loop, &c->closed, 1, 1000));
    assert_int_equal(c->closed, 1);
    assert_int_equal(uv_loop_close(&c->loop), 0);
}

/* Sends a printf-form command with the default deadline and waits for its callback. */
static void call(conn_t *c, result_t *res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call(conn_t *c, result_t *res, const char *fmt, ...)
{
    /* tn_redis_cmd is variadic: build argv by splitting on spaces (test commands only). */
    char buf[512];
    const char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && argc < 32;
         t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    memset(res, 0, sizeof *res);
    assert_int_equal(tn_redis_cmd_argv(c->r, on_result, res, 0, argc, argv, NULL), 0);
    assert_true(wait_count(&c->loop, &res->calls, 1, 3000));
    assert_int_equal(res->calls, 1);
}

static tn_metric_t *metric(const char *name, const char *conn)
{
    char labels[64];
    snprintf(labels, sizeof labels, "conn=\"%s\"", conn);
    return tn_metrics_get(strstr(name, "_up") ? TN_METRIC_GAUGE : TN_METRIC_COUNTER, name, labels,
                          "");
}

/* ---- tests ---- */

static void test_url_parse(void **state)
{
    tn__redis_addr_t a;
    assert_int_equal(tn__redis_parse_url("redis://127.0.0.1:6390", &a), 0);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 6390);
    assert_int_equal(a.db, 0);
    assert_null(a.path);
    assert_string_equal(a.desc, "127.0.0.1:6390");
    tn__redis_addr_deinit(&a);

    assert_int_equal(tn__redis_parse_url("redis://localhost", &a), 0);
    assert_int_equal(a.port, 6379);
    tn__redis_addr_deinit(&a);

    assert_int_equal(tn__redis_parse_url("redis://h:1/3", &a), 0);
    assert_int_equal(a.db, 3);
    assert_string_equal(a.desc, "h:1/3");
    tn__redis_addr_deinit(&a);

    assert_int_equal(tn__redis_parse_url("redis://[::1]:7000/2", &a), 0);
    assert_string_equal(a.host, "::1");
    assert_string_equal(a.desc, "[::1]:7000/2");
    tn__redis_addr_deinit(&a);

    assert_int_equal(tn__redis_parse_url("unix:/tmp/x.sock?db=4", &a), 0);
    assert_null(a.host);
    assert_string_equal(a.path, "/tmp/x.sock");
    assert_int_equal(a.db, 4);
    assert_string_equal(a.desc, "unix:/tmp/x.sock?db=4");
    tn__redis_addr_deinit(&a);

    assert_int_equal(tn__redis_parse_url("unix:///tmp/y.sock", &a), 0);
    assert_string_equal(a.path, "/tmp/y.sock");
    tn__redis_addr_deinit(&a);

    const char *bad[] = {"http://x",
                         "redis://",
                         "redis://h:0",
                         "redis://h:70000",
                         "redis://h:12a",
                         "redis://u:p@h",
                         "redis://h/x",
                         "redis://h:1/2/3",
                         "unix:",
                         "unix:/x?foo=1",
                         "unix:/x?db=",
                         "redis://h?db=1",
                         "",
                         "redis://[::1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tn__redis_parse_url(bad[i], &a), TN_EINVAL);
    assert_int_equal(tn__redis_parse_url(NULL, &a), TN_EINVAL);

    char name[16];
    const char *get = "*2\r\n$3\r\nGET\r\n$10\r\nkey\r\n56789\r\n";
    assert_int_equal(tn__redis_cmd_arg(get, strlen(get), 0, name, sizeof name), 0);
    assert_string_equal(name, "GET");
    assert_int_equal(tn__redis_cmd_arg(get, strlen(get), 1, name, 6), 0);
    assert_string_equal(name, "key\r\n"); /* truncated to cap-1, binary safe */
    assert_int_equal(tn__redis_cmd_arg(get, strlen(get), 2, name, sizeof name), TN_ENOTFOUND);
    assert_int_equal(tn__redis_cmd_arg("*1\r\n$9\r\nGE", 11, 0, name, sizeof name), TN_EINVAL);
    assert_int_equal(tn__redis_cmd_arg("PING\r\n", 6, 0, name, sizeof name), TN_EINVAL);

    uv_loop_t loop;
    uv_loop_init(&loop);
    tn_redis_opts_t o = {.url = "mysql://x", .name = "bad"};
    assert_null(tn_redis_create(&loop, &o));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_basic(void **state)
{
    conn_t c;
    result_t res;
    conn_open(&c, "basic", NULL, true);
    assert_int_equal(tn_redis_connect_failures(c.r), 0);
    assert_true(tn_redis_last_latency_ms(c.r) >= 0); /* the handshake was answered */
    assert_true(tn_metric_value(metric("tocsin_redis_up", "basic")) == 1);

    call(&c, &res, "SET k1 hello");
    assert_int_equal(res.err, 0);
    assert_int_equal(res.type, TN_REPLY_STATUS);
    assert_string_equal(res.str, "OK");
    call(&c, &res, "GET k1");
    assert_int_equal(res.type, TN_REPLY_STRING);
    assert_int_equal(res.len, 5);
    assert_memory_equal(res.str, "hello", 5);
    call(&c, &res, "GET no-such-key");
    assert_int_equal(res.type, TN_REPLY_NIL);
    call(&c, &res, "DEL counter");
    call(&c, &res, "INCR counter");
    assert_int_equal(res.type, TN_REPLY_INTEGER);
    assert_int_equal(res.integer, 1);

    /* Binary-safe argv: NUL, CR and LF in key and value. */
    const char key[] = "bin\0key", val[] = "a\0b\r\nc";
    const char *argv[] = {"SET", key, val};
    size_t lens[] = {3, sizeof key - 1, sizeof val - 1};
    memset(&res, 0, sizeof res);
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res, 0, 3, argv, lens), 0);
    const char *argv2[] = {"GET", key};
    size_t lens2[] = {3, sizeof key - 1};
    result_t res2 = {0};
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res2, 0, 2, argv2, lens2), 0);
    assert_int_equal(tn_redis_pending(c.r), 2);
    assert_true(wait_count(&c.loop, &res2.calls, 1, 2000));
    assert_int_equal(res.calls, 1);
    assert_int_equal(tn_redis_pending(c.r), 0);
    assert_int_equal(res2.len, sizeof val - 1);
    assert_memory_equal(res2.str, val, sizeof val - 1);

    /* printf form with %b. */
    memset(&res, 0, sizeof res);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "SET %s %b", "k2", "x\0y", (size_t)3), 0);
    assert_true(wait_count(&c.loop, &res.calls, 1, 2000));
    assert_int_equal(res.type, TN_REPLY_STATUS);

    /* Error replies are replies (err 0). */
    call(&c, &res, "INCR k1");
    assert_int_equal(res.err, 0);
    assert_int_equal(res.type, TN_REPLY_ERROR);
    assert_non_null(strstr(res.str, "not an integer"));
    memset(&res, 0, sizeof res);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "NOSUCHCOMMAND x"), 0);
    assert_true(wait_count(&c.loop, &res.calls, 1, 2000));
    assert_int_equal(res.type, TN_REPLY_ERROR);

    /* Pub/sub would break reply ordering: refused up front. A NULL callback is allowed. */
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "SUBSCRIBE ch"), TN_EINVAL);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "monitor"), TN_EINVAL);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "CLIENT REPLY OFF"), TN_EINVAL);
    /* the same through the argv form (checked on argv, not on the encoded command) */
    const char *sub[] = {"SUBSCRIBE", "ch"}, *mon[] = {"monitor"},
               *rep[] = {"client", "Reply", "OFF"};
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res, 0, 2, sub, NULL), TN_EINVAL);
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res, 0, 1, mon, NULL), TN_EINVAL);
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res, 0, 3, rep, NULL), TN_EINVAL);
    memset(&res, 0, sizeof res);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "CLIENT %s", "ID"), 0);
    assert_true(wait_count(&c.loop, &res.calls, 1, 2000));
    assert_int_equal(res.type, TN_REPLY_INTEGER);
    assert_int_equal(tn_redis_cmd(c.r, NULL, NULL, "PING"), 0);
    run_for(&c.loop, 50);
    assert_int_equal(tn_redis_pending(c.r), 0);

    conn_close(&c);
}

typedef struct {
    int calls;
    size_t n;
    char id0[64], field[16], value[16];
} xrange_t;

static void on_xrange(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    xrange_t *x = arg;
    x->calls++;
    assert_int_equal(err, 0);
    assert_int_equal(tn_reply_type(rep), TN_REPLY_ARRAY);
    x->n = tn_reply_len(rep);
    const tn_redis_reply_t *e0 = tn_reply_elem(rep, 0);
    assert_int_equal(tn_reply_len(e0), 2);
    snprintf(x->id0, sizeof x->id0, "%s", tn_reply_str(tn_reply_elem(e0, 0), NULL));
    const tn_redis_reply_t *fields = tn_reply_elem(e0, 1);
    assert_int_equal(tn_reply_len(fields), 2);
    snprintf(x->field, sizeof x->field, "%s", tn_reply_str(tn_reply_elem(fields, 0), NULL));
    snprintf(x->value, sizeof x->value, "%s", tn_reply_str(tn_reply_elem(fields, 1), NULL));
    assert_null(tn_reply_elem(rep, x->n));                       /* out of range */
    assert_null(tn_reply_elem(fields, 99));                      /* out of range */
    assert_null(tn_reply_str(rep, NULL));                        /* not a string */
    assert_int_equal(tn_reply_len(tn_reply_elem(fields, 0)), 0); /* not an array */
}

static void test_arrays(void **state)
{
    conn_t c;
    result_t res;
    conn_open(&c, "arrays", NULL, true);
    call(&c, &res, "DEL s1");
    call(&c, &res, "XADD s1 1-1 f1 v1");
    assert_string_equal(res.str, "1-1");
    call(&c, &res, "XADD s1 2-1 f2 v2");
    xrange_t x = {0};
    assert_int_equal(tn_redis_cmd(c.r, on_xrange, &x, "XRANGE s1 - +"), 0);
    assert_true(wait_count(&c.loop, &x.calls, 1, 2000));
    assert_int_equal(x.n, 2);
    assert_string_equal(x.id0, "1-1");
    assert_string_equal(x.field, "f1");
    assert_string_equal(x.value, "v1");
    conn_close(&c);
}

/* The reply objects of the async connections (redis_reply.c) keep strings under 48 bytes
 * inside the object and reuse objects: strings on both sides of that size, nil elements inside
 * arrays, empty and nil arrays, and objects reused across types, all read back intact. */
typedef struct {
    int calls;
    size_t n;
    char types[8];
    size_t lens[8];
    char first[1100];
} shape_t;

static void on_shape(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    (void)r;
    shape_t *x = arg;
    x->calls++;
    assert_int_equal(err, 0);
    x->n = tn_reply_len(rep);
    for (size_t i = 0; i < x->n && i < 8; i++) {
        const tn_redis_reply_t *e = tn_reply_elem(rep, i);
        x->types[i] = "?sainse"[tn_reply_type(e)];
        tn_reply_str(e, &x->lens[i]);
    }
    const char *s = tn_reply_str(x->n ? tn_reply_elem(rep, 0) : rep, NULL);
    snprintf(x->first, sizeof x->first, "%s", s ? s : "(none)");
}

static void test_reply_objects(void **state)
{
    (void)state;
    /* the "?sainse" table in on_shape */
    assert_int_equal(TN_REPLY_STRING, 1);
    assert_int_equal(TN_REPLY_NIL, 4);
    assert_int_equal(TN_REPLY_ERROR, 6);
    conn_t c;
    result_t res;
    conn_open(&c, "replies", NULL, true);
    static const size_t sizes[] = {0, 1, 46, 47, 48, 49, 255, 1000};
    char val[1001], key[16];
    for (int round = 0; round < 3; round++) { /* later rounds run on reused objects */
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            for (size_t i = 0; i < n; i++)
                val[i] = (char)('a' + (i + k + (size_t)round) % 26);
            val[n] = '\0';
            snprintf(key, sizeof key, "sz%zu", k);
            const char *set[] = {"SET", key, val};
            memset(&res, 0, sizeof res);
            assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res, 0, 3, set, NULL), 0);
            assert_true(wait_count(&c.loop, &res.calls, 1, 2000));
            assert_string_equal(res.str, "OK");
            shape_t x = {0};
            const char *get[] = {"GET", key};
            assert_int_equal(tn_redis_cmd_argv(c.r, on_shape, &x, 0, 2, get, NULL), 0);
            assert_true(wait_count(&c.loop, &x.calls, 1, 2000));
            assert_string_equal(x.first, val);
        }
        /* nil elements inside an array, strings of both kinds beside them */
        shape_t x = {0};
        assert_int_equal(tn_redis_cmd(c.r, on_shape, &x, "MGET sz7 no-such sz2 no-such2"), 0);
        assert_true(wait_count(&c.loop, &x.calls, 1, 2000));
        assert_int_equal(x.n, 4);
        assert_memory_equal(x.types, "snsn", 4);
        assert_int_equal(x.lens[0], 1000);
        assert_int_equal(x.lens[2], 46);
        /* an empty array, and a nil one (XREAD with nothing to read) */
        memset(&x, 0, sizeof x);
        assert_int_equal(tn_redis_cmd(c.r, on_shape, &x, "XRANGE no-such-stream - +"), 0);
        assert_true(wait_count(&c.loop, &x.calls, 1, 2000));
        assert_int_equal(x.n, 0);
        memset(&res, 0, sizeof res);
        assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "XREAD STREAMS no-such-stream 0"), 0);
        assert_true(wait_count(&c.loop, &res.calls, 1, 2000));
        assert_int_equal(res.type, TN_REPLY_NIL);
        /* a status and an error longer than the inline room */
        memset(&res, 0, sizeof res);
        assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "NO-SUCH-COMMAND-%0100d", 7), 0);
        assert_true(wait_count(&c.loop, &res.calls, 1, 2000));
        assert_int_equal(res.type, TN_REPLY_ERROR);
        assert_non_null(strstr(res.str, "NO-SUCH-COMMAND-0000"));
    }
    conn_close(&c);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_down_is_closed(void **state)
{
    conn_t c;
    result_t res = {0};
    tn_redis_opts_t o = {
        .url = url_for(free_port(), 0), .backoff_min_ms = 20, .backoff_max_ms = 40};
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    c.r = tn_redis_create(&c.loop, &o);
    assert_non_null(c.r);
    /* Before start, while connecting, and after failures: refused at once, no callback. */
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "PING"), TN_ECLOSED);
    assert_int_equal(tn_redis_start(c.r), 0);
    assert_int_equal(tn_redis_start(c.r), TN_EINVAL);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "PING"), TN_ECLOSED);
    run_for(&c.loop, 300);
    assert_false(tn_redis_is_up(c.r));
    assert_true(tn_redis_connect_failures(c.r) >= 3);
    const char *argv[] = {"PING"};
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res, 0, 1, argv, NULL), TN_ECLOSED);
    assert_int_equal(res.calls, 0);
    assert_true(tn_metric_value(metric("tocsin_redis_up", "default")) == 0);
    tn_redis_close(c.r, on_closed, &c);
    assert_true(wait_count(&c.loop, &c.closed, 1, 1000));
    assert_int_equal(uv_loop_close(&c.loop), 0);
}

static void test_command_timeout(void **state)
{
    conn_t c;
    conn_open(&c, "timeout", NULL, true);
    double before = tn_metric_value(metric("tocsin_redis_command_timeouts_total", "timeout"));

    const char *sleep_argv[] = {"DEBUG", "SLEEP", "1"};
    result_t slow = {0}, other = {0}, third = {0};
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &slow, 200, 3, sleep_argv, NULL), 0);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &other, "PING"), 0);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &third, "GET k1"), 0);
    uv_update_time(&c.loop);
    uint64_t t0 = uv_now(&c.loop);
    assert_true(wait_count(&c.loop, &third.calls, 1, 2000));
    uint64_t elapsed = uv_now(&c.loop) - t0;
    assert_true(elapsed >= 190 && elapsed < 600);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.err, TN_ETIMEDOUT);
    assert_int_equal(other.calls, 1);
    assert_int_equal(other.err, TN_ECLOSED);
    assert_int_equal(third.err, TN_ECLOSED);
    assert_int_equal(c.downs, 1);
    assert_false(tn_redis_is_up(c.r));
    assert_int_equal(tn_redis_pending(c.r), 0);
    assert_true(tn_metric_value(metric("tocsin_redis_command_timeouts_total", "timeout")) ==
                before + 1);

    /* It comes back by itself (once the server has finished sleeping). */
    assert_true(wait_count(&c.loop, &c.ups, 2, 4000));
    result_t res;
    call(&c, &res, "SET k3 again");
    assert_string_equal(res.str, "OK");
    run_for(&c.loop, 50);
    assert_int_equal(slow.calls + other.calls + third.calls, 3); /* exactly once each */

    /* The late command need not be the head: a long default deadline first, then a short one
     * behind it. The timer is re-armed for the earlier deadline. */
    memset(&slow, 0, sizeof slow);
    memset(&other, 0, sizeof other);
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &slow, 0, 3, sleep_argv, NULL), 0);
    const char *ping[] = {"PING"};
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &other, 150, 1, ping, NULL), 0);
    assert_true(wait_count(&c.loop, &other.calls, 1, 1000));
    assert_int_equal(other.err, TN_ETIMEDOUT);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.err, TN_ECLOSED);
    assert_true(wait_count(&c.loop, &c.ups, 3, 4000));
    conn_close(&c);
}

typedef struct {
    int calls;
    long long last;
    bool in_order;
} seq_t;

static void on_seq(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    seq_t *q = arg;
    q->calls++;
    if (err != 0 || tn_reply_int(rep) != q->last + 1) q->in_order = false;
    q->last = tn_reply_int(rep);
}

static void test_pipeline(void **state)
{
    conn_t c;
    result_t res;
    conn_open(&c, "pipeline", NULL, true);
    call(&c, &res, "DEL seq");
    seq_t q = {.in_order = true};
    for (int i = 0; i < 2000; i++) {
        const char *argv[] = {"INCR", "seq"};
        /* mixed deadlines exercise the timer re-arming */
        assert_int_equal(
            tn_redis_cmd_argv(c.r, on_seq, &q, (uint64_t)(1000 + (i % 7) * 500), 2, argv, NULL), 0);
    }
    assert_int_equal(tn_redis_pending(c.r), 2000);
    assert_true(wait_count(&c.loop, &q.calls, 2000, 5000));
    assert_true(q.in_order);
    assert_int_equal(q.last, 2000);
    assert_int_equal(tn_redis_pending(c.r), 0);
    conn_close(&c);
}

/* Reads from fd until needle was seen (or EOF). */
static void read_until(int fd, const char *needle)
{
    char buf[512];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0) return;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, needle)) return;
    }
}

static void test_reset_by_peer(void **state)
{
    /* A fake peer: answers the handshake, then resets the connection (RST) while our GET is
     * pending. libuv reports this as a poll error (UV_EBADF); the connection must fail at once
     * instead of hanging until the command deadline. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t slen = sizeof sa;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
    pid_t peer = fork();
    assert_true(peer >= 0);
    if (peer == 0) {
        int fd = accept(lfd, NULL, NULL);
        read_until(fd, "PING");
        if (write(fd, "+PONG\r\n", 7) != 7) _exit(1);
        read_until(fd, "GET");
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
        _exit(0);
    }
    close(lfd);

    conn_t c;
    tn_redis_opts_t o = {
        .url = url_for(ntohs(sa.sin_port), 0), .command_timeout_ms = 5000, .backoff_min_ms = 1000};
    conn_open(&c, "reset", &o, true);
    result_t res = {0};
    assert_int_equal(tn_redis_cmd(c.r, on_result, &res, "GET x"), 0);
    assert_true(wait_count(&c.loop, &res.calls, 1, 1000)); /* well before the 5 s deadline */
    assert_int_equal(res.err, TN_ECLOSED);
    assert_int_equal(c.downs, 1);
    conn_close(&c);
    waitpid(peer, NULL, 0);
}

static void test_killed_while_blocked(void **state)
{
    conn_t c, reader;
    result_t res, id;
    conn_open(&c, "killer", NULL, true);
    tn_redis_opts_t o = {.backoff_min_ms = 50};
    conn_open(&reader, "victim", &o, true);
    call(&reader, &id, "CLIENT ID");
    call(&c, &res, "DEL ks");
    call(&c, &res, "XGROUP CREATE ks g $ MKSTREAM");

    result_t blocked = {0};
    const char *argv[] = {"XREADGROUP", "GROUP", "g", "c1", "BLOCK", "5000", "STREAMS", "ks", ">"};
    assert_int_equal(tn_redis_cmd_argv(reader.r, on_result, &blocked, 10000, 9, argv, NULL), 0);
    run_for(&reader.loop, 100);
    call(&c, &res, "CLIENT KILL ID %lld", id.integer);
    assert_int_equal(res.integer, 1);

    /* The server closes the socket: the blocked read fails as closed, then we reconnect. */
    assert_true(wait_count(&reader.loop, &blocked.calls, 1, 2000));
    assert_int_equal(blocked.err, TN_ECLOSED);
    assert_int_equal(reader.downs, 1);
    assert_true(wait_count(&reader.loop, &reader.ups, 2, 2000));
    conn_close(&reader);
    conn_close(&c);
}

static void test_dead_peer(void **state)
{
    conn_t c;
    tn_redis_opts_t o = {.connect_timeout_ms = 300, .backoff_min_ms = 50, .backoff_max_ms = 200};
    conn_open(&c, "dead", &o, true);

    kill(g_pid, SIGSTOP);
    result_t res = {0};
    const char *argv[] = {"PING"};
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res, 300, 1, argv, NULL), 0);
    assert_true(wait_count(&c.loop, &res.calls, 1, 2000));
    assert_int_equal(res.err, TN_ETIMEDOUT);
    assert_int_equal(c.downs, 1);

    /* The kernel still accepts connections for the stopped server: only the handshake tells. */
    run_for(&c.loop, 800);
    assert_false(tn_redis_is_up(c.r));
    assert_true(tn_redis_connect_failures(c.r) >= 1);

    kill(g_pid, SIGCONT);
    assert_true(wait_count(&c.loop, &c.ups, 2, 3000));
    call(&c, &res, "PING");
    assert_int_equal(res.err, 0);
    assert_string_equal(res.str, "PONG");
    conn_close(&c);
}

static void test_server_restart(void **state)
{
    conn_t c;
    tn_redis_opts_t o = {.backoff_min_ms = 100, .backoff_max_ms = 800};
    conn_open(&c, "restart", &o, true);
    double reconnects = tn_metric_value(metric("tocsin_redis_reconnects_total", "restart"));

    server_kill(SIGKILL);
    assert_true(wait_count(&c.loop, &c.downs, 1, 2000));
    assert_false(tn_redis_is_up(c.r));
    assert_true(tn_metric_value(metric("tocsin_redis_up", "restart")) == 0);

    /* Backoff: attempts at about +100, +300, +700 ms (not every 100 ms). */
    run_for(&c.loop, 1000);
    unsigned failures = tn_redis_connect_failures(c.r);
    assert_true(failures >= 2 && failures <= 4);

    server_start();
    assert_true(wait_count(&c.loop, &c.ups, 2, 3000));
    assert_int_equal(c.downs, 1);
    assert_int_equal(tn_redis_connect_failures(c.r), 0);
    assert_true(tn_metric_value(metric("tocsin_redis_reconnects_total", "restart")) >
                reconnects + 2);
    assert_true(tn_metric_value(metric("tocsin_redis_up", "restart")) == 1);
    result_t res;
    call(&c, &res, "PING");
    assert_string_equal(res.str, "PONG");
    conn_close(&c);
}

static void test_blocking_read(void **state)
{
    conn_t c, reader;
    result_t res;
    conn_open(&c, "main", NULL, true);
    tn_redis_opts_t o = {.command_timeout_ms = 2000};
    conn_open(&reader, "reader", &o, true);
    call(&c, &res, "DEL bs");
    call(&c, &res, "XGROUP CREATE bs g $ MKSTREAM");
    assert_string_equal(res.str, "OK");

    /* BLOCK 500 under a 2000 ms deadline: a nil reply, not a timeout. */
    result_t r1 = {0};
    const char *argv[] = {"XREADGROUP", "GROUP", "g",       "c1", "COUNT", "1",
                          "BLOCK",      "500",   "STREAMS", "bs", ">"};
    uv_update_time(&reader.loop);
    uint64_t t0 = uv_now(&reader.loop);
    assert_int_equal(tn_redis_cmd_argv(reader.r, on_result, &r1, 2000, 11, argv, NULL), 0);
    assert_true(wait_count(&reader.loop, &r1.calls, 1, 3000));
    uint64_t elapsed = uv_now(&reader.loop) - t0;
    assert_int_equal(r1.err, 0);
    assert_int_equal(r1.type, TN_REPLY_NIL);
    assert_true(elapsed >= 450 && elapsed < 1500);
    assert_true(tn_redis_is_up(reader.r));

    /* The same read gets an entry written meanwhile on the other connection. */
    result_t r2 = {0};
    argv[7] = "1000";
    assert_int_equal(tn_redis_cmd_argv(reader.r, on_result, &r2, 2000, 11, argv, NULL), 0);
    run_for(&reader.loop, 100);
    call(&c, &res, "XADD bs * f v");
    assert_true(wait_count(&reader.loop, &r2.calls, 1, 2000));
    assert_int_equal(r2.err, 0);
    assert_int_equal(r2.type, TN_REPLY_ARRAY);
    assert_int_equal(r2.elems, 1);

    conn_close(&reader);
    conn_close(&c);
}

static void test_select_db(void **state)
{
    conn_t c2, c0;
    result_t res;
    tn_redis_opts_t o = {.url = url_for(g_port, 2)};
    conn_open(&c2, "db2", &o, true);
    assert_non_null(strstr(tn_redis_address(c2.r), "/2"));
    call(&c2, &res, "SET only-in-db2 yes");
    conn_open(&c0, "db0", NULL, true);
    call(&c0, &res, "EXISTS only-in-db2");
    assert_int_equal(res.integer, 0);
    call(&c2, &res, "EXISTS only-in-db2");
    assert_int_equal(res.integer, 1);
    conn_close(&c0);
    conn_close(&c2);

    /* A db the server does not have: the handshake fails, the connection never reports up. */
    tn_redis_opts_t bad = {.url = url_for(g_port, 100000), .backoff_min_ms = 50};
    conn_open(&c2, "baddb", &bad, false);
    run_for(&c2.loop, 200);
    assert_int_equal(c2.ups, 0);
    assert_true(tn_redis_connect_failures(c2.r) >= 1);
    conn_close(&c2);
}

static void test_close_with_pending(void **state)
{
    conn_t c;
    conn_open(&c, "close", NULL, true);
    result_t res[5];
    memset(res, 0, sizeof res);
    const char *sleep_argv[] = {"DEBUG", "SLEEP", "0.2"};
    assert_int_equal(tn_redis_cmd_argv(c.r, on_result, &res[0], 0, 3, sleep_argv, NULL), 0);
    for (int i = 1; i < 5; i++)
        assert_int_equal(tn_redis_cmd(c.r, on_result, &res[i], "PING"), 0);
    run_for(&c.loop, 20); /* sent, not answered */
    assert_int_equal(tn_redis_pending(c.r), 5);
    tn_redis_close(c.r, on_closed, &c);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].err, TN_ECLOSED);
    }
    assert_int_equal(c.downs, 0); /* no state callback for our own close */
    assert_true(wait_count(&c.loop, &c.closed, 1, 1000));
    run_for(&c.loop, 300);
    for (int i = 0; i < 5; i++)
        assert_int_equal(res[i].calls, 1);
    assert_int_equal(uv_loop_close(&c.loop), 0);
    usleep(250000); /* let the server finish sleeping before the next test */
}

typedef struct {
    conn_t *c;
    int calls;
    int sent_after_close;
} closer_t;

static void on_reply_close(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    closer_t *cl = arg;
    cl->calls++;
    assert_int_equal(err, 0);
    tn_redis_close(r, on_closed, cl->c);
    tn_redis_close(r, on_closed, cl->c); /* a second close is ignored */
    cl->sent_after_close = tn_redis_cmd(r, NULL, NULL, "PING");
}

static void test_close_inside_callback(void **state)
{
    conn_t c;
    conn_open(&c, "closecb", NULL, true);
    closer_t cl = {.c = &c};
    result_t b = {0}, d = {0};
    /* Pipelined: the three replies usually arrive in one read. */
    assert_int_equal(tn_redis_cmd(c.r, on_reply_close, &cl, "PING"), 0);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &b, "PING"), 0);
    assert_int_equal(tn_redis_cmd(c.r, on_result, &d, "PING"), 0);
    assert_true(wait_count(&c.loop, &c.closed, 1, 2000));
    assert_int_equal(cl.calls, 1);
    assert_int_equal(cl.sent_after_close, TN_ECLOSED);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.err, TN_ECLOSED);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, TN_ECLOSED);
    run_for(&c.loop, 50);
    assert_int_equal(c.closed, 1);
    assert_int_equal(uv_loop_close(&c.loop), 0);
}

static void on_state_close(tn_redis_t *r, bool up, void *arg)
{
    conn_t *c = arg;
    c->ups++;
    tn_redis_close(r, on_closed, c);
}

static void test_close_from_state_callback(void **state)
{
    conn_t c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    tn_redis_opts_t o = {.url = url_for(g_port, 0)};
    c.r = tn_redis_create(&c.loop, &o);
    tn_redis_on_state(c.r, on_state_close, &c);
    assert_int_equal(tn_redis_start(c.r), 0);
    assert_true(wait_count(&c.loop, &c.closed, 1, 2000));
    assert_int_equal(c.ups, 1);
    assert_int_equal(uv_loop_close(&c.loop), 0);

    /* Closing a connection that was never started. */
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    c.r = tn_redis_create(&c.loop, &o);
    tn_redis_close(c.r, on_closed, &c);
    assert_true(wait_count(&c.loop, &c.closed, 1, 1000));
    assert_int_equal(uv_loop_close(&c.loop), 0);
}

/* Retention by age: partitions are trimmed by tn_streams_trim (not on every XADD), only those
 * written since the last call, and only entries older than the kind's age. */
static void on_group_done(int err, void *arg)
{
    int *done = arg;
    *done = err ? -1 : 1;
}

static void test_streams_trim(void **state)
{
    conn_t c;
    result_t res;
    conn_open(&c, "trim", NULL, true);
    call(&c, &res, "DEL trimtest:samples:{0} trimtest:samples:{1} trimtest:logs:{0}");
    tn_streams_opts_t so = {.prefix = "trimtest",
                            .partitions = 2,
                            .batch_max = 1,
                            .maxlen = 1000,
                            .hot_ms = 60000,
                            .warm_ms = 600000,
                            .cold_ms = 6000000};
    tn_streams_t *s = tn_streams_create(c.r, &so);
    assert_non_null(s);
    assert_int_equal(tn_streams_trim(s, tn_now_ms()), 0); /* nothing written yet */
    int done = 0;
    tn_wgroup_t *g = tn_streams_group(s, on_group_done, &done);
    assert_non_null(g);
    const char *f[2] = {"f", "v"};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(tn_wgroup_pxadd(g, TN_PSTREAM_SAMPLES, 0, f, NULL, 1), 0);
    tn_wgroup_close(g);
    assert_true(wait_count(&c.loop, &done, 1, 3000));
    assert_int_equal(done, 1);
    call(&c, &res, "XLEN trimtest:samples:{0}");
    assert_int_equal(res.integer, 1000);
    /* the entries are younger than hot_ms: kept; only the written partition gets an XTRIM */
    assert_int_equal(tn_streams_trim(s, tn_now_ms()), 1);
    call(&c, &res, "XLEN trimtest:samples:{0}");
    assert_int_equal(res.integer, 1000);
    assert_int_equal(tn_streams_trim(s, tn_now_ms()), 0); /* not written since */
    /* two minutes later, they are older than hot_ms: whole nodes go (MINID ~) */
    done = 0;
    g = tn_streams_group(s, on_group_done, &done);
    assert_int_equal(tn_wgroup_pxadd(g, TN_PSTREAM_SAMPLES, 0, f, NULL, 1), 0);
    assert_int_equal(tn_wgroup_pxadd(g, TN_PSTREAM_LOGS, 0, f, NULL, 1), 0);
    tn_wgroup_close(g);
    assert_true(wait_count(&c.loop, &done, 1, 3000));
    assert_int_equal(tn_streams_trim(s, tn_now_ms() + 120000), 2);
    call(&c, &res, "XLEN trimtest:samples:{0}");
    assert_true(res.integer < 200);
    call(&c, &res, "XLEN trimtest:logs:{0}");
    assert_true(res.integer <= 1);
    call(&c, &res, "XLEN trimtest:samples:{1}");
    assert_int_equal(res.integer, 0);
    tn_streams_destroy(s);
    conn_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_reply_objects),
        cmocka_unit_test(test_down_is_closed),
        cmocka_unit_test(test_select_db),
        cmocka_unit_test(test_blocking_read),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_streams_trim),
        cmocka_unit_test(test_killed_while_blocked),
        cmocka_unit_test(test_reset_by_peer),
        cmocka_unit_test(test_close_with_pending),
        cmocka_unit_test(test_close_inside_callback),
        cmocka_unit_test(test_close_from_state_callback),
        cmocka_unit_test(test_command_timeout),
        cmocka_unit_test(test_dead_peer),
        cmocka_unit_test(test_server_restart),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
