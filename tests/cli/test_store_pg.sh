# A node on PostgreSQL, made and opened the ways an operator will: `kizuna
# init --store postgresql --dsn DSN`, the DSN in KIZUNA_DSN instead of the
# file, and their mistakes: a wrong password (a clear error, no home left
# behind, the password never printed), a second init over a database that
# already holds a node, a DSN in both places that differ, options that do
# not go together. Starts a throw-away PostgreSQL that wants a password
# (tests/pglib.sh); skipped (77) without one unless KZ_TEST_PG_REQUIRED.
. "$(dirname "$0")/lib.sh"
SRC=${KZ_SOURCE_DIR:-$(dirname "$0")/../..}
# not under $SCRATCH: as root the cluster runs as nobody, who cannot enter it
PG=$(mktemp -d /tmp/kz-pg-XXXXXX)
PW='s3cret-pw'
DSN=$(KZ_PG_PASSWORD=$PW sh "$SRC/tests/pglib.sh" start "$PG")
rc=$?
if [ "$rc" -eq 77 ]; then
    rm -rf "$PG"
    [ -n "${KZ_TEST_PG_REQUIRED:-}" ] && { echo "FAIL: no PostgreSQL" >&2; exit 1; }
    echo "skipped: no PostgreSQL server installed"
    exit 77
fi
[ "$rc" -eq 0 ] || {
    sh "$SRC/tests/pglib.sh" stop "$PG"
    echo "FAIL: pglib could not start PostgreSQL" >&2
    exit 1
}
trap 'sh "$SRC/tests/pglib.sh" stop "$PG"; rm -rf "$SCRATCH"' EXIT
unset KIZUNA_DSN
K() { "$KIZUNA" --home "$SCRATCH/$1" "$@"; }

# --- a wrong password: a clear error at once, nothing made, nothing leaked
run 2 "$KIZUNA" --home "$SCRATCH/bad" init --store postgresql --dsn "$DSN password=wrong-pw"
expect_err "password authentication failed"
grep -q "wrong-pw" "$SCRATCH/err" && fail "the password was printed"
[ -e "$SCRATCH/bad" ] && fail "a failed init left its home behind"

# --- init with the DSN in kizuna.conf
run 0 "$KIZUNA" --home "$SCRATCH/a" init --store postgresql --dsn "$DSN password=$PW"
grep -q "^backend = postgresql$" "$SCRATCH/a/kizuna.conf" || fail "backend not written"
grep -qF "dsn = $DSN password=$PW" "$SCRATCH/a/kizuna.conf" || fail "dsn not written"
[ -e "$SCRATCH/a/kizuna.db" ] && fail "a SQLite file was made for a PostgreSQL node"
run 0 "$KIZUNA" --home "$SCRATCH/a" user list
expect_out "admin"
run 0 "$KIZUNA" --home "$SCRATCH/a" org list
expect_out "local"

run 0 "$KIZUNA" --home "$SCRATCH/a" store migrate
expect_out "store: postgresql schema at version"

# a second server of the same node copies the home; init over the same
# database is refused and leaves nothing
run 2 "$KIZUNA" --home "$SCRATCH/b" init --store postgresql --dsn "$DSN password=$PW"
expect_err "already holds a kizuna store"
[ -e "$SCRATCH/b" ] && fail "a refused init left its home behind"
cp -r "$SCRATCH/a" "$SCRATCH/a2"
run 0 "$KIZUNA" --home "$SCRATCH/a2" user list
expect_out "admin"

# --- the DSN in KIZUNA_DSN only: not in the file
PGPASSWORD=$PW psql -q "$DSN" -c "CREATE DATABASE second" || fail "createdb"
DSN2="$(echo "$DSN" | sed 's/dbname=postgres/dbname=second/') password=$PW"
run 0 env KIZUNA_DSN="$DSN2" "$KIZUNA" --home "$SCRATCH/c" init --store postgresql
grep -q "^dsn" "$SCRATCH/c/kizuna.conf" && fail "dsn written though it came from KIZUNA_DSN"
grep -q "$PW" "$SCRATCH/c/kizuna.conf" && fail "the password reached kizuna.conf"
run 0 env KIZUNA_DSN="$DSN2" "$KIZUNA" --home "$SCRATCH/c" user list
expect_out "admin"
run 2 "$KIZUNA" --home "$SCRATCH/c" user list
expect_err "needs store.dsn or KIZUNA_DSN"
# both set and different: refused, not one quietly chosen
run 2 env KIZUNA_DSN="$DSN2" "$KIZUNA" --home "$SCRATCH/a" user list
expect_err "store.dsn and KIZUNA_DSN are both set and differ"
# both set and equal: fine
run 0 env KIZUNA_DSN="$DSN password=$PW" "$KIZUNA" --home "$SCRATCH/a" user list

# --- a SQLite node moved into PostgreSQL and back (store migrate --to)
run 0 "$KIZUNA" --home "$SCRATCH/lite" init
L() { "$KIZUNA" --home "$SCRATCH/lite" "$@"; }
L collection add intel >/dev/null
L import --collection intel "$SRC/share/demo/demo-bundle.json" >/dev/null 2>&1 || fail "import"
L org add acme >/dev/null
L user add bob --org acme --role reader
L token create bob >/dev/null
L grant intel --user bob --read
L export --collection intel --out "$SCRATCH/lite.json" 2>/dev/null || fail "export lite"
PGPASSWORD=$PW psql -q "$DSN" -c "CREATE DATABASE moved" || fail "createdb moved"
DSN3="$(echo "$DSN" | sed 's/dbname=postgres/dbname=moved/') password=$PW"
run 0 L store migrate --to "$DSN3"
expect_out "verified 1 collections, 24 object versions"
expect_err "verified every table: the same rows at both ends"
grep -q "$PW" "$SCRATCH/out" "$SCRATCH/err" && fail "the password was printed"
# interrupted: the newest objects never arrived; a second run resumes
PGPASSWORD=$PW psql -q "$DSN3" -c "DELETE FROM objects WHERE added > (SELECT added FROM objects ORDER BY added LIMIT 1 OFFSET 5) AND collection = (SELECT key FROM collections WHERE alias = 'intel')" ||
    fail "psql delete"
run 0 L store migrate --to "$DSN3"
expect_out "(resumed)"
expect_err "objects of intel"
# the home switched to it: same objects, accounts, audit chain
cp -r "$SCRATCH/lite" "$SCRATCH/onpg"
sed -i 's/^backend = sqlite$/backend = postgresql/; /^path = /d; /^audit_path = /d' \
    "$SCRATCH/onpg/kizuna.conf"
P() { env KIZUNA_DSN="$DSN3" "$KIZUNA" --home "$SCRATCH/onpg" "$@"; }
run 0 P audit --verify
expect_out "audit log intact"
P export --collection intel --out "$SCRATCH/pg.json" 2>/dev/null || fail "export pg"
sed -i 's/"id":"bundle--[^"]*"//' "$SCRATCH/lite.json" "$SCRATCH/pg.json"
cmp -s "$SCRATCH/lite.json" "$SCRATCH/pg.json" || fail "PostgreSQL exports other objects"
run 0 P user list
expect_out "bob"
# new keys and dates continue past the copied ones
run 0 P collection add more
run 0 P import --collection more "$KZ_TEST_DATA/stix/valid/indicator-valid-until.json"
[ "$(PGPASSWORD=$PW psql -Atq "$DSN3" -c "SELECT (SELECT max(added) FROM objects o JOIN collections c ON c.key = o.collection WHERE c.alias = 'more') > (SELECT max(added) FROM objects o JOIN collections c ON c.key = o.collection WHERE c.alias = 'intel')")" = t ] ||
    fail "a new object is dated before the copied ones"
# and back into SQLite
mkdir "$SCRATCH/back"
run 0 P store migrate --to "sqlite:$SCRATCH/back/kizuna.db"
expect_out "verified 2 collections, 25 object versions"

# --- options that do not go together, and configuration mistakes
run 2 "$KIZUNA" --home "$SCRATCH/d" init --dsn "$DSN"
expect_err "--dsn is for --store postgresql"
run 2 "$KIZUNA" --home "$SCRATCH/d" init --store postgres --dsn "$DSN"
expect_err '"postgres" is not sqlite or postgresql'
run 2 "$KIZUNA" --home "$SCRATCH/d" init --store postgresql
expect_err "needs --dsn DSN"
run 2 "$KIZUNA" --home "$SCRATCH/d" init --store postgresql --dsn "host=x ;dbname=y"
expect_err "do not survive kizuna.conf"
[ -e "$SCRATCH/d" ] && fail "a refused init left its home behind"
run 0 "$KIZUNA" --home "$SCRATCH/s" init
printf '[store]\ndsn = host=x\n' >>"$SCRATCH/s/kizuna.conf"
run 2 "$KIZUNA" --home "$SCRATCH/s" user list
expect_err "store.dsn: only for backend = postgresql"
sed -i 's/^backend = sqlite$/backend = oracle/' "$SCRATCH/s/kizuna.conf"
run 2 "$KIZUNA" --home "$SCRATCH/s" user list
expect_err '"oracle" is not sqlite or postgresql'
finish
