#!/usr/bin/env bash
# The embedded default: no redis.url -> tocsin starts its own redis-server on a unix socket under
# data_dir, uses it, and stops it on exit.
. "$(dirname "$0")/lib.sh"

printf 'return { data_dir = "%s/data", scripts = { rules_dir = "%s/rules", runbooks_dir = "%s/runbooks" } }\n' \
    "$T" "$SRC" "$SRC" >"$T/tocsin.conf.lua"
start_engine "$T/tocsin.conf.lua"
SOCK="$T/data/redis.sock"
check "embedded redis-server start is logged" grep -q "embedded redis-server" "$T/engine.log"
check "its unix socket exists" test -S "$SOCK"
check "it listens on no TCP port" bash -c "! redis-cli -s $SOCK CONFIG GET port | grep -qv -e '^port\$' -e '^0\$'"
r=$(post /api/v1/samples '{"name":"m","value":1}')
check "sample accepted" test "${r%% *}" = 202
check "sample is in the embedded redis" test "$(python3 "$SRC/tests/tools/samples.py" --count -- -s "$SOCK")" = 1
rpid=$(redis-cli -s "$SOCK" INFO server | grep process_id | tr -dc 0-9)
check "engine stops cleanly" stop_engine
check "redis-server child is gone" bash -c "! kill -0 $rpid 2>/dev/null"
check "stop of redis-server is logged" grep -qi "redis-server.*stop" "$T/engine.log"
finish
