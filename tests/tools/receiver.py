#!/usr/bin/env python3
"""A local HTTP receiver standing in for webhooks (Slack, PagerDuty, ...): every request is
appended as one JSON line to the log file given. Usage: receiver.py PORTFILE LOGFILE [STATUS
[BODYFILE]]: it answers STATUS (default 200) with the bytes of BODYFILE (default {"ok":true}).
It listens on 127.0.0.1 on a free port and writes the port number to PORTFILE."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    status = 200
    body = b'{"ok":true}'

    def _record(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "headers": dict(self.headers), "body": body}) + "\n")
        out = Handler.body
        self.send_response(Handler.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _record

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if len(sys.argv) > 3:
        Handler.status = int(sys.argv[3])
    if len(sys.argv) > 4:
        with open(sys.argv[4], "rb") as f:
            Handler.body = f.read()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()
