# The everyday commands as a new user runs them: init, collection, validate,
# import, export, show, --help and --version, and the usual mistakes.
. "$(dirname "$0")/lib.sh"
DEMO="$KZ_TEST_DATA/../../share/demo/demo-bundle.json"

run 0 "$KIZUNA" --version
expect_out "kizuna "
run 0 "$KIZUNA" --help
expect_out "commands:"
for c in init validate collection import export show pattern; do
    run 0 "$KIZUNA" "$c" --help
    expect_out "usage: kizuna"
done
run 2 "$KIZUNA"
run 2 "$KIZUNA" frobnicate
expect_err "unknown command"

# init: a token on stdout, a home with its files, never overwritten
run 0 "$KIZUNA" --home home init --node-name test-node
grep -Eq '^kz_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$' out || fail "token format: $(cat out)"
for f in kizuna.conf kizuna.db kizuna.db-ids signing.key tls/node.crt tls/node.key; do
    [ -f "home/$f" ] || fail "init did not write $f"
done
[ "$(stat -c %a home/signing.key)" = 600 ] || fail "signing.key is not 0600"
[ "$(stat -c %a home/tls/node.key)" = 600 ] || fail "tls key is not 0600"
grep -q "name = test-node" home/kizuna.conf || fail "node name not in kizuna.conf"
run 2 "$KIZUNA" --home home init
expect_err "already holds a node"
# the token is stored only as a hash
if command -v sqlite3 >/dev/null 2>&1; then
    tok=$("$KIZUNA" --home home2 init 2>/dev/null)
    # kz_<token id>_<secret>; the secret's base64url may itself hold "_"
    secret=${tok#kz_*_}
    [ ${#secret} -ge 40 ] || fail "token secret too short: $tok"
    if sqlite3 home2/kizuna.db .dump | grep -qF "$secret"; then fail "token stored in clear"; fi
fi

# KIZUNA_HOME and --home after the command
KIZUNA_HOME=home run 0 "$KIZUNA" collection add viaenv
run 0 "$KIZUNA" collection add intel --home home --title "Shared intel" --description "IN-JP"
grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' out ||
    fail "collection id is not a UUIDv4: $(cat out)"
ID=$(cat out)
run 2 "$KIZUNA" --home home collection add intel
expect_err "already exists"
run 2 "$KIZUNA" --home home collection add "bad name!"
run 0 "$KIZUNA" --home home collection list
expect_out "Shared intel"
run 0 "$KIZUNA" --home home collection list --json
expect_out "\"alias\":\"intel\""

# a missing home is a clear error, not a new empty node
run 2 "$KIZUNA" --home nowhere collection list
expect_err "no kizuna node here"

# validate needs no home
run 0 "$KIZUNA" validate "$DEMO"
expect_out "24 objects, 0 invalid"
run 2 "$KIZUNA" validate
run 2 "$KIZUNA" validate no-such-file.json
expect_err "cannot open"

# import, by alias and by id; again is all duplicates
run 0 "$KIZUNA" --home home import --collection intel "$DEMO"
expect_out "24 added, 0 duplicate, 0 rejected"
run 0 "$KIZUNA" --home home import --collection "$ID" "$DEMO"
expect_out "0 added, 24 duplicate, 0 rejected"
run 0 sh -c "\"$KIZUNA\" --home home import --collection intel - < \"$DEMO\""
expect_out "<stdin>: 0 added, 24 duplicate"
run 2 "$KIZUNA" --home home import --collection nosuch "$DEMO"
expect_err "no collection"
run 2 "$KIZUNA" --home home import "$DEMO"
expect_err "--collection is required"

# export gives back every object equal in content, but TLP:RED never
# leaves in bulk
run 0 "$KIZUNA" --home home export --collection intel --out exported.json
python3 - "$DEMO" exported.json <<'PY' || fail "export differs from import"
import json, sys
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
a = json.load(open(sys.argv[1]))["objects"]
b = json.load(open(sys.argv[2]))
assert b["type"] == "bundle" and b["id"].startswith("bundle--")
key = lambda o: (o["id"], o.get("modified", ""))
red = [o for o in a if RED in o.get("object_marking_refs", [])]
assert red, "the demo bundle has TLP:RED objects"
want = [o for o in a if o not in red]
assert sorted(want, key=key) == sorted(b["objects"], key=key), "objects differ"
PY
run 0 "$KIZUNA" --home home export --collection intel
expect_out "\"type\":\"bundle\""
run 0 "$KIZUNA" validate exported.json

# show: readable, and --json
run 1 "$KIZUNA" --home home show indicator--unknown-id
run 1 "$KIZUNA" --home home show indicator--00000000-0000-4000-8000-000000000000
expect_err "no object with id"
IND=$(python3 -c "import json,sys; print([o['id'] for o in json.load(open(sys.argv[1]))['objects'] if o['type']=='indicator'][0])" "$DEMO")
run 0 "$KIZUNA" --home home show "$IND"
expect_out "marking     TLP:AMBER"
expect_out "\"pattern_type\": \"stix\""
run 0 "$KIZUNA" --home home show --json "$IND"
python3 -c "import json,sys; json.loads(open(sys.argv[1]).readline())" out || fail "show --json"
# `kizuna help CMD` says what `kizuna CMD --help` says (issue 12, item 9)
run 0 "$KIZUNA" help export
expect_out "usage: kizuna [--home DIR] export"
"$KIZUNA" export --help > "$SCRATCH/help.direct"
cmp -s "$SCRATCH/out" "$SCRATCH/help.direct" || fail "help export differs from export --help"
run 2 "$KIZUNA" help no-such-command
expect_err 'no command "no-such-command"'

# import --json: one JSON object per file (issue 12, item 9)
"$KIZUNA" --home "$SCRATCH/jhome" init >/dev/null 2>&1 || fail "init jhome"
"$KIZUNA" --home "$SCRATCH/jhome" collection add intel >/dev/null || fail "collection jhome"
run 0 "$KIZUNA" --home "$SCRATCH/jhome" import --json --collection intel "$KZ_TEST_DATA/../../share/demo/demo-bundle.json"
python3 -c "
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d['added'] > 0 and d['rejected'] == 0 and d['stored'] is True, d
assert d['file'].endswith('demo-bundle.json'), d
" "$SCRATCH/out" || fail "import --json"

# match: an unreadable file is skipped with a warning, the others scanned;
# --report's collection is checked before any scanning (issue 12, item 9)
printf 'GET from 198.51.100.23 ok\n' > "$SCRATCH/hit.log"
run 1 "$KIZUNA" --home "$SCRATCH/jhome" match "$SCRATCH/no-such.log" "$SCRATCH/hit.log"
expect_err "skipped $SCRATCH/no-such.log"
expect_out "198.51.100.23"
run 2 "$KIZUNA" --home "$SCRATCH/jhome" match "$SCRATCH/no-such.log"
expect_err "1 file skipped"
run 2 "$KIZUNA" --home "$SCRATCH/jhome" match --report no-such-collection "$SCRATCH/hit.log"
expect_err 'no collection "no-such-collection"'
[ ! -s "$SCRATCH/out" ] || fail "match --report with a wrong collection scanned and printed hits"

# --json on the listings (issue 12, item 9): one JSON object per line
J="$SCRATCH/jhome"
"$KIZUNA" --home "$J" org add jp-csirt --country JP --kind cert >/dev/null || fail "org add"
"$KIZUNA" --home "$J" community add in-jp >/dev/null || fail "community add"
"$KIZUNA" --home "$J" community join in-jp jp-csirt >/dev/null || fail "community join"
"$KIZUNA" --home "$J" user add taro --org jp-csirt --role reader >/dev/null || fail "user add"
"$KIZUNA" --home "$J" token create taro >/dev/null || fail "token create"
"$KIZUNA" --home "$J" grant intel --community in-jp --read >/dev/null || fail "grant"
run 0 "$KIZUNA" --home "$J" community list --json
python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert {'name': 'in-jp', 'members': ['jp-csirt']} in rows, rows
" "$SCRATCH/out" || fail "community list --json"
run 0 "$KIZUNA" --home "$J" token list taro --json
python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1 and rows[0]['user'] == 'taro' and rows[0]['revoked'] is None, rows
" "$SCRATCH/out" || fail "token list --json"
run 0 "$KIZUNA" --home "$J" grant intel --json
python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert {'kind': 'community', 'subject': 'in-jp', 'read': True, 'write': False} in rows, rows
" "$SCRATCH/out" || fail "grant --json"
run 2 "$KIZUNA" --home "$J" community list --yaml

# listings are tables sized to their content (issue 12, item 9): a long name
# widens its column instead of pushing one row out of line
"$KIZUNA" --home "$J" org add a-very-long-organisation-name-of-a-ministry --country JP >/dev/null ||
    fail "org add (long name)"
run 0 "$KIZUNA" --home "$J" org list
python3 -c "
import sys
rows = [l.rstrip('\n') for l in open(sys.argv[1]) if l.strip()]
starts = {l.index('identity--') for l in rows}
assert len(rows) >= 3 and len(starts) == 1, (starts, rows)
" "$SCRATCH/out" || fail "org list columns do not line up"
run 0 "$KIZUNA" --home "$J" collection list
head -1 "$SCRATCH/out" | grep -q '^ID  ' || fail "collection list lost its header"

# store migrate: the schema brought up to date and named; mistakes are usage errors
run 0 "$KIZUNA" --home "$J" store migrate
expect_out "store: sqlite schema at version"
run 2 "$KIZUNA" --home "$J" store migrate now
expect_err 'unexpected argument "now"'
run 2 "$KIZUNA" --home "$J" store vacuum
expect_err 'unknown subcommand "vacuum"'

finish
