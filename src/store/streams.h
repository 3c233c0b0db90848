/* streams.h - the engine's Redis key layout and stream writes.
 *
 * Keys (prefix "tocsin" by default). Data streams are split into `partitions` partitions; the
 * "{p}" in their names is a Redis Cluster hash tag, so each partition lives in one slot and the
 * same layout runs on a cluster, and several engines can share the partitions.
 *   <prefix>:samples:{p}     normalized samples, partitioned by series id   (raw, "hot" tier)
 *   <prefix>:logs:{p}        log records, partitioned by service
 *   <prefix>:spans:{p}       trace spans, partitioned by trace id
 *   <prefix>:rollup:5m:{p}   5-minute rollups per series                     ("warm" tier)
 *   <prefix>:rollup:1h:{p}   1-hour rollups per series                       ("cold" tier)
 *   <prefix>:events          alerts and change events
 *   <prefix>:anomalies       anomalies found by detect
 *   <prefix>:incidents       incident lifecycle events
 *   <prefix>:incident:<id>   hash: the incident's current state
 *   <prefix>:audit           runbook runs and steps
 * Retention: the partitioned streams are trimmed by age with XTRIM ... MINID ~ <now - keep>
 * (hot_ms for samples, logs and spans; warm_ms and cold_ms for the rollups), sent by
 * tn_streams_trim for the partitions written since its last call (the engine calls it every
 * second: trimming on every XADD cost Redis a tenth of its write rate); the others with
 * XADD ... MAXLEN ~ maxlen.
 *
 * Sample entries (docs/ingestion.md): with batch_max 1, one sample per entry with the fields
 * name, labels, value, ts, sid [, unit]; otherwise up to batch_max samples of one partition per
 * entry: fields "n" (count) and "samples": one line per sample,
 *   sid TAB name TAB labels-json TAB value TAB ts TAB unit LF
 * Readers accept both forms. */
#ifndef TN_STORE_STREAMS_H
#define TN_STORE_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/sample.h"
#include "store/redis.h"

typedef struct tn_streams tn_streams_t;
typedef struct tn_wgroup tn_wgroup_t;

typedef enum {
    TN_STREAM_SAMPLES = 0, /* partition 0 of the samples (use tn_streams_pkey for others) */
    TN_STREAM_ANOMALIES,
    TN_STREAM_INCIDENTS,
    TN_STREAM_AUDIT,
    TN_STREAM_EVENTS,
    TN_STREAM__COUNT
} tn_stream_kind_t;

typedef enum {
    TN_PSTREAM_SAMPLES = 0,
    TN_PSTREAM_LOGS,
    TN_PSTREAM_SPANS,
    TN_PSTREAM_ROLLUP_5M,
    TN_PSTREAM_ROLLUP_1H,
    TN_PSTREAM__COUNT
} tn_pstream_kind_t;

typedef struct {
    const char *prefix;  /* copied */
    unsigned partitions; /* >= 1 */
    unsigned batch_max;  /* samples per entry; 1 = one entry per sample */
    int64_t maxlen;      /* MAXLEN ~ of the unpartitioned streams */
    int64_t hot_ms;      /* age kept in samples, logs, spans */
    int64_t warm_ms;     /* age kept in the 5-minute rollups */
    int64_t cold_ms;     /* age kept in the 1-hour rollups */
} tn_streams_opts_t;

/* Called once when every command of a write finished: err 0 when all succeeded, else the
 * first error (TN_ECLOSED, TN_ETIMEDOUT, TN_EPROTO for a Redis error reply). */
typedef void (*tn_streams_cb)(int err, void *arg);

/* r borrowed (must outlive). NULL on allocation failure. */
tn_streams_t *tn_streams_create(tn_redis_t *r, const tn_streams_opts_t *opts);
void tn_streams_destroy(tn_streams_t *s);

/* Borrowed key names. */
const char *tn_streams_key(const tn_streams_t *s, tn_stream_kind_t kind);
const char *tn_streams_pkey(const tn_streams_t *s, tn_pstream_kind_t kind, unsigned partition);
const char *tn_streams_prefix(const tn_streams_t *s);
unsigned tn_streams_partitions(const tn_streams_t *s);
/* Commands sent on the streams' connection and not answered yet: how far Redis is behind. */
unsigned tn_streams_backlog(const tn_streams_t *s);
/* Partition of a series id (16 hex digits), or of any other string (hashed). */
unsigned tn_streams_partition_of(const tn_streams_t *s, const char *key);

/* ---- write groups: many pipelined commands, one completion --------------------------------
 * tn_streams_group() opens a group; each add sends its command(s) at once (pipelined); after
 * the last add, tn_wgroup_close() arms the completion: cb(err, arg) is called exactly once, when
 * every reply is in — possibly inside tn_wgroup_close() when nothing is pending (cb then gets
 * the first send error, or 0 when nothing was added). Returns NULL on allocation failure. */
tn_wgroup_t *tn_streams_group(tn_streams_t *s, tn_streams_cb cb, void *arg);
/* XADD to an unpartitioned key (with MAXLEN ~ maxlen) or to a partition (no trim argument: the
 * partition is marked for the next tn_streams_trim). fields: npairs name/value pairs, copied. */
int tn_wgroup_xadd(tn_wgroup_t *g, const char *key, const char *const *fields, const size_t *lens,
                   size_t npairs);
int tn_wgroup_pxadd(tn_wgroup_t *g, tn_pstream_kind_t kind, unsigned partition,
                    const char *const *fields, const size_t *lens, size_t npairs);
/* Samples, grouped by partition into entries of at most batch_max samples. */
int tn_wgroup_samples(tn_wgroup_t *g, const tn_sample_t *samples, size_t n);
/* Any command. */
int tn_wgroup_cmd(tn_wgroup_t *g, int argc, const char **argv, const size_t *lens);
/* Samples written through this group so far (entries counted separately in /metrics). */
void tn_wgroup_close(tn_wgroup_t *g);

/* Retention by age: XTRIM <key> MINID ~ <now_ms - keep> for every partition written since the
 * last call (none when Redis is down: they stay marked). Replies are not awaited; an error reply
 * is logged. Returns the number of commands sent. */
int tn_streams_trim(tn_streams_t *s, int64_t now_ms);

/* ---- one-shot forms (a group of one) -------------------------------------------------------
 * 0 when the command was sent (cb will be called), or TN_ECLOSED / TN_ENOMEM (cb not called). */
int tn_streams_add_samples(tn_streams_t *s, const tn_sample_t *samples, size_t n, tn_streams_cb cb,
                           void *arg);
int tn_streams_xadd(tn_streams_t *s, const char *key, const char *const *fields, size_t npairs,
                    tn_streams_cb cb, void *arg);
int tn_streams_cmd(tn_streams_t *s, int argc, const char **argv, tn_streams_cb cb, void *arg);

/* ---- decoding sample entries (for readers) -------------------------------------------------
 * A decoded sample: borrowed pointers into the entry's text, valid while the entry is. */
typedef struct {
    const char *sid;
    size_t sid_len;
    const char *name;
    size_t name_len;
    const char *labels; /* canonical JSON object text */
    size_t labels_len;
    double value;
    int64_t ts_ms;
    const char *unit;
    size_t unit_len;
} tn_sample_view_t;

/* Calls fn for each sample of an entry given as field name/value arrays (either form).
 * Returns the number of samples seen, or -1 when the entry is malformed (fn may have been called
 * for the samples before the error). */
int tn_streams_decode_samples(size_t nfields, const char *const *names, const char *const *values,
                              const size_t *lens, void (*fn)(const tn_sample_view_t *v, void *arg),
                              void *arg);

#endif
