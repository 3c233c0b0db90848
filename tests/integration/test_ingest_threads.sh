#!/usr/bin/env bash
# Large bodies parsed on worker threads (ingest.parse_threads): the same samples, rejections and
# answers as parsing on the event loop; several at once; Redis stopped under that load and the
# engine stopped while bodies are being parsed: nothing that got a 2xx is lost.
. "$(dirname "$0")/lib.sh"
start_redis
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$T/none", runbooks_dir = "$T/none" },
  ingest = { redis_fed = false },
  detect = { enabled = false },
}
CONF
python3 - "$T" <<'PY'
import gzip, json, os, sys
T = sys.argv[1]
def otlp(name, n, seed):
    pts = [{"asDouble": (i * 7 + seed) % 101 + 0.25, "timeUnixNano": str(1764000000000000000 + i * 1000000),
            "attributes": [{"key": "host", "value": {"stringValue": "h%d" % (i % 300)}},
                           {"key": "k8s.pod.name", "value": {"stringValue": "p%d" % (i % 7)}}]} for i in range(n)]
    ints = [{"asInt": str(i * 3), "timeUnixNano": str(1764000000000000000 + i * 1000000),
             "attributes": [{"key": "path", "value": {"stringValue": "/api/%d" % (i % 50)}}]} for i in range(n // 4)]
    hist = [{"count": "6", "sum": 12.5, "bucketCounts": ["1", "2", "3"], "explicitBounds": [0.5, 1.0],
             "timeUnixNano": str(1764000000000000000 + i * 1000000),
             "attributes": [{"key": "route", "value": {"stringValue": "r%d" % i}}]} for i in range(n // 20)]
    return json.dumps({"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc-" + name}}]},
        "scopeMetrics": [{"metrics": [
            {"name": name + ".cpu", "unit": "1", "gauge": {"dataPoints": pts}},
            {"name": name + ".requests", "unit": "{request}", "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": ints}},
            {"name": name + ".latency", "unit": "s", "histogram": {"aggregationTemporality": 2, "dataPoints": hist}}]}]}]})
def influx(name, n, bad_every=0):
    lines = []
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            lines.append("%s,host=h%d usage=oops%d %d" % (name, i, i, 1764000000000000000 + i))
        else:
            lines.append("%s,host=h%d,region=eu usage=%d.5,idle=%di %d" % (name, i % 400, i % 97, i % 13, 1764000000000000000 + i * 1000))
    return "\n".join(lines) + "\n"
def prom(name, n):
    out = ["# HELP %s_total Requests." % name, "# TYPE %s_total counter" % name]
    out += ['%s_total{code="%d",path="/p%d"} %d 1764000000000' % (name, 200 + i % 5, i, i) for i in range(n)]
    return "\n".join(out) + "\n"
files = {
    "otlp1.json": otlp("alpha", 3000, 1), "otlp2.json": otlp("beta", 2000, 2),
    "influx1.txt": influx("cpu_a", 6000), "influx2.txt": influx("cpu_b", 5000, bad_every=1000),
    "prom1.txt": prom("http_a", 3000),
    "bad_otlp.json": otlp("gamma", 2000, 3)[:-40],
    "bad_influx.txt": "\n".join("x,host=h%d usage=bad%d" % (i, i) for i in range(4000)) + "\n",
}
for k, v in files.items():
    open(os.path.join(T, k), "w").write(v)
open(os.path.join(T, "otlp3.json.gz"), "wb").write(gzip.compress(otlp("delta", 3000, 4).encode()))
# the jansson-based inputs: OTLP logs and traces, Datadog series, Fluentd NDJSON, Alertmanager
logs = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": str(1764000000000000000 + i * 1000000), "severityNumber": 9 + i % 9,
                                       "body": {"stringValue": "request %d served in %d ms" % (i, i % 97)},
                                       "traceId": "%032x" % (i + 1), "spanId": "%016x" % (i + 1)} for i in range(3000)]}]}]}
spans = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
         "scopeSpans": [{"spans": [{"traceId": "%032x" % (i + 7), "spanId": "%016x" % (i * 2 + k + 1),
                                    **({"parentSpanId": "%016x" % (i * 2 + 1)} if k else {}),
                                    "name": "GET /x", "kind": 2, "startTimeUnixNano": str(1764000000000000000 + i),
                                    "endTimeUnixNano": str(1764000000000000000 + i + 5000000 * (1 + i % 4)),
                                    "status": {"code": 2 if i % 10 == 0 else 0}} for i in range(1000)]}]}
         for k, svc in enumerate(("front", "back"))]}
dd = {"series": [{"metric": "dd.cpu", "type": 3, "points": [{"timestamp": 1764000000 + j, "value": j * 0.5} for j in range(20)],
                  "resources": [{"name": "host%d" % i, "type": "host"}], "tags": ["env:prod", "team:t%d" % (i % 5)]} for i in range(300)]}
nd = "\n".join(json.dumps({"message": "GET /p/%d 200" % i, "service": "web", "level": "info", "@timestamp": "2026-11-24T11:30:%02d.%03dZ" % (i % 60, i % 1000)}) for i in range(3000))
am = {"version": "4", "status": "firing", "receiver": "tocsin", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
      "externalURL": "http://am", "groupKey": "{}", "alerts": [{"status": "firing", "labels": {"alertname": "A%d" % i, "service": "s%d" % (i % 9)},
      "annotations": {"summary": "x" * 50}, "startsAt": "2026-11-24T11:30:00Z", "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://p", "fingerprint": "%016x" % i} for i in range(300)]}
for k, v in {"logs.json": logs, "spans.json": spans, "dd.json": dd, "am.json": am}.items():
    open(os.path.join(T, k), "w").write(json.dumps(v))
open(os.path.join(T, "fluent.ndjson"), "w").write(nd + "\n")
open(os.path.join(T, "bad.json.gz"), "wb").write(gzip.compress(otlp("eps", 3000, 5).encode())[:20000])
PY
# path file content-type [encoding]
BODIES="/v1/metrics otlp1.json application/json
/v1/metrics otlp2.json application/json
/write influx1.txt text/plain
/write influx2.txt text/plain
/api/v1/import/prometheus prom1.txt text/plain
/v1/metrics otlp3.json.gz application/json gzip
/v1/metrics bad_otlp.json application/json
/write bad_influx.txt text/plain
/v1/metrics bad.json.gz application/json gzip
/v1/logs logs.json application/json
/v1/traces spans.json application/json
/api/v2/series dd.json application/json
/api/v1/logs fluent.ndjson application/x-ndjson
/api/v1/alertmanager am.json application/json"

post_all() { # post_all OUTDIR: every body at once; status and answer of each in OUTDIR
    mkdir -p "$1"
    local k=0 pids=()
    while read -r path file ct enc; do
        k=$((k + 1))
        curl -s -o "$1/$k.body" -w '%{http_code}' -H "Content-Type: $ct" \
            ${enc:+-H "Content-Encoding: $enc"} --data-binary @"$T/$file" "$URL$path" >"$1/$k.status" &
        pids+=("$!")
    done <<<"$BODIES"
    wait "${pids[@]}"
}
stored() { python3 "$SRC/tests/tools/samples.py" -- -p "$REDIS_PORT" | python3 -c '
import json, sys
rows = sorted(json.dumps({k: v for k, v in json.loads(l).items() if k != "sid"}, sort_keys=True) for l in sys.stdin)
print("\n".join(rows))'; }
entries() { # the entries of the log, span and event streams, without their ids, sorted
    for k in $(rcli --scan --pattern 'tocsin:logs:{*}') $(rcli --scan --pattern 'tocsin:spans:{*}') tocsin:events; do
        rcli --json XRANGE "$k" - + | python3 -c '
import json, sys
for _id, f in json.load(sys.stdin) or []:
    print(json.dumps(f))'
    done | sort; }

start_engine "$T/tocsin.conf.lua" --ingest.parse_threads=2
post_all "$T/threads"
stored >"$T/threads.samples"
entries >"$T/threads.entries"
threaded() { # threaded MIN MAX: bodies parsed on worker threads
    local n; n=$(curl -s "$URL/metrics" | sed -n 's/^tocsin_ingest_parsed_on_threads_total //p')
    echo "parsed on threads: $n"; [ "$n" -ge "$1" ] && [ "$n" -le "$2" ]
}
# 2 at once on the threads; a body that comes while both are busy is parsed on the loop
check "large bodies were parsed on worker threads" threaded 2 14
check "engine stops cleanly (threads)" stop_engine
rcli FLUSHALL >/dev/null
start_engine "$T/tocsin.conf.lua" --ingest.parse_threads=0
post_all "$T/loop"
stored >"$T/loop.samples"
entries >"$T/loop.entries"
check "... and with parse_threads = 0, none" threaded 0 0
check "engine stops cleanly (loop)" stop_engine

expect_status() { [ "$(cat "$T/$1/$2.status")" = "$3" ]; }
for d in threads loop; do
    check "$d: OTLP bodies answered 200" bash -c "for k in 1 2 6; do [ \$(cat $T/$d/\$k.status) = 200 ] || exit 1; done"
    check "$d: Influx answered 204, then 400 for the body with bad lines" bash -c "[ \$(cat $T/$d/3.status) = 204 ] && [ \$(cat $T/$d/4.status) = 400 ]"
    check "$d: Prometheus text answered 202" expect_status "$d" 5 202
    check "$d: a truncated OTLP body gets 400 naming line and column" bash -c "[ \$(cat $T/$d/7.status) = 400 ] && grep -q 'line 1, column' $T/$d/7.body"
    check "$d: Influx with no good line gets 400 naming a line" bash -c "[ \$(cat $T/$d/8.status) = 400 ] && grep -q 'line 1' $T/$d/8.body"
    check "$d: a truncated gzip body gets 400" bash -c "[ \$(cat $T/$d/9.status) = 400 ] && grep -q 'bad_encoding' $T/$d/9.body"
    check "$d: OTLP logs and traces 200, Datadog, Fluentd and Alertmanager 202" bash -c "for k in 10 11; do [ \$(cat $T/$d/\$k.status) = 200 ] || exit 1; done; for k in 12 13 14; do [ \$(cat $T/$d/\$k.status) = 202 ] || exit 1; done"
done
check "the answers are the same on worker threads and on the loop" \
    bash -c "for k in \$(seq 1 14); do cmp -s $T/threads/\$k.body $T/loop/\$k.body && cmp -s $T/threads/\$k.status $T/loop/\$k.status || { echo body \$k differs; exit 1; }; done"
# 3000+750+150 + 2000+500+100 OTLP points (histograms: count, sum and 3 buckets each: 5 series); Datadog 300 series x 20 points, Influx 6000x2 +
# (5000 - 5 bad)x2 fields, 3000 Prometheus, 3000+750+150 from the gzip body
n_threads=$(wc -l <"$T/threads.samples")
check "every sample was stored ($n_threads)" test "$n_threads" -eq $(( (3000 + 750 + 150 * 5) + (2000 + 500 + 100 * 5) + 12000 + 9990 + 3000 + (3000 + 750 + 150 * 5) + 300 * 20 ))
check "the stored samples are the same on worker threads and on the loop" cmp -s "$T/threads.samples" "$T/loop.samples"
n_entries=$(wc -l <"$T/threads.entries")
check "3000 + 3000 logs, 2000 spans and 300 alert events were stored ($n_entries)" test "$n_entries" -eq 8300
check "the stored logs, spans and events are the same on worker threads and on the loop" cmp -s "$T/threads.entries" "$T/loop.entries"
check "labels were normalized on the threads (k8s.pod.name -> pod, service.name -> service)" \
    bash -c "grep -m1 'alpha.cpu' $T/threads.samples | grep -q '\"pod\": \"p' && grep -m1 'alpha.cpu' $T/threads.samples | grep -q '\"service\": \"svc-alpha\"'"

# --- Redis stopped while large bodies are parsed and written: every 2xx is stored ---------------
rcli FLUSHALL >/dev/null
start_engine "$T/tocsin.conf.lua" --ingest.parse_threads=2
python3 - "$URL" "$T" <<'PY' &
import http.client, sys, threading, time
url, T = sys.argv[1], sys.argv[2]
host, port = url.replace("http://", "").split(":")
acc = open(T + "/outage.accepted", "w"); log = open(T + "/outage.log", "w"); lock = threading.Lock()
def client(c):
    t_end = time.time() + 10
    i = 0
    while time.time() < t_end:
        body = "\n".join("outage%d_%d,host=h%d v=%d %d" % (c, i, j, j, 1764000000000000000 + j) for j in range(1000))
        while True:
            try:
                h = http.client.HTTPConnection(host, int(port), timeout=10)
                h.request("POST", "/write", body, {"Content-Type": "text/plain"})
                r = h.getresponse(); r.read(); h.close()
            except OSError as e:
                with lock: log.write("error %s\n" % e)
                time.sleep(0.1); continue
            with lock: log.write("%d\n" % r.status); log.flush()
            if r.status == 204:
                with lock: acc.write("outage%d_%d_v\n" % (c, i)); acc.flush()
                break
            if r.status in (429, 503): time.sleep(0.1); continue
            sys.exit("unexpected status %d" % r.status)
        i += 1
        time.sleep(0.05)
ts = [threading.Thread(target=client, args=(c,)) for c in range(3)]
for t in ts: t.start()
for t in ts: t.join()
PY
LOAD=$!
sleep 1.5
kill -STOP "$REDIS_PID"
sleep 6 # longer than redis.command_timeout_ms (5 s)
kill -CONT "$REDIS_PID"
wait $LOAD
check "the load got 503 while Redis was stopped" grep -q '^503$' "$T/outage.log"
# every accepted body has its 1000 distinct samples
count_names() { python3 "$SRC/tests/tools/samples.py" -- -p "$REDIS_PORT" | python3 -c '
import json, sys, collections
hosts = collections.defaultdict(set) # a retried body may be stored twice: count distinct samples
for l in sys.stdin:
    r = json.loads(l)
    hosts[r["name"]].add(r["labels"]["host"])
acc = [l.strip() for l in open(sys.argv[1])]
missing = [a for a in acc if len(hosts[a]) != 1000]
print(len(acc), "bodies accepted;", len(missing), "incomplete:", missing[:5])
sys.exit(1 if not acc or missing else 0)' "$1"; }
check "every body answered 204 is stored in full" count_names "$T/outage.accepted"

# --- the engine stopped while bodies are being parsed: 2xx stored, the others refused ----------
# 16 bodies; Redis is stopped as soon as the first is answered, so that the rest are surely in
# flight (being parsed, or their writes waiting) at SIGTERM, and is back half a second later
rcli FLUSHALL >/dev/null
NSTOP=16
for k in $(seq 1 $NSTOP); do
    python3 -c "
print('\\n'.join('stop$k,host=h%d v=%d %d' % (j, j, 1764000000000000000 + j) for j in range(50000)))" >"$T/stop$k.txt"
done
start_engine "$T/tocsin.conf.lua" --ingest.parse_threads=2
pids=()
for k in $(seq 1 $NSTOP); do
    curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/stop$k.txt" "$URL/write" >"$T/stop$k.status" &
    pids+=("$!")
done
for _ in $(seq 1000); do cat "$T"/stop*.status | grep -q 204 && break; sleep 0.02; done
kill -STOP "$REDIS_PID"
stop_in_flight() {
    kill -TERM "$ENGINE_PID"
    sleep 0.5
    kill -CONT "$REDIS_PID"
    local rc=0
    wait "$ENGINE_PID" || rc=$?
    return $rc
}
check "the engine stops cleanly with bodies in flight" stop_in_flight
wait "${pids[@]}" || true # curl fails when the engine closes the connection
stop_ok() {
    python3 "$SRC/tests/tools/samples.py" -- -p "$REDIS_PORT" | python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l)["name"] for l in sys.stdin)
ok = 0
n = int(sys.argv[2])
for k in range(1, n + 1):
    st = open(sys.argv[1] + "/stop%d.status" % k).read().strip()
    got = c["stop%d_v" % k]
    if st == "204":
        if got != 50000: sys.exit("body %d answered 204 but %d of 50000 stored" % (k, got))
        ok += 1
    elif st not in ("503", "000", "100"): # 000, 100: closed before the answer (100: after "100 Continue")
        sys.exit("body %d: unexpected status %s" % (k, st))
print(ok, "of", n, "answered 204, all stored in full")
sys.exit(0 if ok else 1)' "$T" "$NSTOP"
}
check "every body answered 204 before the stop is stored in full; the others got 503 or no answer" stop_ok
check "the stop let the requests in flight finish first" grep -q "letting the requests in flight finish" "$T/engine.log"

# --- Redis behind: with 4096 or more commands unanswered, large bodies are parsed on the loop --
# (parsing faster would not store faster, and the threads would take CPU that Redis needs)
rcli FLUSHALL >/dev/null
python3 -c "
for k in (1, 2):
    open('$T/behind%d.txt' % k, 'w').write('\\n'.join('behind%d,host=h%d v=%d %d' % (k, j, j, 1764000000000000000 + j) for j in range(5000)))"
start_engine "$T/tocsin.conf.lua" --ingest.parse_threads=2 --streams.batch_max=1
kill -STOP "$REDIS_PID"
curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/behind1.txt" "$URL/write" >"$T/behind1.status" &
B1=$!
wait_for 5 threaded 1 1 >/dev/null # parsed on a thread; its 5000 XADDs wait for Redis
curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/behind2.txt" "$URL/write" >"$T/behind2.status" &
B2=$!
sleep 1
kill -CONT "$REDIS_PID"
wait "$B1" "$B2" || true
check "with 5000 commands waiting for Redis, the next large body was parsed on the loop" threaded 1 1
check "... and both bodies were answered 204" test "$(cat "$T/behind1.status" "$T/behind2.status")" = 204204
behind_stored() { python3 "$SRC/tests/tools/samples.py" -- -p "$REDIS_PORT" | python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l)["name"] for l in sys.stdin)
print(dict(c)); sys.exit(0 if c["behind1_v"] == 5000 and c["behind2_v"] == 5000 else 1)'; }
check "... and stored in full" behind_stored
check "engine stops cleanly (Redis behind)" stop_engine

# --- graceful stop: a request waiting for Redis at SIGTERM is answered, then the engine exits --
rcli FLUSHALL >/dev/null
start_engine "$T/tocsin.conf.lua"
kill -STOP "$REDIS_PID"
curl -s -o "$T/grace.body" -w '%{http_code}' --data-binary 'grace,host=a v=1 1764000000000000000' \
    "$URL/write" >"$T/grace.status" &
CURL=$!
sleep 0.5
kill -TERM "$ENGINE_PID"
sleep 0.5
check "during the grace period new connections are refused" bash -c "! curl -s -m 2 -o /dev/null $URL/metrics"
kill -CONT "$REDIS_PID"
wait "$CURL" || true
check "the request waiting for Redis at SIGTERM was answered 204" test "$(cat "$T/grace.status")" = 204
rc=0; wait "$ENGINE_PID" || rc=$?
check "then the engine exited 0" test "$rc" = 0
check "... and the sample is stored" bash -c "python3 '$SRC/tests/tools/samples.py' -- -p $REDIS_PORT | grep -q '\"grace_v\"'"
check "the log says so" grep -q "requests in flight finished" "$T/engine.log"
finish
