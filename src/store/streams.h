/* streams.h - the engine's Redis key layout and stream writes.
 *
 * Keys (prefix "tocsin" by default; "{0}" is the Redis Cluster hash tag of partition 0):
 *   <prefix>:samples:{0}     normalized samples          (entry schema: docs/architecture.md)
 *   <prefix>:anomalies       anomalies found by detect
 *   <prefix>:incidents       incident lifecycle events
 *   <prefix>:incident:<id>   hash: the incident's current state
 *   <prefix>:audit           runbook runs and steps
 *   <prefix>:events          events emitted by scripts (deploys, notes, ...)
 * Every XADD carries MAXLEN ~ <maxlen>. */
#ifndef TN_STORE_STREAMS_H
#define TN_STORE_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/sample.h"
#include "store/redis.h"

typedef struct tn_streams tn_streams_t;

typedef enum {
    TN_STREAM_SAMPLES = 0,
    TN_STREAM_ANOMALIES,
    TN_STREAM_INCIDENTS,
    TN_STREAM_AUDIT,
    TN_STREAM_EVENTS,
    TN_STREAM__COUNT
} tn_stream_kind_t;

/* Called once when every command of a write finished: err 0 when all succeeded, else the
 * first error (TN_ECLOSED, TN_ETIMEDOUT, TN_EPROTO for a Redis error reply). */
typedef void (*tn_streams_cb)(int err, void *arg);

/* r borrowed (must outlive); prefix copied. NULL on allocation failure. */
tn_streams_t *tn_streams_create(tn_redis_t *r, const char *prefix, int64_t maxlen);
void tn_streams_destroy(tn_streams_t *s);

/* Borrowed key name. */
const char *tn_streams_key(const tn_streams_t *s, tn_stream_kind_t kind);
const char *tn_streams_prefix(const tn_streams_t *s);

/* XADDs each sample to the samples stream in one pipeline. The samples are formatted before
 * the call returns (caller keeps ownership). 0, or TN_ECLOSED/TN_ENOMEM (cb not called). */
int tn_streams_add_samples(tn_streams_t *s, const tn_sample_t *samples, size_t n, tn_streams_cb cb,
                           void *arg);

/* XADD key * field value ... (nfields pairs; strings copied by hiredis). Same contract. */
int tn_streams_xadd(tn_streams_t *s, const char *key, const char *const *fields, size_t npairs,
                    tn_streams_cb cb, void *arg);

/* Any command as argv, with the same completion contract (for HSET and friends). */
int tn_streams_cmd(tn_streams_t *s, int argc, const char **argv, tn_streams_cb cb, void *arg);

/* Writes of an entry's fields are from core/sample fields: name, labels (canonical JSON),
 * value (%.17g), ts (ms), sid, unit (optional). */

#endif
