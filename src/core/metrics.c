#include "core/metrics.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct tn_metric {
    char *labels; /* may be NULL */
    double value; /* a summary: the sum */
    double count; /* a summary: the observations */
    struct tn_metric *next;
};

typedef struct family {
    char *name;
    char *help;
    tn_metric_type_t type;
    tn_metric_t *series;
    struct family *next;
} family_t;

static family_t *g_families;
static family_t **g_tail = &g_families;

static int streq_null(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

tn_metric_t *tn_metrics_get(tn_metric_type_t type, const char *name, const char *labels,
                            const char *help)
{
    family_t *f = g_families;
    while (f && strcmp(f->name, name) != 0)
        f = f->next;
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f) return NULL;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        if (!f->name || !f->help) {
            free(f->name), free(f->help), free(f);
            return NULL;
        }
        f->type = type;
        *g_tail = f;
        g_tail = &f->next;
    }
    tn_metric_t **pm = &f->series;
    for (; *pm; pm = &(*pm)->next)
        if (streq_null((*pm)->labels, labels)) return *pm;
    tn_metric_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (labels && !(m->labels = strdup(labels))) {
        free(m);
        return NULL;
    }
    *pm = m;
    return m;
}

void tn_metric_add(tn_metric_t *m, double v)
{
    if (m) m->value += v;
}

void tn_metric_set(tn_metric_t *m, double v)
{
    if (m) m->value = v;
}

void tn_metric_observe(tn_metric_t *m, double v)
{
    if (!m) return;
    m->value += v;
    m->count += 1;
}

int tn_metrics_label_value(tn_buf_t *out, const char *v)
{
    int rc = 0;
    for (const char *p = v ? v : ""; *p && !rc; p++)
        rc = *p == '\\'   ? tn_buf_puts(out, "\\\\")
             : *p == '"'  ? tn_buf_puts(out, "\\\"")
             : *p == '\n' ? tn_buf_puts(out, "\\n")
                          : tn_buf_append(out, p, 1);
    return rc;
}

double tn_metric_value(const tn_metric_t *m)
{
    return m ? m->value : 0.0;
}

static int render_value(tn_buf_t *out, double v)
{
    if (isnan(v)) return tn_buf_puts(out, "NaN");
    if (isinf(v)) return tn_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    if (v == (double)(long long)v && fabs(v) < 1e15)
        return tn_buf_printf(out, "%lld", (long long)v);
    return tn_buf_printf(out, "%.17g", v);
}

int tn_metrics_render(tn_buf_t *out)
{
    int rc = 0;
    for (family_t *f = g_families; f && !rc; f = f->next) {
        static const char *const types[] = {"counter", "gauge", "summary"};
        rc = tn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                           types[f->type]);
        for (tn_metric_t *m = f->series; m && !rc && f->type == TN_METRIC_SUMMARY; m = m->next) {
            const char *l = m->labels ? m->labels : "";
            rc = tn_buf_printf(out, "%s_sum%s%s%s ", f->name, *l ? "{" : "", l, *l ? "}" : "");
            if (!rc) rc = render_value(out, m->value);
            if (!rc)
                rc = tn_buf_printf(out, "\n%s_count%s%s%s ", f->name, *l ? "{" : "", l,
                                   *l ? "}" : "");
            if (!rc) rc = render_value(out, m->count);
            if (!rc) rc = tn_buf_puts(out, "\n");
        }
        for (tn_metric_t *m = f->series; m && !rc && f->type != TN_METRIC_SUMMARY; m = m->next) {
            rc = m->labels ? tn_buf_printf(out, "%s{%s} ", f->name, m->labels)
                           : tn_buf_printf(out, "%s ", f->name);
            if (!rc) rc = render_value(out, m->value);
            if (!rc) rc = tn_buf_puts(out, "\n");
        }
    }
    return rc;
}

void tn_metrics_shutdown(void)
{
    family_t *f = g_families;
    while (f) {
        family_t *nf = f->next;
        tn_metric_t *m = f->series;
        while (m) {
            tn_metric_t *nm = m->next;
            free(m->labels);
            free(m);
            m = nm;
        }
        free(f->name);
        free(f->help);
        free(f);
        f = nf;
    }
    g_families = NULL;
    g_tail = &g_families;
}
