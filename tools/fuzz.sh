#!/bin/sh
# Build every libFuzzer target with clang and run each for a while over its
# seed corpus.  "smoke" (make check): FUZZ_SECONDS each, default 10.
# Usage: tools/fuzz.sh smoke|long tests/fuzz/fuzz_*.c
mode=$1; shift
secs=${FUZZ_SECONDS:-10}
[ "$mode" = long ] && secs=${FUZZ_SECONDS:-600}
out=build/fuzz
mkdir -p "$out"
flags="$(pkg-config --cflags --libs openssl libpq libbsd libargon2 libsodium libxcrypt) -lunbound"
cflags="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -std=c11 \
    -D_GNU_SOURCE -Ilib -Ibuild/gen $(pkg-config --cflags openssl libpq libbsd)"
make -s build/gen/migrations.c >/dev/null || exit 1
# The library once, instrumented, in parallel; then one link per target.
mkdir -p "$out/lib"
rm -f "$out"/lib/*.o
jobs=$(nproc 2>/dev/null || echo 2)
# shellcheck disable=SC2086
printf '%s\n' lib/*.c build/gen/migrations.c | xargs -P "$jobs" -I{} \
    sh -c 'clang '"$cflags"' -c "$1" -o "'"$out"'/lib/$(basename "$1" .c).o"' \
    _ {} || exit 1
fail=0; n=0
for src in "$@"; do
	name=$(basename "$src" .c); short=${name#fuzz_}
	n=$((n + 1))
	# shellcheck disable=SC2086
	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
	    -D_GNU_SOURCE -Ilib -Ibuild/gen "$src" "$out"/lib/*.o \
	    $flags -o "$out/$name" || { fail=$((fail + 1)); continue; }
	corpus=tests/fuzz/corpus/$short
	work=$out/corpus-$short
	mkdir -p "$work"
	dict=""
	[ -f "tests/fuzz/$short.dict" ] && dict="-dict=tests/fuzz/$short.dict"
	if ! "$out/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    $dict "$work" "$corpus" >"$out/$name.log" 2>&1; then
		echo "fuzz: $name FAILED (see $out/$name.log)" >&2
		tail -30 "$out/$name.log" >&2
		fail=$((fail + 1))
	else
		echo "fuzz: $name ok ($(grep -c . "$out/$name.log") log lines)"
	fi
done
echo "fuzz: $((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
