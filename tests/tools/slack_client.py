#!/usr/bin/env python3
"""Sends Slack-shaped requests to tocsin, signed as Slack signs them (HMAC-SHA256 over
"v0:<timestamp>:<body>" with the signing secret), for the ChatOps tests.

  slack_client.py command URL SECRET --user NAME --text "run x" | --text-file F [--channel NAME]
                  [--response-url URL] [--ts-offset S] [--tamper] [--no-sig] [--no-ts]
  slack_client.py click URL SECRET --user NAME --approval ID --action approve|deny
                  [--response-url URL] [--ts-offset S]

Prints "<HTTP status> <body>" and exits 0 whatever the status."""
import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["command", "click"])
    p.add_argument("url")
    p.add_argument("secret")
    p.add_argument("--user", required=True)
    p.add_argument("--text", default="")
    p.add_argument("--text-file", help="the text, from a file (for long ones)")
    p.add_argument("--channel", default="incidents")
    p.add_argument("--response-url", default="")
    p.add_argument("--approval", default="")
    p.add_argument("--action", default="approve")
    p.add_argument("--ts-offset", type=int, default=0)
    p.add_argument("--tamper", action="store_true", help="change the body after signing")
    p.add_argument("--no-sig", action="store_true")
    p.add_argument("--no-ts", action="store_true")
    a = p.parse_args()
    if a.text_file:
        with open(a.text_file) as f:
            a.text = f.read().rstrip("\n")
    if a.kind == "command":
        fields = [("token", "legacy-unused"), ("team_id", "T0001"), ("team_domain", "example"),
                  ("channel_id", "C" + a.channel.upper()[:8]), ("channel_name", a.channel),
                  ("user_id", "U" + a.user.upper()[:8]), ("user_name", a.user),
                  ("command", "/tocsin"), ("text", a.text), ("response_url", a.response_url),
                  ("trigger_id", "13345224609.738474920.8088930838d88f008e0")]
        body = urllib.parse.urlencode(fields)
    else:
        payload = {"type": "block_actions",
                   "user": {"id": "U" + a.user.upper()[:8], "username": a.user, "name": a.user,
                            "team_id": "T0001"},
                   "api_app_id": "A111", "token": "legacy-unused",
                   "container": {"type": "message", "message_ts": "111.222",
                                 "channel_id": "C" + a.channel.upper()[:8]},
                   "channel": {"id": "C" + a.channel.upper()[:8], "name": a.channel},
                   "response_url": a.response_url,
                   "actions": [{"action_id": "tocsin_" + a.action, "block_id": "tocsin_approval",
                                "text": {"type": "plain_text", "text": a.action},
                                "value": a.approval, "type": "button",
                                "action_ts": "%.6f" % time.time()}]}
        body = "payload=" + urllib.parse.quote(json.dumps(payload))
    ts = str(int(time.time()) + a.ts_offset)
    sig = "v0=" + hmac.new(a.secret.encode(), ("v0:%s:%s" % (ts, body)).encode(),
                           hashlib.sha256).hexdigest()
    if a.tamper:
        body = body.replace("user_name=", "user_name=x") if a.kind == "command" else body + "%20"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if not a.no_ts:
        headers["X-Slack-Request-Timestamp"] = ts
    if not a.no_sig:
        headers["X-Slack-Signature"] = sig
    path = "/chatops/slack/command" if a.kind == "command" else "/chatops/slack/interactive"
    req = urllib.request.Request(a.url + path, data=body.encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            print(r.status, r.read().decode())
    except urllib.error.HTTPError as e:
        print(e.code, e.read().decode())


if __name__ == "__main__":
    sys.exit(main())
