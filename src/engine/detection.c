/* detection.c - the detection policy files (scripts.detection_dir, rules/detection by default):
 * loaded and hot-reloaded like rules, merged in file-name order into one detect/policy.h policy
 * and swapped into the detector as a whole. A broken edit is refused by its validation and the
 * previous policy stays; series keep their state where their detectors did not change. */
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "core/error.h"
#include "core/log.h"
#include "script/detect_policy.h"

#include <lauxlib.h>
#include <string.h>

static int validate(void *owner, lua_State *L, const char *path, tn_buf_t *err)
{
    (void)owner;
    return tn_detect_policy_check(L, -1, path, err);
}

/* The detector's own options (from the configuration) as ensemble parameters. */
static void config_defaults(const tn_config_t *cfg, tn_ens_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->window = (uint32_t)cfg->zscore.window;
    p->threshold = cfg->zscore.threshold;
    p->min_samples = (uint32_t)cfg->zscore.min_samples;
}

void tn_engine__detection_apply(tn_engine_t *e)
{
    if (!e->detection || !e->detector) return;
    tn_scriptset_t *set = e->detection;
    size_t n = tn_scriptset_count(set);
    tn_ens_params_t d;
    config_defaults(e->cfg, &d);
    const char *from = NULL;
    tn_buf_t err;
    tn_buf_init(&err);
    for (size_t i = 0; i < n && !from; i++) { /* the first file (by name) that has defaults */
        tn_script_t *sc = tn_scriptset_at(set, i);
        lua_State *L = tn_lua_state(sc->lua);
        tn_script_push(sc);
        int present = 0;
        tn_ens_params_t fd;
        if (tn_detect_policy_defaults(L, -1, sc->path, &fd, &present, &err) == 0 && present) {
            d = fd;
            if (!d.window) d.window = (uint32_t)e->cfg->zscore.window;
            if (!d.min_samples) d.min_samples = (uint32_t)e->cfg->zscore.min_samples;
            if (d.threshold == 0) d.threshold = e->cfg->zscore.threshold;
            from = sc->path;
        }
        lua_pop(L, 1);
    }
    tn_policy_t *p = tn_policy_create(&d);
    int rc = p ? 0 : TN_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        tn_script_t *sc = tn_scriptset_at(set, i);
        lua_State *L = tn_lua_state(sc->lua);
        tn_script_push(sc);
        rc = tn_detect_policy_add(L, -1, sc->path, p, &err);
        lua_pop(L, 1);
    }
    if (rc) { /* each file passed validation alone, so this is memory */
        tn_log_error("detect", "detection policy not changed: %s",
                     err.data ? err.data : tn_strerror(rc));
    } else {
        tn_detector_set_policy(e->detector, p);
        tn_log_info("detect", "detection policy: %zu rule(s) from %zu file(s), defaults from %s",
                    tn_policy_rules(p), n, from ? from : "the configuration");
    }
    tn_policy_unref(p);
    tn_buf_deinit(&err);
}

int tn_engine__detection_start(tn_engine_t *e)
{
    tn_scriptset_opts_t o = {.kind = "detection",
                             .dir = e->cfg->scripts.detection_dir,
                             .cfg = e->cfg,
                             .catalog = e->catalog,
                             .owner = e,
                             .svc = &e->svc,
                             .validate = validate};
    e->detection = tn_scriptset_create(&o);
    if (!e->detection) return TN_ENOMEM;
    int failed = tn_scriptset_reload_all(e->detection);
    if (failed < 0) return failed;
    tn_engine__detection_apply(e);
    return 0;
}

int tn_engine_check_detection_file(const char *path, const tn_config_t *cfg, tn_buf_t *err)
{
    tn_scriptset_opts_t o = {
        .kind = "detection", .dir = cfg->scripts.detection_dir, .cfg = cfg, .validate = validate};
    return tn_scriptset_check_file(&o, path, err);
}

void tn_engine__detection_stop(tn_engine_t *e)
{
    tn_scriptset_destroy(e->detection);
    e->detection = NULL;
}
