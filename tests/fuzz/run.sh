#!/bin/sh
# Build every libFuzzer target in tests/fuzz/ and run each for SECONDS
# (default 60), one after the other.
#
#   tests/fuzz/run.sh [SECONDS]
#
# Each target is compiled with clang -fsanitize=fuzzer,address,undefined
# straight from the core sources into build/fuzz/ (no configure needed),
# with fuzz-memo.c standing in front of X25519 and the CPace generator
# (fuzz-memo.h: the same results, each computed once per process).
# The committed seed corpus tests/fuzz/corpus/<target>/ is copied to a
# scratch working corpus build/fuzz/work/<target>/ that the run grows; the
# committed one is never written.  Crash, leak and timeout inputs land in
# build/fuzz/artifacts/<target>/, the log in build/fuzz/logs/<target>.log.
#
# Environment: CC (default clang), FUZZ_TARGETS (default: all), FUZZ_JOBS
# (targets run at once, default 1), FUZZ_ARGS (extra libFuzzer flags),
# FUZZ_OUT (instead of build/fuzz), FUZZ_BUILD_ONLY=1 (build, don't run).
# Exits non-zero if a target fails to build or finds anything.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${1:-60}
CC=${CC:-clang}
out=${FUZZ_OUT:-build/fuzz}
targets=${FUZZ_TARGETS:-"fuzz_frame fuzz_responder fuzz_initiator fuzz_records fuzz_classic fuzz_admit"}
jobs=${FUZZ_JOBS:-1}

case $secs in
''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

# The core without I/O, and nothing else (no libpurple, no threads).
core="src/errors.c src/event.c src/crypto.c src/frame.c src/handshake.c
      src/record.c src/session.c src/classic.c src/guard.c src/admit.c
      src/address.c src/names.c"
# The field arithmetic of the constant-time Elligator 2 map (§10), once
# the tree has it.
[ -f src/field25519.c ] && core="$core src/field25519.c"
sanitize="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
cflags="-g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -Wno-unused-parameter
        -Wno-unused-function -iquote src -I$out $(pkg-config --cflags glib-2.0)
        $(libgcrypt-config --cflags)"
libs="$(pkg-config --libs glib-2.0) $(libgcrypt-config --libs)"
# fuzz-memo.h: every call to these reaches tests/fuzz/fuzz-memo.c first.
memo="tests/fuzz/fuzz-memo.c -Wl,--wrap=parley_x25519
      -Wl,--wrap=parley_x25519_base -Wl,--wrap=parley_cpace_generator
      -Wl,--wrap=parley_epoch_keys_expand -Wl,--wrap=parley_epoch_keys_ratchet"

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "run.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
mkdir -p "$out/logs"
# address.c translates its messages: the gettext domain configure would
# define (no configure here)
printf '#define GETTEXT_PACKAGE "parley"\n' >"$out/config.h"
# libFuzzer's runtime is in libclang-rt-<version>-dev, only recommended by
# Debian's clang: say so rather than fail with a linker error.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' \
	>"$out/probe.c"
# shellcheck disable=SC2086
if ! $CC $sanitize -o "$out/probe" "$out/probe.c" >"$out/logs/probe.log" 2>&1; then
	cat "$out/logs/probe.log" >&2
	echo "run.sh: $CC cannot link libFuzzer (apt-get install libclang-rt-14-dev)" >&2
	exit 2
fi
rm -f "$out/probe" "$out/probe.c"

echo "== building into $out/"
for t in $targets; do
	# shellcheck disable=SC2086 # word splitting of the flag lists is wanted
	$CC $sanitize $cflags -o "$out/$t" "tests/fuzz/$t.c" $memo $core $libs ||
		{ echo "run.sh: building $t failed" >&2; exit 1; }
done
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

run_one() {
	t=$1
	work="$out/work/$t"
	art="$out/artifacts/$t"
	log="$out/logs/$t.log"
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	cp tests/fuzz/corpus/"$t"/* "$work"/
	# -rss_limit_mb: the cores hold at most a few MB per connection;
	# -timeout: one input must not take seconds; -max_len: room for the
	# longest seeds (a maximal frame is built from fill, not carried).
	# shellcheck disable=SC2086
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"./$out/$t" -max_total_time="$secs" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=2048 -max_len=4096 \
		-artifact_prefix="$art/" ${FUZZ_ARGS:-} "$work" >"$log" 2>&1
}

summary() {
	t=$1
	rc=$2
	log="$out/logs/$t.log"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
	corp=$(ls "$out/work/$t" | wc -l)
	found=$(ls "$out/artifacts/$t" 2>/dev/null | wc -l)
	if [ "$rc" -eq 0 ] && [ "$found" -eq 0 ]; then
		verdict="nothing found"
	else
		verdict="FOUND SOMETHING (exit $rc): $(ls "$out/artifacts/$t" | tr '\n' ' ')see $log"
	fi
	printf '%-16s %12s execs  cov %-6s corpus %-6s %s\n' \
		"$t" "${execs:-?}" "${cov:-?}" "$corp" "$verdict"
	[ "$rc" -eq 0 ] && [ "$found" -eq 0 ]
}

echo "== running each target for ${secs}s ($jobs at a time)"
rm -f "$out"/logs/*.rc
status=0
running=0
# A small pool: a new target starts as soon as fewer than $jobs run (a
# run is over when its .rc file appears); the summary follows at the end.
for t in $targets; do
	while [ "$running" -ge "$jobs" ]; do
		sleep 1
		running=0
		for r in $started; do
			[ -f "$out/logs/$r.rc" ] || running=$((running + 1))
		done
	done
	(set +e; run_one "$t"; echo $? >"$out/logs/$t.rc.tmp";
	 mv "$out/logs/$t.rc.tmp" "$out/logs/$t.rc") &
	started="${started:-} $t"
	running=$((running + 1))
done
wait
for t in $targets; do
	summary "$t" "$(cat "$out/logs/$t.rc")" || status=1
done
[ $status -eq 0 ] && echo "All fuzz targets ran clean." ||
	echo "run.sh: a fuzz target found something (inputs in $out/artifacts/)" >&2
exit $status
