/* json_arena.h - a bump allocator for the jansson values of one parse.
 *
 * Parsing a JSON request body with jansson makes a tree of small allocations that all die
 * together when the parse is done; with malloc they cost more than the parse itself (measured:
 * a third of the OTLP input's time in malloc/free/consolidate). Between tn_json_arena_begin()
 * and tn_json_arena_end() every jansson allocation comes from a few large chunks, frees are no-ops,
 * and end() releases everything at once.
 *
 * Anything jansson allocates for you in a scope is arena memory, json_dumps' text included: use
 * tn_json_dumps() for text that must outlive the scope. Under AddressSanitizer the chunks are
 * not reused, so a value that escapes its scope is reported as a use after free.
 *
 * Rule for callers: no jansson value made inside the scope may outlive it (copy what you keep
 * into your own memory). Frees of values made outside the scope still go to free(). Scopes nest;
 * a scope belongs to the thread that opened it. Without tn_json_arena_install() (unit tests),
 * begin/end do nothing and jansson uses malloc as usual. */
#ifndef TN_CORE_JSON_ARENA_H
#define TN_CORE_JSON_ARENA_H

#include <jansson.h>
#include <stddef.h>

typedef struct tn_json_chunk tn_json_chunk_t;

typedef struct tn_json_arena {
    tn_json_chunk_t *chunks; /* newest first */
    size_t used_bytes;       /* handed out, for the counters */
    struct tn_json_arena *prev;
    int active;
} tn_json_arena_t;

/* Routes jansson's allocations through the arena hooks (json_set_alloc_funcs). Call once, early;
 * values allocated before it are still freed correctly. */
void tn_json_arena_install(void);

/* Opens a scope on a (caller-owned, embedded) arena. */
void tn_json_arena_begin(tn_json_arena_t *a);
/* Closes the scope opened last and frees all its memory. */
void tn_json_arena_end(tn_json_arena_t *a);

/* json_dumps that is safe inside a scope: the text is malloc'ed (caller frees it with free()),
 * never arena memory. NULL on allocation failure. */
char *tn_json_dumps(const json_t *j, size_t flags);

#endif
