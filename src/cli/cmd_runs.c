/* cmd_runs.c - `tocsin runs`: the latest runbook runs of a running engine (GET /api/runs). */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"

static const char *g_help =
    "usage: tocsin runs [--url URL] [--limit N] [--json] [--run ID]\n"
    "\n"
    "Show the latest runbook runs of a running engine, newest first: when, the runbook and its\n"
    "level, who or what started it, its status (running, ok, failed, canceled, dry_run, or why\n"
    "it was refused: needs_approval, cooldown, max_concurrent, max_per_hour), its duration and\n"
    "steps. The audit stream (tocsin:audit) keeps every run; the engine keeps the latest\n"
    "automate.keep_runs in memory for this.\n"
    "\n"
    "  --url URL    the engine (default $TOCSIN_URL, else http://127.0.0.1:8080)\n"
    "  --limit N    at most N runs (default 20)\n"
    "  --run ID     one run, with each step's result\n"
    "  --json       the JSON the engine answers, as it is\n"
    "  -h, --help   this help\n"
    "\n"
    "Exit status: 0, 1 when the engine cannot be reached or answers an error, 2 on bad options.\n";

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    return tn_buf_append(arg, p, size * n) ? 0 : size * n;
}

static void when(json_int_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void print_run(const json_t *r, int steps)
{
    char t[32];
    when(json_integer_value(json_object_get(r, "started_ms")), t, sizeof t);
    const char *inc = str(r, "incident");
    printf("%-24s %s  %-18s L%lld  %-14s %-9s %8.0f ms  %s%s%s\n", str(r, "run"), t,
           str(r, "runbook"), (long long)json_integer_value(json_object_get(r, "level")),
           str(r, "status"), str(r, "origin"), json_number_value(json_object_get(r, "ms")),
           *inc ? "incident " : "", inc,
           json_is_true(json_object_get(r, "dry_run")) ? " (dry)" : "");
    const char *why = str(r, "reason");
    if (*why) printf("    refused: %s\n", why);
    const char *err = str(r, "error");
    if (*err) printf("    error: %s\n", err);
    if (!steps) return;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r, "steps"), i, s)
    {
        char *res = json_dumps(json_object_get(s, "result"), JSON_COMPACT);
        printf("    %2zu. %-14s %-7s %8.1f ms  %.160s\n", i + 1, str(s, "action"), str(s, "status"),
               json_number_value(json_object_get(s, "ms")), res ? res : "");
        free(res);
    }
}

int tn_cli_runs(int argc, char **argv)
{
    const char *url = getenv("TOCSIN_URL");
    const char *run = NULL;
    long limit = 20;
    int as_json = 0;
    if (!url || !*url) url = "http://127.0.0.1:8080";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(g_help, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            as_json = 1;
        } else if ((!strcmp(a, "--url") || !strcmp(a, "--limit") || !strcmp(a, "--run")) &&
                   i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--url")) {
                url = v;
            } else if (!strcmp(a, "--run")) {
                run = v;
            } else {
                char *end;
                limit = strtol(v, &end, 10);
                if (*end || limit < 1 || limit > 100000) {
                    fprintf(stderr, "tocsin runs: --limit must be from 1 to 100000\n");
                    return 2;
                }
            }
        } else {
            fprintf(stderr, "tocsin runs: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
    }
    char full[2048];
    snprintf(full, sizeof full, "%.1900s/api/runs?limit=%ld", url, run ? 100000 : limit);
    CURL *c = curl_easy_init();
    tn_buf_t body;
    tn_buf_init(&body);
    long status = 0;
    CURLcode cc = CURLE_FAILED_INIT;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, full);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
    }
    if (cc != CURLE_OK || status != 200) {
        fprintf(stderr, "tocsin runs: %s: %s\n", full,
                cc != CURLE_OK ? curl_easy_strerror(cc) : (body.data ? body.data : "HTTP error"));
        tn_buf_deinit(&body);
        return 1;
    }
    json_t *runs = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
    int rc = 0;
    if (!json_is_array(runs)) {
        fprintf(stderr, "tocsin runs: %s: not a list of runs\n", full);
        rc = 1;
    } else if (as_json && !run) {
        fwrite(body.data, 1, body.len, stdout);
        fputc('\n', stdout);
    } else {
        size_t i, shown = 0;
        json_t *r;
        json_array_foreach(runs, i, r)
        {
            if (run && strcmp(str(r, "run"), run)) continue;
            if (as_json) {
                char *s = json_dumps(r, JSON_COMPACT);
                if (s) puts(s);
                free(s);
            } else {
                print_run(r, run != NULL);
            }
            shown++;
        }
        if (run && !shown) {
            fprintf(stderr, "tocsin runs: no run %s among the latest\n", run);
            rc = 1;
        } else if (!shown && !as_json) {
            printf("no runs yet\n");
        }
    }
    json_decref(runs);
    tn_buf_deinit(&body);
    return rc;
}
