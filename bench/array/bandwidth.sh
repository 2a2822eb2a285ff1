#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-array, bandwidth rows: reductions over a cached 1.6 GB .npy
# (50,000,000 x 4 float64, chunks of 1,000,000 rows) against the machine's
# memory read bandwidth (readbw.c, the same number of threads). The issue's
# goal: elementwise-and-reduce pipelines at >= 50% of it. See README.md.
#   bench/array/bandwidth.sh        (uses ./tessera as built)
# Knobs: JOBS (default nproc), RUNS (hyperfine runs, 15), TESSERA, CC,
#   BW_DIR (where the 1.6 GB file goes; default a temporary directory,
#   removed at the end).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
TESSERA=${TESSERA:-$root/tessera}
JOBS=${JOBS:-$(nproc)}
RUNS=${RUNS:-15}
CC=${CC:-cc}
export LC_ALL=C

die() { echo "bench-array bandwidth: $*" >&2; exit 1; }
[ -x "$TESSERA" ] || die "no tessera binary at $TESSERA (run make first, or set TESSERA)"
command -v hyperfine >/dev/null 2>&1 || die "hyperfine is needed (apt-get install hyperfine)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-bw.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT
dir=${BW_DIR:-$tmp}
cp "$TESSERA" "$tmp/tessera" || die "cannot copy $TESSERA"
T=$tmp/tessera

"$CC" -O3 -march=native -pthread "$here/readbw.c" -o "$tmp/readbw" || die "cannot build readbw.c"
floor=$("$tmp/readbw" "$JOBS") || die "readbw failed"

cat >"$tmp/make.yaml" <<Y
tessera: 1
nodes:
  a: random.random((50000000, 4), chunks=(1000000, 4), seed=5)
outputs:
  a: "$dir/bw.npy"
Y
[ -f "$dir/bw.npy" ] || "$T" run "$tmp/make.yaml" -q -j "$JOBS" || die "cannot write $dir/bw.npy"
bytes=$(stat -c %s "$dir/bw.npy")
cat >"$tmp/read.yaml" <<Y
tessera: 1
nodes:
  a: load("$dir/bw.npy", chunks=(1000000, 4))
  sum: a.sum()
  affine: (a * 2 + 1).sum()
  square: (a ** 2).sum()
  sqrt: sqrt(a).mean()
outputs: {sum: "-", affine: "-", square: "-", sqrt: "-"}
Y

echo "bench-array bandwidth: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), tessera -j $JOBS"
echo "memory read bandwidth (readbw.c, $JOBS threads, best of 5): $floor GB/s"
echo "file: $bytes bytes, cached (each command runs 2 times untimed first); whole process timed"
printf '%-24s %10s %10s %8s\n' expression "best s" "GB/s" "of floor"
for t in sum affine square sqrt; do
	json=$tmp/$t.json
	hyperfine -N --runs "$RUNS" --warmup 2 --export-json "$json" "$T run $tmp/read.yaml $t -q -j $JOBS" \
		>/dev/null 2>&1 || die "the $t run failed"
	best=$(python3 -c "import json,sys; print(min(json.load(open(sys.argv[1]))['results'][0]['times']))" "$json")
	expr=$(sed -n "s/^  $t: //p" "$tmp/read.yaml")
	awk -v e="$expr" -v b="$best" -v n="$bytes" -v f="$floor" \
		'BEGIN { g = n / b / 1e9; printf "%-24s %10.4f %10.1f %7.0f%%\n", e, b, g, 100 * g / f }'
done
