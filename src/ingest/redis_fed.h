/* redis_fed.h - inputs that other programs fill directly with XADD (docs/ingestion.md).
 *
 *   <prefix>:in:samples   one sample per entry: name, value, labels (JSON object, optional),
 *                         ts (number in s/ms/us/ns by magnitude, or RFC 3339; optional), unit
 *   <prefix>:in:events    one change event per entry: type, service, title, ts, version,
 *                         labels (JSON) and any other fields (kept as data)
 *   <prefix>:in:raw       format (an input name: influx, prometheus, otlp_metrics, logs, ...)
 *                         and body (that protocol's payload), optionally precision
 * They are read with the consumer group "tocsin-ingest". A batch of entries is acknowledged only
 * after every record made from it is confirmed written to the engine's streams; an entry that
 * cannot be parsed is acknowledged too, after being copied with the reason to <prefix>:in:dead
 * (so it neither blocks the stream nor disappears). */
#ifndef TN_INGEST_REDIS_FED_H
#define TN_INGEST_REDIS_FED_H

#include <uv.h>

#include "store/redis.h"
#include "store/streams.h"

typedef struct tn_redis_fed tn_redis_fed_t;

/* conn: a dedicated connection (XREADGROUP BLOCK holds it); streams for the writes. All
 * borrowed. consumer copied. NULL on allocation failure. */
tn_redis_fed_t *tn_redis_fed_start(uv_loop_t *loop, tn_redis_t *conn, tn_streams_t *streams,
                                   const char *consumer);
void tn_redis_fed_stop(tn_redis_fed_t *f);

#endif
