#include "ingest/logs_json.h"
#include "ingest/normalize.h"
#include "core/error.h"
#include "core/json_arena.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONSUMED 8

/* ---- helpers (same shape as alerts.c) --------------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- one record ------------------------------------------------------------------------- */

typedef struct {
    const char *tag; /* forward tag or NULL */
    int has_ts;
    int64_t ts_ms; /* forward time */
} rec_ctx_t;

/* Fields taken by the record's own slots: (parent, child) with child NULL for a top-level key. */
typedef struct {
    const char *parent[MAX_CONSUMED], *child[MAX_CONSUMED];
    size_t n;
} consumed_t;

static void consume(consumed_t *c, const char *parent, const char *child)
{
    if (c->n < MAX_CONSUMED) c->parent[c->n] = parent, c->child[c->n++] = child;
}

static int is_consumed(const consumed_t *c, const char *parent, const char *child)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->parent[i], parent) == 0 &&
            (c->child[i] && child ? strcmp(c->child[i], child) == 0 : c->child[i] == child))
            return 1;
    return 0;
}

static const char *num_severity(json_int_t v)
{
    static const char *const syslog[] = {"fatal", "fatal", "fatal", "error",
                                         "warn",  "info",  "info",  "debug"};
    static const char *const pino[] = {"trace", "debug", "info", "warn", "error", "fatal"};
    if (v >= 0 && v <= 7) return syslog[v];
    if (v >= 10 && v <= 60 && v % 10 == 0) return pino[v / 10 - 1];
    return "";
}

/* Shortest text of a JSON scalar for a label; NULL for null and containers. */
static const char *scalar_text(json_t *v, char *tmp, size_t size, size_t *len)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        *len = json_string_length(v);
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(tmp, size, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL: {
        double d = json_real_value(v);
        snprintf(tmp, size, "%.15g", d);
        if (strtod(tmp, NULL) != d) snprintf(tmp, size, "%.17g", d);
        break;
    }
    case JSON_TRUE:
        snprintf(tmp, size, "true");
        break;
    case JSON_FALSE:
        snprintf(tmp, size, "false");
        break;
    default:
        return NULL;
    }
    *len = strlen(tmp);
    return tmp;
}

/* Adds a label when it can be one (see the header); 0 or TN_ENOMEM. */
static int add_soft(tn_labels_t *l, const char *name, json_t *v)
{
    char tmp[40], canon[TN_MAX_NAME_LEN + 2];
    size_t vlen = 0;
    if (l->n >= TN_LOG_MAX_LABELS) return 0;
    const char *val = scalar_text(v, tmp, sizeof tmp, &vlen);
    if (!val || vlen > TN_MAX_LABEL_VALUE_LEN || memchr(val, '\0', vlen)) return 0;
    tn_buf_t scratch;
    tn_buf_init(&scratch);
    int bad = tn_norm_label_name(name, canon, sizeof canon, &scratch);
    tn_buf_deinit(&scratch);
    if (bad || tn_labels_get(l, canon)) return 0;
    return tn_labels_add_raw(l, canon, val, vlen) == TN_ENOMEM ? TN_ENOMEM : 0;
}

static int parse_ts(json_t *v, const char *key, int64_t *ms, tn_buf_t *err)
{
    if (json_is_number(v)) {
        tn_buf_printf(err, "field '%s': ", key);
        if (tn_norm_ts_number(json_number_value(v), TN_TS_AUTO, ms, err)) return TN_EINVAL;
    } else if (json_is_string(v)) {
        tn_buf_printf(err, "field '%s': ", key);
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            tn_buf_puts(err, "contains a NUL byte");
            return TN_EINVAL;
        }
        if (tn_norm_ts_rfc3339(json_string_value(v), ms, err)) return TN_EINVAL;
    } else {
        tn_buf_printf(err, "field '%s' must be a number or an RFC 3339 string", key);
        return TN_EINVAL;
    }
    tn_buf_reset(err);
    return 0;
}

/* A trace or span id from the first of keys (then ECS parent.id) that is a valid hex id. */
static void take_id(json_t *r, const char *const keys[2], const char *ecs, char *out, size_t digits,
                    consumed_t *used)
{
    for (int i = 0; i < 3; i++) {
        json_t *v =
            i < 2 ? json_object_get(r, keys[i]) : json_object_get(json_object_get(r, ecs), "id");
        if (!json_is_string(v)) continue;
        if (tn_norm_hex_id(json_string_value(v), json_string_length(v), out, digits) == 0 &&
            out[0]) {
            if (i < 2)
                consume(used, keys[i], NULL);
            else
                consume(used, ecs, "id");
            return;
        }
        out[0] = '\0';
    }
}

static int parse_record(json_t *r, const rec_ctx_t *c, const tn_parse_opts_t *o, tn_log_t *lg,
                        tn_buf_t *err)
{
    if (!json_is_object(r)) {
        tn_buf_puts(err, "record must be a JSON object");
        return TN_EINVAL;
    }
    consumed_t used = {.n = 0};
    consume(&used, "@version", NULL);

    /* body */
    static const char *const body_keys[] = {"message", "log", "msg", "MESSAGE"};
    for (size_t i = 0; !lg->body && i < sizeof body_keys / sizeof body_keys[0]; i++) {
        json_t *v = json_object_get(r, body_keys[i]);
        if (!json_is_string(v)) continue;
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            tn_buf_printf(err, "field '%s' contains a NUL byte", body_keys[i]);
            return TN_EINVAL;
        }
        if (!(lg->body = strdup(json_string_value(v)))) return TN_ENOMEM;
        consume(&used, body_keys[i], NULL);
    }
    if (!lg->body && !(lg->body = tn_json_dumps(r, JSON_COMPACT))) return TN_ENOMEM;

    /* time */
    static const char *const ts_keys[] = {"@timestamp", "timestamp", "time", "ts"};
    lg->ts_ms = c->has_ts ? c->ts_ms : o->now_ms;
    for (size_t i = 0; i < sizeof ts_keys / sizeof ts_keys[0]; i++) {
        json_t *v = json_object_get(r, ts_keys[i]);
        if (!v) continue;
        if (parse_ts(v, ts_keys[i], &lg->ts_ms, err)) return TN_EINVAL;
        consume(&used, ts_keys[i], NULL);
        break;
    }

    /* severity */
    static const char *const sev_keys[] = {"level", "severity", "log_level",
                                           "lvl",   "log",      "status"};
    const char *sev = "";
    for (size_t i = 0; i < sizeof sev_keys / sizeof sev_keys[0]; i++) {
        int ecs = strcmp(sev_keys[i], "log") == 0, status = strcmp(sev_keys[i], "status") == 0;
        json_t *v = json_object_get(r, sev_keys[i]);
        if (ecs) v = json_object_get(v, "level");
        if (!v || json_is_null(v) || (status && !json_is_string(v))) continue;
        if (json_is_string(v))
            sev = tn_norm_severity(json_string_value(v));
        else if (json_is_integer(v))
            sev = num_severity(json_integer_value(v));
        if (*sev) consume(&used, sev_keys[i], ecs ? "level" : NULL);
        if (*sev || !status) break;
    }
    if (!(lg->severity = strdup(sev))) return TN_ENOMEM;

    /* ids */
    static const char *const trace_keys[2] = {"trace_id", "traceId"};
    static const char *const span_keys[2] = {"span_id", "spanId"};
    take_id(r, trace_keys, "trace", lg->trace_id, 32, &used);
    take_id(r, span_keys, "span", lg->span_id, 16, &used);

    /* labels */
    json_t *tagv = c->tag ? json_string(c->tag) : NULL;
    if (c->tag && !tagv) return TN_ENOMEM;
    int rc = tagv ? add_soft(&lg->labels, "tag", tagv) : 0;
    json_decref(tagv);
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v)
    {
        if (rc || lg->labels.n >= TN_LOG_MAX_LABELS) break;
        if (is_consumed(&used, k, NULL)) continue;
        if (!json_is_object(v)) {
            rc = add_soft(&lg->labels, k, v);
            continue;
        }
        size_t klen = strlen(k);
        const char *ck;
        json_t *cv;
        json_object_foreach(v, ck, cv)
        {
            if (rc || lg->labels.n >= TN_LOG_MAX_LABELS) break;
            if (json_is_object(cv) || is_consumed(&used, k, ck)) continue;
            char name[TN_MAX_NAME_LEN + 2];
            if (klen + 1 + strlen(ck) > TN_MAX_NAME_LEN) continue;
            snprintf(name, sizeof name, "%s.%s", k, ck);
            rc = add_soft(&lg->labels, name, cv);
        }
    }
    if (rc) return rc;
    return tn_labels_finish(&lg->labels, err);
}

/* ---- bodies ----------------------------------------------------------------------------- */

typedef struct {
    const tn_parse_opts_t *o;
    tn_batch_t *out;
    tn_ingest_report_t *rep;
    tn_buf_t err;
} run_t;

/* Parses one record into the batch or rejects it. 0 or TN_ENOMEM. */
static int one(run_t *run, json_t *rec, const rec_ctx_t *c, const char *key, size_t index)
{
    tn_log_t *lg = tn_batch_push_log(run->out);
    if (!lg) return TN_ENOMEM;
    tn_buf_reset(&run->err);
    int r = parse_record(rec, c, run->o, lg, &run->err);
    if (r == TN_ENOMEM) return r;
    if (r) {
        tn_batch_drop_log(run->out);
        tn_ingest_report_reject(run->rep, key, index,
                                run->err.len ? run->err.data : "invalid record");
    } else {
        run->rep->accepted++;
    }
    return 0;
}

static int too_many(size_t n, const tn_parse_opts_t *o, tn_buf_t *fatal)
{
    if (n <= o->max_items) return 0;
    tn_buf_printf(fatal, "too many records in one request (%zu, limit %zu)", n, o->max_items);
    return TN_ETOOBIG;
}

static int has_nul_str(json_t *s)
{
    return json_is_string(s) && strlen(json_string_value(s)) != json_string_length(s);
}

/* One forward entry: time t (a number) and record rec. 0 or TN_ENOMEM. */
static int forward_entry(run_t *run, rec_ctx_t *c, json_t *t, json_t *rec, size_t i)
{
    c->has_ts = 0;
    tn_buf_reset(&run->err);
    tn_buf_puts(&run->err, "forward time: ");
    if (tn_norm_ts_number(json_number_value(t), TN_TS_AUTO, &c->ts_ms, &run->err)) {
        tn_ingest_report_reject(run->rep, "index", i,
                                run->err.len ? run->err.data : "invalid time");
        return 0;
    }
    c->has_ts = 1;
    return one(run, rec, c, "index", i);
}

/* A Fluentd Forward-protocol message in JSON notation (root[0] is the tag). */
static int parse_forward(run_t *run, json_t *root, tn_buf_t *fatal)
{
    json_t *tag = json_array_get(root, 0), *t = json_array_get(root, 1);
    size_t n = json_array_size(root);
    rec_ctx_t c = {has_nul_str(tag) ? NULL : json_string_value(tag), 0, 0};
    if (json_is_number(t) && n >= 3 && n <= 4) {
        int rc = too_many(1, run->o, fatal);
        return rc ? rc : forward_entry(run, &c, t, json_array_get(root, 2), 0);
    }
    if (!json_is_array(t) || n < 2 || n > 3) {
        tn_buf_puts(fatal, "an array starting with a string must be a Fluentd forward message: "
                           "[tag, time, record, option] or [tag, [[time, record], ...], option]");
        return TN_EINVAL;
    }
    int rc = too_many(json_array_size(t), run->o, fatal);
    size_t i;
    json_t *entry;
    json_array_foreach(t, i, entry)
    {
        if (rc) break;
        json_t *et = json_array_get(entry, 0);
        if (!json_is_array(entry) || json_array_size(entry) != 2 || !json_is_number(et))
            tn_ingest_report_reject(run->rep, "index", i, "forward entry must be [time, record]");
        else
            rc = forward_entry(run, &c, et, json_array_get(entry, 1), i);
    }
    return rc;
}

/* NDJSON: returns 0, TN_ETOOBIG, TN_ENOMEM, or TN_EINVAL when no line is valid JSON. */
static int parse_ndjson(run_t *run, const char *body, size_t len, tn_buf_t *fatal)
{
    size_t lines = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(body + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - body) : len, s = p;
        while (s < e && is_space(body[s]))
            s++;
        lines += s < e;
        p = e + 1;
    }
    int rc = too_many(lines, run->o, fatal);
    if (rc) return rc;
    int any_json = 0;
    tn_buf_t first;
    tn_buf_init(&first);
    rec_ctx_t c = {NULL, 0, 0};
    size_t lineno = 0;
    for (size_t p = 0; p < len && !rc;) {
        const char *nl = memchr(body + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - body) : len, s = p;
        lineno++;
        p = e + 1;
        while (s < e && is_space(body[s]))
            s++;
        while (e > s && is_space(body[e - 1]))
            e--;
        if (s == e) continue;
        json_error_t je;
        json_t *rec = json_loadb(body + s, e - s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!rec) {
            if (tn_json_load_oom(&je)) {
                rc = TN_ENOMEM;
                break;
            }
            char msg[256];
            snprintf(msg, sizeof msg, "invalid JSON at column %d: %s", je.column, je.text);
            if (!first.len) tn_buf_printf(&first, "line %zu: %s", lineno, msg);
            tn_ingest_report_reject(run->rep, "line", lineno, msg);
            continue;
        }
        any_json = 1;
        rc = one(run, rec, &c, "line", lineno);
        json_decref(rec);
    }
    if (!rc && !any_json) {
        tn_buf_puts(fatal, first.len ? first.data : "no JSON record in the body");
        rc = TN_EINVAL;
    }
    tn_buf_deinit(&first);
    return rc;
}

int tn_parse_logs_json(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    size_t i = 0;
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < len && is_space(body[i]))
        i++;
    if (i == len) {
        tn_buf_puts(fatal, "empty body");
        return TN_EINVAL;
    }
    if (body[i] != '[' && body[i] != '{') {
        tn_buf_puts(fatal, "body must be JSON log records: an array, one object, or NDJSON");
        return TN_EINVAL;
    }
    run_t run = {o, out, rep, {0}};
    tn_buf_init(&run.err);
    size_t n0 = out->nlogs;
    int rc = 0;
    json_error_t je;
    json_t *root = json_loadb(body + i, len - i, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!root && tn_json_load_oom(&je)) {
        rc = TN_ENOMEM;
    } else if (!root && (body[i] == '[' || !memchr(body + i, '\n', len - i))) {
        tn_buf_printf(fatal, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        rc = TN_EINVAL;
    } else if (!root) {
        rc = parse_ndjson(&run, body + i, len - i, fatal);
    } else if (json_is_object(root)) {
        rec_ctx_t c = {NULL, 0, 0};
        rc = too_many(1, o, fatal);
        if (!rc) rc = one(&run, root, &c, "index", 0);
    } else if (json_is_string(json_array_get(root, 0))) {
        rc = parse_forward(&run, root, fatal);
    } else {
        rec_ctx_t c = {NULL, 0, 0};
        rc = too_many(json_array_size(root), o, fatal);
        size_t k;
        json_t *rec;
        json_array_foreach(root, k, rec)
        {
            if (rc) break;
            rc = one(&run, rec, &c, "index", k);
        }
    }
    json_decref(root);
    tn_buf_deinit(&run.err);
    if (rc) {
        /* a refused body leaves neither records nor rejections behind */
        while (out->nlogs > n0)
            tn_batch_drop_log(out);
        rep->accepted = rep->rejected = 0;
        tn_buf_reset(&rep->errors);
        if (rc == TN_ENOMEM) {
            tn_buf_reset(fatal);
            tn_buf_puts(fatal, "out of memory");
        }
    } else if (rep->errors.len) {
        tn_buf_puts(&rep->errors, "]");
    }
    return rc;
}
