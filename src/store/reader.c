#include "store/reader.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef enum { ST_IDLE, ST_CREATING, ST_READING, ST_CONSUMING, ST_ACKING, ST_WAIT } state_t;

struct tn_reader {
    tn_redis_t *conn;
    char *stream, *group, *consumer;
    unsigned batch, block_ms;
    tn_reader_batch_cb cb;
    void *arg;
    state_t st;
    int group_ready;
    int history; /* still reading our own pending entries (ID 0) */
    int destroyed;
    int busy; /* a redis command is outstanding */
    char **ack_ids;
    size_t nack;
    uint64_t acked;
    uv_timer_t *retry; /* heap: freed in its close callback */
    tn_metric_t *m_read;
};

const char *tn_entry_get(const tn_entry_t *e, const char *name)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (strcmp(e->names[i], name) == 0) return e->values[i];
    return NULL;
}

static void step(tn_reader_t *rd);

static void free_acks(tn_reader_t *rd)
{
    for (size_t i = 0; i < rd->nack; i++)
        free(rd->ack_ids[i]);
    free(rd->ack_ids);
    rd->ack_ids = NULL;
    rd->nack = 0;
}

static void really_free(tn_reader_t *rd)
{
    free_acks(rd);
    free(rd->stream);
    free(rd->group);
    free(rd->consumer);
    free(rd);
}

static void on_timer_closed(uv_handle_t *h)
{
    tn_reader_t *rd = h->data;
    free(h);
    if (rd) {
        rd->retry = NULL;
        if (!rd->busy) really_free(rd);
    }
}

/* Returns 1 when the reader was destroyed and is now freed (caller must stop). */
static int finish_cmd(tn_reader_t *rd)
{
    rd->busy = 0;
    if (rd->destroyed) {
        if (!rd->retry) really_free(rd);
        return 1;
    }
    return 0;
}

static void on_retry(uv_timer_t *t)
{
    tn_reader_t *rd = t->data;
    rd->st = ST_IDLE;
    step(rd);
}

static void retry_later(tn_reader_t *rd, unsigned ms)
{
    rd->st = ST_WAIT;
    uv_timer_start(rd->retry, on_retry, ms, 0);
}

static void on_group(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    (void)r;
    tn_reader_t *rd = arg;
    if (finish_cmd(rd)) return;
    if (err) return retry_later(rd, 500);
    if (tn_reply_is_error(rep)) {
        const char *msg = tn_reply_str(rep, NULL);
        if (!msg || strncmp(msg, "BUSYGROUP", 9) != 0) {
            tn_log_error("store", "cannot create consumer group %s on %s: %s", rd->group,
                         rd->stream, msg ? msg : "?");
            return retry_later(rd, 2000);
        }
    }
    rd->group_ready = 1;
    rd->st = ST_IDLE;
    step(rd);
}

static void on_ack(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    (void)r;
    tn_reader_t *rd = arg;
    if (finish_cmd(rd)) return;
    if (err || tn_reply_is_error(rep)) {
        tn_log_warn("store", "XACK on %s failed (%s); retrying", rd->stream,
                    err ? tn_strerror(err) : tn_reply_str(rep, NULL));
        return retry_later(rd, 200); /* step() acks again before reading on */
    }
    rd->acked += rd->nack;
    free_acks(rd);
    rd->st = ST_IDLE;
    step(rd);
}

static void send_ack(tn_reader_t *rd)
{
    if (rd->nack == 0) {
        rd->st = ST_IDLE;
        return step(rd);
    }
    const char **argv = malloc(sizeof(char *) * (rd->nack + 3));
    if (!argv) return retry_later(rd, 100);
    argv[0] = "XACK";
    argv[1] = rd->stream;
    argv[2] = rd->group;
    for (size_t i = 0; i < rd->nack; i++)
        argv[3 + i] = rd->ack_ids[i];
    rd->st = ST_ACKING;
    rd->busy = 1;
    int rc = tn_redis_cmd_argv(rd->conn, on_ack, rd, 0, (int)rd->nack + 3, argv, NULL);
    free(argv);
    if (rc) {
        rd->busy = 0;
        retry_later(rd, 500);
    }
}

static void on_read(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    (void)r;
    tn_reader_t *rd = arg;
    if (finish_cmd(rd)) return;
    if (err) return retry_later(rd, 200);
    if (tn_reply_is_error(rep)) {
        const char *msg = tn_reply_str(rep, NULL);
        tn_log_warn("store", "XREADGROUP on %s: %s", rd->stream, msg ? msg : "?");
        if (msg && strncmp(msg, "NOGROUP", 7) == 0) rd->group_ready = 0;
        return retry_later(rd, 500);
    }
    /* [[stream, [[id, [f, v, ...]], ...]]] or nil on timeout */
    const tn_redis_reply_t *entries = NULL;
    if (tn_reply_type(rep) == TN_REPLY_ARRAY && tn_reply_len(rep) > 0) {
        const tn_redis_reply_t *s0 = tn_reply_elem(rep, 0);
        if (tn_reply_type(s0) == TN_REPLY_ARRAY && tn_reply_len(s0) == 2)
            entries = tn_reply_elem(s0, 1);
    }
    size_t n = entries ? tn_reply_len(entries) : 0;
    if (n == 0) {
        if (rd->history) rd->history = 0; /* pending list drained */
        rd->st = ST_IDLE;
        return step(rd);
    }
    tn_entry_t *ev = calloc(n, sizeof *ev);
    rd->ack_ids = calloc(n, sizeof *rd->ack_ids);
    const char **names = NULL, **values = NULL;
    size_t *lens = NULL, total = 0;
    for (size_t i = 0; i < n; i++) {
        const tn_redis_reply_t *e = tn_reply_elem(entries, i);
        if (tn_reply_len(e) == 2 && tn_reply_type(tn_reply_elem(e, 1)) == TN_REPLY_ARRAY)
            total += tn_reply_len(tn_reply_elem(e, 1)) / 2;
    }
    names = calloc(total + 1, sizeof *names);
    values = calloc(total + 1, sizeof *values);
    lens = calloc(total + 1, sizeof *lens);
    if (!ev || !rd->ack_ids || !names || !values || !lens) {
        free(ev), free(names), free(values), free(lens);
        free(rd->ack_ids);
        rd->ack_ids = NULL;
        tn_log_error("store", "out of memory reading %s", rd->stream);
        return retry_later(rd, 1000);
    }
    size_t k = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        const tn_redis_reply_t *e = tn_reply_elem(entries, i);
        const char *id = tn_reply_type(e) == TN_REPLY_ARRAY && tn_reply_len(e) >= 1
                             ? tn_reply_str(tn_reply_elem(e, 0), NULL)
                             : NULL;
        if (!id) continue;
        char *idc = strdup(id);
        if (!idc) continue; /* not acked: re-read later from the pending list */
        rd->ack_ids[rd->nack++] = idc;
        const tn_redis_reply_t *f = tn_reply_len(e) == 2 ? tn_reply_elem(e, 1) : NULL;
        /* a deleted entry shows as nil fields in the pending list: ack it, skip it */
        if (!f || tn_reply_type(f) != TN_REPLY_ARRAY) continue;
        ev[m].id = idc;
        ev[m].names = &names[k];
        ev[m].values = &values[k];
        ev[m].value_lens = &lens[k];
        size_t nf = tn_reply_len(f) / 2;
        for (size_t j = 0; j < nf; j++) {
            names[k + j] = tn_reply_str(tn_reply_elem(f, 2 * j), NULL);
            values[k + j] = tn_reply_str(tn_reply_elem(f, 2 * j + 1), &lens[k + j]);
            if (!names[k + j]) names[k + j] = "";
            if (!values[k + j]) values[k + j] = "";
        }
        ev[m].nfields = nf;
        k += nf;
        m++;
    }
    tn_metric_add(rd->m_read, (double)m);
    rd->st = ST_CONSUMING;
    rd->cb(rd, ev, m, rd->arg);
    free(ev), free(names), free(values), free(lens);
}

void tn_reader_done(tn_reader_t *rd)
{
    tn_require(rd->st == ST_CONSUMING);
    send_ack(rd);
}

static void step(tn_reader_t *rd)
{
    if (rd->destroyed || rd->busy || rd->st != ST_IDLE) return;
    if (!tn_redis_is_up(rd->conn)) return retry_later(rd, 200);
    if (rd->nack) return send_ack(rd); /* an earlier acknowledgement failed */
    if (!rd->group_ready) {
        const char *argv[] = {"XGROUP", "CREATE", rd->stream, rd->group, "0", "MKSTREAM"};
        rd->st = ST_CREATING;
        rd->busy = 1;
        if (tn_redis_cmd_argv(rd->conn, on_group, rd, 0, 6, argv, NULL)) {
            rd->busy = 0;
            retry_later(rd, 200);
        }
        return;
    }
    char count[16], block[16];
    snprintf(count, sizeof count, "%u", rd->batch);
    snprintf(block, sizeof block, "%u", rd->block_ms);
    const char *argv[] = {
        "XREADGROUP", "GROUP",   rd->group,  rd->consumer,           "COUNT", count, "BLOCK",
        block,        "STREAMS", rd->stream, rd->history ? "0" : ">"};
    rd->st = ST_READING;
    rd->busy = 1;
    if (tn_redis_cmd_argv(rd->conn, on_read, rd, rd->block_ms + 5000, 11, argv, NULL)) {
        rd->busy = 0;
        retry_later(rd, 200);
    }
}

tn_reader_t *tn_reader_create(uv_loop_t *loop, tn_redis_t *conn, const tn_reader_opts_t *opts,
                              tn_reader_batch_cb cb, void *arg)
{
    tn_reader_t *rd = calloc(1, sizeof *rd);
    if (!rd) return NULL;
    rd->conn = conn;
    rd->stream = strdup(opts->stream);
    rd->group = strdup(opts->group);
    rd->consumer = strdup(opts->consumer);
    rd->retry = malloc(sizeof *rd->retry);
    if (!rd->stream || !rd->group || !rd->consumer || !rd->retry) {
        free(rd->retry);
        rd->retry = NULL;
        really_free(rd);
        return NULL;
    }
    rd->batch = opts->batch ? opts->batch : 512;
    rd->block_ms = opts->block_ms ? opts->block_ms : 1000;
    rd->cb = cb;
    rd->arg = arg;
    rd->history = 1;
    rd->st = ST_IDLE;
    uv_timer_init(loop, rd->retry);
    rd->retry->data = rd;
    rd->m_read = tn_metrics_counter("tocsin_stream_entries_read_total", NULL,
                                    "Stream entries read by consumer groups.");
    return rd;
}

void tn_reader_start(tn_reader_t *rd)
{
    step(rd);
}

uint64_t tn_reader_acked(const tn_reader_t *rd)
{
    return rd->acked;
}

void tn_reader_destroy(tn_reader_t *rd)
{
    if (!rd) return;
    rd->destroyed = 1;
    uv_timer_stop(rd->retry);
    uv_close((uv_handle_t *)rd->retry, on_timer_closed);
    /* freed by on_timer_closed when no command is outstanding, else by finish_cmd */
}
