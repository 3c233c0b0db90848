#!/usr/bin/env bash
# tocsin replay (issue 6): recorded NDJSON through normalization, detection and the shipped
# rules with simulated time. Each rule kind on a small hand-written case (causal, topology,
# pattern, time window), the composition verbs (attach, merge, split), flapping, clearing and
# sequential incidents, detection on samples, topology learned from spans, the --json report,
# determinism, and bad files (malformed, truncated, hostile lines).
. "$(dirname "$0")/lib.sh"
cd "$T"
R() { "$TOCSIN" replay "$@" --scripts.rules_dir="$SRC/rules" --scripts.lib_dir="$SRC/lua" \
    --scripts.runbooks_dir="$SRC/runbooks" --scripts.detection_dir="$SRC/rules/detection"; }
json() { # FILE PYTHON: runs PYTHON with inc = the list of incidents of FILE (merged ones left out)
    python3 -c "
import json, sys
every = [json.loads(l) for l in open('$1')]
inc = [i for i in every if i['state'] != 'merged']
$2"
}
cat >topo.json <<'EOF'
{ "services": [
  { "name": "frontend", "depends_on": ["checkout", "catalog"] },
  { "name": "checkout", "depends_on": ["payments", "cart"] },
  { "name": "payments", "depends_on": ["postgres"] },
  { "name": "billing", "depends_on": ["postgres"] },
  { "name": "cart", "depends_on": ["redis"] },
  { "name": "catalog", "depends_on": ["search"] },
  { "name": "postgres" }, { "name": "redis" }, { "name": "search" } ] }
EOF
B=1764000000 # seconds

check "--help explains the command" bash -c "'$TOCSIN' replay --help | grep -q -- '--topology FILE'"
"$TOCSIN" replay >/dev/null 2>err.txt && rc=0 || rc=$?
check "no file: exit 2 with a reason ($rc)" bash -c "[ $rc = 2 ] && grep -q 'give one event file' err.txt"
"$TOCSIN" replay nope.ndjson >/dev/null 2>err.txt && rc=0 || rc=$?
check "a missing file: exit 1 naming it ($rc)" bash -c "[ $rc = 1 ] && grep -q 'nope.ndjson: No such file' err.txt"

# 1. causal + topology: postgres fails; its callers alert first (payments and billing, which
# share nothing but postgres, open two incidents), postgres itself later
cat >cascade.ndjson <<EOF
{"type":"deploy","ts":$((B - 300)),"service":"postgres","version":"15.4","title":"postgres 15.4 upgrade"}
{"type":"alert","ts":$((B + 10)),"id":"c1","name":"HighLatency","service":"payments","severity":"warning"}
{"type":"alert","ts":$((B + 20)),"id":"c2","name":"HighErrorRate","service":"billing","severity":"warning"}
{"type":"alert","ts":$((B + 30)),"id":"c3","name":"HighLatency","service":"checkout","severity":"warning"}
{"type":"alert","ts":$((B + 40)),"id":"c4","name":"HighLatency","service":"frontend","severity":"warning"}
{"type":"alert","ts":$((B + 60)),"id":"c5","name":"PostgresDown","service":"postgres","severity":"critical"}
{"type":"alert","ts":$((B + 70)),"id":"c6","name":"UpstreamTimeouts","service":"payments","severity":"warning"}
{"type":"alert","ts":"2025-11-24T16:02:00Z","id":"c7","name":"SearchSlow","service":"search","severity":"warning"}
EOF
R cascade.ndjson --topology topo.json --json >cascade.out 2>cascade.err
check "the cascade replays (exit 0) with the summary on stderr" grep -q "replay: 8 event(s) (7 alert(s)" cascade.err
check "stdout holds one JSON object per incident" python3 -c "
import json; [json.loads(l) for l in open('cascade.out')]"
check "payments, billing, checkout, frontend and postgres are one incident" json cascade.out "
g = [sorted(a['id'] for a in i['alerts']) for i in inc]
assert ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'] in g, g"
check "search (unrelated: nothing of theirs depends on it) has its own" json cascade.out "
assert [['c7']] == [sorted(a['id'] for a in i['alerts']) for i in inc if i['service'] == 'search'], inc"
check "the cause came last and gathered the incidents of its symptoms (merged)" json cascade.out "
m = [i for i in every if i['state'] == 'merged']
assert m and all(i['merged_into'] and i['alerts'] == [] for i in m), m"
check "its root cause is postgres, with the deploy and its own failure as evidence" json cascade.out "
i = [i for i in inc if any(a['id'] == 'c5' for a in i['alerts'])][0]
top = i['rca'][0]
assert top['service'] == 'postgres', i['rca']
ev = ' '.join(top['evidence'])
assert 'deploy' in ev and 'a failure of its own' in ev and 'depends on is healthy' in ev, ev
assert [c['score'] for c in i['rca']] == sorted([c['score'] for c in i['rca']], reverse=True)"
check "the incident is critical (its worst signal) and on-call was asked for once" json cascade.out "
i = [i for i in inc if any(a['id'] == 'c5' for a in i['alerts'])][0]
assert i['severity'] == 'critical', i
assert [r['runbook'] for r in i['runbooks']] == ['notify-oncall'], i['runbooks']"
R cascade.ndjson --topology topo.json --json >again.out 2>/dev/null
check "a replay is deterministic (the same report twice)" cmp -s cascade.out again.out
R cascade.ndjson --topology topo.json >cascade.txt 2>&1
check "the text report names the root cause" grep -q "root cause: 1. postgres" cascade.txt

# 2. without a topology: per-service groups in a time window; pattern for the unplaceable
cat >pattern.ndjson <<EOF
{"type":"alert","ts":$((B + 0)),"id":"p1","name":"KubeNodeNotReady","labels":{"node":"node-1","cluster":"eu"}}
{"type":"alert","ts":$((B + 30)),"id":"p2","name":"KubeNodeNotReady","labels":{"node":"node-2","cluster":"eu"}}
{"type":"alert","ts":$((B + 60)),"id":"p3","name":"KubeNodeNotReady","labels":{"node":"node-3","cluster":"eu"}}
{"type":"alert","ts":$((B + 10)),"id":"q1","name":"HighLatency","service":"api"}
{"type":"alert","ts":$((B + 20)),"id":"q2","name":"HighErrorRate","service":"api"}
{"type":"alert","ts":$((B + 15)),"id":"r1","name":"DiskFull","service":"billing"}
{"type":"alert","ts":$((B + 2000)),"id":"q3","name":"HighLatency","service":"api"}
EOF
R pattern.ndjson --json >pattern.out 2>/dev/null
check "the same alert on three nodes is one incident (pattern, time window)" json pattern.out "
assert ['p1', 'p2', 'p3'] in [sorted(a['id'] for a in i['alerts']) for i in inc], inc"
check "one service's alerts within the window are one incident, another service its own" json pattern.out "
g = [sorted(a['id'] for a in i['alerts']) for i in inc]
assert ['q1', 'q2'] in g and ['r1'] in g, g"
check "after a quiet half hour the same service starts a new incident" json pattern.out "
g = [sorted(a['id'] for a in i['alerts']) for i in inc]
assert ['q3'] in g, g
old = [i for i in inc if any(a['id'] == 'q1' for a in i['alerts'])][0]
assert old['state'] == 'resolved', old"

# 3. flapping, clearing, auto-resolve in simulated time
{
    for k in 0 1 2 3 4; do
        t=$((B + k * 180))
        echo "{\"type\":\"alert\",\"ts\":$t,\"id\":\"f$k\",\"name\":\"QueueBacklog\",\"service\":\"worker\"}"
        echo "{\"type\":\"alert\",\"ts\":$((t + 60)),\"status\":\"resolved\",\"name\":\"QueueBacklog\",\"service\":\"worker\"}"
    done
    echo "{\"type\":\"alert\",\"ts\":$((B + 5000)),\"id\":\"x1\",\"name\":\"Heartbeat\",\"service\":\"other\"}"
} >flap.ndjson
R flap.ndjson --json >flap.out 2>/dev/null
check "an alert that fires and resolves five times in 15 minutes is one incident" json flap.out "
w = [i for i in inc if i['service'] == 'worker']
assert len(w) == 1 and len(w[0]['alerts']) == 5, w"
check "once all its alerts resolved it was resolved after correlate.clear_s" json flap.out "
w = [i for i in inc if i['service'] == 'worker'][0]
assert w['state'] == 'resolved' and w['active_alerts'] == 0, w
assert w['resolved_ms'] >= ($B + 4 * 180 + 60 + 300) * 1000, w"
check "its transitions are in the report" json flap.out "
w = [i for i in inc if i['service'] == 'worker'][0]
assert [t['state'] for t in w['transitions']][0] == 'open' and w['transitions'][-1]['state'] == 'resolved', w"

# 4. split: a rule of ours takes an alert out into an incident of its own
mkdir -p myrules
cp "$SRC"/rules/*.lua myrules/
cat >myrules/50-split.lua <<'EOF'
local incident = require("tocsin.incident")
return {
  name = "split-team-b",
  on_signal = function(s)
    if s.incident and (s.labels or {}).team == "b" then
      assert(incident.split(s.incident, { s.id }, { fingerprint = "team-b:" .. s.id,
                                                   title = "team b's own" }))
    end
  end,
}
EOF
cat >split.ndjson <<EOF
{"type":"alert","ts":$((B + 0)),"id":"s1","name":"HighLatency","service":"checkout"}
{"type":"alert","ts":$((B + 10)),"id":"s2","name":"HighLatency","service":"checkout","labels":{"team":"b"}}
{"type":"alert","ts":$((B + 20)),"id":"s3","name":"HighLatency","service":"checkout"}
EOF
"$TOCSIN" replay split.ndjson --json --scripts.rules_dir=myrules --scripts.lib_dir="$SRC/lua" \
    --scripts.runbooks_dir="$SRC/runbooks" >split.out 2>split.err
check "a rule can split an alert out of its incident" json split.out "
g = sorted(sorted(a['id'] for a in i['alerts']) for i in inc)
assert g == [['s1', 's3'], ['s2']], g"

# 5. detection on samples, and the topology learned from spans
{
    for i in $(seq 0 59); do
        echo "{\"type\":\"sample\",\"ts\":$((B + i * 10)),\"name\":\"latency_ms\",\"labels\":{\"service\":\"payments\"},\"value\":$((100 + i % 5))}"
    done
    echo "{\"type\":\"sample\",\"ts\":$((B + 600)),\"name\":\"latency_ms\",\"labels\":{\"service.name\":\"payments\"},\"value\":2500}"
    echo "{\"type\":\"span\",\"ts\":$((B + 590)),\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\",\"parent_span_id\":\"\",\"service\":\"shop\",\"name\":\"GET /\",\"duration_ms\":30}"
    echo "{\"type\":\"span\",\"ts\":$((B + 590)),\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b8\",\"parent_span_id\":\"00f067aa0ba902b7\",\"service\":\"payments\",\"name\":\"POST /pay\",\"duration_ms\":20}"
    echo "{\"type\":\"alert\",\"ts\":$((B + 610)),\"id\":\"k1\",\"name\":\"HighErrorRate\",\"service\":\"shop\"}"
    echo "{\"type\":\"log\",\"ts\":$((B + 611)),\"service\":\"payments\",\"level\":\"error\",\"message\":\"connection pool exhausted\"}"
} >samples.ndjson
R samples.ndjson --json >samples.out 2>samples.err
check "samples are scored: the spike is an anomaly that opens an incident" json samples.out "
a = [a for i in inc for a in i['alerts'] if a['kind'] == 'anomaly']
assert any(x['name'] == 'latency_ms' and x['service'] == 'payments' for x in a), inc"
check "the span edge shop -> payments, learned in the replay, groups shop's alert with it" json samples.out "
i = [i for i in inc if any(a['id'] == 'k1' for a in i['alerts'])][0]
assert 'payments' in i['services'], i"
check "every kind of event was counted" grep -q "61 sample(s), 0 change(s), 1 log(s), 2 span(s)" samples.err

# 6. bad files: the first bad line stops the replay with FILE:LINE and why, exit 1
bad() { # NAME CONTENT EXPECTED-MESSAGE
    printf '%b' "$2" >"$1.ndjson"
    local rc=0
    R "$1.ndjson" >/dev/null 2>"$1.err" || rc=$?
    check "$1: exit 1 naming the line ($rc)" bash -c "[ $rc = 1 ] && grep -q '$1.ndjson:$3' $1.err"
}
ok_line="{\"type\":\"alert\",\"ts\":$B,\"name\":\"A\",\"service\":\"x\"}"
bad malformed "$ok_line\n{\"type\":\"alert\",\"ts\":\n" "2: invalid JSON"
bad truncated "$ok_line\n$ok_line\n{\"type\":\"ale" "3: invalid JSON"
bad unknown_type "{\"type\":\"metricz\",\"ts\":$B}\n" "1: unknown type \"metricz\""
bad no_type "{\"ts\":$B}\n" "1: \"type\" is missing"
bad no_ts "{\"type\":\"alert\",\"name\":\"A\"}\n" "1: \"ts\" is missing"
bad bad_ts "{\"type\":\"alert\",\"ts\":\"yesterday\",\"name\":\"A\"}\n" "1: "
bad array "[1,2,3]\n" "1: not a JSON object"
bad nul "{\"type\":\"alert\",\"ts\":$B,\"name\":\"A\0B\"}\n" "1: holds a NUL byte"
bad dupkey "{\"type\":\"alert\",\"type\":\"sample\",\"ts\":$B}\n" "1: invalid JSON"
head -c 200000 /dev/urandom >junk.ndjson
rc=0; R junk.ndjson >/dev/null 2>junk.err || rc=$?
check "binary garbage: exit 1 ($rc)" test "$rc" = 1
python3 -c "
import json
print(json.dumps({'type': 'alert', 'ts': $B, 'name': 'Big', 'service': 'x', 'labels': {'blob': 'x' * 100000}}))
print(json.dumps({'type': 'alert', 'ts': $B + 1, 'id': 'fine', 'name': 'Fine', 'service': 'y'}))
print(json.dumps({'type': 'sample', 'ts': $B + 2, 'name': 'bad name!', 'value': 1}))
print(json.dumps({'type': 'span', 'ts': $B + 3, 'service': 'y', 'span_id': 'zz', 'duration_ms': 1}))
print('{\"type\":\"alert\",\"ts\":1,,}')" >mixed.ndjson
rc=0; R mixed.ndjson --skip-bad --json >mixed.out 2>mixed.err || rc=$?
check "--skip-bad: bad lines are skipped and counted, the good ones replayed ($rc)" bash -c "
    [ $rc = 0 ] && grep -q '4 line(s) skipped' mixed.err && grep -q '\"id\":\"fine\"' mixed.out"
check "--skip-bad names each skipped line and why" bash -c "
    grep -q \"mixed.ndjson:1: label 'blob' value is longer than 4096 bytes\" mixed.err && grep -q 'mixed.ndjson:4: span: \"span_id\" must be 16 hex digits' mixed.err"
# the spellings other tools use: kind, timestamp/time, title, labels.alertname, labels.app, metric
cat >alias.ndjson <<EOF
{"kind":"alert","timestamp":"2025-11-24T16:00:00Z","title":"DiskFull","labels":{"service":"db","severity":"page"}}
{"type":"alert","time":$((B + 60)),"labels":{"alertname":"HighLatency","app":"api"}}
{"type":"sample","ts":$B,"metric":"x_ms","value":1}
EOF
R alias.ndjson --json >alias.out 2>alias.err
check "other spellings of type, time, name, service and metric are read" json alias.out "
got = sorted((a['name'], a['service'], a['severity']) for i in inc for a in i['alerts'])
assert got == [('DiskFull', 'db', 'critical'), ('HighLatency', 'api', 'warning')], got"
check "the sample spelled with metric is counted, not skipped" bash -c "grep -q '1 sample(s)' alias.err && ! grep -q skipped alias.err"
printf '' >empty.ndjson
check "an empty file replays to no incident" bash -c "'$TOCSIN' replay empty.ndjson 2>&1 | grep -q '0 incident(s)'"
mkdir tmp
TMPDIR="$T/tmp" R cascade.ndjson --topology topo.json >/dev/null 2>&1
check "its temporary directory (redis-server, data) is removed at the end" bash -c "[ -z \"\$(ls -A tmp)\" ]"
finish
