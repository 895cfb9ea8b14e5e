# The audit log: CLI and TAXII reads and writes are recorded with user,
# action, collection, count and markings; --verify detects a removed,
# altered, inserted or truncated row.
. "$(dirname "$0")/lib.sh"
DEMO="$KZ_TEST_DATA/../../share/demo/demo-bundle.json"
command -v sqlite3 >/dev/null 2>&1 || { echo "skipped: no sqlite3"; exit 0; }
new_node
H="$SCRATCH/home"
"$KIZUNA" --home "$H" grant intel --org local --read --write
run 0 "$KIZUNA" --home "$H" import --collection intel "$DEMO"
run 0 "$KIZUNA" --home "$H" export --collection intel --out out.json
run 0 "$KIZUNA" --home "$H" export --collection intel --as admin --out out2.json

# a TAXII read and write by admin
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KIZUNA" --home "$H" serve --listen "127.0.0.1:$PORT" --log serve.log 2>serve.err &
SPID=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/taxii2/" || [ $i -gt 50 ]; do sleep 0.1; i=$((i+1)); done
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$PORT/default/collections/intel/objects/?limit=3" || fail "GET"
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/taxii+json;version=2.1" --data-binary @"$DEMO" \
    "http://127.0.0.1:$PORT/default/collections/intel/objects/" || fail "POST"
kill -TERM "$SPID"
wait "$SPID" || fail "serve did not exit 0 on SIGTERM"

run 0 "$KIZUNA" --home "$H" audit
expect_out "operator"
expect_out " import "
expect_out " export "
expect_out "/default/collections/intel/objects/?limit=3"
run 0 "$KIZUNA" --home "$H" audit --user admin --json
python3 - out <<'PY' || fail "audit --json"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
acts = [r["action"] for r in rows]
assert all(r["user"] == "admin" for r in rows), rows
assert "read" in acts and "write" in acts and "export" in acts, acts
read = [r for r in rows if r["action"] == "read"][0]
assert read["count"] == 3 and read["markings"], read
assert read["remote"] == "127.0.0.1", read
PY
run 0 "$KIZUNA" --home "$H" audit --verify
expect_out "audit log intact"
ROWS=$(sqlite3 "$H/audit.db" "SELECT count(*) FROM audit")
[ "$ROWS" -ge 5 ] || fail "only $ROWS audit rows"

tamper() { # NAME SQL EXPECTED-MESSAGE
    cp "$H/audit.db" t.db
    rm -f t.db-wal t.db-shm
    sqlite3 t.db "$2"
    cp -r "$H" "t-$1"
    cp t.db "t-$1/audit.db"
    rm -f "t-$1/audit.db-wal" "t-$1/audit.db-shm"
    run 1 "$KIZUNA" --home "t-$1" audit --verify
    expect_err "$3"
}
sqlite3 "$H/audit.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
tamper altered "UPDATE audit SET count = count + 1 WHERE seq = 2" "audit row 2 was altered"
tamper removed "DELETE FROM audit WHERE seq = 2" "audit row 2 is missing"
tamper user "UPDATE audit SET user = 'someone' WHERE seq = 1" "audit row 1 was altered"
tamper truncated "DELETE FROM audit WHERE seq = $ROWS" "rows were removed from the end"
tamper truncated2 "DELETE FROM audit WHERE seq = $ROWS; UPDATE audit_head SET seq = seq - 1" "head was altered"
tamper appended "INSERT INTO audit SELECT $((ROWS + 1)), ts, user, remote, action, collection, count, markings, detail, prev, hash FROM audit WHERE seq = 2" "does not follow row $ROWS"
finish
