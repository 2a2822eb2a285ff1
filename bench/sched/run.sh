#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-sched: Tessera's per-task overhead, against Dask's threaded scheduler
# and against xargs -P. See bench/sched/README.md. Run from anywhere:
#   make bench-sched          (builds first)
#   bench/sched/run.sh        (uses ./tessera as built)
# Knobs (environment): RUNS (timed runs, default 5), WARMUP (default 1),
#   DASK_RUNS (default 3), REDUCE_N (100000), CHAIN_N (10000), SHELL_N (10000),
#   TESSERA (the binary), DASK_PYTHON (default /usr/bin/python3, Debian's,
#   which is where python3-dask lives), NO_HYPERFINE=1 (use the bash loop).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
TESSERA=${TESSERA:-$root/tessera}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
DASK_RUNS=${DASK_RUNS:-3}
REDUCE_N=${REDUCE_N:-100000}
CHAIN_N=${CHAIN_N:-10000}
SHELL_N=${SHELL_N:-10000}
DASK_PYTHON=${DASK_PYTHON:-/usr/bin/python3}
NPROC=$(nproc)
export LC_ALL=C

die() { echo "bench-sched: $*" >&2; exit 1; }
[ -x "$TESSERA" ] || die "no tessera binary at $TESSERA (run make first, or set TESSERA)"
for s in reduce chain shell; do [ -f "$here/$s.yaml" ] || die "missing $here/$s.yaml"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-sched.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT

if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null 2>&1; then
	timer="hyperfine $(hyperfine --version | awk '{print $2}'), best of $RUNS (warmup $WARMUP)"
	use_hf=1
else
	timer="bash loop (date +%s.%N), best of $RUNS (warmup $WARMUP)"
	use_hf=
fi

# best_time NAME CMD... : prints the best wall time, in seconds, of RUNS runs
# of CMD with stdout to /dev/null (after WARMUP untimed runs). A failing run
# is fatal: a benchmark of an error is no benchmark.
best_time() {
	local name=$1
	shift
	# Check once that it works, and show why not if it does not.
	if ! "$@" >/dev/null 2>"$tmp/$name.err"; then
		echo "bench-sched: '$*' failed:" >&2
		head -20 "$tmp/$name.err" >&2
		return 1
	fi
	if [ -n "$use_hf" ]; then
		local cmd="" a
		for a in "$@"; do cmd+="$(printf '%q' "$a") "; done
		hyperfine --shell=none --warmup "$WARMUP" --runs "$RUNS" --style none \
			--export-json "$tmp/$name.json" "$cmd" >/dev/null 2>"$tmp/$name.err" || {
			cat "$tmp/$name.err" >&2
			return 1
		}
		sed -n 's/^ *"min": *\([0-9.eE+-]*\),*$/\1/p' "$tmp/$name.json" | head -1
	else
		local i t0 t1 best=""
		for ((i = 0; i < WARMUP; i++)); do "$@" >/dev/null 2>&1; done
		for ((i = 0; i < RUNS; i++)); do
			t0=$(date +%s.%N)
			"$@" >/dev/null 2>&1
			t1=$(date +%s.%N)
			best=$(awk -v a="$t0" -v b="$t1" -v m="$best" 'BEGIN { d = b - a; print (m == "" || d < m) ? d : m }')
		done
		echo "$best"
	fi
}

# The xargs baseline is a pipeline: a small script, so both timers can run it.
cat > "$tmp/xargs.sh" <<EOF
#!/bin/sh
seq $SHELL_N | xargs -P $NPROC -n 1 true
EOF
chmod +x "$tmp/xargs.sh"

echo "bench-sched: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $NPROC, $(uname -m), $timer"
echo "tessera: $TESSERA (-j default: ${TESSERA_JOBS:-$NPROC} workers)"
echo "timing tessera ..." >&2

R_TASKS=$((REDUCE_N + 1))
C_TASKS=$CHAIN_N
T=("$TESSERA")
r_run=$(best_time reduce-run "${T[@]}" run "$here/reduce.yaml" -q -s "n=$REDUCE_N") || die "reduce run failed"
r_chk=$(best_time reduce-check "${T[@]}" check "$here/reduce.yaml" -s "n=$REDUCE_N") || die "reduce check failed"
c_run=$(best_time chain-run "${T[@]}" run "$here/chain.yaml" -q -s "n=$CHAIN_N") || die "chain run failed"
c_chk=$(best_time chain-check "${T[@]}" check "$here/chain.yaml" -s "n=$CHAIN_N") || die "chain check failed"

# Task counts as Tessera sees them, so the per-task numbers divide by the truth.
r_seen=$("$TESSERA" check "$here/reduce.yaml" -s "n=$REDUCE_N" | awk '/^tasks:/ {print $2}')
c_seen=$("$TESSERA" check "$here/chain.yaml" -s "n=$CHAIN_N" | awk '/^tasks:/ {print $2}')
s_seen=$("$TESSERA" check "$here/shell.yaml" -s "n=$SHELL_N" | awk '/^tasks:/ {print $2}')
[ "$r_seen" = "$R_TASKS" ] || die "reduce.yaml has $r_seen tasks, expected $R_TASKS"
[ "$c_seen" = "$C_TASKS" ] || die "chain.yaml has $c_seen tasks, expected $C_TASKS"
[ "$s_seen" = "$SHELL_N" ] || die "shell.yaml has $s_seen tasks, expected $SHELL_N"

# Dask, in one process: graph construction + get, and get alone.
dask_note=""
d_r_tot="" d_r_get="" d_c_tot="" d_c_get=""
if [ -x "$DASK_PYTHON" ] && "$DASK_PYTHON" -c 'import dask.threaded' 2>/dev/null; then
	echo "timing dask (best of $DASK_RUNS) ..." >&2
	if "$DASK_PYTHON" "$here/dask_bench.py" "$REDUCE_N" "$CHAIN_N" "$DASK_RUNS" "$NPROC" >"$tmp/dask.out" 2>"$tmp/dask.err"; then
		read -r _ _ d_r_tot d_r_get < <(grep '^reduce ' "$tmp/dask.out")
		read -r _ _ d_c_tot d_c_get < <(grep '^chain ' "$tmp/dask.out")
		d_ver=$(awk '/^version/ {print $2}' "$tmp/dask.out")
		d_start=$(awk '/^startup/ {printf "%.0f", $2 * 1000}' "$tmp/dask.out")
		dask_note="dask $d_ver, dask.threaded.get, num_workers=$NPROC, best of $DASK_RUNS (python start-up + import, not counted: ~${d_start} ms)"
	else
		dask_note="dask: failed ($(tail -1 "$tmp/dask.err"))"
	fi
else
	dask_note="dask: not installed (apt-get install python3-dask)"
	echo "$dask_note"
fi

echo "timing shell: $SHELL_N processes, tessera then xargs ..." >&2
s_run=$(best_time shell-run "${T[@]}" run "$here/shell.yaml" -q -s "n=$SHELL_N") || die "shell run failed"
s_xargs=$(best_time shell-xargs "$tmp/xargs.sh") || die "xargs baseline failed"

echo "timing memory: 10x the limit ..." >&2
MEM_LIMIT_MB=${MEM_LIMIT_MB:-32}
"$TESSERA" run "$here/memory.yaml" -q --memory-limit "${MEM_LIMIT_MB}M" --report "$tmp/mem.json" > "$tmp/mem.out" ||
	die "memory run failed"

# Table. awk does the arithmetic; "-" where there is no number.
echo
awk -v r_run="$r_run" -v r_chk="$r_chk" -v c_run="$c_run" -v c_chk="$c_chk" \
	-v rt="$R_TASKS" -v ct="$C_TASKS" -v st="$SHELL_N" \
	-v drt="$d_r_tot" -v drg="$d_r_get" -v dct="$d_c_tot" -v dcg="$d_c_get" \
	-v s_run="$s_run" -v s_x="$s_xargs" -v np="$NPROC" -v dnote="$dask_note" '
function us(t, n) { return t == "" ? "" : t * 1e6 / n }
function f(x) { return x == "" ? "-" : sprintf("%.3f", x) }
function ratio(a, b) { return (a == "" || b == "" || b <= 0) ? "-" : sprintf("%.1fx", a / b) }
function row(shape, what, n, tus, dus) {
	printf "%-7s %-33s %8d %14s %14s %13s\n", shape, what, n, f(tus), f(dus), ratio(dus, tus)
}
BEGIN {
	printf "%-7s %-33s %8s %14s %14s %13s\n", "shape", "measure", "tasks", "tessera us/t", "dask us/t", "dask/tessera"
	print "------- --------------------------------- -------- -------------- -------------- -------------"
	r_e2e = us(r_run, rt); r_plan = us(r_chk, rt); r_sch = us(r_run - r_chk, rt)
	c_e2e = us(c_run, ct); c_plan = us(c_chk, ct); c_sch = us(c_run - c_chk, ct)
	d_r_build = (drt == "" ? "" : drt - drg); d_c_build = (dct == "" ? "" : dct - dcg)
	row("reduce", "end to end (tessera run)", rt, r_e2e, us(drt, rt))
	row("reduce", "parse+build+plan (tessera check)", rt, r_plan, us(d_r_build, rt))
	row("reduce", "scheduler (run minus check)", rt, r_sch, us(drg, rt))
	row("chain", "end to end (tessera run)", ct, c_e2e, us(dct, ct))
	row("chain", "parse+build+plan (tessera check)", ct, c_plan, us(d_c_build, ct))
	row("chain", "scheduler (run minus check)", ct, c_sch, us(dcg, ct))
	print ""
	printf "dask column: %s\n", dnote
	print  "  end to end = graph dict construction + dask.threaded.get; \"parse+build+plan\" row = construction alone;"
	print  "  scheduler = dask.threaded.get alone. Tessera end to end is a whole process (exec, YAML, expansion, run, exit)."
	print ""
	t_tps = st / s_run; x_tps = st / s_x
	printf "%-7s %-33s %8s %14s %14s %13s\n", "shape", "measure", "tasks", "tessera", "xargs -P" np, "tessera/xargs"
	print "------- --------------------------------- -------- -------------- -------------- -------------"
	printf "%-7s %-33s %8d %14s %14s %13s\n", "shell", "run: \"true\" (tasks/s)", st, sprintf("%.0f/s", t_tps), sprintf("%.0f/s", x_tps), sprintf("%.2fx", t_tps / x_tps)
	printf "%-7s %-33s %8d %14s %14s\n", "shell", "us per task", st, sprintf("%.1f", us(s_run, st)), sprintf("%.1f", us(s_x, st))
	print ""
	print "goals:"
	ok = "ok"; miss = "MISSED"
	printf "  end to end < 2 us/task:       reduce %.3f %s, chain %.3f %s\n", r_e2e, (r_e2e < 2 ? ok : miss), c_e2e, (c_e2e < 2 ? ok : miss)
	printf "  scheduler  < 1 us/task:       reduce %.3f %s, chain %.3f %s\n", r_sch, (r_sch < 1 ? ok : miss), c_sch, (c_sch < 1 ? ok : miss)
	if (drt == "")
		print "  >= 20x faster than dask:     - (dask not measured)"
	else {
		printf "  >= 20x faster than dask:      end to end reduce %s %s, chain %s %s; scheduler reduce %s %s, chain %s %s\n",
			ratio(drt, r_run), (drt / r_run >= 20 ? ok : miss), ratio(dct, c_run), (dct / c_run >= 20 ? ok : miss),
			ratio(drg, r_run - r_chk), (drg / (r_run - r_chk) >= 20 ? ok : miss),
			ratio(dcg, c_run - c_chk), (dcg / (c_run - c_chk) >= 20 ? ok : miss)
	}
}'
echo
echo "memory: graph of 10x --memory-limit (bench/sched/memory.yaml)"
/usr/bin/python3 - "$tmp/mem.json" "$MEM_LIMIT_MB" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
limit = int(sys.argv[2]) << 20
total = sum(t["output_bytes"] for t in r["tasks"] if not t["name"].endswith("_bytes"))
print(f"  results {total / 2**20:.0f} MiB = {total / limit:.1f}x the {limit >> 20} MiB limit, in {r['elapsed']:.2f} s")
print(f"  peak results in memory {r['peak_memory'] / 2**20:.1f} MiB; spilled {r['spilled_bytes'] / 2**20:.0f} MiB in {r['spills']} spills, {r['reloads']} reloads")
ok = r["max_rss"] <= limit + (64 << 20)
print(f"  peak RSS {r['max_rss'] / 2**20:.1f} MiB (goal: limit + 64 MiB = {(limit >> 20) + 64} MiB): {'ok' if ok else 'MISSED'}")
P
