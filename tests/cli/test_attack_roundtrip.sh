# The MITRE ATT&CK bundles (real data, ../shared/data/attack/, skipped when
# absent): they validate with no error, import whole, and export back with
# every object equal in content to the input, custom x-mitre-* types and
# properties included.
. "$(dirname "$0")/lib.sh"
ATTACK="${KZ_SHARED_DATA:-/nonexistent}/attack"
ls "$ATTACK"/*.json >/dev/null 2>&1 || { echo "skipped: no ATT&CK data in $ATTACK"; exit 0; }
new_node
for f in "$ATTACK"/*.json; do
    name=$(basename "$f" .json)
    run 0 "$KIZUNA" validate "$f"
    expect_out ", 0 invalid (0 errors"
    "$KIZUNA" --home "$SCRATCH/home" collection add "$name" >/dev/null
    run 0 "$KIZUNA" --home "$SCRATCH/home" import --collection "$name" "$f"
    expect_out "0 rejected"
    run 0 "$KIZUNA" --home "$SCRATCH/home" export --collection "$name" --all-versions --out out.json
    python3 - "$f" out.json <<'PY' || fail "$name: export differs from the input"
import json, sys
a = json.load(open(sys.argv[1]))["objects"]
b = json.load(open(sys.argv[2]))["objects"]
key = lambda o: (o["id"], o.get("modified", o.get("created", "")))
da, db = {key(o): o for o in a}, {key(o): o for o in b}
assert len(da) == len(a), "the input repeats a version"
missing = set(da) - set(db)
extra = set(db) - set(da)
assert not missing and not extra, (sorted(missing)[:3], sorted(extra)[:3])
diff = [k for k in da if da[k] != db[k]]
assert not diff, diff[:3]
print(len(a), "objects equal")
PY
done
finish
