/* libFuzzer target: the lines of `tocsin replay` files (engine/replay.c): each line is checked
 * (type, time); an alert line is turned into the input event and into the signal the rules
 * see. Invariants: an accepted line has a type and (but for topology) a time after 1970; an
 * alert that builds has a fingerprint and gives a signal of kind "alert" whose labels are an
 * object. See fuzz_json_samples.c for how to build and run. */
#include "engine/replay.h"
#include "engine/engine_internal.h"
#include "core/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) tn_log_set_level(TN_LOG_ERROR), quiet = 1;
    const char *s = (const char *)data;
    size_t off = 0;
    tn_buf_t err;
    tn_buf_init(&err);
    while (off < size) { /* line by line, as the reader does */
        const char *nl = memchr(s + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (s + off)) : size - off;
        int64_t ts = 0;
        int type = -1;
        tn_buf_reset(&err);
        if (tn_replay_check_line(s + off, len, &ts, &type, &err) == 0) {
            if (type < 0 || type > 5 || (type != 5 && ts <= 0)) __builtin_trap();
            if (type == 0) {
                json_t *o = json_loadb(s + off, len, 0, NULL);
                tn_event_t ev;
                char fp[17];
                tn_buf_reset(&err);
                if (o && tn_replay_alert_event(o, ts, &ev, fp, &err) == 0) {
                    if (!ev.fingerprint || !*ev.fingerprint) __builtin_trap();
                    json_t *sig = tn_engine__alert_signal(&ev, "x");
                    if (sig && (strcmp(json_string_value(json_object_get(sig, "kind")), "alert") ||
                                !json_is_object(json_object_get(sig, "labels"))))
                        __builtin_trap();
                    json_decref(sig);
                    tn_replay_alert_event_free(&ev);
                }
                json_decref(o);
            }
        } else if (!err.len) {
            __builtin_trap(); /* a refusal always says why */
        }
        off += len + 1;
    }
    tn_buf_deinit(&err);
    return 0;
}
