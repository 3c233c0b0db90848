/* influx.c - InfluxDB line protocol parser (see influx.h). One pass per line: the line is parsed
 * whole (tags into a label set, numeric fields into a scratch array) before any sample is made,
 * so a bad line leaves nothing behind; the last field's sample takes the tag set, the others
 * copy it. */
#include "ingest/influx.h"
#include "core/error.h"
#include "core/num.h"
#include "ingest/normalize.h"
#include "ingest/prom_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TS_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

typedef struct {
    size_t off, len; /* the sample name in ctx.names */
    double value;
} field_t;

typedef struct {
    int64_t now_ms;
    size_t max_items;
    int64_t div, mul; /* timestamp -> ms */
    tn_batch_t *out;
    size_t base;
    tn_ingest_report_t *rep;
    tn_buf_t err;
    tn_buf_t names;   /* sanitized measurement, then "<measurement>_<field>" for each field */
    size_t mlen;      /* length of the measurement prefix in names (with its '_') */
    tn_buf_t key;     /* an unescaped tag key */
    tn_buf_t val;     /* an unescaped tag value */
    tn_labels_t tags; /* the array is kept across lines */
    tn__label_cache_t lcache;
    field_t *fields;
    size_t nf, capf;
} influx_ctx_t;

enum { K_MEAS, K_TAG, K_FIELD };

static inline int is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static inline int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || is_digit(c);
}

static int fail(influx_ctx_t *c, const char *msg)
{
    tn_buf_puts(&c->err, msg);
    return TN_EINVAL;
}

static int fail_tok(influx_ctx_t *c, const char *prefix, const char *s, size_t n,
                    const char *suffix)
{
    tn_buf_puts(&c->err, prefix);
    tn_buf_puts(&c->err, " '");
    tn__text_quote(&c->err, s, n, 64);
    tn_buf_puts(&c->err, "'");
    if (suffix) tn_buf_puts(&c->err, suffix);
    return TN_EINVAL;
}

/* Is c escapable in this kind of element? */
static inline int escapable(char ch, int kind)
{
    return ch == ',' || ch == ' ' || ch == '\\' || (ch == '=' && kind != K_MEAS);
}

/* Scans an element from p: stops at an unescaped ',', ' ' (and '=' for tag/field keys when
 * stop_eq). Returns the end; *esc tells whether it holds an escape. */
static const char *scan_elem(const char *p, const char *e, int kind, int stop_eq, int *esc)
{
    *esc = 0;
    while (p < e) {
        char ch = *p;
        if (ch == ',' || ch == ' ' || (stop_eq && ch == '=')) break;
        if (ch == '\\' && p + 1 < e && escapable(p[1], kind)) {
            *esc = 1;
            p += 2;
            continue;
        }
        p++;
    }
    return p;
}

/* Appends the unescaped element to b. */
static int unescape_to(tn_buf_t *b, const char *s, const char *e, int kind)
{
    if (tn_buf_reserve(b, (size_t)(e - s))) return TN_ENOMEM;
    char *o = b->data + b->len;
    while (s < e) {
        if (*s == '\\' && s + 1 < e && escapable(s[1], kind)) s++;
        *o++ = *s++;
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 1;
    return 0;
}

/* Appends the unescaped element to b as a metric name part: characters outside [a-zA-Z0-9_:]
 * (per UTF-8 character) become '_', and a leading digit gets a '_' before it when lead is set.
 * 0, 1 (a control character) or TN_ENOMEM. */
static int sanitize_to(tn_buf_t *b, const char *s, const char *e, int kind, int lead)
{
    if (has_control(s, (size_t)(e - s))) return 1;
    if (tn_buf_reserve(b, (size_t)(e - s) + 1)) return TN_ENOMEM;
    char *o = b->data + b->len;
    if (lead && s < e && is_digit(*s)) *o++ = '_';
    int prev_hi = 0;
    while (s < e) {
        if (*s == '\\' && s + 1 < e && escapable(s[1], kind)) s++;
        unsigned char ch = (unsigned char)*s++;
        if (ch < 0x80) {
            *o++ = is_name_char((char)ch) ? (char)ch : '_';
            prev_hi = 0;
        } else if (ch >= 0xC0 || !prev_hi) { /* a lead byte, or a stray continuation */
            *o++ = '_';
            prev_hi = 1;
        } /* else: a continuation byte of the character already replaced */
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

static int parse_uint(const char *s, size_t n, uint64_t *out)
{
    if (n == 0) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -2;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_bool(const char *s, size_t n, double *out)
{
    static const char *const t[] = {"t", "T", "true", "True", "TRUE"};
    static const char *const f[] = {"f", "F", "false", "False", "FALSE"};
    for (size_t i = 0; i < 5; i++) {
        if (strlen(t[i]) == n && memcmp(t[i], s, n) == 0) return *out = 1, 0;
        if (strlen(f[i]) == n && memcmp(f[i], s, n) == 0) return *out = 0, 0;
    }
    return -1;
}

static int push_field(influx_ctx_t *c, size_t off, size_t len, double v)
{
    if (c->nf == c->capf) {
        size_t cap = c->capf ? c->capf * 2 : 16;
        field_t *p = realloc(c->fields, cap * sizeof *p);
        if (!p) return TN_ENOMEM;
        c->fields = p;
        c->capf = cap;
    }
    c->fields[c->nf++] = (field_t){off, len, v};
    return 0;
}

typedef struct {
    const char *s;
    size_t n;
} span_t;

static int span_cmp(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    int r = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return r ? r : (x->n > y->n) - (x->n < y->n);
}

/* A duplicate sample name among the line's fields? Names it in c->err. */
static int check_dup_fields(influx_ctx_t *c)
{
    const char *nb = c->names.data;
    if (c->nf <= 16) {
        for (size_t i = 1; i < c->nf; i++)
            for (size_t j = 0; j < i; j++)
                if (c->fields[i].len == c->fields[j].len &&
                    memcmp(nb + c->fields[i].off, nb + c->fields[j].off, c->fields[i].len) == 0)
                    return fail_tok(c, "duplicate field", nb + c->fields[i].off, c->fields[i].len,
                                    NULL);
        return 0;
    }
    span_t *tmp = malloc(c->nf * sizeof *tmp);
    if (!tmp) return TN_ENOMEM;
    for (size_t i = 0; i < c->nf; i++)
        tmp[i] = (span_t){nb + c->fields[i].off, c->fields[i].len};
    qsort(tmp, c->nf, sizeof *tmp, span_cmp);
    int rc = 0;
    for (size_t i = 1; i < c->nf && !rc; i++)
        if (span_cmp(&tmp[i - 1], &tmp[i]) == 0)
            rc = fail_tok(c, "duplicate field", tmp[i].s, tmp[i].n, NULL);
    free(tmp);
    return rc;
}

/* Copies the (finished) tag set into s. */
static int copy_tags(tn_sample_t *s, const tn_labels_t *t)
{
    if (!t->n) return 0;
    s->labels = malloc(t->n * sizeof *s->labels);
    if (!s->labels) return TN_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t nl = strlen(t->items[i].name) + 1, vl = strlen(t->items[i].value) + 1;
        char *n = malloc(nl), *v = malloc(vl);
        if (!n || !v) {
            free(n), free(v);
            return TN_ENOMEM;
        }
        memcpy(n, t->items[i].name, nl);
        memcpy(v, t->items[i].value, vl);
        s->labels[i] = (tn_label_t){n, v};
        s->nlabels = i + 1;
    }
    return 0;
}

static int emit(influx_ctx_t *c, int64_t ts)
{
    if (c->max_items && c->out->samples.n - c->base + c->nf > c->max_items) return TN_ETOOBIG;
    for (size_t i = 0; i < c->nf; i++) {
        const field_t *f = &c->fields[i];
        tn_sample_t *s = tn_samples_push(&c->out->samples);
        if (!s) return TN_ENOMEM;
        s->value = f->value;
        s->ts_ms = ts;
        s->name = malloc(f->len + 1);
        int rc = TN_ENOMEM;
        if (s->name) {
            memcpy(s->name, c->names.data + f->off, f->len);
            s->name[f->len] = '\0';
            if (i + 1 == c->nf) {
                rc = tn__sample_take_labels(s, &c->tags, &c->err);
            } else {
                rc = copy_tags(s, &c->tags);
                if (!rc) rc = tn_sample_finish(s, &c->err);
            }
        }
        if (rc) {
            tn_batch_drop_sample(c->out);
            return rc == TN_EINVAL ? TN_EINVAL : TN_ENOMEM;
        }
        c->rep->accepted++;
    }
    return 0;
}

static const char *skip_spaces(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int parse_line(influx_ctx_t *c, const char *p, const char *e)
{
    int esc, rc;
    c->nf = 0;
    tn_buf_reset(&c->names);

    /* measurement */
    const char *m = p;
    p = scan_elem(p, e, K_MEAS, 0, &esc);
    if (p == m) return fail(c, "missing measurement");
    if ((rc = sanitize_to(&c->names, m, p, K_MEAS, 1)))
        return rc == 1 ? fail(c, "control character in the measurement") : rc;
    int bare = c->names.len == 10 && memcmp(c->names.data, "prometheus", 10) == 0;
    if (bare) {
        tn_buf_reset(&c->names);
        c->mlen = 0;
    } else {
        if ((rc = tn_buf_append(&c->names, "_", 1))) return rc;
        c->mlen = c->names.len;
    }

    /* tags */
    while (p < e && *p == ',') {
        const char *k = ++p;
        p = scan_elem(p, e, K_TAG, 1, &esc);
        if (p == k) return fail(c, "empty tag key");
        if (p >= e || *p != '=') return fail_tok(c, "tag", k, (size_t)(p - k), " has no value");
        if (has_control(k, (size_t)(p - k))) return fail(c, "control character in a tag key");
        const char *ks = k;
        size_t kl = (size_t)(p - k);
        if (esc) {
            tn_buf_reset(&c->key);
            if ((rc = unescape_to(&c->key, k, p, K_TAG))) return rc;
            ks = c->key.data, kl = c->key.len;
        }
        const char *v = ++p;
        p = scan_elem(p, e, K_TAG, 0, &esc);
        if (p == v) return fail_tok(c, "tag", ks, kl, " has an empty value");
        const char *vs = v;
        size_t vl = (size_t)(p - v);
        if (esc) {
            tn_buf_reset(&c->val);
            if ((rc = unescape_to(&c->val, v, p, K_TAG))) return rc;
            vs = c->val.data, vl = c->val.len;
        }
        if (!tn__utf8_valid(vs, vl)) return fail_tok(c, "tag", ks, kl, " value is not valid UTF-8");
        if ((rc = tn__labels_add_cached(&c->lcache, &c->tags, ks, kl, vs, vl, &c->err))) return rc;
    }
    if (p >= e) return fail(c, "missing field set");
    if (*p != ' ') return fail_tok(c, "unexpected", p, 1, " after the tag set");
    p = skip_spaces(p, e);
    if (p >= e) return fail(c, "missing field set");

    /* fields */
    for (;;) {
        const char *k = p;
        p = scan_elem(p, e, K_FIELD, 1, &esc);
        if (p == k) return fail(c, "empty field key");
        if (p >= e || *p != '=') return fail_tok(c, "field", k, (size_t)(p - k), " has no value");
        const char *kend = p++;
        const char *v = p;
        int numeric = 1;
        double value = 0;
        if (p < e && *p == '"') {
            numeric = 0;
            p++;
            while (p < e && *p != '"')
                p += *p == '\\' ? 2 : 1;
            if (p >= e)
                return fail_tok(c, "unterminated string in field", k, (size_t)(kend - k), NULL);
            p++;
            if (p < e && *p != ',' && *p != ' ')
                return fail_tok(c, "unexpected text after the string in field", k,
                                (size_t)(kend - k), NULL);
        } else {
            while (p < e && *p != ',' && *p != ' ')
                p++;
            size_t vl = (size_t)(p - v);
            if (vl == 0) return fail_tok(c, "field", k, (size_t)(kend - k), " has no value");
            char last = v[vl - 1];
            if (*v == 't' || *v == 'T' || *v == 'f' || *v == 'F') {
                if (parse_bool(v, vl, &value)) return fail_tok(c, "invalid boolean", v, vl, NULL);
            } else if (last == 'i') {
                int64_t iv;
                int r = tn__text_parse_scaled(v, vl - 1, 0, 0, &iv);
                if (r == -2) return fail_tok(c, "integer", v, vl, " is out of range");
                if (r || *v == '+') return fail_tok(c, "invalid integer", v, vl, NULL);
                value = (double)iv;
            } else if (last == 'u') {
                uint64_t uv;
                int r = parse_uint(v, vl - 1, &uv);
                if (r == -2) return fail_tok(c, "unsigned integer", v, vl, " is out of range");
                if (r) return fail_tok(c, "invalid unsigned integer", v, vl, NULL);
                value = (double)uv;
            } else if (*v == '+' || tn_num_parse(v, vl, 0, &value)) {
                return fail_tok(c, "invalid number", v, vl, NULL);
            }
        }
        if (numeric) {
            /* "<measurement>_" is at the start of names: copy it for this field */
            if ((rc = tn_buf_reserve(&c->names, c->mlen))) return rc;
            size_t off = c->names.len;
            memcpy(c->names.data + off, c->names.data, c->mlen);
            c->names.len += c->mlen;
            if ((rc = sanitize_to(&c->names, k, kend, K_FIELD, c->mlen == 0)))
                return rc == 1 ? fail(c, "control character in a field key") : rc;
            size_t nl = c->names.len - off;
            if (nl > TN_MAX_NAME_LEN)
                return fail_tok(c, "metric name", c->names.data + off, nl, " is too long");
            if ((rc = push_field(c, off, nl, value))) return rc;
        }
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        break;
    }

    /* timestamp */
    int64_t ts = c->now_ms;
    p = skip_spaces(p, e);
    if (p < e) {
        const char *t = p;
        while (p < e && *p != ' ' && *p != '\t')
            p++;
        size_t tl = (size_t)(p - t);
        const char *rest = skip_spaces(p, e);
        if (rest != e)
            return fail_tok(c, "unexpected text after the timestamp", rest, (size_t)(e - rest),
                            NULL);
        int64_t v;
        int r = tn__text_parse_scaled(t, tl, 0, 0, &v);
        if (r == -1) return fail_tok(c, "invalid timestamp", t, tl, NULL);
        if (r == -2) return fail_tok(c, "timestamp", t, tl, " is out of range");
        if (v < 0) return fail_tok(c, "timestamp", t, tl, " is before 1970");
        if (c->mul > 1) {
            if (v > MAX_TS_MS / c->mul) return fail_tok(c, "timestamp", t, tl, " is out of range");
            v *= c->mul;
        } else {
            v /= c->div;
        }
        if (v > MAX_TS_MS) return fail_tok(c, "timestamp", t, tl, " is out of range");
        /* exact in a double: v <= MAX_TS_MS < 2^53 */
        if (tn_norm_ts_number((double)v, TN_TS_MS, &ts, &c->err)) return TN_EINVAL;
    }

    if (c->nf == 0) { /* only string fields */
        tn__labels_clear(&c->tags);
        return 0;
    }
    if (c->nf > 1 && (rc = check_dup_fields(c))) return rc;
    if ((rc = tn_labels_finish(&c->tags, &c->err))) return rc;
    return emit(c, ts);
}

static int precision_of(const char *p, int64_t *div, int64_t *mul)
{
    static const struct {
        const char *name;
        int64_t div, mul;
    } t[] = {{"ns", 1000000, 1}, {"n", 1000000, 1}, {"us", 1000, 1}, {"u", 1000, 1},
             {"ms", 1, 1},       {"s", 1, 1000},    {"m", 1, 60000}, {"h", 1, 3600000}};
    if (!p) p = "ns";
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(p, t[i].name) == 0) {
            *div = t[i].div;
            *mul = t[i].mul;
            return 0;
        }
    }
    return TN_EINVAL;
}

int tn_parse_influx(const char *body, size_t len, const tn_parse_opts_t *o, const char *precision,
                    tn_batch_t *out, tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    if (!body) body = "", len = 0;
    influx_ctx_t c;
    memset(&c, 0, sizeof c);
    if (precision_of(precision, &c.div, &c.mul)) {
        tn_buf_puts(fatal, "precision must be one of ns, us, ms, s (or n, u, m, h)");
        return TN_EINVAL;
    }
    c.now_ms = o ? o->now_ms : tn_now_ms();
    c.max_items = o ? o->max_items : 0;
    c.out = out;
    c.base = out->samples.n;
    c.rep = rep;
    tn_buf_init(&c.err);
    tn_buf_init(&c.names);
    tn_buf_init(&c.key);
    tn_buf_init(&c.val);
    tn_labels_init(&c.tags);
    size_t accepted0 = rep->accepted;
    int rc = tn__samples_reserve(&out->samples, tn__text_expected_lines(body, len, c.max_items));

    const char *p = rc ? body + len : body, *end = body + len;
    size_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        if (e > p && e[-1] == '\r') e--;
        const char *s = skip_spaces(p, e);
        if (s < e && *s != '#') {
            tn_buf_reset(&c.err);
            int r = parse_line(&c, s, e);
            if (r == TN_EINVAL) {
                tn__labels_clear(&c.tags);
                tn__text_reject(rep, line, c.err.len ? c.err.data : "invalid line");
            } else if (r) {
                rc = r;
                break;
            }
        }
        p = nl ? nl + 1 : end;
    }
    tn__text_report_close(rep);
    tn_labels_deinit(&c.tags);
    tn_buf_deinit(&c.err);
    tn_buf_deinit(&c.names);
    tn_buf_deinit(&c.key);
    tn_buf_deinit(&c.val);
    free(c.fields);
    if (rc) {
        while (out->samples.n > c.base)
            tn_batch_drop_sample(out);
        rep->accepted = accepted0;
        if (rc == TN_ETOOBIG)
            tn_buf_printf(fatal, "more than %zu samples in one request (line %zu)", c.max_items,
                          line);
        else
            tn_buf_puts(fatal, "out of memory");
    }
    return rc;
}

size_t tn_influx_complete_prefix(const char *buf, size_t len)
{
    while (len && buf[len - 1] != '\n')
        len--;
    return len;
}
