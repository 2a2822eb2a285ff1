#!/usr/bin/env bats
# Array expressions: results against numpy, chunk invariance, outputs, errors.

load helpers

numpy_or_skip() {
	/usr/bin/python3 -c "import numpy" 2>/dev/null || skip "numpy is not installed (apt-get install python3-numpy)"
}

@test "228 expressions agree with numpy (values, dtypes, shapes)" {
	numpy_or_skip
	run -0 /usr/bin/python3 tests/array/crosscheck.py "$TESSERA" "$TMP/cc"
	assert_line --partial "case 0: 42 of 42 expressions agree with numpy"
	assert_line --partial "case 1: 65 of 65 expressions agree with numpy"
	assert_line --partial "case 2: 121 of 121 expressions agree with numpy"
}

@test "graphs/pi.yaml estimates pi; the answer does not depend on chunks or workers" {
	run -0 "$TESSERA" run graphs/pi.yaml --set n=2000000 --set chunk=250000
	pi="$output"
	awk -v p="$pi" 'BEGIN { d = p - 3.14159265; exit !(d < 0.005 && d > -0.005) }'
	run -0 "$TESSERA" run graphs/pi.yaml --set n=2000000 --set chunk=333333 -j 1
	[ "$output" = "$pi" ]
	run -0 "$TESSERA" check graphs/pi.yaml --set n=2000000 --set chunk=250000
	assert_line "fusion:  10 array tasks (35 without fusion)"
	assert_line --regexp '^  xy +array +0 tasks \(fused into its users\)$'
}

@test "random arrays are bit-identical whatever the chunks and -j" {
	for c in "(100, 10)" "(333, 37)" "(1000, 1)" "-1"; do
		printf 'tessera: 1\nnodes:\n  r: random.random((1000, 37), chunks=%s, seed=9)\n  n: random.normal(2, 3, size=(1000, 37), chunks=%s, seed=9)\n  k: random.integers(-5, 5, size=(1000, 37), chunks=%s, seed=9)\noutputs: {r: "%s/r.npy", n: "%s/n.npy", k: "%s/k.npy"}\n' \
			"$c" "$c" "$c" "$TMP" "$TMP" "$TMP" > "$TMP/s.yaml"
		for j in 1 2; do
			run -0 "$TESSERA" run "$TMP/s.yaml" -j $j
			for a in r n k; do
				if [ -e "$TMP/$a.ref" ]; then
					cmp "$TMP/$a.npy" "$TMP/$a.ref"
				else
					cp "$TMP/$a.npy" "$TMP/$a.ref"
				fi
			done
		done
	done
	# and they are what they claim: uniform in [0,1), normal(2, 3), integers in [-5, 5)
	numpy_or_skip
	run -0 /usr/bin/python3 -c "
import numpy as np
r, n, k = (np.load('$TMP/' + a + '.ref') for a in 'rnk')
assert r.dtype == np.float64 and 0 <= r.min() and r.max() < 1 and abs(r.mean() - 0.5) < 0.01
assert abs(n.mean() - 2) < 0.1 and abs(n.std() - 3) < 0.1
assert k.dtype == np.int64 and set(np.unique(k)) == set(range(-5, 5))
print('ok')"
	assert_output ok
}

@test "array outputs: repr for scalars, CSV on stdout and in files, .npy files" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  tenth: zeros(3).sum() + 0.1 + 0.2
  big: full((), 1e16)
  small: ones((), dtype="float32") / 3
  n: arange(3, chunks=2) * 2
  m: ones((2, 3), dtype="int32", chunks=(1, 2)) + eye(2, 3, dtype="int32")
  b: arange(4) > 1
outputs:
  tenth: "-"
  big: "-"
  small: "-"
  n: "-"
  m: "-"
  b: b.csv
Y
	cd "$TMP"
	run -0 --separate-stderr "$TESSERA" run s.yaml
	assert_output "$(printf '0.30000000000000004\n1e+16\n0.33333334\n0\n2\n4\n2,1,1\n1,2,1')"
	# the time it took varies with the machine's load
	[[ "$stderr" =~ ^"tessera: wrote b to b.csv: (4,) bool; "[0-9]+\.[0-9][0-9]" s"$ ]] || { echo "stderr: $stderr"; return 1; }
	[ "$(cat b.csv)" = "$(printf 'False\nFalse\nTrue\nTrue')" ]
}

@test "a written array's summary line: min, mean and max of its values, and how many are NaN" {
	# 10 values in chunks of 3 (and a lane's tail): NaN at 0, 3, 6, 9; the rest 1 2 4 5 7 8, and -0.5 and
	# five 20s (sum 126.5 over 12 values); infinities count as values
	spec n.yaml <<'Y'
tessera: 1
nodes:
  x: where(arange(10, chunks=3) % 3 == 0, nan, arange(10, chunks=3) * 1.0)
  y: concatenate([x, full(1, -0.5), full(5, 20.0)])
  z: concatenate([y, full(1, inf)])
outputs: {x: x.npy, y: y.npy, z: z.npy}
Y
	cd "$TMP"
	run -0 "$TESSERA" run n.yaml
	assert_line --regexp '^tessera: wrote x to x.npy: \(10,\) float64, min 1, mean 4.5, max 8 \(4 NaN\); '
	assert_line --regexp '^tessera: wrote y to y.npy: \(16,\) float64, min -0.5, mean 10.5417, max 20 \(4 NaN\); '
	assert_line --regexp '^tessera: wrote z to z.npy: \(17,\) float64, min -0.5, mean inf, max inf \(4 NaN\); '
}

@test "load() reads .npy files in every byte order and layout, by chunks" {
	numpy_or_skip
	/usr/bin/python3 -c "
import numpy as np
a = np.arange(60, dtype='>f8').reshape(6, 10) / 7
np.save('$TMP/be.npy', a)
np.save('$TMP/f.npy', np.asfortranarray(np.arange(60, dtype='<i4').reshape(6, 10)))
np.save('$TMP/u8.npy', np.arange(200, dtype=np.uint8))
"
	spec s.yaml <<Y
tessera: 1
nodes:
  be: load("$TMP/be.npy", chunks=(4, 3))
  f: load("$TMP/f.npy", chunks=(5, 7))
  u: load("$TMP/u8.npy", chunks=64)
  s1: be.sum(axis=0)
  s2: f.sum(axis=1)
  s3: u.sum()
outputs: {s1: "-", s2: "-", s3: "-"}
Y
	"$TESSERA" run "$TMP/s.yaml" > "$TMP/out.txt"
	run -0 /usr/bin/python3 -c "
import numpy as np
got = [float(v) for v in open('$TMP/out.txt')]
a = np.arange(60).reshape(6, 10)
want = list((a / 7).sum(axis=0)) + list(a.sum(axis=1)) + [np.arange(200, dtype=np.uint8).sum()]
# a compensated sum may round the last bit differently from numpy's naive one
assert len(got) == len(want) and np.allclose(got, want, rtol=1e-15, atol=0), (got, want)
print('ok')"
	assert_output ok
}

@test "a reduction over an array 10x the memory limit" {
	spec w.yaml <<Y
tessera: 1
nodes:
  a: random.random((5000000, 4), chunks=(250000, 4), seed=1)
outputs: {a: "$TMP/a.npy"}
Y
	spec r.yaml <<Y
tessera: 1
nodes:
  a: load("$TMP/a.npy", chunks=(250000, 4))
  m: a.mean(axis=0)
  s: a.sum()
outputs: {m: "-", s: "-"}
Y
	# 160 MB of float64 written and read back under a 16 MiB limit
	run -0 "$TESSERA" run "$TMP/w.yaml" --memory-limit 16M --report "$TMP/w.json"
	[ "$(stat -c %s "$TMP/a.npy")" -eq 160000128 ]
	run -0 "$TESSERA" run "$TMP/r.yaml" --memory-limit 16M --report "$TMP/r.json"
	[ "${#lines[@]}" -eq 5 ]
	for v in "${lines[@]:0:4}"; do
		awk -v v="$v" 'BEGIN { exit !(v > 0.499 && v < 0.501) }'
	done
	run -0 python3 -c "
import json, os
for f in ('w', 'r'):
    r = json.load(open('$TMP/' + f + '.json'))
    assert r['peak_memory'] <= (16 << 20) + 8000000, r['peak_memory']  # the limit, plus a chunk in flight
    assert os.environ.get('TESSERA_SANITIZED') or r['max_rss'] <= (16 + 64) << 20, r['max_rss']
print('ok')"
	assert_output ok
	assert_no_spill
}

@test "expression errors point into the expression; exit 3 before anything runs" {
	check() {
		printf 'tessera: 1\nnodes:\n  x: ones((4, 3), chunks=2)\n  y: %s\n' "$1" > "$TMP/e.yaml"
		run -3 --separate-stderr "$TESSERA" check "$TMP/e.yaml"
		[ "$stderr" = "tessera: $TMP/e.yaml:4:$2: $3" ] || { echo "got: $stderr"; return 1; }
	}
	check 'sqrtt(x)' 6 "unknown function 'sqrtt' (did you mean 'sqrt'?)"
	check 'x.sum(axis=2)' 17 "axis 2 is out of bounds for an array of dimension 2"
	check 'x.sum(axs=1)' 12 "sum() got an unexpected keyword 'axs' (did you mean 'axis'?)"
	check 'x + ones(4)' 8 "operands could not be broadcast together with shapes (4,3) (4,)"
	check 'x.astype("float32") & 1' 26 "'&' needs booleans or integers, not float32"
	check 'x + z' 10 "unknown name 'z' (not a node, a parameter or a constant)"
	check 'x.sum(axis=0' 18 "unexpected end of expression (missing ')'?)"
	check 'x.astype("complex")' 15 "unknown dtype 'complex' (tessera has bool, int8, int16, int32, int64, uint8, float32, float64)"
	check 'load("nope.npy")' 11 "cannot read 'nope.npy': No such file or directory"
	check 'x.frobnicate()' 8 "an array has no method 'frobnicate'"
	check 'x.reshape((5, 3))' 16 "cannot reshape an array of size 12 into shape (5,3)"
	check 'x.cumsum()' 8 "'cumsum' is not implemented yet"
}

@test "array ops written as mappings: {op: first_argument, option: value}" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: arange(12).astype("float64")
  y: {sum: x}
  z: {mean: "x * 2", axis: 0, keepdims: true}
  w: {random.integers: 0, high: 10, size: [3], seed: 1}
  v: random.integers(0, 10, size=3, seed=1)
outputs: {y: "-", z: "-", w: "-", v: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	[ "${lines[0]}" = "66.0" ] && [ "${lines[1]}" = "11.0" ]
	[ "${lines[2]} ${lines[3]} ${lines[4]}" = "${lines[5]} ${lines[6]} ${lines[7]}" ]
	printf 'tessera: 1\nnodes:\n  x: arange(3)\n  y: {sum: x, axs: 0}\n' > "$TMP/e.yaml"
	run -3 --separate-stderr "$TESSERA" check "$TMP/e.yaml"
	[ "$stderr" = "tessera: $TMP/e.yaml:4:7: sum() got an unexpected keyword 'axs' (did you mean 'axis'?)" ]
}

@test "identical subexpressions are computed once" {
	run -0 "$TESSERA" check graphs/matmul.yaml
	assert_line --regexp '^  total\.matmul1 +array +80 tasks'
	refute_line --partial "matmul2"
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: ones(3) * 2 + arange(3)
  y: ones(3) * 2 + arange(3)
  z: (x + y).sum()
outputs: {x: "-", y: "-", z: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf '2.0\n3.0\n4.0\n2.0\n3.0\n4.0\n18.0')"
	run -0 "$TESSERA" check "$TMP/s.yaml"
	assert_line --regexp "^  y +array +0 tasks \(the same array as 'x'\)$"
}

@test "load() reads numeric CSV as a 2-d float64 array, by boxes of rows" {
	numpy_or_skip
	/usr/bin/python3 -c "
import numpy as np
a = np.random.default_rng(1).normal(size=(5000, 4))
np.savetxt('$TMP/h.csv', a, delimiter=',', header='a,b,c,d', comments='', fmt='%.17g')
np.savetxt('$TMP/n.csv', a[:, :2], delimiter=',', fmt='%.17g')
np.save('$TMP/a.npy', a)
"
	printf '1,2\r\n,4\r\nNA,6.5\r\n' > "$TMP/crlf.csv"
	spec s.yaml <<Y
tessera: 1
nodes:
  h: load("$TMP/h.csv", chunks=(700, 3))
  n: load("$TMP/n.csv", chunks=(1000, 1))
  c: load("$TMP/crlf.csv")
  hs: h.sum(axis=0)
  ns: n.T @ n
  cs: nansum(c, axis=0)
outputs: {hs: "$TMP/hs.npy", ns: "$TMP/ns.npy", cs: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml" -q
	assert_output "$(printf '1.0\n12.5')"
	run -0 /usr/bin/python3 -c "
import numpy as np
a = np.load('$TMP/a.npy')
assert np.allclose(np.load('$TMP/hs.npy'), a.sum(axis=0), rtol=1e-13)
assert np.allclose(np.load('$TMP/ns.npy'), a[:, :2].T @ a[:, :2], rtol=1e-12)
print('ok')"
	assert_output ok
	printf 'x,y\n1,2\n3,oops\n' > "$TMP/bad.csv"
	printf 'tessera: 1\nnodes:\n  b: load("%s/bad.csv")\n  s: b.sum()\noutputs: {s: "-"}\n' "$TMP" > "$TMP/b.yaml"
	run -1 --separate-stderr "$TESSERA" run "$TMP/b.yaml"
	[[ "$stderr" == *"$TMP/bad.csv:3:2: 'oops' is not a number" ]]
}

@test "load: of a .npy file is an array; in a family of tasks it is the file's bytes" {
	numpy_or_skip
	/usr/bin/python3 -c "import numpy as np; np.save('$TMP/u8.npy', np.arange(200, dtype=np.uint8))"
	spec s.yaml <<Y
tessera: 1
nodes:
  f: {foreach: {i: [u8, u8]}, load: "$TMP/{i}.npy"}
  n: {reduce: f, run: "cat {in} | wc -c"}
  x: {load: $TMP/u8.npy, chunks: 64}
  s: x.sum()
outputs: {n: "-", s: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf '%s\n19900' $((2 * $(stat -c %s "$TMP/u8.npy"))))"
}

@test "a malformed or truncated .npy is a located spec error" {
	printf 'junk' > "$TMP/junk.npy"
	printf 'tessera: 1\nnodes:\n  x: ones(10)\noutputs: {x: "%s/full.npy"}\n' "$TMP" > "$TMP/w.yaml"
	"$TESSERA" run "$TMP/w.yaml"
	head -c 168 "$TMP/full.npy" > "$TMP/short.npy"   # the 128-byte header and 40 of the 80 data bytes
	for f in junk short; do
		printf 'tessera: 1\nnodes:\n  x: load("%s/%s.npy")\n' "$TMP" "$f" > "$TMP/e.yaml"
		run -3 --separate-stderr "$TESSERA" check "$TMP/e.yaml"
		echo "$stderr"
		[[ "$stderr" == "tessera: $TMP/e.yaml:3:11: $TMP/$f.npy: "* ]]
	done
	[[ "$stderr" == *"truncated: 80 bytes of data expected, 40 present" ]]
}

@test "a task reading more files than it keeps open reads them all correctly" {
	numpy_or_skip
	/usr/bin/python3 -c "import numpy as np; np.save('$TMP/u8.npy', np.arange(200, dtype=np.uint8))"
	for i in $(seq 0 9); do ln -s "$TMP/u8.npy" "$TMP/u8_$i.npy"; done
	{
		printf 'tessera: 1\nnodes:\n'
		for i in $(seq 0 9); do printf '  a%d: load("%s/u8_%d.npy", chunks=50) * %d\n' $i "$TMP" $i $i; done
		printf '  s: (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9).sum()\noutputs: {s: "-"}\n'
	} > "$TMP/s.yaml"
	run -0 "$TESSERA" run "$TMP/s.yaml"
	# uint8 times a literal stays uint8 and wraps, in numpy too
	assert_output "$(/usr/bin/python3 -c "
import numpy as np
a = np.arange(200, dtype=np.uint8)
print(sum((a * i for i in range(10)), np.zeros(200, np.uint8)).sum())")"
}

@test "sums over rows of up to 8192 values have numpy's bits, whatever the chunking" {
	numpy_or_skip
	# numpy sums a contiguous row pairwise in blocks of 128; Tessera sums a row of up to 8192
	# values as one run in the same order (kernels.h), so the bits agree, not just the digits.
	spec s.yaml <<Y
tessera: 1
nodes:
  x: random.random((40, 8192), chunks=(40, 8192), seed=4)
  a: x[:, :5000].sum(axis=1)
  b: x.sum(axis=1)
  c: x[:, :2049].mean(axis=-1)
  d: x.rechunk((7, 8192)).sum(axis=1)
outputs: {x: "$TMP/x.npy", a: "$TMP/a.npy", b: "$TMP/b.npy", c: "$TMP/c.npy", d: "$TMP/d.npy"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml" -q
	run -0 /usr/bin/python3 -c "
import numpy as np
x = np.load('$TMP/x.npy')
for name, want in (('a', x[:, :5000].sum(axis=1)), ('b', x.sum(axis=1)), ('c', x[:, :2049].mean(axis=-1)),
                   ('d', x.sum(axis=1))):
    got = np.load('$TMP/%s.npy' % name)
    assert got.tobytes() == want.tobytes(), (name, int((got != want).sum()))
print('ok')"
	assert_output ok
}

@test "a chunk and its mirror, reduced together, give the bits of each reduced alone" {
	numpy_or_skip
	# (x * x[::-1, ::-1]) reads the same random values in a chunk and in its mirror, so the two
	# are reduced in one task, tile by tile (x: tiles of 256 rows pair up) or from whole boxes
	# (y: tiles of 327 rows do not); at -m 2M the boxes do not fit and each chunk is reduced
	# alone. Every way must give the same bits, and numpy's values.
	spec s.yaml <<Y
tessera: 1
nodes:
  x: random.random((4096, 64), chunks=(1024, 32), seed=5)
  y: random.random((4000, 50), chunks=(1000, 25), seed=6)
  a: (x * x[::-1, ::-1]).sum()
  b: (x * x[::-1, ::-1]).mean(axis=1)
  c: (x[::-1, ::-1] * x).std()
  d: (x * x[::-1, ::-1] - 0.5).max()
  e: ((x * x[::-1, ::-1]) < 0.2).sum()
  f: (y * y[::-1, ::-1]).sum()
  g: (x * x[::-1, ::-1]).mean()
outputs: {a: a.npy, b: b.npy, c: c.npy, d: d.npy, e: e.npy, f: f.npy, g: g.npy}
Y
	spec xy.yaml <<Y
tessera: 1
nodes:
  x: random.random((4096, 64), chunks=(1024, 32), seed=5)
  y: random.random((4000, 50), chunks=(1000, 25), seed=6)
outputs: {x: x.npy, y: y.npy}
Y
	mkdir "$TMP/paired" "$TMP/alone"
	(cd "$TMP/paired" && "$TESSERA" run ../s.yaml -q -j2) || fail "paired run failed"
	(cd "$TMP/alone" && "$TESSERA" run ../s.yaml -q -j2 -m 2M) || fail "run at -m 2M failed"
	(cd "$TMP" && "$TESSERA" run xy.yaml -q) || fail "writing x and y failed"
	for n in a b c d e f g; do
		cmp "$TMP/paired/$n.npy" "$TMP/alone/$n.npy" || fail "$n differs between paired and alone"
	done
	run -0 /usr/bin/python3 -c "
import numpy as np
x, y = np.load('$TMP/x.npy'), np.load('$TMP/y.npy')
p, q = x * x[::-1, ::-1], y * y[::-1, ::-1]
want = dict(a=p.sum(), b=p.mean(axis=1), c=p.std(), d=(p - 0.5).max(), e=(p < 0.2).sum(), f=q.sum(), g=p.mean())
for n, w in want.items():
    got = np.load('$TMP/paired/%s.npy' % n)
    assert got.shape == np.shape(w) and np.allclose(got, w, rtol=1e-13, atol=0), (n, got, w)
    if n in 'de':
        assert got == w, (n, got, w)
print('ok')"
	assert_output ok
}

@test "nanvar and nanstd skip NaN as numpy's do, over any axes, across chunks" {
	numpy_or_skip
	spec s.yaml <<Y
tessera: 1
nodes:
  x: 'where(random.random((301, 47), seed=3) < 0.2, nan, random.normal(size=(301, 47), seed=4))'
  v0: nanvar(x, axis=0, ddof=1)
  v1: x.nanvar(axis=1)
  s: nanstd(x, ddof=2)
  c: 'where(arange(47) < 46, nan, x[:, :1]).nanvar(axis=1, ddof=1)'
outputs: {x: "$TMP/x.npy", v0: "$TMP/v0.npy", v1: "$TMP/v1.npy", s: "$TMP/s.npy", c: "$TMP/c.npy"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml" -q --chunk-size 8K
	run -0 /usr/bin/python3 -c "
import numpy as np, warnings
warnings.simplefilter('ignore')
x = np.load('$TMP/x.npy')
assert np.isnan(x).sum() > 2000
assert np.allclose(np.load('$TMP/v0.npy'), np.nanvar(x, axis=0, ddof=1), rtol=1e-13, atol=0)
assert np.allclose(np.load('$TMP/v1.npy'), np.nanvar(x, axis=1), rtol=1e-13, atol=0)
assert np.allclose(np.load('$TMP/s.npy'), np.nanstd(x, ddof=2), rtol=1e-13, atol=0)
c = np.load('$TMP/c.npy')
assert np.isnan(c).all() and c.shape == (301,), c  # one value per row: ddof=1 leaves 0/0
print('ok')"
	assert_output ok
}

@test "chains of operations on one array and constants keep numpy's bits" {
	numpy_or_skip
	# a * 2 + 1 and the like run link after link over small blocks of values (eval.c, chains):
	# each value must still get numpy's operations in numpy's order, so the bits agree. The
	# sources come from a .npy file, a generator and a slice. (numpy's own SIMD pow and arctan2
	# differ from the C library's in the last bit, so those stay out.)
	spec g.yaml <<Y
tessera: 1
nodes:
  x: random.normal(0, 3, size=(3000, 700), chunks=(1000, 350), seed=21)
outputs: {x: "$TMP/x.npy"}
Y
	run -0 "$TESSERA" run "$TMP/g.yaml" -q
	spec s.yaml <<Y
tessera: 1
nodes:
  x: random.normal(0, 3, size=(3000, 700), chunks=(1000, 350), seed=21)
  y: load("$TMP/x.npy", chunks=(512, 700))
  a: ((x * 2 + 1) / 3 - 0.5) ** 2
  b: -sqrt(abs(y) + 1) * 2.5
  c: floor(y * 3) % 2 + ceil(-y) // 4
  d: (x / 4) ** 2 - maximum(x, 0.25) / minimum(x + 7, 9) + 2 ** 3
  e: ((y[::2, 100:] - 1) * (1 / 3)).sum(axis=1)
  f: (1 - x / 7) * 3
Y
	run -0 "$TESSERA" run "$TMP/s.yaml" a b c d e f -q -o a="$TMP/a.npy" -o b="$TMP/b.npy" \
		-o c="$TMP/c.npy" -o d="$TMP/d.npy" -o e="$TMP/e.npy" -o f="$TMP/f.npy"
	run -0 /usr/bin/python3 -c "
import numpy as np
x = y = np.load('$TMP/x.npy')
want = {'a': ((x * 2 + 1) / 3 - 0.5) ** 2, 'b': -np.sqrt(np.abs(y) + 1) * 2.5,
        'c': np.floor(y * 3) % 2 + np.ceil(-y) // 4,
        'd': (x / 4) ** 2 - np.maximum(x, 0.25) / np.minimum(x + 7, 9) + 2 ** 3,
        'e': ((y[::2, 100:] - 1) * (1 / 3)).sum(axis=1), 'f': (1 - x / 7) * 3}
for name, w in sorted(want.items()):
    got = np.load('$TMP/%s.npy' % name)
    assert got.dtype == w.dtype and got.shape == w.shape, name
    assert got.tobytes() == w.tobytes(), (name, int((got != w).sum()))
print('ok')"
	assert_output ok
}

@test "an array target that is not an output prints as text, like an output to -" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: arange(6, chunks=3).reshape((2, 3)) * 1.5
  s: x.sum()
  c: ones((2, 3, 4), chunks=(1, 3, 4))
Y
	run -0 "$TESSERA" run "$TMP/s.yaml" s -q
	assert_output "22.5"
	run -0 "$TESSERA" run "$TMP/s.yaml" x -q
	assert_output "$(printf '0.0,1.5,3.0\n4.5,6.0,7.5')"
	run -2 "$TESSERA" run "$TMP/s.yaml" c -q
	assert_output "tessera: target 'c': a 3-d array can only be written to a .npy file (-o c=PATH.npy)"
	run -2 "$TESSERA" run "$TMP/s.yaml" 'x[0]' -q
	assert_output "tessera: target 'x[0]': an array target takes the whole array 'x'"
}
