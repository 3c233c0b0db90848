/* test_targets.c - tocsin.notify's pure parts (notify/targets.c): the PagerDuty Events API v2
 * bodies against PagerDuty's published examples in ../shared/vectors/pagerduty, the Slack and
 * Mattermost bodies, the validation messages, delivery and retry rules, backoff, masking. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../vectors.h"

#include "core/error.h"
#include "notify/targets.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) fail_msg("bad test JSON at %d: %s", e.line, e.text);
    return j;
}

static json_t *vector(const char *rel)
{
    size_t len;
    char *text = tn_test_read_vector(rel, &len);
    json_error_t e;
    json_t *j = json_loadb(text, len, 0, &e);
    free(text);
    if (!j) fail_msg("vector %s: %s", rel, e.text);
    return j;
}

typedef json_t *(*builder_t)(const json_t *, tn_buf_t *);

/* Builds from the fields (JSON text) and checks the body equals want (JSON text or a json_t). */
static void expect_body(builder_t build, const char *fields, json_t *want)
{
    json_t *in = parse(fields);
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *out = build(in, &err);
    if (!out) fail_msg("refused: %s", err.data ? err.data : "?");
    if (!json_equal(out, want)) {
        char *a = json_dumps(out, JSON_SORT_KEYS), *b = json_dumps(want, JSON_SORT_KEYS);
        print_error("got  %s\nwant %s\n", a, b);
        free(a);
        free(b);
        fail();
    }
    json_decref(out);
    json_decref(in);
    tn_buf_deinit(&err);
}

/* Building from fields fails with a message containing want. */
static void expect_error(builder_t build, const char *fields, const char *want)
{
    json_t *in = parse(fields);
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *out = build(in, &err);
    if (out) {
        char *a = json_dumps(out, 0);
        fail_msg("accepted %s as %s (wanted: %s)", fields, a, want);
    }
    if (!err.data || !strstr(err.data, want))
        fail_msg("message \"%s\" lacks \"%s\"", err.data ? err.data : "", want);
    json_decref(in);
    tn_buf_deinit(&err);
}

/* ---- PagerDuty -------------------------------------------------------------------------- */

/* The fields a runbook passes for PagerDuty's trigger example. */
static const char *const PD_TRIGGER_FIELDS =
    "{\"action\":\"trigger\",\"routing_key\":\"samplekeyhere\",\"dedup_key\":\"samplekeyhere\","
    "\"summary\":\"Example alert on host1.example.com\","
    "\"timestamp\":\"2015-07-17T08:42:58.315+0000\","
    "\"source\":\"monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/"
    "api-stats-prod-003\","
    "\"severity\":\"info\",\"component\":\"postgres\",\"group\":\"prod-datapipe\","
    "\"class\":\"deploy\",\"custom_details\":{\"ping time\":\"1500ms\",\"load avg\":0.75},"
    "\"images\":[{\"src\":\"https://www.pagerduty.com/wp-content/uploads/2016/05/"
    "pagerduty-logo-green.png\",\"href\":\"https://example.com/\",\"alt\":\"Example text\"}],"
    "\"links\":[{\"href\":\"https://example.com/\",\"text\":\"Link text\"}],"
    "\"client\":\"Sample Monitoring Service\",\"client_url\":\"https://monitoring.example.com\"}";

static void test_pd_trigger_vector(void **state)
{
    (void)state;
    json_t *want = vector("pagerduty/events_v2_trigger.json");
    expect_body(tn_notify_pagerduty_body, PD_TRIGGER_FIELDS, want);
    json_decref(want);
}

/* The documentation's verbatim example (a comment before the JSON) is the same event. */
static void test_pd_trigger_verbatim_is_the_same(void **state)
{
    (void)state;
    size_t len;
    char *text =
        tn_test_read_vector("pagerduty/events_v2_trigger_doc_verbatim_with_comment.txt", &len);
    char *end = strstr(text, "*/");
    assert_non_null(end);
    json_t *verbatim = json_loads(end + 2, 0, NULL);
    free(text);
    assert_non_null(verbatim);
    expect_body(tn_notify_pagerduty_body, PD_TRIGGER_FIELDS, verbatim);
    json_decref(verbatim);
}

static void test_pd_acknowledge_resolve_vectors(void **state)
{
    (void)state;
    json_t *ack = vector("pagerduty/events_v2_acknowledge.json");
    json_t *res = vector("pagerduty/events_v2_resolve.json");
    expect_body(tn_notify_pagerduty_body,
                "{\"action\":\"acknowledge\",\"routing_key\":\"routingkeyhere\","
                "\"dedup_key\":\"dedupkeyhere\"}",
                ack);
    expect_body(tn_notify_pagerduty_body,
                "{\"action\":\"resolve\",\"routing_key\":\"routingkeyhere\","
                "\"dedup_key\":\"dedupkeyhere\"}",
                res);
    json_decref(ack);
    json_decref(res);
}

static void test_pd_minimal_and_timestamp_ms(void **state)
{
    (void)state;
    json_t *want =
        parse("{\"payload\":{\"summary\":\"s\",\"timestamp\":\"2015-07-17T08:42:58.315Z\","
              "\"source\":\"db-1\",\"severity\":\"critical\"},"
              "\"routing_key\":\"k\",\"event_action\":\"trigger\"}");
    expect_body(tn_notify_pagerduty_body,
                "{\"action\":\"trigger\",\"routing_key\":\"k\",\"summary\":\"s\","
                "\"source\":\"db-1\",\"severity\":\"critical\",\"timestamp\":1437122578315}",
                want);
    json_decref(want);
    /* empty lists from Lua arrive as {} and are sent as [] */
    want = parse("{\"payload\":{\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\","
                 "\"custom_details\":{}},\"routing_key\":\"k\",\"images\":[],\"links\":[],"
                 "\"event_action\":\"trigger\"}");
    expect_body(tn_notify_pagerduty_body,
                "{\"action\":\"trigger\",\"routing_key\":\"k\",\"summary\":\"s\",\"source\":\"h\","
                "\"severity\":\"info\",\"custom_details\":{},\"images\":{},\"links\":{}}",
                want);
    json_decref(want);
}

/* The body keeps PagerDuty's order: payload, routing_key, dedup_key, images, links,
 * event_action, client, client_url. */
static void test_pd_field_order(void **state)
{
    (void)state;
    json_t *in = parse(PD_TRIGGER_FIELDS);
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *out = tn_notify_pagerduty_body(in, &err);
    assert_non_null(out);
    const char *order[] = {"payload", "routing_key",  "dedup_key", "images",
                           "links",   "event_action", "client",    "client_url"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(out, k, v)
    {
        assert_true(i < 8);
        assert_string_equal(k, order[i]);
        i++;
    }
    assert_int_equal(i, 8);
    json_decref(out);
    json_decref(in);
    tn_buf_deinit(&err);
}

static void test_pd_errors(void **state)
{
    (void)state;
    builder_t b = tn_notify_pagerduty_body;
    expect_error(b, "{\"routing_key\":\"k\"}", "'action' is required");
    expect_error(b, "{\"action\":\"page\",\"routing_key\":\"k\"}",
                 "'action' must be \"trigger\", \"acknowledge\" or \"resolve\", not \"page\"");
    expect_error(b, "{\"action\":1,\"routing_key\":\"k\"}", "'action' must be a string");
    expect_error(b, "{\"action\":\"resolve\",\"dedup_key\":\"d\"}", "'routing_key' is required");
    expect_error(b, "{\"action\":\"resolve\",\"routing_key\":\"\",\"dedup_key\":\"d\"}",
                 "'routing_key' is required");
    expect_error(b, "{\"action\":\"acknowledge\",\"routing_key\":\"k\"}",
                 "'dedup_key' is required to acknowledge an alert");
    expect_error(b, "{\"action\":\"resolve\",\"routing_key\":\"k\"}",
                 "'dedup_key' is required to resolve an alert");
    expect_error(b, "{\"action\":\"resolve\",\"routing_key\":\"k\",\"dedup_key\":\"\"}",
                 "'dedup_key' must have 1 to 255 characters, not 0");
    expect_error(b,
                 "{\"action\":\"resolve\",\"routing_key\":\"k\",\"dedup_key\":\"d\","
                 "\"severity\":\"info\"}",
                 "'severity' is only for trigger events, not resolve");
    expect_error(b,
                 "{\"action\":\"acknowledge\",\"routing_key\":\"k\",\"dedup_key\":\"d\","
                 "\"links\":[]}",
                 "'links' is only for trigger events, not acknowledge");
    const char *trig = "{\"action\":\"trigger\",\"routing_key\":\"k\"";
    char buf[4096];
#define T(extra, want)                                                                             \
    do {                                                                                           \
        snprintf(buf, sizeof buf, "%s%s}", trig, extra);                                           \
        expect_error(b, buf, want);                                                                \
    } while (0)
    T(",\"source\":\"h\",\"severity\":\"info\"", "'summary' is required for a trigger");
    T(",\"summary\":\"\",\"source\":\"h\",\"severity\":\"info\"", "'summary' is required");
    T(",\"summary\":\"s\",\"severity\":\"info\"", "'source' is required for a trigger");
    T(",\"summary\":\"s\",\"source\":\"h\"", "'severity' is required for a trigger");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"high\"",
      "'severity' must be \"critical\", \"error\", \"warning\" or \"info\", not \"high\"");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"sumary\":\"x\"",
      "pagerduty: unknown field 'sumary'");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"custom_details\":[1]",
      "'custom_details' must be a table with string keys");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"links\":\"x\"",
      "'links' must be a list");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"links\":[{\"text\":\"t\"}]",
      "links[1]: 'href' is required");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"links\":[{\"href\":\"h\","
      "\"title\":\"t\"}]",
      "links[1]: unknown field 'title'");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"images\":[{\"src\":"
      "\"http://x/y.png\"}]",
      "images[1]: 'src' must be an https:// URL");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"images\":[1]",
      "images[1] must be a table");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"timestamp\":true",
      "'timestamp' must be ISO 8601 text or milliseconds");
    T(",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"timestamp\":-5",
      "'timestamp' is out of range");
    expect_error(b, "[1]", "the event must be a table");
#undef T

    /* the documented limits count characters: 1024 for summary, 255 for dedup_key */
    char *big = malloc(3 * 1100 + 512);
    assert_non_null(big);
    char s1024[3 * 1024 + 1], *p = s1024;
    for (int i = 0; i < 1024; i++)
        p += sprintf(p, "\xc3\xa9"); /* é: 2 bytes, 1 character */
    sprintf(big, "%s,\"summary\":\"%s\",\"source\":\"h\",\"severity\":\"info\"}", trig, s1024);
    json_t *in = parse(big);
    tn_buf_t err;
    tn_buf_init(&err);
    json_t *out = tn_notify_pagerduty_body(in, &err);
    assert_non_null(out); /* 1024 characters, 2048 bytes: allowed */
    json_decref(out);
    json_decref(in);
    sprintf(big, "%s,\"summary\":\"%sx\",\"source\":\"h\",\"severity\":\"info\"}", trig, s1024);
    expect_error(b, big, "'summary' has 1025 characters, at most 1024 are allowed");
    char d256[257];
    memset(d256, 'd', 256);
    d256[256] = '\0';
    sprintf(big, "{\"action\":\"resolve\",\"routing_key\":\"k\",\"dedup_key\":\"%s\"}", d256);
    expect_error(b, big, "'dedup_key' must have 1 to 255 characters, not 256");
    d256[255] = '\0';
    sprintf(big, "{\"action\":\"resolve\",\"routing_key\":\"k\",\"dedup_key\":\"%s\"}", d256);
    in = parse(big);
    out = tn_notify_pagerduty_body(in, &err);
    assert_non_null(out);
    json_decref(out);
    json_decref(in);
    tn_buf_deinit(&err);
    free(big);
}

/* ---- Slack and Mattermost --------------------------------------------------------------- */

static void test_slack(void **state)
{
    (void)state;
    const char *f = "{\"text\":\"Disk 93%\",\"blocks\":[{\"type\":\"divider\"}],"
                    "\"channel\":\"#ops\",\"username\":\"tocsin\",\"icon_emoji\":\":fire:\","
                    "\"thread_ts\":\"1.2\",\"mrkdwn\":false}";
    json_t *want = parse(f);
    expect_body(tn_notify_slack_body, f, want);
    json_decref(want);
    want = parse("{\"blocks\":[{\"type\":\"divider\"}]}");
    expect_body(tn_notify_slack_body, "{\"blocks\":[{\"type\":\"divider\"}]}", want);
    json_decref(want);

    builder_t b = tn_notify_slack_body;
    expect_error(b, "{\"channel\":\"#ops\"}", "slack: 'text' is required");
    expect_error(b, "{\"text\":\"t\",\"retries\":3}", "slack: unknown field 'retries'");
    expect_error(b, "{\"text\":5}", "slack: 'text' must be a string");
    expect_error(b, "{\"text\":\"t\",\"blocks\":{\"a\":1}}", "slack: 'blocks' must be a list");
    expect_error(b, "{\"text\":\"t\",\"blocks\":[\"x\"]}", "slack: 'blocks[1]' must be a table");
    expect_error(b, "{\"text\":\"t\",\"mrkdwn\":\"yes\"}", "'mrkdwn' must be a boolean");
    /* at most 50 blocks */
    tn_buf_t t;
    tn_buf_init(&t);
    tn_buf_puts(&t, "{\"blocks\":[");
    for (int i = 0; i < 51; i++)
        tn_buf_puts(&t, i ? ",{\"type\":\"divider\"}" : "{\"type\":\"divider\"}");
    tn_buf_puts(&t, "]}");
    expect_error(b, t.data, "'blocks' has 51 blocks, at most 50 are allowed");
    tn_buf_deinit(&t);
}

static void test_mattermost(void **state)
{
    (void)state;
    const char *f = "{\"text\":\"hi\",\"channel\":\"town-square\",\"username\":\"tocsin\","
                    "\"icon_url\":\"https://x/i.png\",\"attachments\":[{\"fallback\":\"f\"}],"
                    "\"props\":{\"card\":\"c\"},\"priority\":{\"priority\":\"urgent\"},"
                    "\"type\":\"custom_x\",\"icon_emoji\":\"fire\"}";
    json_t *want = parse(f);
    expect_body(tn_notify_mattermost_body, f, want);
    json_decref(want);
    builder_t b = tn_notify_mattermost_body;
    expect_error(b, "{\"channel\":\"x\"}", "'text' is required unless 'attachments' are given");
    expect_error(b, "{\"text\":\"t\",\"blocks\":[]}", "mattermost: unknown field 'blocks'");
    expect_error(b, "{\"text\":\"t\",\"props\":[1]}", "'props' must be a table");
}

/* ---- delivery, retries, backoff, masking ------------------------------------------------ */

static void test_accepted_and_retryable(void **state)
{
    (void)state;
    assert_true(tn_notify_accepted(TN_NOTIFY_SLACK, 200, "ok", 2));
    assert_true(tn_notify_accepted(TN_NOTIFY_MATTERMOST, 200, "ok\n", 3));
    assert_false(tn_notify_accepted(TN_NOTIFY_SLACK, 200, "{\"ok\":true}", 11));
    assert_false(tn_notify_accepted(TN_NOTIFY_SLACK, 400, "invalid_payload", 15));
    assert_false(tn_notify_accepted(TN_NOTIFY_SLACK, 201, "ok", 2));
    assert_true(tn_notify_accepted(TN_NOTIFY_PAGERDUTY, 202, "", 0));
    assert_false(tn_notify_accepted(TN_NOTIFY_PAGERDUTY, 400, "", 0));
    assert_true(tn_notify_accepted(TN_NOTIFY_WEBHOOK, 204, "", 0));
    assert_false(tn_notify_accepted(TN_NOTIFY_WEBHOOK, 302, "", 0));

    assert_true(tn_notify_retryable(TN_ECLOSED, 0));
    assert_true(tn_notify_retryable(TN_ETIMEDOUT, 0));
    assert_true(tn_notify_retryable(TN_EIO, 0));
    assert_false(tn_notify_retryable(TN_ETOOBIG, 200));
    assert_true(tn_notify_retryable(0, 429));
    assert_true(tn_notify_retryable(0, 500));
    assert_true(tn_notify_retryable(0, 503));
    assert_true(tn_notify_retryable(0, 599));
    assert_false(tn_notify_retryable(0, 400));
    assert_false(tn_notify_retryable(0, 404));
    assert_false(tn_notify_retryable(0, 410));
    assert_false(tn_notify_retryable(0, 200));
}

static void test_backoff(void **state)
{
    (void)state;
    /* u = 0.5: no jitter */
    assert_int_equal(tn_notify_backoff_ms(1, 500, 60000, 0.5), 500);
    assert_int_equal(tn_notify_backoff_ms(2, 500, 60000, 0.5), 1000);
    assert_int_equal(tn_notify_backoff_ms(3, 500, 60000, 0.5), 2000);
    assert_int_equal(tn_notify_backoff_ms(10, 500, 60000, 0.5), 60000); /* capped */
    assert_int_equal(tn_notify_backoff_ms(200, 500, 60000, 0.5), 60000);
    /* jitter: 0.8 .. 1.2 of the wait, never past the cap */
    assert_int_equal(tn_notify_backoff_ms(1, 500, 60000, 0.0), 400);
    assert_int_equal(tn_notify_backoff_ms(1, 500, 60000, 0.999999), 600);
    assert_int_equal(tn_notify_backoff_ms(10, 500, 60000, 0.999999), 60000);
    assert_int_equal(tn_notify_backoff_ms(10, 500, 60000, 0.0), 48000);
    assert_int_equal(tn_notify_backoff_ms(1, 0, 60000, 0.3), 0);
}

static void mask(int (*fn)(const char *, tn_buf_t *), const char *in, const char *want)
{
    tn_buf_t b;
    tn_buf_init(&b);
    assert_int_equal(fn(in, &b), 0);
    assert_string_equal(b.data, want);
    tn_buf_deinit(&b);
}

static void test_masking(void **state)
{
    (void)state;
    mask(tn_notify_mask_url, "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
         "https://hooks.slack.com/***");
    mask(tn_notify_mask_url, "https://mm.example.com/hooks/xxx-generatedkey-xxx",
         "https://mm.example.com/***");
    mask(tn_notify_mask_url, "https://events.pagerduty.com/v2/enqueue",
         "https://events.pagerduty.com/***");
    mask(tn_notify_mask_url, "http://user:pass@h:8080/a?token=t#f", "http://***@h:8080/***?***");
    mask(tn_notify_mask_url, "http://h:8080/", "http://h:8080");
    mask(tn_notify_mask_url, "http://h?key=secret", "http://h?***");
    mask(tn_notify_mask_url, "not a url", "***");
    mask(tn_notify_mask_key, "R0UTINGKEYSECRET0123456789abcdef", "***cdef");
    mask(tn_notify_mask_key, "short", "***");
    mask(tn_notify_mask_key, "", "***");
    assert_string_equal(tn_notify_kind_name(TN_NOTIFY_PAGERDUTY), "pagerduty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pd_trigger_vector),
        cmocka_unit_test(test_pd_trigger_verbatim_is_the_same),
        cmocka_unit_test(test_pd_acknowledge_resolve_vectors),
        cmocka_unit_test(test_pd_minimal_and_timestamp_ms),
        cmocka_unit_test(test_pd_field_order),
        cmocka_unit_test(test_pd_errors),
        cmocka_unit_test(test_slack),
        cmocka_unit_test(test_mattermost),
        cmocka_unit_test(test_accepted_and_retryable),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_masking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
