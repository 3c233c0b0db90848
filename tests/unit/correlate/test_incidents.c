/* test_incidents.c - correlate/incidents.c in memory: members and services, deduplication by
 * fingerprint, attach by id (and reopening within the window), merge (members, counts, onset,
 * fingerprints move; the absorbed one is "merged" and refuses changes), split (what moves,
 * what stays, the refusals), clearing by resolved alerts and the two auto-resolve rules, the
 * forgetting of old incidents, iteration order and the JSON forms. Redis is not connected
 * here: the writes fail and are logged, the in-memory state is what is tested (the writes are
 * tested through the engine in tests/integration/test_incidents.sh and test_replay.sh). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/log.h"
#include "correlate/incidents.h"
#include "store/redis.h"
#include "store/streams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    uv_loop_t loop;
    tn_redis_t *redis;
    tn_streams_t *streams;
    tn_incidents_t *in;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tn_log_set_level(TN_LOG_ERROR);
    uv_loop_init(&f->loop);
    tn_redis_opts_t ro = {.url = "redis://127.0.0.1:1", .name = "test"};
    f->redis = tn_redis_create(&f->loop, &ro);
    assert_non_null(f->redis);
    tn_streams_opts_t so = {.prefix = "t", .partitions = 1, .batch_max = 16};
    f->streams = tn_streams_create(f->redis, &so);
    assert_non_null(f->streams);
    f->in = tn_incidents_create(f->streams);
    assert_non_null(f->in);
    *state = f;
    return 0;
}

static void closed(void *arg)
{
    (void)arg;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    tn_incidents_destroy(f->in);
    tn_streams_destroy(f->streams);
    tn_redis_close(f->redis, closed, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_loop_close(&f->loop);
    free(f);
    return 0;
}

/* A signal as the rules pass it. */
static json_t *sig(const char *id, const char *kind, const char *name, const char *service,
                   const char *severity, int64_t ts)
{
    json_t *s =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:f, s:{s:s}}", "id", id, "kind", kind,
                  "name", name, "service", service, "severity", severity, "fingerprint", name, "ts",
                  (json_int_t)ts, "score", 0.5, "labels", "service", service);
    assert_non_null(s);
    return s;
}

static tn_incident_t *open_one(fx_t *f, const char *fp, json_t *s, int64_t now, int *created)
{
    tn_incident_open_t req = {.fingerprint = fp,
                              .title = fp,
                              .service = json_string_value(json_object_get(s, "service")),
                              .severity = "warning",
                              .alert = s,
                              .now_ms = now,
                              .reopen_window_ms = 600000};
    tn_incident_t *inc = NULL;
    int c = -1;
    assert_int_equal(tn_incidents_open(f->in, &req, &inc, &c, NULL, NULL), 0);
    json_decref(s);
    if (created) *created = c;
    return inc;
}

static void test_members_and_dedup(void **state)
{
    fx_t *f = *state;
    int c;
    tn_incident_t *a = open_one(
        f, "service:api", sig("a1", "alert", "HighLatency", "api", "warning", 1000), 1000, &c);
    assert_int_equal(c, 1);
    tn_incident_t *b = open_one(f, "service:api",
                                sig("a2", "alert", "HighErrors", "api", "critical", 900), 2000, &c);
    assert_int_equal(c, 0);
    assert_ptr_equal(a, b);
    open_one(f, "service:api", sig("x1", "anomaly", "latency_ms", "db", "", 3000), 3000, NULL);
    assert_int_equal(a->nmembers, 3);
    assert_int_equal(a->alerts, 3);
    assert_int_equal(a->alert_members, 2);
    assert_int_equal(a->active, 2);
    assert_int_equal(a->started_ms, 900);         /* the earliest signal's own time */
    assert_string_equal(a->severity, "critical"); /* its worst signal */
    assert_int_equal(a->nservices, 2);
    assert_string_equal(a->services[0], "api");
    assert_string_equal(a->services[1], "db");
    assert_string_equal(a->members[2].kind, "anomaly");
    assert_false(a->members[2].active);
    json_t *j = tn_incident_to_json_full(a);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "alert_count")), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "transitions"), 0), "state")),
                        "open");
    json_decref(j);
    j = tn_incident_to_json(a);
    assert_int_equal(json_integer_value(json_object_get(j, "alerts")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "services")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "last_alert_ms")), 3000);
    json_decref(j);
}

static void test_attach_and_reopen(void **state)
{
    fx_t *f = *state;
    tn_incident_t *a =
        open_one(f, "service:a", sig("a1", "alert", "X", "a", "warning", 1000), 1000, NULL);
    tn_incident_t *out = NULL;
    int reopened = -1;
    json_t *s = sig("b1", "alert", "Y", "b", "warning", 1500);
    assert_int_equal(
        tn_incidents_attach(f->in, a->id, s, 1500, 600000, &out, &reopened, NULL, NULL), 0);
    assert_ptr_equal(out, a);
    assert_int_equal(reopened, 0);
    assert_int_equal(
        tn_incidents_attach(f->in, "INC-none", s, 1500, 600000, &out, &reopened, NULL, NULL),
        TN_ENOTFOUND);
    assert_int_equal(
        tn_incidents_set_state(f->in, a->id, "resolved", "me", NULL, 2000, NULL, NULL, NULL, NULL),
        0);
    assert_null(tn_incidents_find(f->in, "service:a"));
    /* within the window: reopened */
    assert_int_equal(
        tn_incidents_attach(f->in, a->id, s, 2000 + 600000, 600000, &out, &reopened, NULL, NULL),
        0);
    assert_int_equal(reopened, 1);
    assert_string_equal(a->state, "open");
    assert_ptr_equal(tn_incidents_find(f->in, "service:a"), a);
    assert_int_equal(a->reopened, 1);
    /* resolved again, then too late */
    assert_int_equal(tn_incidents_set_state(f->in, a->id, "resolved", "me", NULL, 700000, NULL,
                                            NULL, NULL, NULL),
                     0);
    assert_int_equal(
        tn_incidents_attach(f->in, a->id, s, 700000 + 600001, 600000, &out, &reopened, NULL, NULL),
        TN_ENOTFOUND);
    json_decref(s);
    assert_int_equal(a->nmembers, 3);
    assert_string_equal(a->trans[a->ntrans - 1].state, "resolved");
}

static void test_merge(void **state)
{
    fx_t *f = *state;
    tn_incident_t *a =
        open_one(f, "service:a", sig("a1", "alert", "X", "a", "warning", 5000), 5000, NULL);
    tn_incident_t *b =
        open_one(f, "service:b", sig("b1", "alert", "Y", "b", "critical", 4000), 6000, NULL);
    open_one(f, "service:b", sig("b2", "alert", "Y2", "c", "warning", 6100), 6100, NULL);
    const char *why = NULL;
    assert_int_equal(tn_incidents_merge(f->in, a->id, a->id, "t", NULL, 7000, &why), TN_EINVAL);
    assert_non_null(why);
    assert_int_equal(tn_incidents_merge(f->in, a->id, "INC-none", "t", NULL, 7000, &why),
                     TN_ENOTFOUND);
    assert_int_equal(tn_incidents_merge(f->in, a->id, b->id, "t", "common cause", 7000, &why), 0);
    assert_string_equal(b->state, "merged");
    assert_string_equal(b->merged_into, a->id);
    assert_int_equal(b->nmembers, 0);
    assert_int_equal(a->nmembers, 3);
    assert_int_equal(a->alerts, 3);
    assert_int_equal(a->active, 3);
    assert_int_equal(a->started_ms, 4000);
    assert_string_equal(a->severity, "critical");
    assert_int_equal(a->nservices, 3);
    /* b's fingerprint now finds a: its next alerts join the merged incident */
    assert_ptr_equal(tn_incidents_find(f->in, "service:b"), a);
    int c;
    assert_ptr_equal(
        open_one(f, "service:b", sig("b3", "alert", "Y", "b", "warning", 7100), 7100, &c), a);
    assert_int_equal(c, 0);
    /* the merged one takes no more changes */
    assert_int_equal(tn_incidents_set_state(f->in, b->id, "acknowledged", "me", NULL, 7200, NULL,
                                            &why, NULL, NULL),
                     TN_EINVAL);
    assert_int_equal(tn_incidents_merge(f->in, a->id, b->id, "t", NULL, 7300, &why), TN_EINVAL);
    assert_int_equal(tn_incidents_open_count(f->in), 1);
    /* resolving a frees both fingerprints; an alert of b's reopens a (flap suppression) */
    assert_int_equal(
        tn_incidents_set_state(f->in, a->id, "resolved", "me", NULL, 8000, NULL, NULL, NULL, NULL),
        0);
    assert_null(tn_incidents_find(f->in, "service:b"));
    assert_ptr_equal(
        open_one(f, "service:a", sig("a2", "alert", "X", "a", "warning", 8100), 8100, &c), a);
    assert_int_equal(c, 2);
    assert_ptr_equal(tn_incidents_find(f->in, "service:b"), a);
}

static void test_split(void **state)
{
    fx_t *f = *state;
    tn_incident_t *a =
        open_one(f, "service:a", sig("m1", "alert", "X", "a", "warning", 100), 100, NULL);
    open_one(f, "service:a", sig("m2", "alert", "Y", "b", "critical", 200), 200, NULL);
    open_one(f, "service:a", sig("m3", "anomaly", "Z", "b", "", 300), 300, NULL);
    const char *why = NULL;
    tn_incident_t *n = NULL;
    const char *none[] = {"zz"};
    assert_int_equal(tn_incidents_split(f->in, a->id, none, 1, "fp:b", "b", "t", 400, &n, &why),
                     TN_EINVAL);
    const char *all[] = {"m1", "m2", "m3"};
    assert_int_equal(tn_incidents_split(f->in, a->id, all, 3, "fp:b", "b", "t", 400, &n, &why),
                     TN_EINVAL);
    const char *some[] = {"m3", "m2"};
    assert_int_equal(
        tn_incidents_split(f->in, a->id, some, 2, "service:a", "b", "t", 400, &n, &why),
        TN_EINVAL); /* open fp */
    assert_int_equal(
        tn_incidents_split(f->in, "INC-none", some, 2, "fp:b", "b", "t", 400, &n, &why),
        TN_ENOTFOUND);
    assert_int_equal(
        tn_incidents_split(f->in, a->id, some, 2, "fp:b", "team b", "t", 400, &n, &why), 0);
    assert_non_null(n);
    assert_int_equal(n->nmembers, 2);
    assert_int_equal(a->nmembers, 1);
    assert_string_equal(a->members[0].id, "m1");
    assert_int_equal(a->nservices, 1);
    assert_int_equal(n->nservices, 1);
    assert_string_equal(n->services[0], "b");
    assert_string_equal(n->service, "b");
    assert_string_equal(n->severity, "critical");
    assert_int_equal(n->started_ms, 200);
    assert_int_equal(n->active, 1); /* m2 fires; m3 is an anomaly */
    assert_int_equal(a->active, 1);
    assert_ptr_equal(tn_incidents_find(f->in, "fp:b"), n);
    assert_int_equal(tn_incidents_open_count(f->in), 2);
}

static void test_clear_and_expire(void **state)
{
    fx_t *f = *state;
    tn_incident_t *a =
        open_one(f, "service:a", sig("c1", "alert", "Flappy", "a", "warning", 1000), 1000, NULL);
    open_one(f, "service:a", sig("c2", "alert", "Other", "a", "warning", 1100), 1100, NULL);
    tn_incident_t *q =
        open_one(f, "service:q", sig("q1", "anomaly", "lat", "q", "", 1000), 1000, NULL);
    assert_int_equal(tn_incidents_clear(f->in, "Flappy", 2000), 1);
    assert_int_equal(a->active, 1);
    assert_int_equal(a->cleared_ms, 0);
    assert_int_equal(tn_incidents_clear(f->in, "Flappy", 2100), 0); /* already cleared */
    assert_int_equal(tn_incidents_clear(f->in, "Other", 3000), 1);
    assert_int_equal(a->cleared_ms, 3000);
    /* clear rule: not before clear_ms after the last resolve and the last signal */
    assert_int_equal(tn_incidents_expire(f->in, 3000 + 299999, 900000, 300000, 600000, 0), 0);
    assert_int_equal(tn_incidents_expire(f->in, 3000 + 300000, 900000, 300000, 600000, 0), 1);
    assert_string_equal(a->state, "resolved");
    assert_string_equal(q->state, "open"); /* anomalies never clear: only quiet time resolves */
    assert_int_equal(tn_incidents_expire(f->in, 1000 + 900000, 900000, 300000, 600000, 0), 1);
    assert_string_equal(q->state, "resolved");
    /* forgotten after the reopen window, unless kept */
    assert_int_equal(tn_incidents_expire(f->in, 1000 + 900000 + 600001, 900000, 300000, 600000, 1),
                     0);
    assert_non_null(tn_incidents_get(f->in, q->id));
    char qid[40];
    snprintf(qid, sizeof qid, "%s", q->id);
    tn_incidents_expire(f->in, 1000 + 900000 + 600001, 900000, 300000, 600000, 0);
    assert_null(tn_incidents_get(f->in, qid));
}

static void collect(tn_incident_t *inc, void *arg)
{
    char *s = arg;
    strcat(s, inc->fingerprint);
    strcat(s, ";");
}

static void test_order(void **state)
{
    fx_t *f = *state;
    char names[16][8];
    for (int i = 0; i < 16; i++) {
        snprintf(names[i], sizeof names[i], "f%02d", i);
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        open_one(f, names[i], sig(id, "alert", "X", "svc", "warning", 1000 + i), 1000 + i, NULL);
    }
    const char *why;
    assert_int_equal(tn_incidents_merge(f->in, tn_incidents_find(f->in, "f03")->id,
                                        tn_incidents_find(f->in, "f07")->id, "t", NULL, 2000, &why),
                     0);
    char all[256] = "", open[256] = "";
    tn_incidents_each(f->in, collect, all);
    tn_incidents_each_open(f->in, collect, open);
    assert_string_equal(all, "f00;f01;f02;f03;f04;f05;f06;f07;f08;f09;f10;f11;f12;f13;f14;f15;");
    assert_string_equal(open, "f00;f01;f02;f03;f04;f05;f06;f08;f09;f10;f11;f12;f13;f14;f15;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_members_and_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_and_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
