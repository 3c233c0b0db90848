/* report.c - MTTD, MTTA and MTTR per service and per automation level (report.h). */
#include "automate/report.h"
#include "core/error.h"
#include "core/hmap.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_levels[] = {"no runbook", "1 enrich", "2 diagnose", "3 remediate",
                                       "4 prevent"};

typedef struct {
    double *v;
    size_t n, cap;
} series_t;

typedef struct {
    char *name; /* service, or NULL for a level / overall */
    int level;
    unsigned incidents, acknowledged, resolved, open;
    series_t ttd, tta, ttr;
} group_t;

static int push(series_t *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        double *v = realloc(s->v, cap * sizeof *v);
        if (!v) return TN_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The value at quantile q (nearest rank) of the sorted values. */
static double quantile(const series_t *s, double q)
{
    size_t k = (size_t)ceil(q * (double)s->n);
    return s->v[k ? k - 1 : 0];
}

static json_t *figures(series_t *s)
{
    if (!s->n) return json_pack("{s:i, s:n, s:n, s:n}", "n", 0, "mean_s", "median_s", "p90_s");
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    return json_pack("{s:I, s:f, s:f, s:f}", "n", (json_int_t)s->n, "mean_s",
                     round(sum / (double)s->n * 1000) / 1000, "median_s", quantile(s, 0.5), "p90_s",
                     quantile(s, 0.9));
}

static json_t *stats(group_t *g)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:o, s:o, s:o}", "incidents", (int)g->incidents,
                     "acknowledged", (int)g->acknowledged, "resolved", (int)g->resolved, "open",
                     (int)g->open, "ttd", figures(&g->ttd), "tta", figures(&g->tta), "ttr",
                     figures(&g->ttr));
}

static void group_free(group_t *g)
{
    free(g->name);
    free(g->ttd.v);
    free(g->tta.v);
    free(g->ttr.v);
}

static int64_t num(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static int add(group_t *g, const json_t *inc)
{
    int64_t st = num(inc, "started_ms"), op = num(inc, "opened_ms"),
            ack = num(inc, "acknowledged_ms"), res = num(inc, "resolved_ms");
    g->incidents++;
    int rc = 0;
    if (st && op >= st) rc |= push(&g->ttd, (double)(op - st) / 1e3);
    if (ack && ack >= op) {
        g->acknowledged++;
        rc |= push(&g->tta, (double)(ack - op) / 1e3);
    }
    const char *state = json_string_value(json_object_get(inc, "state"));
    if (res && state && !strcmp(state, "resolved")) {
        g->resolved++;
        int64_t from = st ? st : op;
        if (res >= from) rc |= push(&g->ttr, (double)(res - from) / 1e3);
    } else {
        g->open++;
    }
    return rc;
}

static int cmp_group(const void *a, const void *b)
{
    const group_t *x = a, *y = b;
    if (x->incidents != y->incidents) return x->incidents < y->incidents ? 1 : -1;
    return strcmp(x->name, y->name);
}

json_t *tn_report_build(const json_t *incidents, const json_t *runs, int64_t since_ms,
                        int64_t until_ms)
{
    size_t n = json_array_size(incidents);
    group_t all = {0}, levels[5] = {{0}};
    group_t *svc = calloc(n ? n : 1, sizeof *svc);
    size_t nsvc = 0;
    json_t *out = NULL;
    int rc = svc ? 0 : TN_ENOMEM;
    tn_hmap_t lv_of; /* incident id -> the highest level that ran for it */
    tn_hmap_init(&lv_of);
    size_t k;
    json_t *r;
    json_array_foreach(runs, k, r)
    {
        const char *ri = json_string_value(json_object_get(r, "incident"));
        const char *st = json_string_value(json_object_get(r, "status"));
        intptr_t lv = (intptr_t)json_integer_value(json_object_get(r, "level"));
        if (rc || !ri || !*ri || (st && !strcmp(st, "dry_run")) || lv < 1 || lv > 4) continue;
        if (lv > (intptr_t)tn_hmap_get(&lv_of, ri) && tn_hmap_put(&lv_of, ri, (void *)lv, NULL))
            rc = TN_ENOMEM;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        const json_t *inc = json_array_get(incidents, i);
        const char *state = json_string_value(json_object_get(inc, "state"));
        if (state && !strcmp(state, "merged")) continue;
        const char *id = json_string_value(json_object_get(inc, "id"));
        const char *s = json_string_value(json_object_get(inc, "service"));
        if (!s || !*s) s = "(none)";
        int level = (int)(intptr_t)tn_hmap_get(&lv_of, id ? id : "");
        size_t j = 0;
        while (j < nsvc && strcmp(svc[j].name, s))
            j++;
        if (j == nsvc && !(svc[nsvc++].name = strdup(s))) rc = TN_ENOMEM;
        if (!rc) rc = add(&svc[j], inc) | add(&all, inc) | add(&levels[level], inc);
    }
    if (!rc) {
        qsort(svc, nsvc, sizeof *svc, cmp_group);
        json_t *sv = json_array(), *lv = json_array();
        for (size_t j = 0; sv && j < nsvc; j++) {
            json_t *o = stats(&svc[j]);
            if (o) json_object_set_new(o, "service", json_string(svc[j].name));
            if (!o || json_array_append_new(sv, o)) json_decref(sv), sv = NULL;
        }
        for (int l = 0; lv && l < 5; l++) {
            if (!levels[l].incidents) continue;
            json_t *o = stats(&levels[l]);
            if (o) {
                json_object_set_new(o, "level", json_integer(l));
                json_object_set_new(o, "name", json_string(g_levels[l]));
            }
            if (!o || json_array_append_new(lv, o)) json_decref(lv), lv = NULL;
        }
        json_t *ov = stats(&all);
        if (sv && lv && ov)
            out =
                json_pack("{s:I, s:I, s:o, s:o, s:o}", "since_ms", (json_int_t)since_ms, "until_ms",
                          (json_int_t)until_ms, "overall", ov, "services", sv, "levels", lv);
        else
            json_decref(sv), json_decref(lv), json_decref(ov);
    }
    for (size_t j = 0; j < nsvc; j++)
        group_free(&svc[j]);
    free(svc);
    tn_hmap_deinit(&lv_of);
    group_free(&all);
    for (int l = 0; l < 5; l++)
        group_free(&levels[l]);
    return out;
}

/* A duration for the table: "-" when there is none, else s, m or h. */
static void dur(char *out, size_t n, const json_t *t, const char *k)
{
    json_t *v = json_object_get(t, k);
    if (!json_is_number(v)) {
        snprintf(out, n, "-");
        return;
    }
    double s = json_number_value(v);
    if (s < 120)
        snprintf(out, n, "%.1fs", s);
    else if (s < 7200)
        snprintf(out, n, "%.1fm", s / 60);
    else
        snprintf(out, n, "%.1fh", s / 3600);
}

static int line(tn_buf_t *out, const char *name, const json_t *st)
{
    char d[16], a[16], r[16], rm[16], r90[16];
    dur(d, sizeof d, json_object_get(st, "ttd"), "mean_s");
    dur(a, sizeof a, json_object_get(st, "tta"), "mean_s");
    dur(r, sizeof r, json_object_get(st, "ttr"), "mean_s");
    dur(rm, sizeof rm, json_object_get(st, "ttr"), "median_s");
    dur(r90, sizeof r90, json_object_get(st, "ttr"), "p90_s");
    return tn_buf_printf(out, "  %-22.22s %9lld %9lld %8s %8s %8s %10s %8s\n", name,
                         (long long)json_integer_value(json_object_get(st, "incidents")),
                         (long long)json_integer_value(json_object_get(st, "resolved")), d, a, r,
                         rm, r90);
}

int tn_report_table(const json_t *rep, tn_buf_t *out)
{
    static const char head[] = "  %-22s %9s %9s %8s %8s %8s %10s %8s\n";
    int rc = 0;
    rc |= tn_buf_puts(out, "By service:\n");
    rc |= tn_buf_printf(out, head, "service", "incidents", "resolved", "MTTD", "MTTA", "MTTR",
                        "median TTR", "p90 TTR");
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(rep, "services"), i, o)
    {
        rc |= line(out, json_string_value(json_object_get(o, "service")), o);
    }
    rc |= line(out, "all", json_object_get(rep, "overall"));
    rc |= tn_buf_puts(out, "\nBy automation level (the highest runbook level that ran):\n");
    rc |= tn_buf_printf(out, head, "level", "incidents", "resolved", "MTTD", "MTTA", "MTTR",
                        "median TTR", "p90 TTR");
    json_array_foreach(json_object_get(rep, "levels"), i, o)
    {
        rc |= line(out, json_string_value(json_object_get(o, "name")), o);
    }
    return rc ? TN_ENOMEM : 0;
}
