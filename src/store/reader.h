/* reader.h - a consumer-group reader of one stream, on its own Redis connection.
 *
 * Reads one or more streams (the partitions of a kind) with one consumer group.
 * Creates the group (XGROUP CREATE ... 0 MKSTREAM: nothing already in the stream is skipped),
 * first re-reads this consumer's pending entries (ID 0: work left unacknowledged by a crash),
 * then new ones (">") with XREADGROUP ... COUNT batch BLOCK block_ms. Each batch goes to the
 * consumer's callback; the consumer calls tn_reader_done() when the batch is safely processed
 * (its own writes acknowledged), and only then are the entries XACKed and the next batch read.
 * So an entry is acknowledged only after it is processed, and a slow consumer slows reading
 * (backpressure) instead of piling up memory. Redis errors are logged and retried. */
#ifndef TN_STORE_READER_H
#define TN_STORE_READER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "store/redis.h"

typedef struct tn_reader tn_reader_t;

/* One entry. All pointers borrowed for the duration of the batch callback only. */
typedef struct {
    const char *stream; /* the key it came from */
    const char *id;
    size_t nfields;
    const char *const *names;
    const char *const *values;
    const size_t *value_lens;
} tn_entry_t;

/* Returns the value of field name, or NULL. */
const char *tn_entry_get(const tn_entry_t *e, const char *name);

typedef void (*tn_reader_batch_cb)(tn_reader_t *rd, const tn_entry_t *entries, size_t n, void *arg);

typedef struct {
    const char *const *streams; /* keys, copied; read together in one XREADGROUP */
    unsigned nstreams;
    const char *group;    /* copied */
    const char *consumer; /* copied */
    unsigned batch;       /* COUNT */
    unsigned block_ms;    /* BLOCK */
} tn_reader_opts_t;

/* conn: a dedicated connection (borrowed, must outlive the reader) used only by this reader,
 * since XREADGROUP BLOCK holds it. loop borrowed. NULL on allocation failure. */
tn_reader_t *tn_reader_create(uv_loop_t *loop, tn_redis_t *conn, const tn_reader_opts_t *opts,
                              tn_reader_batch_cb cb, void *arg);

/* Starts reading (now, or once the connection is up). */
void tn_reader_start(tn_reader_t *rd);

/* The consumer finished the batch it was given: acknowledge it and read on. */
void tn_reader_done(tn_reader_t *rd);

/* The consumer could not process the batch: nothing is acknowledged, and after delay_ms the
 * reader reads its pending entries again (at-least-once delivery). */
void tn_reader_retry(tn_reader_t *rd, unsigned delay_ms);

/* Entries read and acknowledged so far. */
uint64_t tn_reader_acked(const tn_reader_t *rd);

/* Stops reading; a batch in the consumer's hands is not acknowledged (it stays pending and is
 * re-read at the next start). Frees once no command is outstanding. */
void tn_reader_destroy(tn_reader_t *rd);

#endif
