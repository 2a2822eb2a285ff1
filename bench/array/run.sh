#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-array: Tessera's array graphs (graphs/pi.yaml, ones.yaml, matmul.yaml,
# transpose.yaml) against the same computations in dask.array (threaded
# scheduler, same number of workers) and in numpy. See bench/array/README.md.
# Run from anywhere:
#   make bench-array          (builds first)
#   bench/array/run.sh        (uses ./tessera as built)
# Knobs (environment): RUNS (Tessera's timed runs, default 3), WARMUP
#   (Tessera's untimed runs besides the checking run, default 0), DASK_RUNS
#   (default 2), NUMPY_RUNS (default 2), JOBS (workers for both Tessera and
#   Dask; default $TESSERA_JOBS, else nproc), TESSERA (the binary), DASK_PYTHON
#   (default /usr/bin/python3, Debian's, where python3-dask and python3-numpy
#   live), NO_HYPERFINE=1 (use the bash loop), NO_DASK=1, NO_NUMPY=1.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
TESSERA=${TESSERA:-$root/tessera}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-0}
DASK_RUNS=${DASK_RUNS:-2}
NUMPY_RUNS=${NUMPY_RUNS:-2}
DASK_PYTHON=${DASK_PYTHON:-/usr/bin/python3}
NPROC=$(nproc)
JOBS=${JOBS:-${TESSERA_JOBS:-$NPROC}}
G=$root/graphs
export LC_ALL=C

die() { echo "bench-array: $*" >&2; exit 1; }
[ -x "$TESSERA" ] || die "no tessera binary at $TESSERA (run make first, or set TESSERA)"
for s in pi ones matmul transpose; do [ -f "$G/$s.yaml" ] || die "missing $G/$s.yaml"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-array.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT
# Time a copy, so that a rebuild while this runs cannot change the binary
# half way through.
cp "$TESSERA" "$tmp/tessera" || die "cannot copy $TESSERA"
TESSERA_BUILT=$(date -u -r "$TESSERA" '+%Y-%m-%d %H:%M UTC')
TESSERA=$tmp/tessera

if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null 2>&1; then
	timer="hyperfine $(hyperfine --version | awk '{print $2}'), best of $RUNS"
	use_hf=1
else
	timer="bash loop (date +%s.%N), best of $RUNS"
	use_hf=
fi

# best_time NAME CMD... : prints the best wall time, in seconds, of RUNS runs
# of CMD with stdout to /dev/null. One untimed run first checks that it works
# (a benchmark of an error is no benchmark), keeps its stdout in
# $tmp/NAME.out, and warms the page cache; the words in the array CHECK_EXTRA
# are added to that run only. WARMUP more untimed runs follow.
best_time() {
	local name=$1
	shift
	if ! "$@" "${CHECK_EXTRA[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
		echo "bench-array: '$*' failed:" >&2
		head -20 "$tmp/$name.err" >&2
		return 1
	fi
	if [ -n "$use_hf" ]; then
		local cmd="" a
		for a in "$@"; do cmd+="$(printf '%q' "$a") "; done
		hyperfine --shell=none --warmup "$WARMUP" --runs "$RUNS" --style none \
			--export-json "$tmp/$name.hf.json" "$cmd" >/dev/null 2>"$tmp/$name.err" || {
			cat "$tmp/$name.err" >&2
			return 1
		}
		sed -n 's/^ *"min": *\([0-9.eE+-]*\),*$/\1/p' "$tmp/$name.hf.json" | head -1
	else
		local i t0 t1 best=""
		for ((i = 0; i < WARMUP; i++)); do "$@" >/dev/null 2>&1; done
		for ((i = 0; i < RUNS; i++)); do
			t0=$(date +%s.%N)
			"$@" >/dev/null 2>&1 || return 1
			t1=$(date +%s.%N)
			best=$(awk -v a="$t0" -v b="$t1" -v m="$best" 'BEGIN { d = b - a; print (m == "" || d < m) ? d : m }')
		done
		echo "$best"
	fi
}

echo "bench-array: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $NPROC, $(uname -m), tessera -j $JOBS, $timer"
echo "tessera: copy of the binary built $TESSERA_BUILT"
echo "OpenBLAS environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-(unset)} (left as they are)"

# ---------------------------------------------------------------- Tessera
# File outputs (ones.yaml's c and rc) go to the temporary directory.
T=("$TESSERA" run)
Q=(-q -j "$JOBS")
O=(-o "c=$tmp/ones_cos.npy" -o "rc=$tmp/random_cos.npy")
declare -A tt
fail=
CHECK_EXTRA=()
echo "timing tessera (best of $RUNS) ..." >&2
tt[pi]=$(best_time pi "${T[@]}" "$G/pi.yaml" "${Q[@]}") || fail+=" pi"
CHECK_EXTRA=(--report "$tmp/ones-report.json")
tt[ones]=$(best_time ones "${T[@]}" "$G/ones.yaml" "${Q[@]}" "${O[@]}") || fail+=" ones"
CHECK_EXTRA=()
for t in m c rm rc; do
	tt[$t]=$(best_time "ones-$t" "${T[@]}" "$G/ones.yaml" "$t" "${Q[@]}" "${O[@]}") || fail+=" ones:$t"
done
tt[matmul]=$(best_time matmul "${T[@]}" "$G/matmul.yaml" "${Q[@]}") || fail+=" matmul"
tt[transpose]=$(best_time transpose "${T[@]}" "$G/transpose.yaml" "${Q[@]}") || fail+=" transpose"
[ -z "$fail" ] || echo "bench-array: tessera FAILED on:$fail (see above); those rows show -"

# Tessera's values: stdout of the checking runs; ones.yaml prints m then rm.
tv_pi=$(tail -1 "$tmp/pi.out" 2>/dev/null)
tv_m=$(sed -n 1p "$tmp/ones.out" 2>/dev/null)
tv_rm=$(sed -n 2p "$tmp/ones.out" 2>/dev/null)
tv_mat=$(tail -1 "$tmp/matmul.out" 2>/dev/null)
tv_tr=$(tail -1 "$tmp/transpose.out" 2>/dev/null)
rss=""
[ -f "$tmp/ones-report.json" ] && rss=$(grep -o '"max_rss": *[0-9]*' "$tmp/ones-report.json" | head -1 | grep -o '[0-9]*$')

# ------------------------------------------------------------ Dask, numpy
declare -A dt nt dv nv
dask_note="" numpy_note=""
# run_py LIB CASES RUNS: runs array_bench.py and fills LIB's arrays (dt/dv or
# nt/nv: times scaled to the full size, and values); sets py_version.
run_py() {
	local lib=$1 cases=$2 runs=$3 name secs scale val
	"$DASK_PYTHON" "$here/array_bench.py" "$lib" "$cases" "$runs" "$JOBS" >"$tmp/$lib.out" 2>"$tmp/$lib.err" || {
		echo "bench-array: $lib failed: $(tail -1 "$tmp/$lib.err")" >&2
	}
	while read -r name secs scale val; do
		[ "$name" = version ] && continue
		secs=$(awk -v s="$secs" -v k="$scale" 'BEGIN { printf "%.6f", s * k }')
		if [ "$lib" = dask ]; then dt[$name]=$secs dv[$name]=$val; else nt[$name]=$secs nv[$name]=$val; fi
	done <"$tmp/$lib.out"
	py_version=$(awk '/^version/ {print $3}' "$tmp/$lib.out")
}

if [ -n "${NO_DASK:-}" ]; then
	dask_note="dask: skipped (NO_DASK)"
elif [ -x "$DASK_PYTHON" ] && "$DASK_PYTHON" -c 'import dask.array' 2>/dev/null; then
	echo "timing dask (best of $DASK_RUNS) ..." >&2
	run_py dask pi,ones,m,c,rm,rc,matmul,transpose "$DASK_RUNS"
	dask_note="dask ${py_version:-?}, dask.array, scheduler=\"threads\", num_workers=$JOBS, best of $DASK_RUNS"
else
	dask_note="dask: not installed (apt-get install python3-dask); Tessera-only numbers below"
	echo "$dask_note"
fi
if [ -n "${NO_NUMPY:-}" ]; then
	numpy_note="numpy: skipped (NO_NUMPY)"
elif [ -x "$DASK_PYTHON" ] && "$DASK_PYTHON" -c 'import numpy' 2>/dev/null; then
	echo "timing numpy (best of $NUMPY_RUNS) ..." >&2
	run_py numpy pi,ones,m,c,rm,rc,matmul,matmul1,transpose "$NUMPY_RUNS"
	numpy_note="numpy ${py_version:-?}, one thread (BLAS: its own threads), best of $NUMPY_RUNS"
else
	numpy_note="numpy: not installed (apt-get install python3-numpy)"
	echo "$numpy_note"
fi

# Sums of Tessera's per-row means, to set beside Dask's and numpy's.
tv_c="" tv_rc=""
if "$DASK_PYTHON" -c 'import numpy' 2>/dev/null; then
	[ -f "$tmp/ones_cos.npy" ] && tv_c=$("$DASK_PYTHON" -c 'import numpy,sys; print(repr(float(numpy.load(sys.argv[1]).sum())))' "$tmp/ones_cos.npy")
	[ -f "$tmp/random_cos.npy" ] && tv_rc=$("$DASK_PYTHON" -c 'import numpy,sys; print(repr(float(numpy.load(sys.argv[1]).sum())))' "$tmp/random_cos.npy")
fi

# ------------------------------------------------------------------ table
echo
awk -v dnote="$dask_note" -v nnote="$numpy_note" -v rss="$rss" \
	-v t_pi="${tt[pi]:-}" -v t_ones="${tt[ones]:-}" -v t_m="${tt[m]:-}" -v t_c="${tt[c]:-}" \
	-v t_rm="${tt[rm]:-}" -v t_rc="${tt[rc]:-}" -v t_mat="${tt[matmul]:-}" -v t_tr="${tt[transpose]:-}" \
	-v d_pi="${dt[pi]:-}" -v d_ones="${dt[ones]:-}" -v d_m="${dt[m]:-}" -v d_c="${dt[c]:-}" \
	-v d_rm="${dt[rm]:-}" -v d_rc="${dt[rc]:-}" -v d_mat="${dt[matmul]:-}" -v d_tr="${dt[transpose]:-}" \
	-v n_pi="${nt[pi]:-}" -v n_ones="${nt[ones]:-}" -v n_m="${nt[m]:-}" -v n_c="${nt[c]:-}" \
	-v n_rm="${nt[rm]:-}" -v n_rc="${nt[rc]:-}" -v n_mat="${nt[matmul]:-}" -v n_mat1="${nt[matmul1]:-}" \
	-v n_tr="${nt[transpose]:-}" '
function f(x) { return x == "" ? "-" : (x < 0.01 ? sprintf("%.4f", x) : sprintf("%.3f", x)) }
function fs(x) { return x == "" ? "-" : f(x) "*" }   # numpy, scaled from 1/10 of the data
function ratio(a, b) { return (a == "" || b == "" || b <= 0) ? "-" : sprintf("%.1fx", a / b) }
function row(what, t, d, n, scaled, goal) {
	printf "%-34s %10s %10s %10s %13s  %s\n", what, f(t), f(d), (scaled ? fs(n) : f(n)), ratio(d, t), goal
}
# goal_x WHAT D T X: ">= Xx faster than dask" verdict
function goal_x(d, t, x) {
	if (t == "") return ">= " x "x: - (tessera failed)"
	if (d == "") return ">= " x "x: - (no dask)"
	return sprintf(">= %dx: %s", x, (d / t >= x ? "ok" : "MISSED"))
}
BEGIN {
	printf "%-34s %10s %10s %10s %13s  %s\n", "graph / expression", "tessera s", "dask s", "numpy s", "dask/tessera", "goal"
	print  "---------------------------------- ---------- ---------- ---------- -------------  ------------------"
	row("pi.yaml (2e8 points)", t_pi, d_pi, n_pi, 1, goal_x(d_pi, t_pi, 10))
	row("ones.yaml, whole (m c rm rc)", t_ones, d_ones, n_ones, 1, "(none; see rows)")
	row("  m  = (big*big[::-1,::-1]).mean()", t_m, d_m, n_m, 1, goal_x(d_m, t_m, 10))
	row("  c  = (cos(big)**2).mean(axis=1)", t_c, d_c, n_c, 1, goal_x(d_c, t_c, 10))
	row("  rm = m on random data", t_rm, d_rm, n_rm, 1, goal_x(d_rm, t_rm, 5))
	row("  rc = c on random data", t_rc, d_rc, n_rc, 1, goal_x(d_rc, t_rc, 5))
	row("matmul.yaml (a@a + (a@a).T).sum()", t_mat, d_mat, n_mat, 0, "see below")
	row("transpose.yaml (15x15)", t_tr, d_tr, n_tr, 0, "(none)")
	print ""
	print "tessera: whole process (tessera run SPEC [TARGET] -q), data generation included; file outputs to a temp dir."
	printf "dask column: %s\n", dnote
	if (d_pi != "") {
		print "  graph construction + compute, in one process (Python start-up and imports not counted, which favours Dask);"
		print "  ones.yaml whole = one dask.compute of all four; data generation included."
	}
	printf "numpy column: %s\n", nnote
	if (n_pi != "") {
		print "  data generation included. * = measured on 1/10 of the data (pi: 2e7 points; ones: 20,000 rows) and"
		print "  multiplied by 10: the full pi needs 3.2 GB of points, the full ones arrays 6.4 GB each."
	}
	print ""
	print "goals:"
	if (t_pi == "" || d_pi == "") printf "  pi   >= 10x faster than dask:        -\n"
	else printf "  pi   >= 10x faster than dask:        %s  %s\n", ratio(d_pi, t_pi), (d_pi / t_pi >= 10 ? "ok" : "MISSED")
	if (t_m == "" || d_m == "" || t_c == "" || d_c == "") printf "  ones >= 10x faster than dask:        -\n"
	else printf "  ones >= 10x faster than dask:        m %s, c %s  %s\n", ratio(d_m, t_m), ratio(d_c, t_c), (d_m / t_m >= 10 && d_c / t_c >= 10 ? "ok" : "MISSED")
	if (t_rm == "" || d_rm == "" || t_rc == "" || d_rc == "") printf "  random >= 5x faster than dask:       -\n"
	else printf "  random >= 5x faster than dask:       rm %s, rc %s  %s\n", ratio(d_rm, t_rm), ratio(d_rc, t_rc), (d_rm / t_rm >= 5 && d_rc / t_rc >= 5 ? "ok" : "MISSED")
	if (rss == "") printf "  ones.yaml peak RSS < 512 MiB:        - (no report)\n"
	else printf "  ones.yaml peak RSS < 512 MiB:        %.1f MiB  %s\n", rss / 1048576, (rss < 512 * 1048576 ? "ok" : "MISSED")
	if (t_mat == "" || n_mat == "") printf "  matmul >= 85%% of the BLAS (numpy):  -\n"
	else printf "  matmul >= 85%% of the BLAS (numpy):  numpy %.3f s / tessera %.3f s = %.1f%%  %s\n", n_mat, t_mat, 100 * n_mat / t_mat, (n_mat / t_mat >= 0.85 ? "ok" : "MISSED")
	print  "    numpy = a @ a + (a @ a).T, summed: two whole-matrix dgemm (4000x4000) plus the add and sum, data generation included"
	if (n_mat1 != "" && t_mat != "")
		printf "    (numpy with a @ a computed once: %.3f s, = %.0f%% of tessera'"'"'s time; dask dedups a @ a itself)\n", n_mat1, 100 * n_mat1 / t_mat
}'

echo
echo "values (pi: the random streams differ, so the digits do; all near 3.1416):"
printf "  %-10s %-22s %-22s %s\n" "" tessera dask "numpy (1/10 size*)"
printf "  %-10s %-22s %-22s %s\n" pi "${tv_pi:--}" "${dv[pi]:--}" "${nv[pi]:--}"
printf "  %-10s %-22s %-22s %s\n" m "${tv_m:--}" "${dv[m]:--}" "${nv[m]:--}"
printf "  %-10s %-22s %-22s %s\n" "sum(c)" "${tv_c:--}" "${dv[c]:--}" "${nv[c]:--}"
printf "  %-10s %-22s %-22s %s\n" rm "${tv_rm:--}" "${dv[rm]:--}" "${nv[rm]:--}"
printf "  %-10s %-22s %-22s %s\n" "sum(rc)" "${tv_rc:--}" "${dv[rc]:--}" "${nv[rc]:--}"
printf "  %-10s %-22s %-22s %s\n" matmul "${tv_mat:--}" "${dv[matmul]:--}" "${nv[matmul]:--}"
printf "  %-10s %-22s %-22s %s\n" transpose "${tv_tr:--}" "${dv[transpose]:--}" "${nv[transpose]:--}"
echo "  (* numpy's sum(c) and sum(rc) are over 20,000 rows, times 10. Random data differs between tools.)"
[ -z "$fail" ] || exit 1
