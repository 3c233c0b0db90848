#!/usr/bin/env bash
# Topology-based grouping by the shipped rules (rules/20-topology.lua, opened by
# rules/40-time-window.lua, ranked by rules/80-rca.lua) on a live engine: anomalies of services
# that depend on an open incident's services (callers) or that its lowest services depend on
# (callees) join it, so a cascade along the dependencies is one incident; an unrelated service
# gets its own; deduplication still holds.
. "$(dirname "$0")/lib.sh"
start_redis
start_receiver
mkdir -p "$T/none"
cat >"$T/topology.json" <<'TOPO'
{ "services": [ { "name": "frontend", "depends_on": ["checkout"] },
                { "name": "checkout", "depends_on": ["payments"] },
                { "name": "payments", "depends_on": ["ledger"] },
                { "name": "ledger" }, { "name": "billing" } ] }
TOPO
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$SRC/rules", runbooks_dir = "$SRC/runbooks", lib_dir = "$SRC/lua",
              detection_dir = "$T/none" },
  notify = { webhook_url = "$RECEIVER_URL" },
  topology = { file = "$T/topology.json" },
  detect = { zscore = { window = 30, min_samples = 20 } },
}
CONF
start_engine "$T/tocsin.conf.lua"
now=$(date +%s)
history() { # SERVICE: 30 quiet samples
    local body="[" i
    for i in $(seq 0 29); do
        body="$body{\"name\":\"latency_ms\",\"labels\":{\"service\":\"$1\"},\"value\":$((100 + i % 3)),\"timestamp\":$((now - 200 + i))},"
    done
    post /api/v1/samples "${body%,}]" >/dev/null
}
spike() { post /api/v1/samples "{\"name\":\"latency_ms\",\"labels\":{\"service\":\"$1\"},\"value\":900,\"timestamp\":$((now - $2))}" >/dev/null; }
for s in payments checkout frontend billing ledger; do history "$s"; done
incidents() { curl -sf "$URL/api/v1/incidents"; }
# the cause: a deploy of payments just before its first anomaly
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "$URL/api/v1/events" \
    -d "{\"type\":\"deploy\",\"service\":\"payments\",\"version\":\"2.4.0\",\"title\":\"payments 2.4.0\",\"timestamp\":$((now - 105))}")
check "the deploy event is accepted ($code)" test "$code" = 202
spike payments 100
check "payments' anomaly opens an incident" wait_for 10 bash -c "curl -sf $URL/api/v1/incidents | grep -q payments"
spike checkout 90
spike frontend 80
check "checkout and frontend, its callers, join it" wait_for 10 \
    grep -q "latency_ms on frontend joins incident .* (caller of its services, 1 hop(s))" "$T/engine.log"
spike billing 70
check "billing, unrelated, gets its own incident" wait_for 10 bash -c "curl -sf $URL/api/v1/incidents | grep -q billing"
spike ledger 60
check "ledger (1 hop below payments) joins the cascade" wait_for 10 \
    grep -q "latency_ms on ledger joins incident .* (callee of its services, 1 hop(s))" "$T/engine.log"
sleep 0.5
incidents >"$T/incidents.json"
check "two incidents in all: the cascade with 4 alerts, billing with 1" python3 -c "
import json
inc = json.load(open('$T/incidents.json'))
assert len(inc) == 2, inc
by = {i['service']: i for i in inc}
assert by['payments']['alerts'] == 4 and by['billing']['alerts'] == 1, inc
"
check "the cascade's probable root cause is payments, with the deploy as evidence" python3 -c "
import json
inc = [i for i in json.load(open('$T/incidents.json')) if i['service'] == 'payments'][0]
r = inc['rca']
assert [c['service'] for c in r][0] == 'payments', r
assert len(r) == 4 and {c['service'] for c in r} == {'payments', 'checkout', 'frontend', 'ledger'}, r
ev = ' '.join(r[0]['evidence'])
assert 'deploy \"payments 2.4.0\"' in ev and 'earliest onset' in ev, ev
assert all(r[i]['score'] >= r[i + 1]['score'] for i in range(3)), r
"
check "billing's own incident ranks billing alone" python3 -c "
import json
inc = [i for i in json.load(open('$T/incidents.json')) if i['service'] == 'billing'][0]
assert [c['service'] for c in inc['rca']] == ['billing'], inc['rca']
"
inc=$(python3 -c "import json; print([i for i in json.load(open('$T/incidents.json')) if i['service'] == 'payments'][0]['id'])")
check "the timeline notes the probable root cause" bash -c \
    "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:incident:$inc:timeline - + | tr '\n' ' ' | grep -q 'event rca state open by tocsin note probable root cause: payments'"
check "on-call got one message per incident (2)" test "$(wc -l <"$T/received.jsonl")" = 2
check "the engine stops cleanly" stop_engine
finish
