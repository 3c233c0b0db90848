/* targets.c - request bodies, delivery and retry rules, masking for tocsin.notify. */
#include "notify/targets.h"

#include "core/error.h"

#include <math.h>
#include <string.h>
#include <time.h>

const char *tn_notify_kind_name(tn_notify_kind_t kind)
{
    switch (kind) {
    case TN_NOTIFY_SLACK:
        return "slack";
    case TN_NOTIFY_MATTERMOST:
        return "mattermost";
    case TN_NOTIFY_PAGERDUTY:
        return "pagerduty";
    case TN_NOTIFY_WEBHOOK:
        return "webhook";
    }
    return "?";
}

/* ---- field checks ----------------------------------------------------------------------- */

typedef enum { F_STRING, F_BOOL, F_OBJECT, F_LIST, F_ANY } ftype_t;

typedef struct {
    const char *name;
    ftype_t type;
} field_t;

static const char *type_word(ftype_t t)
{
    switch (t) {
    case F_STRING:
        return "a string";
    case F_BOOL:
        return "a boolean";
    case F_OBJECT:
        return "a table with string keys";
    case F_LIST:
        return "a list";
    case F_ANY:
        break;
    }
    return "a value";
}

static const field_t *find_field(const field_t *spec, const char *name)
{
    for (; spec->name; spec++)
        if (strcmp(spec->name, name) == 0) return spec;
    return NULL;
}

/* A list field given as {} (an empty Lua table converts to an empty object) is an empty list. */
static int type_ok(ftype_t t, const json_t *v)
{
    switch (t) {
    case F_STRING:
        return json_is_string(v);
    case F_BOOL:
        return json_is_boolean(v);
    case F_OBJECT:
        return json_is_object(v);
    case F_LIST:
        return json_is_array(v) || (json_is_object(v) && json_object_size(v) == 0);
    case F_ANY:
        return 1;
    }
    return 0;
}

/* Checks every field of obj against spec (names and types). 0, or TN_EINVAL with err set. */
static int check_fields(const char *what, const json_t *obj, const field_t *spec, tn_buf_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        const field_t *f = find_field(spec, k);
        if (!f) {
            tn_buf_printf(err, "%s: unknown field '%s'", what, k);
            return TN_EINVAL;
        }
        if (!type_ok(f->type, v)) {
            tn_buf_printf(err, "%s: '%s' must be %s", what, k, type_word(f->type));
            return TN_EINVAL;
        }
    }
    return 0;
}

/* Copies v into out under name; an empty object standing for an empty list becomes []. */
static int put(json_t *out, const char *name, json_t *v, ftype_t t)
{
    json_t *c = (t == F_LIST && json_is_object(v)) ? json_array() : json_deep_copy(v);
    if (!c) return TN_ENOMEM;
    return json_object_set_new(out, name, c) ? TN_ENOMEM : 0;
}

/* Copies every field of spec present in in, in the order of spec. */
static int copy_fields(json_t *out, const json_t *in, const field_t *spec)
{
    for (; spec->name; spec++) {
        json_t *v = json_object_get(in, spec->name);
        if (v && put(out, spec->name, v, spec->type)) return TN_ENOMEM;
    }
    return 0;
}

static size_t list_len(const json_t *v)
{
    return json_is_array(v) ? json_array_size(v) : 0;
}

/* Every element of the list at name (if present) must be an object. */
static int check_list_of_objects(const char *what, const json_t *in, const char *name,
                                 tn_buf_t *err)
{
    json_t *l = json_object_get(in, name);
    for (size_t i = 0; i < list_len(l); i++) {
        if (!json_is_object(json_array_get(l, i))) {
            tn_buf_printf(err, "%s: '%s[%zu]' must be a table", what, name, i + 1);
            return TN_EINVAL;
        }
    }
    return 0;
}

/* Characters (UTF-8 code points) of a JSON string: the documented limits count characters. */
static size_t utf8_chars(const json_t *v)
{
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t len = json_string_length(v), n = 0;
    for (size_t i = 0; s && i < len; i++)
        if ((s[i] & 0xC0) != 0x80) n++;
    return n;
}

static json_t *nomem(tn_buf_t *err, json_t *out)
{
    json_decref(out);
    tn_buf_puts(err, "out of memory");
    return NULL;
}

/* ---- Slack ------------------------------------------------------------------------------ */

#define SLACK_MAX_BLOCKS 50

static const field_t g_slack[] = {
    {"text", F_STRING},       {"blocks", F_LIST},     {"attachments", F_LIST},
    {"thread_ts", F_STRING},  {"mrkdwn", F_BOOL},     {"unfurl_links", F_BOOL},
    {"unfurl_media", F_BOOL}, {"channel", F_STRING},  {"username", F_STRING},
    {"icon_emoji", F_STRING}, {"icon_url", F_STRING}, {NULL, 0},
};

json_t *tn_notify_slack_body(const json_t *fields, tn_buf_t *err)
{
    if (!json_is_object(fields)) {
        tn_buf_puts(err, "slack: the message must be a table");
        return NULL;
    }
    if (check_fields("slack", fields, g_slack, err)) return NULL;
    if (check_list_of_objects("slack", fields, "blocks", err) ||
        check_list_of_objects("slack", fields, "attachments", err))
        return NULL;
    size_t nblocks = list_len(json_object_get(fields, "blocks"));
    if (nblocks > SLACK_MAX_BLOCKS) {
        tn_buf_printf(err, "slack: 'blocks' has %zu blocks, at most %d are allowed", nblocks,
                      SLACK_MAX_BLOCKS);
        return NULL;
    }
    if (!json_object_get(fields, "text") && !nblocks &&
        !list_len(json_object_get(fields, "attachments"))) {
        tn_buf_puts(err, "slack: 'text' is required (or 'blocks' / 'attachments')");
        return NULL;
    }
    json_t *out = json_object();
    if (!out || copy_fields(out, fields, g_slack)) return nomem(err, out);
    return out;
}

/* ---- Mattermost ------------------------------------------------------------------------- */

static const field_t g_mattermost[] = {
    {"text", F_STRING},       {"channel", F_STRING},
    {"username", F_STRING},   {"icon_url", F_STRING},
    {"icon_emoji", F_STRING}, {"attachments", F_LIST},
    {"type", F_STRING},       {"props", F_OBJECT},
    {"priority", F_OBJECT},   {NULL, 0},
};

json_t *tn_notify_mattermost_body(const json_t *fields, tn_buf_t *err)
{
    if (!json_is_object(fields)) {
        tn_buf_puts(err, "mattermost: the message must be a table");
        return NULL;
    }
    if (check_fields("mattermost", fields, g_mattermost, err)) return NULL;
    if (check_list_of_objects("mattermost", fields, "attachments", err)) return NULL;
    if (!json_object_get(fields, "text") && !list_len(json_object_get(fields, "attachments"))) {
        tn_buf_puts(err, "mattermost: 'text' is required unless 'attachments' are given");
        return NULL;
    }
    json_t *out = json_object();
    if (!out || copy_fields(out, fields, g_mattermost)) return nomem(err, out);
    return out;
}

/* ---- PagerDuty -------------------------------------------------------------------------- */

#define PD_MAX_DEDUP 255
#define PD_MAX_SUMMARY 1024

/* The event's own fields, then those that only a trigger carries. timestamp is F_ANY: a string
 * or a number of milliseconds, checked below. */
static const field_t g_pd_event[] = {
    {"action", F_STRING},
    {"routing_key", F_STRING},
    {"dedup_key", F_STRING},
    {NULL, 0},
};
static const field_t g_pd_payload[] = {
    {"summary", F_STRING},  {"timestamp", F_ANY},         {"source", F_STRING},
    {"severity", F_STRING}, {"component", F_STRING},      {"group", F_STRING},
    {"class", F_STRING},    {"custom_details", F_OBJECT}, {NULL, 0},
};
static const field_t g_pd_context[] = {
    {"images", F_LIST},       {"links", F_LIST}, {"client", F_STRING},
    {"client_url", F_STRING}, {NULL, 0},
};
static const field_t g_pd_image[] = {
    {"src", F_STRING}, {"href", F_STRING}, {"alt", F_STRING}, {NULL, 0}};
static const field_t g_pd_link[] = {{"href", F_STRING}, {"text", F_STRING}, {NULL, 0}};

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0) return 1;
    return 0;
}

/* A required, non-empty string field of in. */
static const char *need_string(const json_t *in, const char *name, const char *why, tn_buf_t *err)
{
    json_t *v = json_object_get(in, name);
    const char *s = json_string_value(v);
    if (!s || !*s) {
        tn_buf_printf(err, "pagerduty: '%s' is required%s", name, why);
        return NULL;
    }
    return s;
}

/* Checks every element of the list name (images or links) against spec, with required. */
static int check_pd_list(const json_t *in, const char *name, const field_t *spec,
                         const char *required, tn_buf_t *err)
{
    json_t *l = json_object_get(in, name);
    for (size_t i = 0; i < list_len(l); i++) {
        json_t *e = json_array_get(l, i);
        char what[48];
        snprintf(what, sizeof what, "pagerduty: %s[%zu]", name, i + 1);
        if (!json_is_object(e)) {
            tn_buf_printf(err, "%s must be a table", what);
            return TN_EINVAL;
        }
        if (check_fields(what, e, spec, err)) return TN_EINVAL;
        const char *r = json_string_value(json_object_get(e, required));
        if (!r || !*r) {
            tn_buf_printf(err, "%s: '%s' is required", what, required);
            return TN_EINVAL;
        }
        if (strcmp(name, "images") == 0 && strncmp(r, "https://", 8) != 0) {
            tn_buf_printf(err,
                          "%s: 'src' must be an https:// URL (PagerDuty only shows images "
                          "served over HTTPS)",
                          what);
            return TN_EINVAL;
        }
    }
    return 0;
}

/* timestamp: ISO 8601 text as given, or milliseconds since the epoch formatted as
 * YYYY-MM-DDTHH:MM:SS.mmmZ. A new reference, or NULL with err set. */
static json_t *pd_timestamp(const json_t *v, tn_buf_t *err)
{
    if (json_is_string(v)) {
        if (!json_string_length(v)) {
            tn_buf_puts(err, "pagerduty: 'timestamp' must not be empty");
            return NULL;
        }
        return json_deep_copy(v);
    }
    if (!json_is_number(v)) {
        tn_buf_puts(err, "pagerduty: 'timestamp' must be ISO 8601 text or milliseconds since "
                         "the epoch");
        return NULL;
    }
    double ms = json_number_value(v);
    if (!(ms >= 0 && ms < 253402300800000.0)) { /* before year 10000 */
        tn_buf_puts(err, "pagerduty: 'timestamp' is out of range");
        return NULL;
    }
    int64_t ims = (int64_t)ms;
    time_t secs = (time_t)(ims / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        tn_buf_puts(err, "pagerduty: 'timestamp' is out of range");
        return NULL;
    }
    char s[64];
    snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ims % 1000));
    json_t *r = json_string(s);
    if (!r) tn_buf_puts(err, "out of memory");
    return r;
}

json_t *tn_notify_pagerduty_body(const json_t *fields, tn_buf_t *err)
{
    static const char *const actions[] = {"trigger", "acknowledge", "resolve", NULL};
    static const char *const severities[] = {"critical", "error", "warning", "info", NULL};

    if (!json_is_object(fields)) {
        tn_buf_puts(err, "pagerduty: the event must be a table");
        return NULL;
    }
    /* names and types first, so a typo is reported as such */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fields, k, v)
    {
        const field_t *f = find_field(g_pd_event, k);
        if (!f) f = find_field(g_pd_payload, k);
        if (!f) f = find_field(g_pd_context, k);
        if (!f) {
            tn_buf_printf(err, "pagerduty: unknown field '%s'", k);
            return NULL;
        }
        if (!type_ok(f->type, v)) {
            tn_buf_printf(err, "pagerduty: '%s' must be %s", k, type_word(f->type));
            return NULL;
        }
    }

    json_t *av = json_object_get(fields, "action");
    const char *action = json_string_value(av);
    if (!action) {
        tn_buf_puts(err, "pagerduty: 'action' is required (\"trigger\", \"acknowledge\" or "
                         "\"resolve\")");
        return NULL;
    }
    if (!one_of(action, actions)) {
        tn_buf_printf(err,
                      "pagerduty: 'action' must be \"trigger\", \"acknowledge\" or \"resolve\", "
                      "not \"%.40s\"",
                      action);
        return NULL;
    }
    int trigger = strcmp(action, "trigger") == 0;
    if (!need_string(fields, "routing_key", " (the integration key)", err)) return NULL;

    json_t *dv = json_object_get(fields, "dedup_key");
    if (dv) {
        size_t n = utf8_chars(dv);
        if (n == 0 || n > PD_MAX_DEDUP) {
            tn_buf_printf(err, "pagerduty: 'dedup_key' must have 1 to %d characters, not %zu",
                          PD_MAX_DEDUP, n);
            return NULL;
        }
    } else if (!trigger) {
        tn_buf_printf(err, "pagerduty: 'dedup_key' is required to %s an alert", action);
        return NULL;
    }

    if (!trigger) {
        /* acknowledge and resolve name an alert by its dedup_key and carry nothing else */
        const field_t *sets[] = {g_pd_payload, g_pd_context};
        for (int s = 0; s < 2; s++)
            for (const field_t *f = sets[s]; f->name; f++)
                if (json_object_get(fields, f->name)) {
                    tn_buf_printf(err, "pagerduty: '%s' is only for trigger events, not %s",
                                  f->name, action);
                    return NULL;
                }
    } else {
        const char *summary = need_string(fields, "summary", " for a trigger", err);
        if (!summary) return NULL;
        size_t n = utf8_chars(json_object_get(fields, "summary"));
        if (n > PD_MAX_SUMMARY) {
            tn_buf_printf(err, "pagerduty: 'summary' has %zu characters, at most %d are allowed", n,
                          PD_MAX_SUMMARY);
            return NULL;
        }
        if (!need_string(fields, "source", " for a trigger (the affected system)", err))
            return NULL;
        const char *sev = need_string(fields, "severity",
                                      " for a trigger (critical, error, warning or info)", err);
        if (!sev) return NULL;
        if (!one_of(sev, severities)) {
            tn_buf_printf(err,
                          "pagerduty: 'severity' must be \"critical\", \"error\", \"warning\" or "
                          "\"info\", not \"%.40s\"",
                          sev);
            return NULL;
        }
        if (check_pd_list(fields, "images", g_pd_image, "src", err) ||
            check_pd_list(fields, "links", g_pd_link, "href", err))
            return NULL;
    }

    /* the body, in the order of PagerDuty's example */
    json_t *out = json_object();
    if (!out) return nomem(err, NULL);
    if (trigger) {
        json_t *payload = json_object();
        if (!payload || json_object_set_new(out, "payload", payload)) return nomem(err, out);
        for (const field_t *f = g_pd_payload; f->name; f++) {
            json_t *fv = json_object_get(fields, f->name);
            if (!fv) continue;
            if (strcmp(f->name, "timestamp") == 0) {
                json_t *ts = pd_timestamp(fv, err);
                if (!ts) {
                    json_decref(out);
                    return NULL;
                }
                if (json_object_set_new(payload, "timestamp", ts)) return nomem(err, out);
            } else if (put(payload, f->name, fv, f->type)) {
                return nomem(err, out);
            }
        }
    }
    if (put(out, "routing_key", json_object_get(fields, "routing_key"), F_STRING) ||
        (dv && put(out, "dedup_key", dv, F_STRING)))
        return nomem(err, out);
    if (trigger) {
        json_t *fv;
        if ((fv = json_object_get(fields, "images")) && put(out, "images", fv, F_LIST))
            return nomem(err, out);
        if ((fv = json_object_get(fields, "links")) && put(out, "links", fv, F_LIST))
            return nomem(err, out);
    }
    if (put(out, "event_action", av, F_STRING)) return nomem(err, out);
    if (trigger) {
        json_t *fv;
        if ((fv = json_object_get(fields, "client")) && put(out, "client", fv, F_STRING))
            return nomem(err, out);
        if ((fv = json_object_get(fields, "client_url")) && put(out, "client_url", fv, F_STRING))
            return nomem(err, out);
    }
    return out;
}

/* ---- delivery and retries --------------------------------------------------------------- */

int tn_notify_accepted(tn_notify_kind_t kind, long status, const char *body, size_t len)
{
    switch (kind) {
    case TN_NOTIFY_SLACK:
    case TN_NOTIFY_MATTERMOST:
        /* "ok", tolerating a trailing newline */
        while (len && (body[len - 1] == '\n' || body[len - 1] == '\r'))
            len--;
        return status == 200 && len == 2 && memcmp(body, "ok", 2) == 0;
    case TN_NOTIFY_PAGERDUTY:
    case TN_NOTIFY_WEBHOOK:
        return status >= 200 && status < 300;
    }
    return 0;
}

int tn_notify_retryable(int error, long status)
{
    if (error) return error == TN_ECLOSED || error == TN_ETIMEDOUT || error == TN_EIO;
    return status == 429 || (status >= 500 && status < 600);
}

uint64_t tn_notify_backoff_ms(unsigned n, uint64_t base_ms, uint64_t max_ms, double u)
{
    if (n == 0) n = 1;
    double d = (double)base_ms * ldexp(1.0, (int)(n > 60 ? 60 : n - 1));
    if (d > (double)max_ms) d = (double)max_ms;
    if (!(u >= 0 && u < 1)) u = 0.5;
    d *= 0.8 + 0.4 * u;
    if (d > (double)max_ms) d = (double)max_ms;
    return (uint64_t)llround(d);
}

/* ---- masking ---------------------------------------------------------------------------- */

int tn_notify_mask_url(const char *url, tn_buf_t *out)
{
    const char *sep = strstr(url, "://");
    if (!sep) return tn_buf_puts(out, "***");
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    /* credentials (user:password@) never leave */
    const char *at = memchr(auth, '@', alen);
    int rc = tn_buf_append(out, url, (size_t)(auth - url));
    if (at) {
        rc |= tn_buf_puts(out, "***@");
        rc |= tn_buf_append(out, at + 1, alen - (size_t)(at + 1 - auth));
    } else {
        rc |= tn_buf_append(out, auth, alen);
    }
    size_t plen = *rest == '/' ? strcspn(rest, "?#") : 0;
    if (plen > 1) rc |= tn_buf_puts(out, "/***");
    if (rest[plen] == '?') rc |= tn_buf_puts(out, "?***");
    return rc ? TN_ENOMEM : 0;
}

int tn_notify_mask_key(const char *key, tn_buf_t *out)
{
    size_t n = strlen(key);
    int rc = tn_buf_puts(out, "***");
    if (n >= 16) rc |= tn_buf_append(out, key + n - 4, 4);
    return rc ? TN_ENOMEM : 0;
}
