/* sign.c - Slack request signatures (HMAC-SHA256 over "v0:" timestamp ":" body) and Mattermost
 * token comparison, both constant-time. */
#include "chatops/sign.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define SIG_PREFIX "v0="
#define SIG_HEX 64
#define TS_MAX_DIGITS 18 /* below INT64_MAX: no overflow while parsing */

/* HMAC-SHA256(secret, "v0:" ts ":" body) into mac[32]. 0, or -1 (memory, or OpenSSL failed). */
static int slack_mac(const char *secret, const char *ts, const char *body, size_t len,
                     unsigned char mac[32])
{
    size_t slen = strlen(secret), tlen = strlen(ts);
    if (slen > INT_MAX || tlen > 64 || len > (size_t)-1 - 128) return -1;
    size_t n = 3 + tlen + 1 + len;
    char *base = malloc(n);
    if (!base) return -1;
    memcpy(base, "v0:", 3);
    memcpy(base + 3, ts, tlen);
    base[3 + tlen] = ':';
    if (len) memcpy(base + 4 + tlen, body, len);
    unsigned int maclen = 0;
    unsigned char *r =
        HMAC(EVP_sha256(), secret, (int)slen, (const unsigned char *)base, n, mac, &maclen);
    OPENSSL_cleanse(base, n);
    free(base);
    return r && maclen == 32 ? 0 : -1;
}

static int lowhex(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

tn_sign_result_t tn_sign_slack_verify(const char *secret, const char *ts, const char *sig,
                                      const char *body, size_t len, int64_t now_s,
                                      int64_t max_skew_s)
{
    if (!secret || !*secret) return TN_SIGN_NOSECRET;
    if (!ts || !*ts || !sig || !*sig) return TN_SIGN_MISSING;

    int64_t t = 0;
    size_t tlen = strlen(ts);
    if (tlen > TS_MAX_DIGITS) return TN_SIGN_MALFORMED;
    for (size_t i = 0; i < tlen; i++) {
        if (ts[i] < '0' || ts[i] > '9') return TN_SIGN_MALFORMED;
        t = t * 10 + (ts[i] - '0');
    }
    unsigned char want[32];
    if (strlen(sig) != sizeof SIG_PREFIX - 1 + SIG_HEX ||
        memcmp(sig, SIG_PREFIX, sizeof SIG_PREFIX - 1) != 0)
        return TN_SIGN_MALFORMED;
    const char *hex = sig + sizeof SIG_PREFIX - 1;
    for (size_t i = 0; i < 32; i++) {
        int hi = lowhex((unsigned char)hex[2 * i]), lo = lowhex((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return TN_SIGN_MALFORMED;
        want[i] = (unsigned char)(hi * 16 + lo);
    }

    /* |now - t| without overflow: the difference of two int64 always fits in a uint64. */
    uint64_t skew = t > now_s ? (uint64_t)t - (uint64_t)now_s : (uint64_t)now_s - (uint64_t)t;
    if (max_skew_s < 0 || skew > (uint64_t)max_skew_s) return TN_SIGN_STALE;

    unsigned char mac[32];
    if (slack_mac(secret, ts, body, len, mac) != 0) return TN_SIGN_MISMATCH;
    int diff = CRYPTO_memcmp(mac, want, sizeof mac);
    OPENSSL_cleanse(mac, sizeof mac);
    return diff == 0 ? TN_SIGN_OK : TN_SIGN_MISMATCH;
}

int tn_sign_slack(const char *secret, const char *ts, const char *body, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[32];
    if (!secret || !ts || slack_mac(secret, ts, body, len, mac) != 0) return -1;
    memcpy(out, SIG_PREFIX, sizeof SIG_PREFIX - 1);
    char *o = out + sizeof SIG_PREFIX - 1;
    for (size_t i = 0; i < sizeof mac; i++) {
        *o++ = digits[mac[i] >> 4];
        *o++ = digits[mac[i] & 15];
    }
    *o = '\0';
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

const char *tn_sign_result_str(tn_sign_result_t r)
{
    switch (r) {
    case TN_SIGN_OK:
        return "ok";
    case TN_SIGN_MISSING:
        return "missing";
    case TN_SIGN_MALFORMED:
        return "malformed";
    case TN_SIGN_STALE:
        return "stale";
    case TN_SIGN_MISMATCH:
        return "mismatch";
    case TN_SIGN_NOSECRET:
        return "no_secret";
    }
    return "unknown";
}

int tn_sign_token_equal(const char *expected, const char *got)
{
    if (!expected || !got || !*expected) return 0;
    size_t n = strlen(expected);
    /* Only the lengths decide how long this takes: equal lengths compare in constant time. */
    if (strlen(got) != n) return 0;
    return CRYPTO_memcmp(expected, got, n) == 0;
}
