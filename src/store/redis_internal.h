/* redis_internal.h - helpers shared inside store/ (not part of the public API).
 *
 * Only store/ includes this header (and hiredis); the unit tests include it to check the URL
 * parser directly. */
#ifndef TN_STORE_REDIS_INTERNAL_H
#define TN_STORE_REDIS_INTERNAL_H

#include <stddef.h>

/* Largest unix socket path we accept (sizeof sockaddr_un.sun_path is 108 on Linux, NUL incl.). */
#define TN__REDIS_UNIX_PATH_MAX 107

/* Where a connection goes, parsed from its URL. Embedded; tn__redis_addr_deinit frees. */
typedef struct {
    char *host; /* TCP host (no brackets for IPv6), NULL for a unix socket */
    int port;   /* TCP port, 6379 by default */
    char *path; /* unix socket path, NULL for TCP */
    int db;     /* database to SELECT after connecting, 0 by default */
    char *desc; /* for log lines: "127.0.0.1:6379", "127.0.0.1:6379/2", "unix:/x.sock?db=1" */
} tn__redis_addr_t;

/* Parses "redis://host[:port][/db]" ("[::1]" for IPv6) or "unix:/path[?db=N]" (also
 * "unix:///path"). On success fills *out (caller owns it: tn__redis_addr_deinit) and returns 0;
 * otherwise returns TN_EINVAL or TN_ENOMEM and *out holds nothing to free. */
int tn__redis_parse_url(const char *url, tn__redis_addr_t *out);
void tn__redis_addr_deinit(tn__redis_addr_t *a);

/* Argument i (0 = the command name) of a RESP-formatted command, for checks: copies at most
 * cap-1 bytes into out and NUL-terminates. Returns 0, or TN_ENOTFOUND if there are not that
 * many arguments, or TN_EINVAL if cmd is malformed. */
int tn__redis_cmd_arg(const char *cmd, size_t len, unsigned i, char *out, size_t cap);

/* The reply-object functions of the asynchronous connections (redis_reply.c): hiredis' own
 * with short strings kept inside the object and objects reused through a per-thread free list.
 * tn__redis_reply_pool_drain frees this thread's free list (when a connection is freed). */
struct redisReplyObjectFunctions;
extern struct redisReplyObjectFunctions tn__redis_reply_fns;
void tn__redis_reply_pool_drain(void);

#endif
