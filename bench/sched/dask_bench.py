#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench-sched, Dask side: the "reduce" and "chain" shapes of Tessera's
bench/sched/*.yaml as raw Dask graphs (dicts of tasks), run by Dask's threaded
scheduler, dask.threaded.get.

Usage: dask_bench.py REDUCE_N CHAIN_N RUNS [WORKERS]

Prints one line per shape, in seconds, each the best of RUNS:
    SHAPE TASKS BEST_BUILD_PLUS_GET BEST_GET
BUILD is making the graph dict (the analogue of Tessera's spec expansion);
GET is dask.threaded.get(dsk, key) alone (the scheduler, with its ordering).
Interpreter start-up and `import dask` are not in either number; they are
printed once as "startup SECONDS" (this process's time up to the first run).
"""
import sys
import time

T0 = time.perf_counter()

import dask  # noqa: E402
import dask.threaded  # noqa: E402

try:  # start-up as the OS saw it, if /proc tells us when we were born
    with open("/proc/self/stat") as f:
        _start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    import os

    _hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        _uptime = float(f.read().split()[0])
    STARTUP = max(0.0, _uptime - _start_ticks / _hz)
except Exception:  # pragma: no cover - non-Linux
    STARTUP = time.perf_counter() - T0


# The same work as Tessera's ops: `value: "{i}"` writes "i\n"; reduce (concat)
# joins its inputs' bytes in order.
def value(i):
    return "%d\n" % i


def concat(parts):
    return "".join(parts)


def step(_prev, i):
    return "%d\n" % i


def build_reduce(n):
    dsk = {("v", i): (value, i) for i in range(n)}
    dsk["all"] = (concat, [("v", i) for i in range(n)])
    return dsk, "all"


def build_chain(n):
    dsk = {("step", 0): (value, 0)}
    for i in range(1, n):
        dsk[("step", i)] = (step, ("step", i - 1), i)
    return dsk, ("step", n - 1)


def check_reduce(n, out):
    assert out.count("\n") == n and out.startswith("0\n") and out.endswith("%d\n" % (n - 1)), "bad reduce result"


def check_chain(n, out):
    assert out == "%d\n" % (n - 1), "bad chain result"


def bench(name, build, check, n, tasks, runs, workers):
    best_total = best_get = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        dsk, key = build(n)
        t1 = time.perf_counter()
        out = dask.threaded.get(dsk, key, num_workers=workers)
        t2 = time.perf_counter()
        check(n, out)
        del dsk, out
        best_total = min(best_total, t2 - t0)
        best_get = min(best_get, t2 - t1)
    print("%s %d %.6f %.6f" % (name, tasks, best_total, best_get), flush=True)


def main():
    reduce_n, chain_n, runs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else None
    print("version %s" % dask.__version__)
    print("startup %.6f" % STARTUP, flush=True)
    # Warm-up: pay lazy imports and the thread pool's start once, off the clock.
    dsk, key = build_reduce(1000)
    dask.threaded.get(dsk, key, num_workers=workers)
    bench("reduce", build_reduce, check_reduce, reduce_n, reduce_n + 1, runs, workers)
    # Dask's scheduler recurses along dependencies in places; a deep chain needs room.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * chain_n + 1000))
    bench("chain", build_chain, check_chain, chain_n, chain_n, runs, workers)


if __name__ == "__main__":
    main()
