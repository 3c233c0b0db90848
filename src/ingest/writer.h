/* writer.h - writes a parsed batch to the streams in one pipelined group.
 *
 *   samples -> <prefix>:samples:{p}  (store/streams.h: partition by series, batched entries)
 *   logs    -> <prefix>:logs:{p}     partition by the service label; fields ts, severity, body,
 *                                    labels (JSON), trace_id, span_id
 *   spans   -> <prefix>:spans:{p}    partition by trace id; fields trace_id, span_id, parent_id,
 *                                    name, service, kind, start_us, duration_us, error (0/1),
 *                                    labels (JSON)
 *   events  -> <prefix>:events       fields type, source, ts, status, title, fingerprint,
 *                                    labels (JSON), data (JSON)
 * cb(err, arg) is called exactly once, when Redis confirmed every write (err 0) or one failed;
 * possibly before tn_ingest_write returns. */
#ifndef TN_INGEST_WRITER_H
#define TN_INGEST_WRITER_H

#include "ingest/records.h"
#include "store/streams.h"

/* Observer of written spans (topology learns service edges from them). */
typedef void (*tn_span_observer_fn)(void *arg, const tn_span_t *spans, size_t n);

void tn_ingest_write(tn_streams_t *s, const tn_batch_t *b, tn_streams_cb cb, void *arg);

/* Appends labels as a canonical JSON object. */
int tn_labels_json(const tn_labels_t *l, tn_buf_t *out);

#endif
