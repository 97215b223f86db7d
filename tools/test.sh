#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the whole test suite (after tools/setup.sh): make check with the live
# llama.cpp reference required, then the suite again under AddressSanitizer
# and UndefinedBehaviorSanitizer, the threads test under ThreadSanitizer,
# the aarch64 cross build, make distcheck, and the Debian packages
# (tools/test-packages.sh). Ends with one "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."
export PYTHON="$PWD/.venv/bin/python" RESA_REQUIRE_REFERENCE=1
jobs=$(nproc)
status=0
t_start=$(date +%s)
stage() { # a stage's title, with the minutes spent so far (CI allows 90)
    echo "== $* (at $(( ($(date +%s) - t_start) / 60 )) min)"
}

summary() { # totals of an automake test-suite.log
    sed -n 's/^# \(PASS\|FAIL\|XFAIL\|XPASS\|SKIP\|ERROR\): *\([0-9]*\)/\1 \2/p' "$1"
}

stage "make check"
(cd build && make -j"$jobs" check) || status=1
summary build/test-suite.log >.test-main.txt

stage "make check under ASan+UBSan"
mkdir -p build-san
(cd build-san && { [ -f Makefile ] || ../configure --quiet --enable-sanitizers; } &&
    make -j"$jobs" --quiet && \
    ASAN_OPTIONS=detect_leaks=1 SERVE_CHECKS="api errors limits sigterm" make -j"$jobs" check \
        TESTS="tests/test_gguf tests/test_types tests/test_sampling tests/test_blocks tests/test_team tests/checksimd tests/checksimd_elem tests/checksimd_attn tests/checksimd_chunk tests/test_tokenizer.sh tests/test_tokenizer_bpe.sh tests/test_tokenizer_spm.sh tests/test_fuzz_gguf.sh tests/test_cli.sh tests/test_resa.sh tests/test_context.sh tests/test_engine.sh tests/test_swa_ring.sh tests/test_kquants.sh tests/test_hardening.sh tests/test_api.sh tests/test_fuzz_corpus.sh tests/test_fuzz_serve_request.sh tests/test_serve.sh") || status=1
summary build-san/test-suite.log >>.test-main.txt

stage "fuzz targets under libFuzzer with ASan+UBSan, 60 s each"
# docs/design.md §7.1: make fuzz builds them with clang in build/fuzz-build;
# new inputs go to build/fuzz-corpus (the tree's seed corpus stays as it is).
if (cd build && make --quiet fuzz >/dev/null); then
    for t in gguf tokenizer chat serve_request; do
        if RESA_FUZZ_MODEL="$PWD/models/SmolLM2-135M-Instruct.Q4_1.gguf" tests/fuzz/run.sh "$PWD/build" $t 60; then
            echo "PASS: fuzz_$t"; echo "PASS 1" >>.test-main.txt
        else
            echo "FAIL: fuzz_$t"; echo "FAIL 1" >>.test-main.txt
        fi
    done
else
    echo "FAIL: make fuzz"; echo "FAIL 1" >>.test-main.txt
fi

stage "threads under ThreadSanitizer"
# The CPU backend's thread team against its contract (§3.11), one model
# shared by engines in two threads (§3.7), and resa serve's engine and
# connection threads under 16 concurrent clients, a full queue and
# disconnects (§8.1). Without OpenMP (the kernel tests' timing threads):
# libgomp is not instrumented, and TSan reports its barriers as races.
mkdir -p build-tsan
(cd build-tsan && { [ -f Makefile ] || ../configure --quiet --enable-sanitizers=thread --disable-openmp; } &&
    make -j"$jobs" --quiet && \
    TSAN_OPTIONS=halt_on_error=1 SERVE_CHECKS="load limits" SERVE_LOAD_CLIENTS=16 make -j"$jobs" check \
        TESTS="tests/test_team tests/test_threads.sh tests/test_serve.sh" \
        check_PROGRAMS="tests/test_team tests/test_threads") || status=1
summary build-tsan/test-suite.log >>.test-main.txt

stage "aarch64 (NEON) under qemu-aarch64"
# Cross-built, run under user-mode emulation: the kernel tests (NEON and
# dotprod against scalar), the unit tests and a short greedy generation.
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
# The C library beside the cross toolchain's ld.so (LD_LIBRARY_PATH): with
# Debian's arm64 libc6 also installed (multiarch, for the package cross
# build) the loader would otherwise pick that one, a different build of
# glibc than the cross ld.so, and pthread_create loops for ever.
qemu="qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib"
mkdir -p build-arm
if (cd build-arm && { [ -f Makefile ] || ../configure --quiet --host=aarch64-linux-gnu \
        --without-sleef --disable-shared; } &&
        make -j"$jobs" --quiet check TESTS=); then
    for t in checksimd checksimd_elem checksimd_attn checksimd_chunk test_types test_gguf test_blocks test_sampling "test_tokenizer $model"; do
        if $qemu build-arm/tests/$t >build-arm/qemu.log 2>&1; then
            echo "PASS: aarch64 $t ($(tail -n 1 build-arm/qemu.log))"; echo "PASS 1" >>.test-main.txt
        else
            cat build-arm/qemu.log; echo "FAIL: aarch64 $t"; echo "FAIL 1" >>.test-main.txt
        fi
    done
    # 16 greedy tokens: NEON and scalar on aarch64 give the native build's
    # tokens (every float kernel is one recipe in every tier, issue 3), on
    # two threads.
    first_tokens() { # cpu-cap command...
        cap=$1; shift
        "$@" generate -m "$model" -p "The capital of France is" -n 16 --temp 0 -t 2 --json --cpu "$cap" \
            2>>build-arm/qemu.log | sed 's/.*"tokens": \(\[[0-9, ]*\]\).*/\1/'
    }
    native=$(first_tokens native build/resa)
    for cap in native scalar; do
        # shellcheck disable=SC2086 # $qemu is a command with arguments
        if [ -n "$native" ] && [ "$(first_tokens $cap $qemu build-arm/resa)" = "$native" ]; then
            echo "PASS: aarch64 generate --cpu $cap"; echo "PASS 1" >>.test-main.txt
        else
            cat build-arm/qemu.log; echo "FAIL: aarch64 generate --cpu $cap"; echo "FAIL 1" >>.test-main.txt
        fi
    done
else
    echo "FAIL: aarch64 cross build"; echo "FAIL 1" >>.test-main.txt
fi

stage "make distcheck (the tarball, with the model tests)"
# The tarball has no model: RESA_MODEL takes the checkout's to its tests
# (PYTHON and RESA_REQUIRE_REFERENCE are exported above, so nothing skips).
# The tarball's own build runs the tests that load the model (and the
# installation, ABI and manual checks); the slow comparisons (llama.cpp
# reference, tiers, server load, benchmarks) ran on this tree above.
distcheck_tests="tests/test_gguf tests/test_types tests/test_sampling tests/test_blocks tests/test_tokenizer.sh \
tests/test_cli.sh tests/test_resa.sh tests/test_context.sh tests/test_engine.sh tests/test_hardening.sh tests/test_api.sh \
tests/test_kquants.sh tests/test_exports.sh tests/test_model_path.sh tests/test_operator.sh tests/test_abi.sh tests/test_man.sh \
tests/test_cuda.sh"
if (cd build && RESA_MODEL="$PWD/../models/SmolLM2-135M-Instruct.Q4_1.gguf" \
        make -j"$jobs" distcheck TESTS="$distcheck_tests" >distcheck.log 2>&1); then
    echo "PASS: make distcheck"; echo "PASS 1" >>.test-main.txt
else
    tail -n 60 build/distcheck.log; echo "FAIL: make distcheck"; echo "FAIL 1" >>.test-main.txt
fi

stage "Debian packages (build, lintian, install, run)"
{ sh tools/test-packages.sh 2>&1; echo "test-packages: exit $?"; } | tee .test-packages.txt
echo "PASS $(grep -c '^PASS:' .test-packages.txt)" >>.test-main.txt
echo "FAIL $(grep -c '^FAIL:' .test-packages.txt)" >>.test-main.txt
echo "SKIP $(grep -c '^SKIP:' .test-packages.txt)" >>.test-main.txt
# a script that stopped without saying FAIL still fails
if ! grep -q '^test-packages: exit 0$' .test-packages.txt && ! grep -q '^FAIL:' .test-packages.txt; then
    echo "FAIL 1" >>.test-main.txt
fi
rm -f .test-packages.txt

pass=$(awk '$1=="PASS"||$1=="XFAIL"{s+=$2} END{print s+0}' .test-main.txt)
fail=$(awk '$1=="FAIL"||$1=="ERROR"||$1=="XPASS"{s+=$2} END{print s+0}' .test-main.txt)
skip=$(awk '$1=="SKIP"{s+=$2} END{print s+0}' .test-main.txt)
rm -f .test-main.txt
echo "$pass passed, $fail failed, $skip skipped ($(( ($(date +%s) - t_start) / 60 )) min)"
[ "$status" -eq 0 ] && [ "$fail" -eq 0 ]
