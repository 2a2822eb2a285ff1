#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench-array, Python side: the computations of Tessera's array graphs
(graphs/pi.yaml, ones.yaml, matmul.yaml, transpose.yaml) with dask.array on
the threaded scheduler, and with plain numpy.

Usage: array_bench.py dask|numpy CASE[,CASE...] RUNS WORKERS

Cases: pi, ones (the four results of ones.yaml together), m, c, rm, rc
(each of the four on its own), matmul,
transpose; numpy also has matmul1 (a @ a computed once, as Tessera does).
Prints one line per case:
    CASE SECONDS SCALE VALUE
SECONDS is the best of RUNS wall times of building the arrays (random numbers
included) and computing the result, in this process; interpreter start-up and
imports are not counted. SCALE is the factor the time must be multiplied by
to stand for the full-size problem (numpy runs pi and ones on 1/10 of the
data; see README.md). VALUE is the result (for the per-row means, their sum;
for "ones", the sum of the four results' values).
A first line "version dask|numpy VERSION" names the library.
"""
import os
import sys
import time

import numpy as np

PI_N = 200_000_000
PI_CHUNK = 2_500_000
ROWS = 200_000
COLS = 4000
MAT = 4000
SMALL = 10  # numpy runs pi and ones on 1/SMALL of the data


# ---------------------------------------------------------------- dask
def dask_cases(workers):
    import dask
    import dask.array as da

    def compute(x):
        return x.compute(scheduler="threads", num_workers=workers)

    def pi():
        xy = da.random.RandomState(42).uniform(0, 1, size=(PI_N, 2), chunks=(PI_CHUNK, 2))
        return float(compute(4 * ((xy ** 2).sum(axis=1) < 1).sum() / PI_N))

    def ones():
        return da.ones((ROWS, COLS), chunks=(1000, 1000))

    def rnd():
        return da.random.RandomState(1).random((ROWS, COLS), chunks=(1000, 1000))

    def mean_rev(big):
        return float(compute((big * big[::-1, ::-1]).mean()))

    def cos_rows(big):
        r = compute((da.cos(big) ** 2).mean(axis=1))  # 200,000 float64: 1.6 MB
        assert r.shape == (ROWS,)
        return float(r.sum())

    def matmul():
        a = da.random.RandomState(0).random((MAT, MAT), chunks=(1000, 1000))
        return float(compute((a @ a + (a @ a).T).sum()))

    def transpose():
        x = da.random.RandomState(3).random((15, 15), chunks=(10, 5))
        return float(compute((x + x.T).sum()))

    def all_ones():  # the whole of ones.yaml: the four results in one compute
        big, r = ones(), rnd()
        m, c, rm, rc = dask.compute(
            (big * big[::-1, ::-1]).mean(), (da.cos(big) ** 2).mean(axis=1),
            (r * r[::-1, ::-1]).mean(), (da.cos(r) ** 2).mean(axis=1),
            scheduler="threads", num_workers=workers)
        return float(m + c.sum() + rm + rc.sum())

    cases = {
        "pi": pi,
        "ones": all_ones,
        "m": lambda: mean_rev(ones()),
        "c": lambda: cos_rows(ones()),
        "rm": lambda: mean_rev(rnd()),
        "rc": lambda: cos_rows(rnd()),
        "matmul": matmul,
        "transpose": transpose,
    }
    # Warm-up off the clock: lazy imports inside dask.array, the thread pool.
    compute(da.ones((10, 10), chunks=(5, 5)).sum())
    return "dask " + dask.__version__, cases


# --------------------------------------------------------------- numpy
def numpy_cases():
    def pi():
        n = PI_N // SMALL
        xy = np.random.RandomState(42).uniform(0, 1, size=(n, 2))
        return float(4 * ((xy ** 2).sum(axis=1) < 1).sum() / n)

    rows = ROWS // SMALL

    def ones():
        return np.ones((rows, COLS))

    def rnd():
        return np.random.RandomState(1).random_sample((rows, COLS))

    def mean_rev(big):
        return float((big * big[::-1, ::-1]).mean())

    def cos_rows(big):
        r = (np.cos(big) ** 2).mean(axis=1)
        return float(r.sum()) * SMALL  # the sum over all 200,000 rows, estimated

    def matmul():
        a = np.random.RandomState(0).random_sample((MAT, MAT))
        return float((a @ a + (a @ a).T).sum())

    def matmul1():
        a = np.random.RandomState(0).random_sample((MAT, MAT))
        b = a @ a
        return float((b + b.T).sum())

    def transpose():
        x = np.random.RandomState(3).random_sample((15, 15))
        return float((x + x.T).sum())

    def all_ones():  # the whole of ones.yaml, each array made once
        big = ones()
        v = mean_rev(big) + cos_rows(big)
        del big
        r = rnd()
        return v + mean_rev(r) + cos_rows(r)

    cases = {
        "pi": pi,
        "ones": all_ones,
        "m": lambda: mean_rev(ones()),
        "c": lambda: cos_rows(ones()),
        "rm": lambda: mean_rev(rnd()),
        "rc": lambda: cos_rows(rnd()),
        "matmul": matmul,
        "matmul1": matmul1,
        "transpose": transpose,
    }
    # Warm-up off the clock: OpenBLAS's threads start on the first call.
    w = np.ones((64, 64))
    w @ w
    return "numpy " + np.__version__, cases


SCALE = {"numpy": {"pi": SMALL, "ones": SMALL, "m": SMALL, "c": SMALL, "rm": SMALL, "rc": SMALL}}


def main():
    lib, names, runs, workers = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
    version, cases = dask_cases(workers) if lib == "dask" else numpy_cases()
    print("version " + version, flush=True)
    for name in names:
        fn = cases[name]
        best = float("inf")
        value = None
        for _ in range(runs):
            t0 = time.perf_counter()
            value = fn()
            best = min(best, time.perf_counter() - t0)
        scale = SCALE.get(lib, {}).get(name, 1)
        print("%s %.6f %d %.10g" % (name, best, scale, value), flush=True)


if __name__ == "__main__":
    main()
