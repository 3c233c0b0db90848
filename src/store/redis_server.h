/* redis_server.h - the embedded default: a redis-server child process that tocsin starts when
 * no Redis URL is configured. It listens only on a unix socket under the data directory
 * (port 0: no TCP), keeps its data (appendonly) in <data_dir>/redis, and is stopped with
 * SIGTERM (and SIGKILL after a grace period) when the engine exits. Every step is logged. */
#ifndef TN_STORE_REDIS_SERVER_H
#define TN_STORE_REDIS_SERVER_H

#include <uv.h>

typedef struct tn_redis_server tn_redis_server_t;

/* ready(status): 0 when the server answers PING on its socket, negative when it failed to
 * start or did not become ready within timeout_ms (the child is then already stopped). */
typedef void (*tn_redis_server_ready_cb)(tn_redis_server_t *s, int status, void *arg);

/* Spawns `redis_server_path` (NULL = "redis-server" from PATH) with data under data_dir
 * (created if missing, mode 0700). Strings copied, loop borrowed. Returns 0 and *out, or a
 * negative code (then ready is never called). */
int tn_redis_server_start(uv_loop_t *loop, const char *data_dir, const char *redis_server_path,
                          unsigned timeout_ms, tn_redis_server_ready_cb ready, void *arg,
                          tn_redis_server_t **out);

/* "unix:<data_dir>/redis.sock"; borrowed, valid until stop completes. */
const char *tn_redis_server_url(const tn_redis_server_t *s);

/* Called if the child exits on its own (crash) after it was ready: the engine decides. */
void tn_redis_server_on_exit(tn_redis_server_t *s,
                             void (*cb)(tn_redis_server_t *s, int64_t exit_status, int term_signal,
                                        void *arg),
                             void *arg);

/* SIGTERM, wait up to 5 s, then SIGKILL; frees s and calls done(arg) once the child has exited
 * and handles are closed. s must not be used afterwards. */
void tn_redis_server_stop(tn_redis_server_t *s, void (*done)(void *arg), void *arg);

/* Additions (store/): the child's pid, 0 once it has exited (for status pages and tests). */
int tn_redis_server_pid(const tn_redis_server_t *s);

#endif
