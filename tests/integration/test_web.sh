#!/usr/bin/env bash
# The built-in web page (issue 9): its assets are served from the binary with the right types,
# no-cache, ETags (304 on If-None-Match), nosniff and a 'self'-only Content-Security-Policy; then
# a real headless Chromium (tests/browser/web.test.mjs, playwright-core) opens the page against
# an engine that has an incident made of anomalies and a level 3 runbook waiting for approval,
# opens the incident and its chart, approves the run with an API token and sees it finish.
. "$(dirname "$0")/lib.sh"
BROWSER_DIR="$SRC/tests/browser"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ] || ! command -v node >/dev/null 2>&1 ||
    [ ! -x "$CHROMIUM" ]; then
    echo "not ok - the browser test needs node, $CHROMIUM and $BROWSER_DIR/node_modules:" \
        "run \`make browser-deps\` (installs Debian chromium and nodejs, then npm ci)"
    echo "0 passed, 1 failed"
    exit 1
fi
start_redis
start_receiver
mkdir -p "$T/runbooks" "$T/none"
cp "$SRC/runbooks/notify-oncall.lua" "$T/runbooks/"
cat >"$T/runbooks/restart.lua" <<EOF
local http = require("tocsin.http")
local approval = require("tocsin.approval")
return {
  name = "restart", level = 3, description = "restart a service (asks a person first)",
  params = { service = { type = "string", required = true } },
  run = function(ctx)
    -- the markup in the reason must show as text on the page
    local ok, by = approval.ask { reason = "restart " .. ctx.params.service .. "? <img src=x onerror=\"window.pwned=1\">",
                                  timeout_s = 300 }
    if not ok then error("not approved (" .. by .. ")", 0) end
    assert(http.post("$RECEIVER_URL/restart", { json = { service = ctx.params.service, by = by } }))
    return "restarted " .. ctx.params.service
  end,
}
EOF
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$SRC/rules", runbooks_dir = "$T/runbooks", lib_dir = "$SRC/lua",
              detection_dir = "$T/none" },
  notify = { webhook_url = "$RECEIVER_URL" },
  detect = { zscore = { window = 30, min_samples = 20 } },
  chatops = { api_tokens = { alice = "tok-alice" }, users = { alice = "operator" } },
}
CONF
start_engine "$T/tocsin.conf.lua"
has() { # has TEXT PATTERN...: every pattern is in TEXT (a glob: * matches anything)
    local s=$1 p; shift
    for p in "$@"; do
        # shellcheck disable=SC2053
        [[ "$s" == *$p* ]] || { echo "# '$p' not in: ${s:0:600}"; return 1; }
    done
}
# headers CURL_ARGS...: prints the answer's headers, then its body (also left in $T/body)
headers() {
    : >"$T/body"
    curl -s --path-as-is -D "$T/headers" -o "$T/body" "$@" || true
    tr -d '\r' <"$T/headers"
    cat "$T/body"
}
no_body() { [ ! -s "$T/body" ] || { echo "# a body: $(head -c 200 "$T/body")"; return 1; }; }

# ---- the assets, over plain HTTP ---------------------------------------------------------
out=$(headers "$URL/")
check "GET / -> 302 to /ui/" has "$out" 'HTTP/1.1 302' 'Location: /ui/'
out=$(headers "$URL/ui/")
check "GET /ui/ -> index.html, no-cache, nosniff, a 'self'-only CSP and an ETag" has "$out" \
    'HTTP/1.1 200' 'Content-Type: text/html; charset=utf-8' 'Cache-Control: no-cache' \
    'X-Content-Type-Options: nosniff' "Content-Security-Policy: default-src 'self';" 'ETag: "'
check "... which is the page" grep -q '<script src="app.js"' "$T/body"
etag=$(echo "$out" | sed -n 's/^ETag: //p')
out=$(headers -H "If-None-Match: $etag" "$URL/ui/")
check "If-None-Match with its ETag -> 304 ..." has "$out" 'HTTP/1.1 304' "ETag: $etag"
check "... without a body" no_body
out=$(headers -H "If-None-Match: \"x\", W/$etag" "$URL/ui/index.html")
check "... a weak ETag in a list matches too" has "$out" 'HTTP/1.1 304'
out=$(headers -H 'If-None-Match: "stale"' "$URL/ui/")
check "... a stale ETag gets the page" has "$out" 'HTTP/1.1 200'
out=$(headers "$URL/ui/app.js")
check "app.js is text/javascript" has "$out" 'HTTP/1.1 200' 'Content-Type: text/javascript; charset=utf-8' 'ETag: "'
check "... and its ETag is not the page's" test "$(sed -n 's/^ETag: //p' "$T/headers" | tr -d '\r')" != "$etag"
out=$(headers "$URL/ui/style.css")
check "style.css is text/css" has "$out" 'HTTP/1.1 200' 'Content-Type: text/css; charset=utf-8'
out=$(headers "$URL/ui/favicon.svg")
check "favicon.svg is image/svg+xml" has "$out" 'HTTP/1.1 200' 'Content-Type: image/svg+xml'
raw() { # raw REQUEST_HEAD: sends it (Connection: close); prints the answer's head, then whether a body followed
    python3 -c "
import socket, sys
u = sys.argv[1].rsplit(':', 1); s = socket.create_connection((u[0].split('//')[1], int(u[1])), 5)
s.sendall(sys.argv[2].encode() + b'\r\nConnection: close\r\n\r\n'); out = b''
while True:
    b = s.recv(65536)
    if not b: break
    out += b
head, _, body = out.partition(b'\r\n\r\n')
print(head.decode('utf-8', 'replace').replace('\r', '')); print('no body' if not body else 'a body of %d bytes' % len(body))" "$URL" "$1"
}
out=$(raw $'HEAD /ui/app.js HTTP/1.1\r\nHost: x')
check "HEAD app.js: its headers and no body" has "$out" 'HTTP/1.1 200' 'ETag: "' 'no body'
for bad in nope.js ../tocsin.conf.lua %2e%2e/etc/passwd assets/app.js "app.js/"; do
    out=$(headers "$URL/ui/$bad")
    check "unknown asset /ui/$bad -> 404 JSON with nosniff" has "$out" 'HTTP/1.1 404' \
        'Content-Type: application/json' 'X-Content-Type-Options: nosniff' '"error":"not_found"'
done
out=$(headers -X POST "$URL/ui/")
check "POST /ui/ -> 405" has "$out" 'HTTP/1.1 405'
check "app.js is valid JavaScript (node --check)" node --check "$SRC/src/web/assets/app.js"
check "the page fetches nothing from elsewhere (no absolute URL in src/href/url()/fetch)" bash -c \
    "! grep -EHn '(src|href)=\"(https?:)?//|url\\((https?:)?//|fetch\\(.https?:|import .*https?:' $SRC/src/web/assets/*"

# ---- the scenario: an incident made of anomalies, a run waiting for approval ---------------
now=$(date +%s)
series() { # SERVICE START: 30 quiet samples, then a spike
    local body="[" i
    for i in $(seq 0 29); do
        body="$body{\"name\":\"latency_ms\",\"labels\":{\"service\":\"$1\"},\"value\":$((100 + i % 3)),\"timestamp\":$(($2 + i))},"
    done
    body="$body{\"name\":\"latency_ms\",\"labels\":{\"service\":\"$1\"},\"value\":900,\"timestamp\":$(($2 + 40))}]"
    post /api/v1/samples "$body" >/dev/null
}
series checkout $((now - 300))
check "an anomaly opens an incident" wait_for 10 bash -c "curl -sf $URL/api/v1/incidents | grep -q checkout"
inc=$(curl -sf "$URL/api/v1/incidents" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
out=$(post /api/v1/runs '{"runbook":"restart","params":{"service":"checkout"},"approved_by":"alice"}')
check "the level 3 runbook starts through the API (${out:0:80})" has "$out" '202 ' '"run":"'
run=$(sed 's/.*"run":"\([^"]*\)".*/\1/' <<<"$out")
check "... and waits for approval" wait_for 10 bash -c "curl -sf $URL/api/v1/approvals | grep -q '$run'"
apr=$(curl -sf "$URL/api/v1/approvals" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# ---- the browser ---------------------------------------------------------------------------
SHOT="${TN_BUILD_DIR:-/tmp}/web-ui.png"
rm -f "$SHOT"
if (cd "$BROWSER_DIR" && TN_URL="$URL" TN_INCIDENT="$inc" TN_APPROVAL="$apr" TN_RUN="$run" \
    TN_TOKEN=tok-alice TN_SCREENSHOT="$SHOT" CHROMIUM="$CHROMIUM" \
    timeout 180 node web.test.mjs) >"$T/browser.log" 2>&1; then
    ok "the browser test passed (tests/browser/web.test.mjs)"
else
    not_ok "the browser test failed:"
fi
sed 's/^/#   /' "$T/browser.log"
check "the screenshot is a PNG ($SHOT)" bash -c "head -c 8 '$SHOT' | od -An -c | grep -q 'P   N   G'"

# ---- what the click did, seen from the API ------------------------------------------------
check "the run finished ok, approved by alice through the page's token" python3 -c "
import json, urllib.request
r = [r for r in json.load(urllib.request.urlopen('$URL/api/runs')) if r['run'] == '$run'][0]
assert r['status'] == 'ok' and r['output'] == 'restarted checkout', r
steps = [s for s in r['steps'] if s['action'] == 'approval.ask']
assert steps and steps[0]['result']['by'] == 'alice', r"
check "the runbook acted (its restart call arrived)" grep -q '"path": "/hook/restart"' "$T/received.jsonl"
check "no approval is left pending" bash -c "[ \"\$(curl -sf $URL/api/v1/approvals)\" = '[]' ]"
check "the engine stops cleanly" stop_engine
finish
