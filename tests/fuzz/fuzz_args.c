/* libFuzzer target: chat command words, durations and label matchers (chatops/args.c). The
 * input is split into words; the whole input and each word are tried as a duration and as
 * matchers; matchers that parse are printed, parsed again from their canonical text (which must
 * print the same) and matched against labels taken from the words, and each regex is checked
 * against the same pattern compiled unanchored and required to match the whole value. See
 * fuzz_json_samples.c for how to build and run. */
#include "chatops/args.h"
#include "core/error.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS_TRIED 8

/* Labels: each word "name=value" of the input; other names with an odd length have the first
 * PREFIX bytes of the input as their value (longer values only make regexec slower, see the
 * regex limits in args.c), names with an even length are absent. */
#define PREFIX 256
typedef struct {
    const tn_args_t *words;
    char prefix[PREFIX + 1];
} labels_t;

static const char *get_label(const char *name, void *arg)
{
    const labels_t *l = arg;
    size_t n = strlen(name);
    for (size_t i = 0; i < l->words->n; i++) {
        const char *w = l->words->v[i];
        if (strncmp(w, name, n) == 0 && w[n] == '=') return w + n + 1;
    }
    return n % 2 ? l->prefix : NULL;
}

static void check_duration(const char *s)
{
    int64_t ms = -1;
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_args_duration(s, &ms, &err);
    if (rc == 0 && (ms < 1000 || ms > 366LL * 86400 * 1000 || ms % 1000)) __builtin_trap();
    if (rc != 0 && (rc != TN_EINVAL || ms != -1 || !err.len)) __builtin_trap();
    tn_buf_deinit(&err);
}

/* An oracle for the anchoring: for each =~ or !~ matcher of text (canonical, from
 * tn_matchers_str), the pattern compiled as it is must match the whole label value (leftmost
 * longest: from 0 to the end) exactly when the matcher alone says it matches. */
static void check_anchoring(const char *text, const labels_t *labels)
{
    size_t n = strlen(text);
    char *name = malloc(n + 1), *value = malloc(n + 1), *one = malloc(n + 1);
    if (!name || !value || !one) goto out;
    for (const char *p = text; *p;) {
        const char *start = p;
        size_t nlen = strcspn(p, "=!");
        memcpy(name, p, nlen);
        name[nlen] = '\0';
        p += nlen;
        int re = p[1] == '~', neg = p[0] == '!';
        p += (re || neg) ? 2 : 1;
        if (*p++ != '"') __builtin_trap();
        char *o = value;
        for (; *p != '"'; p++) {
            if (!*p) __builtin_trap();
            if (*p == '\\') p++;
            *o++ = *p;
        }
        *o = '\0';
        p++;
        memcpy(one, start, (size_t)(p - start));
        one[p - start] = '\0';
        if (*p == ',') p++;
        if (!re) continue;

        regex_t alone;
        if (regcomp(&alone, value, REG_EXTENDED) != 0) __builtin_trap(); /* the parser took it */
        const char *v = get_label(name, (void *)labels);
        if (!v) v = "";
        regmatch_t pm[1];
        int full = regexec(&alone, v, 1, pm, 0) == 0 && pm[0].rm_so == 0 &&
                   (size_t)pm[0].rm_eo == strlen(v);
        regfree(&alone);
        tn_matchers_t *m = NULL;
        if (tn_matchers_parse(one, &m, NULL) != 0) continue; /* out of memory */
        int holds = tn_matchers_match(m, get_label, (void *)labels);
        tn_matchers_free(m);
        if (holds != (neg ? !full : full)) __builtin_trap();
    }
out:
    free(one);
    free(value);
    free(name);
}

static void check_matchers(const char *s, const labels_t *labels)
{
    tn_matchers_t *m = NULL;
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_matchers_parse(s, &m, &err);
    if (rc != 0) {
        if ((rc != TN_EINVAL && rc != TN_ENOMEM) || m || !err.len) __builtin_trap();
        tn_buf_deinit(&err);
        return;
    }
    tn_buf_t text, again;
    tn_buf_init(&text);
    tn_buf_init(&again);
    tn_matchers_t *m2 = NULL;
    if (tn_matchers_str(m, &text) == 0) {
        tn_buf_reset(&err);
        rc = tn_matchers_parse(text.data, &m2, &err);
        if (rc == TN_ENOMEM) goto out;
        if (rc != 0) __builtin_trap(); /* the canonical text always parses */
        if (tn_matchers_str(m2, &again) == 0 && strcmp(text.data, again.data) != 0)
            __builtin_trap();
        int a = tn_matchers_match(m, get_label, (void *)labels);
        int b = tn_matchers_match(m2, get_label, (void *)labels);
        if (a != b) __builtin_trap();
        tn_matchers_match(m, NULL, NULL);
        check_anchoring(text.data, labels);
    }
out:
    tn_matchers_free(m2);
    tn_matchers_free(m);
    tn_buf_deinit(&again);
    tn_buf_deinit(&text);
    tn_buf_deinit(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    tn_args_t a;
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_args_split(s, 0, &a, &err);
    if (rc == 0) {
        if (a.n > 64 || !a.v || a.v[a.n]) __builtin_trap();
        for (size_t i = 0; i < a.n; i++)
            if (strlen(a.v[i]) > size) __builtin_trap();
    } else {
        if ((rc != TN_EPROTO && rc != TN_ETOOBIG && rc != TN_ENOMEM) || a.v || a.n || !err.len)
            __builtin_trap();
    }

    labels_t labels;
    labels.words = &a;
    snprintf(labels.prefix, sizeof labels.prefix, "%s", s);
    check_duration(s);
    check_matchers(s, &labels);
    for (size_t i = 0; i < a.n && i < MAX_WORDS_TRIED; i++) {
        check_duration(a.v[i]);
        check_matchers(a.v[i], &labels);
    }
    tn_args_free(&a);
    tn_buf_deinit(&err);
    free(s);
    return 0;
}
