/* metrics.h - the engine's counters and gauges, rendered in the Prometheus text format.
 *
 * Single-threaded (loop thread). Metrics are registered once and live until
 * tn_metrics_shutdown(); the returned pointers are borrowed and stay valid until then.
 * Registration may return NULL on allocation failure; tn_metric_add/set accept NULL
 * (a missing counter never breaks the caller). */
#ifndef TN_CORE_METRICS_H
#define TN_CORE_METRICS_H

#include "core/buf.h"

typedef struct tn_metric tn_metric_t;

/* A summary has a sum and a count of observations (rendered NAME_sum and NAME_count; no
 * quantiles): rate(NAME_sum) / rate(NAME_count) is the mean over a window. */
typedef enum { TN_METRIC_COUNTER, TN_METRIC_GAUGE, TN_METRIC_SUMMARY } tn_metric_type_t;

/* Returns the series (family name + label set), registering it on first use.
 * name: e.g. "tocsin_ingest_samples_total"; labels: e.g. "source=\"json\"" or NULL.
 * help: a line of documentation (copied; only the first registration's help is kept). */
tn_metric_t *tn_metrics_get(tn_metric_type_t type, const char *name, const char *labels,
                            const char *help);

static inline tn_metric_t *tn_metrics_counter(const char *name, const char *labels,
                                              const char *help)
{
    return tn_metrics_get(TN_METRIC_COUNTER, name, labels, help);
}
static inline tn_metric_t *tn_metrics_gauge(const char *name, const char *labels, const char *help)
{
    return tn_metrics_get(TN_METRIC_GAUGE, name, labels, help);
}

static inline tn_metric_t *tn_metrics_summary(const char *name, const char *labels,
                                              const char *help)
{
    return tn_metrics_get(TN_METRIC_SUMMARY, name, labels, help);
}
/* One observation of a summary. */
void tn_metric_observe(tn_metric_t *m, double v);

/* Appends v as a label value in the exposition format (backslash, double quote and newline
 * escaped). 0 or TN_ENOMEM. */
int tn_metrics_label_value(tn_buf_t *out, const char *v);

void tn_metric_add(tn_metric_t *m, double v);
void tn_metric_set(tn_metric_t *m, double v);
double tn_metric_value(const tn_metric_t *m);
static inline void tn_metric_inc(tn_metric_t *m)
{
    tn_metric_add(m, 1.0);
}

/* Appends all metrics in the text exposition format (0.0.4). 0 or TN_ENOMEM. */
int tn_metrics_render(tn_buf_t *out);
/* Frees every metric; pointers handed out before become invalid. */
void tn_metrics_shutdown(void);

#endif
