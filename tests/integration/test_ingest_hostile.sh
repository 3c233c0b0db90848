#!/usr/bin/env bash
# Hostile peers of the two inputs that are not HTTP routes (issue 4): Influx line protocol over
# TCP (over-long lines, slow and idle clients, too many connections, garbage, a last line without
# newline) and Prometheus scrape targets that hang, drip, fail, send too much or send garbage.
# Each must cost only its own connection or target: the engine stays healthy and every good
# sample sent beside them is stored.
. "$(dirname "$0")/lib.sh"
start_redis

# --- scrape targets, one behaviour per port ------------------------------------------------------
cat >"$T/targets.py" <<'PY'
import socket, sys, threading, time
BODY = b"# TYPE good_metric gauge\ngood_metric{kind=\"ok\"} 42\n"
def serve(mode, port_file):
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0)); srv.listen(64)
    open(port_file, "w").write(str(srv.getsockname()[1]))
    while True:
        c, _ = srv.accept()
        threading.Thread(target=answer, args=(mode, c), daemon=True).start()
def answer(mode, c):
    try:
        c.settimeout(5); c.recv(65536)
        head = lambda n, status=b"200 OK": c.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: " + str(n).encode() + b"\r\nConnection: close\r\n\r\n")
        if mode == "ok": head(len(BODY)); c.sendall(BODY)
        elif mode == "hang": time.sleep(30)
        elif mode == "status500": head(5, b"500 Internal Server Error"); c.sendall(b"oops\n")
        elif mode == "big":
            line = b"big_metric{i=\"%d\"} 1\n"
            body = b"".join(line % i for i in range(20000))
            head(len(body)); c.sendall(body)
        elif mode == "garbage":
            body = bytes(range(256)) * 4
            head(len(body)); c.sendall(body)
        elif mode == "drip":
            head(len(BODY))
            for b in BODY: c.sendall(bytes([b])); time.sleep(0.2)
        elif mode == "truncated":
            head(len(BODY) + 100); c.sendall(BODY)  # promises more than it sends, then closes
    except OSError:
        pass
    finally:
        c.close()
for mode in sys.argv[2:]:
    threading.Thread(target=serve, args=(mode, "%s/%s.port" % (sys.argv[1], mode)), daemon=True).start()
while True: time.sleep(1)
PY
MODES="ok hang status500 big garbage drip truncated"
python3 "$T/targets.py" "$T" $MODES &
PIDS+=("$!")
for m in $MODES; do wait_for 10 test -s "$T/$m.port" || { echo "target $m did not start"; exit 1; }; done
port_of() { cat "$T/$1.port"; }
targets=""
for m in $MODES; do targets="$targets \"http://127.0.0.1:$(port_of "$m")/metrics\","; done

INFLUX_PORT=$(free_port)
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$T/none", runbooks_dir = "$T/none" },
  ingest = { influx_tcp = "127.0.0.1:$INFLUX_PORT", influx_tcp_idle_ms = 1500,
             influx_tcp_max_conns = 20,
             scrape_targets = { $targets }, scrape_interval_ms = 1000, scrape_timeout_ms = 700,
             scrape_max_bytes = 65536 },
}
CONF
start_engine "$T/tocsin.conf.lua"
export SRC REDIS_PORT T

# latest up value of a target: up_of MODE -> prints 0/1 or nothing
up_of() {
    python3 "$SRC/tests/tools/samples.py" -- -p "$REDIS_PORT" | python3 -c "
import json, sys
inst = '127.0.0.1:$(port_of "$1")'
ups = [json.loads(l) for l in sys.stdin]
ups = sorted((r['ts'], r['value']) for r in ups if r['name'] == 'up' and r['labels'].get('instance') == inst)
print(int(ups[-1][1]) if ups else '')"
}
up_is() { test "$(up_of "$1")" = "$2"; }
export -f up_of up_is port_of

check "a good target beside hostile ones is scraped (up=1)" wait_for 15 up_is ok 1
for m in hang status500 big garbage drip truncated; do
    check "scrape target that does '$m' gets up=0" wait_for 15 up_is "$m" 0
done
check "the good target's samples are stored" bash -c \
    "python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT | grep -q '\"good_metric\"'"
check "nothing of the oversized answer is stored" bash -c \
    "! python3 $SRC/tests/tools/samples.py -- -p $REDIS_PORT | grep -q big_metric"
check "the hanging target's failure is logged as a timeout" grep -qi "scrape http://127.0.0.1:$(port_of hang)/metrics failed: .*time" "$T/engine.log"
check "the oversized answer's failure is logged" grep -q "scrape http://127.0.0.1:$(port_of big)/metrics failed" "$T/engine.log"
check "a failing target is logged once, not every interval" \
    test "$(grep -c "scrape http://127.0.0.1:$(port_of status500)/metrics failed" "$T/engine.log")" -le 2
check "scrape failures are counted in /metrics" bash -c \
    "curl -s $URL/metrics | grep -E '^tocsin_scrapes_total\{result=\"failed\"\} [1-9]'"

# --- Influx line protocol over TCP -----------------------------------------------------------------
cat >"$T/influx.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1]); what = sys.argv[2]
def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10); return s
def closed_by_peer(s, wait):
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
if what == "long":
    s = conn()
    s.sendall(b"hostile_ok,case=before_long v=1 1700000000000000000\n")
    time.sleep(0.3)
    try:
        chunk = b"x" * 65536
        for _ in range(5 * 16 + 8):  # > 4 MiB without a newline
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print("closed" if closed_by_peer(s, 5) else "open")
elif what == "slow":
    s = conn()
    for b in b"hostile_ok,case=slow v=2 1700000000000000000\n":
        s.sendall(bytes([b])); time.sleep(0.01)
    s.close(); print("sent")
elif what == "idle":
    s = conn()
    s.sendall(b"hostile_ok,case=idle_partial v=9 1700000000000000000")  # no newline: unfinished
    t0 = time.time()
    print("closed after %.1f s" % (time.time() - t0) if closed_by_peer(s, 8) else "open")
elif what == "garbage":
    s = conn()
    s.sendall(bytes(range(1, 256)) + b"\n\x00\x00 = ,,, \n" + b"hostile_ok,case=after_garbage v=3 1700000000000000000\n")
    time.sleep(0.5); s.close(); print("sent")
elif what == "nonewline":
    s = conn()
    s.sendall(b"hostile_ok,case=no_newline v=4 1700000000000000000")
    s.shutdown(socket.SHUT_WR); time.sleep(0.5); s.close(); print("sent")
elif what == "many":
    import select
    socks = [conn() for _ in range(40)]
    time.sleep(0.5)  # well inside influx_tcp_idle_ms: only the refused ones are closed by now
    readable, _, _ = select.select(socks, [], [], 0.2)
    closed = [s for s in readable if closed_by_peer(s, 0.01)]
    live = [s for s in socks if s not in closed]
    print("refused %d of 40" % len(closed))
    live[0].sendall(b"hostile_ok,case=within_limit v=5 1700000000000000000\n"); time.sleep(0.5)
PY
influx() { python3 "$T/influx.py" "$INFLUX_PORT" "$1"; }
has_case() {
    python3 "$SRC/tests/tools/samples.py" -- -p "$REDIS_PORT" | grep '"hostile_ok' | grep -q "\"case\": \"$1\""
}
export -f has_case
out=$(influx long)
check "a line over 4 MiB closes its connection ($out)" test "$out" = closed
check "the good line sent before it is stored" wait_for 5 has_case before_long
check "the over-long line is logged" grep -q "line longer than" "$T/engine.log"
influx slow >/dev/null
check "a client writing one byte at a time is stored" wait_for 5 has_case slow
influx garbage >/dev/null
check "binary garbage is rejected line by line; the good line after it is stored" wait_for 5 has_case after_garbage
check "the garbage lines are logged as bad lines" grep -q "influx tcp: [0-9]* bad line" "$T/engine.log"
influx nonewline >/dev/null
check "a last line without newline before close is stored" wait_for 5 has_case no_newline
out=$(influx idle)
check "an idle connection is closed after influx_tcp_idle_ms ($out)" bash -c "[[ '$out' == closed* ]]"
check "its unfinished line is logged as dropped, not stored" bash -c \
    "grep -q 'dropped .* unfinished line' $T/engine.log && ! has_case idle_partial"
out=$(influx many)
check "connections beyond influx_tcp_max_conns=20 are closed ($out)" test "$out" = "refused 20 of 40"
check "a connection within the limit still works" wait_for 5 has_case within_limit
check "closed connections are counted by reason" bash -c \
    "m=\$(curl -s $URL/metrics); echo \"\$m\" | grep -q 'tocsin_ingest_tcp_closed_total{reason=\"idle\"} [1-9]' &&
     echo \"\$m\" | grep -q 'tocsin_ingest_tcp_closed_total{reason=\"too_many\"} 20' &&
     echo \"\$m\" | grep -q 'tocsin_ingest_tcp_closed_total{reason=\"line_too_long\"} 1'"
check "the engine is healthy after all of it" bash -c "curl -sf $URL/healthz >/dev/null"
check "the engine stops cleanly" stop_engine
finish
