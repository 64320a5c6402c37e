#!/bin/sh
# Line coverage of the protocol core reached by a corpus of each fuzz target.
#
#   tests/fuzz/coverage.sh [CORPUS_ROOT]
#
# CORPUS_ROOT holds one directory per target (default tests/fuzz/corpus, the
# committed seeds; build/fuzz/work is what run.sh grew).  Each target is
# built with clang's source-based coverage into build/fuzz/cov/, run once
# over its corpus, and llvm-cov prints per-file coverage of src/ for each
# target and for all of them together.  Needs clang and llvm-cov/-profdata.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
root=${1:-tests/fuzz/corpus}
CC=${CC:-clang}
out=build/fuzz/cov
targets=${FUZZ_TARGETS:-"fuzz_frame fuzz_responder fuzz_initiator fuzz_records fuzz_classic fuzz_admit"}
core="src/errors.c src/event.c src/crypto.c src/frame.c src/handshake.c
      src/record.c src/session.c src/classic.c src/guard.c src/admit.c
      src/address.c src/names.c"
# The field arithmetic of the constant-time Elligator 2 map (§10), once
# the tree has it.
[ -f src/field25519.c ] && core="$core src/field25519.c"
cflags="-g -O1 -std=gnu11 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping
        -iquote src -I$out $(pkg-config --cflags glib-2.0) $(libgcrypt-config --cflags)"
libs="$(pkg-config --libs glib-2.0) $(libgcrypt-config --libs)"
# as run.sh builds them (fuzz-memo.h)
memo="tests/fuzz/fuzz-memo.c -Wl,--wrap=parley_x25519
      -Wl,--wrap=parley_x25519_base -Wl,--wrap=parley_cpace_generator
      -Wl,--wrap=parley_epoch_keys_expand -Wl,--wrap=parley_epoch_keys_ratchet"
profdata=$(command -v llvm-profdata || command -v llvm-profdata-14)
cov=$(command -v llvm-cov || command -v llvm-cov-14)

# llvm-cov's table, reduced to line, branch and function coverage
table() {
	awk '/^[a-z_]+\.c / || /^TOTAL/ {
		printf "  %-12s lines %7s  branches %7s  functions %7s\n", $1, $10, $13, $7 }'
}

rm -rf "$out"
mkdir -p "$out"
printf '#define GETTEXT_PACKAGE "parley"\n' >"$out/config.h"
objs=""
for t in $targets; do
	# shellcheck disable=SC2086
	$CC $cflags -o "$out/$t" "tests/fuzz/$t.c" $memo $core $libs
	LLVM_PROFILE_FILE="$out/$t.profraw" "./$out/$t" -runs=0 "$root/$t" \
		>"$out/$t.log" 2>&1
	"$profdata" merge -o "$out/$t.profdata" "$out/$t.profraw"
	echo "== $t ($(ls "$root/$t" | wc -l) inputs from $root/$t)"
	# shellcheck disable=SC2086
	"$cov" report "$out/$t" -instr-profile="$out/$t.profdata" $core | table
	if [ -z "$objs" ]; then objs="$out/$t"; else objs="$objs -object $out/$t"; fi
done
"$profdata" merge -o "$out/all.profdata" "$out"/*.profraw
echo "== all targets together"
# shellcheck disable=SC2086
"$cov" report $objs -instr-profile="$out/all.profdata" $core | table
echo "(line by line: $cov show $objs -instr-profile=$out/all.profdata src/session.c)"
