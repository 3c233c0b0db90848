/* libFuzzer target: the Prometheus text 0.0.4 / OpenMetrics parser (ingest/prom_text.c).
 * See fuzz_json_samples.c for how to build and run; seeds in corpus/prom_text.
 * Invariants: accepted samples are canonical (valid name, sorted unique valid labels, sid), the
 * counts add up, the report is a JSON array of at most 20 entries, a limit error leaves the
 * batch as it was. */
#include "ingest/prom_text.h"
#include "core/error.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

static void check(const tn_batch_t *out, const tn_ingest_report_t *rep)
{
    if (rep->accepted != out->samples.n) __builtin_trap();
    for (size_t i = 0; i < out->samples.n; i++) {
        const tn_sample_t *s = &out->samples.items[i];
        if (!tn_metric_name_valid(s->name) || strlen(s->sid) != 16) __builtin_trap();
        if (s->ts_ms < 0 || s->ts_ms > 253402300799999LL) __builtin_trap();
        if (s->unit && strlen(s->unit) > 64) __builtin_trap();
        for (size_t j = 0; j < s->nlabels; j++) {
            if (!tn_label_name_valid(s->labels[j].name)) __builtin_trap();
            if (!s->labels[j].value[0]) __builtin_trap(); /* empty values are dropped */
            if (j && strcmp(s->labels[j - 1].name, s->labels[j].name) >= 0) __builtin_trap();
        }
    }
    if (rep->rejected) {
        json_error_t je;
        json_t *j = json_loads(rep->errors.data, 0, &je);
        if (!j || !json_is_array(j)) __builtin_trap();
        size_t want = rep->rejected < 20 ? rep->rejected : 20;
        if (json_array_size(j) != want) __builtin_trap();
        json_decref(j);
    } else if (rep->errors.len) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tn_prom_format_t fmts[] = {TN_PROM_AUTO, TN_PROM_OPENMETRICS};
    for (size_t f = 0; f < 2; f++) {
        tn_batch_t out;
        tn_batch_init(&out);
        tn_ingest_report_t rep;
        tn_ingest_report_init(&rep);
        tn_buf_t fatal;
        tn_buf_init(&fatal);
        tn_parse_opts_t o = {1700000000000LL, f ? 5 : 0};
        int rc = tn_parse_prom_text_fmt((const char *)data, size, fmts[f], &o, &out, &rep, &fatal);
        if (rc == 0) {
            check(&out, &rep);
        } else {
            if (rc != TN_ETOOBIG || !f || out.samples.n != 0 || rep.accepted != 0) __builtin_trap();
        }
        tn_batch_deinit(&out);
        tn_ingest_report_deinit(&rep);
        tn_buf_deinit(&fatal);
    }
    return 0;
}
