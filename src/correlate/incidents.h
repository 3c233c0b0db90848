/* incidents.h - incidents, kept in memory and written through to Redis.
 *
 * An incident is identified by its fingerprint while open: opening an incident whose
 * fingerprint is already open attaches the alert to it instead (deduplication). Each change is
 * written as an entry of the incidents stream, of the incident's own timeline stream
 * <prefix>:incident:<id>:timeline, and into the hash <prefix>:incident:<id>.
 *
 * States: open -> acknowledged -> mitigated -> resolved (each step may be skipped; mitigated
 * may go back to acknowledged when a mitigation did not hold), and resolved -> open again
 * (reopened). A resolved incident is kept for the reopen window: an alert with its fingerprint
 * within it reopens it instead of opening a new incident (flap suppression); after it the
 * incident is forgotten here (Redis keeps it). An incident with no new alert for the quiet
 * time is resolved by tocsin (its signals cleared).
 *
 * Times (ms since the epoch, 0 = not yet): started_ms (the earliest alert's own time: the
 * onset), opened_ms, acknowledged_ms, mitigated_ms, resolved_ms; so time to detect is
 * opened - started, to acknowledge acknowledged - opened, to resolve resolved - started. */
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
    char *state;    /* "open", "acknowledged", "mitigated", "resolved" */
    int64_t started_ms, opened_ms, acknowledged_ms, mitigated_ms, resolved_ms;
    int64_t updated_ms;
    int64_t last_alert_ms; /* when the last alert was attached (engine clock) */
    unsigned alerts;
    unsigned reopened; /* times it was reopened */
    char *rca;         /* JSON text of the ranked root-cause candidates, or NULL */
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
    const json_t *alert;     /* optional: the alert/anomaly that caused this (borrowed); its
                                "ts" (ms) is the alert's own time */
    int64_t now_ms;
    int64_t reopen_window_ms; /* a resolved incident this recent is reopened; 0 = never */
} tn_incident_open_t;

/* Opens a new incident (*created = 1), reopens a recently resolved one with the same
 * fingerprint (*created = 2), or attaches to the open one (*created = 0).
 * *out is borrowed (owned by the registry). The writes are started; cb (may be NULL) is called
 * when they finish, unless this returns an error. 0, TN_EINVAL or TN_ENOMEM. */
int tn_incidents_open(tn_incidents_t *in, const tn_incident_open_t *req, tn_incident_t **out,
                      int *created, tn_incidents_cb cb, void *arg);

/* Borrowed, or NULL. */
tn_incident_t *tn_incidents_get(tn_incidents_t *in, const char *id);
/* The open incident with this fingerprint (borrowed), or NULL. */
tn_incident_t *tn_incidents_find(tn_incidents_t *in, const char *fingerprint);

/* Changes an incident's state: "acknowledged", "mitigated", "resolved" or "open" (reopen),
 * by someone or something (by, note: optional, copied into the timeline). 0 and *out, or
 * TN_ENOTFOUND (no such incident), TN_EINVAL (unknown state, or not reachable from the current
 * one: *why, when not NULL, gets a static reason), TN_ENOMEM. cb as for open. */
int tn_incidents_set_state(tn_incidents_t *in, const char *id, const char *state, const char *by,
                           const char *note, int64_t now_ms, tn_incident_t **out, const char **why,
                           tn_incidents_cb cb, void *arg);
/* Stores the ranked root-cause candidates (rca: a JSON array, borrowed) on the incident, its
 * hash (field rca) and, when the first candidate changed, its timeline. 0, TN_ENOTFOUND,
 * TN_EINVAL (not an array) or TN_ENOMEM. */
int tn_incidents_set_rca(tn_incidents_t *in, const char *id, const json_t *rca, int64_t now_ms);
/* Adds a note to the incident's timeline. 0, TN_ENOTFOUND or TN_ENOMEM. */
int tn_incidents_annotate(tn_incidents_t *in, const char *id, const char *by, const char *note,
                          int64_t now_ms, tn_incidents_cb cb, void *arg);
/* Resolves the incidents that had no alert for quiet_ms (0: never), and forgets those resolved
 * longer ago than reopen_window_ms. Returns how many it resolved. */
size_t tn_incidents_expire(tn_incidents_t *in, int64_t now_ms, int64_t quiet_ms,
                           int64_t reopen_window_ms);

/* Appends a JSON array of the incidents known here (open ones, and resolved ones within the
 * reopen window) to out. */
int tn_incidents_list_json(tn_incidents_t *in, tn_buf_t *out);

/* A new JSON object describing the incident (caller owns the reference), or NULL. */
json_t *tn_incident_to_json(const tn_incident_t *inc);

size_t tn_incidents_open_count(const tn_incidents_t *in);

#endif
