#!/usr/bin/env bats
# device="gpu" end to end without a GPU: tessera loads the CPU stand-in for
# the CUDA plugin (tests/gpu/emu_plugin.c, built by make as
# build/libtessera-cuda-emu.so) through TESSERA_CUDA_LIB. Everything of the
# GPU path but the CUDA mechanics runs: the GPU map tasks, each tile's job
# fed group by group, the pieces a feed is cut into, both engines' arithmetic
# (dist_gemm.h, and dist_tile.h with TESSERA_CUDA_TILED=1) and the mirror of
# a diagonal tile. Their distances must equal the CPU's to 1e-12 (relative;
# absolute near 0), NaN where the CPU has NaN. tests/gpu/run.sh does the
# same on a real GPU.

load helpers

# use_emu: point tessera at the stand-in, beside the binary under test (build-asan/ too) or in build/
use_emu() {
	EMU=$(dirname "$TESSERA")/libtessera-cuda-emu.so
	[ -e "$EMU" ] || EMU=$(dirname "$TESSERA")/build/libtessera-cuda-emu.so
	[ -e "$EMU" ] || fail "the CUDA stand-in is not built ($EMU): make builds it"
	export TESSERA_CUDA_LIB=$EMU
}

# data NAME EXPR: $TMP/NAME.npy from an array expression
data() {
	printf 'tessera: 1\nnodes:\n  x: %s\noutputs: {x: "%s"}\n' "'$2'" "$TMP/$1.npy" > "$TMP/gen.yaml"
	run -0 "$TESSERA" run "$TMP/gen.yaml" -q
}

# compare DATA ARGS...: pairwise_distance(x, ARGS) on the GPU stand-in (both engines) against the CPU
compare() {
	local d=$1
	shift
	for args in "$@"; do
		for dev in cpu gpu tiled; do
			local device=$dev env=()
			[ $dev = tiled ] && device=gpu env=(TESSERA_CUDA_TILED=1)
			printf 'tessera: 1\nnodes:\n  x: load("%s")\n  w: load("%s")\n  d: %s\noutputs: {d: "%s"}\n' \
				"$TMP/$d.npy" "$TMP/w_$d.npy" "'pairwise_distance(x, $args, device=\"$device\")'" \
				"$TMP/$dev.npy" > "$TMP/d.yaml"
			run -0 env "${env[@]}" "$TESSERA" run "$TMP/d.yaml" -q --chunk-size 256K -j 3 $OPTS
		done
		run -0 /usr/bin/python3 - "$TMP" "$args" <<-'EOF'
		import sys, numpy as np
		t, args = sys.argv[1], sys.argv[2]
		c = np.load(t + "/cpu.npy")
		for eng in ("gpu", "tiled"):
		    g = np.load(t + "/" + eng + ".npy")
		    assert g.shape == c.shape, (eng, args, g.shape, c.shape)
		    assert (np.isnan(g) == np.isnan(c)).all(), (eng, args, "NaN where the CPU has none, or the reverse")
		    m = ~np.isnan(c)
		    err = np.abs(g[m] - c[m]) / np.maximum(np.abs(c[m]), 1.0)
		    assert err.max(initial=0) <= 1e-12, (eng, args, err.max())
		print("ok", args)
		EOF
	done
}

ALL=('metric="braycurtis"' 'metric="canberra"' 'metric="chebyshev"' 'metric="cityblock"'
	'metric="correlation"' 'metric="cosine"' 'metric="dice"' 'metric="euclidean"' 'metric="hamming"'
	'metric="jaccard"' 'metric="jensenshannon"' 'metric="minkowski", p=3' 'metric="minkowski", p=2'
	'metric="rogerstanimoto"' 'metric="russellrao"' 'metric="seuclidean"' 'metric="sokalsneath"'
	'metric="sqeuclidean"' 'metric="yule"' 'metric="euclidean", w=w' 'metric="cosine", w=w'
	'metric="correlation", w=w' 'metric="yule", w=w' 'metric="chebyshev", w=w')

@test "device=gpu through the CUDA stand-in: every metric on float64 with NaN equals the CPU" {
	/usr/bin/python3 -c "import numpy" 2>/dev/null || skip "numpy is not installed"
	use_emu
	# 150 x 700: several row tiles and feature groups at --chunk-size 256K; zeros and missing values;
	# feature 5 constant and feature 7 present in row 0 alone (seuclidean's default V: 0 and undefined)
	data f 'where(arange(700) == 5, 0.5, where((arange(700) == 7) & (arange(150)[:, None] > 0), nan, where(random.random((150, 700), seed=2) < 0.05, nan, where(random.random((150, 700), seed=8) < 0.3, 0.0, random.random((150, 700), seed=1)))))'
	data w_f 'random.uniform(0.5, 2.0, size=(700,), seed=9)'
	compare f "${ALL[@]}"
	# inputs that are not a .npy file (a slice, an expression) are evaluated and packed group by group
	# instead of read straight into the staging buffer
	for dev in cpu gpu; do
		printf 'tessera: 1\nnodes:\n  x: load("%s")\n  d: %s\noutputs: {d: "%s"}\n' "$TMP/f.npy" \
			"'cdist(x[:70], x[70:] + 1, metric=\"correlation\", device=\"$dev\")'" "$TMP/$dev.npy" > "$TMP/c.yaml"
		run -0 "$TESSERA" run "$TMP/c.yaml" -q --chunk-size 256K
	done
	run -0 /usr/bin/python3 -c "
import numpy as np
c, g = np.load('$TMP/cpu.npy'), np.load('$TMP/gpu.npy')
assert c.shape == (70, 80) and np.allclose(g, c, rtol=1e-12, atol=1e-12, equal_nan=True)
print('ok')"
	assert_output ok
	# the stand-in says what it is
	run -0 "$TESSERA" run "$TMP/d.yaml" -v
	assert_output --partial "on the GPU, CPU emulation of the CUDA plugin"
}

@test "device=gpu through the CUDA stand-in: int8 genotypes with missing calls equal the CPU" {
	/usr/bin/python3 -c "import numpy" 2>/dev/null || skip "numpy is not installed"
	use_emu
	data g 'where(random.random((130, 900), seed=4) < 0.05, -1, random.integers(0, 3, size=(130, 900), seed=3)).astype("int8")'
	data w_g 'random.uniform(0.5, 2.0, size=(900,), seed=9)'
	compare g 'metric="euclidean"' 'metric="cityblock"' 'metric="correlation"' 'metric="cosine"' \
		'metric="seuclidean"' 'metric="jaccard"' 'metric="hamming"' 'metric="euclidean", w=w'
	# more features than a piece holds (8192): a job takes several pieces, read at their offsets
	data l 'where(random.random((40, 8500), seed=5) < 0.05, -1, random.integers(0, 3, size=(40, 8500), seed=6)).astype("int8")'
	data w_l 'random.uniform(0.5, 2.0, size=(8500,), seed=9)'
	compare l 'metric="euclidean"' 'metric="correlation"' 'metric="cityblock", w=w'
	data l 'where(random.random((40, 8500), seed=5) < 0.05, nan, random.normal(size=(40, 8500), seed=6))'
	compare l 'metric="euclidean"' 'metric="canberra"'
	# a tight memory limit shrinks the pinned staging, so the pieces are shorter (hundreds of features)
	OPTS="-m 16M" compare l 'metric="correlation"' 'metric="cosine", w=w'
}

@test "device=auto keeps a small problem on the CPU and sends a large one to the GPU, and -v says why" {
	use_emu
	# 2000 x 2000 pairs x 20000 features = 8e10 multiply-adds: a GPU pays off from 4e10 per worker.
	# (d is not an output, so nothing is computed; the device is chosen when the graph is built.)
	printf 'tessera: 1\nnodes:\n  x: ones((2000, 20000))\n  d: pairwise_distance(x)\n  s: x[0, 0]\noutputs: {s: "-"}\n' \
		> "$TMP/a.yaml"
	run -0 "$TESSERA" run "$TMP/a.yaml" -v -j 2
	assert_line --partial "pairwise_distance on the GPU, CPU emulation of the CUDA plugin"
	run -0 "$TESSERA" run "$TMP/a.yaml" -v -j 8
	assert_line --partial 'pairwise_distance on the CPU (device="auto": 2000 x 2000 pairs x 20000 features is too small for a GPU to pay off with 8 workers (under 3.2e+11))'
	# device="gpu" is never second-guessed
	sed -i 's/pairwise_distance(x)/pairwise_distance(x, device="gpu")/' "$TMP/a.yaml"
	run -0 "$TESSERA" run "$TMP/a.yaml" -v -j 8
	assert_line --partial "pairwise_distance on the GPU"
	# the bundled demo is small: the CPU, though a GPU is there
	run -0 "$TESSERA" run graphs/pairwise.yaml -v -o d="$TMP/d.npy"
	assert_line --partial 'pairwise_distance on the CPU (device="auto": 629 x 629 pairs x 381 features is too small'
}
