/* silence.h - silences: for a while, signals that match some labels are not correlated.
 *
 *   silence service=checkout,alertname=~"High.*" 2h      (chat)
 *   POST /api/v1/silences {"matchers": "...", "duration": "2h", "by": "alice"}
 *
 * A silenced signal is still stored (its stream entry stays) but no rule sees it, so it opens
 * and joins no incident and starts no runbook. Matchers (chatops/args.h) see the signal's labels
 * and, where no label has the name, its fields kind, name, service and severity. Silences live
 * in memory: a restart forgets them (the audit stream keeps who set which). */
#ifndef TN_CHATOPS_SILENCE_H
#define TN_CHATOPS_SILENCE_H

#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct tn_silences tn_silences_t;

/* NULL on allocation failure. */
tn_silences_t *tn_silences_create(void);
void tn_silences_destroy(tn_silences_t *s);

/* Adds a silence of matchers (text, borrowed) from now_ms for for_ms. by and comment borrowed
 * (comment may be NULL). Its id is written into id (size >= 32). 0, TN_EINVAL (bad matchers:
 * err says why), TN_ETOOBIG (256 silences active), TN_ENOMEM. */
int tn_silences_add(tn_silences_t *s, const char *matchers, int64_t now_ms, int64_t for_ms,
                    const char *by, const char *comment, char *id, tn_buf_t *err);

/* Ends a silence now. 0 or TN_ENOTFOUND. */
int tn_silences_expire(tn_silences_t *s, const char *id);

/* The id (borrowed, valid until the next change) of the first active silence matching signal
 * (borrowed), or NULL. A match is counted on the silence. */
const char *tn_silences_match(tn_silences_t *s, const json_t *signal, int64_t now_ms);

/* A new JSON list of the active silences (caller owns it): {id, matchers, by, comment,
 * created_ms, ends_ms, matched}; NULL on allocation failure. */
json_t *tn_silences_json(tn_silences_t *s, int64_t now_ms);

size_t tn_silences_active(tn_silences_t *s, int64_t now_ms);

#endif
