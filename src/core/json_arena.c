/* json_arena.c - see json_arena.h. */
#include "core/json_arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define FIRST_CHUNK (256u << 10)
#define MAX_CHUNK (64u << 20)
#define ALIGN 16u

struct tn_json_chunk {
    tn_json_chunk_t *next;
    char *base, *end; /* the usable bytes */
    char *cur;
    size_t size; /* of the whole allocation */
};

static _Thread_local tn_json_arena_t *g_arena; /* innermost open scope */
static _Thread_local tn_json_chunk_t *g_spare; /* one chunk kept for the next scope */
static int g_installed;
/* A thread that ends frees its spare chunk (ingest's worker threads); the main thread's stays
 * reachable until exit. */
static pthread_key_t g_spare_key;
static int g_spare_key_ok;

static void spare_free(void *p)
{
    (void)p;
    free(g_spare);
    g_spare = NULL;
}

#if defined(__SANITIZE_ADDRESS__)
#define KEEP_SPARE 0 /* freed chunks stay freed, so escapes are caught */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEP_SPARE 0
#endif
#endif
#ifndef KEEP_SPARE
#define KEEP_SPARE 1
#endif

static tn_json_chunk_t *chunk_new(size_t min)
{
    size_t size = FIRST_CHUNK;
    if (g_arena && g_arena->chunks) size = g_arena->chunks->size * 2;
    if (size > MAX_CHUNK) size = MAX_CHUNK;
    while (size < min + sizeof(tn_json_chunk_t) + ALIGN)
        size *= 2;
    if (g_spare && g_spare->size >= size) {
        tn_json_chunk_t *c = g_spare;
        g_spare = NULL;
        c->cur = c->base;
        return c;
    }
    tn_json_chunk_t *c = malloc(size);
    if (!c) return NULL;
    c->size = size;
    uintptr_t b = ((uintptr_t)(c + 1) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    c->base = c->cur = (char *)b;
    c->end = (char *)c + size;
    return c;
}

static void *arena_malloc(size_t n)
{
    tn_json_arena_t *a = g_arena;
    if (!a) return malloc(n);
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    tn_json_chunk_t *c = a->chunks;
    if (!c || (size_t)(c->end - c->cur) < n) {
        if (!(c = chunk_new(n))) return NULL;
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = c->cur;
    c->cur += n;
    a->used_bytes += n;
    return p;
}

/* A pointer inside one of the open scopes' chunks is freed with its scope. */
static int in_scope(const void *p)
{
    for (tn_json_arena_t *a = g_arena; a; a = a->prev)
        for (tn_json_chunk_t *c = a->chunks; c; c = c->next)
            if ((const char *)p >= c->base && (const char *)p < c->end) return 1;
    return 0;
}

static void arena_free(void *p)
{
    if (!p) return;
    if (g_arena && in_scope(p)) return;
    free(p);
}

void tn_json_arena_install(void)
{
    if (g_installed) return;
    json_set_alloc_funcs(arena_malloc, arena_free);
    json_object_seed(0); /* now, on this thread: jansson seeds its hashes on first use */
    g_spare_key_ok = pthread_key_create(&g_spare_key, spare_free) == 0;
    g_installed = 1;
}

void tn_json_arena_begin(tn_json_arena_t *a)
{
    a->chunks = NULL;
    a->used_bytes = 0;
    a->active = g_installed;
    if (!a->active) return;
    a->prev = g_arena;
    g_arena = a;
}

void tn_json_arena_end(tn_json_arena_t *a)
{
    if (!a->active) return;
    g_arena = a->prev;
    a->active = 0;
    for (tn_json_chunk_t *c = a->chunks, *next; c; c = next) {
        next = c->next;
        if (KEEP_SPARE && (!g_spare || c->size > g_spare->size)) {
            free(g_spare);
            g_spare = c;
            if (g_spare_key_ok) pthread_setspecific(g_spare_key, g_spare);
        } else {
            free(c);
        }
    }
    a->chunks = NULL;
}

char *tn_json_dumps(const json_t *j, size_t flags)
{
    size_t n = json_dumpb(j, NULL, 0, flags);
    if (n == 0) return NULL;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (json_dumpb(j, s, n, flags) != n) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    return s;
}
