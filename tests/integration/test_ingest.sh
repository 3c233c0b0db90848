#!/usr/bin/env bash
# Ingestion (issue 4): every input with payloads published by the upstream projects
# (../shared/vectors), through the running engine into a real redis-server, read back and compared.
. "$(dirname "$0")/lib.sh"
V="$SRC/../shared/vectors"
start_redis
# a static Prometheus target to scrape
mkdir -p "$T/www"
cp "$V/prometheus/exposition_formats_example_classic_0.0.4.txt" "$T/www/metrics"
SCRAPE_PORT=$(free_port)
(cd "$T/www" && exec python3 -m http.server "$SCRAPE_PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
PIDS+=("$!")
INFLUX_PORT=$(free_port)
cat >"$T/topology.json" <<'TOPO'
{ "services": [ { "name": "frontend", "depends_on": ["checkout"] },
                { "name": "checkout", "depends_on": ["payments"], "team": "shop" },
                { "name": "payments" } ] }
TOPO
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$T/none", runbooks_dir = "$T/none" },
  ingest = { influx_tcp = "127.0.0.1:$INFLUX_PORT",
             label_aliases = { ["my.gauge.attr"] = "gauge_attr" },
             scrape_targets = { "http://127.0.0.1:$SCRAPE_PORT/metrics" }, scrape_interval_ms = 500 },
  topology = { file = "$T/topology.json" },
}
CONF
start_engine "$T/tocsin.conf.lua"
samples() { python3 "$SRC/tests/tools/samples.py" -- -p "$REDIS_PORT"; }
stream_json() { redis-cli -p "$REDIS_PORT" --json XRANGE "$1" - + ; }
export -f samples stream_json
export SRC REDIS_PORT
postf() { # postf PATH FILE [extra curl args] -> "<status>" and body in $T/resp
    curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' "${@:3}" \
        --data-binary @"$2" "$URL$1"
}
pycheck() { python3 -c "$1" >"$T/pyout" 2>&1 || { cat "$T/pyout"; return 1; }; }

# --- OTLP/HTTP JSON ----------------------------------------------------------------------------
code=$(postf /v1/metrics "$V/otlp/metrics.json")
check "OTLP metrics vector -> 200 ($code)" test "$code" = 200
check "OTLP answer is a partial-success object" grep -q '^{' "$T/resp"
gzip -c "$V/otlp/logs.json" >"$T/logs.json.gz"
code=$(postf /v1/logs "$T/logs.json.gz" -H 'Content-Encoding: gzip')
check "OTLP logs vector, gzipped -> 200 ($code)" test "$code" = 200
code=$(postf /v1/traces "$V/otlp/trace.json")
check "OTLP traces vector -> 200 ($code)" test "$code" = 200
check "OTLP metrics stored with resource labels (service.name -> service)" pycheck "
import json, subprocess
rows = [json.loads(l) for l in subprocess.run(['python3', '$SRC/tests/tools/samples.py', '--', '-p', '$REDIS_PORT'], capture_output=True, text=True).stdout.splitlines()]
m = [r for r in rows if r['labels'].get('service') == 'my.service']
assert len(m) >= 3, rows
assert all('.' not in r['name'] for r in m)
"
check "a configured label alias renames (my.gauge.attr -> gauge_attr); the others are not renamed" pycheck "
import json, subprocess
rows = [json.loads(l) for l in subprocess.run(['python3', '$SRC/tests/tools/samples.py', '--', '-p', '$REDIS_PORT'], capture_output=True, text=True).stdout.splitlines()]
assert any('gauge_attr' in r['labels'] for r in rows), rows
assert not any('my_gauge_attr' in r['labels'] for r in rows), rows
assert any('my_counter_attr' in r['labels'] for r in rows), rows
"
check "OTLP log records stored with trace ids lowercased" pycheck "
import json, subprocess
keys = subprocess.run(['redis-cli','-p','$REDIS_PORT','--scan','--pattern','tocsin:logs:{*}'], capture_output=True, text=True).stdout.split()
n = 0
for k in keys:
    for _id, f in json.loads(subprocess.run(['redis-cli','-p','$REDIS_PORT','--json','XRANGE',k,'-','+'], capture_output=True, text=True).stdout):
        d = dict(zip(f[0::2], f[1::2])); n += 1
        assert d['trace_id'] == d['trace_id'].lower() and d['body'], d
assert n >= 1
"
check "OTLP spans stored with service, kind and duration" pycheck "
import json, subprocess
keys = subprocess.run(['redis-cli','-p','$REDIS_PORT','--scan','--pattern','tocsin:spans:{*}'], capture_output=True, text=True).stdout.split()
rows = []
for k in keys:
    for _id, f in json.loads(subprocess.run(['redis-cli','-p','$REDIS_PORT','--json','XRANGE',k,'-','+'], capture_output=True, text=True).stdout):
        rows.append(dict(zip(f[0::2], f[1::2])))
assert rows and all(r['service'] == 'my.service' and r['kind'] in ('server','client','internal') and int(r['duration_us']) >= 0 for r in rows), rows
"
# enum fields by their proto names, as the OpenTelemetry Collector accepts them
printf '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"enum-svc"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"enum-span","kind":"SPAN_KIND_CLIENT","status":{"code":"STATUS_CODE_ERROR"},"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000002000000"}]}]}]}' >"$T/enum_spans.json"
printf '{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"enum-svc"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":"SEVERITY_NUMBER_WARN3","body":{"stringValue":"enum-log"}}]}]}]}' >"$T/enum_logs.json"
code_s=$(postf /v1/traces "$T/enum_spans.json"); code_l=$(postf /v1/logs "$T/enum_logs.json")
check "OTLP enum names are accepted ($code_s $code_l) and mapped: SPAN_KIND_CLIENT, STATUS_CODE_ERROR, SEVERITY_NUMBER_WARN3" pycheck "
import json, subprocess
assert '$code_s' == '200' and '$code_l' == '200'
def rows(pattern):
    out = []
    for k in subprocess.run(['redis-cli','-p','$REDIS_PORT','--scan','--pattern',pattern], capture_output=True, text=True).stdout.split():
        for _id, f in json.loads(subprocess.run(['redis-cli','-p','$REDIS_PORT','--json','XRANGE',k,'-','+'], capture_output=True, text=True).stdout):
            out.append(dict(zip(f[0::2], f[1::2])))
    return out
sp = [r for r in rows('tocsin:spans:{*}') if r['name'] == 'enum-span']
assert len(sp) == 1 and sp[0]['kind'] == 'client' and sp[0]['error'] == '1', sp
lg = [r for r in rows('tocsin:logs:{*}') if r['body'] == 'enum-log']
assert len(lg) == 1 and lg[0]['severity'] == 'warn', lg
"
printf '{"resourceMetrics":[{"resource":{},"scopeMetrics":[{"metrics":[{"name":"ok.gauge","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"1700000000000000000"},{"asDouble":2,"timeUnixNano":"not-a-number"}]}}]}]}]}' >"$T/partial.json"
code=$(postf /v1/metrics "$T/partial.json")
check "OTLP partial success names the rejected point ($(cat "$T/resp" | head -c 120))" \
    bash -c "test $code = 200 && grep -q '\"rejectedDataPoints\":\"\\?1' $T/resp"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/x-protobuf' --data-binary 'x' "$URL/v1/metrics")
check "OTLP protobuf -> 415 with a message" bash -c "test $code = 415 && grep -q 'not supported' $T/resp"
printf 'not gzip at all' >"$T/bad.gz"
code=$(postf /v1/logs "$T/bad.gz" -H 'Content-Encoding: gzip')
check "corrupt gzip -> 400" test "$code" = 400
head -c 80000000 /dev/zero | gzip -c >"$T/bomb.gz"
code=$(postf /v1/logs "$T/bomb.gz" -H 'Content-Encoding: gzip')
check "gzip bomb (80 MB of zeros) -> 413" test "$code" = 413

# --- Prometheus text: push, and scrape ------------------------------------------------------------
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: text/plain' \
    --data-binary @"$V/prometheus/exposition_formats_example_classic_0.0.4.txt" "$URL/api/v1/import/prometheus")
check "Prometheus text example pushed -> 202 ($code)" test "$code" = 202
check "escaped label values survive" bash -c "samples | grep -q 'msdos_file_access_time_seconds'" 
check "the scrape target was scraped with job/instance and up=1" wait_for 10 bash -c \
    "python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT | grep '\"name\": \"up\"' | grep -q '\"instance\": \"127.0.0.1:$SCRAPE_PORT\"'"
check "scraped samples carry job=tocsin-scrape" bash -c \
    "python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT | grep 'http_requests_total' | grep -q 'tocsin-scrape'"

# --- Influx line protocol: HTTP and TCP ------------------------------------------------------------
printf 'cpu,host=web-1,region=eu usage_user=12.5,usage_system=3i 1700000000000000000\nmem,host=web-1 used_percent=61.2 1700000000000000000\n' >"$T/lines"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --data-binary @"$T/lines" "$URL/write")
check "influx /write -> 204 ($code)" test "$code" = 204
check "influx fields became measurement_field samples" bash -c "samples | grep -q '\"name\": \"cpu_usage_user\"' && samples | grep -q '\"name\": \"mem_used_percent\"'"
printf 'cpu,host=web-2 usage_user=1 1700000000\nbad line here\ncpu,host=web-3 usage_user=2 1700000000\n' >"$T/lines2"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --data-binary @"$T/lines2" "$URL/write?precision=s")
check "influx partial write -> 400 naming line 2, good lines kept" \
    bash -c "test $code = 400 && grep -q 'line 2' $T/resp && samples | grep -q 'web-3'"
printf 'tcpmetric,host=a value=1 1700000000000000000\ntcpmetric,host=b value=2 1700000000000000000\n' |
    python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$INFLUX_PORT)); s.sendall(sys.stdin.buffer.read()); s.close()"
check "influx over TCP stored" wait_for 5 bash -c "python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT | grep -c tcpmetric_value | grep -q 2"

# --- alerts and events ------------------------------------------------------------------------------
code=$(postf /api/v2/alerts "$V/alertmanager/api_v2_postable_alerts_send_alerts_sh.json")
check "Alertmanager API v2 alerts -> 200 ($code)" test "$code" = 200
check "alerts are in the events stream as firing alerts" bash -c "stream_json tocsin:events | grep -q '\"alert\"' && redis-cli -p $REDIS_PORT --raw XRANGE tocsin:events - + | grep -qx firing"
code=$(postf /api/v1/alertmanager "$V/alertmanager/prometheus-msteams_prom_post_request.json")
check "Alertmanager webhook payload -> 202 ($code)" test "$code" = 202
code=$(postf /api/v1/pagerduty "$V/pagerduty/webhook_v3_incident_priority_updated.json")
check "PagerDuty v3 webhook -> 202 ($code)" test "$code" = 202
check "PagerDuty event stored" bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:events - + | grep -qx pagerduty"
printf '{"type":"deploy","service":"payments","version":"2.4.0","title":"payments 2.4.0","timestamp":"2026-11-24T11:30:00Z"}' >"$T/deploy.json"
code=$(postf /api/v1/events "$T/deploy.json")
check "deploy event -> 202 ($code)" test "$code" = 202
check "deploy event stored" bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:events - + | grep -qx deploy"

# --- Datadog, Fluentd / Logstash ---------------------------------------------------------------------
sed "s/{{ timestamp('now') }}/$(date +%s)/g" "$V/datadog/series_v2_payload_accepted_TEMPLATE.txt" >"$T/dd.json"
code=$(postf /api/v2/series "$T/dd.json")
check "Datadog series -> 202 {\"errors\":[]} ($code)" bash -c "test $code = 202 && grep -q '\"errors\":\[\]' $T/resp"
printf '{"message":"GET /cart 500","level":"ERROR","service":"checkout","@timestamp":"2026-11-24T11:30:00Z"}\n{"log":"second line","time":1764000000}\n' >"$T/nd.json"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' --data-binary @"$T/nd.json" "$URL/api/v1/logs")
check "NDJSON logs -> 202 ($code)" test "$code" = 202
check "log severity normalized (ERROR -> error)" bash -c "for k in \$(redis-cli -p $REDIS_PORT --scan --pattern 'tocsin:logs:{*}'); do redis-cli -p $REDIS_PORT --raw XRANGE \$k - +; done | grep -q 'GET /cart 500'"

# --- Redis-fed inputs ----------------------------------------------------------------------------------
rcli XADD tocsin:in:samples '*' name fed_metric value 42 labels '{"service":"fed"}' ts 1764000000 >/dev/null
rcli XADD tocsin:in:raw '*' format influx body 'fedinflux,host=x value=7 1764000000000000000' >/dev/null
rcli XADD tocsin:in:samples '*' name 'not a metric' value 1 >/dev/null
rcli XADD tocsin:in:events '*' type config_change service checkout title 'raise pool size' >/dev/null
check "Redis-fed sample stored" wait_for 5 bash -c "python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT | grep -q fed_metric"
check "Redis-fed raw influx stored" wait_for 5 bash -c "python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT | grep -q fedinflux_value"
check "Redis-fed event stored" wait_for 5 bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:events - + | grep -qx config_change"
check "invalid Redis-fed entry dead-lettered with a reason" wait_for 5 bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:in:dead - + | grep -q 'metric name'"
check "Redis-fed entries acknowledged" wait_for 5 bash -c "for k in samples raw events; do test \"\$(redis-cli -p $REDIS_PORT XPENDING tocsin:in:\$k tocsin-ingest | head -1)\" = 0 || exit 1; done"

# --- topology -------------------------------------------------------------------------------------------
check "topology file loaded" bash -c "curl -s $URL/api/topology | grep -q '\"from\":\"checkout\",\"to\":\"payments\",\"source\":\"cmdb\"'"
python3 - "$T/tr.json" <<'PY'
import json, sys
t = "0af7651916cd43dd8448eb211c80319c"
def span(svc, sid, parent):
    return {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
            "scopeSpans": [{"spans": [{"traceId": t, "spanId": sid, "parentSpanId": parent, "name": "call",
                                        "kind": 2, "startTimeUnixNano": "1700000000000000000",
                                        "endTimeUnixNano": "1700000000100000000"}]}]}
json.dump({"resourceSpans": [span("payments", "00f067aa0ba902b7", ""), span("ledger", "00f067aa0ba902b8", "00f067aa0ba902b7")]}, open(sys.argv[1], "w"))
PY
code=$(postf /v1/traces "$T/tr.json")
check "an edge is learned from traces (payments -> ledger)" bash -c "curl -s $URL/api/topology | grep -q '\"from\":\"payments\",\"to\":\"ledger\",\"source\":\"traces\"'"
check "topology is written to Redis" bash -c "redis-cli -p $REDIS_PORT GET tocsin:topology | grep -q ledger"
printf '{"services": [ {"name": 3} ] }' >"$T/topology.json.new" && mv "$T/topology.json.new" "$T/topology.json"
check "a broken topology file is refused, the graph stays" wait_for 5 grep -q 'topology: not loaded' "$T/engine.log"
check "... and the previous edges are still there" bash -c "curl -s $URL/api/topology | grep -q '\"to\":\"payments\"'"

# --- metrics ---------------------------------------------------------------------------------------------
check "/metrics counts records per input" bash -c "curl -s $URL/metrics | grep -Eq '^tocsin_ingest_records_total\{input=\"otlp_metrics\",result=\"accepted\"\} [1-9]'"

# --- Redis stopped for ten seconds under load: every accepted sample is there afterwards -------------------
python3 - "$URL" "$T/accepted.txt" "$T/load.log" <<'PY' &
import http.client, json, sys, time
host, port = sys.argv[1].replace("http://", "").split(":")
acc = open(sys.argv[2], "w"); log = open(sys.argv[3], "w")
t_end = time.time() + 16
i = 0
while time.time() < t_end:
    body = json.dumps([{"name": "outage_metric", "labels": {"seq": str(i), "k": str(j)}, "value": j,
                        "timestamp": 1764000000000 + i} for j in range(50)])
    while True:
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=10)
            c.request("POST", "/api/v1/samples", body, {"Content-Type": "application/json"})
            r = c.getresponse(); r.read(); c.close()
        except OSError as e:
            log.write("error %s\n" % e); time.sleep(0.2); continue
        log.write("%d\n" % r.status)
        if r.status == 202:
            acc.write("%d\n" % i); acc.flush(); break
        if r.status in (429, 503):
            time.sleep(0.2); continue
        sys.exit("unexpected status %d" % r.status)
    i += 1
    time.sleep(0.02)
PY
LOAD=$!
sleep 3
kill -STOP "$REDIS_PID"
sleep 10
kill -CONT "$REDIS_PID"
wait $LOAD
check "load client got 503s while Redis was stopped" grep -q '^503$' "$T/load.log"
check "every batch answered 202 is stored (50 samples each)" pycheck "
import json, subprocess
acc = set(int(x) for x in open('$T/accepted.txt'))
rows = [json.loads(l) for l in subprocess.run(['python3', '$SRC/tests/tools/samples.py', '--', '-p', '$REDIS_PORT'], capture_output=True, text=True).stdout.splitlines()]
got = {}
for r in rows:
    if r['name'] == 'outage_metric':
        got.setdefault(int(r['labels']['seq']), set()).add(r['labels']['k'])
missing = [i for i in acc if len(got.get(i, ())) != 50]
assert acc and not missing, (len(acc), missing[:10])
print(len(acc), 'batches')
"
check "engine stops cleanly" stop_engine
finish
