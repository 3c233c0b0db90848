/* test_args.c - chat command words, durations and label matchers (chatops/args.c): shell-like and
 * typographic quoting, limits, Prometheus-style durations, Alertmanager-style matchers (operators,
 * quoting, absent labels, anchored regexes, hostile regexes, canonical text) and allocation
 * failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "chatops/args.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* allocation failure injection, with glibc's own blocks kept apart (regcomp leaks some on its
 * own allocation failures) */
#define TN_FAILALLOC_SPLIT_LIBC 1
#include "../failalloc.h"

/* ---- words -------------------------------------------------------------------------------- */

/* Splits line and checks the words; want is NULL-terminated. */
static void expect_words(const char *line, const char *const *want)
{
    tn_args_t a;
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_args_split(line, 0, &a, &err);
    if (rc) fail_msg("split '%s': %d %s", line, rc, err.data ? err.data : "");
    size_t n = 0;
    while (want[n])
        n++;
    if (a.n != n) fail_msg("split '%s': %zu words, want %zu", line, a.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(a.v[i], want[i]);
    assert_null(a.v[n]);
    tn_args_free(&a);
    tn_buf_deinit(&err);
}

#define WORDS(line, ...)                                                                           \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__, NULL};                                           \
        expect_words(line, want_);                                                                 \
    } while (0)

static void expect_split_error(const char *line, size_t max, int rc, const char *msg_part)
{
    tn_args_t a;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_args_split(line, max, &a, &err), rc);
    assert_null(a.v);
    assert_null(a.mem);
    assert_int_equal(a.n, 0);
    assert_non_null(err.data);
    if (!strstr(err.data, msg_part)) fail_msg("error '%s' lacks '%s'", err.data, msg_part);
    tn_args_free(&a);
    tn_buf_deinit(&err);
    assert_int_equal(tn_args_split(line, max, &a, NULL), rc);
}

static void test_split_plain(void **state)
{
    (void)state;
    WORDS("run restart-service service=checkout \"reason=bad deploy\" --dry-run", "run",
          "restart-service", "service=checkout", "reason=bad deploy", "--dry-run");
    WORDS("silence service=checkout,severity!=info 2h", "silence",
          "service=checkout,severity!=info", "2h");
    WORDS("  a\tb\n\nc\r\nd  ", "a", "b", "c", "d");
    WORDS("x", "x");
    /* UTF-8 outside quotes is just bytes. */
    WORDS("ack caf\xc3\xa9 \xe2\x80\xa6", "ack", "caf\xc3\xa9", "\xe2\x80\xa6");
}

static void test_split_quotes(void **state)
{
    (void)state;
    WORDS("\"a b\" 'c d'", "a b", "c d");
    WORDS("a\"b c\"d", "ab cd");
    WORDS("'it''s'", "its");
    WORDS("\"\" '' x", "", "", "x");
    WORDS("\"it's\"", "it's");
    WORDS("'say \"hi\"'", "say \"hi\"");
    WORDS("\"tab\there\"", "tab\there");
    WORDS("\"new\nline\"", "new\nline");
    /* Backslashes: outside quotes and inside double quotes they escape the next byte. */
    WORDS("a\\ b", "a b");
    WORDS("\\\"x\\\"", "\"x\"");
    WORDS("\"a\\\"b\"", "a\"b");
    WORDS("\"a\\\\b\"", "a\\b");
    WORDS("\\'", "'");
    WORDS("\\\\", "\\");
    WORDS("\"\\n\"", "n");
    /* Inside single quotes a backslash is itself. */
    WORDS("'a\\b' 'c\\'", "a\\b", "c\\");
}

static void test_split_typographic(void **state)
{
    (void)state;
#define LDQ "\xe2\x80\x9c" /* U+201C */
#define RDQ "\xe2\x80\x9d" /* U+201D */
#define LSQ "\xe2\x80\x98" /* U+2018 */
#define RSQ "\xe2\x80\x99" /* U+2019 */
    WORDS("run " LDQ "reason=bad deploy" RDQ " --dry-run", "run", "reason=bad deploy", "--dry-run");
    WORDS(LSQ "a b" RSQ, "a b");
    /* Any quote of a kind closes that kind, as chat clients are not consistent. */
    WORDS(LDQ "a b\"", "a b");
    WORDS("\"a b" RDQ, "a b");
    WORDS(RDQ "a b" RDQ, "a b");
    WORDS(RSQ "a b'", "a b");
    /* The other kind inside a quote is an ordinary character. */
    WORDS(LDQ "don" RSQ "t stop" RDQ, "don" RSQ "t stop");
    WORDS(LSQ "say " LDQ "hi" RDQ RSQ, "say " LDQ "hi" RDQ);
    /* Escaped, a typographic quote is literal. */
    WORDS("\\" LDQ "x", LDQ "x");
    /* Other U+20xx punctuation is not a quote. */
    WORDS("\xe2\x80\x94 \xe2\x80\x9e", "\xe2\x80\x94", "\xe2\x80\x9e");
    expect_split_error(LDQ "abc", 0, TN_EPROTO, "unterminated double quote at byte 0");
    expect_split_error("x " LSQ "abc", 0, TN_EPROTO, "unterminated single quote at byte 2");
    /* A lone typographic apostrophe opens a quote, as ' does. */
    expect_split_error("don" RSQ "t", 0, TN_EPROTO, "unterminated single quote");
    /* A truncated UTF-8 sequence at the end is not a quote. */
    WORDS("a \xe2\x80", "a", "\xe2\x80");
    WORDS("a \xe2", "a", "\xe2");
}

static void test_split_empty(void **state)
{
    (void)state;
    const char *lines[] = {"", " ", "   \t \n \r\n "};
    for (size_t i = 0; i < 3; i++) {
        tn_args_t a;
        assert_int_equal(tn_args_split(lines[i], 0, &a, NULL), 0);
        assert_int_equal(a.n, 0);
        assert_non_null(a.v);
        assert_null(a.v[0]);
        tn_args_free(&a);
        tn_args_free(&a); /* twice is harmless */
    }
    tn_args_free(NULL);
}

static void test_split_errors(void **state)
{
    (void)state;
    expect_split_error("\"abc", 0, TN_EPROTO, "unterminated double quote at byte 0");
    expect_split_error("ok 'abc", 0, TN_EPROTO, "unterminated single quote at byte 3");
    expect_split_error("a\"b", 0, TN_EPROTO, "unterminated double quote at byte 1");
    expect_split_error("\"a\\\"", 0, TN_EPROTO, "unterminated");
    expect_split_error("abc\\", 0, TN_EPROTO, "trailing backslash at byte 3");
    expect_split_error("\"abc\\", 0, TN_EPROTO, "trailing backslash");
    expect_split_error("\\", 0, TN_EPROTO, "trailing backslash at byte 0");
}

static void test_split_limits(void **state)
{
    (void)state;
    tn_buf_t line;
    tn_buf_init(&line);
    for (int i = 0; i < 64; i++)
        assert_int_equal(tn_buf_printf(&line, "w%d ", i), 0);
    tn_args_t a;
    assert_int_equal(tn_args_split(line.data, 0, &a, NULL), 0);
    assert_int_equal(a.n, 64);
    assert_string_equal(a.v[63], "w63");
    assert_null(a.v[64]);
    tn_args_free(&a);
    assert_int_equal(tn_buf_puts(&line, "one-more"), 0);
    expect_split_error(line.data, 0, TN_ETOOBIG, "more than 64 words");
    assert_int_equal(tn_args_split(line.data, 65, &a, NULL), 0);
    assert_int_equal(a.n, 65);
    tn_args_free(&a);
    expect_split_error("a b c", 2, TN_ETOOBIG, "more than 2 words");
    /* The limit is found before a later syntax error. */
    expect_split_error("a b c \"", 2, TN_ETOOBIG, "more than 2");
    assert_int_equal(tn_args_split("a b", 2, &a, NULL), 0);
    tn_args_free(&a);

    /* A long line: one 1 MiB word, then 100000 words. */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    assert_int_equal(tn_args_split(big, 0, &a, NULL), 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(strlen(a.v[0]), n);
    tn_args_free(&a);
    for (size_t i = 0; i + 1 < 200000; i += 2)
        big[i] = 'y', big[i + 1] = ' ';
    big[200000] = '\0';
    assert_int_equal(tn_args_split(big, 100000, &a, NULL), 0);
    assert_int_equal(a.n, 100000);
    assert_string_equal(a.v[99999], "y");
    tn_args_free(&a);
    /* The worst case for the output size: one-byte words and empty quoted words. */
    for (size_t i = 0; i + 3 < 200000; i += 3)
        big[i] = '"', big[i + 1] = '"', big[i + 2] = ' ';
    big[199998] = '\0';
    assert_int_equal(tn_args_split(big, 1000000, &a, NULL), 0);
    assert_int_equal(a.n, 66666);
    assert_string_equal(a.v[0], "");
    tn_args_free(&a);
    free(big);
    tn_buf_deinit(&line);
}

/* ---- durations ---------------------------------------------------------------------------- */

static void expect_duration(const char *s, int64_t want_s)
{
    int64_t ms = -1;
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_args_duration(s, &ms, &err);
    if (rc) fail_msg("duration '%s': %d %s", s, rc, err.data ? err.data : "");
    assert_int_equal(ms, want_s * 1000);
    tn_buf_deinit(&err);
}

static void expect_bad_duration(const char *s, const char *msg_part)
{
    int64_t ms = -1;
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_args_duration(s, &ms, &err), TN_EINVAL);
    assert_int_equal(ms, -1);
    assert_non_null(err.data);
    if (!strstr(err.data, msg_part)) fail_msg("'%s': error '%s' lacks '%s'", s, err.data, msg_part);
    tn_buf_deinit(&err);
    assert_int_equal(tn_args_duration(s, &ms, NULL), TN_EINVAL);
}

static void test_durations(void **state)
{
    (void)state;
    expect_duration("90s", 90);
    expect_duration("15m", 900);
    expect_duration("2h", 7200);
    expect_duration("1d", 86400);
    expect_duration("1w", 604800);
    expect_duration("1h30m", 5400);
    expect_duration("1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
    expect_duration("600", 600);
    expect_duration("1", 1);
    expect_duration("1s", 1);
    expect_duration("0h1s", 1);
    expect_duration("007m", 420);
    expect_duration("90m", 5400); /* a unit need not be smaller than the next one up */
    expect_duration("366d", 366 * 86400);
    expect_duration("52w2d", 366 * 86400);
    expect_duration("31622400", 366 * 86400);
    expect_duration("365d23h59m60s", 366 * 86400);

    expect_bad_duration("", "empty");
    expect_bad_duration(NULL, "empty");
    expect_bad_duration("0", "at least 1s");
    expect_bad_duration("0s", "at least 1s");
    expect_bad_duration("0h0m", "at least 1s");
    expect_bad_duration("5x", "invalid duration '5x'");
    expect_bad_duration("h", "invalid");
    expect_bad_duration("-5m", "invalid");
    expect_bad_duration("+5m", "invalid");
    expect_bad_duration("5 m", "invalid");
    expect_bad_duration(" 5m", "invalid");
    expect_bad_duration("5m ", "invalid");
    expect_bad_duration("1.5h", "invalid");
    expect_bad_duration("1H", "invalid");
    expect_bad_duration("1h30", "invalid");
    expect_bad_duration("30m1h", "invalid");
    expect_bad_duration("1h1h", "invalid");
    expect_bad_duration("500ms", "invalid");
    expect_bad_duration("1y", "invalid");
    expect_bad_duration("m5", "invalid");
    expect_bad_duration("99999999999999999999d", "longer than 366 days");
    expect_bad_duration("99999999999999999999999999999999999999", "longer than 366 days");
    expect_bad_duration("9223372036854775807s", "longer than 366 days");
    expect_bad_duration("367d", "longer than 366 days");
    expect_bad_duration("366d1s", "longer than 366 days");
    expect_bad_duration("53w", "longer than 366 days");
    expect_bad_duration("31622401", "longer than 366 days");
    expect_bad_duration("8785h", "longer than 366 days");
}

/* ---- matchers ----------------------------------------------------------------------------- */

typedef struct {
    const char *const *kv; /* name, value, ..., NULL */
} labels_t;

static const char *get_label(const char *name, void *arg)
{
    const labels_t *l = arg;
    for (const char *const *p = l->kv; *p; p += 2)
        if (strcmp(p[0], name) == 0) return p[1];
    return NULL;
}

static tn_matchers_t *parse_ok(const char *s)
{
    tn_matchers_t *m = NULL;
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_matchers_parse(s, &m, &err);
    if (rc) fail_msg("matchers '%s': %d %s", s, rc, err.data ? err.data : "");
    tn_buf_deinit(&err);
    return m;
}

static int matches(const char *s, const char *const *kv)
{
    tn_matchers_t *m = parse_ok(s);
    labels_t l = {kv};
    int r = tn_matchers_match(m, get_label, &l);
    tn_matchers_free(m);
    return r;
}

#define LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_str(const char *s, const char *want)
{
    tn_matchers_t *m = parse_ok(s);
    tn_buf_t out;
    tn_buf_init(&out);
    assert_int_equal(tn_matchers_str(m, &out), 0);
    assert_string_equal(out.data, want);
    /* The canonical text parses back to itself. */
    tn_matchers_t *m2 = parse_ok(out.data);
    tn_buf_t out2;
    tn_buf_init(&out2);
    assert_int_equal(tn_matchers_str(m2, &out2), 0);
    assert_string_equal(out2.data, want);
    tn_buf_deinit(&out2);
    tn_buf_deinit(&out);
    tn_matchers_free(m2);
    tn_matchers_free(m);
}

static void expect_bad_matchers(const char *s, const char *msg_part)
{
    tn_matchers_t *m = (tn_matchers_t *)&m; /* must be reset */
    tn_buf_t err;
    tn_buf_init(&err);
    assert_int_equal(tn_matchers_parse(s, &m, &err), TN_EINVAL);
    assert_null(m);
    assert_non_null(err.data);
    if (!strstr(err.data, msg_part)) fail_msg("'%s': error '%s' lacks '%s'", s, err.data, msg_part);
    tn_buf_deinit(&err);
    assert_int_equal(tn_matchers_parse(s, &m, NULL), TN_EINVAL);
}

static void test_matcher_ops(void **state)
{
    (void)state;
    const char *const *co = LABELS("service", "checkout", "severity", "critical");
    assert_true(matches("service=checkout", co));
    assert_false(matches("service=cart", co));
    assert_true(matches("service!=cart", co));
    assert_false(matches("service!=checkout", co));
    assert_true(matches("service=~check.*", co));
    assert_true(matches("service=~\"check(out|in)\"", co));
    assert_false(matches("service!~check.*", co));
    assert_true(matches("service!~cart|web", co));
    assert_true(matches("service=checkout,severity!=info", co));
    assert_false(matches("service=checkout,severity=info", co));
    assert_true(matches("service=checkout,severity=~crit.*,severity!~warn", co));
    /* Spaces around the parts are ignored. */
    assert_true(matches(" service = checkout , severity =~ \"crit.*\" ", co));
    /* Values are compared exactly: case matters. */
    assert_false(matches("service=Checkout", co));
}

static void test_matcher_anchoring(void **state)
{
    (void)state;
    const char *const *co = LABELS("service", "checkout");
    assert_false(matches("service=~check", co));
    assert_false(matches("service=~out", co));
    assert_false(matches("service=~heck", co));
    assert_true(matches("service!~check", co));
    assert_true(matches("service=~checkout", co));
    assert_true(matches("service=~.*out", co));
    /* An alternation stays inside the anchors: both ends of both branches. */
    assert_false(matches("service=~\"check|cart\"", co));
    assert_false(matches("service=~\"cart|out\"", co));
    assert_true(matches("service=~\"cart|checkout\"", co));
    /* A pattern that closes the anchoring group early is refused, not silently unanchored:
     * glibc takes an unmatched ')' as a literal, so "^(check)|(x))$" would compile. */
    expect_bad_matchers("service=~\"check)|(x\"", "bad regular expression for service");
    expect_bad_matchers("service=~\"x)|(.*\"", "bad regular expression");
    expect_bad_matchers("service=~\"check)|(x)\"", "unbalanced parentheses");
    expect_bad_matchers("service=~\"check)|.*(x)\"", "unbalanced parentheses");
    expect_bad_matchers("service=~\")\"", "unbalanced parentheses");
    expect_bad_matchers("service=~\"(check\"", "unbalanced parentheses");
    /* ... and found by fuzz_args: "^()+++++)$" repeats the empty group 32 times. */
    expect_bad_matchers("v=~)+++++", "unbalanced parentheses");
    /* A literal parenthesis is escaped or in brackets. */
    assert_true(matches("service=~\"check\\)\"", LABELS("service", "check)")));
    assert_true(matches("service=~\"[)(]+\"", LABELS("service", ")(")));
    assert_false(matches("service=~\"[)]|(x)\"", LABELS("service", ")y")));
    /* Newlines in values do not create new anchors. */
    assert_false(matches("service=~check", LABELS("service", "x\ncheck")));
    assert_false(matches("service=~check", LABELS("service", "check\nx")));
}

static void test_matcher_quoting(void **state)
{
    (void)state;
    const char *const *l = LABELS("reason", "a,b", "q", "say \"hi\" \\o/", "e", "");
    assert_true(matches("reason=\"a,b\"", l));
    assert_true(matches("reason=\"a,b\",q=\"say \\\"hi\\\" \\\\o/\"", l));
    assert_true(matches("reason=~\"a,.\"", l));
    /* An unquoted value runs to the next comma. */
    assert_false(matches("reason=a,b=x", l));
    /* Other backslashes stay: a regex escape keeps working. */
    assert_true(matches("v=~\"a\\.b\"", LABELS("v", "a.b")));
    assert_false(matches("v=~\"a\\.b\"", LABELS("v", "axb")));
    assert_true(matches("v=\"a\\nb\"", LABELS("v", "a\\nb")));
    /* Empty values. */
    assert_true(matches("e=\"\"", l));
    assert_true(matches("e=", l));
    assert_true(matches("e=,reason=\"a,b\"", l));
    /* An '=' or '~' inside a quoted value is just text. */
    assert_true(matches("v=\"~x\"", LABELS("v", "~x")));
    assert_true(matches("v=\"=\"", LABELS("v", "=")));
    assert_true(matches("v==", LABELS("v", "=")));
    expect_bad_matchers("reason=\"a,b", "unterminated quoted value for reason at byte 7");
    expect_bad_matchers("reason=\"a\\\"", "unterminated");
    expect_bad_matchers("reason=\"a\"b", "unexpected 'b' after the quoted value of reason");
    expect_bad_matchers("reason=\"a\" \"b\"", "unexpected");
}

static void test_matcher_absent(void **state)
{
    (void)state;
    const char *const *l = LABELS("service", "checkout");
    /* An absent label is "" (Alertmanager). */
    assert_true(matches("env=\"\"", l));
    assert_true(matches("env=", l));
    assert_true(matches("env!=prod", l));
    assert_false(matches("env=prod", l));
    assert_false(matches("env!=\"\"", l));
    assert_true(matches("env=~\".*\"", l));
    assert_true(matches("env=~\"\"", l));
    assert_false(matches("env=~\".+\"", l));
    assert_true(matches("env!~\".+\"", l));
    assert_true(matches("env!~prod", l));
    /* A present but empty label is the same as an absent one. */
    assert_true(matches("env=\"\"", LABELS("env", "")));
    /* With no lookup function every label is absent; NULL matchers match nothing. */
    tn_matchers_t *m = parse_ok("env!=prod");
    assert_true(tn_matchers_match(m, NULL, NULL));
    tn_matchers_free(m);
    assert_false(tn_matchers_match(NULL, get_label, NULL));
}

static void test_matcher_errors(void **state)
{
    (void)state;
    expect_bad_matchers("", "no label matchers");
    expect_bad_matchers("  \t ", "no label matchers");
    expect_bad_matchers("1a=b", "bad label name at byte 0");
    expect_bad_matchers("=b", "bad label name");
    expect_bad_matchers("-a=b", "bad label name");
    expect_bad_matchers("a=b,\xc3\xa9=x", "bad label name at byte 4");
    expect_bad_matchers("service", "missing operator");
    expect_bad_matchers("service:checkout", "missing operator (= != =~ !~) after label service");
    expect_bad_matchers("a-b=c", "missing operator");
    expect_bad_matchers("a==~b,service!checkout", "missing operator");
    expect_bad_matchers("service~=checkout", "missing operator");
    expect_bad_matchers("service<>x", "missing operator");
    expect_bad_matchers("a=b,", "empty label matcher at byte 4");
    expect_bad_matchers(",a=b", "empty label matcher at byte 0");
    expect_bad_matchers("a=b,,c=d", "empty label matcher");
    expect_bad_matchers("a=b, ", "empty label matcher");
    expect_bad_matchers("a=~\"(\"", "bad regular expression for a");
    expect_bad_matchers("a=~\"[\"", "bad regular expression");
    expect_bad_matchers("a=~\"*\"", "bad regular expression");
    expect_bad_matchers("a=~\"x{2,1}\"", "bad regular expression");
    expect_bad_matchers("a!~\"a\\\\\"", "bad regular expression");
    expect_bad_matchers("a=~\"[[:nope:]]\"", "bad regular expression");
}

static void test_matcher_hostile_regex(void **state)
{
    (void)state;
    /* Back-references make glibc backtrack; RE2 (Alertmanager) has none. */
    expect_bad_matchers("a=~\"(a+)+\\1\\1\\1b\"", "back-references are not supported");
    expect_bad_matchers("a=~(x)\\9", "back-references");
    /* A backslash and a digit inside brackets is not one. */
    assert_true(matches("a=~\"[\\1]+\"", LABELS("a", "1\\1")));
    /* Repetitions that would take glibc seconds or gigabytes to expand. */
    clock_t t0 = clock();
    expect_bad_matchers("a=~\"(a{32767}){32767}\"", "too complex");
    expect_bad_matchers("a=~\"a{1000}{1000}\"", "too complex");
    expect_bad_matchers("a=~\"((a{100}){100}){100}\"", "too complex");
    expect_bad_matchers("a=~\"(x|y){5000}\"", "too complex");
    expect_bad_matchers("a=~\"x{513}\"", "too complex");
    expect_bad_matchers("a=~\"x{1,513}\"", "too complex");
    expect_bad_matchers("a=~\"(xy){256}x{2}\"", "too complex");
    expect_bad_matchers("a=~\"x{99999999999999999999}\"", "too complex");
    /* Each stacked + doubles what glibc builds (found by fuzz_args). */
    expect_bad_matchers("a=~\"x+++++++++++++\"", "too complex");
    expect_bad_matchers("a=~\"x++++++*+++*++++\"", "bad regular expression");
    expect_bad_matchers("a=~\"(x{64}+)++++++\"", "too complex");
    /* Matching the empty string in more than one way explodes glibc's epsilon closures (((x*)*){24}
     * takes regcomp 15 s, ^((a?|b?)){222}$ 5 s, ^(a?\b){200}$ minutes), and never adds meaning. */
    const char *nullable[] = {"((x*)*){24}y",     "(x*)*",    "(x?)+",    "(x|)*",     "()*",
                              "(x*){2,}",         "x**",      "(x*y*)*",  "(^)*",      "((x*)?)*",
                              "(a|b*)+",          "x{0}*",    "(x?){0,}", "(()|x)*",   "(x*){,}",
                              "(x?){,}",          "x??",      "(x*)?",    "(x?){256}", "(x?){0,2}",
                              "((a?){0,2}){222}", "a??{222}", "(x*){0,5}"};
    for (size_t i = 0; i < sizeof nullable / sizeof nullable[0]; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "a=~\"%s\"", nullable[i]);
        expect_bad_matchers(pat, "repeats something that can match the empty string");
    }
    const char *twice[] = {"(a?|b?)", "(|)", "a?|b*", "x(a*|b|)", "((a?|b?)){222}", "(()|())"};
    for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "a=~\"%s\"", twice[i]);
        expect_bad_matchers(pat, "two alternatives that can match the empty string");
    }
    /* Written out instead of repeated: 222 copies of (a?|b?) take the same 5 s. */
    tn_buf_t many;
    tn_buf_init(&many);
    assert_int_equal(tn_buf_puts(&many, "a=~\""), 0);
    for (int i = 0; i < 222; i++)
        assert_int_equal(tn_buf_puts(&many, "(a?|b?)"), 0);
    assert_int_equal(tn_buf_puts(&many, "\""), 0);
    expect_bad_matchers(many.data, "two alternatives");
    tn_buf_deinit(&many);
    /* glibc's zero-width extensions. */
    const char *gnu[] = {"\\bcheck\\b", "(a?\\b){200}", "\\<x", "x\\>", "\\Bx", "\\`x", "x\\'"};
    for (size_t i = 0; i < sizeof gnu / sizeof gnu[0]; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "a=~\"%s\"", gnu[i]);
        expect_bad_matchers(pat, "are not supported");
    }
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    /* ... while ordinary bounds are fine. */
    assert_true(matches("a=~\"x{512}\"", LABELS("a", "x")) == 0);
    assert_true(matches("a=~\"x+++++++++\"", LABELS("a", "x"))); /* 512 copies */
    expect_bad_matchers("a=~\"x++++++++++\"", "too complex");
    assert_true(matches("a=~\"(ab){2,3}\"", LABELS("a", "ababab")));
    assert_true(matches("a=~\"[0-9]{1,3}(\\.[0-9]{1,3}){3}\"", LABELS("a", "10.0.0.1")));
    assert_true(matches("a=~\"x{3,}\"", LABELS("a", "xxxxx")));
    expect_bad_matchers("a=~\"x++*?\"", "repeats something");
    /* Repeating what cannot match "", and one alternative that can, are fine. */
    assert_true(matches("a=~\"(x+)*\"", LABELS("a", "xxx")));
    assert_true(matches("a=~\"(a+|b)*\"", LABELS("a", "aab")));
    assert_true(matches("a=~\"(x|y*z)*\"", LABELS("a", "xyyzz")));
    assert_true(matches("a=~\"(x?y){2}\"", LABELS("a", "yxy")));
    assert_true(matches("a=~\"(x*)\"", LABELS("a", "")));
    assert_true(matches("a=~\"(a|b*)c\"", LABELS("a", "bbc")));
    assert_true(matches("a=~\"(prod|stag(ing)?)\"", LABELS("a", "staging")));
    assert_true(matches("a=~\"^check.*$\"", LABELS("a", "checkout"))); /* redundant, allowed */
    /* glibc's {,n} is {0,n}, and counts like it. */
    assert_true(matches("a=~\"x{,3}\"", LABELS("a", "xxx")));
    assert_false(matches("a=~\"x{,3}\"", LABELS("a", "xxxx")));
    expect_bad_matchers("a=~\"((x{8}){1,64}){,64}\"", "too complex");
    /* Brackets with ']' and classes are one atom each. */
    assert_true(matches("a=~\"[]x]{2}[[:digit:]]\"", LABELS("a", "]x7")));
    assert_true(matches("a=~\"[^]]+\"", LABELS("a", "abc")));
    /* Nesting: 32 groups deep is the limit. */
    char pat[200];
    strcpy(pat, "a=~\"");
    for (int i = 0; i < 32; i++)
        strcat(pat, "(");
    strcat(pat, "x");
    for (int i = 0; i < 32; i++)
        strcat(pat, ")");
    strcat(pat, "\"");
    assert_true(matches(pat, LABELS("a", "x")));
    strcpy(pat, "a=~\"");
    for (int i = 0; i < 33; i++)
        strcat(pat, "(");
    strcat(pat, "x");
    for (int i = 0; i < 33; i++)
        strcat(pat, ")");
    strcat(pat, "\"");
    expect_bad_matchers(pat, "nested too deeply");
    /* A long pattern of plain atoms counts too. */
    static char longpat[5000 + 8]; /* static: gcc -O2 cannot tell that a NULL malloc fails */
    strcpy(longpat, "a=~");
    memset(longpat + 3, 'x', 5000);
    longpat[5003] = '\0';
    expect_bad_matchers(longpat, "too complex");
}

static void test_matcher_count(void **state)
{
    (void)state;
    tn_buf_t s;
    tn_buf_init(&s);
    for (int i = 0; i < 16; i++)
        assert_int_equal(tn_buf_printf(&s, "%sl%d=v%d", i ? "," : "", i, i), 0);
    tn_matchers_t *m = parse_ok(s.data);
    tn_matchers_free(m);
    assert_int_equal(tn_buf_puts(&s, ",l16=v16"), 0);
    expect_bad_matchers(s.data, "more than 16 label matchers");
    tn_buf_deinit(&s);
    /* 17 regexes: the first 16 compiled ones are freed. */
    tn_buf_init(&s);
    for (int i = 0; i < 17; i++)
        assert_int_equal(tn_buf_printf(&s, "%sl%d=~\"v.*\"", i ? "," : "", i), 0);
    expect_bad_matchers(s.data, "more than 16");
    tn_buf_deinit(&s);
}

static void test_matcher_str(void **state)
{
    (void)state;
    expect_str("service=checkout", "service=\"checkout\"");
    expect_str(" service = checkout , severity!=info,env=~prod|staging,x!~\"a\\\"b\\\\c\"",
               "service=\"checkout\",severity!=\"info\",env=~\"prod|staging\",x!~\"a\\\"b\\\\c\"");
    expect_str("reason=\"a,b\",e=", "reason=\"a,b\",e=\"\"");
    expect_str("v=~\"a\\.b\"", "v=~\"a\\\\.b\"");
    /* Appends to what out holds; NULL matchers append nothing. */
    tn_matchers_t *m = parse_ok("a=1");
    tn_buf_t out;
    tn_buf_init(&out);
    assert_int_equal(tn_buf_puts(&out, "silence "), 0);
    assert_int_equal(tn_matchers_str(m, &out), 0);
    assert_string_equal(out.data, "silence a=\"1\"");
    assert_int_equal(tn_matchers_str(NULL, &out), 0);
    assert_string_equal(out.data, "silence a=\"1\"");
    tn_buf_deinit(&out);
    tn_matchers_free(m);
    tn_matchers_free(NULL);
}

static void test_allocation_failures(void **state)
{
    (void)state;
#ifdef TN_TEST_NO_MALLOC_HOOK
    skip();
#else
    if (!hook_active()) skip();
    /* Words. */
    int nomem = 0;
    for (long k = 0;; k++) {
        tn_args_t a;
        long live0 = g_live;
        g_allocs = 0;
        g_fail_at = k;
        int rc = tn_args_split("run \"a b\" c", 0, &a, NULL);
        g_fail_at = -1;
        int done = g_allocs <= k;
        if (rc == TN_ENOMEM) {
            nomem++;
            assert_null(a.v);
            assert_null(a.mem);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(a.n, 3);
        }
        tn_args_free(&a);
        assert_int_equal(g_live, live0);
        if (done) break;
    }
    assert_int_equal(nomem, 2);

    /* Matchers, regexes included (regcomp's own allocations fail too). */
    const char *s = "service=checkout,env=~\"prod|stag(ing)?\",x!~\"a.*\",reason=\"a,b\"";
    tn_matchers_t *warm = parse_ok(s); /* the C library's one-time allocations */
    tn_matchers_free(warm);
    Dl_info info;
    assert_true(dladdr(dlsym(RTLD_DEFAULT, "regcomp"), &info));
    g_libc_base = info.dli_fbase;
    long glibc_leaks = 0;
    nomem = 0;
    for (long k = 0;; k++) {
        tn_matchers_t *m = NULL;
        tn_buf_t err;
        tn_buf_init(&err);
        long live0 = g_live;
        g_libc_live = 0;
        memset(g_libc_blocks, 0, sizeof g_libc_blocks);
        g_split = 1;
        g_allocs = 0;
        g_fail_at = k;
        int rc = tn_matchers_parse(s, &m, &err);
        g_fail_at = -1;
        int done = g_allocs <= k;
        if (rc == TN_ENOMEM) {
            nomem++;
            assert_null(m);
        } else {
            assert_int_equal(rc, 0);
            labels_t l = {
                LABELS("service", "checkout", "env", "staging", "x", "b", "reason", "a,b")};
            assert_true(tn_matchers_match(m, get_label, &l));
        }
        tn_matchers_free(m);
        tn_buf_deinit(&err);
        g_split = 0;
        assert_int_equal(g_live, live0);
        /* What glibc loses is a block or two; a regex_t we forgot to regfree would be a dozen. */
        assert_true(g_libc_live <= 2);
        glibc_leaks += g_libc_live;
        if (done) {
            assert_int_equal(rc, 0);
            assert_int_equal(g_libc_live, 0);
            break;
        }
    }
    assert_true(nomem > 10);
    if (glibc_leaks) print_message("regcomp leaked %ld blocks of its own on ENOMEM\n", glibc_leaks);

    /* The canonical text onto a buffer that cannot grow. */
    tn_matchers_t *m = parse_ok(s);
    for (long k = 0;; k++) {
        tn_buf_t out;
        tn_buf_init(&out);
        g_allocs = 0;
        g_fail_at = k;
        int rc = tn_matchers_str(m, &out);
        g_fail_at = -1;
        int done = g_allocs <= k;
        tn_buf_deinit(&out);
        if (done) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_int_equal(rc, TN_ENOMEM);
    }
    tn_matchers_free(m);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_plain),
        cmocka_unit_test(test_split_quotes),
        cmocka_unit_test(test_split_typographic),
        cmocka_unit_test(test_split_empty),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_split_limits),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_matcher_ops),
        cmocka_unit_test(test_matcher_anchoring),
        cmocka_unit_test(test_matcher_quoting),
        cmocka_unit_test(test_matcher_absent),
        cmocka_unit_test(test_matcher_errors),
        cmocka_unit_test(test_matcher_hostile_regex),
        cmocka_unit_test(test_matcher_count),
        cmocka_unit_test(test_matcher_str),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
