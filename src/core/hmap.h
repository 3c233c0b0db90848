/* hmap.h - string-keyed open-addressing hash map (linear probing, tombstones).
 * Keys are copied and owned by the map; values are borrowed pointers (the caller owns them).
 * Embedded by its owner: tn_hmap_init / tn_hmap_deinit. */
#ifndef TN_CORE_HMAP_H
#define TN_CORE_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *key; /* NULL: empty; TN_HMAP_TOMB: deleted */
    uint64_t hash;
    void *value;
} tn_hmap_slot_t;

typedef struct {
    tn_hmap_slot_t *slots;
    size_t cap;  /* power of two or 0 */
    size_t len;  /* live entries */
    size_t used; /* live + tombstones */
} tn_hmap_t;

uint64_t tn_hash64(const void *data, size_t len); /* FNV-1a 64 */

void tn_hmap_init(tn_hmap_t *m);
/* Frees keys and slots; values are not touched (iterate first to free them). */
void tn_hmap_deinit(tn_hmap_t *m);
void *tn_hmap_get(const tn_hmap_t *m, const char *key);
/* Inserts or replaces. *old (optional) receives the previous value or NULL. 0 or TN_ENOMEM. */
int tn_hmap_put(tn_hmap_t *m, const char *key, void *value, void **old);
/* Removes key; returns its value or NULL. */
void *tn_hmap_del(tn_hmap_t *m, const char *key);

/* Iteration: for (size_t i = 0; tn_hmap_next(m, &i, &k, &v);) ... (no put/del during it,
 * except tn_hmap_del of the current key). */
int tn_hmap_next(const tn_hmap_t *m, size_t *iter, const char **key, void **value);

#endif
