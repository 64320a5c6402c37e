#!/bin/sh
# Parley in Finch, end to end, as a user sees it: Finch processes, each with
# its own configuration directory (finch -c DIR, written by
# scripts/finch-profile.sh), run in a private tmux server.  The test types
# into them with `tmux send-keys` and reads what a user would see with
# `tmux capture-pane`.
#
# Native mode, two Finch processes (Alice and Bob) that dial each other:
# the session comes up with the same verification code on both sides, a
# message goes each way (non-ASCII text), Alice's /rekey and then Bob's
# rotate the key on both sides, and messages still get through after each.
#
# Classic mode (PROTOCOL.md section 11), twice: a Finch with a classic
# account that listens (Carol, then Erin) and tests/classic_peer.py playing
# the original Python tool, which listens on the address of their buddy
# "Tool" when they dial it.  To Carol the tool dialling in from 127.0.0.1 is
# that buddy; Erin has a second buddy on the same host, so to her it is a
# stranger, shown as "127.0.0.1" once its first message proves the
# passphrase.  For each of them:
#   1. the tool dials her; 45 messages each way, checked on her screen and
#      in the tool's output, across both sides' automatic rekeys (after 20
#      and 40 messages), then 4 manual /rekey from her and 4 rekeys from the
#      tool, a message each way after each: 12 rekeys on one incoming
#      connection;
#   2. she dials the tool;
#   3. three more incoming sessions, one after another, from 127.0.0.1 to
#      the same listener, messages both ways across a rekey in each.
# A classic session that fails is reported and closed, and the next one
# still runs; Finch dying ends the test at once.  Each Finch must quit
# cleanly (Alt-Q, exit status 0) at the end.
#
#   sh tests/test-finch.sh [--valgrind]
#
# --valgrind (or PARLEY_FINCH_VALGRIND=1) runs every Finch process under
# valgrind memcheck with tests/valgrind.supp, a log per process, and fails
# on any error valgrind reports (invalid read or write, use of an
# uninitialised value, bad free, a crash) and on any block definitely lost
# that Parley's own code allocated (the first frame below the allocator
# - malloc, GLib, libgcrypt - is in src/).  Finch and libgnt leak their
# own windows at exit; those are not Parley's and are not counted.
# scripts/test.sh runs this mode after "make check" (it takes minutes:
# PBKDF2 runs some 30 times slower under valgrind, so every wait polls, with
# timeouts stretched to match).
#
# TAP on stdout.  Skipped ("1..0 # SKIP") where finch or tmux is not
# installed, but never in CI ($CI set): .ci/run installs both.  Also
# skipped in a sanitizer build if Finch cannot run with ASan preloaded
# (see below), and in --valgrind mode where valgrind is missing or the
# plugins are a sanitizer build.  The classic part needs Debian's
# /usr/bin/python3 with python3-pycryptodome (scripts/deps.sh); it is
# reported skipped where that is missing (not in CI).
#
# PARLEY_PLUGIN_DIR: where the built libparley.so and parley.so are
# (default: ./.libs, which is where `make check` runs it from).
# Everything lives under one mktemp -d directory, removed on exit unless
# PARLEY_FINCH_KEEP=1; every account listens on a free port and all
# traffic stays on 127.0.0.1.
set -u

valgrind=${PARLEY_FINCH_VALGRIND:-0}
case ${1:-} in
--valgrind) valgrind=1 ;;
'') ;;
*) echo "usage: $0 [--valgrind]" >&2; exit 2 ;;
esac
[ "$valgrind" = 0 ] || valgrind=1

# How long to wait for Finch to show something, in seconds: only a failure
# waits that long, every wait polls.  Generous: sessions need PBKDF2, slow
# under the sanitizers and far slower under valgrind.
if [ $valgrind = 1 ]; then
	up_timeout=300
	step_timeout=150
	quit_timeout=180
	entry_timeout=40
else
	up_timeout=60
	step_timeout=30
	quit_timeout=30
	entry_timeout=10
fi

plan=40
n=0
failed=0
me=alice                # the Finch a classic scenario runs in, and its user
Me=Alice
pass="correct horse battery staple"
msg_a="Grüße aus Finch ✓"
msg_b="Hallo zurück, Alice ☺"
msg_a2="Nach dem Schlüsselwechsel ✓✓"
msg_b2="Bob nach seinem Schlüsselwechsel ☺☺"
python=/usr/bin/python3     # Debian's, with python3-pycryptodome

if ! command -v finch >/dev/null 2>&1 || ! command -v tmux >/dev/null 2>&1; then
	if [ -n "${CI:-}" ]; then
		echo "1..$plan"
		echo "Bail out! finch or tmux is missing in CI (scripts/deps.sh installs them)"
		exit 1
	fi
	echo "1..0 # SKIP finch or tmux is not installed"
	exit 0
fi
if [ $valgrind = 1 ] && ! command -v valgrind >/dev/null 2>&1; then
	if [ -n "${CI:-}" ]; then
		echo "1..$plan"
		echo "Bail out! valgrind is missing in CI (scripts/deps.sh installs it)"
		exit 1
	fi
	echo "1..0 # SKIP valgrind is not installed"
	exit 0
fi

srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 1
scripts=$srcdir/scripts
plugins=${PARLEY_PLUGIN_DIR:-$(pwd)/.libs}
for f in "$plugins/libparley.so" "$plugins/parley.so" "$scripts/finch-profile.sh" \
	"$srcdir/tests/classic_peer.py" "$srcdir/tests/valgrind.supp"; do
	if [ ! -f "$f" ]; then
		echo "1..$plan"
		echo "Bail out! $f not found (build first, or set PARLEY_PLUGIN_DIR)"
		exit 1
	fi
done

have_classic=1
if ! "$python" -c 'import Cryptodome' 2>/dev/null; then
	if [ -n "${CI:-}" ]; then
		echo "1..$plan"
		echo "Bail out! $python with python3-pycryptodome is missing in CI"
		exit 1
	fi
	have_classic=0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/parley-finch.XXXXXX") || exit 1
sock="$tmp/tmux.sock"
pids=""
peer_pid=""

tm() { tmux -S "$sock" "$@"; }

# alive PID: running (a zombie waiting for tmux to reap it has finished).
alive() {
	st=$(cut -d ' ' -f 3 "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}

cleanup() {
	exec 4>&- 2>/dev/null
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	# The Finch processes this test started, by their ids; wait for them to
	# go (Finch saves its files on the way out) before removing their dirs.
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	i=0
	for p in $pids; do
		while alive "$p" && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$p" 2>/dev/null
	done
	tm kill-server 2>/dev/null
	if [ "${PARLEY_FINCH_KEEP:-0}" = 1 ]; then
		echo "# kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
# a write to a peer that has gone fails instead of ending the test
trap '' PIPE

# Free ports (held together while picking, so they differ), from below the
# kernel's ephemeral range: a port inside it can become the local end of
# some outgoing connection before Finch or the tool listens on it.
ports=$(python3 -c '
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except Exception:
    low = 32768
span = range(max(low // 2, 1024), low)
held = []
for port in random.sample(span, min(200, len(span))):
    x = socket.socket()
    x.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        x.bind(("", port))
    except OSError:
        x.close()
        continue
    held.append(x)
    if len(held) == 6:
        break
print(" ".join(str(x.getsockname()[1]) for x in held))
' 2>/dev/null) || ports=""
case $ports in
*" "*" "*" "*" "*" "*) ;;
*)
	# no python3: below the ephemeral range, different per process
	base=$(( 16384 + ($$ % 2500) * 6 ))
	ports="$base $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5))" ;;
esac
set -- $ports
port_a=$1 port_b=$2 port_c=$3 port_e=$4 port_t=$5 port_d=$6

# Conversation windows cover the whole pane (see finch-profile.sh), so a
# long conversation can be read and the window in front told by its title.
FINCH_CONV_SIZE=200x49
export FINCH_CONV_SIZE
sh "$scripts/finch-profile.sh" "$tmp/alice" Alice "$port_a" "$pass" \
	"127.0.0.1:$port_b" Bob "$plugins" || exit 1
sh "$scripts/finch-profile.sh" "$tmp/bob" Bob "$port_b" "$pass" \
	"127.0.0.1:$port_a" Alice "$plugins" || exit 1
# Carol and Erin speak classic mode and listen.  Carol's one buddy is the
# tool, at the address it listens on when she dials it: the tool dialling
# in from 127.0.0.1 is that buddy (the only one on its host).  Erin has the
# tool too, and Dave (never online) on the same host: the tool dialling in
# could be either, so to her it is a stranger, shown under its address,
# "127.0.0.1", as the README says of the original tool in connect mode.
sh "$scripts/finch-profile.sh" "$tmp/carol" Carol "$port_c" "$pass" \
	"127.0.0.1:$port_t" Tool "$plugins" classic || exit 1
sh "$scripts/finch-profile.sh" "$tmp/erin" Erin "$port_e" "$pass" \
	"127.0.0.1:$port_t" Tool "$plugins" classic "127.0.0.1:$port_d" Dave || exit 1

# A sanitizer build's plugins need the ASan runtime loaded first, and Finch
# is not built with it: preload it.  Reports go to files checked at the end.
# On Debian 12 a preloaded libasan.so.8 hangs Finch itself before it starts
# (`LD_PRELOAD=libasan.so.8 finch --version`: a glibc gettext lock left
# unbalanced), so try first, and skip where that is so.
preload=$(ldd "$plugins/libparley.so" 2>/dev/null | awk '/libasan/ { print $3; exit }')
san_env=""
if [ -n "$preload" ] && [ $valgrind = 1 ]; then
	echo "1..0 # SKIP --valgrind: the plugins are a sanitizer build (valgrind and ASan do not mix)"
	exit 0
fi
if [ -n "$preload" ]; then
	if ! LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 timeout 5 finch --version 2>/dev/null |
		grep -q Finch; then
		echo "1..0 # SKIP sanitizer build: Finch hangs with $preload preloaded"
		exit 0
	fi
	san_env="LD_PRELOAD=$preload"
	san_env="$san_env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:log_path=$tmp/asan"
	san_env="$san_env UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$tmp/ubsan"
fi

# Our own tmux server: no user configuration, panes kept when Finch exits
# (so a crash can still be read, and its exit status), no status line.
cat > "$tmp/tmux.conf" <<EOF
set -g remain-on-exit on
set -g status off
set -g history-limit 0
EOF

# The command that runs Finch on DIR, NAME for valgrind's log file.  Under
# valgrind GLib's allocator is plain malloc, so memcheck sees every block;
# leaks are judged from the log (vg_leaks), not by the exit status: Finch
# itself leaks at exit.  "finch -d" writes the debug log (Parley's
# connection ids and epochs, never message text) to DIR/stderr.
finch_cmd() {
	vg=""
	if [ $valgrind = 1 ]; then
		vg="G_SLICE=always-malloc G_DEBUG=gc-friendly valgrind --tool=memcheck"
		vg="$vg --error-exitcode=99 --leak-check=full --show-leak-kinds=definite"
		vg="$vg --errors-for-leak-kinds=none --num-callers=40 --fullpath-after="
		vg="$vg --suppressions='$srcdir/tests/valgrind.supp' --log-file='$tmp/$1.vg.%p'"
	fi
	echo "env HOME='$2' LC_ALL=C.UTF-8 $san_env $vg finch -d -c '$2' 2>'$2/stderr'"
}

# start NAME: a detached 200x50 session running Finch on $tmp/NAME, with
# HOME pointing there too (no ~/.gntrc of the user's) and a UTF-8 locale.
# A shell in the pane keeps Finch's process id in NAME/pid and its exit
# status in NAME/exit (tmux 3.3 does not always reap a pane's process in
# time to tell its status).  Finch reads the pane's terminal: "&" alone
# would give it /dev/null.
start() {
	tm -f "$tmp/tmux.conf" new-session -d -s "$1" -x 200 -y 50 \
		"$(finch_cmd "$1" "$tmp/$1") </dev/tty & echo \$! >'$tmp/$1/pid'; wait \$!; echo \$? >'$tmp/$1/exit'" ||
		return 1
	_w=0
	while [ ! -s "$tmp/$1/pid" ] && [ $_w -lt 50 ]; do
		sleep 0.1
		_w=$((_w + 1))
	done
	[ -s "$tmp/$1/pid" ] || return 1
	pids="$pids $(cat "$tmp/$1/pid")"
}

# died_how NAME: Finch's exit status, in words.
died_how() {
	st=$(cat "$tmp/$1/exit" 2>/dev/null)
	case $st in
	'') echo "exit status unknown" ;;
	13[0-9] | 1[4-9][0-9]) echo "killed by signal $((st - 128))$( [ $((st - 128)) = 11 ] && echo ", SIGSEGV")" ;;
	*) echo "exit status $st" ;;
	esac
}

# dead NAME: Finch in that pane has ended.
dead() { [ -s "$tmp/$1/exit" ] || [ "$(tm display-message -p -t "$1" '#{pane_dead}' 2>/dev/null)" = 1 ]; }

# screen NAME: the pane as one line, window borders and scroll bars blanked
# and runs of blanks squeezed, so text Finch wrapped still matches.
screen() {
	tm capture-pane -p -t "$1" 2>/dev/null |
		sed -e 's/│/ /g' -e 's/▒/ /g' | tr '\n' ' ' | tr -s ' '
}

# top NAME: the first row of the pane (the title of the window in front).
top() { tm capture-pane -p -t "$1" -S 0 -E 0 2>/dev/null; }

# wait_for NAME TEXT [SECONDS]: poll until the pane shows TEXT; give up at
# once if Finch has died.
wait_for() {
	_end=$(( $(date +%s) + ${3:-$step_timeout} ))
	while :; do
		screen "$1" | grep -qF -- "$2" && return 0
		dead "$1" && return 1
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.2
	done
}

# type_line NAME TEXT: type TEXT into the window in front, and Enter once
# it shows in the entry: a busy Finch (under valgrind, say) has been seen
# to lose what was typed just as a window came up.  Then the entry is
# emptied (Ctrl-E, Ctrl-U) and TEXT typed again, up to 3 times.  TEXT must
# not be on the screen already.
type_line() {
	_t=0
	while [ $_t -lt 3 ]; do
		tm send-keys -t "$1" -l -- "$2" || return 1
		if wait_for "$1" "$2" "$entry_timeout"; then
			tm send-keys -t "$1" C-m
			return
		fi
		tm send-keys -t "$1" C-e C-u
		_t=$((_t + 1))
	done
	return 1
}

# ---- valgrind's logs --------------------------------------------------------

# The kinds of error memcheck reports (leaks apart), as their first lines
# read in a log, and a crash.
vg_error_re='== (Invalid (read|write|free)|Mismatched free|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Argument .* fishy|Process terminating)'

# vg_errors NAME: how many errors memcheck has logged for NAME's Finch so
# far (its forked children included).
vg_errors() {
	cat "$tmp/$1".vg.* 2>/dev/null | grep -cE "$vg_error_re"
}

# vg_leaks NAME: the blocks definitely lost that Parley allocated: the first
# frame below the allocator (valgrind's malloc, GLib, libc, libgcrypt) is a
# source file under src/.  Prints each such record.
vg_leaks() {
	cat "$tmp/$1".vg.* 2>/dev/null | awk '
		/are definitely lost in loss record/ { rec = $0; inrec = 1; decided = 0; ours = 0; next }
		inrec && /^==[0-9]+== *$/ { if (ours) print rec "\n"; inrec = 0; next }
		inrec {
			rec = rec "\n" $0
			if (decided) next
			if ($0 ~ /\(in [^)]*(vgpreload_memcheck|libglib-2\.0|libc\.so|libgcrypt)[^)]*\)/) next
			if ($0 ~ /: (malloc|calloc|realloc|g_[a-z0-9_]*) \(/) next
			decided = 1
			if ($0 ~ /\/src\/[A-Za-z0-9_]+\.[ch]:[0-9]+\)/) ours = 1
		}'
}

# vg_show NAME: the errors in NAME's logs, with their stacks, for the TAP
# log (the first 120 lines).
vg_show() {
	for f in "$tmp/$1".vg.*; do
		[ -f "$f" ] || continue
		awk -v re="$vg_error_re" '
			$0 ~ re { show = 1 }
			show { print }
			show && /^==[0-9]+== *$/ { show = 0 }' "$f" 2>/dev/null
	done | head -n 120 | sed 's/^/# /'
}

# ---- the Python tool ---------------------------------------------------------

# peer_start LABEL ARGS...: tests/classic_peer.py, the original tool's
# stand-in (one key kept, as the original), driven through a FIFO on fd 4;
# its events go to $tmp/LABEL.out.
peer_start() {
	label=$1
	shift
	peer_out="$tmp/$label.out"
	rm -f "$tmp/$label.in"
	mkfifo "$tmp/$label.in" || return 1
	"$python" "$srcdir/tests/classic_peer.py" "$@" --passphrase "$pass" \
		<"$tmp/$label.in" >"$peer_out" 2>"$tmp/$label.err" &
	peer_pid=$!
	exec 4>"$tmp/$label.in"
}

peer_cmd() { printf '%s\n' "$1" >&4; }

# peer_send TEXT: the tool sends TEXT (no '"' or '\' in it).
peer_send() { peer_cmd "send \"$1\""; }

# peer_stop: end of its input: the tool closes the connection and exits.
peer_stop() {
	exec 4>&-
	_p=0
	while [ -n "$peer_pid" ] && alive "$peer_pid" && [ $_p -lt 100 ]; do
		sleep 0.1
		_p=$((_p + 1))
	done
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	[ -n "$peer_pid" ] && wait "$peer_pid" 2>/dev/null
	peer_pid=""
}

# recv_line TEXT: the tool's event for a message TEXT it received.
recv_line() {
	"$python" -c 'import json, sys; print("recv", json.dumps(sys.argv[1]))' "$1"
}

# peer_wait LINE [COUNT] [SECONDS]: poll until the tool has printed LINE
# (the whole line) COUNT times (default 1).
peer_wait() {
	_pend=$(( $(date +%s) + ${3:-$step_timeout} ))
	while :; do
		[ "$(grep -cxF -- "$1" "$peer_out" 2>/dev/null)" -ge "${2:-1}" ] && return 0
		dead "$me" && return 1
		[ "$(date +%s)" -ge "$_pend" ] && return 1
		sleep 0.2
	done
}

# ---- TCP state on loopback, from /proc (nothing connects to find out) --------

hexport() { printf '%04X' "$1"; }

# tcp_states PORT: the state (hex, as in /proc/net/tcp) of every socket with
# PORT at its local end or its remote end, one per line, "L st" or "R st".
tcp_states() {
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$(hexport "$1")" '
		NR > 0 && $4 ~ /^[0-9A-F][0-9A-F]$/ {
			split($2, l, ":"); split($3, r, ":")
			if (l[2] == p) print "L", $4
			if (r[2] == p) print "R", $4
		}'
}

# listening PORT: something listens on PORT.
listening() { tcp_states "$1" | grep -q '^L 0A$'; }

# wait_closed SIDE PORT: poll until no socket with PORT at its SIDE end
# (L or R) is established or waiting for its owner to close it.
wait_closed() {
	_wend=$(( $(date +%s) + step_timeout ))
	while tcp_states "$2" | grep -qE "^$1 (01|08)\$"; do
		[ "$(date +%s)" -ge "$_wend" ] && return 1
		sleep 0.2
	done
}

# ---- reporting -------------------------------------------------------------

# dump [NAME...]: the panes, the end of Parley's debug log, the tool's
# events and valgrind's errors, for whoever reads the log.
dump() {
	[ $# -gt 0 ] || set -- alice bob carol erin
	for s in "$@"; do
		[ -d "$tmp/$s" ] || continue
		echo "# ---- $s's pane ----"
		tm capture-pane -p -t "$s" 2>/dev/null | sed -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/^/# /'
		if [ -s "$tmp/$s/stderr" ]; then
			echo "# ---- $s's debug log (Parley's and GLib's lines, the last 40) ----"
			grep -E '^\([0-9:]+\) (parley|g_log): ' "$tmp/$s/stderr" | tail -n 40 | sed 's/^/# /'
		fi
		if [ $valgrind = 1 ] && [ "$(vg_errors "$s")" -gt 0 ]; then
			echo "# ---- memcheck's errors in $s's Finch ----"
			vg_show "$s"
		fi
	done
	if [ -n "${peer_out:-}" ] && [ -f "$peer_out" ]; then
		echo "# ---- the tool's events (${peer_out##*/}, the last 30) ----"
		tail -n 30 "$peer_out" | sed 's/^/# /'
		sed 's/^/# /' "${peer_out%.out}.err" 2>/dev/null
	fi
	for f in "$tmp"/asan.* "$tmp"/ubsan.*; do
		[ -f "$f" ] && sed 's/^/# /' "$f"
	done
}

ok() { n=$((n + 1)); echo "ok $n - $1"; }

# Native checks depend on the one before: stop at the first failure, with
# the panes printed for whoever reads the log.  Also when Finch has died.
fail() {
	n=$((n + 1))
	echo "not ok $n - $1"
	dump
	echo "Bail out! $1"
	exit 1
}

# soft_fail TEXT: a failed classic check; the test goes on with the next
# session (each is a new connection) unless the Finch in the classic
# scenario ($me) has died.
soft_fail() {
	n=$((n + 1))
	failed=1
	echo "not ok $n - $1"
	dump "$me"
	if dead "$me"; then
		echo "Bail out! $Me's Finch died ($(died_how "$me"))"
		exit 1
	fi
}

# not_run TEXT WHY: a check that cannot run after an earlier failure.
not_run() {
	n=$((n + 1))
	failed=1
	echo "not ok $n - $1 (not run: $2)"
}

skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

# in_front NAME TITLE: the window titled TITLE is in front, at the top
# left: its title comes before any window's top right corner on row 1.
in_front() { top "$1" | sed 's/┐.*//' | grep -qF -- "┤$2├"; }

# focus NAME TITLE: bring the window titled TITLE to the front (Alt-N cycles
# Finch's windows).
focus() {
	_f=0
	while [ $_f -lt 6 ]; do
		in_front "$1" "$2" && return 0
		tm send-keys -t "$1" M-n
		_g=0
		while [ $_g -lt 10 ] && ! in_front "$1" "$2"; do
			sleep 0.3
			_g=$((_g + 1))
		done
		_f=$((_f + 1))
	done
	in_front "$1" "$2"
}

# code NAME: the verification code in the buddy's tooltip, selecting the
# buddy with Ctrl-N (arrow keys do not move Finch's buddy-list selection).
code() {
	_c=0
	while [ $_c -lt 5 ]; do
		tm send-keys -t "$1" C-n
		if wait_for "$1" "Verification code:" $((step_timeout / 10)); then
			screen "$1" | grep -o 'Verification code: [0-9]\{3\} [0-9]\{3\}' |
				head -n 1 | sed 's/.*: //'
			return 0
		fi
		_c=$((_c + 1))
	done
	return 1
}

# select_buddy NAME ALIAS: select the buddy ALIAS in the buddy list (in
# front): Ctrl-N / Ctrl-P move the selection; the selected buddy's tooltip
# names it ("Nickname: ALIAS").
select_buddy() {
	for _key in C-n C-p; do
		_s=0
		while [ $_s -lt 6 ]; do
			screen "$1" | grep -qF "Nickname: $2 " && return 0
			tm send-keys -t "$1" $_key
			wait_for "$1" "Nickname: $2 " 1 && return 0
			_s=$((_s + 1))
		done
	done
	return 1
}

# quit NAME: Alt-Q, then wait for Finch to end (under valgrind it writes
# its leak report first).
quit() {
	tm send-keys -t "$1" M-q
	_qend=$(( $(date +%s) + quit_timeout ))
	while [ ! -s "$tmp/$1/exit" ]; do
		[ "$(date +%s)" -ge "$_qend" ] && return 1
		sleep 0.5
	done
	[ "$(cat "$tmp/$1/exit")" = 0 ]
}

# quit_item NAME USER: the TAP line for quitting NAME's Finch (exit status
# 0; 99 is memcheck's verdict, told in the next check).  A Finch that does
# not end is left to the clean-up.
quit_item() {
	if quit "$1"; then
		ok "$2's Finch quits cleanly"
		return
	fi
	n=$((n + 1))
	failed=1
	if [ -s "$tmp/$1/exit" ]; then
		how=$(died_how "$1")
		[ $valgrind = 1 ] && [ "$(cat "$tmp/$1/exit")" = 99 ] && how="$how: memcheck found errors"
	else
		how="still running after $quit_timeout s"
	fi
	echo "not ok $n - $2's Finch quits cleanly ($how)"
	dump "$1"
}

# memcheck NAME WHO: the TAP line for the valgrind verdict on NAME's Finch.
memcheck() {
	if [ $valgrind = 0 ]; then
		skip "memcheck: $2's Finch had no errors and lost none of Parley's memory" \
			"not under valgrind (tests/test-finch.sh --valgrind)"
		return
	fi
	errs=$(vg_errors "$1")
	leaks=$(vg_leaks "$1")
	if ! grep -q 'ERROR SUMMARY' "$tmp/$1".vg.* 2>/dev/null; then
		n=$((n + 1))
		failed=1
		echo "not ok $n - memcheck: $2's Finch had no errors and lost none of Parley's memory (no report: it did not exit)"
		vg_show "$1"
	elif [ "$errs" -gt 0 ] || [ -n "$leaks" ]; then
		n=$((n + 1))
		failed=1
		echo "not ok $n - memcheck: $2's Finch had no errors and lost none of Parley's memory ($errs errors)"
		vg_show "$1"
		printf '%s\n' "$leaks" | head -n 120 | sed 's/^/# /'
	else
		ok "memcheck: $2's Finch had no errors and lost none of Parley's memory"
	fi
}

echo "1..$plan"
t0=$(date +%s)
[ $valgrind = 1 ] && echo "# every Finch runs under valgrind memcheck (logs: $tmp/NAME.vg.PID)"

# ==== native mode: Alice and Bob ==============================================

start alice && start bob || fail "tmux starts two Finch processes"

# 1: Finch hides offline buddies, so each buddy showing up ("◯", available)
# means the session is up.
wait_for alice "◯ Bob" $up_timeout && wait_for bob "◯ Alice" $up_timeout ||
	fail "the session comes up: Alice sees Bob online, Bob sees Alice"
ok "the session comes up: Alice sees Bob online, Bob sees Alice"

# Both dial at sign-on; when both get through, each side keeps one of the
# two sessions (§9) and a second "established" notice with another code
# may follow.  Read the codes once one connection is left, for 3 s.
_calm=0
end=$(( $(date +%s) + up_timeout ))
while [ $_calm -lt 3 ]; do
	if [ "$({ tcp_states "$port_a"; tcp_states "$port_b"; } | grep -c '^L 01$')" = 1 ]; then
		_calm=$((_calm + 1))
	else
		_calm=0
	fi
	[ "$(date +%s)" -ge "$end" ] && fail "one connection is left between Alice and Bob"
	sleep 1
done

# 2: the verification codes in both buddy tooltips agree.
code_a=$(code alice) && code_b=$(code bob) && [ -n "$code_a" ] && [ "$code_a" = "$code_b" ] ||
	fail "both tooltips show the same verification code (Alice '${code_a:-}', Bob '${code_b:-}')"
ok "both tooltips show the same verification code ($code_a)"

# 3: Alice opens the conversation with Bob (selected above) and writes.
tm send-keys -t alice C-m
focus alice "Bob (Alice -- Parley)" || fail "Enter on Bob opens Alice's conversation window"
type_line alice "$msg_a"
wait_for alice "Alice: $msg_a" || fail "Alice's message shows in her conversation"
# Bob's conversation window opens by itself, behind his buddy list.
wait_for bob "Alice (Bob -- Parley)" && focus bob "Alice (Bob -- Parley)" &&
	wait_for bob "Alice: $msg_a" || fail "Bob receives Alice's message"
ok "Bob receives Alice's message: $msg_a"

# 4: Bob answers.
type_line bob "$msg_b"
wait_for alice "Bob: $msg_b" || fail "Alice receives Bob's reply"
ok "Alice receives Bob's reply: $msg_b"

# 5, 6: /rekey in Alice's conversation rotates the key on both sides.
type_line alice "/rekey"
wait_for alice "Session key rotated (asked by you); epoch 1." ||
	fail "Alice's /rekey: her side shows epoch 1, asked by her"
ok "Alice's /rekey: her side shows epoch 1, asked by her"
wait_for bob "Session key rotated (asked by Alice); epoch 1." ||
	fail "Alice's /rekey: Bob's side shows epoch 1, asked by Alice"
ok "Alice's /rekey: Bob's side shows epoch 1, asked by Alice"

# 7: the new key carries messages.
type_line alice "$msg_a2"
wait_for bob "Alice: $msg_a2" || fail "a message after the rekey reaches Bob"
ok "a message after the rekey reaches Bob"

# 8: both conversations were opened after the session came up; each says
# so when it opens, with the same code.
screen alice | grep -qF "Secure session with Bob established. Verification code: $code_a" &&
	screen bob | grep -qF "Secure session with Alice established. Verification code: $code_a" ||
	fail "conversations opened later show the session and the same verification code"
ok "conversations opened later show the session and the same verification code"

# 9: the other way round: Bob's /rekey, and his message under the new key.
type_line bob "/rekey"
wait_for bob "Session key rotated (asked by you); epoch 2." &&
	wait_for alice "Session key rotated (asked by Bob); epoch 2." ||
	fail "Bob's /rekey: both sides show epoch 2, asked by Bob"
type_line bob "$msg_b2"
wait_for alice "Bob: $msg_b2" || fail "a message after Bob's rekey reaches Alice"
ok "Bob's /rekey: both sides show epoch 2, and his next message reaches Alice"

# 10-13: both quit with Alt-Q, exit status 0; memcheck's verdict on each.
quit_item alice Alice
quit_item bob Bob
memcheck alice Alice
memcheck bob Bob

# ==== classic mode: Carol and Erin (Finch, listening) and the original tool ===

# session_up TITLE HELLO: the tool (just started) has its key and writes
# HELLO first (a caller that is no buddy is shown only once a frame of its
# proves the passphrase); the conversation titled TITLE shows it, with what
# classic mode does not protect, and is brought to the front.
session_up() {
	peer_wait "key-ready" 1 "$up_timeout" && peer_send "$2" &&
		wait_for "$me" "$1" "$up_timeout" && focus "$me" "$1" &&
		wait_for "$me" "$who: $2" "$up_timeout" &&
		screen "$me" | grep -qF "Classic mode: this conversation uses the original tool's protocol"
}

# session_end ITEM SIDE PORT ERRS: the tool closes the connection; the
# Finch's end of it goes too (SIDE: L, it listens on PORT, or R, it dialled
# PORT), Finch lives on, and (under valgrind) memcheck logged nothing since
# the session began (ERRS errors before it).
session_end() {
	peer_stop
	if dead "$me"; then
		soft_fail "$1: $Me's Finch died ($(died_how "$me"))"
	elif ! wait_closed "$2" "$3"; then
		soft_fail "$1: $Me's Finch did not close its end"
	elif [ $valgrind = 1 ] && [ "$(vg_errors "$me")" -gt "$4" ]; then
		soft_fail "$1: memcheck reported errors in $Me's Finch during it"
	else
		ok "$1"
	fi
}

# classic_scenario NAME USER PORT WHO: the whole classic scenario (13
# checks) for the Finch on $tmp/NAME, whose classic account USER listens on
# PORT and names the tool dialling in WHO (its buddy's alias, or the
# address of a stranger).
classic_scenario() {
	me=$1 Me=$2 port_l=$3 who=$4
	who_re=$(printf '%s' "$who" | sed 's/\./\\./g')
	in_conv="$who ($Me -- Parley)"
	out_conv="Tool ($Me -- Parley)"
	t1=$(date +%s)
	echo "# classic mode: $Me listens on $port_l; the tool dialling in is $who to her"
	start "$me" || fail "tmux starts $Me's Finch"

	# 1: her classic account signs on and listens (classic buddies are
	# never probed, so they show without presence).
	end=$(( $(date +%s) + up_timeout ))
	until listening "$port_l" && screen "$me" | grep -qF "Tool"; do
		{ dead "$me" || [ "$(date +%s)" -ge "$end" ]; } &&
			fail "$Me's classic account signs on and listens on port $port_l"
		sleep 0.2
	done
	ok "$Me's classic account signs on and listens on port $port_l"

	# -- 2-6: one incoming connection, 45 messages each way, 12 rekeys -----

	errs_before=$(vg_errors "$me")
	peer_start "$me-tool1" --connect "127.0.0.1:$port_l"
	up=1
	# 2: the conversation with the tool shows its first message, with what
	# classic mode does not protect.
	item="the tool dials $Me: the conversation with $who shows its first message and the classic-mode warning"
	if session_up "$in_conv" "Tool to $Me, session 1, hello"; then
		ok "$item"
	else
		soft_fail "$item"
		up=0
	fi

	# 3: she writes 45 messages, one after the other (the last one not
	# ASCII); her side rekeys by itself after her 20th and her 40th (epochs
	# 1 and 2).  The tool must get them all, in order, and see both rekeys.
	item="$Me's 45 messages reach the tool in order, across her 2 automatic rekeys"
	if [ $up = 1 ]; then
		why=""
		: >"$tmp/$me.c2t.expected"
		rekey_wait=$step_timeout
		i=1
		while [ $i -le 45 ]; do
			text=$(printf '%s to Tool, session 1, message %02d of 45' "$Me" $i)
			[ $i = 45 ] && text="$text: Grüße, ça va ✓"
			type_line "$me" "$text"
			recv_line "$text" >>"$tmp/$me.c2t.expected"
			if ! wait_for "$me" "$Me: $text"; then
				why="her message $i did not show in her conversation"
				break
			fi
			case $i in
			20 | 40)
				# once one is missing, do not wait long for the next
				if ! wait_for "$me" "Session key rotated (asked by you); epoch $((i / 20))." $rekey_wait; then
					why="${why:+$why; }her side showed no automatic rekey (epoch $((i / 20))) after message $i"
					rekey_wait=1
				fi ;;
			esac
			i=$((i + 1))
		done
		if [ $i -gt 45 ]; then
			if ! peer_wait "$(tail -n 1 "$tmp/$me.c2t.expected")"; then
				why="${why:+$why; }the tool received $(grep -c '^recv ' "$peer_out") of them"
			elif ! grep '^recv ' "$peer_out" | cmp -s - "$tmp/$me.c2t.expected"; then
				why="${why:+$why; }the tool received them, but not all, or out of order"
			elif [ "$(grep -cx 'rekeyed peer' "$peer_out")" != 2 ]; then
				why="${why:+$why; }the tool saw $(grep -cx 'rekeyed peer' "$peer_out") rekeys from $Me"
			elif grep -q '^undecryptable' "$peer_out"; then
				why="${why:+$why; }the tool could not decrypt some"
			fi
		fi
		if [ -z "$why" ]; then
			ok "$item"
		else
			soft_fail "$item: $why"
		fi
	else
		not_run "$item" "the session did not come up"
	fi

	# 4: the tool writes 45 messages at once; it rekeys by itself after its
	# 20th and its 40th (epochs 3 and 4, asked by the tool).  The
	# conversation holds some 45 lines: every message must show on one of
	# the screens read while they arrive.
	item="the tool's 45 messages, sent at once, all show in $Me's conversation, with its 2 automatic rekeys"
	all_in=0
	if [ $up = 1 ]; then
		i=1
		while [ $i -le 45 ]; do
			text=$(printf 'Tool to %s, session 1, message %02d of 45' "$Me" $i)
			[ $i = 45 ] && text="$text: Grüße, ça va ✓"
			peer_send "$text"
			i=$((i + 1))
		done
		seen="$tmp/$me.t2c.seen"
		: >"$seen"
		got=0
		# the time limit runs from the last line that showed
		end=$(( $(date +%s) + step_timeout ))
		while [ "$got" -lt 47 ]; do
			screen "$me" | grep -oE "$who_re: Tool to $Me, session 1, message [0-9]+ of 45|\\(asked by $who_re\\); epoch [34]\\." \
				>>"$seen"
			now=$(sort -u "$seen" | wc -l)
			if [ "$now" -gt "$got" ]; then
				got=$now
				end=$(( $(date +%s) + step_timeout ))
			fi
			{ dead "$me" || [ "$(date +%s)" -ge "$end" ]; } && break
			sleep 0.2
		done
		# what showed, for the report: "01-20, 20 of 45", the rekeys seen
		shown=$(grep -o 'message [0-9]*' "$seen" | sort -u | sed 's/message //' |
			awk 'NR == 1 { first = $1 } { last = $1; n++ }
				END { if (n) printf "%s-%s, %d of 45", first, last, n; else printf "none of 45" }')
		rekeys=$(grep -o 'epoch [34]' "$seen" | sort -u | tr '\n' ' ')
		if [ "$got" -ge 47 ] && ! screen "$me" | grep -qF "could not be decrypted"; then
			ok "$item"
			all_in=1
		else
			soft_fail "$item: $Me shows messages $shown; rekeys shown: ${rekeys:-none}; the tool sent $(grep -c '^sent ' "$peer_out") and rekeyed $(grep -c '^rekeyed self' "$peer_out") times"
		fi
	else
		not_run "$item" "the session did not come up"
	fi

	# 5: 4 manual /rekey from her and 4 rekeys from the tool, alternating,
	# with a message each way after each: epochs 5 to 12.
	item="12 rekeys on one incoming connection (4 automatic, 8 manual), a message both ways after each"
	if [ $all_in = 1 ]; then
		why=""
		e=4
		k=1
		while [ $k -le 4 ]; do
			e=$((e + 1))
			type_line "$me" "/rekey"
			if ! wait_for "$me" "Session key rotated (asked by you); epoch $e." ||
				! peer_wait "rekeyed peer" $((2 + k)); then
				why="her /rekey number $k (epoch $e) did not happen on both sides"
				break
			fi
			text="$Me after her rekey to epoch $e"
			type_line "$me" "$text"
			peer_send "Tool after $Me's rekey to epoch $e"
			if ! peer_wait "$(recv_line "$text")" ||
				! wait_for "$me" "$who: Tool after $Me's rekey to epoch $e"; then
				why="a message each way after her rekey to epoch $e did not get through"
				break
			fi
			e=$((e + 1))
			peer_cmd "rekey"
			if ! wait_for "$me" "Session key rotated (asked by $who); epoch $e."; then
				why="she does not see the tool's rekey number $k (epoch $e)"
				break
			fi
			peer_send "Tool after its rekey to epoch $e"
			text="$Me after the tool's rekey to epoch $e"
			type_line "$me" "$text"
			if ! wait_for "$me" "$who: Tool after its rekey to epoch $e" ||
				! peer_wait "$(recv_line "$text")"; then
				why="a message each way after the tool's rekey to epoch $e did not get through"
				break
			fi
			k=$((k + 1))
		done
		if [ -z "$why" ] && grep -q '^undecryptable' "$peer_out"; then
			why="the tool could not decrypt some of her messages"
		fi
		if [ -z "$why" ]; then
			ok "$item"
		else
			soft_fail "$item: $why"
		fi
	else
		not_run "$item" "the tool's messages did not all get through"
	fi

	# 6: the tool hangs up.
	session_end "the tool hangs up the long session; $Me's Finch closes its end, memcheck quiet" \
		L "$port_l" "$errs_before"

	# -- 7, 8: she dials the tool ------------------------------------------

	errs_before=$(vg_errors "$me")
	peer_start "$me-tool2" --listen "$port_t"
	if ! peer_wait "listening $port_t"; then
		soft_fail "$Me dials the tool: the tool listens on $port_t"
		not_run "the tool hangs up $Me's call" "the tool did not listen"
		peer_stop
	else
		# she opens the conversation with her buddy Tool from the buddy
		# list and writes; Parley dials when she does
		text="$Me dials the tool"
		reply="The tool answers $Me's call"
		if focus "$me" "Buddy List" && select_buddy "$me" Tool && tm send-keys -t "$me" C-m &&
			focus "$me" "$out_conv" && type_line "$me" "$text" &&
			peer_wait "key-ready" 1 "$up_timeout" &&
			peer_wait "$(recv_line "$text")" 1 "$up_timeout" &&
			peer_send "$reply" && wait_for "$me" "Tool: $reply"; then
			ok "$Me dials the tool: her message reaches it, its answer shows"
		else
			soft_fail "$Me dials the tool: her message reaches it, its answer shows"
		fi
		session_end "the tool hangs up $Me's call; her Finch closes its end, memcheck quiet" \
			R "$port_t" "$errs_before"
	fi

	# -- 9-11: three more incoming sessions from 127.0.0.1, a rekey in each

	for k in 2 3 4; do
		errs_before=$(vg_errors "$me")
		peer_start "$me-tool$((k + 1))" --connect "127.0.0.1:$port_l"
		item="incoming session $k from 127.0.0.1: messages both ways across a rekey, hang-up, memcheck quiet"
		back="$Me, incoming session $k"
		from2="Tool, incoming session $k, after its rekey"
		if session_up "$in_conv" "Tool to $Me, session $k, hello" &&
			type_line "$me" "$back" && peer_wait "$(recv_line "$back")" &&
			peer_cmd rekey && peer_send "$from2" && wait_for "$me" "$who: $from2" &&
			! grep -q '^undecryptable' "$peer_out"; then
			session_end "$item" L "$port_l" "$errs_before"
		else
			soft_fail "$item"
			peer_stop
		fi
	done

	# 12, 13: she quits; memcheck's verdict.
	quit_item "$me" "$Me"
	memcheck "$me" "$Me"
	echo "# classic mode with $Me: $(( $(date +%s) - t1 )) s"
}

# 14-26: the tool is Carol's buddy; 27-39: to Erin, a stranger.
if [ $have_classic = 0 ]; then
	i=0
	while [ $i -lt 26 ]; do
		skip "classic mode" "$python with python3-pycryptodome not found"
		i=$((i + 1))
	done
else
	classic_scenario carol Carol "$port_c" Tool
	classic_scenario erin Erin "$port_e" 127.0.0.1
fi

# 40: nothing from the sanitizers (sanitizer builds only).
n=$((n + 1))
if [ -z "$preload" ]; then
	echo "ok $n - no sanitizer report # SKIP not a sanitizer build"
elif ls "$tmp"/asan.* "$tmp"/ubsan.* >/dev/null 2>&1; then
	echo "not ok $n - no sanitizer report"
	dump
	failed=1
else
	echo "ok $n - no sanitizer report"
fi

echo "# finished in $(( $(date +%s) - t0 )) s"
exit $failed
