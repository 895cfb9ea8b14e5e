"""PostgreSQL failing over to its streaming replica under two servers behind
nginx, as docs/DEPLOYMENT.md (section 5) sets it up: the servers' DSN names
both hosts with target_session_attrs=read-write, the primary replicates
synchronously, and it crashes under load. Once the replica is promoted the
servers find it by themselves: while no primary takes writes every answer
is a 503 (never a 500, nor a 404 for what exists), writes succeed again
afterwards, and every write acknowledged before the crash is there.
Skipped (77) without PostgreSQL and nginx unless KZ_TEST_PG_REQUIRED.
"""

import atexit
import json
import os
import subprocess
import tempfile
import unittest

os.environ["KZ_E2E_SCALEOUT"] = "1"

import kzlib  # noqa: E402
import scaleout  # noqa: E402
from kzlib import object_path  # noqa: E402


def pglib(*args):
    p = subprocess.run(["sh", scaleout.PGLIB] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise AssertionError("pglib.sh %s: exit %d: %s" % (
            " ".join(args), p.returncode, p.stderr.decode(errors="replace")[-2000:]))
    return p.stdout.decode().strip()


def psql(dsn, sql):
    return subprocess.run(["psql", "-X", "-A", "-t", "-q", dsn, "-c", sql], check=True,
                          stdout=subprocess.PIPE).stdout.decode().strip()


class Failover(kzlib.NodeTestCase):
    node_name = "failover"

    @classmethod
    def setUpClass(cls):
        if not scaleout.enabled():
            raise unittest.SkipTest("not scaled out")
        primary = scaleout.cluster_dsn()
        cls.primary_dir = scaleout._cluster["dir"]
        cls.replica_dir = tempfile.mkdtemp(prefix="kz-pgr-", dir="/tmp")
        atexit.register(lambda: subprocess.run(["sh", scaleout.PGLIB, "stop", cls.replica_dir],
                                               stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        pglib("replica", cls.replica_dir, cls.primary_dir)
        # a commit returns once the replica has it: what was acknowledged
        # survives the primary
        psql(primary, "ALTER SYSTEM SET synchronous_standby_names = '*'")
        psql(primary, "SELECT pg_reload_conf()")
        kzlib.wait_until(lambda: psql(primary, "SELECT sync_state FROM pg_stat_replication")
                         == "sync", 30, "the replica to replicate synchronously")
        # the node's DSN names both hosts, as section 5 of DEPLOYMENT.md says
        one_host = scaleout.new_database

        def both_hosts(tablespace=None):
            dsn = one_host(tablespace)
            return (dsn.replace("host=%s" % cls.primary_dir,
                                "host=%s,%s" % (cls.primary_dir, cls.replica_dir))
                    + " target_session_attrs=read-write")

        scaleout.new_database = both_hosts
        try:
            super().setUpClass()
        finally:
            scaleout.new_database = one_host

    @classmethod
    def setup_node(cls, node):
        node.collection_add("intel")
        node.org_add("partner")
        node.user_add("writer", "partner", role="contributor")
        node.grant("intel", user="writer", read=True, write=True)
        cls.writer = node.token_create("writer")

    def test_primary_crashes_and_the_promoted_replica_takes_over(self):
        load = scaleout.WriteLoad(self.node, self.writer, "intel", (30000, 40000)).start()
        acked, statuses = load.acked, load.statuses
        try:
            kzlib.wait_until(lambda: len(acked) >= 5, 30, "writes before the crash")
            pglib("halt", self.primary_dir)
            n = len(acked)
            pglib("promote", self.replica_dir)
            kzlib.wait_until(lambda: len(acked) >= n + 5, 60, "writes after the failover")
        finally:
            load.stop()
        bad = [s for s in statuses if s[0] not in (200, 202, 503)]
        self.assertEqual(bad, [], "answers other than 200, 202 and 503 while PostgreSQL "
                                  "failed over")
        self.assertTrue(any(s[0] == 503 for s in statuses),
                        "no request saw the database away: the failover was not exercised")
        # the access log says why each 503 happened (the client is told
        # only to try again)
        busy = []
        for home in (self.node.home, self.node.front.home_b):
            with open(os.path.join(home, "kizuna.log")) as f:
                busy += [json.loads(line) for line in f if '"status":503' in line]
        self.assertTrue(busy, "no 503 in the servers' access logs")
        for entry in busy:
            self.assertTrue(entry.get("error"), "a 503 without its cause: %r" % entry)
        got = set()
        for oid in acked:
            r = self.node.admin().get(object_path("intel", oid))
            if r.status == 200:
                got.add(oid)
        self.assertEqual(set(acked) - got, set(), "acknowledged writes missing after failover")


if __name__ == "__main__":
    kzlib.main()
