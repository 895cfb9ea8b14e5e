# `kizuna store migrate --to sqlite:PATH`: a whole store copied, verified,
# and usable in place of the original (same objects, dates added, tokens,
# grants, audit chain); an interrupted copy resumed; a change made to the
# source meanwhile (a token revoked) carried over, never the stale value;
# refused over another node's store or over itself. The PostgreSQL
# direction is in test_store_pg.sh.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null 2>&1 || { echo "skipped: no sqlite3"; exit 77; }
new_node
H="$SCRATCH/home"
K() { "$KIZUNA" --home "$H" "$@"; }
K import --collection intel "$KZ_TEST_DATA/../../share/demo/demo-bundle.json" >/dev/null 2>&1 ||
    fail "import"
K collection add empty >/dev/null
K org add acme >/dev/null
K user add bob --org acme --role reader
BOB=$(K token create bob 2>/dev/null)
K grant intel --user bob --read
K export --collection intel --out "$SCRATCH/before.json" 2>/dev/null || fail "export before"

mkdir "$SCRATCH/new"
run 0 K store migrate --to "sqlite:$SCRATCH/new/kizuna.db"
expect_out "verified 2 collections, 24 object versions"
expect_err "verified every table: the same rows at both ends"
expect_err "verified intel: 24 versions, same hash"
[ -f "$SCRATCH/new/audit.db" ] || fail "no audit.db beside the copy"

# the copy in use: a home whose kizuna.conf points at it
cp -r "$H" "$SCRATCH/moved"
sed -i "s|^path = kizuna.db|path = $SCRATCH/new/kizuna.db|; s|^audit_path = audit.db|audit_path = $SCRATCH/new/audit.db|" \
    "$SCRATCH/moved/kizuna.conf"
M() { "$KIZUNA" --home "$SCRATCH/moved" "$@"; }
run 0 M audit --verify
expect_out "audit log intact"
M export --collection intel --out "$SCRATCH/after.json" 2>/dev/null || fail "export after"
# the same objects with the same dates added (a client's added_after cursor stays valid)
sed 's/"id":"bundle--[^"]*"//' "$SCRATCH/before.json" >"$SCRATCH/b1"
sed 's/"id":"bundle--[^"]*"//' "$SCRATCH/after.json" >"$SCRATCH/b2"
cmp -s "$SCRATCH/b1" "$SCRATCH/b2" || fail "the copy exports other objects"
[ "$(sqlite3 "$H/kizuna.db" "SELECT group_concat(added) FROM objects ORDER BY added")" = \
  "$(sqlite3 "$SCRATCH/new/kizuna.db" "SELECT group_concat(added) FROM objects ORDER BY added")" ] ||
    fail "dates added differ"
run 0 M user list
expect_out "bob"
run 0 M token list
expect_out "bob"

# an interrupted copy: the last objects and the grants never arrived; and
# meanwhile the source revoked bob's token. Run again: resumed, complete,
# and the token is revoked in the copy too.
sqlite3 "$SCRATCH/new/kizuna.db" "DELETE FROM objects WHERE added >
    (SELECT added FROM objects ORDER BY added LIMIT 1 OFFSET 10); DELETE FROM grants;"
K token revoke "$(echo "$BOB" | sed 's/^kz_\([0-9a-f]*\)_.*/\1/')" >/dev/null
run 0 K store migrate --to "sqlite:$SCRATCH/new/kizuna.db"
expect_out "(resumed)"
expect_out "verified 2 collections, 24 object versions"
expect_err "(resumed)"
[ "$(sqlite3 "$SCRATCH/new/kizuna.db" "SELECT revoked > 0 FROM tokens t JOIN users u ON u.key = t.user WHERE u.name = 'bob'")" = 1 ] ||
    fail "the revocation did not reach the copy"
[ "$(sqlite3 "$SCRATCH/new/kizuna.db" "SELECT count(*) FROM grants")" = 1 ] || fail "grants not resumed"
run 0 M audit --verify

# refused: another node's store, the node's own store, a bad target
"$KIZUNA" --home "$SCRATCH/other" init >/dev/null 2>&1 || fail "init other"
run 2 K store migrate --to "sqlite:$SCRATCH/other/kizuna.db"
expect_err "already holds a store"
mkdir "$SCRATCH/x"
"$KIZUNA" --home "$SCRATCH/other" store migrate --to "sqlite:$SCRATCH/x/kizuna.db" >/dev/null 2>&1 ||
    fail "migrate other"
run 2 K store migrate --to "sqlite:$SCRATCH/x/kizuna.db"
expect_err "holds a copy of another store"
run 2 K store migrate --to "sqlite:$H/kizuna.db"
expect_err "names the node's own store"
run 2 K store migrate --to "sqlite:"
expect_err "names the new database file"
run 2 K store migrate --to "sqlite:$SCRATCH/new/"
expect_err "names the new database file"
finish
