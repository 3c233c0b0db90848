#!/usr/bin/env python3
"""Reload latency: from the write of a rule file to its new version being active, p50 and p99
over N reloads (default 100). The file is written the way editors do (write a temporary file,
rename it over the old one); "active" is observed through GET /api/scripts, polled every 1 ms
on a keep-alive connection, so the figures include up to ~1 ms of polling granularity.
Starts its own redis-server and engine.  usage: bench_reload.py [--tocsin build/tocsin] [-n 100]"""
import argparse, http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--tocsin", default="build/tocsin")
ap.add_argument("-n", type=int, default=100)
a = ap.parse_args()
tmp = tempfile.mkdtemp(prefix="tocsin-bench.")
procs = []
try:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    procs.append(subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly",
                                   "no", "--dir", tmp], stdout=subprocess.DEVNULL))
    time.sleep(0.3)
    rules = os.path.join(tmp, "rules"); os.mkdir(rules)
    rule = os.path.join(rules, "bench.lua")

    def write(v):
        t = rule + ".tmp"
        with open(t, "w") as f:
            f.write('local state = require("tocsin.state")\nreturn { name = "bench", '
                    'description = "version %d", on_anomaly = function(a) state.n = (state.n or 0) + 1 end }\n' % v)
        os.rename(t, rule)
    write(0)
    conf = os.path.join(tmp, "c.lua")
    open(conf, "w").write('return { redis = { url = "redis://127.0.0.1:%d" }, data_dir = "%s", '
                          'scripts = { rules_dir = "%s", runbooks_dir = "%s" } }' % (port, tmp, rules, tmp))
    log = open(os.path.join(tmp, "log"), "w")
    procs.append(subprocess.Popen([a.tocsin, "serve", "-c", conf, "--http.port=0"], stderr=log))
    url = None
    for _ in range(200):
        m = re.search(r"ready: http://([\d.]+):(\d+)", open(os.path.join(tmp, "log")).read())
        if m: url = (m.group(1), int(m.group(2))); break
        time.sleep(0.05)
    c = http.client.HTTPConnection(*url)

    def version():
        c.request("GET", "/api/scripts"); r = c.getresponse()
        for x in json.loads(r.read()):
            if x["path"] == rule: return x["version"]
        return 0
    lat = []
    for i in range(1, a.n + 1):
        v0 = version()
        t0 = time.perf_counter()
        write(i)
        while version() == v0:
            time.sleep(0.001)
            if time.perf_counter() - t0 > 5: sys.exit("reload %d not seen within 5 s" % i)
        lat.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.03)  # let the debounce window close before the next write
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print("reloads: %d; latency from write to active (ms): p50 %.1f  p99 %.1f  max %.1f" % (len(lat), p(0.5), p(0.99), lat[-1]))
    print("includes the 20 ms debounce; target p99 < 100 ms: %s" % ("met" if p(0.99) < 100 else "NOT met"))
finally:
    for pr in procs: pr.terminate()
    for pr in procs: pr.wait()
    shutil.rmtree(tmp, ignore_errors=True)
