#!/usr/bin/env bash
# Visualization, part 1 and 2 (issue 9): /metrics passes `promtool check metrics`, the opt-in
# anomaly scores respect their cardinality limit, the MTTD/MTTA/MTTR summaries appear as
# incidents move; incidents become Grafana annotations (a local receiver answering as Grafana's
# documentation does, its not-quite-JSON included): a point when one opens, updated when it is
# acknowledged, a region up to its resolution; and the shipped dashboard's every query parses
# (promtool) and names metrics tocsin exports.
. "$(dirname "$0")/lib.sh"
start_redis
command -v promtool >/dev/null || { echo "promtool not found: make test installs Debian's prometheus"; exit 1; }
cp "$SRC/../shared/vectors/grafana/annotations_create_response_doc_verbatim_INVALID_JSON.txt" "$T/created.txt"
python3 "$SRC/tests/tools/receiver.py" "$T/g.port" "$T/grafana.jsonl" 200 "$T/created.txt" &
PIDS+=("$!")
wait_for 10 test -s "$T/g.port" || { echo "receiver did not start"; exit 1; }
GRAFANA="http://127.0.0.1:$(cat "$T/g.port")"
has() { # has TEXT PATTERN...
    local s=$1 p; shift
    for p in "$@"; do [[ "$s" == *"$p"* ]] || { echo "# '$p' not in: ${s:0:300}"; return 1; }; done
}
mkdir -p "$T/none"
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$SRC/rules", runbooks_dir = "$T/none", lib_dir = "$SRC/lua",
              detection_dir = "$T/none", commands_dir = "$T/none" },
  detect = { zscore = { window = 30, min_samples = 20 } },
  grafana = { url = "$GRAFANA", token = "glsa_test_token", dashboard_uid = "tocsin-overview" },
  metrics = { anomaly_scores = true, anomaly_series_max = 2 },
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
for s in checkout payments search 'odd\"svc'; do series "$s" $((now - 300)); done
check "the spikes open incidents" wait_for 10 bash -c \
    "[ \$(curl -s $URL/api/v1/incidents | grep -o '\"id\":\"INC-' | wc -l) -ge 4 ]"
check "each opening is posted to Grafana's annotations API" wait_for 10 bash -c \
    "[ \$(grep -c '\"path\": \"/api/annotations\"' $T/grafana.jsonl) -ge 4 ]"
check "... as POST with the service account token and JSON" python3 -c "
import json
for l in open('$T/grafana.jsonl'):
    r = json.loads(l)
    if r['path'] == '/api/annotations':
        h = {k.lower(): v for k, v in r['headers'].items()}
        assert r['method'] == 'POST' and h['authorization'] == 'Bearer glsa_test_token', r
        assert h['content-type'] == 'application/json', h
        b = json.loads(r['body'])
        assert set(b) <= {'dashboardUID', 'panelId', 'time', 'timeEnd', 'tags', 'text'}, b
        assert b['dashboardUID'] == 'tocsin-overview' and 'timeEnd' not in b, b
        assert b['tags'][:2] == ['tocsin', 'incident'] and b['time'] > 0, b
        assert ' opened: latency_ms on ' in b['text'], b"
inc=$(curl -s "$URL/api/v1/incidents" | python3 -c '
import json, sys
print([i["id"] for i in json.load(sys.stdin) if i["service"] == "checkout"][0])')
state() { curl -s -o /dev/null -w '%{http_code}' -d "{\"id\":\"$inc\",\"state\":\"$1\",\"by\":\"alice\"}" "$URL/api/v1/incidents/state"; }
check "acknowledge ($(state acknowledged))" true
check "... updates its annotation (PATCH /api/annotations/1: the id from Grafana's answer)" \
    wait_for 10 grep -q '"method": "PATCH", "path": "/api/annotations/1"' "$T/grafana.jsonl"
check "resolve ($(state resolved))" true
check "... turns it into a region from the onset to the resolution" wait_for 10 python3 -c "
import json
p = [json.loads(json.loads(l)['body']) for l in open('$T/grafana.jsonl') if json.loads(l)['method'] == 'PATCH']
r = [b for b in p if 'timeEnd' in b]
assert r and r[0]['timeEnd'] > r[0]['time'] and ' resolved: ' in r[0]['text'], p"

curl -s "$URL/metrics" >"$T/metrics.txt"
check "/metrics passes promtool check metrics" bash -c "promtool check metrics <$T/metrics.txt"
n=$(grep -c '^tocsin_anomaly_score{' "$T/metrics.txt" || true)
check "the anomaly scores stop at metrics.anomaly_series_max (2 of 4 series: $n)" [ "$n" -eq 2 ]
check "... with their labels escaped" bash -c \
    "grep -q 'tocsin_anomaly_score{sid=\"[0-9a-f]*\",metric=\"latency_ms\",service=\"' $T/metrics.txt"
check "MTTD per service" grep -q '^tocsin_incident_time_to_detect_seconds_count{service="odd\\"svc"} 1$' "$T/metrics.txt"
check "MTTA and MTTR of the resolved incident" bash -c \
    "grep -q '^tocsin_incident_time_to_acknowledge_seconds_count{service=\"checkout\"} 1$' $T/metrics.txt &&
     grep -q '^tocsin_incident_time_to_resolve_seconds_sum{service=\"checkout\"} [0-9.]*$' $T/metrics.txt"
check "engine health: Redis latency in seconds, ingest rates, runs by result" bash -c \
    "grep -q '^tocsin_redis_last_latency_seconds 0' $T/metrics.txt &&
     grep -q '^tocsin_ingest_records_total{input=\"samples\",result=\"accepted\"} 124' $T/metrics.txt &&
     grep -q '^# TYPE tocsin_runbook_runs_total counter' $T/metrics.txt"

# ---- the dashboard ----------------------------------------------------------------------
D="$SRC/grafana/dashboards/tocsin.json"
check "the dashboard is the generator's output (tests/tools/gen_dashboard.py)" bash -c \
    "python3 $SRC/tests/tools/gen_dashboard.py | cmp -s - $D"
python3 - "$D" "$T/rules.yml" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$__range", "1h")
        f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(e)))
EOF
check "every dashboard query parses (promtool check rules)" bash -c "promtool check rules $T/rules.yml >/dev/null"
check "every metric the dashboard queries is one tocsin exports" python3 - "$D" "$T/metrics.txt" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
have = set()
for l in open(sys.argv[2]):
    m = re.match(r"# TYPE (\S+) (\S+)", l)
    if m:
        have.add(m.group(1))
        if m.group(2) == "summary":
            have |= {m.group(1) + "_sum", m.group(1) + "_count"}
used = set()
for p in d["panels"]:
    for t in p.get("targets", []):
        used |= set(re.findall(r"\btocsin_[a-z_]+", t["expr"]))
missing = used - have
assert not missing, missing
assert len(used) >= 25, used
EOF
check "the dashboard imports as is: a uid, a datasource variable, every panel on it" python3 -c "
import json
d = json.load(open('$D'))
assert d['uid'] and d['title'] and d['schemaVersion'] >= 30, d.keys()
assert [v for v in d['templating']['list'] if v['type'] == 'datasource' and v['query'] == 'prometheus']
ids = [p['id'] for p in d['panels']]
assert len(ids) == len(set(ids))
for p in d['panels']:
    if p['type'] != 'row':
        assert p['datasource']['uid'] == '\${datasource}' and p['targets'], p['title']
        g = p['gridPos']; assert g['x'] + g['w'] <= 24, p['title']
assert any(a.get('target', {}).get('tags') == ['tocsin', 'incident'] for a in d['annotations']['list'])"
check "the provisioning files point Grafana at the dashboard and at Prometheus" bash -c \
    "grep -q 'type: file' $SRC/grafana/provisioning/dashboards/tocsin.yaml &&
     grep -q 'type: prometheus' $SRC/grafana/provisioning/datasources/tocsin.yaml &&
     promtool check config $SRC/grafana/prometheus.yml >/dev/null"
# ---- tocsin report ----------------------------------------------------------------------
"$TOCSIN" report --redis "redis://127.0.0.1:$REDIS_PORT" --since 1h --json >"$T/report.json"
check "tocsin report --json: the period's incidents, per service, with the resolved one's times" python3 -c "
import json
r = json.load(open('$T/report.json'))
assert r['overall']['incidents'] == 4 and r['overall']['resolved'] == 1, r['overall']
co = [s for s in r['services'] if s['service'] == 'checkout'][0]
assert co['acknowledged'] == 1 and co['ttr']['n'] == 1 and co['ttr']['mean_s'] > co['tta']['mean_s'] >= 0, co
assert co['ttd']['mean_s'] > 200, co  # the spike was 260 s old when it arrived
assert [l['name'] for l in r['levels']] == ['no runbook'], r['levels']"
out=$("$TOCSIN" report --redis "redis://127.0.0.1:$REDIS_PORT" --since 1h)
check "tocsin report: a table per service and per automation level" has "$out" \
    'Incidents opened from' 'MTTD' 'checkout ' 'all ' 'By automation level' 'no runbook'
rc=0; "$TOCSIN" report --redis "redis://127.0.0.1:1" 2>"$T/err" || rc=$?
check "tocsin report without Redis exits 1 and says why" bash -c "[ $rc = 1 ] && grep -q 'cannot connect' $T/err"
rc=0; "$TOCSIN" report --since tomorrow 2>/dev/null || rc=$?
check "tocsin report with a bad period exits 2" [ $rc = 2 ]
check "the engine stops cleanly" stop_engine
finish
