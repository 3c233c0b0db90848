/* libFuzzer target: x-www-form-urlencoded bodies (chatops/form.c). The fields of a body that
 * parses are encoded again with tn_form_encode and must parse back to the same fields. See
 * fuzz_json_samples.c for how to build and run. */
#include "chatops/form.h"
#include "core/error.h"

#include <stdint.h>
#include <string.h>

static void check_round_trip(const tn_form_t *f)
{
    tn_buf_t body;
    tn_buf_init(&body);
    for (size_t i = 0; i < f->n; i++) {
        const char *name = f->fields[i].name, *value = f->fields[i].value;
        if ((i && tn_buf_append(&body, "&", 1)) || tn_form_encode(&body, name, strlen(name)) ||
            tn_buf_append(&body, "=", 1) || tn_form_encode(&body, value, strlen(value))) {
            tn_buf_deinit(&body);
            return;
        }
    }
    tn_form_t g;
    int rc = tn_form_parse(body.data, body.len, f->n, &g, NULL);
    if (rc == TN_ENOMEM) goto out;
    if (rc != 0 || g.n != f->n) __builtin_trap();
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(g.fields[i].name, f->fields[i].name) != 0 ||
            strcmp(g.fields[i].value, f->fields[i].value) != 0)
            __builtin_trap();
    tn_form_free(&g);
out:
    tn_buf_deinit(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    tn_buf_t err;
    tn_buf_init(&err);
    size_t limits[] = {0, 3};
    for (size_t l = 0; l < 2; l++) {
        tn_form_t f;
        tn_buf_reset(&err);
        int rc = tn_form_parse(body, size, limits[l], &f, &err);
        if (rc == 0) {
            if (f.n > (limits[l] ? limits[l] : 1024)) __builtin_trap();
            size_t total = 0;
            for (size_t i = 0; i < f.n; i++)
                total += strlen(f.fields[i].name) + strlen(f.fields[i].value);
            if (total > size) __builtin_trap(); /* decoding never grows */
            if (f.n && tn_form_get(&f, f.fields[0].name) != f.fields[0].value) __builtin_trap();
            check_round_trip(&f);
        } else {
            if (rc != TN_EPROTO && rc != TN_ETOOBIG && rc != TN_ENOMEM) __builtin_trap();
            if (f.n || f.fields || f.mem || !err.len) __builtin_trap();
        }
        tn_form_free(&f);
    }
    tn_buf_deinit(&err);
    return 0;
}
