#!/usr/bin/env python3
"""Benchmark of the first path: HTTP JSON samples -> tocsin -> Redis stream -> consumer group ->
z-score, measured end to end, beside redis-benchmark's pipelined XADD rate on the same Redis
(the ceiling), printed as a ratio.

usage: bench_first_path.py [--tocsin build/tocsin] [--samples 200000] [--batch 1000] [--series 1000]
Starts its own redis-server on a private port and its own engine; stops both at the end."""
import argparse, http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--tocsin", default="build/tocsin")
ap.add_argument("--samples", type=int, default=200000)
ap.add_argument("--batch", type=int, default=1000)
ap.add_argument("--series", type=int, default=1000)
a = ap.parse_args()

tmp = tempfile.mkdtemp(prefix="tocsin-bench.")
procs = []


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def cleanup():
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except Exception:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)


try:
    port = free_port()
    procs.append(subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", tmp],
                                  stdout=subprocess.DEVNULL))
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG":
            break
        time.sleep(0.05)

    # reference: pipelined XADD straight into Redis
    n_ref = max(a.samples, 100000)
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n_ref), "-P", "64", "-q",
                          "XADD", "benchstream", "*", "name", "http_latency_ms", "labels",
                          '{"service":"s1"}', "value", "101.5", "ts", "1700000000000", "sid",
                          "0123456789abcdef"], capture_output=True, text=True).stdout
    m = re.findall(r"([\d.]+) requests per second", out)
    ref = float(m[-1]) if m else float("nan")
    subprocess.run(["redis-cli", "-p", str(port), "del", "benchstream"], capture_output=True)

    conf = os.path.join(tmp, "tocsin.conf.lua")
    with open(conf, "w") as f:
        f.write('return { redis = { url = "redis://127.0.0.1:%d" }, data_dir = "%s", log_level = "warn",'
                ' streams = { read_batch = 2000 } }\n' % (port, tmp))
    log = open(os.path.join(tmp, "engine.log"), "w")
    eng = subprocess.Popen([a.tocsin, "serve", "-c", conf, "--http.port=0", "--log_level=info"],
                           stderr=log, stdout=log)
    procs.append(eng)
    url = None
    for _ in range(200):
        m = re.search(r"ready: http://([\d.]+):(\d+)", open(os.path.join(tmp, "engine.log")).read())
        if m:
            url = (m.group(1), int(m.group(2)))
            break
        time.sleep(0.05)
    if not url:
        sys.exit("engine did not start:\n" + open(os.path.join(tmp, "engine.log")).read())

    t0 = int(time.time()) - 3600
    bodies = []
    for b in range(a.samples // a.batch):
        items = []
        for i in range(a.batch):
            k = b * a.batch + i
            items.append({"name": "http_latency_ms",
                          "labels": {"service": "s%d" % (k % a.series), "env": "prod"},
                          "value": 100 + (k * 7919) % 13, "timestamp": (t0 + k // a.series) * 1000})
        bodies.append(json.dumps(items).encode())
    total = len(bodies) * a.batch

    conn = http.client.HTTPConnection(*url)
    start = time.time()
    for body in bodies:
        conn.request("POST", "/api/v1/samples", body, {"Content-Type": "application/json"})
        r = conn.getresponse(); r.read()
        if r.status != 202:
            sys.exit("unexpected status %d" % r.status)
    ingest_s = time.time() - start

    def scored():
        c = http.client.HTTPConnection(*url); c.request("GET", "/metrics")
        t = c.getresponse().read().decode()
        m = re.search(r"^tocsin_detect_samples_scored_total (\d+)", t, re.M)
        return int(m.group(1)) if m else 0
    while scored() < total and time.time() - start < 300:
        time.sleep(0.02)
    e2e_s = time.time() - start

    ing = total / ingest_s
    e2e = total / e2e_s
    print("samples: %d in batches of %d over %d series, one keep-alive HTTP client" % (total, a.batch, a.series))
    print("redis-benchmark XADD -P 64 (ceiling): %10.0f entries/s" % ref)
    print("tocsin ingest (202 after XADD ack):  %10.0f samples/s  ratio %.2f of ceiling" % (ing, ing / ref))
    print("tocsin end to end (scored by detect): %10.0f samples/s  ratio %.2f of ceiling" % (e2e, e2e / ref))
finally:
    cleanup()
