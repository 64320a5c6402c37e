#!/bin/sh
# Build Parley and open two Finch instances, Alice and Bob, side by side in
# tmux, chatting over loopback with the passphrase "correct horse battery
# staple".  Nothing is installed system-wide: the plugins and both Finch
# configurations live under build/demo/.
#
# In Finch: Alt-A opens actions, Alt-N/Alt-P move between windows, Enter on
# a buddy opens a conversation; type /rekey in it to rotate the key.
# Ctrl-B then an arrow key moves between the two panes; `tmux kill-session
# -t parley-demo` ends the demo.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh
./autogen.sh >/dev/null
mkdir -p build/demo/build
(cd build/demo/build && [ -f Makefile ] || "$top/configure" --quiet)
make -s -C build/demo/build -j"$(nproc 2>/dev/null || echo 2)"

demo="$top/build/demo"
rm -rf "$demo/alice" "$demo/bob"
pass="correct horse battery staple"
sh scripts/finch-profile.sh "$demo/alice" Alice 5000 "$pass" 127.0.0.1:5001 Bob \
	"$demo/build/.libs"
sh scripts/finch-profile.sh "$demo/bob" Bob 5001 "$pass" 127.0.0.1:5000 Alice \
	"$demo/build/.libs"

tmux kill-session -t parley-demo 2>/dev/null || true
tmux new-session -d -s parley-demo -x 220 -y 50 "finch -c '$demo/alice'"
tmux split-window -h -t parley-demo "finch -c '$demo/bob'"
echo "Alice (left) and Bob (right) are starting in tmux session 'parley-demo'."
if [ -t 1 ] && [ -z "${TMUX:-}" ]; then
	exec tmux attach -t parley-demo
else
	echo "Attach with: tmux attach -t parley-demo"
fi
