#!/usr/bin/env bats
# Every invalid spec in tests/data/bad gives its one expected line and exit 3,
# before anything runs. YAML files carry the line as "# expect: ..." on line 1;
# JSON files (no comments) carry it in NAME.json.expect.

load helpers

@test "each bad YAML spec: its exact message, exit 3, nothing on stdout" {
	n=0
	for f in tests/data/bad/*.yaml; do
		expected="$(head -1 "$f" | sed 's/^# expect: //')"
		for cmd in check run graph; do
			run -3 --separate-stderr "$TESSERA" $cmd "$f"
			if [ "$stderr" != "$expected" ]; then
				echo "$cmd $f: got '$stderr', expected '$expected'"
				return 1
			fi
			[ -z "$output" ]
		done
		n=$((n + 1))
	done
	[ "$n" -ge 25 ]
}

@test "each bad JSON spec: its exact message with a recovered line and column" {
	n=0
	for f in tests/data/bad/*.json; do
		run -3 --separate-stderr "$TESSERA" check "$f"
		[ "$stderr" = "$(cat "$f.expect")" ] || { echo "$f: got '$stderr'"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -ge 3 ]
}

@test "a missing spec file" {
	run -3 --separate-stderr "$TESSERA" check nope.yaml
	[ "$stderr" = "tessera: nope.yaml: cannot read spec: No such file or directory" ]
}

@test "a bad --set is a spec error naming the params; a bad -o is a usage error" {
	run -3 --separate-stderr "$TESSERA" check graphs/etl.yaml --set filez=3
	[ "$stderr" = "tessera: graphs/etl.yaml:7:1: --set 'filez=3': no parameter 'filez' (did you mean 'files'?)" ]
	run -3 --separate-stderr "$TESSERA" check graphs/etl.yaml --set files
	[ "$stderr" = "tessera: bad --set 'files': expected NAME=VALUE" ]
	run -2 --separate-stderr "$TESSERA" check graphs/etl.yaml -o best
	[ "$stderr" = "tessera: bad -o 'best': expected NAME=PATH" ]
	run -2 --separate-stderr "$TESSERA" check graphs/etl.yaml -o bset=x
	[ "$stderr" = "tessera: -o: output: no node 'bset' (did you mean 'best'?)" ]
	# a --set value that breaks the spec is the spec's error, at the place it is used
	run -3 --separate-stderr "$TESSERA" check graphs/etl.yaml --set files=ten
	[ "$stderr" = "tessera: graphs/etl.yaml:12:18: bad range '0..ten': expected START..END with integers" ]
}

@test "a spec from stdin is located as <stdin>" {
	run -3 --separate-stderr bash -c "printf 'tessera: 1\nnodes:\n  a: {rnu: x}\n' | '$TESSERA' check -"
	[ "$stderr" = "tessera: <stdin>:3:7: unknown key 'rnu' in node 'a' (did you mean 'run'?)" ]
	run -0 bash -c "printf 'tessera: 1\nnodes:\n  a: {value: 42}\noutputs: {a: \"-\"}\n' | '$TESSERA' run -"
	[ "$output" = "42" ]
}

@test "a task failing at run time exits 1 with the task and its place in the spec" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  files: {foreach: {i: "0..3"}, load: "/nonexistent/{i}.dat"}
outputs: {files: "-"}
Y
	run -1 --separate-stderr "$TESSERA" run "$TMP/s.yaml" -j 1
	[ "$stderr" = "tessera: task 'files[0]' ($TMP/s.yaml:3:3): cannot read '/nonexistent/0.dat': No such file or directory" ]
}
