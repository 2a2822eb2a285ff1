bats_require_minimum_version 1.5.0
# Shared set-up for the CLI tests: the binary under test, bats-assert, and a
# private scratch folder that doubles as the spill folder so leftovers show.
ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
TESSERA="${TESSERA:-$ROOT/tessera}"
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
	cd "$ROOT"
	TMP="$(mktemp -d "${BATS_TMPDIR:-/tmp}/tessera-test.XXXXXX")"
	SPILL="$TMP/spill"
	mkdir -p "$SPILL"
	export TESSERA_SPILL_DIR="$SPILL"
	unset TESSERA_JOBS TESSERA_MEMORY_LIMIT
}

teardown() {
	rm -rf "$TMP"
}

# A spec from stdin text, written to $TMP/NAME.
spec() {
	cat > "$TMP/$1"
}

# The spill folder must be empty after every run, whatever happened.
assert_no_spill() {
	run -0 find "$SPILL" -mindepth 1
	assert_output ""
}
