/* chatops.c - chat commands: parsing, access control, built-ins, Lua commands, follow-ups
 * (chatops.h). */
#include "chatops/chatops.h"
#include "automate/approval.h"
#include "chatops/args.h"
#include "correlate/bind_changes.h"
#include "correlate/incidents.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/sample.h"
#include "script/contract.h"
#include "script/convert.h"
#include "script/runtime.h"
#include "script/task.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FOLLOWUPS 256
#define MAX_LIST 20 /* lines of a list answer */

/* A run started from chat: where its news go. */
typedef struct followup {
    char run[40];
    char *platform, *url, *user;
    int64_t created_ms;
    struct followup *next;
} followup_t;

/* A Lua command that is running. */
typedef struct pcmd {
    tn_chatops_t *c;
    tn_task_t *task;
    tn_chat_reply_fn reply;
    void *arg;
    char *name, *platform, *user, *channel, *text, *role;
    struct pcmd *prev, *next;
} pcmd_t;

struct tn_chatops {
    tn_chatops_opts_t o;
    tn_scriptset_t *cmds;
    followup_t *fu;
    size_t nfu;
    pcmd_t *running;
    int destroying;
    /* the message whose run is being started: a run reports synchronously (an ask, its end)
     * before its start returns and its id is known */
    const tn_chat_msg_t *starting;
    int starting_finished;
    struct post *posts; /* messages in flight to response_urls */
    tn_metric_t *m_ok, *m_denied, *m_failed, *m_refused;
};

/* ---- roles ------------------------------------------------------------------------------ */

static int rank_of(const tn_conf_list_t *l, const char *name)
{
    if (!name || !*name) return -1;
    return tn_config_role_rank(tn_config_pair_get(l, name));
}

/* The rank of a user in a channel: the highest of what the user, the channel and the default
 * give; -1 for none. */
static int role_rank(const tn_chatops_t *c, const char *user, const char *user_id,
                     const char *channel, const char *channel_id)
{
    const tn_config_t *cfg = c->o.cfg;
    int r = tn_config_role_rank(cfg->chatops.default_role), v;
    if ((v = rank_of(&cfg->chatops.users, user)) > r) r = v;
    if ((v = rank_of(&cfg->chatops.users, user_id)) > r) r = v;
    if ((v = rank_of(&cfg->chatops.channels, channel)) > r) r = v;
    if ((v = rank_of(&cfg->chatops.channels, channel_id)) > r) r = v;
    return r;
}

const char *tn_chatops_role(const tn_chatops_t *c, const char *user, const char *user_id,
                            const char *channel, const char *channel_id)
{
    int r = role_rank(c, user, user_id, channel, channel_id);
    return r < 0 ? "none" : tn_config_roles[r];
}

static const char *rank_name(int r)
{
    return r < 0 || r > 3 ? "none" : tn_config_roles[r];
}

/* The rank a command needs: chatops.command_roles, else its own. */
static int command_rank(const tn_chatops_t *c, const char *name, int own)
{
    int r = tn_config_role_rank(tn_config_pair_get(&c->o.cfg->chatops.command_roles, name));
    return r >= 0 ? r : own;
}

/* The rank running (or approving) a runbook of this level needs. */
static int level_rank(const tn_chatops_t *c, int level)
{
    char k[12];
    snprintf(k, sizeof k, "%d", level);
    int r = tn_config_role_rank(tn_config_pair_get(&c->o.cfg->chatops.level_roles, k));
    return r >= 0 ? r : 3; /* a level nobody configured: admins only */
}

/* ---- audit ------------------------------------------------------------------------------ */

static void audit_written(int err, void *arg)
{
    (void)arg;
    if (err) tn_log_warn("chatops", "audit entry not written: %s", tn_strerror(err));
}

static void audit(tn_chatops_t *c, const char *event, const char *platform, const char *user,
                  const char *channel, const char *role, const char *command, const char *text,
                  const char *status, const char *detail)
{
    if (!c->o.streams) return;
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)tn_now_ms());
    char d[512], t[2048]; /* an entry per message, not a copy of whatever was pasted */
    snprintf(d, sizeof d, "%s", detail ? detail : "");
    snprintf(t, sizeof t, "%s", text ? text : "");
    const char *fields[] = {"event",    event,
                            "platform", platform ? platform : "",
                            "user",     user ? user : "",
                            "channel",  channel ? channel : "",
                            "role",     role ? role : "",
                            "command",  command ? command : "",
                            "text",     t,
                            "status",   status,
                            "detail",   d,
                            "ts",       ts};
    int rc = tn_streams_xadd(c->o.streams, tn_streams_key(c->o.streams, TN_STREAM_AUDIT), fields,
                             10, audit_written, NULL);
    if (rc) tn_log_warn("chatops", "audit entry not written: %s", tn_strerror(rc));
}

void tn_chatops_refused(tn_chatops_t *c, const char *platform, const char *reason, const char *peer)
{
    tn_metric_inc(c->m_refused);
    tn_log_warn("chatops", "%s request from %s refused: %s", platform, peer ? peer : "?", reason);
    audit(c, "chat.refused", platform, "", "", "", "", "", "refused", reason);
}

/* ---- answers ---------------------------------------------------------------------------- */

/* What one message is being answered with. */
typedef struct {
    tn_chatops_t *c;
    const tn_chat_msg_t *m;
    tn_args_t a;
    int rank; /* the sender's */
    const char *role;
    const char *status;
    const char *cmd;
    tn_buf_t out;
    json_t *blocks;
    int in_channel;
} ctx_t;

static void say(ctx_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(ctx_t *x, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    tn_buf_puts(&x->out, line);
}

static void fail(ctx_t *x, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(ctx_t *x, const char *status, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    tn_buf_reset(&x->out);
    tn_buf_puts(&x->out, line);
    x->status = status;
}

static void count(tn_chatops_t *c, const char *status)
{
    if (!strcmp(status, "ok"))
        tn_metric_inc(c->m_ok);
    else if (!strcmp(status, "denied"))
        tn_metric_inc(c->m_denied);
    else
        tn_metric_inc(c->m_failed);
}

/* Replaces the bytes of s that are not UTF-8 with '?' (answers quote what people typed, and
 * JSON strings must be UTF-8). */
static void utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = *p < 0x80             ? 0
                : (*p & 0xE0) == 0xC0 ? 1
                : (*p & 0xF0) == 0xE0 ? 2
                : (*p & 0xF8) == 0xF0 ? 3
                                      : -1;
        int ok = n >= 0 && !(n == 1 && *p < 0xC2) && !(n == 3 && *p > 0xF4);
        for (int k = 1; ok && k <= n; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (ok && n == 2) /* no overlong forms, no surrogates */
            ok = !(*p == 0xE0 && p[1] < 0xA0) && !(*p == 0xED && p[1] >= 0xA0);
        if (ok && n == 3) ok = !(*p == 0xF0 && p[1] < 0x90) && !(*p == 0xF4 && p[1] >= 0x90);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n + 1;
    }
}

/* Audits and sends the answer in x. */
static void finish(ctx_t *x, tn_chat_reply_fn reply, void *arg)
{
    if (x->out.data) utf8_clean(x->out.data);
    const char *text = x->out.data ? x->out.data : "";
    const tn_chat_msg_t *m = x->m;
    count(x->c, x->status);
    tn_log_info("chatops", "%s %s (%s) in %s: '%.200s' -> %s", m->platform, m->user, x->role,
                m->channel ? m->channel : "-", m->text ? m->text : "", x->status);
    audit(x->c, "chat.command", m->platform, m->user, m->channel, x->role, x->cmd, m->text,
          x->status, text);
    tn_chat_answer_t ans = {.status = x->status,
                            .command = x->cmd,
                            .text = text,
                            .blocks = x->blocks,
                            .in_channel = x->in_channel};
    reply(arg, &ans);
}

/* ---- built-in commands ------------------------------------------------------------------ */

typedef struct {
    const char *name, *usage, *help;
    int rank; /* needed: 0 viewer .. 3 admin; -2: decided by the command (runbook levels) */
    void (*fn)(ctx_t *x);
} builtin_t;

static const builtin_t g_builtins[];

static tn_incidents_t *incidents(ctx_t *x)
{
    return x->c->o.correlate ? tn_correlate_incidents(x->c->o.correlate) : NULL;
}

static void fmt_age(char *out, size_t n, int64_t ms)
{
    int64_t s = (tn_now_ms() - ms) / 1000;
    if (s < 0) s = 0;
    if (s < 120)
        snprintf(out, n, "%llds", (long long)s);
    else if (s < 7200)
        snprintf(out, n, "%lldm", (long long)(s / 60));
    else if (s < 172800)
        snprintf(out, n, "%lldh", (long long)(s / 3600));
    else
        snprintf(out, n, "%lldd", (long long)(s / 86400));
}

/* An incident by id or by its short number ("7", "#7": the id ending in "-7"). */
typedef struct {
    const char *ref;
    tn_incident_t *hit;
    int n;
} find_t;

static void find_one(tn_incident_t *inc, void *arg)
{
    find_t *f = arg;
    size_t il = strlen(inc->id), rl = strlen(f->ref);
    if (il > rl && inc->id[il - rl - 1] == '-' && !strcmp(inc->id + il - rl, f->ref)) {
        f->hit = inc;
        f->n++;
    }
}

static tn_incident_t *find_incident(ctx_t *x, const char *ref)
{
    tn_incidents_t *in = incidents(x);
    if (!in) {
        fail(x, "error", "incidents are not available (correlation is off)");
        return NULL;
    }
    if (*ref == '#') ref++;
    tn_incident_t *inc = tn_incidents_get(in, ref);
    if (inc) return inc;
    find_t f = {ref, NULL, 0};
    int digits = *ref != '\0';
    for (const char *p = ref; *p; p++)
        digits &= isdigit((unsigned char)*p) != 0;
    if (digits) tn_incidents_each(in, find_one, &f);
    if (f.n == 1) return f.hit;
    fail(x, "not_found", "no incident `%s` (see `incidents`)", ref);
    return NULL;
}

static void line_incident(ctx_t *x, const tn_incident_t *inc)
{
    char age[16];
    fmt_age(age, sizeof age, inc->opened_ms);
    say(x, "`%s` *%s* %s%s%s (%s, %u alert%s, %s ago)\n", inc->id, inc->severity,
        *inc->service ? inc->service : "", *inc->service ? ": " : "", inc->title, inc->state,
        inc->alerts, inc->alerts == 1 ? "" : "s", age);
}

typedef struct {
    ctx_t *x;
    int all, n;
} list_t;

static void list_one(tn_incident_t *inc, void *arg)
{
    list_t *l = arg;
    if (!l->all && (!strcmp(inc->state, "resolved") || !strcmp(inc->state, "merged"))) return;
    if (++l->n <= MAX_LIST) line_incident(l->x, inc);
}

static void b_incidents(ctx_t *x)
{
    tn_incidents_t *in = incidents(x);
    if (!in) {
        fail(x, "error", "incidents are not available (correlation is off)");
        return;
    }
    int all = x->a.n > 1 && !strcmp(x->a.v[1], "all");
    if (x->a.n > 2 || (x->a.n == 2 && !all)) {
        fail(x, "usage", "usage: `incidents [all]`");
        return;
    }
    list_t l = {x, all, 0};
    tn_incidents_each(in, list_one, &l);
    if (l.n == 0) say(x, all ? "No incidents.\n" : "No open incidents.\n");
    if (l.n > MAX_LIST) say(x, "... and %d more\n", l.n - MAX_LIST);
}

static void rca_lines(ctx_t *x, const tn_incident_t *inc, size_t max, int evidence)
{
    json_t *rca = inc->rca ? json_loads(inc->rca, 0, NULL) : NULL;
    size_t i;
    json_t *cand;
    json_array_foreach(rca, i, cand)
    {
        if (i >= max) break;
        const char *svc = json_string_value(json_object_get(cand, "service"));
        say(x, "%zu. *%s* (score %.3f)", i + 1, svc ? svc : "?",
            json_number_value(json_object_get(cand, "score")));
        json_t *ev = json_object_get(cand, "evidence");
        if (evidence && json_array_size(ev)) {
            say(x, ": ");
            size_t k;
            json_t *e;
            json_array_foreach(ev, k, e)
            {
                if (json_is_string(e)) say(x, "%s%s", k ? "; " : "", json_string_value(e));
            }
        } else if (evidence && json_is_object(ev)) {
            const char *key;
            json_t *e;
            int first = 1;
            say(x, ": ");
            json_object_foreach(ev, key, e)
            {
                char *v = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
                say(x, "%s%s %s", first ? "" : ", ", key, v ? v : "?");
                free(v);
                first = 0;
            }
        }
        say(x, "\n");
    }
    if (!json_array_size(rca)) say(x, "No root-cause ranking yet.\n");
    json_decref(rca);
}

static void b_show(ctx_t *x)
{
    if (x->a.n != 2) {
        fail(x, "usage", "usage: `show INCIDENT` (an id, or its number: `show 7`)");
        return;
    }
    tn_incident_t *inc = find_incident(x, x->a.v[1]);
    if (!inc) return;
    line_incident(x, inc);
    if (inc->nservices) {
        say(x, "Services:");
        for (size_t i = 0; i < inc->nservices; i++)
            say(x, "%s %s", i ? "," : "", inc->services[i]);
        say(x, "\n");
    }
    size_t from = inc->nmembers > 5 ? inc->nmembers - 5 : 0;
    if (inc->nmembers) say(x, "Latest signals:\n");
    for (size_t i = from; i < inc->nmembers; i++) {
        const tn_incident_member_t *mb = &inc->members[i];
        char age[16];
        fmt_age(age, sizeof age, mb->ts_ms);
        say(x, "  - %s %s %s%s(%s ago)\n", mb->kind, mb->name, mb->service, *mb->service ? " " : "",
            age);
    }
    say(x, "Probable causes:\n");
    rca_lines(x, inc, 3, 0);
    x->in_channel = 1;
}

static void b_explain(ctx_t *x)
{
    if (x->a.n != 2) {
        fail(x, "usage", "usage: `explain INCIDENT`");
        return;
    }
    tn_incident_t *inc = find_incident(x, x->a.v[1]);
    if (!inc) return;
    say(x, "Root-cause ranking of `%s` (%s), with the evidence:\n", inc->id, inc->title);
    rca_lines(x, inc, 5, 1);
    x->in_channel = 1;
}

/* The words from i on, joined by spaces, into out. */
static void rest(const tn_args_t *a, size_t i, tn_buf_t *out)
{
    for (; i < a->n; i++) {
        if (out->len) tn_buf_puts(out, " ");
        tn_buf_puts(out, a->v[i]);
    }
}

static void set_state(ctx_t *x, const char *state, const char *usage)
{
    if (x->a.n < 2) {
        fail(x, "usage", "usage: `%s`", usage);
        return;
    }
    tn_incident_t *inc = find_incident(x, x->a.v[1]);
    if (!inc) return;
    tn_buf_t note;
    tn_buf_init(&note);
    rest(&x->a, 2, &note);
    tn_buf_t by;
    tn_buf_init(&by);
    tn_buf_printf(&by, "%s (%s)", x->m->user, x->m->platform);
    const char *why = NULL;
    char id[40];
    snprintf(id, sizeof id, "%s", inc->id);
    int rc = tn_incidents_set_state(incidents(x), id, state, by.data ? by.data : x->m->user,
                                    note.data, tn_now_ms(), &inc, &why, NULL, NULL);
    if (rc == TN_EINVAL)
        fail(x, "error", "`%s` cannot become %s: %s", id, state, why ? why : "invalid transition");
    else if (rc)
        fail(x, "error", "`%s` not changed: %s", id, tn_strerror(rc));
    else {
        say(x, "`%s` is now *%s* (by %s)\n", id, state, x->m->user);
        x->in_channel = 1;
    }
    tn_buf_deinit(&note);
    tn_buf_deinit(&by);
}

static void b_ack(ctx_t *x)
{
    set_state(x, "acknowledged", "ack INCIDENT [note...]");
}

static void b_resolve(ctx_t *x)
{
    set_state(x, "resolved", "resolve INCIDENT [note...]");
}

static void add_followup(tn_chatops_t *c, const char *run, const tn_chat_msg_t *m)
{
    if (!m->response_url || !*m->response_url) return;
    if (c->nfu >= MAX_FOLLOWUPS) { /* drop the oldest */
        followup_t **pp = &c->fu;
        while ((*pp)->next)
            pp = &(*pp)->next;
        followup_t *old = *pp;
        *pp = NULL;
        free(old->platform);
        free(old->url);
        free(old->user);
        free(old);
        c->nfu--;
    }
    followup_t *f = calloc(1, sizeof *f);
    if (!f || !(f->platform = strdup(m->platform)) || !(f->url = strdup(m->response_url)) ||
        !(f->user = strdup(m->user))) {
        if (f) {
            free(f->platform);
            free(f->url);
        }
        free(f);
        tn_log_warn("chatops", "out of memory: run %s will not report back to chat", run);
        return;
    }
    snprintf(f->run, sizeof f->run, "%s", run);
    f->created_ms = tn_now_ms();
    f->next = c->fu;
    c->fu = f;
    c->nfu++;
}

static followup_t *followup_of(tn_chatops_t *c, const char *run)
{
    for (followup_t *f = c->fu; f; f = f->next)
        if (!strcmp(f->run, run)) return f;
    return NULL;
}

static void followup_drop(tn_chatops_t *c, const char *run)
{
    for (followup_t **pp = &c->fu; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->run, run)) {
            followup_t *f = *pp;
            *pp = f->next;
            free(f->platform);
            free(f->url);
            free(f->user);
            free(f);
            c->nfu--;
            return;
        }
}

static void b_run(ctx_t *x)
{
    tn_automate_t *a = x->c->o.automate;
    if (x->a.n < 2) {
        fail(x, "usage",
             "usage: `run RUNBOOK [name=value ...] [--for INCIDENT] [--dry-run]` (see `runbooks`)");
        return;
    }
    if (!a) {
        fail(x, "error", "automation is not running");
        return;
    }
    const char *book = x->a.v[1];
    int level = tn_automate_runbook_level(a, book);
    if (level < 0) {
        fail(x, "not_found", "no runbook `%s` (see `runbooks`)", book);
        return;
    }
    int dry = 0;
    json_t *params = json_object(), *incident = NULL;
    if (!params) {
        fail(x, "error", "out of memory");
        return;
    }
    for (size_t i = 2; i < x->a.n; i++) {
        const char *w = x->a.v[i];
        if (!strcmp(w, "--dry-run") || !strcmp(w, "--dry")) {
            dry = 1;
            continue;
        }
        if (!strcmp(w, "--for") && i + 1 < x->a.n && !incident) { /* the incident it is for */
            tn_incident_t *inc = find_incident(x, x->a.v[++i]);
            if (!inc || !(incident = tn_incident_to_json(inc))) {
                json_decref(params);
                if (inc) fail(x, "error", "out of memory");
                return;
            }
            continue;
        }
        const char *eq = strchr(w, '=');
        if (!eq || eq == w) {
            json_decref(params);
            json_decref(incident);
            fail(x, "usage",
                 "`%s`: parameters are name=value (quote values with spaces: \"reason=bad "
                 "deploy\")\nusage: `run RUNBOOK [name=value ...] [--for INCIDENT] [--dry-run]`",
                 w);
            return;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - w), w);
        json_object_set_new(params, name, json_string(eq + 1));
    }
    /* a dry run changes nothing: responders may; a real one needs the level's role */
    int need = dry ? 1 : level_rank(x->c, level);
    if (x->rank < need) {
        json_decref(params);
        json_decref(incident);
        fail(x, "denied", "%s: your role is %s; running level %d runbook `%s` needs %s%s",
             x->m->user, x->role, level, book, rank_name(need),
             dry ? "" : " (or try it with --dry-run)");
        return;
    }
    char run_id[40] = "";
    const char *why = NULL, *status = NULL;
    char origin[96];
    snprintf(origin, sizeof origin, "chatops:%s:%s", x->m->platform, x->m->user);
    /* a person with the level's role asked for it: that is the approval to start */
    tn_automate_req_t q = {.name = book,
                           .params = params,
                           .incident = incident,
                           .origin = origin,
                           .approved_by = dry ? NULL : x->m->user,
                           .dry_run = dry,
                           .text_params = 1};
    x->c->starting = x->m;
    x->c->starting_finished = 0;
    int rc = tn_automate_start_ex(a, &q, run_id, &why, &status);
    x->c->starting = NULL;
    json_decref(params);
    json_t *iid = json_object_get(incident, "id");
    char for_inc[64] = "";
    if (json_is_string(iid)) snprintf(for_inc, sizeof for_inc, " for `%s`", json_string_value(iid));
    json_decref(incident);
    if (rc == TN_EINVAL) {
        fail(x, "usage", "`%s`: %s", book, why ? why : "bad parameters");
        return;
    }
    if (rc == TN_EBUSY) {
        fail(x, "error", "`%s` not started (%s): %s", book, status ? status : "refused",
             why ? why : "refused by its policy");
        return;
    }
    if (rc) {
        fail(x, "error", "`%s` not started: %s", book, tn_strerror(rc));
        return;
    }
    say(x, "Started `%s` (level %d%s)%s as `%s` by %s.", book, level, dry ? ", dry run" : "",
        for_inc, run_id, x->m->user);
    if (x->m->response_url && *x->m->response_url)
        say(x, " I will report here when it needs approval and when it ends.");
    say(x, "\n");
    x->in_channel = 1;
    if (!x->c->starting_finished && !followup_of(x->c, run_id)) add_followup(x->c, run_id, x->m);
}

/* approve / deny RUN|APPROVAL [note...] */
static void decide(ctx_t *x, int approve)
{
    const char *verb = approve ? "approve" : "deny";
    if (x->a.n < 2) {
        fail(x, "usage",
             "usage: `%s RUN [note...]` (a run id, an approval id, or the run's number)", verb);
        return;
    }
    tn_approvals_t *ap = x->c->o.automate ? tn_automate_approvals(x->c->o.automate) : NULL;
    if (!ap) {
        fail(x, "error", "automation is not running");
        return;
    }
    char id[48], run[40], book[128];
    const char *ref = x->a.v[1];
    if (*ref == '#') ref++;
    int rc = tn_approvals_lookup(ap, ref, id, run, book); /* id, run id or run number */
    if (rc) {
        fail(x, "not_found", "nothing waits for approval as `%s` (see `runs`)", x->a.v[1]);
        return;
    }
    int level = tn_automate_runbook_level(x->c->o.automate, book);
    int need = level_rank(x->c, level < 1 ? 4 : level);
    if (x->rank < need) {
        fail(x, "denied", "%s: your role is %s; deciding on level %d runbook `%s` needs %s",
             x->m->user, x->role, level, book, rank_name(need));
        return;
    }
    tn_buf_t note;
    tn_buf_init(&note);
    rest(&x->a, 2, &note);
    if (!note.len) tn_buf_printf(&note, "via %s", x->m->platform);
    const char *why = NULL;
    rc = tn_approvals_decide(ap, id, approve, x->m->user, note.data, &why);
    tn_buf_deinit(&note);
    if (rc == TN_EINVAL)
        fail(x, "denied", "%s may not decide `%s`: %s", x->m->user, run, why ? why : "?");
    else if (rc)
        fail(x, "not_found", "`%s` no longer waits for approval", run);
    else {
        say(x, "%s `%s` (%s) by %s\n", approve ? "Approved" : "Denied", run, book, x->m->user);
        x->in_channel = 1;
    }
}

static void b_approve(ctx_t *x)
{
    decide(x, 1);
}

static void b_deny(ctx_t *x)
{
    decide(x, 0);
}

static void b_runs(ctx_t *x)
{
    long n = 10;
    char *end = NULL;
    if (x->a.n == 2) n = strtol(x->a.v[1], &end, 10);
    if (x->a.n > 2 || (end && (*end || n < 1 || n > 50))) {
        fail(x, "usage", "usage: `runs [N]` (N from 1 to 50, default 10)");
        return;
    }
    if (!x->c->o.automate) {
        fail(x, "error", "automation is not running");
        return;
    }
    json_t *arr = tn_automate_runs(x->c->o.automate, (size_t)n);
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        char age[16];
        fmt_age(age, sizeof age, (int64_t)json_integer_value(json_object_get(r, "started_ms")));
        const char *err = json_string_value(json_object_get(r, "error"));
        const char *reason = json_string_value(json_object_get(r, "reason"));
        say(x, "`%s` %s: *%s*%s, %s ago, by %s%s%.200s\n",
            json_string_value(json_object_get(r, "run")),
            json_string_value(json_object_get(r, "runbook")),
            json_string_value(json_object_get(r, "status")),
            json_is_true(json_object_get(r, "dry_run")) ? " (dry run)" : "", age,
            json_string_value(json_object_get(r, "origin")), err || reason ? ": " : "",
            err      ? err
            : reason ? reason
                     : "");
    }
    if (!json_array_size(arr)) say(x, "No runs yet.\n");
    json_decref(arr);
    tn_approvals_t *ap = tn_automate_approvals(x->c->o.automate);
    if (ap && tn_approvals_pending(ap))
        say(x, "%zu waiting for approval: `approve RUN` or `deny RUN`\n", tn_approvals_pending(ap));
}

static void b_runbooks(ctx_t *x)
{
    json_t *arr = x->c->o.automate ? tn_automate_runbooks_json(x->c->o.automate) : NULL;
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b)
    {
        int level = (int)json_integer_value(json_object_get(b, "level"));
        say(x, "`%s` (level %d, needs %s): %s", json_string_value(json_object_get(b, "name")),
            level, rank_name(level_rank(x->c, level)),
            json_string_value(json_object_get(b, "description")));
        json_t *ps = json_object_get(b, "params");
        size_t k;
        json_t *p;
        json_array_foreach(ps, k, p)
        {
            say(x, "%s%s=", k ? " " : " [", json_string_value(p));
        }
        say(x, "%s\n", json_array_size(ps) ? "]" : "");
    }
    if (!json_array_size(arr)) say(x, "No runbooks loaded.\n");
    json_decref(arr);
}

static void b_silence(ctx_t *x)
{
    tn_silences_t *s = x->c->o.silences;
    if (x->a.n < 3) {
        fail(x, "usage",
             "usage: `silence MATCHERS DURATION [comment...]`, e.g. `silence "
             "service=checkout,severity!=critical 2h deploy in progress`");
        return;
    }
    if (!s) {
        fail(x, "error", "silences are not available");
        return;
    }
    tn_buf_t err;
    tn_buf_init(&err);
    int64_t ms;
    if (tn_args_duration(x->a.v[2], &ms, &err)) {
        fail(x, "usage", "`%s`: %s\nusage: `silence MATCHERS DURATION [comment...]`", x->a.v[2],
             err.data ? err.data : "bad duration");
        tn_buf_deinit(&err);
        return;
    }
    tn_buf_t comment;
    tn_buf_init(&comment);
    rest(&x->a, 3, &comment);
    char id[32];
    int rc = tn_silences_add(s, x->a.v[1], tn_now_ms(), ms, x->m->user, comment.data, id, &err);
    tn_buf_deinit(&comment);
    if (rc == TN_EINVAL)
        fail(x, "usage", "`%s`: %s\nusage: `silence MATCHERS DURATION [comment...]`", x->a.v[1],
             err.data ? err.data : "bad matchers");
    else if (rc)
        fail(x, "error", "not silenced: %s", err.data ? err.data : tn_strerror(rc));
    else {
        say(x, "Silenced `%s` for %s as `%s` (by %s). `unsilence %s` ends it.\n", x->a.v[1],
            x->a.v[2], id, x->m->user, id);
        x->in_channel = 1;
    }
    tn_buf_deinit(&err);
}

static void b_silences(ctx_t *x)
{
    json_t *arr = x->c->o.silences ? tn_silences_json(x->c->o.silences, tn_now_ms()) : NULL;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        int64_t left = (json_integer_value(json_object_get(o, "ends_ms")) - tn_now_ms()) / 1000;
        say(x, "`%s` %s, %lldm left, by %s, %lld matched%s%s\n",
            json_string_value(json_object_get(o, "id")),
            json_string_value(json_object_get(o, "matchers")), (long long)(left / 60),
            json_string_value(json_object_get(o, "by")),
            (long long)json_integer_value(json_object_get(o, "matched")),
            *json_string_value(json_object_get(o, "comment")) ? ": " : "",
            json_string_value(json_object_get(o, "comment")));
    }
    if (!json_array_size(arr)) say(x, "No active silences.\n");
    json_decref(arr);
}

static void b_unsilence(ctx_t *x)
{
    if (x->a.n != 2) {
        fail(x, "usage", "usage: `unsilence SILENCE` (see `silences`)");
        return;
    }
    if (!x->c->o.silences || tn_silences_expire(x->c->o.silences, x->a.v[1]))
        fail(x, "not_found", "no active silence `%s` (see `silences`)", x->a.v[1]);
    else {
        say(x, "Silence `%s` ended by %s.\n", x->a.v[1], x->m->user);
        x->in_channel = 1;
    }
}

static void b_reload(ctx_t *x)
{
    if (x->a.n != 1) {
        fail(x, "usage", "usage: `reload`");
        return;
    }
    if (!x->c->o.reload) {
        fail(x, "error", "reload is not available here");
        return;
    }
    int failed = 0;
    x->c->o.reload(x->c->o.arg, &failed);
    if (failed)
        say(x,
            "Reloaded; %d file(s) failed and keep their previous version: see `status` or "
            "GET /api/scripts.\n",
            failed);
    else
        say(x, "Reloaded every rule, runbook and command.\n");
    if (failed) x->status = "error";
}

static void b_status(ctx_t *x)
{
    if (x->c->o.status) x->c->o.status(x->c->o.arg, &x->out);
    tn_incidents_t *in = incidents(x);
    tn_approvals_t *ap = x->c->o.automate ? tn_automate_approvals(x->c->o.automate) : NULL;
    say(x,
        "%zu open incident(s), %u run(s) in progress, %zu waiting for approval, %zu "
        "silence(s), %zu Lua command(s).\n",
        in ? tn_incidents_open_count(in) : 0,
        x->c->o.automate ? tn_automate_running(x->c->o.automate) : 0,
        ap ? tn_approvals_pending(ap) : 0,
        x->c->o.silences ? tn_silences_active(x->c->o.silences, tn_now_ms()) : 0,
        tn_scriptset_count(x->c->cmds));
    if (x->c->o.catalog && tn_catalog_failures(x->c->o.catalog))
        say(x, "Some scripts failed to load: see GET /api/scripts.\n");
}

static void b_whoami(ctx_t *x)
{
    say(x, "%s on %s%s%s: role *%s*\n", x->m->user, x->m->platform,
        x->m->channel && *x->m->channel ? " in " : "", x->m->channel ? x->m->channel : "", x->role);
}

static void b_help(ctx_t *x);

static const builtin_t g_builtins[] = {
    {"help", "help [COMMAND]", "the commands, or one command's usage", 0, b_help},
    {"status", "status", "the engine's health and what is going on", 0, b_status},
    {"incidents", "incidents [all]", "open incidents (all: resolved ones too)", 0, b_incidents},
    {"show", "show INCIDENT", "an incident: services, latest signals, probable causes", 0, b_show},
    {"explain", "explain INCIDENT", "the root-cause ranking with its evidence", 0, b_explain},
    {"ack", "ack INCIDENT [note...]", "acknowledge an incident", 1, b_ack},
    {"resolve", "resolve INCIDENT [note...]", "resolve an incident", 1, b_resolve},
    {"runbooks", "runbooks", "the runbooks, their levels and parameters", 0, b_runbooks},
    {"run", "run RUNBOOK [name=value ...] [--for INCIDENT] [--dry-run]",
     "start a runbook, for an incident (the role its level needs; a dry run needs responder)", -2,
     b_run},
    {"approve", "approve RUN [note...]", "approve a run waiting for approval", -2, b_approve},
    {"deny", "deny RUN [note...]", "deny a run waiting for approval", -2, b_deny},
    {"runs", "runs [N]", "the latest runbook runs", 0, b_runs},
    {"silence", "silence MATCHERS DURATION [comment...]",
     "stop correlating matching signals for a while (e.g. service=api,severity!=critical 2h)", 1,
     b_silence},
    {"silences", "silences", "the active silences", 0, b_silences},
    {"unsilence", "unsilence SILENCE", "end a silence now", 1, b_unsilence},
    {"reload", "reload", "reload every rule, runbook and command", 3, b_reload},
    {"whoami", "whoami", "your name and role", 0, b_whoami},
    {NULL, NULL, NULL, 0, NULL},
};

static const builtin_t *builtin(const char *name)
{
    for (const builtin_t *b = g_builtins; b->name; b++)
        if (!strcmp(b->name, name)) return b;
    return NULL;
}

/* A Lua command's help fields (usage built from its args). */
static void lua_usage(lua_State *L, const char *name, tn_buf_t *out)
{
    tn_buf_puts(out, name);
    lua_getfield(L, -1, "args");
    lua_Integer n = lua_istable(L, -1) ? (lua_Integer)lua_rawlen(L, -1) : 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "required");
        const char *an = lua_tostring(L, -2);
        tn_buf_printf(out, lua_toboolean(L, -1) ? " %s" : " [%s]", an ? an : "?");
        lua_pop(L, 3);
    }
    lua_pop(L, 1);
}

static int lua_rank(lua_State *L)
{
    lua_getfield(L, -1, "role");
    int r = tn_config_role_rank(lua_tostring(L, -1));
    lua_pop(L, 1);
    return r < 0 ? 0 : r;
}

static void b_help(ctx_t *x)
{
    tn_chatops_t *c = x->c;
    if (x->a.n > 2) {
        fail(x, "usage", "usage: `help [COMMAND]`");
        return;
    }
    if (x->a.n == 2) {
        const builtin_t *b = builtin(x->a.v[1]);
        tn_script_t *sc = b ? NULL : tn_scriptset_find(c->cmds, x->a.v[1]);
        if (b) {
            say(x, "`%s`: %s (needs %s)\n", b->usage, b->help,
                b->rank == -2 ? "the role of the runbook's level"
                              : rank_name(command_rank(c, b->name, b->rank)));
        } else if (sc) {
            lua_State *L = tn_lua_state(sc->lua);
            tn_script_push(sc);
            tn_buf_t u;
            tn_buf_init(&u);
            lua_usage(L, sc->name, &u);
            lua_getfield(L, -1, "help");
            say(x, "`%s`: %s (needs %s)\n", u.data ? u.data : sc->name,
                lua_isstring(L, -1) ? lua_tostring(L, -1) : "",
                rank_name(command_rank(c, sc->name, lua_rank(L))));
            lua_pop(L, 2);
            tn_buf_deinit(&u);
        } else {
            fail(x, "unknown", "no command `%s`: `help` lists them", x->a.v[1]);
        }
        return;
    }
    say(x, "Commands (your role: %s):\n", x->role);
    for (const builtin_t *b = g_builtins; b->name; b++)
        say(x, "`%s` - %s\n", b->usage, b->help);
    json_t *books = c->o.automate ? tn_automate_runbooks_json(c->o.automate) : NULL;
    size_t bi;
    json_t *bk;
    json_array_foreach(books, bi, bk)
    {
        json_t *cmd = json_object_get(bk, "command");
        if (json_is_string(cmd))
            say(x, "`%s [name=value ...] [--for INCIDENT] [--dry-run]` - run `%s` (level %d): %s\n",
                json_string_value(cmd), json_string_value(json_object_get(bk, "name")),
                (int)json_integer_value(json_object_get(bk, "level")),
                json_string_value(json_object_get(bk, "description")));
    }
    json_decref(books);
    size_t n = tn_scriptset_count(c->cmds);
    for (size_t i = 0; i < n; i++) {
        tn_script_t *sc = tn_scriptset_at(c->cmds, i);
        lua_State *L = tn_lua_state(sc->lua);
        tn_script_push(sc);
        tn_buf_t u;
        tn_buf_init(&u);
        lua_usage(L, sc->name, &u);
        lua_getfield(L, -1, "help");
        say(x, "`%s` - %s\n", u.data ? u.data : sc->name,
            lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
        lua_pop(L, 2);
        tn_buf_deinit(&u);
    }
}

/* ---- commands written in Lua ------------------------------------------------------------ */

static const tn_field_spec_t g_command_spec[] = {
    {"name", LUA_TSTRING, 1, "the command's name: what people type first"},
    {"help", LUA_TSTRING, 0, "one line for `help`"},
    {"role", LUA_TSTRING, 0, "the role it needs: viewer (default), responder, operator, admin"},
    {"args", LUA_TTABLE, 0,
     "{ { name =, type = string|integer|number|boolean, required =, default =, rest = } }"},
    {"run", LUA_TFUNCTION, 1, "function(ctx, args) -> text, or { text =, in_channel = }"},
    {NULL, 0, 0, NULL},
};

static const char *const g_arg_types[] = {"string", "integer", "number", "boolean", NULL};

static int validate_command(void *owner, lua_State *L, const char *path, tn_buf_t *err)
{
    (void)owner;
    int rc = tn_contract_check(L, -1, g_command_spec, path, "command", err);
    if (rc) return rc;
    lua_getfield(L, -1, "name");
    const char *name = lua_tostring(L, -1);
    int ok = name && islower((unsigned char)name[0]) && strlen(name) <= 48;
    for (const char *p = name; ok && *p; p++)
        ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '_';
    if (!ok) {
        tn_buf_printf(err, "%s:%d: command name '%s' must be lower case letters, digits, - and _",
                      path, tn_contract_line_of(path, "name"), name ? name : "");
        lua_pop(L, 1);
        return TN_EINVAL;
    }
    if (builtin(name)) {
        tn_buf_printf(err, "%s:%d: command '%s' is a built-in command", path,
                      tn_contract_line_of(path, "name"), name);
        lua_pop(L, 1);
        return TN_EINVAL;
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "role");
    if (!lua_isnil(L, -1) && tn_config_role_rank(lua_tostring(L, -1)) < 0) {
        tn_buf_printf(err, "%s:%d: command role '%s' must be viewer, responder, operator or admin",
                      path, tn_contract_line_of(path, "role"), lua_tostring(L, -1));
        lua_pop(L, 1);
        return TN_EINVAL;
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "args");
    lua_Integer n = lua_istable(L, -1) ? (lua_Integer)lua_rawlen(L, -1) : 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "type");
        int tok = lua_isnil(L, -1);
        for (int k = 0; !tok && g_arg_types[k]; k++)
            tok = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), g_arg_types[k]);
        if (!lua_istable(L, -3) || lua_type(L, -2) != LUA_TSTRING || !tok) {
            tn_buf_printf(err,
                          "%s:%d: command args[%lld] must be { name = \"...\", type = string, "
                          "integer, number or boolean, ... }",
                          path, tn_contract_line_of(path, "args"), (long long)i);
            lua_pop(L, 4);
            return TN_EINVAL;
        }
        lua_pop(L, 3);
    }
    lua_pop(L, 1);
    return 0;
}

static tn_chatops_t *chatops_up(lua_State *L, const char *what)
{
    tn_chatops_t *c = lua_touserdata(L, lua_upvalueindex(1));
    if (!c) luaL_error(L, "%s: chatops is not running here", what);
    return c;
}

/* chatops.command{...}: the definition, returned as it is (checked when the file loads). */
static int l_command(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    return 1;
}

static void push_incident(lua_State *L, const tn_incident_t *inc)
{
    json_t *j = tn_incident_to_json(inc);
    if (!j) luaL_error(L, "out of memory");
    tn_lua_push_json(L, j);
    json_decref(j);
}

typedef struct {
    lua_State *L;
    int all;
    lua_Integer n;
} push_list_t;

static void push_one(tn_incident_t *inc, void *arg)
{
    push_list_t *p = arg;
    if (!p->all && (!strcmp(inc->state, "resolved") || !strcmp(inc->state, "merged"))) return;
    push_incident(p->L, inc);
    lua_rawseti(p->L, -2, ++p->n);
}

/* chatops.incidents([all]) -> list of incident tables (open ones unless all) */
static int l_incidents(lua_State *L)
{
    tn_chatops_t *c = chatops_up(L, "chatops.incidents");
    int all = lua_toboolean(L, 1);
    lua_newtable(L);
    if (!c->o.correlate) return 1;
    push_list_t p = {L, all, 0};
    tn_incidents_each(tn_correlate_incidents(c->o.correlate), push_one, &p);
    return 1;
}

/* chatops.incident(id) -> incident table or nil */
static int l_incident(lua_State *L)
{
    tn_chatops_t *c = chatops_up(L, "chatops.incident");
    const char *id = luaL_checkstring(L, 1);
    tn_incident_t *inc =
        c->o.correlate ? tn_incidents_get(tn_correlate_incidents(c->o.correlate), id) : NULL;
    if (!inc) {
        lua_pushnil(L);
        return 1;
    }
    push_incident(L, inc);
    return 1;
}

/* chatops.runs([n]) -> the latest runs, newest first */
static int l_runs(lua_State *L)
{
    tn_chatops_t *c = chatops_up(L, "chatops.runs");
    lua_Integer n = luaL_optinteger(L, 1, 10);
    luaL_argcheck(L, n >= 1 && n <= 1000, 1, "from 1 to 1000");
    json_t *arr = c->o.automate ? tn_automate_runs(c->o.automate, (size_t)n) : NULL;
    if (!arr) arr = json_array();
    tn_lua_push_json(L, arr);
    json_decref(arr);
    return 1;
}

static int open_chatops(lua_State *L)
{
    static const luaL_Reg fns[] = {{"command", l_command},
                                   {"incidents", l_incidents},
                                   {"incident", l_incident},
                                   {"runs", l_runs},
                                   {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, fns, 1);
    return 1;
}

static int setup_command(void *owner, tn_lua_t *lua)
{
    tn_chatops_t *c = owner;
    tn_changes_t *ch = c && c->o.correlate ? tn_correlate_changes(c->o.correlate) : NULL;
    return tn_lua_preload(lua, "tocsin.chatops", open_chatops, owner) ||
                   tn_lua_preload(lua, "tocsin.changes", tn_correlate_open_changes, ch)
               ? TN_ENOMEM
               : 0;
}

/* Protected: (command table, tn_args_t lud) -> the args table per its declaration, or raises
 * the usage problem (a plain message). */
static int build_args(lua_State *L)
{
    const tn_args_t *a = lua_touserdata(L, 2);
    lua_newtable(L);
    int out = lua_gettop(L);
    lua_getfield(L, 1, "args");
    int decl = lua_gettop(L);
    lua_Integer nd = lua_istable(L, decl) ? (lua_Integer)lua_rawlen(L, decl) : 0;
    lua_Integer next = 1; /* the next positional declaration */
    for (size_t i = 1; i < a->n; i++) {
        const char *w = a->v[i], *eq = strchr(w, '=');
        lua_Integer target = 0;
        const char *val = w;
        for (lua_Integer d = 1; d <= nd && !target; d++) { /* name=value or --flag */
            lua_rawgeti(L, decl, d);
            lua_getfield(L, -1, "name");
            lua_getfield(L, -2, "type");
            const char *an = lua_tostring(L, -2), *ty = lua_tostring(L, -1);
            size_t al = strlen(an);
            if (eq && (size_t)(eq - w) == al && !strncmp(w, an, al)) {
                target = d;
                val = eq + 1;
            } else if (w[0] == '-' && w[1] == '-' && !strcmp(w + 2, an) && ty &&
                       !strcmp(ty, "boolean")) {
                target = d;
                val = "true";
            }
            lua_pop(L, 3);
        }
        while (!target && next <= nd) { /* positional: the next one not given yet */
            lua_rawgeti(L, decl, next);
            lua_getfield(L, -1, "name");
            lua_rawget(L, out);
            int given = !lua_isnil(L, -1);
            lua_pop(L, 2);
            if (!given) target = next;
            next++;
        }
        if (!target) return luaL_error(L, "too many arguments (from `%s` on)", w);
        lua_rawgeti(L, decl, target);
        int spec = lua_gettop(L);
        lua_getfield(L, spec, "name");
        lua_getfield(L, spec, "type");
        lua_getfield(L, spec, "rest");
        const char *an = lua_tostring(L, spec + 1);
        const char *ty = lua_isstring(L, spec + 2) ? lua_tostring(L, spec + 2) : "string";
        if (lua_toboolean(L, spec + 3) && val == w) { /* the rest of the line */
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (; i < a->n; i++) {
                luaL_addstring(&b, a->v[i]);
                if (i + 1 < a->n) luaL_addchar(&b, ' ');
            }
            luaL_pushresult(&b);
        } else if (!strcmp(ty, "string")) {
            lua_pushstring(L, val);
        } else if (!strcmp(ty, "boolean")) {
            if (!strcmp(val, "true") || !strcmp(val, "yes"))
                lua_pushboolean(L, 1);
            else if (!strcmp(val, "false") || !strcmp(val, "no"))
                lua_pushboolean(L, 0);
            else
                return luaL_error(L, "%s must be true or false, not `%s`", an, val);
        } else {
            size_t len = strlen(val);
            if (!len || lua_stringtonumber(L, val) != len + 1 ||
                (!strcmp(ty, "integer") && !lua_isinteger(L, -1)))
                return luaL_error(L, "%s must be %s, not `%s`", an,
                                  !strcmp(ty, "integer") ? "an integer" : "a number", val);
        }
        lua_setfield(L, out, an);
        lua_settop(L, decl);
    }
    for (lua_Integer d = 1; d <= nd; d++) { /* defaults, and what is missing */
        lua_rawgeti(L, decl, d);
        lua_getfield(L, -1, "name");
        const char *an = lua_tostring(L, -1);
        lua_getfield(L, out, an);
        if (lua_isnil(L, -1)) {
            lua_getfield(L, -3, "default");
            if (!lua_isnil(L, -1)) {
                lua_setfield(L, out, an);
            } else {
                lua_getfield(L, -4, "required");
                if (lua_toboolean(L, -1)) return luaL_error(L, "missing %s", an);
            }
        }
        lua_settop(L, decl);
    }
    lua_pop(L, 1);
    return 1;
}

static void pcmd_free(pcmd_t *p)
{
    free(p->name);
    free(p->platform);
    free(p->user);
    free(p->channel);
    free(p->text);
    free(p->role);
    free(p);
}

/* The first line of a script error, without the traceback. */
static void first_line(const char *err, char *out, size_t n)
{
    const char *nl = err ? strchr(err, '\n') : NULL;
    snprintf(out, n, "%.*s", nl ? (int)(nl - err) : (int)strlen(err ? err : ""), err ? err : "?");
}

static void on_cmd_done(tn_task_t *t, int status, const char *err, int nres, void *arg)
{
    pcmd_t *p = arg;
    tn_chatops_t *c = p->c;
    if (p->prev)
        p->prev->next = p->next;
    else
        c->running = p->next;
    if (p->next) p->next->prev = p->prev;
    tn_chat_msg_t m = {
        .platform = p->platform, .user = p->user, .channel = p->channel, .text = p->text};
    ctx_t x = {.c = c, .m = &m, .role = p->role, .status = "ok", .cmd = p->name};
    tn_buf_init(&x.out);
    if (status == 0) {
        lua_State *co = tn_task_thread(t);
        int idx = lua_gettop(co) - nres + 1;
        if (nres >= 1 && lua_type(co, idx) == LUA_TSTRING) {
            tn_buf_puts(&x.out, lua_tostring(co, idx));
        } else if (nres >= 1 && lua_istable(co, idx)) {
            lua_getfield(co, idx, "text");
            tn_buf_puts(&x.out, lua_isstring(co, -1) ? lua_tostring(co, -1) : "");
            lua_getfield(co, idx, "in_channel");
            x.in_channel = lua_toboolean(co, -1);
            lua_pop(co, 2);
        } else {
            tn_buf_puts(&x.out, "Done.");
        }
    } else if (status == TN_ECANCELED) {
        fail(&x, "error", "`%s` was canceled", p->name);
    } else {
        char line[512];
        first_line(err, line, sizeof line);
        tn_log_error("chatops", "command '%s' from %s failed: %s", p->name, p->user,
                     err ? err : "?");
        fail(&x, "error", "`%s` failed: %s", p->name, line);
    }
    finish(&x, p->reply, p->arg);
    tn_buf_deinit(&x.out);
    pcmd_free(p);
}

/* Runs a Lua command: answers now (usage errors, a command that never waits) or later. Returns
 * 1 when the answer is pending (x is then finished by on_cmd_done), 0 when x holds it. */
static int run_lua(ctx_t *x, tn_script_t *sc, tn_chat_reply_fn reply, void *arg)
{
    tn_chatops_t *c = x->c;
    lua_State *L = tn_lua_state(sc->lua);
    tn_script_push(sc);
    int need = command_rank(c, sc->name, lua_rank(L));
    lua_pop(L, 1);
    if (x->rank < need) {
        fail(x, "denied", "%s: your role is %s; `%s` needs %s", x->m->user, x->role, sc->name,
             rank_name(need));
        return 0;
    }
    lua_pushcfunction(L, build_args);
    tn_script_push(sc);
    lua_pushlightuserdata(L, &x->a);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        tn_buf_t u;
        tn_buf_init(&u);
        tn_script_push(sc);
        lua_usage(L, sc->name, &u);
        lua_pop(L, 1);
        fail(x, "usage", "%s\nusage: `%s`", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?",
             u.data ? u.data : sc->name);
        tn_buf_deinit(&u);
        lua_pop(L, 1);
        return 0;
    }
    int args = lua_gettop(L);
    tn_script_push(sc);
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    lua_createtable(L, 0, 10); /* ctx */
    const char *fields[][2] = {{"user", x->m->user},
                               {"user_id", x->m->user_id},
                               {"channel", x->m->channel},
                               {"channel_id", x->m->channel_id},
                               {"platform", x->m->platform},
                               {"text", x->m->text},
                               {"role", x->role},
                               {"command", sc->name}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        lua_pushstring(L, fields[i][1] ? fields[i][1] : "");
        lua_setfield(L, -2, fields[i][0]);
    }
    lua_createtable(L, (int)x->a.n, 0);
    for (size_t i = 1; i < x->a.n; i++) {
        lua_pushstring(L, x->a.v[i]);
        lua_rawseti(L, -2, (lua_Integer)i);
    }
    lua_setfield(L, -2, "argv");
    lua_pushvalue(L, args);
    lua_remove(L, args);
    pcmd_t *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(sc->name)) || !(p->platform = strdup(x->m->platform)) ||
        !(p->user = strdup(x->m->user)) ||
        !(p->channel = strdup(x->m->channel ? x->m->channel : "")) ||
        !(p->text = strdup(x->m->text ? x->m->text : "")) || !(p->role = strdup(x->role))) {
        if (p) pcmd_free(p);
        lua_pop(L, 3);
        fail(x, "error", "out of memory");
        return 0;
    }
    p->c = c;
    p->reply = reply;
    p->arg = arg;
    p->next = c->running;
    if (c->running) c->running->prev = p;
    c->running = p;
    tn_task_t *t = NULL;
    if (tn_task_spawn(sc->lua, 2, on_cmd_done, p, &t)) {
        c->running = p->next;
        if (p->next) p->next->prev = NULL;
        pcmd_free(p);
        fail(x, "error", "out of memory");
        return 0;
    }
    if (t) {
        p->task = t;
        if (c->o.svc && c->o.svc->loop)
            tn_task_set_deadline(t, c->o.svc->loop, (double)c->o.cfg->chatops.command_timeout_s,
                                 "the command took too long (chatops.command_timeout_s)");
    }
    return 1;
}

/* A runbook with a { command = NAME } trigger: `NAME args...` is `run RUNBOOK args...`. */
static void run_as_command(ctx_t *x, const char *book)
{
    tn_args_t saved = x->a;
    char **v = calloc(saved.n + 2, sizeof *v);
    if (!v) {
        fail(x, "error", "out of memory");
        return;
    }
    v[0] = "run";
    v[1] = (char *)book;
    for (size_t i = 1; i < saved.n; i++)
        v[i + 1] = saved.v[i];
    x->a = (tn_args_t){.v = v, .n = saved.n + 1};
    x->cmd = "run";
    b_run(x);
    x->a = saved;
    free(v);
}

/* ---- dispatch --------------------------------------------------------------------------- */

void tn_chatops_handle(tn_chatops_t *c, const tn_chat_msg_t *m, tn_chat_reply_fn reply, void *arg)
{
    ctx_t x = {.c = c, .m = m, .status = "ok", .cmd = ""};
    tn_buf_init(&x.out);
    x.rank = role_rank(c, m->user, m->user_id, m->channel, m->channel_id);
    x.role = rank_name(x.rank);
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_args_split(m->text ? m->text : "", 0, &x.a, &err);
    if (rc) {
        fail(&x, "usage", "%s", err.data ? err.data : tn_strerror(rc));
    } else if (x.rank < 0) {
        fail(&x, "denied",
             "%s: you have no role here (chatops.users, chatops.channels, chatops.default_role)",
             m->user);
    } else if (x.a.n == 0) {
        x.cmd = "help";
        b_help(&x);
    } else {
        const builtin_t *b = builtin(x.a.v[0]);
        tn_script_t *sc = b ? NULL : tn_scriptset_find(c->cmds, x.a.v[0]);
        const char *book =
            b || sc || !c->o.automate ? NULL : tn_automate_command_runbook(c->o.automate, x.a.v[0]);
        if (b) {
            x.cmd = b->name;
            int need = b->rank == -2 ? 0 : command_rank(c, b->name, b->rank);
            if (x.rank < need)
                fail(&x, "denied", "%s: your role is %s; `%s` needs %s", m->user, x.role, b->name,
                     rank_name(need));
            else
                b->fn(&x);
        } else if (sc) {
            x.cmd = sc->name;
            if (run_lua(&x, sc, reply, arg)) {
                tn_args_free(&x.a);
                tn_buf_deinit(&x.out);
                tn_buf_deinit(&err);
                return;
            }
        } else if (book) {
            run_as_command(&x, book);
        } else {
            fail(&x, "unknown", "no command `%.64s`: `help` lists them", x.a.v[0]);
        }
    }
    if (!x.out.data) tn_buf_puts(&x.out, "Done.");
    finish(&x, reply, arg);
    json_decref(x.blocks);
    tn_args_free(&x.a);
    tn_buf_deinit(&x.out);
    tn_buf_deinit(&err);
}

void tn_chatops_decide(tn_chatops_t *c, const tn_chat_msg_t *m, const char *approval_id,
                       int approve, tn_chat_reply_fn reply, void *arg)
{
    tn_buf_t line;
    tn_buf_init(&line);
    tn_buf_printf(&line, "%s \"%s\" via %s button", approve ? "approve" : "deny", approval_id,
                  m->platform);
    tn_chat_msg_t mm = *m;
    mm.text = line.data ? line.data : (approve ? "approve" : "deny");
    tn_chatops_handle(c, &mm, reply, arg);
    tn_buf_deinit(&line);
}

/* ---- follow-ups ------------------------------------------------------------------------- */

json_t *tn_chatops_slack_message(const tn_chat_answer_t *a)
{
    json_t *o = json_pack("{s:s, s:s}", "response_type", a->in_channel ? "in_channel" : "ephemeral",
                          "text", a->text ? a->text : "");
    if (o && a->blocks) json_object_set(o, "blocks", (json_t *)a->blocks);
    return o;
}

/* A message on its way to a response_url (cancelled and freed at destroy). */
typedef struct post {
    tn_chatops_t *c;
    char *url;
    uint64_t req;
    struct post *prev, *next;
} post_t;

static void post_unlink(tn_chatops_t *c, post_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        c->posts = p->next;
    if (p->next) p->next->prev = p->prev;
}

static void posted(const tn_httpc_result_t *res, void *arg)
{
    post_t *p = arg;
    post_unlink(p->c, p);
    if (res->error || res->status < 200 || res->status >= 300)
        tn_log_warn("chatops", "message to %s not delivered: %s (HTTP %ld)", p->url,
                    res->error ? res->error_text : "refused", res->status);
    free(p->url);
    free(p);
}

void tn_chatops_post(tn_chatops_t *c, const char *url, const json_t *msg)
{
    char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    post_t *p = body ? calloc(1, sizeof *p) : NULL;
    if (!p || !(p->url = strdup(url)) || !c->o.httpc) {
        tn_log_warn("chatops", "message to %s not sent: %s", url,
                    c->o.httpc ? "out of memory" : "no HTTP client");
        free(body);
        if (p) free(p->url);
        free(p);
        return;
    }
    p->c = c;
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    tn_httpc_req_t req = {.method = "POST",
                          .url = url,
                          .headers = headers,
                          .body = body,
                          .body_len = strlen(body),
                          .timeout_ms = (uint64_t)c->o.cfg->notify.timeout_ms};
    p->next = c->posts; /* linked first: the answer unlinks it */
    if (c->posts) c->posts->prev = p;
    c->posts = p;
    if (tn_httpc_request(c->o.httpc, &req, posted, p, &p->req)) {
        tn_log_warn("chatops", "message to %s not sent", url);
        post_unlink(c, p);
        free(p->url);
        free(p);
    }
    free(body);
}

/* Buttons for an approval (Slack blocks). */
static json_t *approval_blocks(const char *text, const char *approval_id)
{
    return json_pack("[{s:s, s:{s:s, s:s}}, {s:s, s:s, s:[{s:s, s:s, s:{s:s, s:s}, s:s, s:s}, "
                     "{s:s, s:s, s:{s:s, s:s}, s:s, s:s}]}]",
                     "type", "section", "text", "type", "mrkdwn", "text", text, "type", "actions",
                     "block_id", "tocsin_approval", "elements", "type", "button", "action_id",
                     "tocsin_approve", "text", "type", "plain_text", "text", "Approve", "style",
                     "primary", "value", approval_id, "type", "button", "action_id", "tocsin_deny",
                     "text", "type", "plain_text", "text", "Deny", "style", "danger", "value",
                     approval_id);
}

static void on_approval(void *arg, const char *event, const json_t *ask)
{
    tn_chatops_t *c = arg;
    const char *run = json_string_value(json_object_get(ask, "run"));
    followup_t *f = run ? followup_of(c, run) : NULL;
    if (!f && run && c->starting) { /* asked before its start returned */
        add_followup(c, run, c->starting);
        f = followup_of(c, run);
    }
    if (!f || c->destroying) return;
    const char *id = json_string_value(json_object_get(ask, "id"));
    const char *book = json_string_value(json_object_get(ask, "runbook"));
    tn_buf_t t;
    tn_buf_init(&t);
    json_t *blocks = NULL;
    if (!strcmp(event, "asked")) {
        int64_t left =
            (json_integer_value(json_object_get(ask, "deadline_ms")) - tn_now_ms()) / 1000;
        tn_buf_printf(&t,
                      "Run `%s` (%s) asks for approval: %s\nApprove or deny within %lld s, or "
                      "type `approve %s` / `deny %s`.",
                      run, book, json_string_value(json_object_get(ask, "reason")), (long long)left,
                      run, run);
        if (!strcmp(f->platform, "slack")) blocks = approval_blocks(t.data ? t.data : "", id);
    } else {
        tn_buf_printf(&t, "Approval for run `%s` (%s): *%s* by %s.", run, book,
                      json_string_value(json_object_get(ask, "decision")),
                      json_string_value(json_object_get(ask, "by")));
    }
    tn_chat_answer_t a = {
        .status = "ok", .text = t.data ? t.data : "", .blocks = blocks, .in_channel = 1};
    json_t *msg = tn_chatops_slack_message(&a);
    tn_chatops_post(c, f->url, msg);
    json_decref(msg);
    json_decref(blocks);
    tn_buf_deinit(&t);
}

static void on_run(void *arg, const char *event, const json_t *run)
{
    tn_chatops_t *c = arg;
    const char *id = json_string_value(json_object_get(run, "run"));
    followup_t *f = id ? followup_of(c, id) : NULL;
    if (!f && id && c->starting) { /* ended before its start returned */
        add_followup(c, id, c->starting);
        f = followup_of(c, id);
        c->starting_finished = 1;
    }
    if (!f || c->destroying || strcmp(event, "run.finished")) return;
    tn_buf_t t;
    tn_buf_init(&t);
    const char *st = json_string_value(json_object_get(run, "status"));
    tn_buf_printf(&t, "Run `%s` (%s%s) finished *%s* in %.1f s, %zu step(s)", id,
                  json_string_value(json_object_get(run, "runbook")),
                  json_is_true(json_object_get(run, "dry_run")) ? ", dry run" : "", st ? st : "?",
                  json_number_value(json_object_get(run, "ms")) / 1000.0,
                  json_array_size(json_object_get(run, "steps")));
    const char *err = json_string_value(json_object_get(run, "error"));
    json_t *out = json_object_get(run, "output");
    if (err) {
        char line[400];
        first_line(err, line, sizeof line);
        tn_buf_printf(&t, ": %s", line);
    } else if (json_is_string(out)) {
        tn_buf_printf(&t, ": %.1500s", json_string_value(out));
    } else if (out && !json_is_null(out)) {
        char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
        tn_buf_printf(&t, ": `%.1500s`", s ? s : "?");
        free(s);
    }
    if (t.data) utf8_clean(t.data); /* the run's output may be anything */
    tn_chat_answer_t a = {.status = "ok", .text = t.data ? t.data : "", .in_channel = 1};
    json_t *msg = tn_chatops_slack_message(&a);
    tn_chatops_post(c, f->url, msg);
    json_decref(msg);
    tn_buf_deinit(&t);
    followup_drop(c, id);
}

/* ---- lifetime --------------------------------------------------------------------------- */

static void command_opts(tn_chatops_t *c, const tn_config_t *cfg, tn_catalog_t *catalog,
                         const tn_script_services_t *svc, tn_scriptset_opts_t *o)
{
    *o = (tn_scriptset_opts_t){.kind = "command",
                               .dir = cfg->scripts.commands_dir,
                               .cfg = cfg,
                               .catalog = catalog,
                               .owner = c,
                               .svc = svc,
                               .setup = setup_command,
                               .validate = validate_command};
}

int tn_chatops_check_file(const char *path, const tn_config_t *cfg, tn_buf_t *err)
{
    tn_script_services_t svc = {.cfg = cfg};
    tn_scriptset_opts_t o;
    command_opts(NULL, cfg, NULL, &svc, &o);
    return tn_scriptset_check_file(&o, path, err);
}

tn_chatops_t *tn_chatops_create(const tn_chatops_opts_t *opts)
{
    tn_chatops_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->o = *opts;
    tn_scriptset_opts_t so;
    command_opts(c, opts->cfg, opts->catalog, opts->svc, &so);
    if (!(c->cmds = tn_scriptset_create(&so))) {
        free(c);
        return NULL;
    }
    const char *help = "Chat commands answered, by result.";
    c->m_ok = tn_metrics_counter("tocsin_chatops_commands_total", "result=\"ok\"", help);
    c->m_denied = tn_metrics_counter("tocsin_chatops_commands_total", "result=\"denied\"", help);
    c->m_failed = tn_metrics_counter("tocsin_chatops_commands_total", "result=\"failed\"", help);
    c->m_refused = tn_metrics_counter("tocsin_chatops_refused_total", NULL,
                                      "Chat requests refused (bad signature, token, timestamp).");
    if (opts->automate) {
        tn_automate_set_listener(opts->automate, on_run, c);
        tn_approvals_t *ap = tn_automate_approvals(opts->automate);
        if (ap) tn_approvals_set_listener(ap, on_approval, c);
    }
    return c;
}

const tn_config_t *tn_chatops_config(const tn_chatops_t *c)
{
    return c->o.cfg;
}

uv_loop_t *tn_chatops_loop(const tn_chatops_t *c)
{
    return c->o.svc ? c->o.svc->loop : NULL;
}

int tn_chatops_load(tn_chatops_t *c)
{
    return tn_scriptset_reload_all(c->cmds);
}

tn_scriptset_t *tn_chatops_commands(tn_chatops_t *c)
{
    return c->cmds;
}

void tn_chatops_destroy(tn_chatops_t *c)
{
    if (!c) return;
    c->destroying = 1;
    if (c->o.automate) {
        tn_automate_set_listener(c->o.automate, NULL, NULL);
        tn_approvals_t *ap = tn_automate_approvals(c->o.automate);
        if (ap) tn_approvals_set_listener(ap, NULL, NULL);
    }
    while (c->running)
        tn_task_cancel(c->running->task); /* on_cmd_done unlinks and answers */
    while (c->fu)
        followup_drop(c, c->fu->run);
    while (c->posts) { /* their callbacks will not run */
        struct post *p = c->posts;
        tn_httpc_cancel(c->o.httpc, p->req);
        post_unlink(c, p);
        free(p->url);
        free(p);
    }
    tn_scriptset_destroy(c->cmds);
    free(c);
}
