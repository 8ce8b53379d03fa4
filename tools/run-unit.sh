#!/bin/sh
# Run every cmocka unit test binary; fail if any fails.
build=$1; shift
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
