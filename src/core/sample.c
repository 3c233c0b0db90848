#include "core/sample.h"
#include "core/error.h"
#include "core/hmap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void tn_sample_deinit(tn_sample_t *s)
{
    if (s->packed) {
        if (s->packed == 1) free(s->labels);
        memset(s, 0, sizeof *s);
        return;
    }
    free(s->name);
    for (size_t i = 0; i < s->nlabels; i++) {
        free(s->labels[i].name);
        free(s->labels[i].value);
    }
    free(s->labels);
    free(s->unit);
    memset(s, 0, sizeof *s);
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const tn_label_t *)a)->name, ((const tn_label_t *)b)->name);
}

int tn_sample_finish(tn_sample_t *s, tn_buf_t *err)
{
    /* labels often come in order already: then there is nothing to sort and no duplicate */
    size_t k = 1;
    while (k < s->nlabels && strcmp(s->labels[k - 1].name, s->labels[k].name) < 0)
        k++;
    if (k < s->nlabels) {
        qsort(s->labels, s->nlabels, sizeof *s->labels, label_cmp);
        for (size_t i = 1; i < s->nlabels; i++) {
            if (strcmp(s->labels[i - 1].name, s->labels[i].name) == 0) {
                tn_buf_printf(err, "duplicate label '%s'", s->labels[i].name);
                return TN_EINVAL;
            }
        }
    }
    uint64_t h = 14695981039346656037ULL;
    /* each string with its NUL, read once (no strlen first) */
#define MIX(p)                                                                                     \
    for (const unsigned char *q_ = (const unsigned char *)(p);; q_++) {                            \
        h ^= *q_;                                                                                  \
        h *= 1099511628211ULL;                                                                     \
        if (!*q_) break;                                                                           \
    }
    MIX(s->name);
    for (size_t i = 0; i < s->nlabels; i++) {
        MIX(s->labels[i].name);
        MIX(s->labels[i].value);
    }
#undef MIX
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        s->sid[i] = hex[(h >> (60 - 4 * i)) & 15];
    s->sid[16] = '\0';
    s->sid_hash = h;
    return 0;
}

int tn_sample_labels_json(const tn_sample_t *s, tn_buf_t *out)
{
    int rc = tn_buf_puts(out, "{");
    for (size_t i = 0; i < s->nlabels && !rc; i++) {
        if (i) rc = tn_buf_puts(out, ",");
        if (!rc) rc = tn_buf_json_str(out, s->labels[i].name, strlen(s->labels[i].name));
        if (!rc) rc = tn_buf_puts(out, ":");
        if (!rc) rc = tn_buf_json_str(out, s->labels[i].value, strlen(s->labels[i].value));
    }
    return rc ? rc : tn_buf_puts(out, "}");
}

static int is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int tn_metric_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TN_MAX_NAME_LEN) return 0;
    if (!is_alpha_(name[0]) && name[0] != ':') return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha_(name[i]) && !is_digit(name[i]) && name[i] != ':') return 0;
    return 1;
}

int tn_label_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TN_MAX_NAME_LEN) return 0;
    if (!is_alpha_(name[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha_(name[i]) && !is_digit(name[i])) return 0;
    return 1;
}

static int64_t g_sim_now_ms; /* 0: the real clock */

void tn_clock_simulate(int64_t now_ms)
{
    g_sim_now_ms = now_ms;
}

int64_t tn_now_ms(void)
{
    if (g_sim_now_ms) return g_sim_now_ms;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void tn_samples_init(tn_samples_t *v)
{
    memset(v, 0, sizeof *v);
}

void tn_samples_deinit(tn_samples_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        tn_sample_deinit(&v->items[i]);
    free(v->items);
    tn_samples_init(v);
}

tn_sample_t *tn_samples_push(tn_samples_t *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        tn_sample_t *p = realloc(v->items, cap * sizeof *p);
        if (!p) return NULL;
        v->items = p;
        v->cap = cap;
    }
    tn_sample_t *s = &v->items[v->n++];
    memset(s, 0, sizeof *s);
    return s;
}
