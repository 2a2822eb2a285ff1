#!/usr/bin/env bats
# Memory budget: spilling, reading back, streaming, and clean-up on failure and signals.

load helpers

# 40 results of 8 MB (320 MB, 10x a 32 MiB limit): half compressible text, half
# random bytes that end with their own md5, so every byte read back is checked.
big_spec() {
	spec big.yaml <<'Y'
tessera: 1
params: {n: 20}
nodes:
  text: {foreach: {i: "0..${n}"}, run: "yes line-{i} | head -c 8000000"}
  noise:
    foreach: {i: "0..${n}"}
    run: "t=$(mktemp); head -c 7999968 /dev/urandom > $t; cat $t; md5sum < $t | cut -c1-32 | tr -d '\\n'; rm -f $t"
  check_text:
    reduce: text
    run: "for f in {in}; do md5sum < $f | cut -c1-32; done"
  check_noise:
    reduce: noise
    run: "for f in {in}; do [ $(head -c 7999968 $f | md5sum | cut -c1-32) = $(tail -c 32 $f) ] && echo ok || echo BAD; done | sort | uniq -c"
outputs: {check_text: "-", check_noise: "-"}
Y
}

@test "a graph whose results add up to 10x the memory limit completes within the limit" {
	big_spec
	run -0 --separate-stderr "$TESSERA" run "$TMP/big.yaml" --memory-limit 32M --report "$TMP/r.json" -j 2
	expected_text="$(for i in $(seq 0 19); do yes line-$i | head -c 8000000 | md5sum | cut -c1-32; done)"
	[ "$(echo "$output" | head -20)" = "$expected_text" ]
	[ "$(echo "$output" | tail -1 | tr -s ' ')" = " 20 ok" ]
	run -0 python3 - "$TMP/r.json" <<'P'
import json, os, sys
r = json.load(open(sys.argv[1]))
limit = 32 << 20
assert r["spills"] > 0 and r["spilled_bytes"] >= 100 << 20, r
# every byte of results is counted; in memory it stays within the limit plus one result
assert r["peak_memory"] <= limit + 8_000_000, r["peak_memory"]
# RSS is only ours without a sanitizer (ASan keeps freed memory in quarantine).
if not os.environ.get("TESSERA_SANITIZED"):
    assert r["max_rss"] <= limit + (64 << 20), r["max_rss"]
kinds = {(e["kind"], e["compressed"]) for e in r["spill_events"]}
assert ("spill", True) in kinds, kinds      # text compresses
assert ("spill", False) in kinds, kinds     # random bytes do not
print("ok", r["peak_memory"], r["max_rss"])
P
	assert_output --partial ok
	assert_no_spill
}

@test "a result larger than the limit streams to disk" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  huge: {run: "yes 0123456789 | head -c 50000000"}
  size: {in: [huge], run: "wc -c < {in[0]}"}
  copy: {reduce: huge}
outputs: {size: "-", copy: copy.txt}
Y
	cd "$TMP"
	run -0 "$TESSERA" run s.yaml --memory-limit 8M --report r.json
	assert_output "50000000"
	[ "$(wc -c < copy.txt)" -eq 50000000 ]
	run -0 python3 -c "import json, os; r=json.load(open('r.json')); assert r['peak_memory'] < 8<<20, r; assert os.environ.get('TESSERA_SANITIZED') or r['max_rss'] < (8+64)<<20, r; print('ok')"
	assert_no_spill
}

@test "SIGINT in the middle of a spilling run: exit 130, children stopped, no spill files" {
	spec s.yaml <<Y
tessera: 1
nodes:
  blob: {foreach: {i: "0..200"}, run: "head -c 2000000 /dev/urandom; sleep 0.05"}
  slow: {in: [blob], run: "touch $TMP/started; sleep 29.731; cat {in} | wc -c"}
outputs: {slow: "-"}
Y
	"$TESSERA" run "$TMP/s.yaml" --memory-limit 4M -j 2 > "$TMP/out" 2> "$TMP/err" &
	pid=$!
	for _ in $(seq 100); do
		[ -e "$TMP/started" ] && [ -n "$(find "$SPILL" -type f)" ] && break
		sleep 0.1
	done
	[ -n "$(find "$SPILL" -type f)" ]
	kill -INT $pid
	status=0
	wait $pid || status=$?
	[ "$status" -eq 130 ]
	[ "$(cat "$TMP/err")" = "tessera: interrupted by SIGINT" ]
	assert_no_spill
	# a duration no one else uses: a "sleep 300" elsewhere on the machine must not fail this
	! pgrep -f "sleep 29[.]731" >/dev/null
}

@test "SIGTERM also cleans up and exits 143" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  blob: {foreach: {i: "0..50"}, run: "head -c 1000000 /dev/urandom; sleep 5"}
  all: {reduce: blob}
outputs: {all: out.bin}
Y
	cd "$TMP"
	"$TESSERA" run s.yaml -j 2 2> err &
	pid=$!
	sleep 0.5
	kill -TERM $pid
	status=0
	wait $pid || status=$?
	[ "$status" -eq 143 ]
	[ ! -e out.bin ]
	[ -z "$(ls -A | grep tessera)" ]
	assert_no_spill
}

@test "a full disk while spilling fails the run cleanly (fault injection)" {
	spec s.yaml <<'Y'
tessera: 1
nodes:
  blob: {foreach: {i: "0..30"}, run: "head -c 300000 /dev/urandom"}
  all: {reduce: blob, run: "cat {in} | wc -c"}
outputs: {all: "-"}
Y
	TESSERA_FAULT=spill_write:2 run -1 --separate-stderr "$TESSERA" run "$TMP/s.yaml" --memory-limit 2M
	[[ "$stderr" == *"cannot write spill file"*"No space left on device"* ]]
	assert_no_spill
}
