/* similarity.h - alert signatures and how alike two of them are (pattern-based correlation).
 *
 * A signature is a bounded set of weighted tokens, each kept as a 64-bit hash:
 *   - a label gives two tokens: its name ("service") and the pair ("service=checkout");
 *   - free text is split on every byte that is not an ASCII letter or digit (bytes >= 0x80
 *     count as letters, so UTF-8 words stay whole), lowercased (ASCII), and each word is masked:
 *       all digits                        -> "<num>"   ("93", "2026")
 *       "0x" + hex digits                 -> "<hex>"   ("0x7f3a")
 *       4+ hex digits with a digit        -> "<hex>"   ("9f86d081", "e29b", "41d4")
 *       any other word: each digit run    -> "#"       ("host7" -> "host#", "sda1" -> "sda#")
 *     so "disk 93% on host-7" and "disk 95% on host-7" have the same tokens. A label value can
 *     be masked the same way (its separators kept: "pod-7f9c2d1e" -> "pod-<hex>").
 * Label tokens, label-name tokens and text tokens live in separate namespaces (the word
 * "service" in text does not match the label name "service").
 *
 * Hash (fixed, so signatures compare across runs and machines): FNV-1a 64 over a namespace
 * byte and the token's bytes, then the MurmurHash3 fmix64 finalizer (FNV alone mixes short
 * strings poorly into the high bits SimHash uses).
 *
 * A token seen again adds its weight. Everything lives in the struct (no allocation); at most
 * TN_SIM_MAX_TOKENS distinct tokens, the rest are counted in `dropped`. Costs: adding is
 * O(text length) plus a binary search per word and a sorted insert (O(T), T <= 256 distinct
 * tokens) per new token; Jaccard O(T_a + T_b) (a merge); SimHash O(64 T). */
#ifndef TN_CORRELATE_SIMILARITY_H
#define TN_CORRELATE_SIMILARITY_H

#include <stddef.h>
#include <stdint.h>

#define TN_SIM_MAX_TOKENS 256

/* Token namespaces: the first byte hashed. A label name "service" is tn_sim_hash(TN_SIM_NS_NAME,
 * "service"), the pair tn_sim_hash(TN_SIM_NS_LABEL, "service=checkout"), a text word
 * tn_sim_hash(TN_SIM_NS_TEXT, masked word). */
enum { TN_SIM_NS_NAME = 'k', TN_SIM_NS_LABEL = 'l', TN_SIM_NS_TEXT = 't' };

typedef struct {
    uint64_t hash;
    double weight; /* sum of the weights it was added with */
} tn_sim_token_t;

typedef struct {
    tn_sim_token_t tok[TN_SIM_MAX_TOKENS]; /* sorted by hash, distinct */
    size_t n;
    size_t dropped; /* distinct tokens beyond the bound */
} tn_sim_tokens_t;

/* Embedded or on the stack: init before use; there is nothing to release. */
void tn_sim_init(tn_sim_tokens_t *t);

/* The fixed token hash of len bytes in namespace ns (for tests and for other helpers). */
uint64_t tn_sim_hash(unsigned char ns, const char *s, size_t len);

/* Adds a label's two tokens with weight w (> 0 and finite, else TN_EINVAL). name and value
 * are borrowed; name is used as given, value is masked when mask is non-zero. 0 or TN_EINVAL. */
int tn_sim_add_label(tn_sim_tokens_t *t, const char *name, const char *value, int mask, double w);

/* Adds the words of len bytes of text (borrowed), each with weight w. Returns the number of
 * words (>= 0) or TN_EINVAL. */
int tn_sim_add_text(tn_sim_tokens_t *t, const char *text, size_t len, double w);

/* Adds one token (an already computed hash) with weight w. 0, or TN_EINVAL for a bad weight. */
int tn_sim_add_hash(tn_sim_tokens_t *t, uint64_t hash, double w);

/* |A ∩ B| / |A ∪ B| of the two token sets (weights ignored); 0 when both are empty. */
double tn_sim_jaccard(const tn_sim_tokens_t *a, const tn_sim_tokens_t *b);
/* Weighted Jaccard: sum of min weights / sum of max weights; 0 when both are empty. */
double tn_sim_jaccard_weighted(const tn_sim_tokens_t *a, const tn_sim_tokens_t *b);

/* 64-bit SimHash (Charikar): bit i is set when the weights of the tokens whose hash has bit i
 * set outweigh those whose hash has it clear. 0 for an empty set. */
uint64_t tn_sim_simhash(const tn_sim_tokens_t *t);
/* Bits that differ (0..64). */
int tn_sim_hamming(uint64_t a, uint64_t b);
/* 1 - hamming / 64, in [0, 1]. */
double tn_sim_simhash_similarity(uint64_t a, uint64_t b);

#endif
