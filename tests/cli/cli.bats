#!/usr/bin/env bats
# The command line: commands, help, usage errors, exit statuses, environment.

load helpers

@test "help lists every command and exits 0" {
	run -0 "$TESSERA" help
	for c in run check graph ops version help; do
		assert_output --partial "  $c "
	done
	run -0 "$TESSERA" --help
	assert_output --partial "usage: tessera COMMAND"
}

@test "no command prints usage and exits 2" {
	run -2 "$TESSERA"
	assert_output --partial "usage: tessera COMMAND"
}

@test "every command has --help on stdout with exit 0" {
	for c in run check graph ops version; do
		run -0 --separate-stderr "$TESSERA" $c --help
		assert_output --partial "usage: tessera $c"
		[ -z "$stderr" ]
	done
	run -0 "$TESSERA" help run
	assert_output --partial "--memory-limit"
}

@test "version prints a version" {
	run -0 "$TESSERA" version
	assert_output --regexp '^tessera [0-9]+\.[0-9]+\.[0-9]+$'
	run -0 "$TESSERA" --version
	assert_output --regexp '^tessera [0-9]'
}

@test "unknown command suggests the closest" {
	run -2 --separate-stderr "$TESSERA" rnu x.yaml
	[ "$stderr" = "tessera: unknown command 'rnu' (did you mean 'run'?)" ]
	run -2 --separate-stderr "$TESSERA" frobnicate
	[ "$stderr" = "tessera: unknown command 'frobnicate' (see tessera help)" ]
}

@test "ops lists the registry with synopses" {
	run -0 "$TESSERA" ops
	assert_line --partial "run      run: COMMAND"
	assert_line --partial "sql      sql: {db: PATH, query: SQL}"
	assert_line --partial "load     load: PATH"
	assert_line --partial "value    value: X"
	assert_line --partial "concat   reduce: FAMILY"
}

@test "usage errors exit 2 with one line" {
	run -2 --separate-stderr "$TESSERA" run
	[ "$stderr" = "tessera: run: missing SPEC (see tessera run --help)" ]
	run -2 --separate-stderr "$TESSERA" run graphs/etl.yaml --bogus
	[ "$stderr" = "tessera: run: unknown option '--bogus' (see tessera run --help)" ]
	run -2 --separate-stderr "$TESSERA" run graphs/etl.yaml -j 0
	[ "$stderr" = "tessera: bad --jobs '0': expected a number from 1 to 4096" ]
	run -2 --separate-stderr "$TESSERA" run graphs/etl.yaml --memory-limit lots
	[ "$stderr" = "tessera: bad --memory-limit 'lots': expected a size like 512M or 4GiB" ]
	run -2 --separate-stderr "$TESSERA" check graphs/etl.yaml -j 2
	[ "$stderr" = "tessera: check: option '-j' is not for this command (see tessera check --help)" ]
	run -2 --separate-stderr "$TESSERA" graph graphs/etl.yaml --format png
	[ "$stderr" = "tessera: bad --format 'png': expected dot or json" ]
	run -2 --separate-stderr "$TESSERA" run graphs/etl.yaml --set
	[ "$stderr" = "tessera: run: option '--set' needs a value" ]
}

@test "bad environment defaults are usage errors" {
	TESSERA_JOBS=many run -2 --separate-stderr "$TESSERA" check graphs/etl.yaml
	[ "$stderr" = "tessera: bad TESSERA_JOBS 'many': expected a number of workers" ]
	TESSERA_MEMORY_LIMIT=x run -2 --separate-stderr "$TESSERA" check graphs/etl.yaml
	[ "$stderr" = "tessera: bad TESSERA_MEMORY_LIMIT 'x': expected a size like 512M or 4GiB" ]
}

@test "environment sets the defaults" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  a: {foreach: {i: "0..8"}, run: "echo $TESSERA_TEST_MARK-{i}; sleep 0.2"}
  all: {reduce: a}
outputs: {all: "-"}
Y
	# One worker: eight 0.2 s tasks take over 1.6 s; the report says the jobs used.
	TESSERA_JOBS=1 TESSERA_MEMORY_LIMIT=1M TESSERA_TEST_MARK=x run -0 "$TESSERA" run "$TMP/s.yaml" --report "$TMP/r.json"
	assert_line "x-0"
	run -0 python3 -c "import json,sys; r=json.load(open('$TMP/r.json')); print(r['jobs'], r['memory_limit'])"
	assert_output "1 1048576"
}

@test "a failed write to stdout is an error" {
	run -1 --separate-stderr bash -c "'$TESSERA' help > /dev/full"
	[ "$stderr" = "tessera: cannot write to stdout" ]
}

@test "graph prints dot that Graphviz renders, and JSON with every kept task" {
	run -0 "$TESSERA" graph graphs/etl.yaml --format json
	run -0 python3 -c "
import json, subprocess
g = json.loads(subprocess.run(['$TESSERA', 'graph', 'graphs/etl.yaml', '--format', 'json'], capture_output=True, check=True).stdout)
assert g['tasks'] == len(g['graph']) == 497 and g['depth'] == 5, g['tasks']
assert sum(len(t['deps']) for t in g['graph']) == g['edges']
print('ok')"
	assert_output ok
	"$TESSERA" graph graphs/etl.yaml > "$TMP/etl.dot"
	grep -q '^digraph tessera {' "$TMP/etl.dot"
	[ "$(grep -c -- '->' "$TMP/etl.dot")" -eq 1086 ]   # 1085 edges + the output
	if command -v dot >/dev/null; then
		dot -Tsvg "$TMP/etl.dot" -o "$TMP/etl.svg"
		grep -q '<svg' "$TMP/etl.svg"
	else
		skip "graphviz (dot) not installed: the dot text was checked, not rendered"
	fi
}

@test "an output that cannot be written fails before any task runs, naming it" {
	spec s.yaml <<Y
tessera: 1
nodes:
  a: {run: "touch $TMP/ran"}
outputs: {a: /nonexistent/dir/out.txt}
Y
	run -1 --separate-stderr "$TESSERA" run "$TMP/s.yaml"
	[ "$stderr" = "tessera: $TMP/s.yaml:4:14: cannot write output '/nonexistent/dir/out.txt': No such file or directory" ]
	[ ! -e "$TMP/ran" ]
}

@test "make install puts the binary and the man pages under PREFIX" {
	run -0 make -s install PREFIX="$TMP/inst"
	[ -x "$TMP/inst/bin/tessera" ]
	[ -f "$TMP/inst/share/man/man1/tessera.1" ]
	[ -f "$TMP/inst/share/man/man5/tessera-spec.5" ]
	run -0 "$TMP/inst/bin/tessera" version
	run -0 make -s uninstall PREFIX="$TMP/inst"
	[ ! -e "$TMP/inst/bin/tessera" ]
}

@test "make names the Debian package of every missing library" {
	PKG_CONFIG_LIBDIR=/nonexistent run -2 make -s deps-check
	assert_output --partial "tessera: missing libraries; install them with: sudo apt-get install libyaml-dev libcjson-dev libzstd-dev libsqlite3-dev libopenblas-dev libhts-dev zlib1g-dev   (or: make deps)"
}

@test "a spill folder that cannot be made is a clear error" {
	run -1 --separate-stderr "$TESSERA" run graphs/etl.yaml --spill-dir /nonexistent/spill
	[ "$stderr" = "tessera: cannot make a spill folder in '/nonexistent/spill': No such file or directory" ]
}
