/* gzip.h - decoding Content-Encoding: gzip (and deflate / zlib) request bodies, with a cap on
 * the decoded size against decompression bombs. */
#ifndef TN_INGEST_GZIP_H
#define TN_INGEST_GZIP_H

#include <stddef.h>

/* Decodes a gzip or zlib stream (detected from its header). Concatenated gzip members (as
 * `cat a.gz b.gz` makes) are decoded one after the other; anything else after the end of the
 * stream is an error. On 0, *out is a malloc'd buffer the caller frees, holding *out_len bytes
 * plus a NUL terminator that is not counted. Returns 0, TN_ETOOBIG as soon as the output would
 * exceed max_out bytes (without decoding the rest), TN_EINVAL for corrupt, truncated or empty
 * input, TN_ENOMEM. On failure *out is NULL and *out_len 0. */
int tn_gunzip(const char *in, size_t len, size_t max_out, char **out, size_t *out_len);

#endif
