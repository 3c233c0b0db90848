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
    free(m->slots);
    tn_u64map_init(m);
}

void *tn_u64map_get(const tn_u64map_t *m, uint64_t key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
        const tn_u64map_slot_t *x = &m->slots[i];
        if (!x->val) return NULL;
        if (x->key == key) return x->val;
    }
}

void tn_u64map_prefetch(const tn_u64map_t *m, uint64_t key)
{
    if (m->cap) __builtin_prefetch(&m->slots[slot_of(key, m->cap - 1)]);
}

static int grow(tn_u64map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    tn_u64map_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return TN_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].val) continue;
        size_t j = slot_of(m->slots[i].key, cap - 1);
        while (slots[j].val)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int tn_u64map_put(tn_u64map_t *m, uint64_t key, void *val, void **old)
{
    if (old) *old = NULL;
    if (!val) return TN_EINVAL;
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m)) return TN_ENOMEM;
    size_t mask = m->cap - 1, i = slot_of(key, mask);
    while (m->slots[i].val && m->slots[i].key != key)
        i = (i + 1) & mask;
    if (m->slots[i].val) {
        if (old) *old = m->slots[i].val;
    } else {
        m->len++;
    }
    m->slots[i].key = key;
    m->slots[i].val = val;
    return 0;
}

int tn_u64map_next(const tn_u64map_t *m, size_t *iter, uint64_t *key, void **val)
{
    for (; *iter < m->cap; (*iter)++) {
        if (!m->slots[*iter].val) continue;
        if (key) *key = m->slots[*iter].key;
        if (val) *val = m->slots[*iter].val;
        (*iter)++;
        return 1;
    }
    return 0;
}
