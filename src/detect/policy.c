#include "detect/policy.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *label, *pattern;
    tn_match_op_t op;
} matcher_t;

typedef struct {
    char *name, *metric;
    matcher_t *m;
    size_t nm;
    tn_ens_params_t params;
} rule_t;

struct tn_policy {
    int refs;
    tn_ens_params_t defaults;
    rule_t *rules;
    size_t n, cap;
};

tn_policy_t *tn_policy_create(const tn_ens_params_t *defaults)
{
    tn_policy_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->refs = 1;
    if (defaults) p->defaults = *defaults;
    if (tn_ens_params_resolve(&p->defaults)) {
        free(p);
        return NULL;
    }
    return p;
}

tn_policy_t *tn_policy_ref(tn_policy_t *p)
{
    if (p) p->refs++;
    return p;
}

static void rule_free(rule_t *r)
{
    free(r->name);
    free(r->metric);
    for (size_t i = 0; i < r->nm; i++) {
        free(r->m[i].label);
        free(r->m[i].pattern);
    }
    free(r->m);
}

void tn_policy_unref(tn_policy_t *p)
{
    if (!p || --p->refs > 0) return;
    for (size_t i = 0; i < p->n; i++)
        rule_free(&p->rules[i]);
    free(p->rules);
    free(p);
}

size_t tn_policy_rules(const tn_policy_t *p)
{
    return p->n;
}

static char *dup_or_null(const char *s, int *fail)
{
    if (!s || !*s) return NULL;
    char *d = strdup(s);
    if (!d) *fail = 1;
    return d;
}

int tn_policy_add(tn_policy_t *p, const char *name, const char *metric_glob,
                  const tn_policy_matcher_t *m, size_t nm, const tn_ens_params_t *params,
                  const char **err)
{
    rule_t r = {0};
    r.params = params ? *params : p->defaults;
    if (tn_ens_params_resolve(&r.params)) {
        if (err) *err = "detector parameters out of range";
        return TN_EINVAL;
    }
    for (size_t i = 0; i < nm; i++)
        if (!m[i].label || !*m[i].label || !m[i].pattern || m[i].op > TN_MATCH_NGLOB) {
            if (err) *err = "a label matcher needs a label name, a pattern and a valid op";
            return TN_EINVAL;
        }
    int fail = 0;
    r.name = dup_or_null(name, &fail);
    r.metric = dup_or_null(metric_glob, &fail);
    if (nm && !(r.m = calloc(nm, sizeof *r.m))) fail = 1;
    for (size_t i = 0; !fail && i < nm; i++, r.nm++) {
        r.m[i].label = strdup(m[i].label);
        r.m[i].pattern = strdup(m[i].pattern);
        r.m[i].op = m[i].op;
        if (!r.m[i].label || !r.m[i].pattern) fail = 1;
    }
    if (!fail && p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 8;
        rule_t *nr = realloc(p->rules, nc * sizeof *nr);
        if (!nr)
            fail = 1;
        else
            p->rules = nr, p->cap = nc;
    }
    if (fail) {
        rule_free(&r);
        if (err) *err = "out of memory";
        return TN_ENOMEM;
    }
    p->rules[p->n++] = r;
    return 0;
}

int tn_policy_glob(const char *pat, const char *s, size_t n)
{
    size_t i = 0;
    const char *star = NULL;
    size_t star_i = 0;
    while (i < n) {
        if (*pat == '?' || (*pat && *pat != '*' && *pat == s[i])) {
            pat++;
            i++;
        } else if (*pat == '*') {
            star = pat++;
            star_i = i;
        } else if (star) {
            pat = star + 1;
            i = ++star_i;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the JSON string starting after its opening quote at s[*i]; writes up to cap - 1
 * bytes to out (if not NULL); returns the decoded length, or -1 if malformed. *i ends after
 * the closing quote. */
static long jstring(const char *s, size_t len, size_t *i, char *out, size_t cap)
{
    size_t o = 0;
    while (*i < len) {
        char c = s[(*i)++];
        unsigned cp;
        if (c == '"') {
            if (out && cap) out[o < cap ? o : cap - 1] = '\0';
            return (long)o;
        }
        if (c != '\\') {
            if (out && o + 1 < cap) out[o] = c;
            o++;
            continue;
        }
        if (*i >= len) return -1;
        c = s[(*i)++];
        switch (c) {
        case 'n':
            cp = '\n';
            break;
        case 't':
            cp = '\t';
            break;
        case 'r':
            cp = '\r';
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'u': {
            if (*i + 4 > len) return -1;
            cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = hexval(s[(*i)++]);
                if (h < 0) return -1;
                cp = cp * 16 + (unsigned)h;
            }
            break;
        }
        default:
            cp = (unsigned char)c;
            break;
        }
        char u[4];
        int nu;
        if (cp < 0x80) {
            u[0] = (char)cp, nu = 1;
        } else if (cp < 0x800) {
            u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f)), nu = 2;
        } else {
            u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
            u[2] = (char)(0x80 | (cp & 0x3f)), nu = 3;
        }
        for (int k = 0; k < nu; k++, o++)
            if (out && o + 1 < cap) out[o] = u[k];
    }
    return -1;
}

static void skip_ws(const char *s, size_t len, size_t *i)
{
    while (*i < len && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
        (*i)++;
}

int tn_policy_label(const char *labels, size_t len, const char *key, char *out, size_t cap,
                    size_t *vlen)
{
    size_t i = 0;
    skip_ws(labels, len, &i);
    if (i >= len || labels[i++] != '{') return 0;
    char k[256];
    for (;;) {
        skip_ws(labels, len, &i);
        if (i >= len || labels[i] != '"') return 0;
        i++;
        long kl = jstring(labels, len, &i, k, sizeof k);
        if (kl < 0) return 0;
        skip_ws(labels, len, &i);
        if (i >= len || labels[i++] != ':') return 0;
        skip_ws(labels, len, &i);
        if (i >= len || labels[i] != '"') return 0; /* canonical labels are strings */
        i++;
        int want = (size_t)kl < sizeof k && !strcmp(k, key);
        long vl = jstring(labels, len, &i, want ? out : NULL, cap);
        if (vl < 0) return 0;
        if (want) {
            if (vlen) *vlen = (size_t)vl;
            return 1;
        }
        skip_ws(labels, len, &i);
        if (i >= len || labels[i] != ',') return 0;
        i++;
    }
}

static int matcher_ok(const matcher_t *m, const char *labels, size_t len)
{
    char v[1024];
    size_t vl = 0;
    if (!labels || !tn_policy_label(labels, len, m->label, v, sizeof v, &vl)) {
        v[0] = '\0';
        vl = 0;
    }
    if (vl >= sizeof v)
        return m->op == TN_MATCH_NE || m->op == TN_MATCH_NGLOB
                   ? 1
                   : (m->op == TN_MATCH_GLOB && !strcmp(m->pattern, "*"));
    switch (m->op) {
    case TN_MATCH_EQ:
        return !strcmp(v, m->pattern);
    case TN_MATCH_NE:
        return strcmp(v, m->pattern) != 0;
    case TN_MATCH_GLOB:
        return tn_policy_glob(m->pattern, v, vl);
    case TN_MATCH_NGLOB:
        return !tn_policy_glob(m->pattern, v, vl);
    }
    return 0;
}

int tn_policy_match(const tn_policy_t *p, const char *metric, size_t metric_len, const char *labels,
                    size_t labels_len, const tn_ens_params_t **params, const char **rule_name)
{
    for (size_t r = 0; r < p->n; r++) {
        const rule_t *ru = &p->rules[r];
        if (ru->metric &&
            !tn_policy_glob(ru->metric, metric ? metric : "", metric ? metric_len : 0))
            continue;
        size_t k = 0;
        while (k < ru->nm && matcher_ok(&ru->m[k], labels, labels_len))
            k++;
        if (k < ru->nm) continue;
        *params = &ru->params;
        if (rule_name) *rule_name = ru->name;
        return (int)r;
    }
    *params = &p->defaults;
    if (rule_name) *rule_name = NULL;
    return -1;
}
