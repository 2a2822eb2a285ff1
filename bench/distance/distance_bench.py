#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench-distance, Python side: the data, the dgemm rate, scipy's pdist, a
dask.array + numba map-reduce in the style of sgkit's pairwise_distance, and
the check of everyone's values. See README.md; run.sh drives it.

Usage:
  distance_bench.py gen DIR ROWS FEATURES     writes DIR/x_float64.npy (uniform [0, 1),
                                              seed 1) and DIR/x_int8.npy (0/1/2, seed 2)
  distance_bench.py dgemm SIZE RUNS           one line "dgemm THREADS SECONDS GFLOPS":
                                              best of RUNS a @ b on SIZE x SIZE float64
                                              (the threads are OpenBLAS's, set by run.sh
                                              through OPENBLAS_NUM_THREADS before import)
  distance_bench.py scipy DIR CASES RUNS SUB FULL_MAX
  distance_bench.py dask DIR CASES RUNS WORKERS FCHUNK
  distance_bench.py check DIR CASES           Tessera's values against scipy's and Dask's

CASES is a comma-separated list of METRIC:DTYPE (e.g. euclidean:float64).
scipy and dask print one line per case,
    METRIC DTYPE SECONDS ROWS
where SECONDS stands for the whole ROWSxFEATURES problem: for scipy, when the
full problem is projected to take more than FULL_MAX seconds, pdist runs on
the first SUB rows only, and the time is scaled by the ratio of pair counts
(ROWS then says how many rows were really used). A first line "version ..."
names the library. Interpreter start-up, imports and numba's compilation are
not counted; loading the .npy is (Tessera's time includes reading it too).
Results go to DIR/scipy_METRIC_DTYPE.npy and DIR/dask_METRIC_DTYPE.npy
(condensed) for the check.
"""
import os
import sys
import time

import numpy as np


def cases_of(arg):
    return [tuple(c.split(":")) for c in arg.split(",") if c]


def pairs(n):
    return n * (n - 1) // 2


# ------------------------------------------------------------------ data
def gen(d, rows, feats):
    x = np.random.default_rng(1).random((rows, feats))
    np.save(os.path.join(d, "x_float64.npy"), x)
    del x
    g = np.random.default_rng(2).integers(0, 3, size=(rows, feats), dtype=np.int8)
    np.save(os.path.join(d, "x_int8.npy"), g)


# ----------------------------------------------------------------- dgemm
def dgemm(size, runs):
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)), rng.random((size, size))
    a @ b  # off the clock: OpenBLAS starts its threads on the first call
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    print("dgemm %s %.6f %.3f" % (os.environ.get("OPENBLAS_NUM_THREADS", "?"), best,
                                  2.0 * size ** 3 / best / 1e9), flush=True)


# ----------------------------------------------------------------- scipy
def scipy_run(d, cases, runs, sub, full_max):
    import scipy
    import scipy.spatial.distance as ssd

    print("version scipy " + scipy.__version__, flush=True)
    for metric, dtype in cases:
        path = os.path.join(d, "x_%s.npy" % dtype)
        x = np.load(path, mmap_mode="r")
        n = x.shape[0]
        # A probe on a few rows says how long the whole problem would take.
        probe = min(n, 100)
        t0 = time.perf_counter()
        ssd.pdist(np.asarray(x[:probe]), metric)
        projected = (time.perf_counter() - t0) * pairs(n) / pairs(probe)
        rows = n if projected <= full_max else min(n, sub)
        best, out = float("inf"), None
        for _ in range(runs):
            t0 = time.perf_counter()
            out = ssd.pdist(np.load(path, mmap_mode="r")[:rows], metric)
            best = min(best, time.perf_counter() - t0)
        np.save(os.path.join(d, "scipy_%s_%s.npy" % (metric, dtype)), out)
        print("%s %s %.6f %d" % (metric, dtype, best * pairs(n) / pairs(rows), rows), flush=True)


# ----------------------------------------------------- dask.array + numba
# The map: for one chunk of features (all rows x some columns), the partial
# statistics of every pair i < j, in pdist's condensed order, shape
# (1, pairs, P). The reduce sums them over the chunks; the finalize turns
# the sums into distances. Every statistic is a plain sum, so the chunks can
# be added in any order (sgkit's design). sgkit's map is a guvectorize over
# all n x n pairs; these loops do the n (n - 1) / 2 pairs i < j only, half
# its work, so this peer is, if anything, faster than sgkit itself. Like
# sgkit's, the maps are compiled with numba's defaults (no fastmath), so
# each sum is accumulated in order, as scipy does.
def numba_maps():
    from numba import njit

    jit = njit(nogil=True, cache=False)

    @jit
    def euclidean(x):  # sum (a - b)^2
        n, m = x.shape
        out = np.zeros((1, n * (n - 1) // 2, 1))
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                s = 0.0
                for f in range(m):
                    t = np.float64(x[i, f]) - np.float64(x[j, f])
                    s += t * t
                out[0, k, 0] = s
                k += 1
        return out

    @jit
    def cityblock(x):  # sum |a - b|
        n, m = x.shape
        out = np.zeros((1, n * (n - 1) // 2, 1))
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                s = 0.0
                for f in range(m):
                    s += abs(np.float64(x[i, f]) - np.float64(x[j, f]))
                out[0, k, 0] = s
                k += 1
        return out

    @jit
    def correlation(x):  # n, sum a, sum b, sum a^2, sum b^2, sum ab
        n, m = x.shape
        out = np.zeros((1, n * (n - 1) // 2, 6))
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                sa = sb = saa = sbb = sab = 0.0
                for f in range(m):
                    a = np.float64(x[i, f])
                    b = np.float64(x[j, f])
                    sa += a
                    sb += b
                    saa += a * a
                    sbb += b * b
                    sab += a * b
                out[0, k, 0] = m
                out[0, k, 1] = sa
                out[0, k, 2] = sb
                out[0, k, 3] = saa
                out[0, k, 4] = sbb
                out[0, k, 5] = sab
                k += 1
        return out

    @jit
    def cosine(x):  # sum ab, sum a^2, sum b^2
        n, m = x.shape
        out = np.zeros((1, n * (n - 1) // 2, 3))
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                sab = saa = sbb = 0.0
                for f in range(m):
                    a = np.float64(x[i, f])
                    b = np.float64(x[j, f])
                    sab += a * b
                    saa += a * a
                    sbb += b * b
                out[0, k, 0] = sab
                out[0, k, 1] = saa
                out[0, k, 2] = sbb
                k += 1
        return out

    @jit
    def hamming(x):  # features that differ, features
        n, m = x.shape
        out = np.zeros((1, n * (n - 1) // 2, 2))
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                c = 0
                for f in range(m):
                    c += x[i, f] != x[j, f]
                out[0, k, 0] = c
                out[0, k, 1] = m
                k += 1
        return out

    @jit
    def jaccard(x):  # nonzero in one only, nonzero in either (current scipy's rule)
        n, m = x.shape
        out = np.zeros((1, n * (n - 1) // 2, 2))
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                ne = nz = 0
                for f in range(m):
                    a = x[i, f] != 0
                    b = x[j, f] != 0
                    ne += a != b
                    nz += a or b
                out[0, k, 0] = ne
                out[0, k, 1] = nz
                k += 1
        return out

    @jit
    def braycurtis(x):  # sum |a - b|, sum |a + b|
        n, m = x.shape
        out = np.zeros((1, n * (n - 1) // 2, 2))
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                sd = ss = 0.0
                for f in range(m):
                    a = np.float64(x[i, f])
                    b = np.float64(x[j, f])
                    sd += abs(a - b)
                    ss += abs(a + b)
                out[0, k, 0] = sd
                out[0, k, 1] = ss
                k += 1
        return out

    return {"euclidean": euclidean, "cityblock": cityblock, "correlation": correlation,
            "cosine": cosine, "hamming": hamming, "jaccard": jaccard, "braycurtis": braycurtis}


def finalize(metric, s):
    """distances from the summed statistics s (pairs x P)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "euclidean":
            return np.sqrt(s[:, 0])
        if metric == "cityblock":
            return s[:, 0].copy()
        if metric == "correlation":
            n = s[:, 0]
            ma, mb = s[:, 1] / n, s[:, 2] / n
            cov = s[:, 5] / n - ma * mb
            va, vb = s[:, 3] / n - ma * ma, s[:, 4] / n - mb * mb
            return np.maximum(1.0 - cov / np.sqrt(va * vb), 0.0)
        if metric == "cosine":
            return np.maximum(1.0 - s[:, 0] / np.sqrt(s[:, 1] * s[:, 2]), 0.0)
        if metric in ("hamming", "braycurtis"):
            return s[:, 0] / s[:, 1]
        if metric == "jaccard":
            return np.where(s[:, 1] > 0, s[:, 0] / np.where(s[:, 1] > 0, s[:, 1], 1), 0.0)
    raise ValueError(metric)


N_STATS = {"euclidean": 1, "cityblock": 1, "correlation": 6, "cosine": 3, "hamming": 2,
           "jaccard": 2, "braycurtis": 2}


def dask_run(d, cases, runs, workers, fchunk):
    import dask
    import dask.array as da
    import numba

    print("version dask %s numba %s" % (dask.__version__, numba.__version__), flush=True)
    maps = numba_maps()
    # Compile off the clock, once per metric and dtype.
    for metric, dtype in cases:
        maps[metric](np.zeros((3, 4), dtype=dtype))

    def pdist(path, metric):
        x = da.from_array(np.load(path, mmap_mode="r"), chunks=(-1, fchunk))
        n, p, fn = x.shape[0], N_STATS[metric], maps[metric]
        # map: one block of features -> (1, pairs, P); new axes q (pairs) and s (statistic)
        part = da.blockwise(lambda b: fn(np.ascontiguousarray(b)), "kqs", x, "rk",
                            new_axes={"q": pairs(n), "s": p}, adjust_chunks={"k": 1},
                            concatenate=True, dtype=np.float64)
        total = part.sum(axis=0)  # reduce: a tree of sums over the feature blocks
        dist = total.map_blocks(lambda s: finalize(metric, s), drop_axis=1, dtype=np.float64)
        return dist.compute(scheduler="threads", num_workers=workers)

    for metric, dtype in cases:
        path = os.path.join(d, "x_%s.npy" % dtype)
        out_path = os.path.join(d, "dask_%s_%s.npy" % (metric, dtype))
        best = float("inf")
        for _ in range(runs):
            t0 = time.perf_counter()
            np.save(out_path, pdist(path, metric))  # written, as Tessera writes its .npy
            best = min(best, time.perf_counter() - t0)
        print("%s %s %.6f %d" % (metric, dtype, best, np.load(path, mmap_mode="r").shape[0]), flush=True)


# ----------------------------------------------------------------- check
def rel_err(got, want):
    got, want = np.asarray(got, float), np.asarray(want, float)
    if got.shape != want.shape:
        return "shape %s vs %s" % (got.shape, want.shape)
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    if (nan_g != nan_w).any():
        return "NaN differs at %d places" % int((nan_g != nan_w).sum())
    g, w = got[~nan_g], want[~nan_w]
    err = np.abs(g - w) / np.maximum(np.abs(w), 1.0)
    return "%.1e" % (err.max() if err.size else 0.0)


def check(d, cases):
    """Tessera's condensed result against scipy's (on the rows scipy used: the
    pairs i < j < rows are a sub-triangle of the full condensed vector) and
    against Dask's. Prints METRIC DTYPE VS_SCIPY VS_DASK MEAN, tab-separated."""
    for metric, dtype in cases:
        tp = os.path.join(d, "tessera_%s_%s.npy" % (metric, dtype))
        if not os.path.exists(tp):
            print("%s\t%s\t-\t-\t-" % (metric, dtype))
            continue
        t = np.load(tp)
        n = int(round((1 + np.sqrt(1 + 8 * t.size)) / 2))
        vs = []
        for who in ("scipy", "dask"):
            p = os.path.join(d, "%s_%s_%s.npy" % (who, metric, dtype))
            if not os.path.exists(p):
                vs.append("-")
                continue
            o = np.load(p)
            r = int(round((1 + np.sqrt(1 + 8 * o.size)) / 2))
            if r == n:
                vs.append(rel_err(t, o))
            else:
                i, j = np.triu_indices(r, 1)
                vs.append(rel_err(t[n * i - i * (i + 1) // 2 + j - i - 1], o) + " (first %d rows)" % r)
        print("%s\t%s\t%s\t%s\t%.6g" % (metric, dtype, vs[0], vs[1], float(np.mean(t))))


def main():
    mode, a = sys.argv[1], sys.argv[2:]
    if mode == "gen":
        gen(a[0], int(a[1]), int(a[2]))
    elif mode == "dgemm":
        dgemm(int(a[0]), int(a[1]))
    elif mode == "scipy":
        scipy_run(a[0], cases_of(a[1]), int(a[2]), int(a[3]), float(a[4]))
    elif mode == "dask":
        dask_run(a[0], cases_of(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif mode == "check":
        check(a[0], cases_of(a[1]))
    else:
        sys.exit("distance_bench.py: unknown mode '%s'" % mode)


if __name__ == "__main__":
    main()
