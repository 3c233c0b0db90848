/* memlimit.h - out-of-memory for real in tests: the soft address-space limit lowered to what the
 * process uses plus a margin, and restored afterwards. Not under AddressSanitizer, whose shadow
 * memory needs a huge address space: there limit_memory fails and the test skips that part. */
#ifndef TN_TEST_MEMLIMIT_H
#define TN_TEST_MEMLIMIT_H

#include <stdio.h>
#include <sys/resource.h>

#if defined(__SANITIZE_ADDRESS__)
#define TN_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TN_TEST_ASAN 1
#endif
#endif

/* 0 with the old limit in *saved, or -1 (no limit set). */
static inline int limit_memory(struct rlimit *saved, size_t margin)
{
#ifdef TN_TEST_ASAN
    (void)saved;
    (void)margin;
    return -1;
#else
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!fp) return -1;
    int ok = fscanf(fp, "%lu", &pages) == 1;
    fclose(fp);
    if (!ok || getrlimit(RLIMIT_AS, saved) != 0) return -1;
    struct rlimit lim = *saved;
    lim.rlim_cur = (rlim_t)pages * 4096 + margin;
    if (saved->rlim_max != RLIM_INFINITY && lim.rlim_cur > saved->rlim_max) return -1;
    return setrlimit(RLIMIT_AS, &lim);
#endif
}

#endif
