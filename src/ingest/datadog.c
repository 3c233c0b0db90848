#include "ingest/datadog.h"
#include "ingest/normalize.h"
#include "core/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UNIT 64

/* ---- helpers (same shape as alerts.c) --------------------------------------------------- */

static int has_nul(json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

/* ---- labels ----------------------------------------------------------------------------- */

/* Adds name=value, or joins value to an existing name's values with ','. */
static int add_merge(tn_labels_t *l, const char *name, const char *val, size_t vlen, tn_buf_t *err)
{
    char canon[TN_MAX_NAME_LEN + 2];
    if (tn_norm_label_name(name, canon, sizeof canon, err)) return TN_EINVAL;
    if (memchr(val, '\0', vlen)) {
        tn_buf_printf(err, "label '%s' value contains a NUL byte", canon);
        return TN_EINVAL;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].name, canon)) continue;
        char *old = l->items[i].value;
        size_t olen = strlen(old);
        for (const char *p = old;;) { /* a repeat? */
            size_t plen = strcspn(p, ",");
            if (plen == vlen && memcmp(p, val, vlen) == 0) return 0;
            if (!p[plen]) break;
            p += plen + 1;
        }
        if (olen + 1 + vlen > TN_MAX_LABEL_VALUE_LEN) {
            tn_buf_printf(err, "label '%s' values are longer than %d bytes", canon,
                          TN_MAX_LABEL_VALUE_LEN);
            return TN_EINVAL;
        }
        char *v = realloc(old, olen + 1 + vlen + 1);
        if (!v) return TN_ENOMEM;
        v[olen] = ',';
        memcpy(v + olen + 1, val, vlen);
        v[olen + 1 + vlen] = '\0';
        l->items[i].value = v;
        return 0;
    }
    if (vlen > TN_MAX_LABEL_VALUE_LEN) {
        tn_buf_printf(err, "label '%s' value is longer than %d bytes", canon,
                      TN_MAX_LABEL_VALUE_LEN);
        return TN_EINVAL;
    }
    int rc = tn_labels_add_raw(l, canon, val, vlen);
    if (rc == TN_ETOOBIG) {
        tn_buf_printf(err, "too many labels (limit %d)", TN_MAX_LABELS);
        return TN_EINVAL;
    }
    return rc;
}

static int add_tag(tn_labels_t *l, json_t *t, size_t k, tn_buf_t *err)
{
    if (!json_is_string(t) || has_nul(t)) {
        tn_buf_printf(err, "tags[%zu] must be a string without NUL bytes", k);
        return TN_EINVAL;
    }
    const char *s = json_string_value(t);
    size_t n = json_string_length(t);
    const char *colon = memchr(s, ':', n);
    char name[TN_MAX_NAME_LEN + 8];
    size_t klen = colon ? (size_t)(colon - s) : 0;
    if (colon && klen > 0) {
        if (klen > TN_MAX_NAME_LEN) {
            tn_buf_printf(err, "tags[%zu]: key is longer than %d bytes", k, TN_MAX_NAME_LEN);
            return TN_EINVAL;
        }
        memcpy(name, s, klen);
        name[klen] = '\0';
        return add_merge(l, name, colon + 1, n - klen - 1, err);
    }
    if (n == 0) return 0; /* "" carries nothing */
    if (n > TN_MAX_NAME_LEN - 4) {
        tn_buf_printf(err, "tags[%zu] is longer than %d bytes", k, TN_MAX_NAME_LEN - 4);
        return TN_EINVAL;
    }
    snprintf(name, sizeof name, "tag_%s", s);
    return add_merge(l, name, "true", 4, err);
}

/* ---- series ----------------------------------------------------------------------------- */

/* Validates a series' own fields: name, unit (NULL when absent), labels (finished). */
static int series_head(json_t *s, char *name, char **unit, tn_labels_t *l, tn_buf_t *err)
{
    if (!json_is_object(s)) {
        tn_buf_puts(err, "series must be a JSON object");
        return TN_EINVAL;
    }
    json_t *m = json_object_get(s, "metric");
    if (!m) {
        tn_buf_puts(err, "missing field 'metric'");
        return TN_EINVAL;
    }
    if (!json_is_string(m) || json_string_length(m) == 0) {
        tn_buf_puts(err, "field 'metric' must be a non-empty string");
        return TN_EINVAL;
    }
    const char *too_long = NULL;
    if (!tn_norm_metric_name(json_string_value(m), json_string_length(m), name, &too_long)) {
        tn_buf_puts(err, too_long);
        return TN_EINVAL;
    }

    json_t *type = json_object_get(s, "type");
    if (type && !json_is_null(type) &&
        (!json_is_integer(type) || json_integer_value(type) < 0 || json_integer_value(type) > 3)) {
        tn_buf_puts(err, "field 'type' must be 0 (unspecified), 1 (count), 2 (rate) or 3 (gauge)");
        return TN_EINVAL;
    }
    json_t *pts = json_object_get(s, "points");
    if (!json_is_array(pts) || json_array_size(pts) == 0) {
        tn_buf_puts(err, "field 'points' must be a non-empty array");
        return TN_EINVAL;
    }
    json_t *u = json_object_get(s, "unit");
    if (u && !json_is_null(u)) {
        if (!json_is_string(u) || json_string_length(u) > MAX_UNIT || has_nul(u)) {
            tn_buf_printf(err, "field 'unit' must be a string of at most %d bytes", MAX_UNIT);
            return TN_EINVAL;
        }
        if (!(*unit = strdup(json_string_value(u)))) return TN_ENOMEM;
    }

    json_t *tags = json_object_get(s, "tags");
    if (tags && !json_is_null(tags) && !json_is_array(tags)) {
        tn_buf_puts(err, "field 'tags' must be an array of strings");
        return TN_EINVAL;
    }
    size_t k;
    json_t *v;
    json_array_foreach(tags, k, v)
    {
        int rc = add_tag(l, v, k, err);
        if (rc) return rc;
    }
    json_t *res = json_object_get(s, "resources");
    if (res && !json_is_null(res) && !json_is_array(res)) {
        tn_buf_puts(err, "field 'resources' must be an array of {\"name\",\"type\"}");
        return TN_EINVAL;
    }
    json_array_foreach(res, k, v)
    {
        json_t *rn = json_object_get(v, "name"), *rt = json_object_get(v, "type");
        if (!json_is_string(rn) || !json_is_string(rt) || json_string_length(rt) == 0 ||
            has_nul(rt) || json_string_length(rt) > TN_MAX_NAME_LEN) {
            tn_buf_printf(err, "resources[%zu] must have string fields 'name' and 'type'", k);
            return TN_EINVAL;
        }
        int rc =
            add_merge(l, json_string_value(rt), json_string_value(rn), json_string_length(rn), err);
        if (rc) return rc;
    }
    return tn_labels_finish(l, err);
}

/* Appends the samples of one series; rejections go to rep. 0 or TN_ENOMEM. */
static int parse_series(json_t *s, size_t idx, tn_batch_t *out, tn_ingest_report_t *rep,
                        tn_buf_t *err)
{
    json_t *pts = json_object_get(s, "points");
    size_t npts = json_array_size(pts);
    char name[TN_MAX_NAME_LEN + 2];
    char *unit = NULL;
    tn_labels_t base;
    tn_labels_init(&base);
    tn_buf_reset(err);
    int rc = series_head(s, name, &unit, &base, err);
    if (rc) {
        if (rc != TN_ENOMEM)
            tn_ingest_report_reject(rep, "index", idx, err->len ? err->data : "invalid series");
        goto done;
    }
    for (size_t j = 0; j < npts; j++) {
        json_t *p = json_array_get(pts, j);
        json_t *ts = json_object_get(p, "timestamp"), *val = json_object_get(p, "value");
        int64_t ms = 0;
        int bad = 1;
        tn_buf_reset(err);
        if (!json_is_object(p))
            tn_buf_printf(err, "point %zu must be an object", j);
        else if (!json_is_number(ts))
            tn_buf_printf(err, "point %zu: field 'timestamp' must be a number (epoch seconds)", j);
        else if (!json_is_number(val))
            tn_buf_printf(err, "point %zu: field 'value' must be a number", j);
        else if (tn_buf_printf(err, "point %zu: ", j) == 0)
            bad = tn_norm_ts_number(json_number_value(ts), TN_TS_S, &ms, err) != 0;
        if (bad) {
            tn_ingest_report_reject(rep, "index", idx, err->len ? err->data : "invalid point");
            continue;
        }
        tn_sample_t *smp = tn_samples_push(&out->samples);
        if (!smp) {
            rc = TN_ENOMEM;
            goto done;
        }
        smp->value = json_number_value(val);
        smp->ts_ms = ms;
        tn_labels_t l;
        tn_labels_init(&l);
        if (!(smp->name = strdup(name)) || (unit && !(smp->unit = strdup(unit))) ||
            tn_labels_copy(&l, &base)) {
            tn_labels_deinit(&l);
            tn_batch_drop_sample(out);
            rc = TN_ENOMEM;
            goto done;
        }
        rc = tn_sample_take_labels(smp, &l, err);
        if (rc) { /* cannot happen: base is finished */
            tn_batch_drop_sample(out);
            tn_ingest_report_reject(rep, "index", idx, err->data ? err->data : "invalid labels");
            rc = 0;
            continue;
        }
        rep->accepted++;
    }
done:
    free(unit);
    tn_labels_deinit(&base);
    return rc == TN_ENOMEM ? rc : 0;
}

int tn_parse_datadog_series(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                            tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len) {
        tn_buf_puts(fatal, "empty body");
        return TN_EINVAL;
    }
    json_error_t je;
    json_t *root =
        json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        if (tn_json_load_oom(&je)) {
            tn_buf_puts(fatal, "out of memory");
            return TN_ENOMEM;
        }
        tn_buf_printf(fatal, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return TN_EINVAL;
    }
    json_t *series = json_object_get(root, "series");
    if (!json_is_array(series)) {
        tn_buf_puts(fatal, "body must be a Datadog v2 series payload: {\"series\": [...]}");
        json_decref(root);
        return TN_EINVAL;
    }
    size_t total = 0, k;
    json_t *s;
    json_array_foreach(series, k, s)
    {
        size_t n = json_array_size(json_object_get(s, "points"));
        total += n ? n : 1;
    }
    if (total > o->max_items) {
        tn_buf_printf(fatal, "too many points in one request (%zu, limit %zu)", total,
                      o->max_items);
        json_decref(root);
        return TN_ETOOBIG;
    }
    size_t n0 = out->samples.n;
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = 0;
    json_array_foreach(series, k, s)
    {
        if ((rc = parse_series(s, k, out, rep, &err))) break;
    }
    if (rep->errors.len) tn_buf_puts(&rep->errors, "]");
    tn_buf_deinit(&err);
    json_decref(root);
    if (rc) {
        while (out->samples.n > n0)
            tn_batch_drop_sample(out);
        tn_buf_puts(fatal, "out of memory");
    }
    return rc;
}

/* ---- responses -------------------------------------------------------------------------- */

int tn_datadog_response_json(const tn_ingest_report_t *rep, tn_buf_t *out)
{
    int rc = tn_buf_puts(out, "{\"errors\":[");
    size_t shown = 0;
    if (!rc && rep->errors.len) {
        json_error_t je;
        json_t *arr = json_loadb(rep->errors.data, rep->errors.len, 0, &je);
        if (!arr) {
            if (tn_json_load_oom(&je)) return TN_ENOMEM;
        }
        size_t i;
        json_t *e;
        tn_buf_t line;
        tn_buf_init(&line);
        json_array_foreach(arr, i, e)
        {
            json_t *msg = json_object_get(e, "error");
            tn_buf_reset(&line);
            rc = tn_buf_printf(&line, "series %lld: %s",
                               (long long)json_integer_value(json_object_get(e, "index")),
                               json_is_string(msg) ? json_string_value(msg) : "rejected");
            if (!rc && shown) rc = tn_buf_puts(out, ",");
            if (!rc) rc = tn_buf_json_str(out, line.data, line.len);
            if (rc) break;
            shown++;
        }
        tn_buf_deinit(&line);
        json_decref(arr);
    }
    if (!rc && rep->rejected > shown) {
        char more[64];
        snprintf(more, sizeof more, "and %zu more rejected", rep->rejected - shown);
        if (shown) rc = tn_buf_puts(out, ",");
        if (!rc) rc = tn_buf_json_str(out, more, strlen(more));
    }
    if (!rc) rc = tn_buf_puts(out, "]}");
    return rc ? TN_ENOMEM : 0;
}

int tn_datadog_error_json(const char *msg, tn_buf_t *out)
{
    int rc = tn_buf_puts(out, "{\"errors\":[");
    if (!rc) rc = tn_buf_json_str(out, msg, strlen(msg));
    if (!rc) rc = tn_buf_puts(out, "]}");
    return rc ? TN_ENOMEM : 0;
}
