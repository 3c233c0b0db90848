/* libFuzzer target: RFC 3339 timestamps and label-name normalization (ingest/normalize.c).
 * See fuzz_json_samples.c for how to build and run. */
#include "ingest/normalize.h"
#include "core/sample.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms;
    if (tn_norm_ts_rfc3339(s, &ms, &err) == 0 && ms < 0) __builtin_trap();
    char out[TN_MAX_NAME_LEN + 2];
    tn_buf_reset(&err);
    if (tn_norm_label_name(s, out, sizeof out, &err) == 0 && !tn_label_name_valid(out))
        __builtin_trap();
    tn_buf_deinit(&err);
    free(s);
    return 0;
}
