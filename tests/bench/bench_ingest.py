#!/usr/bin/env python3
"""End-to-end ingestion: a load client -> tocsin -> Redis, for Influx line protocol and OTLP/HTTP
JSON, beside redis-benchmark's pipelined XADD rate on the same Redis (the ceiling), as ratios.
The load client is curl (one keep-alive process per client, each posting its share of the
pre-built request bodies, every answer's status checked, 429/503 answers sent again), so the
figures measure tocsin rather than a Python HTTP client. Four clients by default: senders keep
several requests in flight (the OpenTelemetry Collector's exporters use 10 consumers), and one
engine parses large bodies on worker threads while it writes others.
Each figure is the median of --runs runs (the range beside it): the machine's 2 cores are
shared by the client, the engine and Redis, so single runs vary. Each one-sample-per-entry run
sits between two ceiling runs (same fields), and its ratio is to their mean; the figure is the
median of those ratios.
Engine configurations: one sample per stream entry (streams.batch_max=1: entries/s is comparable
with the ceiling) and batched entries (the default, 256 samples per entry), each with detection
on (this engine also reads the samples back and scores them) and off (detect.enabled=false: an
ingest-only engine; another engine sharing the Redis scores the samples).
Starts its own redis-server and engines.  usage: bench_ingest.py [--tocsin build/tocsin]
[--samples 1000000] [--batch 10000] [--clients 4] [--runs 7]"""
import argparse, json, os, re, shutil, socket, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--tocsin", default="build/tocsin")
ap.add_argument("--samples", type=int, default=1000000)
ap.add_argument("--batch", type=int, default=10000)
ap.add_argument("--clients", type=int, default=4)
ap.add_argument("--runs", type=int, default=7)
a = ap.parse_args()
tmp = tempfile.mkdtemp(prefix="tocsin-bench.")
procs = []


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid, limit=60):
    """Waits until the process uses under 5% of a core (an engine with detection on goes on
    scoring what it read after a load ends; a ceiling measured meanwhile would share the CPU)."""
    t_end = time.time() + limit
    while time.time() < t_end:
        c0 = cpu_s(pid)
        time.sleep(0.25)
        if cpu_s(pid) - c0 < 0.0125: return


def med(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True).stdout


def influx_bodies(n, batch):
    out = []
    t0 = 1764000000000000000
    for b in range(n // batch):
        lines = []
        for i in range(batch):
            k = b * batch + i
            lines.append("cpu,host=h%d,region=eu usage=%d.5 %d" % (k % 10000, k % 97, t0 + k * 1000000))
        out.append(("/write", "text/plain", "\n".join(lines).encode()))
    return out


def otlp_bodies(n, batch):
    out = []
    for b in range(n // batch):
        pts = [{"asDouble": (b * batch + i) % 97 + 0.5, "timeUnixNano": str(1764000000000000000 + i * 1000000),
                "attributes": [{"key": "host", "value": {"stringValue": "h%d" % ((b * batch + i) % 10000)}}]}
               for i in range(batch)]
        body = {"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}}]},
                                     "scopeMetrics": [{"metrics": [{"name": "cpu.usage", "unit": "1", "gauge": {"dataPoints": pts}}]}]}]}
        out.append(("/v1/metrics", "application/json", json.dumps(body).encode()))
    return out


def run_engine(port, batch_max, detect):
    conf = os.path.join(tmp, "c%d%d.lua" % (batch_max, detect))
    open(conf, "w").write('return { redis = { url = "redis://127.0.0.1:%d" }, data_dir = "%s", log_level = "warn", '
                          'scripts = { rules_dir = "%s/none", runbooks_dir = "%s/none" }, ingest = { redis_fed = false }, '
                          'streams = { batch_max = %d }, detect = { enabled = %s } }'
                          % (port, tmp, tmp, tmp, batch_max, "true" if detect else "false"))
    logp = os.path.join(tmp, "e%d%d.log" % (batch_max, detect))
    p = subprocess.Popen([a.tocsin, "serve", "-c", conf, "--http.port=0", "--log_level=info"],
                         stderr=open(logp, "w"))
    for _ in range(200):
        m = re.search(r"ready: http://([\d.]+):(\d+)", open(logp).read())
        if m: return p, (m.group(1), int(m.group(2)))
        time.sleep(0.05)
    sys.exit("engine did not start: " + open(logp).read())


def body_files(name, bodies):
    files = []
    for k, (path, ct, body) in enumerate(bodies):
        f = os.path.join(tmp, "%s%d" % (name, k))
        open(f, "wb").write(body)
        files.append((path, ct, f))
    return files


def load(url, files):
    """Posts every body once with curl, `a.clients` processes in parallel; returns the seconds."""
    t0 = time.time()
    todo = files
    for attempt in range(20):
        chunks = [todo[i::a.clients] for i in range(a.clients)]
        ps = []
        for ch in chunks:
            if not ch: continue
            cfg = os.path.join(tmp, "curl%d.cfg" % len(ps))
            with open(cfg, "w") as c:
                for n, (path, ct, f) in enumerate(ch):
                    if n: c.write("next\n")
                    c.write('url = "http://%s:%d%s"\nheader = "Content-Type: %s"\ndata-binary = "@%s"\n'
                            'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' % (url[0], url[1], path, ct, f))
            ps.append((subprocess.Popen(["curl", "-sS", "-K", cfg], stdout=subprocess.PIPE, text=True), ch))
        again = []
        for p, ch in ps:
            codes = p.communicate()[0].split()
            if len(codes) != len(ch): sys.exit("curl answered %d of %d requests" % (len(codes), len(ch)))
            for code, item in zip(codes, ch):
                if code in ("200", "202", "204"): continue
                if code in ("429", "503"): again.append(item); continue
                sys.exit("HTTP %s from %s" % (code, item[0]))
        if not again: break
        todo = again
        time.sleep(0.05)
    else:
        sys.exit("still refused after 20 rounds")
    return time.time() - t0


try:
    port = free_port()
    procs.append(subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                                   "--dir", tmp], stdout=subprocess.DEVNULL))
    time.sleep(0.3)
    labels = '{"host":"h1","region":"eu"}'
    plain_cmd = ["XADD", "benchstream", "*", "name", "cpu_usage", "labels", labels, "value", "42.5", "ts",
                 "1764000000000", "sid", "0123456789abcdef"]
    # the entries tocsin writes have these five fields, and a sixth, unit, when the sample has one (the
    # OTLP load does, the line protocol load does not); tocsin trims by age with XTRIM every second
    shape_cmd = plain_cmd + ["unit", "s"]

    def xadd_rate(cmd):
        out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", "500000", "-P", "64", "-q", *cmd],
                             capture_output=True, text=True).stdout
        cli(port, "DEL", "benchstream")
        return float(re.findall(r"([\d.]+) requests per second", out)[-1])

    # The machine's speed drifts by a quarter within seconds (2 shared cores), so each run of
    # tocsin with one sample per entry sits between two redis-benchmark runs on entries with the
    # same fields, and its ratio is to their mean: a ceiling measured minutes earlier compares
    # two different machines.
    print("ceiling: redis-benchmark XADD -P 64, 50 connections, 500,000 entries with the same "
          "fields as tocsin's (5; 6 with a unit), run before and after each one-sample-per-entry run")
    print("%-8s %-10s %-7s %-24s %12s %12s %-18s" % ("input", "entries", "detect", "samples/s (range)",
                                                    "entries/s", "ceiling", "vs ceiling (range)"))
    inputs = [(name, body_files(name, gen(a.samples, a.batch))) for name, gen in
              (("influx", influx_bodies), ("otlp", otlp_bodies))]
    n = (a.samples // a.batch) * a.batch
    for batch_max in (1, 256):
        for detect in (True, False):
            eng, url = run_engine(port, batch_max, detect)
            for name, files in inputs:
                rates, erates, ceilings, ratios = [], [], [], []
                cmd = plain_cmd if name == "influx" else shape_cmd
                for _ in range(a.runs):
                    wait_idle(eng.pid)
                    if batch_max == 1 and not ceilings: ceilings.append(xadd_rate(cmd))
                    cli(port, "FLUSHALL")
                    secs = load(url, files)
                    keys = cli(port, "--scan", "--pattern", "tocsin:samples:{*}").split()
                    entries = sum(int(cli(port, "XLEN", k)) for k in keys)
                    if batch_max == 1 and entries != n:
                        sys.exit("%d samples accepted, %d entries written" % (n, entries))
                    rates.append(n / secs)
                    erates.append(entries / secs)
                    if batch_max == 1:  # against the mean of the ceiling runs before and after it
                        wait_idle(eng.pid)
                        ceilings.append(xadd_rate(cmd))
                        ratios.append(erates[-1] / ((ceilings[-2] + ceilings[-1]) / 2))
                mid, emid = med(rates), med(erates)
                print("%-8s %-10s %-7s %-24s %12.0f %12s %-18s" % (
                    name, "1/sample" if batch_max == 1 else "batched", "on" if detect else "off",
                    "%.0f (%.0f-%.0f)" % (mid, min(rates), max(rates)), emid,
                    "%.0f" % med(ceilings) if ceilings else "-",
                    "%.2f (%.2f-%.2f)" % (med(ratios), min(ratios), max(ratios)) if ratios else "-"),
                    flush=True)
            eng.terminate(); eng.wait()
    print("vs ceiling: the median over the runs of tocsin's entries/s / the mean of the ceiling runs before and after it")
    print("targets: entries/s >= 0.80 of the ceiling (one sample per entry); >= 1,000,000 samples/s batched")
finally:
    for p in procs: p.terminate()
    for p in procs: p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
