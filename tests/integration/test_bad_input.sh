#!/usr/bin/env bash
# Bad input gets a clear error and the engine keeps serving: malformed JSON, missing fields,
# a 100 MB body, a slow client, unknown routes, Redis going away, and bad configuration files.
. "$(dirname "$0")/lib.sh"

start_redis
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT", command_timeout_ms = 1000 },
  data_dir = "$T/data",
  http = { read_timeout_ms = 1000 },
  scripts = { rules_dir = "$SRC/rules", runbooks_dir = "$SRC/runbooks", lib_dir = "$SRC/lua" },
}
CONF
start_engine "$T/tocsin.conf.lua"

expect() { # expect STATUS ERRORCODE "description" PATH BODY
    local r; r=$(post "$4" "$5")
    if [ "${r%% *}" = "$1" ] && grep -q "\"error\":\"$2\"" "$T/resp"; then ok "$3 -> $1 $2"
    else not_ok "$3: expected $1 $2, got: $r"; fi
}
expect 400 bad_request "malformed JSON" /api/v1/samples '{"name": "x", "value": '
check "malformed JSON error names line and column" grep -q 'line 1, column' "$T/resp"
expect 400 bad_request "missing value" /api/v1/samples '{"name":"x"}'
check "missing field is named" grep -q "missing field 'value'" "$T/resp"
expect 400 bad_request "missing name" /api/v1/samples '[{"value":1}]'
expect 400 bad_request "wrong type" /api/v1/samples '{"name":"x","value":"1"}'
expect 400 bad_request "unknown field" /api/v1/samples '{"name":"x","value":1,"lables":{}}'
check "unknown field is named" grep -q "lables" "$T/resp"
expect 400 bad_request "not an object" /api/v1/samples '"hello"'
expect 400 bad_request "empty body" /api/v1/samples ''
expect 404 not_found "unknown route" /api/v1/nothing '{}'

r=$(post /api/v1/samples '[{"name":"ok_metric","value":1},{"name":"bad metric","value":2},{"name":"ok_metric","value":3}]')
check "partial batch: good samples accepted, bad one named" \
    bash -c "test '${r%% *}' = 202 && grep -q '\"accepted\":2,\"rejected\":1' $T/resp && grep -q '\"index\":1' $T/resp"
check "the accepted samples are stored" test "$(python3 "$SRC/tests/tools/samples.py" --count -- -p "$REDIS_PORT")" = 2

code=$(curl -s -o "$T/resp" -w '%{http_code}' -X GET "$URL/api/v1/samples")
check "wrong method -> 405" test "$code" = 405

# 100 MB body: refused from its Content-Length, quickly, with 413
start=$(date +%s%N)
code=$(head -c 104857600 /dev/zero | curl -s -o "$T/resp" -w '%{http_code}' \
    -H 'Content-Type: application/json' -H 'Expect:' --data-binary @- "$URL/api/v1/samples" || true)
ms=$((($(date +%s%N) - start) / 1000000))
check "100 MB body -> 413 (got $code in $ms ms)" test "$code" = 413
check "413 body is a JSON error" grep -q '"error":"body_too_large"' "$T/resp"

# slow client: dribbles a header byte every 300 ms; read_timeout_ms is 1000
python3 - "$URL" >"$T/slow.out" <<'PY'
import socket, sys, time
host, port = sys.argv[1].replace("http://", "").split(":")
s = socket.create_connection((host, int(port)))
s.settimeout(5)
t0 = time.time()
data = b""
import select
try:
    for ch in b"POST /api/v1/samples HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n":
        s.send(bytes([ch]))
        if select.select([s], [], [], 0.3)[0]:
            break  # the server answered (or closed)
except OSError:
    pass
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print(data.split(b"\r\n")[0].decode(), round(time.time() - t0, 1))
PY
check "slow client -> 408 and closed ($(cat "$T/slow.out"))" grep -q "408" "$T/slow.out"
check "slow client cut off within 3 s" python3 -c "import sys; sys.exit(0 if float(open('$T/slow.out').read().split()[-1]) < 3 else 1)"

check "engine still serves after all that" bash -c "curl -sf $URL/healthz | grep -q ok"

# Redis goes away: ingest answers 503 + Retry-After, and recovers when Redis is back
kill -STOP "$REDIS_PID"
sleep 0.2
code=$(curl -s -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -m 10 -H 'Content-Type: application/json' \
    --data-binary '{"name":"m","value":1}' "$URL/api/v1/samples")
check "Redis frozen -> 503 (got $code)" test "$code" = 503
check "503 carries Retry-After" grep -qi '^Retry-After: 1' "$T/hdr"
kill -CONT "$REDIS_PID"
check "engine reconnects and accepts again" wait_for 15 bash -c \
    "test \$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{\"name\":\"m\",\"value\":1}' $URL/api/v1/samples) = 202"
check "reconnect is logged" grep -q "reconnect" "$T/engine.log"

check "engine stops cleanly" stop_engine

# bad configuration files: a clear message naming the key, non-zero exit
printf 'return { http = { prot = 1 } }\n' >"$T/bad1.lua"
out=$("$TOCSIN" serve -c "$T/bad1.lua" 2>&1) && rc=0 || rc=$?
check "unknown config key -> exit $rc, names http.prot" bash -c "test $rc -ne 0 && echo \"\$0\" | grep -q \"unknown key 'http.prot'\"" "$out"
printf 'return { http = { port = "eighty" } }\n' >"$T/bad2.lua"
out=$("$TOCSIN" serve -c "$T/bad2.lua" 2>&1) && rc=0 || rc=$?
check "wrong type -> names key and type" bash -c "test $rc -ne 0 && echo \"\$0\" | grep -q \"key 'http.port' must be an integer, got string\"" "$out"
printf 'return {\n  http = { port = 80\n' >"$T/bad3.lua"
out=$("$TOCSIN" serve -c "$T/bad3.lua" 2>&1) && rc=0 || rc=$?
check "syntax error -> file:line" bash -c "test $rc -ne 0 && echo \"\$0\" | grep -q 'bad3.lua:[0-9]*:'" "$out"
out=$("$TOCSIN" serve --http.port=notaport 2>&1) && rc=0 || rc=$?
check "bad command-line value -> names the key" bash -c "test $rc -ne 0 && echo \"\$0\" | grep -q \"http.port\"" "$out"

# tocsin check on scripts
mkdir -p "$T/rules"
printf 'return { name = "x",\n  on_anomaly = function(a) end,\n  windw = 5 }\n' >"$T/rules/typo.lua"
out=$("$TOCSIN" check "$T/rules/typo.lua" 2>&1) && rc=0 || rc=$?
check "check: unknown rule field -> file:line names it" bash -c "test $rc -ne 0 && echo \"\$0\" | grep -q 'typo.lua:3: unknown rule field .windw.'" "$out"
out=$("$TOCSIN" check "$SRC/rules" "$SRC/runbooks" 2>&1) && rc=0 || rc=$?
check "check: shipped rules and runbooks are valid" test "$rc" = 0
finish
