#include "core/config.h"
#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(tn_config_t, f)
#define UNCHECKED 1, 0

static const tn_conf_opt_t g_schema[] = {
    {"data_dir", TN_CONF_STR, OFF(data_dir), "var/tocsin", UNCHECKED,
     "Directory for the engine's own data (the embedded redis-server lives here)."},
    {"log_level", TN_CONF_STR, OFF(log_level), "info", UNCHECKED,
     "Least severe log level printed: debug, info, warn or error."},
    {"engine_name", TN_CONF_STR, OFF(engine_name), "tocsin-1", UNCHECKED,
     "This engine's consumer name in the Redis consumer groups."},
    {"http.listen", TN_CONF_STR, OFF(http.listen), "127.0.0.1", UNCHECKED,
     "Address the HTTP server binds to."},
    {"http.port", TN_CONF_INT, OFF(http.port), "8080", 0, 65535,
     "TCP port of the HTTP server (0 picks a free port and logs it)."},
    {"http.max_body_bytes", TN_CONF_INT, OFF(http.max_body_bytes), "8388608", 1, 1073741824,
     "Largest accepted request body; larger bodies get 413."},
    {"http.max_header_bytes", TN_CONF_INT, OFF(http.max_header_bytes), "16384", 256, 1048576,
     "Largest accepted request line plus headers; more gets 431."},
    {"http.read_timeout_ms", TN_CONF_INT, OFF(http.read_timeout_ms), "10000", 10, 3600000,
     "Time allowed from the first byte of a request to its last; slower clients get 408."},
    {"http.keepalive_timeout_ms", TN_CONF_INT, OFF(http.keepalive_timeout_ms), "30000", 10, 3600000,
     "Idle keep-alive connections are closed after this long."},
    {"http.shutdown_grace_ms", TN_CONF_INT, OFF(http.shutdown_grace_ms), "10000", 0, 600000,
     "On SIGTERM/SIGINT, requests already being read or answered get this long to finish (no new "
     "connections meanwhile; a second signal stops at once); 0: close them at once."},
    {"http.max_connections", TN_CONF_INT, OFF(http.max_connections), "1024", 1, 1000000,
     "Most simultaneous client connections."},
    {"redis.url", TN_CONF_STR, OFF(redis.url), "", UNCHECKED,
     "redis://host:port[/db] or unix:/path.sock. Empty: start an embedded redis-server "
     "under data_dir."},
    {"redis.server_bin", TN_CONF_STR, OFF(redis.server_bin), "redis-server", UNCHECKED,
     "The redis-server program used for the embedded default."},
    {"redis.connect_timeout_ms", TN_CONF_INT, OFF(redis.connect_timeout_ms), "2000", 10, 600000,
     "Deadline for connecting to Redis."},
    {"redis.command_timeout_ms", TN_CONF_INT, OFF(redis.command_timeout_ms), "5000", 10, 600000,
     "Deadline for one Redis command; a late reply drops and re-opens the connection."},
    {"streams.prefix", TN_CONF_STR, OFF(streams.prefix), "tocsin", UNCHECKED,
     "Prefix of every Redis key the engine writes."},
    {"streams.maxlen", TN_CONF_INT, OFF(streams.maxlen), "1000000", 1000, 1e12,
     "Approximate length cap (XADD MAXLEN ~) of each stream."},
    {"streams.read_batch", TN_CONF_INT, OFF(streams.read_batch), "512", 1, 100000,
     "Entries read from a stream per XREADGROUP."},
    {"streams.read_block_ms", TN_CONF_INT, OFF(streams.read_block_ms), "1000", 1, 60000,
     "How long one XREADGROUP waits for new entries."},
    {"streams.partitions", TN_CONF_INT, OFF(streams.partitions), "4", 1, 1024,
     "Partitions of the sample, log and span streams (each a Redis Cluster hash tag {p})."},
    {"streams.batch_max", TN_CONF_INT, OFF(streams.batch_max), "256", 1, 100000,
     "Samples packed into one stream entry (1: one entry per sample)."},
    {"ingest.max_inflight", TN_CONF_INT, OFF(ingest.max_inflight), "1000000", 1, 1e9,
     "Records accepted but not yet confirmed by Redis before inputs answer 429 (TCP: stop "
     "reading)."},
    {"ingest.max_records", TN_CONF_INT, OFF(ingest.max_records), "1000000", 1, 1e9,
     "Most records in one request."},
    {"ingest.max_decoded_bytes", TN_CONF_INT, OFF(ingest.max_decoded_bytes), "67108864", 1024, 1e10,
     "Largest body after gzip decoding (a bigger one gets 413)."},
    {"ingest.label_aliases", TN_CONF_LIST, OFF(ingest.label_aliases), "", UNCHECKED,
     "FROM=TO label renames at ingestion (in the Lua file also a table { [\"cloud.region\"] = "
     "\"region\" }), looked up before the built-in ones (service.name=service, host.name=host, "
     "k8s.pod.name=pod, ...: docs/ingestion.md)."},
    {"ingest.parse_threads", TN_CONF_INT, OFF(ingest.parse_threads), "2", 0, 64,
     "Request bodies of 32 KiB or more decoded and parsed at once on worker threads (more, and "
     "all while Redis is 4096+ commands behind, are parsed on the event loop); 0: all on the "
     "event loop."},
    {"ingest.influx_tcp", TN_CONF_STR, OFF(ingest.influx_tcp), "", UNCHECKED,
     "host:port of the Influx line protocol TCP listener (empty: off)."},
    {"ingest.influx_tcp_idle_ms", TN_CONF_INT, OFF(ingest.influx_tcp_idle_ms), "300000", 100,
     86400000, "An Influx TCP connection that sends nothing this long is closed."},
    {"ingest.influx_tcp_max_conns", TN_CONF_INT, OFF(ingest.influx_tcp_max_conns), "1024", 1,
     1000000, "Influx TCP connections beyond this many are closed at once."},
    {"ingest.scrape_targets", TN_CONF_LIST, OFF(ingest.scrape_targets), "", UNCHECKED,
     "Prometheus endpoints scraped every scrape_interval_ms (http:// URLs)."},
    {"ingest.scrape_interval_ms", TN_CONF_INT, OFF(ingest.scrape_interval_ms), "15000", 100,
     86400000, "Scrape interval."},
    {"ingest.scrape_timeout_ms", TN_CONF_INT, OFF(ingest.scrape_timeout_ms), "10000", 10, 86400000,
     "A scrape not answered in full this soon fails (up = 0); at most the interval."},
    {"ingest.scrape_max_bytes", TN_CONF_INT, OFF(ingest.scrape_max_bytes), "67108864", 1024, 1e10,
     "A scrape answer larger than this fails (up = 0)."},
    {"ingest.redis_fed", TN_CONF_BOOL, OFF(ingest.redis_fed), "true", UNCHECKED,
     "Read the Redis-fed input streams <prefix>:in:samples, :in:events and :in:raw."},
    {"topology.file", TN_CONF_STR, OFF(topology.file), "", UNCHECKED,
     "CMDB-style JSON file of services and dependencies (empty: learn from traces only)."},
    {"retention.hot_s", TN_CONF_INT, OFF(retention.hot_s), "1296000", 60, 1e10,
     "Age of raw samples, logs and spans kept (default 15 days)."},
    {"retention.warm_s", TN_CONF_INT, OFF(retention.warm_s), "7776000", 60, 1e10,
     "Age of 5-minute rollups kept (default 90 days)."},
    {"retention.cold_s", TN_CONF_INT, OFF(retention.cold_s), "31536000", 60, 1e10,
     "Age of 1-hour rollups kept (default 1 year)."},
    {"detect.enabled", TN_CONF_BOOL, OFF(detect.enabled), "true", UNCHECKED,
     "Read the sample streams and score them here. false makes an ingest-only engine: inputs "
     "write to the streams, and other engines sharing the Redis and streams.prefix score them."},
    {"detect.logs_traces", TN_CONF_BOOL, OFF(detect.logs_traces), "true", UNCHECKED,
     "Mine log templates and score span latency and errors (the logs and spans streams)."},
    {"detect.interval_ms", TN_CONF_INT, OFF(detect.interval_ms), "60000", 1000, 86400000,
     "Interval of log template rates and of span statistics per service and call edge."},
    {"detect.entities", TN_CONF_BOOL, OFF(detect.entities), "true", UNCHECKED,
     "Score the series that share one label set together (isolation forest and Mahalanobis "
     "distance over their rows)."},
    {"detect.entities_max", TN_CONF_INT, OFF(detect.entities_max), "100", 1, 1000000,
     "Most entities scored together (each holds a forest of about 200 KB)."},
    {"detect.zscore.window", TN_CONF_INT, OFF(zscore.window), "60", 3, 100000,
     "Detection defaults: samples in the rolling windows (z-score, MAD, IQR)."},
    {"detect.zscore.threshold", TN_CONF_NUM, OFF(zscore.threshold), "4", 0.5, 1000,
     "Detection defaults: combined |z| at or above this opens an anomaly."},
    {"detect.zscore.min_samples", TN_CONF_INT, OFF(zscore.min_samples), "20", 2, 100000,
     "Detection defaults: no verdict before this many samples of a series (warm-up)."},
    {"correlate.auto_resolve_s", TN_CONF_INT, OFF(correlate.auto_resolve_s), "900", 0, 1e9,
     "An incident with no new alert for this long is resolved by tocsin (0: never)."},
    {"correlate.clear_s", TN_CONF_INT, OFF(correlate.clear_s), "300", 0, 1e9,
     "An incident whose alerts have all resolved, with nothing new for this long, is resolved "
     "(0: only correlate.auto_resolve_s resolves)."},
    {"correlate.reopen_window_s", TN_CONF_INT, OFF(correlate.reopen_window_s), "600", 0, 1e9,
     "An alert this soon after its incident was resolved reopens it (flap suppression)."},
    {"scripts.rules_dir", TN_CONF_STR, OFF(scripts.rules_dir), "rules", UNCHECKED,
     "Directory of correlation rules (*.lua)."},
    {"scripts.runbooks_dir", TN_CONF_STR, OFF(scripts.runbooks_dir), "runbooks", UNCHECKED,
     "Directory of runbooks (*.lua)."},
    {"scripts.detection_dir", TN_CONF_STR, OFF(scripts.detection_dir), "rules/detection", UNCHECKED,
     "Directory of detection policies (*.lua): which detectors score which series."},
    {"scripts.lib_dir", TN_CONF_STR, OFF(scripts.lib_dir), "lua", UNCHECKED,
     "Directory of the Lua library scripts require (tocsin/*.lua)."},
    {"scripts.memory_limit", TN_CONF_INT, OFF(scripts.memory_limit), "67108864", 1048576, 1e12,
     "Memory ceiling of one script state, in bytes."},
    {"scripts.instruction_limit", TN_CONF_INT, OFF(scripts.instruction_limit), "10000000", 1000,
     1e15, "Instructions one rule callback may run before it is stopped."},
    {"scripts.exec_allow", TN_CONF_LIST, OFF(scripts.exec_allow), "", UNCHECKED,
     "Programs runbooks may run with exec (absolute paths or names on PATH)."},
    {"scripts.error_webhook", TN_CONF_STR, OFF(scripts.error_webhook), "", UNCHECKED,
     "URL that gets a JSON POST when a script fails to (re)load (empty: log only)."},
    {"scripts.commands_dir", TN_CONF_STR, OFF(scripts.commands_dir), "chatops", UNCHECKED,
     "Directory of ChatOps commands (*.lua, chatops.command{...})."},
    {"automate.max_level", TN_CONF_INT, OFF(automate.max_level), "2", 1, 4,
     "The highest runbook level (1 enrich, 2 diagnose, 3 remediate, 4 prevent) that runs "
     "without a human: a higher one started by a rule is refused (audited); a person starts it "
     "with approved_by (POST /api/v1/runs)."},
    {"automate.dry_run", TN_CONF_BOOL, OFF(automate.dry_run), "false", UNCHECKED,
     "Every runbook run is a dry run: each action is logged and audited, none performed."},
    {"automate.keep_runs", TN_CONF_INT, OFF(automate.keep_runs), "200", 1, 100000,
     "Runs kept in memory for GET /api/runs and tocsin runs (the audit stream keeps them all)."},
    {"notify.webhook_url", TN_CONF_STR, OFF(notify.webhook_url), "", UNCHECKED,
     "Default webhook that runbooks post notifications to (empty: none)."},
    {"notify.timeout_ms", TN_CONF_INT, OFF(notify.timeout_ms), "10000", 10, 600000,
     "Deadline of one outbound HTTP call."},
    {"web.chart_series", TN_CONF_INT, OFF(web.chart_series), "1000", 0, 1e6,
     "Series whose latest points (value and expected band) are kept for charts (GET "
     "/api/v1/series/SID, the web page); once full, anomalous series take the place of the "
     "others. 0: no charts."},
    {"web.chart_points", TN_CONF_INT, OFF(web.chart_points), "240", 10, 100000,
     "Points kept per charted series."},
    {"grafana.url", TN_CONF_STR, OFF(grafana.url), "", UNCHECKED,
     "Grafana's base URL (e.g. http://grafana:3000): incidents opening and resolving are posted "
     "there as annotations (empty: none)."},
    {"grafana.token", TN_CONF_STR, OFF(grafana.token), "", UNCHECKED,
     "A Grafana service account token (Editor) for the annotations API (sent as Bearer)."},
    {"grafana.dashboard_uid", TN_CONF_STR, OFF(grafana.dashboard_uid), "", UNCHECKED,
     "Put the annotations on this dashboard only (empty: organization-wide annotations)."},
    {"grafana.tags", TN_CONF_LIST, OFF(grafana.tags), "tocsin", UNCHECKED,
     "Tags on every annotation (the incident's service, severity and state are added)."},
    {"metrics.anomaly_scores", TN_CONF_BOOL, OFF(metrics.anomaly_scores), "false", UNCHECKED,
     "Export each series' latest anomaly score in /metrics (tocsin_anomaly_score), up to "
     "metrics.anomaly_series_max series: opt-in, it is one time series per series."},
    {"metrics.anomaly_series_max", TN_CONF_INT, OFF(metrics.anomaly_series_max), "500", 1, 100000,
     "The most series tocsin_anomaly_score exports (the highest scores first)."},
    {"chatops.slack.signing_secret", TN_CONF_STR, OFF(chatops.slack_signing_secret), "", UNCHECKED,
     "The Slack app's signing secret: requests to /chatops/slack/* must be signed with it "
     "(empty: Slack requests are refused)."},
    {"chatops.slack.max_skew_s", TN_CONF_INT, OFF(chatops.slack_max_skew_s), "300", 1, 86400,
     "A Slack request whose timestamp is further than this from now is refused (replays)."},
    {"chatops.mattermost.tokens", TN_CONF_LIST, OFF(chatops.mattermost_tokens), "", UNCHECKED,
     "Tokens of the Mattermost slash commands and outgoing webhooks that may call tocsin "
     "(empty: Mattermost requests are refused)."},
    {"chatops.api_tokens", TN_CONF_LIST, OFF(chatops.api_tokens), "", UNCHECKED,
     "USER=TOKEN pairs for POST /api/v1/chat and `tocsin chat` (in the Lua file also a table "
     "{ alice = \"token\" }); empty: the chat API is refused."},
    {"chatops.users", TN_CONF_LIST, OFF(chatops.users), "", UNCHECKED,
     "USER=ROLE pairs (user name or id; roles viewer, responder, operator, admin)."},
    {"chatops.channels", TN_CONF_LIST, OFF(chatops.channels), "", UNCHECKED,
     "CHANNEL=ROLE pairs (channel name or id): everyone there has at least this role."},
    {"chatops.default_role", TN_CONF_STR, OFF(chatops.default_role), "viewer", UNCHECKED,
     "The role of a user and channel not listed (viewer, responder, operator, admin, or none)."},
    {"chatops.command_roles", TN_CONF_LIST, OFF(chatops.command_roles), "", UNCHECKED,
     "COMMAND=ROLE pairs overriding the role a command needs (e.g. silence=operator)."},
    {"chatops.level_roles", TN_CONF_LIST, OFF(chatops.level_roles),
     "1=responder,2=responder,3=operator,4=admin", UNCHECKED,
     "LEVEL=ROLE pairs: the role needed to run, and to approve, a runbook of each level "
     "(a dry run needs responder)."},
    {"chatops.reply_timeout_ms", TN_CONF_INT, OFF(chatops.reply_timeout_ms), "2500", 100, 2900,
     "A slash command not answered within this long is answered \"working on it\" and its "
     "result sent later to the response_url (Slack allows 3 s)."},
    {"chatops.command_timeout_s", TN_CONF_INT, OFF(chatops.command_timeout_s), "60", 1, 3600,
     "A command written in Lua is stopped after this long."},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

const char *const tn_config_roles[4] = {"viewer", "responder", "operator", "admin"};

int tn_config_role_rank(const char *role)
{
    for (int i = 0; role && i < 4; i++)
        if (!strcmp(role, tn_config_roles[i])) return i;
    return -1;
}

const char *tn_config_pair_get(const tn_conf_list_t *l, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < l->n; i++)
        if (!strncmp(l->items[i], name, n) && l->items[i][n] == '=') return l->items[i] + n + 1;
    return NULL;
}

/* Every item NAME=VALUE with a non-empty name; roles: VALUE a role name. */
static int check_pairs(const tn_conf_list_t *l, const char *key, int roles, tn_buf_t *err)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *eq = strchr(l->items[i], '=');
        if (!eq || eq == l->items[i] || (!roles && !eq[1])) {
            tn_buf_printf(err, "key '%s': item '%s' is not NAME=VALUE", key, l->items[i]);
            return TN_EINVAL;
        }
        if (roles && tn_config_role_rank(eq + 1) < 0) {
            tn_buf_printf(err,
                          "key '%s': '%s' is not a role (viewer, responder, operator or admin)",
                          key, eq + 1);
            return TN_EINVAL;
        }
    }
    return 0;
}

const tn_conf_opt_t *tn_config_schema(void)
{
    return g_schema;
}

const tn_conf_opt_t *tn_config_find(const char *key)
{
    for (const tn_conf_opt_t *o = g_schema; o->key; o++)
        if (strcmp(o->key, key) == 0) return o;
    return NULL;
}

static void *field(tn_config_t *cfg, const tn_conf_opt_t *o)
{
    return (char *)cfg + o->offset;
}
static const void *cfield(const tn_config_t *cfg, const tn_conf_opt_t *o)
{
    return (const char *)cfg + o->offset;
}

static void list_free(tn_conf_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int tn_config_set_str(tn_config_t *cfg, const tn_conf_opt_t *o, const char *v)
{
    char *copy = strdup(v);
    if (!copy) return TN_ENOMEM;
    char **slot = field(cfg, o);
    free(*slot);
    *slot = copy;
    return 0;
}

int tn_config_set_num(tn_config_t *cfg, const tn_conf_opt_t *o, double v, tn_buf_t *err)
{
    if (isnan(v) || isinf(v)) {
        if (err) tn_buf_printf(err, "key '%s' must be a finite number", o->key);
        return TN_EINVAL;
    }
    if (o->min <= o->max && (v < o->min || v > o->max)) {
        if (err)
            tn_buf_printf(err, "key '%s' must be between %.15g and %.15g, got %.15g", o->key,
                          o->min, o->max, v);
        return TN_EINVAL;
    }
    if (o->type == TN_CONF_INT) {
        if (v != floor(v)) {
            if (err) tn_buf_printf(err, "key '%s' must be an integer, got %.15g", o->key, v);
            return TN_EINVAL;
        }
        *(int64_t *)field(cfg, o) = (int64_t)v;
    } else {
        *(double *)field(cfg, o) = v;
    }
    return 0;
}

int tn_config_set_bool(tn_config_t *cfg, const tn_conf_opt_t *o, bool v)
{
    *(bool *)field(cfg, o) = v;
    return 0;
}

int tn_config_set_list(tn_config_t *cfg, const tn_conf_opt_t *o, const char *const *v, size_t n)
{
    tn_conf_list_t l = {NULL, 0};
    if (n) {
        l.items = calloc(n, sizeof *l.items);
        if (!l.items) return TN_ENOMEM;
        for (; l.n < n; l.n++) {
            if (!(l.items[l.n] = strdup(v[l.n]))) {
                list_free(&l);
                return TN_ENOMEM;
            }
        }
    }
    tn_conf_list_t *slot = field(cfg, o);
    list_free(slot);
    *slot = l;
    return 0;
}

static const char *type_name(tn_conf_type_t t)
{
    switch (t) {
    case TN_CONF_STR:
        return "a string";
    case TN_CONF_INT:
        return "an integer";
    case TN_CONF_NUM:
        return "a number";
    case TN_CONF_BOOL:
        return "a boolean";
    case TN_CONF_LIST:
        return "a list of strings";
    }
    return "?";
}

static int set_text(tn_config_t *cfg, const tn_conf_opt_t *o, const char *value, tn_buf_t *err)
{
    switch (o->type) {
    case TN_CONF_STR:
        return tn_config_set_str(cfg, o, value);
    case TN_CONF_INT:
    case TN_CONF_NUM: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end) {
            if (err)
                tn_buf_printf(err, "key '%s' must be %s, got '%s'", o->key, type_name(o->type),
                              value);
            return TN_EINVAL;
        }
        return tn_config_set_num(cfg, o, v, err);
    }
    case TN_CONF_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes"))
            return tn_config_set_bool(cfg, o, true);
        if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no"))
            return tn_config_set_bool(cfg, o, false);
        if (err) tn_buf_printf(err, "key '%s' must be true or false, got '%s'", o->key, value);
        return TN_EINVAL;
    case TN_CONF_LIST: {
        /* comma-separated */
        char *copy = strdup(value);
        if (!copy) return TN_ENOMEM;
        size_t cap = 1;
        for (const char *p = value; *p; p++)
            cap += *p == ',';
        const char **items = calloc(cap, sizeof *items);
        if (!items) {
            free(copy);
            return TN_ENOMEM;
        }
        size_t n = 0;
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (*tok) items[n++] = tok;
        int rc = tn_config_set_list(cfg, o, items, n);
        free(items);
        free(copy);
        return rc;
    }
    }
    return TN_EINVAL;
}

int tn_config_set_text(tn_config_t *cfg, const char *key, const char *value, tn_buf_t *err)
{
    const tn_conf_opt_t *o = tn_config_find(key);
    if (!o) {
        if (err) tn_buf_printf(err, "unknown key '%s'", key);
        return TN_ENOTFOUND;
    }
    return set_text(cfg, o, value, err);
}

int tn_config_init(tn_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (const tn_conf_opt_t *o = g_schema; o->key; o++) {
        int rc = set_text(cfg, o, o->def, NULL);
        if (rc) {
            tn_config_deinit(cfg);
            return rc == TN_ENOMEM ? TN_ENOMEM : TN_EINVAL;
        }
    }
    return 0;
}

void tn_config_deinit(tn_config_t *cfg)
{
    for (const tn_conf_opt_t *o = g_schema; o->key; o++) {
        if (o->type == TN_CONF_STR) {
            char **slot = field(cfg, o);
            free(*slot);
            *slot = NULL;
        } else if (o->type == TN_CONF_LIST) {
            list_free(field(cfg, o));
        }
    }
}

int tn_config_validate(const tn_config_t *cfg, tn_buf_t *err)
{
    if (check_pairs(&cfg->chatops.api_tokens, "chatops.api_tokens", 0, err) ||
        check_pairs(&cfg->ingest.label_aliases, "ingest.label_aliases", 0, err) ||
        check_pairs(&cfg->chatops.users, "chatops.users", 1, err) ||
        check_pairs(&cfg->chatops.channels, "chatops.channels", 1, err) ||
        check_pairs(&cfg->chatops.command_roles, "chatops.command_roles", 1, err) ||
        check_pairs(&cfg->chatops.level_roles, "chatops.level_roles", 1, err))
        return TN_EINVAL;
    for (size_t i = 0; i < cfg->chatops.level_roles.n; i++) {
        const char *it = cfg->chatops.level_roles.items[i];
        if (!(it[0] >= '1' && it[0] <= '4' && it[1] == '=')) {
            tn_buf_printf(err, "key 'chatops.level_roles': '%s' must be LEVEL=ROLE, LEVEL 1 to 4",
                          it);
            return TN_EINVAL;
        }
    }
    if (strcmp(cfg->chatops.default_role, "none") &&
        tn_config_role_rank(cfg->chatops.default_role) < 0) {
        tn_buf_printf(err,
                      "key 'chatops.default_role' must be none, viewer, responder, operator or "
                      "admin, got '%s'",
                      cfg->chatops.default_role);
        return TN_EINVAL;
    }
    tn_log_level_t lvl;
    if (tn_log_parse_level(cfg->log_level, &lvl)) {
        tn_buf_printf(err, "key 'log_level' must be debug, info, warn or error, got '%s'",
                      cfg->log_level);
        return TN_EINVAL;
    }
    if (!*cfg->streams.prefix || strpbrk(cfg->streams.prefix, " {}\r\n")) {
        tn_buf_printf(err, "key 'streams.prefix' must be non-empty without spaces or braces");
        return TN_EINVAL;
    }
    if (!*cfg->engine_name || strpbrk(cfg->engine_name, " \r\n")) {
        tn_buf_printf(err, "key 'engine_name' must be non-empty without spaces");
        return TN_EINVAL;
    }
    if (cfg->zscore.min_samples > cfg->zscore.window) {
        tn_buf_printf(err,
                      "key 'detect.zscore.min_samples' (%lld) must not exceed "
                      "'detect.zscore.window' (%lld)",
                      (long long)cfg->zscore.min_samples, (long long)cfg->zscore.window);
        return TN_EINVAL;
    }
    return 0;
}

int tn_config_get_text(const tn_config_t *cfg, const tn_conf_opt_t *o, tn_buf_t *out)
{
    const void *f = cfield(cfg, o);
    switch (o->type) {
    case TN_CONF_STR:
        return tn_buf_puts(out, *(char *const *)f);
    case TN_CONF_INT:
        return tn_buf_printf(out, "%lld", (long long)*(const int64_t *)f);
    case TN_CONF_NUM:
        return tn_buf_printf(out, "%.15g", *(const double *)f);
    case TN_CONF_BOOL:
        return tn_buf_puts(out, *(const bool *)f ? "true" : "false");
    case TN_CONF_LIST: {
        const tn_conf_list_t *l = f;
        for (size_t i = 0; i < l->n; i++) {
            int rc = tn_buf_printf(out, "%s%s", i ? "," : "", l->items[i]);
            if (rc) return rc;
        }
        return 0;
    }
    }
    return TN_EINVAL;
}

static int dump_lua_string(tn_buf_t *out, const char *s)
{
    int rc = tn_buf_puts(out, "\"");
    for (; !rc && *s; s++) {
        if (*s == '"' || *s == '\\')
            rc = tn_buf_printf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            rc = tn_buf_printf(out, "\\%03d", (unsigned char)*s);
        else
            rc = tn_buf_append(out, s, 1);
    }
    return rc ? rc : tn_buf_puts(out, "\"");
}

int tn_config_dump_lua(const tn_config_t *cfg, tn_buf_t *out)
{
    int rc = tn_buf_puts(out, "-- tocsin configuration: every key with its value.\n"
                              "-- Any key can also be given on the command line: --KEY=VALUE.\n"
                              "return {\n");
    for (const tn_conf_opt_t *o = g_schema; o->key && !rc; o++) {
        rc = tn_buf_printf(out, "  -- %s\n  [\"%s\"] = ", o->doc, o->key);
        const void *f = cfield(cfg, o);
        if (rc) break;
        switch (o->type) {
        case TN_CONF_STR:
            rc = dump_lua_string(out, *(char *const *)f);
            break;
        case TN_CONF_LIST: {
            const tn_conf_list_t *l = f;
            rc = tn_buf_puts(out, "{");
            for (size_t i = 0; i < l->n && !rc; i++) {
                rc = tn_buf_puts(out, i ? ", " : " ");
                if (!rc) rc = dump_lua_string(out, l->items[i]);
            }
            if (!rc) rc = tn_buf_puts(out, l->n ? " }" : "}");
            break;
        }
        case TN_CONF_NUM: {
            /* shortest of %.15g / %.17g that reads back as the same double */
            double v = *(const double *)f;
            char num[40];
            snprintf(num, sizeof num, "%.15g", v);
            if (strtod(num, NULL) != v) snprintf(num, sizeof num, "%.17g", v);
            rc = tn_buf_puts(out, num);
            break;
        }
        default:
            rc = tn_config_get_text(cfg, o, out);
            break;
        }
        if (!rc) rc = tn_buf_puts(out, ",\n");
    }
    return rc ? rc : tn_buf_puts(out, "}\n");
}
