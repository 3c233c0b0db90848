/* replay.c - `tocsin replay FILE` (replay.h, docs/replay.md).
 *
 * The file is read whole and each line checked first (type, time), so a bad file fails before
 * anything runs; the lines are then put in time order (stable) and handed, a chunk per turn of
 * the event loop (so the Redis writes they cause drain), to the same code the live inputs
 * reach: alerts to the rules (tn_engine__offer_alert), changes to tocsin.changes, samples
 * through the JSON samples parser to the detectors (tn_engine__score_sample), logs through the
 * Fluentd/Logstash parser and spans to the log and trace detection (tn_logtrace_feed) and the
 * learned topology. Before each event the clock moves to its time, in steps of at most a
 * second (fewer over long gaps), and the incidents' upkeep (auto-resolve) runs at each step. */
#include "engine/replay.h"
#include "engine/engine_internal.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "ingest/json_samples.h"
#include "ingest/logs_json.h"
#include "ingest/normalize.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 256                /* events per turn of the loop */
#define MAX_PENDING 20000        /* Redis commands in flight before the replay waits */
#define MAX_FILE (1024ull << 20) /* 1 GiB */
#define SPAN_BATCH 512

enum { T_ALERT, T_SAMPLE, T_CHANGE, T_LOG, T_SPAN, T_TOPOLOGY, T_N };
static const char *const g_type_names[T_N] = {"alert", "sample", "change",
                                              "log",   "span",   "topology"};

typedef struct {
    int64_t ts;
    size_t off, len; /* the line in the file's text */
    size_t line;     /* 1-based */
    int type;
} rec_t;

struct tn_replay {
    tn_replay_opts_t o;
    tn_engine_t *e;
    char *text; /* the whole file */
    size_t text_len;
    rec_t *recs;
    size_t n, next;
    size_t bad;
    size_t counts[T_N];
    int64_t first_ts, last_ts, next_tick;
    json_t *runbooks; /* incident id -> [{runbook, origin, ts}] */
    uv_idle_t idle;
    int started, idle_on;
    double wall_start;
    char tmpdir[256];
    unsigned ntopo;
    /* consecutive spans, handed on together (a child finds its parent in the same batch) */
    tn_span_t spans[SPAN_BATCH];
    char span_lines[SPAN_BATCH][40];
    size_t nspans;
};

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- reading ----------------------------------------------------------------------------- */

static int check_line(const char *s, size_t len, rec_t *r, tn_buf_t *err);

static int parse_ts(const json_t *v, int64_t *ms, tn_buf_t *err)
{
    if (json_is_number(v)) return tn_norm_ts_number(json_number_value(v), TN_TS_AUTO, ms, err);
    if (json_is_string(v)) return tn_norm_ts_rfc3339(json_string_value(v), ms, err);
    tn_buf_puts(err, "\"ts\" must be a number (s, ms, us or ns) or an RFC 3339 string");
    return TN_EINVAL;
}

static int type_of(const char *t)
{
    if (!strcmp(t, "deploy") || !strcmp(t, "config_change") || !strcmp(t, "change") ||
        !strcmp(t, "config") || !strcmp(t, "rollback") || !strcmp(t, "feature_flag") ||
        !strcmp(t, "scale"))
        return T_CHANGE;
    for (int i = 0; i < T_N; i++)
        if (!strcmp(t, g_type_names[i])) return i;
    return -1;
}

int tn_replay_check_line(const char *s, size_t len, int64_t *ts, int *type, tn_buf_t *err)
{
    rec_t r = {0};
    int rc = check_line(s, len, &r, err);
    *ts = r.ts;
    *type = r.type;
    return rc;
}

/* The event's time: "ts", else "timestamp", "time", "@timestamp" or (alerts) "startsAt". */
static json_t *time_of(const json_t *o)
{
    static const char *const keys[] = {"ts", "timestamp", "time", "@timestamp", "startsAt"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (v) return v;
    }
    return NULL;
}

/* Its type: "type", else "kind". */
static const char *type_name(const json_t *o)
{
    const char *t = json_string_value(json_object_get(o, "type"));
    return t ? t : json_string_value(json_object_get(o, "kind"));
}

/* Checks one line: an object with a known "type" and, except topology, a valid "ts". */
static int check_line(const char *s, size_t len, rec_t *r, tn_buf_t *err)
{
    json_error_t je;
    json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        tn_buf_printf(err, "invalid JSON at column %d: %s", je.column, je.text);
        return TN_EINVAL;
    }
    int rc = 0;
    const char *t = type_name(o);
    json_t *when = time_of(o);
    if (!json_is_object(o)) {
        tn_buf_puts(err, "not a JSON object");
        rc = TN_EINVAL;
    } else if (!t) {
        tn_buf_puts(err, "\"type\" is missing or not a string (alert, sample, deploy, "
                         "config_change, log, span, topology)");
        rc = TN_EINVAL;
    } else if ((r->type = type_of(t)) < 0) {
        tn_buf_printf(err,
                      "unknown type \"%.64s\" (alert, sample, deploy, config_change, log, "
                      "span, topology)",
                      t);
        rc = TN_EINVAL;
    } else if (r->type == T_TOPOLOGY && !when) {
        r->ts = 0; /* placed before everything (then kept in file order) */
    } else if (!when) {
        tn_buf_puts(err, "\"ts\" is missing");
        rc = TN_EINVAL;
    } else if (parse_ts(when, &r->ts, err) || r->ts <= 0) {
        if (!err->len) tn_buf_puts(err, "\"ts\" is not a time after 1970");
        rc = TN_EINVAL;
    }
    json_decref(o);
    return rc;
}

static int by_time(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int load(tn_replay_t *r)
{
    FILE *f = strcmp(r->o.path, "-") ? fopen(r->o.path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "tocsin replay: %s: %s\n", r->o.path, strerror(errno));
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    while (text) {
        if (len + 1 >= cap) {
            if (cap >= MAX_FILE) {
                fprintf(stderr, "tocsin replay: %s: larger than %llu MiB\n", r->o.path,
                        MAX_FILE >> 20);
                free(text);
                if (f != stdin) fclose(f);
                return 1;
            }
            char *t = realloc(text, cap * 2);
            if (!t) break;
            text = t;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    int ioerr = ferror(f);
    if (f != stdin) fclose(f);
    if (!text || ioerr) {
        fprintf(stderr, "tocsin replay: %s: %s\n", r->o.path,
                text ? "read error" : "out of memory");
        free(text);
        return 1;
    }
    text[len] = '\0';
    r->text = text;
    r->text_len = len;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    r->recs = malloc(lines * sizeof *r->recs);
    if (!r->recs) {
        fprintf(stderr, "tocsin replay: out of memory\n");
        return 1;
    }
    tn_buf_t err;
    tn_buf_init(&err);
    size_t line = 0;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        size_t a = off, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
            a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
            b--;
        off = end + 1;
        if (a == b) continue; /* blank lines are allowed */
        rec_t *rc = &r->recs[r->n];
        rc->off = a;
        rc->len = b - a;
        rc->line = line;
        tn_buf_reset(&err);
        if (memchr(text + a, '\0', b - a)) {
            tn_buf_puts(&err, "holds a NUL byte");
        } else if (check_line(text + a, b - a, rc, &err) == 0) {
            r->n++;
            continue;
        }
        r->bad++;
        if (!r->o.skip_bad) {
            fprintf(stderr, "tocsin replay: %s:%zu: %s\n", r->o.path, line,
                    err.data ? err.data : "bad line");
            tn_buf_deinit(&err);
            return 1;
        }
        if (r->bad <= 20)
            tn_log_warn("replay", "%s:%zu: %s (skipped)", r->o.path, line,
                        err.data ? err.data : "bad line");
    }
    tn_buf_deinit(&err);
    qsort(r->recs, r->n, sizeof *r->recs, by_time);
    for (size_t i = 0; i < r->n; i++)
        if (r->recs[i].ts > 0) {
            r->first_ts = r->recs[i].ts;
            break;
        }
    r->last_ts = r->n ? r->recs[r->n - 1].ts : 0;
    tn_log_info("replay", "%s: %zu event(s)%s%zu skipped", r->o.path, r->n, r->bad ? ", " : " (",
                r->bad);
    return 0;
}

/* ---- handing events on ------------------------------------------------------------------- */

static const char *str_of(const json_t *o, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : def;
}

static void line_warn(tn_replay_t *r, const rec_t *rc, const char *what)
{
    r->bad++;
    if (r->bad <= 20) tn_log_warn("replay", "%s:%zu: %s (skipped)", r->o.path, rc->line, what);
}

int tn_replay_alert_event(const json_t *o, int64_t ts, tn_event_t *ev, char fp[17], tn_buf_t *err)
{
    memset(ev, 0, sizeof *ev);
    tn_labels_init(&ev->labels);
    json_t *labels = json_object_get(o, "labels");
    const char *name = str_of(o, "name", str_of(o, "alertname", str_of(o, "title", NULL)));
    if (!name) name = str_of(labels, "alertname", "alert");
    const char *service = str_of(o, "service", NULL);
    const char *severity = str_of(o, "severity", NULL);
    const char *k;
    json_t *v;
    if (labels && !json_is_object(labels)) {
        tn_buf_puts(err, "\"labels\" must be an object of strings");
        goto bad;
    }
    json_object_foreach(labels, k, v)
    {
        if (!json_is_string(v)) {
            tn_buf_printf(err, "labels.%.64s is not a string", k);
            goto bad;
        }
        if (!(service && !strcmp(k, "service")) && !(severity && !strcmp(k, "severity")) &&
            tn_labels_add(&ev->labels, k, json_string_value(v), (size_t)-1, err))
            goto bad;
    }
    if ((service && tn_labels_add(&ev->labels, "service", service, (size_t)-1, err)) ||
        (severity && tn_labels_add(&ev->labels, "severity", severity, (size_t)-1, err)) ||
        (!tn_labels_get(&ev->labels, "alertname") &&
         tn_labels_add(&ev->labels, "alertname", name, (size_t)-1, err)) ||
        tn_labels_finish(&ev->labels, err))
        goto bad;
    /* the alert's identity: given, or its name and label set (as Alertmanager's) */
    const char *given = str_of(o, "fingerprint", NULL);
    if (!given) {
        uint64_t h = tn_hash64(name, strlen(name));
        for (size_t i = 0; i < ev->labels.n; i++) {
            const tn_label_t *l = &ev->labels.items[i];
            h ^= tn_hash64(l->name, strlen(l->name)) * 0x9e3779b97f4a7c15ULL;
            h = h * 0x100000001b3ULL ^ tn_hash64(l->value, strlen(l->value));
        }
        snprintf(fp, 17, "%016llx", (unsigned long long)h);
    }
    const char *summary = str_of(o, "summary", str_of(o, "text", str_of(o, "description", NULL)));
    json_t *data = summary ? json_pack("{s:{s:s}}", "annotations", "summary", summary) : NULL;
    ev->data = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (summary && !ev->data) {
        tn_buf_puts(err, "out of memory");
        goto bad;
    }
    ev->type = "alert";
    ev->source = (char *)str_of(o, "source", "replay");
    ev->ts_ms = ts;
    ev->status = (char *)str_of(o, "status", "firing");
    ev->title = (char *)name;
    ev->fingerprint = (char *)(given ? given : fp);
    return 0;
bad:
    tn_labels_deinit(&ev->labels);
    if (!err->len) tn_buf_puts(err, "bad alert");
    return TN_EINVAL;
}

void tn_replay_alert_event_free(tn_event_t *ev)
{
    free(ev->data);
    tn_labels_deinit(&ev->labels);
}

static void do_alert(tn_replay_t *r, const rec_t *rc, json_t *o)
{
    tn_buf_t err;
    tn_buf_init(&err);
    tn_event_t ev;
    char fp[17];
    if (tn_replay_alert_event(o, rc->ts, &ev, fp, &err)) {
        line_warn(r, rc, err.data ? err.data : "bad alert");
        tn_buf_deinit(&err);
        return;
    }
    char idbuf[32];
    const char *id = str_of(o, "id", NULL);
    if (!id) {
        snprintf(idbuf, sizeof idbuf, "line:%zu", rc->line);
        id = idbuf;
    }
    tn_engine__offer_alert(r->e, &ev, id);
    tn_replay_alert_event_free(&ev);
    tn_buf_deinit(&err);
}

static void do_change(tn_replay_t *r, const rec_t *rc, json_t *o)
{
    const char *type = type_name(o);
    if (!type) type = "change";
    if (!strcmp(type, "change")) type = str_of(o, "change", "change");
    const char *service = str_of(o, "service", NULL);
    json_t *labels = json_object_get(o, "labels");
    if (!service) service = str_of(labels, "service", NULL);
    if (tn_changes_add(tn_correlate_changes(r->e->correlate), type, service, str_of(o, "title", ""),
                       str_of(o, "version", ""), rc->ts))
        line_warn(r, rc, "out of memory recording a change");
}

/* Replaces the timestamp field by the event's own time in ms, for the ingestion parsers. */
static char *with_time(json_t *o, const rec_t *rc, const char *key)
{
    static const char *const drop[] = {"type", "kind", "ts", "timestamp", "time", "@timestamp"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        json_object_del(o, drop[i]);
    if (json_object_set_new(o, key, json_integer((json_int_t)rc->ts))) return NULL;
    return json_dumps(o, JSON_COMPACT);
}

static void do_sample(tn_replay_t *r, const rec_t *rc, json_t *o)
{
    json_t *metric = json_object_get(o, "metric");
    if (!json_object_get(o, "name") && json_is_string(metric))
        json_object_set(o, "name", metric); /* "metric" is the other common spelling */
    json_object_del(o, "metric");
    char *body = with_time(o, rc, "timestamp");
    if (!body) {
        line_warn(r, rc, "out of memory");
        return;
    }
    tn_samples_t out;
    tn_samples_init(&out);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal, labels;
    tn_buf_init(&fatal);
    tn_buf_init(&labels);
    int rc2 = tn_ingest_json_samples(body, strlen(body), 1, rc->ts, &out, &rep, &fatal);
    if (rc2 || rep.rejected) {
        char msg[600];
        snprintf(msg, sizeof msg, "bad sample: %.500s",
                 rc2 ? (fatal.data ? fatal.data : tn_strerror(rc2))
                     : (rep.errors.data ? rep.errors.data : "rejected"));
        line_warn(r, rc, msg);
    }
    for (size_t i = 0; i < out.n; i++) {
        tn_sample_t *s = &out.items[i];
        tn_buf_reset(&labels);
        if (tn_sample_labels_json(s, &labels)) {
            line_warn(r, rc, "out of memory");
            break;
        }
        tn_sample_view_t v = {.sid = s->sid,
                              .sid_len = 16,
                              .name = s->name,
                              .name_len = strlen(s->name),
                              .labels = labels.data ? labels.data : "{}",
                              .labels_len = labels.data ? labels.len : 2,
                              .value = s->value,
                              .ts_ms = s->ts_ms,
                              .unit = s->unit,
                              .unit_len = s->unit ? strlen(s->unit) : 0};
        char id[32];
        snprintf(id, sizeof id, "line:%zu", rc->line);
        r->e->batch_entry_id = id;
        tn_engine__score_sample(r->e, &v);
        r->e->batch_entry_id = NULL;
    }
    tn_samples_deinit(&out);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
    tn_buf_deinit(&labels);
    free(body);
}

static void do_log(tn_replay_t *r, const rec_t *rc, json_t *o)
{
    if (!r->e->logtrace) return; /* log detection is off */
    char *body = with_time(o, rc, "timestamp");
    if (!body) {
        line_warn(r, rc, "out of memory");
        return;
    }
    tn_batch_t b;
    tn_batch_init(&b);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    tn_parse_opts_t po = {.now_ms = rc->ts, .max_items = 1};
    int rc2 = tn_parse_logs_json(body, strlen(body), &po, &b, &rep, &fatal);
    if (rc2 || rep.rejected || !b.nlogs) {
        line_warn(r, rc, rc2 && fatal.data ? fatal.data : "bad log record");
    } else {
        tn_log_t *l = &b.logs[0];
        json_t *labels = json_object();
        for (size_t i = 0; labels && i < l->labels.n; i++)
            json_object_set_new(labels, l->labels.items[i].name,
                                json_string(l->labels.items[i].value));
        char *ltext = labels ? json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(labels);
        char ts[24], id[32];
        snprintf(ts, sizeof ts, "%lld", (long long)l->ts_ms);
        snprintf(id, sizeof id, "line:%zu", rc->line);
        const char *names[] = {"ts", "severity", "body", "labels"};
        const char *values[] = {ts, l->severity ? l->severity : "", l->body ? l->body : "",
                                ltext ? ltext : "{}"};
        size_t lens[4];
        for (int i = 0; i < 4; i++)
            lens[i] = strlen(values[i]);
        tn_entry_t en = {.stream = tn_streams_pkey(r->e->streams, TN_PSTREAM_LOGS, 0),
                         .id = id,
                         .nfields = 4,
                         .names = names,
                         .values = values,
                         .value_lens = lens};
        tn_logtrace_feed(r->e->logtrace, &en, 1);
        free(ltext);
    }
    tn_batch_deinit(&b);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
    free(body);
}

static void flush_spans(tn_replay_t *r)
{
    size_t n = r->nspans;
    if (!n) return;
    r->nspans = 0;
    if (r->e->topology && tn_topology_learn(r->e->topology, r->spans, n) > 0)
        tn_engine__topology_changed(r->e);
    if (r->e->logtrace) {
        enum { NF = 7 };
        static const char *const names[NF] = {"service",     "span_id", "parent_id",     "start_us",
                                              "duration_us", "error",   "parent_service"};
        char start[SPAN_BATCH][24], dur[SPAN_BATCH][24];
        const char *values[SPAN_BATCH][NF];
        size_t lens[SPAN_BATCH][NF];
        tn_entry_t en[SPAN_BATCH];
        const char *stream = tn_streams_pkey(r->e->streams, TN_PSTREAM_SPANS, 0);
        for (size_t i = 0; i < n; i++) {
            tn_span_t *s = &r->spans[i];
            const char *parent_service = "";
            for (size_t j = 0; j < n && *s->parent_id; j++)
                if (!strcmp(r->spans[j].span_id, s->parent_id))
                    parent_service = r->spans[j].service;
            snprintf(start[i], sizeof start[i], "%lld", (long long)s->start_us);
            snprintf(dur[i], sizeof dur[i], "%lld", (long long)s->duration_us);
            const char *v[NF] = {s->service, s->span_id,           s->parent_id,  start[i],
                                 dur[i],     s->error ? "1" : "0", parent_service};
            for (int k = 0; k < NF; k++) {
                values[i][k] = v[k];
                lens[i][k] = strlen(v[k]);
            }
            en[i] = (tn_entry_t){.stream = stream,
                                 .id = r->span_lines[i],
                                 .nfields = NF,
                                 .names = names,
                                 .values = values[i],
                                 .value_lens = lens[i]};
        }
        tn_logtrace_feed(r->e->logtrace, en, n);
    }
    for (size_t i = 0; i < n; i++) {
        free(r->spans[i].name);
        free(r->spans[i].service);
        free(r->spans[i].kind);
        tn_labels_deinit(&r->spans[i].labels);
    }
}

static void do_span(tn_replay_t *r, const rec_t *rc, json_t *o)
{
    const char *service = str_of(o, "service", NULL);
    const char *span_id = str_of(o, "span_id", NULL), *trace_id = str_of(o, "trace_id", "");
    const char *parent = str_of(o, "parent_span_id", str_of(o, "parent_id", ""));
    json_t *dur = json_object_get(o, "duration_ms");
    tn_span_t s = {0};
    const char *why = NULL;
    if (!service || !*service)
        why = "span: \"service\" is missing";
    else if (!span_id || tn_norm_hex_id(span_id, strlen(span_id), s.span_id, 16))
        why = "span: \"span_id\" must be 16 hex digits";
    else if (tn_norm_hex_id(parent, strlen(parent), s.parent_id, 16))
        why = "span: \"parent_span_id\" must be 16 hex digits or empty";
    else if (tn_norm_hex_id(trace_id, strlen(trace_id), s.trace_id, 32))
        why = "span: \"trace_id\" must be 32 hex digits";
    else if (!json_is_number(dur) || json_number_value(dur) < 0 || json_number_value(dur) > 86400e3)
        why = "span: \"duration_ms\" must be a number of milliseconds (0 .. 1 day)";
    if (why) {
        line_warn(r, rc, why);
        return;
    }
    if (r->nspans == SPAN_BATCH) flush_spans(r);
    s.service = strdup(service);
    s.name = strdup(str_of(o, "name", ""));
    s.kind = strdup(str_of(o, "kind", "server"));
    tn_labels_init(&s.labels);
    if (!s.service || !s.name || !s.kind) {
        free(s.service), free(s.name), free(s.kind);
        line_warn(r, rc, "out of memory");
        return;
    }
    double d_ms = json_number_value(dur);
    s.duration_us = (int64_t)(d_ms * 1000);
    s.start_us = rc->ts * 1000 - s.duration_us; /* ts is when it ended */
    json_t *err = json_object_get(o, "error");
    s.error = json_is_true(err) || (json_is_integer(err) && json_integer_value(err) != 0);
    snprintf(r->span_lines[r->nspans], sizeof r->span_lines[0], "line:%zu", rc->line);
    r->spans[r->nspans++] = s;
}

static void do_topology(tn_replay_t *r, const rec_t *rc, json_t *o)
{
    json_object_del(o, "type");
    json_object_del(o, "ts");
    char path[320];
    snprintf(path, sizeof path, "%s/topology-%u.json", r->tmpdir, ++r->ntopo);
    tn_buf_t err;
    tn_buf_init(&err);
    if (json_dump_file(o, path, JSON_COMPACT)) {
        line_warn(r, rc, "cannot write the topology to the temporary directory");
    } else if (tn_topology_load_file(r->e->topology, path, &err)) {
        char msg[600];
        snprintf(msg, sizeof msg, "topology refused: %.500s", err.data ? err.data : "?");
        line_warn(r, rc, msg);
    } else {
        tn_engine__topology_changed(r->e);
    }
    unlink(path);
    tn_buf_deinit(&err);
}

/* Moves the clock to ts, running the incidents' upkeep on the way. */
static void advance(tn_replay_t *r, int64_t ts)
{
    if (ts <= 0) return;
    if (!r->next_tick) r->next_tick = ts;
    int64_t gap = ts - r->next_tick;
    int64_t step = gap > 10000LL * 1000 ? gap / 10000 : 1000;
    while (r->next_tick <= ts) {
        tn_clock_simulate(r->next_tick);
        tn_correlate_tick(r->e->correlate, r->next_tick);
        r->next_tick += step;
    }
    tn_clock_simulate(ts);
}

static void handle(tn_replay_t *r, const rec_t *rc)
{
    if (rc->type != T_SPAN) flush_spans(r);
    advance(r, rc->ts);
    json_t *o = json_loadb(r->text + rc->off, rc->len, 0, NULL);
    if (!o) {
        line_warn(r, rc, "out of memory reading the line");
        return;
    }
    r->counts[rc->type]++;
    switch (rc->type) {
    case T_ALERT:
        do_alert(r, rc, o);
        break;
    case T_CHANGE:
        do_change(r, rc, o);
        break;
    case T_SAMPLE:
        do_sample(r, rc, o);
        break;
    case T_LOG:
        do_log(r, rc, o);
        break;
    case T_SPAN:
        do_span(r, rc, o);
        break;
    case T_TOPOLOGY:
        do_topology(r, rc, o);
        break;
    }
    json_decref(o);
}

/* ---- the report -------------------------------------------------------------------------- */

void tn_engine__replay_runbook(void *arg, const char *runbook, const json_t *params,
                               const json_t *incident, const char *origin)
{
    tn_replay_t *r = arg;
    const char *id = json_string_value(json_object_get(incident, "id"));
    if (!id) id = json_string_value(json_object_get(params, "incident"));
    if (!id) id = "";
    json_t *list = json_object_get(r->runbooks, id);
    if (!list) {
        list = json_array();
        if (!list || json_object_set_new(r->runbooks, id, list)) return;
    }
    json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:O}", "runbook", runbook, "origin",
                                          origin ? origin : "", "ts", (json_int_t)tn_now_ms(),
                                          "params", params));
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fmt_span(int64_t ms, char *out, size_t cap)
{
    int64_t s = ms / 1000;
    if (s < 120)
        snprintf(out, cap, "%llds", (long long)s);
    else if (s < 7200)
        snprintf(out, cap, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(out, cap, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
}

typedef struct {
    tn_replay_t *r;
    size_t incidents, merged;
} report_t;

static void report_one(tn_incident_t *inc, void *arg)
{
    report_t *rp = arg;
    tn_replay_t *r = rp->r;
    FILE *out = r->o.out;
    if (*inc->merged_into)
        rp->merged++;
    else
        rp->incidents++;
    json_t *j = tn_incident_to_json_full(inc);
    if (!j) {
        tn_log_error("replay", "out of memory reporting incident %s", inc->id);
        return;
    }
    json_t *rb = json_object_get(r->runbooks, inc->id);
    json_object_set_new(j, "runbooks", rb ? json_incref(rb) : json_array());
    if (r->o.json) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS); /* the same run, the same text */
        if (s) fprintf(out, "%s\n", s);
        free(s);
        json_decref(j);
        return;
    }
    if (*inc->merged_into) {
        fprintf(out, "%s  merged into %s\n", inc->id, inc->merged_into);
        json_decref(j);
        return;
    }
    char start[32], dur[32];
    fmt_time(inc->started_ms, start, sizeof start);
    int64_t end = inc->resolved_ms ? inc->resolved_ms : inc->updated_ms;
    fmt_span(end > inc->started_ms ? end - inc->started_ms : 0, dur, sizeof dur);
    fprintf(out, "%s  %-8s %-8s %s\n", inc->id, inc->state, inc->severity, inc->title);
    fprintf(out, "  %u alert(s) from %s over %s; services:", inc->alerts, start, dur);
    if (!inc->nservices) fprintf(out, " -");
    for (size_t i = 0; i < inc->nservices && i < 12; i++)
        fprintf(out, "%s %s", i ? "," : "", inc->services[i]);
    if (inc->nservices > 12) fprintf(out, ", ... (%zu)", inc->nservices);
    fputc('\n', out);
    json_t *rca = json_object_get(j, "rca");
    size_t i;
    json_t *c;
    json_array_foreach(rca, i, c)
    {
        if (i >= 3) break;
        fprintf(out, "  %s %zu. %s (%.2f)", i ? "  " : "root cause:", i + 1,
                json_string_value(json_object_get(c, "service")) ?: "?",
                json_number_value(json_object_get(c, "score")));
        json_t *ev = json_object_get(c, "evidence");
        size_t k;
        json_t *e;
        json_array_foreach(ev, k, e)
        {
            if (k >= 3) break;
            fprintf(out, "%s%s", k ? "; " : ": ", json_string_value(e) ?: "");
        }
        fputc('\n', out);
    }
    size_t nrb = json_array_size(rb);
    if (nrb) {
        fprintf(out, "  runbooks asked for (not run in a replay):");
        json_array_foreach(rb, i, c)
        {
            fprintf(out, "%s %s", i ? "," : "", json_string_value(json_object_get(c, "runbook")));
        }
        fputc('\n', out);
    }
    json_decref(j);
}

static void finish(tn_replay_t *r)
{
    flush_spans(r);
    if (r->e->logtrace) tn_logtrace_flush(r->e->logtrace, r->last_ts + 1);
    advance(r, r->last_ts);
    report_t rp = {.r = r};
    tn_incidents_each(tn_correlate_incidents(r->e->correlate), report_one, &rp);
    char dur[32];
    fmt_span(r->last_ts > r->first_ts ? r->last_ts - r->first_ts : 0, dur, sizeof dur);
    FILE *sum = r->o.json ? stderr : r->o.out;
    fprintf(sum,
            "replay: %zu event(s) (%zu alert(s), %zu sample(s), %zu change(s), %zu log(s), "
            "%zu span(s), %zu topology) over %s of event time in %.2f s; %zu incident(s)%s",
            r->n, r->counts[T_ALERT], r->counts[T_SAMPLE], r->counts[T_CHANGE], r->counts[T_LOG],
            r->counts[T_SPAN], r->counts[T_TOPOLOGY], dur, wall_s() - r->wall_start, rp.incidents,
            rp.merged ? "" : "");
    if (rp.merged) fprintf(sum, " (and %zu merged into others)", rp.merged);
    if (r->bad) fprintf(sum, "; %zu line(s) skipped", r->bad);
    fputc('\n', sum);
    fflush(r->o.out);
}

static void on_idle_closed(uv_handle_t *h)
{
    tn_replay_t *r = h->data;
    r->idle_on = 0;
}

static void on_idle(uv_idle_t *h)
{
    tn_replay_t *r = h->data;
    tn_engine_t *e = r->e;
    if (e->stopping) { /* stopped from elsewhere (Redis went away) */
        uv_idle_stop(h);
        uv_close((uv_handle_t *)h, on_idle_closed);
        return;
    }
    if (e->redis && tn_redis_pending(e->redis) > MAX_PENDING) return; /* let the writes drain */
    size_t end = r->next + CHUNK < r->n ? r->next + CHUNK : r->n;
    for (; r->next < end; r->next++)
        handle(r, &r->recs[r->next]);
    if (r->n >= 100000 && r->next % 50000 < CHUNK)
        tn_log_info("replay", "%zu of %zu event(s)", r->next, r->n);
    if (r->next < r->n) return;
    uv_idle_stop(h);
    uv_close((uv_handle_t *)h, on_idle_closed);
    finish(r);
    tn_engine__stop(e, 0);
}

void tn_engine__replay_begin(tn_engine_t *e)
{
    tn_replay_t *r = e->replay;
    if (r->started) return;
    r->started = 1;
    r->e = e;
    r->wall_start = wall_s();
    e->batch_pending = 1; /* a guard that stays: no reader waits for it */
    uv_idle_init(e->loop, &r->idle);
    r->idle.data = r;
    r->idle_on = 1;
    uv_idle_start(&r->idle, on_idle);
}

int tn_engine_replay(const tn_config_t *cfg, const tn_replay_opts_t *o)
{
    tn_replay_t *r = calloc(1, sizeof *r);
    if (!r) return 1;
    r->o = *o;
    r->runbooks = json_object();
    snprintf(r->tmpdir, sizeof r->tmpdir, "%s", cfg->data_dir);
    int rc = r->runbooks ? load(r) : 1;
    if (rc == 0) {
        rc = tn_engine__run_replay(cfg, r);
        if (!r->started && rc == 0) rc = 1;
    }
    tn_clock_simulate(0);
    for (size_t i = 0; i < r->nspans; i++) {
        free(r->spans[i].name);
        free(r->spans[i].service);
        free(r->spans[i].kind);
        tn_labels_deinit(&r->spans[i].labels);
    }
    json_decref(r->runbooks);
    free(r->recs);
    free(r->text);
    free(r);
    return rc;
}
