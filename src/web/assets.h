/* assets.h - the web page's files, compiled into the binary.
 *
 * The table is generated at build time from src/web/assets/ by cmake/embed_assets.cmake
 * (<build>/generated/web_assets.c): one entry per file, sorted by name. Nothing is read from
 * disk at run time. */
#ifndef TN_WEB_ASSETS_H
#define TN_WEB_ASSETS_H

#include <stddef.h>

typedef struct tn_web_asset {
    const char *name;          /* file name, e.g. "app.js" (no folders) */
    const unsigned char *data; /* size bytes, then a NUL not counted in size */
    size_t size;
    const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
    const char *etag;         /* quoted: "\"<first 20 hex digits of its SHA-256>\"" */
} tn_web_asset_t;

extern const tn_web_asset_t tn_web_assets[];
extern const size_t tn_web_assets_count;

#endif
