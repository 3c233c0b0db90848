/* failalloc.h - allocation failure injection for unit tests: this header replaces malloc,
 * calloc, realloc and free for the test binary (include it in one file only, the test's).
 *
 *   g_allocs = 0; g_fail_at = k;   ... the k-th allocation (from 0) returns NULL ...
 *   g_fail_at = -1;                g_live counts the blocks still allocated
 *
 * Not under AddressSanitizer, which owns malloc: TN_TEST_NO_MALLOC_HOOK is then defined and the
 * tests that need the hook skip. Under valgrind, whose malloc replaces this one, hook_active()
 * is false. */
#ifndef TN_TEST_FAILALLOC_H
#define TN_TEST_FAILALLOC_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define TN_TEST_NO_MALLOC_HOOK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TN_TEST_NO_MALLOC_HOOK 1
#endif
#endif

#ifndef TN_TEST_NO_MALLOC_HOOK
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static long g_fail_at = -1; /* the allocation (counting from 0) that fails, -1: none */
static long g_allocs;       /* allocations so far */
static long g_live;         /* live blocks */

static int fail_now(void)
{
    return g_fail_at >= 0 && g_allocs++ == g_fail_at;
}
/* False under valgrind, whose malloc replaces ours: the failure tests then skip. */
static inline int hook_active(void)
{
    g_allocs = 0;
    g_fail_at = 0;
    void *(*volatile alloc)(size_t) = malloc; /* not the builtin: at -O2 gcc folds p == NULL */
    void *p = alloc(1);
    g_fail_at = -1;
    free(p);
    return p == NULL;
}
void *malloc(size_t n)
{
    if (fail_now()) return NULL;
    void *p = __libc_malloc(n);
    if (p) g_live++;
    return p;
}
void *calloc(size_t a, size_t b)
{
    if (fail_now()) return NULL;
    void *p = __libc_calloc(a, b);
    if (p) g_live++;
    return p;
}
void *realloc(void *q, size_t n)
{
    if (fail_now()) return NULL;
    void *p = __libc_realloc(q, n);
    if (p && !q) g_live++;
    return p;
}
void free(void *p)
{
    if (p) g_live--;
    __libc_free(p);
}
#endif

#endif
