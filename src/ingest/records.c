#include "ingest/records.h"
#include "ingest/normalize.h"
#include "core/error.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tn_labels_init(tn_labels_t *l)
{
    memset(l, 0, sizeof *l);
}

void tn_labels_deinit(tn_labels_t *l)
{
    for (size_t i = 0; i < l->n && !l->pool; i++) {
        free(l->items[i].name);
        free(l->items[i].value);
    }
    free(l->items);
    tn_labels_init(l);
}

int tn_labels_add_raw(tn_labels_t *l, const char *name, const char *value, size_t vlen)
{
    if (vlen == (size_t)-1) vlen = strlen(value);
    if (l->n >= TN_MAX_LABELS) return TN_ETOOBIG;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        tn_label_t *p = realloc(l->items, cap * sizeof *p);
        if (!p) return TN_ENOMEM;
        l->items = p;
        l->cap = cap;
    }
    if (l->pool) {
        tn_buf_t *b = l->pool;
        size_t nlen = strlen(name) + 1;
        if (b->cap < b->len + 1 || nlen + vlen + 1 > b->cap - b->len - 1) return TN_ENOMEM;
        char *n = b->data + b->len, *v = n + nlen;
        memcpy(n, name, nlen);
        memcpy(v, value, vlen);
        v[vlen] = '\0';
        b->len += nlen + vlen + 1;
        l->items[l->n++] = (tn_label_t){n, v};
        return 0;
    }
    char *n = strdup(name), *v = malloc(vlen + 1);
    if (!n || !v) {
        free(n), free(v);
        return TN_ENOMEM;
    }
    memcpy(v, value, vlen);
    v[vlen] = '\0';
    l->items[l->n++] = (tn_label_t){n, v};
    return 0;
}

int tn_labels_add(tn_labels_t *l, const char *name, const char *value, size_t vlen, tn_buf_t *err)
{
    if (vlen == (size_t)-1) vlen = strlen(value);
    if (vlen > TN_MAX_LABEL_VALUE_LEN) {
        tn_buf_printf(err, "label '%.64s' value is longer than %d bytes", name,
                      TN_MAX_LABEL_VALUE_LEN);
        return TN_EINVAL;
    }
    if (memchr(value, '\0', vlen)) {
        tn_buf_printf(err, "label '%.64s' value contains a NUL byte", name);
        return TN_EINVAL;
    }
    char canon[TN_MAX_NAME_LEN + 2];
    if (tn_norm_label_name(name, canon, sizeof canon, err)) return TN_EINVAL;
    int rc = tn_labels_add_raw(l, canon, value, vlen);
    if (rc == TN_ETOOBIG) {
        tn_buf_printf(err, "too many labels (limit %d)", TN_MAX_LABELS);
        return TN_EINVAL;
    }
    return rc;
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const tn_label_t *)a)->name, ((const tn_label_t *)b)->name);
}

int tn_labels_finish(tn_labels_t *l, tn_buf_t *err)
{
    /* labels often come in order already: then there is nothing to sort and no duplicate */
    size_t k = 1;
    while (k < l->n && strcmp(l->items[k - 1].name, l->items[k].name) < 0)
        k++;
    if (k < l->n) {
        qsort(l->items, l->n, sizeof *l->items, label_cmp);
        for (size_t i = 1; i < l->n; i++) {
            if (strcmp(l->items[i - 1].name, l->items[i].name) == 0) {
                tn_buf_printf(err, "duplicate label '%s'", l->items[i].name);
                return TN_EINVAL;
            }
        }
    }
    return 0;
}

const char *tn_labels_get(const tn_labels_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0) return l->items[i].value;
    return NULL;
}

int tn_labels_copy(tn_labels_t *dst, const tn_labels_t *src)
{
    for (size_t i = 0; i < src->n; i++) {
        int rc = tn_labels_add_raw(dst, src->items[i].name, src->items[i].value, (size_t)-1);
        if (rc) return rc;
    }
    return 0;
}

int tn_sample_take_labels(tn_sample_t *s, tn_labels_t *l, tn_buf_t *err)
{
    s->labels = l->items;
    s->nlabels = l->n;
    tn_labels_init(l);
    return tn_sample_finish(s, err);
}

void tn_log_deinit(tn_log_t *l)
{
    free(l->severity);
    free(l->body);
    tn_labels_deinit(&l->labels);
    memset(l, 0, sizeof *l);
}

void tn_span_deinit(tn_span_t *s)
{
    free(s->name);
    free(s->service);
    free(s->kind);
    tn_labels_deinit(&s->labels);
    memset(s, 0, sizeof *s);
}

void tn_event_deinit(tn_event_t *e)
{
    free(e->type);
    free(e->source);
    free(e->status);
    free(e->title);
    free(e->fingerprint);
    free(e->data);
    tn_labels_deinit(&e->labels);
    memset(e, 0, sizeof *e);
}

struct tn_batch_chunk {
    struct tn_batch_chunk *next;
    size_t used, cap;
    _Alignas(max_align_t) char data[];
};

#define CHUNK_BYTES (64u << 10)

void *tn_batch_alloc(tn_batch_t *b, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0 || size > SIZE_MAX / 2) return NULL;
    struct tn_batch_chunk *c = b->chunks;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > CHUNK_BYTES / 4 ? size : CHUNK_BYTES - sizeof *c;
        struct tn_batch_chunk *n = malloc(sizeof *n + cap);
        if (n == NULL) return NULL;
        n->used = 0;
        n->cap = cap;
        n->next = c;
        b->chunks = c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

void tn_batch_init(tn_batch_t *b)
{
    memset(b, 0, sizeof *b);
    tn_samples_init(&b->samples);
}

void tn_batch_deinit(tn_batch_t *b)
{
    tn_samples_deinit(&b->samples);
    for (size_t i = 0; i < b->nlogs; i++)
        tn_log_deinit(&b->logs[i]);
    for (size_t i = 0; i < b->nspans; i++)
        tn_span_deinit(&b->spans[i]);
    for (size_t i = 0; i < b->nevents; i++)
        tn_event_deinit(&b->events[i]);
    free(b->logs);
    free(b->spans);
    free(b->events);
    while (b->chunks != NULL) {
        struct tn_batch_chunk *c = b->chunks;
        b->chunks = c->next;
        free(c);
    }
    tn_batch_init(b);
}

size_t tn_batch_count(const tn_batch_t *b)
{
    return b->samples.n + b->nlogs + b->nspans + b->nevents;
}

#define PUSH(arr, n, cap, type)                                                                    \
    do {                                                                                           \
        if (b->n == b->cap) {                                                                      \
            size_t c_ = b->cap ? b->cap * 2 : 16;                                                  \
            type *p_ = realloc(b->arr, c_ * sizeof *p_);                                           \
            if (!p_) return NULL;                                                                  \
            b->arr = p_;                                                                           \
            b->cap = c_;                                                                           \
        }                                                                                          \
        type *x_ = &b->arr[b->n++];                                                                \
        memset(x_, 0, sizeof *x_);                                                                 \
        return x_;                                                                                 \
    } while (0)

tn_log_t *tn_batch_push_log(tn_batch_t *b)
{
    PUSH(logs, nlogs, caplogs, tn_log_t);
}
tn_span_t *tn_batch_push_span(tn_batch_t *b)
{
    PUSH(spans, nspans, capspans, tn_span_t);
}
tn_event_t *tn_batch_push_event(tn_batch_t *b)
{
    PUSH(events, nevents, capevents, tn_event_t);
}

void tn_batch_drop_log(tn_batch_t *b)
{
    if (b->nlogs) tn_log_deinit(&b->logs[--b->nlogs]);
}
void tn_batch_drop_span(tn_batch_t *b)
{
    if (b->nspans) tn_span_deinit(&b->spans[--b->nspans]);
}
void tn_batch_drop_event(tn_batch_t *b)
{
    if (b->nevents) tn_event_deinit(&b->events[--b->nevents]);
}
void tn_batch_drop_sample(tn_batch_t *b)
{
    if (b->samples.n) tn_sample_deinit(&b->samples.items[--b->samples.n]);
}

int tn_norm_hex_id(const char *in, size_t len, char *out, size_t digits)
{
    if (len == 0) {
        out[0] = '\0';
        return 0;
    }
    if (len != digits) return TN_EINVAL;
    int nonzero = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)in[i])) return TN_EINVAL;
        out[i] = (char)tolower((unsigned char)in[i]);
        nonzero |= in[i] != '0';
    }
    out[len] = '\0';
    return nonzero ? 0 : TN_EINVAL; /* all-zero ids are invalid in W3C/OTLP */
}

const char *tn_norm_severity(const char *s)
{
    static const struct {
        const char *in, *out;
    } map[] = {{"trace", "trace"},     {"debug", "debug"},      {"dbg", "debug"},
               {"info", "info"},       {"information", "info"}, {"informational", "info"},
               {"notice", "info"},     {"warn", "warn"},        {"warning", "warn"},
               {"error", "error"},     {"err", "error"},        {"critical", "fatal"},
               {"crit", "fatal"},      {"alert", "fatal"},      {"emerg", "fatal"},
               {"emergency", "fatal"}, {"fatal", "fatal"},      {"panic", "fatal"}};
    if (!s) return "";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(s, map[i].in) == 0) return map[i].out;
    /* OTLP severity texts like "INFO2", "ERROR3" */
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].in);
        if (strncasecmp(s, map[i].in, n) == 0 && isdigit((unsigned char)s[n]) && !s[n + 1])
            return map[i].out;
    }
    return "";
}
