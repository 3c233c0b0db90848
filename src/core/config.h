/* config.h - the engine's settings: one declared schema drives parsing, validation,
 * command-line overrides and the documentation (`tocsin config --defaults`).
 *
 * Sources, later wins: built-in defaults < the Lua config file (script/conf.c) < command line
 * (`--KEY=VALUE` or `--set KEY=VALUE`). Keys are dotted ("http.port"); in the Lua file they are
 * nested tables ({ http = { port = 8080 } }) or dotted strings (["http.port"] = 8080).
 * Unknown keys and wrong types are errors that name the key. */
#ifndef TN_CORE_CONFIG_H
#define TN_CORE_CONFIG_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum { TN_CONF_STR, TN_CONF_INT, TN_CONF_NUM, TN_CONF_BOOL, TN_CONF_LIST } tn_conf_type_t;

/* A list setting: strings owned by the config. */
typedef struct {
    char **items;
    size_t n;
} tn_conf_list_t;

typedef struct tn_config {
    char *data_dir;
    char *log_level;
    char *engine_name;
    struct {
        char *listen;
        int64_t port;
        int64_t max_body_bytes;
        int64_t max_header_bytes;
        int64_t read_timeout_ms;
        int64_t keepalive_timeout_ms;
        int64_t shutdown_grace_ms;
        int64_t max_connections;
    } http;
    struct {
        char *url;
        char *server_bin;
        int64_t connect_timeout_ms;
        int64_t command_timeout_ms;
    } redis;
    struct {
        char *prefix;
        int64_t maxlen;
        int64_t read_batch;
        int64_t read_block_ms;
        int64_t partitions;
        int64_t batch_max;
    } streams;
    struct {
        int64_t max_inflight;
        int64_t max_records;
        int64_t max_decoded_bytes;
        int64_t parse_threads;
        tn_conf_list_t label_aliases;
        char *influx_tcp;
        int64_t influx_tcp_idle_ms;
        int64_t influx_tcp_max_conns;
        tn_conf_list_t scrape_targets;
        int64_t scrape_interval_ms;
        int64_t scrape_timeout_ms;
        int64_t scrape_max_bytes;
        bool redis_fed;
    } ingest;
    struct {
        char *file;
    } topology;
    struct {
        int64_t hot_s;
        int64_t warm_s;
        int64_t cold_s;
    } retention;
    struct {
        bool enabled;
        bool logs_traces;
        int64_t interval_ms;
        bool entities;
        int64_t entities_max;
    } detect;
    struct {
        int64_t window;
        double threshold;
        int64_t min_samples;
    } zscore;
    struct {
        int64_t auto_resolve_s;
        int64_t reopen_window_s;
        int64_t clear_s;
    } correlate;
    struct {
        char *rules_dir;
        char *runbooks_dir;
        char *detection_dir;
        char *lib_dir;
        int64_t memory_limit;
        int64_t instruction_limit;
        tn_conf_list_t exec_allow;
        char *error_webhook;
        char *commands_dir;
    } scripts;
    struct {
        char *webhook_url;
        int64_t timeout_ms;
    } notify;
    struct {
        int64_t max_level; /* the highest runbook level that runs without a human */
        bool dry_run;      /* every run is a dry run */
        int64_t keep_runs; /* finished runs kept in memory for GET /api/runs */
    } automate;
    struct {
        int64_t chart_series; /* series whose latest points are kept for charts */
        int64_t chart_points; /* points kept per series */
    } web;
    struct {
        char *url;
        char *token;
        char *dashboard_uid;
        tn_conf_list_t tags;
    } grafana;
    struct {
        bool anomaly_scores;
        int64_t anomaly_series_max;
    } metrics;
    struct {
        char *slack_signing_secret;
        int64_t slack_max_skew_s;
        tn_conf_list_t mattermost_tokens;
        tn_conf_list_t api_tokens;    /* "user=token" */
        tn_conf_list_t users;         /* "user=role" */
        tn_conf_list_t channels;      /* "channel=role" */
        tn_conf_list_t command_roles; /* "command=role" */
        tn_conf_list_t level_roles;   /* "level=role" */
        char *default_role;
        int64_t reply_timeout_ms;
        int64_t command_timeout_s;
    } chatops;
} tn_config_t;

typedef struct {
    const char *key;
    tn_conf_type_t type;
    size_t offset;
    const char *def; /* default, as command-line text */
    double min, max; /* for INT/NUM; min > max means unchecked */
    const char *doc;
} tn_conf_opt_t;

/* The schema, terminated by an entry with key == NULL. Static. */
const tn_conf_opt_t *tn_config_schema(void);
const tn_conf_opt_t *tn_config_find(const char *key);

/* Fills cfg with defaults. 0 or TN_ENOMEM (cfg is then deinit'ed). */
int tn_config_init(tn_config_t *cfg);
/* Frees every string/list the config owns. */
void tn_config_deinit(tn_config_t *cfg);

/* Sets key from text (as on the command line). On error returns TN_ENOTFOUND (unknown key) or
 * TN_EINVAL (bad value) and writes a message naming the key into err (may be NULL). */
int tn_config_set_text(tn_config_t *cfg, const char *key, const char *value, tn_buf_t *err);

/* Typed setters used by the Lua loader; same error contract. list: n strings (copied). */
int tn_config_set_str(tn_config_t *cfg, const tn_conf_opt_t *o, const char *v);
int tn_config_set_num(tn_config_t *cfg, const tn_conf_opt_t *o, double v, tn_buf_t *err);
int tn_config_set_bool(tn_config_t *cfg, const tn_conf_opt_t *o, bool v);
int tn_config_set_list(tn_config_t *cfg, const tn_conf_opt_t *o, const char *const *v, size_t n);

/* The roles of ChatOps access control, lowest first: viewer, responder, operator, admin. The
 * rank of a role name (0..3), or -1 for an unknown name. */
int tn_config_role_rank(const char *role);
extern const char *const tn_config_roles[4];

/* The value of name in a list of "name=value" items (borrowed), or NULL. */
const char *tn_config_pair_get(const tn_conf_list_t *l, const char *name);

/* Cross-field checks (e.g. log level names). 0 or TN_EINVAL with a message. */
int tn_config_validate(const tn_config_t *cfg, tn_buf_t *err);

/* Appends the current value of key as text (lists comma-joined). */
int tn_config_get_text(const tn_config_t *cfg, const tn_conf_opt_t *o, tn_buf_t *out);

/* Appends a commented Lua config file showing every key with its current value. */
int tn_config_dump_lua(const tn_config_t *cfg, tn_buf_t *out);

#endif
