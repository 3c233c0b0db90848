#!/usr/bin/env bash
# tocsin.notify (issue 7, notifications): a runbook sends to Slack, Mattermost, PagerDuty and a
# generic webhook, all played by tests/tools/notify_receiver.py. Checks the exact payloads the
# providers document (PagerDuty's against its published examples in shared/vectors), retries
# with backoff (500, 500, 200), no retry on 400, Retry-After, connection failures, the engine
# answering /healthz while a run backs off, bad input raising before anything is sent, the
# context checks, the audit steps with the secrets masked, and a run cancelled mid-backoff.
. "$(dirname "$0")/lib.sh"

VEC="$SRC/../shared/vectors/pagerduty"
start_redis
mkdir -p "$T/rules" "$T/runbooks"
cp "$SRC/tests/integration/scripts/notify/notify_check.lua" "$T/runbooks/"

# a runbook file that calls notify at load time, and a rule that calls it: both are refused
cat >"$T/runbooks/notify_at_load.lua" <<'EOF'
local notify = require("tocsin.notify")
notify.slack("http://127.0.0.1:9/x", { text = "at load" })
return { name = "notify_at_load", level = 1, run = function() end }
EOF
cat >"$T/rules/notify_in_rule.lua" <<'EOF'
local notify = require("tocsin.notify")
local emit = require("tocsin.emit")
return {
  name = "notify_in_rule",
  on_alert = function()
    local ok, e = pcall(notify.pagerduty, { action = "resolve", routing_key = "k", dedup_key = "d" })
    emit.event("notify_in_rule", { ok = ok, err = e })
  end,
}
EOF

# what each path answers, in order (the last answer repeats)
cat >"$T/answers.json" <<'EOF'
{
  "/services/T00000000/B00000000/XXXXSECRETSLACKTOKEN": [{"status": 200, "body": "ok"}],
  "/hooks/xxxgeneratedkeysecretxxx": [{"status": 200, "body": "ok"}],
  "/v2/enqueue": [{"body": "@pagerduty"}],
  "/report": [{"status": 200, "body": "{}", "content_type": "application/json"}],
  "/flaky": [{"status": 500, "body": "boom"}, {"status": 500, "body": "boom"},
             {"status": 200, "body": "{\"accepted\":true}", "content_type": "application/json"}],
  "/bad": [{"status": 400, "body": "invalid_payload"}],
  "/down": [{"status": 503, "body": "down"}],
  "/ratelimit": [{"status": 429, "body": "slow down", "headers": {"Retry-After": "2"}},
                 {"status": 200, "body": "{}", "content_type": "application/json"}],
  "/busy": [{"status": 503, "body": "busy", "headers": {"Retry-After": "1"}},
            {"status": 200, "body": "ok"}],
  "/ratelimit_long": [{"status": 429, "body": "later", "headers": {"Retry-After": "120"}}],
  "/slowflaky": [{"status": 500, "body": "x"}, {"status": 500, "body": "x"},
                 {"status": 200, "body": "{}", "content_type": "application/json"}],
  "/put": [{"status": 201, "body": "created"}]
}
EOF
python3 "$SRC/tests/tools/notify_receiver.py" "$T/nr.port" "$T/nr.jsonl" "$T/answers.json" &
PIDS+=("$!")
wait_for 10 test -s "$T/nr.port" || { echo "receiver did not start"; exit 1; }
touch "$T/nr.jsonl"
BASE="http://127.0.0.1:$(cat "$T/nr.port")"
DEAD="http://127.0.0.1:$(free_port)/hook" # nothing listens there

cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$T/rules", runbooks_dir = "$T/runbooks", lib_dir = "$SRC/lua" },
}
CONF
start_engine "$T/tocsin.conf.lua"

start_case() { # start_case CASE [,"more":"fields"] -> run id
    curl -s -H 'Content-Type: application/json' --data-binary \
        "{\"runbook\":\"notify_check\",\"params\":{\"case\":\"$1\",\"base\":\"$BASE\",\"report\":\"$BASE/report\",\"dead\":\"$DEAD\"}${2:-}}" \
        "$URL/api/v1/runs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"])'
}
finished() { # finished RUN -> "status|detail" once the run has finished
    redis-cli -p "$REDIS_PORT" --json XRANGE tocsin:audit - + | python3 -c "
import json, sys
for _id, f in json.load(sys.stdin):
    d = dict(zip(f[0::2], f[1::2]))
    if d['run'] == '$1' and d['event'] == 'run.finished':
        print(d['status'] + '|' + d['detail']); break"
}
wait_finished() { # wait_finished RUN [SECONDS]
    local r=""
    for _ in $(seq $((${2:-20} * 10))); do
        r=$(finished "$1")
        [ -n "$r" ] && break
        sleep 0.1
    done
    echo "$r"
}
declare -A RUN
run_case() { # run_case CASE [SECONDS]: runs it to the end and checks it finished ok
    local id res
    id=$(start_case "$1")
    RUN[$1]=$id
    res=$(wait_finished "$id" "${2:-20}")
    check "case $1: the run finished ok ($(echo "${res:-not finished}" | head -c 200))" \
        bash -c "[[ \"\$0\" == ok* ]]" "$res"
}

# --- every case, one run each ------------------------------------------------------------------
for c in slack mattermost pd_trigger pd_trigger_nodedup pd_ack pd_resolve validation flaky bad \
    down refused ratelimit unavailable_retry_after ratelimit_long string_body; do
    run_case "$c"
done

# --- a dry run sends nothing and audits what it would have sent ------------------------------------
sent_before=$(wc -l <"$T/nr.jsonl")
for c in slack pd_trigger_nodedup string_body; do
    id=$(start_case "$c" ',"dry_run":true')
    RUN[dry_$c]=$id
    res=$(wait_finished "$id")
    check "dry run of $c finished ok ($res)" bash -c "[[ '$res' == ok* ]]"
done
check "the dry runs sent nothing" test "$(wc -l <"$T/nr.jsonl")" = "$sent_before"

# --- the loop keeps running while a run backs off ------------------------------------------------
# slowflaky waits ~2 s then ~4 s between its attempts; meanwhile /healthz is probed every 100 ms
# and another run (slack) starts and finishes.
n_slow() { grep -c '"path": "/slowflaky"' "$T/nr.jsonl" || true; }
slow_id=$(start_case slowflaky)
RUN[slowflaky]=$slow_id
wait_for 10 bash -c "[ \$(grep -c '\"path\": \"/slowflaky\"' $T/nr.jsonl) -ge 1 ]"
python3 - "$URL" "$T/healthz.txt" <<'PY'
import sys, time, urllib.request
worst, n, bad = 0.0, 0, 0
end = time.time() + 3.0
while time.time() < end:
    t0 = time.time()
    try:
        with urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=2) as r:
            ok = r.status == 200 and b'"ok"' in r.read()
    except Exception:
        ok = False
    dt = time.time() - t0
    worst, n, bad = max(worst, dt), n + 1, bad + (0 if ok else 1)
    time.sleep(0.1)
open(sys.argv[2], "w").write("%d %d %.0f\n" % (n, bad, worst * 1000))
PY
read -r hz_n hz_bad hz_worst <"$T/healthz.txt"
during=$(n_slow)
slack2=$(start_case slack)
res=$(wait_finished "$slack2" 5)
slow_res=$(finished "$slow_id")
check "another run finishes while slowflaky backs off ($res; slowflaky: ${slow_res:-still running})" \
    bash -c "[[ '$res' == ok* ]] && [ -z '$slow_res' ]"
check "/healthz answered $hz_n times during the backoff, none failed, slowest $hz_worst ms" \
    bash -c "[ $hz_n -ge 15 ] && [ $hz_bad = 0 ] && [ $hz_worst -lt 500 ]"
check "slowflaky was still between its attempts while probed ($during of 3 made)" \
    test "$during" -lt 3
res=$(wait_finished "$slow_id" 15)
check "slowflaky then finished ok ($res)" bash -c "[[ '$res' == ok* ]]"

# --- bad input raises, in a rule and at load time too ---------------------------------------------
check "notify at load time is refused, naming the context" \
    grep -q "notify_at_load.lua:2: notify.slack must be called from a runbook task (not from load context)" "$T/engine.log"
curl -s -o /dev/null -H 'Content-Type: application/json' \
    --data-binary '[{"labels":{"alertname":"NotifyCtx","service":"api","severity":"warning"},"annotations":{"summary":"x"}}]' \
    "$URL/api/v2/alerts"
check "notify in a rule is refused, naming the context" wait_for 10 bash -c \
    "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:events - + | grep -q 'notify.pagerduty must be called from a runbook task (not from rule context)'"

# --- everything the receiver got, every result, every audit step ---------------------------------
redis-cli -p "$REDIS_PORT" --json XRANGE tocsin:audit - + >"$T/audit.json"
runs_json=$(for k in "${!RUN[@]}"; do printf '"%s":"%s",' "$k" "${RUN[$k]}"; done)
if grep -q TN_HTTPC_RETRY_AFTER "$SRC/src/notify/httpc.h"; then RA=1; else RA=0; fi
python3 - "$T/nr.jsonl" "$T/audit.json" "$VEC" "{${runs_json%,}}" "$RA" "$BASE" >"$T/checks.out" <<'PY' || true
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
audit = [dict(zip(f[0::2], f[1::2])) for _id, f in json.load(open(sys.argv[2]))]
vec = sys.argv[3]
runs = json.loads(sys.argv[4])
ra = sys.argv[5] == "1"
base = sys.argv[6]
reports = {}
for r in recs:
    if r["path"] == "/report":
        b = json.loads(r["body"])
        reports.setdefault(b["case"], b)  # the first report of each case
def got(path):
    return [r for r in recs if r["path"] == path]
def body(path, i=0):
    return json.loads(got(path)[i]["body"])
def hdr(r, name):
    return {k.lower(): v for k, v in r["headers"].items()}.get(name.lower())
def steps(case):
    out = []
    for a in audit:
        if a["run"] == runs[case] and a["event"] == "step":
            d = json.loads(a["detail"])
            if d["action"].startswith("notify."):
                out.append((a, d))
    return out
def res(case):
    return reports[case]
def gaps(path):
    ts = [r["t"] for r in got(path)]
    return [b - a for a, b in zip(ts, ts[1:])]
C = []
def check(name, cond):
    C.append((name, cond))
def safe(name, f):
    try:
        check(name, bool(f()))
    except Exception as e:  # a missing report or field fails the check, with the reason
        check(name + " (" + type(e).__name__ + ": " + str(e)[:80] + ")", False)

SLACK = "/services/T00000000/B00000000/XXXXSECRETSLACKTOKEN"
MM = "/hooks/xxxgeneratedkeysecretxxx"
safe("slack: the exact documented payload", lambda: body(SLACK) == {
    "text": "Disk 93% on db-1",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Disk* 93% on `db-1`"}},
               {"type": "divider"}],
    "channel": "#ops", "username": "tocsin", "icon_emoji": ":rotating_light:"})
safe("slack: POST, application/json", lambda: got(SLACK)[0]["method"] == "POST"
     and hdr(got(SLACK)[0], "Content-Type") == "application/json")
safe("slack: result 200 'ok' in 1 attempt", lambda: res("slack")["ok"]
     and res("slack")["r"]["status"] == 200 and res("slack")["r"]["body"] == "ok"
     and res("slack")["r"]["attempts"] == 1)
safe("mattermost: the exact documented payload", lambda: body(MM) == {
    "text": "#### Disk pressure\n@channel db-1 is at 93%", "channel": "town-square",
    "username": "tocsin", "icon_url": "https://example.com/tocsin.png",
    "attachments": [{"fallback": "db-1 disk 93%", "color": "#FF8000", "title": "db-1",
                     "fields": [{"short": True, "title": "used", "value": "93%"}]}]})
safe("mattermost: delivered", lambda: res("mattermost")["ok"]
     and res("mattermost")["r"]["status"] == 200)

pd = got("/v2/enqueue")
def pd_body(case):
    # the enqueue requests arrive in case order: trigger, trigger without key, ack, resolve
    order = ["pd_trigger", "pd_trigger_nodedup", "pd_ack", "pd_resolve"]
    return json.loads(pd[order.index(case)]["body"])
safe("pagerduty trigger == PagerDuty's example (events_v2_trigger.json), field by field",
     lambda: pd_body("pd_trigger") == json.load(open(vec + "/events_v2_trigger.json")))
safe("pagerduty acknowledge == events_v2_acknowledge.json",
     lambda: pd_body("pd_ack") == json.load(open(vec + "/events_v2_acknowledge.json")))
safe("pagerduty resolve == events_v2_resolve.json",
     lambda: pd_body("pd_resolve") == json.load(open(vec + "/events_v2_resolve.json")))
safe("pagerduty: 4 POSTs to /v2/enqueue as application/json", lambda: len(pd) == 4 and all(
    r["method"] == "POST" and hdr(r, "Content-Type") == "application/json" for r in pd))
safe("pagerduty trigger: status 202 and the dedup_key answered", lambda:
     res("pd_trigger")["r"]["status"] == 202 and res("pd_trigger")["r"]["dedup_key"] == "samplekeyhere")
safe("pagerduty trigger without dedup_key: the minimal body, timestamp from ms in ISO 8601",
     lambda: pd_body("pd_trigger_nodedup") == {
         "payload": {"summary": "db-1 disk 93%", "timestamp": "2015-07-17T08:42:58.315Z",
                     "source": "db-1", "severity": "critical"},
         "routing_key": "R0UTINGKEYSECRET0123456789abcdef", "event_action": "trigger"})
safe("pagerduty trigger without dedup_key: the key PagerDuty made up comes back", lambda:
     res("pd_trigger_nodedup")["r"]["dedup_key"] == pd[1]["dedup_key"] and len(pd[1]["dedup_key"]) == 32)
safe("pagerduty acknowledge and resolve: 202, dedup_key", lambda: all(
    res(c)["r"]["status"] == 202 and res(c)["r"]["dedup_key"] == "dedupkeyhere"
    for c in ("pd_ack", "pd_resolve")))

v = reports.get("validation", {}).get("r", {})
expect = {
    "pd_no_action": "'action' is required",
    "pd_bad_action": "'action' must be \"trigger\", \"acknowledge\" or \"resolve\", not \"escalate\"",
    "pd_no_key": "'routing_key' is required",
    "pd_no_summary": "'summary' is required for a trigger",
    "pd_no_source": "'source' is required for a trigger",
    "pd_bad_severity": "'severity' must be \"critical\", \"error\", \"warning\" or \"info\", not \"fatal\"",
    "pd_long_summary": "'summary' has 1025 characters, at most 1024",
    "pd_long_dedup": "'dedup_key' must have 1 to 255 characters, not 256",
    "pd_ack_no_dedup": "'dedup_key' is required to acknowledge an alert",
    "pd_resolve_payload": "'summary' is only for trigger events, not resolve",
    "pd_typo": "unknown field 'sumary'",
    "pd_image_http": "images[1]: 'src' must be an https:// URL",
    "pd_link_no_href": "links[1]: 'href' is required",
    "pd_details_type": "'custom_details' must be a table",
    "slack_no_text": "notify.slack: 'text' is required",
    "slack_bad_url": "the URL must start with https:// or http://",
    "slack_option_in_message": "notify.slack: unknown field 'retries'",
    "slack_bad_retries": "'retries' must be an integer from 0 to 10",
    "slack_blocks_type": "'blocks' must be a list",
    "mm_no_text": "notify.mattermost: 'text' is required unless 'attachments' are given",
    "webhook_bad_body": "the body must be a table (sent as JSON), a string or nil",
    "webhook_bad_header": "header 'X-A' contains a forbidden character",
    "webhook_bad_method": "'method' must be an HTTP method in capitals",
    "webhook_unknown_opt": "unknown option 'retry'",
    "webhook_function": "notify.webhook: body:",
}
for k, want in expect.items():
    m = v.get(k, "(missing)")
    check("bad input %s raises: %s" % (k, want[:70]), want in m and "notify_check.lua:" in m)
check("bad input sends nothing (no request to /never)", not got("/never"))
safe("bad input starts no notify step", lambda: steps("validation") == [])

fl = got("/flaky")
safe("500, 500, 200: delivered at attempt 3", lambda: res("flaky")["ok"]
     and res("flaky")["r"]["attempts"] == 3 and res("flaky")["r"]["status"] == 200)
safe("500, 500, 200: 3 identical requests with the table as JSON and the header", lambda:
     len(fl) == 3 and all(json.loads(r["body"]) == {"event": "deploy", "service": "payments"}
                          and hdr(r, "X-Tocsin-Test") == "flaky"
                          and hdr(r, "Content-Type") == "application/json" for r in fl))
g = gaps("/flaky")
check("default backoff: waits ~0.5 s then ~1 s, with jitter (%s)" % ["%.2f" % x for x in g],
      len(g) == 2 and 0.38 <= g[0] <= 1.2 and 0.78 <= g[1] <= 2.0 and g[1] > g[0])
safe("400 is not retried: nil, 'rejected: 400 invalid_payload', 1 attempt, 1 request", lambda:
     not res("bad")["ok"] and res("bad")["err"] == "rejected: 400 invalid_payload"
     and res("bad")["r"]["attempts"] == 1 and len(got("/bad")) == 1)
safe("503 until the retries run out: 'unavailable: 503 down' after 1 + 2 attempts", lambda:
     res("down")["err"] == "unavailable: 503 down" and res("down")["r"]["attempts"] == 3)
safe("connection refused is retried: 'closed' after 3 attempts", lambda:
     res("refused")["err"] == "closed" and res("refused")["r"]["attempts"] == 3
     and res("refused")["r"]["status"] == 0)
safe("string body with PUT and a header: as given, text/plain by default", lambda:
     got("/put")[0]["method"] == "PUT" and got("/put")[0]["body"] == "plain text body"
     and hdr(got("/put")[0], "Content-Type") == "text/plain; charset=utf-8"
     and hdr(got("/put")[0], "Authorization") == "Bearer WEBHOOKSECRET"
     and res("string_body")["r"]["status"] == 201)
if ra:
    g = gaps("/ratelimit")
    check("429 with Retry-After: 2 waits 2 s, not the 0.05 s backoff (%s)" % g,
          len(g) == 1 and 1.9 <= g[0] <= 3.0 and res("ratelimit")["r"]["attempts"] == 2)
    g = gaps("/busy")
    check("503 with Retry-After: 1 waits 1 s (%s)" % g, len(g) == 1 and 0.9 <= g[0] <= 2.0)
    safe("Retry-After beyond max_backoff: gives up at once, retry_after reported", lambda:
         res("ratelimit_long")["err"] == "unavailable: 429 later"
         and res("ratelimit_long")["r"]["attempts"] == 1
         and res("ratelimit_long")["r"]["retry_after"] == 120 and len(got("/ratelimit_long")) == 1)
else:
    print("skip Retry-After: the HTTP client (src/notify/httpc.h) does not report it yet")
g = gaps("/slowflaky")
check("backoff = 2: waits ~2 s then ~4 s (%s)" % ["%.2f" % x for x in g],
      len(g) == 2 and 1.5 <= g[0] <= 2.9 and 3.0 <= g[1] <= 5.2)

# the audit steps
def step(case, i=0):
    return steps(case)[i]
safe("audit: one notify.slack step: target, masked URL, attempts, status, result, ms", lambda:
     len(steps("slack")) == 1 and step("slack")[0]["status"] == "ok"
     and step("slack")[1]["action"] == "notify.slack"
     and step("slack")[1]["result"]["target"] == "slack"
     and step("slack")[1]["result"]["url"] == base + "/***"
     and step("slack")[1]["result"]["attempts"] == 1 and step("slack")[1]["result"]["status"] == 200
     and step("slack")[1]["result"]["result"] == "ok"
     and float(step("slack")[0]["ms"]) >= 0 and "ms" in step("slack")[1]["result"])
safe("audit: the retried webhook is one step with attempts 3", lambda:
     len(steps("flaky")) == 1 and step("flaky")[1]["result"]["attempts"] == 3
     and step("flaky")[1]["result"]["method"] == "POST"
     and float(step("flaky")[0]["ms"]) >= 1000)
safe("audit: the refused 400 is a failed step, result 'rejected'", lambda:
     step("bad")[0]["status"] == "failed" and step("bad")[1]["result"]["result"] == "rejected"
     and step("bad")[1]["result"]["status"] == 400)
safe("audit: pagerduty step: event_action, masked routing key, dedup_key", lambda:
     step("pd_trigger_nodedup")[1]["result"]["routing_key"] == "***cdef"
     and step("pd_trigger_nodedup")[1]["result"]["event_action"] == "trigger"
     and step("pd_ack")[1]["result"]["routing_key"] == "***"
     and step("pd_ack")[1]["result"]["dedup_key"] == "dedupkeyhere"
     and step("pd_ack")[1]["result"]["status"] == 202)
safe("audit: a dedup_key equal to the routing key is masked like it", lambda:
     step("pd_trigger")[1]["result"]["dedup_key"] == "***")
safe("dry run: one notify.slack step saying what would be sent, masked", lambda:
     len(steps("dry_slack")) == 1 and step("dry_slack")[1]["result"]["dry_run"] is True
     and step("dry_slack")[1]["result"]["would"].startswith("slack POST " + base + "/***, ")
     and step("dry_slack")[1]["result"]["would"].endswith(" bytes"))
safe("dry run: pagerduty would trigger, routing key masked", lambda:
     step("dry_pd_trigger_nodedup")[1]["result"]["would"]
     == "pagerduty POST " + base + "/*** trigger, routing_key ***cdef, "
     + str(len(pd[1]["body"].encode())) + " bytes")
safe("dry run: the webhook would PUT", lambda:
     step("dry_string_body")[1]["result"]["would"].startswith("webhook PUT " + base + "/***"))
raw = open(sys.argv[2]).read()
for secret in ("XXXXSECRETSLACKTOKEN", "xxxgeneratedkeysecretxxx", "R0UTINGKEYSECRET",
               "samplekeyhere", "routingkeyhere", "WEBHOOKSECRET", "/services/T0", "/hooks/"):
    check("audit stream holds no %s" % secret, secret not in raw)
for name, ok in C:
    print(("ok" if ok else "FAIL") + " " + name)
PY
while read -r verdict name; do
    case "$verdict" in
    ok) ok "$name" ;;
    skip) echo "# skip $name" ;;
    *) not_ok "$name" ;;
    esac
done <"$T/checks.out"
check "the checks ran ($(grep -c . "$T/checks.out") lines)" test "$(grep -c . "$T/checks.out")" -ge 60

# --- the log: every attempt, and no secret ---------------------------------------------------------
check "every attempt is logged (flaky: attempts 1, 2 retried, 3 delivered)" bash -c "
    grep -q 'notify.webhook $BASE/\*\*\*: attempt 1 of 4: HTTP 500 .*retrying in' $T/engine.log &&
    grep -q 'notify.webhook $BASE/\*\*\*: attempt 2 of 4: HTTP 500 .*retrying in' $T/engine.log &&
    grep -q 'notify.webhook $BASE/\*\*\*: attempt 3 of 4: HTTP 200, delivered' $T/engine.log"
check "a 400 is logged as not retried" grep -q 'notify.slack .*attempt 1 of 4: HTTP 400 .*not retried' "$T/engine.log"
check "a refused connection is logged with the reason" grep -q 'attempt 3 of 3: closed (.*) in .* ms; no retries left' "$T/engine.log"
for secret in XXXXSECRETSLACKTOKEN xxxgeneratedkeysecretxxx R0UTINGKEYSECRET samplekeyhere routingkeyhere WEBHOOKSECRET; do
    check "engine log holds no $secret" bash -c "! grep -q '$secret' '$T/engine.log'"
done

# --- a run still backing off when the engine stops is cancelled cleanly ---------------------------
before=$(grep -c '"path": "/down"' "$T/nr.jsonl" || true)
hang=$(start_case hang)
check "the hanging run made its first attempt" wait_for 10 bash -c \
    "[ \$(grep -c '\"path\": \"/down\"' $T/nr.jsonl) -gt $before ]"
sleep 0.3
check "engine stops cleanly while a run backs off" stop_engine
check "the run was cancelled mid-backoff (after 1 attempt)" grep -q 'notify.webhook .*: canceled after 1 attempt(s)' "$T/engine.log"
check "its audit says canceled" bash -c "[[ \"\$(redis-cli -p $REDIS_PORT --json XRANGE tocsin:audit - + | python3 -c \"
import json, sys
for _id, f in json.load(sys.stdin):
    d = dict(zip(f[0::2], f[1::2]))
    if d['run'] == '$hang' and d['event'] == 'run.finished': print(d['status'])\")\" == canceled ]]"
check "no sanitizer report in the engine log" bash -c "! grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' '$T/engine.log'"
finish
