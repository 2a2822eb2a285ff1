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
	# a column result is headed by the name pandas gives the Series
	run -0 "$TESSERA" csv '(df.x * 2).round(1)' "$TMP/z.csv"
	assert_output "$(printf 'x\n3.0\n0.2\n4.0')"
	run -0 "$TESSERA" csv 'df.x + df.zip' "$TMP/z.csv"
	assert_line -n 0 value
}

@test "str.upper and str.lower map Unicode as Python does (ß, İ, final sigma, Cyrillic), bad UTF-8 passes" {
	printf 'name\nStraße\nİstanbul\nΟΔΥΣΣΕΥΣ\nÉcole Ünïcödé\nσοφός ΣΑΣ\nПривет Мир\nɐbc\nMIXed 123\nΣ\nAΣ\n' > "$TMP/u.csv"
	run -0 "$TESSERA" csv 'df.name.str.upper()' "$TMP/u.csv"
	assert_output "$(printf 'name\nSTRASSE\nİSTANBUL\nΟΔΥΣΣΕΥΣ\nÉCOLE ÜNÏCÖDÉ\nΣΟΦΌΣ ΣΑΣ\nПРИВЕТ МИР\nⱯBC\nMIXED 123\nΣ\nAΣ')"
	run -0 "$TESSERA" csv 'df.name.str.lower()' "$TMP/u.csv"
	assert_output "$(printf 'name\nstraße\ni\xcc\x87stanbul\nοδυσσευς\nécole ünïcödé\nσοφός σας\nпривет мир\nɐbc\nmixed 123\nσ\naς')"
	# the same as Python's str methods (what pandas calls) on every row
	/usr/bin/python3 - "$TMP/u.csv" "$TESSERA" <<'EOF'
import csv, subprocess, sys
names = [r[0] for r in list(csv.reader(open(sys.argv[1], encoding="utf-8")))[1:]]
for fn in ("upper", "lower"):
    out = subprocess.run([sys.argv[2], "csv", f"df.name.str.{fn}()", sys.argv[1]], capture_output=True, check=True)
    got = [r[0] for r in list(csv.reader(out.stdout.decode().splitlines()))[1:]]
    want = [getattr(n, fn)() for n in names]
    assert got == want, (fn, got, want)
EOF
	printf 'name\nab\xffc\n' > "$TMP/bad.csv"
	run -0 "$TESSERA" csv 'df.name.str.upper()' "$TMP/bad.csv"
	[ "$output" = "$(printf 'name\nAB\xffC')" ]
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

@test "tessera csv: quantile, median and describe, hand-checked; exact on small groups, within 1% on large ones" {
	printf 'k,v,f\nb,1,0.5\na,2,\nb,3,1.5\nc,,2.5\na,5,3.0\nb,6,-1\n' > "$TMP/q.csv"
	# v: 1 2 3 5 6 (c's is missing); f: -1 0.5 1.5 2.5 3.0; pandas interpolates at position q (n - 1)
	run -0 "$TESSERA" csv 'df.v.median()' "$TMP/q.csv"
	assert_output "3.0"
	run -0 "$TESSERA" csv 'df.v.quantile(0.9)' "$TMP/q.csv"   # position 3.6: 5 + 0.6 (6 - 5)
	assert_output "5.6"
	run -0 "$TESSERA" csv 'df.v.quantile([0.25, 0.5, 1])' "$TMP/q.csv"
	assert_output "$(printf 'quantile,v\n0.25,2.0\n0.5,3.0\n1.0,6.0')"
	# a: 2 5 -> 2 + 0.75 (5 - 2); b: 1 3 6 -> position 1.5: 3 + 0.5 (6 - 3); c: no value
	run -0 "$TESSERA" csv 'df.groupby("k").v.quantile(0.75)' "$TMP/q.csv"
	assert_output "$(printf 'k,v\na,4.25\nb,4.5\nc,')"
	run -0 "$TESSERA" csv 'df.groupby("k").agg(m=("v", "median"), q=("f", "quantile"), n=("v", "count"))' "$TMP/q.csv"
	assert_output "$(printf 'k,m,q,n\na,3.5,3.0,2\nb,3.0,0.5,3\nc,,2.5,0')"
	run -0 "$TESSERA" csv 'df.groupby("k").median()' "$TMP/q.csv"
	assert_output "$(printf 'k,v,f\na,3.5,3.0\nb,3.0,0.5\nc,,2.5')"
	# std: sqrt(17.2 / 4) and sqrt(10.3 / 4); 25% of v at position 1, 75% at position 3
	run -0 "$TESSERA" csv 'df.describe()' "$TMP/q.csv"
	assert_output "$(printf 'index,v,f\ncount,5.0,5.0\nmean,3.4,1.3\nstd,2.0736441353327724,1.6046806535881213\nmin,1.0,-1.0\n25%%,2.0,0.5\n50%%,3.0,1.5\n75%%,5.0,2.5\nmax,6.0,3.0')"
	run -0 "$TESSERA" csv 'df.v.describe(percentiles=[0.1])' "$TMP/q.csv"
	assert_output "$(printf 'index,v\ncount,5.0\nmean,3.4\nstd,2.0736441353327724\nmin,1.0\n10%%,1.4\n50%%,3.0\nmax,6.0')"
	# text: count, unique, top, freq; k is b 3 times, a twice, c once
	run -0 "$TESSERA" csv 'df.k.describe()' "$TMP/q.csv"
	assert_output "$(printf 'index,k\ncount,6\nunique,3\ntop,b\nfreq,3')"
	run -0 "$TESSERA" csv 'df.describe(include="all")' "$TMP/q.csv"
	assert_output "$(printf 'index,k,v,f\ncount,6,5.0,5.0\nunique,3,,\ntop,b,,\nfreq,3,,\nmean,,3.4,1.3\nstd,,2.0736441353327724,1.6046806535881213\nmin,,1.0,-1.0\n25%%,,2.0,0.5\n50%%,,3.0,1.5\n75%%,,5.0,2.5\nmax,,6.0,3.0')"
	# no number columns: every column; a tie for the top goes to the value that sorts first, as
	# value_counts() lists them (a: x twice; b: True and False once each; c: 2020-01-02 twice)
	printf 'a,b,c\nx,True,2020-01-02\ny,False,2020-01-02\nx,,2020-01-03\n' > "$TMP/t.csv"
	run -0 "$TESSERA" csv 'df.describe()' "$TMP/t.csv"
	assert_output "$(printf 'index,a,b,c\ncount,3,2,3\nunique,2,2,2\ntop,x,False,2020-01-02\nfreq,2,1,2')"
	run -0 "$TESSERA" csv 'df[df.a == "z"].a.describe()' "$TMP/t.csv"
	assert_output "$(printf 'index,a\ncount,0\nunique,0\ntop,\nfreq,')"
	# counts add up across 7 partitions: over i = 0 .. 70000, key (3 i mod 7) is key0 10001 times and
	# each other key 10000 times; two more key3 rows (i = 70001) put key3 on top
	seq 0 70000 | awk 'BEGIN { print "k" } { print "key" ($1 * 3 % 7) }' > "$TMP/k.csv"
	run -0 "$TESSERA" csv --blocksize 64KiB 'df.k.describe()' "$TMP/k.csv"
	assert_output "$(printf 'index,k\ncount,70001\nunique,7\ntop,key0\nfreq,10001')"
	printf 'key3\nkey3\n' >> "$TMP/k.csv"
	run -0 "$TESSERA" csv --blocksize 64KiB 'df.k.describe()' "$TMP/k.csv"
	assert_output "$(printf 'index,k\ncount,70003\nunique,7\ntop,key3\nfreq,10002')"
	# 0 .. 99999 shuffled, in partitions: past 4096 values a group is sketched; the median (49999.5) and
	# 90% (89999.1) are within 1% of n (1000 here, as the values are their ranks), min and max exact
	seq 0 99999 | awk 'BEGIN { print "x" } { print ($1 * 7919) % 100000 }' > "$TMP/perm.csv"
	run -0 "$TESSERA" csv --blocksize 64KiB 'df.x.quantile([0, 0.5, 0.9, 1])' "$TMP/perm.csv"
	[ "${lines[1]}" = "0.0,0.0" ]
	[ "${lines[4]}" = "1.0,99999.0" ]
	awk -F, 'NR == 3 { d = $2 - 49999.5 } NR == 4 { e = $2 - 89999.1 } END { exit !(d * d <= 1e6 && e * e <= 1e6) }' <<< "$output"
	first="$output"
	run -0 "$TESSERA" csv --blocksize 64KiB -j 1 'df.x.quantile([0, 0.5, 0.9, 1])' "$TMP/perm.csv"
	[ "$output" = "$first" ]   # deterministic: the same partitions give the same answer
	# q outside [0, 1] is a spec error pointing at q
	run -3 --separate-stderr "$TESSERA" csv 'df.v.quantile(1.5)' "$TMP/q.csv"
	[ "$stderr" = "tessera: expression:1:15: q must be between 0 and 1, not 1.5 (a fraction: 0.9 for 90%)" ]
	run -3 --separate-stderr "$TESSERA" csv 'df.groupby("k").v.quantile(-0.1)' "$TMP/q.csv"
	[ "$stderr" = "tessera: expression:1:28: q must be between 0 and 1, not -0.1" ]
	run -3 --separate-stderr "$TESSERA" csv 'df.describe(percentiles=[0.5, 2])' "$TMP/q.csv"
	[ "$stderr" = "tessera: expression:1:31: a percentile must be between 0 and 1, not 2 (a fraction: 0.9 for 90%)" ]
	run -3 --separate-stderr "$TESSERA" csv 'df.k.median()' "$TMP/q.csv"
	[ "$stderr" = "tessera: expression:1:6: median of column 'k' (string) is not defined" ]
	assert_no_spill
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
	cat "$TMP/q.csv" | "$TESSERA" csv --blocksize 64KiB 'df.v.sum()' > "$TMP/out"
	[ "$(cat "$TMP/out")" = "$want" ]
	# stdin from a file the shell has read the header line of: the rest is the input
	{ read -r _; "$TESSERA" csv --no-header --blocksize 64KiB 'df["2"].sum()'; } < "$TMP/q.csv" > "$TMP/out"
	[ "$(cat "$TMP/out")" = "$want" ]
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

@test "merge (inner, left, right, outer), concat and tail, hand-checked" {
	printf 'k,a\n3,1\n1,2\n2,3\n1,4\n,5\n' > "$TMP/l.csv"
	printf 'k,b\n1,x\n3,y\n5,z\n1,w\n,n\n' > "$TMP/r.csv"
	cat > "$TMP/m.yaml" <<EOF
tessera: 1
nodes:
  l: read_csv("$TMP/l.csv", blocksize=8)
  r: read_csv("$TMP/r.csv")
  i: l.merge(r, on="k")
  lj: l.merge(r, how="left")
  rj: merge(l, r[r.b != "y"], on="k", how="right")
  oj: l.merge(r, on="k", how="outer")
  c: concat([l, r])
  t: concat([l, r]).tail(2)
  s: l.merge(r.rename(columns=dict(b="a")), left_on="k", right_on="k", suffixes=("_l", "_r"))
outputs:
  i: $TMP/i.csv
  lj: $TMP/lj.csv
  rj: $TMP/rj.csv
  oj: $TMP/oj.csv
  c: $TMP/c.csv
  t: $TMP/t.csv
  s: $TMP/s.csv
EOF
	run -0 "$TESSERA" run -q "$TMP/m.yaml"
	# left rows in order, each with its matches in the right's order; missing keys match each other (pandas)
	[ "$(cat "$TMP/i.csv")" = "$(printf 'k,a,b\n3,1,y\n1,2,x\n1,2,w\n1,4,x\n1,4,w\n,5,n')" ]
	[ "$(cat "$TMP/lj.csv")" = "$(printf 'k,a,b\n3,1,y\n1,2,x\n1,2,w\n2,3,\n1,4,x\n1,4,w\n,5,n')" ]
	[ "$(cat "$TMP/rj.csv")" = "$(printf 'k,a,b\n1,2,x\n1,4,x\n5,,z\n1,2,w\n1,4,w\n,5,n')" ]
	# outer: sorted by key, missing keys last
	[ "$(cat "$TMP/oj.csv")" = "$(printf 'k,a,b\n1,2,x\n1,2,w\n1,4,x\n1,4,w\n2,3,\n3,1,y\n5,,z\n,5,n')" ]
	# concat: columns by name; a column one frame lacks is missing there (ints become floats, as in pandas)
	[ "$(cat "$TMP/c.csv")" = "$(printf 'k,a,b\n3,1.0,\n1,2.0,\n2,3.0,\n1,4.0,\n,5.0,\n1,,x\n3,,y\n5,,z\n1,,w\n,,n')" ]
	[ "$(cat "$TMP/t.csv")" = "$(printf 'k,a,b\n1,,w\n,,n')" ]
	[ "$(head -1 "$TMP/s.csv")" = "k,a_l,a_r" ]
	[ "$(sed -n 2p "$TMP/s.csv")" = "3,1,y" ]
	# drop_duplicates: missing values count as a value; the kept rows stay in input order
	printf 'a,b\n1,x\n2,y\n1,x\n,z\n,z\n2,w\n1,x\n' > "$TMP/d.csv"
	run -0 "$TESSERA" csv 'df.drop_duplicates()' "$TMP/d.csv" --blocksize 4
	assert_output "$(printf 'a,b\n1,x\n2,y\n,z\n2,w')"
	run -0 "$TESSERA" csv 'df.drop_duplicates(keep="last")' "$TMP/d.csv"
	assert_output "$(printf 'a,b\n2,y\n,z\n2,w\n1,x')"
	run -0 "$TESSERA" csv 'df.drop_duplicates(subset="b", keep=False)' "$TMP/d.csv"
	assert_output "$(printf 'a,b\n2,y\n2,w')"
	run -0 "$TESSERA" csv 'df.drop_duplicates(["a"])' "$TMP/d.csv"
	assert_output "$(printf 'a,b\n1,x\n2,y\n,z')"
	# merged, concatenated and deduplicated frames flow into arrays (rows counted by running them)
	cat > "$TMP/ta.yaml" <<EOF
tessera: 1
nodes:
  l: read_csv("$TMP/l.csv")
  r: read_csv("$TMP/r.csv")
  x: l.merge(r, on="k", how="left")[["k", "a"]].to_array()
  c: concat([l, l[l.a > 2]])[["a"]].to_array().sum()
  dd: l.drop_duplicates(["k"]).a.to_array()
outputs:
  x: "-"
  c: "-"
  dd: "-"
EOF
	run -0 "$TESSERA" run -q "$TMP/ta.yaml"
	assert_output "$(printf '3.0,1.0\n1.0,2.0\n1.0,2.0\n2.0,3.0\n1.0,4.0\n1.0,4.0\nnan,5.0\n27.0\n1.0\n2.0\n3.0\n5.0')"
	# bad merges are located
	run -3 "$TESSERA" csv 'df.merge(df, on="kk")' "$TMP/l.csv"
	assert_output --partial "expression:1:17: no column 'kk' (did you mean 'k'?)"
	run -3 "$TESSERA" csv 'df.merge(df, how="cross")' "$TMP/l.csv"
	assert_output --partial 'how must be "inner", "left", "right" or "outer"'
	run -3 "$TESSERA" csv 'df.merge(df.assign(k=df.k > 1), on="k")' "$TMP/l.csv"
	assert_output --partial "expression:1:36: cannot merge on 'k' (int64) and 'k' (bool)"
}

@test "tessera run: a groupby over a file 4x the memory limit stays under the limit; merges and sorts of it" {
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
	awk 'BEGIN { print "key,w"; for (i = 0; i < 500; i++) print "k" i "," i % 3 }' > "$TMP/kt.csv"
	spec big.yaml <<EOF
tessera: 1
nodes:
  d: read_csv("$TMP/big.csv")
  g: d.groupby("key").agg(n=("a", "count"), m=("a", "mean"))
  s: d.a.sum()
  kt: read_csv("$TMP/kt.csv")
  j: d.merge(kt, on="key")[["id", "w"]]
outputs:
  g: $TMP/g.csv
  s: "-"
  j: $TMP/j.csv
EOF
	run -0 /usr/bin/time -f 'rss %M' "$TESSERA" run -q -m 24M -j 2 "$TMP/big.yaml"
	rss=$(printf '%s\n' "$output" | awk '/^rss/ { print $2 }')
	[ -n "$TESSERA_SANITIZED" ] || [ "$rss" -lt 24576 ] || { echo "peak RSS ${rss} KiB"; return 1; }
	n=$(awk -F, 'NR > 1 { s += $2 } END { print s }' "$TMP/g.csv")
	[ "$n" = "5000000" ]
	[ "$(wc -l < "$TMP/g.csv")" -eq 501 ]
	# medians of 500 groups of about 10,000 values: the sketches shrink to stay within the
	# limit (at full size they took 81 MB here), and each answer's rank stays within 1%
	spec med.yaml <<EOF
tessera: 1
nodes:
  d: read_csv("$TMP/big.csv")
  g: d.groupby("key").a.median()
outputs:
  g: $TMP/med.csv
EOF
	run -0 /usr/bin/time -f 'rss %M' "$TESSERA" run -q -m 48M -j 2 "$TMP/med.yaml"
	rss=$(printf '%s\n' "$output" | awk '/^rss/ { print $2 }')
	[ -n "$TESSERA_SANITIZED" ] || [ "$rss" -lt 49152 ] || { echo "median: peak RSS ${rss} KiB"; return 1; }
	run -0 awk -F, 'NR == FNR { if (FNR > 1) m[$1] = $2; next }
		FNR > 1 { n[$2]++; if ($3 < m[$2]) below[$2]++ }
		END { bad = 0; for (k in n) { f = below[k] / n[k]; if (f < 0.49 || f > 0.51) bad++ }; print bad, length(n) }' \
		"$TMP/med.csv" "$TMP/big.csv"
	assert_output "0 500"
	# the merge streams the big side: every row once, in order, with its key's w
	[ "$(wc -l < "$TMP/j.csv")" -eq 5000001 ]
	want=$(awk -F, 'NR > 1 { sub("k", "", $2); s += $2 % 3 } END { print s }' "$TMP/big.csv")
	[ "$(awk -F, 'NR > 1 { s += $2 } END { print s }' "$TMP/j.csv")" = "$want" ]
	[ "$(sed -n 5000001p "$TMP/j.csv" | cut -d, -f1)" = 4999999 ]
	# a full sort of the big file: a sample sort over its partitions, out of core
	spec sort.yaml <<EOF
tessera: 1
nodes:
  d: read_csv("$TMP/big.csv")
  s: d.sort_values(["key", "a"], ascending=[True, False])
outputs:
  s: $TMP/sorted.csv
EOF
	run -0 "$TESSERA" run -q -m 24M -j 2 "$TMP/sort.yaml"
	[ "$(wc -l < "$TMP/sorted.csv")" -eq 5000001 ]
	tail -n +2 "$TMP/sorted.csv" | LC_ALL=C sort -t, -k2,2 -k3,3gr -s -c
	[ "$(cut -d, -f1 "$TMP/sorted.csv" | tail -n +2 | sort -n | uniq | wc -l)" -eq 5000000 ]
	# a merge of two sides both too large to hash whole at this limit: sorted into shared key ranges
	spec pjoin.yaml <<EOF
tessera: 1
nodes:
  d: read_csv("$TMP/big.csv")
  e: d[["id", "a"]].rename(columns=dict(a="b"))
  j: d.merge(e, on="id")
  s: j.b.sum()
  n: len(j)
outputs:
  s: "-"
  n: "-"
EOF
	run -0 --separate-stderr "$TESSERA" run -v -m 24M -j 2 "$TMP/pjoin.yaml"
	echo "$stderr" | grep -q 'j.merge1.l3\['
	want=$(awk -F, 'NR > 1 { s += $3 } END { printf "%.4f", s }' "$TMP/big.csv")
	[ "$(printf '%.4f' "${lines[0]}")" = "$want" ]
	[ "${lines[1]}" = 5000000 ]
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

@test "read_csv of a glob or a list: files in order, each cut on its own (CRLF, gzip, quoted newlines)" {
	mkdir "$TMP/d"
	printf 'id,text,v\n1,a,10\n2,"b, c",20\n' > "$TMP/d/p1.csv"
	printf 'id,text,v\r\n3,d,30\r\n4,"e ""q""",40\r\n' > "$TMP/d/p2.csv"
	printf 'id,text,v\n5,f,50\n' | gzip > "$TMP/d/p3.csv.gz"
	# several 64 KiB blocks, cut between records that hold quoted newlines
	/usr/bin/python3 - "$TMP/d/p4.csv" <<'EOF'
import sys
with open(sys.argv[1], "w", newline="") as f:
    f.write("id,text,v\n")
    for i in range(6, 20006):
        t = f'"row {i}\nsecond line, with ""quotes"""' if i % 7 == 0 else f"row {i}"
        f.write(f"{i},{t},{i % 10}\n")
EOF
	want=$(seq 6 20005 | awk '{ s += $1 % 10 } END { print s + 150 }')
	run -0 "$TESSERA" csv --blocksize 64KiB 'df.v.sum()' "$TMP/d/p*"
	assert_output "$want"
	want=$(seq 6 20005 | awk '$1 % 7 == 0 { n++ } END { print n }')
	run -0 "$TESSERA" csv --blocksize 64KiB 'len(df[df.text.str.contains("second")])' "$TMP/d/p*"
	assert_output "$want"
	# rows come file by file, each file's in order; fields are written as read
	run -0 "$TESSERA" csv --blocksize 64KiB 'df[["id"]]' "$TMP/d/p*"
	[ "$output" = "$(echo id; seq 1 20005)" ]
	run -0 "$TESSERA" csv 'df[df.id <= 5]' "$TMP/d/p*"
	assert_output "$(printf 'id,text,v\n1,a,10\n2,"b, c",20\n3,d,30\n4,"e ""q""",40\n5,f,50')"
	# a list keeps its order; each FILE of tessera csv is one entry
	run -0 "$TESSERA" csv 'df[["id", "v"]]' "$TMP/d/p2.csv" "$TMP/d/p3.csv.gz" "$TMP/d/p1.csv"
	assert_output "$(printf 'id,v\n3,30\n4,40\n5,50\n1,10\n2,20')"
	# small files are all in the sample: an int column in one, floats in the next, as pandas' concat
	printf 'a\n1\n' > "$TMP/i.csv"
	printf 'a\n2.5\n' > "$TMP/f.csv"
	run -0 "$TESSERA" csv 'df.a.sum()' "$TMP/i.csv" "$TMP/f.csv"
	assert_output "3.5"
	spec paths.yaml <<EOF
tessera: 1
nodes:
  d: read_csv(["$TMP/d/p{2,1}.csv", "$TMP/d/*.gz", "$TMP/d/p4.csv"], blocksize="64KiB", include_path_column=True)
  n: d.groupby("path").agg(n=("id", "size"), v=("v", "sum"), first=("id", "first"))
outputs:
  n: "-"
EOF
	run -0 "$TESSERA" run -q "$TMP/paths.yaml"
	v4=$(seq 6 20005 | awk '{ s += $1 % 10 } END { print s }')
	assert_output "$(printf 'path,n,v,first\n%s,2,30,1\n%s,2,70,3\n%s,1,50,5\n%s,20000,%s,6' \
		"$TMP/d/p1.csv" "$TMP/d/p2.csv" "$TMP/d/p3.csv.gz" "$TMP/d/p4.csv" "$v4")"
	# tessera check counts the partitions of every file: 3 small files and the blocks of p4
	run -0 "$TESSERA" check "$TMP/paths.yaml"
	n=$(printf '%s\n' "$output" | awk '$1 == "d" { print $3 }')
	[ "$n" -gt 4 ] || { echo "$output"; return 1; }
	assert_no_spill
}

@test "read_csv of several files: a header that differs, a bad value in a later file, no match, stdin" {
	printf 'a,b\n1,2\n' > "$TMP/1.csv"
	printf 'a,c\n3,4\n' > "$TMP/2.csv"
	run -1 --separate-stderr "$TESSERA" csv 'len(df)' "$TMP/[12].csv"
	[ "$stderr" = "tessera: $TMP/2.csv:1:1: header differs from $TMP/1.csv's: column 2 is 'c', not 'b'" ]
	printf 'a,b,c\n3,4,5\n' > "$TMP/2.csv"
	run -1 --separate-stderr "$TESSERA" csv 'len(df)' "$TMP/[12].csv"
	[ "$stderr" = "tessera: $TMP/2.csv:1:1: header differs from $TMP/1.csv's: 3 columns, not 2" ]
	# the types come from the first file's sample (about 1 MiB); every file is checked as it is parsed
	{ printf 'a,b\n'; seq 1 200000 | awk '{ print $1 "," $1 }'; } > "$TMP/1.csv"
	printf 'a,b\r\n5,6\r\n7,8\r\nx9,1\r\n' | gzip > "$TMP/2.csv"
	run -1 --separate-stderr "$TESSERA" csv -o "$TMP/out.csv" 'df[df.a > 0]' "$TMP/[12].csv"
	[[ "$stderr" == *"$TMP/2.csv:4:1: column 'a': 'x9' is not an integer"* ]] || { echo "$stderr"; return 1; }
	[ ! -e "$TMP/out.csv" ]
	printf 'a,b\n5,6\n7,8,9\n' > "$TMP/2.csv"
	run -1 --separate-stderr "$TESSERA" csv 'df.a.sum()' "$TMP/1.csv" "$TMP/2.csv"
	[[ "$stderr" == *"$TMP/2.csv:3:"*"expected 2 fields"* ]] || { echo "$stderr"; return 1; }
	spec none.yaml <<EOF
tessera: 1
nodes:
  d: read_csv("$TMP/none/*.csv")
outputs:
  d: "-"
EOF
	run -3 --separate-stderr "$TESSERA" run "$TMP/none.yaml"
	[ "$stderr" = "tessera: $TMP/none.yaml:3:15: no file matches '$TMP/none/*.csv'" ]
	run -3 --separate-stderr "$TESSERA" csv 'len(df)' "$TMP/none/*.csv"
	[ "$stderr" = "tessera: no file matches '$TMP/none/*.csv'" ]
	run -3 --separate-stderr "$TESSERA" csv 'len(df)' "$TMP/1.csv" - < "$TMP/1.csv"
	[ "$stderr" = "tessera: stdin (\"-\") is read alone, not in a list of files" ]
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
	[ "$stderr" = "tessera: expression:1:6: to_numpy() is spelled to_array() here" ]
	assert_no_spill
}

@test "reset_index(): accepted where it changes nothing, an error where pandas would add row labels" {
	W="$BATS_TEST_DIRNAME/../../examples/data/weather.csv"
	run -0 "$TESSERA" csv 'df.groupby("weather").wind.max().reset_index()' "$W"
	assert_output "$("$TESSERA" csv 'df.groupby("weather").wind.max()' "$W")"
	run -3 "$TESSERA" csv 'df[df.wind > 9].reset_index()' "$W"
	assert_output "tessera: expression:1:17: reset_index() would add pandas' row labels as a column, and Tessera keeps none: use reset_index(drop=True)"
	run -3 "$TESSERA" csv 'df.reset_index(inplace=True)' "$W"
	assert_output --partial "reset_index() has no keyword 'inplace'"
}

@test "nlargest, nsmallest and sort-then-head over many partitions, with ties, against pandas" {
	pandas_or_skip
	# Each partition keeps its own first n rows in the sort's order (a bounded heap), and one task
	# sorts those: the first n of the stable sort of the whole file, ties in file order, as pandas'
	# keep="first" and kind="stable" give them.
	/usr/bin/python3 -c "
import random
random.seed(5)
with open('$TMP/t.csv', 'w') as f:
    f.write('id,k,v,s\n')
    for i in range(60000):
        f.write('%d,%d,%.3f,%s\n' % (i, random.randrange(7), random.randrange(500) / 8, random.choice('abcde')))
"
	while IFS='|' read -r e p; do
		"$TESSERA" csv --blocksize 64KiB "$e" "$TMP/t.csv" > "$TMP/got.csv"
		run -0 /usr/bin/python3 -c "
import pandas as pd, sys
df = pd.read_csv('$TMP/t.csv')
want = eval(sys.argv[1])
want = want.to_frame() if isinstance(want, pd.Series) else want
got = pd.read_csv('$TMP/got.csv')
assert list(got.columns) == list(want.columns), (list(got.columns), list(want.columns))
assert got.values.tolist() == want.values.tolist(), (sys.argv[1], got, want)
print('ok')" "$p"
		assert_output ok
	done <<'E'
df.nlargest(5, "k")|df.nlargest(5, "k")
df.nsmallest(9, ["k", "v"])|df.nsmallest(9, ["k", "v"])
df.v.nlargest(4)|df.v.nlargest(4)
df.sort_values(["s", "v"], ascending=[False, True]).head(6)|df.sort_values(["s", "v"], ascending=[False, True], kind="stable").head(6)
df[df.k > 2].sort_values("v").head(3)|df[df.k > 2].sort_values("v", kind="stable").head(3)
df.k.sort_values(ascending=False).head(2)|df.k.sort_values(ascending=False, kind="stable").head(2)
E
	# more than one partition, or this tests nothing
	run -0 "$TESSERA" check <(printf 'tessera: 1\nnodes:\n  df: read_csv("%s", blocksize="64KiB")\n  t: df.nlargest(5, "k")\noutputs: {t: "-"}\n' "$TMP/t.csv")
	[[ "$output" =~ tasks:\ *([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 10 ]
}

@test "sorts by one number, date or bool column (radix): missing last, -0.0 equal to 0.0, ties in file order" {
	pandas_or_skip
	/usr/bin/python3 -c "
import random
random.seed(9)
fs = ['', 'NaN', '-0.0', '0.0', '0', '-1e300', '1e300', 'inf', '-inf', '2.5', '-2.5', '3', '-7.25', '1e-310', '-1e-310']
with open('$TMP/r.csv', 'w') as f:
    f.write('id,f,i,d,b\n')
    for n in range(3000):
        i = random.choice(['', str(random.randrange(-5, 5)), str(random.choice([-2**63, 2**63 - 1, 0]))])
        d = random.choice(['', '2020-01-0%d' % random.randrange(1, 10), '1969-12-31', '2100-02-28'])
        f.write('%d,%s,%s,%s,%s\n' % (n, random.choice(fs), i, d, random.choice(['True', 'False'])))
"
	for by in f i d b; do
		for asc in True False; do
			for bs in 64MiB 64KiB; do
				"$TESSERA" csv --blocksize $bs "df.sort_values(\"$by\", ascending=$asc)" "$TMP/r.csv" > "$TMP/got.csv"
				run -0 /usr/bin/python3 -c "
import pandas as pd
df = pd.read_csv('$TMP/r.csv', parse_dates=['d'], converters={'i': lambda v: int(v) if v else None})
want = df.sort_values('$by', ascending=$asc, kind='stable', na_position='last').id.tolist()
got = pd.read_csv('$TMP/got.csv').id.tolist()
assert got == want, ('$by', $asc, '$bs', [(g, w) for g, w in zip(got, want) if g != w][:5])
print('ok')"
				assert_output ok
			done
		done
	done
}

@test "agg({...}) and agg(dict(...)): located errors for a list of functions, a bad column, a bad function" {
	W="$BATS_TEST_DIRNAME/../../examples/data/weather.csv"
	run -0 "$TESSERA" csv 'df.groupby("weather").agg({"wind": "max"}).head(1)' "$W"
	assert_output "$(printf 'weather,wind\ndrizzle,6.9')"
	run -3 "$TESSERA" csv 'df.groupby("weather").agg({"wind": ["mean", "max"]})' "$W"
	assert_output "tessera: expression:1:36: agg({...}) takes one function per column here (pandas would make two header rows); for several, use name=(\"column\", \"function\")"
	run -3 "$TESSERA" csv 'df.groupby("weather").agg({"wnd": "mean"})' "$W"
	assert_output "tessera: expression:1:28: no column 'wnd' (did you mean 'wind'?)"
	run -3 "$TESSERA" csv 'df.groupby("weather").agg(dict(wind="avg"))' "$W"
	assert_output --partial "tessera: expression:1:37: unknown aggregate 'avg'"
	run -3 "$TESSERA" csv 'df.groupby("weather").agg({"wind" "max"})' "$W"
	assert_output "tessera: expression:1:35: expected ':' after a key of '{...}'"
}

@test ".dt fields of dates, .str slices and replace, groupby by a computed Series: hand-checked, located errors" {
	W="$BATS_TEST_DIRNAME/../../examples/data/weather.csv"
	# 2000-02-29 is a Tuesday, day 60; 1969-12-31 a Wednesday, day 365; U+2003 and U+00A0 are whitespace
	printf 'd,t\n2000-02-29,\xc3\xa9t\xc3\xa9 \n1969-12-31,  \xe2\x80\x83x\xc2\xa0\n,\n' > "$TMP/u.csv"
	run -0 "$TESSERA" csv 'df.assign(y=df.d.dt.dayofyear, w=df.d.dt.dayofweek, e=df.d.dt.is_month_end, s=df.t.str.strip(), r=df.t.str[::-1], g=df.t.str.get(0), l=df.t.str.slice(1).str.len(), n=df.d.dt.day_name())[["y", "w", "e", "s", "r", "g", "l", "n"]]' "$TMP/u.csv"
	assert_output "$(printf 'y,w,e,s,r,g,l,n\n60,1,True,\xc3\xa9t\xc3\xa9, \xc3\xa9t\xc3\xa9,\xc3\xa9,3,Tuesday\n365,2,True,x,\xc2\xa0x\xe2\x80\x83  , ,4,Wednesday\n,,False,,,,,')"
	run -0 "$TESSERA" csv 'df.assign(a=df.t.str.replace("", "-", n=2), b=df.t.str.replace("t", "TT"), c=df.t.str[-2:0:-1], x=df.t.str[9])[["a", "b", "c", "x"]]' "$TMP/u.csv"
	assert_output "$(printf 'a,b,c,x\n-\xc3\xa9-t\xc3\xa9 ,\xc3\xa9TT\xc3\xa9 ,\xc3\xa9t,\n- - \xe2\x80\x83x\xc2\xa0,  \xe2\x80\x83x\xc2\xa0,x\xe2\x80\x83 ,\n,,,')"
	# rainy days per year in Seattle, counted with awk
	want=$(awk -F, 'NR > 1 && $1 == "Seattle" && $3 > 0 { n[substr($2, 1, 4)]++ } END { for (y in n) print y "," n[y] }' "$W" | sort)
	run -0 "$TESSERA" csv 'df[(df.location == "Seattle") & (df.precipitation > 0)].groupby(df.date.dt.year).size()' "$W"
	assert_output "$(printf 'date,size\n%s' "$want")"
	want=$(awk -F, 'NR > 1 { k = substr($1, 1, 3) "," ($3 > 0 ? "True" : "False"); if (!(k in m) || $4 + 0 > m[k]) m[k] = $4 + 0 } END { for (k in m) printf "%s,%.1f\n", k, m[k] }' "$W" | sort)
	run -0 "$TESSERA" csv 'df.groupby([df.location.str[0:3].rename("loc"), df.precipitation > 0]).temp_max.max()' "$W"
	assert_output "$(printf 'loc,precipitation,temp_max\n%s' "$want")"
	run -3 "$TESSERA" csv 'df.weather.dt.year' "$W"
	assert_output --partial "tessera: expression:1:12: .dt needs a date column, not string"
	run -3 "$TESSERA" csv 'df.date.dt.yaer' "$W"
	assert_output --partial "tessera: expression:1:12: .dt has no field 'yaer'"
	run -3 "$TESSERA" csv 'df.weather.str[::0]' "$W"
	assert_output "tessera: expression:1:18: slice step cannot be zero"
	run -3 "$TESSERA" csv 'df.weather.str.replace("a.", "b", regex=True)' "$W"
	assert_output "tessera: expression:1:41: only literal replacement is supported: pass regex=False"
	run -3 "$TESSERA" csv 'df.groupby([df.date.dt.year, df.date.dt.month]).wind.mean()' "$W"
	assert_output "tessera: expression:1:30: two group keys named 'date': name this one with .rename(\"...\")"
	run -3 "$TESSERA" csv 'df.groupby(df.wind > 3).wind.sum()' "$W"
	assert_output --partial "tessera: expression:1:30: the computed group key and an aggregate are both named 'wind'"
	run -3 "$TESSERA" csv 'df.groupby(df[df.wind > 3].wind).size()' "$W"
	assert_output --partial "tessera: expression:1:12: a group key must be computed from the frame being grouped"
	# a Series of the frame a filter came from lines up with the filtered rows, as pandas aligns it by label
	run -0 "$TESSERA" csv 'df[df.wind > 8.1][df.temp_max > 20].assign(t=df.temp_min, m=df.date.dt.month)[["date", "wind", "t", "m"]]' "$W"
	assert_output "$(printf 'date,wind,t,m\n2012-09-18,10.4,20.0,9\n2013-05-12,8.2,10.6,5')"
	run -3 "$TESSERA" csv 'df[df.wind > 3].assign(wind=df.wind * 2).groupby(df.wind > 5).size()' "$W"
	assert_output --partial "expression:1:50: a group key must be computed from the frame being grouped (or one whose rows it keeps unchanged)"
	run -3 "$TESSERA" csv 'df[True]' "$W"
	assert_output --partial "expression:1:4: the filter must be computed from the frame it filters"
}

@test "frame-wide reductions: a value per column, hand-checked; located errors" {
	printf 'a,b,s\n1,2.5,x\n3,,y\n-2,0.5,x\n' > "$TMP/r.csv"
	run -0 "$TESSERA" csv 'df.sum()' "$TMP/r.csv"
	assert_output "$(printf 'index,0\na,2.0\nb,3.0')"
	run -0 "$TESSERA" csv 'df.count()' "$TMP/r.csv"
	assert_output "$(printf 'index,0\na,3\nb,2\ns,3')"
	run -0 "$TESSERA" csv 'df.max()' "$TMP/r.csv"
	assert_output "$(printf 'index,0\na,3\nb,2.5\ns,y')"
	run -0 "$TESSERA" csv 'df[["a"]].min()' "$TMP/r.csv"
	assert_output "$(printf 'index,0\na,-2')"
	run -0 "$TESSERA" csv 'df.nunique()' "$TMP/r.csv"
	assert_output "$(printf 'index,0\na,3\nb,2\ns,2')"
	run -3 "$TESSERA" csv 'df[["s"]].mean()' "$TMP/r.csv"
	assert_output "tessera: expression:1:11: mean() of a frame without number columns"
	run -3 "$TESSERA" csv 'df.mean(axis=1)' "$TMP/r.csv"
	assert_output "tessera: expression:1:14: only axis=0 (one value per column) is supported"
	run -0 "$TESSERA" csv 'df[df.a > 0][["a", "s"]].shape' "$TMP/r.csv"
	assert_output "(2, 2)"
}

@test "loc[], clip(), operator methods and value_counts(normalize=True): hand-checked; located errors" {
	printf 'a,b,s\n1,2.5,x\n3,,y\n-2,0.5,x\n7,9.0,x\n' > "$TMP/r.csv"
	run -0 "$TESSERA" csv 'df.loc[df.a.gt(0)].assign(c=df.a.clip(0, 5), d=df.b.clip(upper=1), e=df.a.mul(df.b)).loc[:, ["a", "s", "c", "d", "e"]]' "$TMP/r.csv"
	assert_output "$(printf 'a,s,c,d,e\n1,x,1,1.0,2.5\n3,y,3,,\n7,x,5,1.0,63.0')"
	run -0 "$TESSERA" csv 'df.s.value_counts(normalize=True)' "$TMP/r.csv"
	assert_output "$(printf 's,proportion\nx,0.75\ny,0.25')"
	run -0 "$TESSERA" csv 'df.loc[:, "b"].sum()' "$TMP/r.csv"
	assert_output "12.0"
	run -3 "$TESSERA" csv 'df.loc[1:2]' "$TMP/r.csv"
	assert_output "tessera: expression:1:8: row slices are not supported: use head(n)"
	run -3 "$TESSERA" csv 'df.s.clip(0, 1)' "$TMP/r.csv"
	assert_output "tessera: expression:1:6: clip() needs a number column, not string"
	run -3 "$TESSERA" csv 'df.a.clip("z")' "$TMP/r.csv"
	assert_output "tessera: expression:1:11: clip's lower bound must be a number"
}

@test "query(): pandas' precedence, and/or/not, backticks; errors point into the string" {
	W="$BATS_TEST_DIRNAME/../../examples/data/weather.csv"
	want=$(awk -F, 'NR > 1 && (($6 > 7 && $4 < 15) || ($7 == "fog" && $3 > 0))' "$W" | wc -l)
	run -0 "$TESSERA" csv 'len(df.query("wind > 7 & temp_max < 15 or weather == \"fog\" and precipitation > 0"))' "$W"
	assert_output "$want"
	want=$(awk -F, 'NR > 1 && !($6 > 2)' "$W" | wc -l)
	run -0 "$TESSERA" csv 'df.query("not `wind` > 2").shape[0]' "$W"
	assert_output "$want"
	run -3 "$TESSERA" csv 'df.query("wnd > 3")' "$W"
	assert_output "tessera: expression:1:11: no column 'wnd' (did you mean 'wind'?)"
	run -3 "$TESSERA" csv 'df.query("wind > > 3")' "$W"
	assert_output "tessera: expression:1:18: expected an expression, found '>'"
	run -3 "$TESSERA" csv 'df.query(3)' "$W"
	assert_output "tessera: expression:1:10: query() takes a condition as a string"
}

@test "str.split().str[i] as Python splits, astype() of text; a value that is not a number stops the run" {
	printf 's\n"a b  c "\n" x,y"\n""\n1.5\n' > "$TMP/t.csv"
	run -0 "$TESSERA" csv 'df.assign(a=df.s.str.split().str[1], b=df.s.str.split(" ").str[1], c=df.s.str.split(",").str[-1], d=df.s.str.split(n=1).str[-1])' "$TMP/t.csv"
	assert_output "$(printf 's,a,b,c,d\n"a b  c ",b,b,a b  c ,b  c \n" x,y",,"x,y",y,"x,y"\n"",,,,\n1.5,,,1.5,1.5')"
	run -0 "$TESSERA" csv 'df[df.s.str.len() == 3].s.astype("float64") * 2' "$TMP/t.csv"
	assert_output "$(printf 's\n3.0')"
	run -1 "$TESSERA" csv 'df.s.astype("int64")' "$TMP/t.csv"
	assert_output --partial "astype(\"int64\"): 'a b  c ' cannot be read as int64"
}

@test "grouped results as Series: nlargest(n), sort_index(), rename(name), reset_index(name=); located errors" {
	printf 'k,v\nb,1\na,2\nc,3\nb,4\nc,5\nc,6\n' > "$TMP/g.csv"
	run -0 "$TESSERA" csv 'df.groupby("k").size().nlargest(2)' "$TMP/g.csv"
	assert_output "$(printf 'k,size\nc,3\nb,2')"
	run -0 "$TESSERA" csv 'df.k.value_counts().sort_index(ascending=False)' "$TMP/g.csv"
	assert_output "$(printf 'k,count\nc,3\nb,2\na,1')"
	run -0 "$TESSERA" csv 'df.groupby("k").v.sum().rename("total").reset_index().sort_values("total")' "$TMP/g.csv"
	assert_output "$(printf 'k,total\na,2\nb,5\nc,14')"
	run -0 "$TESSERA" csv 'df.groupby("k").v.max().reset_index(name="top")' "$TMP/g.csv"
	assert_output "$(printf 'k,top\na,2\nb,4\nc,6')"
	# std to 12 digits: partials merge by Chan's formula, so the last bit may differ from numpy's
	run -0 bash -c "'$TESSERA' csv 'df.groupby(\"k\").v.describe(percentiles=[0.5])' '$TMP/g.csv' | awk -F, -v OFS=, 'NR > 1 && \$4 != \"\" { \$4 = sprintf(\"%.12g\", \$4) } 1'"
	assert_output "$(printf 'k,count,mean,std,min,50%%,max\na,1.0,2.0,,2.0,2.0,2.0\nb,2.0,2.5,2.12132034356,1.0,2.5,4.0\nc,3.0,4.666666666666667,1.52752523165,3.0,5.0,6.0')"
	run -3 "$TESSERA" csv 'df.groupby("v").k.describe()' "$TMP/g.csv"
	assert_output "tessera: expression:1:19: describe() of a grouped string column is not supported (numbers only)"
	run -3 "$TESSERA" csv 'df.sort_index()' "$TMP/g.csv"
	assert_output "tessera: expression:1:4: sort_index() sorts a grouped result by its keys; rows have no other labels here"
	run -3 "$TESSERA" csv 'df.groupby("k").v.max().reset_index(name="k")' "$TMP/g.csv"
	assert_output "tessera: expression:1:25: 'k' is already a key column"
}

@test "graphs/groupby.yaml: stdin grouped by --set key, rows and means per group, against awk" {
	W="$BATS_TEST_DIRNAME/../../examples/data/weather.csv"
	G="$BATS_TEST_DIRNAME/../../graphs/groupby.yaml"
	run -0 --separate-stderr bash -c "cat '$W' | '$TESSERA' run -q '$G' --set key=location"
	want=$(awk -F, 'NR > 1 { n[$1]++; w[$1] += $6 } END { for (k in n) printf "%s,%d,%.6f\n", k, n[k], w[k] / n[k] }' "$W" | sort)
	got=$(printf '%s\n' "$output" | awk -F, 'NR == 1 { next } { printf "%s,%d,%.6f\n", $1, $2, $6 }')
	[ "$got" = "$want" ] || { echo "got $got want $want"; return 1; }
	[ "${lines[0]}" = "location,size,precipitation,temp_max,temp_min,wind" ]
}

@test "a reader that goes away (| head): silent, killed by SIGPIPE as shell tools are, no spill left" {
	/usr/bin/python3 -c "
import sys
with open(sys.argv[1], 'w') as f:
    f.write('a,b\n')
    f.write(''.join(f'{i},{i % 7}\n' for i in range(400000)))" "$TMP/p.csv"
	run --separate-stderr bash -c "'$TESSERA' csv -m 8M --blocksize 64KiB 'df.sort_values(\"b\")' '$TMP/p.csv' | head -2; echo \"\${PIPESTATUS[0]}\""
	assert_output "$(printf 'a,b\n0,0\n141')"
	[ -z "$stderr" ] || { echo "stderr: $stderr"; return 1; }
	assert_no_spill
}

@test "a column declared with dtype= is checked in every row even when only written through" {
	printf 'a,b\n1,2\nx,3\n' > "$TMP/bad.csv"
	spec dt.yaml <<EOF2
tessera: 1
nodes:
  df: read_csv("$TMP/bad.csv", dtype=dict(a="int64"))
  r: df[df.b > 0]
outputs:
  r: $TMP/r.csv
EOF2
	run -1 "$TESSERA" run -q "$TMP/dt.yaml"
	assert_output --partial "$TMP/bad.csv:3:1: column 'a': 'x' is not an integer (its type was declared with dtype=)"
	[ ! -e "$TMP/r.csv" ]
	# inferred, it is written through as read, as pandas would keep a column it cannot type
	run -0 "$TESSERA" csv 'df[df.b > 0]' "$TMP/bad.csv"
	assert_output "$(printf 'a,b\n1,2\nx,3')"
}
