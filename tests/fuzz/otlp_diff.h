/* otlp_diff.h - runs both OTLP/HTTP JSON metrics parsers on one body, the streaming one the
 * engine uses (tn_parse_otlp_metrics, ingest/otlp_metrics.c) and the jansson one it replaced
 * (tn__otlp_metrics_dom, ingest/otlp_metrics_dom.c), and tells how their results differ: return
 * code, fatal message, accepted / rejected counts, the errors report and every sample (name,
 * labels, value, timestamp, unit, series id). Shared by tests/unit/ingest/test_otlp_diff.c and
 * tests/fuzz/fuzz_otlp.c; header-only so that each keeps one translation unit. */
#ifndef TN_TESTS_OTLP_DIFF_H
#define TN_TESTS_OTLP_DIFF_H

#include "core/error.h"
#include "core/json_arena.h"
#include "ingest/otlp.h"
#include "ingest/otlp_common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    tn_batch_t b;
    tn_ingest_report_t rep;
    tn_buf_t fatal;
    int rc;
} otlp_diff_run_t;

/* A request parsed first into both batches (with prefill): a failing call must leave it. */
static const char otlp_diff_prefill[] =
    "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"pre\",\"gauge\":"
    "{\"dataPoints\":[{\"asInt\":1},{\"asInt\":\"x\"}]}}]}]}]}";

static void otlp_diff_one(otlp_diff_run_t *r, int dom, const char *body, size_t len,
                          size_t max_items, int prefill)
{
    tn_batch_init(&r->b);
    tn_ingest_report_init(&r->rep);
    tn_buf_init(&r->fatal);
    tn_parse_opts_t o = {.now_ms = 1700000000000LL, .max_items = max_items};
    int (*fn)(const char *, size_t, const tn_parse_opts_t *, tn_batch_t *, tn_ingest_report_t *,
              tn_buf_t *) = dom ? tn__otlp_metrics_dom : tn_parse_otlp_metrics;
    tn_json_arena_t arena;
    tn_json_arena_begin(&arena); /* as the HTTP input does; a no-op unless installed */
    if (prefill) {
        fn(otlp_diff_prefill, sizeof otlp_diff_prefill - 1, &o, &r->b, &r->rep, &r->fatal);
        tn_buf_reset(&r->fatal);
    }
    r->rc = fn(body, len, &o, &r->b, &r->rep, &r->fatal);
    tn_json_arena_end(&arena);
}

static void otlp_diff_done(otlp_diff_run_t *r)
{
    tn_batch_deinit(&r->b);
    tn_ingest_report_deinit(&r->rep);
    tn_buf_deinit(&r->fatal);
}

/* "" when both runs agree, else what differs (in why). */
static const char *otlp_diff_compare(const otlp_diff_run_t *a, const otlp_diff_run_t *b, char *why,
                                     size_t size)
{
    const char *fa = a->fatal.len ? a->fatal.data : "", *fb = b->fatal.len ? b->fatal.data : "";
    const char *ea = a->rep.errors.len ? a->rep.errors.data : "";
    const char *eb = b->rep.errors.len ? b->rep.errors.data : "";
    if (a->rc != b->rc || strcmp(fa, fb)) {
        snprintf(why, size, "rc %d vs %d, fatal '%s' vs '%s'", a->rc, b->rc, fa, fb);
        return why;
    }
    if (a->rep.accepted != b->rep.accepted || a->rep.rejected != b->rep.rejected ||
        strcmp(ea, eb)) {
        snprintf(why, size, "report %zu/%zu %s vs %zu/%zu %s", a->rep.accepted, a->rep.rejected, ea,
                 b->rep.accepted, b->rep.rejected, eb);
        return why;
    }
    if (a->b.samples.n != b->b.samples.n || tn_batch_count(&a->b) != tn_batch_count(&b->b)) {
        snprintf(why, size, "%zu samples vs %zu", a->b.samples.n, b->b.samples.n);
        return why;
    }
    for (size_t i = 0; i < a->b.samples.n; i++) {
        const tn_sample_t *x = &a->b.samples.items[i], *y = &b->b.samples.items[i];
        int same = strcmp(x->name, y->name) == 0 && x->ts_ms == y->ts_ms &&
                   strcmp(x->sid, y->sid) == 0 && x->sid_hash == y->sid_hash &&
                   (!x->unit == !y->unit) && (!x->unit || strcmp(x->unit, y->unit) == 0) &&
                   x->nlabels == y->nlabels &&
                   (memcmp(&x->value, &y->value, sizeof x->value) == 0 ||
                    (isnan(x->value) && isnan(y->value)));
        for (size_t k = 0; same && k < x->nlabels; k++)
            same = strcmp(x->labels[k].name, y->labels[k].name) == 0 &&
                   strcmp(x->labels[k].value, y->labels[k].value) == 0;
        if (!same) {
            snprintf(why, size, "sample %zu: %s %.17g %lld %s vs %s %.17g %lld %s", i, x->name,
                     x->value, (long long)x->ts_ms, x->sid, y->name, y->value, (long long)y->ts_ms,
                     y->sid);
            return why;
        }
    }
    return "";
}

/* Runs both parsers on body and compares; "" when they agree. max_items as tn_parse_opts_t. */
static const char *otlp_diff(const char *body, size_t len, size_t max_items, int prefill, char *why,
                             size_t size)
{
    otlp_diff_run_t a, b;
    otlp_diff_one(&a, 0, body, len, max_items, prefill);
    otlp_diff_one(&b, 1, body, len, max_items, prefill);
    const char *d = otlp_diff_compare(&a, &b, why, size);
    otlp_diff_done(&a);
    otlp_diff_done(&b);
    return d;
}

#endif
