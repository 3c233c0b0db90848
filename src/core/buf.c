#include "core/buf.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tn_buf_init(tn_buf_t *b)
{
    b->data = NULL, b->len = 0, b->cap = 0;
}

void tn_buf_deinit(tn_buf_t *b)
{
    free(b->data);
    tn_buf_init(b);
}

void tn_buf_reset(tn_buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

int tn_buf_reserve(tn_buf_t *b, size_t extra)
{
    if (extra > ((size_t)-1) / 2 - b->len) return TN_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return TN_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int tn_buf_append(tn_buf_t *b, const void *data, size_t len)
{
    int rc = tn_buf_reserve(b, len);
    if (rc) return rc;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int tn_buf_puts(tn_buf_t *b, const char *s)
{
    return tn_buf_append(b, s, strlen(s));
}

int tn_buf_printf(tn_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return TN_EINVAL;
    int rc = tn_buf_reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int tn_buf_json_str(tn_buf_t *b, const char *s, size_t len)
{
    int rc = tn_buf_reserve(b, len + 2);
    if (rc) return rc;
    b->data[b->len++] = '"';
    size_t run = 0; /* start of the pending run of characters that need no escape */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (i > run && (rc = tn_buf_append(b, s + run, i - run))) return rc;
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"':
            rc = tn_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            rc = tn_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            rc = tn_buf_append(b, "\\n", 2);
            break;
        case '\r':
            rc = tn_buf_append(b, "\\r", 2);
            break;
        case '\t':
            rc = tn_buf_append(b, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            rc = tn_buf_append(b, esc, 6);
        }
        if (rc) return rc;
    }
    if (len > run && (rc = tn_buf_append(b, s + run, len - run))) return rc;
    return tn_buf_append(b, "\"", 1);
}

char *tn_buf_steal(tn_buf_t *b)
{
    char *p = b->data;
    if (!p) p = calloc(1, 1);
    tn_buf_init(b);
    return p;
}
