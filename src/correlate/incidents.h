/* incidents.h - incidents, kept in memory and written through to Redis.
 *
 * An incident is identified by its fingerprint while open: opening an incident whose
 * fingerprint is already open attaches the alert to it instead (deduplication). Each change is
 * written as an entry of the incidents stream, of the incident's own timeline stream
 * <prefix>:incident:<id>:timeline, and into the hash <prefix>:incident:<id>.
 *
 * Each incident remembers its members (the signals attached to it, up to
 * TN_INCIDENT_MAX_MEMBERS) and its state transitions. Rules may attach a signal to a given
 * incident, merge two incidents (the state of the absorbed one becomes "merged") or split
 * members out into a new incident.
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

/* One signal (alert or anomaly) that is part of an incident. Strings owned by the member. */
typedef struct {
    char *id;       /* the signal's id: the alert's own id, or "<sid>@<ts>" for an anomaly */
    char *fp;       /* the signal's fingerprint: a resolved alert with it clears the member */
    char *kind;     /* "alert" or "anomaly" */
    char *name;     /* alert name, or the anomalous metric */
    char *service;  /* may be "" */
    char *severity; /* may be "" */
    double score;
    int64_t ts_ms;    /* the signal's own time */
    int active;       /* a firing alert not resolved yet (anomalies: 0) */
    uint64_t simhash; /* of its signature (tn_incident_signal_simhash) */
} tn_incident_member_t;

/* At most this many members per incident are remembered (more are only counted). */
#define TN_INCIDENT_MAX_MEMBERS 20000
#define TN_INCIDENT_MAX_TRANSITIONS 256

typedef struct {
    char state[16];
    int64_t ts_ms;
} tn_incident_transition_t;

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
    unsigned reopened;    /* times it was reopened */
    char *rca;            /* JSON text of the ranked root-cause candidates, or NULL */
    char merged_into[40]; /* state "merged": the incident that took its members */
    tn_incident_member_t *members;
    size_t nmembers, capmembers;
    unsigned active;        /* members that are firing alerts */
    unsigned alert_members; /* members that are alerts (firing or resolved) */
    int64_t cleared_ms;     /* when the last firing alert resolved (0: some still fire) */
    char **aliases;         /* fingerprints of incidents merged into this one */
    size_t naliases;
    tn_incident_transition_t *trans;
    size_t ntrans;
    char **services; /* distinct member services, in order of first appearance */
    size_t nservices;
    tn_hmap_t service_set; /* service -> its summary (incidents.c: last signal, firing alerts) */
    unsigned seq;          /* opening order */
} tn_incident_t;

typedef struct tn_incidents tn_incidents_t;

/* Completion of the Redis writes of one change: err 0 or the first error. */
typedef void (*tn_incidents_cb)(int err, void *arg);

/* streams borrowed. NULL on allocation failure. */
tn_incidents_t *tn_incidents_create(tn_streams_t *streams);

/* Told of every change as it is written (event: "opened", "reopened", "alert_attached",
 * "acknowledged", "mitigated", "resolved", "rca", "note", "merged", "split"); inc borrowed for
 * the call, which must not change the incidents. One listener; NULL removes it. */
typedef void (*tn_incidents_change_fn)(void *arg, const tn_incident_t *inc, const char *event);
void tn_incidents_on_change(tn_incidents_t *in, tn_incidents_change_fn fn, void *arg);
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

/* Attaches the signal (borrowed) to the incident with this id: an open one, or a resolved one
 * within reopen_window_ms (reopened, *reopened = 1). 0 and *out (borrowed), TN_ENOTFOUND (no
 * such incident, or merged, or resolved too long ago), TN_ENOMEM. cb as for open. */
int tn_incidents_attach(tn_incidents_t *in, const char *id, const json_t *alert, int64_t now_ms,
                        int64_t reopen_window_ms, tn_incident_t **out, int *reopened,
                        tn_incidents_cb cb, void *arg);
/* Merges incident `from` into `into` (both open, not the same): from's members, alert count,
 * onset and fingerprints move to into; from gets state "merged" (merged_into set) and leaves
 * the open set. by/note go to both timelines. 0, TN_ENOTFOUND, TN_EINVAL (*why: a static
 * reason) or TN_ENOMEM. */
int tn_incidents_merge(tn_incidents_t *in, const char *into, const char *from, const char *by,
                       const char *note, int64_t now_ms, const char **why);
/* Splits the members whose ids are listed (n of them, borrowed) out of incident `id` into a new
 * open incident with this fingerprint and title (a fingerprint already open is TN_EINVAL).
 * At least one member must move and one stay. 0 and *out (the new incident, borrowed),
 * TN_ENOTFOUND, TN_EINVAL (*why) or TN_ENOMEM. */
int tn_incidents_split(tn_incidents_t *in, const char *id, const char *const *member_ids, size_t n,
                       const char *fingerprint, const char *title, const char *by, int64_t now_ms,
                       tn_incident_t **out, const char **why);
/* A resolved alert: the firing members with this signal fingerprint, in open incidents, stop
 * being active. Returns how many members it cleared. */
size_t tn_incidents_clear(tn_incidents_t *in, const char *signal_fp, int64_t now_ms);

/* A signal's signature (borrowed), as members keep it: its labels (values masked but the
 * service's), its service, its name and text (correlate/similarity.h), as a SimHash. */
uint64_t tn_incident_signal_simhash(const json_t *signal);

/* The open incident (with a signal since since_ms; 0: any) holding the signal of the same
 * service (NULL or "": signals without one) most similar to simhash among the latest `last` of
 * each, when that similarity is at least threshold (*sim gets it); ties go to the oldest
 * incident. Borrowed, or NULL. */
tn_incident_t *tn_incidents_most_similar(tn_incidents_t *in, uint64_t simhash, const char *service,
                                         int64_t since_ms, size_t last, double threshold,
                                         double *sim);

/* Calls fn for every open incident (not resolved, not merged); fn must not change the set. */
void tn_incidents_each_open(tn_incidents_t *in, void (*fn)(tn_incident_t *inc, void *arg),
                            void *arg);
/* Every incident known here (open, resolved within the reopen window, merged), in opening
 * order, for replay's report. fn must not change the set. */
void tn_incidents_each(tn_incidents_t *in, void (*fn)(tn_incident_t *inc, void *arg), void *arg);

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
/* Resolves the incidents that had no alert for quiet_ms (0: never), and those whose alerts
 * have all resolved clear_ms ago or more (clear_ms 0: that rule off); forgets those resolved
 * or merged longer ago than reopen_window_ms unless keep is set (replay keeps everything).
 * Returns how many it resolved. */
size_t tn_incidents_expire(tn_incidents_t *in, int64_t now_ms, int64_t quiet_ms, int64_t clear_ms,
                           int64_t reopen_window_ms, int keep);

/* Appends a JSON array of the incidents known here (open ones, and resolved ones within the
 * reopen window) to out. */
int tn_incidents_list_json(tn_incidents_t *in, tn_buf_t *out);

/* A new JSON object describing the incident (caller owns the reference), or NULL: its fields,
 * "alerts" (the count), "services" (the distinct services of its members, in order of first
 * appearance), "service_info" ({service: {first_ms, last_ms, active, alerts, n, score}}: its
 * earliest and latest signals' times, its firing alerts, its alerts, its signals and its worst
 * signal's score), "active_alerts", "last_alert_ms",
 * "merged_into" (merged ones) and "rca". */
json_t *tn_incident_to_json(const tn_incident_t *inc);
/* The same with the members as "alerts" (a list of {id, kind, name, service, severity, score,
 * ts, active, simhash}; the count moves to "alert_count") and "transitions" ({state, ts}). */
json_t *tn_incident_to_json_full(const tn_incident_t *inc);
/* The members as a new JSON list (caller owns), or NULL; _last: only the latest `last`. */
json_t *tn_incident_members_json(const tn_incident_t *inc);
json_t *tn_incident_members_json_last(const tn_incident_t *inc, size_t last);

size_t tn_incidents_open_count(const tn_incidents_t *in);

#endif
