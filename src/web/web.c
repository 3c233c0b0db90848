/* web.c - the built-in web page: the embedded assets over src/http. */
#include "web/web.h"
#include "core/error.h"

#include <string.h>

/* Scripts, styles, images and API calls from this origin only; no plugins, no framing by others,
 * no inline script or style. */
static const char csp[] = "default-src 'self'; base-uri 'self'; form-action 'self'; "
                          "frame-ancestors 'self'; object-src 'none'";

const tn_web_asset_t *tn_web_asset_find(const char *name)
{
    if (!name) return NULL;
    if (!*name) name = "index.html";
    for (size_t i = 0; i < tn_web_assets_count; i++)
        if (!strcmp(tn_web_assets[i].name, name)) return &tn_web_assets[i];
    return NULL;
}

bool tn_web_etag_matches(const char *inm, const char *etag)
{
    if (!inm || !etag) return false;
    size_t elen = strlen(etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p) break;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *tail = end;
        while (tail > p && (tail[-1] == ' ' || tail[-1] == '\t'))
            tail--;
        if (tail - p == 1 && *p == '*') return true;
        if (tail - p > 2 && p[0] == 'W' && p[1] == '/') p += 2; /* weak comparison (RFC 9110) */
        if ((size_t)(tail - p) == elen && !memcmp(p, etag, elen)) return true;
        p = end;
    }
    return false;
}

static void common_headers(tn_http_req_t *req)
{
    tn_http_resp_header(req, "X-Content-Type-Options", "nosniff");
    tn_http_resp_header(req, "Content-Security-Policy", csp);
    tn_http_resp_header(req, "Referrer-Policy", "no-referrer");
}

static void h_redirect(tn_http_req_t *req, void *data)
{
    common_headers(req);
    tn_http_resp_header(req, "Location", "/ui/");
    tn_http_resp_header(req, "Cache-Control", "no-cache");
    tn_http_respond(req, 302, "text/plain; charset=utf-8", "see /ui/\n", 9);
}

static void h_asset(tn_http_req_t *req, void *data)
{
    const char *name = tn_http_req_path(req) + strlen("/ui/");
    const tn_web_asset_t *a = tn_web_asset_find(name);
    common_headers(req);
    if (!a) {
        tn_http_respond_error(req, 404, "not_found", "no asset '%.80s' (the page is at /ui/)",
                              name);
        return;
    }
    tn_http_resp_header(req, "Cache-Control", "no-cache");
    tn_http_resp_header(req, "ETag", a->etag);
    if (tn_web_etag_matches(tn_http_req_header(req, "If-None-Match"), a->etag)) {
        tn_http_respond(req, 304, a->content_type, NULL, 0);
        return;
    }
    tn_http_respond(req, 200, a->content_type, (const char *)a->data, a->size);
}

int tn_web_routes(tn_http_server_t *http)
{
    int rc = 0;
    rc |= tn_http_server_route(http, "GET", "/", h_redirect, NULL);
    rc |= tn_http_server_route(http, "GET", "/ui", h_redirect, NULL);
    rc |= tn_http_server_route(http, "GET", "/ui/*", h_asset, NULL);
    return rc ? TN_ENOMEM : 0;
}
