#!/bin/sh
# `kizuna pattern` end to end: check, explain and match with their exit
# statuses (0/1, 2 for usage), messages on stderr, --help on each
# subcommand, and --json output. $KIZUNA is the binary; the data comes
# from $KZ_TEST_DATA/pattern.
set -u
K=${KIZUNA:?set KIZUNA to the kizuna binary}
D=${KZ_TEST_DATA:?set KZ_TEST_DATA}/pattern
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
passes=0

ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect STATUS CMD...: runs CMD, stdout to $T/out, stderr to $T/err
expect() {
    want=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "exit $got (wanted $want): $*"; cat "$T/err" >&2; fi
}

contains() { # contains FILE TEXT
    if grep -qF -- "$2" "$1"; then ok; else bad "$1 lacks: $2"; cat "$1" >&2; fi
}

# --- check
expect 0 "$K" pattern check "[ipv4-addr:value = '198.51.100.1']"
expect 0 "$K" pattern check "[file:size = 1]" "[domain-name:value = 'a.example'] WITHIN 5 SECONDS"
expect 1 "$K" pattern check "[file:size = 1]" "[ipv4-addr:value = '1.2.3.4' AND]"
contains "$T/err" "pattern 2: pattern:1:33: expected an object path, '(' or EXISTS, found ']'"
expect 1 "$K" pattern check "[file:hashes.'SHA-256' = 'f00']"
contains "$T/err" "'f00' is not a valid SHA-256 hash"
expect 1 "$K" pattern check "[x:y = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS"
expect 2 "$K" pattern check
expect 0 "$K" pattern check --help
contains "$T/out" "usage: kizuna pattern check"
grep -v '^#' "$D/spec_examples.txt" >"$T/spec"
expect 0 sh -c "\"$K\" pattern check - <\"$T/spec\""
printf '%s\n' "[file:size = 1]" "[file:size = ]" >"$T/two"
expect 1 sh -c "\"$K\" pattern check - <\"$T/two\""
contains "$T/err" "stdin line 2: pattern:1:14"

# --- explain
expect 0 "$K" pattern explain "([file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.1']) WITHIN 300 SECONDS"
contains "$T/out" "FOLLOWEDBY"
contains "$T/out" "QUALIFIER WITHIN 300 SECONDS"
contains "$T/out" "conditions: 2, complete"
contains "$T/out" "md5     candidate"
expect 0 "$K" pattern explain "[domain-name:value = 'a.example']"
contains "$T/out" "domain  exact"
expect 1 "$K" pattern explain "[file:size = ]"
contains "$T/err" "pattern:1:14"
expect 2 "$K" pattern explain
expect 0 "$K" pattern explain --help

# --- match
cat >"$T/bundle.json" <<'JSON'
{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": [
 {"type": "observed-data", "spec_version": "2.1", "id": "observed-data--00000000-0000-4000-8000-000000000001",
  "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z",
  "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1,
  "object_refs": ["ipv4-addr--00000000-0000-4000-8000-0000000000b1"]},
 {"type": "observed-data", "spec_version": "2.1", "id": "observed-data--00000000-0000-4000-8000-000000000002",
  "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z",
  "first_observed": "2024-01-01T00:00:10Z", "last_observed": "2024-01-01T00:00:10Z", "number_observed": 2,
  "object_refs": ["domain-name--00000000-0000-4000-8000-0000000000d1"]},
 {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--00000000-0000-4000-8000-0000000000b1", "value": "198.51.100.7"},
 {"type": "domain-name", "spec_version": "2.1", "id": "domain-name--00000000-0000-4000-8000-0000000000d1", "value": "evil.example"}
]}
JSON
expect 0 "$K" pattern match "[ipv4-addr:value ISSUBSET '198.51.100.0/24']" "$T/bundle.json"
contains "$T/out" "match: observed-data--00000000-0000-4000-8000-000000000001"
expect 1 "$K" pattern match "[ipv4-addr:value = '10.0.0.1']" "$T/bundle.json"
contains "$T/out" "no match"
expect 0 "$K" pattern match --json "[ipv4-addr:value = '198.51.100.7'] FOLLOWEDBY [domain-name:value = 'evil.example'] REPEATS 2 TIMES" "$T/bundle.json"
contains "$T/out" '{"matched": true, "observations": [{"id": "observed-data--00000000-0000-4000-8000-000000000001", "uses": 1}, {"id": "observed-data--00000000-0000-4000-8000-000000000002", "uses": 2}]}'
expect 1 "$K" pattern match --json "([ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'evil.example']) WITHIN 10 SECONDS" "$T/bundle.json"
contains "$T/out" '{"matched": false, "observations": []}'
expect 0 sh -c "\"$K\" pattern match \"[domain-name:value = 'evil.example']\" - <\"$T/bundle.json\""
expect 2 "$K" pattern match "[file:size = ]" "$T/bundle.json"
contains "$T/err" "pattern:1:14"
expect 2 "$K" pattern match "[file:size = 1]" "$T/missing.json"
echo '{"type": "observed-data", "first_observed": "nope"}' >"$T/broken.json"
expect 2 "$K" pattern match "[file:size = 1]" "$T/broken.json"
expect 2 "$K" pattern match "[file:size = 1]"
expect 2 "$K" pattern match --bogus "[file:size = 1]" "$T/bundle.json"
expect 0 "$K" pattern match --help
contains "$T/out" "usage: kizuna pattern match"

# --- the command itself
expect 2 "$K" pattern
expect 2 "$K" pattern frobnicate
expect 0 "$K" pattern --help

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
