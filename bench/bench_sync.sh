#!/bin/sh
# Federation benchmark (issue 5): node A holds N generated indicators
# (default 100000; use 800000 for about 1,000,000 objects); node B pulls
# the whole collection with `kizuna sync`, then syncs again with nothing
# new. Compared in the same run with copying the same data by
# `kizuna export` on A and `kizuna import` on B.
#   bench/bench_sync.sh [N]
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
KZ=${KIZUNA:-$root/build/kizuna}
N=${1:-100000}
work=$(mktemp -d /tmp/kz-bench-sync-XXXXXX)
cleanup() {
    [ -n "${apid:-}" ] && kill "$apid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

A="$work/a"
B="$work/b"
C="$work/c"
"$KZ" --home "$A" init --node-name a-node >/dev/null 2>&1
"$KZ" --home "$B" init --node-name b-node >/dev/null 2>&1
"$KZ" --home "$C" init --node-name c-node >/dev/null 2>&1
for h in "$A" "$B" "$C"; do "$KZ" --home "$h" collection add bench >/dev/null; done
"$KZ" --home "$A" org add b-org >/dev/null
"$KZ" --home "$A" user add b-node --org b-org --role peer
TOK=$("$KZ" --home "$A" token create b-node)
"$KZ" --home "$A" grant bench --user b-node --read
python3 bench/gen_bundle.py -n "$N" --compact -o "$work/b.json"
"$KZ" --home "$A" import --collection bench --quiet "$work/b.json"
rm -f "$work/b.json"
p=$(port)
"$KZ" --home "$A" serve --listen "127.0.0.1:$p" --threads 2 --log "$work/a.log" 2>"$work/a.err" &
apid=$!
sleep 1
"$KZ" --home "$B" peer add a-node --url "http://127.0.0.1:$p/default/" --token "$TOK" \
    --pull bench=bench --key "$("$KZ" --home "$A" node key)"
t0=$(now)
"$KZ" --home "$B" sync a-node >/dev/null
t1=$(now)
for i in 1 2 3 4 5; do
    s0=$(now)
    "$KZ" --home "$B" sync a-node >/dev/null
    s1=$(now)
    echo "$s0 $s1"
done > "$work/incr"
pulled=$("$KZ" --home "$B" collection list --json | python3 -c "import json,sys; print([json.loads(l)['objects'] for l in sys.stdin][0])")
# the alternative: export on A, import on C (what the sync user may see, all versions)
e0=$(now)
"$KZ" --home "$A" export --collection bench --all-versions --as b-node --out "$work/x.json"
"$KZ" --home "$C" import --collection bench --quiet "$work/x.json"
e1=$(now)
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
python3 - "$pulled" "$t0" "$t1" "$e0" "$e1" "$work/incr" <<'PY'
import statistics, sys
n = int(sys.argv[1])
t0, t1, e0, e1 = map(float, sys.argv[2:6])
incr = [float(b) - float(a) for a, b in (l.split() for l in open(sys.argv[6]))]
print(f"full pull: {n:,} objects in {t1-t0:.2f} s = {n/(t1-t0):,.0f} objects/s (floor 50,000)")
print(f"export + import of the same: {e1-e0:.2f} s; sync / (export+import) = {(t1-t0)/(e1-e0):.2f} (floor 1.5)")
print(f"incremental sync, nothing new: median {statistics.median(incr)*1000:.0f} ms"
      f" (whole kizuna process; floor 50 ms)")
PY
