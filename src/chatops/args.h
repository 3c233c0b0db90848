/* args.h - the words of a chat command, and the values commands take.
 *
 *   run restart-service service=checkout "reason=bad deploy" --dry-run
 *   silence service=checkout,severity!=info 2h
 *
 * Words are separated by spaces and tabs (and newlines: \n, \r). "Double" and 'single' quotes
 * group a word; a backslash escapes the next byte outside single quotes. Chat clients turn quotes
 * into typographic ones, so U+201C/U+201D and U+2018/U+2019 count as double and single quotes (any
 * quote of a kind closes a quote of that kind, so “a" is the word a). Quoted parts and plain text
 * join into one word (a"b c"d is "ab cd"); "" is an empty word. */
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
 * it: tn_args_free; v is never NULL, even for 0 words), TN_EPROTO (an unterminated quote, a
 * trailing backslash), TN_ETOOBIG (more words than max_words), TN_ENOMEM. On error *a is empty and
 * err (may be NULL) says why. */
int tn_args_split(const char *line, size_t max_words, tn_args_t *a, tn_buf_t *err);
void tn_args_free(tn_args_t *a);

/* A duration: "90s", "15m", "2h", "1d", "1w", combined ("1h30m": units largest first, each at
 * most once, as Prometheus writes them), or a bare number of seconds. Whole numbers only, no
 * sign, no spaces; the total must be from 1 s to 366 days. 0 (*ms set) or TN_EINVAL with a
 * message in err. */
int tn_args_duration(const char *s, int64_t *ms, tn_buf_t *err);

/* Label matchers, as Alertmanager writes them: comma-separated name OP value, OP one of = != =~
 * !~ (the last two POSIX extended regular expressions, anchored at both ends). A value may be
 * "double quoted" (then it may contain commas; \" and \\ escape; any other backslash is kept
 * as it is, so "a\.b" is the regex a\.b). An unquoted value runs to the next comma. Spaces and tabs
 * around names, operators, values and commas are ignored. Names are [A-Za-z_][A-Za-z0-9_]*.
 * At most 16 matchers; an empty list, an empty matcher ("a=1,,b=2", a trailing comma) is an
 * error (a silence must match something). Regexes may not use back-references (\1) or glibc's
 * \b \B \< \> \` \', repeat something that can match the empty string ("(x*)*", "x??": write
 * "x*", "x?"), have two alternatives that can ("(a?|b?)": write "(a|b)?"), leave a parenthesis
 * unmatched (a literal one is "\)" or "[)]"), nest groups more than 32 deep, or grow past 512
 * atoms once their repetitions are expanded ({m,n} and + copy): glibc's regex engine takes
 * seconds, minutes or gigabytes on such patterns (see args.c). None of them adds meaning,
 * and Alertmanager's RE2 has no back-references either. */
typedef enum { TN_LMATCH_EQ, TN_LMATCH_NE, TN_LMATCH_RE, TN_LMATCH_NRE } tn_lmatch_op_t;

typedef struct tn_matchers tn_matchers_t;

/* Parses s (borrowed). 0 (*out owned by the caller: tn_matchers_free), TN_EINVAL (err names
 * the problem: bad name, missing operator, bad regex, ...), TN_ENOMEM. */
int tn_matchers_parse(const char *s, tn_matchers_t **out, tn_buf_t *err);
void tn_matchers_free(tn_matchers_t *m);

/* Looks a label up by name: its value (borrowed for the call) or NULL when absent. */
typedef const char *(*tn_label_fn)(const char *name, void *arg);

/* True when every matcher holds. An absent label has the value "" (so name!="x" holds and
 * name="" holds, as in Alertmanager). get may be NULL (every label absent). A NULL m matches
 * nothing. If regexec itself fails (out of memory) that matcher does not hold, for =~ and !~. */
int tn_matchers_match(const tn_matchers_t *m, tn_label_fn get, void *arg);

/* Appends the canonical text of the matchers (name OP "value", comma-separated, no spaces; " and
 * \ in values escaped) to out: tn_matchers_parse reads it back to the same matchers. 0 or
 * TN_ENOMEM. */
int tn_matchers_str(const tn_matchers_t *m, tn_buf_t *out);

#endif
