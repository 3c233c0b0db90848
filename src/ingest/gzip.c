/* gzip.c - tn_gunzip over zlib's inflate. */
#include "ingest/gzip.h"
#include "core/error.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FIRST_CHUNK 16384

int tn_gunzip(const char *in, size_t len, size_t max_out, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!in || len == 0) return TN_EINVAL;
    /* room for one byte more than allowed tells "exactly max_out" from "too big" */
    size_t limit = max_out < SIZE_MAX - 1 ? max_out + 1 : SIZE_MAX - 1;
    size_t cap = len < limit / 4 ? len * 4 : limit;
    if (cap < FIRST_CHUNK) cap = FIRST_CHUNK < limit ? FIRST_CHUNK : limit;
    char *buf = malloc(cap + 1);
    if (!buf) return TN_ENOMEM;

    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        free(buf);
        return TN_ENOMEM;
    }
    const unsigned char *next = (const unsigned char *)in;
    size_t left = len, total = 0;
    int rc = 0;
    for (;;) {
        if (total == cap) {
            if (cap >= limit) {
                rc = TN_ETOOBIG;
                break;
            }
            size_t ncap = cap < limit / 2 ? cap * 2 : limit;
            char *p = realloc(buf, ncap + 1);
            if (!p) {
                rc = TN_ENOMEM;
                break;
            }
            buf = p;
            cap = ncap;
        }
        if (zs.avail_in == 0 && left) {
            zs.next_in = (unsigned char *)next;
            zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
            next += zs.avail_in;
            left -= zs.avail_in;
        }
        size_t room = cap - total;
        zs.next_out = (unsigned char *)buf + total;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = zs.avail_out;
        int z = inflate(&zs, Z_NO_FLUSH);
        total += before - zs.avail_out;
        if (z == Z_STREAM_END) {
            if (zs.avail_in == 0 && left == 0) break;
            /* another gzip member follows? (its magic may straddle two input chunks) */
            size_t avail = zs.avail_in;
            if (avail + left >= 2 && (avail ? zs.next_in[0] : next[0]) == 0x1f &&
                (avail > 1 ? zs.next_in[1] : next[1 - avail]) == 0x8b) {
                if (inflateReset(&zs) != Z_OK) {
                    rc = TN_EINVAL;
                    break;
                }
                continue;
            }
            rc = TN_EINVAL; /* trailing garbage */
            break;
        }
        if (z == Z_MEM_ERROR) {
            rc = TN_ENOMEM;
            break;
        }
        if (z == Z_NEED_DICT || z == Z_DATA_ERROR || z == Z_STREAM_ERROR) {
            rc = TN_EINVAL;
            break;
        }
        if (z == Z_BUF_ERROR && zs.avail_out > 0 && zs.avail_in == 0 && left == 0) {
            rc = TN_EINVAL; /* truncated: no more input and the stream has not ended */
            break;
        }
        if (z != Z_OK && z != Z_BUF_ERROR) {
            rc = TN_EINVAL;
            break;
        }
        if (zs.avail_in == 0 && left == 0 && zs.avail_out > 0) {
            rc = TN_EINVAL; /* all input used, output room left, no end of stream */
            break;
        }
    }
    inflateEnd(&zs);
    if (rc) {
        free(buf);
        return rc;
    }
    if (total > max_out) {
        free(buf);
        return TN_ETOOBIG;
    }
    buf[total] = '\0';
    *out = buf;
    *out_len = total;
    return 0;
}
