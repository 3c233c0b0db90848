#!/usr/bin/env bash
# Log and trace detection in the running engine (issue 5): logs posted as Fluentd/Logstash JSON
# and spans as OTLP/HTTP JSON go through the streams to the Drain miner and the trace scorer;
# a never-seen log template, a surge of a known one, a latency regression on a call edge and an
# error burst each become an anomaly in the anomalies stream, and quiet periods produce none.
# Twenty simulated minutes (timestamps in the past), so the one-minute intervals close as the
# data moves on.
. "$(dirname "$0")/lib.sh"
start_redis
mkdir -p "$T/none"
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$T/none", runbooks_dir = "$T/none", detection_dir = "$T/none" },
}
CONF
start_engine "$T/tocsin.conf.lua"

# The generator: minute by minute, deterministic. Logs of checkout: two steady templates; at
# minute 15 a new one ("payment gateway timeout"), at minute 16 the login template surges.
# Spans: frontend -> checkout calls, 40 a minute; checkout gets slow at minute 16 and fails
# at minute 18.
cat >"$T/gen.py" <<'PY'
import json, random, sys, time, urllib.request
url = sys.argv[1]
rng = random.Random(7)
base = (int(time.time()) // 60 - 40) * 60  # 40 minutes ago, on a minute boundary
def post(path, body, ctype="application/json"):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": ctype})
    with urllib.request.urlopen(req) as r:
        assert r.status in (200, 202), r.status
def hexid(n): return "".join(rng.choice("0123456789abcdef") for _ in range(n))
for m in range(20):
    t0 = base + m * 60
    logs = []
    logins = 200 if m == 16 else 10 + rng.randint(0, 3)
    for i in range(logins):
        logs.append({"message": "user %d logged in from 10.0.%d.%d" % (rng.randint(1, 9999), rng.randint(0, 9), rng.randint(1, 250)),
                     "service": "checkout", "level": "info", "timestamp": t0 + rng.randint(0, 59)})
    for i in range(20 + rng.randint(0, 4)):
        logs.append({"message": "GET /api/cart/%d 200 in %d ms" % (rng.randint(1, 500), rng.randint(5, 40)),
                     "service": "checkout", "level": "info", "timestamp": t0 + rng.randint(0, 59)})
    if m == 15:
        for i in range(5):
            logs.append({"message": "payment gateway timeout after %d ms" % rng.randint(2900, 3100),
                         "service": "checkout", "level": "error", "timestamp": t0 + 30 + i})
    logs.sort(key=lambda r: r["timestamp"])
    post("/api/v1/logs", logs)
    spans = []
    for i in range(40):
        tid, root, child = hexid(32), hexid(16), hexid(16)
        start = (t0 + i) * 10**9
        slow = 200 if m == 16 else 0
        dur = int((18 + rng.random() * 6 + slow) * 1e6)
        err = m == 18 and i % 2 == 0
        spans.append(("frontend", {"traceId": tid, "spanId": root, "name": "GET /checkout", "kind": 2,
                      "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + dur + 5 * 10**6)}))
        c = {"traceId": tid, "spanId": child, "parentSpanId": root, "name": "POST /cart", "kind": 2,
             "startTimeUnixNano": str(start + 10**6), "endTimeUnixNano": str(start + 10**6 + dur)}
        if err: c["status"] = {"code": 2, "message": "boom"}
        spans.append(("checkout", c))
    rs = []
    for svc in ("frontend", "checkout"):
        rs.append({"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
                   "scopeSpans": [{"spans": [s for v, s in spans if v == svc]}]})
    post("/v1/traces", {"resourceSpans": rs})
print(base)
PY
# entries other programs may write into the streams by hand, missing or wrong fields: each is
# skipped, acknowledged, and costs nothing else
for p in 0 1 2 3; do
    redis-cli -p "$REDIS_PORT" XADD "tocsin:logs:{$p}" '*' body 'no timestamp here' >/dev/null
    redis-cli -p "$REDIS_PORT" XADD "tocsin:logs:{$p}" '*' ts 'soon' labels '{"service":' body $'\x01\x02' >/dev/null
    redis-cli -p "$REDIS_PORT" XADD "tocsin:spans:{$p}" '*' service '' start_us x duration_us y >/dev/null
    redis-cli -p "$REDIS_PORT" XADD "tocsin:spans:{$p}" '*' service s start_us 1 duration_us -5 parent_id zz >/dev/null
done
base=$(python3 "$T/gen.py" "$URL")
check "the generator ran" test -n "$base"
export REDIS_PORT
anomalies() { redis-cli -p "$REDIS_PORT" --raw XRANGE tocsin:anomalies - + | tr '\n' ' '; }
export -f anomalies
check "all logs and spans were read (consumer group has nothing pending)" wait_for 10 bash -c \
    "for k in \$(redis-cli -p $REDIS_PORT --scan --pattern 'tocsin:logs:{*}') \$(redis-cli -p $REDIS_PORT --scan --pattern 'tocsin:spans:{*}'); do test \"\$(redis-cli -p $REDIS_PORT XPENDING \$k tocsin-detect | head -1)\" = 0 || exit 1; done"
check "the never-seen template is an anomaly (drain_new)" wait_for 10 bash -c \
    "anomalies | grep -q 'metric log_template_new .*payment gateway timeout after <NUM> ms.*detector drain_new'"
check "the login surge is a rate anomaly (drain_rate) at minute 16" wait_for 10 bash -c \
    "anomalies | grep -q 'metric log_template_rate .*user <NUM> logged in from <IP>.*value 200 .*detector drain_rate ts $(((base + 17 * 60) * 1000))'"
check "the latency regression is found on the edge frontend->checkout" wait_for 10 bash -c \
    "anomalies | grep -q 'metric span_latency_p95_ms labels {[^}]*\"edge\":\"frontend->checkout\"[^}]*} service checkout .*detector traces_latency ts $(((base + 17 * 60) * 1000))'"
check "and on the service checkout" bash -c \
    "anomalies | grep -q 'metric span_latency_p95_ms labels {\"service\":\"checkout\"} service checkout .*detector traces_latency'"
check "the error burst is found (traces_errors) at minute 18" bash -c \
    "anomalies | grep -q 'metric span_error_rate .*service checkout value 0.5 .*detector traces_errors ts $(((base + 19 * 60) * 1000))'"
check "the caller frontend is slow too (it waits for checkout)" bash -c \
    "anomalies | grep -q 'metric span_latency_p95_ms labels {\"service\":\"frontend\"} service frontend'"
check "the steady templates raise nothing, nor frontend's own (error-free) spans errors" bash -c \
    "! anomalies | grep -q 'GET /api/cart' && ! anomalies | grep -q 'span_error_rate labels {\"service\":\"frontend\"}'"
check "no anomaly in the quiet minutes before the incident" bash -c "
    n=\$(redis-cli -p $REDIS_PORT --raw XRANGE tocsin:anomalies - + | awk '\$0==\"ts\"{getline; if (\$0 < $(((base + 15 * 60) * 1000))) c++} END{print c+0}')
    test \$n = 0"
check "/metrics counts logs, spans and templates" bash -c "
    m=\$(curl -sf $URL/metrics)
    echo \"\$m\" | grep -Eq '^tocsin_detect_logs_total [0-9]{3}' &&
    echo \"\$m\" | grep -q '^tocsin_detect_spans_total 1600' &&
    echo \"\$m\" | grep -Eq '^tocsin_detect_log_templates [1-9]'"
check "the hand-written bad entries were skipped and counted, without an anomaly" bash -c \
    "curl -sf $URL/metrics | grep -q '^tocsin_detect_bad_entries_total 16' && ! redis-cli -p $REDIS_PORT --raw XRANGE tocsin:anomalies - + | grep -qx s"
check "the engine stops cleanly" stop_engine
finish
