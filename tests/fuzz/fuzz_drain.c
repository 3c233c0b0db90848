/* libFuzzer target: Drain log template mining and template rates (detect/drain.c). Each input
 * line is a log message, the first byte of the input picks the limits (small ones, so eviction,
 * the children limit and token truncation are reached), timestamps advance by a byte-chosen step
 * so intervals close. Checks the invariants the engine relies on. By hand:
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTN_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_drain
 *   build-fuzz/tests/fuzz_drain -max_total_time=60 tests/fuzz/corpus/drain */
#include "core/error.h"
#include "detect/drain.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

static void on_rate(void *ud, const tn_drain_rate_t *v)
{
    (void)ud;
    check(v->id > 0 && v->template_text != NULL);
    check(v->score >= 0 && v->score <= 1 && !isnan(v->z));
    check(v->kind != TN_DRAIN_RATE_HIGH || (double)v->count > v->expected);
    check(v->kind != TN_DRAIN_RATE_LOW || (double)v->count < v->expected);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint8_t k = data[0];
    tn_drain_opts_t o = {.depth = 3 + (k & 3),
                         .st = 0.2 + 0.2 * ((k >> 2) & 3),
                         .max_children = 2 + ((k >> 4) & 3),
                         .max_clusters = 4 + (k >> 6) * 8,
                         .max_tokens = 16,
                         .masks = (k & 0x80) ? TN_DRAIN_MASK_DEFAULT | TN_DRAIN_MASK_PATH : 0,
                         .interval_ms = 1000,
                         .warmup = 2,
                         .on_rate = on_rate};
    tn_drain_t *d = tn_drain_create(&o);
    if (!d) return 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    int64_t ts = 1700000000000LL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        ts += len ? (unsigned char)p[0] % 4 * 400 : 0;
        tn_drain_match_t m;
        int rc = tn_drain_add(d, p, len, ts, &m);
        check(rc == 0 || rc == TN_ENOMEM);
        if (rc == 0 && m.id) {
            check(m.template_text != NULL);
            const char *t = tn_drain_template(d, m.id);
            check(t != NULL && strcmp(t, m.template_text) == 0);
            for (uint32_t i = 0; i < m.nparams; i++)
                check(m.params && m.params[i] != NULL);
        }
        check(tn_drain_cluster_count(d) <= o.max_clusters);
        p += len + 1;
    }
    tn_drain_flush(d, ts + 10000);
    tn_drain_destroy(d);
    return 0;
}
