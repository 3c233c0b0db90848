/* rollup.h - the warm and cold retention tiers: 5-minute and 1-hour rollups of every series.
 *
 * Each sample read by the engine is added to its series' current 5-minute and 1-hour buckets
 * (count, sum, min, max, last). A bucket is written when it closes: when a sample of a later
 * bucket arrives, or when the wall clock is `grace_ms` past the bucket's end (tn_rollup_flush,
 * called periodically). Entries go to <prefix>:rollup:5m:{p} and :rollup:1h:{p} (the series'
 * partition) with the fields sid, name, labels, bucket (start, ms), width (ms), count, sum, min,
 * max, last; the streams keep retention.warm_s and retention.cold_s of them.
 * Late samples for a bucket already written are counted and dropped from the rollup (the raw
 * stream still has them). */
#ifndef TN_STORE_ROLLUP_H
#define TN_STORE_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "store/streams.h"

typedef struct tn_rollup tn_rollup_t;

/* streams borrowed. NULL on allocation failure. */
tn_rollup_t *tn_rollup_create(tn_streams_t *streams, int64_t grace_ms);
/* Frees everything; buckets not yet written are lost (call tn_rollup_flush(r, INT64_MAX) first
 * to write them). */
void tn_rollup_destroy(tn_rollup_t *r);

/* Adds one sample. name/labels are copied on the series' first sample. */
void tn_rollup_add(tn_rollup_t *r, const char *sid, const char *name, size_t name_len,
                   const char *labels, size_t labels_len, double value, int64_t ts_ms);

/* Writes every bucket whose end + grace is at or before now_ms. Returns the number written. */
size_t tn_rollup_flush(tn_rollup_t *r, int64_t now_ms);

size_t tn_rollup_series(const tn_rollup_t *r);

#endif
