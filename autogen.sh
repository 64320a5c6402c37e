#!/bin/sh
# Regenerate the build system (configure, Makefile.in) from its sources.
set -e
cd "$(dirname "$0")"
autoreconf -fi
