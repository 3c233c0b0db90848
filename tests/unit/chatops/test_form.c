/* test_form.c - application/x-www-form-urlencoded bodies (chatops/form.c): the bodies Slack and
 * Mattermost document (shared/vectors/slack, shared/vectors/mattermost), bad escapes, empty and
 * repeated pairs, the field limit, a 1 MiB value, every byte value, encode/parse round trips
 * and allocation failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "chatops/form.h"
#include "core/error.h"
#include "../rng.h"
#include "../vectors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation failure injection (plain builds; sanitizers own malloc) ------------------- */

#include "../failalloc.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int parse_str(const char *body, size_t max, tn_form_t *f)
{
    return tn_form_parse(body, strlen(body), max, f, NULL);
}

/* Expects body to fail with rc, leave f empty and name the byte offset in the message. */
static void expect_error(const char *body, size_t len, size_t max, int rc, const char *msg_part)
{
    tn_form_t f;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_form_parse(body, len, max, &f, &err), rc);
    assert_null(f.fields);
    assert_null(f.mem);
    assert_int_equal(f.n, 0);
    assert_non_null(err.data);
    if (!strstr(err.data, msg_part)) fail_msg("error '%s' lacks '%s'", err.data, msg_part);
    tn_form_free(&f);
    tn_buf_deinit(&err);
    /* And without an error buffer. */
    assert_int_equal(tn_form_parse(body, len, max, &f, NULL), rc);
    tn_form_free(&f);
}

/* ---- the documented bodies ---------------------------------------------------------------- */

static void test_slack_slash_command(void **state)
{
    (void)state;
    size_t len;
    char *body = tn_test_read_vector("slack/signing_example_body.txt", &len);
    tn_form_t f;
    assert_int_equal(tn_form_parse(body, len, 0, &f, NULL), 0);
    assert_int_equal(f.n, 11);
    assert_string_equal(f.fields[0].name, "token");
    assert_string_equal(f.fields[0].value, "xyzz0WbapA4vBCDEFasx0q6G");
    assert_string_equal(tn_form_get(&f, "team_id"), "T1DC2JH3J");
    assert_string_equal(tn_form_get(&f, "channel_name"), "foobar");
    assert_string_equal(tn_form_get(&f, "user_name"), "roadrunner");
    assert_string_equal(tn_form_get(&f, "command"), "/webhook-collect");
    assert_string_equal(tn_form_get(&f, "text"), "");
    assert_string_equal(tn_form_get(&f, "response_url"),
                        "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/"
                        "96rGlfmibIGlgcZRskXaIFfN");
    assert_string_equal(tn_form_get(&f, "trigger_id"),
                        "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c");
    assert_null(tn_form_get(&f, "missing"));
    assert_null(tn_form_get(&f, "Token"));
    tn_form_free(&f);
    free(body);
}

static void test_mattermost_slash_command(void **state)
{
    (void)state;
    size_t len;
    char *body = tn_test_read_vector("mattermost/slash_command_body_normalized.txt", &len);
    tn_form_t f;
    assert_int_equal(tn_form_parse(body, len, 0, &f, NULL), 0);
    assert_int_equal(f.n, 10);
    assert_string_equal(tn_form_get(&f, "command"), "/test");
    assert_string_equal(tn_form_get(&f, "response_url"),
                        "http://localhost:8065/hooks/commands/xbrkb8p393gjpq5cawei7npije");
    assert_string_equal(tn_form_get(&f, "text"), "asd");
    assert_string_equal(tn_form_get(&f, "token"), "okwexkjpe7ygb8eq1ww58t483w");
    assert_string_equal(tn_form_get(&f, "channel_name"), "town-square");
    assert_string_equal(tn_form_get(&f, "user_name"), "somename");
    assert_string_equal(f.fields[9].name, "user_name");
    tn_form_free(&f);
    free(body);
}

static void test_mattermost_outgoing_webhook(void **state)
{
    (void)state;
    size_t len;
    char *body = tn_test_read_vector("mattermost/outgoing_webhook_body_normalized.txt", &len);
    tn_form_t f;
    assert_int_equal(tn_form_parse(body, len, 0, &f, NULL), 0);
    assert_int_equal(f.n, 11);
    assert_string_equal(tn_form_get(&f, "text"), "some text here");
    assert_string_equal(tn_form_get(&f, "trigger_word"), "some");
    assert_string_equal(tn_form_get(&f, "timestamp"), "1445532266");
    assert_string_equal(tn_form_get(&f, "token"), "zmigewsanbbsdf59xnmduzypjc");
    assert_string_equal(tn_form_get(&f, "team_domain"), "someteam");
    tn_form_free(&f);
    free(body);
}

static void test_slack_block_actions(void **state)
{
    (void)state;
    size_t len, jlen;
    char *body = tn_test_read_vector("slack/block_actions_raw_body_bolt_python.txt", &len);
    char *expect = tn_test_read_vector("slack/block_actions_payload_bolt_python.json", &jlen);
    tn_form_t f;
    assert_int_equal(tn_form_parse(body, len, 0, &f, NULL), 0);
    assert_int_equal(f.n, 1);
    const char *payload = tn_form_get(&f, "payload");
    assert_non_null(payload);
    json_error_t jerr;
    json_t *j = json_loads(payload, 0, &jerr);
    if (!j) fail_msg("payload is not JSON: %s at %d", jerr.text, jerr.position);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "block_actions");
    assert_string_equal(json_string_value(json_object_get(j, "response_url")),
                        "https://hooks.slack.com/actions/T111/111/random-value");
    json_t *action = json_array_get(json_object_get(j, "actions"), 0);
    assert_string_equal(json_string_value(json_object_get(action, "value")), "click_me_123");
    /* The same document as the dict the body was built from. */
    json_t *want = json_loadb(expect, jlen, 0, &jerr);
    assert_non_null(want);
    assert_true(json_equal(j, want));
    json_decref(want);
    json_decref(j);
    tn_form_free(&f);
    free(expect);
    free(body);
}

/* ---- syntax ------------------------------------------------------------------------------- */

static void test_malformed_escapes(void **state)
{
    (void)state;
    expect_error("%", 1, 0, TN_EPROTO, "byte 0");
    expect_error("a=%", 3, 0, TN_EPROTO, "byte 2");
    expect_error("a=%4", 4, 0, TN_EPROTO, "byte 2");
    expect_error("a=%zz", 5, 0, TN_EPROTO, "byte 2");
    expect_error("a=%4g", 5, 0, TN_EPROTO, "percent");
    expect_error("a=%g4", 5, 0, TN_EPROTO, "percent");
    expect_error("a=%%41", 6, 0, TN_EPROTO, "byte 2");
    expect_error("a=1&b=%4&c=3", 12, 0, TN_EPROTO, "byte 6");
    expect_error("%4=x", 4, 0, TN_EPROTO, "byte 0");
    expect_error("a=% 1", 5, 0, TN_EPROTO, "byte 2");
    /* "%4" followed by '&': the escape may not run into the next pair. */
    expect_error("a=%4&b=1", 8, 0, TN_EPROTO, "byte 2");
    /* A NUL, decoded or raw, in a value or a name. */
    expect_error("a=%00", 5, 0, TN_EPROTO, "NUL");
    expect_error("a=x%00y", 7, 0, TN_EPROTO, "byte 3");
    expect_error("%00=b", 5, 0, TN_EPROTO, "byte 0");
    expect_error("a=x\0y", 5, 0, TN_EPROTO, "byte 3");
    /* Other escapes are fine, in either case. */
    tn_form_t f;
    assert_int_equal(parse_str("a=%2f%2F%41%c3%A9%ff%01", 0, &f), 0);
    assert_string_equal(tn_form_get(&f, "a"), "//A\xc3\xa9\xff\x01");
    tn_form_free(&f);
}

static void test_truncated(void **state)
{
    (void)state;
    size_t len;
    char *body = tn_test_read_vector("slack/signing_example_body.txt", &len);
    /* Every prefix parses, or fails only because it cut a %XX escape. */
    for (size_t n = 0; n <= len; n++) {
        tn_form_t f;
        int rc = tn_form_parse(body, n, 0, &f, NULL);
        int cut = (n >= 1 && body[n - 1] == '%') || (n >= 2 && body[n - 2] == '%');
        assert_int_equal(rc, cut ? TN_EPROTO : 0);
        if (rc == 0 && n > 0) {
            size_t want = n < 5 ? n : 5;
            assert_true(f.n >= 1);
            assert_int_equal(strlen(f.fields[0].name), want);
            assert_memory_equal(f.fields[0].name, "token", want);
        }
        tn_form_free(&f);
    }
    free(body);
    tn_form_t f;
    assert_int_equal(parse_str("tok", 0, &f), 0);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.fields[0].name, "tok");
    assert_string_equal(f.fields[0].value, "");
    tn_form_free(&f);
}

static void test_empty(void **state)
{
    (void)state;
    tn_form_t f;
    assert_int_equal(tn_form_parse(NULL, 0, 0, &f, NULL), 0);
    assert_int_equal(f.n, 0);
    assert_null(tn_form_get(&f, "a"));
    tn_form_free(&f);
    assert_int_equal(tn_form_parse("a=1", 0, 0, &f, NULL), 0); /* len 0 */
    assert_int_equal(f.n, 0);
    tn_form_free(&f);
    const char *nothing[] = {"&", "&&", "&&&&&&"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(parse_str(nothing[i], 1, &f), 0);
        assert_int_equal(f.n, 0);
        tn_form_free(&f);
    }
    /* Freeing twice, or NULL, is harmless. */
    tn_form_free(&f);
    tn_form_free(NULL);
}

static void test_empty_pairs(void **state)
{
    (void)state;
    tn_form_t f;
    assert_int_equal(parse_str("a=1&&b=2&", 2, &f), 0);
    assert_int_equal(f.n, 2);
    assert_string_equal(tn_form_get(&f, "a"), "1");
    assert_string_equal(tn_form_get(&f, "b"), "2");
    tn_form_free(&f);

    assert_int_equal(parse_str("&a&=&b=&=x&c==d=", 0, &f), 0);
    assert_int_equal(f.n, 5);
    assert_string_equal(f.fields[0].name, "a");
    assert_string_equal(f.fields[0].value, "");
    assert_string_equal(f.fields[1].name, "");
    assert_string_equal(f.fields[1].value, "");
    assert_string_equal(f.fields[2].name, "b");
    assert_string_equal(f.fields[2].value, "");
    assert_string_equal(f.fields[3].name, "");
    assert_string_equal(f.fields[3].value, "x");
    assert_string_equal(f.fields[4].name, "c");
    assert_string_equal(f.fields[4].value, "=d="); /* split at the first '=' only */
    assert_string_equal(tn_form_get(&f, ""), "");
    tn_form_free(&f);
}

static void test_repeated_names(void **state)
{
    (void)state;
    tn_form_t f;
    assert_int_equal(parse_str("a=1&b=x&a=2&a=3", 0, &f), 0);
    assert_int_equal(f.n, 4);
    assert_string_equal(tn_form_get(&f, "a"), "1");
    const char *want[] = {"1", "2", "3"};
    size_t k = 0;
    for (size_t i = 0; i < f.n; i++)
        if (strcmp(f.fields[i].name, "a") == 0) assert_string_equal(f.fields[i].value, want[k++]);
    assert_int_equal(k, 3);
    tn_form_free(&f);
}

static void test_plus(void **state)
{
    (void)state;
    tn_form_t f;
    assert_int_equal(parse_str("a+b=c+d%2B+&++=%20&x=%2b", 0, &f), 0);
    assert_int_equal(f.n, 3);
    assert_string_equal(f.fields[0].name, "a b");
    assert_string_equal(f.fields[0].value, "c d+ ");
    assert_string_equal(f.fields[1].name, "  ");
    assert_string_equal(f.fields[1].value, " ");
    assert_string_equal(tn_form_get(&f, "x"), "+");
    tn_form_free(&f);
}

static void test_field_limit(void **state)
{
    (void)state;
    tn_buf_t body;
    tn_buf_init(&body);
    for (int i = 0; i < 1024; i++)
        assert_int_equal(tn_buf_printf(&body, "%sf%d=%d", i ? "&" : "", i, i), 0);
    tn_form_t f;
    assert_int_equal(tn_form_parse(body.data, body.len, 0, &f, NULL), 0);
    assert_int_equal(f.n, 1024);
    assert_string_equal(tn_form_get(&f, "f1023"), "1023");
    tn_form_free(&f);
    /* Empty pairs do not count. */
    assert_int_equal(tn_buf_puts(&body, "&&&"), 0);
    assert_int_equal(tn_form_parse(body.data, body.len, 0, &f, NULL), 0);
    tn_form_free(&f);
    assert_int_equal(tn_buf_puts(&body, "x=1"), 0);
    expect_error(body.data, body.len, 0, TN_ETOOBIG, "1024");
    expect_error(body.data, body.len, 1024, TN_ETOOBIG, "more than 1024");
    assert_int_equal(tn_form_parse(body.data, body.len, 1025, &f, NULL), 0);
    assert_int_equal(f.n, 1025);
    tn_form_free(&f);
    /* A small limit, checked before any escape is decoded. */
    expect_error("a=1&b=2&c=3&d=%zz", 17, 3, TN_ETOOBIG, "more than 3");
    assert_int_equal(parse_str("a=1&&b=2&&&", 2, &f), 0);
    tn_form_free(&f);
    assert_int_equal(parse_str("a=1", 1, &f), 0);
    tn_form_free(&f);
    expect_error("a&b", 3, 1, TN_ETOOBIG, "at byte 2");
    tn_buf_deinit(&body);
}

static void test_big_value(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *raw = malloc(n);
    assert_non_null(raw);
    g_rng = 42;
    for (size_t i = 0; i < n; i++)
        raw[i] = (char)(1 + (int)(rnd01() * 255)); /* no NUL */
    tn_buf_t body;
    tn_buf_init(&body);
    assert_int_equal(tn_buf_puts(&body, "text="), 0);
    assert_int_equal(tn_form_encode(&body, raw, n), 0);
    assert_int_equal(tn_buf_puts(&body, "&next=1"), 0);
    tn_form_t f;
    assert_int_equal(tn_form_parse(body.data, body.len, 0, &f, NULL), 0);
    assert_int_equal(f.n, 2);
    assert_int_equal(strlen(tn_form_get(&f, "text")), n);
    assert_memory_equal(tn_form_get(&f, "text"), raw, n);
    assert_string_equal(tn_form_get(&f, "next"), "1");
    tn_form_free(&f);

    /* 1 MiB of plain bytes, as it is. */
    memset(raw, 'x', n);
    tn_buf_reset(&body);
    assert_int_equal(tn_buf_puts(&body, "v="), 0);
    assert_int_equal(tn_buf_append(&body, raw, n), 0);
    assert_int_equal(tn_form_parse(body.data, body.len, 0, &f, NULL), 0);
    assert_int_equal(strlen(tn_form_get(&f, "v")), n);
    tn_form_free(&f);
    tn_buf_deinit(&body);
    free(raw);
}

static void test_hostile_bytes(void **state)
{
    (void)state;
    /* Every byte value as it is: the NUL (and the '%' before '&') is refused, nothing crashes. */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    tn_form_t f;
    assert_int_equal(tn_form_parse(all, sizeof all, 0, &f, NULL), TN_EPROTO);
    assert_int_equal(tn_form_parse(all + 1, sizeof all - 1, 0, &f, NULL), TN_EPROTO);
    /* Each byte alone as a value: only NUL and '%' fail; '&' and '=' split. */
    for (int c = 0; c < 256; c++) {
        char body[4] = {'v', '=', (char)c, 'z'};
        int rc = tn_form_parse(body, sizeof body, 0, &f, NULL);
        if (c == 0 || c == '%') {
            assert_int_equal(rc, TN_EPROTO);
            continue;
        }
        assert_int_equal(rc, 0);
        if (c == '&') {
            assert_int_equal(f.n, 2);
            assert_string_equal(tn_form_get(&f, "v"), "");
        } else {
            assert_int_equal(f.n, 1);
            char want[3] = {c == '+' ? ' ' : (char)c, 'z', '\0'};
            assert_string_equal(tn_form_get(&f, "v"), want);
        }
        tn_form_free(&f);
    }
    /* Every %XX: 00 fails, the rest decode to their byte. */
    for (int c = 0; c < 256; c++) {
        char body[8];
        snprintf(body, sizeof body, "%%%02X=%%%02x", c, c);
        int rc = parse_str(body, 0, &f);
        if (c == 0) {
            assert_int_equal(rc, TN_EPROTO);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(f.n, 1);
        assert_int_equal((unsigned char)f.fields[0].name[0], c);
        assert_int_equal((unsigned char)f.fields[0].value[0], c);
        assert_int_equal(f.fields[0].value[1], '\0');
        tn_form_free(&f);
    }
    /* Random garbage over a small alphabet full of the special bytes. */
    static const char alpha[] = "%&=+aZ09\x00\xff";
    g_rng = 7;
    for (int round = 0; round < 20000; round++) {
        char body[32];
        size_t n = (size_t)(rnd01() * sizeof body);
        for (size_t i = 0; i < n; i++)
            body[i] = alpha[(int)(rnd01() * (sizeof alpha - 1))];
        int rc = tn_form_parse(body, n, 4, &f, NULL);
        assert_true(rc == 0 || rc == TN_EPROTO || rc == TN_ETOOBIG);
        if (rc == 0) {
            assert_true(f.n <= 4);
            for (size_t i = 0; i < f.n; i++)
                assert_true(strlen(f.fields[i].name) + strlen(f.fields[i].value) <= n);
        } else {
            assert_int_equal(f.n, 0);
        }
        tn_form_free(&f);
    }
}

/* ---- encoding ----------------------------------------------------------------------------- */

static void test_encode(void **state)
{
    (void)state;
    tn_buf_t b;
    tn_buf_init(&b);
    const char *s = "a b&c=d/\xc3\xa9~-._+%*";
    assert_int_equal(tn_form_encode(&b, s, strlen(s)), 0);
    assert_string_equal(b.data, "a+b%26c%3Dd%2F%C3%A9~-._%2B%25%2A");
    tn_buf_reset(&b);
    assert_int_equal(tn_form_encode(&b, "", 0), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(tn_form_encode(&b, "\0\n", 2), 0);
    assert_string_equal(b.data, "%00%0A");
    /* Appends. */
    assert_int_equal(tn_form_encode(&b, "Az09", 4), 0);
    assert_string_equal(b.data, "%00%0AAz09");
    tn_buf_deinit(&b);
}

static void test_encode_round_trip(void **state)
{
    (void)state;
    g_rng = 2024;
    tn_buf_t body;
    tn_buf_init(&body);
    for (int round = 0; round < 2000; round++) {
        char k[64], v[300];
        size_t kn = (size_t)(rnd01() * sizeof k), vn = (size_t)(rnd01() * sizeof v);
        int with_nul = rnd01() < 0.1;
        for (size_t i = 0; i < kn; i++)
            k[i] = (char)(1 + (int)(rnd01() * 255));
        for (size_t i = 0; i < vn; i++)
            v[i] = (char)(with_nul ? (int)(rnd01() * 256) : 1 + (int)(rnd01() * 255));
        int has_nul = memchr(v, 0, vn) != NULL;
        tn_buf_reset(&body);
        assert_int_equal(tn_form_encode(&body, k, kn), 0);
        assert_int_equal(tn_buf_puts(&body, "="), 0);
        assert_int_equal(tn_form_encode(&body, v, vn), 0);
        assert_int_equal(tn_buf_puts(&body, "&second=2"), 0);
        /* Only unreserved bytes, '+', '%' and hex digits are written. */
        for (size_t i = 0; i < body.len; i++)
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-._~+%=&",
                                   body.data[i]));
        tn_form_t f;
        int rc = tn_form_parse(body.data, body.len, 0, &f, NULL);
        if (has_nul) {
            assert_int_equal(rc, TN_EPROTO);
            continue;
        }
        assert_int_equal(rc, 0);
        /* An empty name and value encode to "=", a pair that is kept. */
        assert_int_equal(f.n, 2);
        assert_int_equal(strlen(f.fields[0].name), kn);
        assert_memory_equal(f.fields[0].name, k, kn);
        assert_int_equal(strlen(f.fields[0].value), vn);
        assert_memory_equal(f.fields[0].value, v, vn);
        assert_string_equal(tn_form_get(&f, "second"), "2");
        tn_form_free(&f);
    }
    tn_buf_deinit(&body);
}

static void test_allocation_failures(void **state)
{
    (void)state;
#ifdef TN_TEST_NO_MALLOC_HOOK
    skip();
#else
    if (!hook_active()) skip();
    const char *body = "a=1&b=%41%42&c=x+y&d";
    int ok = 0, nomem = 0;
    for (long k = 0;; k++) {
        tn_form_t f;
        tn_buf_t err;
        tn_buf_init(&err);
        long live0 = g_live;
        g_allocs = 0;
        g_fail_at = k;
        int rc = tn_form_parse(body, strlen(body), 0, &f, &err);
        g_fail_at = -1;
        int done = g_allocs <= k;
        if (rc == TN_ENOMEM) {
            nomem++;
            assert_int_equal(f.n, 0);
            assert_null(f.fields);
            assert_null(f.mem);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(tn_form_get(&f, "b"), "AB");
            ok++;
        }
        tn_form_free(&f);
        tn_buf_deinit(&err);
        assert_int_equal(g_live, live0);
        if (done) {
            assert_int_equal(rc, 0);
            break;
        }
    }
    assert_true(nomem >= 2);
    assert_int_equal(ok, 1);

    /* tn_form_encode onto a buffer that cannot grow leaves it as it was. */
    tn_buf_t b;
    tn_buf_init(&b);
    g_allocs = 0;
    g_fail_at = 0;
    int rc = tn_form_encode(&b, "a b", 3);
    g_fail_at = -1;
    assert_int_equal(rc, TN_ENOMEM);
    assert_int_equal(b.len, 0);
    tn_buf_deinit(&b);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_slash_command),
        cmocka_unit_test(test_mattermost_slash_command),
        cmocka_unit_test(test_mattermost_outgoing_webhook),
        cmocka_unit_test(test_slack_block_actions),
        cmocka_unit_test(test_malformed_escapes),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_empty_pairs),
        cmocka_unit_test(test_repeated_names),
        cmocka_unit_test(test_plus),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_big_value),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
