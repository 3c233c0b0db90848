/* libFuzzer target: the id in Grafana's answer to an annotation create (notify/grafana.c), read
 * leniently because the documented example is not valid JSON. See fuzz_json_samples.c for how to
 * build and run. */
#include "notify/grafana.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* not NUL-terminated on purpose: the reader must stay within size */
    char *s = malloc(size ? size : 1);
    if (!s) return 0;
    memcpy(s, data, size);
    long long id = tn_grafana_created_id(s, size);
    if (id < 0) __builtin_trap();
    free(s);
    return 0;
}
