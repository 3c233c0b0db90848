/* catalog.h - what scripts are loaded, in which version, and what went wrong with them.
 * Fed by the layers that load scripts (correlate, automate) and shown at GET /api/scripts.
 * One entry per file path. Single-threaded. */
#ifndef TN_SCRIPT_CATALOG_H
#define TN_SCRIPT_CATALOG_H

#include <stdint.h>

#include "core/buf.h"

typedef struct tn_catalog tn_catalog_t;

/* Called when a reload of a file fails, with the message (for notification hooks). */
typedef void (*tn_catalog_error_fn)(void *arg, const char *path, const char *kind,
                                    const char *error);

tn_catalog_t *tn_catalog_create(void);
void tn_catalog_destroy(tn_catalog_t *c);
void tn_catalog_on_error(tn_catalog_t *c, tn_catalog_error_fn fn, void *arg);

/* A file's new version is active (its version number increments; the error is cleared). */
void tn_catalog_loaded(tn_catalog_t *c, const char *path, const char *kind, const char *name);
/* A file failed to load: the previous version, if any, stays active. error copied. */
void tn_catalog_failed(tn_catalog_t *c, const char *path, const char *kind, const char *error);
/* A file was removed: its entry goes. */
void tn_catalog_removed(tn_catalog_t *c, const char *path);

/* Appends a JSON array: [{"path","kind","name","version","active","loaded_ms","error",
 * "error_ms"}] sorted by path. */
int tn_catalog_json(const tn_catalog_t *c, tn_buf_t *out);

/* Version of the active code of path (0 when none). */
unsigned tn_catalog_version(const tn_catalog_t *c, const char *path);
uint64_t tn_catalog_failures(const tn_catalog_t *c);

#endif
