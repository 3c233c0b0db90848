#!/usr/bin/env bash
# tocsin demo: a bad deploy of the payments service cascades to checkout and frontend; then a
# recorded alert storm is replayed offline for its post-mortem.
# Everything is real: the engine, its embedded redis-server, HTTP, Lua rules and runbooks, and a
# local webhook receiver standing in for the on-call chat.
set -euo pipefail
TOCSIN=${1:-build/tocsin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$(mktemp -d /tmp/tocsin-demo.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Start a local receiver standing in for the on-call chat webhook"
python3 "$ROOT/tests/tools/receiver.py" "$D/receiver.port" "$D/received.jsonl" &
PIDS+=("$!")
for _ in $(seq 50); do [ -s "$D/receiver.port" ] && break; sleep 0.1; done
HOOK="http://127.0.0.1:$(cat "$D/receiver.port")/chat"
touch "$D/received.jsonl"
echo "receiver at $HOOK"

mkdir -p "$D/rules" "$D/runbooks" "$D/detection"
cp "$ROOT"/rules/*.lua "$D/rules/"
cp "$ROOT"/runbooks/*.lua "$D/runbooks/"
cp "$ROOT"/rules/detection/*.lua "$D/detection/"
# a level 3 runbook of the demo's own: it asks a person before it restarts payments
cat >"$D/runbooks/restart-payments.lua" <<'EOF'
local http = require("tocsin.http")
local approval = require("tocsin.approval")
local config = require("tocsin.config")
return {
  name = "restart-payments", level = 3,
  description = "Roll payments back to the last good version, after a person approves.",
  params = { version = { type = "string", default = "2.3.9", pattern = "%d+%.%d+%.%d+" } },
  policy = { cooldown_s = 600, max_per_hour = 2 },
  run = function(ctx)
    local ok, by, note = approval.ask { reason = "roll payments back to " .. ctx.params.version .. "?",
                                        who = { "alice", "bob" }, timeout_s = 300 }
    if not ok then error("not approved (" .. by .. ")") end
    assert(http.post(config.get("notify.webhook_url"), { json = {
      text = string.format("payments rolled back to %s (approved by %s: %s)", ctx.params.version,
                           by, note) } }))
  end,
}
EOF
say "2. Start tocsin (no Redis URL given: it starts its own redis-server under $D/data)"
cat >"$D/tocsin.conf.lua" <<CONF
return {
  data_dir = "$D/data",
  http = { port = 0 },
  scripts = { rules_dir = "$D/rules", runbooks_dir = "$D/runbooks", lib_dir = "$ROOT/lua",
              detection_dir = "$D/detection", commands_dir = "$ROOT/chatops" },
  notify = { webhook_url = "$HOOK" },
  -- label renames at ingestion, on top of the built-in ones (service.name -> service, ...)
  ingest = { label_aliases = { ["cloud.region"] = "region" } },
  -- incidents as Grafana annotations: the local receiver stands in for Grafana's HTTP API
  grafana = { url = "${HOOK%/chat}/grafana", token = "demo-grafana-token" },
  -- log template rates and span statistics per 10 s (the default is a minute), so the demo's
  -- ten minutes are sixty intervals
  detect = { zscore = { window = 60, min_samples = 30, threshold = 4 }, interval_ms = 10000 },
  -- ChatOps: the Slack app's signing secret, who has which role, a token for tocsin chat
  chatops = {
    slack = { signing_secret = "demo-signing-secret" },
    users = { alice = "operator", bob = "operator", carol = "responder" },
    api_tokens = { carol = "demo-token-carol" },
  },
}
CONF
"$TOCSIN" serve -c "$D/tocsin.conf.lua" >"$D/engine.log" 2>&1 &
ENGINE=$!
PIDS+=("$ENGINE")
for _ in $(seq 100); do grep -q "ready: http://" "$D/engine.log" && break; sleep 0.1; done
URL=$(grep -o "ready: http://[0-9.:]*" "$D/engine.log" | sed 's/ready: //')
sed 's/^/  | /' "$D/engine.log"

send() { curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$1" "$URL/api/v1/samples"; }
sample() { # name service value ts
    printf '{"name":"%s","labels":{"service.name":"%s","env":"prod","cloud.region":"eu-west-1"},"value":%s,"timestamp":%s,"unit":"%s"}' "$1" "$2" "$3" "$4" "$5"
}

now=$(date +%s)
start=$((now - 600))
say "3. Ten minutes of normal traffic: frontend -> checkout -> payments (1 sample/10 s each)"
body="["
for i in $(seq 0 54); do
    ts=$((start + i * 10))
    body="$body$(sample http_latency_ms frontend $((120 + (i * 7) % 9)) $ts ms),"
    body="$body$(sample http_latency_ms checkout $((80 + (i * 5) % 7)) $ts ms),"
    body="$body$(sample db_query_ms payments $((12 + (i * 3) % 4)) $ts ms),"
done
echo "POST /api/v1/samples (165 samples) -> HTTP $(send "${body%,}]")"
# The same ten minutes as logs (Fluentd/Logstash JSON) and traces (OTLP/HTTP JSON): every 10 s
# each service logs its usual lines, and frontend calls checkout, which calls payments.
cat >"$D/traffic.py" <<'PY'
import json, random, sys, urllib.request
url, start, first, last, bad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "bad"
rng = random.Random(first)
def post(path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return urllib.request.urlopen(req).status
def hexid(n): return "".join(rng.choice("0123456789abcdef") for _ in range(n))
nlogs = nspans = 0
codes = set()
for i in range(first, last + 1):  # one request of each kind per 10 s, as exporters send them
    logs, spans = [], {"frontend": [], "checkout": [], "payments": []}
    t = start + i * 10
    for k in range(3):
        ts = t + k * 3
        logs.append({"message": "GET /product/%d 200 in %d ms" % (rng.randint(1, 900), rng.randint(20, 60)), "service": "frontend", "level": "info", "timestamp": ts})
        logs.append({"message": "cart %s updated: %d items" % (hexid(8), rng.randint(1, 9)), "service": "checkout", "level": "info", "timestamp": ts})
        if bad:
            logs.append({"message": "slow query on orders: seq scan of %d rows took %d ms (no index on orders.user_id)" % (rng.randint(900000, 990000), rng.randint(2100, 2600)), "service": "payments", "level": "warn", "timestamp": ts + 1})
        else:
            logs.append({"message": "charge %s authorized in %d ms" % (hexid(12), rng.randint(8, 20)), "service": "payments", "level": "info", "timestamp": ts + 1})
    for k in range(24):  # 24 requests per 10 s through all three services
        tid, a, b, c = hexid(32), hexid(16), hexid(16), hexid(16)
        s0 = t * 10**9 + k * 4 * 10**8
        pay = (rng.uniform(230, 260) if bad else rng.uniform(11, 15)) * 1e6
        chk = pay + rng.uniform(60, 70) * 1e6
        fe = chk + rng.uniform(35, 45) * 1e6
        spans["frontend"].append({"traceId": tid, "spanId": a, "name": "GET /checkout", "kind": 2, "startTimeUnixNano": str(s0), "endTimeUnixNano": str(int(s0 + fe))})
        spans["checkout"].append({"traceId": tid, "spanId": b, "parentSpanId": a, "name": "POST /cart/checkout", "kind": 2, "startTimeUnixNano": str(s0 + 10**6), "endTimeUnixNano": str(int(s0 + 10**6 + chk))})
        sp = {"traceId": tid, "spanId": c, "parentSpanId": b, "name": "POST /charge", "kind": 2, "startTimeUnixNano": str(s0 + 2 * 10**6), "endTimeUnixNano": str(int(s0 + 2 * 10**6 + pay))}
        if bad and k % 3 == 0: sp["status"] = {"code": 2, "message": "upstream timeout"}
        spans["payments"].append(sp)
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
                               "scopeSpans": [{"spans": ss}]} for svc, ss in spans.items()]}
    codes.add(post("/api/v1/logs", logs))
    codes.add(post("/v1/traces", body))
    nlogs += len(logs)
    nspans += sum(len(v) for v in spans.values())
print("POST /api/v1/logs (%d log lines) and /v1/traces (%d spans), %d requests -> HTTP %s" % (
    nlogs, nspans, 2 * (last - first + 1), "/".join(map(str, sorted(codes)))))
PY
python3 "$D/traffic.py" "$URL" "$start" 0 54 good

say "4. $(date -u -d @$((start + 550)) +%H:%M) deploy payments v2.4.0 ships a missing index: queries slow down"
curl -s -o /dev/null -H 'Content-Type: application/json' "$URL/api/v1/events" \
    -d "{\"type\":\"deploy\",\"service\":\"payments\",\"version\":\"2.4.0\",\"title\":\"payments 2.4.0\",\"timestamp\":$((start + 550))}"
echo "POST /api/v1/events: deploy of payments 2.4.0 recorded in tocsin:events"
echo "from now on payments logs slow queries, its spans take ~250 ms instead of ~13 and some time out:"
python3 "$D/traffic.py" "$URL" "$start" 55 59 bad
body="[$(sample db_query_ms payments 240 $((start + 560)) ms)]"
echo "payments db_query_ms = 240 ms (usually ~13 ms) -> HTTP $(send "$body")"
sleep 1
say "5. Thirty seconds later checkout, waiting on payments, slows down; then frontend"
echo "checkout http_latency_ms = 900 ms -> HTTP $(send "[$(sample http_latency_ms checkout 900 $((start + 570)) ms)]")"
sleep 1
echo "frontend http_latency_ms = 1500 ms -> HTTP $(send "[$(sample http_latency_ms frontend 1500 $((start + 580)) ms)]")"
echo "payments db_query_ms = 260 ms (still bad) -> HTTP $(send "[$(sample db_query_ms payments 260 $((start + 590)) ms)]")"

say "5b. Prometheus fires its own alerts through Alertmanager's webhook"
am_alert() { # alertname service severity startsAt summary
    printf '{"status":"firing","labels":{"alertname":"%s","service":"%s","severity":"%s","env":"prod"},"annotations":{"summary":"%s"},"startsAt":"%s"}' "$1" "$2" "$3" "$5" "$4"
}
at() { date -u -d @"$1" +%Y-%m-%dT%H:%M:%SZ; }
am_body="{\"version\":\"4\",\"status\":\"firing\",\"receiver\":\"tocsin\",\"alerts\":[$(am_alert PaymentsErrorBudgetBurn payments critical "$(at $((start + 575)))" "payments burns its 30-day error budget 14x too fast"),$(am_alert CheckoutLatencySLO checkout warning "$(at $((start + 580)))" "checkout p99 above 800 ms"),$(am_alert DiskSpaceLow reporting warning "$(at $((start + 585)))" "reporting-db volume 91% full")]}"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$am_body" "$URL/api/v1/alertmanager")
echo "POST /api/v1/alertmanager (PaymentsErrorBudgetBurn on payments, CheckoutLatencySLO on checkout,"
echo "  and DiskSpaceLow on reporting, which nothing here depends on) -> HTTP $code"

for _ in $(seq 100); do [ "$(wc -l <"$D/received.jsonl")" -ge 1 ] && break; sleep 0.1; done
# log template rates and span statistics close every 10 s: wait for the last interval
for _ in $(seq 150); do
    redis-cli -s "$D/data/redis.sock" --raw XRANGE tocsin:anomalies - + | grep -q traces_errors && break
    sleep 0.1
done
sleep 0.5

say "6. What tocsin did (engine log)"
grep -E "detect:|correlate:|automate:|script:" "$D/engine.log" | sed 's/^/  | /'

say "6b. Anomalies by kind (tocsin:anomalies): metrics, log templates, spans"
redis-cli -s "$D/data/redis.sock" --json XRANGE tocsin:anomalies - + | python3 -c '
import json, sys
for _id, f in json.load(sys.stdin):
    d = dict(zip(f[0::2], f[1::2]))
    lab = json.loads(d["labels"])
    what = lab.get("template") or lab.get("edge") or ""
    print("  %-15s %-9s %-20s %-8s value %-8.4g expected %-8.4g %s" % (d["detector"], d["service"], d["metric"], "", float(d["value"]), float(d["expected"]), what[:60]))'

say "7. What the on-call chat received (local webhook receiver)"
python3 - "$D/received.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    b = json.loads(r["body"])
    print(f"  POST {r['path']}: {b['text']}")
PY

say "8. The incidents and their probable root causes (GET /api/v1/incidents)"
curl -s "$URL/api/v1/incidents" >"$D/incidents.json"
python3 - "$D/incidents.json" <<'PY'
import json, sys
for i in json.load(open(sys.argv[1])):
    if i["state"] == "merged":
        print("  %s  merged into %s (its signals are there)" % (i["id"], i["merged_into"]))
        continue
    print("  %s  %-8s  %s  (%d signal(s) from %s)" % (i["id"], i["severity"], i["title"], i["alerts"],
                                                    ", ".join(i.get("services", [])) or "-"))
    print("  probable root causes (rules/80-rca.lua, tocsin.rca):")
    for r in i.get("rca", [])[:3]:
        print("    %.2f  %-9s %s" % (r["score"], r["service"], "; ".join(r["evidence"])))
PY

SOCK="$D/data/redis.sock"
say "9. The streams in Redis (embedded redis-server at unix:$SOCK)"
printf '  %-22s %s samples in %s entries over %s partitions\n' 'tocsin:samples:{0..3}' \
    "$(python3 "$ROOT/tests/tools/samples.py" --count -- -s "$SOCK")" \
    "$(redis-cli -s "$SOCK" --scan --pattern 'tocsin:samples:{*}' | xargs -n1 redis-cli -s "$SOCK" XLEN | awk '{s+=$1} END {print s}')" \
    "$(redis-cli -s "$SOCK" --scan --pattern 'tocsin:samples:{*}' | wc -l)"
echo "  one sample as stored (service.name -> service built in, cloud.region -> region configured):"
python3 "$ROOT/tests/tools/samples.py" -- -s "$SOCK" | awk '/"http_latency_ms"/ && !seen++ { print "    " $0 }' # reads it all: no broken pipe
for k in tocsin:events tocsin:anomalies tocsin:incidents tocsin:audit; do
    printf '  %-22s %s entries\n' "$k" "$(redis-cli -s "$SOCK" XLEN "$k")"
done
echo "  audit trail (XRANGE tocsin:audit):"
redis-cli -s "$SOCK" --json XRANGE tocsin:audit - + >"$D/audit.json" 2>/dev/null ||
    redis-cli -s "$SOCK" --raw XRANGE tocsin:audit - + >"$D/audit.raw"
python3 - "$D" <<'PY'
import json, os, sys
d = sys.argv[1]
entries = []
if os.path.exists(d + "/audit.json") and os.path.getsize(d + "/audit.json"):
    for _id, fields in json.load(open(d + "/audit.json")):
        entries.append(dict(zip(fields[0::2], fields[1::2])))
for f in entries:
    print("    %s  %-14s %-13s %-8s %s ms" % (f.get("run"), f.get("runbook"), f.get("event"),
                                             f.get("status"), f.get("ms")))
PY

say "10. The service graph tocsin learned from the traces (GET /api/topology)"
curl -s "$URL/api/topology" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["edges"]:
    print("  %s -> %s  (%s)" % (e["from"], e["to"], e["source"]))'

say "11. Someone edits the runbook during the incident: tocsin reloads it without a restart"
sed -i 's/on-call notified about %s/on-call notified (v2) about %s/' "$D/runbooks/notify-oncall.lua"
for _ in $(seq 50); do grep -q "runbook 'notify-oncall' reloaded" "$D/engine.log" && break; sleep 0.1; done
grep "reloaded" "$D/engine.log" | sed 's/^/  | /'
printf 'return { name = "notify-oncall", level = 9, run = function() end }\n' >"$D/runbooks/notify-oncall.lua"
for _ in $(seq 50); do grep -q "runbook not reloaded" "$D/engine.log" && break; sleep 0.1; done
echo "  a broken edit (level 9) is refused and version 2 keeps running:"
grep "runbook not reloaded" "$D/engine.log" | sed 's/^/  | /'
curl -s "$URL/api/scripts" | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    print("  %-8s %-16s version %d  active=%s  error=%s" % (s["kind"], s["name"], s["version"], s["active"], (s["error"] or "-")[:70]))'

say "11b. A remediation (level 3) needs a person: refused alone, a bad parameter refused, a dry run"
runs() { curl -s -o "$D/resp" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$1" "$URL/api/v1/runs"; }
echo "  POST /api/v1/runs restart-payments            -> HTTP $(runs '{"runbook":"restart-payments"}'): $(python3 -c "import json; print(json.load(open('$D/resp'))['message'][:90])" 2>/dev/null || cat "$D/resp")"
echo "  ... with \"version\": \"latest\"                 -> HTTP $(runs '{"runbook":"restart-payments","params":{"version":"latest"},"approved_by":"alice"}'): $(python3 -c "import json; print(json.load(open('$D/resp'))['message'][:90])")"
echo "  ... as a dry run                              -> HTTP $(runs '{"runbook":"restart-payments","dry_run":true}')"

say "11c. ChatOps: the on-call asks in Slack, alice starts the rollback, bob approves it with a button"
# Slack-shaped requests signed with the app's signing secret (tests/tools/slack_client.py); the
# receiver stands in for the message's response_url
SLACK="python3 $ROOT/tests/tools/slack_client.py"
RESP="${HOOK%/chat}/slack-response"
slack() { # USER TEXT: a signed /tocsin slash command; prints what Slack would show
    $SLACK command "$URL" demo-signing-secret --user "$1" --channel incident-payments --text "$2" \
        --response-url "$RESP" | python3 -c '
import json, sys
status, _, body = sys.stdin.read().partition(" ")
try: text = json.loads(body).get("text") or json.loads(body).get("message")
except ValueError: text = body
print("\n".join("    " + l for l in (("HTTP " + status + ": ") if status != "200" else "") .split("\n") + text.strip().split("\n")).replace("    \n", ""))'
}
echo "  a forged request (signed with the wrong secret) is refused and audited:"
$SLACK command "$URL" not-the-secret --user mallory --text "run restart-payments" | sed 's/^/    HTTP /'
echo "  /tocsin incidents (carol):"; slack carol "incidents"
pinc=$(curl -s "$URL/api/v1/incidents" | python3 -c 'import json,sys; l=[i for i in json.load(sys.stdin) if i["service"]=="payments" or "payments" in i.get("services",[])]; print((l or [{"id":"none"}])[0]["id"].rsplit("-",1)[-1])')
echo "  /tocsin explain $pinc (carol):"; slack carol "explain $pinc"
echo "  /tocsin deploys payments (carol):"; slack carol "deploys payments"
echo "  /tocsin run restart-payments (carol, a responder):"; slack carol "run restart-payments"
echo "  /tocsin run restart-payments --for $pinc (alice, an operator):"; slack alice "run restart-payments --for $pinc"
for _ in $(seq 50); do grep -q "asks for approval" "$D/received.jsonl" && break; sleep 0.1; done
apr=$(curl -s "$URL/api/v1/approvals" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
echo "  the channel gets the approval request with [Approve] [Deny] buttons ($apr); bob clicks Approve:"
$SLACK click "$URL" demo-signing-secret --user bob --channel incident-payments --approval "$apr" \
    --action approve --response-url "$RESP" | sed 's/^/    HTTP /'
for _ in $(seq 50); do grep -q "rolled back" "$D/received.jsonl" && grep -q "finished" "$D/received.jsonl" && break; sleep 0.1; done
echo "  what the Slack channel received through the response_url:"
python3 -c '
import json
for l in open("'"$D"'/received.jsonl"):
    r = json.loads(l)
    if r["path"].endswith("/slack-response"):
        m = json.loads(r["body"])
        buttons = [e["text"]["text"] for b in m.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]
        print("    > " + m["text"].replace("\n", " ")[:150] + ("  [" + "] [".join(buttons) + "]" if buttons else ""))'
echo "  payments is healthy again: /tocsin resolve $pinc (alice):"; slack alice "resolve $pinc rolled back to 2.3.9"
echo "  the terminal works too: tocsin chat whoami / silence (carol's token)"
"$TOCSIN" chat --url "$URL" --token demo-token-carol whoami | sed 's/^/    /'
"$TOCSIN" chat --url "$URL" --token demo-token-carol silence service=frontend 30m while payments recovers | sed 's/^/    /'
echo "  the audit stream has every command (XRANGE tocsin:audit, chat entries):"
redis-cli -s "$SOCK" -2 --json XRANGE tocsin:audit - + | python3 -c '
import json, sys
for _, kv in json.load(sys.stdin):
    f = dict(zip(kv[::2], kv[1::2]))
    if f.get("event", "").startswith("chat."):
        print("    %-13s %-6s %-8s %-10s %-9s %s" % (f["event"], f["platform"], f["user"] or "-",
              f["role"] or "-", f["status"], (f["text"] or f["detail"])[:60]))'
echo "  the runs (tocsin runs --limit 6):"
"$TOCSIN" runs --url "$URL" --limit 6 | sed 's/^/    /'

say "12. Engine metrics (GET /metrics, excerpt)"
curl -s "$URL/metrics" | grep -E '^tocsin_(ingest_records_total\{input="samples"|detect_anomalies_total|incidents_opened_total|runbook_runs_total|runbook_runs_refused_total|redis_connected)' | sed 's/^/  /'

say "12b. Grafana: the annotations tocsin posted as incidents opened and resolved (POST /api/annotations)"
python3 -c '
import json
for l in open("'"$D"'/received.jsonl"):
    r = json.loads(l)
    if r["path"].endswith("/api/annotations"):
        b = json.loads(r["body"])
        span = ("region %d s" % ((b["timeEnd"] - b["time"]) // 1000)) if "timeEnd" in b else "point"
        print("  %-10s tags=%s  %s" % (span, ",".join(b["tags"]), b["text"][:90]))'
echo "  the dashboard to import: grafana/dashboards/tocsin.json (docs/metrics.md)"
python3 - "$URL" <<'EOF'
import json, sys, urllib.request
url = sys.argv[1]
get = lambda p: json.load(urllib.request.urlopen(url + p))
title = urllib.request.urlopen(url + "/ui/").read().decode().split("<title>")[1].split("</title>")[0]
print("  the built-in page, served from the binary: %s/ui/ (%s); its charts come from" % (url, title))
for inc in get("/api/v1/incidents"):
    for a in get("/api/v1/incidents/" + inc["id"])["alerts"]:
        try:
            d = get("/api/v1/series/" + a["fingerprint"])
        except Exception:
            continue  # a log template or a span edge: no series chart
        band = [p for p in d["points"] if p[3] is not None]
        bad = [p for p in d["points"] if p[5]]
        print("    GET /api/v1/series/%s: %s%s, %d points, %d with the expected band, %d anomalous"
              % (d["sid"], d["metric"], json.dumps(d["labels"], sort_keys=True), len(d["points"]),
                 len(band), len(bad)))
        break
EOF

say "12c. What automation changed: tocsin report (MTTD, MTTA, MTTR per service and automation level)"
"$TOCSIN" report -c "$D/tocsin.conf.lua" --since 1h | sed 's/^/  /'

say "13. Stop tocsin (it stops its redis-server too)"
kill -TERM "$ENGINE"; wait "$ENGINE" || true
tail -n 4 "$D/engine.log" | sed 's/^/  | /'
say "14. Post-mortem offline: a recorded alert storm replayed in simulated time (tocsin replay)"
# a generated recording whose truth is known: deploys, faults that spread up the call graph,
# unrelated alerts and flapping ones (tests/tools/scenario.py), replayed at full speed
python3 "$ROOT/tests/tools/scenario.py" --family deploy --seed 7 --out "$D/storm" >/dev/null
echo "  $(wc -l <"$D/storm/events.ndjson") events over $(python3 -c "
import json
ts = [json.loads(l)['ts'] for l in open('$D/storm/events.ndjson') if '\"ts\"' in l]
print('%d minutes' % ((max(ts) - min(ts)) / 60000))") of alerts, deploys and config changes"
"$TOCSIN" replay "$D/storm/events.ndjson" --topology "$D/storm/topology.json" 2>&1 |
    grep -E "^INC|root cause|^replay" | head -12 | sed 's/^/  /'
"$TOCSIN" replay "$D/storm/events.ndjson" --topology "$D/storm/topology.json" --json 2>/dev/null >"$D/storm/report.ndjson"
echo "  scored against the recording's truth (tests/tools/score_replay.py):"
python3 "$ROOT/tests/tools/score_replay.py" "$D/storm/truth.json" "$D/storm/report.ndjson" | sed 's/^/  /'

echo
echo "Demo files are in $D"
