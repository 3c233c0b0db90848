/* args.h - the words of a chat command, and the values commands take.
 *
 *   run restart-service service=checkout "reason=bad deploy" --dry-run
 *   silence service=checkout,severity!=info 2h
 *
 * Words are separated by spaces and tabs (and newlines). "Double" and 'single' quotes group a
 * word; a backslash escapes the next byte outside single quotes. Chat clients turn quotes into
 * typographic ones, so U+201C/U+201D and U+2018/U+2019 count as double and single quotes. */
#ifndef TN_CHATOPS_ARGS_H
#define TN_CHATOPS_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct {
    char **v; /* n words, NUL-terminated, then v[n] == NULL */
    size_t n;
    char *mem; /* owns the words */
} tn_args_t;

/* Splits line (NUL-terminated, borrowed). max_words 0 means 64. 0 (*a filled; the caller owns
 * it: tn_args_free), TN_EPROTO (an unterminated quote, a trailing backslash), TN_ETOOBIG (more
 * words than max_words), TN_ENOMEM. On error *a is empty and err (may be NULL) says why. */
int tn_args_split(const char *line, size_t max_words, tn_args_t *a, tn_buf_t *err);
void tn_args_free(tn_args_t *a);

/* A duration: "90s", "15m", "2h", "1d", "1w", combined ("1h30m"), or a bare number of seconds.
 * Whole numbers only; the total must be from 1 s to 366 days. 0 (*ms set) or TN_EINVAL with a
 * message in err. */
int tn_args_duration(const char *s, int64_t *ms, tn_buf_t *err);

/* Label matchers, as Alertmanager writes them: comma-separated name OP value, OP one of = != =~
 * !~ (the last two POSIX extended regular expressions, anchored at both ends). A value may be
 * "double quoted" (then it may contain commas; \" and \\ escape). Names are [A-Za-z_][A-Za-z0-9_]*.
 * At most 16 matchers; an empty list is an error (a silence must match something). */
typedef enum { TN_LMATCH_EQ, TN_LMATCH_NE, TN_LMATCH_RE, TN_LMATCH_NRE } tn_lmatch_op_t;

typedef struct tn_matchers tn_matchers_t;

/* Parses s (borrowed). 0 (*out owned by the caller: tn_matchers_free), TN_EINVAL (err names
 * the problem: bad name, missing operator, bad regex, ...), TN_ENOMEM. */
int tn_matchers_parse(const char *s, tn_matchers_t **out, tn_buf_t *err);
void tn_matchers_free(tn_matchers_t *m);

/* Looks a label up by name: its value (borrowed for the call) or NULL when absent. */
typedef const char *(*tn_label_fn)(const char *name, void *arg);

/* True when every matcher holds. An absent label has the value "" (so name!="x" holds and
 * name="" holds, as in Alertmanager). */
int tn_matchers_match(const tn_matchers_t *m, tn_label_fn get, void *arg);

/* Appends the canonical text of the matchers (name OP "value", comma-separated) to out. */
int tn_matchers_str(const tn_matchers_t *m, tn_buf_t *out);

#endif
