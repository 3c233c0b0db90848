/* form.h - application/x-www-form-urlencoded bodies, as Slack and Mattermost send them.
 *
 *   tn_form_t f;
 *   if (tn_form_parse(body, len, 0, &f, &err) == 0) {
 *       const char *text = tn_form_get(&f, "text");   // decoded, or NULL
 *       ...
 *       tn_form_free(&f);
 *   }
 *
 * Pairs are separated by '&', name from value by the first '='; '+' is a space and %XX a byte
 * (hex digits of either case). A pair without '=' has an empty value; empty pairs ("a=1&&b=2",
 * a trailing '&') are skipped. Repeated names are all kept, in order. */
#ifndef TN_CHATOPS_FORM_H
#define TN_CHATOPS_FORM_H

#include <stddef.h>

#include "core/buf.h"

typedef struct {
    const char *name;  /* decoded, NUL-terminated; owned by the form */
    const char *value; /* decoded, NUL-terminated; owned by the form */
} tn_form_field_t;

typedef struct {
    tn_form_field_t *fields;
    size_t n;
    char *mem; /* one block holding every decoded string */
} tn_form_t;

/* Parses body (borrowed, len bytes, need not be NUL-terminated). max_fields 0 means 1024.
 * Returns 0 (*f filled; the caller owns it: tn_form_free), TN_EPROTO for a bad percent escape
 * ("%", "%4", "%zz") or a NUL byte in a name or value (decoded from "%00", or raw), TN_ETOOBIG
 * for more than max_fields pairs, TN_ENOMEM. On error *f is left empty (safe to tn_form_free) and
 * err (may be NULL) gets a message naming the problem and its byte offset. */
int tn_form_parse(const char *body, size_t len, size_t max_fields, tn_form_t *f, tn_buf_t *err);

/* The first value of name (borrowed from f), or NULL when absent. */
const char *tn_form_get(const tn_form_t *f, const char *name);

/* Frees what f owns and empties it. NULL or an empty form is a no-op. */
void tn_form_free(tn_form_t *f);

/* Percent-encodes s (len bytes) as a form value would be (unreserved bytes as they are, space
 * as "+", everything else %XX upper case) onto out. 0 or TN_ENOMEM. */
int tn_form_encode(tn_buf_t *out, const char *s, size_t len);

#endif
