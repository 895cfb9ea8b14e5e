#!/usr/bin/env python3
"""Federation: a partner notices a node whose audit log went backwards.

docs/FEDERATION.md, "Audit heads": each sync round fetches the partner's audit
log head, signed with the partner's node key, and keeps it; the next round asks
whether the partner's log still holds that row with that hash. A partner whose
log went backwards (an older copy of audit.db put back, or the file removed) is
reported by the round (exit 1, last error), by `peer list` and by
`kizuna audit --verify`; the head seen before is kept as evidence.

Run: python3 tests/e2e/test_federation_audit.py  (KIZUNA=path/to/kizuna)
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402
import fedlib  # noqa: E402


def setUpModule():
    kzlib.need_binary()


def audit_files(node):
    base = os.path.join(node.home, "audit.db")
    return [base + sfx for sfx in ("", "-wal", "-shm", "-ids", "-ids-wal", "-ids-shm")]


class TestPartnerAuditHead(unittest.TestCase):

    def setUp(self):
        self.A, self.B = fedlib.make_nodes("a-node", "b-node")
        a, b = self.A, self.B
        a.collection("intel")
        b.collection("intel")
        _, tok = fedlib.admit(a, b, grants={"intel": ["user"]})
        self.peer_token = tok
        a.import_objects("intel", [fedlib.sdo(marks=[fedlib.C2])])
        a.start()
        b.peer_add("a-node", a.url(), tok, pull=[("intel", "intel")], key=a.node_key())

    def tearDown(self):
        for n in (self.A, self.B):
            n.stop()
            n.cleanup()

    def head(self):
        return self.B.peer("a-node")["audit_head"]

    def test_rollback_is_reported(self):
        a, b = self.A, self.B
        b.sync("a-node")
        first = self.head()
        self.assertGreater(first["seq"], 0, first)
        self.assertEqual(first["problem"], "", first)
        # a copy of A's audit log as it is now, then more activity on A
        a.stop()
        saved = os.path.join(a.scratch, "audit-copy")
        os.makedirs(saved)
        for f in audit_files(a):
            if os.path.exists(f):
                shutil.copy(f, saved)
        a.start(port=a.port)
        a.import_objects("intel", [fedlib.sdo(marks=[fedlib.C2])])
        b.sync("a-node")
        grown = self.head()
        self.assertGreater(grown["seq"], first["seq"], grown)
        self.assertEqual(grown["problem"], "", grown)
        # A's operator puts the old copy back: A's log is shorter than B saw
        a.stop()
        for f in audit_files(a):
            if os.path.exists(f):
                os.remove(f)
            kept = os.path.join(saved, os.path.basename(f))
            if os.path.exists(kept):
                shutil.copy(kept, f)
        a.start(port=a.port)
        p = b.sync("a-node", expect=1)
        self.assertIn("went backwards", p.stderr.decode() + p.stdout.decode())
        h = self.head()
        self.assertIn("went backwards", h["problem"])
        # the head seen before stays, as the evidence
        self.assertEqual(h["seq"], grown["seq"])
        self.assertEqual(h["hash"], grown["hash"])
        self.assertIn("audit", fedlib.peer_last_error(b.peer("a-node")))
        v = b.run("audit", "--verify", check=False)
        self.assertEqual(v.returncode, 1, v)
        self.assertIn("partner a-node", v.stderr.decode())
        # and it stays reported on the next round, when A's log has grown past
        # the row B saw: that row is not the one B saw
        b.sync("a-node", expect=1)
        h = self.head()
        self.assertIn("rewritten", h["problem"])
        self.assertEqual(h["seq"], grown["seq"])

    def test_only_partners_read_the_signed_head(self):
        a = self.A
        path = "/default/kizuna/audit-head/?seen=0&nonce=abc-123"
        reader = a.user_token("rita", "local", "reader")
        self.assertEqual(a.client(token=reader).get(path).status, 403)
        r = a.client(token=self.peer_token).get(path)
        self.assertEqual(r.status, 200, r)
        self.assertTrue((r.header("X-Kizuna-Signature") or "").startswith("v1 "), r)
        body = r.body.decode()
        self.assertIn('"node":"a-node"', body)
        self.assertIn('"seen":{"seq":0,"hash":null}', body)
        for bad in ("?seen=-1", "?seen=x", "?nonce=" + "n" * 65, "?nonce=a%20b", "?other=1"):
            self.assertEqual(a.client(token=self.peer_token).get(
                "/default/kizuna/audit-head/" + bad).status, 400, bad)

    def test_removed_log_is_reported(self):
        a, b = self.A, self.B
        b.sync("a-node")
        b.sync("a-node")
        seen = self.head()["seq"]
        a.stop()
        for f in audit_files(a):
            if os.path.exists(f):
                os.remove(f)
        a.start(port=a.port)
        b.sync("a-node", expect=1)
        h = self.head()
        self.assertTrue(h["problem"], h)
        self.assertEqual(h["seq"], seen)


if __name__ == "__main__":
    unittest.main()
