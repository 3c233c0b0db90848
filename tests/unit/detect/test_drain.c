/* test_drain.c - Drain template mining (detect/drain.c): HDFS and OpenSSH messages grouped into
 * the expected templates with the expected parameters, masks, memory limits, and template-rate
 * anomalies (spike and stop flagged, Poisson noise not, never-seen templates after warm-up),
 * with the expected rate checked against an EWMA computed here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define TN_TEST_RNG_NO_GAUSS
#include "../rng.h"

#include "core/error.h"
#include "detect/drain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tn_drain_match_t add(tn_drain_t *d, const char *msg, int64_t ts)
{
    tn_drain_match_t m;
    assert_int_equal(tn_drain_add(d, msg, strlen(msg), ts, &m), 0);
    assert_true(m.id > 0);
    return m;
}

/* Template text of one message mined alone with the given masks. */
static void expect_mask(uint32_t masks, const char *msg, const char *want)
{
    tn_drain_opts_t o = {.masks = masks};
    tn_drain_t *d = tn_drain_create(&o);
    assert_non_null(d);
    tn_drain_match_t m = add(d, msg, 0);
    if (strcmp(m.template_text, want) != 0)
        fail_msg("mask of \"%s\": got \"%s\", want \"%s\"", msg, m.template_text, want);
    tn_drain_destroy(d);
}

/* ---- mining ----------------------------------------------------------------------------- */

typedef struct {
    const char *msg;
    int group;             /* messages of a group share one template id */
    const char *params[6]; /* parameters reported for this message, NULL-terminated */
} line_t;

static const line_t k_lines[] = {
    /* HDFS (contents, after the header: date, time, pid, level, component) */
    {"PacketResponder 1 for block blk_38865049064139660 terminating",
     1,
     {"1", "38865049064139660"}},
    {"PacketResponder 0 for block blk_-6952295868487656571 terminating",
     1,
     {"0", "-6952295868487656571"}},
    {"BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.73.220:50010 is added to "
     "blk_7128370237687728475 size 67108864",
     2,
     {"10.251.73.220:50010", "7128370237687728475", "67108864"}},
    {"Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6",
     3,
     {"-1608999687919862906", "91178", "10.250.10.6"}},
    {"Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: "
     "/10.250.19.102:50010",
     4,
     {"-1608999687919862906", "10.250.19.102:54106", "10.250.19.102:50010"}},
    {"BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.107.19:50010 is added to "
     "blk_-3544583377289625738 size 67108864",
     2,
     {"10.251.107.19:50010", "-3544583377289625738", "67108864"}},
    {"Received block blk_7503483334202473044 of size 233217 from /10.250.19.16",
     3,
     {"7503483334202473044", "233217", "10.250.19.16"}},
    {"Verification succeeded for blk_-4980916519894289629", 5, {"-4980916519894289629"}},
    {"Receiving block blk_7503483334202473044 src: /10.251.71.16:51590 dest: /10.251.71.16:50010",
     4,
     {"7503483334202473044", "10.251.71.16:51590", "10.251.71.16:50010"}},
    /* OpenSSH */
    {"reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - "
     "POSSIBLE BREAK-IN ATTEMPT!",
     6,
     {"173.234.31.186"}},
    {"Invalid user webmaster from 173.234.31.186", 7, {"173.234.31.186"}},
    {"Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
     8,
     {"173.234.31.186", "38926"}},
    {"Connection closed by 212.47.254.145 [preauth]", 9, {"212.47.254.145"}},
    {"Invalid user admin from 103.99.0.122", 7, {"admin", "103.99.0.122"}},
    {"Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2",
     8,
     {"test9", "52.80.34.196", "36060"}},
    {"reverse mapping checking getaddrinfo for customer-187-141-143-180-sta.uninet-ide.com.mx "
     "[187.141.143.180] failed - POSSIBLE BREAK-IN ATTEMPT!",
     6,
     {"customer-187-141-143-180-sta.uninet-ide.com.mx", "187.141.143.180"}},
    {"Failed password for root from 5.36.59.76 port 42393 ssh2", 10, {"5.36.59.76", "42393"}},
    {"Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
     11,
     {"119.137.62.142", "49116"}},
    {"pam_unix(sshd:session): session opened for user fztu by (uid=0)", 12, {"0"}},
    {"Connection closed by 5.188.10.180 [preauth]", 9, {"5.188.10.180"}},
    {"Invalid user oracle from 61.197.203.243", 7, {"oracle", "61.197.203.243"}},
    {"pam_unix(sshd:session): session opened for user root by (uid=0)", 12, {"root", "0"}},
};

static const char *k_templates[] = {
    NULL,
    "PacketResponder <NUM> for block blk_<NUM> terminating",
    "BLOCK* NameSystem.addStoredBlock: blockMap updated: <IP> is added to blk_<NUM> size <NUM>",
    "Received block blk_<NUM> of size <NUM> from /<IP>",
    "Receiving block blk_<NUM> src: /<IP> dest: /<IP>",
    "Verification succeeded for blk_<NUM>",
    "reverse mapping checking getaddrinfo for <*> [<IP>] failed - POSSIBLE BREAK-IN ATTEMPT!",
    "Invalid user <*> from <IP>",
    "Failed password for invalid user <*> from <IP> port <NUM> ssh2",
    "Connection closed by <IP> [preauth]",
    "Failed password for root from <IP> port <NUM> ssh2",
    "Accepted password for fztu from <IP> port <NUM> ssh2",
    "pam_unix(sshd:session): session opened for user <*> by (uid=<NUM>)",
};

static void test_templates(void **state)
{
    (void)state;
    tn_drain_t *d = tn_drain_create(NULL);
    assert_non_null(d);
    const size_t n = sizeof(k_lines) / sizeof(k_lines[0]);
    uint32_t ids[13] = {0};
    for (size_t i = 0; i < n; i++) {
        const line_t *l = &k_lines[i];
        tn_drain_match_t m = add(d, l->msg, (int64_t)i);
        if (ids[l->group] == 0) {
            assert_int_equal(m.is_new, 1);
            for (int g = 1; g < 13; g++) /* a new id for a new group */
                assert_true(ids[g] != m.id);
            ids[l->group] = m.id;
        } else {
            if (m.id != ids[l->group])
                fail_msg("line %zu \"%s\": template %u (%s), want %u", i, l->msg, m.id,
                         m.template_text, ids[l->group]);
            assert_int_equal(m.is_new, 0);
        }
        uint32_t np = 0;
        while (l->params[np])
            np++;
        if (m.nparams != np) fail_msg("line %zu: %u params, want %u", i, m.nparams, np);
        for (uint32_t k = 0; k < np; k++)
            if (strcmp(m.params[k], l->params[k]) != 0)
                fail_msg("line %zu param %u: got \"%s\", want \"%s\"", i, k, m.params[k],
                         l->params[k]);
    }
    assert_int_equal(tn_drain_cluster_count(d), 12);
    for (int g = 1; g < 13; g++) {
        const char *t = tn_drain_template(d, ids[g]);
        assert_non_null(t);
        if (strcmp(t, k_templates[g]) != 0)
            fail_msg("group %d: template \"%s\", want \"%s\"", g, t, k_templates[g]);
    }
    /* ids are 1..12 in order of first appearance, stable after generalization */
    for (uint32_t id = 1; id <= 12; id++)
        assert_non_null(tn_drain_template(d, id));
    assert_null(tn_drain_template(d, 13));
    assert_null(tn_drain_template(d, 0));
    tn_drain_destroy(d);
}

/* The similarity threshold decides: two messages in one leaf (same length and first two
 * tokens) sharing 2 of 4 tokens merge at st 0.5 and not at st 0.6; the generalization is
 * reported once. */
static void test_similarity(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        tn_drain_opts_t o = {.st = k ? 0.6 : 0.5};
        tn_drain_t *d = tn_drain_create(&o);
        assert_non_null(d);
        tn_drain_match_t a = add(d, "user login alice ok", 0);
        tn_drain_match_t b = add(d, "user login bob failed", 0);
        if (k == 0) {
            assert_int_equal(b.id, a.id);
            assert_int_equal(b.changed, 1);
            assert_string_equal(b.template_text, "user login <*> <*>");
            assert_int_equal(b.nparams, 2);
            assert_string_equal(b.params[0], "bob");
            assert_string_equal(b.params[1], "failed");
            tn_drain_match_t c = add(d, "user login carol failed", 0);
            assert_int_equal(c.changed, 0);
            assert_int_equal(c.id, a.id);
        } else {
            assert_true(b.id != a.id);
            assert_int_equal(tn_drain_cluster_count(d), 2);
        }
        tn_drain_destroy(d);
    }
}

static void test_masks(void **state)
{
    (void)state;
    const uint32_t def = 0;
    expect_mask(def, "request took 12.5 ms", "request took <NUM> ms");
    expect_mask(def, "retry -3 of +4", "retry <NUM> of <NUM>");
    expect_mask(def, "trace id=550e8400-e29b-41d4-a716-446655440000 done", "trace id=<UUID> done");
    expect_mask(def, "fault at 0x7ffd5a2b", "fault at <HEX>");
    expect_mask(def, "commit 3f1051a9e2 pushed", "commit <HEX> pushed");
    expect_mask(def, "word deadbeefcafe stays", "word deadbeefcafe stays"); /* no digit */
    expect_mask(def, "peer 10.0.0.1:8080 up", "peer <IP> up");
    expect_mask(def, "peer [192.168.1.20] down", "peer [<IP>] down");
    expect_mask(def, "bad 256.1.1.1 kept as numbers", "bad <NUM>.<NUM> kept as numbers");
    expect_mask(def, "node12 and v2 are names", "node12 and v2 are names");
    expect_mask(def, "at 06:55:46 size=1024,count=7",
                "at <NUM>:<NUM>:<NUM> size=<NUM>,count=<NUM>");
    expect_mask(def, "open /var/log/syslog failed", "open /var/log/syslog failed");
    expect_mask(TN_DRAIN_MASK_DEFAULT | TN_DRAIN_MASK_PATH, "open /var/log/syslog failed",
                "open <PATH> failed");
    expect_mask(TN_DRAIN_MASK_DEFAULT | TN_DRAIN_MASK_PATH, "file=/tmp/x.1 gone",
                "file=<PATH> gone");
    expect_mask(TN_DRAIN_MASK_NONE, "took 12 ms from 10.0.0.1", "took 12 ms from 10.0.0.1");
    expect_mask(TN_DRAIN_MASK_IP, "took 12 ms from 10.0.0.1", "took 12 ms from <IP>");
    /* whitespace of any kind separates; leading/trailing whitespace is ignored */
    expect_mask(def, "\t a  b\r\n", "a b");
    /* the empty message is a template too */
    expect_mask(def, "", "");
}

/* ---- limits ----------------------------------------------------------------------------- */

static void test_max_clusters(void **state)
{
    (void)state;
    tn_drain_opts_t o = {.max_clusters = 3};
    tn_drain_t *d = tn_drain_create(&o);
    assert_non_null(d);
    uint32_t a = add(d, "alpha one", 0).id;
    uint32_t b = add(d, "beta one two", 0).id;
    uint32_t c = add(d, "gamma one two three", 0).id;
    add(d, "alpha one", 0); /* alpha is now more recent than beta */
    uint32_t e = add(d, "delta one two three four", 0).id;
    assert_int_equal(tn_drain_cluster_count(d), 3);
    assert_int_equal(tn_drain_evicted(d), 1);
    assert_null(tn_drain_template(d, b)); /* the least recently used went */
    assert_non_null(tn_drain_template(d, a));
    assert_non_null(tn_drain_template(d, c));
    assert_int_equal(e, 4);
    /* beta comes back under a new id; the next least recently used (gamma) goes */
    tn_drain_match_t m = add(d, "beta one two", 0);
    assert_int_equal(m.is_new, 1);
    assert_int_equal(m.id, 5);
    assert_null(tn_drain_template(d, c));
    assert_int_equal(tn_drain_evicted(d), 2);
    /* the tree holds only the live templates' paths: root + 3 x (length + 2 tokens) */
    assert_int_equal(tn_drain_node_count(d), 1 + 3 * 3);
    /* many templates through a small cap: memory stays bounded */
    char msg[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(msg, sizeof msg, "w%c%c x%c y", 'a' + i % 26, 'a' + i / 26 % 26, 'a' + i % 7);
        add(d, msg, 0);
        assert_true(tn_drain_cluster_count(d) <= 3);
        assert_true(tn_drain_node_count(d) <= 1 + 3 * 3);
    }
    tn_drain_destroy(d);
}

static void test_max_children(void **state)
{
    (void)state;
    tn_drain_opts_t o = {.max_children = 5};
    tn_drain_t *d = tn_drain_create(&o);
    assert_non_null(d);
    static const char *names[] = {"alice", "bob",   "carol", "dave", "erin",    "frank",
                                  "grace", "heidi", "ivan",  "judy", "mallory", "oscar"};
    for (int r = 0; r < 3; r++)
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            char msg[64];
            snprintf(msg, sizeof msg, "%s login ok", names[i]);
            add(d, msg, 0);
        }
    /* root, length 3, at most 5 first-token children, each with the one child "login" */
    assert_true(tn_drain_node_count(d) <= 1 + 1 + 5 + 5);
    /* four named templates and the rest merged under the <*> branch */
    assert_int_equal(tn_drain_cluster_count(d), 5);
    tn_drain_match_t m = add(d, "zed login ok", 0);
    assert_string_equal(m.template_text, "<*> login ok");
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "zed");
    m = add(d, "alice login ok", 0);
    assert_string_equal(m.template_text, "alice login ok");
    tn_drain_destroy(d);
}

static void test_max_tokens(void **state)
{
    (void)state;
    tn_drain_opts_t o = {.max_tokens = 8};
    tn_drain_t *d = tn_drain_create(&o);
    assert_non_null(d);
    tn_drain_match_t m = add(d, "a b c d e f g h i j k", 0);
    assert_string_equal(m.template_text, "a b c d e f g h");
    assert_int_equal(tn_drain_truncated(d), 1);
    m = add(d, "a b c d e f g h", 0);
    assert_int_equal(m.is_new, 0);
    assert_int_equal(tn_drain_truncated(d), 1);
    tn_drain_destroy(d);
    /* invalid options */
    tn_drain_opts_t bad = {.depth = 2};
    assert_null(tn_drain_create(&bad));
    bad = (tn_drain_opts_t){.st = 1.5};
    assert_null(tn_drain_create(&bad));
    bad = (tn_drain_opts_t){.max_children = 1};
    assert_null(tn_drain_create(&bad));
    bad = (tn_drain_opts_t){.alpha = 2};
    assert_null(tn_drain_create(&bad));
}

/* ---- allocation failure ----------------------------------------------------------------- */

/* Out-of-memory for real: the soft address-space limit lowered to what the process uses plus a
 * margin, restored afterwards (not under AddressSanitizer, which needs a huge address space). */
#include "../memlimit.h"

/* A message whose scratch memory cannot be had: TN_ENOMEM, the miner unchanged and working.
 * Tokens past max_tokens cost no scratch memory. */
static void test_enomem(void **state)
{
    (void)state;
    tn_drain_t *d = tn_drain_create(NULL);
    assert_non_null(d);
    add(d, "disk sda1 full", 0);
    const size_t n = 24u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n); /* one 24 MB token: its masked form needs 6 bytes a byte */
    struct rlimit saved;
    if (limit_memory(&saved, 64u << 20) != 0) {
        free(big);
        tn_drain_destroy(d);
        skip();
    }
    tn_drain_match_t m;
    int rc = tn_drain_add(d, big, n, 1, &m);
    assert_int_equal(setrlimit(RLIMIT_AS, &saved), 0);
    free(big);
    assert_int_equal(rc, TN_ENOMEM);
    assert_int_equal(m.id, 0);
    assert_int_equal(tn_drain_cluster_count(d), 1);
    m = add(d, "disk sdb2 full", 2);
    assert_int_equal(m.id, 1);
    assert_string_equal(m.template_text, "disk <*> full");
    /* 12 M tokens, 24 MB: only the first 256 are masked, within the limit */
    big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = i % 2 ? ' ' : 'x';
    assert_int_equal(limit_memory(&saved, 64u << 20), 0);
    rc = tn_drain_add(d, big, n, 3, &m);
    assert_int_equal(setrlimit(RLIMIT_AS, &saved), 0);
    free(big);
    assert_int_equal(rc, 0);
    assert_int_equal(tn_drain_truncated(d), 1);
    m = add(d, "disk sdc3 full", 2);
    assert_string_equal(m.template_text, "disk <*> full");
    tn_drain_destroy(d);
}

/* ---- rates ------------------------------------------------------------------------------ */

#define MAXV 4096
typedef struct {
    tn_drain_rate_t v[MAXV];
    size_t n;
} verdicts_t;

static void on_rate(void *ud, const tn_drain_rate_t *v)
{
    verdicts_t *vs = ud;
    assert_non_null(v->template_text);
    assert_true(v->score >= 0 && v->score <= 1);
    if (vs->n < MAXV) vs->v[vs->n++] = *v;
}

static int poisson(double lam) /* Knuth */
{
    double l = exp(-lam), p = 1;
    int k = 0;
    do {
        k++;
        p *= rnd01();
    } while (p > l);
    return k - 1;
}

static void test_rates(void **state)
{
    (void)state;
    static verdicts_t vs;
    vs.n = 0;
    const int64_t iv = 60000;
    tn_drain_opts_t o = {.interval_ms = iv, .warmup = 10, .on_rate = on_rate, .ud = &vs};
    tn_drain_t *d = tn_drain_create(&o);
    assert_non_null(d);
    uint32_t ida = 0, idb = 0;
    int counts_a[80];
    const int spike = 40, stop = 60, novel_at = 45, early_new = 2, end = 75;
    char msg[128];
    for (int t = 0; t < end; t++) {
        int na = t == spike ? 150 : t >= stop ? 0 : poisson(20);
        int nb = poisson(3);
        counts_a[t] = na;
        for (int k = 0; k < na + nb; k++) {
            int64_t ts = (int64_t)t * iv + (int64_t)((k + 0.5) * iv / (na + nb + 1));
            if (k < na)
                snprintf(msg, sizeof msg, "GET /api/items/%d 200 %d ms", k, 5 + k % 40);
            else
                snprintf(msg, sizeof msg, "cache refresh completed for shard %d", k % 16);
            tn_drain_match_t m = add(d, msg, ts);
            assert_int_equal(m.novel, 0); /* the two regular templates are old news */
            if (k < na && !ida) ida = m.id;
            if (k >= na && !idb) idb = m.id;
        }
        if (t == early_new) { /* a new template during warm-up is not flagged */
            tn_drain_match_t m = add(d, "config reloaded from disk", (int64_t)t * iv + 1);
            assert_int_equal(m.is_new, 1);
            assert_int_equal(m.novel, 0);
        }
        if (t == novel_at) {
            tn_drain_match_t m =
                add(d, "kernel: Out of memory: Killed process 8812 (java)", (int64_t)t * iv + 7);
            assert_int_equal(m.is_new, 1);
            assert_int_equal(m.novel, 1);
            m = add(d, "kernel: Out of memory: Killed process 9001 (java)", (int64_t)t * iv + 8);
            assert_int_equal(m.is_new, 0);
            assert_int_equal(m.novel, 0);
        }
    }
    tn_drain_flush(d, (int64_t)end * iv);
    assert_true(ida && idb && ida != idb);
    /* expected rate of A: the running mean of its counts for the first 10 intervals, an EWMA
     * with weight 0.1 after that (computed here until the spike, which enters clipped) */
    double mean = 0;
    int flagged_normal = 0, high_at_spike = 0, low_after_stop = 0, checked = 0;
    for (size_t i = 0; i < vs.n; i++) {
        const tn_drain_rate_t *v = &vs.v[i];
        int t = (int)(v->interval_start_ms / iv);
        int flagged = v->kind == TN_DRAIN_RATE_HIGH || v->kind == TN_DRAIN_RATE_LOW;
        if (v->id == ida) {
            assert_int_equal(v->count, counts_a[t]);
            assert_int_equal(v->history, t);
            if (t > 0 && t <= spike) {
                if (fabs(v->expected - mean) > 1e-9 * fmax(1, mean))
                    fail_msg("interval %d: expected %.12g, want %.12g", t, v->expected, mean);
                checked++;
            }
            double w = fmax(0.1, 1.0 / (t + 1));
            mean = t == 0 ? counts_a[0] : mean + w * (counts_a[t] - mean);
            if (t == spike) {
                high_at_spike = v->kind == TN_DRAIN_RATE_HIGH;
                assert_true(v->count > v->upper);
                assert_true(v->score > 0.9999);
            } else if (t == stop) {
                low_after_stop = v->kind == TN_DRAIN_RATE_LOW;
                assert_true(v->lower > 0);
            } else if (t < stop) {
                flagged_normal += flagged;
            }
            if (t < 10) assert_int_equal(v->kind, TN_DRAIN_RATE_WARMUP);
        } else if (v->id == idb) {
            flagged_normal += flagged;
        }
    }
    printf("rates: %d intervals checked against the reference EWMA, %d normal intervals "
           "flagged\n",
           checked, flagged_normal);
    assert_int_equal(checked, spike);
    assert_int_equal(high_at_spike, 1);
    assert_int_equal(low_after_stop, 1);
    assert_int_equal(flagged_normal, 0);
    assert_int_equal(tn_drain_late(d), 0);
    /* a message from a closed interval is counted as late, in the current one */
    add(d, "cache refresh completed for shard 3", 1000);
    assert_int_equal(tn_drain_late(d), 1);
    tn_drain_destroy(d);
}

/* A long pause closes at most max_gap intervals, then restarts the clock. */
static void test_rate_gap(void **state)
{
    (void)state;
    static verdicts_t vs;
    vs.n = 0;
    tn_drain_opts_t o = {.interval_ms = 1000, .max_gap = 5, .on_rate = on_rate, .ud = &vs};
    tn_drain_t *d = tn_drain_create(&o);
    assert_non_null(d);
    add(d, "tick", 0);
    add(d, "tick", 3500); /* closes [0,1000), [1000,2000), [2000,3000) */
    assert_int_equal(vs.n, 3);
    assert_int_equal(vs.v[0].count, 1);
    assert_int_equal(vs.v[1].count, 0);
    add(d, "tick", 1000000); /* 996 intervals away: 5 closed, then the clock restarts */
    assert_int_equal(vs.n, 3 + 5);
    assert_int_equal(vs.v[3].count, 1);
    add(d, "tick", 1001000);
    assert_int_equal(vs.n, 9);
    assert_int_equal(vs.v[8].interval_start_ms, 1000000);
    tn_drain_destroy(d);
}

/* ---- a corpus with known templates -------------------------------------------------------- */

static const char *k_words[] = {"alice", "bob",    "carol", "dave",    "erin",
                                "ops",   "deploy", "ci",    "billing", "search"};
static const char *pick(void)
{
    return k_words[(int)(rnd01() * 10)];
}

/* Writes message i of template k (random parameters) into buf. */
static void gen_message(int k, char *buf, size_t cap)
{
    int a = (int)(rnd01() * 256), b = (int)(rnd01() * 256), n = (int)(rnd01() * 100000);
    switch (k) {
    case 0:
        snprintf(buf, cap, "Connection from 10.%d.%d.7 closed after %d ms", a, b, n);
        break;
    case 1:
        snprintf(buf, cap, "Accepted publickey for %s from 192.168.%d.%d port %d ssh2", pick(), a,
                 b, n);
        break;
    case 2:
        snprintf(buf, cap, "Disk usage on /dev/sd%c at %d percent", 'a' + a % 4, n % 100);
        break;
    case 3:
        snprintf(buf, cap, "Job %d finished with status %s", n,
                 a % 3 ? (a % 3 == 1 ? "ok" : "failed") : "timeout");
        break;
    case 4:
        snprintf(buf, cap, "GET /api/v1/users/%d returned %d in %d.%d ms", n, a % 2 ? 200 : 404, b,
                 a % 10);
        break;
    case 5:
        snprintf(buf, cap, "Task 0x%x%x picked by worker %s from queue %s", a + 1, n, pick(),
                 pick());
        break;
    case 6:
        snprintf(buf, cap, "Session %08x-%04x-4%03x-a%03x-%012x expired for user %s", n * 7919, a,
                 b, a, n, pick());
        break;
    case 7:
        snprintf(buf, cap, "Cache miss for key user:%d:profile", n);
        break;
    case 8:
        snprintf(buf, cap, "Failed to connect to 172.16.%d.%d : connection refused", a, b);
        break;
    case 9:
        snprintf(buf, cap, "Scheduled backup of database %s started", pick());
        break;
    case 10:
        snprintf(buf, cap, "Scheduled backup of database %s completed in %d s", pick(), n % 900);
        break;
    default:
        snprintf(buf, cap, "Heartbeat ok");
        break;
    }
}

static const char *k_corpus_templates[12] = {
    "Connection from <IP> closed after <NUM> ms",
    "Accepted publickey for <*> from <IP> port <NUM> ssh2",
    "Disk usage on <*> at <NUM> percent",
    "Job <NUM> finished with status <*>",
    "GET /api/v1/users/<NUM> returned <NUM> in <NUM> ms",
    "Task <HEX> picked by worker <*> from queue <*>",
    "Session <UUID> expired for user <*>",
    "Cache miss for key user:<NUM>:profile",
    "Failed to connect to <IP> : connection refused",
    "Scheduled backup of database <*> started",
    "Scheduled backup of database <*> completed in <NUM> s",
    "Heartbeat ok",
};

/* 3000 messages from 12 templates, interleaved at random: Drain's grouping accuracy (the share
 * of messages whose template holds exactly the messages of their true template) is 1. */
static void test_corpus(void **state)
{
    (void)state;
    enum { N = 3000, K = 12 };
    static int truth[N];
    static uint32_t got[N];
    tn_drain_t *d = tn_drain_create(NULL);
    assert_non_null(d);
    g_rng = 1234567;
    char buf[256];
    for (int i = 0; i < N; i++) {
        truth[i] = (int)(rnd01() * K);
        gen_message(truth[i], buf, sizeof buf);
        got[i] = add(d, buf, i).id;
    }
    /* grouping accuracy */
    size_t correct = 0;
    for (int i = 0; i < N; i++) {
        int ok = 1;
        for (int j = 0; j < N && ok; j++)
            ok = (got[j] == got[i]) == (truth[j] == truth[i]);
        correct += ok;
    }
    printf("corpus: %d messages, %d true templates, %zu mined, grouping accuracy %.4f\n", N, K,
           tn_drain_cluster_count(d), (double)correct / N);
    assert_int_equal(correct, N);
    assert_int_equal(tn_drain_cluster_count(d), K);
    for (int k = 0; k < K; k++) {
        uint32_t id = 0;
        for (int i = 0; i < N && !id; i++)
            if (truth[i] == k) id = got[i];
        const char *t = tn_drain_template(d, id);
        assert_non_null(t);
        if (strcmp(t, k_corpus_templates[k]) != 0)
            fail_msg("template %d: \"%s\", want \"%s\"", k, t, k_corpus_templates[k]);
    }
    tn_drain_destroy(d);
}

int main(void)
{
    g_rng = 4242; /* the sequence the tests were written against */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_templates),    cmocka_unit_test(test_similarity),
        cmocka_unit_test(test_masks),        cmocka_unit_test(test_max_clusters),
        cmocka_unit_test(test_max_children), cmocka_unit_test(test_max_tokens),
        cmocka_unit_test(test_rates),        cmocka_unit_test(test_rate_gap),
        cmocka_unit_test(test_enomem),       cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
