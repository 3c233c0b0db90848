/* bench_iforest_data.h - shared by test_iforest.c and bench_iforest.c: SKAB loading, ROC AUC
 * and quantiles. SKAB files are `;`-separated: datetime, 8 sensors, then anomaly and changepoint
 * labels (files without an `anomaly` column are skipped). */
#ifndef TN_BENCH_IFOREST_DATA_H
#define TN_BENCH_IFOREST_DATA_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKAB_D 8

typedef struct {
    char name[160];
    size_t n;
    double *x; /* n x SKAB_D, row-major */
    int *y;    /* anomaly label */
} skab_file_t;

typedef struct {
    skab_file_t *files;
    size_t nfiles;
} skab_t;

static inline void skab_free(skab_t *s)
{
    for (size_t i = 0; i < s->nfiles; i++) {
        free(s->files[i].x);
        free(s->files[i].y);
    }
    free(s->files);
    s->files = NULL;
    s->nfiles = 0;
}

/* Reads one file; 1 if it was labelled and loaded, 0 if skipped, -1 on a malformed line
 * (printed with its line number). */
static inline int skab_read(const char *path, const char *name, skab_file_t *out)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    char line[4096];
    if (!fgets(line, sizeof line, fp) || !strstr(line, ";anomaly")) {
        fclose(fp);
        return 0;
    }
    size_t cap = 1024, n = 0, lineno = 1;
    double *x = malloc(sizeof(double) * cap * SKAB_D);
    int *y = malloc(sizeof(int) * cap);
    while (x && y && fgets(line, sizeof line, fp)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\0') continue;
        if (n == cap) {
            cap *= 2;
            double *nx = realloc(x, sizeof(double) * cap * SKAB_D);
            if (nx) x = nx;
            int *ny = nx ? realloc(y, sizeof(int) * cap) : NULL;
            if (ny) y = ny;
            if (!nx || !ny) break;
        }
        char *p = strchr(line, ';'), *end;
        int ok = p != NULL;
        for (int j = 0; ok && j < SKAB_D + 1; j++) {
            double v = strtod(p + 1, &end);
            ok = end != p + 1 && (*end == ';' || (j == SKAB_D && (*end == '\n' || *end == '\r')));
            if (j < SKAB_D)
                x[n * SKAB_D + j] = v;
            else
                y[n] = v > 0.5;
            p = end;
        }
        if (!ok) {
            fprintf(stderr, "%s:%zu: malformed SKAB line\n", path, lineno);
            free(x);
            free(y);
            fclose(fp);
            return -1;
        }
        n++;
    }
    fclose(fp);
    if (!x || !y || n == 0) {
        free(x);
        free(y);
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    out->n = n;
    out->x = x;
    out->y = y;
    return 1;
}

static inline int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads every labelled file under root/{valve1,valve2,other} in name order. 0 when loaded,
 * -1 when the directory is absent or a file is malformed. */
static inline int skab_load(const char *root, skab_t *s)
{
    static const char *subs[] = {"valve1", "valve2", "other"};
    s->files = NULL;
    s->nfiles = 0;
    size_t cap = 0;
    for (size_t k = 0; k < 3; k++) {
        char dir[2048];
        snprintf(dir, sizeof dir, "%s/%s", root, subs[k]);
        DIR *dp = opendir(dir);
        if (!dp) continue;
        char *names[256];
        size_t nn = 0;
        struct dirent *de;
        while ((de = readdir(dp)) && nn < 256)
            if (strstr(de->d_name, ".csv")) names[nn++] = strdup(de->d_name);
        closedir(dp);
        qsort(names, nn, sizeof(char *), cmp_name);
        for (size_t i = 0; i < nn; i++) {
            char path[4096], name[160];
            snprintf(path, sizeof path, "%s/%s", dir, names[i] ? names[i] : "");
            snprintf(name, sizeof name, "%s/%s", subs[k], names[i] ? names[i] : "");
            free(names[i]);
            if (s->nfiles == cap) {
                cap = cap ? 2 * cap : 64;
                skab_file_t *nf = realloc(s->files, sizeof(*nf) * cap);
                if (!nf) {
                    for (size_t r = i + 1; r < nn; r++)
                        free(names[r]);
                    skab_free(s);
                    return -1;
                }
                s->files = nf;
            }
            int rc = skab_read(path, name, &s->files[s->nfiles]);
            if (rc < 0) {
                for (size_t r = i + 1; r < nn; r++)
                    free(names[r]);
                skab_free(s);
                return -1;
            }
            if (rc > 0) s->nfiles++;
        }
    }
    if (s->nfiles) return 0;
    skab_free(s);
    return -1;
}

typedef struct {
    double s;
    int y;
} scored_t;

static inline int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored_t *)a)->s, z = ((const scored_t *)b)->s;
    return (x > z) - (x < z);
}

/* ROC AUC by ranks (Mann-Whitney U, ties get the average rank). NaN if one class is empty. */
static inline double roc_auc(const double *score, const int *y, size_t n)
{
    scored_t *v = malloc(sizeof(*v) * (n ? n : 1));
    if (!v) return NAN;
    for (size_t i = 0; i < n; i++)
        v[i] = (scored_t){score[i], y[i]};
    qsort(v, n, sizeof(*v), cmp_scored);
    double pos = 0, neg = 0, rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double avg = (i + 1 + j) / 2.0; /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (v[k].y) rank_sum += avg;
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        v[i].y ? pos++ : neg++;
    free(v);
    if (pos == 0 || neg == 0) return NAN;
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, z = *(const double *)b;
    return (x > z) - (x < z);
}

/* The q-quantile (0..1) of v[0..n-1] by linear interpolation; v is sorted in place. */
static inline double quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof(double), cmp_double);
    double pos = q * (n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n) return v[n - 1];
    return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

#endif
