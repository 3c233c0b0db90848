#!/usr/bin/env python3
"""Rolling z-score in vectorized numpy: the reference for tests/bench/bench_detect.c.

usage: bench_detect_numpy.py SERIES POINTS WINDOW
Prints "numpy_points_per_s N" (or "numpy_missing"). The data are time-major blocks of series, and
the window sums come from cumulative sums along time (O(1) per point, the fastest numpy form):
the z of x[t] is against the window x[t-W .. t-1], as in src/detect/batch.c.
"""
import sys
import time

try:
    import numpy as np
except ImportError:
    print("numpy_missing")
    sys.exit(0)


def rolling_z(x, w):
    t = x.shape[0]
    c1 = np.zeros((t + 1, x.shape[1]))
    c2 = np.zeros((t + 1, x.shape[1]))
    np.cumsum(x, axis=0, out=c1[1:])
    np.cumsum(x * x, axis=0, out=c2[1:])
    s1 = c1[w:t] - c1[0:t - w]  # sums of x[t-w .. t-1] for t = w .. T-1
    s2 = c2[w:t] - c2[0:t - w]
    mean = s1 / w
    var = (s2 - s1 * mean) / (w - 1)
    sd = np.sqrt(np.maximum(var, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (x[w:] - mean) / sd
    return z


def main():
    series, points, window = (int(a) for a in sys.argv[1:4])
    rng = np.random.default_rng(1)
    block = min(series, 5000)
    x = 100 + rng.standard_normal((points, block))
    rolling_z(x[:, :100], window)  # warm up
    t0 = time.perf_counter()
    done = 0
    check = 0.0
    while done < series:
        n = min(block, series - done)
        z = rolling_z(x[:, :n], window)
        check += float(z[-1, 0])
        done += n
    dt = time.perf_counter() - t0
    print(f"numpy_points_per_s {series * points / dt:.6g}")
    print(f"numpy_check {check:.6g}")


if __name__ == "__main__":
    main()
