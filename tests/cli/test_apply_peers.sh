# The peers section of `kizuna apply`: a peer is created from the file
# with its token read from the file its token_file names (relative to the
# apply file's folder); applied again it is unchanged; a changed URL,
# changed links or a rewritten token file are changed to match (a kept
# link keeps its checkpoint) and the summary says "token replaced" without
# the token; a bad peer entry (bad URL, unknown collection in a link,
# unknown community, unreadable token file) changes nothing, nor does
# --dry-run; the token never shows in the output or the audit log.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null 2>&1 || { echo "skipped: no sqlite3"; exit 0; }
new_node
H="$SCRATCH/home"
K() { "$KIZUNA" --home "$H" "$@"; }

K org add partner >/dev/null
K community add asia >/dev/null
K collection add outbox >/dev/null
KEY=$(K node key)
mkdir conf secrets
printf 'first-secret-token\n' >secrets/peer-b.token
cat >conf/node.json <<EOF
{
  "peers": [
    {"name": "node-b", "url": "https://b.example/api/", "token_file": "../secrets/peer-b.token",
     "org": "partner", "key": "$KEY", "communities": ["asia"],
     "pull": ["intel=incoming", "intel=other"], "push": ["outbox=inbox"]}
  ]
}
EOF
snapshot() {
    sqlite3 "$H/kizuna.db" "SELECT name, url, hex(token), org, public_key, ca, auth_user FROM peers ORDER BY name;
        SELECT * FROM peer_links ORDER BY 1, 2, 3, 4; SELECT * FROM peer_communities ORDER BY 1, 2"
    K peer list --json
}

# --dry-run: would create, changes nothing
snapshot >before
run 0 K apply conf/node.json --dry-run
expect_out "would create peer node-b: url=https://b.example/api/ auth=bearer key=$KEY, 3 links"
snapshot >after
cmp -s before after || fail "apply --dry-run changed the store"

# created, from any working directory: token_file is relative to the file
cd /
run 0 K apply "$SCRATCH/conf/node.json"
cd "$SCRATCH" || exit 2
expect_out "create peer node-b"
expect_out "1 created, 0 changed, 0 unchanged"
run 0 K peer list --json
expect_out '"name":"node-b"'
expect_out '"url":"https://b.example/api/"'
expect_out 'incoming'
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM peer_links")" = 3 ] || fail "links not made"
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM peer_communities")" = 1 ] || fail "community not listed"
sqlite3 "$H/kizuna.db" "SELECT hex(token) FROM peers" | grep -qi "$(printf 'first-secret-token' | od -An -tx1 | tr -d ' \n')" &&
    fail "the token is stored in clear"

# again: unchanged
run 0 K apply conf/node.json
expect_out "unchanged: 1 entry already matches"

# the same peer as `peer add` made it is unchanged too
# (a peer left out of the file stays)
printf 'other-token\n' >other.token
K peer add node-c --url http://127.0.0.1:9/ --token-file other.token --user alice --pull intel=x >/dev/null

# a kept link keeps its checkpoint
sqlite3 "$H/kizuna.db" "UPDATE peer_links SET checkpoint = 777 WHERE remote = 'incoming'"

# url and links changed, token rewritten
printf 'second-secret-token\n' >secrets/peer-b.token
sed 's|https://b.example/api/|https://b2.example/api/|; s|"intel=other"|"intel=renamed"|' conf/node.json >conf/changed.json
run 0 K apply conf/changed.json --dry-run
expect_out "would change peer node-b: url https://b.example/api/ -> https://b2.example/api/, pull [intel=incoming intel=renamed], token replaced"
run 0 K apply conf/changed.json
expect_out "change peer node-b: url https://b.example/api/ -> https://b2.example/api/, pull [intel=incoming intel=renamed], token replaced"
expect_out "0 created, 1 changed, 0 unchanged"
grep -q "secret-token" "$SCRATCH/out" "$SCRATCH/err" && fail "the token was printed"
[ "$(sqlite3 "$H/kizuna.db" "SELECT checkpoint FROM peer_links WHERE remote = 'incoming'")" = 777 ] ||
    fail "a kept link lost its checkpoint"
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM peer_links WHERE remote = 'other'")" = 0 ] ||
    fail "a dropped link stayed"
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM peer_links WHERE remote = 'renamed'")" = 1 ] ||
    fail "a new link was not made"
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM peer_links WHERE remote = 'inbox'")" = 1 ] ||
    fail "the push link went"
run 0 K peer list --json
expect_out '"name":"node-c"'
run 0 K apply conf/changed.json
expect_out "unchanged: 1 entry already matches"

# the scheme: Basic as a user, then Bearer again; only the token
cat >conf/basic.json <<EOF
{"peers": [{"name": "node-b", "url": "https://b2.example/api/", "token_file": "../secrets/peer-b.token", "user": "kz"}]}
EOF
run 0 K apply conf/basic.json
expect_out "change peer node-b: auth bearer -> basic user=kz"
[ "$(sqlite3 "$H/kizuna.db" "SELECT count(*) FROM peer_links WHERE peer = (SELECT key FROM peers WHERE name = 'node-b')")" = 3 ] ||
    fail "links left out of the file were changed"
run 0 K apply conf/changed.json
expect_out "change peer node-b: auth basic user=kz -> bearer"

# ca set, then org and ca taken away with ""
cat >conf/ca.json <<EOF
{"peers": [{"name": "node-b", "url": "https://b2.example/api/", "token_file": "../secrets/peer-b.token", "ca": "/etc/kizuna/ca.pem"}]}
EOF
run 0 K apply conf/ca.json
expect_out 'change peer node-b: ca "" -> /etc/kizuna/ca.pem'
cat >conf/noorg.json <<EOF
{"peers": [{"name": "node-b", "url": "https://b2.example/api/", "token_file": "../secrets/peer-b.token", "ca": "", "org": ""}]}
EOF
run 0 K apply conf/noorg.json
expect_out 'change peer node-b: org removed, ca /etc/kizuna/ca.pem -> ""'
[ "$(sqlite3 "$H/kizuna.db" "SELECT org || ca FROM peers WHERE name = 'node-b'")" = 0 ] || fail "org and ca not taken away"
run 0 K apply conf/changed.json
expect_out "change peer node-b: org -> partner"

# JSON-escaped strings are the same names
printf '{"peers": [{"name": "node\\u002db", "url": "https:\\/\\/b2.example\\/api\\/", "token_file": "..\\/secrets\\/peer-b.token", "pull": ["intel\\u003dincoming", "intel=renamed"]}]}' >conf/escaped.json
run 0 K apply conf/escaped.json
expect_out "unchanged: 1 entry already matches"

# bad entries change nothing, and name the property at fault
snapshot >before
bad() { # FILE STATUS TEXT
    run "$2" K apply "$1"
    expect_err "$3"
}
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-b", "url": "ftp://b.example/", "token_file": "../secrets/peer-b.token"}]}' >conf/bad1.json
bad conf/bad1.json 2 "peers[0].url"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-b", "url": "https://x.example/", "token_file": "../secrets/peer-b.token", "pull": ["nosuch=incoming"]}]}' >conf/bad2.json
bad conf/bad2.json 2 "peers[0].pull[0]"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-b", "url": "https://x.example/", "token_file": "../secrets/peer-b.token", "communities": ["asia", "nowhere"]}]}' >conf/bad3.json
bad conf/bad3.json 2 "peers[0].communities[1]"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-new", "url": "https://x.example/", "token_file": "missing.token"}]}' >conf/bad4.json
bad conf/bad4.json 2 "peers[0].token_file: cannot read the token file"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-new", "url": "https://x.example/", "token_file": "-"}]}' >conf/bad5.json
bad conf/bad5.json 1 "peers[0].token_file"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-new", "url": "https://x.example/", "token_file": "t", "token": "inline"}]}' >conf/bad6.json
bad conf/bad6.json 1 "peers[0].token: unknown property"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-new", "url": "https://x.example/", "token_file": "t", "push": ["outbox"]}]}' >conf/bad7.json
bad conf/bad7.json 1 "peers[0].push: a link is \"LOCAL=REMOTE\""
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-new", "url": "https://x.example/", "token_file": "t", "key": "ed25519:nope"}]}' >conf/bad8.json
bad conf/bad8.json 1 "peers[0].key"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-b", "url": "https://b2.example/api/", "token_file": "../secrets/peer-b.token", "ca": "ca.pem"}]}' >conf/bad10.json
bad conf/bad10.json 1 "peers[0].ca: an absolute path"
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-b", "url": "https://b2.example/api/", "token_file": "../secrets/peer-b.token", "user": "a:b"}]}' >conf/bad11.json
bad conf/bad11.json 1 "peers[0].user: an HTTP Basic user name"
# a token file of two lines
printf 'a\nb\n' >conf/two.token
printf '{"orgs": [{"name": "new-org"}], "peers": [{"name": "node-b", "url": "https://b2.example/api/", "token_file": "two.token"}]}' >conf/bad9.json
bad conf/bad9.json 2 "peers[0].token_file"
snapshot >after
cmp -s before after || fail "a bad peer entry changed the store"
run 0 K org list
grep -q "new-org" "$SCRATCH/out" && fail "new-org was made by a bad file"

# every change audited, in the operator's name, never with the token
run 0 K audit --json
expect_out "create peer node-b"
expect_out "token replaced"
grep -q "secret-token" "$SCRATCH/out" && fail "the token reached the audit log"
finish
