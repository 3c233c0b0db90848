/* libFuzzer target: Slack request signatures and token comparison (chatops/sign.c). The input is
 * "secret\nts\nsig\nbody": verifying it must never crash, and a signature tn_sign_slack makes
 * over the body must verify (and stop verifying when one digit changes). See
 * fuzz_json_samples.c for how to build and run. */
#include "chatops/sign.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The next '\n'-terminated field of [*p, end) as a new string (NULL on malloc failure). */
static char *field(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += nl ? n + 1 : n;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *secret = field(&p, end), *ts = field(&p, end), *sig = field(&p, end);
    const char *body = p;
    size_t len = (size_t)(end - p);
    if (!secret || !ts || !sig) goto out;

    /* Arbitrary headers, with the clock at a few places. */
    int64_t nows[] = {0, 1531420618, INT64_MAX, INT64_MIN, (int64_t)strtoll(ts, NULL, 10)};
    for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
        tn_sign_result_t r = tn_sign_slack_verify(secret, ts, sig, body, len, nows[i], 300);
        if (r < TN_SIGN_OK || r > TN_SIGN_NOSECRET) __builtin_trap();
        if (!tn_sign_result_str(r)[0]) __builtin_trap();
        tn_sign_slack_verify(NULL, ts, sig, body, len, nows[i], 300);
        tn_sign_slack_verify(secret, NULL, sig, body, len, nows[i], 300);
        tn_sign_slack_verify(secret, ts, NULL, body, len, nows[i], 300);
    }

    /* What tn_sign_slack makes verifies, unless the headers are refused for what they are. */
    size_t tlen = strlen(ts);
    int ts_ok = tlen > 0 && tlen <= 18 && strspn(ts, "0123456789") == tlen;
    char mine[68];
    int rc = tn_sign_slack(secret, ts, body, len, mine);
    if (rc != 0 && tlen <= 64) goto tokens; /* out of memory */
    if (rc == 0) {
        if (tlen > 64 || strlen(mine) != 67 || memcmp(mine, "v0=", 3) != 0) __builtin_trap();
        int64_t now = ts_ok ? (int64_t)strtoll(ts, NULL, 10) : 0;
        tn_sign_result_t want = !secret[0] ? TN_SIGN_NOSECRET
                                : !ts[0]   ? TN_SIGN_MISSING
                                : !ts_ok   ? TN_SIGN_MALFORMED
                                           : TN_SIGN_OK;
        if (tn_sign_slack_verify(secret, ts, mine, body, len, now, 300) != want) __builtin_trap();
        if (want == TN_SIGN_OK) {
            if (len &&
                tn_sign_slack_verify(secret, ts, mine, body, len - 1, now, 300) != TN_SIGN_MISMATCH)
                __builtin_trap();
            size_t k = 3 + (len ? (unsigned char)body[0] : 0) % 64;
            mine[k] = mine[k] == '0' ? '1' : '0';
            if (tn_sign_slack_verify(secret, ts, mine, body, len, now, 300) != TN_SIGN_MISMATCH)
                __builtin_trap();
        }
    }

tokens:
    if (tn_sign_token_equal(secret, ts) != (secret[0] && strcmp(secret, ts) == 0)) __builtin_trap();
    if (tn_sign_token_equal(secret, secret) != (secret[0] != '\0')) __builtin_trap();
out:
    free(secret);
    free(ts);
    free(sig);
    return 0;
}
