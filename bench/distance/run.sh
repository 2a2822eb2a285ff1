#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-distance: Tessera's pairwise_distance against scipy's pdist and a
# dask.array + numba map-reduce in the style of sgkit, with this machine's
# dgemm rate measured in the same run, and one out-of-core run. See
# bench/distance/README.md. Run from anywhere:
#   make bench-distance       (builds first)
#   bench/distance/run.sh     (uses ./tessera as built)
#   N=500 bench/distance/run.sh   (quick: 500 rows)
# Knobs (environment): N (rows, default 2000), M (features, default 20000),
#   CASES (METRIC:DTYPE,...; default the ten below), RUNS (Tessera's timed
#   runs, default 3), WARMUP (Tessera's untimed runs besides the checking run,
#   default 0), SCIPY_RUNS (default 2), SCIPY_ROWS (rows pdist uses when the
#   whole problem would take it over SCIPY_FULL_MAX seconds; defaults 500 and
#   10), DASK_RUNS (default 1), DASK_CHUNK (features per Dask chunk, default
#   1000), DGEMM_SIZE (default 2000), DGEMM_RUNS (default 5), CHUNKS (Tessera's
#   load(..., chunks=CHUNKS), e.g. "(2000, 1000)"; default auto), OOC (0 skips
#   the out-of-core row), OOC_ROWS/OOC_COLS/OOC_LIMIT (4000, 8000, 64M), JOBS
#   (workers for Tessera and Dask; default $TESSERA_JOBS, else nproc), TESSERA
#   (the binary), PYTHON (default /usr/bin/python3, Debian's, where
#   python3-numpy, -scipy, -dask and -numba live), NO_HYPERFINE=1 (use the
#   bash loop), NO_SCIPY=1, NO_DASK=1.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
TESSERA=${TESSERA:-$root/tessera}
N=${N:-2000}
M=${M:-20000}
DEFAULT_CASES=euclidean:float64,cityblock:float64,correlation:float64,cosine:float64,hamming:float64,jaccard:float64,braycurtis:float64,euclidean:int8,cityblock:int8,correlation:int8
CASES=${CASES:-$DEFAULT_CASES}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-0}
SCIPY_RUNS=${SCIPY_RUNS:-2}
SCIPY_ROWS=${SCIPY_ROWS:-500}
SCIPY_FULL_MAX=${SCIPY_FULL_MAX:-10}
DASK_RUNS=${DASK_RUNS:-1}
DASK_CHUNK=${DASK_CHUNK:-1000}
DGEMM_SIZE=${DGEMM_SIZE:-2000}
DGEMM_RUNS=${DGEMM_RUNS:-5}
CHUNKS=${CHUNKS:-}
OOC=${OOC:-1}
OOC_ROWS=${OOC_ROWS:-4000}
OOC_COLS=${OOC_COLS:-8000}
OOC_LIMIT=${OOC_LIMIT:-64M}
PYTHON=${PYTHON:-/usr/bin/python3}
NPROC=$(nproc)
JOBS=${JOBS:-${TESSERA_JOBS:-$NPROC}}
PY=$here/distance_bench.py
export LC_ALL=C

die() { echo "bench-distance: $*" >&2; exit 1; }
[ -x "$TESSERA" ] || die "no tessera binary at $TESSERA (run make first, or set TESSERA)"
"$PYTHON" -c 'import numpy' 2>/dev/null || die "$PYTHON has no numpy (apt-get install python3-numpy): it makes the data"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-distance.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT
# Time a copy, so that a rebuild while this runs cannot change the binary
# half way through.
cp "$TESSERA" "$tmp/tessera" || die "cannot copy $TESSERA"
TESSERA_BUILT=$(date -u -r "$TESSERA" '+%Y-%m-%d %H:%M UTC')
TESSERA=$tmp/tessera

if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null 2>&1; then
	timer="hyperfine $(hyperfine --version | awk '{print $2}') --shell=none, best of $RUNS"
	use_hf=1
else
	[ -n "${NO_HYPERFINE:-}" ] || echo "hyperfine: not installed (apt-get install hyperfine); timing with a bash loop"
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
		echo "bench-distance: '$*' failed:" >&2
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

# report_field FILE KEY: a top-level number from a --report file
report_field() { grep -o "\"$2\": *[0-9.eE+-]*" "$1" 2>/dev/null | head -1 | sed 's/.*: *//'; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
isa=""
for f in avx512f avx2 fma; do grep -qw "$f" /proc/cpuinfo && isa+="$f " || isa+="no-$f "; done
echo "bench-distance: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $NPROC, $(uname -m), $cpu, ${isa% }"
echo "tessera: copy of the binary built $TESSERA_BUILT, -j $JOBS; timer: $timer"
echo "data: $N x $M (float64 uniform [0, 1), and int8 genotypes 0/1/2), saved once as .npy; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OpenBLAS environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-(unset)} (left as they are for Tessera)"

# ------------------------------------------------------------------ dgemm
declare -A gf
for th in 1 2; do
	line=$(OPENBLAS_NUM_THREADS=$th "$PYTHON" "$PY" dgemm "$DGEMM_SIZE" "$DGEMM_RUNS" 2>"$tmp/dgemm.err") ||
		echo "bench-distance: dgemm with $th thread(s) failed: $(tail -1 "$tmp/dgemm.err")" >&2
	gf[$th]=$(echo "$line" | awk '{print $4}')
	echo "dgemm ${DGEMM_SIZE}x${DGEMM_SIZE} float64 (numpy a @ b, $("$PYTHON" -c 'import numpy; print("numpy", numpy.__version__)'), $(readlink -f /etc/alternatives/libblas.so.3-* 2>/dev/null | head -1 | sed 's|.*/\([^/]*\)/libblas.so.3|\1|')), OPENBLAS_NUM_THREADS=$th: ${gf[$th]:--} GFLOP/s (best of $DGEMM_RUNS)"
done

# Two threads should run dgemm nearly twice as fast as one. When they don't,
# something else holds a core, and every two-worker number below is low.
awk -v a="${gf[1]:-}" -v b="${gf[2]:-}" -v loadavg="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN { if (a != "" && b != "" && b < 1.5 * a)
	printf "WARNING: dgemm on 2 threads is only %.2fx 1 thread: another process is using a core (load average %s);\n  Tessera'"'"'s and Dask'"'"'s two-worker times are inflated, scipy'"'"'s one-thread times less so\n", b / a, loadavg }'

# ------------------------------------------------------------------- data
echo "making the data ..." >&2
"$PYTHON" "$PY" gen "$tmp" "$N" "$M" || die "cannot make the data"

# ---------------------------------------------------------------- Tessera
declare -A tt trep
fail=
ld_chunks=${CHUNKS:+, chunks=$CHUNKS}
echo "timing tessera (best of $RUNS) ..." >&2
for c in ${CASES//,/ }; do
	m=${c%%:*} dt=${c#*:}
	cat >"$tmp/spec_${m}_$dt.yaml" <<-EOF
	tessera: 1
	nodes:
	  x: load("$tmp/x_$dt.npy"$ld_chunks)
	  d: pairwise_distance(x, metric="$m", output="condensed")
	outputs:
	  d: $tmp/tessera_${m}_$dt.npy
	EOF
	CHECK_EXTRA=(--report "$tmp/report_${m}_$dt.json")
	tt[$c]=$(best_time "t_${m}_$dt" "$TESSERA" run "$tmp/spec_${m}_$dt.yaml" -q -j "$JOBS") || fail+=" $c"
	# from the checking run's report: the map tasks' summed worker time, and the rest
	trep[$c]=$("$PYTHON" - "$tmp/report_${m}_$dt.json" <<-'EOF' 2>/dev/null
	import json, sys
	r = json.load(open(sys.argv[1]))
	busy = {}
	for t in r["tasks"]:
	    kind = t["name"].split("[")[0].split(".")[-1] if "." in t["name"] else "out"
	    busy[kind] = busy.get(kind, 0) + t["end"] - t["start"]
	print("elapsed %.2f s, rss %.0f MiB, worker s: %s" % (r["elapsed"], r["max_rss"] / 2**20,
	      " ".join("%s %.2f" % kv for kv in sorted(busy.items()))))
	EOF
	)
done
CHECK_EXTRA=()
[ -z "$fail" ] || echo "bench-distance: tessera FAILED on:$fail (see above); those rows show -"

# -------------------------------------------------------- scipy, Dask
declare -A st srows dkt
run_py() { # run_py LIB ARGS...: fills st/srows (scipy) or dkt (dask); sets py_version
	local lib=$1 metric dtype secs rows
	shift
	"$PYTHON" "$PY" "$lib" "$tmp" "$CASES" "$@" >"$tmp/$lib.out" 2>"$tmp/$lib.err" ||
		echo "bench-distance: $lib failed: $(tail -1 "$tmp/$lib.err")" >&2
	while read -r metric dtype secs rows; do
		[ "$metric" = version ] && continue
		if [ "$lib" = scipy ]; then st[$metric:$dtype]=$secs srows[$metric:$dtype]=$rows; else dkt[$metric:$dtype]=$secs; fi
	done <"$tmp/$lib.out"
	py_version=$(awk '/^version/ {$1 = ""; print substr($0, 2)}' "$tmp/$lib.out")
}
if [ -n "${NO_SCIPY:-}" ]; then
	scipy_note="scipy: skipped (NO_SCIPY)"
elif "$PYTHON" -c 'import scipy.spatial.distance' 2>/dev/null; then
	echo "timing scipy (best of $SCIPY_RUNS) ..." >&2
	run_py scipy "$SCIPY_RUNS" "$SCIPY_ROWS" "$SCIPY_FULL_MAX"
	scipy_note="${py_version:-scipy ?}, pdist on the same array (one thread), best of $SCIPY_RUNS"
else
	scipy_note="scipy: not installed (apt-get install python3-scipy)"
	echo "$scipy_note"
fi
if [ -n "${NO_DASK:-}" ]; then
	dask_note="dask+numba: skipped (NO_DASK)"
elif ! "$PYTHON" -c 'import dask.array' 2>/dev/null; then
	dask_note="dask: not installed (apt-get install python3-dask)"
	echo "$dask_note"
elif ! "$PYTHON" -c 'import numba' 2>/dev/null; then
	dask_note="numba: not installed (apt-get install python3-numba)"
	echo "$dask_note"
else
	echo "timing dask+numba (best of $DASK_RUNS; several minutes at full size) ..." >&2
	run_py dask "$DASK_RUNS" "$JOBS" "$DASK_CHUNK"
	dask_note="${py_version:-dask ?}, scheduler=\"threads\", num_workers=$JOBS, chunks (all rows, $DASK_CHUNK features), best of $DASK_RUNS"
fi

# ------------------------------------------------------------ out of core
ooc_t="" ooc_mem_t="" ooc_rss="" ooc_spill="" ooc_val=""
if [ "$OOC" != 0 ]; then
	cat >"$tmp/ooc.yaml" <<-EOF
	tessera: 1
	nodes:
	  x: random.random(($OOC_ROWS, $OOC_COLS), seed=5)
	  d: pairwise_distance(x, metric="euclidean", output="condensed")
	  s: d.sum()
	outputs: {s: "-"}
	EOF
	echo "timing the out-of-core run (best of $RUNS, then once in memory) ..." >&2
	CHECK_EXTRA=(--report "$tmp/ooc.json")
	ooc_t=$(best_time ooc "$TESSERA" run "$tmp/ooc.yaml" -q -j "$JOBS" -m "$OOC_LIMIT") || fail+=" out-of-core"
	CHECK_EXTRA=()
	ooc_rss=$(report_field "$tmp/ooc.json" max_rss)
	ooc_spill=$(report_field "$tmp/ooc.json" spilled_bytes)
	ooc_val=$(tail -1 "$tmp/ooc.out" 2>/dev/null)
	# the same spec with the default limit, for scale (one run)
	"$TESSERA" run "$tmp/ooc.yaml" -q -j "$JOBS" --report "$tmp/ooc-mem.json" >/dev/null 2>&1 &&
		ooc_mem_t=$(report_field "$tmp/ooc-mem.json" elapsed)
	ooc_limit_b=$(awk -v s="$OOC_LIMIT" 'BEGIN { u = toupper(s); k = 1
		if (u ~ /K/) k = 1024; else if (u ~ /M/) k = 1048576; else if (u ~ /G/) k = 1073741824
		sub(/[^0-9.].*/, "", s); printf "%.0f", s * k }')
fi

# ------------------------------------------------------------------ check
if "$PYTHON" -c 'import numpy' 2>/dev/null; then
	"$PYTHON" "$PY" check "$tmp" "$CASES" >"$tmp/check.out" 2>"$tmp/check.err" ||
		echo "bench-distance: check failed: $(tail -1 "$tmp/check.err")" >&2
fi

# ------------------------------------------------------------------ table
: >"$tmp/rows"
for c in ${CASES//,/ }; do
	m=${c%%:*} dt=${c#*:}
	star=-
	[ -n "${srows[$c]:-}" ] && [ "${srows[$c]}" != "$N" ] && star="*"
	echo "$m $dt ${tt[$c]:--} ${st[$c]:--} $star ${dkt[$c]:--} ${tt[${m}:float64]:--}" >>"$tmp/rows"
done
echo
awk -v n="$N" -v m="$M" -v g1="${gf[1]:-}" -v g2="${gf[2]:-}" -v snote="$scipy_note" -v dnote="$dask_note" \
	-v srows="$SCIPY_ROWS" '
function f(x) { return (x == "" || x == "-") ? "-" : (x < 0.01 ? sprintf("%.4f", x) : (x < 100 ? sprintf("%.3f", x) : sprintf("%.1f", x))) }
function ratio(a, b) { return (a == "-" || b == "-" || b <= 0) ? "-" : sprintf("%.1fx", a / b) }
function ok(c) { return c ? "ok" : "MISSED" }
BEGIN {
	flops = 2 * n * n * m   # the cross term X X^T of the full n x n square
	printf "%-12s %-7s %9s %10s %10s %8s %8s %7s %8s  %s\n", "metric", "dtype", "tessera s", "scipy s", "dask s", "sci/tes", "dask/tes", "%dgemm", "i8/f64", "goal"
	print  "------------ ------- --------- ---------- ---------- -------- -------- ------- --------  --------------------------"
}
{
	met = $1; dt = $2; t = $3; s = $4; star = ($5 == "*"); d = $6; tf = $7
	pct = "-"
	if (t != "-" && (met == "euclidean" || met == "correlation" || met == "cosine") && g2 != "")
		pct = sprintf("%.0f%%", 100 * flops / t / 1e9 / g2)
	sp = "-"
	if (dt == "int8" && t != "-" && tf != "-") sp = sprintf("%.2fx", tf / t)
	goal = ""
	if (met == "euclidean" && dt == "float64")
		goal = (pct == "-" ? ">=70% dgemm: -" : sprintf(">=70%% dgemm: %s", ok(flops / t / 1e9 / g2 >= 0.70)))
	if (met != "euclidean" && met != "correlation" && met != "cosine")
		goal = (t == "-" || s == "-") ? ">=5x scipy: -" : sprintf(">=5x scipy: %s", ok(s / t >= 5))
	if (met == "correlation")
		goal = (t == "-" || d == "-") ? ">=10x dask: -" : sprintf(">=10x dask: %s", ok(d / t >= 10))
	if (dt == "int8") {
		g8 = (sp == "-") ? "-" : ok(tf / t >= 2)
		goal = goal (goal == "" ? "" : "; ") ">=2x f64: " g8
	}
	printf "%-12s %-7s %9s %10s %10s %8s %8s %7s %8s  %s\n", met, dt, f(t), (s == "-" ? "-" : f(s) (star ? "*" : "")), f(d), ratio(s, t), ratio(d, t), pct, sp, goal
	stars += star
	if (met == "euclidean" && dt == "float64" && t != "-") e_rate = flops / t / 1e9
}
END {
	print ""
	printf "dgemm (numpy a @ b, 2000x2000 float64, same OpenBLAS): %s GFLOP/s on 1 thread, %s GFLOP/s on 2 threads\n", (g1 == "" ? "-" : g1), (g2 == "" ? "-" : g2)
	if (e_rate != "")
		printf "tessera euclidean float64: %.1f GFLOP/s counting 2*n^2*m = %.3g flops (the cross term of the full square); %.1f GFLOP/s counting the triangle only (n^2*m, what a syrk does)\n", e_rate, flops, e_rate / 2
	print "%dgemm = that full-square rate / the 2-thread dgemm rate (correlation, cosine and int8: the same flop count;\n  int8 goes through sgemm on float copies, so its % is only a yardstick)."
	print "tessera: whole process (tessera run SPEC -q -j JOBS), reading the .npy and writing the condensed .npy included."
	printf "scipy column: %s\n", snote
	if (stars)
		printf "  * = pdist on the first %d rows only, time multiplied by the pair count ratio (the whole would take too long)\n", srows
	printf "dask column: %s\n", dnote
	if (dnote !~ /skipped|not installed/) print "  numba map per feature chunk (pairs i < j only), tree sum, finalize; the condensed result written to .npy"
	print "i8/f64 = tessera float64 time / int8 time for the metric (how much faster int8 is)"
}' "$tmp/rows"

echo
echo "goals:"
awk -v n="$N" -v m="$M" -v g2="${gf[2]:-}" '
function ok(c) { return c ? "ok" : "MISSED" }
{ k = $1 ":" $2; order[++nk] = k; t[k] = $3; s[k] = $4; d[k] = $6 }
END {
	e = t["euclidean:float64"]
	if (e == "" || e == "-" || g2 == "") print "  euclidean >= 70% of dgemm (2 threads):  -"
	else printf "  euclidean >= 70%% of dgemm (2 threads):  %.0f%%  %s\n", 100 * 2 * n * n * m / e / 1e9 / g2, ok(2 * n * n * m / e / 1e9 / g2 >= 0.7)
	line = ""; all = 1; any = 0
	split("euclidean cityblock correlation", ms, " ")
	for (i = 1; i <= 3; i++) {
		a = t[ms[i] ":float64"]; b = t[ms[i] ":int8"]
		if (a == "" || a == "-" || b == "" || b == "-") continue
		line = line sprintf(" %s %.2fx", ms[i], a / b); any = 1; if (a / b < 2) all = 0
	}
	printf "  int8 >= 2x float64 speed:               %s\n", any ? substr(line, 2) "  " ok(all) : "-"
	line = ""; all = 1; any = 0
	for (i = 1; i <= nk; i++) {
		k = order[i]
		split(k, p, ":")
		if (p[1] == "euclidean" || p[1] == "correlation" || p[1] == "cosine") continue
		if (t[k] == "-" || s[k] == "-") continue
		line = line sprintf(" %s %.1fx", k, s[k] / t[k]); any = 1; if (s[k] / t[k] < 5) all = 0
	}
	printf "  non-GEMM metrics >= 5x scipy:           %s\n", any ? substr(line, 2) "  " ok(all) : "-"
	line = ""; all = 1; any = 0
	for (i = 1; i <= nk; i++) {
		k = order[i]
		split(k, p, ":")
		if (p[1] != "correlation" || t[k] == "-" || d[k] == "-") continue
		line = line sprintf(" %s %.1fx", p[2], d[k] / t[k]); any = 1; if (d[k] / t[k] < 10) all = 0
	}
	printf "  correlation >= 10x dask+numba:          %s\n", any ? substr(line, 2) "  " ok(all) : "-"
}' "$tmp/rows"

if [ "$OOC" != 0 ]; then
	echo
	echo "out of core: x = random.random(($OOC_ROWS, $OOC_COLS)) ($(awk -v r="$OOC_ROWS" -v c="$OOC_COLS" 'BEGIN { printf "%.0f MB", r * c * 8 / 1e6 }')), euclidean, condensed, summed; -m $OOC_LIMIT"
	if [ -n "$ooc_t" ]; then
		awk -v t="$ooc_t" -v rss="$ooc_rss" -v lim="$ooc_limit_b" -v sp="$ooc_spill" -v mt="$ooc_mem_t" -v v="$ooc_val" \
			-v np="$(awk -v r="$OOC_ROWS" 'BEGIN { printf "%.0f", r * (r - 1) / 2 }')" -v c="$OOC_COLS" 'BEGIN {
			printf "  elapsed %.3f s (best of runs), max_rss %.1f MiB, limit %.1f MiB: under the limit: %s\n", t, rss / 1048576, lim / 1048576, (rss != "" && rss < lim ? "ok" : "MISSED")
			printf "  spilled %.0f MB; the same spec with the default limit: %s s\n", sp / 1e6, (mt == "" ? "-" : sprintf("%.3f", mt))
			printf "  sum %s; mean distance %.4f (expected near sqrt(%d/6) = %.4f)\n", v, v / np, c, sqrt(c / 6)
		}'
	else
		echo "  FAILED (see above)"
	fi
fi

echo
echo "values: max relative error of tessera against scipy (on the rows scipy used) and against dask+numba; tessera's mean"
if [ -s "$tmp/check.out" ]; then
	awk -F'\t' '{ printf "  %-12s %-7s scipy %-26s dask %-9s mean %s\n", $1, $2, $3, $4, $5 }' "$tmp/check.out"
	grep -q '^jaccard.float64' "$tmp/check.out" &&
		printf '%s\n' "  (jaccard: scipy before 1.15 compares values; scipy since 1.15 (gh-21176), Tessera and the Dask map read" \
			"   nonzero as true. On data with no zeros that gives 1 against 0: a difference of definitions, not an error)"
else
	echo "  - (no check)"
fi

echo
echo "tessera --report (checking run): elapsed, max_rss, summed worker seconds by task kind"
for c in ${CASES//,/ }; do printf "  %-22s %s\n" "$c" "${trep[$c]:--}"; done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "$fail" ] || exit 1
