/* runtime.c - sandboxed Lua states with a memory ceiling and an instruction budget. */
#include "script/runtime.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_EVERY 1000

struct tn_lua {
    lua_State *L;
    char *name;
    char *lib_dir;
    void *owner;
    size_t mem_used;
    size_t mem_limit;
    int mem_hit; /* the allocator refused since the last check */
    uint64_t instr_used;
    uint64_t instr_limit;
    int instr_tripped; /* the budget ran out since the last tn_lua__enter */
    tn_lua_ctx_t ctx;
    int refs;
};

static char g_preload_key; /* registry[&g_preload_key] = { name = {open, ud} } */
static char g_loaded_key;  /* registry[&g_loaded_key] = { name = module } */

static struct {
    tn_metric_t *mem_hits, *instr_hits, *errors;
} g_m;

static void metrics_init(void)
{
    if (g_m.errors) return;
    g_m.mem_hits = tn_metrics_counter("tocsin_script_memory_limit_hits_total", NULL,
                                      "Script allocations refused by the memory ceiling.");
    g_m.instr_hits = tn_metrics_counter("tocsin_script_instruction_limit_hits_total", NULL,
                                        "Script callbacks stopped by the instruction budget.");
    g_m.errors = tn_metrics_counter("tocsin_script_errors_total", NULL,
                                    "Script callbacks that raised an error.");
}

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    tn_lua_t *lua = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        lua->mem_used -= old;
        return NULL;
    }
    if (lua->mem_limit && nsize > old && lua->mem_used + (nsize - old) > lua->mem_limit) {
        if (!lua->mem_hit) tn_metric_inc(g_m.mem_hits);
        lua->mem_hit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) return NULL;
    lua->mem_used = lua->mem_used - old + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    tn_lua_t *lua = tn_lua_from(L);
    if (!lua->instr_tripped) {
        int every = lua_gethookcount(L);
        lua->instr_used += (uint64_t)every;
        if (every != HOOK_EVERY) lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
        if (!lua->instr_limit || lua->instr_used <= lua->instr_limit) return;
        tn_metric_inc(g_m.instr_hits);
        /* From now on every instruction of this thread raises again, so a pcall in the
         * script cannot catch the error and carry on; tn_lua__enter re-arms the budget. */
        lua->instr_tripped = 1;
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    }
    /* level 0: a hook runs on the interrupted function's frame, so this gives its
     * "file:line:"; lua_pushfstring knows %I (lua_Integer), not %llu */
    luaL_where(L, 0);
    lua_pushfstring(L, "%sinstruction limit exceeded (%I instructions)", lua_tostring(L, -1),
                    (lua_Integer)lua->instr_limit);
    lua_error(L);
}

tn_lua_t *tn_lua_from(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

lua_State *tn_lua_state(const tn_lua_t *lua)
{
    return lua->L;
}
const char *tn_lua_name(const tn_lua_t *lua)
{
    return lua->name;
}
void *tn_lua_owner(const tn_lua_t *lua)
{
    return lua->owner;
}
size_t tn_lua_memory(const tn_lua_t *lua)
{
    return lua->mem_used;
}

const char *tn_lua_context_name(tn_lua_ctx_t ctx)
{
    switch (ctx) {
    case TN_CTX_LOAD:
        return "load";
    case TN_CTX_RULE:
        return "rule";
    case TN_CTX_TASK:
        return "task";
    }
    return "unknown";
}

tn_lua_ctx_t tn_lua_context(lua_State *L)
{
    return tn_lua_from(L)->ctx;
}

void tn_lua_check_context(lua_State *L, int allowed, const char *what)
{
    tn_lua_ctx_t ctx = tn_lua_context(L);
    if (!(ctx & allowed))
        luaL_error(L, "%s cannot be used in %s context", what, tn_lua_context_name(ctx));
}

void tn_lua__enter(tn_lua_t *lua, tn_lua_ctx_t ctx)
{
    lua->ctx = ctx;
    lua->instr_used = 0;
    lua->mem_hit = 0;
    if (lua->instr_tripped) {
        lua->instr_tripped = 0;
        lua_sethook(lua->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    }
}

void tn_lua__leave(tn_lua_t *lua, tn_lua_ctx_t prev)
{
    lua->ctx = prev;
}

int tn_lua_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* print(...) -> the engine log, tagged with the script name. */
static int l_print(lua_State *L)
{
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    tn_log_info("script", "%s: %s", tn_lua_from(L)->name, lua_tostring(L, -1));
    return 0;
}

/* load(chunk [, chunkname [, mode [, env]]]) with text chunks only. */
static int l_load(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *chunkname = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (strcmp(mode, "t") != 0) return luaL_error(L, "load: only text chunks are allowed");
    int env = !lua_isnone(L, 4) ? 4 : 0;
    if (luaL_loadbufferx(L, s, len, chunkname, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env) {
        lua_pushvalue(L, env);
        if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    }
    return 1;
}

/* collectgarbage restricted to harmless options. */
static int l_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") == 0) {
        int k = lua_gc(L, LUA_GCCOUNT, 0), b = lua_gc(L, LUA_GCCOUNTB, 0);
        lua_pushnumber(L, (lua_Number)k + ((lua_Number)b / 1024));
        return 1;
    }
    if (strcmp(opt, "collect") == 0 || strcmp(opt, "step") == 0) {
        lua_gc(L, LUA_GCCOLLECT);
        lua_pushinteger(L, 0);
        return 1;
    }
    return luaL_error(L, "collectgarbage('%s') is not allowed", opt);
}

static int file_loader_load(lua_State *L, tn_lua_t *lua, const char *modname)
{
    if (!lua->lib_dir) return 0;
    for (const char *p = modname; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.'))
            return luaL_error(L, "require: bad module name '%s'", modname);
    }
    if (strstr(modname, "..") || modname[0] == '.')
        return luaL_error(L, "require: bad module name '%s'", modname);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, lua->lib_dir);
    luaL_addchar(&b, '/');
    for (const char *p = modname; *p; p++)
        luaL_addchar(&b, *p == '.' ? '/' : *p);
    luaL_addstring(&b, ".lua");
    luaL_pushresult(&b);
    const char *path = lua_tostring(L, -1);
    FILE *f = fopen(path, "r");
    if (!f) {
        lua_pop(L, 1);
        return 0;
    }
    fclose(f);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
    lua_remove(L, -2);
    return 1;
}

static int l_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    tn_lua_t *lua = tn_lua_from(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &g_loaded_key);
    if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    /* engine module? */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &g_preload_key);
    if (lua_getfield(L, -1, name) == LUA_TTABLE) {
        lua_rawgeti(L, -1, 1); /* open */
        lua_rawgeti(L, -2, 2); /* ud */
        lua_CFunction open = lua_tocfunction(L, -2);
        void *ud = lua_touserdata(L, -1);
        lua_pop(L, 3); /* open, ud and the entry: the stack is now as in the file branch */
        lua_pushlightuserdata(L, ud);
        lua_pushcclosure(L, open, 1);
        lua_pushstring(L, name);
        lua_call(L, 1, 1);
    } else {
        lua_pop(L, 1);
        if (!file_loader_load(L, lua, name))
            return luaL_error(L, "module '%s' not found (engine modules and %s%s)", name,
                              lua->lib_dir ? lua->lib_dir : "no library directory",
                              lua->lib_dir ? "/" : "");
        lua_pushstring(L, name);
        lua_call(L, 1, 1);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, name); /* loaded[name] = module */
    return 1;
}

static void open_sandbox(lua_State *L)
{
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                                    {LUA_TABLIBNAME, luaopen_table},
                                    {LUA_STRLIBNAME, luaopen_string},
                                    {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8},
                                    {LUA_OSLIBNAME, luaopen_os},
                                    {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    /* base: remove file access and binary loading, restrict gc */
    static const char *drop_base[] = {"dofile", "loadfile", NULL};
    for (const char **d = drop_base; *d; d++) {
        lua_pushnil(L);
        lua_setglobal(L, *d);
    }
    lua_pushcfunction(L, l_load);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, l_collectgarbage);
    lua_setglobal(L, "collectgarbage");
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    lua_pushcfunction(L, l_require);
    lua_setglobal(L, "require");
    /* string.dump: no bytecode out */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* os: keep only the clock functions */
    lua_getglobal(L, "os");
    static const char *keep_os[] = {"time", "clock", "date", "difftime", NULL};
    lua_newtable(L);
    for (const char **k = keep_os; *k; k++) {
        lua_getfield(L, -2, *k);
        lua_setfield(L, -2, *k);
    }
    lua_setglobal(L, "os");
    lua_pop(L, 1);
    /* registry tables for require */
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &g_preload_key);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &g_loaded_key);
    /* the loaded standard modules, for require("string") etc. */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &g_loaded_key);
    static const char *std[] = {"string", "table", "math", "utf8", "os", NULL};
    for (const char **s = std; *s; s++) {
        lua_getglobal(L, *s);
        lua_setfield(L, -2, *s);
    }
    lua_pop(L, 1);
}

static int sandbox_init(lua_State *L)
{
    open_sandbox(L);
    return 0;
}

tn_lua_t *tn_lua_create(const tn_lua_opts_t *opts)
{
    metrics_init();
    tn_lua_t *lua = calloc(1, sizeof *lua);
    if (!lua) return NULL;
    lua->name = strdup(opts->name ? opts->name : "?");
    lua->lib_dir = opts->lib_dir ? strdup(opts->lib_dir) : NULL;
    if (!lua->name || (opts->lib_dir && !lua->lib_dir)) goto fail;
    lua->owner = opts->owner;
    lua->instr_limit = opts->instruction_limit;
    lua->refs = 1;
    lua->ctx = TN_CTX_LOAD;
    lua->L = lua_newstate(counting_alloc, lua);
    if (!lua->L) goto fail;
    /* Lua leaves the main thread's extra space uninitialized and copies it into every new
     * thread; task.c keeps the running task there, so it must start out NULL */
    memset(lua_getextraspace(lua->L), 0, LUA_EXTRASPACE);
    lua_atpanic(lua->L, NULL);
    lua_pushcfunction(lua->L, sandbox_init);
    if (lua_pcall(lua->L, 0, 0, 0) != LUA_OK) {
        tn_log_error("script", "%s: cannot create sandbox: %s", lua->name,
                     lua_tostring(lua->L, -1));
        lua_close(lua->L);
        goto fail;
    }
    /* the limit applies from here on: the sandbox itself is not charged against it */
    lua->mem_limit = opts->memory_limit ? lua->mem_used + opts->memory_limit : 0;
    if (lua->instr_limit) lua_sethook(lua->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return lua;
fail:
    free(lua->name);
    free(lua->lib_dir);
    free(lua);
    return NULL;
}

void tn_lua_retain(tn_lua_t *lua)
{
    lua->refs++;
}

void tn_lua_release(tn_lua_t *lua)
{
    if (!lua || --lua->refs > 0) return;
    lua_close(lua->L);
    free(lua->name);
    free(lua->lib_dir);
    free(lua);
}

typedef struct {
    lua_CFunction open;
    void *ud;
    const char *name;
} preload_args_t;

static int preload_protected(lua_State *L)
{
    preload_args_t *a = lua_touserdata(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &g_preload_key);
    lua_createtable(L, 2, 0);
    lua_pushcfunction(L, a->open);
    lua_rawseti(L, -2, 1);
    lua_pushlightuserdata(L, a->ud);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, a->name);
    return 0;
}

int tn_lua_preload(tn_lua_t *lua, const char *name, lua_CFunction open, void *ud)
{
    preload_args_t a = {open, ud, name};
    lua_pushcfunction(lua->L, preload_protected);
    lua_pushlightuserdata(lua->L, &a);
    tn_lua_ctx_t prev = lua->ctx;
    tn_lua__enter(lua, TN_CTX_LOAD);
    int rc = lua_pcall(lua->L, 1, 0, 0);
    tn_lua__leave(lua, prev);
    if (rc != LUA_OK) {
        lua_pop(lua->L, 1);
        return TN_ENOMEM;
    }
    return 0;
}

/* Formats the error at the top of the stack into err and pops it. */
static void take_error(tn_lua_t *lua, int status, tn_buf_t *err)
{
    lua_State *L = lua->L;
    const char *msg = lua_tostring(L, -1);
    if (status == LUA_ERRMEM || (lua->mem_hit && msg && strstr(msg, "not enough memory"))) {
        tn_buf_printf(err, "%s: memory limit exceeded (%zu bytes)", lua->name,
                      lua->mem_limit ? lua->mem_limit : lua->mem_used);
    } else {
        tn_buf_puts(err, msg ? msg : "(error object is not a string)");
    }
    lua_pop(L, 1);
    tn_metric_inc(g_m.errors);
}

int tn_lua_dofile(tn_lua_t *lua, const char *path, tn_buf_t *err)
{
    lua_State *L = lua->L;
    FILE *f = fopen(path, "r");
    if (!f) {
        tn_buf_printf(err, "%s: cannot open file", path);
        return TN_EIO;
    }
    fclose(f);
    tn_lua_ctx_t prev = lua->ctx;
    tn_lua__enter(lua, TN_CTX_LOAD);
    lua_pushcfunction(L, tn_lua_traceback);
    int base = lua_gettop(L);
    int status = luaL_loadfilex(L, path, "t");
    if (status == LUA_OK) status = lua_pcall(L, 0, 1, base);
    tn_lua__leave(lua, prev);
    if (status != LUA_OK) {
        take_error(lua, status, err);
        lua_pop(L, 1); /* traceback handler */
        return TN_ESCRIPT;
    }
    lua_remove(L, base);
    return 0;
}

int tn_lua_pcall(tn_lua_t *lua, tn_lua_ctx_t ctx, int nargs, int nresults, tn_buf_t *err)
{
    lua_State *L = lua->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, tn_lua_traceback);
    lua_insert(L, base);
    tn_lua_ctx_t prev = lua->ctx;
    tn_lua__enter(lua, ctx);
    int status = lua_pcall(L, nargs, nresults, base);
    tn_lua__leave(lua, prev);
    if (status != LUA_OK) {
        take_error(lua, status, err);
        lua_remove(L, base);
        return TN_ESCRIPT;
    }
    lua_remove(L, base);
    return 0;
}

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify read-only table");
}

void tn_lua_readonly(lua_State *L)
{
    lua_newtable(L);          /* proxy */
    lua_createtable(L, 0, 3); /* mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}
