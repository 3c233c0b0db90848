/* form.c - application/x-www-form-urlencoded bodies: one pass counts the pairs, a second decodes
 * every name and value into one block. */
#include "chatops/form.h"
#include "core/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FORM_DEFAULT_MAX 1024

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes body[i..end) onto *out (NUL-terminated). 0, or TN_EPROTO with *bad the offending
 * byte offset and *why what is wrong. */
static int decode(const char *body, size_t i, size_t end, char **out, size_t *bad, const char **why)
{
    char *o = *out;
    while (i < end) {
        unsigned char c = (unsigned char)body[i];
        if (c == '+') {
            *o++ = ' ';
            i++;
        } else if (c == '%') {
            int hi = i + 1 < end ? hexval((unsigned char)body[i + 1]) : -1;
            int lo = i + 2 < end ? hexval((unsigned char)body[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *bad = i, *why = "bad percent escape";
                return TN_EPROTO;
            }
            if (hi == 0 && lo == 0) {
                *bad = i, *why = "decoded NUL byte";
                return TN_EPROTO;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 3;
        } else if (c == '\0') {
            *bad = i, *why = "NUL byte";
            return TN_EPROTO;
        } else {
            *o++ = (char)c;
            i++;
        }
    }
    *o++ = '\0';
    *out = o;
    return 0;
}

int tn_form_parse(const char *body, size_t len, size_t max_fields, tn_form_t *f, tn_buf_t *err)
{
    f->fields = NULL, f->n = 0, f->mem = NULL;
    if (max_fields == 0) max_fields = FORM_DEFAULT_MAX;
    if (len == 0) return 0;

    size_t n = 0;
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - body) : len;
        if (end > i && ++n > max_fields) {
            if (err) tn_buf_printf(err, "more than %zu form fields (at byte %zu)", max_fields, i);
            return TN_ETOOBIG;
        }
        i = end + 1;
    }
    if (n == 0) return 0;

    /* Decoding never grows a string; each pair adds two NULs, and all pairs but one drop an '&'
     * that separates them: at most len + n + 1 bytes. */
    tn_form_field_t *fields = NULL;
    char *mem = NULL;
    if (len <= (SIZE_MAX - 2) / 2 && n <= SIZE_MAX / sizeof *fields) {
        fields = malloc(n * sizeof *fields);
        mem = malloc(len + n + 1);
    }
    if (!fields || !mem) {
        free(fields);
        free(mem);
        if (err) tn_buf_puts(err, "out of memory");
        return TN_ENOMEM;
    }

    char *o = mem;
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - body) : len;
        if (end > i) {
            const char *eq = memchr(body + i, '=', end - i);
            size_t name_end = eq ? (size_t)(eq - body) : end;
            size_t bad = 0;
            const char *why = NULL;
            tn_form_field_t *fl = &fields[k++];
            fl->name = o;
            int rc = decode(body, i, name_end, &o, &bad, &why);
            fl->value = o;
            if (rc == 0 && eq)
                rc = decode(body, name_end + 1, end, &o, &bad, &why);
            else if (rc == 0)
                *o++ = '\0';
            if (rc) {
                if (err) tn_buf_printf(err, "%s in form body at byte %zu", why, bad);
                free(fields);
                free(mem);
                return rc;
            }
        }
        i = end + 1;
    }
    f->fields = fields;
    f->n = n;
    f->mem = mem;
    return 0;
}

const char *tn_form_get(const tn_form_t *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->fields[i].name, name) == 0) return f->fields[i].value;
    return NULL;
}

void tn_form_free(tn_form_t *f)
{
    if (!f) return;
    free(f->fields);
    free(f->mem);
    f->fields = NULL, f->n = 0, f->mem = NULL;
}

int tn_form_encode(tn_buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len > SIZE_MAX / 4) return TN_ENOMEM;
    int rc = tn_buf_reserve(out, len * 3);
    if (rc) return rc;
    char *o = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else if (c == ' ') {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}
