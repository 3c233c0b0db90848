/* inputs.h - the table of inputs: one const struct per protocol (the extension point).
 *
 * Each input names a parser (body -> tn_batch_t) and how to answer a successful request in the
 * protocol's own shape. The same table serves the HTTP routes (ingest.c) and the Redis-fed input
 * streams (redis_fed.c: an entry's `format` field is an input's name). */
#ifndef TN_INGEST_INPUTS_H
#define TN_INGEST_INPUTS_H

#include "http/server.h"
#include "ingest/json_samples.h"
#include "ingest/records.h"

/* Per-request arguments some protocols take from the query string. */
typedef struct {
    const char *precision; /* influx: ns (default), us, ms, s */
} tn_input_args_t;

typedef struct tn_input {
    const char *name;   /* "otlp_metrics", "influx", ...; NULL ends the table */
    const char *method; /* HTTP route, or NULL when the input has none */
    const char *path;
    const char *doc; /* one line for docs and logs */
    int (*parse)(const char *body, size_t len, const tn_parse_opts_t *o, const tn_input_args_t *a,
                 tn_batch_t *out, tn_ingest_report_t *rep, tn_buf_t *fatal);
    /* Answers a request whose records were stored. NULL: 202 with
     * {"accepted":N,"rejected":M,"errors":[...]} */
    void (*answer)(tn_http_req_t *req, const tn_ingest_report_t *rep);
    /* parse touches no shared state (no globals, no logs; jansson is fine: its allocations go
     * to the calling thread's arena): it may run on a worker thread (ingest.c). */
    int threadsafe;
} tn_input_t;

/* The table, terminated by an entry whose name is NULL. */
const tn_input_t *tn_inputs(void);
const tn_input_t *tn_input_find(const char *name);

/* The default answer (also used by inputs for their failure cases). */
void tn_input_answer_default(tn_http_req_t *req, const tn_ingest_report_t *rep);

#endif
