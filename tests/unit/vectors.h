/* vectors.h - reading the upstream protocol examples in ../shared/vectors from unit tests.
 * Include after <cmocka.h>. */
#ifndef TN_TEST_VECTORS_H
#define TN_TEST_VECTORS_H

#include <stdio.h>
#include <stdlib.h>

/* Reads shared/vectors/<rel> (rel like "otlp/metrics.json") into a new NUL-terminated buffer
 * (free() it); fails the test when the file is missing. The directory comes from
 * $TN_SOURCE_DIR (set by ctest), then the TN_SOURCE_DIR the library was built with, then the
 * current directory and its parents. */
static inline char *tn_test_read_vector(const char *rel, size_t *len)
{
    const char *env = getenv("TN_SOURCE_DIR");
#ifdef TN_SOURCE_DIR
    const char *built_in = TN_SOURCE_DIR;
#else
    const char *built_in = NULL;
#endif
    const char *bases[] = {env, built_in, ".", "..", "../..", "../../.."};
    char path[4096];
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        if (!bases[i]) continue;
        snprintf(path, sizeof path, "%s/../shared/vectors/%s", bases[i], rel);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc((size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        buf[n] = '\0';
        fclose(f);
        *len = (size_t)n;
        return buf;
    }
    fail_msg("vector %s not found (set TN_SOURCE_DIR)", rel);
    return NULL;
}

#endif
