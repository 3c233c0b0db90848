/* conf.h - loads a Lua configuration file into a tn_config_t.
 *
 * The file runs in a sandbox (no I/O; os.getenv is available so settings can come from the
 * environment) and must return a table. Keys are checked against the schema in core/config.h:
 * nested tables ({ http = { port = 8080 } }) and dotted keys (["http.port"] = 8080) both work. */
#ifndef TN_SCRIPT_CONF_H
#define TN_SCRIPT_CONF_H

#include "core/buf.h"
#include "core/config.h"

/* 0 on success; otherwise TN_EIO / TN_EINVAL / TN_ESCRIPT with "file:line: message" or
 * "file: unknown key 'x.y'" in err. cfg keeps what was set before the error. */
int tn_config_load_lua(tn_config_t *cfg, const char *path, tn_buf_t *err);

#endif
