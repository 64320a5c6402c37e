#!/bin/sh
# valgrind.sh - tests/test-plugin (the plugins end to end in the headless
# libpurple host) once under valgrind memcheck: no invalid access, no use
# of uninitialised memory, and no byte definitely lost - except what
# tests/valgrind.supp names, each entry libpurple's, GLib's or a system
# library's own, with the reason.
#
# Run it from a build directory where "make check" has built the plugins
# and the test:   sh /path/to/source/tests/valgrind.sh
# It prints valgrind's ERROR SUMMARY and LEAK SUMMARY and fails when either
# is not clean or a test case failed.  The full report goes to
# tests/valgrind.log, the test's own output to tests/valgrind.tap.  It takes
# minutes: PBKDF2 runs some 30 times slower under valgrind (the test
# stretches its waits to match).
set -u
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(pwd)
prog=tests/test-plugin
log=tests/valgrind.log
tap=tests/valgrind.tap

if [ ! -x "$builddir/$prog" ] || [ ! -f "$builddir/.libs/libparley.so" ]; then
	echo "valgrind.sh: build the plugins and $prog first (make check) in $builddir" >&2
	exit 2
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind.sh: valgrind is not installed (scripts/deps.sh installs it)" >&2
	exit 2
fi

# what "make check" gives the test (AM_TESTS_ENVIRONMENT), and GLib's
# allocator in plain malloc mode, so memcheck sees every block
PARLEY_PLUGIN_DIR="$builddir/.libs"
G_TEST_SRCDIR="$srcdir/tests"
G_TEST_BUILDDIR="$builddir/tests"
G_SLICE=always-malloc
G_DEBUG=gc-friendly
export PARLEY_PLUGIN_DIR G_TEST_SRCDIR G_TEST_BUILDDIR G_SLICE G_DEBUG

"$builddir/libtool" --mode=execute valgrind --tool=memcheck \
	--leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
	--suppressions="$srcdir/tests/valgrind.supp" --num-callers=40 \
	--log-file="$log" "$prog" --tap >"$tap" 2>&1
rc=$?

passed=$(grep -c '^ok ' "$tap")
failed=$(grep -c '^not ok ' "$tap")
echo "valgrind.sh: $prog: $passed cases passed, $failed failed (output: $tap)"
grep -E 'ERROR SUMMARY|LEAK SUMMARY|definitely lost:|indirectly lost:|possibly lost:|still reachable:|suppressed:' "$log" |
	sed 's/^==[0-9]*== */  /'
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tr -d , | tail -n 1)
definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -n 1)

if [ "${errors:-x}" != 0 ] || [ "${definite:-0}" != 0 ]; then
	echo "valgrind.sh: memcheck found errors or leaks: see $log" >&2
	grep -n -E 'Invalid|uninitialised|definitely lost in' "$log" | head -n 20 >&2
	exit 1
fi
if [ "$failed" != 0 ] || [ "$passed" = 0 ]; then
	# each failed case's assertion and event log, for a CI log to show
	grep -E '^not ok|^# .*(ERROR|assertion|\[[0-9]+\] \+)' "$tap" | tail -n 80 >&2
	echo "valgrind.sh: test cases failed under valgrind: see $tap" >&2
	exit 1
fi
if [ "$rc" != 0 ]; then
	echo "valgrind.sh: valgrind exited with $rc: see $log" >&2
	exit 1
fi
echo "valgrind.sh: clean"
