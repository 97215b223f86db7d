#!/bin/sh
# SPDX-License-Identifier: MIT
# The Debian packages, as a distribution would build and use them (run by
# tools/test.sh after the test suite, as root on Debian 12, with the
# packages of tools/setup.sh):
#   - build resa, libresa0, libresa-dev from a copy of the checkout
#     (dpkg-buildpackage -b; DEB_BUILD_OPTIONS and DEB_BUILD_PROFILES nocheck:
#     the suite already ran)
#     and check them with lintian --pedantic: no error, no warning;
#   - install them with dpkg -i, run the installed /usr/bin/resa on the model
#     and debian/tests (the autopkgtests: generate, and a program built
#     against the installed libresa-dev through pkg-config), then purge them;
#   - build them again in another directory, later, in another time zone and
#     umask: every .deb must be bit-identical (diffoscope says why when not);
#   - cross-build the arm64 packages (dpkg-buildpackage -aarm64) and run
#     their resa under qemu-aarch64 on the model: the native tokens.
#   - with the CUDA toolkit: build again with the build profile pkg.resa.cuda,
#     which adds resa-cuda (the CUDA module); lintian; the other packages
#     bit-identical to the first build's; install and check that the installed
#     resa loads the module (with no GPU, resa backends says so in one line).
# The last three are more full builds (about ten minutes on two cores, the
# CUDA one more): they run with RESA_PACKAGES_FULL=1 (before a release, and
# when debian/ or the build changes), the CUDA one also alone with
# RESA_PACKAGES_CUDA=1; without nvcc (CI) it is a SKIP. CI's time goes to the
# test suite.
# Prints PASS:/FAIL:/SKIP: lines and ends with "N passed, N failed".
# Environment: RESA_MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf),
# RESA_DEB_DIR (work directory, default build-deb; emptied first).
set -u
cd "$(dirname "$0")/.."
top=$PWD
model=$(realpath "${RESA_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}")
work=${RESA_DEB_DIR:-$top/build-deb}
version=$(dpkg-parsechangelog -S Version)
upstream=${version%-*}
n_pass=0
n_fail=0
pass() { n_pass=$((n_pass + 1)); echo "PASS: $*"; }
fail() { n_fail=$((n_fail + 1)); echo "FAIL: $*"; }
finish() {
    echo "$n_pass passed, $n_fail failed"
    [ "$n_fail" -eq 0 ]
    exit
}
[ -f "$model" ] || { fail "packages: no model at $model"; finish; }
rm -rf "$work"
mkdir -p "$work"

# copy DIR: the checkout's files (tracked ones, as they are in the work tree)
# into DIR/resa-VERSION, the source tree of a package build.
copy() {
    mkdir -p "$1/resa-$upstream"
    git ls-files -z | tar --null -cf - -T - | tar -xf - -C "$1/resa-$upstream"
}

# build DIR [dpkg-buildpackage options]: builds in DIR/resa-VERSION, log in
# DIR/build.log. $shlibs_local, when set, is the build's debian/shlibs.local.
shlibs_local=
build() {
    dir=$1
    shift
    copy "$dir" && { [ -z "$shlibs_local" ] || echo "$shlibs_local" >"$dir/resa-$upstream/debian/shlibs.local"; } &&
        (cd "$dir/resa-$upstream" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
        DEB_BUILD_PROFILES="nocheck ${DEB_BUILD_PROFILES:-}" dpkg-buildpackage -us -uc -b "$@") >"$dir/build.log" 2>&1
}

arch=$(dpkg --print-architecture)
debs() { # the binary packages (not the -dbgsym ones) of DIR
    ls "$1"/resa_"$version"_*.deb "$1"/libresa0_"$version"_*.deb "$1"/libresa-dev_"$version"_*.deb 2>/dev/null
}

# ---- build and lintian ----------------------------------------------------------
echo "== packages: build ($arch)"
t0=$(date +%s)
if build "$work/a"; then
    pass "dpkg-buildpackage -b ($(($(date +%s) - t0)) s)"
else
    tail -n 40 "$work/a/build.log"
    fail "dpkg-buildpackage -b (log: $work/a/build.log)"
    finish
fi
lintian --pedantic --fail-on error,warning "$work/a/resa_${version}_$arch.changes" >"$work/lintian.log" 2>&1
rc=$?
sed 's/^/    /' "$work/lintian.log"
[ "$rc" = 0 ] && pass "lintian --pedantic: no errors or warnings" || fail "lintian --pedantic (status $rc)"
# resa-cuda only with its build profile (debian/control, debian/rules).
if ls "$work"/a/resa-cuda_* >/dev/null 2>&1 || grep -q -- '--enable-cuda' "$work/a/build.log"; then
    fail "the build without the profile pkg.resa.cuda built the CUDA module"
else
    pass "no resa-cuda without the build profile pkg.resa.cuda"
fi

# ---- install and run ------------------------------------------------------------
echo "== packages: install and run"
# shellcheck disable=SC2046 # one argument per file
if dpkg -i $(debs "$work/a") >"$work/dpkg.log" 2>&1; then
    pass "dpkg -i resa libresa0 libresa-dev"
    out=$(/usr/bin/resa generate -m "$model" -p "The capital of France is" -n 16 --temp 0 --json 2>"$work/run.log")
    native=$(echo "$out" | tr '\n' ' ' | sed -n 's/.*"tokens": \(\[[0-9, ]*\]\).*/\1/p')
    [ -n "$native" ] && pass "/usr/bin/resa generate -m MODEL: $native" ||
        { cat "$work/run.log"; fail "/usr/bin/resa generate -m MODEL"; }
    # The autopkgtests, from the source tree as autopkgtest runs them, with
    # the model given (no network needed).
    for t in generate library; do
        if (cd "$work/a/resa-$upstream" && RESA_MODEL="$model" AUTOPKGTEST_TMP="$work/tmp-$t" \
                sh -c "mkdir -p \"\$AUTOPKGTEST_TMP\" && debian/tests/$t") >"$work/test-$t.log" 2>&1; then
            pass "debian/tests/$t ($(tail -n 1 "$work/test-$t.log"))"
        else
            sed 's/^/    /' "$work/test-$t.log"
            fail "debian/tests/$t"
        fi
    done
    dpkg --purge libresa-dev resa libresa0 >>"$work/dpkg.log" 2>&1 && [ ! -e /usr/bin/resa ] &&
        [ ! -e "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libresa.so.0" ] &&
        pass "dpkg --purge leaves nothing behind" || fail "dpkg --purge"
else
    cat "$work/dpkg.log"
    fail "dpkg -i"
    native=
fi

# ---- resa-cuda ------------------------------------------------------------------
cuda_packages() {
    echo "== packages: resa-cuda (build profile pkg.resa.cuda)"
    nvcc=$(PATH="$PATH:/usr/local/cuda/bin" command -v nvcc) ||
        { echo "SKIP: resa-cuda: no CUDA toolkit (nvcc not in PATH or /usr/local/cuda/bin)"; return; }
    # The module needs cuBLAS from the dynamic linker's search path (no RUNPATH).
    cublas=$(ldconfig -p | sed -n 's/^[[:space:]]*\(libcublas\.so\.[0-9]*\) (.*=> \(.*\)$/\1 \2/p' | head -n 1)
    [ -n "$cublas" ] ||
        { echo "SKIP: resa-cuda: cuBLAS (libcublas.so.N) is not in the dynamic linker's cache"; return; }
    # Debian's toolkit (nvidia-cuda-toolkit, libcublas*) satisfies the build
    # dependency and gives cuBLAS's dependency; NVIDIA's own installer does
    # neither: build without checking build dependencies (-d), and tell
    # dpkg-shlibdeps that cuBLAS comes from no package (no dependency).
    opts=
    dpkg -s nvidia-cuda-toolkit >/dev/null 2>&1 || opts=-d
    soname=${cublas%% *}
    dpkg -S "${cublas#* }" >/dev/null 2>&1 || shlibs_local="${soname%%.so.*} ${soname##*.so.}"
    echo "    toolkit: $nvcc ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')), $cublas${opts:+; dpkg-buildpackage $opts, the toolkit is not a Debian package}"
    t0=$(date +%s)
    if DEB_BUILD_PROFILES=pkg.resa.cuda build "$work/cuda" $opts; then
        shlibs_local=
        pass "dpkg-buildpackage -b with pkg.resa.cuda ($(($(date +%s) - t0)) s)"
    else
        shlibs_local=
        tail -n 40 "$work/cuda/build.log"
        fail "dpkg-buildpackage -b with pkg.resa.cuda (log: $work/cuda/build.log)"
        return
    fi
    cudadeb="$work/cuda/resa-cuda_${version}_$arch.deb"
    lintian --pedantic --fail-on error,warning "$work/cuda/resa_${version}_$arch.changes" >"$work/lintian-cuda.log" 2>&1
    rc=$?
    sed 's/^/    /' "$work/lintian-cuda.log"
    [ "$rc" = 0 ] && pass "lintian --pedantic (with resa-cuda): no errors or warnings" ||
        fail "lintian --pedantic (with resa-cuda, status $rc)"
    # The profile adds a package and changes none of the others.
    same=yes
    for deb in $(debs "$work/a"); do
        cmp -s "$deb" "$work/cuda/$(basename "$deb")" ||
            { same=no; fail "$(basename "$deb") differs with the profile pkg.resa.cuda"; }
    done
    [ "$same" = yes ] && pass "resa, libresa0, libresa-dev bit-identical with and without the profile"

    module="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/resa/backend-cuda.so"
    root="$work/cuda/root"
    dpkg-deb -x "$cudadeb" "$root" && [ -f "$root$module" ] && pass "resa-cuda ships $module" ||
        { dpkg-deb -c "$cudadeb"; fail "resa-cuda does not ship $module"; return; }
    if grep -q -a -F "$work" "$root$module"; then
        fail "the module embeds the build path $work"
    else
        pass "the module embeds no build path"
    fi
    readelf -d "$root$module" | grep -q 'R\(UN\)\{0,1\}PATH' &&
        fail "the module has an RPATH/RUNPATH: $(readelf -d "$root$module" | grep PATH)" ||
        pass "the module has no RPATH or RUNPATH"
    # shellcheck disable=SC2046 # one argument per file
    if dpkg -i $(debs "$work/cuda" | grep -v libresa-dev) "$cudadeb" >"$work/dpkg-cuda.log" 2>&1; then
        pass "dpkg -i resa libresa0 resa-cuda"
        /usr/bin/resa backends >"$work/backends.log" 2>&1
        sed 's/^/    /' "$work/backends.log"
        # With a GPU the module reports it; without one, "unavailable" and
        # the module's reason. Not loading it at all is the failure.
        if grep -q "^cuda: $(dirname "$module")/backend-cuda.so" "$work/backends.log" ||
            { grep -q '^cuda: unavailable: ' "$work/backends.log" &&
                ! grep -q 'cannot load the CUDA backend module\|built for another version' "$work/backends.log"; }; then
            pass "the installed resa loads $module"
        else
            fail "the installed resa does not load $module"
        fi
        dpkg --purge resa-cuda resa libresa0 >>"$work/dpkg-cuda.log" 2>&1 && [ ! -e "$module" ] &&
            pass "dpkg --purge resa-cuda leaves nothing behind" || fail "dpkg --purge resa-cuda"
    else
        cat "$work/dpkg-cuda.log"
        fail "dpkg -i resa libresa0 resa-cuda"
    fi
}
if [ "${RESA_PACKAGES_FULL:-0}" = 1 ] || [ "${RESA_PACKAGES_CUDA:-0}" = 1 ]; then
    cuda_packages
else
    echo "SKIP: resa-cuda (RESA_PACKAGES_CUDA=1 or RESA_PACKAGES_FULL=1 builds it, with the CUDA toolkit)"
fi

if [ "${RESA_PACKAGES_FULL:-0}" != 1 ]; then
    echo "SKIP: reproducibility and the arm64 cross build (RESA_PACKAGES_FULL=1 runs them)"
    finish
fi

# ---- reproducibility --------------------------------------------------------------
echo "== packages: a second build elsewhere, later"
# Another path (deeper), another time zone and umask; later by the first
# build's duration. SOURCE_DATE_EPOCH comes from debian/changelog.
if (umask 0002 && TZ=Pacific/Kiritimati build "$work/second/build/path"); then
    same=yes
    for deb in $(debs "$work/a") "$work"/a/*-dbgsym_*.deb; do
        other="$work/second/build/path/$(basename "$deb")"
        if ! cmp -s "$deb" "$other"; then
            same=no
            fail "$(basename "$deb") differs between the two builds"
            command -v diffoscope >/dev/null && diffoscope --text - "$deb" "$other" | head -n 60
        fi
    done
    [ "$same" = yes ] && pass "two builds give bit-identical .debs ($(ls "$work"/a/*.deb | wc -l) packages)"
else
    tail -n 40 "$work/second/build/path/build.log"
    fail "second dpkg-buildpackage -b"
fi

# ---- arm64 ----------------------------------------------------------------------------
echo "== packages: cross-build arm64, run under qemu-aarch64"
t0=$(date +%s)
if [ "$arch" != amd64 ]; then
    echo "SKIP: the arm64 cross build runs on amd64 only"
elif build "$work/arm64" -aarm64; then
    pass "dpkg-buildpackage -aarm64 ($(($(date +%s) - t0)) s)"
    lintian --pedantic --fail-on error,warning "$work/arm64/resa_${version}_arm64.changes" >"$work/lintian-arm64.log" 2>&1 &&
        pass "lintian --pedantic (arm64)" || { cat "$work/lintian-arm64.log"; fail "lintian --pedantic (arm64)"; }
    root="$work/arm64/root"
    for deb in $(debs "$work/arm64"); do dpkg-deb -x "$deb" "$root"; done
    readelf -h "$root/usr/bin/resa" | grep -q "Machine: *AArch64" && pass "the arm64 resa is an aarch64 program" ||
        fail "the arm64 resa is not aarch64: $(readelf -h "$root/usr/bin/resa" | grep Machine)"
    # The cross toolchain's C library beside its ld.so (see tools/test.sh).
    out=$(qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH="$root/usr/lib/aarch64-linux-gnu:/usr/aarch64-linux-gnu/lib" \
        "$root/usr/bin/resa" generate -m "$model" -p "The capital of France is" -n 16 --temp 0 -t 2 --json \
        2>"$work/qemu.log")
    tokens=$(echo "$out" | tr '\n' ' ' | sed -n 's/.*"tokens": \(\[[0-9, ]*\]\).*/\1/p')
    if [ -n "$tokens" ] && [ "$tokens" = "$native" ]; then
        pass "arm64 resa under qemu: the native tokens"
    else
        cat "$work/qemu.log"
        fail "arm64 resa under qemu gave '$tokens', native '$native'"
    fi
else
    tail -n 40 "$work/arm64/build.log"
    fail "dpkg-buildpackage -aarm64 (log: $work/arm64/build.log)"
fi
finish
