#!/bin/sh
# Install the Debian 12 packages Parley needs to build, test and demo,
# when any is missing.  Needs root (or sudo).
set -eu
pkgs="build-essential autoconf automake libtool autopoint pkg-config gettext
      libpurple-dev libglib2.0-dev libgcrypt20-dev
      python3 python3-pycryptodome finch tmux valgrind clang libclang-rt-14-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
