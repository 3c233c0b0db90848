/* ingest.h - the HTTP inputs: parse, normalize, write to the samples stream, then answer.
 *
 * A 2xx is sent only after Redis confirmed every XADD of the request, so nothing that got a
 * 2xx can be lost by the engine. Backpressure: when the samples accepted but not yet confirmed
 * exceed max_inflight, requests get 429 with Retry-After; when Redis is unreachable, 503 with
 * Retry-After. Bad input gets 400 with a JSON body naming the problem.
 *
 *   POST /api/v1/samples   tocsin JSON samples (ingest/json_samples.h)   -> 202 / 400 / 413 / 429 /
 * 503 */
#ifndef TN_INGEST_INGEST_H
#define TN_INGEST_INGEST_H

#include <stddef.h>

#include "http/server.h"
#include "ingest/writer.h"
#include "store/streams.h"

typedef struct tn_ingest tn_ingest_t;

/* loop and streams borrowed (loop may be NULL: every request is parsed on the caller's
 * thread). NULL on allocation failure. */
tn_ingest_t *tn_ingest_create(uv_loop_t *loop, tn_streams_t *streams, size_t max_inflight);
/* Requests still waiting for Redis or being parsed keep a pointer: destroy only after the HTTP
 * server closed and the loop ran out (the parse jobs ended). */
void tn_ingest_destroy(tn_ingest_t *in);
/* Call before destroying the streams: requests whose parse ends later get 503. */
void tn_ingest_stop(tn_ingest_t *in);
/* Large bodies of the inputs whose parsers are thread-safe (tn_input_t.threadsafe) are decoded
 * and parsed on libuv's thread pool, at most n at once (more wait on the loop); 0 (the default):
 * always on the loop. The records are written, and the request answered, on the loop. */
void tn_ingest_set_parse_threads(tn_ingest_t *in, unsigned n);

/* Registers the input routes. 0 or TN_ENOMEM. */
int tn_ingest_routes(tn_ingest_t *in, tn_http_server_t *srv);

size_t tn_ingest_inflight(const tn_ingest_t *in);
/* Whether inflight is under the limit (TCP inputs stop reading when not). */
int tn_ingest_accepting(const tn_ingest_t *in);
/* Records per request (0 keeps 1,000,000) and decompressed body size (0 keeps 64 MiB). */
void tn_ingest_set_limits(tn_ingest_t *in, size_t max_items, size_t max_decoded);
/* Spans accepted over HTTP are shown to fn (topology learns service edges). */
void tn_ingest_on_span(tn_ingest_t *in, tn_span_observer_fn fn, void *arg);
/* Events (alerts, deploys, config changes) accepted over HTTP are shown to fn (borrowed for the
 * call): correlation keeps the recent changes for root-cause analysis. */
typedef void (*tn_event_observer_fn)(void *arg, const tn_event_t *events, size_t n);
void tn_ingest_on_event(tn_ingest_t *in, tn_event_observer_fn fn, void *arg);

#endif
