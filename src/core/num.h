/* num.h - numbers as text: the parser the text inputs and the stream decoder share, and a
 * formatter that writes the short decimal form of a double when one round-trips (no printf).
 * Pure functions on caller buffers: nothing is allocated. */
#ifndef TN_CORE_NUM_H
#define TN_CORE_NUM_H

#include <stddef.h>
#include <stdint.h>

#define TN_NUM_SPECIAL 1 /* accept NaN, Inf, Infinity (any case, signed Inf) */
/* on a syntax the fast path refuses, let strtod try (hex floats, -nan) */
#define TN_NUM_LENIENT 2

/* Parses the whole token s[0..n) as a double (no NUL needed). Decimal syntax with at most 19
 * significant digits and a small exponent is converted exactly by Clinger's fast path; the rest
 * goes through strtod. 0, or -1 when it is not a number or overflows. */
int tn_num_parse(const char *s, size_t n, int flags, double *out);

/* Writes v into out (at least TN_NUM_BUF bytes, not NUL-terminated) and returns the length.
 * Integers and decimals with up to 9 fraction digits that parse back to exactly v are written
 * in that short form ("42", "-0.25"); others as printf's "%.17g" (also round-trips). */
#define TN_NUM_BUF 32
size_t tn_num_format(char *out, double v);

/* Writes v in decimal into out (at least 21 bytes, not NUL-terminated); returns the length. */
size_t tn_num_format_i64(char *out, int64_t v);

#endif
