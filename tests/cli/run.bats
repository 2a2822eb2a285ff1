#!/usr/bin/env bats
# tessera run: ops, generators, outputs, failures, feedback.

load helpers

@test "value, foreach range and a concatenating reduce" {
	spec s.yaml <<'Y'
tessera: 1
params: {n: 5}
nodes:
  v: {foreach: {i: "0..${n}"}, value: "item-{i}"}
  all: {reduce: v}
outputs: {all: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf 'item-0\nitem-1\nitem-2\nitem-3\nitem-4')"
	run -0 "$TESSERA" run "$TMP/s.yaml" --set n=2
	assert_output "$(printf 'item-0\nitem-1')"
	sed -i 's/0\.\.\${n}/-2..${n}/' "$TMP/s.yaml"
	run -0 "$TESSERA" run "$TMP/s.yaml" --set n=1
	assert_output "$(printf 'item--2\nitem--1\nitem-0')"
}

@test "foreach over a list and over a sorted glob" {
	mkdir -p "$TMP/d"
	printf 'b\n' > "$TMP/d/2.txt"; printf 'a\n' > "$TMP/d/1.txt"; printf 'zz\n' > "$TMP/d/3.dat"
	spec s.yaml <<Y
tessera: 1
nodes:
  words: {foreach: {w: [apple, "pear tree", 42]}, run: "printf '%s|' {w}"}
  files: {foreach: {f: "$TMP/d/*.txt"}, load: "{f}"}
  w: {reduce: words}
  f: {reduce: files}
outputs: {w: "-", f: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf 'apple|pear tree|42|a\nb')"
}

@test "run: inputs as files, one input also on stdin, stdout is the result" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  a: {value: hello}
  b: {value: world}
  up: {in: [a], run: "tr a-z A-Z"}
  both: {in: [a, b], run: "cat {in[1]} {in[0]}; echo n={in} | wc -w"}
outputs: {up: "-", both: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf 'HELLO\nworld\nhello\n2')"
}

@test "window gives each member k consecutive inputs; pairs samples distinct pairs" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: {foreach: {i: "0..6"}, value: "{i}"}
  w: {window: {over: x, size: 3}, run: "cat {in} | paste -sd+"}
  p: {pairs: {from: x, count: all}, run: "paste -d, {in[0]} {in[1]}"}
  s: {pairs: {from: x, count: 7, seed: 3}, run: "paste -d, {in[0]} {in[1]}"}
  ws: {reduce: w}
  ps: {reduce: p}
  ss: {reduce: s}
outputs: {ws: "-", ps: "-", ss: "-"}
Y
	run -0 --separate-stderr "$TESSERA" run "$TMP/s.yaml"
	expected_w="$(printf '0+1+2\n1+2+3\n2+3+4\n3+4+5')"
	expected_p="$(python3 -c 'import itertools; print("\n".join(f"{a},{b}" for a,b in itertools.combinations(range(6),2)))')"
	[ "$(echo "$output" | head -4)" = "$expected_w" ]
	[ "$(echo "$output" | sed -n 5,19p)" = "$expected_p" ]
	sampled="$(echo "$output" | sed -n '20,$p')"
	[ "$(echo "$sampled" | wc -l)" -eq 7 ]
	[ "$(echo "$sampled" | sort -u | wc -l)" -eq 7 ]
	# every sampled pair is a real pair a < b of the family
	echo "$sampled" | awk -F, '$1 >= $2 || $2 > 5 { exit 1 }'
	# same seed, same sample; another seed, another sample
	run -0 "$TESSERA" run "$TMP/s.yaml" ss
	[ "$output" = "$sampled" ]
	sed -i 's/seed: 3/seed: 4/' "$TMP/s.yaml"
	run -0 "$TESSERA" run "$TMP/s.yaml" ss
	[ "$output" != "$sampled" ]
}

@test "reduce with split_every makes a tree with the same result" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: {foreach: {i: "0..50"}, value: "{i}"}
  sum: {reduce: x, split_every: 4, run: "cat {in} | awk '{s += $1} END {print s}'"}
  flat: {reduce: x, run: "cat {in} | awk '{s += $1} END {print s}'"}
outputs: {sum: "-", flat: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf '1225\n1225')"
	run -0 "$TESSERA" check "$TMP/s.yaml"
	# 50 inputs, fan-in 4: 13 + 4 + 1 steps
	assert_line --regexp '^  sum +run +18 tasks'
	run -0 "$TESSERA" graph "$TMP/s.yaml" --format json sum
	assert_output --partial '"name": "sum.l2[3]"'
}

@test "sql: a query's result as CSV with a header, quoting as RFC 4180" {
	sqlite3 "$TMP/t.db" "CREATE TABLE t(id INTEGER, x REAL, name TEXT, note TEXT);
	  INSERT INTO t VALUES (1, 0.1, 'plain', NULL), (2, 2.0, 'a, b', 'say \"hi\"'), (3, 1e300, 'two
lines', '');"
	spec s.yaml <<Y
tessera: 1
nodes:
  q: {sql: {db: "$TMP/t.db", query: "SELECT * FROM t ORDER BY id"}}
outputs: {q: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf 'id,x,name,note\n1,0.1,plain,\n2,2.0,"a, b","say ""hi"""\n3,1e+300,"two\nlines",')"
}

@test "load: a file's bytes, relative to the current directory; spec_dir names the spec's folder" {
	mkdir -p "$TMP/sub"
	printf 'abc\0def' > "$TMP/sub/bin.dat"
	cat > "$TMP/sub/s.yaml" <<'Y'
tessera: 1
nodes:
  here: {load: "${spec_dir}/bin.dat"}
outputs: {here: "-"}
Y
	cat > "$TMP/sub/rel.yaml" <<'Y'
tessera: 1
nodes:
  rel: {load: bin.dat}
outputs: {rel: "-"}
Y
	run -0 bash -c "'$TESSERA' run '$TMP/sub/s.yaml' | od -c | head -1"
	assert_output --partial 'a   b   c  \0   d   e   f'
	cd "$TMP/sub"
	run -0 bash -c "'$TESSERA' run rel.yaml | wc -c"
	assert_output "7"
	# from elsewhere, bin.dat is not there: relative paths follow the current directory
	cd "$TMP"
	run -3 --separate-stderr "$TESSERA" run sub/rel.yaml
	[ "$stderr" = "tessera: sub/rel.yaml:3:15: cannot read 'bin.dat': No such file or directory" ]
}

@test "stderr of a command is shown prefixed with the task name" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  noisy: {foreach: {i: "0..2"}, run: "echo out-{i}; echo warn-{i} >&2"}
  all: {reduce: noisy}
outputs: {all: "-"}
Y
	run -0 --separate-stderr "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf 'out-0\nout-1')"
	echo "$stderr" | grep -qx '\[noisy\[0\]\] warn-0'
	echo "$stderr" | grep -qx '\[noisy\[1\]\] warn-1'
}

@test "a failing command fails the run with its name, command, status and stderr; exit 1" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  ok: {value: 1}
  bad:
    in: [ok]
    run: "echo first >&2; echo last words >&2; exit 7"
outputs: {bad: "-"}
Y
	run -1 --separate-stderr "$TESSERA" run "$TMP/s.yaml"
	last="$(echo "$stderr" | tail -1)"
	[ "$last" = "tessera: task 'bad' ($TMP/s.yaml:4:3): command failed with exit status 7: echo first >&2; echo last words >&2; exit 7 -- stderr: first | last words" ]
	[ -z "$output" ]
	assert_no_spill
}

@test "retries run a failing task again" {
	spec s.yaml <<Y
tessera: 1
nodes:
  flaky:
    retries: 2
    run: "n=\$(cat $TMP/count 2>/dev/null || echo 0); echo \$((n+1)) > $TMP/count; [ \$n -ge 2 ] && echo ok"
outputs: {flaky: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "ok"
	[ "$(cat "$TMP/count")" = 3 ]
	rm "$TMP/count"
	sed -i 's/retries: 2/retries: 1/' "$TMP/s.yaml"
	run -1 "$TESSERA" run "$TMP/s.yaml"
}

@test "timeout stops a slow command and fails the task" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  slow: {timeout: 300ms, run: "sleep 5; echo never"}
outputs: {slow: "-"}
Y
	SECONDS=0
	run -1 --separate-stderr "$TESSERA" run "$TMP/s.yaml"
	[ "$SECONDS" -lt 4 ]
	[ "$stderr" = "tessera: task 'slow' ($TMP/s.yaml:3:3): timed out after 0.3s: sleep 5; echo never" ]
}

@test "a failure stops the other running tasks" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  long: {foreach: {i: "0..3"}, run: "sleep 20"}
  fail: {run: "sleep 0.2; exit 1"}
  all: {in: [long, fail]}
outputs: {all: "-"}
Y
	SECONDS=0
	run -1 "$TESSERA" run "$TMP/s.yaml" -j 4
	[ "$SECONDS" -lt 10 ]
	assert_output --partial "task 'fail'"
}

@test "outputs: several to stdout in the order listed, files written atomically" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  slow: {run: "sleep 0.3; echo slow"}
  fast: {value: fast}
  file: {value: in-a-file}
outputs:
  slow: "-"
  fast: "-"
  file: out.txt
Y
	cd "$TMP"
	run -0 "$TESSERA" run s.yaml
	assert_output "$(printf 'slow\nfast')"
	[ "$(cat out.txt)" = in-a-file ]
	[ -z "$(ls -A | grep tessera)" ]
	# -o redirects one output
	run -0 "$TESSERA" run s.yaml -o fast=fast.txt -o slow=-
	assert_output "slow"
	[ "$(cat fast.txt)" = fast ]
}

@test "a failed run never overwrites an existing output" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  good: {value: new}
  bad: {run: "sleep 0.3; exit 3"}
outputs:
  good: out.txt
  bad: other.txt
Y
	cd "$TMP"
	echo old > out.txt
	run -1 "$TESSERA" run s.yaml
	[ "$(cat out.txt)" = old ]
	[ ! -e other.txt ]
	[ -z "$(ls -A | grep -v -e '^out.txt$' -e '^s.yaml$' -e '^spill$')" ]
}

@test "targets run only what they need" {
	spec s.yaml <<Y
tessera: 1
nodes:
  a: {run: "echo a; touch $TMP/ran-a"}
  b: {run: "echo b; touch $TMP/ran-b"}
  c: {in: [a], run: "cat; echo c"}
outputs: {c: "-", b: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml" c
	assert_output "$(printf 'a\nc')"
	[ -e "$TMP/ran-a" ] && [ ! -e "$TMP/ran-b" ]
	run -0 "$TESSERA" check "$TMP/s.yaml" a
	assert_line "tasks:   1 (of 3 before culling)"
	run -2 --separate-stderr "$TESSERA" run "$TMP/s.yaml" d
	[ "$stderr" = "tessera: no node 'd' in $TMP/s.yaml" ]
}

@test "members by index: fixed, negative, var offsets and optional inputs" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: {foreach: {i: "0..5"}, value: "x{i}"}
  y:
    foreach: {i: "0..5"}
    in: ["x[i+1]?", "x[-1]", "x[0]"]
    run: "cat {in} | paste -sd' '"
  all: {reduce: y}
outputs: {all: "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml"
	assert_output "$(printf 'x1 x4 x0\nx2 x4 x0\nx3 x4 x0\nx4 x4 x0\nx4 x0')"
}

@test "a chain of dependent tasks runs in order" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  step:
    foreach: {i: "0..200"}
    in: ["step[i-1]?"]
    run: "n=$(cat); echo $(( $${n:-0} + {i} ))"
outputs: {"step[-1]": "-"}
Y
	run -0 "$TESSERA" run "$TMP/s.yaml" -j 2
	assert_output "19900"
}

@test "--verbose prints one line per task; no progress bar when stderr is not a terminal" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: {foreach: {i: "0..3"}, run: "echo {i}"}
  all: {reduce: x}
outputs: {all: "-"}
Y
	run -0 --separate-stderr "$TESSERA" run "$TMP/s.yaml" --verbose
	[ "$(echo "$stderr" | grep -c '^tessera: done ')" -eq 4 ]
	echo "$stderr" | grep -Eq "^tessera: done x\[1\] in [0-9.]+s, 2 B$"
	run -0 --separate-stderr "$TESSERA" run "$TMP/s.yaml"
	[ -z "$stderr" ]
}

@test "the progress bar draws on a terminal and --quiet hides it" {
	command -v script >/dev/null || skip "script(1) not installed"
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: {foreach: {i: "0..4"}, run: "sleep 0.15; echo {i}"}
  all: {reduce: x}
outputs: {all: "-"}
Y
	run -0 script -qec "'$TESSERA' run '$TMP/s.yaml' -j 1 > /dev/null" /dev/null
	assert_output --partial "5/5 tasks"
	assert_output --partial "ETA"
	run -0 script -qec "'$TESSERA' run '$TMP/s.yaml' -j 1 --quiet > /dev/null" /dev/null
	refute_output --partial "tasks"
}

@test "--report writes every task with worker, times and sizes" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  x: {foreach: {i: "0..3"}, run: "head -c 1000 /dev/zero"}
  all: {reduce: x}
outputs: {all: out.bin}
Y
	cd "$TMP"
	run -0 "$TESSERA" run s.yaml --report r.json
	run -0 python3 - <<'P'
import json
r = json.load(open("r.json"))
names = sorted(t["name"] for t in r["tasks"])
assert names == ["all", "x[0]", "x[1]", "x[2]"], names
for t in r["tasks"]:
    assert t["end"] >= t["start"] >= 0 and isinstance(t["worker"], int)
    assert t["output_bytes"] == (3000 if t["name"] == "all" else 1000), t
    assert t["input_bytes"] == (3000 if t["name"] == "all" else 0), t
assert r["status"] == 0 and r["spill_events"] == []
print("ok")
P
	assert_output ok
	[ "$(wc -c < out.bin)" -eq 3000 ]
}

@test "a slow reader of stdout does not stall the run" {
	spec s.yaml <<Y
tessera: 1
nodes:
  big: {run: "head -c 2000000 /dev/zero"}
  a: {in: [big], run: "sleep 0.1; echo a"}
  b: {in: [a], run: "sleep 0.1; echo b"}
  c: {in: [b], run: "sleep 0.1; date +%s.%N > $TMP/c-done"}
outputs: {big: "-", c: out.txt}
Y
	cd "$TMP"
	start=$(date +%s.%N)
	# The reader takes nothing for 3 s: the 2 MB output cannot all fit in the pipe.
	run -0 bash -c "'$TESSERA' run s.yaml | { sleep 3; wc -c; }"
	assert_output "2000000"
	# The chain behind the blocked output finished long before the reader woke up.
	awk -v s="$start" -v c="$(cat c-done)" 'BEGIN { exit !(c - s < 2.5) }'
}
