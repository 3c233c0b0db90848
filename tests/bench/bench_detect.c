/* bench_detect.c - points scored per second by each detector and by the ensemble, single
 * thread, for many series advancing together (default 100,000 series x 1,000 points), printed
 * beside a STREAM-like triad measured in the same run and the bound it implies for the rolling
 * z-score, and beside numpy's rolling z-score (tests/bench/bench_detect_numpy.py) when numpy is
 * installed.
 *
 * usage: bench_detect [--series N] [--points M] [--window W] [--quick] [--no-numpy]
 *                     [--soa-only]   (skip the per-series detectors and the ensemble)
 *
 * The structure-of-arrays detectors (zscore, ewma, holtwinters) step all series one time step at
 * a time (src/detect/batch.h). The others keep per-series state (order statistics, AR fits,
 * seasonal slots) and are run through the per-series ensemble API with only that detector, as
 * is the full ensemble. Input rows come from a pre-generated block of 16 rows, reused, so data
 * generation is not measured (the numpy reference does the same). */
#include "detect/batch.h"
#include "detect/ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t g_rng = 88172645463325252ULL;
static double rnd01(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (double)((g_rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench_detect: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* STREAM triad a = b + s c over arrays far larger than the caches: best of 5, bytes counted as
 * STREAM does (24 per element: two reads, one write). */
static double triad_bandwidth(void)
{
    size_t n = (size_t)1 << 24; /* 3 x 128 MiB */
    double *a = xmalloc(n * sizeof *a), *b = xmalloc(n * sizeof *b), *c = xmalloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++)
        a[i] = 0, b[i] = 1, c[i] = 2;
    double best = 1e30, s = 3.0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        double dt = now() - t0;
        if (dt < best) best = dt;
        s += a[rep] * 1e-300; /* keep the loop */
    }
    double bw = 24.0 * n / best;
    free(a);
    free(b);
    free(c);
    return bw;
}

typedef struct {
    size_t series, points;
    uint32_t window;
    double *rows; /* 16 rows of `series` values */
} bench_t;

static const double *row(const bench_t *b, size_t t)
{
    return b->rows + (t % 16) * b->series;
}

static double sink;

/* Touches freshly allocated state so page faults are not timed as scoring. */
static void prefault(void *p, size_t n)
{
    memset(p, 0, n);
}

static void *xmalloc0(size_t n)
{
    void *p = xmalloc(n);
    prefault(p, n);
    return p;
}

static double run_bz(const bench_t *b)
{
    tn_bz_t z;
    if (tn_bz_init(&z, b->series, b->window)) exit(1);
    prefault(z.ring, (size_t)b->window * b->series * sizeof(double));
    double *out = xmalloc0(b->series * sizeof *out);
    double t0 = now();
    for (size_t t = 0; t < b->points; t++) {
        tn_bz_step(&z, row(b, t), out, NULL, NULL);
        sink += out[t % b->series];
    }
    double dt = now() - t0;
    tn_bz_deinit(&z);
    free(out);
    return b->series * b->points / dt;
}

/* The same as a batch over the whole history, shaped like the numpy reference: blocks of 5,000
 * series, each a time-major array of all the points, scored by tn_bz_run (time-inner over small
 * groups of lanes, the state in registers and the rings in cache). One input block is reused for
 * every block of series, as numpy does; the figure compared with numpy is this one, since numpy
 * too scores the whole history at once. */
static double run_bz_batch(const bench_t *b)
{
    size_t blk = b->series < 5000 ? b->series : 5000;
    double *x = xmalloc(b->points * blk * sizeof *x), *z = xmalloc0(b->points * blk * sizeof *z);
    for (size_t i = 0; i < b->points * blk; i++)
        x[i] = b->rows[i % (16 * b->series)];
    size_t nblk = (b->series + blk - 1) / blk;
    tn_bz_t *st = xmalloc(nblk * sizeof *st);
    for (size_t k = 0; k < nblk; k++) { /* all state allocated and touched before timing */
        size_t n = b->series - k * blk < blk ? b->series - k * blk : blk;
        if (tn_bz_init(&st[k], n, b->window)) exit(1);
        prefault(st[k].ring, (size_t)b->window * n * sizeof(double));
    }
    double t0 = now();
    for (size_t k = 0; k < nblk; k++) {
        size_t n = st[k].lanes;
        if (n == blk) {
            tn_bz_run(&st[k], b->points, x, z);
        } else { /* the last, smaller block: rows of n lanes */
            for (size_t t = 0; t < b->points; t++)
                tn_bz_run(&st[k], 1, x + t * blk, z + t * blk);
        }
        sink += z[(b->points - 1) * n];
    }
    double dt = now() - t0;
    for (size_t k = 0; k < nblk; k++)
        tn_bz_deinit(&st[k]);
    free(st);
    free(x);
    free(z);
    return b->series * b->points / dt;
}

static double run_be(const bench_t *b)
{
    tn_be_t e;
    if (tn_be_init(&e, b->series, 2.0 / (b->window + 1))) exit(1);
    double *out = xmalloc0(b->series * sizeof *out);
    double t0 = now();
    for (size_t t = 0; t < b->points; t++) {
        tn_be_step(&e, row(b, t), out, NULL, NULL);
        sink += out[t % b->series];
    }
    double dt = now() - t0;
    tn_be_deinit(&e);
    free(out);
    return b->series * b->points / dt;
}

static double run_bhw(const bench_t *b, uint32_t season)
{
    tn_bhw_t h;
    if (tn_bhw_init(&h, b->series, season, 0.3, 0.05, 0.2, 2.0 / (b->window + 1))) exit(1);
    if (season) prefault(h.seas, (size_t)season * b->series * sizeof(double));
    double *out = xmalloc0(b->series * sizeof *out);
    double t0 = now();
    for (size_t t = 0; t < b->points; t++) {
        tn_bhw_step(&h, row(b, t), out, NULL, NULL);
        sink += out[t % b->series];
    }
    double dt = now() - t0;
    tn_bhw_deinit(&h);
    free(out);
    return b->series * b->points / dt;
}

/* Per-series ensembles with the given detectors (0 = all), time step outer, series inner. */
static double run_ens(const bench_t *b, uint32_t mask, size_t *bytes)
{
    tn_ens_params_t p = {.detectors = mask, .window = b->window};
    tn_ens_t **e = xmalloc(b->series * sizeof *e);
    for (size_t i = 0; i < b->series; i++)
        if (!(e[i] = tn_ens_create(&p))) {
            fprintf(stderr, "bench_detect: out of memory creating series %zu\n", i);
            exit(1);
        }
    double t0 = now();
    for (size_t t = 0; t < b->points; t++) {
        const double *x = row(b, t);
        int64_t ts = 1700000000000LL + (int64_t)t * 10000;
        for (size_t i = 0; i < b->series; i++) {
            tn_ens_result_t r;
            tn_ens_update(e[i], ts, x[i], &r);
            sink += r.score;
        }
    }
    double dt = now() - t0;
    (void)bytes;
    for (size_t i = 0; i < b->series; i++)
        tn_ens_destroy(e[i]);
    free(e);
    return b->series * b->points / dt;
}

/* Runs the numpy reference; 0 when numpy is not there. */
static double numpy_rate(const bench_t *b)
{
    static const char *const pythons[] = {"python3", "/usr/bin/python3"};
    for (size_t k = 0; k < 2; k++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s %s/tests/bench/bench_detect_numpy.py %zu %zu %u 2>/dev/null",
                 pythons[k], TN_SOURCE_DIR, b->series, b->points, b->window);
        FILE *f = popen(cmd, "r");
        if (!f) continue;
        char line[256];
        double rate = 0;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "numpy_points_per_s ", 19)) rate = atof(line + 19);
        pclose(f);
        if (rate > 0) return rate;
    }
    return 0;
}

static void line(const char *name, double rate, const char *note)
{
    fflush(stdout);
    printf("  %-34s %12.3e points/s  %7.2f ns/point  %s\n", name, rate, 1e9 / rate, note);
}

int main(int argc, char **argv)
{
    bench_t b = {.series = 100000, .points = 1000, .window = 60};
    int use_numpy = 1, soa_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--series") && i + 1 < argc)
            b.series = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--points") && i + 1 < argc)
            b.points = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--window") && i + 1 < argc)
            b.window = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--quick"))
            b.series = 10000, b.points = 200;
        else if (!strcmp(argv[i], "--no-numpy"))
            use_numpy = 0;
        else if (!strcmp(argv[i], "--soa-only"))
            soa_only = 1;
        else {
            fprintf(stderr, "usage: bench_detect [--series N] [--points M] [--window W] [--quick] "
                            "[--no-numpy] [--soa-only]\n");
            return 2;
        }
    }
    if (b.series < 1 || b.points < 1 || b.window < 3) return 2;
    b.rows = xmalloc(16 * b.series * sizeof *b.rows);
    for (size_t i = 0; i < 16 * b.series; i++)
        b.rows[i] = 100 + 10 * (rnd01() - 0.5) + (rnd01() < 0.001 ? 100 : 0);

    printf("bench_detect: %zu series x %zu points, window %u, single thread\n", b.series, b.points,
           b.window);
    double bw = triad_bandwidth();
    /* rolling z-score, one step at a time over all series: bytes per point: x (8), ring slot
     * read and write (16), mean and m2 read and write (32), z written (8), and the exact
     * recompute every `window` steps reading the ring once (8 amortized) */
    const double bz_bytes = 72;
    double bound = bw / bz_bytes;
    printf("  STREAM-like triad                  %12.3f GB/s\n", bw / 1e9);
    printf("  rolling z-score bound              %12.3e points/s  (triad / %.0f bytes per "
           "point)\n",
           bound, bz_bytes);

    double rz = run_bz(&b);
    char note[160];
    snprintf(note, sizeof note, "%.2fx of the bandwidth bound (target >= 0.33)", rz / bound);
    line("zscore (SoA, step by step)", rz, note);
    /* batch: only the input (8) and z (8, plus 8 to read the line before writing it) */
    double rzt = run_bz_batch(&b);
    snprintf(note, sizeof note, "%.2fx of its bound at 24 B/point (target >= 0.33)",
             rzt / (bw / 24));
    line("zscore (SoA batch of all points)", rzt, note);
    double re = run_be(&b);
    snprintf(note, sizeof note, "bound at 48 B/point: %.2fx", re / (bw / 48));
    line("ewma (SoA batch)", re, note);
    line("holtwinters, no season (SoA batch)", run_bhw(&b, 0), "");
    line("holtwinters, season 24 (SoA batch)", run_bhw(&b, 24), "");

    static const struct {
        const char *name;
        int id;
    } per[] = {{"zscore (per-series API)", TN_DET_ZSCORE},
               {"mad (per-series)", TN_DET_MAD},
               {"iqr (per-series)", TN_DET_IQR},
               {"seasonal 1d+1w (per-series)", TN_DET_SEASONAL},
               {"ar(3) (per-series)", TN_DET_AR},
               {"flat (per-series)", TN_DET_FLAT},
               {"shift (per-series)", TN_DET_SHIFT}};
    for (size_t k = 0; !soa_only && k < sizeof per / sizeof *per; k++)
        line(per[k].name, run_ens(&b, TN_DET_BIT(per[k].id), NULL), "");
    if (!soa_only) line("ensemble, all 9 (per-series)", run_ens(&b, 0, NULL), "");

    if (use_numpy) {
        double np = numpy_rate(&b);
        if (np > 0) {
            snprintf(note, sizeof note,
                     "zscore batch (tn_bz_run) is %.1fx numpy (target >= 20); step by step %.1fx",
                     rzt / np, rz / np);
            line("numpy rolling z-score (cumsum)", np, note);
        } else {
            printf("  numpy rolling z-score              skipped: python3-numpy not installed\n");
        }
    }
    free(b.rows);
    return sink == 12345.678; /* keep the results alive */
}
