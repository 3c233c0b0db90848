/* similarity.c - signature tokens (masked words, labels), Jaccard and SimHash. */
#include "correlate/similarity.h"
#include "core/error.h"

#include <math.h>
#include <string.h>

#define NS_LABEL_NAME TN_SIM_NS_NAME
#define NS_LABEL_PAIR TN_SIM_NS_LABEL
#define NS_TEXT TN_SIM_NS_TEXT

#define FNV_INIT 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * FNV_PRIME;
    return h;
}

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

uint64_t tn_sim_hash(unsigned char ns, const char *s, size_t len)
{
    return fmix64(fnv(fnv(FNV_INIT, &ns, 1), s, len));
}

void tn_sim_init(tn_sim_tokens_t *t)
{
    t->n = 0;
    t->dropped = 0;
}

static int good_weight(double w)
{
    return isfinite(w) && w > 0;
}

int tn_sim_add_hash(tn_sim_tokens_t *t, uint64_t hash, double w)
{
    if (!good_weight(w)) return TN_EINVAL;
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->tok[mid].hash < hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n && t->tok[lo].hash == hash) {
        t->tok[lo].weight += w;
        return 0;
    }
    if (t->n == TN_SIM_MAX_TOKENS) {
        t->dropped++;
        return 0;
    }
    memmove(&t->tok[lo + 1], &t->tok[lo], (t->n - lo) * sizeof t->tok[0]);
    t->tok[lo] = (tn_sim_token_t){.hash = hash, .weight = w};
    t->n++;
    return 0;
}

static int is_word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static int is_hex(unsigned char c)
{
    c = lower(c);
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* Feeds the masked form of the word s[0..n) (all word bytes) into the hash. */
static uint64_t hash_word(uint64_t h, const char *s, size_t n)
{
    const unsigned char *w = (const unsigned char *)s;
    int digits = 1, hex = 1, has_digit = 0;
    for (size_t i = 0; i < n; i++) {
        digits &= is_digit(w[i]);
        hex &= is_hex(w[i]);
        has_digit |= is_digit(w[i]);
    }
    if (digits) return fnv(h, "<num>", 5);
    if (n > 2 && w[0] == '0' && lower(w[1]) == 'x') {
        int rest = 1;
        for (size_t i = 2; i < n; i++)
            rest &= is_hex(w[i]);
        if (rest) return fnv(h, "<hex>", 5);
    }
    if (hex && has_digit && n >= 4) return fnv(h, "<hex>", 5);
    for (size_t i = 0; i < n;) {
        if (is_digit(w[i])) {
            while (i < n && is_digit(w[i]))
                i++;
            h = fnv(h, "#", 1);
        } else {
            unsigned char c = lower(w[i++]);
            h = fnv(h, &c, 1);
        }
    }
    return h;
}

int tn_sim_add_text(tn_sim_tokens_t *t, const char *text, size_t len, double w)
{
    if (!good_weight(w) || (!text && len)) return TN_EINVAL;
    int words = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (!is_word_byte(s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && is_word_byte(s[i]))
            i++;
        unsigned char ns = NS_TEXT;
        uint64_t h = hash_word(fnv(FNV_INIT, &ns, 1), text + start, i - start);
        tn_sim_add_hash(t, fmix64(h), w);
        words++;
    }
    return words;
}

int tn_sim_add_label(tn_sim_tokens_t *t, const char *name, const char *value, int mask, double w)
{
    if (!good_weight(w) || !name || !*name || !value) return TN_EINVAL;
    size_t nlen = strlen(name), vlen = strlen(value);
    tn_sim_add_hash(t, tn_sim_hash(NS_LABEL_NAME, name, nlen), w);
    unsigned char ns = NS_LABEL_PAIR;
    uint64_t h = fnv(fnv(fnv(FNV_INIT, &ns, 1), name, nlen), "=", 1);
    if (!mask) {
        h = fnv(h, value, vlen);
    } else {
        const unsigned char *s = (const unsigned char *)value;
        for (size_t i = 0; i < vlen;) {
            if (!is_word_byte(s[i])) {
                h = fnv(h, &s[i++], 1);
                continue;
            }
            size_t start = i;
            while (i < vlen && is_word_byte(s[i]))
                i++;
            h = hash_word(h, value + start, i - start);
        }
    }
    tn_sim_add_hash(t, fmix64(h), w);
    return 0;
}

/* Merges the two sorted sets: sums of min and max weights, and the intersection/union counts. */
static void merge(const tn_sim_tokens_t *a, const tn_sim_tokens_t *b, size_t *inter, size_t *uni,
                  double *wmin, double *wmax)
{
    size_t i = 0, j = 0;
    *inter = *uni = 0;
    *wmin = *wmax = 0;
    while (i < a->n || j < b->n) {
        (*uni)++;
        if (j == b->n || (i < a->n && a->tok[i].hash < b->tok[j].hash)) {
            *wmax += a->tok[i++].weight;
        } else if (i == a->n || b->tok[j].hash < a->tok[i].hash) {
            *wmax += b->tok[j++].weight;
        } else {
            double x = a->tok[i++].weight, y = b->tok[j++].weight;
            (*inter)++;
            *wmin += x < y ? x : y;
            *wmax += x < y ? y : x;
        }
    }
}

double tn_sim_jaccard(const tn_sim_tokens_t *a, const tn_sim_tokens_t *b)
{
    size_t inter, uni;
    double wmin, wmax;
    merge(a, b, &inter, &uni, &wmin, &wmax);
    return uni ? (double)inter / (double)uni : 0.0;
}

double tn_sim_jaccard_weighted(const tn_sim_tokens_t *a, const tn_sim_tokens_t *b)
{
    size_t inter, uni;
    double wmin, wmax;
    merge(a, b, &inter, &uni, &wmin, &wmax);
    return wmax > 0 ? wmin / wmax : 0.0;
}

uint64_t tn_sim_simhash(const tn_sim_tokens_t *t)
{
    double v[64] = {0};
    for (size_t i = 0; i < t->n; i++) {
        uint64_t h = t->tok[i].hash;
        double w = t->tok[i].weight;
        for (int b = 0; b < 64; b++)
            v[b] += (h >> b) & 1 ? w : -w;
    }
    uint64_t out = 0;
    for (int b = 0; b < 64; b++)
        if (v[b] > 0) out |= 1ULL << b;
    return out;
}

int tn_sim_hamming(uint64_t a, uint64_t b)
{
    return __builtin_popcountll(a ^ b);
}

double tn_sim_simhash_similarity(uint64_t a, uint64_t b)
{
    return 1.0 - tn_sim_hamming(a, b) / 64.0;
}
