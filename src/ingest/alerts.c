#include "ingest/alerts.h"
#include "ingest/normalize.h"
#include "core/error.h"
#include "core/json_arena.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TITLE 1024
#define MAX_FINGERPRINT 64
#define MAX_PD_ID 128
#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

/* ---- helpers ---------------------------------------------------------------------------- */

/* Parses the whole body; NULL with the reason in fatal (*rc TN_EINVAL or TN_ENOMEM). */
static json_t *load(const char *body, size_t len, tn_buf_t *fatal, int *rc)
{
    json_error_t je;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    *rc = TN_EINVAL;
    if (i == len) {
        tn_buf_puts(fatal, "empty body");
        return NULL;
    }
    json_t *root =
        json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        if (tn_json_load_oom(&je)) {
            *rc = TN_ENOMEM;
            tn_buf_puts(fatal, "out of memory");
        } else {
            tn_buf_printf(fatal, "invalid JSON at line %d, column %d: %s", je.line, je.column,
                          je.text);
        }
    }
    return root;
}

static uint64_t fnv_add(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= FNV_PRIME;
    }
    return h;
}

static char *hex16(uint64_t h)
{
    char *s = malloc(17);
    if (s) snprintf(s, 17, "%016llx", (unsigned long long)h);
    return s;
}

static int has_nul(json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

/* A copy of at most MAX_TITLE bytes, cut at a UTF-8 boundary. */
static char *dup_title(const char *s, size_t n)
{
    if (n > MAX_TITLE) {
        n = MAX_TITLE;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return strndup(s, n);
}

/* [a-z_]{1,32} (digits too when digits is set). */
static int is_ident(const char *s, int digits)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
              (digits && s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

/* data: the object as compact JSON, NULL when it is empty. 0 or TN_ENOMEM. */
static int dump_data(json_t *d, char **out)
{
    *out = NULL;
    if (json_object_size(d) == 0) return 0;
    *out = tn_json_dumps(d, JSON_COMPACT);
    return *out ? 0 : TN_ENOMEM;
}

static int set_ref(json_t *d, const char *key, json_t *v)
{
    return json_object_set(d, key, v) ? TN_ENOMEM : 0;
}

/* Adds every pair of a JSON object of strings. */
static int add_label_obj(tn_labels_t *l, json_t *obj, const char *field, tn_buf_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v)) {
            tn_buf_printf(err, "%s: label '%.64s' must have a string value", field, k);
            return TN_EINVAL;
        }
        int rc = tn_labels_add(l, k, json_string_value(v), json_string_length(v), err);
        if (rc) return rc;
    }
    return 0;
}

/* Adds name=v when v is a string. */
static int add_opt_label(tn_labels_t *l, const char *name, json_t *v, tn_buf_t *err)
{
    if (!json_is_string(v)) return 0;
    return tn_labels_add(l, name, json_string_value(v), json_string_length(v), err);
}

/* Sets the constant strings of an event. 0 or TN_ENOMEM. */
static int set_strings(tn_event_t *e, const char *type, const char *source, const char *status)
{
    e->type = strdup(type);
    e->source = strdup(source);
    e->status = strdup(status);
    return e->type && e->source && e->status ? 0 : TN_ENOMEM;
}

typedef int (*event_fn)(json_t *item, const void *ctx, const tn_parse_opts_t *o, tn_event_t *e,
                        tn_buf_t *err);

/* Runs fn over the items (arr itself when single), keeping the good events. */
static int run(json_t *arr, int single, event_fn fn, const void *ctx, const tn_parse_opts_t *o,
               tn_batch_t *out, tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    size_t n = single ? 1 : json_array_size(arr);
    if (n > o->max_items) {
        tn_buf_printf(fatal, "too many items in one request (%zu, limit %zu)", n, o->max_items);
        return TN_ETOOBIG;
    }
    size_t n0 = out->nevents;
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *item = single ? arr : json_array_get(arr, i);
        tn_event_t *e = tn_batch_push_event(out);
        if (!e) {
            rc = TN_ENOMEM;
            break;
        }
        tn_buf_reset(&err);
        int r = fn(item, ctx, o, e, &err);
        if (r == TN_ENOMEM) {
            rc = r;
            break;
        }
        if (r) {
            tn_batch_drop_event(out);
            tn_ingest_report_reject(rep, "index", i, err.len ? err.data : "invalid item");
        } else {
            rep->accepted++;
        }
    }
    if (rep->errors.len) tn_buf_puts(&rep->errors, "]");
    tn_buf_deinit(&err);
    if (rc == TN_ENOMEM) {
        while (out->nevents > n0)
            tn_batch_drop_event(out);
        tn_buf_puts(fatal, "out of memory");
    }
    return rc;
}

/* ---- Alertmanager ----------------------------------------------------------------------- */

typedef struct {
    const char *source;
    json_t *group; /* the webhook body, or NULL for the API */
    int group_resolved;
} am_ctx_t;

/* An Alertmanager time: absent, null, "" or Go's zero time (year 1) leave *set at 0. */
static int am_time(json_t *a, const char *key, int64_t *ms, int *set, tn_buf_t *err)
{
    json_t *v = json_object_get(a, key);
    *set = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v) || has_nul(v)) {
        tn_buf_printf(err, "field '%s' must be an RFC 3339 string", key);
        return TN_EINVAL;
    }
    const char *s = json_string_value(v);
    if (!*s || strncmp(s, "0001-01-01T", 11) == 0) return 0;
    tn_buf_t e;
    tn_buf_init(&e);
    int rc = tn_norm_ts_rfc3339(s, ms, &e);
    if (rc) tn_buf_printf(err, "field '%s': %s", key, e.data ? e.data : "invalid timestamp");
    tn_buf_deinit(&e);
    *set = rc == 0;
    return rc ? TN_EINVAL : 0;
}

/* Alertmanager's fingerprint of a label set (model.LabelSet.Fingerprint). The values are
 * strings without NUL (checked by the caller) and there are at most TN_MAX_LABELS of them. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint64_t am_fingerprint(json_t *labels)
{
    const char *keys[TN_MAX_LABELS];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        if (n < TN_MAX_LABELS) keys[n++] = k;
    }
    qsort(keys, n, sizeof keys[0], cmp_str);
    uint64_t h = FNV_OFFSET;
    const unsigned char sep = 0xff;
    for (size_t i = 0; i < n; i++) {
        json_t *val = json_object_get(labels, keys[i]);
        h = fnv_add(h, keys[i], strlen(keys[i]));
        h = fnv_add(h, &sep, 1);
        h = fnv_add(h, json_string_value(val), json_string_length(val));
        h = fnv_add(h, &sep, 1);
    }
    return h;
}

static int parse_alert(json_t *a, const void *vctx, const tn_parse_opts_t *o, tn_event_t *e,
                       tn_buf_t *err)
{
    const am_ctx_t *c = vctx;
    if (!json_is_object(a)) {
        tn_buf_puts(err, "alert must be a JSON object");
        return TN_EINVAL;
    }
    json_t *labels = json_object_get(a, "labels");
    if (!labels) {
        tn_buf_puts(err, "missing field 'labels'");
        return TN_EINVAL;
    }
    if (!json_is_object(labels)) {
        tn_buf_puts(err, "field 'labels' must be an object of strings");
        return TN_EINVAL;
    }
    if (json_object_size(labels) == 0) {
        tn_buf_puts(err, "at least one label pair required");
        return TN_EINVAL;
    }
    int rc = add_label_obj(&e->labels, labels, "labels", err);
    if (!rc) rc = tn_labels_finish(&e->labels, err);
    if (rc) return rc;

    json_t *ann = json_object_get(a, "annotations");
    if (json_is_null(ann)) ann = NULL;
    if (ann) {
        if (!json_is_object(ann)) {
            tn_buf_puts(err, "field 'annotations' must be an object of strings");
            return TN_EINVAL;
        }
        const char *k;
        json_t *v;
        json_object_foreach(ann, k, v)
        {
            if (!json_is_string(v)) {
                tn_buf_printf(err, "annotation '%.64s' must have a string value", k);
                return TN_EINVAL;
            }
        }
    }
    int64_t starts = 0, ends = 0;
    int has_s, has_e;
    if (am_time(a, "startsAt", &starts, &has_s, err) || am_time(a, "endsAt", &ends, &has_e, err))
        return TN_EINVAL;
    if (has_s && has_e && ends < starts) {
        tn_buf_puts(err, "endsAt is before startsAt");
        return TN_EINVAL;
    }
    json_t *gen = json_object_get(a, "generatorURL");
    if (gen && !json_is_null(gen) && !json_is_string(gen)) {
        tn_buf_puts(err, "field 'generatorURL' must be a string");
        return TN_EINVAL;
    }

    const char *status = NULL;
    json_t *fp = NULL;
    if (c->group) {
        json_t *st = json_object_get(a, "status");
        if (st && !json_is_null(st)) {
            if (!json_is_string(st) ||
                (strcmp(json_string_value(st), "firing") &&
                 strcmp(json_string_value(st), "resolved")) ||
                has_nul(st)) {
                tn_buf_puts(err, "field 'status' must be \"firing\" or \"resolved\"");
                return TN_EINVAL;
            }
            status = json_string_value(st);
        }
        fp = json_object_get(a, "fingerprint");
        if (json_is_null(fp)) fp = NULL;
        if (fp && (!json_is_string(fp) || json_string_length(fp) == 0 ||
                   json_string_length(fp) > MAX_FINGERPRINT || has_nul(fp))) {
            tn_buf_printf(err, "field 'fingerprint' must be a string of 1 to %d bytes",
                          MAX_FINGERPRINT);
            return TN_EINVAL;
        }
    }
    if (!status) status = c->group_resolved || (has_e && ends <= o->now_ms) ? "resolved" : "firing";
    int resolved = strcmp(status, "resolved") == 0;
    e->ts_ms = resolved && has_e ? ends : has_s ? starts : o->now_ms;

    if (set_strings(e, "alert", c->source, status)) return TN_ENOMEM;
    json_t *an = json_object_get(labels, "alertname");
    if (an && json_string_length(an) > 0)
        e->title = dup_title(json_string_value(an), json_string_length(an));
    else
        e->title = strdup("alert");
    if (!e->title) return TN_ENOMEM;
    e->fingerprint = fp ? strdup(json_string_value(fp)) : hex16(am_fingerprint(labels));
    if (!e->fingerprint) return TN_ENOMEM;

    json_t *d = json_object();
    if (!d) return TN_ENOMEM;
    static const char *const own[] = {"generatorURL", "startsAt", "endsAt"};
    static const char *const group[] = {"receiver", "groupKey", "externalURL"};
    rc = ann ? set_ref(d, "annotations", ann) : 0;
    for (size_t i = 0; !rc && i < sizeof own / sizeof own[0]; i++) {
        json_t *v = json_object_get(a, own[i]);
        if (json_is_string(v)) rc = set_ref(d, own[i], v);
    }
    for (size_t i = 0; !rc && c->group && i < sizeof group / sizeof group[0]; i++) {
        json_t *v = json_object_get(c->group, group[i]);
        if (json_is_string(v)) rc = set_ref(d, group[i], v);
    }
    if (!rc) rc = dump_data(d, &e->data);
    json_decref(d);
    return rc;
}

int tn_parse_am_alerts(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    int rc;
    json_t *root = load(body, len, fatal, &rc);
    if (!root) return rc;
    if (!json_is_array(root)) {
        tn_buf_puts(fatal,
                    "body must be a JSON array of alerts (Alertmanager POST /api/v2/alerts)");
        json_decref(root);
        return TN_EINVAL;
    }
    am_ctx_t ctx = {"prometheus", NULL, 0};
    rc = run(root, 0, parse_alert, &ctx, o, out, rep, fatal);
    json_decref(root);
    return rc;
}

int tn_parse_am_webhook(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                        tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    int rc;
    json_t *root = load(body, len, fatal, &rc);
    if (!root) return rc;
    json_t *alerts = json_object_get(root, "alerts");
    if (!json_is_object(root) || !json_is_array(alerts)) {
        tn_buf_puts(fatal, "body must be an Alertmanager webhook object with an \"alerts\" array");
        json_decref(root);
        return TN_EINVAL;
    }
    json_t *st = json_object_get(root, "status");
    am_ctx_t ctx = {"alertmanager", root,
                    json_is_string(st) && strcmp(json_string_value(st), "resolved") == 0};
    rc = run(alerts, 0, parse_alert, &ctx, o, out, rep, fatal);
    json_decref(root);
    return rc;
}

/* ---- PagerDuty -------------------------------------------------------------------------- */

/* o[k1][k2] (k2 may be NULL), or NULL. */
static json_t *path(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);
    return k2 ? json_object_get(v, k2) : v;
}

/* A usable id: a string of 1..MAX_PD_ID bytes without NUL. */
static int pd_id_ok(json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= MAX_PD_ID &&
           !has_nul(v);
}

static int parse_pd(json_t *ev, const void *ctx, const tn_parse_opts_t *o, tn_event_t *e,
                    tn_buf_t *err)
{
    (void)ctx;
    json_t *et = json_object_get(ev, "event_type");
    if (!et) {
        tn_buf_puts(err, "missing field 'event_type'");
        return TN_EINVAL;
    }
    const char *ets = json_string_value(et);
    size_t etn = json_string_length(et);
    int ok = json_is_string(et) && etn >= 1 && etn <= 64 && !has_nul(et);
    for (size_t i = 0; ok && i < etn; i++)
        ok = (ets[i] >= 'a' && ets[i] <= 'z') || (ets[i] >= '0' && ets[i] <= '9') ||
             ets[i] == '_' || ets[i] == '.';
    if (!ok) {
        tn_buf_puts(err, "field 'event_type' must match [a-z0-9_.]{1,64}");
        return TN_EINVAL;
    }
    json_t *data = json_object_get(ev, "data");
    if (json_is_null(data)) data = NULL;
    if (data && !json_is_object(data)) {
        tn_buf_puts(err, "field 'data' must be an object");
        return TN_EINVAL;
    }
    json_t *occ = json_object_get(ev, "occurred_at");
    e->ts_ms = o->now_ms;
    if (occ && !json_is_null(occ)) {
        if (!json_is_string(occ) || has_nul(occ)) {
            tn_buf_puts(err, "field 'occurred_at' must be an RFC 3339 string");
            return TN_EINVAL;
        }
        tn_buf_puts(err, "field 'occurred_at': ");
        if (tn_norm_ts_rfc3339(json_string_value(occ), &e->ts_ms, err)) return TN_EINVAL;
        tn_buf_reset(err);
    }

    /* type and status */
    char type[33];
    json_t *rt = json_object_get(ev, "resource_type");
    if (json_is_string(rt) && !has_nul(rt) && is_ident(json_string_value(rt), 1)) {
        snprintf(type, sizeof type, "%s", json_string_value(rt));
    } else {
        size_t n = strcspn(ets, ".");
        snprintf(type, sizeof type, "%.*s", (int)(n > 32 ? 32 : n), ets);
        if (!type[0]) snprintf(type, sizeof type, "incident");
    }
    size_t tl = strlen(type);
    const char *status = ets;
    if (strncmp(ets, type, tl) == 0 && ets[tl] == '.')
        status = ets + tl + 1;
    else if (strchr(ets, '.'))
        status = strchr(ets, '.') + 1;
    if (set_strings(e, type, "pagerduty", status)) return TN_ENOMEM;

    /* title */
    static const char *const titles[] = {"title", "summary", "name"};
    for (size_t i = 0; !e->title && i < sizeof titles / sizeof titles[0]; i++) {
        json_t *t = json_object_get(data, titles[i]);
        if (!json_is_string(t) || json_string_length(t) == 0) continue;
        if (has_nul(t)) {
            tn_buf_printf(err, "field 'data.%s' contains a NUL byte", titles[i]);
            return TN_EINVAL;
        }
        if (!(e->title = dup_title(json_string_value(t), json_string_length(t)))) return TN_ENOMEM;
    }
    if (!e->title && !(e->title = strdup(ets))) return TN_ENOMEM;

    /* fingerprint */
    json_t *id = json_object_get(data, "id");
    if (!pd_id_ok(id)) id = json_object_get(ev, "id");
    if (pd_id_ok(id)) {
        e->fingerprint = strdup(json_string_value(id));
    } else {
        uint64_t h = fnv_add(FNV_OFFSET, ets, etn + 1);
        if (json_is_string(occ)) h = fnv_add(h, json_string_value(occ), json_string_length(occ));
        e->fingerprint = hex16(h);
    }
    if (!e->fingerprint) return TN_ENOMEM;

    /* labels */
    int is_service = strcmp(type, "service") == 0;
    json_t *teams = json_object_get(data, "teams");
    int rc = add_opt_label(
        &e->labels, "service",
        is_service ? path(data, "summary", NULL) : path(data, "service", "summary"), err);
    if (!rc) rc = add_opt_label(&e->labels, "urgency", path(data, "urgency", NULL), err);
    if (!rc) rc = add_opt_label(&e->labels, "priority", path(data, "priority", "summary"), err);
    if (!rc)
        rc = add_opt_label(&e->labels, "escalation_policy",
                           path(data, "escalation_policy", "summary"), err);
    if (!rc)
        rc = add_opt_label(&e->labels, "team", json_object_get(json_array_get(teams, 0), "summary"),
                           err);
    if (!rc) rc = add_opt_label(&e->labels, "agent", path(ev, "agent", "summary"), err);
    if (!rc) rc = tn_labels_finish(&e->labels, err);
    if (rc) return rc;

    if (data && !(e->data = tn_json_dumps(data, JSON_COMPACT))) return TN_ENOMEM;
    return 0;
}

int tn_parse_pagerduty_webhook(const char *body, size_t len, const tn_parse_opts_t *o,
                               tn_batch_t *out, tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    int rc;
    json_t *root = load(body, len, fatal, &rc);
    if (!root) return rc;
    json_t *ev = json_object_get(root, "event");
    if (!json_is_object(ev)) {
        if (json_is_array(json_object_get(root, "messages")))
            tn_buf_puts(fatal, "PagerDuty v2 webhooks (\"messages\") are not supported: use a v3 "
                               "webhook subscription");
        else
            tn_buf_puts(fatal, "body must be a PagerDuty v3 webhook: {\"event\": {...}}");
        json_decref(root);
        return TN_EINVAL;
    }
    rc = run(ev, 1, parse_pd, NULL, o, out, rep, fatal);
    json_decref(root);
    return rc;
}

/* ---- generic change events -------------------------------------------------------------- */

static int parse_change(json_t *c, const void *ctx, const tn_parse_opts_t *o, tn_event_t *e,
                        tn_buf_t *err)
{
    (void)ctx;
    if (!json_is_object(c)) {
        tn_buf_puts(err, "event must be a JSON object");
        return TN_EINVAL;
    }
    json_t *type = json_object_get(c, "type");
    if (!type) {
        tn_buf_puts(err, "missing field 'type'");
        return TN_EINVAL;
    }
    if (!json_is_string(type) || has_nul(type) || !is_ident(json_string_value(type), 0)) {
        tn_buf_puts(err, "field 'type' must match [a-z_]{1,32}");
        return TN_EINVAL;
    }
    json_t *svc = json_object_get(c, "service");
    if (json_is_null(svc)) svc = NULL;
    if (svc && !json_is_string(svc)) {
        tn_buf_puts(err, "field 'service' must be a string");
        return TN_EINVAL;
    }
    json_t *title = json_object_get(c, "title");
    if (json_is_null(title)) title = NULL;
    if (title && (!json_is_string(title) || has_nul(title))) {
        tn_buf_puts(err, "field 'title' must be a string without NUL bytes");
        return TN_EINVAL;
    }
    json_t *st = json_object_get(c, "status");
    if (json_is_null(st)) st = NULL;
    if (st && (!json_is_string(st) || has_nul(st) || !is_ident(json_string_value(st), 0))) {
        tn_buf_puts(err, "field 'status' must match [a-z_]{1,32}");
        return TN_EINVAL;
    }
    char vnum[32];
    const char *version = NULL;
    size_t vlen = 0;
    json_t *ver = json_object_get(c, "version");
    if (json_is_string(ver)) {
        version = json_string_value(ver), vlen = json_string_length(ver);
    } else if (json_is_integer(ver)) {
        snprintf(vnum, sizeof vnum, "%lld", (long long)json_integer_value(ver));
        version = vnum, vlen = strlen(vnum);
    } else if (ver && !json_is_null(ver)) {
        tn_buf_puts(err, "field 'version' must be a string or an integer");
        return TN_EINVAL;
    }
    e->ts_ms = o->now_ms;
    json_t *ts = json_object_get(c, "timestamp");
    if (json_is_number(ts)) {
        if (tn_norm_ts_number(json_number_value(ts), TN_TS_AUTO, &e->ts_ms, err)) return TN_EINVAL;
    } else if (json_is_string(ts)) {
        if (has_nul(ts) || tn_norm_ts_rfc3339(json_string_value(ts), &e->ts_ms, err)) {
            if (!err->len) tn_buf_puts(err, "invalid RFC 3339 timestamp");
            return TN_EINVAL;
        }
    } else if (ts && !json_is_null(ts)) {
        tn_buf_puts(err, "field 'timestamp' must be a number or an RFC 3339 string");
        return TN_EINVAL;
    }

    /* labels */
    int rc = 0;
    if (svc && json_string_length(svc))
        rc = tn_labels_add(&e->labels, "service", json_string_value(svc), json_string_length(svc),
                           err);
    if (!rc && version && vlen) rc = tn_labels_add(&e->labels, "version", version, vlen, err);
    json_t *labels = json_object_get(c, "labels");
    if (!rc && labels && !json_is_null(labels)) {
        if (!json_is_object(labels)) {
            tn_buf_puts(err, "field 'labels' must be an object of strings");
            return TN_EINVAL;
        }
        rc = add_label_obj(&e->labels, labels, "labels", err);
    }
    if (!rc) rc = tn_labels_finish(&e->labels, err);
    if (rc) return rc;

    const char *tname = json_string_value(type);
    if (set_strings(e, tname, "api", st ? json_string_value(st) : "")) return TN_ENOMEM;
    if (title) {
        e->title = dup_title(json_string_value(title), json_string_length(title));
    } else {
        tn_buf_t t;
        tn_buf_init(&t);
        int trc = tn_buf_puts(&t, tname);
        if (!trc && svc && json_string_length(svc))
            trc = tn_buf_printf(&t, " %s", json_string_value(svc));
        if (!trc && version && vlen) trc = tn_buf_printf(&t, " %.*s", (int)vlen, version);
        e->title = trc ? NULL : dup_title(t.data, t.len);
        tn_buf_deinit(&t);
    }
    if (!e->title) return TN_ENOMEM;

    char tsbuf[32];
    snprintf(tsbuf, sizeof tsbuf, "%lld", (long long)e->ts_ms);
    uint64_t h = fnv_add(FNV_OFFSET, tname, strlen(tname) + 1);
    if (svc) h = fnv_add(h, json_string_value(svc), json_string_length(svc));
    h = fnv_add(h, "", 1);
    if (version) h = fnv_add(h, version, vlen);
    h = fnv_add(h, "", 1);
    h = fnv_add(h, tsbuf, strlen(tsbuf));
    if (!(e->fingerprint = hex16(h))) return TN_ENOMEM;

    static const char *const known[] = {"type",    "service", "title", "timestamp",
                                        "version", "status",  "labels"};
    json_t *d = json_object();
    if (!d) return TN_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v)
    {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(k, known[i]))
            i++;
        if (i == sizeof known / sizeof known[0] && (rc = set_ref(d, k, v))) break;
    }
    if (!rc) rc = dump_data(d, &e->data);
    json_decref(d);
    return rc;
}

int tn_parse_change_events(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                           tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    int rc;
    json_t *root = load(body, len, fatal, &rc);
    if (!root) return rc;
    if (!json_is_object(root) && !json_is_array(root)) {
        tn_buf_puts(fatal, "body must be a change event object or an array of them");
        json_decref(root);
        return TN_EINVAL;
    }
    rc = run(root, json_is_object(root), parse_change, NULL, o, out, rep, fatal);
    json_decref(root);
    return rc;
}
