#!/bin/sh
# The README's test command: installs what is missing, then builds kizuna
# twice and runs every test in both builds:
#   build/       release build with -Werror
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)
# and finally a short libFuzzer run of every harness (scripts/fuzz.sh).
# KZ_FUZZ_SECONDS sets the fuzzing time per harness (default 20; 0 skips).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
# install-deps.sh installed PostgreSQL: its store cases must run, not skip
export KZ_TEST_PG_REQUIRED=1
jobs=$(nproc 2>/dev/null || echo 2)

echo "== release build" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKZ_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== sanitizer build (ASan + UBSan + LSan)" >&2
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKZ_WERROR=ON -DKZ_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan --output-on-failure -j"$jobs"

if [ "${KZ_FUZZ_SECONDS:-20}" != 0 ]; then
    echo "== fuzzing (${KZ_FUZZ_SECONDS:-20} s per harness)" >&2
    sh scripts/fuzz.sh "${KZ_FUZZ_SECONDS:-20}"
fi
echo "== all tests passed" >&2
