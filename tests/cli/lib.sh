# Helpers for the CLI tests (POSIX sh). Each test script sources this file,
# works in its own scratch folder and exits non-zero on the first failure.
# KIZUNA (the binary) and KZ_TEST_DATA come from CTest's environment.
set -u
: "${KIZUNA:?set KIZUNA to the kizuna binary}"
: "${KZ_TEST_DATA:?set KZ_TEST_DATA to tests/data}"
SCRATCH=$(mktemp -d /tmp/kz-cli-XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
cd "$SCRATCH" || exit 2
FAILS=0

fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}

# run EXPECTED_STATUS CMD...: runs CMD with stdout/stderr captured in
# $SCRATCH/out and $SCRATCH/err, and checks its exit status.
run() {
    want=$1
    shift
    "$@" >"$SCRATCH/out" 2>"$SCRATCH/err"
    got=$?
    if [ "$got" != "$want" ]; then
        fail "exit $got (wanted $want): $*"
        sed 's/^/  stderr: /' "$SCRATCH/err" | head -20 >&2
        sed 's/^/  stdout: /' "$SCRATCH/out" | head -5 >&2
    fi
}

# expect_err TEXT / expect_out TEXT: the last run's stderr/stdout holds TEXT.
expect_err() {
    grep -qF -- "$1" "$SCRATCH/err" || {
        fail "stderr lacks \"$1\""
        sed 's/^/  stderr: /' "$SCRATCH/err" | head -10 >&2
    }
}
expect_out() {
    grep -qF -- "$1" "$SCRATCH/out" || {
        fail "stdout lacks \"$1\""
        sed 's/^/  stdout: /' "$SCRATCH/out" | head -10 >&2
    }
}

# a fresh node in $SCRATCH/home with a collection "intel"; sets TOKEN.
new_node() {
    rm -rf "$SCRATCH/home"
    TOKEN=$("$KIZUNA" --home "$SCRATCH/home" init 2>/dev/null) || fail "init failed"
    "$KIZUNA" --home "$SCRATCH/home" collection add intel >/dev/null || fail "collection add"
}

finish() {
    if [ "$FAILS" -ne 0 ]; then
        echo "$FAILS check(s) failed" >&2
        exit 1
    fi
    echo "ok"
    exit 0
}
