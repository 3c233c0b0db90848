/* bench_parse.c - throughput of the text parsers (ingest/influx.c, ingest/prom_text.c): parse +
 * normalize into a tn_batch_t, against the memory-scan floor (a memchr('\n') line count over the
 * same buffer) measured in the same process.
 *
 *   build/tests/bench_parse [lines] [series]      (defaults: 1000000 lines, 100000 series)
 *
 * Inputs, generated in memory: `lines` Influx lines, one float field each, over `series` series
 * with three tags (host, region, dc), ns timestamps; and the same samples in the Prometheus text
 * format (ms timestamps). Each measure is the best of 3 runs. Two shapes: the whole body in one
 * call (one batch of every sample; freeing it is timed apart), and requests of 5000 lines each
 * parsed into a batch that is then freed (the HTTP input's shape). Both are run with glibc's
 * malloc defaults, then with heap trimming relaxed (mallopt), which shows what page faults cost.
 * TN_BENCH_MODE=body or chunked runs one shape only, TN_BENCH_INPUT=influx, prom or otlp one
 * input only. OTLP/HTTP JSON (ExportMetricsServiceRequest,
 * a gauge of 1000 points per request with one attribute each, as tests/bench/bench_ingest.py
 * sends) is measured in the request shape only, parsed in a JSON arena as the HTTP input does,
 * twice: the streaming parser the engine uses (tn_parse_otlp_metrics) and the jansson one it
 * replaced (tn__otlp_metrics_dom, kept as the reference); the last lines give their ratio and
 * the ratio to Influx. */
#include "ingest/influx.h"
#include "ingest/otlp.h"
#include "ingest/otlp_common.h"
#include "ingest/prom_text.h"
#include "core/buf.h"
#include "core/json_arena.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gen(tn_buf_t *influx, tn_buf_t *prom, size_t lines, size_t series)
{
    for (size_t i = 0; i < lines; i++) {
        size_t s = i % series, t = i / series;
        long long ms = 1700000000000LL + (long long)t * 10000;
        double v = (double)(i % 1000) / 8.0;
        if (tn_buf_printf(influx,
                          "cpu,host=host-%06zu,region=region-%zu,dc=dc%zu usage_idle=%.3f %lld\n",
                          s, s % 16, s % 4, v, ms * 1000000LL) ||
            tn_buf_printf(prom,
                          "cpu_usage_idle{host=\"host-%06zu\",region=\"region-%zu\",dc=\"dc%zu\"}"
                          " %.3f %lld\n",
                          s, s % 16, s % 4, v, ms)) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
}

/* One OTLP request per line: a gauge with `per` points over the same series as gen(). */
static void gen_otlp(tn_buf_t *out, size_t lines, size_t series, size_t per)
{
    for (size_t i = 0; i < lines; i += per) {
        tn_buf_puts(out, "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":"
                         "\"service.name\",\"value\":{\"stringValue\":\"bench\"}}]},"
                         "\"scopeMetrics\":[{\"metrics\":[{\"name\":\"cpu.usage\",\"unit\":"
                         "\"1\",\"gauge\":{\"dataPoints\":[");
        for (size_t k = i; k < i + per && k < lines; k++) {
            size_t sr = k % series, t = k / series;
            long long ns = (1700000000000LL + (long long)t * 10000) * 1000000LL;
            if (tn_buf_printf(out,
                              "%s{\"asDouble\":%.3f,\"timeUnixNano\":\"%lld\",\"attributes\":"
                              "[{\"key\":\"host\",\"value\":{\"stringValue\":\"host-%06zu\"}}]}",
                              k > i ? "," : "", (double)(k % 1000) / 8.0, ns, sr)) {
                fprintf(stderr, "out of memory\n");
                exit(1);
            }
        }
        tn_buf_puts(out, "]}}]}]}]}\n");
    }
}

static double scan_floor(const char *b, size_t n, size_t *lines)
{
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        size_t c = 0;
        const char *p = b, *e = b + n;
        while (p < e) {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            if (!nl) break;
            c++;
            p = nl + 1;
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
        *lines = c;
    }
    return best;
}

typedef int (*parse_fn)(const char *, size_t, tn_batch_t *, tn_ingest_report_t *, tn_buf_t *);

static int run_influx(const char *b, size_t n, tn_batch_t *out, tn_ingest_report_t *r, tn_buf_t *f)
{
    tn_parse_opts_t o = {1700000000000LL, 0};
    return tn_parse_influx(b, n, &o, "ns", out, r, f);
}

static int run_prom(const char *b, size_t n, tn_batch_t *out, tn_ingest_report_t *r, tn_buf_t *f)
{
    tn_parse_opts_t o = {1700000000000LL, 0};
    return tn_parse_prom_text_fmt(b, n, TN_PROM_TEXT_004, &o, out, r, f);
}

static int run_otlp(const char *b, size_t n, tn_batch_t *out, tn_ingest_report_t *r, tn_buf_t *f)
{
    tn_parse_opts_t o = {1700000000000LL, 1000000};
    tn_json_arena_t arena;
    tn_json_arena_begin(&arena);
    int rc = tn_parse_otlp_metrics(b, n, &o, out, r, f);
    tn_json_arena_end(&arena);
    return rc;
}

static int run_otlp_dom(const char *b, size_t n, tn_batch_t *out, tn_ingest_report_t *r,
                        tn_buf_t *f)
{
    tn_parse_opts_t o = {1700000000000LL, 1000000};
    tn_json_arena_t arena;
    tn_json_arena_begin(&arena);
    int rc = tn__otlp_metrics_dom(b, n, &o, out, r, f);
    tn_json_arena_end(&arena);
    return rc;
}

/* Mode 1: the whole body in one call (one batch of all samples, cold memory). */
static void bench(const char *name, parse_fn fn, const tn_buf_t *in, double floor_s)
{
    double best = 1e9, free_best = 1e9;
    size_t samples = 0;
    for (int r = 0; r < 3; r++) {
        tn_batch_t out;
        tn_batch_init(&out);
        tn_ingest_report_t rep;
        tn_ingest_report_init(&rep);
        tn_buf_t fatal;
        tn_buf_init(&fatal);
        double t0 = now_s();
        int rc = fn(in->data, in->len, &out, &rep, &fatal);
        double dt = now_s() - t0;
        if (rc || rep.rejected) {
            fprintf(stderr, "%s: rc=%d rejected=%zu %s %s\n", name, rc, rep.rejected,
                    fatal.data ? fatal.data : "", rep.errors.data ? rep.errors.data : "");
            exit(1);
        }
        samples = out.samples.n;
        double t1 = now_s();
        tn_batch_deinit(&out);
        double ft = now_s() - t1;
        tn_ingest_report_deinit(&rep);
        tn_buf_deinit(&fatal);
        if (dt < best) best = dt;
        if (ft < free_best) free_best = ft;
    }
    printf("%-30s %8.3f s  %6.2f M samples/s  %7.1f MB/s  %5.1fx the floor  (free: %.3f s)\n", name,
           best, (double)samples / best / 1e6, (double)in->len / best / 1e6, best / floor_s,
           free_best);
}

/* Mode 2: requests of `chunk` lines, each parsed into its own batch and freed (what the HTTP
 * input does: parse, write to Redis, free). Memory is reused from one request to the next. */
static double bench_chunked(const char *name, parse_fn fn, const tn_buf_t *in, size_t chunk,
                            double floor_s)
{
    double best = 1e9, best_parse = 1e9;
    size_t samples = 0;
    for (int r = 0; r < 3; r++) {
        double parse_s = 0, t0 = now_s();
        samples = 0;
        const char *p = in->data, *e = in->data + in->len;
        while (p < e) {
            const char *q = p;
            for (size_t k = 0; k < chunk && q < e; k++) {
                const char *nl = memchr(q, '\n', (size_t)(e - q));
                q = nl ? nl + 1 : e;
            }
            tn_batch_t out;
            tn_batch_init(&out);
            tn_ingest_report_t rep;
            tn_ingest_report_init(&rep);
            tn_buf_t fatal;
            tn_buf_init(&fatal);
            double t1 = now_s();
            int rc = fn(p, (size_t)(q - p), &out, &rep, &fatal);
            parse_s += now_s() - t1;
            if (rc || rep.rejected) {
                fprintf(stderr, "%s: rc=%d rejected=%zu\n", name, rc, rep.rejected);
                exit(1);
            }
            samples += out.samples.n;
            tn_batch_deinit(&out);
            tn_ingest_report_deinit(&rep);
            tn_buf_deinit(&fatal);
            p = q;
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
        if (parse_s < best_parse) best_parse = parse_s;
    }
    printf("%-30s %8.3f s  %6.2f M samples/s  %7.1f MB/s  %5.1fx the floor  (parse only: %.3f s,"
           " %.2f M samples/s)\n",
           name, best, (double)samples / best / 1e6, (double)in->len / best / 1e6, best / floor_s,
           best_parse, (double)samples / best_parse / 1e6);
    return (double)samples / best_parse;
}

int main(int argc, char **argv)
{
    size_t lines = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t series = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    if (!lines || !series) {
        fprintf(stderr, "usage: %s [lines] [series]\n", argv[0]);
        return 2;
    }
    const char *mode = getenv("TN_BENCH_MODE");  /* "body", "chunked" or unset: both */
    const char *only = getenv("TN_BENCH_INPUT"); /* "influx", "prom", "otlp" or unset: all */
    int do_influx = !only || !strcmp(only, "influx"), do_prom = !only || !strcmp(only, "prom"),
        do_otlp = !only || !strcmp(only, "otlp");
    int body = !mode || strcmp(mode, "chunked") != 0, chunked = !mode || strcmp(mode, "body") != 0;
    tn_json_arena_install();
    tn_buf_t influx, prom, otlp;
    tn_buf_init(&influx);
    tn_buf_init(&prom);
    tn_buf_init(&otlp);
    gen(&influx, &prom, lines, series);
    gen_otlp(&otlp, lines, series, 1000);
    printf("%zu lines, %zu series, 3 tags, 1 field; influx %.1f MB, prometheus text %.1f MB; "
           "best of 3 runs\n",
           lines, series, (double)influx.len / 1e6, (double)prom.len / 1e6);
    size_t fl1, fl2;
    double f1 = scan_floor(influx.data, influx.len, &fl1);
    double f2 = scan_floor(prom.data, prom.len, &fl2);
    printf("%-30s %8.3f s  %6.2f M lines/s    %7.1f MB/s\n", "memchr line count (influx)", f1,
           (double)fl1 / f1 / 1e6, (double)influx.len / f1 / 1e6);
    printf("%-30s %8.3f s  %6.2f M lines/s    %7.1f MB/s\n", "memchr line count (prom)", f2,
           (double)fl2 / f2 / 1e6, (double)prom.len / f2 / 1e6);
    size_t fl3;
    double f3 = scan_floor(otlp.data, otlp.len, &fl3);
    printf("%-30s %8.3f s  %6.2f M bodies/s   %7.1f MB/s  (OTLP JSON %.1f MB)\n",
           "memchr line count (otlp)", f3, (double)fl3 / f3 / 1e6, (double)otlp.len / f3 / 1e6,
           (double)otlp.len / 1e6);
    for (int tuned = 0; tuned < 2; tuned++) {
        if (tuned) {
            /* what a long-running ingest process may set: keep freed memory instead of giving
             * it back to the kernel after every request (page faults are costly, in VMs most) */
            mallopt(M_TRIM_THRESHOLD, 256 << 20);
            mallopt(M_TOP_PAD, 64 << 20);
            printf("-- glibc malloc with M_TRIM_THRESHOLD 256 MB, M_TOP_PAD 64 MB\n");
        } else {
            printf("-- glibc malloc defaults\n");
        }
        if (body && do_influx) bench("influx, 1 body", run_influx, &influx, f1);
        double r_influx = 0, r_new = 0, r_old = 0;
        if (chunked && do_influx)
            r_influx = bench_chunked("influx, 5000-line requests", run_influx, &influx, 5000, f1);
        if (body && do_prom) bench("prom text, 1 body", run_prom, &prom, f2);
        if (chunked && do_prom)
            bench_chunked("prom text, 5000-line requests", run_prom, &prom, 5000, f2);
        if (chunked && do_otlp) {
            r_new = bench_chunked("otlp json, 1000-point requests", run_otlp, &otlp, 1, f3);
            r_old = bench_chunked("otlp json (jansson, before)", run_otlp_dom, &otlp, 1, f3);
            printf("otlp parse + normalize: %.2f M samples/s, jansson's %.2f M: %.2fx", r_new / 1e6,
                   r_old / 1e6, r_new / r_old);
            if (r_influx > 0)
                printf("; influx %.2f M: otlp at %.2f of it (jansson: %.2f)", r_influx / 1e6,
                       r_new / r_influx, r_old / r_influx);
            printf("\n");
        }
    }
    tn_buf_deinit(&influx);
    tn_buf_deinit(&prom);
    tn_buf_deinit(&otlp);
    return 0;
}
