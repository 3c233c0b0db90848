/* log.h - one line per event on stderr:
 *   2026-11-24T11:30:00.123Z INFO  store: connected to redis at unix:/var/tocsin/redis.sock
 * Single-threaded (the loop thread). */
#ifndef TN_CORE_LOG_H
#define TN_CORE_LOG_H

typedef enum { TN_LOG_DEBUG = 0, TN_LOG_INFO, TN_LOG_WARN, TN_LOG_ERROR } tn_log_level_t;

void tn_log_set_level(tn_log_level_t level);
tn_log_level_t tn_log_get_level(void);
/* Parses "debug", "info", "warn", "error". Returns 0 or TN_EINVAL. */
int tn_log_parse_level(const char *s, tn_log_level_t *out);

void tn_log(tn_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define tn_log_debug(comp, ...) tn_log(TN_LOG_DEBUG, comp, __VA_ARGS__)
#define tn_log_info(comp, ...) tn_log(TN_LOG_INFO, comp, __VA_ARGS__)
#define tn_log_warn(comp, ...) tn_log(TN_LOG_WARN, comp, __VA_ARGS__)
#define tn_log_error(comp, ...) tn_log(TN_LOG_ERROR, comp, __VA_ARGS__)

#endif
