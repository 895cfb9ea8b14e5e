# The lifecycle of what the operator made: users disabled, enabled,
# re-roled and removed; organisations, communities and collections
# removed (refused while things depend on them, unless --force); an
# organisation leaving a community; keys of removed things never given to
# new ones; every change audited. And `kizuna apply`: idempotent, a bad
# file changes nothing, --dry-run changes nothing, --json.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null 2>&1 || { echo "skipped: no sqlite3"; exit 0; }
new_node
H="$SCRATCH/home"
K() { "$KIZUNA" --home "$H" "$@"; }

# --- users
K org add acme >/dev/null
K user add bob --org acme --role contributor
K token create bob >/dev/null
K grant intel --user bob --read --write
run 0 K user disable bob
expect_out "user bob disabled"
run 0 K user list --json
expect_out '"name":"bob","role":"contributor","org":"acme","disabled":true'
# a disabled user cannot be acted as either (fail closed)
run 2 K export --collection intel --as bob
expect_err 'user "bob" is disabled'
run 0 K user enable bob
expect_out "user bob enabled"
run 0 K user list --json
expect_out '"name":"bob","role":"contributor","org":"acme","disabled":false'
run 0 K user role bob reader
expect_out "user bob: role reader"
run 0 K user role bob reader
expect_out "(unchanged)"
run 2 K user role bob emperor
expect_err "a role is reader"
run 2 K user disable nobody
expect_err 'no user "nobody"'
run 0 K user remove bob
expect_out "removed user bob: 1 token(s), 1 grant(s)"
run 0 K user list
grep -q "^bob " "$SCRATCH/out" && fail "bob still listed"
run 0 K grant intel --json
grep -q '"subject":"bob"' "$SCRATCH/out" && fail "bob's grant survived"
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM tokens WHERE user NOT IN (SELECT key FROM users)")" = 0 ] ||
    fail "tokens of a removed user remain"

# --- a removed user's key is never given again: an AMBER object naming
# "victim" as recipient must not become visible to the next user made
K org add other >/dev/null
K user add victim --org other
cat >amber.json <<'EOF'
{"type": "bundle", "id": "bundle--0c5f1b2e-2b0b-4a43-9d42-53c6b0c3e5a1", "objects": [
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--5a0c1b77-4a3f-4b1d-9d8e-2f8f1f0e7a11",
  "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
  "pattern": "[ipv4-addr:value = '203.0.113.77']", "pattern_type": "stix",
  "valid_from": "2026-01-01T00:00:00Z",
  "object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"],
  "extensions": {"extension-definition--bc477fd6-2822-4e86-a16f-e438280733f6": {
    "extension_type": "property-extension", "recipients": {"users": ["victim@kizuna"]}}}}]}
EOF
run 0 K import --collection intel amber.json
K grant intel --role reader
run 0 K export --collection intel --as victim --out v.json
grep -q "203.0.113.77" v.json || fail "the recipient does not see its AMBER object"
run 0 K user remove victim
K user add newcomer --org other
run 0 K export --collection intel --as newcomer --out n.json
grep -q "203.0.113.77" n.json && fail "a new user inherited a removed user's key and its AMBER object"

# --- organisations
run 2 K org remove acme2
expect_err "no organisation"
K org add acme2 >/dev/null
K user add eve --org acme2
K grant intel --org acme2
run 1 K org remove acme2
expect_err "has 1 user(s)"
expect_err "--force"
run 0 K user list
expect_out "eve"
run 0 K org remove acme2 --force
expect_out "removed organisation acme2: 1 user(s), 1 grant(s)"
run 0 K user list
grep -q "^eve " "$SCRATCH/out" && fail "eve survived her organisation's removal"
run 0 K org list
grep -q "^acme2 " "$SCRATCH/out" && fail "acme2 still listed"
run 0 K org remove acme
expect_out "removed organisation acme"
# keys: a new organisation gets none of a removed one's
K org add late >/dev/null
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM orgs WHERE name = 'late' AND key <= (SELECT value FROM counters WHERE name = 'key_orgs')")" = 0 ] ||
    fail "a new organisation reused a removed one's key"

# --- communities
K community add g2g
K community join g2g other
K community join g2g late
K grant intel --community g2g
run 0 K community leave g2g late
run 0 K community list --json
expect_out '"members":["other"]'
run 2 K community leave g2g late
expect_err "not a member"
run 0 K community remove g2g
expect_out "removed community g2g: 1 membership(s), 1 grant(s)"
run 0 K community list
grep -q "^g2g" "$SCRATCH/out" && fail "g2g still listed"

# --- collections
K collection add empty >/dev/null
run 0 K collection remove empty
expect_out "removed collection empty"
run 1 K collection remove intel
expect_err "holds 1 object version(s)"
run 0 K collection list
expect_out "intel"
run 0 K collection remove intel --force
expect_out "1 object version(s)"
run 0 K collection list
grep -q "intel" "$SCRATCH/out" && fail "intel still listed"
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM objects")" = 0 ] || fail "objects remain"
[ "$(sqlite3 "$H/kizuna.db-ids" "SELECT count(*) FROM ids")" = 0 ] || fail "id index rows remain"
run 2 K collection remove intel
expect_err "intel"

# every change is in the audit log under the operator's name
ME="operator:$(id -un)"
run 0 K audit --json
for a in user-disable user-enable user-role user-remove org-remove community-leave \
    community-drop collection-drop; do
    grep "\"action\":\"$a\"" "$SCRATCH/out" | grep -q "\"user\":\"$ME\"" || fail "no $a row by $ME"
done
run 0 K audit --verify

# --- apply
cat >node.json <<'EOF'
{
  "orgs": [
    {"name": "cert-in", "country": "IN", "kind": "cert"},
    {"name": "jp-csirt", "country": "JP", "sector": "national CSIRT"}
  ],
  "communities": [{"name": "in-jp", "members": ["cert-in", "jp-csirt"]}],
  "users": [
    {"name": "asha", "org": "cert-in", "role": "contributor"},
    {"name": "taro", "org": "jp-csirt", "role": "reader"}
  ],
  "collections": [{"alias": "shared", "title": "Shared", "description": "India-Japan"}],
  "grants": [
    {"collection": "shared", "community": "in-jp"},
    {"collection": "shared", "org": "cert-in", "read": true, "write": true}
  ]
}
EOF
snapshot() {
    sqlite3 "$H/kizuna.db" "SELECT name, country, sector, kind FROM orgs ORDER BY name;
        SELECT name, role, disabled FROM users ORDER BY name;
        SELECT alias, title, description FROM collections ORDER BY alias;
        SELECT * FROM grants ORDER BY 1, 2, 3; SELECT * FROM community_members ORDER BY 1, 2;
        SELECT name FROM communities ORDER BY name"
}
snapshot >before
run 0 K apply node.json --dry-run
expect_out "would create org cert-in"
expect_out "would create grant shared org=cert-in: read=true write=true"
expect_out "dry run, nothing done: 8 created"
snapshot >after
cmp -s before after || fail "apply --dry-run changed the store"
run 0 K apply node.json
expect_out "create user asha: org cert-in, role contributor"
expect_out "8 created, 0 changed, 0 unchanged"
run 0 K apply node.json
expect_out "unchanged: 8 entries already match"
run 0 K apply node.json --json
expect_out '{"dry_run":false,"created":0,"changed":0,"unchanged":8,"changes":[]}'
run 0 K grant shared --json
expect_out '"kind":"community","subject":"in-jp","read":true,"write":false'
# what differs is changed back to the file, and said
K user role taro org-admin >/dev/null
K grant shared --org cert-in --revoke
K community leave in-jp jp-csirt
run 0 K apply node.json
expect_out "change user taro: role org-admin -> reader"
expect_out "change grant shared org=cert-in: read=true write=true"
expect_out "change community in-jp: joined: jp-csirt"
expect_out "0 created, 3 changed, 5 unchanged"
# what the file does not list is left alone
run 0 K user list
expect_out "newcomer"
# a bad file changes nothing, and names the property at fault
snapshot >before
sed 's/"role": "reader"/"rol": "reader"/; s/"IN"/"JP"/' node.json >bad1.json
run 1 K apply bad1.json
expect_err "bad1.json: users[1].rol: unknown property"
sed 's/"jp-csirt"]/"nowhere"]/; s/"India-Japan"/"changed"/' node.json >bad2.json
run 2 K apply bad2.json
expect_err "communities[0].members[1]: no organisation \"nowhere\""
printf '{"orgs": [{"name": "new-org"}], "users": [{"name": "x", "org": "new-org", "role": "king"}]}' >bad3.json
run 1 K apply bad3.json
expect_err "users[0].role"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "p"}]}' >bad4.json
run 1 K apply bad4.json
expect_err "bad4.json: peers[0].url: missing"
printf '{"orgs": [{"name": "new-org"}], "grants": [{"collection": "shared", "user": "ghost"}]}' >bad5.json
run 2 K apply bad5.json
expect_err "grants[0].user"
printf '{"orgs": [{"name": "new-org"}], "users": [{"name": "asha", "org": "jp-csirt"}]}' >bad6.json
run 1 K apply bad6.json
expect_err "users[0].org"
snapshot >after
cmp -s before after || fail "a bad file changed the store"
run 0 K org list
grep -q "new-org" "$SCRATCH/out" && fail "new-org was made by a bad file"
run 0 K audit --json
expect_out '"action":"apply"'
finish
