/* cmd_chat.c - `tocsin chat "COMMAND"`: a chat command to a running engine (POST /api/v1/chat),
 * as from Slack or Mattermost, with the same roles and audit. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static const char *g_help =
    "usage: tocsin chat [--url URL] [--token TOKEN] [--channel NAME] [--json] COMMAND...\n"
    "\n"
    "Send a chat command to a running engine and print its answer, as Slack or Mattermost\n"
    "would show it: `tocsin chat incidents`, `tocsin chat show 3`, `tocsin chat run\n"
    "restart-service service=api --dry-run`, `tocsin chat approve RUN-...`, `tocsin chat\n"
    "help`. The words are joined with spaces; quote a value with spaces twice (\"'a b'\").\n"
    "The token says who you are (chatops.api_tokens maps USER=TOKEN) and so your role.\n"
    "\n"
    "  --url URL       the engine (default $TOCSIN_URL, else http://127.0.0.1:8080)\n"
    "  --token TOKEN   default $TOCSIN_TOKEN\n"
    "  --channel NAME  the channel the command counts as said in (default cli)\n"
    "  --json          the engine's JSON answer as it is\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 when the command succeeded; 1 when it was refused or failed, or the engine\n"
    "cannot be reached; 2 on bad options.\n";

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    return tn_buf_append(arg, p, size * n) ? 0 : size * n;
}

int tn_cli_chat(int argc, char **argv)
{
    const char *url = getenv("TOCSIN_URL"), *token = getenv("TOCSIN_TOKEN"), *channel = NULL;
    int as_json = 0;
    if (!url || !*url) url = "http://127.0.0.1:8080";
    tn_buf_t text;
    tn_buf_init(&text);
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(g_help, stdout);
            tn_buf_deinit(&text);
            return 0;
        } else if (!strcmp(a, "--json")) {
            as_json = 1;
        } else if ((!strcmp(a, "--url") || !strcmp(a, "--token") || !strcmp(a, "--channel")) &&
                   i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--url"))
                url = v;
            else if (!strcmp(a, "--token"))
                token = v;
            else
                channel = v;
        } else if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (a[0] == '-' && a[1] == '-' && text.len == 0) {
            fprintf(stderr, "tocsin chat: unknown or incomplete option '%s' (see --help)\n", a);
            tn_buf_deinit(&text);
            return 2;
        } else {
            break;
        }
    }
    for (; i < argc; i++) { /* the command: every remaining word (--dry-run included) */
        if (text.len) tn_buf_puts(&text, " ");
        tn_buf_puts(&text, argv[i]);
    }
    if (!text.len) {
        fprintf(stderr, "tocsin chat: say a command, e.g. `tocsin chat help` (see --help)\n");
        tn_buf_deinit(&text);
        return 2;
    }
    if (!token || !*token) {
        fprintf(stderr, "tocsin chat: no token: --token or $TOCSIN_TOKEN (chatops.api_tokens)\n");
        tn_buf_deinit(&text);
        return 2;
    }
    json_t *req = json_pack("{s:s}", "text", text.data);
    if (req && channel) json_object_set_new(req, "channel", json_string(channel));
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    tn_buf_deinit(&text);
    char full[2048], auth[1024];
    snprintf(full, sizeof full, "%.1900s/api/v1/chat", url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %.990s", token);
    CURL *c = body ? curl_easy_init() : NULL;
    tn_buf_t out;
    tn_buf_init(&out);
    long status = 0;
    CURLcode cc = CURLE_FAILED_INIT;
    struct curl_slist *h = NULL;
    if (c) {
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, auth);
        curl_easy_setopt(c, CURLOPT_URL, full);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3700000L); /* commands may wait (their timeout) */
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
    }
    free(body);
    if (cc != CURLE_OK) {
        fprintf(stderr, "tocsin chat: %s: %s\n", full, curl_easy_strerror(cc));
        tn_buf_deinit(&out);
        return 1;
    }
    json_t *ans = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
    int rc = status == 200 ? 0 : 1;
    if (as_json) {
        if (out.data) fwrite(out.data, 1, out.len, stdout);
        fputc('\n', stdout);
    } else if (json_is_string(json_object_get(ans, "text"))) {
        const char *t = json_string_value(json_object_get(ans, "text"));
        size_t n = strlen(t);
        fputs(t, rc ? stderr : stdout);
        if (n && t[n - 1] != '\n') fputc('\n', rc ? stderr : stdout);
    } else { /* an HTTP error body: {"error", "message"} */
        const char *m = json_string_value(json_object_get(ans, "message"));
        fprintf(stderr, "tocsin chat: HTTP %ld: %s\n", status, m ? m : (out.data ? out.data : ""));
    }
    json_decref(ans);
    tn_buf_deinit(&out);
    return rc;
}
