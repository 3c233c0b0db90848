/* test_u64map.c - core/u64map.c against a naive list: puts, replacements, growth, iteration,
 * keys that collide in the low bits, key 0. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/u64map.h"

#include <stdlib.h>

static void test_against_naive(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint64_t keys[N];
    static int vals[N];
    tn_u64map_t m;
    tn_u64map_init(&m);
    assert_null(tn_u64map_get(&m, 42));
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        keys[i] = i % 3 == 0 ? ((uint64_t)i + 1) << 32 : x; /* low bits all zero for a third */
        if (i == 7) keys[i] = 0;
        vals[i] = i;
        void *old = &vals[0];
        assert_int_equal(tn_u64map_put(&m, keys[i], &vals[i], &old), 0);
        assert_null(old);
    }
    assert_int_equal(m.len, N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(tn_u64map_get(&m, keys[i]), &vals[i]);
    assert_null(tn_u64map_get(&m, 0xdeadbeefULL));
    /* replace: the old value comes back, the size stays */
    int other = -1;
    void *old = NULL;
    assert_int_equal(tn_u64map_put(&m, keys[5], &other, &old), 0);
    assert_ptr_equal(old, &vals[5]);
    assert_ptr_equal(tn_u64map_get(&m, keys[5]), &other);
    assert_int_equal(m.len, N);
    /* iteration visits every entry once */
    size_t it = 0, seen = 0;
    uint64_t k;
    void *v;
    long sum = 0;
    while (tn_u64map_next(&m, &it, &k, &v)) {
        seen++;
        sum += *(int *)v;
        assert_ptr_equal(tn_u64map_get(&m, k), v);
    }
    assert_int_equal(seen, N);
    assert_int_equal(sum, (long)N * (N - 1) / 2 - 5 - 1);
    assert_int_equal(tn_u64map_put(&m, 1, NULL, NULL), TN_EINVAL);
    tn_u64map_deinit(&m);
    assert_null(tn_u64map_get(&m, keys[1]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_naive)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
