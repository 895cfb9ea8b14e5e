#!/bin/sh
# Builds the libFuzzer harnesses with clang and runs each for SECONDS
# (default 60), starting from its seed corpus in fuzz/corpus/NAME. New
# inputs go to a scratch copy, never into the repository; a crash stops the
# run with the reproducer's path.
#   scripts/fuzz.sh [SECONDS] [NAME...]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKZ_FUZZ=ON \
    -DKZ_WERROR=ON >/dev/null
names="$*"
if [ -z "$names" ]; then
    for f in fuzz/fuzz_*.c; do
        n=${f#fuzz/fuzz_}
        names="$names ${n%.c}"
    done
fi
targets=""
for n in $names; do targets="$targets fuzz-$n"; done
# shellcheck disable=SC2086
cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)" --target $targets >/dev/null
work=build-fuzz/corpus-work
for n in $names; do
    rm -rf "$work/$n"
    mkdir -p "$work/$n" build-fuzz/crashes
    [ -d "fuzz/corpus/$n" ] && cp -r "fuzz/corpus/$n/." "$work/$n/"
    echo "fuzz: $n for ${secs}s" >&2
    ASAN_OPTIONS=detect_leaks=1 "build-fuzz/fuzz/fuzz-$n" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
        -artifact_prefix="build-fuzz/crashes/$n-" "$work/$n" 2>build-fuzz/fuzz-$n.log || {
        tail -40 "build-fuzz/fuzz-$n.log" >&2
        echo "fuzz: $n failed; reproducers in build-fuzz/crashes/" >&2
        exit 1
    }
done
echo "fuzz: all harnesses ran clean" >&2
