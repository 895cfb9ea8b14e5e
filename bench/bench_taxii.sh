#!/bin/sh
# TAXII server benchmark (issue 3): for each collection size N (default
# "10000 1000000"), a fresh node with N generated indicators, then
#  1. GET objects/?limit=100 from the middle of the collection (added_after),
#     wrk -c8 for DURATION s, against nginx serving the identical bytes as a
#     static file on the same machine in the same run (the HTTP ceiling);
#  2. the same with kizuna's response cache off ([server] cache = off), i.e.
#     every request runs its query, and for a reader who sees about half of
#     the collection (the policy's cost, issue 4);
#  3. reading the whole collection page by page with next;
#  4. POSTing 1,000-object envelopes from 4 clients at once;
#  5. the server's peak resident memory.
# Needs: scripts/install-deps.sh --bench (nginx, wrk), a release build.
#   bench/bench_taxii.sh [N...]      DURATION=10 by default
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
KZ=${KIZUNA:-$root/build/kizuna}
DURATION=${DURATION:-10}
sizes=${*:-10000 1000000}
work=$(mktemp -d /tmp/kz-bench-taxii-XXXXXX)
chmod 755 "$work" # nginx's workers run as another user and must read www/
cleanup() {
    [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# requests per second from wrk's report; an error answer fails the run
rps() {
    awk '/Non-2xx/ { bad = 1 } /^Requests\/sec:/ { r = $2 }
         END { if (bad || r == "") { print "bench: error answers" > "/dev/stderr"; exit 1 }; print r }'
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
for n in $sizes; do
    home="$work/home-$n"
    TOKEN=$("$KZ" --home "$home" init 2>/dev/null)
    "$KZ" --home "$home" collection add bench >/dev/null
    "$KZ" --home "$home" grant bench --org local --read --write
    "$KZ" --home "$home" org add partner >/dev/null
    "$KZ" --home "$home" user add half --org partner --role reader
    HALF=$("$KZ" --home "$home" token create half)
    "$KZ" --home "$home" community add g2g
    "$KZ" --home "$home" community join g2g partner
    "$KZ" --home "$home" grant bench --community g2g --read
    python3 bench/gen_bundle.py -n "$n" --compact -o "$work/b.json"
    "$KZ" --home "$home" import --collection bench --quiet "$work/b.json"
    rm -f "$work/b.json"
    total=$(sqlite3 "$home/kizuna.db" "SELECT count(*) FROM objects")
    mid=$(sqlite3 "$home/kizuna.db" "SELECT added FROM objects ORDER BY added LIMIT 1 OFFSET $((total / 2))")
    after=$(python3 bench/taxii_load.py ts "$mid")
    p=$(port)
    "$KZ" --home "$home" serve --listen "127.0.0.1:$p" --threads 2 --log "$work/access.log" \
        2>"$work/serve.err" &
    spid=$!
    sleep 1
    url="http://127.0.0.1:$p/default/collections/bench/objects/?limit=100&added_after=$after"
    mkdir -p "$work/www"
    curl -s -o "$work/www/page.json" -H "Authorization: Bearer $TOKEN" "$url"
    bytes=$(wc -c < "$work/www/page.json")
    np=$(port)
    cat > "$work/nginx.conf" <<CONF
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
    sleep 0.5
    # both must serve the same bytes, or the comparison means nothing
    curl -sf "http://127.0.0.1:$np/page.json" | cmp -s - "$work/www/page.json" ||
        { echo "bench: nginx does not serve the page (see $work/nginx.err)" >&2; exit 1; }
    grep -q '"objects"' "$work/www/page.json" ||
        { echo "bench: kizuna did not answer a page of objects" >&2; exit 1; }
    k=$(wrk -t2 -c8 -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "$url" | rps)
    ng=$(wrk -t2 -c8 -d"${DURATION}s" "http://127.0.0.1:$np/page.json" | rps)
    hf=$(wrk -t2 -c8 -d"${DURATION}s" -H "Authorization: Bearer $HALF" "$url" | rps)
    kill "$(cat "$work/nginx.pid")"
    rm -f "$work/nginx.pid"
    # the same without the response cache: every request runs its query
    kill "$spid"
    wait "$spid" || true
    sed -i 's/^\[server\]$/[server]\ncache = off/' "$home/kizuna.conf"
    "$KZ" --home "$home" serve --listen "127.0.0.1:$p" --threads 2 --log "$work/access.log" \
        2>"$work/serve.err" &
    spid=$!
    sleep 1
    kn=$(wrk -t2 -c8 -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "$url" | rps)
    hn=$(wrk -t2 -c8 -d"${DURATION}s" -H "Authorization: Bearer $HALF" "$url" | rps)
    kill "$spid"
    wait "$spid" || true
    sed -i '/^cache = off$/d' "$home/kizuna.conf"
    "$KZ" --home "$home" serve --listen "127.0.0.1:$p" --threads 2 --log "$work/access.log" \
        2>"$work/serve.err" &
    spid=$!
    sleep 1
    walk=$(python3 bench/taxii_load.py walk "http://127.0.0.1:$p/default/collections/bench/objects/" "$TOKEN" 1000)
    python3 bench/taxii_load.py envelopes 100 1000 "$n" "$work/env"
    post=$(python3 bench/taxii_load.py post "http://127.0.0.1:$p/default/collections/bench/objects/" "$TOKEN" "$work"/env/*.json)
    rm -rf "$work/env"
    rss=$(sed -n 's/^VmHWM:\s*//p' "/proc/$spid/status")
    kill "$spid"
    wait "$spid" || true
    spid=
    python3 - "$n" "$total" "$bytes" "$k" "$ng" "$hf" "$walk" "$post" "$rss" "$kn" "$hn" <<'PY'
import json, sys
n, total, size, k, ng, hf = sys.argv[1:7]
walk, post, rss = json.loads(sys.argv[7]), json.loads(sys.argv[8]), sys.argv[9]
k, ng, hf, kn, hn = float(k), float(ng), float(hf), float(sys.argv[10]), float(sys.argv[11])
print(f"N={int(n):,} indicators ({int(total):,} objects), page of 100 = {int(size):,} bytes")
print(f"  GET page: kizuna {k:,.0f} req/s, nginx {ng:,.0f} req/s, ratio {k/ng:.2f}")
print(f"  same page for a reader who sees half: {hf:,.0f} req/s ({hf/k:.2f} of the full view)")
print(f"  cache off: {kn:,.0f} req/s (ratio to nginx {kn/ng:.2f}); reader who sees half"
      f" {hn:,.0f} req/s ({hn/kn:.2f} of the full view)")
print(f"  walk with next: {walk['objects']:,} objects in {walk['seconds']} s = {walk['objects_per_s']:,} objects/s")
print(f"  POST 4 clients x 1,000-object envelopes: {post['objects']:,} objects in {post['seconds']} s = {post['objects_per_s']:,} objects/s")
print(f"  server peak RSS: {rss}")
PY
done
