#!/usr/bin/env bats
# CSV dataframes: hand-checked results, quoting and partitions, stdin and
# compressed input, output formats, larger than memory, pandas' values, and
# bad input.

load helpers

pandas_or_skip() {
	/usr/bin/python3 -c "import pandas" 2>/dev/null || skip "pandas is not installed (apt-get install python3-pandas)"
}

@test "graphs/weather.yaml: rainy days per place and weather, hand-checked against awk" {
	run -0 --separate-stderr "$TESSERA" run -q graphs/weather.yaml
	[ "${lines[0]}" = "location,weather,days,rain,tmax" ]
	# an independent count with awk (no quoted fields in this file)
	want=$(awk -F, 'NR > 1 && $3 > 0 { n[$1 "," $7]++ } END { for (k in n) print k "," n[k] }' examples/data/weather.csv | LC_ALL=C sort)
	got=$(printf '%s\n' "${lines[@]:1}" | cut -d, -f1-3)
	[ "$got" = "$want" ]
	# Seattle,rain: the sum of precipitation, to the digit
	rain=$(awk -F, 'NR > 1 && $3 > 0 && $1 == "Seattle" && $7 == "rain" { s += $3 } END { printf "%.6f", s }' examples/data/weather.csv)
	got=$(printf '%s\n' "${lines[@]}" | awk -F, '$1 == "Seattle" && $2 == "rain" { printf "%.6f", $4 }')
	[ "$got" = "$rain" ]
}

@test "tessera csv: filters keep input order and the text of untouched fields byte for byte" {
	printf 'zip,name,x\n02134,"Boston, MA",1.50\n10001,NYC,0.10\n00501,"say ""hi""",2.000\n' > "$TMP/z.csv"
	run -0 "$TESSERA" csv 'df[df.x > 1]' "$TMP/z.csv"
	assert_output "$(printf 'zip,name,x\n02134,"Boston, MA",1.50\n00501,"say ""hi""",2.000')"
	run -0 "$TESSERA" csv 'df.assign(y=df.x * 2)[["zip", "y"]]' "$TMP/z.csv"
	assert_output "$(printf 'zip,y\n02134,3.0\n10001,0.2\n00501,4.0')"
	run -0 "$TESSERA" csv 'df.x.sum()' "$TMP/z.csv"
	assert_output "3.6"
	run -0 "$TESSERA" csv 'len(df)' "$TMP/z.csv"
	assert_output "3"
	run -0 "$TESSERA" csv 'df.zip.max()' "$TMP/z.csv"   # an int column: leading zeros are not text
	assert_output "10001"
}

@test "tessera csv: groupby short forms, value_counts, sort and head" {
	printf 'k,v\nb,1\na,2\nb,3\nc,\na,5\nb,6\n' > "$TMP/g.csv"
	run -0 "$TESSERA" csv 'df.groupby("k").v.sum()' "$TMP/g.csv"
	assert_output "$(printf 'k,v\na,7\nb,10\nc,0')"
	run -0 "$TESSERA" csv 'df.groupby("k").v.mean()' "$TMP/g.csv"
	assert_output "$(printf 'k,v\na,3.5\nb,3.3333333333333335\nc,')"
	run -0 "$TESSERA" csv 'df.groupby("k").size()' "$TMP/g.csv"
	assert_output "$(printf 'k,size\na,2\nb,3\nc,1')"
	run -0 "$TESSERA" csv 'df.k.value_counts()' "$TMP/g.csv"
	assert_output "$(printf 'k,count\nb,3\na,2\nc,1')"
	run -0 "$TESSERA" csv 'df.sort_values("v", ascending=False).head(2)' "$TMP/g.csv"
	assert_output "$(printf 'k,v\nb,6\na,5')"
	run -0 "$TESSERA" csv 'df.v.count()' "$TMP/g.csv"
	assert_output "5"
	run -0 "$TESSERA" csv --output-format jsonl 'df.groupby("k").agg(n=("v", "count"), hi=("v", "max"))' "$TMP/g.csv"
	assert_output "$(printf '{"k":"a","n":2,"hi":5}\n{"k":"b","n":3,"hi":6}\n{"k":"c","n":0,"hi":null}')"
}

@test "tessera csv: quoted newlines across partition boundaries, CRLF, stdin, gzip and zstd give one answer" {
	/usr/bin/python3 - "$TMP/q.csv" <<'EOF'
import sys
with open(sys.argv[1], "w", newline="") as f:
    f.write("id,text,v\r\n")
    for i in range(30000):
        t = f'"row {i}\nsecond line, with ""quotes"""' if i % 7 == 0 else f"row {i}"
        f.write(f"{i},{t},{i % 10}\r\n")
EOF
	want="135000"
	run -0 "$TESSERA" csv --blocksize 64KiB 'df.v.sum()' "$TMP/q.csv"
	assert_output "$want"
	run -0 "$TESSERA" csv --blocksize 64KiB 'len(df[df.text.str.contains("second")])' "$TMP/q.csv"
	assert_output "4286"
	run -0 "$TESSERA" csv --blocksize 64KiB 'df.v.sum()' < "$TMP/q.csv"
	assert_output "$want"
	gzip -c "$TMP/q.csv" > "$TMP/q.data"
	run -0 "$TESSERA" csv --blocksize 64KiB 'df.v.sum()' "$TMP/q.data"
	assert_output "$want"
	zstd -q -c "$TMP/q.csv" | "$TESSERA" csv --blocksize 64KiB 'df.v.sum()' > "$TMP/out"
	[ "$(cat "$TMP/out")" = "$want" ]
	# a filter over many partitions writes every record once, in order, header once
	run -0 "$TESSERA" csv --blocksize 64KiB 'df[df.v == 3][["id"]]' "$TMP/q.csv"
	[ "${#lines[@]}" -eq 3001 ] && [ "${lines[0]}" = "id" ] && [ "${lines[1]}" = "3" ] && [ "${lines[3000]}" = "29993" ]
	assert_no_spill
}

@test "tessera run: a groupby over a file 4x the memory limit stays under the limit" {
	/usr/bin/python3 - "$TMP/big.csv" <<'EOF'
import random, sys
r = random.Random(5)
with open(sys.argv[1], "w") as f:
    f.write("id,key,a\n")
    for s in range(0, 5_000_000, 100_000):
        f.write("".join(f"{i},k{r.randrange(500)},{r.random():.6f}\n" for i in range(s, s + 100_000)))
EOF
	size=$(stat -c %s "$TMP/big.csv")
	[ "$size" -gt $((96 * 1024 * 1024)) ]
	spec big.yaml <<EOF
tessera: 1
nodes:
  d: read_csv("$TMP/big.csv")
  g: d.groupby("key").agg(n=("a", "count"), m=("a", "mean"))
  s: d.a.sum()
outputs:
  g: $TMP/g.csv
  s: "-"
EOF
	run -0 /usr/bin/time -f 'rss %M' "$TESSERA" run -q -m 24M -j 2 "$TMP/big.yaml"
	rss=$(printf '%s\n' "$output" | awk '/^rss/ { print $2 }')
	[ -n "$TESSERA_SANITIZED" ] || [ "$rss" -lt 24576 ] || { echo "peak RSS ${rss} KiB"; return 1; }
	n=$(awk -F, 'NR > 1 { s += $2 } END { print s }' "$TMP/g.csv")
	[ "$n" = "5000000" ]
	[ "$(wc -l < "$TMP/g.csv")" -eq 501 ]
	assert_no_spill
}

@test "tessera csv: bad input names the file, line and column; no partial output" {
	printf 'a,b\n1,2\n3,4,5\n' > "$TMP/ragged.csv"
	run -1 --separate-stderr "$TESSERA" csv 'df.a.sum()' "$TMP/ragged.csv"
	[[ "$stderr" == "tessera: "*"$TMP/ragged.csv:3:"*"expected 2 fields"* ]] || { echo "$stderr"; return 1; }
	printf 'a,b\n1,"open\n' > "$TMP/open.csv"
	run -1 --separate-stderr "$TESSERA" csv 'df.a.sum()' "$TMP/open.csv"
	[[ "$stderr" == *"$TMP/open.csv:2"*"unterminated"* ]] || { echo "$stderr"; return 1; }
	# past the sample the types are inferred from (about 1 MiB)
	{ printf 'a,b\n'; seq 1 200000 | awk '{ print $1 "," $1 }'; echo 'x7,1'; } > "$TMP/type.csv"
	run -1 --separate-stderr "$TESSERA" csv -o "$TMP/out.csv" 'df[df.a > 0]' "$TMP/type.csv"
	[[ "$stderr" == *"$TMP/type.csv:200002:1: column 'a': 'x7' is not an integer"* ]] || { echo "$stderr"; return 1; }
	[ ! -e "$TMP/out.csv" ]
	: > "$TMP/empty.csv"
	run -1 --separate-stderr "$TESSERA" csv 'len(df)' "$TMP/empty.csv"
	[[ "$stderr" == *"empty"* ]] || { echo "$stderr"; return 1; }
	printf 'temp,b\n1,2\n' > "$TMP/t.csv"
	run -3 --separate-stderr "$TESSERA" csv 'df.tmp.sum()' "$TMP/t.csv"
	[ "$stderr" = "tessera: expression:1:4: no column 'tmp' (did you mean 'temp'?)" ]
	run -3 --separate-stderr "$TESSERA" csv 'df[df.b > "x"]' "$TMP/t.csv"
	[ "$stderr" = "tessera: expression:1:11: a string constant cannot be compared with or stand for a int64 column" ]
	run -3 --separate-stderr "$TESSERA" csv 'len(df)' "$TMP/nope.csv"
	[[ "$stderr" == *"nope.csv"* ]] || { echo "$stderr"; return 1; }
	assert_no_spill
}

@test "frame results agree with pandas (crosscheck.py)" {
	pandas_or_skip
	run -0 /usr/bin/python3 tests/frame/crosscheck.py "$TESSERA"
	echo "$output" | tail -3
	assert_output --partial "agree with pandas"
	refute_output --partial "FAIL"
}

# A CSV of about 1 MiB for to_array(): quoted newlines, CRLF, blank lines,
# missing values, a bool and a string column; 64 KiB blocks cut it into ~20.
to_array_csv() {
	/usr/bin/python3 - "$1" <<'PY'
import random, sys
r = random.Random(11)
with open(sys.argv[1], "w", newline="") as f:
    f.write("id,name,v,f,b\r\n")
    for i in range(20000):
        name = f'"n {i}\nsecond, ""line"""' if i % 9 == 0 else f"n{i}"
        v = "" if i % 13 == 0 else str(r.randrange(-50, 50))
        x = "NA" if i % 17 == 0 else f"{r.random():.6f}"
        f.write(f"{i},{name},{v},{x},{'True' if r.random() < 0.3 else 'False'}\r\n")
        if i % 1500 == 0:
            f.write("\r\n")
PY
}

@test "to_array(): CSV columns into array ops and pairwise_distance over many partitions, against pandas and scipy" {
	pandas_or_skip
	/usr/bin/python3 -c "import scipy" 2>/dev/null || skip "scipy is not installed (apt-get install python3-scipy)"
	to_array_csv "$TMP/t.csv"
	spec t.yaml <<EOF
tessera: 1
nodes:
  w: read_csv("$TMP/t.csv", blocksize="64KiB")
  x: w[["id", "v", "f", "b"]].to_array()
  m: x.nanmean(axis=0)
  wet: w[w.f > 0.5][["f", "v", "id"]].to_array()
  s: wet.sum(axis=0)
  d: pairwise_distance(w[w.f > 0.5][["f", "id"]].to_array()[:60], metric="cityblock")
  v: w.v.to_array()
  g: w.groupby("b").agg(n=("id", "count"), f=("f", "mean")).to_array()
  top: w.dropna().sort_values("f", ascending=False).head(25)[["id", "f"]].to_array()
outputs:
  x: $TMP/x.npy
  m: $TMP/m.npy
  wet: $TMP/wet.npy
  s: $TMP/s.npy
  d: $TMP/d.npy
  v: $TMP/v.npy
  g: $TMP/g.npy
  top: $TMP/top.npy
EOF
	# one chunk per partition: the rows are counted when the graph is built
	run -0 "$TESSERA" check "$TMP/t.yaml"
	parts=$(printf '%s\n' "$output" | awk '$1 == "x" && $2 == "array" { print $3 }')
	[ "$parts" -ge 8 ] || { echo "$output"; return 1; }
	run -0 "$TESSERA" run -q -j 2 "$TMP/t.yaml"
	run -0 /usr/bin/python3 - "$TMP" <<'PY'
import sys
import numpy as np, pandas as pd
from scipy.spatial.distance import cdist
t = sys.argv[1]
w = pd.read_csv(f"{t}/t.csv")
def same(name, want):
    got = np.load(f"{t}/{name}.npy")
    assert got.dtype == np.float64, (name, got.dtype)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    assert np.allclose(got, want, rtol=1e-12, atol=0, equal_nan=True), (name, np.nanmax(np.abs(got - want)))
x = w[["id", "v", "f", "b"]].to_numpy(dtype=float)
same("x", x)
same("m", np.nanmean(x, axis=0))
wet = w[w.f > 0.5][["f", "v", "id"]].to_numpy(dtype=float)
same("wet", wet)
same("s", wet.sum(axis=0))
y = w[w.f > 0.5][["f", "id"]].to_numpy(dtype=float)[:60]
same("d", cdist(y, y, "cityblock"))
same("v", w.v.to_numpy(dtype=float))
same("g", w.groupby("b").agg(n=("id", "count"), f=("f", "mean")).reset_index().to_numpy(dtype=float))
same("top", w.dropna().sort_values("f", ascending=False, kind="stable").head(25)[["id", "f"]].to_numpy(dtype=float))
print("agree")
PY
	assert_output "agree"
	assert_no_spill
}

@test "to_array(): stdin and an empty result; strings, dates, single values and arguments are located spec errors" {
	printf 'a,b,s,d\n1,2.5,x,2020-01-02\n3,,y,2020-01-03\n' > "$TMP/s.csv"
	run -0 "$TESSERA" csv 'df[["a", "b"]].to_array().sum(axis=0)' < "$TMP/s.csv"
	assert_output "$(printf '4.0\nnan')"
	run -0 "$TESSERA" csv 'df[df.a > 10][["a", "b"]].to_array().sum()' "$TMP/s.csv"
	assert_output "0.0"
	run -3 --separate-stderr "$TESSERA" csv 'df[["a", "s"]].to_array()' "$TMP/s.csv"
	[ "$stderr" = "tessera: expression:1:16: column 's' is a string; to_array() needs numeric columns (int64, float64, bool)" ]
	run -3 --separate-stderr "$TESSERA" csv 'df.d.to_array()' "$TMP/s.csv"
	[ "$stderr" = "tessera: expression:1:6: column 'd' is a date; to_array() needs numeric columns (int64, float64, bool)" ]
	run -3 --separate-stderr "$TESSERA" csv 'df.a.sum().to_array()' "$TMP/s.csv"
	[ "$stderr" = "tessera: expression:1:12: to_array() of a single value: it takes a frame or a column" ]
	run -3 --separate-stderr "$TESSERA" csv 'df.drop(columns=["a", "b", "s", "d"]).to_array()' "$TMP/s.csv"
	[ "$stderr" = "tessera: expression:1:39: to_array() of a frame with no columns" ]
	run -3 --separate-stderr "$TESSERA" csv 'df[["a"]].to_array(chunks=2)' "$TMP/s.csv"
	[[ "$stderr" == "tessera: expression:1:20: to_array() takes no arguments"* ]] || { echo "$stderr"; return 1; }
	run -3 --separate-stderr "$TESSERA" csv 'df.a.to_numpy()' "$TMP/s.csv"
	[ "$stderr" = "tessera: expression:1:1: to_numpy() is spelled to_array() here" ]
	assert_no_spill
}
