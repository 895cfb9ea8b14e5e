#!/bin/sh
# Putting objects into the PostgreSQL store one call per object against
# store_put_many (bench_pg_put.c): starts a throw-away PostgreSQL that
# flushes its commits to disk (KZ_PG_FSYNC=on, tests/pglib.sh), or uses
# KZ_BENCH_PG_DSN, runs the benchmark, stops it. Needs PostgreSQL
# (scripts/install-deps.sh) and a release build.
#   bench/bench_pg_put.sh [N]      (default 20000)
set -eu
cd "$(dirname "$0")/.."
bin=${BENCH_PG_PUT:-build/bench/bench_pg_put}
if [ -n "${KZ_BENCH_PG_DSN:-}" ]; then
    exec "$bin" "$KZ_BENCH_PG_DSN" "$@"
fi
d=$(mktemp -d /tmp/kz-bench-pg-XXXXXX)
trap 'sh tests/pglib.sh stop "$d"' EXIT
dsn=$(KZ_PG_FSYNC=on sh tests/pglib.sh start "$d")
"$bin" "$dsn" "$@"
