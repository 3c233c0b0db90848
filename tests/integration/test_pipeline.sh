#!/usr/bin/env bash
# The walking skeleton end to end: samples over HTTP -> stream -> consumer group -> z-score ->
# anomaly -> Lua rule -> incident -> Lua runbook -> webhook (local receiver) -> audit stream.
# Real redis-server on a private port, the real engine, real curl.
. "$(dirname "$0")/lib.sh"

start_redis
start_receiver
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$SRC/rules", runbooks_dir = "$SRC/runbooks", lib_dir = "$SRC/lua" },
  notify = { webhook_url = "$RECEIVER_URL" },
  detect = { zscore = { window = 30, min_samples = 20, threshold = 4 } },
}
CONF
start_engine "$T/tocsin.conf.lua"

check "healthz answers ok" bash -c "curl -sf $URL/healthz | grep -q '\"status\":\"ok\"'"

# 40 normal samples of checkout's latency (deterministic noise), then a spike.
now=$(date +%s)
body="["
for i in $(seq 0 39); do
    v=$((100 + (i * 7) % 5))
    body="$body{\"name\":\"http_latency_ms\",\"labels\":{\"service.name\":\"checkout\",\"env\":\"prod\"},\"value\":$v,\"timestamp\":$((now - 60 + i))},"
done
body="${body%,}]"
r=$(post /api/v1/samples "$body")
check "40 samples accepted with 202" test "${r%% *}" = 202
check "answer counts them" grep -q '"accepted":40' "$T/resp"

r=$(post /api/v1/samples "{\"name\":\"http_latency_ms\",\"labels\":{\"service.name\":\"checkout\",\"env\":\"prod\"},\"value\":950,\"timestamp\":$((now - 10))}")
check "spike accepted" test "${r%% *}" = 202

check "webhook received within 10 s" wait_for 10 grep -q checkout "$T/received.jsonl"
sleep 0.5
check "exactly one webhook (one incident, dedup)" test "$(wc -l <"$T/received.jsonl")" = 1
check "webhook is a JSON POST naming the incident" \
    python3 -c "
import json,sys
r=json.loads(open('$T/received.jsonl').readline())
b=json.loads(r['body'])
assert r['method']=='POST' and r['path']=='/hook', r
assert r['headers'].get('Content-Type')=='application/json', r['headers']
assert b['incident'].startswith('INC-') and b['service']=='checkout' and b['metric']=='http_latency_ms', b
assert b['value']==950 and 95 < b['expected'] < 105, b
"

check "sample streams hold the 41 samples" test "$(python3 "$SRC/tests/tools/samples.py" --count -- -p "$REDIS_PORT")" = 41
check "sample is normalized (alias service.name -> service, sorted labels, ms)" \
    bash -c "python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT 2>/dev/null | head -1 | grep -q '\"labels\": {\"env\": \"prod\", \"service\": \"checkout\"}.*\"ts\": $(((now - 60) * 1000)), .*\"value\": 100.0'"
check "one series lands in one partition, in batched entries" \
    bash -c "test \$(python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT | grep -o '\"stream\": \"[^\"]*\"' | sort -u | wc -l) = 1 && test \$(redis-cli -p $REDIS_PORT --scan --pattern 'tocsin:samples:{*}' | xargs -n1 redis-cli -p $REDIS_PORT XLEN | awk '{s+=\$1} END {print s}') -le 3"
check "anomalies stream holds the spike" test "$(rcli XLEN tocsin:anomalies)" = 1
check "anomaly names the series and expected band" \
    bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:anomalies - + | tr '\n' ' ' | grep -q 'metric http_latency_ms .*service checkout value 950 expected 10[0-9]'"
check "incidents stream holds the opened incident" \
    bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:incidents - + | grep -qx opened"
inc=$(redis-cli -p "$REDIS_PORT" --raw XRANGE tocsin:incidents - + | grep -m1 '^INC-')
check "incident hash is stored" test "$(rcli HGET "tocsin:incident:$inc" service)" = checkout
check "audit: run started, webhook step, run finished ok" \
    bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:audit - + | tr '\n' ' ' | grep -q 'event run.started .*event step status ok .*http.request.*event run.finished status ok'"
check "consumer group acknowledged everything" \
    bash -c "for k in \$(redis-cli -p $REDIS_PORT --scan --pattern 'tocsin:samples:{*}'); do test \"\$(redis-cli -p $REDIS_PORT XPENDING \$k tocsin-detect | head -1)\" = 0 || exit 1; done"
check "/api/v1/incidents lists it" bash -c "curl -sf $URL/api/v1/incidents | grep -q $inc"
check "/metrics counts samples, anomalies and runs" bash -c "
    m=\$(curl -sf $URL/metrics)
    echo \"\$m\" | grep -q '^tocsin_ingest_records_total{input=\"samples\",result=\"accepted\"} 41' &&
    echo \"\$m\" | grep -q '^tocsin_detect_anomalies_total 1' &&
    echo \"\$m\" | grep -q '^tocsin_runbook_runs_total{result=\"ok\"} 1' &&
    echo \"\$m\" | grep -q '^# TYPE tocsin_redis_connected gauge'"

# more anomalies on the same service attach to the open incident: no second webhook
r=$(post /api/v1/samples "{\"name\":\"error_rate\",\"labels\":{\"service\":\"checkout\"},\"value\":1,\"timestamp\":$now}")
check "engine still accepts after the incident" test "${r%% *}" = 202

check "engine stops cleanly on SIGTERM" stop_engine
check "shutdown is logged" grep -q "stopped" "$T/engine.log"
check "5-minute and 1-hour rollups hold the 41 samples (count, min, max)" python3 -c "
import json, subprocess
def rows(pat):
    keys = subprocess.run(['redis-cli','-p','$REDIS_PORT','--scan','--pattern',pat], capture_output=True, text=True).stdout.split()
    out = []
    for k in keys:
        for _id, f in json.loads(subprocess.run(['redis-cli','-p','$REDIS_PORT','--json','XRANGE',k,'-','+'], capture_output=True, text=True).stdout):
            out.append(dict(zip(f[0::2], f[1::2])))
    return [r for r in out if r['name'] == 'http_latency_ms']
for pat, width in (('tocsin:rollup:5m:{*}', 300000), ('tocsin:rollup:1h:{*}', 3600000)):
    rs = rows(pat)
    assert sum(int(r['count']) for r in rs) == 41, (pat, rs)
    assert max(float(r['max']) for r in rs) == 950 and min(float(r['min']) for r in rs) == 100, rs
    assert all(int(r['width']) == width and int(r['bucket']) % width == 0 for r in rs), rs
"
finish
