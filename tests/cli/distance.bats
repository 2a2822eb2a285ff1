#!/usr/bin/env bats
# Pairwise distances: hand-checked values, scipy's values, the VCF loader,
# the main job, the one-liner, larger than memory, and bad input.

load helpers

scipy_or_skip() {
	/usr/bin/python3 -c "import scipy, numpy" 2>/dev/null || skip "scipy is not installed (apt-get install python3-scipy)"
}

@test "tessera distance: hand-checked euclidean, cityblock and chebyshev, square and condensed" {
	# (0,0) (3,4) (6,8): euclidean 5, 10, 5; cityblock 7, 14, 7; chebyshev 4, 8, 4
	printf '0,0\n3,4\n6,8\n' > "$TMP/p.csv"
	run -0 "$TESSERA" distance "$TMP/p.csv"
	assert_output "$(printf '0.0,5.0,10.0\n5.0,0.0,5.0\n10.0,5.0,0.0')"
	run -0 "$TESSERA" distance --metric cityblock --condensed < "$TMP/p.csv"
	assert_output "$(printf '7.0\n14.0\n7.0')"
	run -0 "$TESSERA" distance --metric cb --condensed < "$TMP/p.csv"   # scipy's alias
	assert_output "$(printf '7.0\n14.0\n7.0')"
	run -0 "$TESSERA" distance --metric chebyshev --condensed -o "$TMP/c.csv" "$TMP/p.csv"
	assert_output --partial "wrote distances to $TMP/c.csv: (3,) float64, min 4, mean 5.33333, max 8"
	run -0 cat "$TMP/c.csv"
	assert_output "$(printf '4.0\n8.0\n4.0')"
	# minkowski p=3 of (0,0) and (3,4): (27 + 64)^(1/3)
	run -0 "$TESSERA" distance --metric minkowski -p 3 --condensed "$TMP/p.csv"
	awk -v v="${lines[0]}" 'BEGIN { d = v - 4.497941445275415; exit !(d < 1e-12 && d > -1e-12) }'
}

@test "tessera distance: a header line is skipped, guessed or told" {
	printf 'x,y\n0,0\n3,4\n' > "$TMP/h.csv"
	run -0 "$TESSERA" distance --condensed < "$TMP/h.csv"
	assert_output "5.0"
	printf '1,1\n4,5\n' > "$TMP/n.csv"
	run -3 "$TESSERA" distance --condensed --header "$TMP/n.csv"
	assert_output --partial "needs at least 2 rows; x has 1"
	run -0 "$TESSERA" distance --condensed --no-header "$TMP/n.csv"
	assert_output "5.0"
	assert_no_spill
}

@test "every metric agrees with scipy (square, condensed, cdist; weights, p, V, VI; int8; missing values)" {
	scipy_or_skip
	run -0 /usr/bin/python3 tests/distance/crosscheck.py "$TESSERA" "$TMP/cc"
	assert_line --regexp '^scipy [0-9.]+: [0-9]+ comparisons, 0 failed$'
}

@test "load_vcf reads the bundled 1000 Genomes file: 629 samples, 381 variants, alt counts and calls" {
	spec v.yaml <<-'EOF'
	tessera: 1
	nodes:
	  gt: load_vcf("examples/data/1kg.vcf.gz", chunks=(-1, 100))
	  calls: load_vcf("examples/data/1kg.vcf.gz", form="calls", chunks=(50, -1, -1))
	  shape: gt.shape[0] * 1000 + gt.shape[1]
	  cshape: calls.shape[0] * 1000000 + calls.shape[1] * 10 + calls.shape[2]
	  a: gt[0, 4] * 100 + gt[1, 7] * 10 + gt[50, 5]
	  m: gt[0, 0]
	  second: (calls[:, :, 1].T == gt - (calls[:, :, 0].T > 0)).all()   # biallelic: alt count = a0 + a1
	  missing: (gt < 0).sum()
	outputs: {shape: "-", cshape: "-", a: "-", m: "-", second: "-", missing: "-"}
	EOF
	run -0 "$TESSERA" run "$TMP/v.yaml" -q
	# HG00098 at 2:10205 is 0|0, HG00100 at 2:10437 is 1|0, HG00239 at 2:10297 is 1|1, HG00098 at 2:10038 is ./.
	assert_output "$(printf '629381\n381006292\n12\n-1\nTrue\n%s' "$(zcat examples/data/1kg.vcf.gz | grep -v '^#' | cut -f10- | tr '\t' '\n' | cut -d: -f1 | grep -c '\.')")"
}

@test "sgkit's recipe works: gt[:, :, 1].T of the calls, as written" {
	spec s.yaml <<-'EOF'
	tessera: 1
	nodes:
	  gt: load_vcf("examples/data/1kg.vcf.gz", form="calls", chunks=(100, -1, -1))
	  x: gt[:, :, 1].T
	  d: pairwise_distance(x, metric="cityblock")
	  n: x.shape[0]
	outputs: {n: "-", d: d.npy}
	EOF
	run -0 "$TESSERA" run "$TMP/s.yaml" -q -o d="$TMP/d.npy"
	assert_output "629"
	[ -s "$TMP/d.npy" ]
}

@test "the main job: graphs/pairwise.yaml on the bundled VCF matches an independent computation" {
	scipy_or_skip
	cd "$TMP"
	run -0 "$TESSERA" run "$ROOT/graphs/pairwise.yaml"
	assert_output --regexp "wrote d to distances.npy: \(629, 629\) float64, min 0, mean [0-9.]+, max [0-9.]+; [0-9.]+ s on the (CPU|GPU)"
	cd "$ROOT"
	run -0 /usr/bin/python3 - "$TMP/distances.npy" <<-'EOF'
	import gzip, sys
	import numpy as np
	rows = []
	for line in gzip.open("examples/data/1kg.vcf.gz", "rt"):
	    if line.startswith("#"):
	        continue
	    calls = [c.split(":")[0].replace("|", "/").split("/") for c in line.rstrip("\n").split("\t")[9:]]
	    rows.append([np.nan if "." in c else sum(a != "0" for a in c) for c in calls])
	g = np.array(rows, dtype=float).T
	d = np.load(sys.argv[1])
	want = np.zeros((len(g), len(g)))
	for i in range(len(g)):
	    both = ~np.isnan(g[i]) & ~np.isnan(g)
	    want[i] = np.sqrt(np.where(both, (g[i] - g) ** 2, 0).sum(axis=1))
	np.fill_diagonal(want, 0)
	err = np.abs(d - want).max()
	print("max error", err)
	sys.exit(0 if err < 1e-12 and (d == d.T).all() else 1)
	EOF
}

@test "an input 4x the memory limit completes, and peak RSS stays under the limit" {
	spec big.yaml <<-'EOF'
	tessera: 1
	nodes:
	  x: random.random((3000, 4000), chunks=(500, 500), seed=3)
	  d: pairwise_distance(x, metric="cityblock", output="condensed")
	  s: d.sum()
	outputs: {s: "-"}
	EOF
	# x is 96 MB; limit 24 MiB; with this machine's workers and with 16 (more workers than the
	# limit holds tiles for: the scheduler must run fewer tasks at once)
	for j in "" 16; do
		run -0 "$TESSERA" run "$TMP/big.yaml" -q -m 24M ${j:+-j $j} --report "$TMP/r.json"
		rss=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['max_rss'])" "$TMP/r.json")
		echo "-j ${j:-default}: max_rss $rss"
		# sanitizers' shadow memory is not ours to count
		[ -n "$TESSERA_SANITIZED" ] || [ "$rss" -lt $((24 * 1024 * 1024)) ]
		# E|U - V| = 1/3 per feature for independent uniforms: the mean distance is near 4000 / 3
		awk -v s="$output" 'BEGIN { m = s / (3000 * 2999 / 2); exit !(m > 1320 && m < 1347) }'
		assert_no_spill
	done
}

@test "bad input: metric, parameters, shapes and rows are located errors (exit 3)" {
	printf '0,0\n3,4\n6,8\n' > "$TMP/p.csv"
	for bad in 'metric="euclidian"|unknown metric '"'"'euclidian'"'"' (did you mean '"'"'euclidean'"'"'?)' \
		   'p=3|metric '"'"'euclidean'"'"' takes no parameter '"'"'p'"'"'' \
		   'metric="minkowski", p=0|p must be greater than 0' \
		   'metric="seuclidean", V=ones(3)|V has shape (3,); it needs one value per feature, (2,)' \
		   'metric="mahalanobis", VI=ones((3, 3))|VI has shape (3,3); it needs (2, 2) for 2 features' \
		   'output="triangle"|output must be one of "square", "condensed"'; do
		args="${bad%%|*}" msg="${bad#*|}"
		printf 'tessera: 1\nnodes:\n  x: load("%s")\n  d: pairwise_distance(x, %s)\noutputs: {d: "-"}\n' "$TMP/p.csv" "$args" > "$TMP/b.yaml"
		run -3 "$TESSERA" run "$TMP/b.yaml"
		assert_output --partial "b.yaml:4:"
		assert_output --partial "$msg"
	done
	printf 'tessera: 1\nnodes:\n  x: load("%s")\n  d: cdist(x, x[:, :1])\noutputs: {d: "-"}\n' "$TMP/p.csv" > "$TMP/c.yaml"
	run -3 "$TESSERA" run "$TMP/c.yaml"
	assert_output --partial "cdist: XA has 2 features (columns) and XB 1; they must match"
	printf 'tessera: 1\nnodes:\n  x: load("%s")\n  d: pairwise_distance(x[:1])\noutputs: {d: "-"}\n' "$TMP/p.csv" > "$TMP/o.yaml"
	run -3 "$TESSERA" run "$TMP/o.yaml"
	assert_output --partial "pairwise_distance needs at least 2 rows; x has 1"
}

@test "device=\"gpu\" without a usable GPU is an error that says why (exit 1), never a silent fallback" {
	[ -z "$TESSERA_CUDA_LIB" ] || skip "a CUDA library is configured"
	if nvidia-smi -L >/dev/null 2>&1 && [ -e "$(dirname "$TESSERA")/libtessera-cuda.so" ]; then
		skip "this machine has a GPU and the plugin"
	fi
	printf '0,0\n3,4\n' > "$TMP/p.csv"
	run -1 "$TESSERA" distance --device gpu "$TMP/p.csv"
	assert_output --regexp '^tessera: device="gpu": (libtessera-cuda.so|no usable CUDA device)'
	TESSERA_CUDA_LIB=/nonexistent/libtessera-cuda.so run -1 "$TESSERA" distance --device gpu "$TMP/p.csv"
	assert_output --partial "TESSERA_CUDA_LIB='/nonexistent/libtessera-cuda.so' does not load"
	run -0 "$TESSERA" distance --device auto -v -q "$TMP/p.csv"
	assert_line --partial "pairwise_distance on the CPU (device=\"auto\": "
}

@test "a malformed VCF names its line; nothing is left behind" {
	spec v.yaml <<-EOF
	tessera: 1
	nodes:
	  gt: load_vcf("$ROOT/tests/data/vcf/bad-gt.vcf")
	  d: pairwise_distance(gt)
	outputs: {d: "$TMP/d.npy"}
	EOF
	run -3 "$TESSERA" run "$TMP/v.yaml"
	assert_output --regexp "v.yaml:3:[0-9]+: .*bad-gt.vcf:10: "
	[ ! -e "$TMP/d.npy" ]
	assert_no_spill
}

@test "jensenshannon: a row of zeros is 0/0 and its distances nan, as scipy's jensenshannon() gives" {
	printf '1,2,3\n0,0,0\n4,0,1\n0,0,0\n' > "$TMP/js.csv"
	run -0 "$TESSERA" distance --metric jensenshannon < "$TMP/js.csv"
	assert_output "$(printf '0.0,nan,0.5114370585943717,nan\nnan,0.0,nan,nan\n0.5114370585943717,nan,0.0,nan\nnan,nan,nan,0.0')"
	/usr/bin/python3 -c "import scipy" 2>/dev/null || return 0
	want=$(/usr/bin/python3 -c "
import warnings; warnings.simplefilter('ignore')
from scipy.spatial.distance import jensenshannon as js
print(repr(js([1, 2, 3], [4, 0, 1])), js([1, 2, 3], [0, 0, 0]))")
	[ "$want" = "0.5114370585943717 nan" ]
}

@test "seuclidean's default V skips missing values; a feature of variance 0 or fewer than 2 values is left out" {
	/usr/bin/python3 -c "import numpy" 2>/dev/null || skip "numpy is not installed"
	# float64 with NaN, and int8 genotypes with -1 for a missing call: V is each feature's variance over
	# the rows that have it (ddof=1); column 1 is constant, column 3 has one value, both weigh nothing
	printf '1,2,3,nan,4\n2,2,nan,nan,0\n5,2,2,7,2\n0,2,1,nan,7\n3,2,0,nan,1\n' > "$TMP/s.csv"
	run -0 "$TESSERA" distance --metric seuclidean --condensed "$TMP/s.csv"
	got=$(echo "$output" | tr '\n' ' ')
	run -0 /usr/bin/python3 - "$got" <<-'PYEOF'
	import sys, numpy as np
	x = np.array([[1, 2, 3, np.nan, 4], [2, 2, np.nan, np.nan, 0], [5, 2, 2, 7, 2], [0, 2, 1, np.nan, 7], [3, 2, 0, np.nan, 1]])
	v = np.nanvar(x, axis=0, ddof=1)
	want = []
	for i in range(5):
	    for j in range(i + 1, 5):
	        m = ~np.isnan(x[i]) & ~np.isnan(x[j]) & (v > 0)
	        want.append(np.sqrt((((x[i] - x[j]) ** 2)[m] / v[m]).sum()))
	got = [float(t) for t in sys.argv[1].split()]
	assert np.allclose(got, want, rtol=1e-13, atol=0), (got, want)
	PYEOF
	# the same values as int8 with -1 for missing (shifted by 1 so that none is negative)
	spec g.yaml <<-EOF
	tessera: 1
	nodes:
	  x: load("$TMP/s.csv")
	  g: 'where(isnan(x), -1, x + 1).astype("int8")'
	  d: pairwise_distance(g, metric="seuclidean", output="condensed")
	outputs: {d: "-"}
	EOF
	run -0 "$TESSERA" run "$TMP/g.yaml" -q
	[ "$(echo "$output" | awk '{ printf "%.12g ", $1 }')" = "$(echo "$got" | awk '{ for (i = 1; i <= NF; i++) printf "%.12g ", $i }')" ]
}

@test "CPU distances do not depend on the number of workers (BLAS called from many threads at once)" {
	# Debian's serial OpenBLAS gave wrong GEMM results with 16 workers on 16 cores; src/util/blas.c
	# loads the pthread build with one BLAS thread. Many workers, even on few cores, must give the bytes of one.
	spec w.yaml <<-EOF
	tessera: 1
	nodes:
	  x: 'where(random.random((300, 2000), seed=2) < 0.05, nan, random.normal(size=(300, 2000), seed=1))'
	  a: pairwise_distance(x, metric="correlation")
	  b: pairwise_distance(x, metric="euclidean")
	  c: pairwise_distance(x[:, :1000], metric="cosine")
	outputs: {a: "$TMP/a.npy", b: "$TMP/b.npy", c: "$TMP/c.npy"}
	EOF
	run -0 "$TESSERA" run "$TMP/w.yaml" -q -j 1 --chunk-size 256K
	for f in a b c; do mv "$TMP/$f.npy" "$TMP/$f.1.npy"; done
	for k in 1 2 3; do
		run -0 "$TESSERA" run "$TMP/w.yaml" -q -j 16 --chunk-size 256K
		for f in a b c; do cmp "$TMP/$f.npy" "$TMP/$f.1.npy"; done
	done
}
