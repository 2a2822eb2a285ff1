#!/usr/bin/env bats
# The custom-ETL example end to end, checked against an independent Python
# recomputation over the very pairs Tessera sampled.

load helpers

@test "graphs/etl.yaml: check shows the shape" {
	run -0 "$TESSERA" check graphs/etl.yaml
	assert_line --regexp '^  load +run +100 tasks'
	assert_line --regexp '^  reference +sql +1 task'
	assert_line --regexp '^  roll +run +98 tasks'
	assert_line --regexp '^  compare +run +200 tasks'
	assert_line "depth:   5"
	assert_line --partial "best             -> - (stdout)"
}

@test "graphs/etl.yaml prints the best of the sampled pairs, as computed independently" {
	run -0 --separate-stderr "$TESSERA" run graphs/etl.yaml
	assert_output --regexp '^best distance: [0-9]+\.[0-9]{6} over 200 pairs$'
	best="$output"
	# The pairs Tessera sampled, read from its graph, recomputed without Tessera.
	"$TESSERA" graph graphs/etl.yaml --format json > "$TMP/g.json"
	python3 - "$TMP/g.json" > "$TMP/pairs" <<'P'
import json, sys
g = json.load(open(sys.argv[1]))
names = {t["id"]: t["name"] for t in g["graph"]}
for t in g["graph"]:
    if t["name"].startswith("compare["):
        a, b = (int(names[d][5:-1]) for d in t["deps"])
        print(a, b)
P
	[ "$(wc -l < "$TMP/pairs")" -eq 200 ]
	[ "$(sort -u "$TMP/pairs" | wc -l)" -eq 200 ]
	run -0 python3 tests/etl_expected.py --pairs "$TMP/pairs"
	[ "$output" = "$best" ]
	run -0 python3 tests/etl_expected.py --check "$best"
}

@test "the same result with one worker, with a tiny memory limit, and as JSON" {
	expected="$("$TESSERA" run graphs/etl.yaml)"
	run -0 "$TESSERA" run graphs/etl.yaml -j 1
	[ "$output" = "$expected" ]
	run -0 "$TESSERA" run graphs/etl.yaml --memory-limit 8K --report "$TMP/r.json"
	[ "$output" = "$expected" ]
	run -0 python3 -c "import json; r=json.load(open('$TMP/r.json')); assert r['spills'] > 0, r['spills']; print(len(r['tasks']))"
	assert_output 497
	assert_no_spill
	# The JSON spelling of the same spec gives the same answer.
	python3 - > "$TMP/etl.json" <<'P'
import json
print(json.dumps({
  "tessera": 1, "params": {"files": 100, "pairs": 200},
  "nodes": {
    "load": {"foreach": {"i": "0..${files}"}, "run": "examples/etl/load.sh examples/etl/data/mydata-{i}.dat"},
    "reference": {"sql": {"db": "examples/etl/ref.db", "query": "SELECT * FROM mytable"}},
    "process": {"foreach": {"i": "0..${files}"}, "in": ["load[i]", "reference"], "run": "examples/etl/process.sh {in[0]} {in[1]}"},
    "roll": {"window": {"over": "process", "size": 3}, "run": "examples/etl/roll.sh {in}"},
    "compare": {"pairs": {"from": "roll", "count": "${pairs}", "seed": 42}, "run": "examples/etl/compare.sh {in[0]} {in[1]}"},
    "best": {"reduce": "compare", "run": "examples/etl/best.sh {in}"}},
  "outputs": {"best": "-"}}, indent=1))
P
	run -0 "$TESSERA" run "$TMP/etl.json"
	[ "$output" = "$expected" ]
}

@test "--set changes the sizes; a target runs only its part" {
	run -0 "$TESSERA" run graphs/etl.yaml --set files=10 --set pairs=5
	assert_output --regexp '^best distance: [0-9.]+ over 5 pairs$'
	run -0 "$TESSERA" run graphs/etl.yaml "roll[0]"
	[ "$output" = "$(python3 tests/etl_expected.py --emit roll 0)" ]
}
