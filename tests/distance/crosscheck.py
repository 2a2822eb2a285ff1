#!/usr/bin/python3
"""Cross-checks Tessera's pairwise distances against scipy.spatial.distance.

For every metric and several inputs (float64 with uneven feature chunks,
0/1 matrices for the boolean metrics, int8 genotypes, constant and zero
rows, weights, p, V, VI), Tessera computes pdist (square and condensed) and
cdist into .npy files; scipy computes the same on the same values. Results
must agree to 1e-10 relative (1e-10 absolute near 0), NaN where scipy gives
NaN. Missing values are checked against an independent numpy version of
the rule Tessera documents: a pair uses only the features both rows have.

Tessera follows current scipy (1.17); the scipy here may be older. Where the
two scipy versions disagree on a definition the case is compared with the
current definition, written out below (see SCIPY_NOW).

usage: crosscheck.py TESSERA WORKDIR   (exit 0 when every case agrees)
"""
import os
import subprocess
import sys

import numpy as np
import scipy
import scipy.spatial.distance as ssd

TESSERA, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
rng = np.random.default_rng(7)

REAL = ["braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine", "euclidean",
        "jensenshannon", "minkowski", "seuclidean", "sqeuclidean", "mahalanobis", "hamming"]
BOOL = ["dice", "hamming", "jaccard", "rogerstanimoto", "russellrao", "sokalsneath", "yule"]
WEIGHTED = ["braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine", "euclidean",
            "minkowski", "sqeuclidean", "hamming", "dice", "jaccard", "rogerstanimoto", "russellrao",
            "sokalsneath", "yule"]


def save(name, a):
    path = os.path.join(WORK, name + ".npy")
    np.save(path, a)
    return path


def run_spec(nodes, outputs):
    lines = ["tessera: 1", "nodes:"]
    for k, v in nodes.items():
        lines.append("  %s: '%s'" % (k, v.replace("'", "''")))
    lines.append("outputs:")
    for k in outputs:
        lines.append("  %s: %s" % (k, os.path.join(WORK, k + ".out.npy")))
    spec = os.path.join(WORK, "spec.yaml")
    with open(spec, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run([TESSERA, "run", spec, "-q", "-j", "2", "-m", "64M", "--chunk-size", "256K"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("tessera failed:\n" + r.stderr + "\n" + "\n".join(lines))
    return {k: np.load(os.path.join(WORK, k + ".out.npy")) for k in outputs}


failures = 0
checked = 0


def compare(label, got, want):
    global failures, checked
    checked += 1
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    if got.shape != want.shape:
        failures += 1
        print("FAIL %s: shape %s, scipy %s" % (label, got.shape, want.shape))
        return
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    if (nan_g != nan_w).any():
        failures += 1
        i = np.argwhere(nan_g != nan_w)[0]
        print("FAIL %s: NaN differs at %s: tessera %r, scipy %r" % (label, tuple(i), got[tuple(i)], want[tuple(i)]))
        return
    g, w = got[~nan_g], want[~nan_w]
    with np.errstate(invalid="ignore"):
        err = np.where(g == w, 0.0, np.abs(g - w) / np.maximum(np.abs(w), 1.0))
    err[np.isnan(err)] = np.inf  # an infinity on one side only
    if err.size and err.max() > 1e-10:
        failures += 1
        k = int(np.argmax(err))
        print("FAIL %s: max error %.3g (tessera %r, scipy %r)" % (label, err.max(), g[k], w[k]))


def scipy_now(metric, x, y, **kw):
    """cdist as current scipy's pdist/cdist define it, where older versions differ.

    The boolean metrics read nonzero as true (current scipy's compiled
    metrics do, weighted or not; its unweighted dice multiplies raw values,
    which is the same on 0/1 data, the only data compared here for it)."""
    if metric in BOOL and metric != "hamming":
        xb, yb = x != 0, y != 0
        w = kw.get("w")
        w = np.ones(x.shape[1]) if w is None else np.asarray(w, float)
        out = np.empty((len(x), len(y)))
        with np.errstate(invalid="ignore", divide="ignore"):
            for i in range(len(x)):
                for j in range(len(y)):
                    u, v = xb[i], yb[j]
                    ntt = (w * (u & v)).sum()
                    ntf = (w * (u & ~v)).sum()
                    nft = (w * (~u & v)).sum()
                    nff = (w * (~u & ~v)).sum()
                    n = w.sum()
                    if metric == "dice":
                        out[i, j] = np.float64(ntf + nft) / np.float64(2 * ntt + ntf + nft)
                    elif metric == "jaccard":
                        den = ntt + ntf + nft
                        out[i, j] = (ntf + nft) / den if den else 0.0
                    elif metric == "rogerstanimoto":
                        r = ntf + nft
                        out[i, j] = 2 * r / (n + r)
                    elif metric == "russellrao":
                        out[i, j] = (n - ntt) / n
                    elif metric == "sokalsneath":
                        r = ntf + nft
                        out[i, j] = np.float64(2 * r) / np.float64(2 * r + ntt)
                    elif metric == "yule":
                        half = ntf * nft
                        out[i, j] = 2 * half / (ntt * nff + half + (half == 0))
        return out
    return ssd.cdist(x, y, metric, **kw)


def check_metric(metric, x, y, label, **kw):
    """pdist square + condensed and cdist of one metric, against scipy."""
    xs, ys = save(label + "_x", x), save(label + "_y", y)
    nodes = {"x": 'load("%s", chunks=(%d, %d))' % (xs, max(1, len(x) // 3), max(1, x.shape[1] // 3 + 1)),
             "y": 'load("%s", chunks=(%d, %d))' % (ys, max(1, len(y) // 2), max(1, x.shape[1] // 2 + 1))}
    extra = ""
    for k, v in kw.items():
        if isinstance(v, np.ndarray):
            nodes["p_" + k] = 'load("%s")' % save(label + "_" + k, v)
            extra += ", %s=p_%s" % (k, k)
        else:
            extra += ", %s=%r" % (k, v)
    nodes["sq"] = 'pairwise_distance(x, metric="%s"%s)' % (metric, extra)
    nodes["cd"] = 'pairwise_distance(x, metric="%s", output="condensed"%s)' % (metric, extra)
    nodes["cx"] = 'cdist(x, y, metric="%s"%s)' % (metric, extra)
    got = run_spec(nodes, ["sq", "cd", "cx"])
    want_cx = scipy_now(metric, x, y, **kw)
    want_sq = scipy_now(metric, x, x, **kw)
    np.fill_diagonal(want_sq, 0)
    want_cd = want_sq[np.triu_indices(len(x), 1)]
    if metric == "seuclidean" and "V" not in kw:  # scipy's defaults: pdist from x alone, cdist from x and y
        want_sq = ssd.squareform(ssd.pdist(x, metric))
        want_cd = ssd.pdist(x, metric)
    if metric == "mahalanobis" and "VI" not in kw:
        want_sq = ssd.squareform(ssd.pdist(x, metric))
        want_cd = ssd.pdist(x, metric)
    if metric == "jensenshannon":
        # sqrt turns scipy's own rounding of an exact 0 into 1e-8: compare the divergence
        got = {k: v ** 2 for k, v in got.items()}
        want_sq, want_cd, want_cx = want_sq ** 2, want_cd ** 2, want_cx ** 2
    compare("%s %s square" % (label, metric), got["sq"], want_sq)
    compare("%s %s condensed" % (label, metric), got["cd"], want_cd)
    compare("%s %s cdist" % (label, metric), got["cx"], want_cx)


# Real-valued inputs, an odd number of rows and features, uneven chunks.
x = rng.normal(size=(23, 37))
y = rng.normal(size=(11, 37))
pos_x, pos_y = np.abs(x) + 0.01, np.abs(y) + 0.01
for m in REAL:
    a, b = (pos_x, pos_y) if m in ("jensenshannon",) else (x, y)
    if m == "mahalanobis":
        a, b = x[:, :8], y[:, :8]  # more rows than features, so the covariance inverts
        check_metric(m, a, b, "real")
        check_metric(m, a, b, "real_vi", VI=np.linalg.inv(np.cov(np.vstack([a, b]).T)))
        continue
    check_metric(m, a, b, "real")
check_metric("minkowski", x, y, "p3", p=3.0)
check_metric("minkowski", x, y, "p1", p=1.0)
check_metric("minkowski", x, y, "p_half", p=0.5)
check_metric("minkowski", x, y, "pinf", p=float("inf"))
check_metric("seuclidean", x, y, "v", V=rng.uniform(0.5, 2, size=37))
w = rng.uniform(0, 2, size=37)
w[3] = 0
for m in WEIGHTED:
    a, b = (x, y) if m not in BOOL or m == "hamming" else ((x > 0).astype(float), (y > 0).astype(float))
    check_metric(m, a, b, "w", w=w)
check_metric("minkowski", x, y, "wp3", p=3.0, w=w)

# Offsets: euclidean and correlation must keep their digits.
check_metric("euclidean", x + 1e6, y + 1e6, "offset")
check_metric("correlation", x + 1e6, y + 1e6, "offset")
check_metric("cosine", x * 1e8, y * 1e8, "scale")

# Boolean metrics on 0/1 data, and on data where "nonzero" matters.
bx = (rng.random((19, 41)) < 0.4).astype(float)
by = (rng.random((9, 41)) < 0.4).astype(float)
for m in BOOL:
    check_metric(m, bx, by, "bool")
    check_metric(m, bx * rng.integers(1, 4, size=bx.shape), by * 2, "nonzero")

# Edge cases: zero rows, constant rows, identical rows.
ex = rng.normal(size=(6, 9))
ex[1] = 0
ex[2] = 5
ex[3] = ex[0]
ey = np.vstack([np.zeros(9), np.full(9, 5.0), rng.normal(size=9)])
for m in REAL + BOOL:
    if m in ("mahalanobis", "jensenshannon"):
        continue
    a, b = (ex, ey) if m not in BOOL or m == "hamming" else ((ex > 0).astype(float), (ey > 0).astype(float))
    check_metric(m, a, b, "edge")
jx = np.abs(ex)
jx[1] = np.abs(rng.normal(size=9))
jx[1, ::2] = 0  # zero probabilities: rel_entr's 0 log 0 = 0
jx[3] = jx[0]
check_metric("jensenshannon", jx + 0.0, np.abs(ey) + 0.5, "edge")

# int8 genotypes (0, 1, 2) without missing calls: exactly scipy's values.
g = rng.integers(0, 3, size=(29, 300)).astype(np.int8)
gy = rng.integers(0, 3, size=(7, 300)).astype(np.int8)
for m in ["euclidean", "sqeuclidean", "cityblock", "correlation", "cosine", "hamming", "chebyshev", "braycurtis"]:
    check_metric(m, g, gy, "int8")

# Missing values: NaN in float64, -1 in int8. Each pair uses the features both rows have.
def masked_ref(metric, x, y):
    out = np.empty((len(x), len(y)))
    for i in range(len(x)):
        for j in range(len(y)):
            keep = ~np.isnan(x[i]) & ~np.isnan(y[j])
            u, v = x[i][keep], y[j][keep]
            if metric == "euclidean":
                out[i, j] = np.sqrt(((u - v) ** 2).sum())
            elif metric == "sqeuclidean":
                out[i, j] = ((u - v) ** 2).sum()
            elif metric == "cityblock":
                out[i, j] = np.abs(u - v).sum()
            elif metric == "correlation":
                out[i, j] = ssd.correlation(u, v) if len(u) else np.nan
            elif metric == "hamming":
                out[i, j] = (u != v).mean() if len(u) else np.nan
    return out


mx = rng.normal(size=(17, 60))
mx[rng.random(mx.shape) < 0.2] = np.nan
my = rng.normal(size=(5, 60))
my[rng.random(my.shape) < 0.2] = np.nan
gm = rng.integers(-1, 3, size=(17, 60)).astype(np.int8)  # -1: a missing call
gmy = rng.integers(-1, 3, size=(5, 60)).astype(np.int8)
for m in ["euclidean", "sqeuclidean", "cityblock", "correlation", "hamming"]:
    for lab, a, b in (("nan", mx, my), ("gt", gm, gmy)):
        af = np.where(a < 0, np.nan, a).astype(float) if lab == "gt" else a
        bf = np.where(b < 0, np.nan, b).astype(float) if lab == "gt" else b
        xs, ys = save("m_x", a), save("m_y", b)
        got = run_spec({"x": 'load("%s", chunks=(5, 13))' % xs, "y": 'load("%s", chunks=(3, 21))' % ys,
                        "sq": 'pairwise_distance(x, metric="%s")' % m, "cx": 'cdist(x, y, metric="%s")' % m},
                       ["sq", "cx"])
        want = masked_ref(m, af, af)
        np.fill_diagonal(want, 0)
        compare("missing %s %s square" % (lab, m), got["sq"], want)
        compare("missing %s %s cdist" % (lab, m), got["cx"], masked_ref(m, af, bf))

print("scipy %s: %d comparisons, %d failed" % (scipy.__version__, checked, failures))
sys.exit(1 if failures else 0)
