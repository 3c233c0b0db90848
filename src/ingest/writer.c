#include "ingest/writer.h"
#include "core/error.h"
#include "core/hmap.h"

#include <stdio.h>
#include <string.h>

int tn_labels_json(const tn_labels_t *l, tn_buf_t *out)
{
    int rc = tn_buf_puts(out, "{");
    for (size_t i = 0; i < l->n && !rc; i++) {
        if (i) rc |= tn_buf_puts(out, ",");
        rc |= tn_buf_json_str(out, l->items[i].name, strlen(l->items[i].name));
        rc |= tn_buf_puts(out, ":");
        rc |= tn_buf_json_str(out, l->items[i].value, strlen(l->items[i].value));
    }
    return rc ? TN_ENOMEM : tn_buf_puts(out, "}");
}

static int write_log(tn_wgroup_t *g, tn_streams_t *s, const tn_log_t *x, tn_buf_t *lab)
{
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)x->ts_ms);
    tn_buf_reset(lab);
    if (tn_labels_json(&x->labels, lab)) return TN_ENOMEM;
    const char *svc = tn_labels_get(&x->labels, "service");
    const char *f[] = {"ts",       ts,
                       "severity", x->severity ? x->severity : "",
                       "body",     x->body ? x->body : "",
                       "labels",   lab->data,
                       "trace_id", x->trace_id,
                       "span_id",  x->span_id};
    return tn_wgroup_pxadd(g, TN_PSTREAM_LOGS, tn_streams_partition_of(s, svc ? svc : ""), f, NULL,
                           6);
}

/* parent_service: the service of the parent span when it came in the same request, else "". */
static int write_span(tn_wgroup_t *g, tn_streams_t *s, const tn_span_t *x,
                      const char *parent_service, tn_buf_t *lab)
{
    char start[24], dur[24];
    snprintf(start, sizeof start, "%lld", (long long)x->start_us);
    snprintf(dur, sizeof dur, "%lld", (long long)x->duration_us);
    tn_buf_reset(lab);
    if (tn_labels_json(&x->labels, lab)) return TN_ENOMEM;
    const char *f[] = {"trace_id",       x->trace_id,
                       "span_id",        x->span_id,
                       "parent_id",      x->parent_id,
                       "name",           x->name ? x->name : "",
                       "service",        x->service ? x->service : "",
                       "kind",           x->kind ? x->kind : "",
                       "start_us",       start,
                       "duration_us",    dur,
                       "error",          x->error ? "1" : "0",
                       "labels",         lab->data,
                       "parent_service", parent_service};
    /* by service, like the logs: a partition holds whole services, in time order, so the
     * per-service statistics of detection can be kept per partition */
    return tn_wgroup_pxadd(g, TN_PSTREAM_SPANS,
                           tn_streams_partition_of(s, x->service ? x->service : ""), f, NULL, 11);
}

static int write_event(tn_wgroup_t *g, tn_streams_t *s, const tn_event_t *x, tn_buf_t *lab)
{
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)x->ts_ms);
    tn_buf_reset(lab);
    if (tn_labels_json(&x->labels, lab)) return TN_ENOMEM;
    const char *f[] = {"type",        x->type ? x->type : "",
                       "source",      x->source ? x->source : "",
                       "ts",          ts,
                       "status",      x->status ? x->status : "",
                       "title",       x->title ? x->title : "",
                       "fingerprint", x->fingerprint ? x->fingerprint : "",
                       "labels",      lab->data,
                       "data",        x->data ? x->data : "{}"};
    return tn_wgroup_xadd(g, tn_streams_key(s, TN_STREAM_EVENTS), f, NULL, 8);
}

void tn_ingest_write(tn_streams_t *s, const tn_batch_t *b, tn_streams_cb cb, void *arg)
{
    tn_wgroup_t *g = tn_streams_group(s, cb, arg);
    if (!g) {
        cb(TN_ENOMEM, arg);
        return;
    }
    tn_buf_t lab;
    tn_buf_init(&lab);
    int rc = tn_wgroup_samples(g, b->samples.items, b->samples.n);
    for (size_t i = 0; i < b->nlogs && !rc; i++)
        rc = write_log(g, s, &b->logs[i], &lab);
    tn_hmap_t by_id; /* span id -> service, to name each span's parent service */
    tn_hmap_init(&by_id);
    for (size_t i = 0; i < b->nspans && !rc; i++)
        if (b->spans[i].span_id[0] && b->spans[i].service)
            rc = tn_hmap_put(&by_id, b->spans[i].span_id, b->spans[i].service, NULL);
    for (size_t i = 0; i < b->nspans && !rc; i++) {
        const tn_span_t *x = &b->spans[i];
        const char *ps = x->parent_id[0] ? tn_hmap_get(&by_id, x->parent_id) : NULL;
        rc = write_span(g, s, x, ps ? ps : "", &lab);
    }
    tn_hmap_deinit(&by_id);
    for (size_t i = 0; i < b->nevents && !rc; i++)
        rc = write_event(g, s, &b->events[i], &lab);
    tn_buf_deinit(&lab);
    tn_wgroup_close(g); /* a send error is already recorded in the group and reaches cb */
}
