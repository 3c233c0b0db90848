/* libFuzzer target: alert signature tokens and similarity (correlate/similarity.c). The input is
 * split in two at the first NUL byte; each half becomes a signature from its text and from
 * "name=value" pairs of its lines. Checks the bounds and the algebra of the measures. By hand:
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTN_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_similarity
 *   build-fuzz/tests/fuzz_similarity -max_total_time=60 tests/fuzz/corpus/similarity */
#include "core/error.h"
#include "correlate/similarity.h"

#include <stdint.h>
#include <string.h>

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

static void build(tn_sim_tokens_t *t, const char *s, size_t n)
{
    tn_sim_init(t);
    check(tn_sim_add_text(t, s, n, 1.0) >= 0);
    char name[64], value[256];
    const char *p = s, *end = s + n;
    while (p < end) { /* lines "name=value" become labels */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', len);
        if (eq && (size_t)(eq - p) < sizeof name && len - (size_t)(eq - p) - 1 < sizeof value) {
            memcpy(name, p, (size_t)(eq - p));
            name[eq - p] = '\0';
            size_t vl = len - (size_t)(eq - p) - 1;
            memcpy(value, eq + 1, vl);
            value[vl] = '\0';
            if (!memchr(name, '\0', (size_t)(eq - p)) && !memchr(value, '\0', vl)) {
                int rc = tn_sim_add_label(t, name, value, len & 1, 1.0);
                check(rc == 0 || (rc == TN_EINVAL && eq == p)); /* an empty name is refused */
            }
        }
        p += len + 1;
    }
    check(t->n <= TN_SIM_MAX_TOKENS);
    for (size_t i = 1; i < t->n; i++)
        check(t->tok[i - 1].hash < t->tok[i].hash); /* sorted, distinct */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t na = nul ? (size_t)(nul - s) : size;
    static tn_sim_tokens_t a, b;
    build(&a, s, na);
    build(&b, nul ? nul + 1 : s, nul ? size - na - 1 : 0);
    double j = tn_sim_jaccard(&a, &b), w = tn_sim_jaccard_weighted(&a, &b);
    check(j >= 0 && j <= 1 && w >= 0 && w <= 1);
    check(j == tn_sim_jaccard(&b, &a));
    if (a.n) check(tn_sim_jaccard(&a, &a) == 1);
    double h = tn_sim_simhash_similarity(tn_sim_simhash(&a), tn_sim_simhash(&b));
    check(h >= 0 && h <= 1);
    check(tn_sim_hamming(tn_sim_simhash(&a), tn_sim_simhash(&a)) == 0);
    return 0;
}
