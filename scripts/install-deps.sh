#!/bin/sh
# Installs every package kizuna needs to build, test and benchmark, from
# Debian 12's archive (postgresql: the PostgreSQL store backend's tests
# start a throw-away server, tests/pglib.sh; nginx: the scale-out tests put it in front of two
# servers, tests/e2e/scaleout.py, terminating TLS or, with its stream module, passing it through). Does nothing when they are all there already.
#   scripts/install-deps.sh          build and test dependencies
#   scripts/install-deps.sh --bench  also the tools the benchmarks compare with
set -eu

BUILD="build-essential cmake pkg-config clang libclang-rt-14-dev llvm
libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
libsodium-dev libpcre2-dev libinih-dev libcmocka-dev libgnutls28-dev zlib1g-dev
libidn2-dev libpsl-dev libunistring-dev unicode-data bzip2
publicsuffix python3 curl ca-certificates sqlite3 clang-format postgresql
nginx-light libnginx-mod-stream"
BENCH="wrk ripgrep hyperfine time"

# /dev/null as a plain file (left by an earlier install) breaks every
# `>/dev/null` below: put it back first when we can, and again after installing.
if [ ! -c /dev/null ] && [ "$(id -u)" -eq 0 ]; then
    rm -f /dev/null
    mknod -m 666 /dev/null c 1 3
fi

want="$BUILD"
[ "${1:-}" = "--bench" ] && want="$BUILD $BENCH"

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: need root (or sudo) to install:$missing" >&2
        exit 2
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# A package install replaced /dev/null with a plain file on one of these
# machines once; every later `>/dev/null` then wrote into it. Put it back.
if [ ! -c /dev/null ]; then
    echo "install-deps: /dev/null is not a character device: recreating it" >&2
    $SUDO rm -f /dev/null
    $SUDO mknod -m 666 /dev/null c 1 3
fi
