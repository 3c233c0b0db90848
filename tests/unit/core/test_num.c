/* test_num.c - core/num.c: the short formatter must round-trip every double it writes (checked
 * against strtod on millions of random bit patterns and decimal-looking values), pick the short
 * form where one exists, and the parser must agree with strtod on everything it accepts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_u64(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Formats v, checks the text parses back (with strtod, the reference) to the same bits. */
static void roundtrip(double v)
{
    char buf[TN_NUM_BUF + 1];
    size_t n = tn_num_format(buf, v);
    assert_true(n > 0 && n <= TN_NUM_BUF);
    buf[n] = '\0';
    double back = strtod(buf, NULL);
    if (isnan(v)) {
        assert_true(isnan(back));
        return;
    }
    if (memcmp(&back, &v, sizeof v) != 0)
        fail_msg("%.17g formatted as \"%s\" reads %.17g", v, buf, back);
    double mine;
    assert_int_equal(tn_num_parse(buf, n, TN_NUM_SPECIAL | TN_NUM_LENIENT, &mine), 0);
    assert_memory_equal(&mine, &v, sizeof v);
}

static void expect_text(double v, const char *text)
{
    char buf[TN_NUM_BUF + 1];
    size_t n = tn_num_format(buf, v);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

static void test_short_forms(void **state)
{
    (void)state;
    expect_text(0.0, "0");
    expect_text(-0.0, "-0");
    expect_text(42, "42");
    expect_text(-7, "-7");
    expect_text(12.5, "12.5");
    expect_text(0.1, "0.1");
    expect_text(-0.25, "-0.25");
    expect_text(0.0005, "0.0005");
    expect_text(1764000000123.0, "1764000000123");
    expect_text(3.141592653, "3.141592653");
    expect_text(99.999, "99.999");
    /* no short form within 9 fraction digits: printf's round-tripping form */
    expect_text(1.0 / 3.0, "0.33333333333333331");
    expect_text(1e300, "1.0000000000000001e+300");
    expect_text(INFINITY, "inf");
    expect_text(-INFINITY, "-inf");
}

static void test_roundtrip_random_bits(void **state)
{
    (void)state;
    for (int i = 0; i < 1000000; i++) {
        uint64_t u = next_u64();
        double v;
        memcpy(&v, &u, sizeof v);
        roundtrip(v);
    }
}

static void test_roundtrip_decimals(void **state)
{
    (void)state;
    /* values as metrics look: a few digits with a few decimals, at every magnitude */
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e6, 1e9, 1e-3, 1e-6};
    for (int i = 0; i < 1000000; i++) {
        int64_t m = (int64_t)(next_u64() % 100000000) - 50000000;
        double v = (double)m / scale[i % 9];
        roundtrip(v);
        roundtrip(v * 1.0000001);
        roundtrip(nextafter(v, INFINITY));
    }
    roundtrip(9007199254740991.0);
    roundtrip(9007199254740993.0);
    roundtrip(8.9999999999999e15);
    roundtrip(5e-324);
    roundtrip(NAN);
}

static void test_parse_agrees_with_strtod(void **state)
{
    (void)state;
    static const char *ok[] = {"0",        "-0",
                               "1",        "+1",
                               "12.5",     ".5",
                               "5.",       "1e3",
                               "1E-3",     "-2.5e+10",
                               "0.1",      "1e22",
                               "1e23",     "123456789012345678901234567890",
                               "4.9e-324", "1.7976931348623157e308",
                               "00012",    "9007199254740993"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double a, b = strtod(ok[i], NULL);
        if (tn_num_parse(ok[i], strlen(ok[i]), 0, &a)) fail_msg("refused %s", ok[i]);
        if (memcmp(&a, &b, sizeof a)) fail_msg("%s: %.17g, strtod %.17g", ok[i], a, b);
    }
    static const char *bad[] = {"",   "-",    ".",   "e5",  "1e",    "1e+", "1.2.3", " 1",
                                "1 ", "0x10", "nan", "inf", "1e999", "--1", "1,5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double a;
        if (tn_num_parse(bad[i], strlen(bad[i]), 0, &a) == 0) fail_msg("accepted \"%s\"", bad[i]);
    }
    double v;
    assert_int_equal(tn_num_parse("NaN", 3, TN_NUM_SPECIAL, &v), 0);
    assert_true(isnan(v));
    assert_int_equal(tn_num_parse("-Inf", 4, TN_NUM_SPECIAL, &v), 0);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(tn_num_parse("0x10", 4, TN_NUM_LENIENT, &v), 0);
    assert_true(v == 16);
    /* not NUL-terminated: only n bytes are read */
    assert_int_equal(tn_num_parse("12.5xyz", 4, 0, &v), 0);
    assert_true(v == 12.5);
    for (int i = 0; i < 200000; i++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "%lld.%0*llu",
                         (long long)(next_u64() % 2000000) - 1000000, (int)(1 + next_u64() % 12),
                         (unsigned long long)(next_u64() % 1000000000000ULL));
        double a, b = strtod(buf, NULL);
        assert_int_equal(tn_num_parse(buf, (size_t)n, 0, &a), 0);
        if (memcmp(&a, &b, sizeof a)) fail_msg("%s: %.17g, strtod %.17g", buf, a, b);
    }
}

static void test_i64(void **state)
{
    (void)state;
    char buf[24];
    buf[tn_num_format_i64(buf, INT64_MIN)] = '\0';
    assert_string_equal(buf, "-9223372036854775808");
    buf[tn_num_format_i64(buf, INT64_MAX)] = '\0';
    assert_string_equal(buf, "9223372036854775807");
    buf[tn_num_format_i64(buf, 0)] = '\0';
    assert_string_equal(buf, "0");
    /* every length and sign, against printf */
    char want[24];
    for (int i = 0; i < 200000; i++) {
        int64_t v = (int64_t)next_u64();
        v >>= next_u64() % 64; /* all magnitudes */
        if (i < 2000) v = i - 1000;
        buf[tn_num_format_i64(buf, v)] = '\0';
        snprintf(want, sizeof want, "%lld", (long long)v);
        assert_string_equal(buf, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_forms),
        cmocka_unit_test(test_roundtrip_random_bits),
        cmocka_unit_test(test_roundtrip_decimals),
        cmocka_unit_test(test_parse_agrees_with_strtod),
        cmocka_unit_test(test_i64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
