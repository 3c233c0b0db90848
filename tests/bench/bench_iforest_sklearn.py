#!/usr/bin/env python3
"""bench_iforest_sklearn.py - the reference for bench_iforest.c: scikit-learn's IsolationForest
with the same ntrees/psi on the same data, single thread. Prints one line:
    fit_seconds score_seconds auc
Modes:
    raw X.f64 Y.i32 N D NTREES PSI   rows written by bench_iforest.c (float64 row-major, int32 labels)
    skab ROOT NTREES PSI             SKAB files: train on the first 400 rows of each, score the rest
Exits 2 when scikit-learn is not installed."""
import csv
import glob
import os
import sys
import time

try:
    import numpy as np
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score
except ImportError:
    print("scikit-learn not installed", file=sys.stderr)
    sys.exit(2)


def forest(ntrees, psi, seed):
    return IsolationForest(n_estimators=ntrees, max_samples=psi, random_state=seed, n_jobs=1)


def raw(xpath, ypath, n, d, ntrees, psi):
    X = np.fromfile(xpath, dtype=np.float64).reshape(n, d)
    y = np.fromfile(ypath, dtype=np.int32)
    t0 = time.perf_counter()
    f = forest(ntrees, psi, 0).fit(X)
    t1 = time.perf_counter()
    s = -f.score_samples(X)
    t2 = time.perf_counter()
    print("%.6f %.6f %.6f" % (t1 - t0, t2 - t1, roc_auc_score(y, s)))


def skab(root, ntrees, psi):
    files = []
    for sub in ("valve1", "valve2", "other"):
        files += sorted(glob.glob(os.path.join(root, sub, "*.csv")))
    data = []
    for path in files:
        with open(path) as fh:
            rows = list(csv.reader(fh, delimiter=";"))
        if "anomaly" not in rows[0]:
            continue
        a = np.array([[float(v) for v in r[1:10]] for r in rows[1:] if r], dtype=np.float64)
        if len(a) > 400:
            data.append((a[:, :8], a[:, 8] > 0.5))
    fit_t = score_t = 0.0
    ss, ys = [], []
    for i, (X, y) in enumerate(data):
        t0 = time.perf_counter()
        f = forest(ntrees, psi, i).fit(X[:400])
        t1 = time.perf_counter()
        s = -f.score_samples(X[400:])
        t2 = time.perf_counter()
        fit_t += t1 - t0
        score_t += t2 - t1
        ss.append(s)
        ys.append(y[400:])
    print("%.6f %.6f %.6f" % (fit_t, score_t, roc_auc_score(np.concatenate(ys), np.concatenate(ss))))


if __name__ == "__main__":
    if sys.argv[1] == "raw":
        raw(sys.argv[2], sys.argv[3], *map(int, sys.argv[4:8]))
    else:
        skab(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
