/* listeners.h - inputs that are not HTTP routes.
 *
 * Influx line protocol over TCP (ingest.influx_tcp = "host:port"): clients write lines; complete
 * lines are parsed and written in order per connection. There is no reply in this protocol:
 * bad lines are logged and counted. Backpressure: while the engine has too many records waiting
 * for Redis (ingest.max_inflight) or a connection's previous write is not yet confirmed, the
 * connection is not read, so TCP flow control slows the client down; nothing is dropped.
 *
 * Prometheus scraping (ingest.scrape_targets, ingest.scrape_interval_ms): each target is fetched
 * with libcurl on the loop (never blocking it), parsed as Prometheus text or OpenMetrics, and its
 * samples written with the labels job="tocsin-scrape" and instance="<host:port>" added (the
 * target's own labels win), plus up{...} = 1 or 0 as Prometheus does. */
#ifndef TN_INGEST_LISTENERS_H
#define TN_INGEST_LISTENERS_H

#include <uv.h>

#include "core/config.h"
#include "ingest/ingest.h"
#include "notify/httpc.h"
#include "store/streams.h"

typedef struct tn_influx_tcp tn_influx_tcp_t;
typedef struct tn_scraper tn_scraper_t;

/* addr: "host:port" (copied). ingest borrowed, for backpressure. 0 and *out, or an error. */
int tn_influx_tcp_start(uv_loop_t *loop, const char *addr, tn_streams_t *streams,
                        tn_ingest_t *ingest, tn_influx_tcp_t **out);
int tn_influx_tcp_port(const tn_influx_tcp_t *t);
void tn_influx_tcp_stop(tn_influx_tcp_t *t);

/* targets copied. 0 and *out, or an error. */
int tn_scraper_start(uv_loop_t *loop, const tn_conf_list_t *targets, uint64_t interval_ms,
                     tn_httpc_t *httpc, tn_streams_t *streams, tn_scraper_t **out);
void tn_scraper_stop(tn_scraper_t *s);

#endif
