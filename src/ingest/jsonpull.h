/* jsonpull.h - a strict RFC 8259 pull tokenizer over one byte range, and a flat index of a
 * document built with it (no allocation per value, strings not copied unless they had escapes).
 *
 * The tokenizer: tn_jp_next() returns one event at a time (object / array begin and end, a
 * member's key, a scalar). It checks everything RFC 8259 asks: UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF), escapes (\uXXXX surrogate pairs joined, lone halves
 * refused), the number grammar (no leading zeros, '+', '.5', '5.'), nothing but whitespace after
 * the document. Like jansson's json_loadb(JSON_REJECT_DUPLICATES) and on purpose the same in its
 * limits and messages, so that readers moved from jansson keep their behaviour: the top level is
 * an object or an array; integers (no '.', no exponent) must fit int64 and reals must not
 * overflow a double; a string (value or key) may not hold \u0000; a value is nested at most
 * TN_JP_MAX_DEPTH deep (the top level is 1); with TN_JP_REJECT_DUPLICATES a key may appear once
 * per object. One difference on purpose: jansson skips a NUL byte read right after a number or a
 * literal ("[1\0]" is [1] there); here a NUL byte outside a string is an invalid token, inside
 * one a control character. An error stops the tokenizer for good: tn_jp_error() says what
 * (jansson's wording, "'}' expected near '1'"), tn_jp_error_offset() at which byte,
 * tn_jp_error_line() / tn_jp_error_column() the same as jansson counts them (lines from 1; the
 * column counts characters, not bytes).
 *
 * The index (tn_jp_doc_t): one pass of the tokenizer that keeps the values a reader asks for
 * (a schema: which members of which objects, which array elements) as an array of 16-byte nodes
 * in document order. Members the schema does not name are checked and skipped, never stored;
 * a value whose kind does not match its schema (an array where an object was expected) is kept
 * as an empty container, so its type can still be told. Readers then look fields up in any order.
 * Inputs of 4 GiB or more are refused (TN_ETOOBIG). */
#ifndef TN_INGEST_JSONPULL_H
#define TN_INGEST_JSONPULL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define TN_JP_MAX_DEPTH 2048
#define TN_JP_REJECT_DUPLICATES 1u

typedef enum {
    TN_JP_ERROR = -1,
    TN_JP_END = 0, /* the document is complete, nothing but whitespace after it */
    TN_JP_OBJECT,
    TN_JP_OBJECT_END,
    TN_JP_ARRAY,
    TN_JP_ARRAY_END,
    TN_JP_KEY, /* a member's name; its value is the next event */
    TN_JP_STRING,
    TN_JP_INT,  /* an integer literal that fits int64 (str/len: its text) */
    TN_JP_REAL, /* a number with a fraction or an exponent (str/len: its text) */
    TN_JP_TRUE,
    TN_JP_FALSE,
    TN_JP_NULL,
} tn_jp_event_t;

typedef struct {
    uint32_t hash, len;
    size_t off;
    int in_buf;
} tn__jp_key_t;

typedef struct {
    uint32_t *tab; /* indexes (+1) into the key stack, when the object has many keys */
    size_t key_base, keybuf_base, nkeys, tabcap;
    char kind; /* '{' or '[' */
} tn__jp_frame_t;

typedef struct {
    /* the current event: KEY and STRING give the decoded bytes (into the input when the string
     * had no escape, else into memory of the tokenizer valid until the next call); INT and REAL
     * their text. off is where the token starts in the input. */
    const char *str;
    size_t len;
    size_t off;
    size_t depth; /* containers open after this event */

    /* private */
    const char *buf;
    size_t n, pos;
    unsigned flags;
    int state, tok, tok_nul, tok_esc;
    size_t tok_start, tok_end;
    tn__jp_frame_t *frames;
    size_t fcap;
    tn__jp_key_t *keys;
    size_t nkeys, kcap;
    tn_buf_t keybuf;  /* escaped keys of the open objects, decoded */
    tn_buf_t scratch; /* the current string, decoded */
    int err;          /* 0, TN_EINVAL (syntax) or TN_ENOMEM */
    size_t err_pos;
    char errmsg[160];
} tn_jp_t;

/* Starts on buf[0..len) (borrowed: it must outlive the tokenizer). */
void tn_jp_init(tn_jp_t *p, const char *buf, size_t len, unsigned flags);
void tn_jp_deinit(tn_jp_t *p);
/* The next event. After TN_JP_END or TN_JP_ERROR the same is returned again. */
tn_jp_event_t tn_jp_next(tn_jp_t *p);
/* Called right after the event that began a value: skips the rest of it (an object or array up
 * to its end, all checked), returning the closing event or TN_JP_ERROR; for a scalar, ev. */
tn_jp_event_t tn_jp_skip(tn_jp_t *p, tn_jp_event_t ev);

/* After TN_JP_ERROR: 0 when the input is not valid JSON, TN_ENOMEM on allocation failure. */
int tn_jp_error_code(const tn_jp_t *p);
const char *tn_jp_error(const tn_jp_t *p);
size_t tn_jp_error_offset(const tn_jp_t *p);
int tn_jp_error_line(const tn_jp_t *p);
int tn_jp_error_column(const tn_jp_t *p);

/* Number text of a TN_JP_INT / TN_JP_REAL token (as the tokenizer accepted it) to a value:
 * strtoll / strtod would give the same. */
int64_t tn_jp_int_value(const char *s, size_t len);
double tn_jp_real_value(const char *s, size_t len);

/* ---- the index ---------------------------------------------------------------------------- */

/* What to keep of a value. An object keeps the members named in members (each value with its
 * schema; NULL-terminated list, NULL: none), an array its elements when elem is set, with that
 * schema. A NULL schema keeps nothing below the value; TN_JP_KEEP_ALL everything. */
typedef struct tn_jp_member tn_jp_member_t;
typedef struct tn_jp_schema {
    const tn_jp_member_t *members;
    const struct tn_jp_schema *elem;
} tn_jp_schema_t;
struct tn_jp_member {
    const char *key;
    const tn_jp_schema_t *schema;
};
extern const tn_jp_schema_t tn_jp_keep_all;
#define TN_JP_KEEP_ALL (&tn_jp_keep_all)

typedef struct {
    uint8_t type;   /* TN_JP_OBJECT, _ARRAY, _KEY, _STRING, _INT, _REAL, _TRUE, _FALSE, _NULL */
    uint8_t in_buf; /* the string's bytes are in doc->strings (it had escapes) */
    uint32_t len;   /* strings and numbers: bytes; objects: members kept; arrays: elements */
    uint32_t off;   /* strings and numbers: where the bytes start */
    uint32_t next;  /* index of the node after this value and everything in it */
} tn_jp_node_t;
/* An object's members are KEY nodes, each followed by its value; an array's elements follow it. */

typedef struct {
    const char *buf;
    tn_jp_node_t *nodes;
    size_t n, cap;
    tn_buf_t strings; /* decoded strings that had escapes */
    tn_jp_t jp;       /* the tokenizer, for the error after a failed build */
} tn_jp_doc_t;

void tn_jp_doc_init(tn_jp_doc_t *d);
void tn_jp_doc_deinit(tn_jp_doc_t *d);
/* Indexes buf[0..len) (borrowed, must outlive the doc's use) with the schema of the top value.
 * 0; TN_EINVAL when it is not valid JSON (tn_jp_error(&d->jp) and friends say why);
 * TN_ENOMEM; TN_ETOOBIG for inputs of 4 GiB or more. A doc may be built again (reused). */
int tn_jp_doc_build(tn_jp_doc_t *d, const char *buf, size_t len, unsigned flags,
                    const tn_jp_schema_t *root);

static inline const char *tn_jp_doc_str(const tn_jp_doc_t *d, const tn_jp_node_t *x)
{
    return x->in_buf ? d->strings.data + x->off : d->buf + x->off;
}

#endif
