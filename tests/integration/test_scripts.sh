#!/usr/bin/env bash
# The Lua runtime (issue 3): sandbox escapes and limits stopped with the engine healthy after,
# actions (exec, redis.call, emit), concurrent runbooks interleaving, and hot reload under load:
# a rule rewritten 100 times (some versions broken) while anomalies stream in.
. "$(dirname "$0")/lib.sh"

start_redis
start_receiver
mkdir -p "$T/rules" "$T/runbooks"
cp "$SRC"/tests/integration/scripts/runbooks/*.lua "$T/runbooks/"
versioned() { sed "s/@VERSION@/$1/g" "$SRC/tests/integration/scripts/runbooks/versioned.lua.in" >"$T/runbooks/.v.tmp" && mv "$T/runbooks/.v.tmp" "$T/runbooks/versioned.lua"; }
versioned 1
version_rule() { # version_rule N [broken-kind] -> writes rules/counter.lua atomically
    local f="$T/rules/.counter.tmp"
    sed "s/@VERSION@/$1/g" "$SRC/tests/integration/scripts/rules/counter.lua.in" >"$f"
    case "${2:-}" in
    syntax) echo "this is not lua (" >>"$f" ;;
    field) sed -i 's/on_anomaly = /on_anomaly = nil, on_anomly = /' "$f" ;;
    runtime) sed -i 's/^return {/error("boom at load")\nreturn {/' "$f" ;;
    esac
    mv "$f" "$T/rules/counter.lua"
}
version_rule 0
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$T/rules", runbooks_dir = "$T/runbooks", lib_dir = "$SRC/lua",
              memory_limit = 16 * 1024 * 1024, instruction_limit = 1000000,
              exec_allow = { "/bin/echo", "/bin/false", "/bin/sleep" },
              error_webhook = "$RECEIVER_URL" },
  detect = { zscore = { window = 3, min_samples = 3, threshold = 4 } },
}
CONF
start_engine "$T/tocsin.conf.lua"

run() { # run RUNBOOK PARAMS_JSON -> run id
    curl -s -H 'Content-Type: application/json' \
        --data-binary "{\"runbook\":\"$1\",\"params\":$2}" "$URL/api/v1/runs" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["run"])'
}
finished() { # finished RUN -> "status|detail" once the run has finished
    redis-cli -p "$REDIS_PORT" --json XRANGE tocsin:audit - + | python3 -c "
import json, sys
for _id, f in json.load(sys.stdin):
    d = dict(zip(f[0::2], f[1::2]))
    if d['run'] == '$1' and d['event'] == 'run.finished':
        print(d['status'] + '|' + d['detail']); break"
}
wait_finished() { # polls in this shell (finished is a shell function)
    local r=""
    for _ in $(seq 100); do
        r=$(finished "$1")
        [ -n "$r" ] && break
        sleep 0.1
    done
    echo "$r"
}

# --- sandbox escapes and limits: every one fails, with a clear message -----------------------
for how in os_execute io_popen io_open loadfile dofile binary_chunk binary_default_mode \
    string_dump debug package_loadlib require_c require_path coroutine_yield gc_stop \
    runaway string_bomb table_bomb concat_bomb metatable_string; do
    id=$(run escape "{\"how\":\"$how\"}")
    res=$(wait_finished "$id")
    if [[ "$res" == failed* ]] && [[ "$res" != *ESCAPED* ]]; then ok "escape '$how' stopped: $(echo "${res#failed|}" | head -c 110)"
    else not_ok "escape '$how': $res"; fi
done
id=$(run escape '{"how":"runaway"}'); res=$(wait_finished "$id")
check "runaway loop names the instruction limit" bash -c "echo '$res' | grep -q 'instruction limit exceeded'"
id=$(run escape '{"how":"string_bomb"}'); res=$(wait_finished "$id")
check "string.rep bomb names the memory limit" bash -c "echo \"\$0\" | grep -q 'memory limit\|not enough memory'" "$res"
id=$(run escape '{"how":"table_bomb"}'); res=$(wait_finished "$id")
check "table bomb is stopped (memory or instruction limit)" bash -c "echo \"\$0\" | grep -Eq 'memory limit|not enough memory|instruction limit'" "$res"
id=$(run escape '{"how":"os_execute"}'); res=$(wait_finished "$id")
check "a failure carries file:line and a traceback" bash -c "echo \"\$0\" | grep -q 'escape.lua:[0-9]*:' && echo \"\$0\" | grep -q 'stack traceback'" "$res"
check "limits are counted in /metrics" bash -c "curl -s $URL/metrics | grep -Eq '^tocsin_script_instruction_limit_hits_total [1-9]' && curl -s $URL/metrics | grep -Eq '^tocsin_script_memory_limit_hits_total [1-9]'"
check "engine healthy after the escapes" bash -c "curl -sf $URL/healthz | grep -q '\"status\":\"ok\"'"

# --- one script cannot hurt another ------------------------------------------------------------
id=$(run tamper '{}'); wait_finished "$id" >/dev/null
: >"$T/received.jsonl"
id=$(run victim "{\"url\":\"$RECEIVER_URL\"}"); res=$(wait_finished "$id")
check "a vandalized state does not affect another script ($res)" bash -c "[[ '$res' == ok* ]] && grep -q '42' $T/received.jsonl"

# --- actions -------------------------------------------------------------------------------------
: >"$T/received.jsonl"
id=$(run actions "{\"url\":\"$RECEIVER_URL\"}"); res=$(wait_finished "$id")
check "actions runbook finished ok ($res)" bash -c "[[ \"\$0\" == ok* ]]" "$res"
python3 - "$T/received.jsonl" >"$T/actions.out" <<'PY' || true
import json, sys
b = json.loads(json.loads(open(sys.argv[1]).readline())["body"])
checks = {
    "exec captures stdout": b["echo"] == "hello world\n" and b["echo_status"] == 0,
    "exec reports the exit status": b["false_status"] == 1,
    "exec outside the allow-list is denied": b["denied"] == "denied",
    "exec past its timeout is killed": b["timeout"] == "timeout",
    "exec refuses a shell string": "argv must be a list" in b["shell_string"],
    "redis.call round trip": b["get"] == "v1" and b["incr"] == 5,
    "redis error reply comes back as nil, message": "unknown command" in b["redis_error"].lower(),
    "emit.event stored": b["emitted"] is True,
    "emit.sample validates like the API": b["bad_sample"].startswith("invalid:"),
}
for k, v in checks.items():
    print(("ok" if v else "FAIL") + " " + k)
PY
while read -r verdict name; do check "$name" test "$verdict" = ok; done <"$T/actions.out"
check "emitted event is in the events stream" bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:events - + | grep -q payments"
check "audit has the exec steps" bash -c "redis-cli -p $REDIS_PORT --raw XRANGE tocsin:audit - + | grep -q '\"action\":\"exec\".*\"argv0\":\"/bin/echo\"'"

# --- many runbooks at once interleave: 20 runs, later starts sleep less --------------------------
: >"$T/received.jsonl"
start=$(date +%s%N)
python3 - "$URL" "$RECEIVER_URL" <<'PY'
import http.client, json, sys
host, port = sys.argv[1].replace("http://", "").split(":")
c = http.client.HTTPConnection(host, int(port))
for i in range(1, 21):  # later starts sleep less: 4.0 s down to 0.2 s
    body = {"runbook": "concurrent", "params": {"i": i, "delay": (21 - i) * 0.2, "url": sys.argv[2]}}
    c.request("POST", "/api/v1/runs", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 202, r.status
PY
check "20 concurrent runs all reported" wait_for 10 bash -c "test \$(wc -l <$T/received.jsonl) -ge 20"
ms=$((($(date +%s%N) - start) / 1000000))
order=$(python3 -c "
import json
print(' '.join(str(json.loads(json.loads(l)['body'])['i']) for l in open('$T/received.jsonl')))")
check "they finished in sleep order, not start order ($order)" test "$order" = "$(seq 20 -1 1 | tr '\n' ' ' | sed 's/ $//')"
check "in about the longest sleep (4 s), not the sum (42 s): $ms ms" test "$ms" -lt 15000

# --- a run in flight finishes on the code it started with; new runs get the new code ----------
: >"$T/received.jsonl"
old=$(run versioned "{\"url\":\"$RECEIVER_URL\",\"delay\":4.0}")
sleep 0.2
versioned 2
check "the new runbook version becomes active" wait_for 5 grep -q "runbook 'versioned' reloaded" "$T/engine.log"
new=$(run versioned "{\"url\":\"$RECEIVER_URL\",\"delay\":0}")
wait_finished "$old" >/dev/null
got=$(python3 -c "
import json
v = {}
for l in open('$T/received.jsonl'):
    b = json.loads(json.loads(l)['body']); v[b['run']] = b['version']
print(v.get('$old'), v.get('$new'))")
check "the run in flight finished on version 1, the new run used version 2 ($got)" test "$got" = "1 2"

# --- hot reload under load -----------------------------------------------------------------------
# 400 series: 3 quiet samples then a spike each -> exactly 400 anomalies, one rule call each,
# while the rule is rewritten 100 times (every 4th version broken in one of three ways).
python3 - "$URL" "$T/load.out" <<'PY' &
import http.client, json, sys, time
host, port = sys.argv[1].replace("http://", "").split(":")
c = http.client.HTTPConnection(host, int(port))
accepted = 0
t0 = int(time.time()) - 100
for s in range(400):
    body = [{"name": "load_metric", "labels": {"series": str(s)}, "value": v, "timestamp": t0 + k}
            for k, v in enumerate([1, 1, 1, 1000])]
    c.request("POST", "/api/v1/samples", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    accepted += 4 if r.status == 202 else 0
    time.sleep(0.012)
open(sys.argv[2], "w").write(str(accepted))
PY
LOAD=$!
broken_versions=""
for v in $(seq 1 100); do
    case $((v % 12)) in
    4) version_rule "$v" syntax; broken_versions="$broken_versions $v" ;;
    8) version_rule "$v" field; broken_versions="$broken_versions $v" ;;
    0) version_rule "$v" runtime; broken_versions="$broken_versions $v" ;;
    *) version_rule "$v" ;;
    esac
    sleep 0.05
done
version_rule 101
wait $LOAD
check "every sample of the load was accepted (1600)" test "$(cat "$T/load.out")" = 1600
check "all 400 anomalies reached the rule: state kept across 100 reloads" wait_for 15 bash -c "
    redis-cli -p $REDIS_PORT --raw XREVRANGE tocsin:events + - COUNT 1 | grep -q '\"n\":400'"
versions=$(redis-cli -p "$REDIS_PORT" --json XRANGE tocsin:events - + | python3 -c "
import json, sys
vs = set()
for _id, f in json.load(sys.stdin):
    d = dict(zip(f[0::2], f[1::2]))
    if d['type'] == 'counted': vs.add(json.loads(d['data'])['version'])
print(' '.join(map(str, sorted(vs))))")
bad=""
for b in $broken_versions; do [[ " $versions " == *" $b "* ]] && bad="$bad $b"; done
check "no broken version ever ran (versions seen: $(echo "$versions" | wc -w))" test -z "$bad"
check "the final version is active" wait_for 5 bash -c "curl -s $URL/api/scripts | python3 -c '
import json,sys
s=[x for x in json.load(sys.stdin) if x[\"path\"].endswith(\"counter.lua\")][0]
assert s[\"active\"] and s[\"error\"] is None, s
'"
check "reloads and failures were counted" bash -c "curl -s $URL/metrics | grep -Eq '^tocsin_script_loads_total\{result=\"failed\"\} [1-9]'"
check "reload errors reached the error webhook" grep -q 'was not loaded; the previous version stays active' "$T/received.jsonl"
check "a broken reload is logged with file:line" grep -Eq "rule not reloaded: .*counter.lua:[0-9]+:" "$T/engine.log"

# --- explicit reloads ----------------------------------------------------------------------------
version_rule 102 syntax
code=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST "$URL/api/reload")
check "POST /api/reload with a broken file -> 422 naming it" bash -c "test $code = 422 && grep -q 'counter.lua' $T/resp"
version_rule 103
kill -HUP "$ENGINE_PID"
check "SIGHUP reloads" wait_for 5 grep -q "SIGHUP: reloading" "$T/engine.log"
check "engine stops cleanly" stop_engine
finish
