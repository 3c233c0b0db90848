/* bench_rules - the cost of the Lua boundary for rules.
 *
 * Calls a trivial rule (an empty on_anomaly) N times the way the engine does (protected call,
 * RULE context, instruction budget reset), beside the same loop calling an empty C function
 * through a pointer, and prints both rates and their ratio. A second line calls the rule with
 * a realistic anomaly table converted from JSON, as tn_correlate_anomaly does.
 * usage: bench_rules [N]   (default 5,000,000) */
#include "core/buf.h"
#include "script/convert.h"
#include "script/runtime.h"

#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void empty_c(void *arg)
{
    __asm__ volatile("" ::"r"(arg));
}
static void (*volatile g_fn)(void *) = empty_c;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 5000000;
    tn_lua_opts_t o = {.name = "bench", .memory_limit = 64u << 20, .instruction_limit = 10000000};
    tn_lua_t *lua = tn_lua_create(&o);
    if (!lua) return 1;
    lua_State *L = tn_lua_state(lua);
    if (luaL_dostring(L, "return function(a) end")) return 1;
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    tn_buf_t err;
    tn_buf_init(&err);

    double t0 = now_s();
    for (long i = 0; i < n; i++)
        g_fn(&i);
    double c_s = now_s() - t0;

    t0 = now_s();
    for (long i = 0; i < n; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_pushinteger(L, i);
        if (tn_lua_pcall(lua, TN_CTX_RULE, 1, 0, &err)) return 1;
    }
    double lua_s = now_s() - t0;

    json_t *a = json_loads("{\"sid\":\"0123456789abcdef\",\"metric\":\"http_latency_ms\","
                           "\"labels\":{\"service\":\"checkout\",\"env\":\"prod\"},"
                           "\"service\":\"checkout\",\"value\":950,\"expected\":101.2,"
                           "\"stddev\":2.1,\"lower\":92.8,\"upper\":109.6,\"z\":404.2,"
                           "\"score\":1,\"detector\":\"zscore\",\"ts\":1764000000000}",
                           0, NULL);
    long n2 = n / 10;
    t0 = now_s();
    for (long i = 0; i < n2; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        tn_lua_push_json(L, a);
        if (tn_lua_pcall(lua, TN_CTX_RULE, 1, 0, &err)) return 1;
    }
    double full_s = now_s() - t0;
    json_decref(a);

    printf("empty C function via pointer:        %12.0f calls/s\n", n / c_s);
    printf("trivial Lua rule (protected call):   %12.0f calls/s   %.1fx the C call's cost\n",
           n / lua_s, lua_s / c_s);
    printf("trivial rule + anomaly table (JSON): %12.0f calls/s\n", n2 / full_s);
    printf("target: >= 1,000,000 trivial rule invocations/s on one core: %s\n",
           n / lua_s >= 1e6 ? "met" : "NOT met");
    tn_buf_deinit(&err);
    tn_lua_release(lua);
    return 0;
}
