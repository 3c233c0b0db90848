/* test_detect_policy.c - detection policy files (script/detect_policy.c): a file's table becomes
 * detect/policy.h rules that match series as written (first match wins, globs, negation,
 * defaults), and every kind of mistake is refused with file:line and a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "script/detect_policy.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_path[64];

/* Writes src to a temp file (for line numbers), runs it, leaves its result on the stack. */
static lua_State *load(const char *src)
{
    snprintf(g_path, sizeof g_path, "/tmp/tn_test_policy_XXXXXX");
    int fd = mkstemp(g_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    if (luaL_dofile(L, g_path) != LUA_OK) fail_msg("lua: %s", lua_tostring(L, -1));
    return L;
}

static void done(lua_State *L)
{
    lua_close(L);
    unlink(g_path);
}

/* Expects check to fail with a message containing want (and the file's path and a line). */
static void expect_error(const char *src, const char *want, int line)
{
    lua_State *L = load(src);
    tn_buf_t err;
    tn_buf_init(&err);
    int top = lua_gettop(L);
    assert_int_equal(tn_detect_policy_check(L, -1, g_path, &err), TN_EINVAL);
    assert_int_equal(lua_gettop(L), top);
    assert_non_null(err.data);
    if (!strstr(err.data, want)) fail_msg("wanted '%s' in: %s", want, err.data);
    char where[96];
    snprintf(where, sizeof where, "%s:%d:", g_path, line);
    if (strncmp(err.data, where, strlen(where))) fail_msg("wanted %s in: %s", where, err.data);
    tn_buf_deinit(&err);
    done(L);
}

static const char *g_good =
    "return {\n"
    "  name = 'default',\n"
    "  defaults = { detectors = { 'zscore', 'mad' }, threshold = 5,\n"
    "               window = 30 },\n"
    "  policies = {\n"
    "    { name = 'latency', metric = '*_latency_*',\n"
    "      labels = { service = 'check*', env = '!dev' },\n"
    "      detectors = { 'ewma', 'hw' }, threshold = 6, hw_season = 24 },\n"
    "    { name = 'daily', metric = 'orders_total', seasons = { '1d', 604800 } },\n"
    "    { name = 'exact', labels = { team = 'db' }, agree = 1,\n"
    "      detectors = { 'shift', 'zscore' }, shift_recent = 7 },\n"
    "  },\n"
    "}\n";

static void test_policy_matches_as_written(void **state)
{
    (void)state;
    lua_State *L = load(g_good);
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_detect_policy_check(L, -1, g_path, &err), 0);
    tn_ens_params_t d;
    int present;
    assert_int_equal(tn_detect_policy_defaults(L, -1, g_path, &d, &present, &err), 0);
    assert_true(present);
    assert_int_equal(d.detectors, TN_DET_BIT(TN_DET_ZSCORE) | TN_DET_BIT(TN_DET_MAD));
    assert_true(d.threshold == 5 && d.window == 30);
    tn_policy_t *p = tn_policy_create(&d);
    assert_non_null(p);
    int top = lua_gettop(L);
    assert_int_equal(tn_detect_policy_add(L, -1, g_path, p, &err), 0);
    assert_int_equal(lua_gettop(L), top);
    assert_int_equal(tn_policy_rules(p), 3);

    const tn_ens_params_t *m;
    const char *rule;
    static const char lat[] = "http_latency_seconds";
    const char *prod = "{\"env\":\"prod\",\"service\":\"checkout\"}";
    assert_int_equal(tn_policy_match(p, lat, strlen(lat), prod, strlen(prod), &m, &rule), 0);
    assert_string_equal(rule, "latency");
    assert_int_equal(m->detectors, TN_DET_BIT(TN_DET_EWMA) | TN_DET_BIT(TN_DET_HOLTWINTERS));
    assert_true(m->threshold == 6 && m->hw_season == 24);
    /* env = '!dev' refuses dev; the next rules do not match either: the defaults */
    const char *dev = "{\"env\":\"dev\",\"service\":\"checkout\"}";
    assert_int_equal(tn_policy_match(p, lat, strlen(lat), dev, strlen(dev), &m, &rule), -1);
    assert_true(m->threshold == 5);
    /* glob on the label: 'check*' does not match 'payments' */
    const char *pay = "{\"service\":\"payments\"}";
    assert_int_equal(tn_policy_match(p, lat, strlen(lat), pay, strlen(pay), &m, &rule), -1);
    /* seasons in seconds and as text */
    assert_int_equal(tn_policy_match(p, "orders_total", 12, "{}", 2, &m, &rule), 1);
    assert_int_equal(m->n_seasons, 2);
    assert_true(m->seasons_ms[0] == 86400000 && m->seasons_ms[1] == 604800000);
    /* a rule without metric matches every metric with the label */
    const char *db = "{\"team\":\"db\"}";
    assert_int_equal(tn_policy_match(p, "anything", 8, db, strlen(db), &m, &rule), 2);
    assert_string_equal(rule, "exact");
    assert_int_equal(m->agree, 1);
    assert_int_equal(m->detectors, TN_DET_BIT(TN_DET_SHIFT) | TN_DET_BIT(TN_DET_ZSCORE));
    assert_int_equal(m->shift_recent, 7);
    tn_policy_unref(p);
    tn_buf_deinit(&err);
    done(L);
}

static void test_no_defaults_no_policies(void **state)
{
    (void)state;
    lua_State *L = load("return { name = 'empty' }\n");
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_detect_policy_check(L, -1, g_path, &err), 0);
    tn_ens_params_t d;
    int present = 1;
    assert_int_equal(tn_detect_policy_defaults(L, -1, g_path, &d, &present, &err), 0);
    assert_false(present);
    tn_buf_deinit(&err);
    done(L);
}

static void test_mistakes_are_refused(void **state)
{
    (void)state;
    expect_error("return {\n  name = 'x',\n  polices = {},\n}\n",
                 "unknown detection policy field 'polices'", 3);
    expect_error("return {\n  policies = {},\n}\n", "name", 1);
    expect_error("return {\n  name = 'x',\n  defaults = {\n    treshold = 4 },\n}\n",
                 "unknown key 'treshold'", 4);
    expect_error(
        "return {\n  name = 'x',\n  defaults = {\n    detectors = { 'zscore', 'prophet' } },\n}\n",
        "unknown detector 'prophet'", 4);
    expect_error("return {\n  name = 'x',\n  defaults = {\n    detectors = {} },\n}\n",
                 "non-empty list", 4);
    expect_error("return {\n  name = 'x',\n  defaults = {\n    window = 2.5 },\n}\n",
                 "window must be a whole number", 4);
    expect_error("return {\n  name = 'x',\n  defaults = {\n    threshold = 'high' },\n}\n",
                 "threshold must be a number", 4);
    expect_error("return {\n  name = 'x',\n  defaults = {\n    seasons = { 'daily' } },\n}\n",
                 "seasons[1] is not a duration", 4);
    expect_error("return {\n  name = 'x',\n  policies = {\n    { metric = 'a', labels = { svc = 3 "
                 "} } },\n}\n",
                 "labels must map names to strings", 4);
    expect_error("return {\n  name = 'x',\n  policies = {\n    { metric = 5 } },\n}\n",
                 "name and metric must be strings", 4);
    expect_error("return {\n  name = 'x',\n  policies = {\n    'zscore' },\n}\n",
                 "policies[1] must be a table", 3);
    expect_error(
        "return {\n  name = 'x',\n  policies = {\n    { metric = 'a', colour = 'red' } },\n}\n",
        "unknown key 'colour'", 4);
    expect_error("return 42\n", "must return a table", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_matches_as_written),
        cmocka_unit_test(test_no_defaults_no_policies),
        cmocka_unit_test(test_mistakes_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
