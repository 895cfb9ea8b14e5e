#!/bin/sh
# The PostgreSQL store's page, id lookup and put against the collection's
# size (bench_pg_page.c): starts a throw-away PostgreSQL with
# tests/pglib.sh (or uses KZ_BENCH_PG_DSN), runs the benchmark, stops it.
# Needs PostgreSQL (scripts/install-deps.sh) and a release build.
#   bench/bench_pg_page.sh [N...]      (default 10000 100000)
set -eu
cd "$(dirname "$0")/.."
bin=${BENCH_PG_PAGE:-build/bench/bench_pg_page}
if [ -n "${KZ_BENCH_PG_DSN:-}" ]; then
    exec "$bin" "$KZ_BENCH_PG_DSN" "$@"
fi
d=$(mktemp -d /tmp/kz-bench-pg-XXXXXX)
trap 'sh tests/pglib.sh stop "$d"' EXIT
dsn=$(sh tests/pglib.sh start "$d")
"$bin" "$dsn" "$@"
