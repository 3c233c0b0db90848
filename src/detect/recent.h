/* recent.h - the latest scored points of series, with the detector's expected band, for charts
 * (GET /api/v1/series/SID, the web page).
 *
 * Each tracked series keeps a ring of its last `points` points: time, value, expected, lower,
 * upper and whether it was anomalous. At most `max_series` series are tracked: new series get a
 * ring while there is room; once full, a series whose sample is anomalous takes the ring of the
 * tracked series whose last anomaly is the oldest (series that never had one first), so the
 * series people look at during an incident have their chart, with their history when they were
 * tracked before. Memory: about max_series * points * 40 bytes. Pure: no I/O, no locks. */
#ifndef TN_DETECT_RECENT_H
#define TN_DETECT_RECENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tn_recent tn_recent_t;

/* NULL on allocation failure or a zero size. */
tn_recent_t *tn_recent_create(size_t max_series, size_t points);
void tn_recent_destroy(tn_recent_t *r);

/* Records a point of series sid (NUL-terminated); metric and labels (canonical labels JSON)
 * are copied when the series starts being tracked. Bands that are not finite (warm-up) are
 * kept as NaN and shown as null. 0, or TN_ENOMEM (the point is not recorded). */
int tn_recent_add(tn_recent_t *r, const char *sid, const char *metric, size_t metric_len,
                  const char *labels, size_t labels_len, int64_t ts_ms, double value,
                  double expected, double lower, double upper, double score, int anomalous);

/* A new JSON object {"sid", "metric", "labels": {...}, "points": [[ts, value, expected, lower,
 * upper, anomalous], ...]} (oldest first; the caller owns it), or NULL when sid is not tracked
 * or on allocation failure (*missing says which when given). */
json_t *tn_recent_json(const tn_recent_t *r, const char *sid, int *missing);

size_t tn_recent_tracked(const tn_recent_t *r);

/* Calls fn for the tracked series with the n highest latest scores (highest first): sid,
 * metric and labels JSON borrowed for the call. Returns how many. */
size_t tn_recent_top(const tn_recent_t *r, size_t n,
                     void (*fn)(const char *sid, const char *metric, const char *labels,
                                double score, void *arg),
                     void *arg);

#endif
