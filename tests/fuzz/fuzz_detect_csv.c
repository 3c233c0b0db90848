/* libFuzzer target: the CSV reader and scorer of `tocsin detect` (src/cli/cmd_detect.c, compiled
 * into this target, since the command is not part of the library). The first byte picks the
 * options (separator handling is automatic; explain, iforest, label columns), the rest is the
 * CSV. Whatever the input, the command must return 0 (scored) or 1 (a malformed line, named),
 * never crash, leak or read out of bounds. Its output goes to /dev/null. By hand:
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTN_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_detect_csv
 *   build-fuzz/tests/fuzz_detect_csv -max_total_time=60 tests/fuzz/corpus/detect_csv */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *g_fuzz_out, *g_fuzz_err;
#undef stdout
#undef stderr
#define stdout g_fuzz_out
#define stderr g_fuzz_err
#include "cli/cmd_detect.c"
#undef stdout
#undef stderr

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_fuzz_out = fopen("/dev/null", "w");
    g_fuzz_err = fopen("/dev/null", "w");
    return g_fuzz_out && g_fuzz_err ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 16)) return 0;
    opts_t o;
    memset(&o, 0, sizeof o);
    uint8_t k = data[0];
    o.explain = k & 1;
    o.iforest = (k >> 1) & 1;
    o.train_rows = 20;
    o.p.window = 8 + (k >> 4);
    o.p.min_samples = 4;
    if (k & 4) o.ignore = (char *)"anomaly";
    FILE *in = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "r");
    if (!in) return 0;
    if (size == 1) fseek(in, 0, SEEK_END); /* an empty file */
    int rc = run(&o, in);
    fclose(in);
    if (rc != 0 && rc != 1) __builtin_trap();
    return 0;
}
