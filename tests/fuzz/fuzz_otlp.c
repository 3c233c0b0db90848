/* libFuzzer target: the OTLP/HTTP JSON parsers (ingest/otlp_*.c), the partial-success response
 * and tn_gunzip (ingest/gzip.c), each parse in a JSON arena (core/json_arena.c) as the engine does.
 * Every input goes through all three parsers, then through tn_gunzip; what decompresses goes
 * through the parsers again. The metrics parser (streaming, ingest/otlp_metrics.c) also runs
 * beside the jansson one it replaced (tn__otlp_metrics_dom): any difference in return code, fatal
 * message, report or samples traps (otlp_diff.h). Built and run briefly by `make test` when clang
 * is present (build-fuzz/); by hand: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTN_FUZZ=ON
 * && cmake
 * --build build-fuzz build-fuzz/tests/fuzz_otlp -max_total_time=60 tests/fuzz/corpus/otlp */
#include "core/error.h"
#include "core/json_arena.h"
#include "ingest/gzip.h"
#include "ingest/otlp.h"
#include "otlp_diff.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 500

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

static int hex_ok(const char *s, size_t digits, int empty_ok)
{
    size_t n = strlen(s);
    if (n == 0) return empty_ok;
    if (n != digits) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static void check_labels(const tn_label_t *l, size_t n)
{
    check(n <= TN_MAX_LABELS);
    for (size_t i = 0; i < n; i++) {
        check(tn_label_name_valid(l[i].name));
        check(strlen(l[i].value) <= TN_MAX_LABEL_VALUE_LEN);
        if (i) check(strcmp(l[i - 1].name, l[i].name) < 0);
    }
}

static void check_batch(const tn_batch_t *b)
{
    for (size_t i = 0; i < b->samples.n; i++) {
        const tn_sample_t *s = &b->samples.items[i];
        check(tn_metric_name_valid(s->name) && strlen(s->sid) == 16);
        check(!s->unit || strlen(s->unit) <= 64);
        check_labels(s->labels, s->nlabels);
    }
    static const char *const sev[] = {"", "trace", "debug", "info", "warn", "error", "fatal"};
    for (size_t i = 0; i < b->nlogs; i++) {
        const tn_log_t *l = &b->logs[i];
        int known = 0;
        for (size_t k = 0; k < sizeof sev / sizeof sev[0]; k++)
            known |= !strcmp(l->severity, sev[k]);
        check(known && l->body != NULL);
        check(hex_ok(l->trace_id, 32, 1) && hex_ok(l->span_id, 16, 1));
        check_labels(l->labels.items, l->labels.n);
    }
    static const char *const kinds[] = {"unspecified", "internal", "server",
                                        "client",      "producer", "consumer"};
    for (size_t i = 0; i < b->nspans; i++) {
        const tn_span_t *s = &b->spans[i];
        int known = 0;
        for (size_t k = 0; k < 6; k++)
            known |= !strcmp(s->kind, kinds[k]);
        check(known && s->name && s->service);
        check(hex_ok(s->trace_id, 32, 0) && hex_ok(s->span_id, 16, 0) &&
              hex_ok(s->parent_id, 16, 1));
        check(s->start_us >= 0 && s->duration_us >= 0);
        check_labels(s->labels.items, s->labels.n);
    }
}

static void parse_all(const char *data, size_t size)
{
    typedef int (*fn_t)(const char *, size_t, const tn_parse_opts_t *, tn_batch_t *,
                        tn_ingest_report_t *, tn_buf_t *);
    static const fn_t fns[] = {tn_parse_otlp_metrics, tn_parse_otlp_logs, tn_parse_otlp_traces};
    static const char *const kinds[] = {"metrics", "logs", "traces"};
    for (int p = 0; p < 3; p++) {
        tn_batch_t b;
        tn_batch_init(&b);
        tn_ingest_report_t rep;
        tn_ingest_report_init(&rep);
        tn_buf_t fatal;
        tn_buf_init(&fatal);
        tn_parse_opts_t o = {.now_ms = 1700000000000LL, .max_items = MAX_ITEMS};
        /* as the engine parses: in a JSON arena; everything checked below is read after the
         * arena is gone, so a value that escaped it is a use after free for ASan */
        tn_json_arena_install();
        tn_json_arena_t arena;
        tn_json_arena_begin(&arena);
        int rc = fns[p](data, size, &o, &b, &rep, &fatal);
        tn_json_arena_end(&arena);
        check(rc == 0 || rc == TN_EINVAL || rc == TN_ETOOBIG || rc == TN_ENOMEM);
        if (rc) {
            /* nothing kept on failure, and a reason */
            check(tn_batch_count(&b) == 0 && rep.accepted == 0 && rep.rejected == 0);
            check(rep.errors.len == 0 && fatal.len > 0);
        } else {
            check(fatal.len == 0 && tn_batch_count(&b) <= MAX_ITEMS);
            if (p == 1) check(b.nlogs == rep.accepted);
            if (p == 2) check(b.nspans == rep.accepted);
            check(p == 0 || b.samples.n == 0);
            check(p == 1 || b.nlogs == 0);
            check(p == 2 || b.nspans == 0);
            check((rep.rejected == 0) == (rep.errors.len == 0));
            if (rep.errors.len) {
                json_t *a = json_loadb(rep.errors.data, rep.errors.len, 0, NULL);
                check(json_is_array(a));
                check(json_array_size(a) == (rep.rejected < 20 ? rep.rejected : 20));
                json_decref(a);
            }
            check_batch(&b);
        }
        tn_buf_t out;
        tn_buf_init(&out);
        check(tn_otlp_partial_success_json(kinds[p], &rep, &out) == 0);
        json_t *r = json_loadb(out.data, out.len, 0, NULL);
        check(json_is_object(r));
        check((rep.rejected == 0) == (json_object_size(r) == 0));
        json_decref(r);
        tn_buf_deinit(&out);
        tn_batch_deinit(&b);
        tn_ingest_report_deinit(&rep);
        tn_buf_deinit(&fatal);
    }
}

/* The streaming metrics parser against the jansson one. */
static void diff_metrics(const char *data, size_t size)
{
    if (memchr(data, '\0', size)) {
        /* jansson loses a NUL byte read just after a number or a literal ("[1\0]" parses as
         * [1]); the tokenizer refuses every NUL byte, as RFC 8259 does: nothing to compare */
        otlp_diff_run_t a;
        otlp_diff_one(&a, 0, data, size, MAX_ITEMS, 0);
        check(a.rc == TN_EINVAL);
        otlp_diff_done(&a);
        return;
    }
    char why[1024];
    const char *d = otlp_diff(data, size, MAX_ITEMS, (int)(size & 1), why, sizeof why);
    if (*d) {
        fprintf(stderr, "metrics parsers differ: %s\n", d);
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_all((const char *)data, size);
    diff_metrics((const char *)data, size);
    char *out = NULL;
    size_t out_len = 0;
    int rc = tn_gunzip((const char *)data, size, 1 << 20, &out, &out_len);
    check(rc == 0 || rc == TN_EINVAL || rc == TN_ETOOBIG || rc == TN_ENOMEM);
    if (rc == 0) {
        check(out != NULL && out_len <= (1 << 20) && out[out_len] == '\0');
        parse_all(out, out_len);
        diff_metrics(out, out_len);
        free(out);
    } else {
        check(out == NULL && out_len == 0);
    }
    return 0;
}
