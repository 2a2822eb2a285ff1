#!/usr/bin/env python3
"""Independent reference for the ETL example (graphs/etl.yaml, examples/etl/).

Recomputes the pipeline load -> process -> roll -> compare -> best in Python
(standard library only) straight from examples/etl/data/*.dat and
examples/etl/ref.db, without running any of the shell scripts.

The `compare` stage uses pairs picked by Tessera's seeded sampler, which this
script cannot reproduce, so the checks do not depend on which pairs were drawn:

  etl_expected.py                 "best distance: X over N pairs" for ALL window
                                  pairs (i<j), i.e. what best.sh would print if
                                  every pair were compared
  etl_expected.py --min           the global minimum distance alone
  etl_expected.py --all-distances every pair "i j distance", sorted by distance
  etl_expected.py --check VALUE   exit 0 if VALUE is the distance of some pair
                                  of windows (i<j), else exit 1.  VALUE is the
                                  number or the whole line printed by best.sh
                                  ("best distance: X over 200 pairs"); it is
                                  then also >= the global minimum by construction.
  etl_expected.py --pairs FILE    best over the listed pairs only (lines "i j"
                                  or "i,j"; FILE '-' is stdin), in best.sh format
  etl_expected.py --emit STAGE ARGS...
                                  print exactly what one task outputs:
                                  load I | process I | roll J | compare J K

Rounding: the scripts pass values between tasks as text with 6 decimals.  This
script does the same float operations in the same order and rounds through
"%.6f" text at the same places, so its results are bit-identical to the awk
pipeline (IEEE doubles, correctly rounded parse and printf).  Values are still
compared with a tolerance of 1e-6 (TOL) as a margin, never needed in practice:
raw values are integers and scale/offset are multiples of 1/4 and 1/2, so every
calibrated value and per-file sum is exact.
"""
import argparse
import itertools
import re
import signal
import sqlite3
import sys
from pathlib import Path

TOL = 1e-6
SENSOR = re.compile(r"S[0-9][0-9]\Z")
INTEGER = re.compile(r"-?[0-9]+\Z")


def fmt(x):
    return "%.6f" % x


def rounded(x):
    """A value as the next task sees it: printed with %.6f and read back."""
    return float(fmt(x))


class Etl:
    def __init__(self, root, files, size):
        self.data = Path(root) / "examples" / "etl" / "data"
        self.db = Path(root) / "examples" / "etl" / "ref.db"
        self.files = files
        self.size = size
        self.windows = files - size + 1
        self._ref = None
        self._proc = {}
        self._roll = {}

    # ---- load -------------------------------------------------------------
    def load(self, i):
        """Clean (sensor_id, value) records of mydata-i.dat, in file order."""
        text = (self.data / ("mydata-%d.dat" % i)).read_bytes().decode("latin-1")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        out = []
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            fields = line.split(",")
            if len(fields) != 2:
                continue
            sid, val = (f.strip(" \t") for f in fields)
            if SENSOR.match(sid) and INTEGER.match(val):
                out.append((sid, val))
        return out

    # ---- reference ---------------------------------------------------------
    def ref(self):
        if self._ref is None:
            con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
            try:
                rows = con.execute("SELECT sensor_id, scale, offset FROM mytable").fetchall()
            finally:
                con.close()
            self._ref = {sid: (float(scale), float(off)) for sid, scale, off in rows}
        return self._ref

    # ---- process: per-sensor count and mean of value*scale+offset ----------
    def process(self, i):
        if i not in self._proc:
            ref = self.ref()
            sums, counts = {}, {}
            for sid, val in self.load(i):
                if sid not in ref:
                    continue                      # inner join
                scale, off = ref[sid]
                x = int(val) * scale + off
                sums[sid] = sums.get(sid, 0.0) + x
                counts[sid] = counts.get(sid, 0) + 1
            self._proc[i] = [(sid, counts[sid], rounded(sums[sid] / counts[sid]))
                             for sid in sorted(counts)]
        return self._proc[i]

    # ---- roll: count-weighted pooled mean over a window --------------------
    def roll(self, j):
        if j not in self._roll:
            s, n = {}, {}
            for i in range(j, j + self.size):
                for sid, count, mean in self.process(i):
                    s[sid] = s.get(sid, 0.0) + count * mean
                    n[sid] = n.get(sid, 0) + count
            self._roll[j] = [(sid, rounded(s[sid] / n[sid])) for sid in sorted(n) if n[sid] > 0]
        return self._roll[j]

    # ---- compare: L1 distance over common sensors --------------------------
    def compare(self, j, k):
        m1 = dict(self.roll(j))
        dist = 0.0
        for sid, mean in self.roll(k):
            if sid in m1:
                dist += abs(m1[sid] - mean)
        return rounded(dist)

    def all_pairs(self):
        return itertools.combinations(range(self.windows), 2)


def best_line(dists):
    return "best distance: %s over %d pairs" % (fmt(min(dists)), len(dists))


def parse_value(text):
    m = re.search(r"-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?", text)
    if not m:
        sys.exit("etl_expected.py: no number in %r" % text)
    return float(m.group(0))


def read_pairs(path):
    src = sys.stdin if path == "-" else open(path)
    pairs = []
    with src:
        for line in src:
            nums = re.findall(r"[0-9]+", line)
            if len(nums) >= 2:
                pairs.append((int(nums[0]), int(nums[1])))
    return pairs


def main():
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # quiet under | head
    here = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(here), help="repository root (default: %(default)s)")
    ap.add_argument("--files", type=int, default=100, help="number of data files (params.files)")
    ap.add_argument("--size", type=int, default=3, help="window size")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--min", action="store_true", help="print the minimum over all pairs")
    mode.add_argument("--all-distances", action="store_true", help="print all pair distances, sorted")
    mode.add_argument("--check", metavar="VALUE", help="exit 0 iff VALUE is some pair's distance")
    mode.add_argument("--pairs", metavar="FILE", help="best over the listed pairs only")
    mode.add_argument("--emit", nargs="+", metavar="ARG", help="load I | process I | roll J | compare J K")
    a = ap.parse_args()
    etl = Etl(a.root, a.files, a.size)

    if a.emit:
        stage, args = a.emit[0], [int(x) for x in a.emit[1:]]
        if stage == "load":
            for sid, val in etl.load(*args):
                print("%s,%s" % (sid, val))
        elif stage == "process":
            for sid, count, mean in etl.process(*args):
                print("%s,%d,%s" % (sid, count, fmt(mean)))
        elif stage == "roll":
            for sid, mean in etl.roll(*args):
                print("%s,%s" % (sid, fmt(mean)))
        elif stage == "compare":
            print(fmt(etl.compare(*args)))
        else:
            ap.error("unknown stage %r" % stage)
        return 0

    if a.pairs:
        pairs = read_pairs(a.pairs)
        if not pairs:
            print("best distance: none over 0 pairs")
            return 1
        print(best_line([etl.compare(j, k) for j, k in pairs]))
        return 0

    dists = sorted((etl.compare(j, k), j, k) for j, k in etl.all_pairs())
    if a.min:
        print(fmt(dists[0][0]))
    elif a.all_distances:
        for d, j, k in dists:
            print("%d %d %s" % (j, k, fmt(d)))
    elif a.check is not None:
        value = parse_value(a.check)
        hits = [(j, k) for d, j, k in dists if abs(d - value) <= TOL + 1e-12]
        if hits:
            print("ok: %s is the distance of window pair(s) %s; global min %s"
                  % (fmt(value), " ".join("%d-%d" % p for p in hits[:5]), fmt(dists[0][0])))
            return 0
        print("FAIL: %s is not the distance of any window pair (i<j); global min %s"
              % (fmt(value), fmt(dists[0][0])))
        return 1
    else:
        print(best_line([d for d, _, _ in dists]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
