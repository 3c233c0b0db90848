/* prom_text.c - Prometheus text 0.0.4 / OpenMetrics 1.0 parser, and the scanning helpers the
 * text parsers share (numbers, UTF-8, line rejections). Hand-written: one pass over each line,
 * no copies of label values unless they hold escapes, no allocation besides the sample's own. */
#include "ingest/prom_text.h"
#include "core/error.h"
#include "core/num.h"
#include "ingest/normalize.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REPORTED 20
#define MAX_UNIT_LEN 64

/* ---- shared helpers ----------------------------------------------------------------------- */

static inline int is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

int tn__text_parse_scaled(const char *s, size_t n, int frac_digits, int allow_frac, int64_t *out)
{
    if (n && !frac_digits) { /* the common case: a plain integer of at most 19 digits */
        size_t j = s[0] == '-' || s[0] == '+';
        if (j < n && n - j <= 19) {
            uint64_t v = 0; /* < 10^19 < 2^64 */
            while (j < n && is_digit(s[j]))
                v = v * 10 + (unsigned)(s[j++] - '0');
            int neg = s[0] == '-';
            if (j == n && v <= (uint64_t)INT64_MAX + (uint64_t)neg) {
                *out = neg ? (int64_t)(0 - v) : (int64_t)v;
                return 0;
            }
        }
    }
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    const char *ip = s + i;
    size_t il = 0, fl = 0;
    while (i < n && is_digit(s[i]))
        i++, il++;
    const char *fp = s + i;
    if (allow_frac && i < n && s[i] == '.') {
        fp = s + ++i;
        while (i < n && is_digit(s[i]))
            i++, fl++;
    }
    if (il + fl == 0) return -1;
    long exp = 0;
    if (allow_frac && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        if (i >= n || !is_digit(s[i])) return -1;
        while (i < n && is_digit(s[i])) {
            if (exp < 100000) exp = exp * 10 + (s[i] - '0');
            i++;
        }
        if (eneg) exp = -exp;
    }
    if (i != n) return -1;
    /* The digits D = ip . fp; the result is the integer part of D * 10^(exp + frac_digits). */
    long point = (long)il + exp + frac_digits;
    uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (long k = 0; k < point; k++) {
        unsigned d = 0;
        if ((size_t)k < il)
            d = (unsigned)(ip[k] - '0');
        else if ((size_t)k - il < fl)
            d = (unsigned)(fp[k - (long)il] - '0');
        else if (acc == 0)
            break; /* only zeros left */
        if (acc > (limit - d) / 10) return -2;
        acc = acc * 10 + d;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

int tn__utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        size_t l = utf8_seq(s + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

void tn__text_quote(tn_buf_t *b, const char *s, size_t n, size_t max)
{
    size_t m = n < max ? n : max;
    if (tn_buf_reserve(b, m + 3)) return;
    for (size_t i = 0; i < m; i++)
        b->data[b->len++] = s[i] ? s[i] : '?';
    b->data[b->len] = '\0';
    if (n > max) tn_buf_puts(b, "...");
}

void tn__text_reject(tn_ingest_report_t *r, size_t line, const char *msg)
{
    if (r->rejected >= MAX_REPORTED) {
        r->rejected++; /* counted, not described */
        return;
    }
    tn_buf_t *errs = &r->errors;
    if (errs->len && errs->data[errs->len - 1] == ']')
        errs->data[--errs->len] = '\0'; /* reopen the array an earlier parse closed */
    /* "line N: msg" with each byte that is not part of valid UTF-8 (a name cut short, raw input
     * bytes) replaced by '?': the report is JSON text */
    tn_buf_t text;
    tn_buf_init(&text);
    size_t n = strlen(msg);
    if (tn_buf_printf(&text, "line %zu: ", line) || tn_buf_reserve(&text, n)) {
        tn_buf_deinit(&text);
        tn_ingest_report_reject(r, "line", line, "invalid line");
        return;
    }
    const unsigned char *m = (const unsigned char *)msg;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(m + i, n - i);
        if (!l) {
            text.data[text.len++] = '?';
            i++;
        } else {
            memcpy(text.data + text.len, m + i, l);
            text.len += l, i += l;
        }
    }
    text.data[text.len] = '\0';
    tn_ingest_report_reject(r, "line", line, text.data);
    tn_buf_deinit(&text);
}

void tn__text_report_close(tn_ingest_report_t *r)
{
    tn_buf_t *errs = &r->errors;
    if (errs->len && errs->data[errs->len - 1] != ']') tn_buf_puts(errs, "]");
}

static unsigned lcache_slot(const char *name, size_t n)
{
    unsigned h = (unsigned)n * 31u + (unsigned char)name[0] * 7u + (unsigned char)name[n - 1];
    if (n > 2) h = h * 131u + (unsigned char)name[n / 2];
    return h % TN__LCACHE_SLOTS;
}

int tn__labels_add_cached(tn__label_cache_t *lc, tn_labels_t *l, const char *name, size_t nlen,
                          const char *value, size_t vlen, tn_buf_t *err)
{
    if (nlen == 0 || nlen > TN__LCACHE_NAME) {
        char buf[TN_MAX_NAME_LEN + 2];
        if (nlen > TN_MAX_NAME_LEN) nlen = TN_MAX_NAME_LEN + 1; /* too long: normalize says so */
        memcpy(buf, name, nlen);
        buf[nlen] = '\0';
        return tn_labels_add(l, buf, value, vlen, err);
    }
    unsigned i = lcache_slot(name, nlen);
    if (lc->slot[i].rlen != nlen || memcmp(lc->slot[i].raw, name, nlen) != 0) {
        char buf[TN__LCACHE_NAME + 1];
        memcpy(buf, name, nlen);
        buf[nlen] = '\0';
        int rc = tn_labels_add(l, buf, value, vlen, err);
        if (rc) return rc;
        const char *canon = l->items[l->n - 1].name;
        size_t cl = strlen(canon);
        if (cl < sizeof lc->slot[i].canon) {
            lc->slot[i].rlen = (unsigned char)nlen;
            memcpy(lc->slot[i].raw, name, nlen);
            memcpy(lc->slot[i].canon, canon, cl + 1);
        }
        return 0;
    }
    /* the checks of tn_labels_add, with the name already normalized */
    int pl = (int)(nlen < 64 ? nlen : 64);
    if (vlen > TN_MAX_LABEL_VALUE_LEN) {
        tn_buf_printf(err, "label '%.*s' value is longer than %d bytes", pl, name,
                      TN_MAX_LABEL_VALUE_LEN);
        return TN_EINVAL;
    }
    if (memchr(value, '\0', vlen)) {
        tn_buf_printf(err, "label '%.*s' value contains a NUL byte", pl, name);
        return TN_EINVAL;
    }
    int rc = tn_labels_add_raw(l, lc->slot[i].canon, value, vlen);
    if (rc == TN_ETOOBIG) {
        tn_buf_printf(err, "too many labels (limit %d)", TN_MAX_LABELS);
        return TN_EINVAL;
    }
    return rc;
}

void tn__labels_clear(tn_labels_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].value);
    }
    l->n = 0;
}

int tn__sample_take_labels(tn_sample_t *s, tn_labels_t *l, tn_buf_t *err)
{
    if (l->n) {
        s->labels = malloc(l->n * sizeof *s->labels);
        if (!s->labels) return TN_ENOMEM;
        memcpy(s->labels, l->items, l->n * sizeof *s->labels);
        s->nlabels = l->n;
        l->n = 0;
    }
    return tn_sample_finish(s, err);
}

size_t tn__text_expected_lines(const char *body, size_t len, size_t max_items)
{
    if (!len) return 0;
    size_t n = 1;
    for (const char *p = body, *e = body + len; (p = memchr(p, '\n', (size_t)(e - p))); p++)
        n++;
    size_t cap = len / 16 + 16; /* tiny lines: let the vector grow instead */
    if (n > cap) n = cap;
    if (max_items && n > max_items) n = max_items;
    return n;
}

int tn__samples_reserve(tn_samples_t *v, size_t extra)
{
    if (extra <= v->cap - v->n) return 0;
    if (extra > ((size_t)-1) / 2 / sizeof *v->items - v->n) return TN_ENOMEM;
    size_t cap = v->n + extra;
    tn_sample_t *p = realloc(v->items, cap * sizeof *p);
    if (!p) return TN_ENOMEM;
    v->items = p;
    v->cap = cap;
    return 0;
}

/* ---- the Prometheus parser ---------------------------------------------------------------- */

typedef struct {
    int64_t now_ms;
    size_t max_items;
    int om; /* OpenMetrics: timestamps in seconds */
    tn_batch_t *out;
    size_t base; /* out->samples.n at the start */
    tn_ingest_report_t *rep;
    tn_buf_t err;       /* why the current line is rejected */
    tn_buf_t val;       /* an unescaped quoted string */
    tn_labels_t labels; /* labels of the current line (the array is kept across lines) */
    tn__label_cache_t lcache;
    int has_empty; /* a label of the current line has an empty value */
    char family[TN_MAX_NAME_LEN + 1];
    size_t famlen;
    char unit[MAX_UNIT_LEN + 1];
    size_t unitlen;
} prom_ctx_t;

#define RC_EOF 1

static inline int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static inline int is_label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || is_digit(c);
}

static inline int is_name_char(char c)
{
    return is_label_char(c) || c == ':';
}

static const char *skip_blanks(const char *p, const char *e)
{
    while (p < e && is_blank(*p))
        p++;
    return p;
}

static const char *token_end(const char *p, const char *e)
{
    while (p < e && !is_blank(*p))
        p++;
    return p;
}

/* Sets the line's rejection reason: prefix 'token' suffix. */
static int fail_tok(prom_ctx_t *c, const char *prefix, const char *s, size_t n, const char *suffix)
{
    tn_buf_puts(&c->err, prefix);
    tn_buf_puts(&c->err, " '");
    tn__text_quote(&c->err, s, n, 64);
    tn_buf_puts(&c->err, "'");
    if (suffix) tn_buf_puts(&c->err, suffix);
    return TN_EINVAL;
}

static int fail(prom_ctx_t *c, const char *msg)
{
    tn_buf_puts(&c->err, msg);
    return TN_EINVAL;
}

static int body_ends_with_eof(const char *b, size_t len)
{
    size_t e = len;
    while (e && (b[e - 1] == '\n' || b[e - 1] == '\r' || is_blank(b[e - 1])))
        e--;
    size_t s = e;
    while (s && b[s - 1] != '\n')
        s--;
    return e - s == 5 && memcmp(b + s, "# EOF", 5) == 0;
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > TN_MAX_NAME_LEN || is_digit(s[0])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_name_char(s[i])) return 0;
    return 1;
}

/* `# HELP name ...`, `# TYPE name type`, `# UNIT name unit`, `# EOF`, or a comment. p is past
 * the '#'. */
static int parse_meta(prom_ctx_t *c, const char *p, const char *e)
{
    if (p >= e || !is_blank(*p)) return 0; /* "#HELP" is a comment */
    p = skip_blanks(p, e);
    const char *kw = p;
    p = token_end(p, e);
    size_t kl = (size_t)(p - kw);
    if (kl == 3 && memcmp(kw, "EOF", 3) == 0 && skip_blanks(p, e) == e) return RC_EOF;
    if (kl != 4) return 0;
    int help = memcmp(kw, "HELP", 4) == 0, type = memcmp(kw, "TYPE", 4) == 0,
        unit = memcmp(kw, "UNIT", 4) == 0;
    if (!help && !type && !unit) return 0; /* a comment */
    p = skip_blanks(p, e);
    const char *name = p;
    p = token_end(p, e);
    size_t nl = (size_t)(p - name);
    if (nl == 0) {
        tn_buf_printf(&c->err, "%.4s line without a metric name", kw);
        return TN_EINVAL;
    }
    if (!name_ok(name, nl)) return fail_tok(c, "invalid metric name", name, nl, NULL);
    if (nl != c->famlen || memcmp(name, c->family, nl) != 0) {
        memcpy(c->family, name, nl);
        c->family[nl] = '\0';
        c->famlen = nl;
        c->unitlen = 0;
        c->unit[0] = '\0';
    }
    p = skip_blanks(p, e);
    if (type) {
        static const char *const types[] = {"counter",        "gauge",   "histogram",
                                            "gaugehistogram", "summary", "untyped",
                                            "unknown",        "info",    "stateset"};
        const char *t = p;
        p = token_end(p, e);
        size_t tl = (size_t)(p - t);
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strlen(types[i]) == tl && memcmp(types[i], t, tl) == 0) return 0;
        return fail_tok(c, "unknown metric type", t, tl, NULL);
    }
    if (unit) {
        const char *u = p, *ue = e;
        while (ue > u && is_blank(ue[-1]))
            ue--;
        size_t ul = (size_t)(ue - u);
        if (ul > MAX_UNIT_LEN) return fail_tok(c, "invalid unit", u, ul, NULL);
        for (size_t i = 0; i < ul; i++)
            if (!is_name_char(u[i])) return fail_tok(c, "invalid unit", u, ul, NULL);
        memcpy(c->unit, u, ul);
        c->unit[ul] = '\0';
        c->unitlen = ul;
    }
    return 0;
}

/* A quoted string at *pp (on the opening quote). Sets *s and *n to the unescaped text: a pointer
 * into the body when there is no escape, else into c->val. 0, 1 (unterminated) or TN_ENOMEM. */
static int read_quoted(prom_ctx_t *c, const char **pp, const char *e, const char **s, size_t *n)
{
    const char *p = *pp + 1, *run = p;
    while (p < e && *p != '"' && *p != '\\')
        p++;
    if (p >= e) return 1;
    if (*p == '"') {
        *s = run, *n = (size_t)(p - run);
        *pp = p + 1;
        return 0;
    }
    tn_buf_reset(&c->val);
    for (;;) {
        if (tn_buf_append(&c->val, run, (size_t)(p - run))) return TN_ENOMEM;
        if (p >= e) return 1;
        if (*p == '"') break;
        /* backslash */
        if (p + 1 >= e) return 1;
        char esc[2] = {'\\', p[1]};
        int rc;
        if (p[1] == 'n')
            rc = tn_buf_append(&c->val, "\n", 1);
        else if (p[1] == '\\' || p[1] == '"')
            rc = tn_buf_append(&c->val, p + 1, 1);
        else
            rc = tn_buf_append(&c->val, esc, 2); /* kept as is, like Prometheus */
        if (rc) return TN_ENOMEM;
        p += 2;
        run = p;
        while (p < e && *p != '"' && *p != '\\')
            p++;
    }
    *s = c->val.data ? c->val.data : "";
    *n = c->val.len;
    *pp = p + 1;
    return 0;
}

/* `{name="value",...}` at *pp (on the '{'): fills c->labels. */
static int parse_labels(prom_ctx_t *c, const char **pp, const char *e)
{
    const char *p = *pp + 1;
    char lname[TN_MAX_NAME_LEN + 1];
    for (;;) {
        p = skip_blanks(p, e);
        if (p >= e) return fail(c, "unterminated label set");
        if (*p == '}') {
            p++;
            break;
        }
        const char *ls;
        size_t ll;
        if (*p == '"') {
            int rc = read_quoted(c, &p, e, &ls, &ll);
            if (rc == TN_ENOMEM) return rc;
            if (rc) return fail(c, "unterminated quoted label name");
            if (ll == 0) return fail(c, "empty label name");
            if (ll > TN_MAX_NAME_LEN || memchr(ls, '\0', ll) || !tn__utf8_valid(ls, ll))
                return fail_tok(c, "invalid label name", ls, ll, NULL);
        } else {
            ls = p;
            while (p < e && is_label_char(*p))
                p++;
#define TERM(q)                                                                                    \
    ((q) >= e || *(q) == '=' || is_blank(*(q)) || *(q) == ',' || *(q) == '}' || *(q) == '"')
            if (p == ls && TERM(p)) return fail(c, "missing label name");
            if (!TERM(p) || is_digit(*ls)) {
                while (!TERM(p))
                    p++;
                return fail_tok(c, "invalid label name", ls, (size_t)(p - ls), NULL);
            }
#undef TERM
            ll = (size_t)(p - ls);
            if (ll > TN_MAX_NAME_LEN) return fail_tok(c, "invalid label name", ls, ll, NULL);
        }
        memcpy(lname, ls, ll);
        lname[ll] = '\0';
        p = skip_blanks(p, e);
        if (p >= e || *p != '=')
            return fail_tok(c, "expected '=' after label name", lname, ll, NULL);
        p = skip_blanks(p + 1, e);
        if (p >= e || *p != '"') return fail_tok(c, "label", lname, ll, " needs a quoted value");
        const char *vs;
        size_t vl;
        int rc = read_quoted(c, &p, e, &vs, &vl);
        if (rc == TN_ENOMEM) return rc;
        if (rc) return fail_tok(c, "unterminated value of label", lname, ll, NULL);
        if (!tn__utf8_valid(vs, vl))
            return fail_tok(c, "label", lname, ll, " value is not valid UTF-8");
        if (vl == 0) c->has_empty = 1;
        rc = tn__labels_add_cached(&c->lcache, &c->labels, lname, ll, vs, vl, &c->err);
        if (rc) return rc;
        p = skip_blanks(p, e);
        if (p >= e) return fail(c, "unterminated label set");
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}') {
            p++;
            break;
        }
        return fail(c, "expected ',' or '}' in the label set");
    }
    *pp = p;
    return 0;
}

/* Sorts, rejects duplicates, and drops labels with an empty value. */
static int drop_empty_labels(prom_ctx_t *c)
{
    int rc = tn_labels_finish(&c->labels, &c->err);
    if (rc) return rc;
    size_t j = 0;
    for (size_t i = 0; i < c->labels.n; i++) {
        tn_label_t *l = &c->labels.items[i];
        if (l->value[0] == '\0') {
            free(l->name);
            free(l->value);
        } else {
            c->labels.items[j++] = *l;
        }
    }
    c->labels.n = j;
    return 0;
}

static int family_match(const prom_ctx_t *c, const char *name, size_t nl)
{
    static const struct {
        const char *s;
        size_t n;
    } sfx[] = {{"_total", 6},  {"_created", 8}, {"_count", 6}, {"_sum", 4},
               {"_bucket", 7}, {"_gcount", 7},  {"_gsum", 5},  {"_info", 5}};
    if (nl < c->famlen || memcmp(name, c->family, c->famlen) != 0) return 0;
    const char *r = name + c->famlen;
    size_t rl = nl - c->famlen;
    if (rl == 0) return 1;
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++)
        if (sfx[i].n == rl && memcmp(sfx[i].s, r, rl) == 0) return 1;
    return 0;
}

static int parse_sample(prom_ctx_t *c, const char *p, const char *e)
{
    const char *name = p;
    while (p < e && is_name_char(*p))
        p++;
    size_t nl = (size_t)(p - name);
    if (nl == 0 || (p < e && *p != '{' && !is_blank(*p)) || is_digit(*name) ||
        nl > TN_MAX_NAME_LEN) {
        while (p < e && *p != '{' && !is_blank(*p))
            p++;
        if (p == name) return fail(c, "missing metric name");
        return fail_tok(c, "invalid metric name", name, (size_t)(p - name), NULL);
    }
    c->has_empty = 0;
    if (p < e && *p == '{') {
        int rc = parse_labels(c, &p, e);
        if (rc) return rc;
    }
    p = skip_blanks(p, e);
    const char *v = p;
    p = token_end(p, e);
    if (p == v) return fail(c, "missing value");
    double value;
    if (tn_num_parse(v, (size_t)(p - v), TN_NUM_SPECIAL | TN_NUM_LENIENT, &value))
        return fail_tok(c, "invalid value", v, (size_t)(p - v), NULL);
    int64_t ts = c->now_ms;
    p = skip_blanks(p, e);
    if (p < e && *p != '#') {
        const char *t = p;
        p = token_end(p, e);
        size_t tl = (size_t)(p - t);
        int secs = c->om || memchr(t, '.', tl) || memchr(t, 'e', tl) || memchr(t, 'E', tl);
        int64_t ms;
        int r = tn__text_parse_scaled(t, tl, secs ? 3 : 0, secs, &ms);
        if (r == -1) return fail_tok(c, "invalid timestamp", t, tl, NULL);
        if (r == -2 || ms > 253402300799999LL)
            return fail_tok(c, "timestamp", t, tl, " is out of range");
        if (ms < 0) return fail_tok(c, "timestamp", t, tl, " is before 1970");
        ts = ms;
        p = skip_blanks(p, e);
    }
    if (p < e && *p != '#') /* '#': an exemplar, ignored */
        return fail_tok(c, "unexpected text after the sample", p, (size_t)(e - p), NULL);

    if (c->max_items && c->out->samples.n - c->base >= c->max_items) return TN_ETOOBIG;
    if (c->has_empty) {
        int rc = drop_empty_labels(c);
        if (rc) return rc;
    }
    tn_sample_t *s = tn_samples_push(&c->out->samples);
    if (!s) return TN_ENOMEM;
    s->value = value;
    s->ts_ms = ts;
    s->name = malloc(nl + 1);
    if (!s->name) goto nomem;
    memcpy(s->name, name, nl);
    s->name[nl] = '\0';
    if (c->unitlen && family_match(c, name, nl)) {
        s->unit = malloc(c->unitlen + 1);
        if (!s->unit) goto nomem;
        memcpy(s->unit, c->unit, c->unitlen + 1);
    }
    int rc = tn__sample_take_labels(s, &c->labels, &c->err);
    if (rc) {
        tn_batch_drop_sample(c->out);
        return rc;
    }
    c->rep->accepted++;
    return 0;
nomem:
    tn_batch_drop_sample(c->out);
    return TN_ENOMEM;
}

static int parse_line(prom_ctx_t *c, const char *p, const char *e)
{
    p = skip_blanks(p, e);
    if (p == e) return 0;
    if (*p == '#') return parse_meta(c, p + 1, e);
    return parse_sample(c, p, e);
}

int tn_parse_prom_text_fmt(const char *body, size_t len, tn_prom_format_t fmt,
                           const tn_parse_opts_t *o, tn_batch_t *out, tn_ingest_report_t *rep,
                           tn_buf_t *fatal)
{
    if (!body) body = "", len = 0;
    prom_ctx_t c;
    memset(&c, 0, sizeof c);
    c.now_ms = o ? o->now_ms : tn_now_ms();
    c.max_items = o ? o->max_items : 0;
    c.om = fmt == TN_PROM_OPENMETRICS || (fmt == TN_PROM_AUTO && body_ends_with_eof(body, len));
    c.out = out;
    c.base = out->samples.n;
    c.rep = rep;
    tn_buf_init(&c.err);
    tn_buf_init(&c.val);
    tn_labels_init(&c.labels);
    size_t accepted0 = rep->accepted;
    int rc = tn__samples_reserve(&out->samples, tn__text_expected_lines(body, len, c.max_items));

    const char *p = rc ? body + len : body, *end = body + len;
    size_t line = 0;
    int eof = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *e = le;
        if (e > p && e[-1] == '\r') e--;
        if (eof) {
            if (skip_blanks(p, e) != e) {
                tn__text_reject(rep, line, "content after # EOF");
                break;
            }
        } else {
            tn_buf_reset(&c.err);
            int r = parse_line(&c, p, e);
            if (r == RC_EOF) {
                eof = 1;
            } else if (r == TN_EINVAL) {
                tn__labels_clear(&c.labels);
                tn__text_reject(rep, line, c.err.len ? c.err.data : "invalid line");
            } else if (r) {
                rc = r;
                break;
            }
        }
        p = nl ? nl + 1 : end;
    }
    tn__text_report_close(rep);
    tn_labels_deinit(&c.labels);
    tn_buf_deinit(&c.err);
    tn_buf_deinit(&c.val);
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

int tn_parse_prom_text(const char *body, size_t len, const tn_parse_opts_t *o, tn_batch_t *out,
                       tn_ingest_report_t *rep, tn_buf_t *fatal)
{
    return tn_parse_prom_text_fmt(body, len, TN_PROM_AUTO, o, out, rep, fatal);
}
