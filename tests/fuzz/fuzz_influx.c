/* libFuzzer target: the InfluxDB line protocol parser (ingest/influx.c).
 * See fuzz_json_samples.c for how to build and run; seeds in corpus/influx.
 * Invariants: accepted samples are canonical (valid name, sorted unique valid labels, sid), the
 * counts add up, the report is a JSON array of at most 20 entries, and lines are independent:
 * parsing the input in two pieces split by tn_influx_complete_prefix gives the same samples. */
#include "ingest/influx.h"
#include "core/error.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

static void check(const tn_batch_t *out, const tn_ingest_report_t *rep)
{
    if (rep->accepted != out->samples.n) __builtin_trap();
    for (size_t i = 0; i < out->samples.n; i++) {
        const tn_sample_t *s = &out->samples.items[i];
        if (!tn_metric_name_valid(s->name) || strlen(s->sid) != 16 || s->unit) __builtin_trap();
        if (s->ts_ms < 0 || s->ts_ms > 253402300799999LL) __builtin_trap();
        for (size_t j = 0; j < s->nlabels; j++) {
            if (!tn_label_name_valid(s->labels[j].name)) __builtin_trap();
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
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    const char *prec = size && (data[0] & 1) ? "s" : NULL;
    tn_parse_opts_t o = {1700000000000LL, 0};
    tn_batch_t whole, parts;
    tn_batch_init(&whole);
    tn_batch_init(&parts);
    tn_ingest_report_t r1, r2;
    tn_ingest_report_init(&r1);
    tn_ingest_report_init(&r2);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    if (tn_parse_influx(body, size, &o, prec, &whole, &r1, &fatal)) __builtin_trap();
    check(&whole, &r1);

    size_t k = tn_influx_complete_prefix(body, size / 2);
    if (k > size / 2 || (k && body[k - 1] != '\n')) __builtin_trap();
    if (tn_parse_influx(body, k, &o, prec, &parts, &r2, &fatal) ||
        tn_parse_influx(body + k, size - k, &o, prec, &parts, &r2, &fatal))
        __builtin_trap();
    check(&parts, &r2);
    if (r1.accepted != r2.accepted || r1.rejected != r2.rejected) __builtin_trap();
    for (size_t i = 0; i < whole.samples.n; i++) {
        const tn_sample_t *a = &whole.samples.items[i], *b = &parts.samples.items[i];
        if (strcmp(a->sid, b->sid) || a->ts_ms != b->ts_ms ||
            memcmp(&a->value, &b->value, sizeof a->value))
            __builtin_trap();
    }
    tn_batch_deinit(&whole);
    tn_batch_deinit(&parts);
    tn_ingest_report_deinit(&r1);
    tn_ingest_report_deinit(&r2);
    tn_buf_deinit(&fatal);
    return 0;
}
