#!/bin/sh
# Make docs/pidgin.png: Pidgin (Alice) under Xvfb chatting with Finch (Bob)
# over loopback - buddy list with Bob online, the conversation with the
# verification code, a message and a key rotation.
#
#   sh scripts/screenshot.sh [BUILD_DIR]     (default: build/demo/build)
#
# Needs: pidgin, finch, tmux, Xvfb, xdotool, imagemagick (apt-get install -y
# pidgin xvfb xdotool imagemagick); Parley's icons must be installed where
# Pidgin looks (make install), or the buddy list shows a generic icon.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo/build}
[ -f "$build/.libs/libparley.so" ] || { echo "build Parley first (sh scripts/demo.sh)"; exit 1; }
work=$(mktemp -d)
display=:$((90 + $$ % 9))
cleanup() {
	tmux -L parley-shot kill-server 2>/dev/null || true
	[ -n "${pidgin_pid:-}" ] && kill "$pidgin_pid" 2>/dev/null || true
	[ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

pass="correct horse battery staple"
sh "$top/scripts/finch-profile.sh" "$work/alice" Alice 5300 "$pass" 127.0.0.1:5301 Bob "$build/.libs"
sh "$top/scripts/finch-profile.sh" "$work/bob" Bob 5301 "$pass" 127.0.0.1:5300 Alice "$build/.libs"

Xvfb "$display" -screen 0 1024x640x24 >/dev/null 2>&1 &
xvfb_pid=$!
sleep 1
DISPLAY=$display pidgin -c "$work/alice" >/dev/null 2>&1 &
pidgin_pid=$!
tmux -L parley-shot -f /dev/null new-session -d -x 160 -y 45 "finch -c '$work/bob'"

# wait until Alice's buddy list shows Bob, then let the session come up
i=0
until DISPLAY=$display xdotool search --name "Buddy List" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 60 ] || { echo "Pidgin did not start"; exit 1; }
	sleep 0.5
done
sleep 6
blist=$(DISPLAY=$display xdotool search --name "Buddy List" | tail -1)
DISPLAY=$display xdotool windowmove "$blist" 720 0 windowsize "$blist" 300 420

# Bob (Finch) writes to Alice and rotates the key
tmux -L parley-shot send-keys C-n; sleep 0.5
tmux -L parley-shot send-keys C-m; sleep 1
tmux -L parley-shot send-keys "Hi Alice! Written in Finch, read in Pidgin. Grüße ✓" C-m; sleep 2
tmux -L parley-shot send-keys "/rekey" C-m; sleep 3

conv=$(DISPLAY=$display xdotool search --name "Bob" | head -1)
DISPLAY=$display xdotool windowmove "$conv" 20 20 windowsize "$conv" 660 420
sleep 2
mkdir -p "$top/docs"
DISPLAY=$display import -window root -crop 1024x460+0+0 "$top/docs/pidgin.png"
echo "Wrote docs/pidgin.png"
