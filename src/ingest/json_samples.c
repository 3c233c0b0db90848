#include "ingest/json_samples.h"
#include "ingest/normalize.h"
#include "core/error.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTED 20

void tn_ingest_report_init(tn_ingest_report_t *r)
{
    r->accepted = r->rejected = 0;
    tn_buf_init(&r->errors);
}

void tn_ingest_report_deinit(tn_ingest_report_t *r)
{
    tn_buf_deinit(&r->errors);
}

/* Appends msg as a JSON string; bytes that are not valid UTF-8 (a name cut by %.64s) become '?'. */
static void json_str_utf8(tn_buf_t *b, const char *msg)
{
    size_t n = strlen(msg);
    char *c = malloc(n + 1);
    if (!c) return;
    memcpy(c, msg, n + 1);
    for (size_t i = 0; i < n;) {
        const unsigned char *u = (const unsigned char *)c + i;
        size_t k = 0; /* length of a valid sequence here, 0 when invalid */
        if (u[0] < 0x80)
            k = 1;
        else if (u[0] >= 0xC2 && u[0] <= 0xDF)
            k = i + 1 < n && (u[1] & 0xC0) == 0x80 ? 2 : 0;
        else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
            /* no overlongs (E0 80..9F) and no surrogates (ED A0..BF) */
            unsigned lo = u[0] == 0xE0 ? 0xA0 : 0x80, hi = u[0] == 0xED ? 0x9F : 0xBF;
            k = i + 2 < n && u[1] >= lo && u[1] <= hi && (u[2] & 0xC0) == 0x80 ? 3 : 0;
        } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
            /* no overlongs (F0 80..8F), nothing above U+10FFFF (F4 90..) */
            unsigned lo = u[0] == 0xF0 ? 0x90 : 0x80, hi = u[0] == 0xF4 ? 0x8F : 0xBF;
            k = i + 3 < n && u[1] >= lo && u[1] <= hi && (u[2] & 0xC0) == 0x80 &&
                        (u[3] & 0xC0) == 0x80
                    ? 4
                    : 0;
        }
        if (k == 0) {
            c[i++] = '?';
            continue;
        }
        i += k;
    }
    tn_buf_json_str(b, c, n);
    free(c);
}

void tn_ingest_report_reject(tn_ingest_report_t *r, const char *key, size_t index, const char *msg)
{
    if (r->rejected < MAX_REPORTED) {
        tn_buf_puts(&r->errors, r->errors.len ? "," : "[");
        tn_buf_printf(&r->errors, "{\"%s\":%zu,\"error\":", key, index);
        json_str_utf8(&r->errors, msg);
        tn_buf_puts(&r->errors, "}");
    }
    r->rejected++;
}

int tn_json_load_oom(const json_error_t *je)
{
    return json_error_code(je) == json_error_out_of_memory || (je->line == -1 && !je->text[0]);
}

/* Fills s from one JSON object; 0 or TN_EINVAL/TN_ENOMEM with a message in err. */
static int parse_one(json_t *o, int64_t now_ms, tn_sample_t *s, tn_buf_t *err)
{
    if (!json_is_object(o)) {
        tn_buf_puts(err, "sample must be a JSON object");
        return TN_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "name") && strcmp(key, "value") && strcmp(key, "labels") &&
            strcmp(key, "timestamp") && strcmp(key, "timestamp_unit") && strcmp(key, "unit")) {
            tn_buf_printf(err, "unknown field '%.64s'", key);
            return TN_EINVAL;
        }
    }
    json_t *name = json_object_get(o, "name");
    if (!name) {
        tn_buf_puts(err, "missing field 'name'");
        return TN_EINVAL;
    }
    if (!json_is_string(name) || !tn_metric_name_valid(json_string_value(name))) {
        tn_buf_puts(err, "field 'name' must be a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*");
        return TN_EINVAL;
    }
    json_t *value = json_object_get(o, "value");
    if (!value) {
        tn_buf_puts(err, "missing field 'value'");
        return TN_EINVAL;
    }
    if (!json_is_number(value)) {
        tn_buf_puts(err, "field 'value' must be a number");
        return TN_EINVAL;
    }
    s->value = json_number_value(value);

    tn_ts_unit_t unit = TN_TS_AUTO;
    json_t *tsu = json_object_get(o, "timestamp_unit");
    if (tsu && (!json_is_string(tsu) || tn_norm_ts_unit(json_string_value(tsu), &unit))) {
        tn_buf_puts(err, "field 'timestamp_unit' must be one of s, ms, us, ns");
        return TN_EINVAL;
    }
    json_t *ts = json_object_get(o, "timestamp");
    s->ts_ms = now_ms;
    if (ts && json_is_number(ts)) {
        if (tn_norm_ts_number(json_number_value(ts), unit, &s->ts_ms, err)) return TN_EINVAL;
    } else if (ts && json_is_string(ts)) {
        if (tn_norm_ts_rfc3339(json_string_value(ts), &s->ts_ms, err)) return TN_EINVAL;
    } else if (ts && !json_is_null(ts)) {
        tn_buf_puts(err, "field 'timestamp' must be a number or an RFC 3339 string");
        return TN_EINVAL;
    }

    json_t *u = json_object_get(o, "unit");
    if (u && !json_is_null(u)) {
        if (!json_is_string(u) || json_string_length(u) > 64) {
            tn_buf_puts(err, "field 'unit' must be a string of at most 64 bytes");
            return TN_EINVAL;
        }
        if (!(s->unit = strdup(json_string_value(u)))) return TN_ENOMEM;
    }
    if (!(s->name = strdup(json_string_value(name)))) return TN_ENOMEM;

    json_t *labels = json_object_get(o, "labels");
    if (labels && !json_is_null(labels)) {
        if (!json_is_object(labels)) {
            tn_buf_puts(err, "field 'labels' must be an object of strings");
            return TN_EINVAL;
        }
        size_t n = json_object_size(labels);
        if (n > TN_MAX_LABELS) {
            tn_buf_printf(err, "too many labels (%zu, limit %d)", n, TN_MAX_LABELS);
            return TN_EINVAL;
        }
        if (n && !(s->labels = calloc(n, sizeof *s->labels))) return TN_ENOMEM;
        json_object_foreach(labels, key, v)
        {
            if (!json_is_string(v)) {
                tn_buf_printf(err, "label '%.64s' must have a string value", key);
                return TN_EINVAL;
            }
            if (json_string_length(v) > TN_MAX_LABEL_VALUE_LEN) {
                tn_buf_printf(err, "label '%.64s' value is longer than %d bytes", key,
                              TN_MAX_LABEL_VALUE_LEN);
                return TN_EINVAL;
            }
            char canon[TN_MAX_NAME_LEN + 2];
            if (tn_norm_label_name(key, canon, sizeof canon, err)) return TN_EINVAL;
            tn_label_t *l = &s->labels[s->nlabels];
            if (!(l->name = strdup(canon))) return TN_ENOMEM;
            if (!(l->value = strdup(json_string_value(v)))) {
                free(l->name);
                return TN_ENOMEM;
            }
            s->nlabels++;
        }
    }
    return tn_sample_finish(s, err);
}

int tn_ingest_json_samples(const char *body, size_t len, size_t max_samples, int64_t now_ms,
                           tn_samples_t *out, tn_ingest_report_t *report, tn_buf_t *fatal)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        tn_buf_printf(fatal, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return TN_EINVAL;
    }
    json_t *arr = root;
    int single = 0;
    if (json_is_object(root)) {
        json_t *samples = json_object_get(root, "samples");
        if (samples) {
            if (!json_is_array(samples) || json_object_size(root) != 1) {
                tn_buf_puts(fatal, "'samples' must be the only field and hold an array");
                json_decref(root);
                return TN_EINVAL;
            }
            arr = samples;
        } else {
            single = 1;
        }
    } else if (!json_is_array(root)) {
        tn_buf_puts(fatal, "body must be a sample object, an array of samples or "
                           "{\"samples\": [...]}");
        json_decref(root);
        return TN_EINVAL;
    }
    size_t n = single ? 1 : json_array_size(arr);
    if (n > max_samples) {
        tn_buf_printf(fatal, "too many samples in one request (%zu, limit %zu)", n, max_samples);
        json_decref(root);
        return TN_ETOOBIG;
    }
    if (n == 0) {
        tn_buf_puts(fatal, "no samples in the body");
        json_decref(root);
        return TN_EINVAL;
    }
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *item = single ? arr : json_array_get(arr, i);
        tn_sample_t *s = tn_samples_push(out);
        if (!s) {
            rc = TN_ENOMEM;
            break;
        }
        tn_buf_reset(&err);
        int r = parse_one(item, now_ms, s, &err);
        if (r == TN_ENOMEM) {
            rc = r;
            break;
        }
        if (r) {
            tn_sample_deinit(s);
            out->n--;
            tn_ingest_report_reject(report, "index", i, err.data ? err.data : "invalid sample");
        } else {
            report->accepted++;
        }
    }
    if (report->errors.len) tn_buf_puts(&report->errors, "]");
    tn_buf_deinit(&err);
    json_decref(root);
    if (rc == TN_ENOMEM) tn_buf_puts(fatal, "out of memory");
    return rc;
}
