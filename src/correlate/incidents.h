/* incidents.h - open incidents, kept in memory and written through to Redis.
 *
 * An incident is identified by its fingerprint while open: opening an incident whose
 * fingerprint is already open attaches the alert to it instead (deduplication). Each change is
 * written as an entry of the incidents stream and into the hash <prefix>:incident:<id>. */
#ifndef TN_CORRELATE_INCIDENTS_H
#define TN_CORRELATE_INCIDENTS_H

#include <jansson.h>
#include <stdint.h>

#include "core/hmap.h"
#include "store/streams.h"

typedef struct {
    char id[40];
    char *fingerprint;
    char *title;
    char *service;  /* may be "" */
    char *severity; /* "critical", "warning", "info" */
    char *state;    /* "open" */
    int64_t opened_ms;
    int64_t updated_ms;
    unsigned alerts;
} tn_incident_t;

typedef struct tn_incidents tn_incidents_t;

/* Completion of the Redis writes of one change: err 0 or the first error. */
typedef void (*tn_incidents_cb)(int err, void *arg);

/* streams borrowed. NULL on allocation failure. */
tn_incidents_t *tn_incidents_create(tn_streams_t *streams);
void tn_incidents_destroy(tn_incidents_t *in);

typedef struct {
    const char *fingerprint; /* required */
    const char *title;       /* required */
    const char *service;     /* optional */
    const char *severity;    /* optional, default "warning" */
    const json_t *alert;     /* optional: the alert/anomaly that caused this (borrowed) */
    int64_t now_ms;
} tn_incident_open_t;

/* Opens a new incident or attaches to the open one with the same fingerprint (*created tells).
 * *out is borrowed (owned by the registry). The writes are started; cb (may be NULL) is called
 * when they finish, unless this returns an error. 0, TN_EINVAL or TN_ENOMEM. */
int tn_incidents_open(tn_incidents_t *in, const tn_incident_open_t *req, tn_incident_t **out,
                      int *created, tn_incidents_cb cb, void *arg);

/* Borrowed, or NULL. */
tn_incident_t *tn_incidents_get(tn_incidents_t *in, const char *id);
/* The open incident with this fingerprint (borrowed), or NULL. */
tn_incident_t *tn_incidents_find(tn_incidents_t *in, const char *fingerprint);

/* Appends a JSON array of the open incidents to out. */
int tn_incidents_list_json(tn_incidents_t *in, tn_buf_t *out);

/* A new JSON object describing the incident (caller owns the reference), or NULL. */
json_t *tn_incident_to_json(const tn_incident_t *inc);

size_t tn_incidents_open_count(const tn_incidents_t *in);

#endif
