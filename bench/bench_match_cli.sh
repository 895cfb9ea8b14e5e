#!/bin/sh
# `kizuna match` end to end, as a user runs it: the indicators of
# bench/gen_match_bench.py imported as STIX into a node, then
#  1. `kizuna match` on an empty log: reading the active indicators from the
#     store, parsing their patterns and building the index (what every run
#     pays before the first log byte);
#  2. `kizuna match` over the logs (every format detected per file);
#  3. grep -F -f values.txt over the same logs, as the obvious alternative,
#     unless KZ_BENCH_SKIP_GREP=1 (it needs minutes at 1G).
# bench/bench_match.sh measures the engine alone beside grep, rg and wc.
#
#   bench/bench_match_cli.sh [SIZE [INDICATORS]]    SIZE: 100M (default), 1G
#
# Reuses bench_match.sh's data folder (KZ_BENCH_DIR, default
# /tmp/kz-match-bench-SIZE) when it is there.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
KZ=${KIZUNA:-$root/build/kizuna}
size=${1:-100M}
n=${2:-1000000}
dir=${KZ_BENCH_DIR:-/tmp/kz-match-bench-$size}
work=$(mktemp -d /tmp/kz-bench-mcli-XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$dir/.complete-$n" ]; then
    rm -rf "$dir"
    echo "bench: generating $n indicators and $size of logs in $dir" >&2
    python3 bench/gen_match_bench.py --out "$dir" --size "$size" --indicators "$n" >&2
    touch "$dir/.complete-$n"
fi
logs=$(ls "$dir"/logs/*)
cat $logs >/dev/null

python3 tests/tools/match_stix.py "$dir/indicators.tsv" "$work/ind.json"
"$KZ" --home "$work/home" init >/dev/null 2>&1
"$KZ" --home "$work/home" collection add intel >/dev/null
"$KZ" --home "$work/home" import --collection intel --quiet "$work/ind.json"
rm -f "$work/ind.json"
: >"$work/empty.log"

timed() { # timed NAME CMD...: wall seconds and peak RSS (KiB) into $work/NAME
    name=$1
    shift
    t0=$(date +%s.%N)
    rc=0
    /usr/bin/time -f "%M" -o "$work/$name.rss" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    t1=$(date +%s.%N)
    # exit 1 means hits; anything else is a failure
    [ "$rc" -le 1 ] || { echo "bench: $name failed: $(cat "$work/$name.err")" >&2; exit 1; }
    echo "$t0 $t1 $(tail -n 1 "$work/$name.rss")" >"$work/$name"
}
for run in 1 2 3; do
    timed "idx$run" "$KZ" --home "$work/home" match "$work/empty.log"
    timed "scan$run" "$KZ" --home "$work/home" match $logs
done
if [ "${KZ_BENCH_SKIP_GREP:-0}" != 1 ]; then
    timed grep sh -c 'grep -F -n -f "$0" "$@"; [ $? -le 1 ]' "$dir/values.txt" $logs
fi
python3 - "$work" "$n" "$(cat $logs | wc -c)" "$(wc -l <"$work/scan1.out")" <<'EOF'
import os, sys
w, n, nbytes, hits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def t(name):
    a, b, rss = open(os.path.join(w, name)).read().split()
    return float(b) - float(a), int(rss) / 1024
idx = min((t("idx%d" % r) for r in (1, 2, 3)), key=lambda x: x[0])
scan = min((t("scan%d" % r) for r in (1, 2, 3)), key=lambda x: x[0])
print(f"{n:,} indicators in the store, {nbytes / 2**20:,.0f} MiB of logs")
print(f"  kizuna match, empty log (store -> index): {idx[0]:.2f} s, peak RSS {idx[1]:.0f} MiB")
print(f"  kizuna match over the logs: {scan[0]:.2f} s = {nbytes / 2**20 / scan[0]:,.0f} MiB/s "
      f"end to end ({nbytes / 2**20 / max(scan[0] - idx[0], 1e-9):,.0f} MiB/s after the index), "
      f"peak RSS {scan[1]:.0f} MiB, {hits:,} hit lines")
if os.path.exists(os.path.join(w, "grep")):
    g = t("grep")
    print(f"  grep -F -f values.txt: {g[0]:.2f} s, peak RSS {g[1]:.0f} MiB; "
          f"kizuna match is {g[0] / scan[0]:.1f}x faster")
EOF
