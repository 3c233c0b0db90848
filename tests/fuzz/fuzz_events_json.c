/* libFuzzer target: the JSON event, metric and log inputs other than OTLP - Alertmanager API and
 * webhook, PagerDuty v3, change events (ingest/alerts.c), Datadog series (ingest/datadog.c),
 * Fluentd / Logstash JSON logs (ingest/logs_json.c). The first byte selects the parser, the rest
 * is the body. By hand:
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTN_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_events_json
 *   build-fuzz/tests/fuzz_events_json -max_total_time=60 tests/fuzz/corpus/events_json */
#include "core/error.h"
#include "core/json_arena.h"
#include "core/sample.h"
#include "ingest/alerts.h"
#include "ingest/datadog.h"
#include "ingest/logs_json.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

typedef int (*parse_fn)(const char *, size_t, const tn_parse_opts_t *, tn_batch_t *,
                        tn_ingest_report_t *, tn_buf_t *);

static void check_labels(const tn_label_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!tn_label_name_valid(l[i].name) || !l[i].value) __builtin_trap();
        if (strlen(l[i].value) > TN_MAX_LABEL_VALUE_LEN) __builtin_trap();
        if (i && strcmp(l[i - 1].name, l[i].name) >= 0) __builtin_trap(); /* sorted, unique */
    }
    if (n > TN_MAX_LABELS) __builtin_trap();
}

static int is_hex(const char *s, size_t n)
{
    if (!*s) return 1;
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const parse_fn fns[] = {tn_parse_am_alerts,         tn_parse_am_webhook,
                                   tn_parse_pagerduty_webhook, tn_parse_change_events,
                                   tn_parse_datadog_series,    tn_parse_logs_json};
    if (size < 1) return 0;
    size_t which = data[0] % (sizeof fns / sizeof fns[0]);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    tn_batch_t b;
    tn_batch_init(&b);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    tn_parse_opts_t o = {1700000000000LL, 500};
    tn_json_arena_install(); /* as the engine parses; what escapes the arena is caught below */
    tn_json_arena_t arena;
    tn_json_arena_begin(&arena);
    int rc = fns[which](body, len, &o, &b, &rep, &fatal);
    tn_json_arena_end(&arena);

    if (rc == 0) {
        if (rep.accepted != tn_batch_count(&b)) __builtin_trap();
        if (rep.errors.len) { /* the report is a valid JSON array */
            json_t *j = json_loadb(rep.errors.data, rep.errors.len, 0, NULL);
            if (!j || !json_is_array(j) || json_array_size(j) > 20) __builtin_trap();
            json_decref(j);
        }
        if (which == 4) {
            tn_buf_t out;
            tn_buf_init(&out);
            if (tn_datadog_response_json(&rep, &out)) __builtin_trap();
            json_t *j = json_loadb(out.data, out.len, 0, NULL);
            if (!j || !json_is_array(json_object_get(j, "errors"))) __builtin_trap();
            json_decref(j);
            tn_buf_deinit(&out);
        }
    } else if (rc == TN_EINVAL || rc == TN_ETOOBIG) {
        if (tn_batch_count(&b) || !fatal.len) __builtin_trap();
    } else if (rc != TN_ENOMEM) {
        __builtin_trap();
    }

    for (size_t i = 0; i < b.nevents; i++) {
        const tn_event_t *e = &b.events[i];
        if (!e->type || !*e->type || !e->source || !*e->source || !e->status || !e->title ||
            !e->fingerprint || !*e->fingerprint)
            __builtin_trap();
        if (strlen(e->title) > 1024) __builtin_trap();
        if (e->ts_ms < 0) __builtin_trap();
        if (e->data) { /* data is a JSON object */
            json_t *j = json_loads(e->data, JSON_ALLOW_NUL, NULL);
            if (!j || !json_is_object(j)) __builtin_trap();
            json_decref(j);
        }
        check_labels(e->labels.items, e->labels.n);
    }
    for (size_t i = 0; i < b.samples.n; i++) {
        const tn_sample_t *s = &b.samples.items[i];
        if (!tn_metric_name_valid(s->name) || strlen(s->sid) != 16 || s->ts_ms < 0)
            __builtin_trap();
        check_labels(s->labels, s->nlabels);
    }
    for (size_t i = 0; i < b.nlogs; i++) {
        const tn_log_t *l = &b.logs[i];
        if (!l->body || !l->severity || l->ts_ms < 0) __builtin_trap();
        if (*l->severity && strcmp(l->severity, "trace") && strcmp(l->severity, "debug") &&
            strcmp(l->severity, "info") && strcmp(l->severity, "warn") &&
            strcmp(l->severity, "error") && strcmp(l->severity, "fatal"))
            __builtin_trap();
        if (!is_hex(l->trace_id, 32) || !is_hex(l->span_id, 16)) __builtin_trap();
        if (l->labels.n > TN_LOG_MAX_LABELS) __builtin_trap();
        check_labels(l->labels.items, l->labels.n);
    }

    tn_batch_deinit(&b);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
    return 0;
}
