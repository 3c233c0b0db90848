/* normalize.h - turning what inputs send into the canonical sample (core/sample.h).
 *
 * Label names: aliases first (service.name -> service, host.name -> host, ...; configurable:
 * ingest.label_aliases), then any
 * character outside [a-zA-Z0-9_] becomes '_' (OpenTelemetry's dotted names), and a leading digit
 * gets a '_' prefix. Names that are still invalid or empty are rejected.
 * Timestamps: numbers are taken as seconds, milliseconds, microseconds or nanoseconds by their
 * magnitude (< 1e11 s, < 1e14 ms, < 1e17 us, else ns) unless a unit is given; strings are RFC 3339.
 * Everything becomes milliseconds since the epoch. */
#ifndef TN_INGEST_NORMALIZE_H
#define TN_INGEST_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum { TN_TS_AUTO, TN_TS_S, TN_TS_MS, TN_TS_US, TN_TS_NS } tn_ts_unit_t;

/* Writes the canonical label name for `in` into out (size bytes). 0, or TN_EINVAL with a
 * message naming the label in err. */
int tn_norm_label_name(const char *in, char *out, size_t size, tn_buf_t *err);

/* A metric name as a Prometheus-style name into out (TN_MAX_NAME_LEN + 2 bytes): characters
 * outside [a-zA-Z0-9_:] become '_', a leading digit gets a '_' prefix. Returns the length, or
 * sets *error (a static message) for a missing or too long name and returns 0. */
size_t tn_norm_metric_name(const char *n, size_t len, char *out, const char **error);

/* Sets the configured aliases: FROM=TO pairs (copied; TO must be a valid label name as it is),
 * looked up before the built-in ones (so they can override them). Replaces the pairs set before.
 * Call before inputs run (the table is read without locks, by worker threads too). 0, TN_ENOMEM,
 * or TN_EINVAL with a message in err (the table in use is then unchanged). */
int tn_norm_set_aliases(const char *const *pairs, size_t n, tn_buf_t *err);
/* Back to the built-in aliases alone (frees the configured ones). */
void tn_norm_reset_aliases(void);

/* Converts a numeric timestamp to ms. 0 or TN_EINVAL (negative, NaN, out of range). */
int tn_norm_ts_number(double v, tn_ts_unit_t unit, int64_t *ms, tn_buf_t *err);

/* Parses "2026-11-24T11:30:00Z", "...T11:30:00.123456+02:00", "...T11:30:00.1-0500" (RFC 3339
 * and the common offset-without-colon variant). 0 or TN_EINVAL. */
int tn_norm_ts_rfc3339(const char *s, int64_t *ms, tn_buf_t *err);

/* Parses "s", "ms", "us", "ns" into *unit. 0 or TN_EINVAL. */
int tn_norm_ts_unit(const char *s, tn_ts_unit_t *unit);

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1..12, d 1..31), Howard Hinnant's
 * algorithm. */
int64_t tn_norm_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
