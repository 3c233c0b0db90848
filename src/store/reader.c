/* reader.c - a consumer-group reader over one or more streams. */
#include "store/reader.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ST_IDLE, ST_BUSY, ST_CONSUMING, ST_WAIT } state_t;

typedef struct {
    unsigned stream;
    char *id;
} ack_t;

struct tn_reader {
    tn_redis_t *conn;
    char **streams;
    unsigned nstreams;
    char *group, *consumer;
    unsigned batch, block_ms;
    tn_reader_batch_cb cb;
    void *arg;
    state_t st;
    unsigned groups_ready; /* streams whose group exists */
    int history;           /* still reading our own pending entries (ID 0) */
    int destroyed;
    int busy; /* redis commands outstanding */
    int failed;
    ack_t *acks;
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
        free(rd->acks[i].id);
    free(rd->acks);
    rd->acks = NULL;
    rd->nack = 0;
}

static void really_free(tn_reader_t *rd)
{
    free_acks(rd);
    for (unsigned i = 0; i < rd->nstreams; i++)
        free(rd->streams[i]);
    free(rd->streams);
    free(rd->group);
    free(rd->consumer);
    free(rd);
}

static void on_timer_closed(uv_handle_t *h)
{
    tn_reader_t *rd = h->data;
    free(h);
    rd->retry = NULL;
    if (!rd->busy) really_free(rd);
}

/* Returns 1 when the reader was destroyed and is now freed (caller must stop). */
static int finish_cmd(tn_reader_t *rd)
{
    rd->busy--;
    if (rd->destroyed) {
        if (!rd->busy && !rd->retry) really_free(rd);
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

static int send_cmd(tn_reader_t *rd, tn_redis_cb cb, uint64_t timeout, int argc, const char **argv)
{
    rd->busy++;
    int rc = tn_redis_cmd_argv(rd->conn, cb, rd, timeout, argc, argv, NULL);
    if (rc) rd->busy--;
    return rc;
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
                         rd->streams[rd->groups_ready], msg ? msg : "?");
            return retry_later(rd, 2000);
        }
    }
    rd->groups_ready++;
    rd->st = ST_IDLE;
    step(rd);
}

static void on_ack(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    (void)r;
    tn_reader_t *rd = arg;
    if (err || tn_reply_is_error(rep)) {
        if (!rd->failed)
            tn_log_warn("store", "XACK failed (%s); acknowledging again",
                        err ? tn_strerror(err) : tn_reply_str(rep, NULL));
        rd->failed = 1;
    }
    if (finish_cmd(rd) || rd->busy) return;
    if (rd->failed) {
        rd->failed = 0;
        return retry_later(rd, 200); /* step() acks again (XACK is idempotent) */
    }
    rd->acked += rd->nack;
    free_acks(rd);
    rd->st = ST_IDLE;
    step(rd);
}

/* One XACK per stream that has entries to acknowledge. */
static void send_acks(tn_reader_t *rd)
{
    if (rd->nack == 0) {
        rd->st = ST_IDLE;
        return step(rd);
    }
    const char **argv = malloc(sizeof(char *) * (rd->nack + 3));
    if (!argv) return retry_later(rd, 100);
    rd->st = ST_BUSY;
    rd->failed = 0;
    int sent = 0;
    for (unsigned s = 0; s < rd->nstreams; s++) {
        int argc = 3;
        argv[0] = "XACK";
        argv[1] = rd->streams[s];
        argv[2] = rd->group;
        for (size_t i = 0; i < rd->nack; i++)
            if (rd->acks[i].stream == s) argv[argc++] = rd->acks[i].id;
        if (argc == 3) continue;
        if (send_cmd(rd, on_ack, 0, argc, argv)) {
            rd->failed = 1;
            break;
        }
        sent++;
    }
    free(argv);
    if (rd->failed && rd->busy == 0) {
        rd->failed = 0;
        retry_later(rd, 500);
    }
    (void)sent;
}

static int stream_index(const tn_reader_t *rd, const char *key)
{
    for (unsigned i = 0; i < rd->nstreams; i++)
        if (strcmp(rd->streams[i], key) == 0) return (int)i;
    return -1;
}

static void on_read(tn_redis_t *r, const tn_redis_reply_t *rep, int err, void *arg)
{
    (void)r;
    tn_reader_t *rd = arg;
    if (finish_cmd(rd)) return;
    if (err) return retry_later(rd, 200);
    if (tn_reply_is_error(rep)) {
        const char *msg = tn_reply_str(rep, NULL);
        tn_log_warn("store", "XREADGROUP %s: %s", rd->group, msg ? msg : "?");
        if (msg && strncmp(msg, "NOGROUP", 7) == 0) rd->groups_ready = 0;
        return retry_later(rd, 500);
    }
    /* [[stream, [[id, [f, v, ...]], ...]], ...] or nil on timeout */
    size_t ns = tn_reply_type(rep) == TN_REPLY_ARRAY ? tn_reply_len(rep) : 0;
    size_t n = 0, total = 0;
    for (size_t s = 0; s < ns; s++) {
        const tn_redis_reply_t *sr = tn_reply_elem(rep, s);
        if (tn_reply_type(sr) != TN_REPLY_ARRAY || tn_reply_len(sr) != 2) continue;
        const tn_redis_reply_t *entries = tn_reply_elem(sr, 1);
        size_t ne = tn_reply_len(entries);
        n += ne;
        for (size_t i = 0; i < ne; i++) {
            const tn_redis_reply_t *e = tn_reply_elem(entries, i);
            if (tn_reply_len(e) == 2 && tn_reply_type(tn_reply_elem(e, 1)) == TN_REPLY_ARRAY)
                total += tn_reply_len(tn_reply_elem(e, 1)) / 2;
        }
    }
    if (n == 0) {
        if (rd->history) rd->history = 0; /* pending lists drained */
        rd->st = ST_IDLE;
        return step(rd);
    }
    tn_entry_t *ev = calloc(n, sizeof *ev);
    rd->acks = calloc(n, sizeof *rd->acks);
    const char **names = calloc(total + 1, sizeof *names);
    const char **values = calloc(total + 1, sizeof *values);
    size_t *lens = calloc(total + 1, sizeof *lens);
    if (!ev || !rd->acks || !names || !values || !lens) {
        free(ev), free(names), free(values), free(lens);
        free(rd->acks);
        rd->acks = NULL;
        tn_log_error("store", "out of memory reading %s", rd->group);
        return retry_later(rd, 1000);
    }
    size_t k = 0, m = 0;
    for (size_t s = 0; s < ns; s++) {
        const tn_redis_reply_t *sr = tn_reply_elem(rep, s);
        if (tn_reply_type(sr) != TN_REPLY_ARRAY || tn_reply_len(sr) != 2) continue;
        const char *key = tn_reply_str(tn_reply_elem(sr, 0), NULL);
        int si = key ? stream_index(rd, key) : -1;
        if (si < 0) continue;
        const tn_redis_reply_t *entries = tn_reply_elem(sr, 1);
        for (size_t i = 0; i < tn_reply_len(entries); i++) {
            const tn_redis_reply_t *e = tn_reply_elem(entries, i);
            const char *id = tn_reply_type(e) == TN_REPLY_ARRAY && tn_reply_len(e) >= 1
                                 ? tn_reply_str(tn_reply_elem(e, 0), NULL)
                                 : NULL;
            if (!id) continue;
            char *idc = strdup(id);
            if (!idc) continue; /* not acked: re-read later from the pending list */
            rd->acks[rd->nack++] = (ack_t){(unsigned)si, idc};
            const tn_redis_reply_t *f = tn_reply_len(e) == 2 ? tn_reply_elem(e, 1) : NULL;
            /* a deleted entry shows as nil fields in the pending list: ack it, skip it */
            if (!f || tn_reply_type(f) != TN_REPLY_ARRAY) continue;
            ev[m].stream = rd->streams[si];
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
    }
    tn_metric_add(rd->m_read, (double)m);
    rd->st = ST_CONSUMING;
    rd->cb(rd, ev, m, rd->arg);
    free(ev), free(names), free(values), free(lens);
}

void tn_reader_done(tn_reader_t *rd)
{
    tn_require(rd->st == ST_CONSUMING);
    send_acks(rd);
}

void tn_reader_retry(tn_reader_t *rd, unsigned delay_ms)
{
    tn_require(rd->st == ST_CONSUMING);
    free_acks(rd);
    rd->history = 1; /* the batch is still in our pending list: read it again from there */
    retry_later(rd, delay_ms);
}

static void step(tn_reader_t *rd)
{
    if (rd->destroyed || rd->busy || rd->st != ST_IDLE) return;
    if (!tn_redis_is_up(rd->conn)) return retry_later(rd, 200);
    if (rd->nack) return send_acks(rd); /* an earlier acknowledgement failed */
    if (rd->groups_ready < rd->nstreams) {
        const char *argv[] = {"XGROUP",  "CREATE", rd->streams[rd->groups_ready],
                              rd->group, "0",      "MKSTREAM"};
        rd->st = ST_BUSY;
        if (send_cmd(rd, on_group, 0, 6, argv)) retry_later(rd, 200);
        return;
    }
    char count[16], block[16];
    snprintf(count, sizeof count, "%u", rd->batch);
    snprintf(block, sizeof block, "%u", rd->block_ms);
    int argc = 0;
    const char **argv = malloc(sizeof(char *) * (9 + 2 * rd->nstreams));
    if (!argv) return retry_later(rd, 200);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = rd->group;
    argv[argc++] = rd->consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    argv[argc++] = "BLOCK";
    argv[argc++] = block;
    argv[argc++] = "STREAMS";
    for (unsigned i = 0; i < rd->nstreams; i++)
        argv[argc++] = rd->streams[i];
    for (unsigned i = 0; i < rd->nstreams; i++)
        argv[argc++] = rd->history ? "0" : ">";
    rd->st = ST_BUSY;
    if (send_cmd(rd, on_read, rd->block_ms + 5000, argc, argv)) retry_later(rd, 200);
    free(argv);
}

tn_reader_t *tn_reader_create(uv_loop_t *loop, tn_redis_t *conn, const tn_reader_opts_t *opts,
                              tn_reader_batch_cb cb, void *arg)
{
    tn_reader_t *rd = calloc(1, sizeof *rd);
    if (!rd) return NULL;
    rd->conn = conn;
    rd->streams = calloc(opts->nstreams ? opts->nstreams : 1, sizeof(char *));
    rd->group = strdup(opts->group);
    rd->consumer = strdup(opts->consumer);
    rd->retry = malloc(sizeof *rd->retry);
    int ok = rd->streams && rd->group && rd->consumer && rd->retry && opts->nstreams;
    for (unsigned i = 0; ok && i < opts->nstreams; i++, rd->nstreams++)
        ok = (rd->streams[i] = strdup(opts->streams[i])) != NULL;
    if (!ok) {
        free(rd->retry);
        if (!rd->streams) rd->nstreams = 0;
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
