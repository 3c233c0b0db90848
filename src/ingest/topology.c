#include "ingest/topology.h"
#include "core/error.h"
#include "core/hmap.h"
#include "core/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SPAN_MEMORY 100000

typedef struct {
    char *from, *to;
    int declared;      /* from the file */
    uint64_t observed; /* count from traces */
    uint64_t labeled;  /* count of alerts whose labels named it */
} edge_t;

struct tn_topology {
    json_t *services; /* array from the file (owned reference) */
    edge_t *edges;
    size_t n, cap;
    tn_hmap_t spans; /* span id -> service (borrowed strings owned by span_names) */
    char **span_names;
    size_t nspan_names;
};

tn_topology_t *tn_topology_create(void)
{
    tn_topology_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->services = json_array();
    tn_hmap_init(&t->spans);
    if (!t->services) {
        free(t);
        return NULL;
    }
    return t;
}

static void forget_spans(tn_topology_t *t)
{
    size_t it = 0;
    void *v;
    while (tn_hmap_next(&t->spans, &it, NULL, &v))
        free(v);
    tn_hmap_deinit(&t->spans);
    tn_hmap_init(&t->spans);
}

void tn_topology_destroy(tn_topology_t *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++)
        free(t->edges[i].from), free(t->edges[i].to);
    free(t->edges);
    forget_spans(t);
    tn_hmap_deinit(&t->spans);
    json_decref(t->services);
    free(t);
}

static edge_t *find_edge(const tn_topology_t *t, const char *from, const char *to)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->edges[i].from, from) && !strcmp(t->edges[i].to, to)) return &t->edges[i];
    return NULL;
}

int tn_topology_has_edge(const tn_topology_t *t, const char *from, const char *to)
{
    return find_edge(t, from, to) != NULL;
}

size_t tn_topology_edge_count(const tn_topology_t *t)
{
    return t->n;
}

void tn_topology_each(const tn_topology_t *t, void (*node)(void *arg, const char *name),
                      void (*edge)(void *arg, const char *from, const char *to, int declared,
                                   uint64_t observed, uint64_t labeled),
                      void *arg)
{
    size_t i;
    json_t *s;
    if (node) json_array_foreach(t->services, i, s)
        {
            const char *name = json_string_value(json_object_get(s, "name"));
            if (name) node(arg, name);
        }
    if (edge)
        for (i = 0; i < t->n; i++)
            edge(arg, t->edges[i].from, t->edges[i].to, t->edges[i].declared, t->edges[i].observed,
                 t->edges[i].labeled);
}

static edge_t *add_edge(tn_topology_t *t, const char *from, const char *to)
{
    edge_t *e = find_edge(t, from, to);
    if (e) return e;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        edge_t *p = realloc(t->edges, cap * sizeof *p);
        if (!p) return NULL;
        t->edges = p;
        t->cap = cap;
    }
    e = &t->edges[t->n];
    memset(e, 0, sizeof *e);
    e->from = strdup(from);
    e->to = strdup(to);
    if (!e->from || !e->to) {
        free(e->from), free(e->to);
        return NULL;
    }
    t->n++;
    return e;
}

int tn_topology_load_file(tn_topology_t *t, const char *path, tn_buf_t *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        tn_buf_printf(err, "%s:%d: %s", path, je.line, je.text);
        return je.line > 0 ? TN_EINVAL : TN_EIO;
    }
    json_t *services = json_object_get(root, "services");
    if (!json_is_object(root) || !json_is_array(services)) {
        tn_buf_printf(err, "%s: expected an object with a \"services\" array", path);
        json_decref(root);
        return TN_EINVAL;
    }
    size_t i;
    json_t *s;
    json_array_foreach(services, i, s)
    {
        json_t *name = json_object_get(s, "name"), *deps = json_object_get(s, "depends_on");
        if (!json_is_string(name) || !*json_string_value(name)) {
            tn_buf_printf(err, "%s: services[%zu]: \"name\" (a non-empty string) is required", path,
                          i);
            json_decref(root);
            return TN_EINVAL;
        }
        if (deps && !json_is_array(deps)) {
            tn_buf_printf(err, "%s: services[%zu] (%s): \"depends_on\" must be an array", path, i,
                          json_string_value(name));
            json_decref(root);
            return TN_EINVAL;
        }
        size_t j;
        json_t *d;
        json_array_foreach(deps, j, d)
        {
            if (!json_is_string(d)) {
                tn_buf_printf(err, "%s: services[%zu].depends_on[%zu] must be a service name", path,
                              i, j);
                json_decref(root);
                return TN_EINVAL;
            }
        }
    }
    /* valid: replace the declared part, keep what traces taught */
    for (size_t k = 0; k < t->n; k++)
        t->edges[k].declared = 0;
    json_array_foreach(services, i, s)
    {
        json_t *deps = json_object_get(s, "depends_on");
        size_t j;
        json_t *d;
        json_array_foreach(deps, j, d)
        {
            edge_t *e =
                add_edge(t, json_string_value(json_object_get(s, "name")), json_string_value(d));
            if (e) e->declared = 1;
        }
    }
    /* drop edges neither declared nor learned */
    size_t w = 0;
    for (size_t k = 0; k < t->n; k++) {
        if (t->edges[k].declared || t->edges[k].observed || t->edges[k].labeled)
            t->edges[w++] = t->edges[k];
        else
            free(t->edges[k].from), free(t->edges[k].to);
    }
    t->n = w;
    json_decref(t->services);
    t->services = json_incref(services);
    json_decref(root);
    tn_log_info("topology", "loaded %s: %zu service(s), %zu edge(s)", path,
                json_array_size(services), t->n);
    return 0;
}

int tn_topology_learn(tn_topology_t *t, const tn_span_t *spans, size_t n)
{
    if (t->spans.len + n > SPAN_MEMORY) forget_spans(t);
    for (size_t i = 0; i < n; i++) { /* first pass: every span's service */
        if (!spans[i].service || !*spans[i].service) continue;
        char *svc = strdup(spans[i].service);
        void *old = NULL;
        if (!svc || tn_hmap_put(&t->spans, spans[i].span_id, svc, &old)) {
            free(svc);
            continue;
        }
        free(old);
    }
    int added = 0;
    for (size_t i = 0; i < n; i++) {
        const tn_span_t *s = &spans[i];
        if (!*s->parent_id || !s->service || !*s->service) continue;
        const char *parent = tn_hmap_get(&t->spans, s->parent_id);
        if (!parent || !strcmp(parent, s->service)) continue;
        size_t before = t->n;
        edge_t *e = add_edge(t, parent, s->service);
        if (!e) continue;
        e->observed++;
        if (t->n > before) {
            added++;
            tn_log_info("topology", "learned edge %s -> %s from traces", parent, s->service);
        }
    }
    return added;
}

int tn_topology_learn_label(tn_topology_t *t, const char *from, const char *to)
{
    if (!from || !to || !*from || !*to || !strcmp(from, to)) return 0;
    size_t before = t->n;
    edge_t *e = add_edge(t, from, to);
    if (!e) return TN_ENOMEM;
    e->labeled++;
    if (t->n == before) return 0;
    tn_log_info("topology", "learned edge %s -> %s from an alert's labels", from, to);
    return 1;
}

int tn_topology_json(const tn_topology_t *t, tn_buf_t *out)
{
    json_t *o = json_object(), *edges = json_array();
    if (!o || !edges) {
        json_decref(o), json_decref(edges);
        return TN_ENOMEM;
    }
    json_object_set(o, "services", t->services);
    for (size_t i = 0; i < t->n; i++) {
        const edge_t *e = &t->edges[i];
        char src[32] = "";
        if (e->declared) strcat(src, "cmdb");
        if (e->observed) strcat(src, *src ? "+traces" : "traces");
        if (e->labeled) strcat(src, *src ? "+labels" : "labels");
        json_array_append_new(edges, json_pack("{s:s, s:s, s:s, s:I}", "from", e->from, "to", e->to,
                                               "source", src, "count",
                                               (json_int_t)(e->observed + e->labeled)));
    }
    json_object_set_new(o, "edges", edges);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return TN_ENOMEM;
    int rc = tn_buf_puts(out, s);
    free(s);
    return rc;
}
