/* buf.h - growable byte buffer. Embedded by its owner: tn_buf_init / tn_buf_deinit.
 * data is always NUL-terminated when len > 0 or after any append. */
#ifndef TN_CORE_BUF_H
#define TN_CORE_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} tn_buf_t;

void tn_buf_init(tn_buf_t *b);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void tn_buf_deinit(tn_buf_t *b);
void tn_buf_reset(tn_buf_t *b);
/* Ensures room for extra more bytes (+NUL). 0 or TN_ENOMEM. */
int tn_buf_reserve(tn_buf_t *b, size_t extra);
int tn_buf_append(tn_buf_t *b, const void *data, size_t len);
int tn_buf_puts(tn_buf_t *b, const char *s);
int tn_buf_printf(tn_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (with quotes). */
int tn_buf_json_str(tn_buf_t *b, const char *s, size_t len);
/* Detaches the storage: caller owns the returned pointer (free()). Buffer becomes empty. */
char *tn_buf_steal(tn_buf_t *b);

#endif
