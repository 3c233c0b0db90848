/* cmd_report.c - `tocsin report`: MTTD, MTTA and MTTR per service and per automation level over
 * a period, from the incident history in Redis (store/history.h, automate/report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "automate/report.h"
#include "chatops/args.h"
#include "core/config.h"
#include "core/sample.h"
#include "ingest/normalize.h"
#include "script/conf.h"
#include "store/history.h"

static const char *g_help =
    "usage: tocsin report [-c FILE] [--redis URL] [--since WHEN] [--until WHEN] [--json]\n"
    "\n"
    "What automation changed: the mean time to detect (MTTD: from an incident's first signal\n"
    "to its opening), to acknowledge (MTTA) and to resolve (MTTR: from the onset to the\n"
    "resolution), with the median and 90th percentile time to resolve, per service and per\n"
    "automation level (the highest level of a runbook that ran for the incident: none, 1\n"
    "enrich, 2 diagnose, 3 remediate, 4 prevent), for the incidents opened in the period. It\n"
    "reads the incident hashes and the audit stream tocsin keeps in Redis.\n"
    "\n"
    "  -c, --config FILE  the engine's configuration: its redis.url (or the embedded server\n"
    "                     under data_dir, which runs while tocsin runs) and streams.prefix\n"
    "  --redis URL        redis://host:port[/db] or unix:/path (overrides the configuration)\n"
    "  --since WHEN       a duration back from now (7d, 24h, 90m) or an RFC 3339 time\n"
    "                     (default 7d)\n"
    "  --until WHEN       the same (default now)\n"
    "  --json             the report as JSON\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0, 1 when Redis cannot be read, 2 on bad options.\n";

/* A time: a duration back from now, or RFC 3339. */
static int when(const char *s, int64_t now, int64_t *out)
{
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms;
    int rc = 0;
    if (tn_args_duration(s, &ms, &err) == 0)
        *out = now - ms;
    else if (tn_buf_reset(&err), tn_norm_ts_rfc3339(s, &ms, &err) == 0)
        *out = ms;
    else
        rc = -1;
    tn_buf_deinit(&err);
    return rc;
}

int tn_cli_report(int argc, char **argv)
{
    const char *file = NULL, *url = NULL, *since_s = "7d", *until_s = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(g_help, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            as_json = 1;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--redis") ||
                    !strcmp(a, "--since") || !strcmp(a, "--until")) &&
                   i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--redis"))
                url = v;
            else if (!strcmp(a, "--since"))
                since_s = v;
            else if (!strcmp(a, "--until"))
                until_s = v;
            else
                file = v;
        } else {
            fprintf(stderr, "tocsin report: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
    }
    int64_t now = tn_now_ms(), since, until = now;
    if (when(since_s, now, &since) || (until_s && when(until_s, now, &until)) || since > until) {
        fprintf(stderr,
                "tocsin report: --since and --until take a duration (7d) or an RFC 3339 time, "
                "since before until\n");
        return 2;
    }
    tn_config_t cfg;
    if (tn_config_init(&cfg)) return 1;
    tn_buf_t err;
    tn_buf_init(&err);
    if (file && tn_config_load_lua(&cfg, file, &err)) {
        fprintf(stderr, "tocsin report: %s\n", err.data ? err.data : file);
        tn_buf_deinit(&err);
        tn_config_deinit(&cfg);
        return 2;
    }
    char embedded[4200];
    if (!url) {
        snprintf(embedded, sizeof embedded, "unix:%.4000s/redis.sock", cfg.data_dir);
        url = *cfg.redis.url ? cfg.redis.url : embedded;
    }
    json_t *inc = NULL, *runs = NULL;
    int rc = tn_history_load(url, cfg.streams.prefix, since, until, 10000, &inc, &runs, &err);
    if (rc) {
        fprintf(stderr, "tocsin report: %s%s\n", err.data ? err.data : "cannot read Redis",
                url == embedded ? " (is tocsin running? its embedded redis-server runs with it; "
                                  "or give --redis)"
                                : "");
        tn_buf_deinit(&err);
        tn_config_deinit(&cfg);
        return 1;
    }
    json_t *rep = tn_report_build(inc, runs, since, until);
    json_decref(inc);
    json_decref(runs);
    tn_buf_t out;
    tn_buf_init(&out);
    rc = 0;
    if (!rep) {
        fprintf(stderr, "tocsin report: out of memory\n");
        rc = 1;
    } else if (as_json) {
        char *s = json_dumps(rep, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (s) puts(s);
        free(s);
    } else {
        char a[32], b[32];
        time_t ts = (time_t)(since / 1000), tu = (time_t)(until / 1000);
        struct tm tm;
        strftime(a, sizeof a, "%Y-%m-%d %H:%M", gmtime_r(&ts, &tm));
        strftime(b, sizeof b, "%Y-%m-%d %H:%M", gmtime_r(&tu, &tm));
        printf("Incidents opened from %s to %s UTC: %lld\n\n", a, b,
               (long long)json_integer_value(
                   json_object_get(json_object_get(rep, "overall"), "incidents")));
        if (tn_report_table(rep, &out) == 0 && out.data) fputs(out.data, stdout);
    }
    json_decref(rep);
    tn_buf_deinit(&out);
    tn_buf_deinit(&err);
    tn_config_deinit(&cfg);
    return rc;
}
