#include "core/hmap.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static char g_tomb;
#define TOMB (&g_tomb)

uint64_t tn_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void tn_hmap_init(tn_hmap_t *m)
{
    memset(m, 0, sizeof *m);
}

void tn_hmap_deinit(tn_hmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB) free(m->slots[i].key);
    free(m->slots);
    tn_hmap_init(m);
}

static tn_hmap_slot_t *find(const tn_hmap_t *m, const char *key, uint64_t h)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        tn_hmap_slot_t *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->key != TOMB && s->hash == h && strcmp(s->key, key) == 0) return s;
    }
}

void *tn_hmap_get(const tn_hmap_t *m, const char *key)
{
    tn_hmap_slot_t *s = find(m, key, tn_hash64(key, strlen(key)));
    return s ? s->value : NULL;
}

static int grow(tn_hmap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    if (m->len * 4 < m->cap) cap = m->cap; /* mostly tombstones: rehash in place size */
    tn_hmap_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return TN_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        tn_hmap_slot_t *s = &m->slots[i];
        if (!s->key || s->key == TOMB) continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->len;
    return 0;
}

int tn_hmap_put(tn_hmap_t *m, const char *key, void *value, void **old)
{
    uint64_t h = tn_hash64(key, strlen(key));
    tn_hmap_slot_t *s = find(m, key, h);
    if (s) {
        if (old) *old = s->value;
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        int rc = grow(m);
        if (rc) return rc;
    }
    char *k = strdup(key);
    if (!k) return TN_ENOMEM;
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i] = (tn_hmap_slot_t){k, h, value};
    m->len++;
    if (old) *old = NULL;
    return 0;
}

void *tn_hmap_del(tn_hmap_t *m, const char *key)
{
    tn_hmap_slot_t *s = find(m, key, tn_hash64(key, strlen(key)));
    if (!s) return NULL;
    void *v = s->value;
    free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->len--;
    return v;
}

int tn_hmap_next(const tn_hmap_t *m, size_t *iter, const char **key, void **value)
{
    for (; *iter < m->cap; (*iter)++) {
        tn_hmap_slot_t *s = &m->slots[*iter];
        if (s->key && s->key != TOMB) {
            if (key) *key = s->key;
            if (value) *value = s->value;
            (*iter)++;
            return 1;
        }
    }
    return 0;
}
