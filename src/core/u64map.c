/* u64map.c - see u64map.h. */
#include "core/u64map.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* Series ids are hashes already; the finalizer spreads any other keys too. */
static inline size_t slot_of(uint64_t k, size_t mask)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

void tn_u64map_init(tn_u64map_t *m)
{
    memset(m, 0, sizeof *m);
}

void tn_u64map_deinit(tn_u64map_t *m)
{
    free(m->keys);
    free(m->vals);
    tn_u64map_init(m);
}

void *tn_u64map_get(const tn_u64map_t *m, uint64_t key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
        if (!m->vals[i]) return NULL;
        if (m->keys[i] == key) return m->vals[i];
    }
}

static int grow(tn_u64map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = malloc(cap * sizeof *keys);
    void **vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return TN_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->vals[i]) continue;
        size_t j = slot_of(m->keys[i], cap - 1);
        while (vals[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int tn_u64map_put(tn_u64map_t *m, uint64_t key, void *val, void **old)
{
    if (old) *old = NULL;
    if (!val) return TN_EINVAL;
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m)) return TN_ENOMEM;
    size_t mask = m->cap - 1, i = slot_of(key, mask);
    while (m->vals[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    if (m->vals[i]) {
        if (old) *old = m->vals[i];
    } else {
        m->len++;
    }
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

int tn_u64map_next(const tn_u64map_t *m, size_t *iter, uint64_t *key, void **val)
{
    for (; *iter < m->cap; (*iter)++) {
        if (!m->vals[*iter]) continue;
        if (key) *key = m->keys[*iter];
        if (val) *val = m->vals[*iter];
        (*iter)++;
        return 1;
    }
    return 0;
}
