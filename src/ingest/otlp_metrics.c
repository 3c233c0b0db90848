/* otlp_metrics.c - ExportMetricsServiceRequest (JSON) -> samples. Mapping: otlp.h.
 *
 * The body goes once through the pull tokenizer (jsonpull.h), which checks all of it (strict
 * JSON, duplicate keys, as jansson did) and keeps, in a flat index, only the members this file
 * reads; every other field (descriptions, scopes, exemplars, start times, exponential buckets,
 * anything unknown) is checked and dropped. The walk below reads the index in the order the
 * jansson parser read its tree (otlp_metrics_dom.c, kept as the reference), so fields may come in
 * any order (a resource after its scopeMetrics, a metric's name after its points) and every
 * sample, rejection and error message is the same. */
#include "ingest/jsonpull.h"
#include "ingest/otlp_common.h"
#include "ingest/normalize.h"
#include "ingest/prom_text.h" /* tn__labels_add_cached */
#include "core/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#define MAX_UNIT_LEN 64
#define MAX_DEPTH 32
#define NONE UINT32_MAX
/* an index this large is given back after the call instead of kept for the next one */
#define DOC_KEEP_MAX (1u << 18)

/* ---- what the index keeps ---------------------------------------------------------------- */

static const tn_jp_schema_t s_leaf = {NULL, NULL};
static const tn_jp_schema_t s_leaves = {NULL, &s_leaf};
static const tn_jp_schema_t s_anyvalue;
static const tn_jp_schema_t s_anyvalues = {NULL, &s_anyvalue};
static const tn_jp_member_t m_arrayvalue[] = {{"values", &s_anyvalues}, {NULL, NULL}};
static const tn_jp_schema_t s_arrayvalue = {m_arrayvalue, NULL};
static const tn_jp_member_t m_kv[] = {{"key", &s_leaf}, {"value", &s_anyvalue}, {NULL, NULL}};
static const tn_jp_schema_t s_kv = {m_kv, NULL};
static const tn_jp_schema_t s_kvs = {NULL, &s_kv};
static const tn_jp_member_t m_kvlistvalue[] = {{"values", &s_kvs}, {NULL, NULL}};
static const tn_jp_schema_t s_kvlistvalue = {m_kvlistvalue, NULL};
static const tn_jp_member_t m_anyvalue[] = {
    {"stringValue", &s_leaf},      {"boolValue", &s_leaf},
    {"intValue", &s_leaf},         {"doubleValue", &s_leaf},
    {"arrayValue", &s_arrayvalue}, {"kvlistValue", &s_kvlistvalue},
    {"bytesValue", &s_leaf},       {NULL, NULL}};
static const tn_jp_schema_t s_anyvalue = {m_anyvalue, NULL};
static const tn_jp_member_t m_quantile[] = {
    {"quantile", &s_leaf}, {"value", &s_leaf}, {NULL, NULL}};
static const tn_jp_schema_t s_quantile = {m_quantile, NULL};
static const tn_jp_schema_t s_quantiles = {NULL, &s_quantile};
static const tn_jp_member_t m_point[] = {{"asDouble", &s_leaf},
                                         {"asInt", &s_leaf},
                                         {"timeUnixNano", &s_leaf},
                                         {"attributes", &s_kvs},
                                         {"flags", &s_leaf},
                                         {"count", &s_leaf},
                                         {"sum", &s_leaf},
                                         {"bucketCounts", &s_leaves},
                                         {"explicitBounds", &s_leaves},
                                         {"quantileValues", &s_quantiles},
                                         {NULL, NULL}};
static const tn_jp_schema_t s_point = {m_point, NULL};
static const tn_jp_schema_t s_points = {NULL, &s_point};
static const tn_jp_member_t m_kind[] = {{"dataPoints", &s_points}, {NULL, NULL}};
static const tn_jp_schema_t s_kind = {m_kind, NULL};
static const tn_jp_member_t m_metric[] = {{"name", &s_leaf},      {"unit", &s_leaf},
                                          {"gauge", &s_kind},     {"sum", &s_kind},
                                          {"histogram", &s_kind}, {"exponentialHistogram", &s_kind},
                                          {"summary", &s_kind},   {NULL, NULL}};
static const tn_jp_schema_t s_metric = {m_metric, NULL};
static const tn_jp_schema_t s_metrics = {NULL, &s_metric};
static const tn_jp_member_t m_scope[] = {{"metrics", &s_metrics}, {NULL, NULL}};
static const tn_jp_schema_t s_scope = {m_scope, NULL};
static const tn_jp_schema_t s_scopes = {NULL, &s_scope};
static const tn_jp_member_t m_resource[] = {{"attributes", &s_kvs}, {NULL, NULL}};
static const tn_jp_schema_t s_resource = {m_resource, NULL};
static const tn_jp_member_t m_rm[] = {
    {"resource", &s_resource}, {"scopeMetrics", &s_scopes}, {NULL, NULL}};
static const tn_jp_schema_t s_rm = {m_rm, NULL};
static const tn_jp_schema_t s_rms = {NULL, &s_rm};
static const tn_jp_member_t m_root[] = {{"resourceMetrics", &s_rms}, {NULL, NULL}};
static const tn_jp_schema_t s_root = {m_root, NULL};

/* ---- reading the index ------------------------------------------------------------------- */

typedef struct {
    tn__otlp_ctx_t c;
    const tn_jp_doc_t *d;
    tn_buf_t key;             /* an attribute key, NUL-terminated */
    tn_buf_t aerr;            /* an AnyValue's error */
    tn__label_cache_t lcache; /* attribute key -> label name, for this request */
    tn_labels_t pl;           /* a data point's labels, their strings in pool */
    tn_buf_t pool;
} walk_t;

static const tn_jp_node_t *nd(const walk_t *w, uint32_t i)
{
    return &w->d->nodes[i];
}

static int type_of(const walk_t *w, uint32_t i)
{
    return i == NONE ? -1 : w->d->nodes[i].type;
}

static int is_obj(const walk_t *w, uint32_t i)
{
    return type_of(w, i) == TN_JP_OBJECT;
}
static int is_arr(const walk_t *w, uint32_t i)
{
    return type_of(w, i) == TN_JP_ARRAY;
}
static int is_str(const walk_t *w, uint32_t i)
{
    return type_of(w, i) == TN_JP_STRING;
}

static const char *str_of(const walk_t *w, uint32_t i)
{
    return tn_jp_doc_str(w->d, nd(w, i));
}

/* A member name with its length. */
typedef struct {
    const char *s;
    size_t len;
} name_t;
#define NM(x)                                                                                      \
    {                                                                                              \
        x, sizeof(x) - 1                                                                           \
    }

/* Members of object o whose key is in names (ended by {NULL}, at most 16): their values into
 * out[k] (NONE when absent or null, as tn__otlp_get). */
static void fields(const walk_t *w, uint32_t o, const name_t *names, uint32_t *out)
{
    size_t nn = 0;
    for (; names[nn].s; nn++)
        out[nn] = NONE;
    if (!is_obj(w, o)) return;
    const tn_jp_node_t *x = nd(w, o);
    uint32_t k = o + 1;
    for (uint32_t m = 0; m < x->len; m++) {
        const tn_jp_node_t *kn = nd(w, k);
        const char *ks = tn_jp_doc_str(w->d, kn);
        uint32_t v = k + 1;
        for (size_t j = 0; j < nn; j++) {
            if (names[j].len != kn->len) continue;
            size_t i = 0; /* inline: the names are short */
            while (i < kn->len && names[j].s[i] == ks[i])
                i++;
            if (i == kn->len) {
                if (nd(w, v)->type != TN_JP_NULL) out[j] = v;
                break;
            }
        }
        k = nd(w, v)->next;
    }
}

static uint32_t get(const walk_t *w, uint32_t o, const char *name)
{
    const name_t names[2] = {{name, strlen(name)}, {NULL, 0}};
    uint32_t v;
    fields(w, o, names, &v);
    return v;
}

/* first element of array a (NONE when empty), and the one after element e */
static uint32_t first(const walk_t *w, uint32_t a)
{
    return nd(w, a)->len ? a + 1 : NONE;
}
static uint32_t after(const walk_t *w, uint32_t e)
{
    return nd(w, e)->next;
}

/* ---- scalars (tn__otlp_u64 and friends, on index nodes) ---------------------------------- */

static int digits_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (!n) return TN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return TN_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return TN_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static double real_of(const walk_t *w, uint32_t i)
{
    const tn_jp_node_t *x = nd(w, i);
    return tn_jp_real_value(w->d->buf + x->off, x->len);
}

static int64_t int_of(const walk_t *w, uint32_t i)
{
    const tn_jp_node_t *x = nd(w, i);
    return tn_jp_int_value(w->d->buf + x->off, x->len);
}

static int u64_of(const walk_t *w, uint32_t i, uint64_t *out)
{
    switch (type_of(w, i)) {
    case TN_JP_INT: {
        int64_t v = int_of(w, i);
        if (v < 0) return TN_EINVAL;
        *out = (uint64_t)v;
        return 0;
    }
    case TN_JP_REAL: {
        double d = real_of(w, i);
        if (!(d >= 0 && d < 18446744073709551616.0) || d != floor(d)) return TN_EINVAL;
        *out = (uint64_t)d;
        return 0;
    }
    case TN_JP_STRING:
        return digits_u64(str_of(w, i), nd(w, i)->len, out);
    default:
        return TN_EINVAL;
    }
}

static int i64_of(const walk_t *w, uint32_t i, int64_t *out)
{
    switch (type_of(w, i)) {
    case TN_JP_INT:
        *out = int_of(w, i);
        return 0;
    case TN_JP_REAL: {
        double d = real_of(w, i);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
            return TN_EINVAL;
        *out = (int64_t)d;
        return 0;
    }
    case TN_JP_STRING: {
        const char *s = str_of(w, i);
        size_t n = nd(w, i)->len;
        int neg = n && *s == '-';
        uint64_t u;
        if (digits_u64(s + neg, n - (size_t)neg, &u)) return TN_EINVAL;
        if (neg) {
            if (u > (uint64_t)INT64_MAX + 1) return TN_EINVAL;
            *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        } else {
            if (u > (uint64_t)INT64_MAX) return TN_EINVAL;
            *out = (int64_t)u;
        }
        return 0;
    }
    default:
        return TN_EINVAL;
    }
}

static int double_of(const walk_t *w, uint32_t i, double *out)
{
    int t = type_of(w, i);
    if (t == TN_JP_INT) {
        *out = (double)int_of(w, i);
        return 0;
    }
    if (t == TN_JP_REAL) {
        *out = real_of(w, i);
        return 0;
    }
    if (t != TN_JP_STRING) return TN_EINVAL;
    size_t n = nd(w, i)->len;
    const char *src = str_of(w, i);
    if (n == 3 && memcmp(src, "NaN", 3) == 0) return *out = NAN, 0;
    if (n == 8 && memcmp(src, "Infinity", 8) == 0) return *out = INFINITY, 0;
    if (n == 9 && memcmp(src, "-Infinity", 9) == 0) return *out = -INFINITY, 0;
    /* a JSON-like number: sign, digits, '.', exponent; strtod would also take "inf", hex, blanks */
    if (!n) return TN_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (!strchr("0123456789+-.eE", src[k]) || !src[k]) return TN_EINVAL;
    char small[64], *s = n < sizeof small ? small : malloc(n + 1);
    if (!s) return TN_EINVAL;
    memcpy(s, src, n);
    s[n] = '\0';
    char *end;
    double d = strtod(s, &end);
    int bad = *end || isinf(d);
    if (s != small) free(s);
    if (bad) return TN_EINVAL;
    *out = d;
    return 0;
}

/* ---- AnyValue ---------------------------------------------------------------------------- */

enum { AV_NONE = -1, AV_STRING, AV_BOOL, AV_INT, AV_DOUBLE, AV_ARRAY, AV_KVLIST, AV_BYTES };
static const name_t g_av_fields[] = {NM("stringValue"), NM("boolValue"),  NM("intValue"),
                                     NM("doubleValue"), NM("arrayValue"), NM("kvlistValue"),
                                     NM("bytesValue"),  {NULL, 0}};
#define AV_NFIELDS 7

static int av_kind(const walk_t *w, uint32_t av, uint32_t *val, tn_buf_t *err)
{
    if (!is_obj(w, av)) {
        tn_buf_puts(err, "value must be an object");
        return TN_EINVAL - 10;
    }
    uint32_t f[AV_NFIELDS];
    fields(w, av, g_av_fields, f);
    int kind = AV_NONE;
    for (int i = 0; i < AV_NFIELDS; i++) {
        if (f[i] == NONE) continue;
        if (kind != AV_NONE) {
            tn_buf_printf(err, "value has both %s and %s", g_av_fields[kind].s, g_av_fields[i].s);
            return TN_EINVAL - 10;
        }
        kind = i;
        *val = f[i];
    }
    return kind;
}

static int av_scalar_bad(int kind, tn_buf_t *err)
{
    static const char *const what[] = {"a string",  "a boolean", "an integer",     "a number",
                                       "an object", "an object", "a base64 string"};
    tn_buf_printf(err, "%s must be %s", g_av_fields[kind].s, what[kind]);
    return TN_EINVAL;
}

static int av_json(const walk_t *w, uint32_t av, tn_buf_t *out, tn_buf_t *err, int depth);

static int av_json_list(const walk_t *w, int kind, uint32_t x, tn_buf_t *out, tn_buf_t *err,
                        int depth)
{
    if (!is_obj(w, x)) return av_scalar_bad(kind, err);
    uint32_t values = get(w, x, "values");
    if (values != NONE && !is_arr(w, values)) {
        tn_buf_printf(err, "%s.values must be an array", g_av_fields[kind].s);
        return TN_EINVAL;
    }
    int rc = tn_buf_puts(out, kind == AV_ARRAY ? "[" : "{");
    uint32_t n = values == NONE ? 0 : nd(w, values)->len;
    uint32_t e = n ? first(w, values) : NONE;
    static const name_t kv_names[] = {NM("key"), NM("value"), {NULL, 0}};
    for (uint32_t i = 0; i < n; i++, e = after(w, e)) {
        if (!rc && i) rc = tn_buf_puts(out, ",");
        if (rc) return TN_ENOMEM;
        if (kind == AV_ARRAY) {
            rc = av_json(w, e, out, err, depth + 1);
            if (rc) return rc;
            continue;
        }
        if (!is_obj(w, e)) {
            tn_buf_puts(err, "kvlistValue.values must hold objects");
            return TN_EINVAL;
        }
        uint32_t f[2];
        fields(w, e, kv_names, f);
        if (f[0] != NONE && !is_str(w, f[0])) {
            tn_buf_puts(err, "kvlistValue key must be a string");
            return TN_EINVAL;
        }
        rc = f[0] != NONE ? tn_buf_json_str(out, str_of(w, f[0]), nd(w, f[0])->len)
                          : tn_buf_json_str(out, "", 0);
        if (!rc) rc = tn_buf_puts(out, ":");
        if (rc) return TN_ENOMEM;
        rc = f[1] != NONE ? av_json(w, f[1], out, err, depth + 1) : tn_buf_puts(out, "null");
        if (rc) return rc;
    }
    return rc || tn_buf_puts(out, kind == AV_ARRAY ? "]" : "}") ? TN_ENOMEM : 0;
}

static int av_json(const walk_t *w, uint32_t av, tn_buf_t *out, tn_buf_t *err, int depth)
{
    if (depth > MAX_DEPTH) {
        tn_buf_printf(err, "value nested deeper than %d levels", MAX_DEPTH);
        return TN_EINVAL;
    }
    uint32_t x = NONE;
    int kind = av_kind(w, av, &x, err), rc = 0;
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
        if (!is_str(w, x)) return av_scalar_bad(kind, err);
        rc = tn_buf_json_str(out, str_of(w, x), nd(w, x)->len);
        break;
    case AV_BOOL:
        if (type_of(w, x) != TN_JP_TRUE && type_of(w, x) != TN_JP_FALSE)
            return av_scalar_bad(kind, err);
        rc = tn_buf_puts(out, type_of(w, x) == TN_JP_TRUE ? "true" : "false");
        break;
    case AV_INT:
        if (i64_of(w, x, &i)) return av_scalar_bad(kind, err);
        rc = tn_buf_printf(out, "%" PRId64, i);
        break;
    case AV_DOUBLE:
        if (double_of(w, x, &d)) return av_scalar_bad(kind, err);
        if (isnan(d))
            rc = tn_buf_puts(out, "\"NaN\"");
        else if (isinf(d))
            rc = tn_buf_puts(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        else
            tn__otlp_fmt_double(d, num), rc = tn_buf_puts(out, num);
        break;
    default:
        return av_json_list(w, kind, x, out, err, depth);
    }
    return rc ? TN_ENOMEM : 0;
}

/* An AnyValue as label text: into *s / *n, pointing at the string itself for string values,
 * else at out (reset first). 0, TN_EINVAL (err) or TN_ENOMEM. */
static int av_text(const walk_t *w, uint32_t av, tn_buf_t *out, tn_buf_t *err, const char **s,
                   size_t *n)
{
    uint32_t x = NONE;
    int kind = av_kind(w, av, &x, err), rc = 0;
    if (kind < AV_NONE) return TN_EINVAL;
    char num[32];
    int64_t i;
    double d;
    tn_buf_reset(out);
    switch (kind) {
    case AV_NONE:
        break;
    case AV_STRING:
    case AV_BYTES:
        if (!is_str(w, x)) return av_scalar_bad(kind, err);
        *s = str_of(w, x);
        *n = nd(w, x)->len;
        return 0;
    case AV_BOOL:
        if (type_of(w, x) != TN_JP_TRUE && type_of(w, x) != TN_JP_FALSE)
            return av_scalar_bad(kind, err);
        rc = tn_buf_puts(out, type_of(w, x) == TN_JP_TRUE ? "true" : "false");
        break;
    case AV_INT:
        if (i64_of(w, x, &i)) return av_scalar_bad(kind, err);
        rc = tn_buf_printf(out, "%" PRId64, i);
        break;
    case AV_DOUBLE:
        if (double_of(w, x, &d)) return av_scalar_bad(kind, err);
        tn__otlp_fmt_double(d, num);
        rc = tn_buf_puts(out, num);
        break;
    default:
        rc = av_json_list(w, kind, x, out, err, 1);
        if (rc) return rc;
    }
    if (rc) return TN_ENOMEM;
    *s = out->data ? out->data : "";
    *n = out->len;
    return 0;
}

/* ---- attributes and resources ------------------------------------------------------------ */

/* tn__otlp_attrs on an index node. */
static int attrs(walk_t *w, tn_labels_t *l, uint32_t list, tn_buf_t *err)
{
    if (list == NONE) return 0;
    if (!is_arr(w, list)) {
        tn_buf_puts(err, "attributes must be an array");
        return TN_EINVAL;
    }
    static const name_t kv_names[] = {NM("key"), NM("value"), {NULL, 0}};
    uint32_t n = nd(w, list)->len, kv = n ? first(w, list) : NONE;
    for (uint32_t i = 0; i < n; i++, kv = after(w, kv)) {
        uint32_t f[2];
        fields(w, kv, kv_names, f);
        if (!is_obj(w, kv) || !is_str(w, f[0])) {
            tn_buf_printf(err, "attributes[%" PRIu32 "] must be an object with a string 'key'", i);
            return TN_EINVAL;
        }
        tn_buf_reset(&w->key);
        if (tn_buf_append(&w->key, str_of(w, f[0]), nd(w, f[0])->len)) return TN_ENOMEM;
        const char *k = w->key.data ? w->key.data : "";
        const char *s = "";
        size_t len = 0;
        int rc = 0;
        if (f[1] != NONE) {
            tn_buf_reset(&w->aerr);
            rc = av_text(w, f[1], &w->c.text, &w->aerr, &s, &len);
            if (rc == TN_EINVAL)
                tn_buf_printf(err, "attributes[%" PRIu32 "] '%.64s': %s", i, k,
                              w->aerr.len ? w->aerr.data : "invalid value");
            if (rc) return rc;
        }
        tn_buf_reset(&w->aerr);
        rc = tn__labels_add_cached(&w->lcache, l, k, strlen(k), s, len, &w->aerr);
        if (rc) {
            if (rc == TN_EINVAL)
                tn_buf_printf(err, "attributes[%" PRIu32 "]: %s", i,
                              w->aerr.len ? w->aerr.data : "invalid attribute");
            return rc;
        }
    }
    return 0;
}

static int resource(walk_t *w, uint32_t rx, tn_labels_t *l, tn_buf_t *res_err)
{
    tn_buf_reset(res_err);
    uint32_t res = get(w, rx, "resource");
    int rc = 0;
    if (res != NONE && !is_obj(w, res)) {
        tn_buf_puts(res_err, "resource must be an object");
        rc = TN_EINVAL;
    }
    if (!rc) rc = attrs(w, l, res == NONE ? NONE : get(w, res, "attributes"), res_err);
    if (!rc) rc = tn_labels_finish(l, res_err);
    if (rc) tn_labels_deinit(l);
    if (rc == TN_EINVAL && res_err->len == 0) tn_buf_puts(res_err, "invalid resource");
    return rc == TN_ENOMEM ? rc : 0;
}

/* ---- metrics ----------------------------------------------------------------------------- */

enum { K_GAUGE, K_SUM, K_HISTOGRAM, K_EXPHISTOGRAM, K_SUMMARY, K_N };
static const name_t g_metric_fields[] = {
    NM("gauge"),   NM("sum"),  NM("histogram"), NM("exponentialHistogram"),
    NM("summary"), NM("name"), NM("unit"),      {NULL, 0}};

typedef struct {
    const tn_labels_t *res;
    int kind;
    char name[TN_MAX_NAME_LEN + 2]; /* sanitized */
    size_t name_len;
    const char *unit; /* NULL when none */
    size_t unit_len;
    const char *error; /* metric-level reason to reject every point, or NULL */
} metric_t;

/* Appends one sample name<suffix>{base labels, extra=extra_value} = value at ts, packed: its
 * name, unit, labels and their strings in one block of the batch's memory (tn_sample_t.packed
 * = 2). 0, TN_EINVAL
 * (c->err), TN_ENOMEM, TN_ETOOBIG. */
static int emit(tn__otlp_ctx_t *c, const metric_t *m, const char *suffix, double value, int64_t ts,
                const tn_labels_t *base, const char *extra, const char *extra_value)
{
    int rc = tn__otlp_room(c, 1);
    if (rc) return rc;
    char name[TN_MAX_NAME_LEN + 16];
    size_t sl = strlen(suffix), nl = m->name_len + sl;
    memcpy(name, m->name, m->name_len);
    memcpy(name + m->name_len, suffix, sl + 1);
    if (!tn_metric_name_valid(name)) {
        tn_buf_printf(&c->err, "metric name '%.64s...' is longer than %d bytes", name,
                      TN_MAX_NAME_LEN);
        return TN_EINVAL;
    }
    if (extra && base->n >= TN_MAX_LABELS) {
        tn_buf_printf(&c->err, "too many labels (limit %d)", TN_MAX_LABELS);
        return TN_EINVAL;
    }
    /* base is a point's labels (w->pl): their strings are the bytes of its pool, copied at once */
    const tn_buf_t *pool = base->pool;
    size_t n = base->n + (extra != NULL), ea = 0, eb = 0;
    if (extra) ea = strlen(extra) + 1, eb = strlen(extra_value) + 1;
    size_t size = n * sizeof(tn_label_t) + nl + 1 + (m->unit ? m->unit_len + 1 : 0) + pool->len;
    size += ea + eb;
    tn_sample_t *s = tn_samples_push(&c->out->samples);
    char *block = s ? tn_batch_alloc(c->out, size) : NULL;
    if (!block) {
        if (s) tn_batch_drop_sample(c->out);
        return TN_ENOMEM;
    }
    tn_label_t *labels = (tn_label_t *)(void *)block;
    char *w = block + n * sizeof(tn_label_t);
    s->packed = 2;
    s->labels = labels;
    s->nlabels = n;
    s->value = value;
    s->ts_ms = ts;
    s->name = w;
    memcpy(w, name, nl + 1);
    w += nl + 1;
    if (m->unit) {
        s->unit = w;
        memcpy(w, m->unit, m->unit_len);
        w[m->unit_len] = '\0';
        w += m->unit_len + 1;
    }
    if (pool->len) memcpy(w, pool->data, pool->len);
    for (size_t i = 0; i < base->n; i++) {
        labels[i].name = w + (base->items[i].name - pool->data);
        labels[i].value = w + (base->items[i].value - pool->data);
    }
    w += pool->len;
    if (extra) {
        labels[n - 1].name = memcpy(w, extra, ea);
        labels[n - 1].value = memcpy(w + ea, extra_value, eb);
    }
    rc = tn_sample_finish(s, &c->err);
    if (rc) {
        tn_batch_drop_sample(c->out);
        return rc;
    }
    c->produced++;
    return 0;
}

/* The fields of a data point, in the order of g_point_fields. */
enum {
    P_FLAGS,
    P_TIME,
    P_ATTRS,
    P_AS_DOUBLE,
    P_AS_INT,
    P_COUNT,
    P_SUM,
    P_BUCKETS,
    P_BOUNDS,
    P_QUANTILES,
    P_N
};
static const name_t g_point_fields[] = {
    NM("flags"),          NM("timeUnixNano"),   NM("attributes"), NM("asDouble"),
    NM("asInt"),          NM("count"),          NM("sum"),        NM("bucketCounts"),
    NM("explicitBounds"), NM("quantileValues"), {NULL, 0}};

static int opt_double(walk_t *w, uint32_t x, const char *field, double *v, int *present)
{
    *v = 0;
    if (present) *present = x != NONE;
    if (x != NONE && double_of(w, x, v)) {
        tn_buf_printf(&w->c.err, "%s is not a number", field);
        return TN_EINVAL;
    }
    return 0;
}

static int opt_count(walk_t *w, uint32_t x, const char *field, double *v, int *present)
{
    uint64_t u = 0;
    if (present) *present = x != NONE;
    if (x != NONE && u64_of(w, x, &u)) {
        tn_buf_printf(&w->c.err, "%s is not a number", field);
        return TN_EINVAL;
    }
    *v = (double)u;
    return 0;
}

static int number_point(walk_t *w, const metric_t *m, const uint32_t *f, int64_t ts, tn_labels_t *l)
{
    uint32_t ad = f[P_AS_DOUBLE], ai = f[P_AS_INT];
    double v = 0;
    int64_t i;
    if (ad != NONE && ai != NONE) {
        tn_buf_puts(&w->c.err, "both asDouble and asInt are set");
        return TN_EINVAL;
    }
    if (ad == NONE && ai == NONE) return 0; /* no value: skipped */
    if (ad != NONE && double_of(w, ad, &v)) {
        tn_buf_puts(&w->c.err, "asDouble is not a number");
        return TN_EINVAL;
    }
    if (ai != NONE) {
        if (i64_of(w, ai, &i)) {
            tn_buf_puts(&w->c.err, "asInt is not an integer");
            return TN_EINVAL;
        }
        v = (double)i;
    }
    return emit(&w->c, m, "", v, ts, l, NULL, NULL);
}

static int histogram_point(walk_t *w, const metric_t *m, const uint32_t *f, int64_t ts,
                           tn_labels_t *l)
{
    tn__otlp_ctx_t *c = &w->c;
    double count, sum;
    int has_count, has_sum;
    if (opt_count(w, f[P_COUNT], "count", &count, &has_count) ||
        opt_double(w, f[P_SUM], "sum", &sum, &has_sum))
        return TN_EINVAL;
    uint32_t bc = f[P_BUCKETS], eb = f[P_BOUNDS];
    if ((bc != NONE && !is_arr(w, bc)) || (eb != NONE && !is_arr(w, eb))) {
        tn_buf_puts(&c->err, "bucketCounts and explicitBounds must be arrays");
        return TN_EINVAL;
    }
    size_t nb = bc == NONE ? 0 : nd(w, bc)->len, ne = eb == NONE ? 0 : nd(w, eb)->len;
    if (nb && nb != ne + 1) {
        tn_buf_printf(
            &c->err, "bucketCounts has %zu entries for %zu explicitBounds (want one more)", nb, ne);
        return TN_EINVAL;
    }
    /* validate everything before emitting */
    double prev = -INFINITY, total = 0;
    uint32_t be = nb ? first(w, bc) : NONE, ee = ne ? first(w, eb) : NONE;
    for (size_t i = 0; i < nb; i++, be = after(w, be)) {
        double b;
        uint64_t u;
        if (u64_of(w, be, &u)) {
            tn_buf_printf(&c->err, "bucketCounts[%zu] is not a number", i);
            return TN_EINVAL;
        }
        total += (double)u;
        if (i == ne) break;
        if (double_of(w, ee, &b) || !isfinite(b)) {
            tn_buf_printf(&c->err, "explicitBounds[%zu] is not a finite number", i);
            return TN_EINVAL;
        }
        if (b <= prev) {
            tn_buf_printf(&c->err, "explicitBounds[%zu] is not above the previous bound", i);
            return TN_EINVAL;
        }
        prev = b;
        ee = after(w, ee);
    }
    if (!has_count) count = total;

    int rc = emit(c, m, "_count", count, ts, l, NULL, NULL);
    if (!rc && has_sum) rc = emit(c, m, "_sum", sum, ts, l, NULL, NULL);
    double cum = 0;
    char le[32];
    be = nb ? first(w, bc) : NONE;
    ee = ne ? first(w, eb) : NONE;
    for (size_t i = 0; i + 1 < nb && !rc; i++, be = after(w, be), ee = after(w, ee)) {
        uint64_t u = 0;
        double b = 0;
        u64_of(w, be, &u);
        double_of(w, ee, &b);
        cum += (double)u;
        tn__otlp_fmt_double(b, le);
        rc = emit(c, m, "_bucket", cum, ts, l, "le", le);
    }
    if (!rc) rc = emit(c, m, "_bucket", count, ts, l, "le", "+Inf");
    return rc;
}

static int summary_point(walk_t *w, const metric_t *m, const uint32_t *f, int64_t ts,
                         tn_labels_t *l)
{
    tn__otlp_ctx_t *c = &w->c;
    double count, sum;
    if (opt_count(w, f[P_COUNT], "count", &count, NULL) ||
        opt_double(w, f[P_SUM], "sum", &sum, NULL))
        return TN_EINVAL;
    uint32_t qv = f[P_QUANTILES];
    if (qv != NONE && !is_arr(w, qv)) {
        tn_buf_puts(&c->err, "quantileValues must be an array");
        return TN_EINVAL;
    }
    static const name_t qnames[] = {NM("quantile"), NM("value"), {NULL, 0}};
    size_t n = qv == NONE ? 0 : nd(w, qv)->len;
    uint32_t x = n ? first(w, qv) : NONE;
    for (size_t i = 0; i < n; i++, x = after(w, x)) {
        double q, v;
        if (!is_obj(w, x)) {
            tn_buf_printf(&c->err, "quantileValues[%zu] must be an object", i);
            return TN_EINVAL;
        }
        uint32_t qf[2];
        fields(w, x, qnames, qf);
        if (opt_double(w, qf[0], "quantile", &q, NULL) || opt_double(w, qf[1], "value", &v, NULL)) {
            tn_buf_printf(&c->err, " in quantileValues[%zu]", i);
            return TN_EINVAL;
        }
        if (!(q >= 0 && q <= 1)) {
            tn_buf_printf(&c->err, "quantileValues[%zu].quantile must be between 0 and 1", i);
            return TN_EINVAL;
        }
    }
    int rc = emit(c, m, "_count", count, ts, l, NULL, NULL);
    if (!rc) rc = emit(c, m, "_sum", sum, ts, l, NULL, NULL);
    x = n ? first(w, qv) : NONE;
    for (size_t i = 0; i < n && !rc; i++, x = after(w, x)) {
        double q = 0, v = 0;
        char qs[32];
        uint32_t qf[2];
        fields(w, x, qnames, qf);
        if (qf[0] == NONE || double_of(w, qf[0], &q)) q = 0;
        if (qf[1] == NONE || double_of(w, qf[1], &v)) v = 0;
        tn__otlp_fmt_double(q, qs);
        rc = emit(c, m, "", v, ts, l, "quantile", qs);
    }
    return rc;
}

/* One data point of metric m (an object). */
static int parse_point(walk_t *w, uint32_t dp, const metric_t *m)
{
    tn__otlp_ctx_t *c = &w->c;
    if (m->error) {
        tn_buf_puts(&c->err, m->error);
        return TN_EINVAL;
    }
    uint32_t f[P_N];
    fields(w, dp, g_point_fields, f);
    uint64_t flags = 0;
    if (f[P_FLAGS] != NONE && (u64_of(w, f[P_FLAGS], &flags) || flags > UINT32_MAX)) {
        tn_buf_puts(&c->err, "flags is not a number");
        return TN_EINVAL;
    }
    uint64_t ns = 0;
    if (f[P_TIME] != NONE && u64_of(w, f[P_TIME], &ns)) {
        tn_buf_puts(&c->err, "timeUnixNano is not a number");
        return TN_EINVAL;
    }
    int64_t ts = ns ? (int64_t)(ns / 1000000) : c->now_ms;
    if (flags & 1) return 0; /* NO_RECORDED_VALUE: skipped */

    /* the point's labels: in w->pool, emptied for each point; emit copies them */
    tn_labels_t *l = &w->pl;
    l->n = 0;
    w->pool.len = 0;
    if (!w->pool.cap && tn_buf_reserve(&w->pool, TN_LABELS_POOL_MAX)) return TN_ENOMEM;
    int rc = attrs(w, l, f[P_ATTRS], &c->err);
    if (!rc) rc = tn__otlp_merge(l, m->res, &c->err);
    if (!rc) rc = tn_labels_finish(l, &c->err);
    if (!rc) {
        switch (m->kind) {
        case K_GAUGE:
        case K_SUM:
            rc = number_point(w, m, f, ts, l);
            break;
        case K_HISTOGRAM:
            rc = histogram_point(w, m, f, ts, l);
            break;
        case K_EXPHISTOGRAM: {
            double count, sum;
            int has_sum;
            if (opt_count(w, f[P_COUNT], "count", &count, NULL) ||
                opt_double(w, f[P_SUM], "sum", &sum, &has_sum)) {
                rc = TN_EINVAL;
                break;
            }
            rc = emit(c, m, "_count", count, ts, l, NULL, NULL);
            if (!rc && has_sum) rc = emit(c, m, "_sum", sum, ts, l, NULL, NULL);
            break;
        }
        default:
            rc = summary_point(w, m, f, ts, l);
        }
    }
    return rc;
}

/* tn__otlp_record for a data point: counts it, rejecting it with "<kpath>.dataPoints[i]: ...". */
static int record_point(walk_t *w, const char *kpath, uint32_t i, uint32_t dp,
                        const tn_buf_t *res_err, const metric_t *m)
{
    tn__otlp_ctx_t *c = &w->c;
    char path[TN__OTLP_PATH_MAX];
    if (!is_obj(w, dp)) {
        tn__otlp_path(path, sizeof path, kpath, "dataPoints", i);
        return tn__otlp_reject(c, path, NULL, "data point must be an object");
    }
    if (res_err->len) {
        tn__otlp_path(path, sizeof path, kpath, "dataPoints", i);
        return tn__otlp_reject(c, path, "resource: ", res_err->data);
    }
    tn_batch_t *b = c->out;
    size_t ns = b->samples.n, produced = c->produced;
    tn_buf_reset(&c->err);
    int rc = parse_point(w, dp, m);
    if (rc == TN_EINVAL) {
        while (b->samples.n > ns)
            tn_batch_drop_sample(b);
        c->produced = produced;
        tn__otlp_path(path, sizeof path, kpath, "dataPoints", i);
        return tn__otlp_reject(c, path, NULL, c->err.data);
    }
    if (rc) return rc;
    tn__otlp_accept(c);
    return 0;
}

static int need_object(walk_t *w, uint32_t v, const char *path)
{
    if (is_obj(w, v)) return 0;
    tn_buf_printf(w->c.fatal, "%s must be an object", path);
    return TN_EINVAL;
}

/* tn__otlp_list: obj[key] as an array (NONE when absent), else TN_EINVAL with fatal set. */
static int list(walk_t *w, uint32_t obj, const char *path, const char *key, uint32_t *arr)
{
    *arr = get(w, obj, key);
    if (*arr != NONE && !is_arr(w, *arr)) {
        tn_buf_printf(w->c.fatal, "%s%s%s must be an array", path ? path : "", path ? "." : "",
                      key);
        *arr = NONE;
        return TN_EINVAL;
    }
    return 0;
}

static int metric_head(walk_t *w, uint32_t x, const char *path, metric_t *m, uint32_t *points,
                       char *kpath, size_t kpath_size)
{
    *points = NONE;
    m->kind = -1;
    m->error = NULL;
    m->unit = NULL;
    m->name[0] = '\0';
    m->name_len = 0;
    uint32_t f[K_N + 2], data = NONE;
    fields(w, x, g_metric_fields, f);
    for (int k = 0; k < K_N; k++) {
        if (f[k] == NONE) continue;
        if (m->kind >= 0) {
            tn_buf_printf(w->c.fatal, "%s has both %s and %s", path, g_metric_fields[m->kind].s,
                          g_metric_fields[k].s);
            return TN_EINVAL;
        }
        m->kind = k;
        data = f[k];
    }
    if (m->kind < 0) return 0; /* no data kind we know: nothing to do */
    if (snprintf(kpath, kpath_size, "%s.%s", path, g_metric_fields[m->kind].s) < 0) kpath[0] = '\0';
    int rc = need_object(w, data, kpath);
    if (!rc) rc = list(w, data, kpath, "dataPoints", points);
    if (rc) return rc;

    uint32_t name = f[K_N], unit = f[K_N + 1];
    const char *n = is_str(w, name) ? str_of(w, name) : NULL;
    m->name_len = tn_norm_metric_name(n, n ? nd(w, name)->len : 0, m->name, &m->error);
    if (unit != NONE && (!is_str(w, unit) || nd(w, unit)->len > MAX_UNIT_LEN)) {
        m->error = "unit must be a string of at most 64 bytes";
    } else if (unit != NONE && nd(w, unit)->len) {
        m->unit = str_of(w, unit);
        m->unit_len = nd(w, unit)->len;
    }
    return 0;
}

static int walk_metrics(walk_t *w, uint32_t rms)
{
    metric_t m;
    tn_labels_t res;
    tn_labels_init(&res);
    tn_buf_t res_err;
    tn_buf_init(&res_err);
    m.res = &res;
    char rpath[TN__OTLP_PATH_MAX], spath[TN__OTLP_PATH_MAX], mpath[TN__OTLP_PATH_MAX];
    char kpath[TN__OTLP_PATH_MAX];
    int rc = 0;
    uint32_t nr = rms == NONE ? 0 : nd(w, rms)->len, rx = nr ? first(w, rms) : NONE;
    for (uint32_t r = 0; r < nr && !rc; r++, rx = after(w, rx)) {
        tn__otlp_path(rpath, sizeof rpath, NULL, "resourceMetrics", r);
        uint32_t scopes;
        if ((rc = need_object(w, rx, rpath)) || (rc = list(w, rx, rpath, "scopeMetrics", &scopes)))
            break;
        tn_labels_deinit(&res);
        if ((rc = resource(w, rx, &res, &res_err))) break;
        uint32_t ns = scopes == NONE ? 0 : nd(w, scopes)->len, sx = ns ? first(w, scopes) : NONE;
        for (uint32_t s = 0; s < ns && !rc; s++, sx = after(w, sx)) {
            tn__otlp_path(spath, sizeof spath, rpath, "scopeMetrics", s);
            uint32_t metrics;
            if ((rc = need_object(w, sx, spath)) || (rc = list(w, sx, spath, "metrics", &metrics)))
                break;
            uint32_t nm = metrics == NONE ? 0 : nd(w, metrics)->len;
            uint32_t mx = nm ? first(w, metrics) : NONE;
            for (uint32_t k = 0; k < nm && !rc; k++, mx = after(w, mx)) {
                tn__otlp_path(mpath, sizeof mpath, spath, "metrics", k);
                uint32_t points;
                if ((rc = need_object(w, mx, mpath)) ||
                    (rc = metric_head(w, mx, mpath, &m, &points, kpath, sizeof kpath)))
                    break;
                uint32_t np = points == NONE ? 0 : nd(w, points)->len;
                uint32_t dp = np ? first(w, points) : NONE;
                for (uint32_t i = 0; i < np && !rc; i++, dp = after(w, dp))
                    rc = record_point(w, kpath, i, dp, &res_err, &m);
            }
        }
    }
    tn_labels_deinit(&res);
    tn_buf_deinit(&res_err);
    return rc;
}

/* The index is kept from one call to the next (per thread): most of its cost is memory. A
 * thread that ends (ingest's worker threads, at exit) frees its index through a key's
 * destructor; the main thread's stays reachable until exit. */
static _Thread_local tn_jp_doc_t g_doc;
static _Thread_local int g_doc_ready;
static pthread_key_t g_doc_key;
static pthread_once_t g_doc_once = PTHREAD_ONCE_INIT;
static int g_doc_key_ok;

static void doc_free(void *doc)
{
    tn_jp_doc_deinit(doc);
    g_doc_ready = 0;
}

static void doc_key_make(void)
{
    g_doc_key_ok = pthread_key_create(&g_doc_key, doc_free) == 0;
}

int tn_parse_otlp_metrics(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                          tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    if (body && len >= UINT32_MAX) { /* the index's offsets are 32-bit */
        tn_buf_printf(fatal, "body of %zu bytes is larger than the 4 GiB the parser indexes", len);
        return TN_ETOOBIG;
    }
    if (!g_doc_ready) {
        tn_jp_doc_init(&g_doc);
        g_doc_ready = 1;
        pthread_once(&g_doc_once, doc_key_make);
        if (g_doc_key_ok) pthread_setspecific(g_doc_key, &g_doc);
    }
    walk_t w;
    tn__otlp_ctx_init(&w.c, o, out, rep, fatal);
    w.d = &g_doc;
    tn_buf_init(&w.key);
    tn_buf_init(&w.aerr);
    memset(&w.lcache, 0, sizeof w.lcache);
    tn_buf_init(&w.pool);
    tn_labels_init(&w.pl);
    w.pl.pool = &w.pool;
    int rc =
        tn_jp_doc_build(&g_doc, body ? body : "", body ? len : 0, TN_JP_REJECT_DUPLICATES, &s_root);
    if (rc == TN_EINVAL) {
        tn_buf_printf(fatal, "invalid JSON at line %d, column %d: %s", tn_jp_error_line(&g_doc.jp),
                      tn_jp_error_column(&g_doc.jp), tn_jp_error(&g_doc.jp));
    } else if (!rc && g_doc.nodes[0].type != TN_JP_OBJECT) {
        tn_buf_printf(fatal, "body must be a JSON object with a '%s' array", "resourceMetrics");
        rc = TN_EINVAL;
    } else if (!rc) {
        uint32_t rms;
        rc = list(&w, 0, NULL, "resourceMetrics", &rms);
        if (!rc) rc = walk_metrics(&w, rms);
    }
    rc = tn__otlp_end(&w.c, rc, NULL);
    tn_buf_deinit(&w.key);
    tn_buf_deinit(&w.aerr);
    tn_labels_deinit(&w.pl);
    tn_buf_deinit(&w.pool);
    if (g_doc.cap > DOC_KEEP_MAX || g_doc.strings.cap > 16 * (size_t)DOC_KEEP_MAX) {
        tn_jp_doc_deinit(&g_doc);
        g_doc_ready = 0;
    }
    return rc;
}
