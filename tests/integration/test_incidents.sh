#!/usr/bin/env bash
# The incident life cycle (issue 6): open -> acknowledged -> mitigated -> resolved through the
# API, refused transitions, a timeline stream per incident, the times that give MTTD, MTTA and
# MTTR, reopening on a new alert within the reopen window (flap suppression, on-call told
# again), and auto-resolve when no alert came for correlate.auto_resolve_s.
. "$(dirname "$0")/lib.sh"
start_redis
start_receiver
mkdir -p "$T/none"
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$SRC/rules", runbooks_dir = "$SRC/runbooks", lib_dir = "$SRC/lua",
              detection_dir = "$T/none" },
  notify = { webhook_url = "$RECEIVER_URL" },
  detect = { zscore = { window = 30, min_samples = 20 } },
  correlate = { auto_resolve_s = 8, reopen_window_s = 60 },
}
CONF
start_engine "$T/tocsin.conf.lua"
now=$(date +%s)
series() { # SERVICE START: 30 quiet samples, then a spike
    local body="[" i
    for i in $(seq 0 29); do
        body="$body{\"name\":\"latency_ms\",\"labels\":{\"service\":\"$1\"},\"value\":$((100 + i % 3)),\"timestamp\":$(($2 + i))},"
    done
    body="$body{\"name\":\"latency_ms\",\"labels\":{\"service\":\"$1\"},\"value\":900,\"timestamp\":$(($2 + 40))}]"
    post /api/v1/samples "$body" >/dev/null
}
state() { # ID STATE [NOTE] -> HTTP status, body in $T/resp
    curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"id\":\"$1\",\"state\":\"$2\",\"by\":\"alice\",\"note\":\"${3:-}\"}" "$URL/api/v1/incidents/state"
}
series checkout $((now - 300))
check "an anomaly opens an incident" wait_for 10 bash -c "curl -sf $URL/api/v1/incidents | grep -q checkout"
inc=$(curl -sf "$URL/api/v1/incidents" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
curl -sf "$URL/api/v1/incidents" >"$T/i0.json"
check "it carries its onset and time to detect" python3 -c "
import json; i = json.load(open('$T/i0.json'))[0]
assert i['state'] == 'open' and i['started_ms'] == ($now - 260) * 1000, i
assert i['time_to_detect_ms'] == i['opened_ms'] - i['started_ms'] > 0, i
assert i['acknowledged_ms'] is None and i['time_to_acknowledge_ms'] is None, i"
code=$(state "$inc" acknowledged "looking")
check "acknowledge -> 200 with the time to acknowledge ($code)" bash -c \
    "[ $code = 200 ] && python3 -c \"import json; i=json.load(open('$T/resp')); assert i['state']=='acknowledged' and i['time_to_acknowledge_ms'] >= 0, i\""
code=$(state "$inc" acknowledged)
check "acknowledging twice -> 409 naming why ($code)" bash -c "[ $code = 409 ] && grep -q 'already in that state' $T/resp"
code=$(state "$inc" open)
check "reopening an open incident -> 409 ($code)" bash -c "[ $code = 409 ] && grep -q 'only a resolved incident' $T/resp"
code=$(state "$inc" sleeping)
check "an unknown state -> 409 naming the states ($code)" bash -c "[ $code = 409 ] && grep -q 'unknown state' $T/resp"
code=$(state INC-nope resolved)
check "an unknown incident -> 404 ($code)" test "$code" = 404
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"state":1}' "$URL/api/v1/incidents/state")
check "a malformed request -> 400 naming the fields ($code)" bash -c "[ $code = 400 ] && grep -q 'id (string)' $T/resp"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"id":"INC-' "$URL/api/v1/incidents/state")
check "a truncated body -> 400 with the JSON error ($code)" bash -c "[ $code = 400 ] && grep -q 'a JSON object is required' $T/resp"
head -c 300000 /dev/urandom >"$T/junk.bin"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/junk.bin" "$URL/api/v1/incidents/state")
check "binary garbage -> 400 ($code)" test "$code" = 400
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' -d '[1,2,3]' "$URL/api/v1/incidents/state")
check "a JSON array instead of an object -> 400 ($code)" test "$code" = 400
code=$(state "$inc" "\\u0000acknowledged")
check "a state with a NUL byte -> 400 ($code)" test "$code" = 400
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' -d "{\"id\":\"$inc\",\"note\":\"rolled back payments to 2.3.9\",\"by\":\"bob\"}" "$URL/api/v1/incidents/state")
check "a note on the timeline -> 200 ($code)" test "$code" = 200
check "mitigate -> 200" test "$(state "$inc" mitigated "rolled back")" = 200
check "resolve -> 200 with the time to resolve" bash -c \
    "[ \$(bash -c 'curl -s -o $T/resp -w %{http_code} -H Content-Type:application/json -d \"{\\\"id\\\":\\\"$inc\\\",\\\"state\\\":\\\"resolved\\\"}\" $URL/api/v1/incidents/state') = 200 ] &&
     python3 -c \"import json; i=json.load(open('$T/resp')); assert i['state']=='resolved' and i['time_to_resolve_ms'] > 0, i\""
check "the incident hash has every time" bash -c \
    "[ \$(redis-cli -p $REDIS_PORT HGET tocsin:incident:$inc state) = resolved ] && [ \$(redis-cli -p $REDIS_PORT HGET tocsin:incident:$inc acknowledged_ms) -gt 0 ] && [ \$(redis-cli -p $REDIS_PORT HGET tocsin:incident:$inc resolved_ms) -gt 0 ]"
check "on-call was told once so far" test "$(wc -l <"$T/received.jsonl")" = 1
# the same service misbehaves again a moment later: the incident reopens (flap suppression)
series checkout $((now - 200))
check "a new alert within the reopen window reopens it" wait_for 10 bash -c \
    "curl -sf $URL/api/v1/incidents | python3 -c \"import json,sys; i=[x for x in json.load(sys.stdin) if x['id']=='$inc'][0]; assert i['state']=='open' and i['reopened']==1, i\""
check "still one incident for checkout" bash -c \
    "curl -sf $URL/api/v1/incidents | python3 -c \"import json,sys; assert len([i for i in json.load(sys.stdin) if i['service']=='checkout']) == 1\""
check "on-call is told it reopened" wait_for 5 bash -c "test \$(wc -l <$T/received.jsonl) = 2"
check "the timeline stream holds the whole story in order" bash -c "
    ev=\$(redis-cli -p $REDIS_PORT --raw XRANGE tocsin:incident:$inc:timeline - + | awk 'p==1{print; p=0} \$0==\"event\"{p=1}' | tr '\n' ' ')
    echo \"\$ev\" | grep -q '^opened rca acknowledged note mitigated resolved reopened'"
check "the timeline names who did what" bash -c \
    "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:incident:$inc:timeline - + | tr '\n' ' ' | grep -q 'event note state acknowledged by bob note rolled back payments to 2.3.9'"
# no alert for auto_resolve_s (8 s): tocsin resolves it
check "with no new alert it is resolved by tocsin" wait_for 20 bash -c \
    "curl -sf $URL/api/v1/incidents | python3 -c \"import json,sys; i=[x for x in json.load(sys.stdin) if x['id']=='$inc'][0]; assert i['state']=='resolved', i\""
check "the auto-resolve is on the timeline with its reason" bash -c \
    "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:incident:$inc:timeline - + | tr '\n' ' ' | grep -q 'event resolved state resolved by tocsin note no new alert for 8 s'"
check "/metrics counts reopened and auto-resolved incidents" bash -c "
    m=\$(curl -sf $URL/metrics)
    echo \"\$m\" | grep -q '^tocsin_incidents_reopened_total 1' && echo \"\$m\" | grep -q '^tocsin_incidents_auto_resolved_total 1'"
check "the engine stops cleanly" stop_engine
finish
