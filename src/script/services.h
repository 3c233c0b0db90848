/* services.h - what the engine lends to script bindings. All pointers borrowed; any may be NULL
 * (in `tocsin check`, nothing is running: bindings that need a missing service raise when
 * called, never when loaded). */
#ifndef TN_SCRIPT_SERVICES_H
#define TN_SCRIPT_SERVICES_H

#include <uv.h>

#include "core/config.h"
#include "notify/httpc.h"
#include "store/redis.h"
#include "store/streams.h"

typedef struct {
    uv_loop_t *loop;
    const tn_config_t *cfg;
    tn_httpc_t *httpc;
    tn_redis_t *redis;
    tn_streams_t *streams;
} tn_script_services_t;

#endif
