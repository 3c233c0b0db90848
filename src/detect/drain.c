/* drain.c - Drain log template mining (masks, fixed-depth prefix tree, LRU-bounded clusters)
 * and per-template rate anomalies. */
#include "detect/drain.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char WILD[] = "<*>"; /* template tokens equal to this pointer are not owned */

typedef struct node node_t;
typedef struct cluster cluster_t;

struct node {
    node_t *parent;
    char *key; /* owned; NULL for the root */
    node_t **kids;
    uint32_t nkids, capkids;
    cluster_t **cl; /* leaf: clusters (borrowed; owned by the miner's array) */
    uint32_t ncl, capcl;
};

struct cluster {
    uint32_t id, ntok;
    const char **tok; /* owned strings, except those equal to WILD */
    char *text;       /* owned, the tokens joined by spaces */
    node_t *leaf;
    uint64_t last_used;
    /* rate state */
    uint64_t cur;
    double mean, var;
    uint32_t history;
};

typedef struct {
    uint32_t raw_off, raw_len; /* the token in the message */
    uint32_t m_off;            /* masked text in mbuf */
    uint32_t span0, nspan;     /* masked values in spans[] */
} token_t;

typedef struct {
    uint32_t off, len; /* in the message */
} span_t;

struct tn_drain {
    tn_drain_opts_t o;
    node_t root;
    size_t nodes;
    cluster_t **cl; /* sorted by id */
    size_t ncl, capcl;
    uint32_t next_id;
    uint64_t clock, evicted, truncated, late;

    /* intervals */
    int started;
    int64_t cur_start;
    uint64_t closed;

    /* per-message scratch */
    token_t *toks;
    uint32_t captoks;
    span_t *spans;
    uint32_t capspans;
    char *mbuf;
    size_t capm;
    char *pbuf; /* parameters, NUL-separated */
    size_t capp;
    const char **pv;
    uint32_t cappv;
    const char **newtok; /* max_tokens slots */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}
static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return TN_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int grow32(void **p, uint32_t *cap, size_t need, size_t elem)
{
    size_t c = *cap;
    int rc = grow(p, &c, need, elem);
    if (!rc) *cap = (uint32_t)c;
    return rc;
}

/* ---- masks ------------------------------------------------------------------------------ */

/* Each matcher returns the length matched at s[0..n) or 0; the caller checks boundaries. */
static size_t m_uuid(const char *s, size_t n)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    size_t i = 0;
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, i++)
            if (i >= n || !is_hex((unsigned char)s[i])) return 0;
        if (g < 4) {
            if (i >= n || s[i] != '-') return 0;
            i++;
        }
    }
    return i;
}

static size_t m_ip(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t st = i;
        unsigned v = 0;
        while (i < n && is_digit((unsigned char)s[i]) && i - st < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == st || v > 255 || (i < n && is_digit((unsigned char)s[i]))) return 0;
        if (part < 3) {
            if (i >= n || s[i] != '.') return 0;
            i++;
        }
    }
    if (i + 1 < n && s[i] == ':' && is_digit((unsigned char)s[i + 1])) { /* :port */
        size_t j = i + 1;
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        i = j;
    }
    return i;
}

static size_t m_hex(const char *s, size_t n)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && is_hex((unsigned char)s[2])) {
        size_t i = 2;
        while (i < n && is_hex((unsigned char)s[i]))
            i++;
        return i;
    }
    size_t i = 0;
    int dig = 0, let = 0;
    while (i < n && is_hex((unsigned char)s[i])) {
        if (is_digit((unsigned char)s[i]))
            dig = 1;
        else
            let = 1;
        i++;
    }
    return i >= 8 && dig && let ? i : 0;
}

static size_t m_num(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    size_t st = i;
    while (i < n && is_digit((unsigned char)s[i]))
        i++;
    if (i == st) return 0;
    if (i + 1 < n && s[i] == '.' && is_digit((unsigned char)s[i + 1])) {
        i++;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
    }
    return i;
}

static int path_char(unsigned char c)
{
    return is_alnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '~' || c == '+';
}

static size_t m_path(const char *s, size_t n)
{
    if (n < 2 || s[0] != '/' || !path_char((unsigned char)s[1])) return 0;
    size_t i = 1;
    while (i < n && path_char((unsigned char)s[i]))
        i++;
    return i;
}

/* Writes the masked form of token t (message msg) to d->mbuf at *mlen and records its spans.
 * Capacity was ensured by the caller (6 bytes per input byte + 1), so scratch memory follows
 * the tokens kept, not the message length. */
static int mask_token(tn_drain_t *d, const char *msg, token_t *t, size_t *mlen)
{
    const char *s = msg + t->raw_off;
    size_t n = t->raw_len, i = 0;
    uint32_t masks = d->o.masks;
    char *out = d->mbuf + *mlen;
    size_t o = 0;
    t->m_off = (uint32_t)*mlen;
    while (i < n) {
        int boundary = i == 0 || !is_alnum((unsigned char)s[i - 1]);
        size_t len = 0;
        const char *ph = NULL;
        if (boundary) {
            if ((masks & TN_DRAIN_MASK_PATH) &&
                (i == 0 || s[i - 1] == '=' || s[i - 1] == ':' || s[i - 1] == '"' ||
                 s[i - 1] == '\'' || s[i - 1] == '(') &&
                (len = m_path(s + i, n - i)))
                ph = "<PATH>";
            if (!ph && (masks & TN_DRAIN_MASK_UUID) && (len = m_uuid(s + i, n - i)) &&
                (i + len == n || !is_alnum((unsigned char)s[i + len])))
                ph = "<UUID>";
            if (!ph && (masks & TN_DRAIN_MASK_IP) && (len = m_ip(s + i, n - i)) &&
                (i + len == n || !is_alnum((unsigned char)s[i + len])))
                ph = "<IP>";
            if (!ph && (masks & TN_DRAIN_MASK_HEX) && (len = m_hex(s + i, n - i)) &&
                (i + len == n || !is_alnum((unsigned char)s[i + len])))
                ph = "<HEX>";
            if (!ph && (masks & TN_DRAIN_MASK_NUM) && (len = m_num(s + i, n - i)) &&
                (i + len == n || !is_alnum((unsigned char)s[i + len])))
                ph = "<NUM>";
        }
        if (ph) {
            if (grow32((void **)&d->spans, &d->capspans, t->span0 + t->nspan + 1, sizeof(span_t)))
                return TN_ENOMEM;
            d->spans[t->span0 + t->nspan++] = (span_t){t->raw_off + (uint32_t)i, (uint32_t)len};
            size_t pl = strlen(ph);
            memcpy(out + o, ph, pl);
            o += pl;
            i += len;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o++] = '\0';
    *mlen += o;
    return 0;
}

/* Splits and masks msg into d->toks; returns the token count or TN_ENOMEM. */
static int tokenize(tn_drain_t *d, const char *msg, size_t len, uint32_t *ntok)
{
    if (len > UINT32_MAX / 8) len = UINT32_MAX / 8;
    uint32_t n = 0, nspan = 0;
    size_t mlen = 0, i = 0;
    while (i < len) {
        while (i < len && is_space((unsigned char)msg[i]))
            i++;
        if (i >= len) break;
        size_t st = i;
        while (i < len && !is_space((unsigned char)msg[i]))
            i++;
        if (n >= d->o.max_tokens) {
            d->truncated++;
            break;
        }
        /* a mask is at most 6 bytes and replaces at least 1 */
        if (grow32((void **)&d->toks, &d->captoks, n + 1, sizeof(token_t)) ||
            grow((void **)&d->mbuf, &d->capm, mlen + 6 * (i - st) + 1, 1))
            return TN_ENOMEM;
        token_t *t = &d->toks[n];
        *t = (token_t){(uint32_t)st, (uint32_t)(i - st), 0, nspan, 0};
        int rc = mask_token(d, msg, t, &mlen);
        if (rc) return rc;
        nspan += t->nspan;
        n++;
    }
    *ntok = n;
    return 0;
}

static const char *mtok(const tn_drain_t *d, uint32_t i)
{
    return d->mbuf + d->toks[i].m_off;
}

static int has_digit(const char *s)
{
    for (; *s; s++)
        if (is_digit((unsigned char)*s)) return 1;
    return 0;
}

/* ---- tree ------------------------------------------------------------------------------- */

static node_t *child(const node_t *n, const char *key)
{
    for (uint32_t i = 0; i < n->nkids; i++)
        if (strcmp(n->kids[i]->key, key) == 0) return n->kids[i];
    return NULL;
}

static node_t *add_child(tn_drain_t *d, node_t *n, const char *key)
{
    if (grow32((void **)&n->kids, &n->capkids, n->nkids + 1, sizeof(node_t *))) return NULL;
    node_t *c = calloc(1, sizeof(*c));
    char *k = strdup(key);
    if (!c || !k) {
        free(c);
        free(k);
        return NULL;
    }
    c->parent = n;
    c->key = k;
    n->kids[n->nkids++] = c;
    d->nodes++;
    return c;
}

/* Frees n and its empty ancestors (never the root) while they have no children and no
 * clusters. */
static void prune(tn_drain_t *d, node_t *n)
{
    while (n && n != &d->root && n->parent && n->nkids == 0 && n->ncl == 0) {
        node_t *p = n->parent;
        for (uint32_t i = 0; i < p->nkids; i++) {
            if (p->kids[i] == n) {
                p->kids[i] = p->kids[--p->nkids];
                break;
            }
        }
        free(n->key);
        free(n->kids);
        free(n->cl);
        free(n);
        d->nodes--;
        n = p;
    }
}

static void free_subtree(node_t *n)
{
    for (uint32_t i = 0; i < n->nkids; i++) {
        free_subtree(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->key);
    free(n->kids);
    free(n->cl);
}

static uint32_t prefix_layers(const tn_drain_t *d, uint32_t ntok)
{
    uint32_t k = d->o.depth - 2;
    return ntok < k ? ntok : k;
}

/* The leaf for the masked tokens, or NULL when the path does not exist. */
static node_t *search(tn_drain_t *d, uint32_t ntok)
{
    char len_key[16];
    snprintf(len_key, sizeof len_key, "%u", ntok);
    node_t *n = child(&d->root, len_key);
    for (uint32_t k = 0; n && k < prefix_layers(d, ntok); k++) {
        node_t *c = child(n, mtok(d, k));
        n = c ? c : child(n, WILD);
    }
    return n;
}

/* Creates (or follows) the path for the tokens, Drain's way. NULL on allocation failure (new
 * nodes are pruned again). */
static node_t *insert_path(tn_drain_t *d, uint32_t ntok)
{
    char len_key[16];
    snprintf(len_key, sizeof len_key, "%u", ntok);
    node_t *n = child(&d->root, len_key);
    if (!n && !(n = add_child(d, &d->root, len_key))) return NULL;
    const uint32_t maxc = d->o.max_children;
    for (uint32_t k = 0; k < prefix_layers(d, ntok); k++) {
        const char *t = mtok(d, k);
        node_t *c = child(n, t), *w = child(n, WILD);
        if (!c) {
            if (has_digit(t))
                c = w ? w : add_child(d, n, WILD);
            else if (w)
                c = n->nkids < maxc ? add_child(d, n, t) : w;
            else if (n->nkids + 1 < maxc)
                c = add_child(d, n, t);
            else
                c = add_child(d, n, WILD);
        }
        if (!c) {
            prune(d, n);
            return NULL;
        }
        n = c;
    }
    return n;
}

/* ---- clusters --------------------------------------------------------------------------- */

static void free_cluster(cluster_t *c)
{
    for (uint32_t i = 0; i < c->ntok; i++)
        if (c->tok[i] != WILD) free((char *)c->tok[i]);
    free(c->tok);
    free(c->text);
    free(c);
}

static size_t find_idx(const tn_drain_t *d, uint32_t id) /* ncl if absent */
{
    size_t lo = 0, hi = d->ncl;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->cl[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->ncl && d->cl[lo]->id == id ? lo : d->ncl;
}

static void evict_lru(tn_drain_t *d)
{
    size_t best = 0;
    for (size_t i = 1; i < d->ncl; i++)
        if (d->cl[i]->last_used < d->cl[best]->last_used) best = i;
    cluster_t *c = d->cl[best];
    node_t *leaf = c->leaf;
    for (uint32_t i = 0; i < leaf->ncl; i++) {
        if (leaf->cl[i] == c) {
            memmove(leaf->cl + i, leaf->cl + i + 1, (leaf->ncl - i - 1) * sizeof(cluster_t *));
            leaf->ncl--;
            break;
        }
    }
    prune(d, leaf);
    memmove(d->cl + best, d->cl + best + 1, (d->ncl - best - 1) * sizeof(cluster_t *));
    d->ncl--;
    d->evicted++;
    free_cluster(c);
}

static size_t text_len(const char *const *tok, uint32_t n)
{
    size_t len = 1;
    for (uint32_t i = 0; i < n; i++)
        len += strlen(tok[i]) + 1;
    return len;
}

static void join(char *out, const char *const *tok, uint32_t n)
{
    size_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t l = strlen(tok[i]);
        if (i) out[o++] = ' ';
        memcpy(out + o, tok[i], l);
        o += l;
    }
    out[o] = '\0';
}

/* A new cluster for the current tokens, or NULL (nothing changed). */
static cluster_t *new_cluster(tn_drain_t *d, uint32_t ntok)
{
    cluster_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->tok = calloc(ntok ? ntok : 1, sizeof(char *));
    if (!c->tok) {
        free(c);
        return NULL;
    }
    for (uint32_t i = 0; i < ntok; i++) {
        const char *t = mtok(d, i);
        c->tok[i] = strcmp(t, WILD) == 0 ? WILD : strdup(t);
        if (!c->tok[i]) {
            c->ntok = i;
            free_cluster(c);
            return NULL;
        }
    }
    c->ntok = ntok;
    c->text = malloc(text_len(c->tok, ntok));
    if (!c->text) {
        free_cluster(c);
        return NULL;
    }
    join(c->text, c->tok, ntok);
    return c;
}

/* ---- rates ------------------------------------------------------------------------------ */

static double anscombe(double x)
{
    return 2.0 * sqrt(x + 0.375);
}

static void close_interval(tn_drain_t *d)
{
    const double zt = d->o.z_threshold;
    for (size_t i = 0; i < d->ncl; i++) {
        cluster_t *c = d->cl[i];
        tn_drain_rate_t v = {.id = c->id,
                             .template_text = c->text,
                             .interval_start_ms = d->cur_start,
                             .count = c->cur,
                             .history = c->history};
        double x = (double)c->cur;
        if (c->history == 0) {
            v.expected = NAN;
            v.lower = 0;
            v.upper = INFINITY;
            v.kind = TN_DRAIN_RATE_WARMUP;
        } else {
            double lam = c->mean;
            double disp = c->var / fmax(lam, 1e-3);
            disp = disp < 1 ? 1 : disp > 1e6 ? 1e6 : disp;
            double sd = sqrt(disp);
            v.expected = lam;
            v.z = (anscombe(x) - anscombe(lam)) / sd;
            v.score = erf(fabs(v.z) / M_SQRT2);
            double base = sqrt(lam + 0.375), k = zt * sd / 2;
            double lo = base - k, hi = base + k;
            v.lower = lo > sqrt(0.375) ? lo * lo - 0.375 : 0;
            v.upper = hi * hi - 0.375;
            if (c->history < d->o.warmup)
                v.kind = TN_DRAIN_RATE_WARMUP;
            else if (v.z >= zt)
                v.kind = TN_DRAIN_RATE_HIGH;
            else if (v.z <= -zt)
                v.kind = TN_DRAIN_RATE_LOW;
            else
                v.kind = TN_DRAIN_RATE_NORMAL;
            if (v.kind == TN_DRAIN_RATE_HIGH || v.kind == TN_DRAIN_RATE_LOW)
                x = fmin(fmax(x, v.lower), v.upper); /* a burst enters the history clipped */
        }
        if (d->o.on_rate) d->o.on_rate(d->o.ud, &v);
        /* running mean for the first 1/alpha intervals, EWMA after */
        double w = fmax(d->o.alpha, 1.0 / (c->history + 1));
        double diff = x - c->mean, incr = w * diff;
        c->mean = c->history ? c->mean + incr : x;
        c->var = c->history ? (1 - w) * (c->var + diff * incr) : 0;
        c->history++;
        c->cur = 0;
    }
    d->closed++;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void tn_drain_flush(tn_drain_t *d, int64_t ts_ms)
{
    const int64_t iv = d->o.interval_ms;
    if (!d->started) {
        d->started = 1;
        d->cur_start = floor_div(ts_ms, iv) * iv;
        return;
    }
    uint32_t n = 0;
    while (ts_ms >= d->cur_start + iv) {
        if (n++ >= d->o.max_gap) { /* a long pause: restart the clock at ts */
            d->cur_start = floor_div(ts_ms, iv) * iv;
            break;
        }
        close_interval(d);
        d->cur_start += iv;
    }
}

/* ---- public ----------------------------------------------------------------------------- */

tn_drain_t *tn_drain_create(const tn_drain_opts_t *opts)
{
    tn_drain_opts_t o = {0};
    if (opts) o = *opts;
    if (!o.depth) o.depth = 4;
    if (o.st == 0) o.st = 0.4;
    if (!o.max_children) o.max_children = 100;
    if (!o.max_clusters) o.max_clusters = 10000;
    if (!o.max_tokens) o.max_tokens = 256;
    if (!o.masks) o.masks = TN_DRAIN_MASK_DEFAULT;
    if (o.masks & TN_DRAIN_MASK_NONE) o.masks = 0;
    if (!o.interval_ms) o.interval_ms = 60000;
    if (o.alpha == 0) o.alpha = 0.1;
    if (!o.warmup) o.warmup = 10;
    if (o.z_threshold == 0) o.z_threshold = 4;
    if (!o.max_gap) o.max_gap = 1440;
    if (o.depth < 3 || o.depth > 64 || !(o.st > 0 && o.st <= 1) || o.max_children < 2 ||
        o.max_tokens > (1u << 20) || o.interval_ms < 1 || !(o.alpha > 0 && o.alpha <= 1) ||
        !(o.z_threshold > 0))
        return NULL;
    tn_drain_t *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->o = o;
    d->nodes = 1;
    d->next_id = 1;
    d->newtok = malloc(sizeof(char *) * o.max_tokens);
    if (!d->newtok) {
        free(d);
        return NULL;
    }
    return d;
}

void tn_drain_destroy(tn_drain_t *d)
{
    if (!d) return;
    free_subtree(&d->root);
    for (size_t i = 0; i < d->ncl; i++)
        free_cluster(d->cl[i]);
    free(d->cl);
    free(d->toks);
    free(d->spans);
    free(d->mbuf);
    free(d->pbuf);
    free(d->pv);
    free(d->newtok);
    free(d);
}

/* Parameters of the message for cluster c into d->pv / d->pbuf. */
static int extract_params(tn_drain_t *d, const char *msg, const cluster_t *c, uint32_t ntok,
                          uint32_t *np)
{
    size_t need = 1;
    uint32_t count = 0;
    for (uint32_t i = 0; i < ntok; i++) {
        const token_t *t = &d->toks[i];
        if (c->tok[i] == WILD) {
            need += t->raw_len + 1;
            count++;
        } else {
            for (uint32_t s = 0; s < t->nspan; s++)
                need += d->spans[t->span0 + s].len + 1;
            count += t->nspan;
        }
    }
    if (grow((void **)&d->pbuf, &d->capp, need, 1) ||
        grow32((void **)&d->pv, &d->cappv, count + 1, sizeof(char *)))
        return TN_ENOMEM;
    size_t o = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < ntok; i++) {
        const token_t *t = &d->toks[i];
        uint32_t ns = c->tok[i] == WILD ? 1 : t->nspan;
        for (uint32_t s = 0; s < ns; s++) {
            uint32_t off = c->tok[i] == WILD ? t->raw_off : d->spans[t->span0 + s].off;
            uint32_t len = c->tok[i] == WILD ? t->raw_len : d->spans[t->span0 + s].len;
            memcpy(d->pbuf + o, msg + off, len);
            d->pv[k++] = d->pbuf + o;
            o += len;
            d->pbuf[o++] = '\0';
        }
    }
    *np = k;
    return 0;
}

int tn_drain_add(tn_drain_t *d, const char *msg, size_t len, int64_t ts_ms, tn_drain_match_t *out)
{
    *out = (tn_drain_match_t){0};
    tn_drain_flush(d, ts_ms);
    if (d->started && ts_ms < d->cur_start) d->late++;
    uint32_t ntok;
    if (tokenize(d, msg, len, &ntok)) return TN_ENOMEM;

    /* best template in the leaf */
    node_t *leaf = search(d, ntok);
    cluster_t *best = NULL;
    double best_sim = -1;
    uint32_t best_wild = 0;
    for (uint32_t i = 0; leaf && i < leaf->ncl; i++) {
        cluster_t *c = leaf->cl[i];
        uint32_t eq = 0, wild = 0;
        for (uint32_t k = 0; k < ntok; k++) {
            if (c->tok[k] == WILD)
                wild++;
            else if (strcmp(c->tok[k], mtok(d, k)) == 0)
                eq++;
        }
        double sim = ntok ? (double)eq / ntok : 1.0;
        if (sim > best_sim || (sim == best_sim && wild > best_wild)) {
            best = c;
            best_sim = sim;
            best_wild = wild;
        }
    }

    cluster_t *c;
    if (best && best_sim >= d->o.st) {
        c = best;
        /* generalize: differing tokens become <*> (text reallocated first, so a failure
         * changes nothing) */
        int changed = 0;
        for (uint32_t k = 0; k < ntok; k++) {
            d->newtok[k] = c->tok[k];
            if (c->tok[k] != WILD && strcmp(c->tok[k], mtok(d, k)) != 0) {
                d->newtok[k] = WILD;
                changed = 1;
            }
        }
        if (changed) {
            char *text = realloc(c->text, text_len(d->newtok, ntok));
            if (!text) return TN_ENOMEM;
            c->text = text;
            for (uint32_t k = 0; k < ntok; k++) {
                if (d->newtok[k] == WILD && c->tok[k] != WILD) {
                    free((char *)c->tok[k]);
                    c->tok[k] = WILD;
                }
            }
            join(c->text, c->tok, ntok);
            out->changed = 1;
        }
    } else {
        if (d->ncl >= d->o.max_clusters) evict_lru(d);
        c = new_cluster(d, ntok);
        if (!c) return TN_ENOMEM;
        if (grow((void **)&d->cl, &d->capcl, d->ncl + 1, sizeof(cluster_t *))) {
            free_cluster(c);
            return TN_ENOMEM;
        }
        node_t *l = insert_path(d, ntok);
        if (!l || grow32((void **)&l->cl, &l->capcl, l->ncl + 1, sizeof(cluster_t *))) {
            if (l) prune(d, l);
            free_cluster(c);
            return TN_ENOMEM;
        }
        c->id = d->next_id++;
        c->leaf = l;
        l->cl[l->ncl++] = c;
        d->cl[d->ncl++] = c;
        out->is_new = 1;
        out->novel = d->closed >= d->o.warmup;
    }
    c->last_used = ++d->clock;
    c->cur++;
    out->id = c->id;
    out->template_text = c->text;
    uint32_t np = 0;
    if (extract_params(d, msg, c, ntok, &np)) {
        out->nparams = 0;
        out->params = NULL;
        return 0; /* the message was mined; only its parameters are missing */
    }
    out->nparams = np;
    out->params = d->pv;
    return 0;
}

const char *tn_drain_template(tn_drain_t *d, uint32_t id)
{
    size_t i = find_idx(d, id);
    return i < d->ncl ? d->cl[i]->text : NULL;
}

size_t tn_drain_cluster_count(const tn_drain_t *d)
{
    return d->ncl;
}
uint64_t tn_drain_evicted(const tn_drain_t *d)
{
    return d->evicted;
}
uint64_t tn_drain_truncated(const tn_drain_t *d)
{
    return d->truncated;
}
uint64_t tn_drain_late(const tn_drain_t *d)
{
    return d->late;
}
size_t tn_drain_node_count(const tn_drain_t *d)
{
    return d->nodes;
}
