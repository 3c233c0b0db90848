#!/usr/bin/env bash
# Detection policies (issue 5): which detectors score which series comes from Lua files in
# scripts.detection_dir, hot-reloaded while the engine runs. A good edit changes the detectors of
# the series it matches; a broken edit is refused with file:line and the previous policy keeps
# working; `tocsin check` reports the same error. The anomalies stream names the detector.
. "$(dirname "$0")/lib.sh"
start_redis
mkdir -p "$T/detection" "$T/none"
cat >"$T/detection/policy.lua" <<'LUA'
return {
  name = "test",
  defaults = { detectors = { "zscore" }, agree = 1, window = 30, min_samples = 20 },
}
LUA
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$T/none", runbooks_dir = "$T/none", detection_dir = "$T/detection" },
}
CONF
start_engine "$T/tocsin.conf.lua"
check "the policy file is loaded at start" grep -q "detection policy: 0 rule(s) from 1 file(s), defaults from $T/detection/policy.lua" "$T/engine.log"
check "GET /api/scripts lists it as a detection policy" bash -c \
    "curl -sf $URL/api/scripts | grep -q '\"kind\":\"detection\"'"

now=$(date +%s)
# series NAME: 40 quiet samples then a spike
series() {
    local body="[" i v
    for i in $(seq 0 39); do
        v=$((100 + (i * 7) % 5))
        body="$body{\"name\":\"$1\",\"labels\":{\"service\":\"checkout\"},\"value\":$v,\"timestamp\":$((now - 120 + i))},"
    done
    body="$body{\"name\":\"$1\",\"labels\":{\"service\":\"checkout\"},\"value\":900,\"timestamp\":$((now - 60))}]"
    post /api/v1/samples "$body" >/dev/null
}
detector_of() { # the detector named by the anomaly of metric $1
    redis-cli -p "$REDIS_PORT" --raw XRANGE tocsin:anomalies - + | awk -v m="$1" '
        $0 == "metric" { getline; cur = $0 } $0 == "detector" { getline; if (cur == m) print }' | head -1
}
export -f detector_of
export REDIS_PORT

series lat_a
check "with detectors = {zscore} the spike is found by zscore" wait_for 10 bash -c '[ "$(detector_of lat_a)" = zscore ]'

cat >"$T/detection/policy.lua" <<'LUA'
return {
  name = "test",
  defaults = { detectors = { "zscore" }, agree = 1, window = 30, min_samples = 20 },
  policies = {
    { name = "robust latency", metric = "lat_*", labels = { service = "check*" },
      detectors = { "mad" }, agree = 1 },
  },
}
LUA
check "a good edit is reloaded" wait_for 5 grep -q "detection policy: 1 rule(s) from 1 file(s)" "$T/engine.log"
series lat_b
check "the new rule gives lat_b the MAD detector" wait_for 10 bash -c '[ "$(detector_of lat_b)" = mad ]'
series other_b
check "a series the rule does not match keeps the defaults (zscore)" wait_for 10 bash -c '[ "$(detector_of other_b)" = zscore ]'

cp "$T/detection/policy.lua" "$T/good.lua"
cat >"$T/detection/policy.lua" <<'LUA'
return {
  name = "test",
  policies = {
    { name = "robust latency", metric = "lat_*",
      detectors = { "mad", "prophet" } },
  },
}
LUA
check "a broken edit is refused with file:line" wait_for 5 grep -q "policy.lua:5: policies\[1\]: unknown detector 'prophet'" "$T/engine.log"
check "the error is shown at GET /api/scripts" bash -c \
    "curl -sf $URL/api/scripts | grep -q 'unknown detector'"
series lat_c
check "the previous policy keeps working (lat_c scored by MAD)" wait_for 10 bash -c '[ "$(detector_of lat_c)" = mad ]'
rc=0; "$TOCSIN" check "$T/detection/policy.lua" >"$T/check.out" 2>&1 || rc=$?
check "tocsin check refuses the broken file (exit $rc)" bash -c \
    "[ $rc = 1 ] && grep -q \"policy.lua:5: policies\[1\]: unknown detector 'prophet'\" $T/check.out"
check "tocsin check accepts the good one" "$TOCSIN" check "$T/good.lua" --scripts.detection_dir="$T"
check "tocsin check of the shipped policies passes" "$TOCSIN" check "$SRC/rules/detection"
cp "$T/good.lua" "$T/detection/policy.lua"
check "fixing the file reloads it" wait_for 5 bash -c "test \$(grep -c 'detection policy: 1 rule(s)' $T/engine.log) -ge 2"
kill -HUP "$ENGINE_PID"
check "SIGHUP reloads the policies too" wait_for 5 bash -c "test \$(grep -c 'detection policy: 1 rule(s)' $T/engine.log) -ge 3"
# an entity: cpu and latency of one host move together; then a row where each is ordinary but
# their relation is broken (high latency at low cpu)
python3 - "$URL" "$now" <<'PY' >"$T/entity.out"
import json, random, sys, urllib.request
url, now = sys.argv[1], int(sys.argv[2])
rng = random.Random(5)
rows = []
t0 = now - 3 * 3600
for i in range(600):
    load = rng.random()
    rows.append((t0 + i * 10, 20 + 60 * load + rng.gauss(0, 1), 50 + 200 * load + rng.gauss(0, 3)))
rows.append((t0 + 600 * 10, 25.0, 240.0))
codes = set()
for k in range(0, len(rows), 20):  # as an agent sends them: a request every 20 collections
    body = []
    for ts, cpu, lat in rows[k:k + 20]:
        for name, v in (("node_cpu_percent", cpu), ("node_request_latency_ms", lat)):
            body.append({"name": name, "labels": {"host": "db-1", "service": "orders-db"}, "value": v, "timestamp": ts})
    req = urllib.request.Request(url + "/api/v1/samples", json.dumps(body).encode(), {"Content-Type": "application/json"})
    codes.add(urllib.request.urlopen(req).status)
print(sorted(codes))
PY
check "an entity's rows were accepted ($(cat "$T/entity.out"))" grep -qx '\[202\]' "$T/entity.out"
check "the broken relation between cpu and latency of db-1 is an entity anomaly" wait_for 10 bash -c \
    "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:anomalies - + | tr '\n' ' ' | grep -q 'labels {\"host\":\"db-1\",\"service\":\"orders-db\"} service orders-db .*detector entity_mahalanobis'"
check "and it is the only entity anomaly (600 normal rows raised none)" test \
    "$(grep -c 'entity {"host":"db-1"' "$T/engine.log")" = 1
check "the engine log explains it" grep -q 'entity {"host":"db-1","service":"orders-db"}: its 2 series together are unusual (mahalanobis' "$T/engine.log"
# hygiene: a sample older than its series' last one is skipped and counted (other_b: its
# detectors never changed, so it kept its state through the reloads)
post /api/v1/samples "{\"name\":\"other_b\",\"labels\":{\"service\":\"checkout\"},\"value\":100,\"timestamp\":$((now - 3000))}" >/dev/null
check "an out-of-order sample is counted in /metrics" wait_for 5 bash -c \
    "curl -sf $URL/metrics | grep -Eq '^tocsin_detect_skipped_total\{reason=\"out_of_order\"\} [1-9]'"
check "/metrics counts the entities (db-1, and checkout's four series)" bash -c \
    "curl -sf $URL/metrics | grep -q '^tocsin_detect_entities 2'"
check "the engine stops cleanly" stop_engine
finish
