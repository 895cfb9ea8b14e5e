#!/bin/sh
# TAXII server benchmark on PostgreSQL (issue 13): for each collection size
# N (default "10000 1000000"), one node with N generated indicators on
# SQLite and the same node copied into PostgreSQL (`store migrate --to`:
# the same objects, dates added and tokens), then, RUNS times each, the
# backends and nginx taking turns so that every ratio is from one run:
#  1. GET objects/?limit=100 from the middle of the collection (added_after)
#     with the response cache off ([server] cache = off): every request runs
#     its query; wrk -c8 for DURATION s, against nginx serving the identical
#     bytes as a static file (both servers must answer those very bytes);
#  2. the same with the cache on;
#  3. reading the whole collection page by page with next (1,000 a page),
#     cache off too: every run reads the store, none a cached page;
#  4. POSTing 100 envelopes of 1,000 new indicators from 4 clients at once
#     (a POST is answered once its objects are committed; PostgreSQL runs
#     with fsync on and kizuna's sessions with synchronous_commit on);
#  5. two `kizuna serve` over the same PostgreSQL database, pinned to
#     different cores (taskset), each hit by its own wrk -c4, against one
#     server pinned to one core hit by the same two wrk: the aggregate GET
#     rate (cache off) of two servers over one.
# Prints every run's figure and the range over the runs, the cluster's
# fsync setting, and the load average before and after.
# Needs: scripts/install-deps.sh --bench (nginx, wrk), PostgreSQL (initdb),
# taskset, a release build.
#   bench/bench_taxii_pg.sh [N...]      DURATION=5 RUNS=3 by default;
#   KZ_PG_FSYNC=off measures a cluster that does not flush (not durable)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
KZ=${KIZUNA:-$root/build/kizuna}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
FSYNC=${KZ_PG_FSYNC:-on}
sizes=${*:-10000 1000000}
work=$(mktemp -d /tmp/kz-bench-taxii-pg-XXXXXX)
chmod 755 "$work" # nginx's workers run as another user and must read www/
# not under $work's parent rules: as root the cluster runs as nobody
pg=$(mktemp -d /tmp/kz-pg-XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    sh tests/pglib.sh stop "$pg" || true
    rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# requests per second from wrk's report; an error answer fails the run
rps() {
    awk '/Non-2xx|Socket errors/ { bad = 1 } /^Requests\/sec:/ { r = $2 }
         END { if (bad || r == "") { print "bench: error answers" > "/dev/stderr"; exit 1 }; print r }'
}
# records one figure: metric, size, run, value
rec() {
    [ -n "$4" ] || { echo "bench: no figure for $1" >&2; exit 1; }
    echo "$1 $2 $3 $4" >>"$work/figures"
}

# serve HOME PORT CPU LOG: starts a server (pinned to CPU unless '-') and
# waits until it answers; its pid is in $spid
serve() {
    if [ "$3" = - ]; then
        "$KZ" --home "$1" serve --listen "127.0.0.1:$2" --threads 2 --log "$4" 2>>"$work/serve.err" &
    else
        taskset -c "$3" "$KZ" --home "$1" serve --listen "127.0.0.1:$2" --threads 2 --log "$4" \
            2>>"$work/serve.err" &
    fi
    spid=$!
    pids="$pids $spid"
    tries=0
    until curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$2/taxii2/"; do
        tries=$((tries + 1))
        kill -0 "$spid" 2>/dev/null && [ "$tries" -lt 600 ] ||
            { echo "bench: the server on $2 did not come up:" >&2; cat "$work/serve.err" >&2; exit 1; }
        sleep 0.05
    done
}
stop() {
    for p in "$@"; do
        kill "$p"
        wait "$p" || true
    done
}
cache() { # cache HOME on|off
    sed -i '/^cache = /d' "$1/kizuna.conf"
    sed -i "s/^\\[server\\]\$/[server]\\ncache = $2/" "$1/kizuna.conf"
}

dsn0=$(KZ_PG_FSYNC=$FSYNC sh tests/pglib.sh start "$pg")
pgv=$(psql -X -Atc 'SHOW server_version' "$dsn0")
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "PostgreSQL $pgv: fsync=$(psql -X -Atc 'SHOW fsync' "$dsn0"), shared_buffers=$(psql -X -Atc 'SHOW shared_buffers' "$dsn0"); kizuna sets synchronous_commit=on"
echo "DURATION=${DURATION}s, RUNS=$RUNS; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
    lite="$work/lite-$n"
    TOKEN=$("$KZ" --home "$lite" init 2>/dev/null)
    "$KZ" --home "$lite" collection add bench >/dev/null
    "$KZ" --home "$lite" grant bench --org local --read --write
    python3 bench/gen_bundle.py -n "$n" --compact -o "$work/b.json"
    "$KZ" --home "$lite" import --collection bench --quiet "$work/b.json"
    rm -f "$work/b.json"
    # the same node in PostgreSQL: a database of its own, the home copied
    # with its [store] pointing at it
    psql -X -q -c "CREATE DATABASE kzbench_$n" "$dsn0"
    dsn=$(echo "$dsn0" | sed "s/dbname=postgres/dbname=kzbench_$n/")
    t0=$(date +%s.%N)
    "$KZ" --home "$lite" store migrate --to "$dsn" >/dev/null
    t1=$(date +%s.%N)
    # what autovacuum would do in its own time: the visibility map and the
    # planner's statistics of freshly copied tables
    psql -X -q -c "VACUUM ANALYZE" "$dsn"
    pgh="$work/pg-$n"
    mkdir "$pgh"
    cp -r "$lite/signing.key" "$lite/tls" "$pgh/"
    python3 - "$lite/kizuna.conf" "$pgh/kizuna.conf" "$dsn" <<'PY'
import sys
src, dst, dsn = sys.argv[1:]
out = []
for line in open(src):
    if line.startswith("backend = sqlite"):
        out.append("backend = postgresql\ndsn = %s\n" % dsn)
    elif line.startswith("path = ") or line.startswith("audit_path = "):
        continue
    else:
        out.append(line)
open(dst, "w").writelines(out)
PY
    total=$(sqlite3 "$lite/kizuna.db" "SELECT count(*) FROM objects")
    ptotal=$(psql -X -Atc "SELECT count(*) FROM objects" "$dsn")
    [ "$total" = "$ptotal" ] || { echo "bench: $ptotal objects copied of $total" >&2; exit 1; }
    mid=$(sqlite3 "$lite/kizuna.db" "SELECT added FROM objects ORDER BY added LIMIT 1 OFFSET $((total / 2))")
    after=$(python3 bench/taxii_load.py ts "$mid")
    q="/default/collections/bench/objects/?limit=100&added_after=$after"
    echo "N=$n: $total objects; store migrate --to PostgreSQL $(echo "$t1 - $t0" | bc) s; load $(cut -d' ' -f1-3 /proc/loadavg)"

    # --- 1. the page, cache off, against nginx serving the same bytes; 3. the walk
    cache "$lite" off
    cache "$pgh" off
    pp=$(port)
    serve "$pgh" "$pp" - "$work/pg.log"
    ppid=$spid
    lp=$(port)
    serve "$lite" "$lp" - "$work/lite.log"
    lpid=$spid
    mkdir -p "$work/www"
    curl -sf -o "$work/www/page.json" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$pp$q"
    curl -sf -o "$work/lite-page.json" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$lp$q"
    grep -q '"objects"' "$work/www/page.json" ||
        { echo "bench: kizuna on PostgreSQL did not answer a page of objects" >&2; exit 1; }
    cmp -s "$work/www/page.json" "$work/lite-page.json" ||
        { echo "bench: the two backends answer different pages" >&2; exit 1; }
    bytes=$(wc -c <"$work/www/page.json")
    np=$(port)
    cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$np;
        root $work/www;
        location / { default_type application/taxii+json; }
    }
}
CONF
    nginx -c "$work/nginx.conf"
    tries=0
    until curl -sf "http://127.0.0.1:$np/page.json" | cmp -s - "$work/www/page.json"; do
        tries=$((tries + 1))
        [ "$tries" -lt 200 ] ||
            { echo "bench: nginx does not serve the page (see $work/nginx.err)" >&2; exit 1; }
        sleep 0.05
    done
    w() { wrk -t2 -c8 -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "$1" | rps; }
    for r in $(seq "$RUNS"); do
        rec get_pg_nocache "$n" "$r" "$(w "http://127.0.0.1:$pp$q")"
        rec get_nginx "$n" "$r" "$(w "http://127.0.0.1:$np/page.json")"
        rec get_lite_nocache "$n" "$r" "$(w "http://127.0.0.1:$lp$q")"
    done
    for r in $(seq "$RUNS"); do
        for b in pg lite; do
            [ "$b" = pg ] && p=$pp || p=$lp
            out=$(python3 bench/taxii_load.py walk "http://127.0.0.1:$p/default/collections/bench/objects/" "$TOKEN" 1000)
            rec "walk_$b" "$n" "$r" "$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["objects_per_s"])')"
        done
    done
    stop "$ppid" "$lpid"

    # --- 2. the same page with the cache on; 4. POST
    cache "$lite" on
    cache "$pgh" on
    serve "$pgh" "$pp" - "$work/pg.log"
    ppid=$spid
    serve "$lite" "$lp" - "$work/lite.log"
    lpid=$spid
    for r in $(seq "$RUNS"); do
        rec get_pg_cache "$n" "$r" "$(w "http://127.0.0.1:$pp$q")"
        rec get_nginx_2 "$n" "$r" "$(w "http://127.0.0.1:$np/page.json")"
        rec get_lite_cache "$n" "$r" "$(w "http://127.0.0.1:$lp$q")"
    done
    kill "$(cat "$work/nginx.pid")"
    rm -f "$work/nginx.pid"
    for r in $(seq "$RUNS"); do
        python3 bench/taxii_load.py envelopes 100 1000 "$((n + r))" "$work/env"
        for b in pg lite; do
            [ "$b" = pg ] && p=$pp || p=$lp
            out=$(python3 bench/taxii_load.py post "http://127.0.0.1:$p/default/collections/bench/objects/" "$TOKEN" "$work"/env/*.json)
            rec "post_$b" "$n" "$r" "$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["objects_per_s"])')"
        done
        rm -rf "$work/env"
    done
    rec rss_pg "$n" 1 "$(sed -n 's/^VmHWM:\s*\([0-9]*\).*/\1/p' "/proc/$ppid/status")"
    rec rss_lite "$n" 1 "$(sed -n 's/^VmHWM:\s*\([0-9]*\).*/\1/p' "/proc/$lpid/status")"
    stop "$ppid" "$lpid"

    # --- 5. two servers over one database, each on a core of its own,
    # against one; the same two wrk (-c4 each) in both cases, cache off
    cache "$pgh" off
    pgh2="$work/pg2-$n"
    cp -r "$pgh" "$pgh2"
    ap=$(port)
    bp=$(port)
    serve "$pgh" "$ap" 0 "$work/pg-a.log"
    apid=$spid
    serve "$pgh2" "$bp" 1 "$work/pg-b.log"
    bpid=$spid
    w4() { wrk -t1 -c4 -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "$1" | rps >"$2"; }
    for r in $(seq "$RUNS"); do
        w4 "http://127.0.0.1:$ap$q" "$work/w1" &
        j1=$!
        w4 "http://127.0.0.1:$ap$q" "$work/w2" &
        j2=$!
        wait "$j1"
        wait "$j2"
        rec one_server "$n" "$r" "$(echo "$(cat "$work/w1") + $(cat "$work/w2")" | bc)"
        w4 "http://127.0.0.1:$ap$q" "$work/w1" &
        j1=$!
        w4 "http://127.0.0.1:$bp$q" "$work/w2" &
        j2=$!
        wait "$j1"
        wait "$j2"
        rec two_servers "$n" "$r" "$(echo "$(cat "$work/w1") + $(cat "$work/w2")" | bc)"
    done
    stop "$apid" "$bpid"
    pids=""
    python3 - "$work/figures" "$n" "$total" "$bytes" <<'PY'
import sys
path, n, total, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
f = {}
for line in open(path):
    m, sz, r, v = line.split()
    if int(sz) == n:
        f.setdefault(m, {})[int(r)] = float(v)
def rng(vals, fmt="{:,.0f}"):
    vals = sorted(vals)
    return fmt.format(vals[0]) if len(vals) == 1 else fmt.format(vals[0]) + "-" + fmt.format(vals[-1])
def each(m):
    return ", ".join("{:,.0f}".format(f[m][r]) for r in sorted(f[m]))
def ratio(a, b):
    return rng([f[a][r] / f[b][r] for r in f[a]], "{:.2f}")
print(f"N={n:,} indicators ({total:,} objects), page of 100 = {size:,} bytes")
print(f"  GET page, cache off (req/s, each run): PostgreSQL {each('get_pg_nocache')}; "
      f"SQLite {each('get_lite_nocache')}; nginx {each('get_nginx')}")
print(f"    ratio to nginx in the same run: PostgreSQL {ratio('get_pg_nocache', 'get_nginx')}, "
      f"SQLite {ratio('get_lite_nocache', 'get_nginx')}")
print(f"  GET page, cache on (req/s): PostgreSQL {each('get_pg_cache')}; SQLite {each('get_lite_cache')}; "
      f"nginx {each('get_nginx_2')}")
print(f"    ratio to nginx: PostgreSQL {ratio('get_pg_cache', 'get_nginx_2')}, "
      f"SQLite {ratio('get_lite_cache', 'get_nginx_2')}")
print(f"  walk with next (objects/s): PostgreSQL {each('walk_pg')} ({rng(f['walk_pg'].values())}); "
      f"SQLite {each('walk_lite')} ({rng(f['walk_lite'].values())})")
print(f"  POST 4 clients x 100 envelopes of 1,000 (objects/s): PostgreSQL {each('post_pg')} "
      f"({rng(f['post_pg'].values())}); SQLite {each('post_lite')} ({rng(f['post_lite'].values())})")
print(f"  two servers on one database, cores 0 and 1, cache off (req/s): one {each('one_server')}, "
      f"two {each('two_servers')}; two/one {ratio('two_servers', 'one_server')}")
print(f"  server peak RSS: PostgreSQL backend {f['rss_pg'][1] / 1024:,.0f} MB, SQLite {f['rss_lite'][1] / 1024:,.0f} MB")
PY
    echo "  load average after N=$n: $(cut -d' ' -f1-3 /proc/loadavg)"
done
