/* chatops.h - chat commands: what people type in Slack, Mattermost or `tocsin chat`, checked
 * against their role, answered, and audited.
 *
 *   /tocsin incidents                       built-in commands (tn_chatops_builtins in docs)
 *   /tocsin run restart-service service=api --dry-run
 *   /tocsin deploys checkout                a command written in Lua (commands_dir/NAME.lua):
 *
 *   local chatops = require("tocsin.chatops")
 *   return chatops.command{
 *       name = "deploys", help = "recent deploys of a service", role = "viewer",
 *       args = { { name = "service", required = true }, { name = "hours", type = "integer",
 *                  default = 24 } },
 *       run = function(ctx, args) return "..." end }   -- a string, or { text =, in_channel = }
 *
 * Access control: each user (name or id) and channel maps to a role (config chatops.users,
 * chatops.channels, chatops.default_role); roles rank viewer < responder < operator < admin.
 * Each command needs a role (its own, or chatops.command_roles); running or approving a
 * runbook needs the role of its level (chatops.level_roles). Every message, its role, what it
 * did and the answer's status go to the audit stream (event "chat.command"); refused requests
 * (bad signature, bad token) too ("chat.refused").
 *
 * Follow-ups: a run started from a message that has a response_url reports there when it asks
 * for approval (with Approve / Deny buttons on Slack), when the approval is decided and when it
 * finishes. */
#ifndef TN_CHATOPS_CHATOPS_H
#define TN_CHATOPS_CHATOPS_H

#include <jansson.h>

#include "automate/engine.h"
#include "chatops/silence.h"
#include "core/buf.h"
#include "core/config.h"
#include "correlate/engine.h"
#include "notify/httpc.h"
#include "script/catalog.h"
#include "script/scriptset.h"
#include "script/services.h"
#include "store/streams.h"

typedef struct tn_chatops tn_chatops_t;

typedef struct {
    const tn_config_t *cfg;          /* roles, secrets, commands_dir */
    tn_streams_t *streams;           /* the audit stream */
    tn_httpc_t *httpc;               /* posts to response_url */
    tn_automate_t *automate;         /* may be NULL: no runbooks */
    tn_correlate_t *correlate;       /* may be NULL: no incidents */
    tn_silences_t *silences;         /* may be NULL: no silences */
    tn_catalog_t *catalog;           /* may be NULL */
    const tn_script_services_t *svc; /* for the Lua commands' modules */
    /* status: appends a line about the engine's health; reload: reloads every script
     * (*failed: files that failed). Either may be NULL. */
    void (*status)(void *arg, tn_buf_t *out);
    void (*reload)(void *arg, int *failed);
    void *arg;
} tn_chatops_opts_t;

/* All borrowed. NULL on allocation failure. Sets itself as the listener of the automation's
 * runs and approvals (for follow-ups). */
tn_chatops_t *tn_chatops_create(const tn_chatops_opts_t *opts);
/* Commands still running are canceled (their replies say so). */
void tn_chatops_destroy(tn_chatops_t *c);

/* (Re)loads the Lua commands of scripts.commands_dir. The number of files that failed (their
 * previous versions stay) or TN_ENOMEM. */
int tn_chatops_load(tn_chatops_t *c);
/* The Lua commands, for per-file hot reload. */
tn_scriptset_t *tn_chatops_commands(tn_chatops_t *c);

/* Loads and validates one command file without an engine (for `tocsin check`). */
int tn_chatops_check_file(const char *path, const tn_config_t *cfg, tn_buf_t *err);

/* Who says what, where. Strings borrowed for the call. */
typedef struct {
    const char *platform;     /* "slack", "mattermost", "cli" */
    const char *user;         /* user name: roles, audit, an approval's "by" */
    const char *user_id;      /* may be NULL */
    const char *channel;      /* channel name, may be NULL */
    const char *channel_id;   /* may be NULL */
    const char *text;         /* the command line: "run restart-service service=api" */
    const char *response_url; /* where later messages go, or NULL */
} tn_chat_msg_t;

/* An answer. Borrowed by the reply callback for the call. */
typedef struct {
    const char *status;   /* "ok", "usage", "denied", "not_found", "error", "unknown" */
    const char *command;  /* the command's name ("" when there was none) */
    const char *text;     /* the answer, plain text with `code` and *bold* */
    const json_t *blocks; /* Slack blocks (Approve / Deny buttons), or NULL */
    int in_channel;       /* for the channel to see (else only the user) */
} tn_chat_answer_t;

typedef void (*tn_chat_reply_fn)(void *arg, const tn_chat_answer_t *ans);

/* Handles a message: reply(arg, answer) is called exactly once, before this returns or later
 * (a Lua command that waits on something; canceled ones are answered at tn_chatops_destroy). */
void tn_chatops_handle(tn_chatops_t *c, const tn_chat_msg_t *m, tn_chat_reply_fn reply, void *arg);

/* A button: approve (1) or deny (0) the pending ask approval_id, clicked by m->user. Same reply
 * contract as tn_chatops_handle (it is the command "approve ID"). */
void tn_chatops_decide(tn_chatops_t *c, const tn_chat_msg_t *m, const char *approval_id,
                       int approve, tn_chat_reply_fn reply, void *arg);

/* A refused request (bad signature, bad token, ...): audited and counted. Strings borrowed. */
void tn_chatops_refused(tn_chatops_t *c, const char *platform, const char *reason,
                        const char *peer);

/* Posts a JSON message (borrowed) to a response_url; failures are logged. */
void tn_chatops_post(tn_chatops_t *c, const char *url, const json_t *msg);

/* The role name of a user in a channel (any may be NULL), or "none". Static string. */
const char *tn_chatops_role(const tn_chatops_t *c, const char *user, const char *user_id,
                            const char *channel, const char *channel_id);

/* What chatops was created with (borrowed). */
const tn_config_t *tn_chatops_config(const tn_chatops_t *c);
uv_loop_t *tn_chatops_loop(const tn_chatops_t *c);

/* The Slack message for an answer ({response_type, text, blocks}); new, caller owns it. */
json_t *tn_chatops_slack_message(const tn_chat_answer_t *a);

#endif
