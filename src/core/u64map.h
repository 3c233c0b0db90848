/* u64map.h - an open-addressing hash map from 64-bit keys to non-NULL pointers, for hot paths
 * keyed by a series id (no string compares, no key copies). Embedded by its owner:
 * tn_u64map_init / tn_u64map_deinit. No deletion: a cache is cleared whole. */
#ifndef TN_CORE_U64MAP_H
#define TN_CORE_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;
    void *val; /* NULL marks an empty slot */
} tn_u64map_slot_t;

typedef struct {
    tn_u64map_slot_t *slots; /* key and value side by side: one cache line per probe */
    size_t cap;              /* a power of two, or 0 */
    size_t len;
} tn_u64map_t;

void tn_u64map_init(tn_u64map_t *m);
/* Frees the table (not the values: the owner frees them first, see tn_u64map_next). */
void tn_u64map_deinit(tn_u64map_t *m);
/* The value for key (borrowed), or NULL. */
void *tn_u64map_get(const tn_u64map_t *m, uint64_t key);
/* Hints that key will be looked up soon: its slot is fetched into the cache meanwhile. */
void tn_u64map_prefetch(const tn_u64map_t *m, uint64_t key);
/* Sets key to val (non-NULL; the map does not own it); an existing value is replaced and
 * returned in *old when old is not NULL. 0 or TN_ENOMEM (the map is unchanged). */
int tn_u64map_put(tn_u64map_t *m, uint64_t key, void *val, void **old);
/* Iterates: *iter starts at 0; 1 and the entry, or 0 at the end. */
int tn_u64map_next(const tn_u64map_t *m, size_t *iter, uint64_t *key, void **val);

#endif
