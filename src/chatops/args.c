/* args.c - chat command words (shell-like quoting, typographic quotes too), durations and
 * Alertmanager-style label matchers. */
#include "chatops/args.h"
#include "core/error.h"

#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARGS_DEFAULT_MAX 64
#define MATCHERS_MAX 16

/* ---- words -------------------------------------------------------------------------------- */

enum { Q_NONE, Q_DOUBLE, Q_SINGLE };

/* The kind of quote at p (Q_NONE if none) and its length in bytes. */
static int quote_at(const char *p, size_t *qlen)
{
    const unsigned char *u = (const unsigned char *)p;
    *qlen = 1;
    if (*u == '"') return Q_DOUBLE;
    if (*u == '\'') return Q_SINGLE;
    if (u[0] == 0xE2 && u[1] == 0x80) {
        *qlen = 3;
        if (u[2] == 0x9C || u[2] == 0x9D) return Q_DOUBLE; /* U+201C U+201D */
        if (u[2] == 0x98 || u[2] == 0x99) return Q_SINGLE; /* U+2018 U+2019 */
    }
    return Q_NONE;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int tn_args_split(const char *line, size_t max_words, tn_args_t *a, tn_buf_t *err)
{
    a->v = NULL, a->n = 0, a->mem = NULL;
    if (max_words == 0) max_words = ARGS_DEFAULT_MAX;
    size_t len = strlen(line);
    /* A word takes at least one byte of line and adds one NUL; quotes and escapes only shrink. */
    char *mem = len < SIZE_MAX / 2 ? malloc(2 * len + 1) : NULL;
    if (!mem) {
        if (err) tn_buf_puts(err, "out of memory");
        return TN_ENOMEM;
    }

    char *o = mem;
    size_t n = 0;
    const char *p = line;
    for (;;) {
        while (is_space(*p))
            p++;
        if (!*p) break;
        if (++n > max_words) {
            if (err) tn_buf_printf(err, "more than %zu words", max_words);
            free(mem);
            return TN_ETOOBIG;
        }
        int q = Q_NONE;
        const char *qstart = NULL;
        while (*p && (q != Q_NONE || !is_space(*p))) {
            size_t qlen;
            int k = quote_at(p, &qlen);
            if (q == Q_NONE && k != Q_NONE) {
                q = k, qstart = p, p += qlen;
            } else if (q != Q_NONE && k == q) {
                q = Q_NONE, p += qlen;
            } else if (*p == '\\' && q != Q_SINGLE) {
                if (!p[1]) {
                    if (err)
                        tn_buf_printf(err, "trailing backslash at byte %zu", (size_t)(p - line));
                    free(mem);
                    return TN_EPROTO;
                }
                *o++ = p[1];
                p += 2;
            } else {
                *o++ = *p++;
            }
        }
        if (q != Q_NONE) {
            if (err)
                tn_buf_printf(err, "unterminated %s quote at byte %zu",
                              q == Q_DOUBLE ? "double" : "single", (size_t)(qstart - line));
            free(mem);
            return TN_EPROTO;
        }
        *o++ = '\0';
    }

    char **v = malloc((n + 1) * sizeof *v);
    if (!v) {
        if (err) tn_buf_puts(err, "out of memory");
        free(mem);
        return TN_ENOMEM;
    }
    char *w = mem;
    for (size_t i = 0; i < n; i++) {
        v[i] = w;
        w += strlen(w) + 1;
    }
    v[n] = NULL;
    a->v = v, a->n = n, a->mem = mem;
    return 0;
}

void tn_args_free(tn_args_t *a)
{
    if (!a) return;
    free(a->v);
    free(a->mem);
    a->v = NULL, a->n = 0, a->mem = NULL;
}

/* ---- durations ---------------------------------------------------------------------------- */

#define DURATION_MAX_S (366LL * 86400)

int tn_args_duration(const char *s, int64_t *ms, tn_buf_t *err)
{
    static const char units[] = "wdhms";
    static const int64_t secs[] = {7 * 86400, 86400, 3600, 60, 1};
    if (!s || !*s) {
        if (err) tn_buf_puts(err, "empty duration");
        return TN_EINVAL;
    }
    int64_t total = 0;
    int next_unit = 0; /* units must come in the order w d h m s, each at most once */
    const char *p = s;
    while (*p) {
        if (*p < '0' || *p > '9') goto syntax;
        int64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            v = v * 10 + (*p - '0');
            if (v > DURATION_MAX_S) goto too_long;
        }
        int u;
        if (!*p && next_unit == 0) {
            u = 4; /* a bare number: seconds */
        } else {
            const char *at = *p ? strchr(units, *p) : NULL;
            if (!at) goto syntax;
            u = (int)(at - units);
            if (u < next_unit) goto syntax;
            p++;
        }
        next_unit = u + 1;
        if (v > DURATION_MAX_S / secs[u]) goto too_long;
        total += v * secs[u];
        if (total > DURATION_MAX_S) goto too_long;
    }
    if (total < 1) {
        if (err) tn_buf_printf(err, "duration '%.64s' must be at least 1s", s);
        return TN_EINVAL;
    }
    *ms = total * 1000;
    return 0;
syntax:
    if (err)
        tn_buf_printf(err,
                      "invalid duration '%.64s' (whole numbers with units w d h m s, "
                      "largest first, like 1h30m, or seconds)",
                      s);
    return TN_EINVAL;
too_long:
    if (err) tn_buf_printf(err, "duration '%.64s' is longer than 366 days", s);
    return TN_EINVAL;
}

/* ---- label matchers ----------------------------------------------------------------------- */

typedef struct {
    char *name;
    char *value;
    tn_lmatch_op_t op;
    int has_re;
    regex_t re;
} matcher_t;

struct tn_matchers {
    size_t n;
    matcher_t m[MATCHERS_MAX];
};

void tn_matchers_free(tn_matchers_t *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->m[i].name);
        free(m->m[i].value);
        if (m->m[i].has_re) regfree(&m->m[i].re);
    }
    free(m);
}

static const char *skip_blank(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* ---- regular expressions ------------------------------------------------------------------ */

/* glibc's regex engine has costs a chat user must not be able to trigger, so patterns are
 * scanned before regcomp sees them:
 *  - back-references make regexec backtrack ("(a*)*\1\1b" takes seconds on 40 bytes): refused;
 *  - regcomp expands {m,n} and + by copying ("(a{32767}){32767}" takes minutes and gigabytes,
 *    each stacked + doubles), and regexec's work grows with the size of what it built: at most
 *    RE_BUDGET atoms once every repetition is expanded;
 *  - regcomp's epsilon closures explode when the empty string can be matched in more than one
 *    way, most of all after the anchoring '^': "((x*)*){24}" takes 15 s, "^((a?|b?)){222}$"
 *    and "^((a?){0,2}){222}$" 5 s, "^(a?\b){200}$" minutes. So nothing that can match the
 *    empty string may be repeated (by * + ? or {m,n}: x?? and (x*)* add nothing to x? and x*),
 *    only one alternative of a group may match the empty string ((a|b)? rather than (a?|b?)),
 *    and glibc's zero-width extensions \b \B \< \> \` \' are refused;
 *  - at most RE_MAX_DEPTH nested groups, and every ')' closes one (see re_check). */
#define RE_BUDGET 512
#define RE_MAX_DEPTH 32

/* Past the bracket expression that starts at p ('['), or at its end when unterminated. */
static const char *skip_bracket(const char *p)
{
    const char *q = p + 1;
    if (*q == '^') q++;
    if (*q == ']') q++;
    while (*q && *q != ']') {
        if (q[0] == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
            char t = q[1];
            q += 2;
            while (*q && !(q[0] == t && q[1] == ']'))
                q++;
            if (*q) q += 2;
        } else {
            q++;
        }
    }
    return *q ? q + 1 : q;
}

/* Reads the interval at p ('{'): "{m}", "{m,}", "{m,n}", and glibc's "{,n}" and "{,}" (m = 0).
 * Its largest count (at least 1, saturated above RE_BUDGET) in *mult and whether m is 0 in
 * *zero; returns the byte after it, or NULL when it is not an interval (regcomp then refuses
 * the pattern). */
static const char *read_interval(const char *p, uint64_t *mult, int *zero)
{
    uint64_t m = 0, n = 0;
    const char *q = p + 1;
    int have_m = *q >= '0' && *q <= '9';
    for (; *q >= '0' && *q <= '9'; q++)
        if (m <= RE_BUDGET) m = m * 10 + (uint64_t)(*q - '0');
    if (*q == ',') {
        q++;
        if (*q >= '0' && *q <= '9') {
            for (; *q >= '0' && *q <= '9'; q++)
                if (n <= RE_BUDGET) n = n * 10 + (uint64_t)(*q - '0');
        } else {
            n = m + 1; /* {m,} is m copies and a star */
        }
    } else if (!have_m) {
        return NULL;
    }
    if (*q != '}') return NULL;
    *mult = m > n ? m : n;
    if (*mult == 0) *mult = 1;
    *zero = m == 0;
    return q + 1;
}

/* One group being scanned: the atoms of its branches so far, and whether they can match "". */
typedef struct {
    uint64_t sum;  /* atoms in the group so far */
    uint64_t last; /* atoms of the last piece of the current branch (0: no piece yet) */
    int pre_null;  /* the current branch before its last piece can match "" */
    int last_null; /* its last piece can */
    int any_null;  /* an earlier branch can */
} re_group_t;

static int branch_null(const re_group_t *g)
{
    return g->pre_null && (g->last == 0 || g->last_null);
}

static void re_atom(re_group_t *g, uint64_t w, int null)
{
    if (g->last) g->pre_null = g->pre_null && g->last_null;
    g->sum += w;
    g->last = w;
    g->last_null = null;
}

#define RE_EMPTY_REPEATED                                                                          \
    "repeats something that can match the empty string (x?? or (x*)* add nothing to x? and x*)"
#define RE_EMPTY_TWICE                                                                             \
    "has two alternatives that can match the empty string (write (a|b)? rather than (a?|b?))"

/* Repeats the last piece of g mult times (zero: it may be left out). NULL or why not. */
static const char *re_repeat(re_group_t *g, uint64_t mult, int zero)
{
    if (!g->last) return NULL; /* nothing to repeat: regcomp decides */
    if (g->last_null) return RE_EMPTY_REPEATED;
    uint64_t grown = g->last * mult;
    g->sum = g->sum - g->last + grown;
    g->last = grown;
    if (zero) g->last_null = 1;
    return NULL;
}

/* Ends the current branch of g ('|', ')' or the end). NULL or why not. */
static const char *re_branch_end(re_group_t *g)
{
    if (!branch_null(g)) return NULL;
    if (g->any_null) return RE_EMPTY_TWICE;
    g->any_null = 1;
    return NULL;
}

/* NULL when pattern is within the limits above, else what is wrong. Syntax errors are left to
 * regcomp. */
static const char *re_check(const char *p)
{
    re_group_t st[RE_MAX_DEPTH + 1];
    int d = 0;
    memset(&st[0], 0, sizeof st[0]);
    st[0].pre_null = 1;
    while (*p) {
        const char *why = NULL;
        if (*p == '\\') {
            if (p[1] >= '1' && p[1] <= '9') return "back-references are not supported";
            if (p[1] && strchr("bB<>`'", p[1]))
                return "\\b, \\B, \\<, \\>, \\` and \\' are not supported";
            re_atom(&st[d], 1, 0);
            p += p[1] ? 2 : 1;
        } else if (*p == '[') {
            p = skip_bracket(p);
            re_atom(&st[d], 1, 0);
        } else if (*p == '(') {
            if (d == RE_MAX_DEPTH) return "groups nested too deeply";
            d++;
            memset(&st[d], 0, sizeof st[d]);
            st[d].pre_null = 1;
            p++;
        } else if (*p == ')') {
            /* glibc takes an unmatched ')' as a literal, so "a)|(b)" would close the anchoring
             * group early: "^(a)|(b))$" matches anything that starts with a. */
            if (d == 0) return "unbalanced parentheses (a literal one is written \\))";
            if ((why = re_branch_end(&st[d])) != NULL) return why;
            int null = st[d].any_null;
            uint64_t w = st[d].sum ? st[d].sum : 1;
            d--;
            re_atom(&st[d], w, null);
            p++;
        } else if (*p == '|') {
            if ((why = re_branch_end(&st[d])) != NULL) return why;
            st[d].pre_null = 1;
            st[d].last = 0;
            p++;
        } else if (*p == '*' || *p == '?') {
            why = re_repeat(&st[d], 1, 1);
            p++;
        } else if (*p == '+') { /* glibc copies: a+ is aa*, so a++ is four copies of a */
            why = re_repeat(&st[d], 2, 0);
            p++;
        } else if (*p == '{') {
            uint64_t mult;
            int zero;
            const char *after = read_interval(p, &mult, &zero);
            if (after) {
                why = re_repeat(&st[d], mult, zero);
                p = after;
            } else {
                re_atom(&st[d], 1, 0);
                p++;
            }
        } else {
            re_atom(&st[d], 1, *p == '^' || *p == '$');
            p++;
        }
        if (why) return why;
        if (st[d].sum > RE_BUDGET) return "too complex once its repetitions are expanded";
    }
    if (d) return "unbalanced parentheses";
    return re_branch_end(&st[0]);
}

/* Compiles value, anchored at both ends, into mt->re. 0, TN_EINVAL (message in err) or
 * TN_ENOMEM. The pattern is first compiled alone too, so that a syntax error is one of what the
 * user wrote ("a)|(b" is refused alone, while "^(a)|(b)$" would compile). */
static int compile_re(matcher_t *mt, tn_buf_t *err)
{
    const char *why = re_check(mt->value);
    if (why) {
        if (err)
            tn_buf_printf(err, "bad regular expression for %s: \"%.64s\": %s", mt->name, mt->value,
                          why);
        return TN_EINVAL;
    }
    size_t vlen = strlen(mt->value);
    char *pat = malloc(vlen + 5);
    if (!pat) return TN_ENOMEM;
    memcpy(pat, "^(", 2);
    memcpy(pat + 2, mt->value, vlen);
    memcpy(pat + 2 + vlen, ")$", 3);
    regex_t alone;
    int rc = regcomp(&alone, mt->value, REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
        regfree(&alone);
        rc = regcomp(&mt->re, pat, REG_EXTENDED | REG_NOSUB);
    }
    free(pat);
    if (rc == 0) {
        mt->has_re = 1;
        return 0;
    }
    if (rc == REG_ESPACE) return TN_ENOMEM;
    if (err) {
        char msg[128];
        regerror(rc, NULL, msg, sizeof msg);
        tn_buf_printf(err, "bad regular expression for %s: \"%.64s\": %s", mt->name, mt->value,
                      msg);
    }
    return TN_EINVAL;
}

/* Parses one matcher at *pp into mt (whose strings it allocates); *pp is left after it. */
static int parse_one(const char **pp, matcher_t *mt, const char *s, tn_buf_t *err)
{
    const char *p = skip_blank(*pp);
    const char *name = p;
    if (!*p || *p == ',') {
        if (err)
            tn_buf_printf(err, "empty label matcher at byte %zu of '%.64s'", (size_t)(p - s), s);
        return TN_EINVAL;
    }
    if (!is_name_start(*p)) {
        if (err)
            tn_buf_printf(
                err, "bad label name at byte %zu of '%.64s' (names are [A-Za-z_][A-Za-z0-9_]*)",
                (size_t)(p - s), s);
        return TN_EINVAL;
    }
    while (is_name_char(*p))
        p++;
    size_t nlen = (size_t)(p - name);
    p = skip_blank(p);
    if (p[0] == '=' && p[1] == '~')
        mt->op = TN_LMATCH_RE, p += 2;
    else if (p[0] == '!' && p[1] == '=')
        mt->op = TN_LMATCH_NE, p += 2;
    else if (p[0] == '!' && p[1] == '~')
        mt->op = TN_LMATCH_NRE, p += 2;
    else if (p[0] == '=')
        mt->op = TN_LMATCH_EQ, p += 1;
    else {
        if (err)
            tn_buf_printf(err, "missing operator (= != =~ !~) after label %.*s at byte %zu",
                          (int)(nlen > 64 ? 64 : nlen), name, (size_t)(p - s));
        return TN_EINVAL;
    }
    mt->name = malloc(nlen + 1);
    if (!mt->name) return TN_ENOMEM;
    memcpy(mt->name, name, nlen);
    mt->name[nlen] = '\0';

    p = skip_blank(p);
    if (*p == '"') {
        const char *start = ++p;
        size_t vlen = 0;
        for (; *p && *p != '"'; p++, vlen++)
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
        if (!*p) {
            if (err)
                tn_buf_printf(err, "unterminated quoted value for %s at byte %zu", mt->name,
                              (size_t)(start - 1 - s));
            return TN_EINVAL;
        }
        mt->value = malloc(vlen + 1);
        if (!mt->value) return TN_ENOMEM;
        char *o = mt->value;
        for (const char *q = start; q < p; q++) {
            if (*q == '\\' && (q[1] == '"' || q[1] == '\\')) q++;
            *o++ = *q;
        }
        *o = '\0';
        p = skip_blank(p + 1);
        if (*p && *p != ',') {
            if (err)
                tn_buf_printf(err, "unexpected '%c' after the quoted value of %s at byte %zu", *p,
                              mt->name, (size_t)(p - s));
            return TN_EINVAL;
        }
    } else {
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        size_t vlen = (size_t)(end - start);
        mt->value = malloc(vlen + 1);
        if (!mt->value) return TN_ENOMEM;
        memcpy(mt->value, start, vlen);
        mt->value[vlen] = '\0';
    }
    *pp = p;
    if (mt->op == TN_LMATCH_RE || mt->op == TN_LMATCH_NRE) return compile_re(mt, err);
    return 0;
}

int tn_matchers_parse(const char *s, tn_matchers_t **out, tn_buf_t *err)
{
    *out = NULL;
    if (!*skip_blank(s)) {
        if (err) tn_buf_puts(err, "no label matchers (a silence must match something)");
        return TN_EINVAL;
    }
    tn_matchers_t *m = calloc(1, sizeof *m);
    if (!m) {
        if (err) tn_buf_puts(err, "out of memory");
        return TN_ENOMEM;
    }
    const char *p = s;
    int rc = 0;
    for (;;) {
        if (m->n == MATCHERS_MAX) {
            if (err) tn_buf_printf(err, "more than %d label matchers", MATCHERS_MAX);
            rc = TN_EINVAL;
            break;
        }
        matcher_t *mt = &m->m[m->n++];
        rc = parse_one(&p, mt, s, err);
        if (rc) break;
        if (!*p) break;
        p++; /* the comma */
    }
    if (rc) {
        if (rc == TN_ENOMEM && err) tn_buf_puts(err, "out of memory");
        tn_matchers_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int tn_matchers_match(const tn_matchers_t *m, tn_label_fn get, void *arg)
{
    if (!m || m->n == 0) return 0;
    for (size_t i = 0; i < m->n; i++) {
        const matcher_t *mt = &m->m[i];
        const char *v = get ? get(mt->name, arg) : NULL;
        if (!v) v = "";
        int ok;
        switch (mt->op) {
        case TN_LMATCH_EQ:
            ok = strcmp(v, mt->value) == 0;
            break;
        case TN_LMATCH_NE:
            ok = strcmp(v, mt->value) != 0;
            break;
        default: {
            /* A failing regexec (out of memory) makes the matcher fail either way. */
            int rc = regexec(&mt->re, v, 0, NULL, 0);
            ok = mt->op == TN_LMATCH_RE ? rc == 0 : rc == REG_NOMATCH;
            break;
        }
        }
        if (!ok) return 0;
    }
    return 1;
}

int tn_matchers_str(const tn_matchers_t *m, tn_buf_t *out)
{
    static const char *ops[] = {"=", "!=", "=~", "!~"};
    if (!m) return 0;
    for (size_t i = 0; i < m->n; i++) {
        const matcher_t *mt = &m->m[i];
        int rc = tn_buf_printf(out, "%s%s%s\"", i ? "," : "", mt->name, ops[mt->op]);
        if (rc) return rc;
        for (const char *q = mt->value; *q; q++) {
            size_t run = strcspn(q, "\"\\");
            if ((rc = tn_buf_append(out, q, run)) != 0) return rc;
            q += run;
            if (!*q) break;
            char esc[2] = {'\\', *q};
            if ((rc = tn_buf_append(out, esc, 2)) != 0) return rc;
        }
        if ((rc = tn_buf_append(out, "\"", 1)) != 0) return rc;
    }
    return 0;
}
