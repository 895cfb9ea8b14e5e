# The TAXII 2.1 walk-through of docs/TAXII.md with curl as the client:
# discovery, API root, collections, POST a bundle, GET objects, manifest,
# status (with and without the trailing slash), and the usual errors.
. "$(dirname "$0")/lib.sh"
DEMO="$KZ_TEST_DATA/../../share/demo/demo-bundle.json"
MT='application/taxii+json;version=2.1'

command -v curl >/dev/null 2>&1 || { echo "curl not installed: skipped"; exit 0; }

# a free loopback port: let the kernel pick one (python3 is there for the e2e tests)
if command -v python3 >/dev/null 2>&1; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
else
    PORT=$(awk 'BEGIN{srand(); print 20000 + int(rand()*40000)}')
fi
BASE="http://127.0.0.1:$PORT"

new_node
ID=$("$KIZUNA" --home "$SCRATCH/home" collection list --json 2>/dev/null |
     sed -n 's/.*"id":"\([0-9a-f-]*\)".*"alias":"intel".*/\1/p' | head -1)

"$KIZUNA" --home "$SCRATCH/home" serve --listen "127.0.0.1:$PORT" 2>"$SCRATCH/serve.err" &
PID=$!
stop_server() {
    if [ -n "${PID:-}" ]; then
        kill -TERM "$PID" 2>/dev/null
        wait "$PID"
        rc=$?
        PID=
        [ "$rc" = 0 ] || fail "kizuna serve exited $rc after SIGTERM"
    fi
}
trap 'stop_server; rm -rf "$SCRATCH"' EXIT

i=0
until curl -s -o /dev/null "$BASE/taxii2/"; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 "$PID" 2>/dev/null; then
        sed 's/^/  serve: /' "$SCRATCH/serve.err" >&2
        fail "kizuna serve did not start"
        finish
    fi
    sleep 0.1
done

# taxii METHOD PATH [curl args...]: body in $SCRATCH/body, headers in
# $SCRATCH/hdr, "CODE CONTENT-TYPE" in $SCRATCH/code
taxii() {
    method=$1
    path=$2
    shift 2
    curl -sS -X "$method" -D "$SCRATCH/hdr" -o "$SCRATCH/body" \
        -w '%{http_code} %{content_type}' "$@" "$BASE$path" >"$SCRATCH/code" 2>"$SCRATCH/curl.err" ||
        fail "curl $method $path: $(cat "$SCRATCH/curl.err")"
}
expect() {
    code=$(cut -d' ' -f1 "$SCRATCH/code")
    ctype=$(cut -d' ' -f2- "$SCRATCH/code" | tr -d ' ' | tr 'A-Z' 'a-z')
    [ "$code" = "$1" ] || { fail "$2: HTTP $code (wanted $1): $(head -c 400 "$SCRATCH/body")"; return; }
    [ "$ctype" = "$MT" ] || fail "$2: Content-Type '$ctype' is not $MT"
}
body_has() {
    grep -q -- "$1" "$SCRATCH/body" || fail "$2: body lacks $1: $(head -c 400 "$SCRATCH/body")"
}
AUTH="Authorization: Bearer $TOKEN"

# 1. discovery, with a bearer token and with HTTP Basic (user admin, token as password)
taxii GET /taxii2/ -H "Accept: $MT" -H "$AUTH"
expect 200 discovery
body_has '"api_roots"' discovery
body_has '/default/' discovery
taxii GET /taxii2/ -H "Accept: $MT" -u "admin:$TOKEN"
expect 200 "discovery with Basic"

# 2. the API root
taxii GET /default/ -H "Accept: $MT" -H "$AUTH"
expect 200 "api root"
body_has '"max_content_length"' "api root"
body_has 'application/taxii+json;version=2.1' "api root"

# 3. collections, and one collection by alias and by id
taxii GET /default/collections/ -H "Accept: $MT" -H "$AUTH"
expect 200 collections
body_has '"alias": *"intel"' collections
[ -n "$ID" ] || ID=$(sed -n 's/.*"id": *"\([0-9a-f-]\{36\}\)".*/\1/p' "$SCRATCH/body" | head -1)
taxii GET /default/collections/intel/ -H "Accept: $MT" -H "$AUTH"
expect 200 "collection by alias"
body_has "$ID" "collection by alias"
taxii GET "/default/collections/$ID/" -H "Accept: $MT" -H "$AUTH"
expect 200 "collection by id"

# 4. POST a STIX bundle (as python-stix2 writes it)
taxii POST /default/collections/intel/objects/ -H "Accept: $MT" -H "$AUTH" \
    -H 'Content-Type: application/stix+json;version=2.1' --data-binary "@$DEMO"
expect 202 "post bundle"
body_has '"status": *"complete"' "post bundle"
body_has '"success_count": *24' "post bundle"
STATUS=$(sed -n 's/.*"id": *"\([0-9a-f-]\{36\}\)".*/\1/p' "$SCRATCH/body" | head -1)
[ -n "$STATUS" ] || fail "no status id in $(head -c 300 "$SCRATCH/body")"

# 5. the status, with and without the trailing slash
taxii GET "/default/status/$STATUS/" -H "Accept: $MT" -H "$AUTH"
expect 200 status
body_has "$STATUS" status
taxii GET "/default/status/$STATUS" -H "Accept: $MT" -H "$AUTH"
expect 200 "status without slash"
body_has '"total_count": *24' "status without slash"

# 6. objects: all, filtered, one by id, versions, manifest pages
taxii GET /default/collections/intel/objects/ -H "Accept: $MT" -H "$AUTH"
expect 200 objects
body_has 'indicator--' objects
grep -qi '^X-TAXII-Date-Added-First: ' "$SCRATCH/hdr" || fail "objects: no X-TAXII-Date-Added-First"
grep -qi '^X-TAXII-Date-Added-Last: ' "$SCRATCH/hdr" || fail "objects: no X-TAXII-Date-Added-Last"
LAST=$(sed -n 's/^[Xx]-[Tt][Aa][Xx][Ii][Ii]-[Dd]ate-[Aa]dded-[Ll]ast: *\([^ ]*\).*/\1/p' "$SCRATCH/hdr" | tr -d '\r')
taxii GET "/default/collections/intel/objects/?match%5Btype%5D=indicator,malware" -H "Accept: $MT" -H "$AUTH"
expect 200 "objects by type"
body_has 'indicator--' "objects by type"
if grep -q '"type": *"relationship"' "$SCRATCH/body"; then fail "type filter let a relationship through"; fi
OID=$(sed -n 's/.*"id": *"\(indicator--[0-9a-f-]\{36\}\)".*/\1/p' "$SCRATCH/body" | head -1)
taxii GET "/default/collections/intel/objects/$OID/" -H "Accept: $MT" -H "$AUTH"
expect 200 "object by id"
body_has "$OID" "object by id"
taxii GET "/default/collections/intel/objects/$OID/versions/" -H "Accept: $MT" -H "$AUTH"
expect 200 versions
body_has '"versions"' versions
taxii GET "/default/collections/intel/manifest/?limit=5" -H "Accept: $MT" -H "$AUTH"
expect 200 manifest
body_has '"more": *true' manifest
body_has '"next"' manifest
body_has '"date_added"' manifest
taxii GET "/default/collections/intel/objects/?added_after=$LAST" -H "Accept: $MT" -H "$AUTH"
expect 200 "objects added after the last"
body_has '"more": *false' "objects added after the last"
if grep -q '"objects"' "$SCRATCH/body"; then fail "an empty page must omit objects"; fi

# 7. the errors a curl user meets first
taxii GET /taxii2/ -H "Accept: $MT"
expect 401 "no credentials"
grep -qi '^WWW-Authenticate:' "$SCRATCH/hdr" || fail "401 without WWW-Authenticate"
body_has '"title"' "no credentials"
taxii GET /taxii2/ -H "Accept: text/html" -H "$AUTH"
expect 406 "Accept text/html"
taxii GET "/default/collections/intel/objects/?limit=0" -H "Accept: $MT" -H "$AUTH"
expect 400 "limit=0"
taxii POST /default/collections/intel/objects/ -H "Accept: $MT" -H "$AUTH" \
    -H 'Content-Type: application/json' --data-binary "@$DEMO"
expect 415 "Content-Type application/json"
taxii GET /default/collections/nosuch/objects/ -H "Accept: $MT" -H "$AUTH"
expect 404 "unknown collection"
taxii DELETE "/default/collections/intel/objects/$OID/" -H "Accept: $MT" -H "$AUTH"
code=$(cut -d' ' -f1 "$SCRATCH/code")
[ "$code" = 200 ] || fail "DELETE: HTTP $code"
taxii GET "/default/collections/intel/objects/$OID/" -H "Accept: $MT" -H "$AUTH"
expect 404 "deleted object"

# a second serve on the port in use fails, and leaves the running node's
# request log as it was (issue 12, item 9)
LOG="$SCRATCH/home/kizuna.log"
cp "$LOG" "$SCRATCH/log.before"
run 2 "$KIZUNA" --home "$SCRATCH/home" serve --listen "127.0.0.1:$PORT"
expect_err "cannot listen on 127.0.0.1:$PORT"
cmp -s "$LOG" "$SCRATCH/log.before" || fail "a serve that could not bind wrote into the node's log"
# ports outside 1..65535 are refused, not wrapped round (70000 was served as 4464)
for p in 70000 65536 0 -1 8470x; do
    run 2 "$KIZUNA" --home "$SCRATCH/home" serve --listen "127.0.0.1:$p"
    expect_err "the port must be a number from 1 to 65535"
done

stop_server
finish
