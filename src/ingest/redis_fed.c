#include "ingest/redis_fed.h"
#include "ingest/inputs.h"
#include "ingest/writer.h"
#include "store/reader.h"
#include "core/error.h"
#include "core/json_arena.h"
#include "core/log.h"
#include "core/metrics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tn_redis_fed {
    tn_streams_t *streams;
    tn_reader_t *reader;
    char *keys[3];
    char *dead;
    unsigned pending; /* writes of the batch in hand */
    int failed;       /* one of them failed: re-read the batch instead of acknowledging */
    int stopping;
    tn_metric_t *m_ok, *m_dead;
};

static const char *field(const tn_entry_t *e, const char *name, size_t *len)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (strcmp(e->names[i], name) == 0) {
            if (len) *len = e->value_lens[i];
            return e->values[i];
        }
    return NULL;
}

static void free_all(tn_redis_fed_t *f)
{
    for (int i = 0; i < 3; i++)
        free(f->keys[i]);
    free(f->dead);
    free(f);
}

static void step_done(int err, void *arg)
{
    tn_redis_fed_t *f = arg;
    if (err) f->failed = 1;
    if (--f->pending) return;
    if (f->stopping) {
        free_all(f);
        return;
    }
    if (f->failed) {
        f->failed = 0;
        tn_log_warn("ingest",
                    "redis-fed write failed: %s; the batch stays pending and is read "
                    "again",
                    tn_strerror(err ? err : TN_EIO));
        tn_reader_retry(f->reader, 1000);
    } else {
        tn_reader_done(f->reader);
    }
}

static void dead_letter(tn_redis_fed_t *f, const tn_entry_t *e, const char *reason)
{
    tn_metric_inc(f->m_dead);
    tn_log_warn("ingest", "%s entry %s rejected: %s", e->stream, e->id, reason);
    const char *fields[] = {"stream", e->stream, "id", e->id, "reason", reason};
    f->pending++;
    if (tn_streams_xadd(f->streams, f->dead, fields, 3, step_done, f)) f->pending--;
}

/* Builds a JSON object from an entry's fields; `labels` parsed as JSON; numeric-looking
 * `value`/`ts` become numbers. */
static json_t *entry_json(const tn_entry_t *e, const char *ts_name)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < e->nfields; i++) {
        const char *k = e->names[i], *v = e->values[i];
        json_t *x = NULL;
        if (strcmp(k, "labels") == 0) {
            x = json_loadb(v, e->value_lens[i], 0, NULL);
        } else if (strcmp(k, "value") == 0 || strcmp(k, ts_name) == 0) {
            char *end;
            double d = strtod(v, &end);
            if (*v && !*end) x = json_real(d);
        }
        if (!x) x = json_stringn(v, e->value_lens[i]);
        if (!x) x = json_string("");
        json_object_set_new(o, strcmp(k, ts_name) == 0 ? "timestamp" : k, x);
    }
    return o;
}

static void on_batch(tn_reader_t *rd, const tn_entry_t *entries, size_t n, void *arg)
{
    (void)rd;
    tn_redis_fed_t *f = arg;
    f->pending = 1; /* guard */
    tn_batch_t batch;
    tn_batch_init(&batch);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    for (size_t i = 0; i < n; i++) {
        const tn_entry_t *e = &entries[i];
        const tn_input_t *input = NULL;
        const char *body = NULL;
        size_t len = 0;
        char *owned = NULL;
        tn_input_args_t args = {NULL};
        if (strcmp(e->stream, f->keys[2]) == 0) {
            const char *fmt = field(e, "format", NULL);
            body = field(e, "body", &len);
            args.precision = field(e, "precision", NULL);
            input = fmt ? tn_input_find(fmt) : NULL;
            if (!input || !body) {
                dead_letter(f, e,
                            !fmt     ? "missing field 'format'"
                            : !input ? "unknown format"
                                     : "missing field 'body'");
                continue;
            }
        } else {
            int samples = strcmp(e->stream, f->keys[0]) == 0;
            input = tn_input_find(samples ? "samples" : "events");
            json_t *o = entry_json(e, "ts");
            owned = o ? tn_json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
            if (!owned) {
                dead_letter(f, e, "out of memory");
                continue;
            }
            body = owned;
            len = strlen(owned);
        }
        tn_ingest_report_t rep;
        tn_ingest_report_init(&rep);
        tn_buf_reset(&fatal);
        tn_parse_opts_t o = {.now_ms = tn_now_ms(), .max_items = 1000000};
        tn_json_arena_t arena; /* the parse's jansson values die with it */
        tn_json_arena_begin(&arena);
        int rc = input->parse(body, len, &o, &args, &batch, &rep, &fatal);
        tn_json_arena_end(&arena);
        if (rc || rep.rejected) {
            tn_buf_t why;
            tn_buf_init(&why);
            tn_buf_printf(&why, "%s: %s", input->name,
                          rc ? (fatal.data ? fatal.data : tn_strerror(rc))
                             : (rep.errors.data ? rep.errors.data : "rejected"));
            dead_letter(f, e, why.data ? why.data : "rejected");
            tn_buf_deinit(&why);
        }
        tn_metric_add(f->m_ok, (double)rep.accepted);
        tn_ingest_report_deinit(&rep);
        free(owned);
    }
    if (tn_batch_count(&batch)) {
        f->pending++;
        tn_ingest_write(f->streams, &batch, step_done, f);
    }
    tn_batch_deinit(&batch);
    tn_buf_deinit(&fatal);
    step_done(0, f); /* drop the guard */
}

tn_redis_fed_t *tn_redis_fed_start(uv_loop_t *loop, tn_redis_t *conn, tn_streams_t *streams,
                                   const char *consumer)
{
    tn_redis_fed_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->streams = streams;
    static const char *names[3] = {"samples", "events", "raw"};
    const char *prefix = tn_streams_prefix(streams);
    size_t n = strlen(prefix) + 16;
    for (int i = 0; i < 3; i++) {
        if (!(f->keys[i] = malloc(n))) goto fail;
        snprintf(f->keys[i], n, "%s:in:%s", prefix, names[i]);
    }
    if (!(f->dead = malloc(n))) goto fail;
    snprintf(f->dead, n, "%s:in:dead", prefix);
    f->m_ok =
        tn_metrics_counter("tocsin_ingest_records_total", "input=\"redis\",result=\"accepted\"",
                           "Records received, by input and result.");
    f->m_dead =
        tn_metrics_counter("tocsin_ingest_records_total", "input=\"redis\",result=\"rejected\"",
                           "Records received, by input and result.");
    tn_reader_opts_t ro = {.streams = (const char *const *)f->keys,
                           .nstreams = 3,
                           .group = "tocsin-ingest",
                           .consumer = consumer,
                           .batch = 256,
                           .block_ms = 1000};
    f->reader = tn_reader_create(loop, conn, &ro, on_batch, f);
    if (!f->reader) goto fail;
    tn_reader_start(f->reader);
    tn_log_info("ingest", "reading Redis-fed inputs %s, %s, %s", f->keys[0], f->keys[1],
                f->keys[2]);
    return f;
fail:
    tn_redis_fed_stop(f);
    return NULL;
}

void tn_redis_fed_stop(tn_redis_fed_t *f)
{
    if (!f) return;
    f->stopping = 1;
    tn_reader_destroy(f->reader);
    f->reader = NULL;
    if (f->pending == 0) free_all(f); /* else the last write's callback frees it */
}
