/* test_similarity.c - correlate/similarity.c: the tokens of random texts and labels are checked
 * against a naive tokenizer written here (strings, not hashes, masked by its own rules), Jaccard
 * and weighted Jaccard against naive set computations over those strings, SimHash against a
 * naive recomputation; near-duplicates must be close and unrelated signatures far. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "correlate/similarity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_rng = 12345;
static uint64_t next_u64(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int rnd(int n)
{
    return (int)(next_u64() % (uint64_t)n);
}

/* ---- the naive reference: tokens as strings "<ns><text>", counted ---- */

#define MAXT 512
typedef struct {
    char s[MAXT][128];
    double w[MAXT];
    int n;
} strset_t;

static void set_add(strset_t *set, const char *s, double w)
{
    for (int i = 0; i < set->n; i++)
        if (!strcmp(set->s[i], s)) {
            set->w[i] += w;
            return;
        }
    assert_true(set->n < MAXT);
    snprintf(set->s[set->n], sizeof set->s[0], "%s", s);
    set->w[set->n++] = w;
}

static int alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 128;
}

/* The masked form of one word, by the documented rules, built as a string. */
static void mask_word(const char *w, char *out)
{
    char low[128];
    size_t n = strlen(w);
    for (size_t i = 0; i <= n; i++)
        low[i] = (w[i] >= 'A' && w[i] <= 'Z') ? (char)(w[i] + 32) : w[i];
    if (strspn(low, "0123456789") == n) {
        strcpy(out, "<num>");
        return;
    }
    if (n > 2 && low[0] == '0' && low[1] == 'x' && strspn(low + 2, "0123456789abcdef") == n - 2) {
        strcpy(out, "<hex>");
        return;
    }
    if (n >= 4 && strspn(low, "0123456789abcdef") == n && strpbrk(low, "0123456789")) {
        strcpy(out, "<hex>");
        return;
    }
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        if (low[i] >= '0' && low[i] <= '9') {
            if (i == 0 || !(low[i - 1] >= '0' && low[i - 1] <= '9')) *o++ = '#';
        } else {
            *o++ = low[i];
        }
    }
    *o = '\0';
}

static int naive_text(strset_t *set, const char *text, double w)
{
    char word[128], masked[140];
    int words = 0;
    size_t i = 0, n = strlen(text);
    while (i < n) {
        if (!alnum((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t k = 0;
        while (i < n && alnum((unsigned char)text[i]))
            word[k++] = text[i++];
        word[k] = '\0';
        mask_word(word, masked + 1);
        masked[0] = 't';
        set_add(set, masked, w);
        words++;
    }
    return words;
}

static void naive_label(strset_t *set, const char *name, const char *value, int mask, double w)
{
    char buf[300], word[128], masked[128];
    snprintf(buf, sizeof buf, "k%s", name);
    set_add(set, buf, w);
    int o = snprintf(buf, sizeof buf, "l%s=", name);
    size_t i = 0, n = strlen(value);
    while (i < n) {
        if (!mask || !alnum((unsigned char)value[i])) {
            buf[o++] = value[i++];
            continue;
        }
        size_t k = 0;
        while (i < n && alnum((unsigned char)value[i]))
            word[k++] = value[i++];
        word[k] = '\0';
        mask_word(word, masked);
        o += sprintf(buf + o, "%s", masked);
    }
    buf[o] = '\0';
    set_add(set, buf, w);
}

static double naive_jaccard(const strset_t *a, const strset_t *b, int weighted)
{
    double inter = 0, uni = 0;
    for (int i = 0; i < a->n; i++) {
        int j;
        for (j = 0; j < b->n && strcmp(a->s[i], b->s[j]); j++)
            ;
        if (j < b->n) {
            inter += weighted ? fmin(a->w[i], b->w[j]) : 1;
            uni += weighted ? fmax(a->w[i], b->w[j]) : 1;
        } else {
            uni += weighted ? a->w[i] : 1;
        }
    }
    for (int j = 0; j < b->n; j++) {
        int i;
        for (i = 0; i < a->n && strcmp(a->s[i], b->s[j]); i++)
            ;
        if (i == a->n) uni += weighted ? b->w[j] : 1;
    }
    return uni > 0 ? inter / uni : 0;
}

static uint64_t hash_of(const char *s)
{
    return tn_sim_hash((unsigned char)s[0], s + 1, strlen(s + 1));
}

static uint64_t naive_simhash(const strset_t *set)
{
    uint64_t out = 0;
    for (int b = 0; b < 64; b++) {
        double v = 0;
        for (int i = 0; i < set->n; i++)
            v += ((hash_of(set->s[i]) >> b) & 1) ? set->w[i] : -set->w[i];
        if (v > 0) out |= 1ULL << b;
    }
    return out;
}

/* The library's tokens must be exactly the hashes of the naive strings, with their weights. */
static void assert_same_tokens(const tn_sim_tokens_t *t, const strset_t *set)
{
    assert_int_equal(t->n, set->n);
    assert_int_equal(t->dropped, 0);
    for (size_t i = 1; i < t->n; i++)
        assert_true(t->tok[i - 1].hash < t->tok[i].hash);
    for (int i = 0; i < set->n; i++) {
        uint64_t h = hash_of(set->s[i]);
        size_t k;
        for (k = 0; k < t->n && t->tok[k].hash != h; k++)
            ;
        if (k == t->n) fail_msg("token \"%s\" missing", set->s[i]);
        assert_true(fabs(t->tok[k].weight - set->w[i]) < 1e-12);
    }
}

static const char *vocab[] = {
    "disk",   "full",    "on",      "host",  "latency", "p99",   "high", "Checkout", "payments",
    "ERROR",  "timeout", "db",      "redis", "sda1",    "eu-1",  "pod",  "cafe",     "deadbeef",
    "0x7f3a", "e29b",    "41d4",    "v2",    "über",    "naïve", "x",    "OOM",      "killed",
    "42",     "93.5",    "2026-12", "abc",   "ab12",    "0x",    "0xzz", "12ab34",   "GET",
};
static const char *seps[] = {" ", "  ", "-", "_", ": ", "%", "/", ".", "=", ",", "\t", "(", ")"};

static void random_text(char *buf, size_t cap, int words)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < words; i++) {
        const char *w = vocab[rnd((int)(sizeof vocab / sizeof vocab[0]))];
        const char *s = seps[rnd((int)(sizeof seps / sizeof seps[0]))];
        char num[24];
        if (rnd(5) == 0) { /* a fresh number or id */
            if (rnd(2))
                snprintf(num, sizeof num, "%d", rnd(100000));
            else
                snprintf(num, sizeof num, "%08llx", (unsigned long long)next_u64() & 0xffffffffULL);
            w = num;
        }
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", w, s);
    }
}

static void fill(tn_sim_tokens_t *t, strset_t *set, const char *text, int nlabels)
{
    tn_sim_init(t);
    set->n = 0;
    assert_int_equal(tn_sim_add_text(t, text, strlen(text), 1.0), naive_text(set, text, 1.0));
    static const char *names[] = {"service", "host", "pod", "env", "severity"};
    for (int i = 0; i < nlabels; i++) {
        char value[64];
        random_text(value, sizeof value, 1 + rnd(2));
        const char *name = names[rnd(5)];
        int mask = rnd(2);
        double w = 0.5 + rnd(4);
        assert_int_equal(tn_sim_add_label(t, name, value, mask, w), 0);
        naive_label(set, name, value, mask, w);
    }
}

static void test_tokens_and_jaccard_random(void **state)
{
    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        char ta[2048], tb[2200];
        random_text(ta, sizeof ta, rnd(30));
        if (rnd(2))
            random_text(tb, sizeof tb, rnd(30));
        else { /* a near copy: the same text with one word changed at the end */
            snprintf(tb, sizeof tb, "%s %s", ta, vocab[rnd(10)]);
        }
        tn_sim_tokens_t a, b;
        static strset_t sa, sb;
        fill(&a, &sa, ta, rnd(4));
        fill(&b, &sb, tb, rnd(4));
        assert_same_tokens(&a, &sa);
        assert_same_tokens(&b, &sb);
        double j = tn_sim_jaccard(&a, &b), jw = tn_sim_jaccard_weighted(&a, &b);
        assert_true(fabs(j - naive_jaccard(&sa, &sb, 0)) < 1e-12);
        assert_true(fabs(jw - naive_jaccard(&sa, &sb, 1)) < 1e-12);
        assert_true(j >= 0 && j <= 1);
        assert_true(fabs(tn_sim_jaccard(&a, &b) - tn_sim_jaccard(&b, &a)) < 1e-15);
        if (a.n) assert_true(tn_sim_jaccard(&a, &a) == 1.0);
        assert_int_equal(tn_sim_simhash(&a), naive_simhash(&sa));
        assert_int_equal(tn_sim_simhash(&b), naive_simhash(&sb));
    }
}

static double sim_text(const char *x, const char *y, uint64_t *hx, uint64_t *hy)
{
    tn_sim_tokens_t a, b;
    tn_sim_init(&a), tn_sim_init(&b);
    tn_sim_add_text(&a, x, strlen(x), 1.0);
    tn_sim_add_text(&b, y, strlen(y), 1.0);
    if (hx) *hx = tn_sim_simhash(&a);
    if (hy) *hy = tn_sim_simhash(&b);
    return tn_sim_jaccard(&a, &b);
}

static void test_masking(void **state)
{
    (void)state;
    uint64_t h1, h2;
    assert_true(sim_text("disk 93% on host-7", "disk 95% on host-7", &h1, &h2) == 1.0);
    assert_int_equal(h1, h2);
    assert_true(sim_text("Disk 93% ON host-7", "disk 95% on HOST-7", NULL, NULL) == 1.0);
    assert_true(sim_text("request 9f86d081 failed", "request 3c2a7b1e failed", NULL, NULL) == 1.0);
    assert_true(sim_text("trace 0x7f3a", "trace 0xBEEF", NULL, NULL) == 1.0);
    assert_true(sim_text("sda1 full", "sda2 full", NULL, NULL) == 1.0);
    /* words stay words: cafe (hex letters, no digit) is not an id */
    assert_true(sim_text("cafe open", "bead open", NULL, NULL) < 1.0);
    assert_true(sim_text("disk 93% on host-7", "cpu 93% on host-7", NULL, NULL) < 1.0);
    /* 4 of the 5 distinct tokens shared: disk,<num>,on,host vs cpu,<num>,on,host -> 3/5 */
    assert_true(fabs(sim_text("disk 93% on host-7", "cpu 93% on host-7", NULL, NULL) - 3.0 / 5.0) <
                1e-12);
    /* masked label values, and unmasked ones kept verbatim */
    tn_sim_tokens_t a, b;
    tn_sim_init(&a), tn_sim_init(&b);
    tn_sim_add_label(&a, "pod", "checkout-7f9c2d1e", 1, 1);
    tn_sim_add_label(&b, "pod", "checkout-5b8a0c3d", 1, 1);
    assert_true(tn_sim_jaccard(&a, &b) == 1.0);
    tn_sim_init(&a), tn_sim_init(&b);
    tn_sim_add_label(&a, "pod", "checkout-7f9c2d1e", 0, 1);
    tn_sim_add_label(&b, "pod", "checkout-5b8a0c3d", 0, 1);
    assert_true(fabs(tn_sim_jaccard(&a, &b) - 1.0 / 3.0) < 1e-12); /* only the name "pod" */
    /* namespaces: a label name is not a text word */
    tn_sim_init(&a), tn_sim_init(&b);
    tn_sim_add_label(&a, "service", "x", 0, 1);
    tn_sim_add_text(&b, "service x", 9, 1);
    assert_true(tn_sim_jaccard(&a, &b) == 0.0);
    /* bad input */
    assert_int_equal(tn_sim_add_text(&a, "x", 1, 0.0), TN_EINVAL);
    assert_int_equal(tn_sim_add_text(&a, "x", 1, NAN), TN_EINVAL);
    assert_int_equal(tn_sim_add_text(&a, NULL, 3, 1.0), TN_EINVAL);
    assert_int_equal(tn_sim_add_label(&a, "", "x", 0, 1.0), TN_EINVAL);
    assert_int_equal(tn_sim_add_label(&a, "a", NULL, 0, 1.0), TN_EINVAL);
    assert_int_equal(tn_sim_add_text(&a, "  %% -- ", 8, 1.0), 0);
    /* empty sets */
    tn_sim_init(&a), tn_sim_init(&b);
    assert_true(tn_sim_jaccard(&a, &b) == 0.0);
    assert_true(tn_sim_jaccard_weighted(&a, &b) == 0.0);
    assert_int_equal(tn_sim_simhash(&a), 0);
}

static void test_bound(void **state)
{
    (void)state;
    tn_sim_tokens_t t;
    tn_sim_init(&t);
    char w[32];
    for (int i = 0; i < TN_SIM_MAX_TOKENS + 40; i++) {
        snprintf(w, sizeof w, "word%c%c%c", 'a' + i % 26, 'a' + (i / 26) % 26, 'a' + i / 676);
        assert_int_equal(tn_sim_add_text(&t, w, strlen(w), 1.0), 1);
    }
    assert_int_equal(t.n, TN_SIM_MAX_TOKENS);
    assert_int_equal(t.dropped, 40);
    tn_sim_add_text(&t, "worda", 5, 1.0); /* "worda" not seen before either: dropped */
    assert_int_equal(t.dropped, 41);
}

static void test_simhash_distances(void **state)
{
    (void)state;
    /* signatures of 30 random distinct words (from a large synthetic vocabulary); near copies
     * differ in 2 words, unrelated ones share nothing */
    double near_sum = 0, far_sum = 0;
    int near_max = 0, far_min = 64, trials = 400;
    for (int t = 0; t < trials; t++) {
        tn_sim_tokens_t a, b, c;
        tn_sim_init(&a), tn_sim_init(&b), tn_sim_init(&c);
        for (int i = 0; i < 30; i++) {
            char w[32];
            snprintf(w, sizeof w, "w%c%c%c%c", 'a' + rnd(26), 'a' + rnd(26), 'a' + rnd(26),
                     'a' + rnd(26));
            tn_sim_add_text(&a, w, strlen(w), 1.0);
            if (i >= 2) tn_sim_add_text(&b, w, strlen(w), 1.0);
            snprintf(w, sizeof w, "z%c%c%c%c", 'a' + rnd(26), 'a' + rnd(26), 'a' + rnd(26),
                     'a' + rnd(26));
            tn_sim_add_text(&c, w, strlen(w), 1.0);
            if (i < 2) tn_sim_add_text(&b, w, strlen(w), 1.0);
        }
        uint64_t ha = tn_sim_simhash(&a), hb = tn_sim_simhash(&b), hc = tn_sim_simhash(&c);
        int dn = tn_sim_hamming(ha, hb), df = tn_sim_hamming(ha, hc);
        near_sum += dn, far_sum += df;
        if (dn > near_max) near_max = dn;
        if (df < far_min) far_min = df;
        assert_int_equal(tn_sim_hamming(ha, ha), 0);
        assert_true(tn_sim_simhash_similarity(ha, ha) == 1.0);
        double s = tn_sim_simhash_similarity(ha, hc);
        assert_true(s >= 0 && s <= 1);
        assert_true(fabs(s - (1.0 - df / 64.0)) < 1e-15);
    }
    double near = near_sum / trials, far = far_sum / trials;
    print_message("simhash hamming: near copies mean %.2f (max %d), unrelated mean %.2f (min %d)\n",
                  near, near_max, far, far_min);
    /* unrelated hashes are independent bits: about 32 differ */
    assert_true(far > 29 && far < 35);
    /* 2 of 30 words replaced: a small fraction of the bits flip */
    assert_true(near < 12);
    assert_true(near * 3 < far);
    assert_int_equal(tn_sim_hamming(0, ~0ULL), 64);
    assert_true(tn_sim_simhash_similarity(0, ~0ULL) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_and_jaccard_random),
        cmocka_unit_test(test_masking),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_simhash_distances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
