/* reload.c - hot reload of rules, runbooks, detection policies and the Lua library while the
 * engine runs.
 *
 * libuv fs_event watchers on the script directories note which files changed; a short debounce
 * timer (editors write files in several steps) then reloads each changed file on its own.
 * A change under lib_dir reloads every script, since any may require the library. SIGHUP and
 * POST /api/reload reload everything. Reloading runs on the loop thread between events, so
 * events arriving meanwhile wait in their queues (sockets, streams): none is dropped. */
#include "engine/engine_internal.h"
#include "core/error.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEBOUNCE_MS 20
#define MAX_WATCHES 8

typedef struct {
    uv_fs_event_t h;
    tn_engine_t *e;
    char *dir;
    int kind; /* 0 rules, 1 runbooks, 2 library, 3 detection policies, 4 chat commands */
} watch_t;

struct tn_reloader {
    tn_engine_t *e;
    watch_t *w[MAX_WATCHES];
    int nw;
    uv_timer_t *timer;
    char **pending; /* paths */
    int *pending_kind;
    size_t npending, cap;
    int all; /* reload everything */
    uv_signal_t *hup;
};

void tn_engine__reload_all(tn_engine_t *e, int *failed)
{
    int f = 0;
    tn_engine__load_topology(e);
    if (e->correlate) {
        int rc = tn_scriptset_reload_all(tn_correlate_rules(e->correlate));
        f += rc > 0 ? rc : 0;
    }
    if (e->automate) {
        int rc = tn_scriptset_reload_all(tn_automate_runbooks(e->automate));
        f += rc > 0 ? rc : 0;
    }
    if (e->chatops) {
        int rc = tn_chatops_load(e->chatops);
        f += rc > 0 ? rc : 0;
    }
    if (e->detection) {
        int rc = tn_scriptset_reload_all(e->detection);
        f += rc > 0 ? rc : 0;
        tn_engine__detection_apply(e);
    }
    if (e->correlate) tn_metric_set(e->m.rules, tn_correlate_rule_count(e->correlate));
    if (e->automate) tn_metric_set(e->m.runbooks, tn_automate_runbook_count(e->automate));
    tn_metric_inc(e->m.reloads);
    if (failed) *failed = f;
}

static void on_debounced(uv_timer_t *t)
{
    tn_reloader_t *r = t->data;
    tn_engine_t *e = r->e;
    if (e->stopping) return;
    if (r->all) {
        tn_log_info("reload", "library changed: reloading every rule and runbook");
        tn_engine__reload_all(e, NULL);
    } else {
        tn_buf_t err;
        tn_buf_init(&err);
        int policies = 0;
        for (size_t i = 0; i < r->npending; i++) {
            int k = r->pending_kind[i];
            tn_scriptset_t *set = k == 0   ? tn_correlate_rules(e->correlate)
                                  : k == 1 ? tn_automate_runbooks(e->automate)
                                  : k == 4 ? (e->chatops ? tn_chatops_commands(e->chatops) : NULL)
                                           : e->detection;
            if (!set) continue;
            tn_buf_reset(&err);
            if (tn_scriptset_reload_file(set, r->pending[i], &err) == 0 && k == 3) policies = 1;
        }
        tn_buf_deinit(&err);
        if (policies) tn_engine__detection_apply(e);
        if (e->correlate) tn_metric_set(e->m.rules, tn_correlate_rule_count(e->correlate));
        if (e->automate) tn_metric_set(e->m.runbooks, tn_automate_runbook_count(e->automate));
        tn_metric_inc(e->m.reloads);
    }
    for (size_t i = 0; i < r->npending; i++)
        free(r->pending[i]);
    r->npending = 0;
    r->all = 0;
}

static void note(tn_reloader_t *r, int kind, const char *path)
{
    if (kind == 2) {
        r->all = 1;
    } else {
        for (size_t i = 0; i < r->npending; i++)
            if (strcmp(r->pending[i], path) == 0) goto arm;
        if (r->npending == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 16;
            char **p = realloc(r->pending, cap * sizeof *p);
            int *k = p ? realloc(r->pending_kind, cap * sizeof *k) : NULL;
            if (p) r->pending = p;
            if (!p || !k) {
                r->all = 1; /* cannot remember the file: reload everything */
                goto arm;
            }
            r->pending_kind = k;
            r->cap = cap;
        }
        char *copy = strdup(path);
        if (!copy) {
            r->all = 1;
            goto arm;
        }
        r->pending[r->npending] = copy;
        r->pending_kind[r->npending++] = kind;
    }
arm:
    uv_timer_start(r->timer, on_debounced, DEBOUNCE_MS, 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)events;
    watch_t *w = (watch_t *)h;
    tn_reloader_t *r = w->e->reloader;
    if (status < 0) {
        tn_log_warn("reload", "watching %s failed: %s", w->dir, uv_strerror(status));
        return;
    }
    if (!filename) { /* unknown file: be safe */
        r->all = 1;
        uv_timer_start(r->timer, on_debounced, DEBOUNCE_MS, 0);
        return;
    }
    size_t len = strlen(filename);
    if (len < 5 || strcmp(filename + len - 4, ".lua") != 0 || filename[0] == '.') return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", w->dir, filename);
    tn_log_debug("reload", "%s changed", path);
    note(r, w->kind, path);
}

static void on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    tn_engine_t *e = h->data;
    tn_log_info("reload", "SIGHUP: reloading every rule and runbook");
    int failed;
    tn_engine__reload_all(e, &failed);
    if (failed)
        tn_log_warn("reload", "%d file(s) failed; their previous versions stay active", failed);
}

static void free_handle(uv_handle_t *h);

static int add_watch(tn_reloader_t *r, const char *dir, int kind)
{
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode) || r->nw == MAX_WATCHES) return 0;
    watch_t *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return TN_ENOMEM;
    }
    w->e = r->e;
    w->kind = kind;
    uv_fs_event_init(r->e->loop, &w->h);
    int rc = uv_fs_event_start(&w->h, on_fs_event, dir, 0);
    if (rc) {
        tn_log_warn("reload", "cannot watch %s: %s (edits need SIGHUP or POST /api/reload)", dir,
                    uv_strerror(rc));
        uv_close((uv_handle_t *)&w->h, free_handle);
        return 0;
    }
    r->w[r->nw++] = w;
    tn_log_info("reload", "watching %s for changes", dir);
    return 0;
}

int tn_engine__reloader_start(tn_engine_t *e)
{
    tn_reloader_t *r = calloc(1, sizeof *r);
    if (!r) return TN_ENOMEM;
    r->e = e;
    e->reloader = r;
    uv_timer_t *timer = malloc(sizeof *timer);
    uv_signal_t *hup = malloc(sizeof *hup);
    if (!timer || !hup) {
        free(timer);
        free(hup);
        return TN_ENOMEM;
    }
    r->timer = timer;
    r->hup = hup;
    uv_timer_init(e->loop, r->timer);
    r->timer->data = r;
    uv_signal_init(e->loop, r->hup);
    r->hup->data = e;
    uv_signal_start(r->hup, on_hup, SIGHUP);
    const tn_config_t *cfg = e->cfg;
    char lib2[4096];
    snprintf(lib2, sizeof lib2, "%s/tocsin", cfg->scripts.lib_dir);
    if (add_watch(r, cfg->scripts.rules_dir, 0) || add_watch(r, cfg->scripts.runbooks_dir, 1) ||
        add_watch(r, cfg->scripts.lib_dir, 2) || add_watch(r, lib2, 2) ||
        add_watch(r, cfg->scripts.detection_dir, 3) || add_watch(r, cfg->scripts.commands_dir, 4))
        return TN_ENOMEM;
    return 0;
}

static void free_handle(uv_handle_t *h)
{
    if (h->type == UV_FS_EVENT) {
        watch_t *w = (watch_t *)h;
        free(w->dir);
    }
    free(h);
}

void tn_engine__reloader_stop(tn_engine_t *e)
{
    tn_reloader_t *r = e->reloader;
    if (!r) return;
    e->reloader = NULL;
    for (int i = 0; i < r->nw; i++) {
        watch_t *w = r->w[i];
        uv_fs_event_stop(&w->h);
        uv_close((uv_handle_t *)&w->h, free_handle);
    }
    if (r->timer) uv_close((uv_handle_t *)r->timer, free_handle);
    if (r->hup) uv_close((uv_handle_t *)r->hup, free_handle);
    for (size_t i = 0; i < r->npending; i++)
        free(r->pending[i]);
    free(r->pending);
    free(r->pending_kind);
    free(r);
}
