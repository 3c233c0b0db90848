#include "store/streams.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tn_streams {
    tn_redis_t *r;
    char *prefix;
    char maxlen[24];
    char *keys[TN_STREAM__COUNT];
    tn_metric_t *written, *failed;
};

/* One logical write made of several commands. */
typedef struct {
    unsigned pending;
    int err;
    tn_streams_cb cb;
    void *arg;
} batch_t;

tn_streams_t *tn_streams_create(tn_redis_t *r, const char *prefix, int64_t maxlen)
{
    tn_streams_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->r = r;
    snprintf(s->maxlen, sizeof s->maxlen, "%lld", (long long)maxlen);
    static const char *fmt[TN_STREAM__COUNT] = {"%s:samples:{0}", "%s:anomalies", "%s:incidents",
                                                "%s:audit", "%s:events"};
    s->prefix = strdup(prefix);
    if (!s->prefix) goto fail;
    for (int i = 0; i < TN_STREAM__COUNT; i++) {
        size_t n = strlen(prefix) + strlen(fmt[i]) + 1;
        if (!(s->keys[i] = malloc(n))) goto fail;
        snprintf(s->keys[i], n, fmt[i], prefix);
    }
    s->written = tn_metrics_counter("tocsin_store_entries_written_total", NULL,
                                    "Stream entries written to Redis.");
    s->failed =
        tn_metrics_counter("tocsin_store_write_errors_total", NULL, "Stream writes that failed.");
    return s;
fail:
    tn_streams_destroy(s);
    return NULL;
}

void tn_streams_destroy(tn_streams_t *s)
{
    if (!s) return;
    for (int i = 0; i < TN_STREAM__COUNT; i++)
        free(s->keys[i]);
    free(s->prefix);
    free(s);
}

const char *tn_streams_key(const tn_streams_t *s, tn_stream_kind_t kind)
{
    return s->keys[kind];
}
const char *tn_streams_prefix(const tn_streams_t *s)
{
    return s->prefix;
}

static void on_reply(tn_redis_t *r, const tn_redis_reply_t *reply, int err, void *arg)
{
    (void)r;
    batch_t *b = arg;
    if (!err && reply && tn_reply_is_error(reply)) {
        tn_log_warn("store", "redis error reply: %s", tn_reply_str(reply, NULL));
        err = TN_EPROTO;
    }
    if (err && !b->err) b->err = err;
    if (--b->pending == 0) {
        if (b->cb) b->cb(b->err, b->arg);
        free(b);
    }
}

static batch_t *batch_new(tn_streams_cb cb, void *arg)
{
    batch_t *b = calloc(1, sizeof *b);
    if (b) b->cb = cb, b->arg = arg;
    return b;
}

/* Sends one command in a batch. On a send failure after earlier commands were sent, the error
 * is recorded and the batch completes through the replies already pending. Returns whether
 * anything is pending. */
static int batch_send(tn_streams_t *s, batch_t *b, int argc, const char **argv, const size_t *lens)
{
    b->pending++;
    int rc = tn_redis_cmd_argv(s->r, on_reply, b, 0, argc, argv, lens);
    if (rc) {
        b->pending--;
        if (!b->err) b->err = rc;
        tn_metric_inc(s->failed);
        return rc;
    }
    return 0;
}

/* Finishes a batch after the sends: returns the error to give the caller when nothing was
 * sent (the batch is freed and cb is not called), or 0 when replies will complete it. */
static int batch_close(batch_t *b, unsigned sent)
{
    if (sent == 0) {
        int err = b->err ? b->err : TN_EINVAL;
        free(b);
        return err;
    }
    return 0;
}

int tn_streams_add_samples(tn_streams_t *s, const tn_sample_t *samples, size_t n, tn_streams_cb cb,
                           void *arg)
{
    if (!tn_redis_is_up(s->r)) return TN_ECLOSED;
    batch_t *b = batch_new(cb, arg);
    if (!b) return TN_ENOMEM;
    b->pending = 1; /* guard: completes only after the loop */
    unsigned sent = 0;
    tn_buf_t labels;
    tn_buf_init(&labels);
    for (size_t i = 0; i < n && !b->err; i++) {
        const tn_sample_t *x = &samples[i];
        char value[32], ts[24];
        snprintf(value, sizeof value, "%.17g", x->value);
        snprintf(ts, sizeof ts, "%lld", (long long)x->ts_ms);
        tn_buf_reset(&labels);
        if (tn_sample_labels_json(x, &labels)) {
            b->err = TN_ENOMEM;
            break;
        }
        const char *argv[18] = {"XADD",    s->keys[TN_STREAM_SAMPLES],
                                "MAXLEN",  "~",
                                s->maxlen, "*",
                                "name",    x->name,
                                "labels",  labels.data,
                                "value",   value,
                                "ts",      ts,
                                "sid",     x->sid,
                                "unit",    x->unit};
        int argc = x->unit ? 18 : 16;
        if (batch_send(s, b, argc, argv, NULL) == 0) sent++;
    }
    tn_buf_deinit(&labels);
    tn_metric_add(s->written, sent);
    if (sent == 0) {
        b->pending = 0;
        return batch_close(b, 0);
    }
    /* drop the guard */
    b->pending--;
    return 0;
}

int tn_streams_xadd(tn_streams_t *s, const char *key, const char *const *fields, size_t npairs,
                    tn_streams_cb cb, void *arg)
{
    if (npairs > 64) return TN_EINVAL;
    const char *argv[6 + 128];
    int argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = key;
    argv[argc++] = "MAXLEN";
    argv[argc++] = "~";
    argv[argc++] = s->maxlen;
    argv[argc++] = "*";
    for (size_t i = 0; i < npairs * 2; i++)
        argv[argc++] = fields[i] ? fields[i] : "";
    int rc = tn_streams_cmd(s, argc, argv, cb, arg);
    if (!rc) tn_metric_inc(s->written);
    return rc;
}

int tn_streams_cmd(tn_streams_t *s, int argc, const char **argv, tn_streams_cb cb, void *arg)
{
    if (!tn_redis_is_up(s->r)) return TN_ECLOSED;
    batch_t *b = batch_new(cb, arg);
    if (!b) return TN_ENOMEM;
    int rc = batch_send(s, b, argc, argv, NULL);
    if (rc) {
        free(b);
        return rc;
    }
    return 0;
}
