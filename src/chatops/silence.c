/* silence.c - silences (silence.h). */
#include "chatops/silence.h"
#include "chatops/args.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SILENCES 256

typedef struct {
    char id[32];
    tn_matchers_t *m;
    char *text; /* canonical matchers */
    char *by, *comment;
    int64_t created_ms, ends_ms;
    uint64_t matched;
} silence_t;

struct tn_silences {
    silence_t *v;
    size_t n, cap;
    unsigned seq;
};

tn_silences_t *tn_silences_create(void)
{
    return calloc(1, sizeof(tn_silences_t));
}

static void silence_free(silence_t *x)
{
    tn_matchers_free(x->m);
    free(x->text);
    free(x->by);
    free(x->comment);
}

void tn_silences_destroy(tn_silences_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        silence_free(&s->v[i]);
    free(s->v);
    free(s);
}

/* Drops the silences that have ended. */
static void prune(tn_silences_t *s, int64_t now_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].ends_ms <= now_ms)
            silence_free(&s->v[i]);
        else
            s->v[k++] = s->v[i];
    }
    s->n = k;
}

int tn_silences_add(tn_silences_t *s, const char *matchers, int64_t now_ms, int64_t for_ms,
                    const char *by, const char *comment, char *id, tn_buf_t *err)
{
    prune(s, now_ms);
    if (s->n >= MAX_SILENCES) {
        if (err)
            tn_buf_printf(err, "%d silences are active already: expire some first", MAX_SILENCES);
        return TN_ETOOBIG;
    }
    if (for_ms <= 0) {
        if (err) tn_buf_puts(err, "a silence needs a duration");
        return TN_EINVAL;
    }
    silence_t x = {0};
    int rc = tn_matchers_parse(matchers, &x.m, err);
    if (rc) return rc;
    tn_buf_t t;
    tn_buf_init(&t);
    if (tn_matchers_str(x.m, &t) || !(x.text = tn_buf_steal(&t)) ||
        !(x.by = strdup(by ? by : "")) || !(x.comment = strdup(comment ? comment : ""))) {
        tn_buf_deinit(&t);
        silence_free(&x);
        return TN_ENOMEM;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        silence_t *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            silence_free(&x);
            return TN_ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    x.created_ms = now_ms;
    x.ends_ms = now_ms + for_ms;
    snprintf(x.id, sizeof x.id, "SIL-%lld-%u", (long long)now_ms, ++s->seq);
    s->v[s->n++] = x;
    if (id) snprintf(id, 32, "%s", x.id);
    return 0;
}

int tn_silences_expire(tn_silences_t *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].id, id)) {
            silence_free(&s->v[i]);
            memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
            s->n--;
            return 0;
        }
    return TN_ENOTFOUND;
}

/* A label of the signal, else one of its string fields. */
static const char *signal_label(const char *name, void *arg)
{
    const json_t *sig = arg;
    const char *v = json_string_value(json_object_get(json_object_get(sig, "labels"), name));
    if (v) return v;
    static const char *const fields[] = {"kind", "name", "service", "severity", NULL};
    for (int i = 0; fields[i]; i++)
        if (!strcmp(name, fields[i])) return json_string_value(json_object_get(sig, name));
    return NULL;
}

const char *tn_silences_match(tn_silences_t *s, const json_t *signal, int64_t now_ms)
{
    for (size_t i = 0; i < s->n; i++) {
        silence_t *x = &s->v[i];
        if (x->ends_ms <= now_ms || x->created_ms > now_ms) continue;
        if (tn_matchers_match(x->m, signal_label, (void *)signal)) {
            x->matched++;
            return x->id;
        }
    }
    return NULL;
}

json_t *tn_silences_json(tn_silences_t *s, int64_t now_ms)
{
    prune(s, now_ms);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < s->n; i++) {
        const silence_t *x = &s->v[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", x->id, "matchers", x->text, "by",
                      x->by, "comment", x->comment, "created_ms", (json_int_t)x->created_ms,
                      "ends_ms", (json_int_t)x->ends_ms, "matched", (json_int_t)x->matched);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

size_t tn_silences_active(tn_silences_t *s, int64_t now_ms)
{
    prune(s, now_ms);
    return s->n;
}
