#!/bin/sh
# A throw-away PostgreSQL cluster for the tests of the PostgreSQL store
# backend: `pglib.sh start DIR` makes a cluster in DIR/data with its socket
# in DIR (no TCP port, so parallel tests never clash), waits until it takes
# connections and prints a libpq DSN for it; `pglib.sh restart DIR` restarts
# it (fast shutdown: sessions are cut, as a failover would) and waits until it
# takes connections again; `pglib.sh stop DIR` stops it and removes DIR.
# For failover: `pglib.sh replica DIR PRIMARY_DIR` makes DIR a streaming
# replica of the cluster in PRIMARY_DIR (pg_basebackup, which the primary's
# trusted local replication allows) and prints its DSN; `pglib.sh halt DIR`
# stops a cluster at once, as a crash would, keeping its files; `pglib.sh
# promote DIR` makes a replica the primary and waits until it takes writes.
# initdb and postgres refuse to run as root, so as root the
# cluster runs as the unprivileged user `nobody`, which owns DIR. Exits 77
# (the tests' "skipped") when no PostgreSQL server is installed.
#   KZ_PG_BIN       the folder of initdb/pg_ctl (default: the newest under
#                   /usr/lib/postgresql/*/bin)
#   KZ_PG_PASSWORD  when set, connections need this password for the user
#                   kizuna (scram-sha-256) instead of being trusted; the DSN
#                   printed does not hold it
#   KZ_PG_FSYNC     on: the cluster flushes its commits to disk as a real
#                   server does (for benchmarks that claim durability);
#                   default off
set -eu

pg_bin() {
    if [ -n "${KZ_PG_BIN:-}" ]; then
        echo "$KZ_PG_BIN"
        return
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return
        fi
    done
}

# Runs a command as the cluster's owner: nobody when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
    echo "usage: pglib.sh start|restart|stop|halt|promote DIR, replica DIR PRIMARY_DIR" >&2
    exit 2
}
bin=$(pg_bin)
if [ -z "$bin" ]; then
    echo "pglib: no PostgreSQL server installed (initdb, pg_ctl)" >&2
    exit 77
fi

# Waits until the server in $dir takes connections (pg_ctl's own wait can
# give up early on a slow machine), or fails saying what did not happen.
wait_ready() {
    tries=0
    until "$bin/pg_isready" -q -h "$dir" -p 5432; do
        tries=$((tries + 1))
        if [ "$tries" -gt 300 ]; then
            echo "pglib: the server in $dir $1:" >&2
            cat "$dir/server.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

case "$cmd" in
start)
    # initdb runs shell commands that write to /dev/null as the cluster's
    # owner: a /dev/null that an install left as a root-owned plain file
    # makes it fail obscurely. Put it back when we can, else say so.
    if [ ! -c /dev/null ]; then
        if [ "$(id -u)" -eq 0 ]; then
            rm -f /dev/null
            mknod -m 666 /dev/null c 1 3
        else
            echo "pglib: /dev/null is not a character device" >&2
            exit 1
        fi
    fi
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$dir"
    chmod 700 "$dir"
    auth="--auth=trust"
    if [ -n "${KZ_PG_PASSWORD:-}" ]; then
        printf '%s\n' "$KZ_PG_PASSWORD" >"$dir/pwfile"
        [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$dir/pwfile"
        auth="--auth=scram-sha-256 --pwfile=$dir/pwfile"
    fi
    # shellcheck disable=SC2086 # $auth is two words on purpose
    as_owner "$bin/initdb" -D "$dir/data" -U kizuna $auth -E UTF8 --no-locale \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # fsync off: a test cluster is thrown away, and it makes CREATE DATABASE
    # and commits fast; the backend's durability does not depend on it.
    # A benchmark of durable writes asks for it on.
    fsync=off
    [ "${KZ_PG_FSYNC:-off}" = on ] && fsync=on
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -s \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=$fsync -p 5432" \
        start >/dev/null 2>&1 || true
    rm -f "$dir/pwfile"
    wait_ready "did not come up"
    echo "host=$dir port=5432 user=kizuna dbname=postgres"
    ;;
restart)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -s -m fast -w restart \
        >/dev/null 2>&1 || {
        cat "$dir/server.log" >&2
        exit 1
    }
    wait_ready "did not come back"
    ;;
replica)
    primary=${3:-}
    [ -d "$primary/data" ] || {
        echo "usage: pglib.sh replica DIR PRIMARY_DIR" >&2
        exit 2
    }
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$dir"
    chmod 700 "$dir"
    # -R: standby.signal and primary_conninfo, so it starts as a replica
    as_owner "$bin/pg_basebackup" -h "$primary" -p 5432 -U kizuna -D "$dir/data" -R \
        -X stream -c fast >"$dir/basebackup.log" 2>&1 || {
        cat "$dir/basebackup.log" >&2
        exit 1
    }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -s \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p 5432" \
        start >/dev/null 2>&1 || true
    wait_ready "did not come up as a replica"
    echo "host=$dir port=5432 user=kizuna dbname=postgres"
    ;;
halt)
    as_owner "$bin/pg_ctl" -D "$dir/data" -s -m immediate stop >/dev/null 2>&1 || {
        echo "pglib: the server in $dir did not stop" >&2
        exit 1
    }
    ;;
promote)
    as_owner "$bin/pg_ctl" -D "$dir/data" -s -w promote >/dev/null 2>&1 || {
        cat "$dir/server.log" >&2
        exit 1
    }
    tries=0
    until [ "$("$bin/psql" -X -A -t -h "$dir" -p 5432 -U kizuna -d postgres \
        -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 300 ]; then
            echo "pglib: the replica in $dir was not promoted" >&2
            exit 1
        fi
        sleep 0.1
    done
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -s -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pglib.sh start|restart|stop|halt|promote DIR, replica DIR PRIMARY_DIR" >&2
    exit 2
    ;;
esac
