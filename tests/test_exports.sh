#!/bin/sh
# SPDX-License-Identifier: MIT
# The library's ABI is resa.h (docs/design.md §3.10): libresa.so and
# libresa.a export resa_* names only, and every function resa.h declares
# RESA_API is exported (a missing definition would only show when a program
# links). libresa.so hides the rest by -fvisibility=hidden; libresa.a is one
# relocatable object whose hidden symbols were made local
# (tools/localize-archive.sh), so a program that links it statically with
# another library (llama.cpp's libggml also defines gguf_*) gets no clash.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
la="$top_builddir/libresa.la"
[ -f "$la" ] || { echo "$la not built"; exit 99; }
command -v "${NM:=nm}" >/dev/null || { echo "skip: $NM not found"; exit 77; }

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
# Each RESA_API declaration names its function on its first line.
sed -n 's/^RESA_API[^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$top_srcdir/src/resa.h" |
    sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] && pass "resa.h parsed ($(wc -l <"$tmp/declared") RESA_API functions)" ||
    fail "no RESA_API declaration found in resa.h"

# check NAME: $tmp/NAME.exported (one symbol a line) against resa.h.
check() {
    grep -v '^resa_' "$tmp/$1.exported" >"$tmp/foreign"
    if [ -s "$tmp/foreign" ]; then
        fail "$1: $(wc -l <"$tmp/foreign") exported symbols do not start with resa_:"
        sed 's/^/    /' "$tmp/foreign"
    else
        pass "$1: every exported symbol starts with resa_"
    fi
    comm -23 "$tmp/$1.exported" "$tmp/declared" | grep '^resa_' >"$tmp/internal"
    if [ -s "$tmp/internal" ]; then
        fail "$1: $(wc -l <"$tmp/internal") exported resa_ symbols are not RESA_API functions of resa.h:"
        sed 's/^/    /' "$tmp/internal"
    else
        pass "$1: every exported resa_ symbol is declared RESA_API in resa.h"
    fi
    comm -13 "$tmp/$1.exported" "$tmp/declared" >"$tmp/missing"
    if [ -s "$tmp/missing" ]; then
        fail "$1: $(wc -l <"$tmp/missing") RESA_API functions of resa.h are not exported:"
        sed 's/^/    /' "$tmp/missing"
    else
        pass "$1: every RESA_API function of resa.h is exported"
    fi
}

# libtool leaves dlname empty when no shared library was built (the cross
# build's --disable-shared), old_library when no static one was.
checked=0
dlname=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$la")
if [ -n "$dlname" ]; then
    so="$top_builddir/.libs/$dlname"
    # Defined dynamic symbols of every kind (T, D, B, R, W, i, ...), less the
    # absolute ones that name version nodes; "@VERSION" suffixes stripped.
    "$NM" -D --defined-only "$so" >"$tmp/nm" || { echo "$NM -D failed on $so"; exit 99; }
    awk 'NF >= 3 && $2 !~ /^[Aa]$/ { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" | sort -u >"$tmp/$dlname.exported"
    echo "$so: $(wc -l <"$tmp/$dlname.exported") symbols exported"
    check "$dlname"
    checked=$((checked + 1))
fi
old=$(sed -n "s/^old_library='\(.*\)'$/\1/p" "$la")
if [ -n "$old" ]; then
    a="$top_builddir/.libs/$old"
    # The global symbols the archive's members define, of every kind.
    "$NM" -g --defined-only "$a" >"$tmp/nm" || { echo "$NM -g failed on $a"; exit 99; }
    awk 'NF >= 3 { print $3 }' "$tmp/nm" | sort -u >"$tmp/$old.exported"
    echo "$a: $(wc -l <"$tmp/$old.exported") global symbols defined"
    check "$old"
    checked=$((checked + 1))
fi
[ "$checked" -gt 0 ] || { echo "$la names neither a shared nor a static library"; exit 99; }
finish
