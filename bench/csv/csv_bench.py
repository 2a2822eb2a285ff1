#!/usr/bin/python3
"""bench-csv: Tessera against pandas, dask.dataframe and Miller on a generated
10-million-row CSV (id int, key string with 1000 distinct values, three
floats; about 500 MB), with `cat > /dev/null` as the floor. Three jobs per
tool, each a separate process reading the file from the page cache:
  groupby   mean, sum and count of `a` by `key`
  filter    the rows with a > 0.5, written as CSV (to a file)
  min       the minimum of column `b`
Prints seconds (best of RUNS) and Tessera's speed-up over each peer.
Environment: ROWS (default 10000000), RUNS (default 3), JOBS (default nproc),
TESSERA (the binary), CSV (reuse this file instead of generating one),
NO_PANDAS=1, NO_DASK=1, NO_MILLER=1.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESSERA = os.environ.get("TESSERA", os.path.join(ROOT, "tessera"))
ROWS = int(os.environ.get("ROWS", "10000000"))
RUNS = int(os.environ.get("RUNS", "3"))
JOBS = int(os.environ.get("JOBS", str(os.cpu_count())))
PY = "/usr/bin/python3"


def generate(path, rows):
    rnd = random.Random(1)
    keys = [f"key{rnd.randrange(10**6):06d}" for _ in range(1000)]
    with open(path, "w") as f:
        f.write("id,key,a,b,c\n")
        step = 100000
        for s in range(0, rows, step):
            lines = []
            for i in range(s, min(rows, s + step)):
                lines.append(f"{i},{keys[rnd.randrange(1000)]},{rnd.random():.9f},{rnd.gauss(0, 10):.6f},"
                             f"{rnd.uniform(-1e3, 1e3):.4f}\n")
            f.write("".join(lines))


def best(cmd, shell=False, stdout=subprocess.DEVNULL):
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        r = subprocess.run(cmd, shell=shell, stdout=stdout, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            print(f"  failed: {cmd if isinstance(cmd, str) else ' '.join(cmd)}: {r.stderr.decode()[:300]}")
            return None
    return min(times)


PANDAS = {
    "groupby": "import pandas as pd; d=pd.read_csv(P); print(d.groupby('key').a.agg(['mean','sum','count']).shape)",
    "filter": "import pandas as pd; d=pd.read_csv(P); d[d.a > 0.5].to_csv(O, index=False)",
    "min": "import pandas as pd; d=pd.read_csv(P, usecols=['b']); print(d.b.min())",
}
DASK = {
    "groupby": "d=dd.read_csv(P, blocksize=64e6); print(d.groupby('key').a.agg(['mean','sum','count']).compute().shape)",
    "filter": "d=dd.read_csv(P, blocksize=64e6); d[d.a > 0.5].to_csv(O, single_file=True, index=False)",
    "min": "d=dd.read_csv(P, blocksize=64e6, usecols=['b']); print(d.b.min().compute())",
}
TESSERA_EXPR = {
    "groupby": 'df.groupby("key").agg(mean=("a", "mean"), sum=("a", "sum"), count=("a", "count"))',
    "filter": "df[df.a > 0.5]",
    "min": "df.b.min()",
}
MILLER = {
    "groupby": ["--icsv", "--ocsv", "stats1", "-a", "mean,sum,count", "-f", "a", "-g", "key"],
    "filter": ["--csv", "filter", "$a > 0.5"],
    "min": ["--icsv", "--ocsv", "stats1", "-a", "min", "-f", "b"],
}


def main():
    tmp = tempfile.mkdtemp(prefix="bench-csv-")
    try:
        path = os.environ.get("CSV")
        if not path:
            path = os.path.join(tmp, "data.csv")
            t = time.perf_counter()
            generate(path, ROWS)
            print(f"generated {ROWS} rows, {os.path.getsize(path) / 1e6:.0f} MB in {time.perf_counter() - t:.0f} s")
        size = os.path.getsize(path)
        out = os.path.join(tmp, "out.csv")
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL)  # into the page cache
        cat = best(f"cat {path} > /dev/null", shell=True)
        print(f"file: {path}, {size / 1e6:.0f} MB; {JOBS} workers; best of {RUNS}")
        print(f"cat > /dev/null: {cat:.3f} s ({size / cat / 1e9:.1f} GB/s)")
        prelude = f"import sys; import dask; dask.config.set(scheduler='threads', num_workers={JOBS}); import dask.dataframe as dd; P={path!r}; O={out!r}; "
        results = {}
        for job in ("groupby", "filter", "min"):
            row = {}
            tcmd = [TESSERA, "csv", "-q", "-j", str(JOBS), TESSERA_EXPR[job], path]
            if job == "filter":
                tcmd += ["-o", out]
            row["tessera"] = best(tcmd)
            if not os.environ.get("NO_PANDAS"):
                row["pandas"] = best([PY, "-c", f"P={path!r}; O={out!r}; " + PANDAS[job]])
            if not os.environ.get("NO_DASK"):
                row["dask"] = best([PY, "-c", prelude + DASK[job]])
            if not os.environ.get("NO_MILLER") and shutil.which("mlr"):
                row["miller"] = best(["mlr", *MILLER[job], path])
            results[job] = row
            t = row["tessera"]
            line = f"{job:8s} tessera {t:7.3f} s ({size / t / 1e6:5.0f} MB/s)" if t else f"{job:8s} tessera failed"
            for peer in ("pandas", "dask", "miller"):
                p = row.get(peer)
                if p is not None and t:
                    line += f" | {peer} {p:7.3f} s = {p / t:5.1f}x"
            print(line, flush=True)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
