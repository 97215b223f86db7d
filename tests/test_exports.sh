#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library's ABI is resa.h (docs/design.md §3.5): libresa.so
# exports resa_* names only (the rest is built -fvisibility=hidden), and
# every function resa.h declares RESA_API is exported (a missing definition
# would only show when a program links).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
la="$top_builddir/libresa.la"
[ -f "$la" ] || { echo "$la not built"; exit 99; }
# libtool leaves dlname empty when no shared library was built (the cross
# build's --disable-shared); nothing is exported then. Not a missing
# reference, so no need(): skip even under RESA_REQUIRE_REFERENCE.
dlname=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$la")
if [ -z "$dlname" ]; then echo "skip: libresa was built static-only"; exit 77; fi
so="$top_builddir/.libs/$dlname"
command -v "${NM:=nm}" >/dev/null || { echo "skip: $NM not found"; exit 77; }

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
# Defined dynamic symbols of every kind (T, D, B, R, W, i, ...), less the
# absolute ones that name version nodes; "@VERSION" suffixes stripped.
"$NM" -D --defined-only "$so" >"$tmp/nm" || { echo "$NM -D failed on $so"; exit 99; }
awk 'NF >= 3 && $2 !~ /^[Aa]$/ { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" | sort -u >"$tmp/exported"
# Each RESA_API declaration names its function on its first line.
sed -n 's/^RESA_API[^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$top_srcdir/src/resa.h" |
    sort -u >"$tmp/declared"
echo "$so: $(wc -l <"$tmp/exported") symbols exported; resa.h declares $(wc -l <"$tmp/declared") RESA_API functions"

[ -s "$tmp/declared" ] && pass "resa.h parsed" || fail "no RESA_API declaration found in resa.h"

grep -v '^resa_' "$tmp/exported" >"$tmp/foreign"
if [ -s "$tmp/foreign" ]; then
    fail "$(wc -l <"$tmp/foreign") exported symbols do not start with resa_:"
    sed 's/^/    /' "$tmp/foreign"
else
    pass "every exported symbol starts with resa_"
fi

comm -23 "$tmp/exported" "$tmp/declared" | grep '^resa_' >"$tmp/internal"
if [ -s "$tmp/internal" ]; then
    fail "$(wc -l <"$tmp/internal") exported resa_ symbols are not RESA_API functions of resa.h:"
    sed 's/^/    /' "$tmp/internal"
else
    pass "every exported resa_ symbol is declared RESA_API in resa.h"
fi

comm -13 "$tmp/exported" "$tmp/declared" >"$tmp/missing"
if [ -s "$tmp/missing" ]; then
    fail "$(wc -l <"$tmp/missing") RESA_API functions of resa.h are not exported:"
    sed 's/^/    /' "$tmp/missing"
else
    pass "every RESA_API function of resa.h is exported"
fi
finish
