#!/bin/sh
# render.sh -- regenerate Parley's protocol icon PNGs from their SVGs.
#
#   parley-16.svg -> 16/parley.png   (hand-tuned for 16 px)
#   parley-22.svg -> 22/parley.png   (hand-tuned for 22 px)
#   parley.svg    -> 48/parley.png   (master; also installed as scalable)
#
# The PNGs are committed, so building and installing Parley never needs this
# script or rsvg. Run it after editing an SVG, look at the results, and commit
# the SVG together with its PNG.
#
# Needs rsvg-convert (Debian/Ubuntu: apt-get install librsvg2-bin).
# Usage: sh pixmaps/render.sh   (from any directory)
set -eu

cd "$(dirname "$0")"

if ! command -v rsvg-convert >/dev/null 2>&1; then
	echo "render.sh: rsvg-convert not found (apt-get install librsvg2-bin)" >&2
	exit 1
fi

render() { # render SVG SIZE
	mkdir -p "$2"
	rsvg-convert --format=png --width="$2" --height="$2" \
		--output="$2/parley.png" "$1"
	echo "  $1 -> $2/parley.png"
}

render parley-16.svg 16
render parley-22.svg 22
render parley.svg    48
