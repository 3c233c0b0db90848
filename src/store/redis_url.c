/* redis_url.c - parsing of the connection URLs accepted by tn_redis_create(). */
#include "store/redis_internal.h"
#include "core/error.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal digits only in [s, end), value <= max. */
static int parse_uint(const char *s, const char *end, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (s == end) return TN_EINVAL;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9') return TN_EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > max) return TN_EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_tcp(const char *p, tn__redis_addr_t *a)
{
    const char *host, *host_end;
    unsigned long v;

    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL) return TN_EINVAL;
        p = host_end + 1;
    } else {
        host = p;
        p += strcspn(p, ":/?@#");
        host_end = p;
    }
    if (host_end == host) return TN_EINVAL;

    a->port = 6379;
    if (*p == ':') {
        const char *port = ++p;
        p += strcspn(p, "/");
        if (parse_uint(port, p, 65535, &v) != 0 || v == 0) return TN_EINVAL;
        a->port = (int)v;
    }
    if (*p == '/') {
        p++;
        if (*p != '\0') {
            if (parse_uint(p, p + strlen(p), INT_MAX, &v) != 0) return TN_EINVAL;
            a->db = (int)v;
            p += strlen(p);
        }
    }
    if (*p != '\0') return TN_EINVAL; /* user:password@, ?options: not supported */

    a->host = strndup(host, (size_t)(host_end - host));
    if (a->host == NULL) return TN_ENOMEM;
    return 0;
}

static int parse_unix(const char *p, tn__redis_addr_t *a)
{
    unsigned long v;
    if (strncmp(p, "//", 2) == 0) p += 2;
    const char *q = strchr(p, '?');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n == 0 || n > TN__REDIS_UNIX_PATH_MAX) return TN_EINVAL;
    if (q != NULL) {
        if (strncmp(q + 1, "db=", 3) != 0) return TN_EINVAL;
        if (parse_uint(q + 4, q + strlen(q), INT_MAX, &v) != 0) return TN_EINVAL;
        a->db = (int)v;
    }
    a->path = strndup(p, n);
    if (a->path == NULL) return TN_ENOMEM;
    return 0;
}

int tn__redis_parse_url(const char *url, tn__redis_addr_t *out)
{
    int rc;
    memset(out, 0, sizeof *out);
    if (url == NULL) return TN_EINVAL;

    if (strncmp(url, "redis://", 8) == 0)
        rc = parse_tcp(url + 8, out);
    else if (strncmp(url, "unix:", 5) == 0)
        rc = parse_unix(url + 5, out);
    else
        rc = TN_EINVAL;
    if (rc != 0) goto fail;

    /* The description for log lines. */
    char db[32] = "";
    int n;
    if (out->path) {
        if (out->db != 0) snprintf(db, sizeof db, "?db=%d", out->db);
        n = asprintf(&out->desc, "unix:%s%s", out->path, db);
    } else {
        bool v6 = strchr(out->host, ':') != NULL;
        if (out->db != 0) snprintf(db, sizeof db, "/%d", out->db);
        n = asprintf(&out->desc, "%s%s%s:%d%s", v6 ? "[" : "", out->host, v6 ? "]" : "", out->port,
                     db);
    }
    if (n < 0) {
        out->desc = NULL;
        rc = TN_ENOMEM;
        goto fail;
    }
    return 0;

fail:
    tn__redis_addr_deinit(out);
    return rc;
}

void tn__redis_addr_deinit(tn__redis_addr_t *a)
{
    free(a->host);
    free(a->path);
    free(a->desc);
    memset(a, 0, sizeof *a);
}

int tn__redis_cmd_arg(const char *cmd, size_t len, unsigned i, char *out, size_t cap)
{
    /* "*<argc>\r\n" then per argument "$<len>\r\n<bytes>\r\n" */
    const char *p = cmd, *end = cmd + len;
    if (cap == 0 || len < 4 || *p != '*') return TN_EINVAL;
    for (unsigned k = 0;; k++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL) return TN_EINVAL;
        if (++p == end) return TN_ENOTFOUND;
        if (*p++ != '$') return TN_EINVAL;
        unsigned long n = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            n = n * 10 + (unsigned long)(*p - '0');
            if (n > len) return TN_EINVAL;
        }
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return TN_EINVAL;
        p += 2;
        if ((size_t)(end - p) < n + 2) return TN_EINVAL;
        if (k == i) {
            size_t c = n < cap ? n : cap - 1;
            memcpy(out, p, c);
            out[c] = '\0';
            return 0;
        }
        p += n; /* now at the "\r\n" closing this argument */
    }
}
