/* main.c - the tocsin command: subcommands, each with --help. */
#include "automate/engine.h"
#include "chatops/chatops.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/metrics.h"
#include "correlate/engine.h"
#include "engine/engine.h"
#include "engine/replay.h"
#include "script/bindings.h"
#include "script/conf.h"
#include "script/contract.h"
#include "script/runtime.h"
#include "script/services.h"

#include <lauxlib.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *g_usage =
    "usage: tocsin <command> [options]\n"
    "\n"
    "tocsin rings, finds why, and fixes what it can: an AIOps automation engine.\n"
    "\n"
    "commands:\n"
    "  serve     run the engine (ingest, detect, correlate, automate)\n"
    "  check     validate the configuration, rules, runbooks and chat commands\n"
    "  config    print every setting with its value and documentation\n"
    "  detect    score a CSV time series (timestamp,value...) with the anomaly detectors\n"
    "  replay    run a recorded event file through detection and the rules, print incidents\n"
    "  runs      show the latest runbook runs of a running engine (the audit trail)\n"
    "  chat      send a chat command to a running engine (incidents, run, approve, ...)\n"
    "  report    MTTD, MTTA and MTTR per service and per automation level over a period\n"
    "  test      run the runbook tests written in Lua (actions faked)\n"
    "  version   print the version\n"
    "\n"
    "Run 'tocsin <command> --help' for the options of a command.\n";

static const char *g_config_opts =
    "  -c, --config FILE      Lua configuration file (returns a table of settings)\n"
    "  --KEY=VALUE, --KEY VALUE\n"
    "                         override any setting, e.g. --http.port=9090 (see 'tocsin config')\n"
    "  --set KEY=VALUE        the same, spelled out\n"
    "  -h, --help             show this help\n";

/* Parses the options shared by commands that read the configuration. Positional arguments are
 * collected into pos (may be NULL when none are allowed). Returns 0, 1 for --help, or -1. */
static int parse_config_args(int argc, char **argv, tn_config_t *cfg, char ***pos, int *npos)
{
    const char *file = NULL;
    tn_buf_t err;
    tn_buf_init(&err);
    /* the file first, so that the command line overrides it */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
        if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tocsin: %s needs a file name\n", argv[i]);
                return -1;
            }
            file = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            file = argv[i] + 9;
        }
    }
    if (file && tn_config_load_lua(cfg, file, &err)) {
        fprintf(stderr, "tocsin: %s\n", err.data ? err.data : "cannot load configuration");
        tn_buf_deinit(&err);
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9)) continue;
        char key[256];
        const char *value = NULL;
        if (!strcmp(a, "--set")) {
            if (i + 1 >= argc || !strchr(argv[i + 1], '=')) {
                fprintf(stderr, "tocsin: --set needs KEY=VALUE\n");
                goto fail;
            }
            a = argv[++i];
            const char *eq = strchr(a, '=');
            snprintf(key, sizeof key, "%.*s", (int)(eq - a), a);
            value = eq + 1;
        } else if (!strncmp(a, "--", 2) && a[2]) {
            const char *eq = strchr(a, '=');
            if (eq) {
                snprintf(key, sizeof key, "%.*s", (int)(eq - a - 2), a + 2);
                value = eq + 1;
            } else {
                snprintf(key, sizeof key, "%s", a + 2);
                if (!tn_config_find(key)) {
                    fprintf(stderr, "tocsin: unknown option '%s' (see --help)\n", a);
                    goto fail;
                }
                if (i + 1 >= argc) {
                    fprintf(stderr, "tocsin: option '%s' needs a value\n", a);
                    goto fail;
                }
                value = argv[++i];
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tocsin: unknown option '%s' (see --help)\n", a);
            goto fail;
        } else {
            if (!pos) {
                fprintf(stderr, "tocsin: unexpected argument '%s'\n", a);
                goto fail;
            }
            (*pos)[(*npos)++] = argv[i];
            continue;
        }
        tn_buf_reset(&err);
        if (tn_config_set_text(cfg, key, value, &err)) {
            fprintf(stderr, "tocsin: command line: %s\n", err.data);
            goto fail;
        }
    }
    tn_buf_reset(&err);
    if (tn_config_validate(cfg, &err)) {
        fprintf(stderr, "tocsin: %s%s%s\n", file ? file : "", file ? ": " : "", err.data);
        goto fail;
    }
    tn_buf_deinit(&err);
    return 0;
fail:
    tn_buf_deinit(&err);
    return -1;
}

/* tocsin is often run from elsewhere than the source tree: a relative script directory that
 * does not exist here is looked for next to the executable (build/tocsin -> ../rules), in
 * ../share/tocsin, then in the source tree it was built from, so the shipped rules and their
 * Lua library (lua/) are found. */
static void find_script_dirs(tn_config_t *cfg)
{
    static const char *const keys[] = {"scripts.rules_dir", "scripts.runbooks_dir",
                                       "scripts.detection_dir", "scripts.lib_dir",
                                       "scripts.commands_dir"};
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const tn_conf_opt_t *o = tn_config_find(keys[i]);
        tn_buf_t v;
        tn_buf_init(&v);
        struct stat st;
        if (o && tn_config_get_text(cfg, o, &v) == 0 && v.data && v.data[0] != '/' &&
            stat(v.data, &st) != 0) {
            char up[3][4200];
            snprintf(up[0], sizeof up[0], "%s/..", exe);
            snprintf(up[1], sizeof up[1], "%s/../share/tocsin", exe);
            snprintf(up[2], sizeof up[2], "%s", TN_SOURCE_DIR); /* where it was built from */
            for (size_t k = 0; k < 3; k++) {
                char cand[8192];
                int w = snprintf(cand, sizeof cand, "%.4100s/%.4000s", up[k], v.data);
                if (w < 0 || (size_t)w >= sizeof cand) continue;
                if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
                    tn_config_set_str(cfg, o, cand);
                    break;
                }
            }
        }
        tn_buf_deinit(&v);
    }
}

static int cmd_serve(int argc, char **argv)
{
    tn_config_t cfg;
    if (tn_config_init(&cfg)) return 1;
    int rc = parse_config_args(argc, argv, &cfg, NULL, NULL);
    if (rc) {
        if (rc == 1)
            printf("usage: tocsin serve [options]\n\nRun the engine in the foreground until "
                   "SIGINT or SIGTERM.\nWith no redis.url it starts its own redis-server "
                   "under data_dir.\n\noptions:\n%s",
                   g_config_opts);
        tn_config_deinit(&cfg);
        return rc == 1 ? 0 : 2;
    }
    find_script_dirs(&cfg);
    tn_log_level_t lvl;
    tn_log_parse_level(cfg.log_level, &lvl);
    tn_log_set_level(lvl);
    rc = tn_engine_run(&cfg);
    tn_config_deinit(&cfg);
    tn_metrics_shutdown();
    return rc;
}

/* What a script is (0 rule, 1 runbook, 2 detection policy, 3 chat command): by its directory,
 * then by its content. */
static int script_kind(const char *path, const tn_config_t *cfg)
{
    size_t cl = strlen(cfg->scripts.commands_dir);
    if (strstr(path, "chatops/") ||
        (cl && !strncmp(path, cfg->scripts.commands_dir, cl) && path[cl] == '/'))
        return 3;
    size_t dl = strlen(cfg->scripts.detection_dir);
    if (strstr(path, "rules/detection/") ||
        (dl && !strncmp(path, cfg->scripts.detection_dir, dl) && path[dl] == '/'))
        return 2;
    if (strstr(path, "runbooks/")) return 1;
    if (strstr(path, "rules/")) return 0;
    if (tn_contract_line_of(path, "policies") > 1 || tn_contract_line_of(path, "defaults") > 1)
        return 2;
    return tn_contract_line_of(path, "run") > 1 || tn_contract_line_of(path, "level") > 1;
}

static int check_file(const char *path, const tn_config_t *cfg, int *nfiles)
{
    tn_buf_t err;
    tn_buf_init(&err);
    int kind = script_kind(path, cfg);
    int rc = kind == 3   ? tn_chatops_check_file(path, cfg, &err)
             : kind == 2 ? tn_engine_check_detection_file(path, cfg, &err)
             : kind == 1 ? tn_automate_check_file(path, cfg, &err)
                         : tn_correlate_check_file(path, cfg, &err);
    (*nfiles)++;
    if (rc) fprintf(stderr, "%s\n", err.data ? err.data : path);
    tn_buf_deinit(&err);
    return rc ? 1 : 0;
}

static int check_path(const char *path, const tn_config_t *cfg, int *nfiles)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "%s: no such file or directory\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) return check_file(path, cfg, nfiles);
    char **files;
    size_t n;
    if (tn_fs_list(path, ".lua", &files, &n)) {
        fprintf(stderr, "%s: cannot list directory\n", path);
        return 1;
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += check_file(files[i], cfg, nfiles);
    tn_fs_list_free(files, n);
    return bad;
}

static int cmd_check(int argc, char **argv)
{
    tn_config_t cfg;
    if (tn_config_init(&cfg)) return 1;
    char **pos = calloc((size_t)argc, sizeof *pos);
    int npos = 0;
    if (!pos) return 1;
    tn_log_set_level(TN_LOG_WARN);
    int rc = parse_config_args(argc, argv, &cfg, &pos, &npos);
    if (rc) {
        if (rc == 1)
            printf("usage: tocsin check [options] [PATH...]\n\n"
                   "Validate scripts without running the engine. Each PATH is a rule, runbook or\n"
                   "detection policy or chat command file, or a directory of them. Without PATH,\n"
                   "the configuration and the configured rules_dir, runbooks_dir, detection_dir\n"
                   "and commands_dir\n"
                   "are checked. Errors are printed as\n"
                   "'file:line: message'; the exit status is 1 when anything is wrong.\n\n"
                   "options:\n%s",
                   g_config_opts);
        free(pos);
        tn_config_deinit(&cfg);
        return rc == 1 ? 0 : 1;
    }
    find_script_dirs(&cfg);
    int bad = 0, nfiles = 0;
    if (npos == 0) {
        bad += check_path(cfg.scripts.rules_dir, &cfg, &nfiles);
        bad += check_path(cfg.scripts.runbooks_dir, &cfg, &nfiles);
        struct stat dst; /* the detection policies are optional */
        if (stat(cfg.scripts.detection_dir, &dst) == 0)
            bad += check_path(cfg.scripts.detection_dir, &cfg, &nfiles);
        if (stat(cfg.scripts.commands_dir, &dst) == 0) /* so are chat commands */
            bad += check_path(cfg.scripts.commands_dir, &cfg, &nfiles);
    }
    for (int i = 0; i < npos; i++)
        bad += check_path(pos[i], &cfg, &nfiles);
    if (bad)
        fprintf(stderr, "check: %d of %d file(s) have errors\n", bad, nfiles);
    else
        printf("check: %d file(s) ok\n", nfiles);
    free(pos);
    tn_config_deinit(&cfg);
    tn_metrics_shutdown();
    return bad ? 1 : 0;
}

static int cmd_config(int argc, char **argv)
{
    tn_config_t cfg;
    if (tn_config_init(&cfg)) return 1;
    int rc = parse_config_args(argc, argv, &cfg, NULL, NULL);
    if (rc == 0) {
        tn_buf_t out;
        tn_buf_init(&out);
        tn_config_dump_lua(&cfg, &out);
        fputs(out.data ? out.data : "", stdout);
        tn_buf_deinit(&out);
    } else if (rc == 1) {
        printf("usage: tocsin config [options]\n\nPrint every setting as a Lua configuration "
               "file: its documentation and\nthe value it has after the file and the command "
               "line are applied.\n\noptions:\n%s",
               g_config_opts);
    }
    tn_config_deinit(&cfg);
    return rc < 0 ? 2 : 0;
}

static const char *g_replay_help =
    "usage: tocsin replay FILE [--topology FILE] [--json] [--skip-bad] [options]\n"
    "\n"
    "Run a recorded event file (NDJSON: one alert, sample, deploy, config_change, log, span or\n"
    "topology object per line; docs/replay.md) through ingestion's normalization, detection\n"
    "and the correlation rules at full speed, with the events' own time as the clock, and\n"
    "print the incidents it produced with their ranked root-cause candidates. For testing\n"
    "rules offline and for post-mortems. FILE '-' reads standard input.\n"
    "\n"
    "It runs its own redis-server in a temporary directory (removed at the end), never the\n"
    "configured one, and does not run runbooks: the ones the rules ask for are reported.\n"
    "\n"
    "  --topology FILE        the service graph (CMDB-style JSON, as topology.file)\n"
    "  --json                 one JSON object per incident on stdout (alerts, transitions,\n"
    "                         ranked root causes with scores and evidence, runbooks asked for);\n"
    "                         the summary goes to stderr\n"
    "  --skip-bad             skip malformed lines (counted) instead of stopping at the first\n"
    "  -v, --verbose          log what happens (info level; default: warnings only)\n"
    "\n"
    "Exit status: 0, 1 when the file is unreadable or a line is malformed (named as\n"
    "FILE:LINE: reason), 2 on bad options.\n"
    "\n"
    "options:\n";

static int cmd_replay(int argc, char **argv)
{
    tn_replay_opts_t ro = {.out = stdout};
    const char *topology = NULL;
    int verbose = 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest),
         **pos = calloc((size_t)argc + 1, sizeof *pos);
    int nrest = 0, npos = 0;
    if (!rest || !pos) return 1;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            ro.json = 1;
        } else if (!strcmp(a, "--skip-bad")) {
            ro.skip_bad = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "--topology") || !strncmp(a, "--topology=", 11)) {
            if (a[10] == '=') {
                topology = a + 11;
            } else if (i + 1 < argc) {
                topology = argv[++i];
            } else {
                fprintf(stderr, "tocsin replay: --topology needs a file name\n");
                free(rest), free(pos);
                return 2;
            }
        } else {
            rest[nrest++] = argv[i];
        }
    }
    tn_config_t cfg;
    if (tn_config_init(&cfg)) return 1;
    int rc = parse_config_args(nrest, rest, &cfg, &pos, &npos);
    free(rest);
    if (rc == 0 && npos != 1) {
        fprintf(stderr, "tocsin replay: give one event file (see --help)\n");
        rc = -1;
    }
    if (rc) {
        if (rc == 1) printf("%s%s", g_replay_help, g_config_opts);
        free(pos);
        tn_config_deinit(&cfg);
        return rc == 1 ? 0 : 2;
    }
    ro.path = pos[0];
    free(pos);
    const char *tmpdir = getenv("TMPDIR");
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%.400s/tocsin-replay.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("tocsin replay: mkdtemp");
        tn_config_deinit(&cfg);
        return 1;
    }
    tn_buf_t err;
    tn_buf_init(&err);
    /* its own redis-server and data, never the configured ones */
    if (tn_config_set_text(&cfg, "redis.url", "", &err) ||
        tn_config_set_text(&cfg, "data_dir", tmp, &err) ||
        (topology && tn_config_set_text(&cfg, "topology.file", topology, &err))) {
        fprintf(stderr, "tocsin replay: %s\n", err.data ? err.data : "bad setting");
        tn_buf_deinit(&err);
        tn_config_deinit(&cfg);
        return 2;
    }
    tn_buf_deinit(&err);
    if (topology && access(topology, R_OK)) {
        fprintf(stderr, "tocsin replay: %s: %s\n", topology, strerror(errno));
        rmdir(tmp);
        tn_config_deinit(&cfg);
        return 1;
    }
    find_script_dirs(&cfg);
    tn_log_level_t lvl = TN_LOG_WARN;
    if (verbose) tn_log_parse_level("info", &lvl);
    tn_log_set_level(lvl);
    rc = tn_engine_replay(&cfg, &ro);
    tn_fs_rmtree(tmp);
    tn_config_deinit(&cfg);
    tn_metrics_shutdown();
    return rc;
}

/* ---- tocsin test ------------------------------------------------------------------------------
 */

typedef struct {
    const tn_config_t *cfg;
    char test_dir[4096];
} testfs_t;

/* Whether path may be read by a test: under the runbooks, rules, Lua library or test file's
 * directory, without "..". */
static int test_readable(const testfs_t *t, const char *path)
{
    if (strstr(path, "..")) return 0;
    const char *dirs[] = {t->cfg->scripts.runbooks_dir, t->cfg->scripts.rules_dir,
                          t->cfg->scripts.lib_dir, t->test_dir};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        size_t n = strlen(dirs[i]);
        if (n && !strncmp(path, dirs[i], n) && path[n] == '/') return 1;
    }
    return 0;
}

static int l_testfs_read(lua_State *L)
{
    const testfs_t *t = lua_touserdata(L, lua_upvalueindex(1));
    const char *path = luaL_checkstring(L, 1);
    if (!test_readable(t, path))
        return luaL_error(L, "testfs.read: %s is not under the scripts or the test's directory",
                          path);
    FILE *f = fopen(path, "rb");
    if (!f) return luaL_error(L, "testfs.read: %s: %s", path, strerror(errno));
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        luaL_addlstring(&b, buf, n);
    fclose(f);
    luaL_pushresult(&b);
    return 1;
}

static int l_testfs_dirs(lua_State *L)
{
    const testfs_t *t = lua_touserdata(L, lua_upvalueindex(1));
    lua_createtable(L, 0, 4);
    lua_pushstring(L, t->cfg->scripts.lib_dir);
    lua_setfield(L, -2, "lib");
    lua_pushstring(L, t->cfg->scripts.runbooks_dir);
    lua_setfield(L, -2, "runbooks");
    lua_pushstring(L, t->cfg->scripts.rules_dir);
    lua_setfield(L, -2, "rules");
    lua_pushstring(L, t->test_dir);
    lua_setfield(L, -2, "test_dir");
    return 1;
}

static int open_testfs(lua_State *L)
{
    static const luaL_Reg fns[] = {{"read", l_testfs_read}, {"dirs", l_testfs_dirs}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Runs one test file; counts its tests and failures. */
int tn_cli_open_testrules(lua_State *L); /* test_rules.c */

static void run_test_file(const tn_config_t *cfg, const char *path, int *ntests, int *nfailed)
{
    testfs_t tfs = {.cfg = cfg};
    snprintf(tfs.test_dir, sizeof tfs.test_dir, "%s", path);
    char *slash = strrchr(tfs.test_dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(tfs.test_dir, sizeof tfs.test_dir, ".");
    tn_script_services_t svc = {.cfg = cfg};
    tn_lua_opts_t lo = {.name = path,
                        .lib_dir = cfg->scripts.lib_dir,
                        .memory_limit = (size_t)cfg->scripts.memory_limit,
                        .instruction_limit = 0};
    tn_lua_t *lua = tn_lua_create(&lo);
    tn_buf_t err;
    tn_buf_init(&err);
    if (!lua || tn_bind_all(lua, &svc) || tn_lua_preload(lua, "tocsin.testfs", open_testfs, &tfs) ||
        tn_lua_preload(lua, "tocsin.testrules", tn_cli_open_testrules, (void *)cfg)) {
        printf("not ok - %s: cannot set up a Lua state\n", path);
        (*ntests)++, (*nfailed)++;
        goto out;
    }
    lua_State *L = tn_lua_state(lua);
    if (tn_lua_dofile(lua, path, &err) || !lua_istable(L, -1)) {
        printf("not ok - %s: %s\n", path, err.len ? err.data : "does not return a table of tests");
        (*ntests)++, (*nfailed)++;
        goto out;
    }
    int tests = lua_gettop(L);
    const char *names[512];
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, tests) && n < 512) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_isfunction(L, -1))
            names[n++] = lua_tostring(L, -2); /* anchored: keys of the table */
        lua_pop(L, 1);
    }
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        lua_getfield(L, tests, names[i]);
        tn_buf_reset(&err);
        (*ntests)++;
        if (tn_lua_pcall(lua, TN_CTX_TASK, 0, 0, &err)) {
            (*nfailed)++;
            char *nl = err.data ? strstr(err.data, "\nstack traceback") : NULL;
            printf("not ok - %s: %s\n  %.*s\n", path, names[i],
                   nl ? (int)(nl - err.data) : (int)err.len, err.data ? err.data : "?");
        } else {
            printf("ok - %s: %s\n", path, names[i]);
        }
    }
    if (!n) printf("# %s: no tests (a table of named functions)\n", path);
out:
    tn_buf_deinit(&err);
    if (lua) tn_lua_release(lua);
}

static int collect_tests(const char *path, char ***list, size_t *n, size_t *cap)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "tocsin test: %s: no such file or directory\n", path);
        return 1;
    }
    char **files = NULL;
    size_t nf = 0;
    if (S_ISDIR(st.st_mode)) {
        if (tn_fs_list(path, "_test.lua", &files, &nf)) return 1;
    } else {
        files = malloc(sizeof *files);
        if (!files || !(files[0] = strdup(path))) {
            free(files);
            return 1;
        }
        nf = 1;
    }
    for (size_t i = 0; i < nf; i++) {
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 16;
            char **v = realloc(*list, c * sizeof *v);
            if (!v) {
                tn_fs_list_free(files, nf);
                return 1;
            }
            *list = v;
            *cap = c;
        }
        (*list)[(*n)++] = files[i];
        files[i] = NULL;
    }
    tn_fs_list_free(files, nf);
    return 0;
}

static int cmd_test(int argc, char **argv)
{
    tn_config_t cfg;
    if (tn_config_init(&cfg)) return 1;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) return 1;
    tn_log_set_level(TN_LOG_WARN);
    int rc = parse_config_args(argc, argv, &cfg, &pos, &npos);
    if (rc) {
        if (rc == 1)
            printf(
                "usage: tocsin test [options] [PATH...]\n\n"
                "Run runbook and rule tests written in Lua (files *_test.lua;\n"
                "docs/runbooks.md, \"Testing\"): each returns a table of named test functions\n"
                "that run runbooks with tocsin.testing, every action a recorded fake, or feed\n"
                "signals to the rules of a directory (t.rules: the real correlation engine on a\n"
                "simulated clock, nothing leaving the process), and assert on what they did.\n"
                "Without PATH: <runbooks_dir>/tests and <rules_dir>/tests. Prints ok / not ok\n"
                "per test; the exit status is 1 when a test fails.\n\noptions:\n%s",
                g_config_opts);
        free(pos);
        tn_config_deinit(&cfg);
        return rc == 1 ? 0 : 2;
    }
    find_script_dirs(&cfg);
    char **files = NULL;
    size_t nfiles = 0, cap = 0;
    int bad = 0;
    if (npos == 0) { /* the runbooks' tests, and the rules' when there are any */
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/tests", cfg.scripts.runbooks_dir);
        bad |= collect_tests(dir, &files, &nfiles, &cap);
        struct stat st;
        snprintf(dir, sizeof dir, "%s/tests", cfg.scripts.rules_dir);
        if (stat(dir, &st) == 0) bad |= collect_tests(dir, &files, &nfiles, &cap);
    }
    for (int i = 0; i < npos; i++)
        bad |= collect_tests(pos[i], &files, &nfiles, &cap);
    int ntests = 0, nfailed = 0;
    for (size_t i = 0; i < nfiles; i++)
        run_test_file(&cfg, files[i], &ntests, &nfailed);
    printf("%d test(s) in %zu file(s): %d passed, %d failed\n", ntests, nfiles, ntests - nfailed,
           nfailed);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    free(pos);
    tn_config_deinit(&cfg);
    tn_metrics_shutdown();
    return bad || nfailed || !ntests ? 1 : 0;
}

int tn_cli_detect(int argc, char **argv); /* cmd_detect.c */
int tn_cli_runs(int argc, char **argv);   /* cmd_runs.c */
int tn_cli_chat(int argc, char **argv);   /* cmd_chat.c */
int tn_cli_report(int argc, char **argv); /* cmd_report.c */

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: tocsin version\n\nPrint the version of tocsin.\n");
        return 0;
    }
    printf("tocsin %s\n", TN_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        fputs(g_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) return cmd_version(1, argv);
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"serve", cmd_serve},      {"check", cmd_check},   {"config", cmd_config},
                {"detect", tn_cli_detect}, {"replay", cmd_replay}, {"runs", tn_cli_runs},
                {"test", cmd_test},        {"chat", tn_cli_chat},  {"report", tn_cli_report},
                {"version", cmd_version}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tocsin: unknown command '%s'\n\n%s", argv[1], g_usage);
    return 2;
}
