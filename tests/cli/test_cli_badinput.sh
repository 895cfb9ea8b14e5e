# The bad input of issue 2: each gets a clear error or correct behaviour,
# never a crash, never a corrupt or half-written store.
. "$(dirname "$0")/lib.sh"
DEMO="$KZ_TEST_DATA/../../share/demo/demo-bundle.json"
new_node
H="$SCRATCH/home"

count() {
    "$KIZUNA" --home "$H" collection list --json | python3 -c \
        "import json,sys; print([json.loads(l)['objects'] for l in sys.stdin if json.loads(l)['alias'] == 'intel'][0])"
}
integrity() {
    if command -v sqlite3 >/dev/null 2>&1; then
        [ "$(sqlite3 "$H/kizuna.db" 'PRAGMA integrity_check')" = ok ] || fail "store corrupt"
    fi
}

"$KIZUNA" --home "$H" import --collection intel "$DEMO" >/dev/null || fail "seed import"
BASE=$(count)

# truncated JSON: an error with line and column, nothing stored
head -c 3000 "$DEMO" > truncated.json
run 1 "$KIZUNA" validate truncated.json
expect_err "truncated.json: objects["
expect_err "line "
run 1 "$KIZUNA" --home "$H" import --collection intel truncated.json
expect_err "nothing was stored"
[ "$(count)" = "$BASE" ] || fail "truncated import changed the store"

# not JSON at all, and JSON that is not a bundle
printf 'hello' > text.json
run 1 "$KIZUNA" validate text.json
expect_err "expected a JSON object"
printf '[1,2]' > array.json
run 1 "$KIZUNA" validate array.json
printf '{"type":"bundle","id":"bundle--nope","objects":[]}' > badid.json
run 1 "$KIZUNA" validate badid.json
expect_err "bundle--"
printf '{"type":"bundle","id":"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01","objects":{}}' > objdict.json
run 1 "$KIZUNA" validate objdict.json
expect_err "\"objects\" must be a list"

# JSON that is not STIX 2.1 at all (a MISP event) is an error that says so,
# never "0 added" with exit 0 (issue 12)
printf '{"Event": {"info": "x", "Attribute": [{"type": "ip-dst", "value": "198.51.100.7"}]}}' > misp.json
run 1 "$KIZUNA" validate misp.json
expect_err 'not a STIX 2.1 bundle or envelope: no "type" and no "objects" (top-level keys: Event)'
run 1 "$KIZUNA" --home "$H" import --collection intel misp.json
expect_err "not a STIX 2.1 bundle or envelope"
expect_err "nothing was stored"
# a STIX 2.0 bundle says it is STIX 2.0
printf '{"type":"bundle","id":"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01","spec_version":"2.0","objects":[]}' > stix20.json
run 1 "$KIZUNA" validate stix20.json
expect_err "STIX 2.0 content"
run 1 "$KIZUNA" --home "$H" import --collection intel stix20.json
expect_err "kizuna reads STIX 2.1"
[ "$(count)" = "$BASE" ] || fail "a non-STIX import changed the store"
# an empty TAXII envelope is still STIX (a server's last page)
printf '{"more": false}' > empty-envelope.json
run 0 "$KIZUNA" validate empty-envelope.json
# every error of an object in one run, not one per run
printf '{"type":"bundle","id":"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2020-01-01T00:00:00Z","modified":"2020-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '"'"'198.51.100.1'"'"']","pattern_type":"stix","valid_from":"soon"}]}' > twoerrors.json
run 1 "$KIZUNA" --home "$H" import --collection intel twoerrors.json
expect_err "created: must have at least millisecond precision"
expect_err "valid_from: must be an RFC 3339 timestamp"

# wrong types: the object is rejected with the property at fault
cat > wrongtypes.json <<'JSON'
{"type":"bundle","id":"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01","objects":[
{"type":"malware","spec_version":"2.1","id":"malware--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a02","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":42,"is_family":"yes"},
{"type":"malware","spec_version":"2.1","id":"malware--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a03","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"ok","is_family":true}
]}
JSON
run 1 "$KIZUNA" validate wrongtypes.json
expect_err "objects[0] malware--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a02: "
expect_err "is_family"
run 1 "$KIZUNA" --home "$H" import --collection intel wrongtypes.json
expect_out "1 added, 0 duplicate, 1 rejected"
run 1 "$KIZUNA" --home "$H" import --collection intel --strict wrongtypes.json
expect_err "--strict"
BASE=$(count)

# a 100 MB string: refused by the object size cap, quickly
python3 -c "
import sys
s = 'a' * (100 * 1024 * 1024)
sys.stdout.write('{\"type\":\"bundle\",\"id\":\"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01\",\"objects\":[{\"type\":\"x-big\",\"id\":\"x-big--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a04\",\"blob\":\"' + s + '\"}]}')
" > big.json
run 1 "$KIZUNA" validate big.json
expect_err "larger than the 32 MiB limit"
run 1 "$KIZUNA" --home "$H" import --collection intel big.json
[ "$(count)" = "$BASE" ] || fail "big import changed the store"
rm -f big.json

# 10,000-deep nesting
python3 -c "
import sys
sys.stdout.write('{\"type\":\"bundle\",\"id\":\"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01\",\"objects\":[' + '['*10000 + ']'*10000 + ']}')" > deep.json
run 1 "$KIZUNA" validate deep.json
expect_err "nested deeper than the limit"

# invalid UTF-8, in a value and in a key
printf '{"type":"bundle","id":"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01","objects":[{"type":"x-a","name":"\377"}]}' > badutf8.json
run 1 "$KIZUNA" validate badutf8.json
expect_err "invalid UTF-8"
printf '{"type":"bundle","id":"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01","objects":[{"type":"x-a","\300\257":1}]}' > badutf8key.json
run 1 "$KIZUNA" validate badutf8key.json
expect_err "invalid UTF-8"

# duplicate keys, plain and escaped
printf '{"type":"bundle","id":"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01","objects":[{"type":"x-a","id":"x-a--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a05","type":"x-b"}]}' > dupkeys.json
run 1 "$KIZUNA" validate dupkeys.json
expect_err "duplicate key"
printf '{"type":"bundle","id":"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01","objects":[{"\\u0074ype":"x-a","type":"x-a"}]}' > dupkeys2.json
run 1 "$KIZUNA" validate dupkeys2.json
expect_err "duplicate key"
run 1 "$KIZUNA" --home "$H" import --collection intel dupkeys.json
[ "$(count)" = "$BASE" ] || fail "duplicate-key import changed the store"

# a bundle of 1,000,000 objects: validated in one pass with flat memory
python3 -c "
import sys, uuid
w = sys.stdout.write
w('{\"type\":\"bundle\",\"id\":\"bundle--6b6b4f2c-5b7e-4d3c-9f11-2f0c2d1b1a01\",\"objects\":[')
for i in range(1000000):
    w(('' if i == 0 else ',') + '{\"type\":\"x-tiny\",\"spec_version\":\"2.1\",\"id\":\"x-tiny--%s\",\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":\"2020-01-01T00:00:00.000Z\",\"num\":%d}' % (uuid.UUID(int=i + 1, version=4), i))
w(']}')" > million.json
run 0 "$KIZUNA" validate --quiet million.json
if [ -z "${KZ_SANITIZED:-}" ]; then
    run 0 "$KIZUNA" --home "$H" import --collection intel --quiet million.json
    [ "$(count)" = "$((BASE + 1000000))" ] || fail "million import count"
    BASE=$(count)
fi
rm -f million.json

# an option's error is said once, and right (issue 12, item 9)
run 2 "$KIZUNA" --home "$H" import --bogus x
expect_err "unknown option --bogus"
[ "$(grep -c . "$SCRATCH/err")" = 2 ] || fail "the option error is said more than once"
grep -q "unrecognized" "$SCRATCH/err" && fail "getopt's own message leaked"
run 2 "$KIZUNA" --home "$H" import --collection
expect_err "--collection needs a value"

# an unwritable home
run 2 "$KIZUNA" --home /proc/kizuna-home init
expect_err "/proc/kizuna-home"
touch afile
run 2 "$KIZUNA" --home afile/home init
expect_err "cannot create the home folder"
[ ! -e afile/home ] || fail "half-made home left behind"

# a full disk (a file size limit), mid-import: an error, the store intact
python3 "$KZ_SOURCE_DIR/bench/gen_bundle.py" -n 20000 --compact -o gen.json
run 2 sh -c "ulimit -f 2000; exec \"$KIZUNA\" --home \"$H\" import --collection intel gen.json"
expect_err "the disk may be full"
integrity
[ "$(count)" = "$BASE" ] || fail "a failed import left objects behind"
run 0 "$KIZUNA" --home "$H" import --collection intel --quiet gen.json
BASE=$(count)

# two imports at once: both land, nothing lost or doubled
python3 "$KZ_SOURCE_DIR/bench/gen_bundle.py" -n 5000 --seed 7 --compact -o g1.json
python3 "$KZ_SOURCE_DIR/bench/gen_bundle.py" -n 5000 --seed 8 --compact -o g2.json
"$KIZUNA" --home "$H" import --collection intel g1.json >o1 2>e1 &
p1=$!
"$KIZUNA" --home "$H" import --collection intel g2.json >o2 2>e2 &
p2=$!
wait $p1 || fail "concurrent import 1: $(cat e1)"
wait $p2 || fail "concurrent import 2: $(cat e2)"
n1=$(sed -n 's/.*: \([0-9]*\) added.*/\1/p' o1)
n2=$(sed -n 's/.*: \([0-9]*\) added.*/\1/p' o2)
[ "$(count)" = "$((BASE + n1 + n2))" ] || fail "concurrent imports: $(count) != $BASE + $n1 + $n2"
integrity
finish
