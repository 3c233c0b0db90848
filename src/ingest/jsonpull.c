/* jsonpull.c - strict RFC 8259 pull tokenizer and the flat index built with it. See jsonpull.h.
 *
 * The lexer and the parser follow jansson's load.c step by step where it decides what an error
 * is and where it is reported (which byte was read last, which token text is quoted), so that the
 * messages are the same. */
#include "ingest/jsonpull.h"
#include "core/error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_START, ST_OBJ_FIRST, ST_VALUE, ST_ARR_FIRST, ST_AFTER, ST_DONE, ST_END, ST_FAILED };

/* tokens: the structural characters as themselves, then */
enum {
    TK_ERR = -2,
    TK_INVALID = -1,
    TK_EOF = 0,
    TK_STRING = 256,
    TK_INT,
    TK_REAL,
    TK_TRUE,
    TK_FALSE,
    TK_NULL
};

#define SMALL_OBJECT 16 /* keys compared one by one up to this many, then a hash table */

void tn_jp_init(tn_jp_t *p, const char *buf, size_t len, unsigned flags)
{
    memset(p, 0, sizeof *p);
    p->buf = buf ? buf : "";
    p->n = buf ? len : 0;
    p->flags = flags;
    p->state = ST_START;
    tn_buf_init(&p->keybuf);
    tn_buf_init(&p->scratch);
}

void tn_jp_deinit(tn_jp_t *p)
{
    for (size_t i = 0; i < p->depth; i++)
        free(p->frames[i].tab);
    free(p->frames);
    free(p->keys);
    tn_buf_deinit(&p->keybuf);
    tn_buf_deinit(&p->scratch);
    p->frames = NULL;
    p->keys = NULL;
    p->depth = p->fcap = p->nkeys = p->kcap = 0;
}

/* ---- errors ------------------------------------------------------------------------------ */

/* The first error wins. pos: the byte after the last one read; [s, e): the token text read so
 * far (quoted as "near '...'" when it is short); utf8: a decoding error (no "near end of file"). */
static int fail(tn_jp_t *p, size_t pos, size_t s, size_t e, int utf8, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int fail(tn_jp_t *p, size_t pos, size_t s, size_t e, int utf8, const char *fmt, ...)
{
    if (p->err) return TK_ERR;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->err = TN_EINVAL;
    p->err_pos = pos;
    p->state = ST_FAILED;
    /* cut to the size jansson's messages have (JSON_ERROR_TEXT_LENGTH) */
    int w;
    if (e > s && p->buf[s] != '\0' && e - s <= 20)
        w = snprintf(p->errmsg, sizeof p->errmsg, "%s near '%.*s'", msg,
                     (int)strnlen(p->buf + s, e - s), p->buf + s);
    else if (e > s && p->buf[s] != '\0')
        w = snprintf(p->errmsg, sizeof p->errmsg, "%s", msg);
    else if (utf8)
        w = snprintf(p->errmsg, sizeof p->errmsg, "%s", msg);
    else
        w = snprintf(p->errmsg, sizeof p->errmsg, "%s near end of file", msg);
    if (w < 0) p->errmsg[0] = '\0';
    return TK_ERR;
}

static int oom(tn_jp_t *p)
{
    if (!p->err) {
        p->err = TN_ENOMEM;
        p->err_pos = p->pos;
        snprintf(p->errmsg, sizeof p->errmsg, "out of memory");
    }
    p->state = ST_FAILED;
    return TK_ERR;
}

/* An error about the current token (the parser's errors). */
static tn_jp_event_t perr(tn_jp_t *p, const char *msg)
{
    fail(p, p->pos, p->tok_start, p->tok_end, 0, "%s", msg);
    return TN_JP_ERROR;
}

int tn_jp_error_code(const tn_jp_t *p)
{
    return p->err == TN_ENOMEM ? TN_ENOMEM : 0;
}

const char *tn_jp_error(const tn_jp_t *p)
{
    return p->err ? p->errmsg : "";
}

size_t tn_jp_error_offset(const tn_jp_t *p)
{
    return p->err_pos;
}

int tn_jp_error_line(const tn_jp_t *p)
{
    int line = 1;
    for (size_t i = 0; i < p->err_pos && i < p->n; i++)
        line += p->buf[i] == '\n';
    return line;
}

int tn_jp_error_column(const tn_jp_t *p)
{
    size_t i = p->err_pos < p->n ? p->err_pos : p->n;
    int col = 0;
    while (i > 0 && p->buf[i - 1] != '\n') {
        unsigned char c = (unsigned char)p->buf[--i];
        col += !(c >= 0x80 && c <= 0xBF); /* a character starts here */
    }
    return col;
}

/* ---- lexer ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at b (lead byte >= 0x80), 0 when it is not one. */
static size_t utf8_seq(const unsigned char *b, size_t avail)
{
    unsigned c = b[0];
    size_t n;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, v = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, v = c & 0x07;
    else
        return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if (b[i] < 0x80 || b[i] > 0xBF) return 0;
        v = (v << 6) | (b[i] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000)) return 0;
    return n;
}

/* The byte at q as jansson's stream reads it: -1 at the end, TK_ERR (error set, with the token
 * text [s, q)) when it does not start valid UTF-8, else the byte. */
static int rd(tn_jp_t *p, size_t q, size_t s)
{
    if (q >= p->n) return -1;
    const unsigned char *b = (const unsigned char *)p->buf;
    if (b[q] >= 0x80 && !utf8_seq(b + q, p->n - q))
        return fail(p, q, s, q, 1, "unable to decode byte 0x%x", b[q]);
    return b[q];
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Bytes a string may hold as they are: everything but '"', '\\', controls and non-ASCII. */
static const unsigned char g_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static uint32_t hex4(const unsigned char *b)
{
    return (uint32_t)(hexval(b[0]) << 12 | hexval(b[1]) << 8 | hexval(b[2]) << 4 | hexval(b[3]));
}

/* Decodes the escaped string body [s+1, q) (checked by lex_string) into p->scratch. */
static int decode_string(tn_jp_t *p, size_t s, size_t q)
{
    const unsigned char *b = (const unsigned char *)p->buf;
    tn_buf_reset(&p->scratch);
    if (tn_buf_reserve(&p->scratch, q - s)) return oom(p);
    char *t = p->scratch.data;
    size_t j = s + 1;
    while (j < q) {
        if (b[j] != '\\') {
            *t++ = (char)b[j++];
            continue;
        }
        j++;
        unsigned c = b[j];
        if (c != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            *t++ = to[strchr(from, (int)c) - from];
            j++;
            continue;
        }
        uint32_t v = hex4(b + j + 1);
        j += 5;
        if (v >= 0xD800 && v <= 0xDBFF) {
            if (b[j] == '\\' && b[j + 1] == 'u') {
                uint32_t v2 = hex4(b + j + 2);
                j += 6;
                if (v2 < 0xDC00 || v2 > 0xDFFF)
                    return fail(p, q + 1, s, q + 1, 0, "invalid Unicode '\\u%04X\\u%04X'", v, v2);
                v = ((v - 0xD800) << 10) + (v2 - 0xDC00) + 0x10000;
            } else {
                return fail(p, q + 1, s, q + 1, 0, "invalid Unicode '\\u%04X'", v);
            }
        } else if (v >= 0xDC00 && v <= 0xDFFF) {
            return fail(p, q + 1, s, q + 1, 0, "invalid Unicode '\\u%04X'", v);
        }
        if (v == 0) p->tok_nul = 1;
        if (v < 0x80) {
            *t++ = (char)v;
        } else if (v < 0x800) {
            *t++ = (char)(0xC0 | v >> 6);
            *t++ = (char)(0x80 | (v & 0x3F));
        } else if (v < 0x10000) {
            *t++ = (char)(0xE0 | v >> 12);
            *t++ = (char)(0x80 | ((v >> 6) & 0x3F));
            *t++ = (char)(0x80 | (v & 0x3F));
        } else {
            *t++ = (char)(0xF0 | v >> 18);
            *t++ = (char)(0x80 | ((v >> 12) & 0x3F));
            *t++ = (char)(0x80 | ((v >> 6) & 0x3F));
            *t++ = (char)(0x80 | (v & 0x3F));
        }
    }
    p->scratch.len = (size_t)(t - p->scratch.data);
    p->scratch.data[p->scratch.len] = '\0';
    p->str = p->scratch.data;
    p->len = p->scratch.len;
    return 0;
}

static int lex_string(tn_jp_t *p, size_t s)
{
    const unsigned char *b = (const unsigned char *)p->buf;
    size_t q = s + 1, n = p->n;
    int esc = 0;
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    for (;;) {
        /* 8 bytes at a time while plain (no '"', '\\', control byte or byte >= 0x80); the lowest
         * flagged byte of a word is exactly its first stop (flags above it may be false) */
        while (q + 8 <= n) {
            uint64_t x, xq, xb;
            memcpy(&x, b + q, 8);
            xq = x ^ (ones * '"');
            xb = x ^ (ones * '\\');
            uint64_t stop =
                (((xq - ones) & ~xq) | ((xb - ones) & ~xb) | ((x - ones * 0x20) & ~x) | x) & high;
            if (stop) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                q += (size_t)__builtin_ctzll(stop) >> 3;
#endif
                break;
            }
            q += 8;
        }
        while (q < n && g_plain[b[q]])
            q++;
        if (q >= n) return fail(p, n, s, n, 0, "premature end of input");
        unsigned c = b[q];
        if (c == '"') break;
        if (c < 0x20) {
            if (c == '\n') return fail(p, q, s, q, 0, "unexpected newline");
            return fail(p, q, s, q, 0, "control character 0x%x", c);
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(b + q, n - q);
            if (!k) return fail(p, q, s, q, 1, "unable to decode byte 0x%x", c);
            q += k;
            continue;
        }
        /* a backslash */
        esc = 1;
        int e = rd(p, ++q, s);
        if (e == TK_ERR) return TK_ERR;
        if (e == 'u') {
            for (int i = 0; i < 4; i++) {
                e = rd(p, ++q, s);
                if (e == TK_ERR) return TK_ERR;
                if (e < 0) return fail(p, n, s, n, 0, "invalid escape");
                if (hexval(e) < 0) return fail(p, q + 1, s, q + 1, 0, "invalid escape");
            }
            q++;
        } else if (e >= 0 && strchr("\"\\/bfnrt", e) && e != 0) {
            q++;
        } else if (e < 0) {
            return fail(p, n, s, n, 0, "invalid escape");
        } else {
            return fail(p, q + 1, s, q + 1, 0, "invalid escape");
        }
    }
    p->pos = p->tok_end = q + 1;
    p->tok_esc = esc;
    if (!esc) {
        p->str = p->buf + s + 1;
        p->len = q - s - 1;
        return TK_STRING;
    }
    if (decode_string(p, s, q)) return TK_ERR;
    return TK_STRING;
}

/* Whether the real number text [s, e) (valid grammar) overflows a double. */
static int real_overflows(const char *s, size_t len)
{
    size_t i = 0, mag = 0;
    if (s[i] == '-') i++;
    while (i < len && s[i] == '0')
        i++;
    while (i < len && is_digit(s[i]))
        i++, mag++;
    while (i < len && s[i] != 'e' && s[i] != 'E')
        i++;
    long exp = 0;
    if (i < len) {
        i++;
        int neg = s[i] == '-';
        if (s[i] == '+' || s[i] == '-') i++;
        for (; i < len; i++)
            if (exp < 100000) exp = exp * 10 + (s[i] - '0');
        if (neg) exp = -exp;
    }
    if ((long)mag + exp <= 307) return 0; /* below 1e308 */
    double d = tn_jp_real_value(s, len);
    return isinf(d);
}

static int lex_number(tn_jp_t *p, size_t s)
{
    size_t q = s;
    int c = (unsigned char)p->buf[q];
    if (c == '-') {
        c = rd(p, ++q, s);
        if (c == TK_ERR) return TK_ERR;
    }
    if (c == '0') {
        c = rd(p, ++q, s);
        if (c == TK_ERR) return TK_ERR;
        if (is_digit(c)) goto invalid;
    } else if (is_digit(c)) {
        do
            c = rd(p, ++q, s);
        while (is_digit(c));
        if (c == TK_ERR) return TK_ERR;
    } else {
        goto invalid;
    }
    if (c != '.' && c != 'e' && c != 'E') {
        p->pos = p->tok_end = q;
        size_t nd = q - s - (p->buf[s] == '-');
        if (nd >= 19) {
            int neg = p->buf[s] == '-';
            const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
            if (nd > 19 || memcmp(p->buf + s + neg, lim, 19) > 0)
                return fail(p, q, s, q, 0, neg ? "too big negative integer" : "too big integer");
        }
        p->str = p->buf + s;
        p->len = q - s;
        return TK_INT;
    }
    if (c == '.') {
        c = rd(p, ++q, s);
        if (c == TK_ERR) return TK_ERR;
        if (!is_digit(c)) goto invalid;
        do
            c = rd(p, ++q, s);
        while (is_digit(c));
        if (c == TK_ERR) return TK_ERR;
    }
    if (c == 'e' || c == 'E') {
        c = rd(p, ++q, s);
        if (c == TK_ERR) return TK_ERR;
        if (c == '+' || c == '-') {
            c = rd(p, ++q, s);
            if (c == TK_ERR) return TK_ERR;
        }
        if (!is_digit(c)) goto invalid;
        do
            c = rd(p, ++q, s);
        while (is_digit(c));
        if (c == TK_ERR) return TK_ERR;
    }
    p->pos = p->tok_end = q;
    if (real_overflows(p->buf + s, q - s)) return fail(p, q, s, q, 0, "real number overflow");
    p->str = p->buf + s;
    p->len = q - s;
    return TK_REAL;
invalid:
    p->pos = p->tok_end = q;
    return TK_INVALID;
}

static int lex(tn_jp_t *p)
{
    const unsigned char *b = (const unsigned char *)p->buf;
    size_t i = p->pos, n = p->n;
    while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
        i++;
    p->tok_start = i;
    p->tok_nul = 0;
    p->tok_esc = 0;
    if (i >= n) {
        p->pos = p->tok_end = n;
        return TK_EOF;
    }
    int c = b[i];
    switch (c) {
    case '{':
    case '}':
    case '[':
    case ']':
    case ':':
    case ',':
        p->pos = p->tok_end = i + 1;
        return c;
    case '"':
        return lex_string(p, i);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return lex_number(p, i);
    default:
        break;
    }
    if (is_alpha(c)) {
        size_t q = i;
        do
            c = rd(p, ++q, i);
        while (is_alpha(c));
        if (c == TK_ERR) return TK_ERR;
        p->pos = p->tok_end = q;
        size_t len = q - i;
        const char *t = p->buf + i;
        if (len == 4 && !memcmp(t, "true", 4)) return TK_TRUE;
        if (len == 5 && !memcmp(t, "false", 5)) return TK_FALSE;
        if (len == 4 && !memcmp(t, "null", 4)) return TK_NULL;
        return TK_INVALID;
    }
    if (c >= 0x80) {
        size_t k = utf8_seq(b + i, n - i);
        if (!k) return fail(p, i, i, i, 1, "unable to decode byte 0x%x", c);
        p->pos = p->tok_end = i + k;
        return TK_INVALID;
    }
    p->pos = p->tok_end = i + 1;
    return TK_INVALID;
}

/* ---- duplicate keys ---------------------------------------------------------------------- */

/* a == b over n bytes, inline: keys are short, a call to memcmp costs more than the compare */
static inline int bytes_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static uint32_t key_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static const char *key_bytes(const tn_jp_t *p, const tn__jp_key_t *k)
{
    return k->in_buf ? p->keybuf.data + k->off : p->buf + k->off;
}

static int key_eq(const tn_jp_t *p, const tn__jp_key_t *k, uint32_t h, const char *s, size_t n)
{
    return k->hash == h && k->len == n && memcmp(key_bytes(p, k), s, n) == 0;
}

static int tab_insert(tn__jp_frame_t *f, const tn__jp_key_t *keys, size_t idx)
{
    size_t mask = f->tabcap - 1, j = keys[f->key_base + idx].hash & mask;
    while (f->tab[j])
        j = (j + 1) & mask;
    f->tab[j] = (uint32_t)(idx + 1);
    return 0;
}

static int tab_grow(tn_jp_t *p, tn__jp_frame_t *f)
{
    size_t cap = f->tabcap ? f->tabcap * 2 : 64;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return TN_ENOMEM;
    if (!f->tab) /* the keys of a small object were compared without their hash */
        for (size_t i = 0; i < f->nkeys; i++) {
            tn__jp_key_t *k = &p->keys[f->key_base + i];
            k->hash = key_hash(key_bytes(p, k), k->len);
        }
    free(f->tab);
    f->tab = t;
    f->tabcap = cap;
    for (size_t i = 0; i < f->nkeys; i++)
        tab_insert(f, p->keys, i);
    return 0;
}

/* 1 when the current object has the key already, else records it (0), TK_ERR on ENOMEM. */
static int key_seen(tn_jp_t *p, const char *s, size_t n, int escaped)
{
    tn__jp_frame_t *f = &p->frames[p->depth - 1];
    uint32_t h = 0; /* hashed only once the object has a table */
    if (f->tab) {
        h = key_hash(s, n);
        size_t mask = f->tabcap - 1;
        for (size_t j = h & mask; f->tab[j]; j = (j + 1) & mask)
            if (key_eq(p, &p->keys[f->key_base + f->tab[j] - 1], h, s, n)) return 1;
    } else {
        for (size_t i = f->key_base; i < p->nkeys; i++)
            if (p->keys[i].len == n && bytes_eq(key_bytes(p, &p->keys[i]), s, n)) return 1;
    }
    if (p->nkeys == p->kcap) {
        size_t cap = p->kcap ? p->kcap * 2 : 64;
        tn__jp_key_t *k = realloc(p->keys, cap * sizeof *k);
        if (!k) return oom(p);
        p->keys = k;
        p->kcap = cap;
    }
    tn__jp_key_t *k = &p->keys[p->nkeys++];
    k->hash = h;
    k->len = (uint32_t)n;
    k->in_buf = escaped;
    if (escaped) {
        k->off = p->keybuf.len;
        if (tn_buf_append(&p->keybuf, s, n)) return oom(p);
    } else {
        k->off = (size_t)(s - p->buf);
    }
    f->nkeys++;
    if ((f->tab && f->nkeys * 2 > f->tabcap) || (!f->tab && f->nkeys > SMALL_OBJECT)) {
        if (tab_grow(p, f)) return oom(p);
    } else if (f->tab) {
        tab_insert(f, p->keys, f->nkeys - 1);
    }
    return 0;
}

/* ---- parser ------------------------------------------------------------------------------ */

static void after_value(tn_jp_t *p)
{
    p->state = p->depth ? ST_AFTER : ST_DONE;
}

static tn_jp_event_t open_container(tn_jp_t *p, char kind)
{
    if (p->depth == p->fcap) {
        size_t cap = p->fcap ? p->fcap * 2 : 16;
        tn__jp_frame_t *f = realloc(p->frames, cap * sizeof *f);
        if (!f) return oom(p), TN_JP_ERROR;
        p->frames = f;
        p->fcap = cap;
    }
    tn__jp_frame_t *f = &p->frames[p->depth++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->key_base = p->nkeys;
    f->keybuf_base = p->keybuf.len;
    p->state = kind == '{' ? ST_OBJ_FIRST : ST_ARR_FIRST;
    return kind == '{' ? TN_JP_OBJECT : TN_JP_ARRAY;
}

static tn_jp_event_t close_container(tn_jp_t *p)
{
    tn__jp_frame_t *f = &p->frames[--p->depth];
    char kind = f->kind;
    free(f->tab);
    f->tab = NULL;
    p->nkeys = f->key_base;
    p->keybuf.len = f->keybuf_base;
    p->off = p->tok_start;
    after_value(p);
    return kind == '{' ? TN_JP_OBJECT_END : TN_JP_ARRAY_END;
}

/* jansson's parse_value on the token just read. */
static tn_jp_event_t value(tn_jp_t *p, int t)
{
    if (t == TK_ERR) return TN_JP_ERROR;
    if (p->depth + 1 > TN_JP_MAX_DEPTH) return perr(p, "maximum parsing depth reached");
    p->off = p->tok_start;
    tn_jp_event_t ev;
    switch (t) {
    case TK_STRING:
        if (p->tok_nul) return perr(p, "\\u0000 is not allowed without JSON_ALLOW_NUL");
        ev = TN_JP_STRING;
        break;
    case TK_INT:
        ev = TN_JP_INT;
        break;
    case TK_REAL:
        ev = TN_JP_REAL;
        break;
    case TK_TRUE:
        ev = TN_JP_TRUE;
        break;
    case TK_FALSE:
        ev = TN_JP_FALSE;
        break;
    case TK_NULL:
        ev = TN_JP_NULL;
        break;
    case '{':
    case '[':
        ev = open_container(p, (char)t);
        return ev;
    case TK_INVALID:
        return perr(p, "invalid token");
    default:
        return perr(p, "unexpected token");
    }
    after_value(p);
    return ev;
}

/* A member's name (the token t), then ':'. */
static tn_jp_event_t key(tn_jp_t *p, int t)
{
    if (t == TK_ERR) return TN_JP_ERROR;
    if (t != TK_STRING) return perr(p, "string or '}' expected");
    if (p->tok_nul) return perr(p, "NUL byte in object key not supported");
    const char *s = p->str;
    size_t len = p->len, off = p->tok_start;
    if (p->flags & TN_JP_REJECT_DUPLICATES) {
        int seen = key_seen(p, s, len, p->tok_esc);
        if (seen == TK_ERR) return TN_JP_ERROR;
        if (seen) return perr(p, "duplicate object key");
        if (p->tok_esc) s = p->keybuf.data + p->keys[p->nkeys - 1].off;
    } else if (p->tok_esc) {
        /* keep it past the scratch buffer's next use */
        size_t at = p->keybuf.len;
        if (tn_buf_append(&p->keybuf, s, len)) return oom(p), TN_JP_ERROR;
        s = p->keybuf.data + at;
        p->keybuf.len = at; /* reused by the next key */
    }
    int c = lex(p);
    if (c == TK_ERR) return TN_JP_ERROR;
    if (c != ':') return perr(p, "':' expected");
    p->str = s;
    p->len = len;
    p->off = off;
    p->state = ST_VALUE;
    return TN_JP_KEY;
}

tn_jp_event_t tn_jp_next(tn_jp_t *p)
{
    int t;
    switch (p->state) {
    case ST_START:
        t = lex(p);
        if (t == TK_ERR) return TN_JP_ERROR;
        if (t != '[' && t != '{') return perr(p, "'[' or '{' expected");
        return value(p, t);
    case ST_OBJ_FIRST:
        t = lex(p);
        if (t == '}') return close_container(p);
        return key(p, t);
    case ST_VALUE:
        return value(p, lex(p));
    case ST_ARR_FIRST:
        t = lex(p);
        if (t == ']') return close_container(p);
        if (t == TK_EOF) return perr(p, "']' expected");
        return value(p, t);
    case ST_AFTER:
        t = lex(p);
        if (t == TK_ERR) return TN_JP_ERROR;
        if (p->frames[p->depth - 1].kind == '{') {
            if (t == ',') return key(p, lex(p));
            if (t == '}') return close_container(p);
            return perr(p, "'}' expected");
        }
        if (t == ',') {
            t = lex(p);
            if (t == TK_EOF) return perr(p, "']' expected");
            return value(p, t);
        }
        if (t == ']') return close_container(p);
        return perr(p, "']' expected");
    case ST_DONE:
        t = lex(p);
        if (t == TK_ERR) return TN_JP_ERROR;
        if (t != TK_EOF) return perr(p, "end of file expected");
        p->state = ST_END;
        return TN_JP_END;
    case ST_END:
        return TN_JP_END;
    default:
        return TN_JP_ERROR;
    }
}

tn_jp_event_t tn_jp_skip(tn_jp_t *p, tn_jp_event_t ev)
{
    if (ev != TN_JP_OBJECT && ev != TN_JP_ARRAY) return ev;
    size_t depth = p->depth - 1;
    for (;;) {
        ev = tn_jp_next(p);
        if (ev == TN_JP_ERROR || ev == TN_JP_END) return TN_JP_ERROR;
        if ((ev == TN_JP_OBJECT_END || ev == TN_JP_ARRAY_END) && p->depth == depth) return ev;
    }
}

/* ---- numbers ----------------------------------------------------------------------------- */

int64_t tn_jp_int_value(const char *s, size_t len)
{
    int neg = len && s[0] == '-';
    uint64_t v = 0;
    for (size_t i = (size_t)neg; i < len; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return neg ? (int64_t)(0 - v) : (int64_t)v;
}

double tn_jp_real_value(const char *s, size_t len)
{
    /* exact when the digits fit 2^53 and the power of ten is exact (Clinger's fast path): one
     * correctly rounded operation, as strtod gives */
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    int neg = s[0] == '-';
    i += (size_t)neg;
    uint64_t m = 0;
    int nd = 0, scale = 0, ok = 1;
    for (; i < len && is_digit(s[i]); i++) {
        if (m || s[i] != '0') nd++;
        m = m * 10 + (uint64_t)(s[i] - '0');
        if (nd > 15) ok = 0;
    }
    if (ok && i < len && s[i] == '.') {
        for (i++; i < len && is_digit(s[i]); i++) {
            if (m || s[i] != '0') nd++;
            m = m * 10 + (uint64_t)(s[i] - '0');
            scale--;
            if (nd > 15) {
                ok = 0;
                break;
            }
        }
    }
    if (ok && i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = s[i] == '-';
        if (s[i] == '+' || s[i] == '-') i++;
        int e = 0;
        for (; i < len; i++) {
            e = e * 10 + (s[i] - '0');
            if (e > 1000) {
                ok = 0;
                break;
            }
        }
        scale += eneg ? -e : e;
    }
    if (ok && i == len && scale >= -22 && scale <= 22) {
        double d = (double)m;
        d = scale < 0 ? d / pow10[-scale] : d * pow10[scale];
        return neg ? -d : d;
    }
    char small[64], *t = len < sizeof small ? small : malloc(len + 1);
    if (!t) return NAN; /* out of memory: not reached in practice */
    memcpy(t, s, len);
    t[len] = '\0';
    double d = strtod(t, NULL);
    if (t != small) free(t);
    return d;
}

/* ---- the index --------------------------------------------------------------------------- */

const tn_jp_schema_t tn_jp_keep_all = {NULL, NULL};

void tn_jp_doc_init(tn_jp_doc_t *d)
{
    memset(d, 0, sizeof *d);
    tn_buf_init(&d->strings);
    tn_jp_init(&d->jp, NULL, 0, 0);
}

void tn_jp_doc_deinit(tn_jp_doc_t *d)
{
    free(d->nodes);
    tn_buf_deinit(&d->strings);
    tn_jp_deinit(&d->jp);
    memset(d, 0, sizeof *d);
}

static tn_jp_node_t *push_node(tn_jp_doc_t *d, int type)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        tn_jp_node_t *x = realloc(d->nodes, cap * sizeof *x);
        if (!x) return NULL;
        d->nodes = x;
        d->cap = cap;
    }
    tn_jp_node_t *x = &d->nodes[d->n++];
    x->type = (uint8_t)type;
    x->in_buf = 0;
    x->len = 0;
    x->off = 0;
    x->next = (uint32_t)d->n;
    return x;
}

/* The members found lately, by schema and key (the same keys come back in every element of an
 * array): a hit is one compare instead of a walk over the schema's members. */
#define MEMO_SLOTS 64
typedef struct {
    const tn_jp_schema_t *s;
    const tn_jp_member_t *m;
    size_t len; /* strlen(m->key) */
} member_memo_t;

static const tn_jp_schema_t *member_schema(member_memo_t *memo, const tn_jp_schema_t *s,
                                           const char *k, size_t n)
{
    if (s == TN_JP_KEEP_ALL) return s;
    if (!s || !s->members) return NULL;
    size_t h = ((uintptr_t)s >> 4) ^ n * 31;
    if (n) h ^= (size_t)(unsigned char)k[0] * 7 ^ (unsigned char)k[n - 1] << 3;
    member_memo_t *e = &memo[h % MEMO_SLOTS];
    if (e->s == s && e->len == n && bytes_eq(e->m->key, k, n)) return e->m->schema;
    for (const tn_jp_member_t *m = s->members; m->key; m++) {
        const char *mk = m->key; /* compared in place: no strlen per key */
        if (mk[0] != (n ? k[0] : 0)) continue;
        size_t i = 0;
        while (i < n && mk[i] && mk[i] == k[i])
            i++;
        if (i == n && !mk[i]) {
            *e = (member_memo_t){s, m, n};
            return m->schema;
        }
    }
    return NULL;
}

static const tn_jp_schema_t *elem_schema(const tn_jp_schema_t *s)
{
    return s == TN_JP_KEEP_ALL ? s : s ? s->elem : NULL;
}

/* Whether a container with schema s keeps anything below it. */
static int keeps(const tn_jp_schema_t *s, tn_jp_event_t ev)
{
    if (s == TN_JP_KEEP_ALL) return 1;
    return s && (ev == TN_JP_OBJECT ? s->members != NULL : s->elem != NULL);
}

typedef struct {
    uint32_t node;
    const tn_jp_schema_t *schema;
} doc_frame_t;

/* Records the current string event's bytes in x (into the input when it had no escape). */
static int keep_string(tn_jp_doc_t *d, tn_jp_node_t *x)
{
    tn_jp_t *p = &d->jp;
    x->len = (uint32_t)p->len;
    if (p->str == d->buf + p->off + 1) {
        x->off = (uint32_t)(p->off + 1);
        return 0;
    }
    x->in_buf = 1;
    x->off = (uint32_t)d->strings.len;
    return tn_buf_append(&d->strings, p->str, p->len);
}

int tn_jp_doc_build(tn_jp_doc_t *d, const char *buf, size_t len, unsigned flags,
                    const tn_jp_schema_t *root)
{
    tn_jp_t *p = &d->jp;
    tn_jp_deinit(p);
    tn_jp_init(p, buf, len, flags);
    d->buf = p->buf;
    d->n = 0;
    tn_buf_reset(&d->strings);
    if (len >= UINT32_MAX) return TN_ETOOBIG;

    doc_frame_t small[64], *st = small;
    member_memo_t memo[MEMO_SLOTS];
    memset(memo, 0, sizeof memo);
    size_t depth = 0, stcap = 64;
    const tn_jp_schema_t *next = root; /* schema of the value the next event begins */
    int rc = 0;
    for (;;) {
        tn_jp_event_t ev = tn_jp_next(p);
        if (ev == TN_JP_ERROR) break;
        if (ev == TN_JP_END) break;
        if (ev == TN_JP_OBJECT_END || ev == TN_JP_ARRAY_END) {
            doc_frame_t *f = &st[--depth];
            d->nodes[f->node].next = (uint32_t)d->n;
            if (depth) next = elem_schema(st[depth - 1].schema); /* used only in an array */
            continue;
        }
        tn_jp_node_t *parent = depth ? &d->nodes[st[depth - 1].node] : NULL;
        if (ev == TN_JP_KEY) {
            const tn_jp_schema_t *ms = member_schema(memo, st[depth - 1].schema, p->str, p->len);
            if (!ms) { /* not wanted: checked and dropped */
                if (tn_jp_skip(p, tn_jp_next(p)) == TN_JP_ERROR) break;
                continue;
            }
            parent->len++;
            tn_jp_node_t *x = push_node(d, TN_JP_KEY);
            if (!x || keep_string(d, x)) {
                rc = TN_ENOMEM;
                break;
            }
            next = ms;
            continue;
        }
        /* a value */
        if (parent && parent->type == TN_JP_ARRAY) parent->len++;
        const tn_jp_schema_t *vs = next;
        tn_jp_node_t *x = push_node(d, ev);
        if (!x) {
            rc = TN_ENOMEM;
            break;
        }
        if (ev == TN_JP_STRING) {
            if (keep_string(d, x)) {
                rc = TN_ENOMEM;
                break;
            }
        } else if (ev == TN_JP_INT || ev == TN_JP_REAL) {
            x->off = (uint32_t)p->off;
            x->len = (uint32_t)p->len;
        } else if (ev == TN_JP_OBJECT || ev == TN_JP_ARRAY) {
            if (!keeps(vs, ev)) { /* kept as an empty container: its type is all that counts */
                if (tn_jp_skip(p, ev) == TN_JP_ERROR) break;
                continue;
            }
            if (depth == stcap) {
                doc_frame_t *ns = malloc(2 * stcap * sizeof *ns);
                if (!ns) {
                    rc = TN_ENOMEM;
                    break;
                }
                memcpy(ns, st, depth * sizeof *ns);
                if (st != small) free(st);
                st = ns;
                stcap *= 2;
            }
            st[depth].node = (uint32_t)(d->n - 1);
            st[depth].schema = vs;
            depth++;
            next = elem_schema(vs);
        }
    }
    if (!rc && p->err) rc = p->err == TN_ENOMEM ? TN_ENOMEM : TN_EINVAL;
    if (st != small) free(st);
    return rc;
}
