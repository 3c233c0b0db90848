/* test_config.c - the settings schema (core/config.c) and the Lua config loader
 * (script/conf.c): defaults, text setters, validation, Lua files (nested and dotted keys,
 * os.getenv, every error path with its exact message) and the dump -> load round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/error.h"
#include "script/conf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------------------- */

/* Writes text to a new file /tmp/tn_test_conf_XXXXXX; path receives its name. */
static void write_temp(const char *text, char path[64])
{
    snprintf(path, 64, "/tmp/tn_test_conf_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Loads text as a config file into cfg; err receives the message. Returns the code. */
static int load_text(tn_config_t *cfg, const char *text, char path[64], tn_buf_t *err)
{
    write_temp(text, path);
    int rc = tn_config_load_lua(cfg, path, err);
    unlink(path);
    return rc;
}

static int setup_cfg(void **state)
{
    tn_config_t *cfg = malloc(sizeof *cfg);
    if (!cfg || tn_config_init(cfg)) return -1;
    *state = cfg;
    return 0;
}

static int teardown_cfg(void **state)
{
    tn_config_deinit(*state);
    free(*state);
    return 0;
}

/* Formats "<path>: <rest>" for exact message comparisons. */
static const char *at(const char *path, const char *rest)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s: %s", path, rest);
    return buf;
}

/* ---- defaults --------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    tn_config_t *cfg = *state;
    assert_string_equal(cfg->data_dir, "var/tocsin");
    assert_string_equal(cfg->log_level, "info");
    assert_string_equal(cfg->engine_name, "tocsin-1");
    assert_string_equal(cfg->http.listen, "127.0.0.1");
    assert_int_equal(cfg->http.port, 8080);
    assert_int_equal(cfg->http.max_body_bytes, 8388608);
    assert_int_equal(cfg->http.max_header_bytes, 16384);
    assert_int_equal(cfg->http.read_timeout_ms, 10000);
    assert_int_equal(cfg->http.keepalive_timeout_ms, 30000);
    assert_int_equal(cfg->http.max_connections, 1024);
    assert_string_equal(cfg->redis.url, "");
    assert_string_equal(cfg->redis.server_bin, "redis-server");
    assert_int_equal(cfg->redis.connect_timeout_ms, 2000);
    assert_int_equal(cfg->redis.command_timeout_ms, 5000);
    assert_string_equal(cfg->streams.prefix, "tocsin");
    assert_int_equal(cfg->streams.maxlen, 1000000);
    assert_int_equal(cfg->streams.read_batch, 512);
    assert_int_equal(cfg->streams.read_block_ms, 1000);
    assert_int_equal(cfg->zscore.window, 60);
    assert_true(cfg->zscore.threshold == 4.0);
    assert_int_equal(cfg->zscore.min_samples, 20);
    assert_string_equal(cfg->scripts.rules_dir, "rules");
    assert_string_equal(cfg->scripts.runbooks_dir, "runbooks");
    assert_string_equal(cfg->scripts.lib_dir, "lua");
    assert_int_equal(cfg->scripts.memory_limit, 67108864);
    assert_int_equal(cfg->scripts.instruction_limit, 10000000);
    assert_int_equal(cfg->scripts.exec_allow.n, 0);
    assert_null(cfg->scripts.exec_allow.items);
    assert_string_equal(cfg->scripts.error_webhook, "");
    assert_string_equal(cfg->notify.webhook_url, "");
    assert_int_equal(cfg->notify.timeout_ms, 10000);

    /* the defaults are valid, and every key reads back as its declared default text */
    tn_buf_t err, txt;
    tn_buf_init(&err);
    tn_buf_init(&txt);
    assert_int_equal(tn_config_validate(cfg, &err), 0);
    assert_int_equal(err.len, 0);
    size_t nkeys = 0;
    for (const tn_conf_opt_t *o = tn_config_schema(); o->key; o++, nkeys++) {
        assert_ptr_equal(tn_config_find(o->key), o);
        assert_non_null(o->doc);
        tn_buf_reset(&txt);
        assert_int_equal(tn_config_get_text(cfg, o, &txt), 0);
        assert_string_equal(txt.data ? txt.data : "", o->def);
    }
    assert_true(nkeys >= 30); /* the keys checked above; the schema may grow */
    assert_null(tn_config_find("http"));
    assert_null(tn_config_find("detect.zscore"));
    assert_null(tn_config_find(""));
    tn_buf_deinit(&err);
    tn_buf_deinit(&txt);
}

/* ---- tn_config_set_text ----------------------------------------------------------------- */

static void test_set_text_int(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "9090", &err), 0);
    assert_int_equal(cfg->http.port, 9090);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "0", &err), 0);
    assert_int_equal(cfg->http.port, 0);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "65535", &err), 0);
    assert_int_equal(cfg->http.port, 65535);
    assert_int_equal(tn_config_set_text(cfg, "streams.maxlen", "1e6", &err), 0);
    assert_int_equal(cfg->streams.maxlen, 1000000);
    assert_int_equal(tn_config_set_text(cfg, "scripts.instruction_limit", "1000000000000000", &err),
                     0);
    assert_int_equal(cfg->scripts.instruction_limit, 1000000000000000LL);
    assert_int_equal(err.len, 0);

    /* not a number */
    assert_int_equal(tn_config_set_text(cfg, "http.port", "abc", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'http.port' must be an integer, got 'abc'");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "80x", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'http.port' must be an integer, got '80x'");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'http.port' must be an integer, got ''");
    tn_buf_reset(&err);
    /* not an integer */
    assert_int_equal(tn_config_set_text(cfg, "http.port", "80.5", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'http.port' must be an integer, got 80.5");
    tn_buf_reset(&err);
    /* out of range, both ends */
    assert_int_equal(tn_config_set_text(cfg, "http.port", "65536", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'http.port' must be between 0 and 65535, got 65536");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "-1", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'http.port' must be between 0 and 65535, got -1");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "http.max_header_bytes", "255", &err), TN_EINVAL);
    assert_string_equal(err.data,
                        "key 'http.max_header_bytes' must be between 256 and 1048576, got 255");
    tn_buf_reset(&err);
    /* not finite */
    assert_int_equal(tn_config_set_text(cfg, "http.port", "nan", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'http.port' must be a finite number");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "inf", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'http.port' must be a finite number");
    /* failures left the value alone; a NULL err is allowed */
    assert_int_equal(cfg->http.port, 65535);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "x", NULL), TN_EINVAL);
    assert_int_equal(cfg->http.port, 65535);
    tn_buf_deinit(&err);
}

static void test_set_text_num(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.threshold", "3.25", &err), 0);
    assert_true(cfg->zscore.threshold == 3.25);
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.threshold", "0.5", &err), 0);
    assert_true(cfg->zscore.threshold == 0.5);
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.threshold", "1000", &err), 0);
    assert_true(cfg->zscore.threshold == 1000.0);
    assert_int_equal(err.len, 0);
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.threshold", "0.25", &err), TN_EINVAL);
    assert_string_equal(err.data,
                        "key 'detect.zscore.threshold' must be between 0.5 and 1000, got 0.25");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.threshold", "three", &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'detect.zscore.threshold' must be a number, got 'three'");
    assert_true(cfg->zscore.threshold == 1000.0);

    tn_buf_t txt;
    tn_buf_init(&txt);
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.threshold", "2.5", &err), 0);
    assert_int_equal(tn_config_get_text(cfg, tn_config_find("detect.zscore.threshold"), &txt), 0);
    assert_string_equal(txt.data, "2.5");
    tn_buf_deinit(&txt);
    tn_buf_deinit(&err);
}

static void test_set_text_str(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_config_set_text(cfg, "redis.url", "redis://127.0.0.1:6390/2", &err), 0);
    assert_string_equal(cfg->redis.url, "redis://127.0.0.1:6390/2");
    /* strings take any text, including something that looks like a number */
    assert_int_equal(tn_config_set_text(cfg, "engine_name", "42", &err), 0);
    assert_string_equal(cfg->engine_name, "42");
    assert_int_equal(tn_config_set_text(cfg, "notify.webhook_url", "", &err), 0);
    assert_string_equal(cfg->scripts.error_webhook, "");
    assert_string_equal(cfg->notify.webhook_url, "");
    assert_int_equal(err.len, 0);
    tn_buf_deinit(&err);
}

/* No key of the schema is a boolean today; the typed setter is exercised through an option
 * that points at a flag placed right after a config. */
static void test_set_bool(void **state)
{
    (void)state;
    struct {
        tn_config_t cfg;
        bool flag;
    } w;
    memset(&w, 0, sizeof w);
    tn_conf_opt_t o = {"test.flag", TN_CONF_BOOL, offsetof(__typeof__(w), flag), "false", 1,
                       0,           "a flag"};
    assert_int_equal(tn_config_set_bool(&w.cfg, &o, true), 0);
    assert_true(w.flag);
    tn_buf_t txt;
    tn_buf_init(&txt);
    assert_int_equal(tn_config_get_text(&w.cfg, &o, &txt), 0);
    assert_string_equal(txt.data, "true");
    assert_int_equal(tn_config_set_bool(&w.cfg, &o, false), 0);
    assert_false(w.flag);
    tn_buf_reset(&txt);
    assert_int_equal(tn_config_get_text(&w.cfg, &o, &txt), 0);
    assert_string_equal(txt.data, "false");
    tn_buf_deinit(&txt);
    /* a real boolean key through the text path, as on the command line */
    tn_config_t cfg;
    assert_int_equal(tn_config_init(&cfg), 0);
    assert_true(cfg.ingest.redis_fed);
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_config_set_text(&cfg, "ingest.redis_fed", "false", &err), 0);
    assert_false(cfg.ingest.redis_fed);
    assert_int_equal(tn_config_set_text(&cfg, "ingest.redis_fed", "maybe", &err), TN_EINVAL);
    assert_non_null(strstr(err.data, "ingest.redis_fed"));
    tn_buf_deinit(&err);
    tn_config_deinit(&cfg);
}

static void test_set_text_list(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err, txt;
    tn_buf_init(&err);
    tn_buf_init(&txt);
    const tn_conf_opt_t *o = tn_config_find("scripts.exec_allow");
    assert_non_null(o);
    assert_int_equal(o->type, TN_CONF_LIST);
    assert_int_equal(tn_config_set_text(cfg, "scripts.exec_allow", "/bin/true,ls,,curl,", &err), 0);
    assert_int_equal(cfg->scripts.exec_allow.n, 3);
    assert_string_equal(cfg->scripts.exec_allow.items[0], "/bin/true");
    assert_string_equal(cfg->scripts.exec_allow.items[1], "ls");
    assert_string_equal(cfg->scripts.exec_allow.items[2], "curl");
    assert_int_equal(tn_config_get_text(cfg, o, &txt), 0);
    assert_string_equal(txt.data, "/bin/true,ls,curl");
    /* replacing frees the old list (LeakSanitizer watches) */
    assert_int_equal(tn_config_set_text(cfg, "scripts.exec_allow", "one", &err), 0);
    assert_int_equal(cfg->scripts.exec_allow.n, 1);
    assert_string_equal(cfg->scripts.exec_allow.items[0], "one");
    assert_int_equal(tn_config_set_text(cfg, "scripts.exec_allow", "", &err), 0);
    assert_int_equal(cfg->scripts.exec_allow.n, 0);
    /* typed setter copies */
    char a[] = "x", b[] = "y";
    const char *items[] = {a, b};
    assert_int_equal(tn_config_set_list(cfg, o, items, 2), 0);
    a[0] = b[0] = 'z';
    assert_int_equal(cfg->scripts.exec_allow.n, 2);
    assert_string_equal(cfg->scripts.exec_allow.items[0], "x");
    assert_string_equal(cfg->scripts.exec_allow.items[1], "y");
    assert_int_equal(err.len, 0);
    tn_buf_deinit(&err);
    tn_buf_deinit(&txt);
}

static void test_set_text_unknown_key(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_config_set_text(cfg, "http.prot", "80", &err), TN_ENOTFOUND);
    assert_string_equal(err.data, "unknown key 'http.prot'");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "http", "80", &err), TN_ENOTFOUND);
    assert_string_equal(err.data, "unknown key 'http'");
    assert_int_equal(tn_config_set_text(cfg, "nope", "1", NULL), TN_ENOTFOUND);
    assert_int_equal(cfg->http.port, 8080);
    tn_buf_deinit(&err);
}

/* ---- tn_config_validate ----------------------------------------------------------------- */

static void test_validate(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    static const char *levels[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tn_config_set_text(cfg, "log_level", levels[i], &err), 0);
        assert_int_equal(tn_config_validate(cfg, &err), 0);
    }
    assert_int_equal(err.len, 0);

    assert_int_equal(tn_config_set_text(cfg, "log_level", "verbose", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    assert_string_equal(err.data,
                        "key 'log_level' must be debug, info, warn or error, got 'verbose'");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "log_level", "info", &err), 0);

    /* min_samples may equal the window but not exceed it */
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.min_samples", "60", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.min_samples", "61", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'detect.zscore.min_samples' (61) must not exceed "
                                  "'detect.zscore.window' (60)");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.window", "100", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), 0);

    assert_int_equal(tn_config_set_text(cfg, "streams.prefix", "a b", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    assert_string_equal(err.data,
                        "key 'streams.prefix' must be non-empty without spaces or braces");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "streams.prefix", "{x}", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "streams.prefix", "tn", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "engine_name", "", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'engine_name' must be non-empty without spaces");
    tn_buf_deinit(&err);
}

/* The chatops pair lists: NAME=VALUE items, roles checked. */
static void test_validate_chatops(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_config_set_text(cfg, "chatops.users", "alice=operator,bob=viewer", &err),
                     0);
    assert_int_equal(tn_config_validate(cfg, &err), 0);
    assert_string_equal(tn_config_pair_get(&cfg->chatops.users, "alice"), "operator");
    assert_null(tn_config_pair_get(&cfg->chatops.users, "ali"));
    assert_int_equal(tn_config_role_rank("operator"), 2);
    assert_int_equal(tn_config_role_rank("root"), -1);
    assert_int_equal(tn_config_set_text(cfg, "chatops.users", "alice=root", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'chatops.users': 'root' is not a role (viewer, responder, "
                                  "operator or admin)");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "chatops.users", "alice", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    assert_string_equal(err.data, "key 'chatops.users': item 'alice' is not NAME=VALUE");
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "chatops.users", "", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "chatops.level_roles", "5=admin", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    assert_non_null(strstr(err.data, "LEVEL 1 to 4"));
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "chatops.level_roles", "1=viewer", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "chatops.default_role", "boss", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), TN_EINVAL);
    assert_non_null(strstr(err.data, "chatops.default_role"));
    tn_buf_reset(&err);
    assert_int_equal(tn_config_set_text(cfg, "chatops.default_role", "none", &err), 0);
    assert_int_equal(tn_config_validate(cfg, &err), 0);
    tn_buf_deinit(&err);
}

/* ---- tn_config_load_lua ----------------------------------------------------------------- */

/* A list key given as a table of name = value: sorted NAME=VALUE items; bad values named. */
static void test_lua_pairs(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64];
    int rc = load_text(cfg,
                       "return { chatops = {\n"
                       "  users = { zoe = 'admin', alice = 'operator', U123 = 'viewer' },\n"
                       "  level_roles = { ['3'] = 'admin' },\n"
                       "  api_tokens = { 'alice=t1' },\n"
                       "} }\n",
                       path, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->chatops.users.n, 3);
    assert_string_equal(cfg->chatops.users.items[0], "U123=viewer");
    assert_string_equal(cfg->chatops.users.items[1], "alice=operator");
    assert_string_equal(cfg->chatops.users.items[2], "zoe=admin");
    assert_int_equal(cfg->chatops.level_roles.n, 1);
    assert_string_equal(cfg->chatops.level_roles.items[0], "3=admin");
    assert_string_equal(cfg->chatops.api_tokens.items[0], "alice=t1");
    rc = load_text(cfg, "return { chatops = { users = { alice = { 'nested' } } } }\n", path, &err);
    assert_int_equal(rc, TN_EINVAL);
    assert_non_null(strstr(err.data, "key 'chatops.users' must be a list of strings or a table of "
                                     "name = value strings (found string = table)"));
    tn_buf_deinit(&err);
}

static void test_lua_nested(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64];
    int rc = load_text(cfg,
                       "-- a config file\n"
                       "return {\n"
                       "  log_level = 'debug',\n"
                       "  http = { port = 9000, listen = '0.0.0.0', max_connections = 2e3 },\n"
                       "  detect = { zscore = { window = 120, threshold = 3.5 } },\n"
                       "  scripts = { exec_allow = { '/bin/echo', 'ls' } },\n"
                       "  redis = {},\n"
                       "}\n",
                       path, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(err.len, 0);
    assert_string_equal(cfg->log_level, "debug");
    assert_int_equal(cfg->http.port, 9000);
    assert_string_equal(cfg->http.listen, "0.0.0.0");
    assert_int_equal(cfg->http.max_connections, 2000);
    assert_int_equal(cfg->zscore.window, 120);
    assert_true(cfg->zscore.threshold == 3.5);
    assert_int_equal(cfg->zscore.min_samples, 20); /* untouched */
    assert_int_equal(cfg->scripts.exec_allow.n, 2);
    assert_string_equal(cfg->scripts.exec_allow.items[0], "/bin/echo");
    assert_string_equal(cfg->scripts.exec_allow.items[1], "ls");
    assert_string_equal(cfg->redis.server_bin, "redis-server");
    tn_buf_deinit(&err);
}

static void test_lua_dotted(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64];
    int rc = load_text(cfg,
                       "return {\n"
                       "  ['http.port'] = 9001,\n"
                       "  ['detect.zscore.min_samples'] = 5,\n"
                       "  detect = { ['zscore.window'] = 99 },\n"
                       "  ['scripts.exec_allow'] = {},\n"
                       "}\n",
                       path, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->http.port, 9001);
    assert_int_equal(cfg->zscore.min_samples, 5);
    assert_int_equal(cfg->zscore.window, 99);
    assert_int_equal(cfg->scripts.exec_allow.n, 0);
    tn_buf_deinit(&err);
}

static void test_lua_getenv_and_sandbox(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64];
    setenv("TN_TEST_CONF_PORT", "7777", 1);
    setenv("TN_TEST_CONF_URL", "unix:/run/r.sock", 1);
    unsetenv("TN_TEST_CONF_UNSET");
    int rc = load_text(cfg,
                       "local function absent(x) return x == nil and 'nil' or 'present' end\n"
                       "return {\n"
                       "  http = { port = tonumber(os.getenv('TN_TEST_CONF_PORT')) },\n"
                       "  redis = { url = os.getenv('TN_TEST_CONF_URL'),\n"
                       "            server_bin = os.getenv('TN_TEST_CONF_UNSET') or 'rs' },\n"
                       "  data_dir = absent(os.execute) .. absent(io) .. absent(dofile),\n"
                       "}\n",
                       path, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->http.port, 7777);
    assert_string_equal(cfg->redis.url, "unix:/run/r.sock");
    assert_string_equal(cfg->redis.server_bin, "rs");
    assert_string_equal(cfg->data_dir, "nilnilnil");
    unsetenv("TN_TEST_CONF_PORT");
    unsetenv("TN_TEST_CONF_URL");
    tn_buf_deinit(&err);
}

static void test_lua_unknown_key(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64];
    assert_int_equal(load_text(cfg, "return { http = { prot = 1 } }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "unknown key 'http.prot'"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { detect = { zscore = { windw = 1 } } }\n", path, &err),
                     TN_EINVAL);
    assert_string_equal(err.data, at(path, "unknown key 'detect.zscore.windw'"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { ['http.prot'] = 1 }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "unknown key 'http.prot'"));
    tn_buf_reset(&err);
    /* a section that does not exist, and a section given a plain value */
    assert_int_equal(load_text(cfg, "return { foo = { bar = 1 } }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "unknown key 'foo'"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { http = 8080 }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "unknown key 'http'"));
    tn_buf_reset(&err);
    /* array items are not keys */
    assert_int_equal(load_text(cfg, "return { 'x' }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data,
                        at(path, "configuration keys must be strings (found a integer key)"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { http = { 1 } }\n", path, &err), TN_EINVAL);
    assert_string_equal(
        err.data, at(path, "configuration keys must be strings (found a integer key in http)"));
    assert_int_equal(cfg->http.port, 8080);
    tn_buf_deinit(&err);
}

static void test_lua_wrong_type(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64];
    assert_int_equal(load_text(cfg, "return { http = { port = '8080' } }\n", path, &err),
                     TN_EINVAL);
    assert_string_equal(err.data, at(path, "key 'http.port' must be an integer, got string"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { log_level = 3 }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "key 'log_level' must be a string, got integer"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { log_level = 0.5 }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "key 'log_level' must be a string, got number"));
    tn_buf_reset(&err);
    assert_int_equal(
        load_text(cfg, "return { detect = { zscore = { threshold = true } } }\n", path, &err),
        TN_EINVAL);
    assert_string_equal(err.data,
                        at(path, "key 'detect.zscore.threshold' must be a number, got boolean"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { scripts = { exec_allow = 'ls' } }\n", path, &err),
                     TN_EINVAL);
    assert_string_equal(err.data,
                        at(path, "key 'scripts.exec_allow' must be a list of strings, got string"));
    tn_buf_reset(&err);
    assert_int_equal(
        load_text(cfg, "return { scripts = { exec_allow = { 'ls', 2 } } }\n", path, &err),
        TN_EINVAL);
    assert_string_equal(
        err.data,
        at(path, "key 'scripts.exec_allow' must be a list of strings, item 2 is integer"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { data_dir = {} }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "key 'data_dir' must be a string, got table"));
    tn_buf_reset(&err);
    /* range and integrality are checked like on the command line, with the file named */
    assert_int_equal(load_text(cfg, "return { http = { port = 70000 } }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data,
                        at(path, "key 'http.port' must be between 0 and 65535, got 70000"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { http = { port = 80.5 } }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "key 'http.port' must be an integer, got 80.5"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return { http = { port = 0/0 } }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "key 'http.port' must be a finite number"));
    assert_int_equal(cfg->http.port, 8080);
    assert_int_equal(cfg->scripts.exec_allow.n, 0);
    tn_buf_deinit(&err);
}

static void test_lua_syntax_error(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64], want[128];
    int rc = load_text(cfg, "return {\n  http = {\n    port = = 1,\n  },\n}\n", path, &err);
    assert_int_equal(rc, TN_ESCRIPT);
    snprintf(want, sizeof want, "%s:3: unexpected symbol near '='", path);
    assert_string_equal(err.data, want);
    tn_buf_reset(&err);
    rc = load_text(cfg, "return {\n  http = {\n", path, &err);
    assert_int_equal(rc, TN_ESCRIPT);
    snprintf(want, sizeof want, "%s:3: unexpected symbol near <eof>", path);
    assert_string_equal(err.data, want);
    tn_buf_deinit(&err);
}

static void test_lua_runtime_error(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64], want[128];
    int rc = load_text(cfg, "local x = 1\nerror('boom')\nreturn {}\n", path, &err);
    assert_int_equal(rc, TN_ESCRIPT);
    snprintf(want, sizeof want, "%s:2: boom\nstack traceback:", path);
    assert_memory_equal(err.data, want, strlen(want));
    tn_buf_reset(&err);
    /* calling a function the sandbox removed */
    rc = load_text(cfg, "\nos.execute('true')\nreturn {}\n", path, &err);
    assert_int_equal(rc, TN_ESCRIPT);
    snprintf(want, sizeof want, "%s:2: ", path);
    assert_memory_equal(err.data, want, strlen(want));
    assert_non_null(strstr(err.data, "execute"));
    tn_buf_deinit(&err);
}

static void test_lua_not_a_table(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64];
    assert_int_equal(load_text(cfg, "return 42\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data,
                        at(path, "the configuration file must return a table (got integer)"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "http = { port = 1 }\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data, at(path, "the configuration file must return a table (got nil)"));
    tn_buf_reset(&err);
    assert_int_equal(load_text(cfg, "return 'http.port=1'\n", path, &err), TN_EINVAL);
    assert_string_equal(err.data,
                        at(path, "the configuration file must return a table (got string)"));
    tn_buf_reset(&err);
    /* an empty table is a valid, empty configuration */
    assert_int_equal(load_text(cfg, "return {}\n", path, &err), 0);
    assert_int_equal(err.len, 0);
    tn_buf_deinit(&err);
}

static void test_lua_runaway(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64], want[128];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = load_text(cfg, "local n = 0\nwhile true do n = n + 1 end\nreturn {}\n", path, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(rc, TN_ESCRIPT);
    snprintf(want, sizeof want, "%s:2: instruction limit exceeded (10000000 instructions)", path);
    assert_memory_equal(err.data, want, strlen(want));
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 5.0);
    tn_buf_reset(&err);
    /* memory is capped too */
    rc = load_text(cfg, "local s = string.rep('x', 64 * 1024 * 1024)\nreturn {}\n", path, &err);
    assert_int_equal(rc, TN_ESCRIPT);
    assert_non_null(strstr(err.data, "memory limit exceeded"));
    tn_buf_deinit(&err);
}

static void test_lua_missing_file(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_config_load_lua(cfg, "/nonexistent/tocsin.lua", &err), TN_EIO);
    assert_string_equal(err.data, "/nonexistent/tocsin.lua: cannot open file");
    tn_buf_deinit(&err);
}

static void test_lua_error_keeps_earlier_values(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    char path[64];
    assert_int_equal(tn_config_set_text(cfg, "http.port", "1234", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "engine_name", "before", &err), 0);
    assert_int_equal(load_text(cfg, "return { engine_name = 5 }\n", path, &err), TN_EINVAL);
    assert_int_equal(cfg->http.port, 1234);
    assert_string_equal(cfg->engine_name, "before");
    tn_buf_deinit(&err);
}

/* ---- dump -> load round trip ------------------------------------------------------------ */

static void assert_same_config(const tn_config_t *a, const tn_config_t *b)
{
    for (const tn_conf_opt_t *o = tn_config_schema(); o->key; o++) {
        const void *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;
        switch (o->type) {
        case TN_CONF_STR:
            assert_string_equal(*(char *const *)fa, *(char *const *)fb);
            break;
        case TN_CONF_INT:
            assert_int_equal(*(const int64_t *)fa, *(const int64_t *)fb);
            break;
        case TN_CONF_NUM:
            if (*(const double *)fa != *(const double *)fb)
                fail_msg("key %s: %.17g != %.17g", o->key, *(const double *)fa,
                         *(const double *)fb);
            break;
        case TN_CONF_BOOL:
            assert_int_equal(*(const bool *)fa, *(const bool *)fb);
            break;
        case TN_CONF_LIST: {
            const tn_conf_list_t *la = fa, *lb = fb;
            assert_int_equal(la->n, lb->n);
            for (size_t i = 0; i < la->n; i++)
                assert_string_equal(la->items[i], lb->items[i]);
            break;
        }
        }
    }
}

static void round_trip(const tn_config_t *src)
{
    tn_buf_t out, err;
    tn_buf_init(&out);
    tn_buf_init(&err);
    assert_int_equal(tn_config_dump_lua(src, &out), 0);
    assert_memory_equal(out.data, "-- tocsin configuration", 23);
    /* every key appears, documented */
    for (const tn_conf_opt_t *o = tn_config_schema(); o->key; o++) {
        char k[128];
        snprintf(k, sizeof k, "[\"%s\"] = ", o->key);
        assert_non_null(strstr(out.data, k));
        assert_non_null(strstr(out.data, o->doc));
    }
    tn_config_t back;
    assert_int_equal(tn_config_init(&back), 0);
    char path[64];
    int rc = load_text(&back, out.data, path, &err);
    if (rc) fail_msg("reload failed: %s\n%s", err.data, out.data);
    assert_same_config(src, &back);
    tn_config_deinit(&back);
    tn_buf_deinit(&out);
    tn_buf_deinit(&err);
}

static void test_dump_round_trip_defaults(void **state)
{
    round_trip(*state);
}

static void test_dump_round_trip_changed(void **state)
{
    tn_config_t *cfg = *state;
    tn_buf_t err;
    tn_buf_init(&err);
    /* strings with quotes, backslashes, control characters, UTF-8 and Lua-looking text */
    assert_int_equal(tn_config_set_text(cfg, "data_dir", "/var/lib/\"tocsin\"\\x\n\t\r\001z", &err),
                     0);
    assert_int_equal(tn_config_set_text(cfg, "engine_name", "n\xc3\xa9ud-\xe2\x82\xac", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "redis.url", "]] .. os.exit() .. [[", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "notify.webhook_url", "\0011", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "http.port", "0", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "streams.maxlen", "1e12", &err), 0);
    assert_int_equal(tn_config_set_text(cfg, "scripts.instruction_limit", "999999999999999", &err),
                     0);
    /* a threshold that needs all 17 significant digits */
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.threshold", "1.6666666666666667", &err),
                     0);
    assert_true(cfg->zscore.threshold == 5.0 / 3.0);
    assert_int_equal(tn_config_set_text(cfg, "scripts.exec_allow", "/bin/echo,a \"b\",c\\d", &err),
                     0);
    assert_int_equal(err.len, 0);
    round_trip(cfg);

    /* short values stay short in the dump */
    assert_int_equal(tn_config_set_text(cfg, "detect.zscore.threshold", "0.7", &err), 0);
    tn_buf_t out;
    tn_buf_init(&out);
    assert_int_equal(tn_config_dump_lua(cfg, &out), 0);
    assert_non_null(strstr(out.data, "[\"detect.zscore.threshold\"] = 0.7,\n"));
    assert_non_null(strstr(out.data, "[\"http.port\"] = 0,\n"));
    assert_non_null(strstr(out.data, "[\"scripts.exec_allow\"] = { \"/bin/echo\", \"a \\\"b\\\"\", "
                                     "\"c\\\\d\" },\n"));
    tn_buf_deinit(&out);
    round_trip(cfg);
    tn_buf_deinit(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_cfg, teardown_cfg)
        T(test_defaults),
        T(test_set_text_int),
        T(test_set_text_num),
        T(test_set_text_str),
        T(test_set_bool),
        T(test_set_text_list),
        T(test_set_text_unknown_key),
        T(test_validate),
        T(test_validate_chatops),
        T(test_lua_nested),
        T(test_lua_pairs),
        T(test_lua_dotted),
        T(test_lua_getenv_and_sandbox),
        T(test_lua_unknown_key),
        T(test_lua_wrong_type),
        T(test_lua_syntax_error),
        T(test_lua_runtime_error),
        T(test_lua_not_a_table),
        T(test_lua_runaway),
        T(test_lua_missing_file),
        T(test_lua_error_keeps_earlier_values),
        T(test_dump_round_trip_defaults),
        T(test_dump_round_trip_changed),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
