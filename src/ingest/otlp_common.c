/* otlp_common.c - shared parts of the OTLP JSON parsers and the partial-success response. */
#include "ingest/otlp_common.h"
#include "core/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTED 20
#define MAX_DEPTH 32

/* Called for every element of every list (it names the element in error messages), so without
 * printf: "parent.key[i]", cut to size. */
void tn__otlp_path(char *buf, size_t size, const char *parent, const char *key, size_t i)
{
    if (!size) return;
    char digits[24];
    size_t nd = 0, w = 0;
    do
        digits[nd++] = (char)('0' + i % 10);
    while ((i /= 10));
    const char *parts[3] = {parent, parent ? "." : NULL, key};
    for (int k = 0; k < 3; k++)
        for (const char *p = parts[k]; p && *p && w + 1 < size; p++)
            buf[w++] = *p;
    if (w + 1 < size) buf[w++] = '[';
    while (nd && w + 1 < size)
        buf[w++] = digits[--nd];
    if (w + 1 < size) buf[w++] = ']';
    buf[w] = '\0';
}

/* ---- request context --------------------------------------------------------------------- */

void tn__otlp_ctx_init(tn__otlp_ctx_t *c, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    memset(c, 0, sizeof *c);
    c->now_ms = o ? o->now_ms : tn_now_ms();
    c->max_items = o ? o->max_items : SIZE_MAX;
    c->out = out;
    c->rep = rep;
    c->fatal = fatal;
    tn_buf_init(&c->err);
    tn_buf_init(&c->text);
    c->n_samples = out->samples.n;
    c->n_logs = out->nlogs;
    c->n_spans = out->nspans;
    c->accepted = rep->accepted;
    c->rejected = rep->rejected;
    c->errors_len = rep->errors.len;
}

int tn__otlp_begin(tn__otlp_ctx_t *c, const char *body, size_t len, const tn_parse_opts_t *o,
                   tn_batch_t *out, tn_ingest_report_t *rep, tn_buf_t *fatal, const char *list_key,
                   json_t **root, json_t **list)
{
    tn__otlp_ctx_init(c, o, out, rep, fatal);
    *root = *list = NULL;

    json_error_t je;
    json_t *r = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (!r && json_error_code(&je) == json_error_out_of_memory)
        return tn__otlp_end(c, TN_ENOMEM, NULL);
    if (!r) {
        tn_buf_printf(fatal, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return tn__otlp_end(c, TN_EINVAL, NULL);
    }
    if (!json_is_object(r)) {
        tn_buf_printf(fatal, "body must be a JSON object with a '%s' array", list_key);
        return tn__otlp_end(c, TN_EINVAL, r);
    }
    int rc = tn__otlp_list(c, r, NULL, list_key, list);
    if (rc) return tn__otlp_end(c, rc, r);
    *root = r;
    return 0;
}

int tn__otlp_end(tn__otlp_ctx_t *c, int rc, json_t *root)
{
    tn_ingest_report_t *rep = c->rep;
    if (rc == 0 && rep->errors.len && rep->errors.data[rep->errors.len - 1] != ']' &&
        tn_buf_puts(&rep->errors, "]"))
        rc = TN_ENOMEM;
    if (rc) {
        tn_batch_t *b = c->out;
        while (b->samples.n > c->n_samples)
            tn_batch_drop_sample(b);
        while (b->nlogs > c->n_logs)
            tn_batch_drop_log(b);
        while (b->nspans > c->n_spans)
            tn_batch_drop_span(b);
        rep->accepted = c->accepted;
        rep->rejected = c->rejected;
        if (rep->errors.data) {
            rep->errors.len = c->errors_len;
            rep->errors.data[rep->errors.len] = '\0';
            if (rep->errors.len) rep->errors.data[rep->errors.len - 1] = ']';
        }
        if (rc == TN_ENOMEM && c->fatal->len == 0) tn_buf_puts(c->fatal, "out of memory");
    }
    tn_buf_deinit(&c->err);
    tn_buf_deinit(&c->text);
    json_decref(root);
    return rc;
}

void tn__otlp_accept(tn__otlp_ctx_t *c)
{
    c->rep->accepted++;
    c->index++;
}

int tn__otlp_reject(tn__otlp_ctx_t *c, const char *path, const char *prefix, const char *msg)
{
    tn_ingest_report_t *r = c->rep;
    size_t index = c->index++;
    if (r->rejected++ >= MAX_REPORTED) return 0;
    tn_buf_t *e = &r->errors;
    if (e->len && e->data[e->len - 1] == ']') e->data[--e->len] = '\0';
    tn_buf_t m;
    tn_buf_init(&m);
    int rc =
        tn_buf_printf(&m, "%s: %s%s", path, prefix ? prefix : "", msg && *msg ? msg : "invalid");
    if (!rc) rc = tn_buf_puts(e, e->len ? "," : "[");
    if (!rc) rc = tn_buf_printf(e, "{\"index\":%zu,\"error\":", index);
    if (!rc) rc = tn_buf_json_str(e, m.data, m.len);
    if (!rc) rc = tn_buf_puts(e, "}");
    tn_buf_deinit(&m);
    return rc ? TN_ENOMEM : 0;
}

int tn__otlp_room(tn__otlp_ctx_t *c, size_t n)
{
    if (c->produced + n > c->max_items || c->produced + n < n) {
        tn_buf_printf(c->fatal, "too many records in one request (limit %zu)", c->max_items);
        return TN_ETOOBIG;
    }
    return 0;
}

/* ---- JSON access ------------------------------------------------------------------------- */

json_t *tn__otlp_get(json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

int tn__otlp_list(tn__otlp_ctx_t *c, json_t *obj, const char *path, const char *key, json_t **arr)
{
    *arr = tn__otlp_get(obj, key);
    if (*arr && !json_is_array(*arr)) {
        tn_buf_printf(c->fatal, "%s%s%s must be an array", path ? path : "", path ? "." : "", key);
        *arr = NULL;
        return TN_EINVAL;
    }
    return 0;
}

int tn__otlp_need_object(tn__otlp_ctx_t *c, json_t *v, const char *path)
{
    if (json_is_object(v)) return 0;
    tn_buf_printf(c->fatal, "%s must be an object", path);
    return TN_EINVAL;
}

/* ---- scalars ----------------------------------------------------------------------------- */

/* Decimal digits only (at least one, at most 20), into *out without overflow. */
static int parse_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return TN_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return TN_EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return TN_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int tn__otlp_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) return TN_EINVAL;
        *out = (uint64_t)i;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d < 18446744073709551616.0) || d != floor(d)) return TN_EINVAL;
        *out = (uint64_t)d;
        return 0;
    }
    if (json_is_string(v)) return parse_digits(json_string_value(v), out);
    return TN_EINVAL;
}

int tn__otlp_i64(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
            return TN_EINVAL;
        *out = (int64_t)d;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int neg = *s == '-';
        uint64_t u;
        if (parse_digits(s + neg, &u)) return TN_EINVAL;
        if (neg) {
            if (u > (uint64_t)INT64_MAX + 1) return TN_EINVAL;
            *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        } else {
            if (u > (uint64_t)INT64_MAX) return TN_EINVAL;
            *out = (int64_t)u;
        }
        return 0;
    }
    return TN_EINVAL;
}

int tn__otlp_double(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (!json_is_string(v)) return TN_EINVAL;
    const char *s = json_string_value(v);
    if (strcmp(s, "NaN") == 0) return *out = NAN, 0;
    if (strcmp(s, "Infinity") == 0) return *out = INFINITY, 0;
    if (strcmp(s, "-Infinity") == 0) return *out = -INFINITY, 0;
    /* a JSON-like number: sign, digits, '.', exponent; strtod would also take "inf", hex, blanks */
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s)) return TN_EINVAL;
    char *end;
    double d = strtod(s, &end);
    if (*end || isinf(d)) return TN_EINVAL;
    *out = d;
    return 0;
}

int tn__otlp_int(json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!json_is_integer(v)) return TN_EINVAL;
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi) return TN_EINVAL;
    *out = i;
    return 0;
}

int tn__otlp_enum(json_t *v, const char *prefix, const char *const *names, size_t n, int64_t lo,
                  int64_t hi, int64_t *out)
{
    if (!json_is_string(v)) return tn__otlp_int(v, lo, hi, out);
    const char *s = json_string_value(v);
    size_t pl = strlen(prefix);
    if (json_string_length(v) <= pl || strncmp(s, prefix, pl) != 0) return TN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s + pl, names[i]) == 0) {
            *out = (int64_t)i;
            return 0;
        }
    }
    return TN_EINVAL;
}

int tn__otlp_time_ns(json_t *obj, const char *field, uint64_t *ns, tn_buf_t *err)
{
    json_t *v = tn__otlp_get(obj, field);
    *ns = 0;
    if (v && tn__otlp_u64(v, ns)) {
        tn_buf_printf(err, "%s is not a number", field);
        return TN_EINVAL;
    }
    return 0;
}

int tn__otlp_time_ms(json_t *obj, const char *field, int64_t dflt, int64_t *ms, tn_buf_t *err)
{
    uint64_t ns;
    if (tn__otlp_time_ns(obj, field, &ns, err)) return TN_EINVAL;
    *ms = ns ? (int64_t)(ns / 1000000) : dflt;
    return 0;
}

void tn__otlp_fmt_double(double v, char buf[32])
{
    if (isnan(v)) {
        strcpy(buf, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* the fewest significant digits that read back as v, laid out like Go's
     * strconv.FormatFloat(v, 'g', -1, 64) (what Prometheus prints): exponent form when the
     * exponent is below -4 or at least 6, else plain decimals */
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, 32, "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v) break;
    }
    snprintf(buf, 32, "%.*e", p - 1, v);
    int exp = atoi(strchr(buf, 'e') + 1);
    if (exp >= -4 && exp < 6) snprintf(buf, 32, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
}

/* ---- AnyValue ---------------------------------------------------------------------------- */

enum { AV_NONE = -1, AV_STRING, AV_BOOL, AV_INT, AV_DOUBLE, AV_ARRAY, AV_KVLIST, AV_BYTES };
static const char *const g_av_fields[] = {"stringValue", "boolValue",   "intValue",  "doubleValue",
                                          "arrayValue",  "kvlistValue", "bytesValue"};
#define AV_NFIELDS (sizeof g_av_fields / sizeof g_av_fields[0])

/* Which field of the oneof is set: AV_* (the value in *val), AV_NONE, or TN_EINVAL - 10. */
static int av_kind(json_t *av, json_t **val, tn_buf_t *err)
{
    if (!json_is_object(av)) {
        tn_buf_puts(err, "value must be an object");
        return TN_EINVAL - 10;
    }
    int kind = AV_NONE;
    for (size_t i = 0; i < AV_NFIELDS; i++) {
        json_t *x = tn__otlp_get(av, g_av_fields[i]);
        if (!x) continue;
        if (kind != AV_NONE) {
            tn_buf_printf(err, "value has both %s and %s", g_av_fields[kind], g_av_fields[i]);
            return TN_EINVAL - 10;
        }
        kind = (int)i;
        *val = x;
    }
    return kind;
}

static int av_scalar_bad(int kind, tn_buf_t *err)
{
    static const char *const what[] = {"a string",  "a boolean", "an integer",     "a number",
                                       "an object", "an object", "a base64 string"};
    tn_buf_printf(err, "%s must be %s", g_av_fields[kind], what[kind]);
    return TN_EINVAL;
}

static int av_json(json_t *av, tn_buf_t *out, tn_buf_t *err, int depth);

static int av_json_list(int kind, json_t *x, tn_buf_t *out, tn_buf_t *err, int depth)
{
    if (!json_is_object(x)) return av_scalar_bad(kind, err);
    json_t *values = tn__otlp_get(x, "values");
    if (values && !json_is_array(values)) {
        tn_buf_printf(err, "%s.values must be an array", g_av_fields[kind]);
        return TN_EINVAL;
    }
    int rc = tn_buf_puts(out, kind == AV_ARRAY ? "[" : "{");
    size_t i;
    json_t *e;
    json_array_foreach(values, i, e)
    {
        if (!rc && i) rc = tn_buf_puts(out, ",");
        if (rc) return TN_ENOMEM;
        if (kind == AV_ARRAY) {
            rc = av_json(e, out, err, depth + 1);
            if (rc) return rc;
            continue;
        }
        if (!json_is_object(e)) {
            tn_buf_puts(err, "kvlistValue.values must hold objects");
            return TN_EINVAL;
        }
        json_t *k = tn__otlp_get(e, "key"), *v = tn__otlp_get(e, "value");
        if (k && !json_is_string(k)) {
            tn_buf_puts(err, "kvlistValue key must be a string");
            return TN_EINVAL;
        }
        rc = tn_buf_json_str(out, k ? json_string_value(k) : "", k ? json_string_length(k) : 0);
        if (!rc) rc = tn_buf_puts(out, ":");
        if (rc) return TN_ENOMEM;
        rc = v ? av_json(v, out, err, depth + 1) : tn_buf_puts(out, "null");
        if (rc) return rc;
    }
    return rc || tn_buf_puts(out, kind == AV_ARRAY ? "]" : "}") ? TN_ENOMEM : 0;
}

static int av_json(json_t *av, tn_buf_t *out, tn_buf_t *err, int depth)
{
    if (depth > MAX_DEPTH) {
        tn_buf_printf(err, "value nested deeper than %d levels", MAX_DEPTH);
        return TN_EINVAL;
    }
    json_t *x = NULL;
    int kind = av_kind(av, &x, err), rc = 0;
    if (kind < AV_NONE) return TN_EINVAL;
    char num[32];
    int64_t i;
    double d;
    switch (kind) {
    case AV_NONE:
        rc = tn_buf_puts(out, "null");
        break;
    case AV_STRING:
    case AV_BYTES:
        if (!json_is_string(x)) return av_scalar_bad(kind, err);
        rc = tn_buf_json_str(out, json_string_value(x), json_string_length(x));
        break;
    case AV_BOOL:
        if (!json_is_boolean(x)) return av_scalar_bad(kind, err);
        rc = tn_buf_puts(out, json_is_true(x) ? "true" : "false");
        break;
    case AV_INT:
        if (tn__otlp_i64(x, &i)) return av_scalar_bad(kind, err);
        rc = tn_buf_printf(out, "%" PRId64, i);
        break;
    case AV_DOUBLE:
        if (tn__otlp_double(x, &d)) return av_scalar_bad(kind, err);
        if (isnan(d))
            rc = tn_buf_puts(out, "\"NaN\"");
        else if (isinf(d))
            rc = tn_buf_puts(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        else
            tn__otlp_fmt_double(d, num), rc = tn_buf_puts(out, num);
        break;
    default:
        return av_json_list(kind, x, out, err, depth);
    }
    return rc ? TN_ENOMEM : 0;
}

int tn__otlp_anyvalue_text(json_t *av, tn_buf_t *out, tn_buf_t *err)
{
    json_t *x = NULL;
    int kind = av_kind(av, &x, err), rc = 0;
    if (kind < AV_NONE) return TN_EINVAL;
    char num[32];
    int64_t i;
    double d;
    switch (kind) {
    case AV_NONE:
        break;
    case AV_STRING:
    case AV_BYTES:
        if (!json_is_string(x)) return av_scalar_bad(kind, err);
        rc = tn_buf_append(out, json_string_value(x), json_string_length(x));
        break;
    case AV_BOOL:
        if (!json_is_boolean(x)) return av_scalar_bad(kind, err);
        rc = tn_buf_puts(out, json_is_true(x) ? "true" : "false");
        break;
    case AV_INT:
        if (tn__otlp_i64(x, &i)) return av_scalar_bad(kind, err);
        rc = tn_buf_printf(out, "%" PRId64, i);
        break;
    case AV_DOUBLE:
        if (tn__otlp_double(x, &d)) return av_scalar_bad(kind, err);
        tn__otlp_fmt_double(d, num);
        rc = tn_buf_puts(out, num);
        break;
    default:
        return av_json_list(kind, x, out, err, 1);
    }
    return rc ? TN_ENOMEM : 0;
}

/* ---- attributes and resources ------------------------------------------------------------ */

int tn__otlp_attrs(tn_labels_t *l, json_t *attrs, tn_buf_t *text, tn_buf_t *err)
{
    if (!attrs) return 0;
    if (!json_is_array(attrs)) {
        tn_buf_puts(err, "attributes must be an array");
        return TN_EINVAL;
    }
    size_t i;
    json_t *kv;
    json_array_foreach(attrs, i, kv)
    {
        json_t *k = tn__otlp_get(kv, "key"), *v = tn__otlp_get(kv, "value");
        if (!json_is_object(kv) || !json_is_string(k)) {
            tn_buf_printf(err, "attributes[%zu] must be an object with a string 'key'", i);
            return TN_EINVAL;
        }
        tn_buf_reset(text);
        int rc = 0;
        if (v) {
            tn_buf_t e;
            tn_buf_init(&e);
            rc = tn__otlp_anyvalue_text(v, text, &e);
            if (rc == TN_EINVAL)
                tn_buf_printf(err, "attributes[%zu] '%.64s': %s", i, json_string_value(k),
                              e.data ? e.data : "invalid value");
            tn_buf_deinit(&e);
            if (rc) return rc;
        }
        tn_buf_printf(err, "attributes[%zu]: ", i);
        size_t mark = err->len;
        rc = tn_labels_add(l, json_string_value(k), text->data ? text->data : "", text->len, err);
        if (rc) {
            if (rc == TN_EINVAL && err->len == mark) tn_buf_puts(err, "invalid attribute");
            return rc;
        }
        tn_buf_reset(err);
    }
    return 0;
}

int tn__otlp_merge(tn_labels_t *l, const tn_labels_t *res, tn_buf_t *err)
{
    for (size_t i = 0; i < res->n; i++) {
        if (tn_labels_get(l, res->items[i].name)) continue;
        int rc = tn_labels_add_raw(l, res->items[i].name, res->items[i].value, (size_t)-1);
        if (rc == TN_ETOOBIG) {
            tn_buf_printf(err, "too many labels with the resource's (limit %d)", TN_MAX_LABELS);
            return TN_EINVAL;
        }
        if (rc) return rc;
    }
    return 0;
}

int tn__otlp_resource(tn__otlp_ctx_t *c, json_t *parent, tn_labels_t *l, tn_buf_t *res_err)
{
    tn_buf_reset(res_err);
    json_t *res = tn__otlp_get(parent, "resource");
    int rc = 0;
    if (res && !json_is_object(res)) {
        tn_buf_puts(res_err, "resource must be an object");
        rc = TN_EINVAL;
    }
    if (!rc) rc = tn__otlp_attrs(l, tn__otlp_get(res, "attributes"), &c->text, res_err);
    if (!rc) rc = tn_labels_finish(l, res_err);
    if (rc) tn_labels_deinit(l);
    if (rc == TN_EINVAL && res_err->len == 0) tn_buf_puts(res_err, "invalid resource");
    return rc == TN_ENOMEM ? rc : 0;
}

/* ---- partial success --------------------------------------------------------------------- */

int tn_otlp_partial_success_json(const char *kind, const tn_ingest_report_t *rep, tn_buf_t *out)
{
    const char *field, *one, *many;
    if (kind && strcmp(kind, "metrics") == 0)
        field = "rejectedDataPoints", one = "data point", many = "data points";
    else if (kind && strcmp(kind, "logs") == 0)
        field = "rejectedLogRecords", one = "log record", many = "log records";
    else if (kind && strcmp(kind, "traces") == 0)
        field = "rejectedSpans", one = "span", many = "spans";
    else
        return TN_EINVAL;
    if (rep->rejected == 0) return tn_buf_puts(out, "{}") ? TN_ENOMEM : 0;

    tn_buf_t msg;
    tn_buf_init(&msg);
    int rc = tn_buf_printf(&msg, "%zu %s rejected", rep->rejected, rep->rejected == 1 ? one : many);
    size_t listed = 0;
    json_t *errs = rep->errors.len ? json_loadb(rep->errors.data, rep->errors.len, 0, NULL) : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e)
    {
        const char *s = json_string_value(json_object_get(e, "error"));
        if (!s || rc) continue;
        rc = tn_buf_printf(&msg, "%s%s", listed ? "; " : ": ", s);
        listed++;
    }
    json_decref(errs);
    if (!rc && listed && rep->rejected > listed)
        rc = tn_buf_printf(&msg, "; and %zu more", rep->rejected - listed);
    if (!rc)
        rc = tn_buf_printf(out, "{\"partialSuccess\":{\"%s\":\"%zu\",\"errorMessage\":", field,
                           rep->rejected);
    if (!rc) rc = tn_buf_json_str(out, msg.data, msg.len);
    if (!rc) rc = tn_buf_puts(out, "}}");
    tn_buf_deinit(&msg);
    return rc ? TN_ENOMEM : 0;
}

/* ---- ids and the walk -------------------------------------------------------------------- */

int tn__otlp_hex_id(json_t *obj, const char *field, size_t digits, int zero_is_empty, char *out,
                    tn_buf_t *err)
{
    json_t *v = tn__otlp_get(obj, field);
    out[0] = '\0';
    if (!v) return 0;
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    if (s && zero_is_empty && n == digits && strspn(s, "0") == n) return 0;
    if (!s || tn_norm_hex_id(s, n, out, digits)) {
        out[0] = '\0';
        tn_buf_printf(err, "%s must be %zu hex digits, not all zero", field, digits);
        return TN_EINVAL;
    }
    return 0;
}

int tn__otlp_record(tn__otlp_ctx_t *c, const char *path, const char *what, json_t *rec,
                    const tn_buf_t *res_err, tn__otlp_record_fn fn, void *arg)
{
    if (!json_is_object(rec)) {
        char msg[64];
        snprintf(msg, sizeof msg, "%s must be an object", what);
        return tn__otlp_reject(c, path, NULL, msg);
    }
    if (res_err->len) return tn__otlp_reject(c, path, "resource: ", res_err->data);
    tn_batch_t *b = c->out;
    size_t ns = b->samples.n, nl = b->nlogs, nsp = b->nspans, produced = c->produced;
    tn_buf_reset(&c->err);
    int rc = fn(c, rec, arg);
    if (rc == TN_EINVAL) {
        while (b->samples.n > ns)
            tn_batch_drop_sample(b);
        while (b->nlogs > nl)
            tn_batch_drop_log(b);
        while (b->nspans > nsp)
            tn_batch_drop_span(b);
        c->produced = produced;
        return tn__otlp_reject(c, path, NULL, c->err.data);
    }
    if (rc) return rc;
    tn__otlp_accept(c);
    return 0;
}

int tn__otlp_walk(tn__otlp_ctx_t *c, json_t *list, const char *list_key, const char *scope_key,
                  const char *rec_key, const char *what, tn__otlp_record_fn fn)
{
    tn_labels_t res;
    tn_labels_init(&res);
    tn_buf_t res_err;
    tn_buf_init(&res_err);
    char rpath[TN__OTLP_PATH_MAX], spath[TN__OTLP_PATH_MAX], path[TN__OTLP_PATH_MAX];
    int rc = 0;
    size_t r, s, i;
    json_t *rx, *sx, *rec;
    json_array_foreach(list, r, rx)
    {
        tn__otlp_path(rpath, sizeof rpath, NULL, list_key, r);
        json_t *scopes;
        if ((rc = tn__otlp_need_object(c, rx, rpath)) ||
            (rc = tn__otlp_list(c, rx, rpath, scope_key, &scopes)))
            break;
        tn_labels_deinit(&res);
        if ((rc = tn__otlp_resource(c, rx, &res, &res_err))) break;
        json_array_foreach(scopes, s, sx)
        {
            tn__otlp_path(spath, sizeof spath, rpath, scope_key, s);
            json_t *recs;
            if ((rc = tn__otlp_need_object(c, sx, spath)) ||
                (rc = tn__otlp_list(c, sx, spath, rec_key, &recs)))
                break;
            json_array_foreach(recs, i, rec)
            {
                tn__otlp_path(path, sizeof path, spath, rec_key, i);
                if ((rc = tn__otlp_record(c, path, what, rec, &res_err, fn, &res))) break;
            }
            if (rc) break;
        }
        if (rc) break;
    }
    tn_labels_deinit(&res);
    tn_buf_deinit(&res_err);
    return rc;
}
