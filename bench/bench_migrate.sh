#!/bin/sh
# `kizuna store migrate --to` (issue 13): a SQLite node of N generated
# indicators copied into a new SQLite store and into PostgreSQL, verified, in
# the same run as the obvious alternative for the bytes alone: sqlite3's
# online .backup of the same database (a page copy: no other backend, no
# verification). Prints each time and the ratio; RUNS (default 3) runs each,
# reported as min-max. PostgreSQL is a throw-away cluster from
# tests/pglib.sh (KZ_PG_FSYNC=on makes its commits durable, as in
# production; the default is off, and the output says which).
#   bench/bench_migrate.sh [N]      default N = 100000
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
KZ=${KIZUNA:-$root/build/kizuna}
n=${1:-100000}
runs=${RUNS:-3}
work=$(mktemp -d /tmp/kz-bench-migrate-XXXXXX)
pgdir=$(mktemp -d /tmp/kz-pg-XXXXXX)
cleanup() {
    sh tests/pglib.sh stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
dsn=$(sh tests/pglib.sh start "$pgdir")

now() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "postgresql fsync: ${KZ_PG_FSYNC:-off}; objects: $n; runs: $runs"
home="$work/home"
"$KZ" --home "$home" init >/dev/null 2>&1
"$KZ" --home "$home" collection add bench >/dev/null
python3 bench/gen_bundle.py -n "$n" --compact -o "$work/b.json"
"$KZ" --home "$home" import --collection bench --quiet --no-progress "$work/b.json"
rm -f "$work/b.json"
versions=$(sqlite3 "$home/kizuna.db" "SELECT count(*) FROM objects")

i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    rm -rf "$work/copy" "$work/backup.db"
    mkdir "$work/copy"
    t0=$(now)
    sqlite3 "$home/kizuna.db" ".backup '$work/backup.db'"
    t1=$(now)
    "$KZ" --home "$home" store migrate --to "sqlite:$work/copy/kizuna.db" >/dev/null 2>&1
    t2=$(now)
    db="bench_$i"
    psql -q -X "$dsn" -c "CREATE DATABASE $db"
    "$KZ" --home "$home" store migrate --to "$(echo "$dsn" | sed "s/dbname=postgres/dbname=$db/")" \
        >/dev/null 2>&1
    t3=$(now)
    echo "run $i: sqlite3 .backup $(elapsed "$t0" "$t1") s; migrate to sqlite $(elapsed "$t1" "$t2") s;" \
        "migrate to postgresql $(elapsed "$t2" "$t3") s"
    echo "$(elapsed "$t0" "$t1") $(elapsed "$t1" "$t2") $(elapsed "$t2" "$t3")" >>"$work/times"
done
python3 - "$work/times" "$versions" <<'PY'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
v = int(sys.argv[2])
def rng(i):
    xs = sorted(r[i] for r in rows)
    return xs[0], xs[-1]
b, s, p = rng(0), rng(1), rng(2)
print("object versions: %d" % v)
print("sqlite3 .backup:         %.2f-%.2f s" % b)
print("migrate to sqlite:       %.2f-%.2f s (%.0f-%.0f versions/s, %.1f-%.1fx the backup's time)"
      % (s[0], s[1], v / s[1], v / s[0], s[0] / b[1], s[1] / b[0]))
print("migrate to postgresql:   %.2f-%.2f s (%.0f-%.0f versions/s)" % (p[0], p[1], v / p[1], v / p[0]))
PY
