/* sign.h - checking that a request really comes from the chat service.
 *
 * Slack signs every request (https://api.slack.com/authentication/verifying-requests-from-slack):
 *   X-Slack-Request-Timestamp: 1531420618
 *   X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" timestamp ":" raw body)>
 * The comparison is constant-time and a timestamp more than max_skew_s away from now (either
 * way) is refused, so a recorded request cannot be replayed later.
 *
 * Mattermost sends a token with each slash command (Authorization: Token T and a token form
 * field) and outgoing webhook (token field); tn_sign_token_equal compares them. */
#ifndef TN_CHATOPS_SIGN_H
#define TN_CHATOPS_SIGN_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TN_SIGN_OK = 0,
    TN_SIGN_MISSING,   /* no timestamp or no signature header (NULL or empty) */
    TN_SIGN_MALFORMED, /* timestamp not a decimal number (digits only, at most 18), or signature
                        * not "v0=" + 64 lower-case hex digits (Slack sends lower case; upper
                        * case never verifies with Slack's SDKs either, which compare text) */
    TN_SIGN_STALE,     /* timestamp further than max_skew_s from now_s */
    TN_SIGN_MISMATCH,  /* well formed but not made with this secret over this body */
    TN_SIGN_NOSECRET,  /* no signing secret configured (NULL or empty): everything is refused */
} tn_sign_result_t;

/* Verifies a Slack request. secret, ts and sig are NUL-terminated (borrowed; ts and sig are the
 * two header values, either may be NULL); body is the raw body, len bytes (borrowed). now_s is
 * the current Unix time in seconds (a parameter so tests can pin the clock); max_skew_s is 300
 * in production (a negative max_skew_s makes every timestamp stale). The checks run in this
 * order: no secret, missing, malformed, stale, then the HMAC; if memory or OpenSSL fails the
 * request is refused as TN_SIGN_MISMATCH. */
tn_sign_result_t tn_sign_slack_verify(const char *secret, const char *ts, const char *sig,
                                      const char *body, size_t len, int64_t now_s,
                                      int64_t max_skew_s);

/* Writes "v0=" + 64 lower-case hex digits + NUL into out (size >= 68) for secret, ts and body:
 * what Slack would send. 0, or -1 when secret or ts is NULL, ts is longer than 64 bytes, or
 * memory or HMAC fails (out is then untouched). (For tests and tocsin's own tools.) */
int tn_sign_slack(const char *secret, const char *ts, const char *body, size_t len, char *out);

/* A word for the result ("ok", "missing", "malformed", "stale", "mismatch", "no_secret"). */
const char *tn_sign_result_str(tn_sign_result_t r);

/* Constant-time equality of two NUL-terminated strings (the time depends on their lengths only).
 * NULL equals nothing, not even NULL; an empty expected string equals nothing either. */
int tn_sign_token_equal(const char *expected, const char *got);

#endif
