#!/bin/sh
# The whole test suite: installs what is missing, builds from a clean
# configure, runs `make check`, the plugins' end-to-end test and the Finch
# test under valgrind memcheck, the same suite under ASan/UBSan, each
# fuzzer for a minute, and `make distcheck`.  Build trees go under build/
# (ignored by git).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh
./autogen.sh >/dev/null
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build and test"
mkdir -p build/normal
(cd build/normal && "$top/configure" --quiet && make -s -j"$jobs" && make -s -j"$jobs" check) || {
	cat build/normal/test-suite.log 2>/dev/null; exit 1; }

# tests/test-plugin once more, under memcheck (tests/valgrind.supp names
# what libpurple and the system libraries leave behind); it needs the
# normal build above (valgrind and ASan do not mix)
echo "== tests/test-plugin under valgrind memcheck"
(cd build/normal && sh "$top/tests/valgrind.sh") || exit 1

# the Finch end-to-end test once more, every Finch under memcheck (Finch
# does not run with libasan preloaded); some five minutes
echo "== tests/test-finch.sh under valgrind memcheck"
(cd build/normal && sh "$top/tests/test-finch.sh" --valgrind) || exit 1

echo "== build and test with AddressSanitizer and UndefinedBehaviorSanitizer"
mkdir -p build/asan
(cd build/asan && "$top/configure" --quiet --enable-sanitizers CC=gcc &&
 make -s -j"$jobs" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 make -s -j"$jobs" check) || {
	cat build/asan/test-suite.log 2>/dev/null; exit 1; }

echo "== fuzzing: every libFuzzer target for 60 seconds"
sh tests/fuzz/run.sh 60 || exit 1

echo "== make distcheck"
(cd build/normal && make -s distcheck >distcheck.log 2>&1) || {
	tail -n 30 build/normal/distcheck.log
	# the failed tests' logs, from the unpacked tarball's build
	find build/normal -path '*/_build/*' -name test-suite.log -exec cat {} + 2>/dev/null
	exit 1; }
echo "All tests passed."
