/* history.c - the incident history in Redis, read with blocking hiredis calls (history.h). */
#include "store/history.h"
#include "core/error.h"
#include "store/redis_internal.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static int64_t field_int(const redisReply *h, const char *name)
{
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && !strcmp(h->element[i]->str, name))
            return h->element[i + 1]->type == REDIS_REPLY_STRING
                       ? strtoll(h->element[i + 1]->str, NULL, 10)
                       : 0;
    return 0;
}

static const char *field_str(const redisReply *h, const char *name)
{
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && !strcmp(h->element[i]->str, name) &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            return h->element[i + 1]->str;
    return "";
}

static int failed(redisContext *c, redisReply *r, const char *what, tn_buf_t *err)
{
    tn_buf_printf(err, "%s: %s", what,
                  r && r->type == REDIS_REPLY_ERROR ? r->str
                  : c->err                          ? c->errstr
                                                    : "unexpected reply");
    freeReplyObject(r);
    return TN_EIO;
}

/* Reads the incident hashes: SCAN for the keys, then HGETALL each (pipelined per batch). */
static int load_incidents(redisContext *c, const char *prefix, int64_t since, int64_t until,
                          json_t *out, tn_buf_t *err)
{
    char pattern[256], cursor[32] = "0";
    snprintf(pattern, sizeof pattern, "%s:incident:*", prefix);
    size_t plen = strlen(prefix) + strlen(":incident:");
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING)
            return failed(c, r, "SCAN", err);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        size_t sent = 0;
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            if (strchr(k + plen, ':')) continue; /* <id>:timeline */
            redisAppendCommand(c, "HGETALL %s", k);
            sent++;
        }
        for (size_t i = 0; i < sent; i++) {
            redisReply *h = NULL;
            if (redisGetReply(c, (void **)&h) != REDIS_OK || !h || h->type != REDIS_REPLY_ARRAY) {
                freeReplyObject(r);
                return failed(c, h, "HGETALL", err);
            }
            int64_t opened = field_int(h, "opened_ms");
            if (h->elements && opened >= since && opened <= until) {
                json_t *o = json_pack(
                    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", field_str(h, "id"),
                    "title", field_str(h, "title"), "service", field_str(h, "service"), "severity",
                    field_str(h, "severity"), "state", field_str(h, "state"), "started_ms",
                    (json_int_t)field_int(h, "started_ms"), "opened_ms", (json_int_t)opened,
                    "acknowledged_ms", (json_int_t)field_int(h, "acknowledged_ms"), "mitigated_ms",
                    (json_int_t)field_int(h, "mitigated_ms"), "resolved_ms",
                    (json_int_t)field_int(h, "resolved_ms"));
                if (!o || json_array_append_new(out, o)) {
                    freeReplyObject(h);
                    freeReplyObject(r);
                    return TN_ENOMEM;
                }
            }
            freeReplyObject(h);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0"));
    return 0;
}

/* The run.started entries of the audit stream, a batch at a time. */
static int load_runs(redisContext *c, const char *prefix, json_t *out, tn_buf_t *err)
{
    char key[256], start[64] = "-";
    snprintf(key, sizeof key, "%s:audit", prefix);
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT 5000", key, start);
        if (!r || r->type != REDIS_REPLY_ARRAY) return failed(c, r, "XRANGE", err);
        if (r->elements == 0) {
            freeReplyObject(r);
            return 0;
        }
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
            const redisReply *kv = e->element[1];
            if (strcmp(field_str(kv, "event"), "run.started")) continue;
            json_t *o = json_pack(
                "{s:s, s:s, s:I, s:s, s:s, s:s, s:I}", "run", field_str(kv, "run"), "runbook",
                field_str(kv, "runbook"), "level", (json_int_t)field_int(kv, "level"), "incident",
                field_str(kv, "incident"), "status", field_str(kv, "status"), "origin",
                field_str(kv, "origin"), "ts", (json_int_t)field_int(kv, "ts"));
            if (!o || json_array_append_new(out, o)) {
                freeReplyObject(r);
                return TN_ENOMEM;
            }
        }
        /* the next batch starts after the last id: (id exclusive */
        snprintf(start, sizeof start, "(%s", r->element[r->elements - 1]->element[0]->str);
        freeReplyObject(r);
    }
}

int tn_history_load(const char *url, const char *prefix, int64_t since_ms, int64_t until_ms,
                    unsigned timeout_ms, json_t **incidents, json_t **runs, tn_buf_t *err)
{
    *incidents = *runs = NULL;
    tn__redis_addr_t a;
    if (tn__redis_parse_url(url, &a)) {
        tn_buf_printf(err, "bad Redis URL '%s' (redis://host:port[/db] or unix:/path)", url);
        return TN_EINVAL;
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    redisContext *c = a.path ? redisConnectUnixWithTimeout(a.path, tv)
                             : redisConnectWithTimeout(a.host, a.port, tv);
    if (!c || c->err) {
        tn_buf_printf(err, "cannot connect to %s: %s", a.desc, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        tn__redis_addr_deinit(&a);
        return TN_ECLOSED;
    }
    redisSetTimeout(c, tv);
    int rc = 0;
    if (a.db) {
        redisReply *r = redisCommand(c, "SELECT %d", a.db);
        if (!r || r->type == REDIS_REPLY_ERROR)
            rc = failed(c, r, "SELECT", err);
        else
            freeReplyObject(r);
    }
    json_t *inc = json_array(), *rn = json_array();
    if (!rc && (!inc || !rn)) rc = TN_ENOMEM;
    if (!rc) rc = load_incidents(c, prefix, since_ms, until_ms, inc, err);
    if (!rc) rc = load_runs(c, prefix, rn, err);
    redisFree(c);
    tn__redis_addr_deinit(&a);
    if (rc) {
        if (rc == TN_ENOMEM && !err->len) tn_buf_puts(err, "out of memory");
        json_decref(inc);
        json_decref(rn);
        return rc;
    }
    *incidents = inc;
    *runs = rn;
    return 0;
}
