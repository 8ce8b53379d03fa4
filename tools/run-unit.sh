#!/bin/sh
# Run every cmocka unit test binary; fail if any fails.
# A throwaway PostgreSQL cluster (tools/test-pg.sh) runs for the duration;
# tests find its socket directory in WHARF_TEST_PGHOST.
build=$1; shift
here=$(dirname "$0")
pgdir=$(sh "$here/test-pg.sh" start) || {
	echo "unit: could not start the test PostgreSQL cluster" >&2
	exit 1
}
trap 'sh "$here/test-pg.sh" stop "$pgdir"' EXIT
trap 'exit 1' INT TERM HUP
export WHARF_TEST_PGHOST="$pgdir"
fail=0; n=0
for t in "$@"; do
	n=$((n + 1))
	if ! timeout 300 "$t"; then
		echo "unit: FAILED $t" >&2
		fail=$((fail + 1))
	fi
done
echo "unit ($build): $((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
