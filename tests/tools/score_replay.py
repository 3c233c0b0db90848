#!/usr/bin/env python3
"""Scores the incidents `tocsin replay --json` produced against a scenario's ground truth.

usage: score_replay.py TRUTH REPLAY_JSON [--min-compression X] [--min-f1 X] [--min-top1 X]
                       [--min-top3 X] [--json]
       score_replay.py --self-test

TRUTH is the truth.json of tests/tools/scenario.py: {"groups": {alert_id: group_id},
"roots": {group_id: service}, ...}. REPLAY_JSON has one incident object per line; only its
"alerts" (objects with "id") and "rca" (objects with "service", best first) are read, and
incidents without alerts (merged ones) are skipped.

The figures:
  alerts       firing alerts in the truth
  incidents    incidents with at least one alert
  missing      truth alerts in no incident: each counts as an incident of its own (a singleton)
               in everything below
  extra        alert ids in the output that the truth does not know (ignored)
  compression  1 - (incidents + missing) / alerts
  precision, recall, F1 over all pairs of truth alerts: a pair is predicted when both are in
               the same incident, true when both are in the same truth group (no predicted pair:
               precision 1; no true pair: recall 1)
  top-1, top-3 over the truth groups of two alerts or more: the group's incident is the one
               holding most of its alerts (ties: the one first in the output); a hit when the
               group's root is the first (top-1) or among the first three (top-3) services of
               that incident's rca list (no such groups: 1)

Prints one line of figures (or a JSON object with --json, with the pair counts and every
group's verdict). Exit status: 0, or 1 when a --min-* threshold is not met (each one named on
stderr), or 2 when an input is bad (file and line named).
"""
import json
import os
import sys
import tempfile


class BadInput(Exception):
    pass


def load_truth(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise BadInput("%s: %s" % (path, e.strerror))
    try:
        t = json.loads(text)
    except ValueError as e:
        raise BadInput("%s:%d: not JSON: %s" % (path, getattr(e, "lineno", 0), e))
    if not isinstance(t, dict) or not isinstance(t.get("groups"), dict) or \
            not isinstance(t.get("roots"), dict):
        raise BadInput("%s:1: expected an object with \"groups\" and \"roots\" objects" % path)
    for a, g in t["groups"].items():
        if not isinstance(g, str):
            raise BadInput("%s:1: groups[%s] must be a group id (string)" % (path, a))
    sizes = {}
    for g in t["groups"].values():
        sizes[g] = sizes.get(g, 0) + 1
    for g, n in sizes.items():
        if n >= 2 and not isinstance(t["roots"].get(g), str):
            raise BadInput("%s:1: group %s has %d alerts and no root service in \"roots\"" %
                           (path, g, n))
    if not t["groups"]:
        raise BadInput("%s:1: no alerts in \"groups\"" % path)
    return t


def load_replay(path):
    """[(line, incident_id, [alert ids], [rca services])] for incidents with alerts."""
    out = []
    try:
        f = open(path)
    except OSError as e:
        raise BadInput("%s: %s" % (path, e.strerror))
    with f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                inc = json.loads(line)
            except ValueError as e:
                raise BadInput("%s:%d: not JSON: %s" % (path, no, e))
            if not isinstance(inc, dict):
                raise BadInput("%s:%d: expected an incident object" % (path, no))
            alerts = inc.get("alerts", [])
            if not isinstance(alerts, list):
                raise BadInput("%s:%d: \"alerts\" must be an array" % (path, no))
            ids = []
            for k, a in enumerate(alerts):
                if not isinstance(a, dict) or not isinstance(a.get("id"), str):
                    raise BadInput("%s:%d: alerts[%d] must be an object with a string \"id\"" %
                                   (path, no, k))
                ids.append(a["id"])
            rca = inc.get("rca", [])
            if rca is None:
                rca = []
            if not isinstance(rca, list):
                raise BadInput("%s:%d: \"rca\" must be an array" % (path, no))
            services = []
            for k, r in enumerate(rca):
                if not isinstance(r, dict) or not isinstance(r.get("service"), str):
                    raise BadInput("%s:%d: rca[%d] must be an object with a string \"service\"" %
                                   (path, no, k))
                services.append(r["service"])
            if ids:
                out.append((no, str(inc.get("id", "line:%d" % no)), ids, services))
    return out


def pairs(n):
    return n * (n - 1) // 2


def score(truth_groups, roots, incidents, where="output"):
    """truth_groups {alert: group}, roots {group: service}, incidents [(line, id, ids, rca)]."""
    pred, line_of = {}, {}
    extra = 0
    for k, (no, _iid, ids, _rca) in enumerate(incidents):
        for a in ids:
            if a in pred:
                raise BadInput("%s:%d: alert %s is already in the incident on line %d" %
                               (where, no, a, line_of[a]))
            line_of[a] = no
            pred[a] = k
            if a not in truth_groups:
                extra += 1
    missing = [a for a in truth_groups if a not in pred]
    cell, tsize, psize = {}, {}, {}
    for a, g in truth_groups.items():
        p = pred.get(a, ("missing", a))
        cell[(g, p)] = cell.get((g, p), 0) + 1
        tsize[g] = tsize.get(g, 0) + 1
        psize[p] = psize.get(p, 0) + 1
    tp = sum(pairs(n) for n in cell.values())
    true_pairs = sum(pairs(n) for n in tsize.values())
    pred_pairs = sum(pairs(n) for n in psize.values())
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    n_alerts = len(truth_groups)
    n_inc = len(incidents)
    compression = 1 - (n_inc + len(missing)) / n_alerts if n_alerts else 0.0
    verdicts = []
    hits1 = hits3 = 0
    for g in sorted(tsize, key=lambda x: (-tsize[x], x)):
        if tsize[g] < 2:
            continue
        best, best_n = None, 0
        for k in range(len(incidents)):
            n = cell.get((g, k), 0)
            if n > best_n:
                best, best_n = k, n
        root = roots.get(g)
        rca = incidents[best][3] if best is not None else []
        h1 = bool(rca) and rca[0] == root
        h3 = root in rca[:3]
        hits1 += h1
        hits3 += h3
        verdicts.append({"group": g, "root": root, "alerts": tsize[g],
                         "incident": incidents[best][1] if best is not None else None,
                         "held": best_n, "rca": rca[:3], "top1": h1, "top3": h3})
    ng = len(verdicts)
    return {"alerts": n_alerts, "incidents": n_inc, "missing": len(missing), "extra": extra,
            "compression": compression, "tp_pairs": tp, "true_pairs": true_pairs,
            "pred_pairs": pred_pairs, "precision": precision, "recall": recall, "f1": f1,
            "rca_groups": ng, "top1_hits": hits1, "top3_hits": hits3,
            "top1": hits1 / ng if ng else 1.0, "top3": hits3 / ng if ng else 1.0,
            "groups": verdicts, "missing_ids": missing[:20]}


def line(s):
    return ("alerts %d, incidents %d, missing %d, compression %.3f, pairs precision %.3f "
            "recall %.3f F1 %.3f, RCA top-1 %.3f top-3 %.3f (%d groups)" %
            (s["alerts"], s["incidents"], s["missing"], s["compression"], s["precision"],
             s["recall"], s["f1"], s["top1"], s["top3"], s["rca_groups"]))


THRESHOLDS = (("--min-compression", "compression"), ("--min-f1", "f1"), ("--min-top1", "top1"),
              ("--min-top3", "top3"))


def main(argv):
    if "-h" in argv or "--help" in argv:
        print(__doc__.strip())
        return 0
    if argv == ["--self-test"]:
        return self_test()
    files, mins, as_json = [], {}, False
    names = dict(THRESHOLDS)
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--json":
            as_json = True
        elif a.split("=", 1)[0] in names:
            opt, _, val = a.partition("=")
            if not _:
                i += 1
                if i >= len(argv):
                    print("score_replay.py: %s needs a number" % opt, file=sys.stderr)
                    return 2
                val = argv[i]
            try:
                mins[names[opt]] = float(val)
            except ValueError:
                print("score_replay.py: %s needs a number, not %r" % (opt, val), file=sys.stderr)
                return 2
        elif a.startswith("-"):
            print("score_replay.py: unknown option %s (see --help)" % a, file=sys.stderr)
            return 2
        else:
            files.append(a)
        i += 1
    if len(files) != 2:
        print("usage: score_replay.py TRUTH REPLAY_JSON [--min-...] [--json] (see --help)",
              file=sys.stderr)
        return 2
    try:
        t = load_truth(files[0])
        s = score(t["groups"], t["roots"], load_replay(files[1]), files[1])
    except BadInput as e:
        print("score_replay.py: %s" % e, file=sys.stderr)
        return 2
    failed = []
    for opt, key in THRESHOLDS:
        if key in mins and not s[key] >= mins[key]:
            failed.append("%s %.3f is below %s %g" % (key, s[key], opt, mins[key]))
    s["failed"] = failed
    if as_json:
        print(json.dumps(s, sort_keys=True))
    else:
        print(line(s))
    for f in failed:
        print("score_replay.py: %s" % f, file=sys.stderr)
    return 1 if failed else 0


# ---- self-test -------------------------------------------------------------------------------

def self_test():
    fails = []

    def expect(what, cond):
        print("%s - %s" % ("ok" if cond else "not ok", what))
        if not cond:
            fails.append(what)

    def near(x, y):
        return abs(x - y) < 1e-9

    # 10 alerts: group A (6, root db), group B (3, root cache), noise N (1)
    truth = {"a%d" % i: "A" for i in range(6)}
    truth.update({"b%d" % i: "B" for i in range(3)})
    truth["n0"] = "N"
    roots = {"A": "db", "B": "cache", "N": "web"}
    A = ["a%d" % i for i in range(6)]
    B = ["b0", "b1", "b2"]

    def inc(ids, rca=()):
        return (0, "inc", list(ids), list(rca))

    s = score(truth, roots, [inc(A, ["db", "api"]), inc(B, ["cache"]), inc(["n0"])])
    expect("perfect grouping: F1 1", near(s["f1"], 1) and near(s["precision"], 1))
    expect("perfect grouping: compression 1 - 3/10", near(s["compression"], 0.7))
    expect("perfect grouping and RCA: top-1 and top-3 1 over 2 groups",
           s["rca_groups"] == 2 and near(s["top1"], 1) and near(s["top3"], 1))
    expect("pairs counted: 15 + 3 true", s["true_pairs"] == 18 and s["tp_pairs"] == 18)

    s = score(truth, roots, [inc(A + B + ["n0"], ["db", "cache"])])
    expect("everything in one incident: precision 18/45", near(s["precision"], 18 / 45))
    expect("everything in one incident: recall 1, compression 0.9",
           near(s["recall"], 1) and near(s["compression"], 0.9))
    expect("one incident: the cache group's root second: top-1 1/2, top-3 1",
           near(s["top1"], 0.5) and near(s["top3"], 1))

    s = score(truth, roots, [inc([a]) for a in truth])
    expect("all singletons: recall 0, F1 0, precision 1 (no pair predicted), compression 0",
           near(s["recall"], 0) and near(s["f1"], 0) and near(s["precision"], 1)
           and near(s["compression"], 0))
    expect("all singletons without rca: top-1 and top-3 0", s["top1"] == 0 and s["top3"] == 0)

    s = score(truth, roots, [inc(A[:4], ["api", "db"]), inc(A[4:] + B, ["x", "y", "z", "cache"])])
    # A split 4+2 (6+1 of 15 pairs), B whole (3), A's 2 with B: 6 wrong; n0 missing
    expect("split and mixed: tp 10, predicted 6 + 10, true 18",
           s["tp_pairs"] == 10 and s["pred_pairs"] == 16 and s["true_pairs"] == 18)
    expect("missing alert reported and a singleton: compression 1 - 3/10",
           s["missing"] == 1 and near(s["compression"], 0.7))
    expect("RCA: A's incident has db second (top-3 hit, top-1 miss); cache fourth (miss)",
           s["top1_hits"] == 0 and s["top3_hits"] == 1)
    g = {v["group"]: v for v in s["groups"]}
    expect("group verdicts: A held 4 by its incident", g["A"]["held"] == 4 and g["B"]["held"] == 3)

    s = score(truth, roots, [inc(A + ["x1", "x2"], ["db"])])
    expect("unknown ids counted as extra, the rest missing",
           s["extra"] == 2 and s["missing"] == 4)
    try:
        score(truth, roots, [(1, "i1", ["a0"], []), (2, "i2", ["a0"], [])], "f")
        expect("an alert in two incidents is refused", False)
    except BadInput as e:
        expect("an alert in two incidents is refused naming the line", "f:2" in str(e))

    # the command line: files, thresholds, exit status, bad input
    d = tempfile.mkdtemp(prefix="score-replay-")
    tp = os.path.join(d, "truth.json")
    rp = os.path.join(d, "replay.ndjson")
    with open(tp, "w") as f:
        json.dump({"groups": truth, "roots": roots, "family": "test", "seed": 0}, f)
    with open(rp, "w") as f:
        for ids, rca in ((A, ["db"]), (B, ["cache"]), (["n0"], [])):
            f.write(json.dumps({"id": "i", "alerts": [{"id": a} for a in ids],
                                "rca": [{"service": r, "score": 1} for r in rca]}) + "\n")
        f.write(json.dumps({"id": "m", "state": "merged", "alerts": [], "rca": []}) + "\n")
    devnull = open(os.devnull, "w")
    out, err = sys.stdout, sys.stderr
    try:
        sys.stdout = sys.stderr = devnull
        rc_ok = main([tp, rp, "--min-compression", "0.6", "--min-f1=0.9", "--json"])
        rc_low = main([tp, rp, "--min-compression", "0.9"])
        with open(rp, "a") as f:
            f.write("{\"alerts\": [{\"id\": 3}]}\n")
        rc_bad = main([tp, rp])
        rc_nofile = main([tp, os.path.join(d, "none")])
    finally:
        sys.stdout, sys.stderr = out, err
        devnull.close()
    expect("files: thresholds met exit 0", rc_ok == 0)
    expect("files: compression 0.7 below 0.9 exits 1", rc_low == 1)
    expect("files: an alert id that is not a string exits 2", rc_bad == 2)
    expect("files: a missing file exits 2", rc_nofile == 2)
    try:
        load_replay(rp)
        expect("bad line names file and line", False)
    except BadInput as e:
        expect("bad line names file and line (%s)" % e, (rp + ":5:") in str(e))
    for p in (tp, rp):
        os.unlink(p)
    os.rmdir(d)
    print("%d failed" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
