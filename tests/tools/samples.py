#!/usr/bin/env python3
"""Reads every sample stored in a tocsin Redis (all partitions, both entry forms) and prints
them as JSON lines, or their count with --count. Used by tests and the demo.
usage: samples.py [--count] [--prefix tocsin] -- REDIS-CLI-CONNECTION-ARGS (e.g. -p 6390 or -s sock)"""
import json, subprocess, sys

args = sys.argv[1:]
count = "--count" in args
prefix = "tocsin"
if "--prefix" in args:
    prefix = args[args.index("--prefix") + 1]
conn = args[args.index("--") + 1:] if "--" in args else []


def cli(*cmd):
    out = subprocess.run(["redis-cli", *conn, "--json", *cmd], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out) if out.strip() else None


keys = subprocess.run(["redis-cli", *conn, "--scan", "--pattern", prefix + ":samples:{*}"],
                      capture_output=True, text=True, check=True).stdout.split()
out = []
for k in sorted(keys):
    for _id, f in cli("XRANGE", k, "-", "+") or []:
        d = dict(zip(f[0::2], f[1::2]))
        if "samples" in d:
            for line in d["samples"].splitlines():
                sid, name, labels, value, ts, unit = line.split("\t")
                out.append({"sid": sid, "name": name, "labels": json.loads(labels),
                            "value": float(value), "ts": int(ts), "unit": unit, "stream": k})
        else:
            out.append({"sid": d["sid"], "name": d["name"], "labels": json.loads(d.get("labels", "{}")),
                        "value": float(d["value"]), "ts": int(d["ts"]), "unit": d.get("unit", ""),
                        "stream": k})
if count:
    print(len(out))
else:
    out.sort(key=lambda x: (x["ts"], x["name"], json.dumps(x["labels"], sort_keys=True)))
    for x in out:
        print(json.dumps(x, sort_keys=True))
