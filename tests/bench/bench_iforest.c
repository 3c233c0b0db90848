/* bench_iforest.c - isolation forest fit + score time (detect/iforest.c) beside scikit-learn's
 * IsolationForest with the same ntrees and psi on the same data, single thread, with both ROC
 * AUCs so the speed is compared at equal accuracy.
 *
 *   build/tests/bench_iforest [rows] [dims]      (defaults: 100000 rows, 8 dims)
 *
 * Data 1 (generated): rows from a correlated Gaussian (a fixed random mixing of independent
 * normals), 1% of them replaced by outliers uniform in the box [-6, 6]^d; trained and scored on
 * all rows (the unsupervised setting). Data 2: SKAB (TN_SOURCE_DIR/../shared/data/skab, or
 * ../shared/data/skab from the current directory), per file trained on the first 400 rows and
 * scored on the rest. The C figures are the best of 3 runs. The reference is
 * tests/bench/bench_iforest_sklearn.py, run with /usr/bin/python3 (Debian's python3-sklearn)
 * or python3; it is skipped with a message when scikit-learn is missing. */
#include "detect/iforest.h"

#include "bench_iforest_data.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NTREES 100
#define PSI 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t g_rng = 88172645463325252ULL;
static double rnd01(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (double)((g_rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2 * log(rnd01() + 1e-300)) * cos(2 * M_PI * rnd01());
}

typedef struct {
    double fit, score, auc;
    int ok;
} ref_t;

/* Runs the python reference with the given arguments; ok = 0 when it is unavailable. */
static ref_t run_ref(const char *args)
{
    ref_t r = {0, 0, 0, 0};
    const char *src = getenv("TN_SOURCE_DIR");
    char script[2048], cmd[8192];
    snprintf(script, sizeof script, "%s/tests/bench/bench_iforest_sklearn.py",
             src ? src : TN_SOURCE_DIR);
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    snprintf(cmd, sizeof cmd, "%s %s %s", py, script, args);
    FILE *p = popen(cmd, "r");
    if (!p) return r;
    r.ok = fscanf(p, "%lf %lf %lf", &r.fit, &r.score, &r.auc) == 3;
    if (pclose(p) != 0) r.ok = 0;
    return r;
}

static void report(const char *what, double fit, double score, double auc, ref_t ref)
{
    printf("%s\n", what);
    printf("  tocsin   fit %8.4f s  score %8.4f s  total %8.4f s  AUC %.4f\n", fit, score,
           fit + score, auc);
    if (!ref.ok) {
        printf("  scikit-learn: not available (apt-get install python3-sklearn), no ratio\n");
        return;
    }
    printf("  sklearn  fit %8.4f s  score %8.4f s  total %8.4f s  AUC %.4f\n", ref.fit, ref.score,
           ref.fit + ref.score, ref.auc);
    printf("  ratio (sklearn / tocsin): fit %.1fx  score %.1fx  total %.1fx;  AUC difference "
           "%+.4f\n",
           ref.fit / fit, ref.score / score, (ref.fit + ref.score) / (fit + score), auc - ref.auc);
}

static int bench_generated(size_t n, uint32_t d)
{
    double *x = malloc(sizeof(double) * n * d), *s = malloc(sizeof(double) * n);
    double *mix = malloc(sizeof(double) * d * d), *z = malloc(sizeof(double) * d);
    int *y = malloc(sizeof(int) * n), rc = 1;
    if (!x || !s || !mix || !z || !y) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    for (uint32_t i = 0; i < d * d; i++)
        mix[i] = gauss() / sqrt(d);
    for (size_t i = 0; i < n; i++) {
        y[i] = rnd01() < 0.01;
        for (uint32_t j = 0; j < d; j++)
            z[j] = gauss();
        for (uint32_t j = 0; j < d; j++) {
            double v = 0;
            for (uint32_t k = 0; k < d; k++)
                v += mix[j * d + k] * z[k];
            x[i * d + j] = y[i] ? -6 + 12 * rnd01() : v;
        }
    }
    double best_fit = 1e30, best_score = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        tn_iforest_opts_t o = {.ntrees = NTREES, .psi = PSI, .seed = (uint64_t)rep};
        tn_iforest_t *f = tn_iforest_create(d, &o);
        double t0 = now_s();
        if (!f || tn_iforest_fit(f, x, n)) {
            fprintf(stderr, "isolation forest: out of memory\n");
            tn_iforest_destroy(f);
            goto out;
        }
        double t1 = now_s();
        tn_iforest_score_batch(f, x, n, s);
        double t2 = now_s();
        best_fit = fmin(best_fit, t1 - t0);
        best_score = fmin(best_score, t2 - t1);
        tn_iforest_destroy(f);
    }
    double auc = roc_auc(s, y, n);

    char xp[] = "/tmp/bench_iforest_x_XXXXXX", yp[] = "/tmp/bench_iforest_y_XXXXXX";
    int fx = mkstemp(xp), fy = mkstemp(yp);
    ref_t ref = {0, 0, 0, 0};
    if (fx >= 0 && fy >= 0) {
        int32_t *yi = malloc(sizeof(int32_t) * n);
        int wrote = yi != NULL;
        for (size_t i = 0; yi && i < n; i++)
            yi[i] = y[i];
        wrote = wrote && write(fx, x, sizeof(double) * n * d) == (ssize_t)(sizeof(double) * n * d);
        wrote = wrote && write(fy, yi, sizeof(int32_t) * n) == (ssize_t)(sizeof(int32_t) * n);
        free(yi);
        if (wrote) {
            char args[512];
            snprintf(args, sizeof args, "raw %s %s %zu %u %d %d", xp, yp, n, d, NTREES, PSI);
            ref = run_ref(args);
        }
    }
    if (fx >= 0) close(fx), unlink(xp);
    if (fy >= 0) close(fy), unlink(yp);
    char what[256];
    snprintf(what, sizeof what,
             "generated: %zu rows x %u features (1%% outliers), ntrees %d, psi %d, fit and "
             "score all rows",
             n, d, NTREES, PSI);
    report(what, best_fit, best_score, auc, ref);
    rc = 0;
out:
    free(x);
    free(s);
    free(mix);
    free(z);
    free(y);
    return rc;
}

static int bench_skab(void)
{
    const char *src = getenv("TN_SOURCE_DIR");
    char root[1024];
    snprintf(root, sizeof root, "%s/../shared/data/skab", src ? src : TN_SOURCE_DIR);
    skab_t sk;
    if (skab_load(root, &sk) != 0) {
        printf("SKAB: not found under %s, skipped\n", root);
        return 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < sk.nfiles; i++)
        total += sk.files[i].n > 400 ? sk.files[i].n - 400 : 0;
    double *s = malloc(sizeof(double) * total);
    int *y = malloc(sizeof(int) * total), rc = 1;
    if (!s || !y) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    double best_fit = 1e30, best_score = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double fit = 0, score = 0;
        size_t m = 0;
        for (size_t i = 0; i < sk.nfiles; i++) {
            skab_file_t *fl = &sk.files[i];
            if (fl->n <= 400) continue;
            tn_iforest_opts_t o = {.ntrees = NTREES, .psi = PSI, .seed = i};
            tn_iforest_t *f = tn_iforest_create(SKAB_D, &o);
            double t0 = now_s();
            if (!f || tn_iforest_fit(f, fl->x, 400)) {
                fprintf(stderr, "isolation forest: out of memory\n");
                tn_iforest_destroy(f);
                goto out;
            }
            double t1 = now_s();
            tn_iforest_score_batch(f, fl->x + 400 * SKAB_D, fl->n - 400, s + m);
            double t2 = now_s();
            fit += t1 - t0;
            score += t2 - t1;
            for (size_t k = 400; k < fl->n; k++)
                y[m++] = fl->y[k];
            tn_iforest_destroy(f);
        }
        best_fit = fmin(best_fit, fit);
        best_score = fmin(best_score, score);
    }
    double auc = roc_auc(s, y, total);
    char args[1200], what[256];
    snprintf(args, sizeof args, "skab %s %d %d", root, NTREES, PSI);
    ref_t ref = run_ref(args);
    snprintf(what, sizeof what,
             "SKAB: %zu files, train on the first 400 rows of each, score the other %zu rows",
             sk.nfiles, total);
    report(what, best_fit, best_score, auc, ref);
    rc = 0;
out:
    free(s);
    free(y);
    skab_free(&sk);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    uint32_t d = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 8;
    if (n < 2 || d < 1 || d > 1000) {
        fprintf(stderr, "usage: bench_iforest [rows >= 2] [dims 1..1000]\n");
        return 2;
    }
    if (bench_generated(n, d)) return 1;
    return bench_skab();
}
