#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/gpu/run.sh: the CUDA plugin against the CPU. For every metric (and
# weighted and p variants) on random data of a few shapes -- float64 with
# missing values (NaN), int8 with missing values (-1), float64 without,
# and a tall matrix for mahalanobis -- ./tessera computes pairwise_distance
# with device="gpu", with device="gpu" and TESSERA_CUDA_TILED=1 (every
# metric through the tiled kernel, so the GEMM engines are checked against
# it too), and with device="cpu". It prints the largest relative error of
# each against the CPU (|gpu - cpu| / max(|cpu|, 1e-3); NaN must match NaN)
# and the run times, then euclidean on 4000 x 20000 float64 in GFLOP/s
# against the card's fp64 peak (a table by name, or $TESSERA_GPU_FP64_TFLOPS).
#
# Exit status: 0 when every error is below $TOL (1e-9), 1 on a mismatch or a
# failed run; 0 with "skipped: no GPU" on a machine without an NVIDIA GPU.
# Environment: TESSERA (default ./tessera), TESSERA_GPU_FP64_TFLOPS, TOL,
# BIG (rows x features of the benchmark, default 4000x20000; "0" skips it),
# ENGINE (rows x features of the engine's rate, one tile on the device; default 12000x20000, "0" skips it).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TESSERA=${TESSERA:-$ROOT/tessera}
TOL=${TOL:-1e-9}
BIG=${BIG:-4000x20000}
ENGINE=${ENGINE:-12000x20000}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
	echo "skipped: no GPU (nvidia-smi finds no NVIDIA GPU)"
	exit 0
fi
LIB=${TESSERA_CUDA_LIB:-$(dirname "$TESSERA")/libtessera-cuda.so}
if [ ! -e "$LIB" ]; then
	echo "skipped: no GPU plugin: $LIB was not built (make needs nvcc, or WITH_CUDA=yes NVCC=...)"
	exit 0
fi
[ -x "$TESSERA" ] || { echo "run.sh: $TESSERA is not built (make)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tessera-gpu.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail=0

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# run_spec FILE [ENV...]: tessera run, quiet; its stderr kept in $TMP/err
run_spec() {
	local spec=$1
	shift
	env "$@" "$TESSERA" run "$spec" -q $RUN_OPTS 2>"$TMP/err" >"$TMP/out"
}
RUN_OPTS=""

# A GPU that tessera can use, and its name as tessera reports it.
printf '0,0\n3,4\n6,8\n' >"$TMP/p.csv"
if ! "$TESSERA" distance --device gpu -v -q "$TMP/p.csv" >"$TMP/out" 2>"$TMP/err"; then
	echo "FAIL: nvidia-smi sees a GPU but tessera cannot use it:"
	cat "$TMP/err"
	exit 1
fi
GPU_NOTE=$(grep -o 'on the GPU, .*' "$TMP/err" | head -1)
echo "tessera: pairwise_distance ${GPU_NOTE:-on the GPU}"
[ "$(tr -d '\n' <"$TMP/out")" = "0.0,5.0,10.05.0,0.0,5.010.0,5.0,0.0" ] || {
	echo "FAIL: the GPU's distances of (0,0) (3,4) (6,8) are wrong:"
	cat "$TMP/out"
	fail=1
}

# make_data NAME SPEC-EXPRESSION: $TMP/NAME.npy
make_data() {
	cat >"$TMP/gen.yaml" <<-EOF
	tessera: 1
	nodes:
	  x: '$2'
	outputs: {x: "$TMP/$1.npy"}
	EOF
	run_spec "$TMP/gen.yaml" || { echo "FAIL: making $1:"; cat "$TMP/err"; exit 1; }
}

# dist DATA METRIC-ARGS DEVICE OUT [ENV...]: the distances into $TMP/OUT.npy; the seconds in $T
dist() {
	local data=$1 args=$2 dev=$3 out=$4
	shift 4
	cat >"$TMP/d.yaml" <<-EOF
	tessera: 1
	nodes:
	  x: load("$TMP/$data.npy")
	  w: load("$TMP/w_$data.npy")
	  d: 'pairwise_distance(x, $args, device="$dev")'
	outputs: {d: "$TMP/$out.npy"}
	EOF
	local t0
	t0=$(now)
	run_spec "$TMP/d.yaml" "$@" || return 1
	T=$(secs "$t0" "$(now)")
}

# maxerr A B: the largest relative error of $TMP/A.npy against $TMP/B.npy (1e300: NaN against a number)
maxerr() {
	cat >"$TMP/e.yaml" <<-EOF
	tessera: 1
	nodes:
	  g: load("$TMP/$1.npy")
	  c: load("$TMP/$2.npy")
	  e: 'where(isnan(g) & isnan(c), 0.0, where(g == c, 0.0, where(isnan(g) | isnan(c), 1e300, abs(g - c) / maximum(abs(c), 1e-3)))).max()'
	outputs: {e: "-"}
	EOF
	run_spec "$TMP/e.yaml" && cat "$TMP/out"
}

# bad ERR: whether ERR (a number as tessera prints it) is missing, NaN or above the tolerance
bad() { awk -v e="$1" -v t="$TOL" 'BEGIN { exit !(e == "" || tolower(e) ~ /nan|inf/ || e + 0 > t + 0) }'; }

METRICS=(
	'metric="braycurtis"' 'metric="canberra"' 'metric="chebyshev"' 'metric="cityblock"'
	'metric="correlation"' 'metric="cosine"' 'metric="dice"' 'metric="euclidean"' 'metric="hamming"'
	'metric="jaccard"' 'metric="jensenshannon"' 'metric="minkowski", p=3' 'metric="minkowski", p=1'
	'metric="minkowski", p=2' 'metric="minkowski", p=0.5' 'metric="rogerstanimoto"' 'metric="russellrao"'
	'metric="seuclidean"' 'metric="sokalsneath"' 'metric="sqeuclidean"' 'metric="yule"'
	'metric="euclidean", w=w' 'metric="cityblock", w=w' 'metric="cosine", w=w' 'metric="correlation", w=w'
	'metric="jaccard", w=w' 'metric="yule", w=w' 'metric="chebyshev", w=w'
)

# check DATA DESCRIPTION METRIC-ARGS...: every metric on one data set
check() {
	local data=$1 what=$2
	shift 2
	echo
	echo "$what"
	printf '  %-34s %12s %12s %8s %8s\n' "metric" "err gpu" "err tiled" "gpu s" "cpu s"
	for args in "$@"; do
		local eg et tg tc
		if ! dist "$data" "$args" cpu c; then
			echo "  FAIL $args on the CPU: $(cat "$TMP/err")"
			fail=1
			continue
		fi
		tc=$T
		if ! dist "$data" "$args" gpu g; then
			echo "  FAIL $args on the GPU: $(cat "$TMP/err")"
			fail=1
			continue
		fi
		tg=$T
		eg=$(maxerr g c)
		et=-
		if dist "$data" "$args" gpu t TESSERA_CUDA_TILED=1; then
			et=$(maxerr t c)
		else
			echo "  FAIL $args on the GPU's tiled kernel: $(cat "$TMP/err")"
			fail=1
		fi
		local mark=""
		if bad "$eg" || { [ "$et" != - ] && bad "$et"; }; then
			mark="  <-- MISMATCH (tolerance $TOL)"
			fail=1
		fi
		printf '  %-34s %12s %12s %8s %8s%s\n' "$args" "$eg" "$et" "$tg" "$tc" "$mark"
	done
}

# weights for every data set: 0.5 .. 2
weights() {
	make_data "w_$1" "random.uniform(0.5, 2.0, size=($2,), seed=9)"
}

make_data f64m 'where(random.random((333, 1001), seed=2) < 0.05, nan, where(random.random((333, 1001), seed=8) < 0.3, 0.0, random.random((333, 1001), seed=1)))'
weights f64m 1001
make_data i8m 'where(random.random((401, 2500), seed=4) < 0.05, -1, random.integers(0, 3, size=(401, 2500), seed=3)).astype("int8")'
weights i8m 2500
make_data f64 'random.normal(size=(600, 4000), seed=5)'
weights f64 4000
make_data tall 'random.normal(size=(700, 60), seed=6)'
weights tall 60

# small chunks: several tiles and feature groups, so jobs meet diagonal and off-diagonal tiles and several feeds
RUN_OPTS="--chunk-size 1M"
check f64m "float64 333 x 1001 (30% zeros), 5% missing (NaN)" "${METRICS[@]}"
check i8m "int8 401 x 2500 (0..2), 5% missing (-1)" "${METRICS[@]}"
check f64 "float64 600 x 4000 (normal), no missing values" "${METRICS[@]}"
check tall "float64 700 x 60 (normal)" 'metric="mahalanobis"' 'metric="seuclidean"' 'metric="euclidean"' \
	'metric="correlation"'
RUN_OPTS=""

# The card's name and fp64 peak in TFLOP/s (tensor cores where it has them; empty when unknown).
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
peak=${TESSERA_GPU_FP64_TFLOPS:-}
if [ -z "$peak" ]; then
	case "$name" in
	*H200* | *GH200* | *"H100 80GB HBM3"* | *H100*SXM*) peak=67 ;;
	*H100*NVL*) peak=60 ;;
	*H100*) peak=51 ;; # PCIe
	*A100*) peak=19.5 ;;
	*B200* | *B100*) peak=40 ;;
	*V100*) peak=7.8 ;;
	esac
fi

# The benchmark: euclidean on BIG (rows x features) float64.
if [ "$BIG" != 0 ]; then
	n=${BIG%x*} f=${BIG#*x}
	echo
	echo "euclidean on float64 $n x $f (GFLOP/s counts n^2 f: the multiply-adds of the n(n+1)/2 pairs)"
	make_data big "random.random(($n, $f), seed=7)"
	weights big "$f"
	# the second GPU run is timed: the first starts the device and fills the plugin's pool
	if ! dist big 'metric="euclidean"' gpu g || ! dist big 'metric="euclidean"' gpu g; then
		echo "FAIL: euclidean on the GPU: $(cat "$TMP/err")"
		exit 1
	fi
	tg=$T
	if ! dist big 'metric="euclidean"' cpu c; then
		echo "FAIL: euclidean on the CPU: $(cat "$TMP/err")"
		exit 1
	fi
	tc=$T
	eg=$(maxerr g c)
	awk -v n="$n" -v f="$f" -v tg="$tg" -v tc="$tc" -v peak="$peak" -v name="$name" -v e="$eg" 'BEGIN {
		gf = n * n * f / tg / 1e9
		printf "  GPU %.2f s: %.0f GFLOP/s", tg, gf
		if (peak != "")
			printf " = %.1f%% of %s fp64 peak (%s TFLOP/s)", 100 * gf / (peak * 1000), name, peak
		else
			printf " (%s: fp64 peak unknown; set TESSERA_GPU_FP64_TFLOPS)", name
		printf "\n  CPU %.2f s: %.0f GFLOP/s; GPU / CPU speed %.1fx; max rel err %s\n", tc, n * n * f / tc / 1e9, tc / tg, e
	}'
	echo "  (times are whole tessera runs: reading the .npy, staging the tiles through pinned memory, writing the result)"
	if bad "$eg"; then
		echo "  MISMATCH (tolerance $TOL)"
		fail=1
	fi
fi

# The engine's own rate: euclidean on ENGINE (rows x features) float64 as one diagonal tile, one job
# (-j1, a chunk size that holds the tile), timed on the device by the plugin (TESSERA_CUDA_PROFILE=1):
# the kernels of every piece after the first, whose time holds CUDA's loading of the GEMM's code.
if [ "$ENGINE" != 0 ]; then
	n=${ENGINE%x*} f=${ENGINE#*x}
	echo
	echo "the GPU engine: euclidean on float64 $n x $f as one tile (-j1), device time of its kernels"
	make_data eng "random.random(($n, $f), seed=11)"
	weights eng "$f"
	RUN_OPTS="-j1 --chunk-size 64G"
	if ! dist eng 'metric="euclidean"' gpu g TESSERA_CUDA_PROFILE=1; then
		echo "FAIL: euclidean on the GPU: $(cat "$TMP/err")"
		exit 1
	fi
	RUN_OPTS=""
	line=$(grep '^tessera-cuda: tile' "$TMP/err" | head -1)
	echo "  ${line#tessera-cuda: }"
	rate=$(echo "$line" | sed -n 's/.*after the first piece \([0-9.]*\)).*/\1/p')
	if [ -z "$rate" ]; then
		echo "FAIL: no engine timings from TESSERA_CUDA_PROFILE=1: $(head -3 "$TMP/err")"
		fail=1
	elif [ -n "$peak" ]; then
		awk -v r="$rate" -v p="$peak" -v t="$T" -v name="$name" 'BEGIN {
			printf "  engine: %.1f TFLOP/s = %.0f%% of %s fp64 peak (%s TFLOP/s); the whole run %s s\n", r, 100 * r / p, name, p, t }'
	fi
fi

echo
if [ $fail -ne 0 ]; then
	echo "FAIL: the GPU and the CPU disagree (or a run failed)"
	exit 1
fi
echo "ok: the GPU agrees with the CPU for every metric (tolerance $TOL)"
