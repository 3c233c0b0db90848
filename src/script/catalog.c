#include "script/catalog.h"
#include "core/error.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/sample.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *kind;
    char *name; /* of the active version, or NULL */
    unsigned version;
    int64_t loaded_ms;
    char *error; /* of the latest failed attempt, or NULL */
    int64_t error_ms;
} entry_t;

struct tn_catalog {
    tn_hmap_t files;
    uint64_t failures;
    tn_catalog_error_fn on_error;
    void *on_error_arg;
    tn_metric_t *m_ok, *m_failed;
};

tn_catalog_t *tn_catalog_create(void)
{
    tn_catalog_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    tn_hmap_init(&c->files);
    c->m_ok = tn_metrics_counter("tocsin_script_loads_total", "result=\"ok\"",
                                 "Script (re)loads, by result.");
    c->m_failed = tn_metrics_counter("tocsin_script_loads_total", "result=\"failed\"",
                                     "Script (re)loads, by result.");
    return c;
}

static void entry_free(entry_t *e)
{
    free(e->kind);
    free(e->name);
    free(e->error);
    free(e);
}

void tn_catalog_destroy(tn_catalog_t *c)
{
    if (!c) return;
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&c->files, &it, NULL, &v))
        entry_free(v);
    tn_hmap_deinit(&c->files);
    free(c);
}

void tn_catalog_on_error(tn_catalog_t *c, tn_catalog_error_fn fn, void *arg)
{
    c->on_error = fn;
    c->on_error_arg = arg;
}

static entry_t *get(tn_catalog_t *c, const char *path, const char *kind)
{
    entry_t *e = tn_hmap_get(&c->files, path);
    if (e) return e;
    e = calloc(1, sizeof *e);
    if (!e || !(e->kind = strdup(kind)) || tn_hmap_put(&c->files, path, e, NULL)) {
        if (e) free(e->kind);
        free(e);
        return NULL;
    }
    return e;
}

void tn_catalog_loaded(tn_catalog_t *c, const char *path, const char *kind, const char *name)
{
    tn_metric_inc(c->m_ok);
    entry_t *e = get(c, path, kind);
    if (!e) return;
    char *n = strdup(name);
    if (!n) return;
    free(e->name);
    e->name = n;
    free(e->error);
    e->error = NULL;
    e->version++;
    e->loaded_ms = tn_now_ms();
}

void tn_catalog_failed(tn_catalog_t *c, const char *path, const char *kind, const char *error)
{
    tn_metric_inc(c->m_failed);
    c->failures++;
    entry_t *e = get(c, path, kind);
    if (e) {
        char *m = strdup(error);
        if (m) {
            free(e->error);
            e->error = m;
            e->error_ms = tn_now_ms();
        }
    }
    if (c->on_error) c->on_error(c->on_error_arg, path, kind, error);
}

void tn_catalog_removed(tn_catalog_t *c, const char *path)
{
    entry_t *e = tn_hmap_del(&c->files, path);
    if (e) entry_free(e);
}

unsigned tn_catalog_version(const tn_catalog_t *c, const char *path)
{
    entry_t *e = tn_hmap_get(&c->files, path);
    return e ? e->version : 0;
}

uint64_t tn_catalog_failures(const tn_catalog_t *c)
{
    return c->failures;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int tn_catalog_json(const tn_catalog_t *c, tn_buf_t *out)
{
    size_t n = c->files.len, k = 0, it = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys) return TN_ENOMEM;
    const char *key;
    while (tn_hmap_next(&c->files, &it, &key, NULL))
        keys[k++] = key;
    qsort(keys, k, sizeof *keys, cmp_key);
    int rc = tn_buf_puts(out, "[");
    for (size_t i = 0; i < k && !rc; i++) {
        const entry_t *e = tn_hmap_get(&c->files, keys[i]);
        rc |= tn_buf_puts(out, i ? ",{\"path\":" : "{\"path\":");
        rc |= tn_buf_json_str(out, keys[i], strlen(keys[i]));
        rc |= tn_buf_puts(out, ",\"kind\":");
        rc |= tn_buf_json_str(out, e->kind, strlen(e->kind));
        rc |= tn_buf_puts(out, ",\"name\":");
        if (e->name)
            rc |= tn_buf_json_str(out, e->name, strlen(e->name));
        else
            rc |= tn_buf_puts(out, "null");
        rc |= tn_buf_printf(out, ",\"version\":%u,\"active\":%s,\"loaded_ms\":%lld,\"error\":",
                            e->version, e->name ? "true" : "false", (long long)e->loaded_ms);
        if (e->error)
            rc |= tn_buf_json_str(out, e->error, strlen(e->error));
        else
            rc |= tn_buf_puts(out, "null");
        rc |= tn_buf_printf(out, ",\"error_ms\":%lld}", (long long)e->error_ms);
    }
    free(keys);
    return rc ? TN_ENOMEM : tn_buf_puts(out, "]");
}
