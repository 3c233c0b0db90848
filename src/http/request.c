/* request.c - the pure HTTP/1.1 request parser (an http-parser wrapper) and the request
 * accessors. No I/O here: see request.h. */
#include "http/request.h"
#include "core/error.h"

#include <http_parser.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { HS_NONE, HS_FIELD, HS_VALUE };

struct tn__http_parser {
    http_parser hp;
    size_t max_header_bytes; /* SIZE_MAX when unlimited */
    size_t max_body_bytes;   /* SIZE_MAX when unlimited */
    uint64_t max_wire_body;  /* bound on body bytes + chunk framing on the wire */
    tn_http_req_t *req;      /* the request being built; owned */
    size_t header_bytes;     /* consumed while the headers were not complete */
    uint64_t wire_body;      /* consumed after the headers were complete */
    size_t announced;        /* the Content-Length of the request being read (0: none) */
    size_t value_start;      /* offset of the current header value in req->headers */
    int hstate;              /* HS_*: what the last header callback was */
    bool started, headers_done, complete, want_continue;
    bool final;   /* the last request taken was the connection's last (no keep-alive) */
    bool at_body; /* paused right after the headers (see on_headers_complete) */
    int err;      /* 0, TN_EPROTO or TN_ENOMEM; sticky */
    int status;   /* HTTP status to answer with after TN_EPROTO */
    const char *code;
    char message[160];
};

/* ---- requests ------------------------------------------------------------------------- */

static tn_http_req_t *req_new(void)
{
    tn_http_req_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    tn_buf_init(&r->url);
    tn_buf_init(&r->target);
    tn_buf_init(&r->headers);
    tn_buf_init(&r->body);
    tn_buf_init(&r->resp_headers);
    return r;
}

void tn__http_req_free(tn_http_req_t *req)
{
    if (!req) return;
    tn_buf_deinit(&req->url);
    tn_buf_deinit(&req->target);
    tn_buf_deinit(&req->headers);
    tn_buf_deinit(&req->body);
    tn_buf_deinit(&req->resp_headers);
    free(req);
}

/* ---- failures ------------------------------------------------------------------------- */

static const char *code_for(int status)
{
    switch (status) {
    case 413:
        return "body_too_large";
    case 431:
        return "headers_too_large";
    default:
        return "bad_request";
    }
}

/* Records the first failure (later ones are ignored). Returns -1, the value an http-parser
 * callback returns to stop the parser. */
static int fail(tn__http_parser_t *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(tn__http_parser_t *p, int status, const char *fmt, ...)
{
    if (p->err) return -1;
    p->err = TN_EPROTO;
    p->status = status;
    p->code = code_for(status);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_nomem(tn__http_parser_t *p)
{
    if (!p->err) p->err = TN_ENOMEM;
    return -1;
}

static void fail_errno(tn__http_parser_t *p, enum http_errno e)
{
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        fail(p, 431, "request headers too large");
        break;
    case HPE_CLOSED_CONNECTION:
        fail(p, 400, "data after the last request of the connection");
        break;
    default:
        fail(p, 400, "malformed request: %s", http_errno_description(e));
        break;
    }
}

/* ---- http-parser callbacks -------------------------------------------------------------- */

/* The system http-parser may be built lenient (HTTP_PARSER_STRICT=0, as on Debian): it then
 * accepts spaces in header names ("Content-Length : 5" would not be a Content-Length to us but
 * could be to a proxy in front) and control bytes. We check the bytes ourselves. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool all_tchars(const char *at, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i])) return false;
    return true;
}

/* Visible bytes, and also space and tab when blanks_ok. */
static bool all_visible(const char *at, size_t len, bool blanks_ok)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)at[i];
        if (c == 0x7f || (c <= 0x20 && !(blanks_ok && (c == ' ' || c == '\t')))) return false;
    }
    return true;
}

static int on_message_begin(http_parser *hp)
{
    tn__http_parser_t *p = hp->data;
    p->started = true;
    if (!p->req && !(p->req = req_new())) return fail_nomem(p);
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    tn__http_parser_t *p = hp->data;
    if (!all_visible(at, len, false)) return fail(p, 400, "invalid byte in the request target");
    if (tn_buf_append(&p->req->url, at, len)) return fail_nomem(p);
    return 0;
}

/* Ends the header value being accumulated: trims trailing blanks and writes its NUL. */
static int end_value(tn__http_parser_t *p)
{
    tn_buf_t *h = &p->req->headers;
    while (h->len > p->value_start && (h->data[h->len - 1] == ' ' || h->data[h->len - 1] == '\t'))
        h->len--;
    return tn_buf_append(h, "", 1);
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    tn__http_parser_t *p = hp->data;
    tn_http_req_t *r = p->req;
    if (p->headers_done) return 0; /* trailer fields of a chunked body are ignored */
    if (!all_tchars(at, len)) return fail(p, 400, "invalid byte in a header name");
    if (p->hstate == HS_VALUE && end_value(p)) return fail_nomem(p);
    if (p->hstate != HS_FIELD) r->nheaders++;
    p->hstate = HS_FIELD;
    if (tn_buf_append(&r->headers, at, len)) return fail_nomem(p);
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    tn__http_parser_t *p = hp->data;
    tn_http_req_t *r = p->req;
    if (p->headers_done) return 0;
    if (p->hstate == HS_NONE) return fail(p, 400, "header value without a name");
    if (!all_visible(at, len, true)) return fail(p, 400, "invalid byte in a header value");
    if (p->hstate == HS_FIELD) {
        if (tn_buf_append(&r->headers, "", 1)) return fail_nomem(p);
        p->value_start = r->headers.len;
    }
    p->hstate = HS_VALUE;
    if (tn_buf_append(&r->headers, at, len)) return fail_nomem(p);
    return 0;
}

/* Splits the raw target into "path\0query\0" (fragment dropped). Origin form ("/a?b"),
 * asterisk form ("*"), absolute form ("http://h/a?b") and, for CONNECT, authority form. */
static int split_target(tn__http_parser_t *p)
{
    tn_http_req_t *r = p->req;
    const char *u = r->url.data ? r->url.data : "";
    size_t n = r->url.len;
    const char *path = u, *query = "";
    size_t plen = n, qlen = 0;

    if (n == 0) return fail(p, 400, "empty request target");
    if (u[0] == '/' || (n == 1 && u[0] == '*')) {
        const char *hash = memchr(u, '#', n);
        if (hash) n = (size_t)(hash - u);
        const char *q = memchr(u, '?', n);
        plen = q ? (size_t)(q - u) : n;
        if (q) query = q + 1, qlen = n - plen - 1;
    } else {
        /* field offsets of http_parser_url are 16-bit */
        if (n > UINT16_MAX) return fail(p, 400, "request target too long");
        int is_connect = p->hp.method == HTTP_CONNECT;
        struct http_parser_url pu;
        http_parser_url_init(&pu);
        if (http_parser_parse_url(u, n, is_connect, &pu))
            return fail(p, 400, "invalid request target");
        if (!is_connect) {
            path = "/", plen = 1;
            if (pu.field_set & (1 << UF_PATH))
                path = u + pu.field_data[UF_PATH].off, plen = pu.field_data[UF_PATH].len;
            if (pu.field_set & (1 << UF_QUERY))
                query = u + pu.field_data[UF_QUERY].off, qlen = pu.field_data[UF_QUERY].len;
        }
    }
    if (tn_buf_reserve(&r->target, plen + qlen + 2)) return fail_nomem(p);
    tn_buf_append(&r->target, path, plen);
    tn_buf_append(&r->target, "", 1);
    tn_buf_append(&r->target, query, qlen);
    tn_buf_append(&r->target, "", 1);
    r->path_len = plen;
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    tn__http_parser_t *p = hp->data;
    tn_http_req_t *r = p->req;

    if (p->hstate == HS_FIELD &&
        (tn_buf_append(&r->headers, "", 1) || tn_buf_append(&r->headers, "", 1)))
        return fail_nomem(p);
    if (p->hstate == HS_VALUE && end_value(p)) return fail_nomem(p);
    p->hstate = HS_NONE;
    p->headers_done = true;

    r->method = http_method_str((enum http_method)hp->method);
    r->is_head = hp->method == HTTP_HEAD;
    r->http_major = hp->http_major;
    r->http_minor = hp->http_minor;
    r->keep_alive = http_should_keep_alive(hp) != 0;
    if (split_target(p)) return -1;

    bool chunked = (hp->flags & F_CHUNKED) != 0;
    bool has_length = (hp->flags & F_CONTENTLENGTH) != 0 && hp->content_length != ULLONG_MAX;
    if (has_length && hp->content_length > p->max_body_bytes)
        return fail(p, 413, "request body of %llu bytes exceeds the limit of %zu bytes",
                    (unsigned long long)hp->content_length, p->max_body_bytes);
    bool has_body = chunked || (has_length && hp->content_length > 0);
    p->announced = has_length ? (size_t)hp->content_length : 0;
    if (has_length && hp->content_length > 0) {
        /* a large announced length allocates nothing before bytes arrive (see on_body) */
        size_t first = hp->content_length < 65536 ? (size_t)hp->content_length : 65536;
        if (tn_buf_reserve(&r->body, first)) return fail_nomem(p);
    }
    const char *expect = tn_http_req_header(r, "Expect");
    bool http11 = r->http_major > 1 || (r->http_major == 1 && r->http_minor >= 1);
    if (has_body && http11 && expect && strcasecmp(expect, "100-continue") == 0)
        p->want_continue = true;
    /* pause, so that feed() knows exactly which bytes were headers and which body framing,
     * however the input is split; feed() resumes at once */
    p->at_body = true;
    http_parser_pause(hp, 1);
    return 0;
}

static int on_chunk_header(http_parser *hp)
{
    tn__http_parser_t *p = hp->data;
    /* hp->content_length holds the announced chunk size: refuse before reading it */
    if (hp->content_length > p->max_body_bytes - p->req->body.len)
        return fail(p, 413, "chunked request body exceeds the limit of %zu bytes",
                    p->max_body_bytes);
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    tn__http_parser_t *p = hp->data;
    tn_buf_t *b = &p->req->body;
    if (len > p->max_body_bytes - b->len)
        return fail(p, 413, "request body exceeds the limit of %zu bytes", p->max_body_bytes);
    /* past the first 64 KiB, room for the whole announced body at once: growing by doubling
     * copied a 1.2 MB body about twice more on its way in */
    if (p->announced > b->len + len && b->len + len + 1 > b->cap && b->len + len >= 65536 &&
        tn_buf_reserve(b, p->announced - b->len))
        return fail_nomem(p);
    if (tn_buf_append(b, at, len)) return fail_nomem(p);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    tn__http_parser_t *p = hp->data;
    p->complete = true;
    /* we never switch protocols: after an Upgrade or CONNECT request the connection ends */
    if (hp->upgrade) p->req->keep_alive = false;
    /* stop right after this request; tn__http_parser_take() resumes */
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings g_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

/* ---- the parser ------------------------------------------------------------------------- */

tn__http_parser_t *tn__http_parser_create(size_t max_header_bytes, size_t max_body_bytes)
{
    /* http-parser has its own, process-wide header limit (80 KiB by default). Raise it when we
     * are configured above it, so that ours (exact, per parser) is the one that applies. */
    static uint32_t lib_max = HTTP_MAX_HEADER_SIZE;
    if (max_header_bytes == 0 || max_header_bytes > lib_max) {
        lib_max = max_header_bytes == 0 || max_header_bytes > UINT32_MAX
                      ? UINT32_MAX
                      : (uint32_t)max_header_bytes;
        http_parser_set_max_header_size(lib_max);
    }

    tn__http_parser_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    p->max_header_bytes = max_header_bytes ? max_header_bytes : SIZE_MAX;
    p->max_body_bytes = max_body_bytes ? max_body_bytes : SIZE_MAX;
    if (p->max_header_bytes == SIZE_MAX || p->max_body_bytes == SIZE_MAX ||
        p->max_body_bytes > UINT64_MAX / 4)
        p->max_wire_body = UINT64_MAX;
    else
        p->max_wire_body = 2 * (uint64_t)p->max_body_bytes + p->max_header_bytes;
    return p;
}

void tn__http_parser_destroy(tn__http_parser_t *p)
{
    if (!p) return;
    tn__http_req_free(p->req);
    free(p);
}

int tn__http_parser_feed(tn__http_parser_t *p, const char *data, size_t len, size_t *used)
{
    *used = 0;
    if (p->err) return p->err;
    if (p->complete) return TN__HTTP_DONE;
    if (p->final && len > 0) {
        fail(p, 400, "data after the last request of the connection");
        return p->err;
    }

    while (*used < len) {
        size_t chunk = len - *used;
        bool in_headers = !p->headers_done;
        if (in_headers) {
            /* never hand the library more header bytes than we allow */
            if (p->header_bytes >= p->max_header_bytes) {
                fail(p, 431, "request line and headers exceed %zu bytes", p->max_header_bytes);
                return p->err;
            }
            if (chunk > p->max_header_bytes - p->header_bytes)
                chunk = p->max_header_bytes - p->header_bytes;
        }
        size_t n = http_parser_execute(&p->hp, &g_settings, data + *used, chunk);
        *used += n;
        if (in_headers && !p->headers_done)
            p->header_bytes += n;
        else if (!in_headers)
            p->wire_body += n;

        if (p->err) return p->err; /* one of our callbacks refused */
        if (p->wire_body > p->max_wire_body) {
            fail(p, 413, "chunked body framing too large");
            return p->err;
        }
        if (p->complete) return TN__HTTP_DONE;
        if (p->at_body) {
            p->at_body = false;
            http_parser_pause(&p->hp, 0);
            continue;
        }
        enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
        if (e != HPE_OK) {
            fail_errno(p, e);
            return p->err;
        }
        if (n != chunk) {
            fail(p, 400, "malformed request");
            return p->err;
        }
    }
    return TN__HTTP_MORE;
}

tn_http_req_t *tn__http_parser_take(tn__http_parser_t *p)
{
    if (!p->complete) return NULL;
    tn_http_req_t *r = p->req;
    p->req = NULL;
    p->final = !r->keep_alive;
    p->header_bytes = 0;
    p->wire_body = 0;
    p->value_start = 0;
    p->hstate = HS_NONE;
    p->started = p->headers_done = p->complete = p->want_continue = p->at_body = false;
    http_parser_pause(&p->hp, 0);
    return r;
}

bool tn__http_parser_started(const tn__http_parser_t *p)
{
    return p->started;
}

bool tn__http_parser_want_continue(tn__http_parser_t *p)
{
    bool w = p->want_continue && !p->err;
    p->want_continue = false;
    return w;
}

int tn__http_parser_error(const tn__http_parser_t *p, const char **code, const char **message)
{
    if (p->err != TN_EPROTO) return 0;
    if (code) *code = p->code;
    if (message) *message = p->message;
    return p->status;
}

/* ---- request accessors (public, server.h) ------------------------------------------------ */

const char *tn_http_req_method(const tn_http_req_t *req)
{
    return req->method ? req->method : "";
}

const char *tn_http_req_path(const tn_http_req_t *req)
{
    return req->target.data ? req->target.data : "/";
}

const char *tn_http_req_query(const tn_http_req_t *req)
{
    return req->target.data ? req->target.data + req->path_len + 1 : "";
}

const char *tn_http_req_header(const tn_http_req_t *req, const char *name)
{
    const char *s = req->headers.data;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *v = s + strlen(s) + 1;
        if (strcasecmp(s, name) == 0) return v;
        s = v + strlen(v) + 1;
    }
    return NULL;
}

const char *tn_http_req_body(const tn_http_req_t *req, size_t *len)
{
    if (len) *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

const char *tn_http_req_peer(const tn_http_req_t *req)
{
    return req->peer;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the character of a query component at s[*i] (*i < n) and advances *i.
 * '+' is a space; "%XY" a byte, except "%00" which stays literal (no NUL smuggling). */
static char qchar(const char *s, size_t n, size_t *i)
{
    char c = s[(*i)++];
    if (c == '+') return ' ';
    if (c == '%' && *i + 2 <= n) {
        int hi = hexval(s[*i]), lo = hexval(s[*i + 1]);
        if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
            *i += 2;
            return (char)(hi * 16 + lo);
        }
    }
    return c;
}

static bool qkey_equals(const char *k, size_t klen, const char *name)
{
    size_t i = 0;
    while (i < klen) {
        if (*name == '\0' || qchar(k, klen, &i) != *name) return false;
        name++;
    }
    return *name == '\0';
}

int tn_http_req_query_param(const tn_http_req_t *req, const char *name, char *buf, size_t size)
{
    const char *q = tn_http_req_query(req);
    while (*q) {
        size_t seg = strcspn(q, "&");
        const char *eq = memchr(q, '=', seg);
        size_t klen = eq ? (size_t)(eq - q) : seg;
        if (qkey_equals(q, klen, name)) {
            const char *v = eq ? eq + 1 : q + seg;
            size_t vlen = eq ? seg - klen - 1 : 0, i = 0, o = 0;
            if (size == 0) return TN_ETOOBIG;
            while (i < vlen) {
                if (o + 1 >= size) {
                    buf[0] = '\0';
                    return TN_ETOOBIG;
                }
                buf[o++] = qchar(v, vlen, &i);
            }
            buf[o] = '\0';
            return 0;
        }
        q += seg;
        if (*q == '&') q++;
    }
    return TN_ENOTFOUND;
}
