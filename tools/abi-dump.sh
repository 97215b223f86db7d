#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints the ABI of a build's libresa.so as abigail XML (abidw): the public
# types reachable from resa.h and the exported symbols, without paths or
# source locations, so the dump depends on the ABI only. The release's dump
# is abi/libresa.abi (docs/design.md §3.10); refresh it when the version-info
# numbers in configure.ac change:
#     sh tools/abi-dump.sh build >abi/libresa.abi
# tests/test_abi.sh compares a build against it with abidiff.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:?usage: abi-dump.sh BUILDDIR}
dlname=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$builddir/libresa.la")
[ -n "$dlname" ] || { echo "abi-dump: $builddir built no shared libresa" >&2; exit 1; }
exec abidw --no-corpus-path --no-comp-dir-path --no-show-locs --drop-private-types \
    --header-file "$top/src/resa.h" "$builddir/.libs/$dlname"
