/* libFuzzer target: the JSON samples parser and normalizer (ingest/json_samples.c).
 * Built and run briefly by `make test` when clang is present (build-fuzz/); by hand:
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTN_FUZZ=ON && cmake --build build-fuzz
 *   build-fuzz/tests/fuzz_json_samples -max_total_time=60 tests/fuzz/corpus/json_samples */
#include "ingest/json_samples.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tn_samples_t out;
    tn_samples_init(&out);
    tn_ingest_report_t rep;
    tn_ingest_report_init(&rep);
    tn_buf_t fatal;
    tn_buf_init(&fatal);
    int rc =
        tn_ingest_json_samples((const char *)data, size, 1000, 1700000000000LL, &out, &rep, &fatal);
    /* invariants: accepted samples are canonical */
    if (rc == 0) {
        if (rep.accepted != out.n) __builtin_trap();
        for (size_t i = 0; i < out.n; i++) {
            const tn_sample_t *s = &out.items[i];
            if (!tn_metric_name_valid(s->name) || strlen(s->sid) != 16) __builtin_trap();
            for (size_t j = 0; j < s->nlabels; j++) {
                if (!tn_label_name_valid(s->labels[j].name)) __builtin_trap();
                if (j && strcmp(s->labels[j - 1].name, s->labels[j].name) >= 0) __builtin_trap();
            }
        }
    }
    tn_samples_deinit(&out);
    tn_ingest_report_deinit(&rep);
    tn_buf_deinit(&fatal);
    return 0;
}
