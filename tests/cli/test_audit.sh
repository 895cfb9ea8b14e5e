# The audit log: CLI and TAXII reads and writes are recorded with user,
# action, collection, count and markings; --verify detects a removed,
# altered, inserted or truncated row, and (the main store witnessing the
# head) a removed, emptied or rolled-back audit.db; account changes name
# the real actor; an answered request keeps its row through kill -9.
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
# the log opens only its own concern of audit.db: no id index beside it
[ ! -e "$H/audit.db-ids" ] || fail "audit.db was opened as a whole store (audit.db-ids)"
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

# the main store keeps the head it saw: audit.db removed, truncated,
# emptied or put back from an older copy no longer verifies
cp "$H/audit.db" old.db
run 0 "$KIZUNA" --home "$H" org add carol-org
run 0 "$KIZUNA" --home "$H" audit --verify
replaced() { # NAME COMMAND
    cp -r "$H" "w-$1"
    rm -f "w-$1/audit.db-wal" "w-$1/audit.db-shm"
    (cd "w-$1" && sh -c "$2") || fail "$1: $2"
    run 1 "$KIZUNA" --home "w-$1" audit --verify
    expect_err "audit.db was removed, emptied, truncated or rolled back"
}
replaced removed 'rm -f audit.db audit.db-ids'
replaced truncated ': > audit.db'
replaced emptied 'sqlite3 audit.db "DELETE FROM audit; DELETE FROM audit_head"'
replaced rolledback 'cp ../old.db audit.db'

# account and access changes name who made them: the OS user on the
# command line, the authenticated user on the admin API
ME="operator:$(id -un)"
run 0 "$KIZUNA" --home "$H" user add dave --org local
DAVE=$("$KIZUNA" --home "$H" token create dave) || fail "token create"
run 0 "$KIZUNA" --home "$H" token revoke "$DAVE"
run 0 "$KIZUNA" --home "$H" grant intel --user dave --read
run 0 "$KIZUNA" --home "$H" collection add more
run 0 "$KIZUNA" --home "$H" peer add p-node --url http://127.0.0.1:9/default/ --token kz_x
run 0 "$KIZUNA" --home "$H" peer remove p-node
ID=$(python3 -c 'import json,sys; print([o["id"] for o in json.load(open(sys.argv[1]))["objects"] if o["type"] == "indicator"][0])' "$DEMO")
run 0 "$KIZUNA" --home "$H" show "$ID"

# crash: a read and a write answered just before kill -9 keep their rows
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KIZUNA" --home "$H" serve --listen "127.0.0.1:$PORT" --log serve.log 2>serve.err &
SPID=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/taxii2/" || [ $i -gt 50 ]; do sleep 0.1; i=$((i+1)); done
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
    --data '{"name": "erin", "role": "reader"}' "http://127.0.0.1:$PORT/kizuna/admin/users/" >code
grep -q 201 code || fail "admin user add: $(cat code)"
BEFORE=$(sqlite3 "$H/audit.db" "SELECT count(*) FROM audit")
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/taxii+json;version=2.1" --data-binary @"$DEMO" \
    "http://127.0.0.1:$PORT/default/collections/intel/objects/" || fail "POST"
# (the read last: its row is most likely still only in the journal)
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$PORT/default/collections/intel/objects/?limit=2" || fail "GET"
kill -KILL "$SPID"
wait "$SPID"
# (a read may still be in the server's journal: `kizuna audit` brings it in)
run 0 "$KIZUNA" --home "$H" audit --json
AFTER=$(wc -l < out)
[ "$AFTER" -eq $((BEFORE + 2)) ] || fail "kill -9 lost audit rows: $BEFORE before, $AFTER after"

python3 - out "$ME" <<'PY' || fail "actors"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
me = sys.argv[2]
by = {}
for r in rows:
    by.setdefault(r["action"], []).append(r)
for act in ("org-add", "user-add", "token-create", "token-revoke", "grant", "collection-add",
            "peer-add", "peer-remove", "import"):
    assert act in by, (act, sorted(by))
    assert any(r["user"] == me for r in by[act]), (act, by[act])
assert all(r["user"] != "operator" for r in rows), [r for r in rows if r["user"] == "operator"]
assert any(r["user"] == "admin" and "user=erin" in r["detail"] for r in by["user-add"]), by["user-add"]
show = [r for r in by["read"] if r["user"] == me and r["remote"] == "local"]
assert show and show[0]["count"] >= 1 and show[0]["collection"], by["read"]
grant = [r for r in by["grant"] if "dave" in r["detail"]][0]
assert grant["collection"], grant
assert rows[-2]["action"] == "write" and rows[-2]["user"] == "admin", rows[-2]
assert rows[-1]["action"] == "read" and rows[-1]["detail"].endswith("?limit=2"), rows[-1]
PY
run 0 "$KIZUNA" --home "$H" audit --verify

# [audit] syslog: on or off, nothing else
cp -r "$H" s-home
printf '\n[audit]\nsyslog = on\n' >> s-home/kizuna.conf
run 0 "$KIZUNA" --home s-home org add syslog-org
run 0 "$KIZUNA" --home s-home audit --verify
printf 'syslog = maybe\n' >> s-home/kizuna.conf
run 2 "$KIZUNA" --home s-home org list
expect_err "audit.syslog: must be on or off"
finish
