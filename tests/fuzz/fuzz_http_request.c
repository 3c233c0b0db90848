/* fuzz_http_request.c - libFuzzer target for the HTTP request parser (src/http/request.c).
 *
 * Build and run from the repository root (not wired into CMake yet):
 *
 *   mkdir -p build-http-fuzz
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -I src \
 *       tests/fuzz/fuzz_http_request.c src/http/request.c src/core/buf.c src/core/error.c \
 *       -lhttp_parser -o build-http-fuzz/fuzz_http_request
 *   build-http-fuzz/fuzz_http_request -max_total_time=60 -max_len=8192 build-http-fuzz/corpus-http
 *
 * (create build-http-fuzz/corpus-http first, optionally seeded with a few raw requests).
 *
 * Input layout: byte 0 picks the limits (small ones reach the 413/431 paths often), bytes 1-2
 * pick a split point, the rest is the byte stream of a connection. The stream is parsed three
 * ways - whole, split in two at the data-derived point, and byte by byte (short inputs) - and
 * the outcomes must agree: same requests (method, path, query, body) and same final status.
 * Every complete request goes through all the accessors. */
#include "core/error.h"
#include "http/request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned requests;
    uint64_t digest; /* FNV-1a over what the requests contained */
    int status;      /* final: TN__HTTP_MORE, or the error status (400/413/431), or -1 ENOMEM */
} outcome_t;

static void mix(uint64_t *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        *h = (*h ^ p[i]) * 1099511628211ULL;
    *h = (*h ^ 0xff) * 1099511628211ULL; /* separator */
}

static void exercise(tn_http_req_t *r, outcome_t *o)
{
    static const char *names[] = {"host", "Content-Length", "transfer-encoding", "x", ""};
    static const char *params[] = {"a", "b", "", "q=1", "%41"};
    const char *s = tn_http_req_method(r);
    mix(&o->digest, s, strlen(s));
    s = tn_http_req_path(r);
    mix(&o->digest, s, strlen(s));
    s = tn_http_req_query(r);
    mix(&o->digest, s, strlen(s));
    size_t len = 0;
    s = tn_http_req_body(r, &len);
    mix(&o->digest, s, len);
    if (s[len] != '\0') abort(); /* bodies are NUL-terminated */
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = tn_http_req_header(r, names[i]);
        if (v) mix(&o->digest, v, strlen(v));
    }
    char buf[8];
    for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
        int rc = tn_http_req_query_param(r, params[i], buf, sizeof buf);
        if (rc == 0 && strlen(buf) >= sizeof buf) abort();
        if (rc != 0 && rc != TN_ENOTFOUND && rc != TN_ETOOBIG) abort();
    }
    mix(&o->digest, &r->keep_alive, sizeof r->keep_alive);
    o->requests++;
}

/* Feeds data[0..len) in pieces of at most step bytes, first piece split at `split`. */
static outcome_t run(const uint8_t *data, size_t len, size_t hdr, size_t body, size_t split,
                     size_t step)
{
    outcome_t o = {0, 1469598103934665603ULL, TN__HTTP_MORE};
    tn__http_parser_t *p = tn__http_parser_create(hdr, body);
    if (!p) abort();
    size_t off = 0;
    while (off < len) {
        size_t end = off < split && split < len ? split : len;
        if (end - off > step) end = off + step;
        size_t piece = end - off, used = 0;
        int rc = tn__http_parser_feed(p, (const char *)data + off, piece, &used);
        if (used > piece || (rc == TN__HTTP_MORE && used != piece)) abort();
        off += used;
        if (rc == TN__HTTP_DONE) {
            tn_http_req_t *r = tn__http_parser_take(p);
            if (!r) abort();
            exercise(r, &o);
            tn__http_req_free(r);
        } else if (rc != TN__HTTP_MORE) {
            o.status = rc == TN_ENOMEM ? -1 : tn__http_parser_error(p, NULL, NULL);
            if (o.status != 400 && o.status != 413 && o.status != 431 && o.status != -1) abort();
            break;
        }
    }
    tn__http_parser_destroy(p);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    static const size_t hdrs[4] = {64, 256, 16384, 0};
    static const size_t bodies[4] = {8, 100, 8388608, 0};
    size_t hdr = hdrs[data[0] & 3], body = bodies[(data[0] >> 2) & 3];
    size_t split = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3, size -= 3;
    if (size) split %= size + 1;

    outcome_t whole = run(data, size, hdr, body, 0, SIZE_MAX);
    outcome_t two = run(data, size, hdr, body, split, SIZE_MAX);
    if (whole.requests != two.requests || whole.digest != two.digest || whole.status != two.status)
        abort();
    if (size <= 1024) {
        outcome_t bytes = run(data, size, hdr, body, 0, 1);
        if (whole.requests != bytes.requests || whole.digest != bytes.digest ||
            whole.status != bytes.status)
            abort();
    }
    return 0;
}
