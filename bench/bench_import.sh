#!/bin/sh
# Import, validate and export benchmark (issue 2): a generated bundle of N
# indicators (default 100000; IPs, domains, URLs, hashes, relationships,
# TLP markings), timed against CPython's json.load of the same file in the
# same run, REPEAT times each (best of). Peak RSS of the import is compared
# with the file's size.
#   bench/bench_import.sh [N]      REPEAT=3 by default
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
KZ=${KIZUNA:-$root/build/kizuna}
N=${1:-100000}
REPEAT=${REPEAT:-3}
PY=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d /tmp/kz-bench-import-XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 bench/gen_bundle.py -n "$N" -o "$work/b.json"
size=$(wc -c < "$work/b.json")
best() { sort -n | head -1; }
t_py=$(for i in $(seq "$REPEAT"); do
    "$PY" -c "import json,time,sys; t=time.perf_counter(); json.load(open(sys.argv[1])); print(time.perf_counter()-t)" "$work/b.json"
done | best)
t_val=$(for i in $(seq "$REPEAT"); do
    /usr/bin/time -f "%e" "$KZ" validate --quiet "$work/b.json" 2>&1 >/dev/null | tail -1
done | best)
imp=""
for i in $(seq "$REPEAT"); do
    rm -rf "$work/home"
    "$KZ" --home "$work/home" init >/dev/null 2>&1
    "$KZ" --home "$work/home" collection add bench >/dev/null
    imp="$imp
$(/usr/bin/time -f "%e %M" "$KZ" --home "$work/home" import --collection bench --quiet "$work/b.json" 2>&1 | tail -1)"
done
t_imp=$(echo "$imp" | sed '/^$/d' | sort -n | head -1 | cut -d' ' -f1)
rss=$(echo "$imp" | sed '/^$/d' | sort -n | head -1 | cut -d' ' -f2)
t_exp=$(for i in $(seq "$REPEAT"); do
    /usr/bin/time -f "%e" "$KZ" --home "$work/home" export --collection bench --all-versions \
        --out "$work/out.json" 2>&1 | tail -1
done | best)
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
"$PY" - "$N" "$size" "$t_py" "$t_val" "$t_imp" "$t_exp" "$rss" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
py, val, imp, exp = map(float, sys.argv[3:7])
rss = int(sys.argv[7]) * 1024
print(f"{n:,} indicators, {size/1e6:.1f} MB bundle")
print(f"  CPython json.load: {py:.2f} s")
print(f"  kizuna validate:   {val:.2f} s  = {val/py:.2f}x json.load  (floor 0.5x)")
print(f"  kizuna import:     {imp:.2f} s  = {imp/py:.2f}x json.load  (floor 1.5x, aim 1x)")
print(f"  kizuna export:     {exp:.2f} s  ({imp/exp:.1f}x faster than the import)")
print(f"  import peak RSS:   {rss/1e6:.0f} MB = {rss/size:.2f}x the file (floor 3x)")
PY
