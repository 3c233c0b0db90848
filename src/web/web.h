/* web.h - the built-in web page: index.html, app.js and style.css served from the binary.
 *
 *   GET /        302 to /ui/
 *   GET /ui      302 to /ui/
 *   GET /ui/     index.html
 *   GET /ui/NAME the asset NAME (src/web/assets/NAME), or 404 JSON
 *
 * Every answer has Cache-Control: no-cache, an ETag (a hash of the content; If-None-Match is
 * answered 304), X-Content-Type-Options: nosniff and a Content-Security-Policy that allows
 * 'self' only. HEAD works as GET without the body (src/http). The page reads the engine's JSON
 * API (docs/web.md). */
#ifndef TN_WEB_WEB_H
#define TN_WEB_WEB_H

#include "http/server.h"
#include "web/assets.h"

#include <stdbool.h>

/* Adds the routes above to http (borrowed). 0 or TN_ENOMEM. */
int tn_web_routes(tn_http_server_t *http);

/* The embedded asset with this name (e.g. "app.js"; "" is index.html), or NULL. */
const tn_web_asset_t *tn_web_asset_find(const char *name);

/* Whether an If-None-Match header value (a list of entity tags, weak or not, or "*") names
 * etag (quoted, as in tn_web_asset_t). NULL matches nothing. */
bool tn_web_etag_matches(const char *if_none_match, const char *etag);

#endif
