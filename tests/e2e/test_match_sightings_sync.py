#!/usr/bin/env python3
"""Sightings back to the producer, end to end across two nodes.

A-node's CERT publishes indicators (AMBER, created by its organisation). B-node
pulls them, an operator on B runs `kizuna match --report sightings` over a log,
and B's push link carries the sightings to A's inbox: A then holds one sighting
per indicator hit, pointing at its own indicator, addressed to its own
organisation, with the count of hits -- and nothing for the indicator that did
not hit, nor for the one B may not see.

Run: python3 tests/e2e/test_match_sightings_sync.py  (KIZUNA=path/to/kizuna)
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402
import fedlib  # noqa: E402
from fedlib import A2, R2, RECIPIENTS_EXT, sdo  # noqa: E402


def indicator(value, marks, created_by):
    o = sdo(marks=marks, created_by=created_by)
    o["pattern"] = "[ipv4-addr:value = '%s']" % value
    return o


class TestSightingsReachTheProducer(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.A, cls.B = fedlib.make_nodes("a-node", "b-node")
        try:
            a, b = cls.A, cls.B
            a.collection("intel")
            a.collection("inbox")
            b.collection("intel")
            b.collection("sightings")
            _, tok = fedlib.admit(a, b, grants={"intel": ["user", "org"], "inbox": ["user"]})
            cls.hit2 = indicator("198.51.100.7", [A2], a.identity)
            cls.hit1 = indicator("203.0.113.9", [A2], a.identity)
            cls.miss = indicator("192.0.2.200", [A2], a.identity)
            cls.red = indicator("192.0.2.66", [R2], a.identity)  # never leaves A
            a.import_objects("intel", [cls.hit2, cls.hit1, cls.miss, cls.red])
            a.start()
            b.org_add("a-node-org", identity=a.identity)
            b.peer_add("a-node", a.url(), tok, pull=[("intel", "intel")],
                       push=[("sightings", "inbox")], org="a-node-org", key=a.node_key())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.A.stop() if cls.A.proc else 0
        for n in (cls.A, cls.B):
            n.cleanup()
        if rc != 0:
            raise AssertionError("A's kizuna serve exited %r after SIGTERM" % rc)

    def test_match_report_then_sync(self):
        a, b = self.A, self.B
        b.sync("a-node")
        self.assertEqual(b.count("intel"), 3, "B should hold A's three AMBER indicators")
        log = os.path.join(b.scratch, "conn.log")
        with open(log, "w") as f:
            f.write("2026-11-26T10:00:00Z accept 198.51.100.7:443 -> 10.0.0.5\n"
                    "2026-11-26T10:00:01Z accept 10.0.0.5 -> 203.0.113.9:53\n"
                    "2026-11-26T10:00:02Z accept 198.51.100.7:443 -> 10.0.0.6\n"
                    "2026-11-26T10:00:03Z deny 192.0.2.66 -> 10.0.0.7\n"
                    "2026-11-26T10:00:04Z accept 192.0.2.2000 -> 10.0.0.8\n")
        p = subprocess.run([kzlib.KIZUNA, "--home", b.home, "match", "--report", "sightings",
                            log], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, "match should report hits: %s" % p.stderr)
        b.sync("a-node")
        got = {}
        for o in a.export("inbox"):
            if o["type"] == "sighting":
                got[o["sighting_of_ref"]] = o
        self.assertEqual(set(got), {self.hit2["id"], self.hit1["id"]},
                         "A's inbox should hold one sighting per indicator hit on B")
        self.assertEqual(got[self.hit2["id"]]["count"], 2)
        self.assertEqual(got[self.hit1["id"]]["count"], 1)
        for s in got.values():
            rec = s["extensions"][RECIPIENTS_EXT]["recipients"]
            self.assertEqual(rec.get("organizations"), [a.identity],
                             "the sighting is addressed to the producer")
            self.assertEqual(s["object_marking_refs"], [A2],
                             "marked as the indicator was (AMBER)")
            self.assertTrue(s.get("where_sighted_refs"), "where_sighted_refs missing")
            self.assertLessEqual(s["first_seen"], s["last_seen"])


if __name__ == "__main__":
    kzlib.need_binary()
    unittest.main(verbosity=2)
