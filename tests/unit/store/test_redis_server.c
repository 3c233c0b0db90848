/* test_redis_server.c - the embedded redis-server: start, ready, use over its unix socket, stop,
 * restart in the same directory (clean and after a crash that leaves a stale socket), and the
 * failure paths (missing binary, never ready, exits during startup, socket already served). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/metrics.h"
#include "store/redis.h"
#include "store/redis_server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_tmp[64];

static int group_setup(void **state)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tn-test-rsrv-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) return -1;
    tn_metrics_shutdown();
    return 0;
}

static void on_tick(uv_timer_t *t) {}

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

typedef struct {
    int ready_calls, ready_status;
    int exits, exit_signal;
    int stopped;
} events_t;

static void on_ready(tn_redis_server_t *s, int status, void *arg)
{
    events_t *e = arg;
    e->ready_calls++;
    e->ready_status = status;
}

static void on_exit_cb(tn_redis_server_t *s, int64_t status, int sig, void *arg)
{
    events_t *e = arg;
    e->exits++;
    e->exit_signal = sig;
}

static void on_stopped(void *arg)
{
    ((events_t *)arg)->stopped++;
}

static void stop_and_wait(uv_loop_t *loop, tn_redis_server_t *s, events_t *e)
{
    tn_redis_server_stop(s, on_stopped, e);
    assert_true(wait_count(loop, &e->stopped, 1, 7000));
    assert_int_equal(e->stopped, 1);
}

/* ---- a client over the unix socket ---- */

typedef struct {
    int ups, calls, closed;
    char str[64];
    int err;
} client_t;

static void on_up(tn_redis_t *r, bool up, void *arg)
{
    if (up) ((client_t *)arg)->ups++;
}

static void on_reply(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    client_t *c = arg;
    c->calls++;
    c->err = err;
    c->str[0] = '\0';
    const char *s = tn_reply_str(rep, NULL);
    if (s) snprintf(c->str, sizeof c->str, "%s", s);
}

static void on_client_closed(void *arg)
{
    ((client_t *)arg)->closed++;
}

/* Runs cmd (printf form without arguments) and returns the reply text in c->str. */
static void client_cmd(uv_loop_t *loop, tn_redis_t *r, client_t *c, const char *cmd)
{
    int before = c->calls;
    assert_int_equal(tn_redis_cmd(r, on_reply, c, cmd), 0);
    assert_true(wait_count(loop, &c->calls, before + 1, 2000));
    assert_int_equal(c->err, 0);
}

static tn_redis_t *client_open(uv_loop_t *loop, const char *url, client_t *c)
{
    memset(c, 0, sizeof *c);
    char full[256];
    snprintf(full, sizeof full, "%s?db=1", url);
    tn_redis_opts_t o = {.url = full, .name = "embedded"};
    tn_redis_t *r = tn_redis_create(loop, &o);
    assert_non_null(r);
    tn_redis_on_state(r, on_up, c);
    assert_int_equal(tn_redis_start(r), 0);
    assert_true(wait_count(loop, &c->ups, 1, 2000));
    return r;
}

static void client_close(uv_loop_t *loop, tn_redis_t *r, client_t *c)
{
    tn_redis_close(r, on_client_closed, c);
    assert_true(wait_count(loop, &c->closed, 1, 1000));
}

/* ---- tests ---- */

static void test_missing_binary(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/missing", g_tmp);
    tn_redis_server_t *s = (tn_redis_server_t *)1;
    events_t e = {0};
    assert_int_equal(
        tn_redis_server_start(&loop, dir, "/nonexistent/redis-server", 1000, on_ready, &e, &s),
        TN_ENOTFOUND);
    assert_null(s);
    assert_int_equal(
        tn_redis_server_start(&loop, dir, "tn-no-such-redis-server", 1000, on_ready, &e, &s),
        TN_ENOTFOUND);
    assert_int_equal(tn_redis_server_start(&loop, "", NULL, 1000, on_ready, &e, &s), TN_EINVAL);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(e.ready_calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_start_use_stop_restart(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char dir[128], sock[160], redis_dir[160];
    snprintf(dir, sizeof dir, "%s/data/nested", g_tmp); /* created, parents too */
    snprintf(sock, sizeof sock, "%s/redis.sock", dir);
    snprintf(redis_dir, sizeof redis_dir, "%s/redis", dir);

    /* 1: start, use, stop. */
    events_t e = {0};
    tn_redis_server_t *s = NULL;
    assert_int_equal(tn_redis_server_start(&loop, dir, NULL, 5000, on_ready, &e, &s), 0);
    assert_non_null(s);
    char url[200];
    snprintf(url, sizeof url, "unix:%s", sock);
    assert_string_equal(tn_redis_server_url(s), url);
    assert_true(wait_count(&loop, &e.ready_calls, 1, 5000));
    assert_int_equal(e.ready_status, 0);
    assert_true(tn_redis_server_pid(s) > 0);

    struct stat st;
    assert_int_equal(stat(redis_dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    client_t c;
    tn_redis_t *r = client_open(&loop, url, &c);
    client_cmd(&loop, r, &c, "SET persisted yes");
    assert_string_equal(c.str, "OK");
    client_cmd(&loop, r, &c, "GET persisted");
    assert_string_equal(c.str, "yes");
    client_close(&loop, r, &c);
    stop_and_wait(&loop, s, &e);
    assert_int_equal(e.exits, 0); /* on_exit is for crashes only */

    /* 2: start again in the same directory; the data came back from the AOF. Then crash it:
     * SIGKILL leaves the socket file behind. */
    memset(&e, 0, sizeof e);
    assert_int_equal(tn_redis_server_start(&loop, dir, NULL, 5000, on_ready, &e, &s), 0);
    tn_redis_server_on_exit(s, on_exit_cb, &e);
    assert_true(wait_count(&loop, &e.ready_calls, 1, 5000));
    assert_int_equal(e.ready_status, 0);
    r = client_open(&loop, url, &c);
    client_cmd(&loop, r, &c, "GET persisted");
    assert_string_equal(c.str, "yes");
    client_close(&loop, r, &c);
    kill(tn_redis_server_pid(s), SIGKILL);
    assert_true(wait_count(&loop, &e.exits, 1, 3000));
    assert_int_equal(e.exit_signal, SIGKILL);
    assert_int_equal(tn_redis_server_pid(s), 0);
    assert_int_equal(lstat(sock, &st), 0); /* stale */
    assert_true(S_ISSOCK(st.st_mode));
    stop_and_wait(&loop, s, &e); /* already exited: completes at once */

    /* 3: start over the stale socket. */
    memset(&e, 0, sizeof e);
    assert_int_equal(tn_redis_server_start(&loop, dir, NULL, 5000, on_ready, &e, &s), 0);
    assert_true(wait_count(&loop, &e.ready_calls, 1, 5000));
    assert_int_equal(e.ready_status, 0);

    /* A second server on the same directory is refused while the first one serves it. */
    events_t e2 = {0};
    tn_redis_server_t *s2 = NULL;
    assert_int_equal(tn_redis_server_start(&loop, dir, NULL, 5000, on_ready, &e2, &s2), TN_EBUSY);
    assert_null(s2);

    r = client_open(&loop, url, &c);
    client_cmd(&loop, r, &c, "GET persisted");
    assert_string_equal(c.str, "yes");
    client_close(&loop, r, &c);
    stop_and_wait(&loop, s, &e);
    assert_int_equal(lstat(sock, &st), -1); /* a clean stop removes the socket */

    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void write_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static void test_never_ready(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char dir[128], bin[160];
    snprintf(dir, sizeof dir, "%s/never", g_tmp);
    snprintf(bin, sizeof bin, "%s/fake-never", g_tmp);
    write_script(bin, "exec sleep 30");

    events_t e = {0};
    tn_redis_server_t *s = NULL;
    assert_int_equal(tn_redis_server_start(&loop, dir, bin, 300, on_ready, &e, &s), 0);
    assert_true(wait_count(&loop, &e.ready_calls, 1, 3000));
    assert_int_equal(e.ready_status, TN_ETIMEDOUT);
    assert_int_equal(tn_redis_server_pid(s), 0); /* already stopped */
    stop_and_wait(&loop, s, &e);
    assert_int_equal(e.ready_calls, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_exits_during_startup(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char dir[128], bin[160];
    snprintf(dir, sizeof dir, "%s/exits", g_tmp);
    snprintf(bin, sizeof bin, "%s/fake-exit", g_tmp);
    write_script(bin, "exit 3");

    events_t e = {0};
    tn_redis_server_t *s = NULL;
    assert_int_equal(tn_redis_server_start(&loop, dir, bin, 3000, on_ready, &e, &s), 0);
    assert_true(wait_count(&loop, &e.ready_calls, 1, 3000));
    assert_int_equal(e.ready_status, TN_EIO);
    stop_and_wait(&loop, s, &e);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_stop_while_starting(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/early", g_tmp);
    events_t e = {0};
    tn_redis_server_t *s = NULL;
    assert_int_equal(tn_redis_server_start(&loop, dir, NULL, 5000, on_ready, &e, &s), 0);
    stop_and_wait(&loop, s, &e); /* ready is never called after a stop */
    assert_int_equal(e.ready_calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_binary),      cmocka_unit_test(test_start_use_stop_restart),
        cmocka_unit_test(test_never_ready),         cmocka_unit_test(test_exits_during_startup),
        cmocka_unit_test(test_stop_while_starting),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
