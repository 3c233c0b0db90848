# Shared helpers for the integration tests: a private redis-server, the engine, a receiver.
# Every test runs in its own temporary directory and cleans up after itself.
set -euo pipefail

TOCSIN=${TOCSIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/tocsin}
SRC=${TN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/tocsin-it.XXXXXX)
PIDS=()
FAILS=0
PASSES=0

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ] || [ "$FAILS" -gt 0 ]; then echo "# logs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }
check() { # check "description" command...
    local d=$1; shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
finish() {
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS command...: retries every 100 ms
wait_for() {
    local n=$(($1 * 10)); shift
    for _ in $(seq "$n"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}

start_redis() {
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$T" --logfile "$T/redis.log" --daemonize no &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_for 10 redis-cli -p "$REDIS_PORT" ping || { echo "redis-server did not start"; exit 1; }
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

start_receiver() { # start_receiver [status]
    python3 "$SRC/tests/tools/receiver.py" "$T/receiver.port" "$T/received.jsonl" "${1:-200}" &
    PIDS+=("$!")
    wait_for 10 test -s "$T/receiver.port" || { echo "receiver did not start"; exit 1; }
    RECEIVER_URL="http://127.0.0.1:$(cat "$T/receiver.port")/hook"
    touch "$T/received.jsonl"
}

# start_engine CONFIG_FILE [extra args...]: sets ENGINE_PID and URL
start_engine() {
    local conf=$1; shift
    "$TOCSIN" serve -c "$conf" --http.port=0 "$@" >"$T/engine.log" 2>&1 &
    ENGINE_PID=$!
    PIDS+=("$ENGINE_PID")
    if ! wait_for 20 grep -q "ready: http://" "$T/engine.log"; then
        echo "engine did not become ready:"; cat "$T/engine.log"; exit 1
    fi
    URL=$(grep -o "ready: http://[0-9.:]*" "$T/engine.log" | head -1 | sed 's/ready: //')
}

stop_engine() { # returns the engine's exit status
    kill -TERM "$ENGINE_PID"
    local rc=0
    wait "$ENGINE_PID" || rc=$?
    return $rc
}

# post PATH BODY -> prints "<status> <body>"
post() {
    curl -s -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$2" "$URL$1" || true
    echo -n " "; cat "$T/resp"; echo
}
