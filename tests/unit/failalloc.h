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
#ifdef TN_FAILALLOC_SPLIT_LIBC
/* Optional (define TN_FAILALLOC_SPLIT_LIBC before including): glibc's regcomp leaks a block on
 * some of its own allocation failures. While g_split is set (and g_libc_base is libc's load
 * address), blocks that the C library allocates for itself are kept apart (g_libc_blocks,
 * g_libc_live) so that g_live counts exactly the blocks allocated by our code. */
#include <dlfcn.h>
#include <stdlib.h>
static int g_split;
static void *g_libc_base;
static void *g_libc_blocks[4096];
static long g_libc_live;
static int from_libc(void *ret)
{
    Dl_info info;
    return g_split && dladdr(ret, &info) && info.dli_fbase == g_libc_base;
}
static void libc_add(void *p)
{
    for (size_t i = 0; i < sizeof g_libc_blocks / sizeof g_libc_blocks[0]; i++)
        if (!g_libc_blocks[i]) {
            g_libc_blocks[i] = p;
            g_libc_live++;
            return;
        }
    abort();
}
static void **libc_find(void *p)
{
    if (!g_libc_live) return NULL;
    for (size_t i = 0; i < sizeof g_libc_blocks / sizeof g_libc_blocks[0]; i++)
        if (g_libc_blocks[i] == p) return &g_libc_blocks[i];
    return NULL;
}
#else
static int from_libc(void *ret)
{
    (void)ret;
    return 0;
}
static void libc_add(void *p)
{
    (void)p;
}
static void **libc_find(void *p)
{
    (void)p;
    return NULL;
}
#endif
static void *count(void *p, void *ret)
{
    if (p && from_libc(ret))
        libc_add(p);
    else if (p)
        g_live++;
    return p;
}
void *malloc(size_t n)
{
    if (fail_now()) return NULL;
    return count(__libc_malloc(n), __builtin_return_address(0));
}
void *calloc(size_t a, size_t b)
{
    if (fail_now()) return NULL;
    return count(__libc_calloc(a, b), __builtin_return_address(0));
}
void *realloc(void *q, size_t n)
{
    if (fail_now()) return NULL;
    void **slot = q ? libc_find(q) : NULL;
    void *p = __libc_realloc(q, n);
    if (slot && p) *slot = p;
    if (p && !q) count(p, __builtin_return_address(0));
    return p;
}
void free(void *p)
{
    void **slot = p ? libc_find(p) : NULL;
    if (slot) {
        *slot = NULL;
#ifdef TN_FAILALLOC_SPLIT_LIBC
        g_libc_live--;
#endif
    } else if (p) {
        g_live--;
    }
    __libc_free(p);
}
#endif

#endif
