/* drain.h - log template mining in the style of Drain (He, Zhu, Zheng and Lyu, ICWS 2017) and
 * anomalies in the rate of each template. Pure computation: no I/O.
 *
 * Mining. A message is split on whitespace into tokens. Masks first replace variable parts
 * inside tokens (where they are delimited by non-alphanumerics) by a placeholder: UUIDs
 * (<UUID>), IPv4 addresses with an optional :port (<IP>), hexadecimal values (0x..., or 8+ hex
 * digits mixing digits and letters: <HEX>), numbers (<NUM>), and optionally absolute paths
 * (<PATH>). The message then descends a fixed-depth prefix tree: first by its token count, then
 * by its first (depth - 2) tokens (a token containing a digit, or any token once a node has
 * max_children children, goes down the <*> branch). In the leaf it joins the template with the
 * highest similarity (share of positions with equal tokens; <*> counts as unequal, ties go to
 * the template with more <*>) if that is >= st, and the template's differing tokens become <*>;
 * otherwise it founds a new template. Template ids are assigned once, from 1, never reused, and
 * stay the same when a template is generalized. The parameters of a message are, in order, the
 * whole token at each <*> position and the masked values inside the other tokens.
 *
 * Bounded memory: at most max_clusters templates (the least recently used one is evicted to
 * make room, and the tree nodes it alone used are freed), at most max_children children per
 * tree node, at most max_tokens tokens per message (the rest are dropped and counted).
 *
 * Rates. Messages carry a timestamp; per interval_ms each template's count is scored against
 * that template's own history: an EWMA (weight alpha) of its count and of the count's variance.
 * Counts are compared on Anscombe's variance-stabilising scale for Poisson counts,
 * z = 2 (sqrt(count + 3/8) - sqrt(expected + 3/8)) / sqrt(dispersion), where dispersion =
 * max(1, variance / expected) allows over-dispersed (bursty) templates. |z| >= z_threshold
 * flags the interval (HIGH or LOW) once the template has warmup intervals of history; score =
 * erf(|z| / sqrt 2) in [0,1]. A flagged count enters the history clipped to the band, so one
 * burst does not mask the next. A template founded after the first warmup intervals of the
 * miner's life is flagged as never seen (tn_drain_match_t.novel). */
#ifndef TN_DETECT_DRAIN_H
#define TN_DETECT_DRAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct tn_drain tn_drain_t;

enum {
    TN_DRAIN_MASK_NUM = 1 << 0,
    TN_DRAIN_MASK_HEX = 1 << 1,
    TN_DRAIN_MASK_IP = 1 << 2,
    TN_DRAIN_MASK_UUID = 1 << 3,
    TN_DRAIN_MASK_PATH = 1 << 4,
    TN_DRAIN_MASK_DEFAULT =
        TN_DRAIN_MASK_NUM | TN_DRAIN_MASK_HEX | TN_DRAIN_MASK_IP | TN_DRAIN_MASK_UUID,
    TN_DRAIN_MASK_NONE = 1 << 30, /* explicit "no masks" (0 means the default) */
};

typedef enum {
    TN_DRAIN_RATE_NORMAL = 0,
    TN_DRAIN_RATE_WARMUP, /* template history shorter than warmup intervals */
    TN_DRAIN_RATE_HIGH,   /* count far above the template's usual rate */
    TN_DRAIN_RATE_LOW,    /* count far below it (e.g. a heartbeat that stopped) */
} tn_drain_rate_kind_t;

/* The verdict on one template for one closed interval. Strings are borrowed for the duration
 * of the callback. */
typedef struct {
    uint32_t id;
    const char *template_text;
    int64_t interval_start_ms;
    uint64_t count;      /* messages in the interval */
    double expected;     /* EWMA of past counts */
    double lower, upper; /* counts inside this band are normal */
    double z, score;     /* score in [0,1] */
    uint32_t history;    /* intervals of history behind the verdict */
    tn_drain_rate_kind_t kind;
} tn_drain_rate_t;

/* Called while an interval closes: it must not call back into the same miner. */
typedef void (*tn_drain_rate_cb)(void *ud, const tn_drain_rate_t *verdict);

typedef struct {
    uint32_t depth;        /* prefix tree depth as in Drain (root + length + depth-2 tokens), 0 =
                              4; at least 3 */
    double st;             /* similarity threshold in (0,1], 0 = 0.4 */
    uint32_t max_children; /* per tree node, 0 = 100; at least 2 */
    uint32_t max_clusters; /* templates kept, 0 = 10000 */
    uint32_t max_tokens;   /* tokens per message, 0 = 256 */
    uint32_t masks;        /* TN_DRAIN_MASK_* bits, 0 = TN_DRAIN_MASK_DEFAULT */

    int64_t interval_ms;      /* rate interval, 0 = 60000 */
    double alpha;             /* EWMA weight per interval, 0 = 0.1 */
    uint32_t warmup;          /* intervals, 0 = 10 */
    double z_threshold;       /* 0 = 4 */
    uint32_t max_gap;         /* at most this many empty intervals are closed one by one after a
                                 pause; longer pauses restart the interval clock, 0 = 1440 */
    tn_drain_rate_cb on_rate; /* called for every live template at each closed interval; NULL
                                 = none */
    void *ud;
} tn_drain_opts_t;

typedef struct {
    uint32_t id;               /* template id; 0 if the message could not be stored (no memory) */
    int is_new;                /* this message founded the template */
    int novel;                 /* is_new after the miner's warm-up: a never-seen template */
    int changed;               /* an existing template was generalized by this message */
    const char *template_text; /* borrowed, valid until the next call that modifies the miner */
    uint32_t nparams;
    const char *const *params; /* borrowed, valid until the next tn_drain_add; NULL (and
                                  nparams 0) if memory for them could not be had */
} tn_drain_match_t;

/* opts may be NULL. NULL on allocation failure or invalid options. The caller owns the result
 * (tn_drain_destroy). */
tn_drain_t *tn_drain_create(const tn_drain_opts_t *opts);
void tn_drain_destroy(tn_drain_t *d);

/* Mines one message (msg[0..len), borrowed; it need not be NUL-terminated) seen at ts_ms. First
 * closes the intervals ts_ms has moved past (calling on_rate). A timestamp in an interval
 * already closed is counted in the current one (tn_drain_late). Returns 0 or TN_ENOMEM (the
 * miner is unchanged apart from closed intervals; out->id = 0). */
int tn_drain_add(tn_drain_t *d, const char *msg, size_t len, int64_t ts_ms, tn_drain_match_t *out);

/* Closes every interval that ends at or before ts_ms (a timer calls this when no messages
 * come). */
void tn_drain_flush(tn_drain_t *d, int64_t ts_ms);

/* The current text of template id (borrowed, valid until the next call that modifies the
 * miner), or NULL if unknown or evicted. */
const char *tn_drain_template(tn_drain_t *d, uint32_t id);

size_t tn_drain_cluster_count(const tn_drain_t *d);
uint64_t tn_drain_evicted(const tn_drain_t *d);
uint64_t tn_drain_truncated(const tn_drain_t *d); /* messages with more than max_tokens tokens */
uint64_t tn_drain_late(const tn_drain_t *d);
size_t tn_drain_node_count(const tn_drain_t *d); /* prefix tree nodes, root included */

#endif
