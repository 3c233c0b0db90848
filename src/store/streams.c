/* streams.c - key layout, write groups, partitioned and batched sample entries. */
#include "store/streams.h"
#include "core/error.h"
#include "core/num.h"
#include "core/hmap.h"
#include "core/u64map.h"
#include "core/log.h"
#include "core/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tn_streams {
    tn_redis_t *r;
    tn_streams_opts_t o;
    char *prefix;
    char maxlen[24];
    char *keys[TN_STREAM__COUNT];
    char **pkeys[TN_PSTREAM__COUNT]; /* [kind][partition] */
    tn_metric_t *m_entries, *m_samples, *m_failed, *m_trims;
    unsigned char *dirty[TN_PSTREAM__COUNT]; /* [kind][partition]: written since the last trim */
    tn_u64map_t prefixes; /* sid -> "sid TAB name TAB labels TAB" of batched entries (cache) */
};

#define PREFIX_CACHE_MAX 500000

struct tn_wgroup {
    tn_streams_t *s;       /* used while sending only: the group may outlive the streams */
    tn_metric_t *m_failed; /* metrics live until tn_metrics_shutdown */
    unsigned pending;
    int err;
    int closed;
    tn_streams_cb cb;
    void *arg;
};

static const char *g_pfmt[TN_PSTREAM__COUNT] = {"%s:samples:{%u}", "%s:logs:{%u}", "%s:spans:{%u}",
                                                "%s:rollup:5m:{%u}", "%s:rollup:1h:{%u}"};

static char *fmt_key(const char *fmt, const char *prefix, unsigned p)
{
    size_t n = strlen(fmt) + strlen(prefix) + 16;
    char *k = malloc(n);
    if (k) snprintf(k, n, fmt, prefix, p);
    return k;
}

tn_streams_t *tn_streams_create(tn_redis_t *r, const tn_streams_opts_t *opts)
{
    tn_streams_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->r = r;
    s->o = *opts;
    if (!s->o.partitions) s->o.partitions = 1;
    if (!s->o.batch_max) s->o.batch_max = 1;
    snprintf(s->maxlen, sizeof s->maxlen, "%lld", (long long)opts->maxlen);
    static const char *fmt[TN_STREAM__COUNT] = {"%s:samples:{0}", "%s:anomalies", "%s:incidents",
                                                "%s:audit", "%s:events"};
    if (!(s->prefix = strdup(opts->prefix))) goto fail;
    s->o.prefix = s->prefix;
    for (int i = 0; i < TN_STREAM__COUNT; i++)
        if (!(s->keys[i] = fmt_key(fmt[i], opts->prefix, 0))) goto fail;
    for (int k = 0; k < TN_PSTREAM__COUNT; k++) {
        if (!(s->pkeys[k] = calloc(s->o.partitions, sizeof(char *)))) goto fail;
        if (!(s->dirty[k] = calloc(s->o.partitions, 1))) goto fail;
        for (unsigned p = 0; p < s->o.partitions; p++)
            if (!(s->pkeys[k][p] = fmt_key(g_pfmt[k], opts->prefix, p))) goto fail;
    }
    tn_u64map_init(&s->prefixes);
    s->m_entries = tn_metrics_counter("tocsin_store_entries_written_total", NULL,
                                      "Stream entries written to Redis.");
    s->m_samples = tn_metrics_counter("tocsin_store_samples_written_total", NULL,
                                      "Samples written to the sample streams.");
    s->m_failed =
        tn_metrics_counter("tocsin_store_write_errors_total", NULL, "Redis writes that failed.");
    s->m_trims = tn_metrics_counter("tocsin_store_trims_total", NULL,
                                    "XTRIM MINID commands sent (retention by age).");
    return s;
fail:
    tn_streams_destroy(s);
    return NULL;
}

static void clear_prefixes(tn_streams_t *s)
{
    size_t it = 0;
    void *v;
    while (tn_u64map_next(&s->prefixes, &it, NULL, &v))
        free(v);
    tn_u64map_deinit(&s->prefixes);
}

void tn_streams_destroy(tn_streams_t *s)
{
    if (!s) return;
    clear_prefixes(s);
    for (int i = 0; i < TN_STREAM__COUNT; i++)
        free(s->keys[i]);
    for (int k = 0; k < TN_PSTREAM__COUNT; k++) {
        if (!s->pkeys[k]) continue;
        for (unsigned p = 0; p < s->o.partitions; p++)
            free(s->pkeys[k][p]);
        free(s->pkeys[k]);
    }
    for (int k = 0; k < TN_PSTREAM__COUNT; k++)
        free(s->dirty[k]);
    free(s->prefix);
    free(s);
}

const char *tn_streams_key(const tn_streams_t *s, tn_stream_kind_t kind)
{
    return s->keys[kind];
}
const char *tn_streams_pkey(const tn_streams_t *s, tn_pstream_kind_t kind, unsigned partition)
{
    return s->pkeys[kind][partition % s->o.partitions];
}
const char *tn_streams_prefix(const tn_streams_t *s)
{
    return s->prefix;
}
unsigned tn_streams_partitions(const tn_streams_t *s)
{
    return s->o.partitions;
}
unsigned tn_streams_backlog(const tn_streams_t *s)
{
    return tn_redis_pending(s->r);
}

unsigned tn_streams_partition_of(const tn_streams_t *s, const char *key)
{
    if (s->o.partitions == 1) return 0;
    uint64_t h = 0;
    size_t n = strlen(key);
    int hex = n == 16;
    for (size_t i = 0; i < n && hex; i++) {
        char c = key[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : 16;
        if (d == 16)
            hex = 0;
        else
            h = h << 4 | d;
    }
    if (!hex) h = tn_hash64(key, n);
    return (unsigned)(h % s->o.partitions);
}

/* ---- write groups ------------------------------------------------------------------------ */

static void group_done(tn_wgroup_t *g)
{
    if (g->err) tn_metric_inc(g->m_failed);
    if (g->cb) g->cb(g->err, g->arg);
    free(g);
}

static void on_reply(tn_redis_t *r, const tn_redis_reply_t *reply, int err, void *arg)
{
    (void)r;
    tn_wgroup_t *g = arg;
    if (!err && reply && tn_reply_is_error(reply)) {
        tn_log_warn("store", "redis error reply: %s", tn_reply_str(reply, NULL));
        err = TN_EPROTO;
    }
    if (err && !g->err) g->err = err;
    if (--g->pending == 0 && g->closed) group_done(g);
}

tn_wgroup_t *tn_streams_group(tn_streams_t *s, tn_streams_cb cb, void *arg)
{
    tn_wgroup_t *g = calloc(1, sizeof *g);
    if (g) g->s = s, g->m_failed = s->m_failed, g->cb = cb, g->arg = arg;
    return g;
}

void tn_wgroup_close(tn_wgroup_t *g)
{
    g->closed = 1;
    if (g->pending == 0) group_done(g);
}

int tn_wgroup_cmd(tn_wgroup_t *g, int argc, const char **argv, const size_t *lens)
{
    if (g->err && g->err != TN_EPROTO) return g->err; /* connection trouble: stop sending */
    int rc = tn_redis_cmd_argv(g->s->r, on_reply, g, 0, argc, argv, lens);
    if (rc) {
        if (!g->err) g->err = rc;
        return rc;
    }
    g->pending++;
    return 0;
}

#define MAX_PAIRS 64

static int xadd(tn_wgroup_t *g, const char *key, const char *trim, const char *trim_arg,
                const char *const *fields, const size_t *lens, size_t npairs)
{
    if (npairs > MAX_PAIRS) return TN_EINVAL;
    const char *argv[6 + 2 * MAX_PAIRS];
    size_t alen[6 + 2 * MAX_PAIRS];
    int argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = key;
    if (trim) {
        argv[argc++] = trim;
        argv[argc++] = "~";
        argv[argc++] = trim_arg;
    }
    argv[argc++] = "*";
    for (int i = 0; i < argc; i++)
        alen[i] = strlen(argv[i]);
    for (size_t i = 0; i < npairs * 2; i++) {
        argv[argc] = fields[i] ? fields[i] : "";
        alen[argc] = lens && fields[i] ? lens[i] : strlen(argv[argc]);
        argc++;
    }
    int rc = tn_wgroup_cmd(g, argc, argv, alen);
    if (!rc) tn_metric_inc(g->s->m_entries);
    return rc;
}

int tn_wgroup_xadd(tn_wgroup_t *g, const char *key, const char *const *fields, const size_t *lens,
                   size_t npairs)
{
    return xadd(g, key, "MAXLEN", g->s->maxlen, fields, lens, npairs);
}

static int64_t keep_ms(const tn_streams_t *s, tn_pstream_kind_t kind)
{
    switch (kind) {
    case TN_PSTREAM_ROLLUP_5M:
        return s->o.warm_ms;
    case TN_PSTREAM_ROLLUP_1H:
        return s->o.cold_ms;
    default:
        return s->o.hot_ms;
    }
}

int tn_wgroup_pxadd(tn_wgroup_t *g, tn_pstream_kind_t kind, unsigned partition,
                    const char *const *fields, const size_t *lens, size_t npairs)
{
    tn_streams_t *s = g->s;
    partition %= s->o.partitions;
    s->dirty[kind][partition] = 1; /* trimmed by age later (tn_streams_trim) */
    return xadd(g, s->pkeys[kind][partition], NULL, NULL, fields, lens, npairs);
}

static void on_trimmed(tn_redis_t *r, const tn_redis_reply_t *reply, int err, void *arg)
{
    (void)r, (void)arg;
    if (!err && reply && tn_reply_is_error(reply))
        tn_log_warn("store", "XTRIM failed: %s", tn_reply_str(reply, NULL));
}

int tn_streams_trim(tn_streams_t *s, int64_t now_ms)
{
    if (!tn_redis_is_up(s->r)) return 0;
    int sent = 0;
    for (int k = 0; k < TN_PSTREAM__COUNT; k++) {
        char minid[32];
        int64_t m = now_ms - keep_ms(s, (tn_pstream_kind_t)k);
        size_t n = tn_num_format_i64(minid, m > 0 ? m : 0);
        memcpy(minid + n, "-0", 3);
        for (unsigned p = 0; p < s->o.partitions; p++) {
            if (!s->dirty[k][p]) continue;
            const char *argv[] = {"XTRIM", s->pkeys[k][p], "MINID", "~", minid};
            if (tn_redis_cmd_argv(s->r, on_trimmed, NULL, 0, 5, argv, NULL)) return sent;
            s->dirty[k][p] = 0;
            sent++;
            tn_metric_inc(s->m_trims);
        }
    }
    return sent;
}

static uint64_t sid_number(const tn_sample_t *x)
{
    if (x->sid_hash) return x->sid_hash;
    uint64_t h = 0; /* a sample not finished by tn_sample_finish: its hex */
    for (int i = 0; i < 16 && x->sid[i]; i++)
        h = h << 4 | (uint64_t)(x->sid[i] <= '9' ? x->sid[i] - '0' : (x->sid[i] | 32) - 'a' + 10);
    return h;
}

/* A cached prefix: its length, where the name and the labels' JSON are in it, then its bytes
 * (NUL-terminated); one allocation. The one-sample entries take the name and the labels from
 * here: the sample's own strings are cold by then (measured: their strlen was 3% of ingest). */
typedef struct {
    size_t len;
    uint32_t name_off, name_len, labels_off, labels_len;
    char s[];
} prefix_t;

/* The "sid TAB name TAB labels TAB" prefix of a series, cached (series repeat: their name and
 * labels are encoded once). Borrowed; NULL on allocation failure. */
static const prefix_t *series_prefix(tn_streams_t *s, const tn_sample_t *x, tn_buf_t *tmp)
{
    uint64_t id = sid_number(x);
    const prefix_t *p = tn_u64map_get(&s->prefixes, id);
    if (p) return p;
    tn_buf_reset(tmp);
    if (tn_buf_printf(tmp, "%s\t%s\t", x->sid, x->name)) return NULL;
    size_t labels_off = tmp->len;
    if (tn_sample_labels_json(x, tmp) || tn_buf_append(tmp, "\t", 1)) return NULL;
    if (tmp->len > UINT32_MAX) return NULL;
    if (s->prefixes.len >= PREFIX_CACHE_MAX) clear_prefixes(s);
    prefix_t *copy = malloc(sizeof *copy + tmp->len + 1);
    if (!copy) return NULL;
    copy->len = tmp->len;
    copy->name_off = (uint32_t)strlen(x->sid) + 1;
    copy->name_len = (uint32_t)(labels_off - copy->name_off - 1);
    copy->labels_off = (uint32_t)labels_off;
    copy->labels_len = (uint32_t)(tmp->len - labels_off - 1);
    memcpy(copy->s, tmp->data, tmp->len + 1);
    if (tn_u64map_put(&s->prefixes, id, copy, NULL)) {
        free(copy);
        return NULL;
    }
    return copy;
}

/* Appends one sample line: sid TAB name TAB labels TAB value TAB ts TAB unit LF */
static int encode_line(tn_streams_t *s, tn_buf_t *b, const tn_sample_t *x, tn_buf_t *tmp)
{
    const prefix_t *prefix = series_prefix(s, x, tmp);
    size_t ul = x->unit ? strlen(x->unit) : 0;
    if (!prefix || tn_buf_reserve(b, prefix->len + 2 * TN_NUM_BUF + ul + 3)) return TN_ENOMEM;
    char *w = b->data + b->len;
    memcpy(w, prefix->s, prefix->len);
    w += prefix->len;
    w += tn_num_format(w, x->value);
    *w++ = '\t';
    w += tn_num_format_i64(w, x->ts_ms);
    *w++ = '\t';
    for (size_t i = 0; i < ul; i++) /* control bytes of the unit as '_' */
        *w++ = (unsigned char)x->unit[i] < 0x20 ? '_' : x->unit[i];
    *w++ = '\n';
    b->len = (size_t)(w - b->data);
    b->data[b->len] = '\0';
    return 0;
}

static int write_single(tn_wgroup_t *g, unsigned p, const tn_sample_t *x, tn_buf_t *tmp)
{
    /* sid TAB name TAB labels TAB: the series' cached prefix holds all three */
    const prefix_t *prefix = series_prefix(g->s, x, tmp);
    if (!prefix) return TN_ENOMEM;
    size_t sid_len = prefix->name_off - 1;
    char value[TN_NUM_BUF], ts[24];
    size_t value_len = tn_num_format(value, x->value), ts_len = tn_num_format_i64(ts, x->ts_ms);
    const char *f[12] = {"name",   prefix->s + prefix->name_off,
                         "labels", prefix->s + prefix->labels_off,
                         "value",  value,
                         "ts",     ts,
                         "sid",    prefix->s,
                         "unit",   x->unit};
    size_t lens[12] = {4, prefix->name_len, 6, prefix->labels_len,
                       5, value_len,        2, ts_len,
                       3, sid_len,          4, x->unit ? strlen(x->unit) : 0};
    return tn_wgroup_pxadd(g, TN_PSTREAM_SAMPLES, p, f, lens, x->unit ? 6 : 5);
}

int tn_wgroup_samples(tn_wgroup_t *g, const tn_sample_t *samples, size_t n)
{
    tn_streams_t *s = g->s;
    unsigned P = s->o.partitions, B = s->o.batch_max;
    if (n == 0) return 0;
    /* order the samples by partition (counting sort of their indexes) */
    unsigned *part = malloc(n * sizeof *part);
    size_t *start = calloc(P + 1, sizeof *start), *order = malloc(n * sizeof *order);
    tn_buf_t labels, payload;
    tn_buf_init(&labels);
    tn_buf_init(&payload);
    int rc = 0;
    if (!part || !start || !order) {
        rc = TN_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        part[i] = samples[i].sid_hash ? (unsigned)(samples[i].sid_hash % P)
                                      : tn_streams_partition_of(s, samples[i].sid);
        start[part[i] + 1]++;
    }
    for (unsigned p = 0; p < P; p++)
        start[p + 1] += start[p];
    {
        size_t *fill = calloc(P, sizeof *fill);
        if (!fill) {
            rc = TN_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            order[start[part[i]] + fill[part[i]]++] = i;
        free(fill);
    }
    for (unsigned p = 0; p < P && !rc; p++) {
        for (size_t i = start[p]; i < start[p + 1] && !rc;) {
            size_t end = i + B < start[p + 1] ? i + B : start[p + 1];
            if (B == 1) {
                /* meanwhile: a later sample, and the series prefix of a nearer one */
                if (i + 16 < start[p + 1]) __builtin_prefetch(&samples[order[i + 16]]);
                if (i + 8 < start[p + 1]) {
                    const tn_sample_t *later = &samples[order[i + 8]];
                    tn_u64map_prefetch(&s->prefixes, sid_number(later));
                    if (later->unit) __builtin_prefetch(later->unit);
                }
                rc = write_single(g, p, &samples[order[i]], &labels);
            } else {
                tn_buf_reset(&payload);
                for (size_t k = i; k < end && !rc; k++) {
                    if (k + 8 < end)
                        tn_u64map_prefetch(&s->prefixes, sid_number(&samples[order[k + 8]]));
                    rc = encode_line(s, &payload, &samples[order[k]], &labels);
                }
                if (!rc) {
                    char count[16];
                    snprintf(count, sizeof count, "%zu", end - i);
                    const char *f[4] = {"n", count, "samples", payload.data};
                    size_t fl[4] = {1, strlen(count), 7, payload.len};
                    rc = tn_wgroup_pxadd(g, TN_PSTREAM_SAMPLES, p, f, fl, 2);
                }
            }
            if (!rc) tn_metric_add(s->m_samples, (double)(end - i));
            i = end;
        }
    }
out:
    if (rc && !g->err) g->err = rc;
    free(part);
    free(start);
    free(order);
    tn_buf_deinit(&labels);
    tn_buf_deinit(&payload);
    return rc;
}

/* ---- one-shot forms ---------------------------------------------------------------------- */

/* Closes a one-command group: if nothing could be sent, reports the error without calling cb. */
static int close_one(tn_wgroup_t *g, int rc)
{
    if (g->pending == 0) {
        free(g);
        return rc ? rc : TN_EINVAL;
    }
    g->err = 0; /* a later failure is reported through cb */
    tn_wgroup_close(g);
    return 0;
}

int tn_streams_add_samples(tn_streams_t *s, const tn_sample_t *samples, size_t n, tn_streams_cb cb,
                           void *arg)
{
    if (!tn_redis_is_up(s->r)) return TN_ECLOSED;
    tn_wgroup_t *g = tn_streams_group(s, cb, arg);
    if (!g) return TN_ENOMEM;
    int rc = tn_wgroup_samples(g, samples, n);
    if (rc && g->pending) { /* partly sent: the error travels to cb */
        g->err = rc;
        tn_wgroup_close(g);
        return 0;
    }
    return close_one(g, rc);
}

int tn_streams_xadd(tn_streams_t *s, const char *key, const char *const *fields, size_t npairs,
                    tn_streams_cb cb, void *arg)
{
    if (!tn_redis_is_up(s->r)) return TN_ECLOSED;
    tn_wgroup_t *g = tn_streams_group(s, cb, arg);
    if (!g) return TN_ENOMEM;
    return close_one(g, tn_wgroup_xadd(g, key, fields, NULL, npairs));
}

int tn_streams_cmd(tn_streams_t *s, int argc, const char **argv, tn_streams_cb cb, void *arg)
{
    if (!tn_redis_is_up(s->r)) return TN_ECLOSED;
    tn_wgroup_t *g = tn_streams_group(s, cb, arg);
    if (!g) return TN_ENOMEM;
    return close_one(g, tn_wgroup_cmd(g, argc, argv, NULL));
}

/* ---- decoding ---------------------------------------------------------------------------- */

static const char *field(size_t n, const char *const *names, const char *const *values,
                         const size_t *lens, const char *name, size_t *len)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            if (len) *len = lens ? lens[i] : strlen(values[i]);
            return values[i];
        }
    }
    return NULL;
}

static int parse_num(const char *p, size_t len, double *d)
{
    return tn_num_parse(p, len, TN_NUM_SPECIAL | TN_NUM_LENIENT, d);
}

int tn_streams_decode_samples(size_t nfields, const char *const *names, const char *const *values,
                              const size_t *lens, void (*fn)(const tn_sample_view_t *v, void *arg),
                              void *arg)
{
    size_t plen;
    const char *payload = field(nfields, names, values, lens, "samples", &plen);
    tn_sample_view_t v;
    double d;
    if (!payload) {
        memset(&v, 0, sizeof v);
        size_t vlen, tlen;
        const char *value = field(nfields, names, values, lens, "value", &vlen);
        const char *ts = field(nfields, names, values, lens, "ts", &tlen);
        v.name = field(nfields, names, values, lens, "name", &v.name_len);
        v.sid = field(nfields, names, values, lens, "sid", &v.sid_len);
        v.labels = field(nfields, names, values, lens, "labels", &v.labels_len);
        v.unit = field(nfields, names, values, lens, "unit", &v.unit_len);
        if (!v.name || !v.sid || !value || !ts || parse_num(value, vlen, &v.value) ||
            parse_num(ts, tlen, &d))
            return -1;
        v.ts_ms = (int64_t)d;
        if (!v.labels) v.labels = "{}", v.labels_len = 2;
        if (!v.unit) v.unit = "", v.unit_len = 0;
        fn(&v, arg);
        return 1;
    }
    int count = 0;
    const char *p = payload, *end = payload + plen;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return -1;
        const char *col[6];
        size_t clen[6];
        const char *q = p;
        for (int c = 0; c < 6; c++) {
            const char *t = c < 5 ? memchr(q, '\t', (size_t)(nl - q)) : nl;
            if (!t) return -1;
            col[c] = q;
            clen[c] = (size_t)(t - q);
            q = t + 1;
        }
        v.sid = col[0], v.sid_len = clen[0];
        v.name = col[1], v.name_len = clen[1];
        v.labels = col[2], v.labels_len = clen[2];
        v.unit = col[5], v.unit_len = clen[5];
        if (parse_num(col[3], clen[3], &v.value) || parse_num(col[4], clen[4], &d)) return -1;
        v.ts_ms = (int64_t)d;
        fn(&v, arg);
        count++;
        p = nl + 1;
    }
    return count;
}
