/* test_sign.c - Slack request signatures and Mattermost tokens (chatops/sign.c): Slack's documented
 * worked example (shared/vectors/slack/signing_example.json), tampered bodies, wrong secrets,
 * the replay window, missing and malformed headers, and allocation failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "chatops/sign.h"
#include "core/error.h"
#include "../vectors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation failure injection (plain builds; sanitizers own malloc) ------------------- */

#include "../failalloc.h"

/* ---- the documented example --------------------------------------------------------------- */

typedef struct {
    char secret[64];
    char ts[32];
    char sig[80];
    int64_t now;
    char *body;
    size_t len;
} example_t;

static void load_example(example_t *ex)
{
    size_t n;
    char *text = tn_test_read_vector("slack/signing_example.json", &n);
    json_error_t jerr;
    json_t *j = json_loadb(text, n, 0, &jerr);
    assert_non_null(j);
    const char *secret = json_string_value(json_object_get(j, "signing_secret"));
    const char *ts = json_string_value(json_object_get(j, "x_slack_request_timestamp"));
    const char *sig = json_string_value(json_object_get(j, "x_slack_signature"));
    const char *body = json_string_value(json_object_get(j, "body"));
    assert_non_null(secret);
    assert_non_null(ts);
    assert_non_null(sig);
    assert_non_null(body);
    snprintf(ex->secret, sizeof ex->secret, "%s", secret);
    snprintf(ex->ts, sizeof ex->ts, "%s", ts);
    snprintf(ex->sig, sizeof ex->sig, "%s", sig);
    ex->now = strtoll(ts, NULL, 10);
    assert_int_equal(ex->now, 1531420618);

    /* The body file is the same 362 bytes, with no trailing newline. */
    ex->body = tn_test_read_vector("slack/signing_example_body.txt", &ex->len);
    assert_int_equal(ex->len, 362);
    assert_int_equal(strlen(body), 362);
    assert_memory_equal(ex->body, body, 362);
    json_decref(j);
    free(text);
}

static tn_sign_result_t verify(const example_t *ex, const char *body, size_t len, int64_t now)
{
    return tn_sign_slack_verify(ex->secret, ex->ts, ex->sig, body, len, now, 300);
}

static void test_slack_example(void **state)
{
    (void)state;
    example_t ex;
    load_example(&ex);
    assert_int_equal(verify(&ex, ex.body, ex.len, ex.now), TN_SIGN_OK);
    for (int64_t d = -300; d <= 300; d += 50)
        assert_int_equal(verify(&ex, ex.body, ex.len, ex.now + d), TN_SIGN_OK);
    assert_int_equal(verify(&ex, ex.body, ex.len, ex.now + 300), TN_SIGN_OK);
    assert_int_equal(verify(&ex, ex.body, ex.len, ex.now - 300), TN_SIGN_OK);

    char out[68];
    memset(out, 'X', sizeof out);
    assert_int_equal(tn_sign_slack(ex.secret, ex.ts, ex.body, ex.len, out), 0);
    assert_string_equal(out, ex.sig);
    assert_int_equal(strlen(out), 67);
    free(ex.body);
}

static void test_tampered_body(void **state)
{
    (void)state;
    example_t ex;
    load_example(&ex);
    char *b = malloc(ex.len + 2);
    assert_non_null(b);

    /* Each byte changed in turn. */
    for (size_t i = 0; i < ex.len; i++) {
        memcpy(b, ex.body, ex.len);
        b[i] ^= 0x01;
        assert_int_equal(verify(&ex, b, ex.len, ex.now), TN_SIGN_MISMATCH);
    }
    /* One byte appended (a newline, as an editor would add, and a NUL). */
    memcpy(b, ex.body, ex.len);
    b[ex.len] = '\n';
    assert_int_equal(verify(&ex, b, ex.len + 1, ex.now), TN_SIGN_MISMATCH);
    b[ex.len] = '\0';
    assert_int_equal(verify(&ex, b, ex.len + 1, ex.now), TN_SIGN_MISMATCH);
    /* Truncated: by one byte, to half, to nothing. */
    assert_int_equal(verify(&ex, ex.body, ex.len - 1, ex.now), TN_SIGN_MISMATCH);
    assert_int_equal(verify(&ex, ex.body, ex.len / 2, ex.now), TN_SIGN_MISMATCH);
    assert_int_equal(verify(&ex, ex.body, 0, ex.now), TN_SIGN_MISMATCH);
    assert_int_equal(verify(&ex, NULL, 0, ex.now), TN_SIGN_MISMATCH);

    /* Another timestamp with the same signature (within the window) does not verify. */
    char ts2[32];
    snprintf(ts2, sizeof ts2, "%lld", (long long)ex.now + 1);
    assert_int_equal(tn_sign_slack_verify(ex.secret, ts2, ex.sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_MISMATCH);
    /* The same value with a leading zero is a different base string. */
    assert_int_equal(
        tn_sign_slack_verify(ex.secret, "01531420618", ex.sig, ex.body, ex.len, ex.now, 300),
        TN_SIGN_MISMATCH);
    /* One signature digit changed. */
    char sig[80];
    snprintf(sig, sizeof sig, "%s", ex.sig);
    sig[10] = sig[10] == '0' ? '1' : '0';
    assert_int_equal(tn_sign_slack_verify(ex.secret, ex.ts, sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_MISMATCH);
    snprintf(sig, sizeof sig, "%s", ex.sig);
    sig[66] = sig[66] == '0' ? '1' : '0';
    assert_int_equal(tn_sign_slack_verify(ex.secret, ex.ts, sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_MISMATCH);
    free(b);
    free(ex.body);
}

static void test_wrong_secret(void **state)
{
    (void)state;
    example_t ex;
    load_example(&ex);
    char secret[80];
    snprintf(secret, sizeof secret, "%s", ex.secret);
    secret[0] ^= 0x01;
    assert_int_equal(tn_sign_slack_verify(secret, ex.ts, ex.sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_MISMATCH);
    /* A prefix of the secret, the secret plus a byte, another secret. */
    snprintf(secret, sizeof secret, "%.31s", ex.secret);
    assert_int_equal(tn_sign_slack_verify(secret, ex.ts, ex.sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_MISMATCH);
    snprintf(secret, sizeof secret, "%s ", ex.secret);
    assert_int_equal(tn_sign_slack_verify(secret, ex.ts, ex.sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_MISMATCH);
    assert_int_equal(tn_sign_slack_verify("x", ex.ts, ex.sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_MISMATCH);
    free(ex.body);
}

static void test_stale(void **state)
{
    (void)state;
    example_t ex;
    load_example(&ex);
    assert_int_equal(verify(&ex, ex.body, ex.len, ex.now + 301), TN_SIGN_STALE);
    assert_int_equal(verify(&ex, ex.body, ex.len, ex.now - 301), TN_SIGN_STALE);
    assert_int_equal(verify(&ex, ex.body, ex.len, ex.now + 86400), TN_SIGN_STALE);
    assert_int_equal(verify(&ex, ex.body, ex.len, 0), TN_SIGN_STALE);
    /* Far away clocks must not overflow into "fresh". */
    assert_int_equal(verify(&ex, ex.body, ex.len, INT64_MAX), TN_SIGN_STALE);
    assert_int_equal(verify(&ex, ex.body, ex.len, INT64_MIN), TN_SIGN_STALE);
    assert_int_equal(verify(&ex, ex.body, ex.len, -1), TN_SIGN_STALE);
    /* A zero window accepts only the exact second; a negative one nothing. */
    assert_int_equal(tn_sign_slack_verify(ex.secret, ex.ts, ex.sig, ex.body, ex.len, ex.now, 0),
                     TN_SIGN_OK);
    assert_int_equal(tn_sign_slack_verify(ex.secret, ex.ts, ex.sig, ex.body, ex.len, ex.now + 1, 0),
                     TN_SIGN_STALE);
    assert_int_equal(tn_sign_slack_verify(ex.secret, ex.ts, ex.sig, ex.body, ex.len, ex.now, -1),
                     TN_SIGN_STALE);
    /* The largest timestamp accepted as well formed, against a clock at 0 and at INT64_MIN. */
    assert_int_equal(tn_sign_slack_verify(ex.secret, "999999999999999999", ex.sig, ex.body, ex.len,
                                          INT64_MIN, INT64_MAX),
                     TN_SIGN_STALE);
    assert_int_equal(tn_sign_slack_verify(ex.secret, "999999999999999999", ex.sig, ex.body, ex.len,
                                          0, INT64_MAX),
                     TN_SIGN_MISMATCH);
    /* A stale request is refused before its signature is looked at. */
    assert_int_equal(
        tn_sign_slack_verify("wrong", ex.ts, ex.sig, ex.body, ex.len, ex.now + 301, 300),
        TN_SIGN_STALE);
    free(ex.body);
}

static void test_missing(void **state)
{
    (void)state;
    example_t ex;
    load_example(&ex);
    const char *s = ex.secret, *b = ex.body;
    assert_int_equal(tn_sign_slack_verify(s, NULL, ex.sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MISSING);
    assert_int_equal(tn_sign_slack_verify(s, "", ex.sig, b, ex.len, ex.now, 300), TN_SIGN_MISSING);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, NULL, b, ex.len, ex.now, 300), TN_SIGN_MISSING);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, "", b, ex.len, ex.now, 300), TN_SIGN_MISSING);
    assert_int_equal(tn_sign_slack_verify(s, NULL, NULL, b, ex.len, ex.now, 300), TN_SIGN_MISSING);
    assert_int_equal(tn_sign_slack_verify(s, "", "", NULL, 0, ex.now, 300), TN_SIGN_MISSING);
    /* Missing wins over malformed. */
    assert_int_equal(tn_sign_slack_verify(s, "abc", NULL, b, ex.len, ex.now, 300), TN_SIGN_MISSING);
    free(ex.body);
}

static void test_malformed(void **state)
{
    (void)state;
    example_t ex;
    load_example(&ex);
    const char *s = ex.secret, *b = ex.body;
    const char *hex = ex.sig + 3;
    char sig[160];

    /* Timestamps that are not plain decimal numbers. */
    const char *bad_ts[] = {"abc",         "-1531420618",        "+1531420618",  "1531420618.0",
                            " 1531420618", "1531420618 ",        "1531420618\n", "0x5b47c1ca",
                            "1e9",         "1531420618000000000"};
    for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++)
        assert_int_equal(tn_sign_slack_verify(s, bad_ts[i], ex.sig, b, ex.len, ex.now, 300),
                         TN_SIGN_MALFORMED);

    /* No "v0=", another version, or the prefix in another case. */
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, hex, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    snprintf(sig, sizeof sig, "v1=%s", hex);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    snprintf(sig, sizeof sig, "V0=%s", hex);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    snprintf(sig, sizeof sig, "v0:%s", hex);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, "v0=", b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    /* Wrong lengths: 63 and 65 digits, two signatures, a trailing space. */
    snprintf(sig, sizeof sig, "v0=%.63s", hex);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    snprintf(sig, sizeof sig, "v0=%s0", hex);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    snprintf(sig, sizeof sig, "%s,%s", ex.sig, ex.sig);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    snprintf(sig, sizeof sig, "%s ", ex.sig);
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    /* Not hex: 'g', a space, a NUL-free high byte. */
    const char subst[] = {'g', ' ', 'x', '\x80', 'G'};
    for (size_t i = 0; i < sizeof subst; i++) {
        snprintf(sig, sizeof sig, "%s", ex.sig);
        sig[3 + 20] = subst[i];
        assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                         TN_SIGN_MALFORMED);
    }
    /* Upper-case hex: Slack sends lower case, and the header says lower case only. */
    snprintf(sig, sizeof sig, "v0=");
    for (size_t i = 0; i < 64; i++)
        sig[3 + i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 'a' + 'A' : hex[i]);
    sig[67] = '\0';
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, sig, b, ex.len, ex.now, 300),
                     TN_SIGN_MALFORMED);
    /* Malformed is reported before stale. */
    assert_int_equal(tn_sign_slack_verify(s, ex.ts, "v0=zz", b, ex.len, ex.now + 1000, 300),
                     TN_SIGN_MALFORMED);
    free(ex.body);
}

static void test_no_secret(void **state)
{
    (void)state;
    example_t ex;
    load_example(&ex);
    assert_int_equal(tn_sign_slack_verify(NULL, ex.ts, ex.sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_NOSECRET);
    assert_int_equal(tn_sign_slack_verify("", ex.ts, ex.sig, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_NOSECRET);
    /* Refused whatever else is wrong. */
    assert_int_equal(tn_sign_slack_verify("", NULL, NULL, NULL, 0, 0, 300), TN_SIGN_NOSECRET);
    assert_int_equal(tn_sign_slack_verify(NULL, "x", "y", ex.body, ex.len, 0, 300),
                     TN_SIGN_NOSECRET);
    /* A signature made with the empty key does not verify against "no secret" either. */
    char out[68];
    assert_int_equal(tn_sign_slack("", ex.ts, ex.body, ex.len, out), 0);
    assert_int_equal(tn_sign_slack_verify("", ex.ts, out, ex.body, ex.len, ex.now, 300),
                     TN_SIGN_NOSECRET);
    free(ex.body);
}

static void test_sign_round_trip(void **state)
{
    (void)state;
    char out[68];
    /* An empty body, given as NULL. */
    assert_int_equal(tn_sign_slack("s3cret", "1700000000", NULL, 0, out), 0);
    assert_int_equal(tn_sign_slack_verify("s3cret", "1700000000", out, NULL, 0, 1700000000, 300),
                     TN_SIGN_OK);
    assert_int_equal(tn_sign_slack_verify("s3cret", "1700000000", out, "", 0, 1700000000, 300),
                     TN_SIGN_OK);
    assert_int_equal(tn_sign_slack_verify("s3cret", "1700000000", out, "x", 1, 1700000000, 300),
                     TN_SIGN_MISMATCH);
    /* A body with NUL and high bytes, signed and verified over its exact length. */
    char body[256];
    for (int i = 0; i < 256; i++)
        body[i] = (char)i;
    assert_int_equal(tn_sign_slack("k", "1", body, sizeof body, out), 0);
    assert_int_equal(strncmp(out, "v0=", 3), 0);
    for (int i = 3; i < 67; i++)
        assert_true((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f'));
    assert_int_equal(tn_sign_slack_verify("k", "1", out, body, sizeof body, 1, 300), TN_SIGN_OK);
    assert_int_equal(tn_sign_slack_verify("k", "1", out, body, sizeof body - 1, 1, 300),
                     TN_SIGN_MISMATCH);
    /* A long secret (longer than SHA-256's block, so HMAC hashes it first). */
    char secret[200];
    memset(secret, 'k', sizeof secret - 1);
    secret[sizeof secret - 1] = '\0';
    assert_int_equal(tn_sign_slack(secret, "1", body, sizeof body, out), 0);
    assert_int_equal(tn_sign_slack_verify(secret, "1", out, body, sizeof body, 1, 300), TN_SIGN_OK);
    /* Refusals leave out untouched. */
    memset(out, 'X', sizeof out);
    assert_int_equal(tn_sign_slack(NULL, "1", "b", 1, out), -1);
    assert_int_equal(tn_sign_slack("k", NULL, "b", 1, out), -1);
    char longts[80];
    memset(longts, '1', sizeof longts - 1);
    longts[sizeof longts - 1] = '\0';
    assert_int_equal(tn_sign_slack("k", longts, "b", 1, out), -1);
    assert_int_equal(out[0], 'X');
}

static void test_result_str(void **state)
{
    (void)state;
    assert_string_equal(tn_sign_result_str(TN_SIGN_OK), "ok");
    assert_string_equal(tn_sign_result_str(TN_SIGN_MISSING), "missing");
    assert_string_equal(tn_sign_result_str(TN_SIGN_MALFORMED), "malformed");
    assert_string_equal(tn_sign_result_str(TN_SIGN_STALE), "stale");
    assert_string_equal(tn_sign_result_str(TN_SIGN_MISMATCH), "mismatch");
    assert_string_equal(tn_sign_result_str(TN_SIGN_NOSECRET), "no_secret");
    assert_non_null(tn_sign_result_str((tn_sign_result_t)99));
}

static void test_token_equal(void **state)
{
    (void)state;
    /* The Mattermost documentation's slash command token. */
    const char *tok = "okwexkjpe7ygb8eq1ww58t483w";
    assert_true(tn_sign_token_equal(tok, "okwexkjpe7ygb8eq1ww58t483w"));
    assert_false(tn_sign_token_equal(tok, "okwexkjpe7ygb8eq1ww58t483x"));
    assert_false(tn_sign_token_equal(tok, "xkwexkjpe7ygb8eq1ww58t483w"));
    assert_false(tn_sign_token_equal(tok, "okwexkjpe7ygb8eq1ww58t483"));
    assert_false(tn_sign_token_equal(tok, "okwexkjpe7ygb8eq1ww58t483ww"));
    assert_false(tn_sign_token_equal(tok, "OKWEXKJPE7YGB8EQ1WW58T483W"));
    assert_false(tn_sign_token_equal(tok, ""));
    assert_false(tn_sign_token_equal(tok, NULL));
    assert_false(tn_sign_token_equal(NULL, tok));
    assert_false(tn_sign_token_equal(NULL, NULL));
    assert_false(tn_sign_token_equal("", ""));
    assert_false(tn_sign_token_equal("", tok));
    assert_true(tn_sign_token_equal("a", "a"));
    assert_false(tn_sign_token_equal("a", "b"));
}

static void test_allocation_failures(void **state)
{
    (void)state;
#ifdef TN_TEST_NO_MALLOC_HOOK
    skip();
#else
    if (!hook_active()) skip();
    example_t ex;
    load_example(&ex);
    assert_int_equal(verify(&ex, ex.body, ex.len, ex.now), TN_SIGN_OK); /* OpenSSL's caches */
    int refused = 0;
    for (long k = 0;; k++) {
        g_allocs = 0;
        g_fail_at = k;
        tn_sign_result_t r = verify(&ex, ex.body, ex.len, ex.now);
        char out[68];
        int rc = tn_sign_slack(ex.secret, ex.ts, ex.body, ex.len, out);
        g_fail_at = -1;
        int done = g_allocs <= k;
        /* A failure refuses the request; it never lets it through unchecked. */
        if (r != TN_SIGN_OK) {
            assert_int_equal(r, TN_SIGN_MISMATCH);
            refused++;
        }
        if (rc == 0) assert_string_equal(out, ex.sig);
        if (done) {
            assert_int_equal(r, TN_SIGN_OK);
            assert_int_equal(rc, 0);
            break;
        }
    }
    assert_true(refused >= 1);
    free(ex.body);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_example),
        cmocka_unit_test(test_tampered_body),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_no_secret),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_result_str),
        cmocka_unit_test(test_token_equal),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
