#!/usr/bin/env bash
# Runbook policy (issue 7, in part): typed parameters, approvals (asked, granted, denied, timed
# out), the highest level that runs without a human
# (automate.max_level) and approved_by, dry runs (the runbook's, the request's) performing
# nothing while every action is audited, cooldown per key, the runaway guard (max_per_hour),
# max_concurrent, and the cooldown and concurrency holding under bursts of 100 requests and of
# 100 incidents triggering runbooks;
# GET /api/runs and tocsin runs; tocsin check refusing bad policies.
. "$(dirname "$0")/lib.sh"
start_redis
start_receiver
mkdir -p "$T/runbooks" "$T/rules"
cat >"$T/runbooks/restart.lua" <<'EOF'
local http = require("tocsin.http")
return {
  name = "restart", level = 3, params = { service = "" },
  policy = { max_per_hour = 3, key = "service" },
  run = function(ctx)
    assert(http.post(ctx.params.url, { json = { restart = ctx.params.service,
                                                by = ctx.approved_by, dry = ctx.dry_run } }))
  end,
}
EOF
cat >"$T/runbooks/diag.lua" <<'EOF'
local http = require("tocsin.http")
return {
  name = "diag", level = 2, params = { service = "" },
  policy = { cooldown_s = 60 },
  run = function(ctx) assert(http.post(ctx.params.url, { json = { diag = ctx.params.service } })) end,
}
EOF
cat >"$T/runbooks/slow.lua" <<'EOF'
local time = require("tocsin.time")
local http = require("tocsin.http")
return {
  name = "slow", level = 1, policy = { max_concurrent = 2 },
  run = function(ctx)
    time.sleep(1.5)
    assert(http.post(ctx.params.url, { json = { slow = ctx.run_id } }))
  end,
}
EOF
cat >"$T/runbooks/dry.lua" <<'EOF'
local http = require("tocsin.http")
local exec = require("tocsin.exec")
local redis = require("tocsin.redis")
return {
  name = "dry", level = 1, dry_run = true,
  run = function(ctx)
    local r = assert(http.post(ctx.params.url, { json = { dry = "should not arrive" } }))
    assert(r.dry_run and ctx.dry_run)
    assert(exec.run { argv = { "/bin/echo", "hello" } }).dry_run = true
    assert(redis.call("SET", "tocsin-test:dry", "written")).dry_run = true
  end,
}
EOF
cat >"$T/runbooks/scale.lua" <<'EOF'
local http = require("tocsin.http")
return {
  name = "scale", level = 2,
  params = {
    service = { type = "string", required = true, pattern = "[a-z][a-z0-9-]*" },
    replicas = { type = "integer", default = 2, min = 1, max = 20 },
    mode = { type = "string", enum = { "soft", "hard" }, default = "soft" },
  },
  run = function(ctx)
    local p = ctx.params
    assert(http.post(p.url, { json = { scale = p.service, replicas = p.replicas, mode = p.mode } }))
  end,
}
EOF
cat >"$T/runbooks/ask.lua" <<'EOF'
local approval = require("tocsin.approval")
local http = require("tocsin.http")
return {
  name = "ask", level = 1, params = { timeout = 30, on_timeout = "deny" },
  run = function(ctx)
    local ok, by, note = approval.ask { reason = "restart db-1?", who = { "alice", "bob" },
                                       timeout_s = ctx.params.timeout,
                                       on_timeout = ctx.params.on_timeout }
    assert(http.post(ctx.params.url, { json = { approved = ok, by = by, note = note,
                                                run = ctx.run_id } }))
  end,
}
EOF
cat >"$T/runbooks/on-db.lua" <<'EOF'
local http = require("tocsin.http")
local config = require("tocsin.config")
return {
  name = "on-db", level = 1, params = { service = "" },
  triggers = { { incident = { service = "db*", severity = "critical" } } },
  run = function(ctx)
    assert(http.post(config.get("notify.webhook_url"), { json = {
      triggered = ctx.incident.id, service = ctx.params.service, origin = ctx.origin } }))
    local incident = require("tocsin.incident")
    assert(incident.annotate(ctx.incident.id, "diagnostics attached by on-db"))
    assert(incident.link(ctx.incident.id, "http://grafana.example/d/db", "dashboard"))
    assert(incident.ack(ctx.incident.id, "on-db is looking"))
    local again, why = incident.ack(ctx.incident.id)
    assert(again == nil and why:find("already"), "a second ack is refused: " .. tostring(why))
  end,
}
EOF
cat >"$T/runbooks/tick.lua" <<'EOF'
local http = require("tocsin.http")
local config = require("tocsin.config")
return {
  name = "tick", level = 1,
  triggers = { { every_s = 1 } },
  run = function(ctx)
    assert(http.post(config.get("notify.webhook_url"), { json = { tick = ctx.origin } }))
  end,
}
EOF
cat >"$T/runbooks/steps.lua" <<'EOF'
local http = require("tocsin.http")
local time = require("tocsin.time")
local steps = require("tocsin.steps")
local tries = 0
return {
  name = "steps", level = 1, params = { hang = true },
  run = function(ctx)
    local url = ctx.params.url
    local function say(what) assert(http.post(url, { json = { step = what, run = ctx.run_id } })) end
    local t0 = time.now()
    local ok, report = steps.run {
      { name = "a", run = function() say("a") end, undo = function() say("undo a") end },
      { name = "b", retries = 2, backoff_s = 0.1,
        run = function()
          tries = tries + 1
          if tries < 2 then return nil, "flaky" end
          say("b after " .. tries .. " tries")
        end,
        undo = function() say("undo b") end },
      { name = "c", timeout_s = 0.5,
        run = function()
          if ctx.params.hang then assert(time.sleep(30)) end
          say("c")
        end },
    }
    say(string.format("done ok=%s failed=%s error=%s undone=%s in %d ms", tostring(ok),
        tostring(report.failed), tostring(report.error),
        table.concat(report.compensated or report.done, ","), time.now() - t0))
    if not ok then error("steps failed: " .. report.failed) end
  end,
}
EOF
cat >"$T/runbooks/burst-cool.lua" <<'EOF'
local time = require("tocsin.time")
return {
  name = "burst-cool", level = 1, policy = { cooldown_s = 600, key = "runbook" },
  triggers = { { incident = { service = "burst-*" } } },
  run = function() time.sleep(0.2) end,
}
EOF
cat >"$T/runbooks/burst-conc.lua" <<'EOF'
local time = require("tocsin.time")
return {
  name = "burst-conc", level = 1, policy = { max_concurrent = 3 },
  triggers = { { incident = { service = "burst-*" } } },
  run = function() time.sleep(3) end,
}
EOF
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$SRC/rules", runbooks_dir = "$T/runbooks", lib_dir = "$SRC/lua",
              exec_allow = { "/bin/echo" } },
  automate = { keep_runs = 1000 },
  notify = { webhook_url = "$RECEIVER_URL" },
}
CONF
start_engine "$T/tocsin.conf.lua"
start() { # start JSON -> HTTP status; body in $T/resp
    curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$1" "$URL/api/v1/runs"
}
received() { grep -c "$1" "$T/received.jsonl" || true; }
U="\"url\":\"$RECEIVER_URL\""

# --- typed parameters ---------------------------------------------------------------------------
bad_param() { # PARAMS EXPECTED-TEXT
    local code
    code=$(start "{\"runbook\":\"scale\",\"params\":{$U$1}}")
    check "scale with {${1#,}}: 400 naming the problem ($code)" bash -c "[ $code = 400 ] && grep -q \"\$0\" $T/resp" "$2"
}
bad_param "" "parameter 'service' is required"
bad_param ",\"service\":\"db\",\"replicas\":50" "parameter 'replicas' must be at most 20"
bad_param ",\"service\":\"db\",\"replicas\":\"3\"" "parameter 'replicas' must be of type integer, not string"
bad_param ",\"service\":\"db\",\"mode\":\"medium\"" "parameter 'mode' is not one of the values allowed"
bad_param ",\"service\":\"Bad Name!\"" "parameter 'service' does not match"
code=$(start "{\"runbook\":\"restart\",\"params\":{$U,\"service\":5},\"approved_by\":\"alice\"}")
check "a plain default gives the type: a number for a string parameter -> 400 ($code)" bash -c \
    "[ $code = 400 ] && grep -q 'like its default' $T/resp"
code=$(start "{\"runbook\":\"scale\",\"params\":{$U,\"service\":\"db\",\"replicas\":3.0}}")
check "valid parameters run, defaults filled in ($code)" test "$code" = 202
check "the runbook saw them typed" wait_for 10 python3 -c "
import json
for l in open('$T/received.jsonl'):
    b = json.loads(json.loads(l)['body'])
    if b.get('scale') == 'db':
        assert b['replicas'] == 3 and b['mode'] == 'soft', b
        break
else:
    raise SystemExit(1)"

# --- the level gate and approval ---------------------------------------------------------------
code=$(start "{\"runbook\":\"restart\",\"params\":{$U,\"service\":\"db\"}}")
check "a level 3 runbook above automate.max_level (2) is refused: 403 ($code)" bash -c \
    "[ $code = 403 ] && grep -q needs_approval $T/resp && grep -q 'approved_by' $T/resp"
code=$(start "{\"runbook\":\"restart\",\"params\":{$U,\"service\":\"db\"},\"approved_by\":\"alice\"}")
check "approved by a person it runs: 202 ($code)" test "$code" = 202
check "and acts, knowing who approved it" wait_for 10 grep -q '\\"by\\": *\\"alice\\"\|"by":"alice"\|\\"by\\":\\"alice\\"' "$T/received.jsonl"
code=$(start "{\"runbook\":\"restart\",\"params\":{$U,\"service\":\"web\"},\"dry_run\":true}")
check "as a dry run it needs no approval: 202 ($code)" test "$code" = 202
# --- the runaway guard: at most 3 restarts of one service per hour ------------------------------
for _ in 1 2; do start "{\"runbook\":\"restart\",\"params\":{$U,\"service\":\"db\"},\"approved_by\":\"alice\"}" >/dev/null; done
code=$(start "{\"runbook\":\"restart\",\"params\":{$U,\"service\":\"db\"},\"approved_by\":\"alice\"}")
check "a 4th restart of db within the hour is refused: 429 ($code)" bash -c \
    "[ $code = 429 ] && grep -q 'max_per_hour' $T/resp && grep -q 'runaway' $T/resp"
code=$(start "{\"runbook\":\"restart\",\"params\":{$U,\"service\":\"cache\"},\"approved_by\":\"alice\"}")
check "another service is counted apart: 202 ($code)" test "$code" = 202
# --- cooldown per service, under a burst of 100 ------------------------------------------------
seq 100 | xargs -P 10 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
    --data-binary "{\"runbook\":\"diag\",\"params\":{$U,\"service\":\"api\"}}" "$URL/api/v1/runs" >"$T/burst1"
check "a burst of 100 diag requests for one service: 1 runs, 99 are refused by the cooldown" bash -c \
    "[ \$(grep -c '^202' $T/burst1) = 1 ] && [ \$(grep -c '^429' $T/burst1) = 99 ]"
check "and exactly one diag reached the receiver" wait_for 10 bash -c "[ \$(grep -c 'diag' $T/received.jsonl) = 1 ]"
code=$(start "{\"runbook\":\"diag\",\"params\":{$U,\"service\":\"db\"}}")
check "the cooldown is per service: another one runs ($code)" test "$code" = 202
# --- max_concurrent under a burst of 100 -------------------------------------------------------
seq 100 | xargs -P 10 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
    --data-binary "{\"runbook\":\"slow\",\"params\":{$U}}" "$URL/api/v1/runs" >"$T/burst2"
check "100 slow runs asked for at once: 2 run (max_concurrent 2), 98 refused" bash -c \
    "[ \$(grep -c '^202' $T/burst2) = 2 ] && [ \$(grep -c '^429' $T/burst2) = 98 ]"
check "once they finished another may run" wait_for 10 bash -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{\"runbook\":\"slow\",\"params\":{$U}}' $URL/api/v1/runs) = 202 ]"
# --- dry runs -----------------------------------------------------------------------------------
code=$(start "{\"runbook\":\"dry\",\"params\":{$U}}")
check "a dry-run runbook starts ($code)" test "$code" = 202
dry_id=$(python3 -c "import json; print(json.load(open('$T/resp'))['run'])")
check "it finishes ok" wait_for 10 bash -c "curl -s $URL/api/runs | grep -q '\"run\":\"$dry_id\"[^}]*\"status\":\"ok\"\|\"status\":\"ok\"[^]]*$dry_id'"
sleep 0.3
check "nothing it would have done was done: no request, no key written" bash -c \
    "! grep -q 'should not arrive' $T/received.jsonl && [ -z \"\$(redis-cli -p $REDIS_PORT GET tocsin-test:dry)\" ]"
check "every action is in the audit trail, marked dry_run" bash -c "
    redis-cli -p $REDIS_PORT --json XRANGE tocsin:audit - + | python3 -c \"
import json, sys
steps = [dict(zip(f[0::2], f[1::2])) for _i, f in json.load(sys.stdin)]
steps = [s for s in steps if s['run'] == '$dry_id' and s['event'] == 'step']
acts = [json.loads(s['detail'])['action'] for s in steps]
assert acts == ['http.request', 'exec.run', 'redis.call'], acts
assert all(json.loads(s['detail'])['result']['dry_run'] for s in steps), steps\""
# --- approvals: asked, granted, denied, timed out ----------------------------------------------
pending() { curl -s "$URL/api/v1/approvals"; }
decide() { # ID DECISION BY -> HTTP status
    curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"id\":\"$1\",\"decision\":\"$2\",\"by\":\"$3\",\"note\":\"checked the graphs\"}" "$URL/api/v1/approvals"
}
start "{\"runbook\":\"ask\",\"params\":{$U}}" >/dev/null
ask_run=$(python3 -c "import json; print(json.load(open('$T/resp'))['run'])")
listed() { pending | python3 -c "
import json, sys
a = [a for a in json.load(sys.stdin) if a['run'] == '$1']
assert a and a[0]['reason'] == 'restart db-1?' and a[0]['who'] == ['alice', 'bob'], a"; }
check "the run waits: its ask is listed with reason and who" wait_for 5 listed "$ask_run"
apr=$(pending | python3 -c "import json,sys; print([a['id'] for a in json.load(sys.stdin) if a['run'] == '$ask_run'][0])")
check "the engine answers while it waits" bash -c "curl -sf $URL/healthz | grep -q '\"status\":\"ok\"'"
code=$(decide "$apr" approve mallory)
check "someone not among who may not decide: 403 ($code)" bash -c "[ $code = 403 ] && grep -q 'not among' $T/resp"
code=$(decide "APR-nope" approve alice)
check "an unknown approval: 404 ($code)" test "$code" = 404
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"id":"x","decision":"maybe","by":"a"}' "$URL/api/v1/approvals")
check "a decision other than approve or deny: 400 ($code)" test "$code" = 400
code=$(decide "$apr" approve alice)
check "alice approves: 200 ($code)" test "$code" = 200
check "the run goes on, knowing who approved and why" wait_for 5 bash -c \
    "grep -q '$ask_run' $T/received.jsonl && grep '$ask_run' $T/received.jsonl | grep -q 'approved.*true' && grep '$ask_run' $T/received.jsonl | grep -q 'checked the graphs'"
start "{\"runbook\":\"ask\",\"params\":{$U}}" >/dev/null
deny_run=$(python3 -c "import json; print(json.load(open('$T/resp'))['run'])")
wait_for 5 bash -c "curl -s $URL/api/v1/approvals | grep -q '$deny_run'" || true
apr=$(pending | python3 -c "import json,sys; print([a['id'] for a in json.load(sys.stdin) if a['run'] == '$deny_run'][0])")
code=$(decide "$apr" deny bob)
check "bob denies: the run learns it was denied ($code)" wait_for 5 bash -c \
    "grep '$deny_run' $T/received.jsonl | grep -q 'approved.*false'"
start "{\"runbook\":\"ask\",\"params\":{$U,\"timeout\":1,\"on_timeout\":\"approve\"}}" >/dev/null
to_run=$(python3 -c "import json; print(json.load(open('$T/resp'))['run'])")
check "nobody decides in time: on_timeout approve goes on, by timeout" wait_for 8 bash -c \
    "grep '$to_run' $T/received.jsonl | grep -q 'approved.*true' && grep '$to_run' $T/received.jsonl | grep -q 'timeout'"
start "{\"runbook\":\"ask\",\"params\":{$U,\"timeout\":1}}" >/dev/null
to2_run=$(python3 -c "import json; print(json.load(open('$T/resp'))['run'])")
check "and by default a timeout denies" wait_for 8 bash -c "grep '$to2_run' $T/received.jsonl | grep -q 'approved.*false'"
check "nothing is left pending" test "$(pending)" = "[]"
check "each decision is a step of the audit trail" bash -c "
    redis-cli -p $REDIS_PORT --json XRANGE tocsin:audit - + | python3 -c \"
import json, sys
d = [json.loads(dict(zip(f[0::2], f[1::2]))['detail']) for _i, f in json.load(sys.stdin)]
dec = sorted(x['result']['decision'] for x in d if x.get('action') == 'approval.ask')
assert dec == ['approved', 'approved on timeout', 'denied', 'denied on timeout'], dec\""

# --- steps: retries with backoff, a step timing out, its compensation ---------------------------
start "{\"runbook\":\"steps\",\"params\":{$U}}" >/dev/null
st_run=$(python3 -c "import json; print(json.load(open('$T/resp'))['run'])")
check "a flaky step is retried with backoff and succeeds" wait_for 10 bash -c "grep '$st_run' $T/received.jsonl | grep -q 'b after 2 tries'"
check "a step still waiting at its timeout fails, and the steps done before it are undone in reverse order" wait_for 10 python3 -c "
import json
said = [json.loads(json.loads(l)['body'])['step'] for l in open('$T/received.jsonl') if '$st_run' in l]
assert said[:2] == ['a', 'b after 2 tries'] and said[2:4] == ['undo b', 'undo a'], said
assert said[4].startswith('done ok=false failed=c error=') and 'step c timed out after 0.5 s undone=b,a' in said[4], said
assert int(said[4].split(' in ')[1].split()[0]) < 3000, said"
check "the run fails, saying which step" wait_for 5 bash -c \
    "curl -s '$URL/api/runs?limit=1000' | python3 -c \"import json,sys; r=[x for x in json.load(sys.stdin) if x['run']=='$st_run'][0]; assert r['status']=='failed' and 'steps failed: c' in r['error'], r\""
start "{\"runbook\":\"steps\",\"params\":{$U,\"hang\":false}}" >/dev/null
st2=$(python3 -c "import json; print(json.load(open('$T/resp'))['run'])")
check "without the hang every step is done" wait_for 10 bash -c "grep '$st2' $T/received.jsonl | grep -q 'done ok=true failed=nil error=nil undone=a,b,c'"

# --- hostile bodies on the new routes -----------------------------------------------------------
for route in /api/v1/approvals /api/v1/runs; do
    code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"id":"APR-' "$URL$route")
    check "$route: a truncated body -> 400 ($code)" test "$code" = 400
    head -c 100000 /dev/urandom >"$T/junk.bin"
    code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/junk.bin" "$URL$route")
    check "$route: binary garbage -> 400 ($code)" test "$code" = 400
    code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' -d '[1,2]' "$URL$route")
    check "$route: an array instead of an object -> 400 ($code)" test "$code" = 400
done
code=$(start '{"runbook":"diag","approved_by":7}')
check "approved_by that is not a string -> 400 naming it ($code)" bash -c "[ $code = 400 ] && grep -q approved_by $T/resp"
code=$(start '{"runbook":"diag","dry_run":"yes"}')
check "dry_run that is not a boolean -> 400 naming it ($code)" bash -c "[ $code = 400 ] && grep -q dry_run $T/resp"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"id":"x","decision":"approve","by":"a","note":5}' "$URL/api/v1/approvals")
check "a note that is not a string -> 400 ($code)" test "$code" = 400
check "the engine is still healthy" bash -c "curl -sf $URL/healthz | grep -q '\"status\":\"ok\"'"

# --- the record: GET /api/runs, tocsin runs, the audit stream -----------------------------------
curl -s "$URL/api/runs?limit=500" >"$T/runs.json"
check "GET /api/runs lists runs newest first, refused ones with their reason" python3 -c "
import json
runs = json.load(open('$T/runs.json'))
assert runs[0]['started_ms'] >= runs[-1]['started_ms']
st = {r['status'] for r in runs}
assert {'ok', 'needs_approval', 'cooldown', 'max_per_hour', 'max_concurrent', 'bad_params'} <= st, st
r = [r for r in runs if r['status'] == 'cooldown'][0]
assert 'cooldown_s 60' in r['reason'], r
a = [r for r in runs if r.get('approved_by') == 'alice']
assert a and all(x['level'] == 3 for x in a), a
d = [r for r in runs if r['run'] == '$dry_id'][0]
assert d['dry_run'] is True and len(d['steps']) == 3, d"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/runs?limit=0")
check "a bad limit -> 400 ($code)" test "$code" = 400
check "refusals are audited as run.refused" bash -c \
    "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:audit - + | grep -q 'run.refused'"
check "refusals are counted in /metrics" bash -c \
    "curl -s $URL/metrics | grep -Eq '^tocsin_runbook_runs_refused_total (19[0-9]|[2-9][0-9][0-9])'"
"$TOCSIN" runs --url "$URL" --limit 5 >"$T/runs.txt"
check "tocsin runs shows the latest runs" bash -c "[ \$(wc -l <$T/runs.txt) -ge 5 ] && grep -q 'tick\|ask' $T/runs.txt"
"$TOCSIN" runs --url "$URL" --run "$dry_id" >"$T/run.txt"
check "tocsin runs --run ID shows its steps" bash -c "grep -q 'http.request' $T/run.txt && grep -q 'exec.run' $T/run.txt && grep -q '(dry)' $T/run.txt"
check "tocsin runs --json gives the engine's JSON" bash -c "'$TOCSIN' runs --url '$URL' --json | python3 -c 'import json,sys; assert isinstance(json.load(sys.stdin), list)'"
"$TOCSIN" runs --url "http://127.0.0.1:1" >/dev/null 2>"$T/err" && rc=0 || rc=$?
check "tocsin runs with no engine: exit 1 saying why ($rc)" bash -c "[ $rc = 1 ] && grep -qi 'connect' $T/err"
# --- tocsin check on policies -------------------------------------------------------------------
printf 'return { name = "x", level = 1, policy = { cooldown = 5 }, run = function() end }\n' >"$T/bad1.lua"
printf 'return { name = "x", level = 1,\n  policy = { max_per_hour = 0 }, run = function() end }\n' >"$T/bad2.lua"
out1=$("$TOCSIN" check "$T/runbooks/../bad1.lua" 2>&1) || true
mkdir -p "$T/rb2/runbooks"; cp "$T/bad1.lua" "$T/bad2.lua" "$T/rb2/runbooks/"
out=$("$TOCSIN" check "$T/rb2/runbooks" 2>&1) && rc=0 || rc=$?
check "tocsin check refuses an unknown policy field, naming it" bash -c "[ $rc = 1 ] && echo \"\$0\" | grep -q \"bad1.lua:1: unknown runbook policy field 'cooldown'\"" "$out"
check "and a value out of range, with its line" bash -c "echo \"\$0\" | grep -q \"bad2.lua:2: runbook policy field 'max_per_hour' must be an integer from 1 to 64\"" "$out"
# --- triggers: an incident that matches, a schedule ---------------------------------------------
alert() { # SERVICE SEVERITY
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "$URL/api/v2/alerts" \
        -d "[{\"labels\":{\"alertname\":\"Down\",\"service\":\"$1\",\"severity\":\"$2\"}}]"
}
alert db-1 critical >/dev/null
check "a critical incident of db-1 starts the runbook whose trigger matches it" wait_for 10 bash -c \
    "grep -q 'triggered' $T/received.jsonl && grep 'triggered' $T/received.jsonl | grep -q 'db-1' && grep 'triggered' $T/received.jsonl | grep -q 'trigger'"
check "the runbook noted on the incident, linked a dashboard and acknowledged it" wait_for 10 bash -c "
    curl -s $URL/api/v1/incidents | python3 -c \"
import json, sys
i = [i for i in json.load(sys.stdin) if i['service'] == 'db-1'][0]
assert i['state'] == 'acknowledged' and i['acknowledged_ms'], i\" &&
    redis-cli -p $REDIS_PORT --raw XRANGE tocsin:incident:\$(curl -s $URL/api/v1/incidents | python3 -c \"import json,sys; print([i for i in json.load(sys.stdin) if i['service'] == 'db-1'][0]['id'])\"):timeline - + | tr '\n' ' ' | grep -q 'diagnostics attached by on-db.*dashboard: http://grafana.example/d/db.*on-db is looking'"
alert web critical >/dev/null
alert db-2 warning >/dev/null
sleep 1
check "incidents that do not match (another service, a warning) start nothing" test "$(grep -c 'triggered' "$T/received.jsonl")" = 1
check "a runbook with every_s = 1 runs on its schedule" wait_for 10 bash -c "[ \$(grep -c 'tick' $T/received.jsonl) -ge 2 ]"
printf 'return { name = "x", level = 1, triggers = { { every_s = 0 } }, run = function() end }\n' >"$T/rb2/runbooks/bad3.lua"
out=$("$TOCSIN" check "$T/rb2/runbooks/bad3.lua" 2>&1) && rc=0 || rc=$?
check "tocsin check refuses a bad trigger" bash -c "[ $rc = 1 ] && echo \"\$0\" | grep -q 'runbook trigger 1 must be'" "$out"

# --- a burst of 100 incidents triggering runbooks: the cooldown and max_concurrent hold --------
python3 -c "
import json
print(json.dumps([{'labels': {'alertname': 'Down', 'service': 'burst-%d' % i, 'severity': 'critical'}} for i in range(100)]))" >"$T/burst.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/burst.json" "$URL/api/v2/alerts")
check "100 alerts of 100 services are accepted ($code)" test "$code" = 200
burst_count() { # RUNBOOK STATUS
    curl -s "$URL/api/runs?limit=5000" | python3 -c "
import json, sys
print(len([r for r in json.load(sys.stdin) if r['runbook'] == '$1' and r['status'] == '$2']))"
}
check "they open 100 incidents, each triggering both runbooks" wait_for 10 bash -c \
    "[ \$(curl -s $URL/api/v1/incidents | python3 -c \"import json,sys; print(len([i for i in json.load(sys.stdin) if i['service'].startswith('burst-')]))\") = 100 ]"
sleep 0.5
cool="$(burst_count burst-cool cooldown) $(( $(burst_count burst-cool ok) + $(burst_count burst-cool running) ))"
conc="$(burst_count burst-conc max_concurrent) $(( $(burst_count burst-conc ok) + $(burst_count burst-conc running) ))"
check "the cooldown (key runbook) lets one run and refuses 99 ($cool)" test "$cool" = "99 1"
check "max_concurrent 3 lets three run at once and refuses the other 97 ($conc)" test "$conc" = "97 3"

check "the engine is healthy after it all" bash -c "curl -sf $URL/healthz | grep -q '\"status\":\"ok\"'"
check "the engine stops cleanly" stop_engine
finish
