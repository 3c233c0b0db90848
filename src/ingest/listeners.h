/* listeners.h - inputs that are not HTTP routes.
 *
 * Influx line protocol over TCP (ingest.influx_tcp = "host:port"): clients write lines; complete
 * lines are parsed and written in order per connection. There is no reply in this protocol:
 * bad lines are logged and counted. Backpressure: while the engine has too many records waiting
 * for Redis (ingest.max_inflight) or a connection's previous write is not yet confirmed, the
 * connection is not read, so TCP flow control slows the client down; nothing is dropped.
 * Hostile clients: a line longer than 4 MiB closes its connection, a connection that sends
 * nothing for ingest.influx_tcp_idle_ms is closed (an unfinished last line is dropped and
 * logged), and connections beyond ingest.influx_tcp_max_conns are closed on accept.
 *
 * Prometheus scraping (ingest.scrape_targets, ingest.scrape_interval_ms): each target is fetched
 * with libcurl on the loop (never blocking it), parsed as Prometheus text or OpenMetrics, and its
 * samples written with the labels job="tocsin-scrape" and instance="<host:port>" added (the
 * target's own labels win), plus up{...} = 1 or 0 as Prometheus does. A target that hangs,
 * drips, answers an error status, a body over ingest.scrape_max_bytes or one that is not the
 * text format gets up = 0 and a log line (once per change of state); the others are unaffected. */
#ifndef TN_INGEST_LISTENERS_H
#define TN_INGEST_LISTENERS_H

#include <uv.h>

#include "core/config.h"
#include "ingest/ingest.h"
#include "notify/httpc.h"
#include "store/streams.h"

typedef struct tn_influx_tcp tn_influx_tcp_t;
typedef struct tn_scraper tn_scraper_t;

typedef struct {
    const char *addr;   /* "host:port" (copied while starting) */
    uint64_t idle_ms;   /* a connection that sends nothing this long is closed; 0 = 5 minutes */
    unsigned max_conns; /* connections beyond this are closed at once (counted); 0 = 1024 */
} tn_influx_tcp_opts_t;

/* opts borrowed; ingest borrowed, for backpressure. 0 and *out, or an error. */
int tn_influx_tcp_start(uv_loop_t *loop, const tn_influx_tcp_opts_t *opts, tn_streams_t *streams,
                        tn_ingest_t *ingest, tn_influx_tcp_t **out);
int tn_influx_tcp_port(const tn_influx_tcp_t *t);
void tn_influx_tcp_stop(tn_influx_tcp_t *t);

typedef struct {
    const tn_conf_list_t *targets; /* URLs, copied while starting */
    uint64_t interval_ms;
    uint64_t timeout_ms; /* the whole answer within this, else up = 0; 0 or > interval = interval */
    uint64_t max_bytes;  /* a larger answer fails (up = 0); 0 = 64 MiB */
} tn_scraper_opts_t;

/* opts borrowed. 0 and *out, or an error. */
int tn_scraper_start(uv_loop_t *loop, const tn_scraper_opts_t *opts, tn_httpc_t *httpc,
                     tn_streams_t *streams, tn_scraper_t **out);
void tn_scraper_stop(tn_scraper_t *s);

#endif
