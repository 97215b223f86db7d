#!/bin/sh
# SPDX-License-Identifier: MIT
# libresa's ABI against the release's dump abi/libresa.abi (docs/design.md
# §3.10), with abidiff: an incompatible change (a function or public struct
# member removed or changed, the soname changed) fails; a compatible one
# (functions added) passes with a note to bump CURRENT and AGE in
# configure.ac and refresh the dump before the next release.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
la="$top_builddir/libresa.la"
[ -f "$la" ] || { echo "$la not built"; exit 99; }
if [ -z "$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$la")" ]; then echo "skip: libresa was built static-only"; exit 77; fi
command -v abidiff >/dev/null && command -v abidw >/dev/null || need "abidiff/abidw not found (Debian: abigail-tools)"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

sh "$top_srcdir/tools/abi-dump.sh" "$top_builddir" >"$tmp/now.abi" || { echo "abidw failed"; exit 99; }
abidiff "$top_srcdir/abi/libresa.abi" "$tmp/now.abi" >"$tmp/diff" 2>&1
rc=$?
# abidiff's status is a bit field: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
sed 's/^/    /' "$tmp/diff"
if [ $((rc & 3)) -ne 0 ]; then
    echo "abidiff failed (status $rc)"; exit 99
elif [ $((rc & 8)) -ne 0 ]; then
    fail "incompatible ABI change against abi/libresa.abi (see above): bump CURRENT, set AGE 0 (configure.ac) and refresh the dump, or undo it"
elif [ $((rc & 4)) -ne 0 ]; then
    pass "compatible ABI change against abi/libresa.abi (see above); before the release bump CURRENT and AGE (configure.ac) and refresh the dump"
else
    pass "the ABI is abi/libresa.abi's"
fi
grep -q "soname='libresa.so.0'" "$tmp/now.abi" && pass "soname libresa.so.0 (the package libresa0)" ||
    fail "the soname is not libresa.so.0: rename the Debian package libresa0 with it"
finish
