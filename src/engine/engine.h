/* engine.h - assembles the layers into the running daemon (`tocsin serve`).
 *
 *   HTTP (ingest) -> store (samples stream) -> reader (consumer group) -> detect
 *     -> anomalies stream + correlate (rules) -> incidents -> automate (runbooks) -> audit
 *
 * Startup: with no redis.url, an embedded redis-server is started under data_dir first. Then the
 * Redis connections, the HTTP server, the rules and runbooks, and the stream reader. SIGINT and
 * SIGTERM stop everything in reverse order; the embedded redis-server is stopped last. */
#ifndef TN_ENGINE_ENGINE_H
#define TN_ENGINE_ENGINE_H

#include "core/buf.h"
#include "core/config.h"

/* Runs the engine until a stop signal. cfg borrowed. Returns the process exit code. */
int tn_engine_run(const tn_config_t *cfg);

/* Loads and validates one detection policy file in a throw-away state (`tocsin check`).
 * 0, or an error with "file:line: message" in err (caller-owned buffer). */
int tn_engine_check_detection_file(const char *path, const tn_config_t *cfg, tn_buf_t *err);

#endif
