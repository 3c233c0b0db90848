#!/usr/bin/env python3
"""A scripted HTTP receiver standing in for Slack, Mattermost, PagerDuty and other webhooks.

Usage: notify_receiver.py PORTFILE LOGFILE SCRIPT.json

SCRIPT maps a request path to the list of answers it gives, one per request, in order; the
last answer repeats. An answer is {"status": 200, "body": "ok", "content_type": "text/plain",
"headers": {"Retry-After": "2"}}; "body": "@pagerduty" answers as the Events API v2 does
(202 {"status": "success", "message": "Event processed", "dedup_key": ...}, echoing the
request's dedup_key or making one up). A path not in SCRIPT gets 404.

Every request is appended to LOGFILE as one JSON line: t (time.time() when it arrived), method,
path, headers, body (text), status (the answer given) and dedup_key (when one was made up).
It listens on 127.0.0.1 on a free port and writes the port number to PORTFILE."""
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SCRIPT = {}
SEEN = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        arrived = time.time()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        path = self.path.split("?", 1)[0]
        with LOCK:
            answers = SCRIPT.get(path)
            i = SEEN.get(path, 0)
            SEEN[path] = i + 1
        rec = {"t": arrived, "method": self.command, "path": self.path,
               "headers": dict(self.headers), "body": body}
        if not answers:
            a = {"status": 404, "body": "no_service", "content_type": "text/plain"}
        else:
            a = answers[min(i, len(answers) - 1)]
        status = a.get("status", 200)
        ctype = a.get("content_type", "text/plain")
        out = a.get("body", "")
        if out == "@pagerduty":
            try:
                key = json.loads(body).get("dedup_key")
            except ValueError:
                key = None
            if not key:
                key = uuid.uuid4().hex
                rec["dedup_key"] = key
            status = a.get("status", 202)
            ctype = "application/json"
            out = json.dumps({"status": "success", "message": "Event processed",
                              "dedup_key": key})
        rec["status"] = status
        with LOCK, open(sys.argv[2], "a") as f:
            f.write(json.dumps(rec) + "\n")
        data = out.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in a.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    with open(sys.argv[3]) as f:
        SCRIPT.update(json.load(f))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()
