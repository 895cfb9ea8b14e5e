#!/usr/bin/env python3
"""A peer made by `kizuna apply` syncs: node B's declarative file lists node A as
a peer (its token in a file of its own, named by token_file, A's signing key,
a pull link); one `kizuna sync` brings A's objects over, signed. Applying the
same file again changes nothing and keeps the link's checkpoint; a wrong token
in the token file fails the round, and the right one, applied, is "token
replaced" and works again (docs/OPERATIONS.md, "Peers in apply").
Run: python3 tests/e2e/test_apply_peers.py  (KIZUNA=path/to/kizuna; CTest sets it)
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fedlib  # noqa: E402
import kzlib  # noqa: E402


class TestApplyPeers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("a-node", "b-node")
        a, b = cls.A, cls.B = cls.nodes
        try:
            a.collection("intel")
            b.collection("from-a")
            fedlib.admit(a, b, grants={"intel": ["user"]})
            cls.token = a.token_create("b-node")
            cls.objs = [fedlib.sdo(marks=[kzlib.G2]) for _ in range(5)]
            a.import_objects("intel", cls.objs)
            cls.key_a = a.node_key()
            a.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.cleanup()

    def write(self, name, text):
        path = os.path.join(self.B.scratch, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def apply(self, path, expect=0):
        p = self.B.run("apply", path, "--json", check=False)
        self.assertEqual(p.returncode, expect, p.stderr.decode(errors="replace"))
        return json.loads(p.stdout.decode()) if expect == 0 else p

    def test_apply_then_sync(self):
        a, b = self.A, self.B
        self.write("a-node.token", self.token + "\n")
        conf = self.write("node.json", json.dumps({"peers": [{
            "name": "a-node", "url": a.url(), "token_file": "a-node.token",
            "key": self.key_a, "pull": ["from-a=intel"]}]}))
        res = self.apply(conf)
        self.assertEqual(res["created"], 1, res)
        self.assertNotIn(self.token, json.dumps(res))

        b.sync("a-node")
        self.assertEqual(b.count("from-a"), len(self.objs))
        cps = fedlib.peer_checkpoints(b.peer("a-node"))
        self.assertTrue(any(cps), b.peer("a-node"))

        # again: unchanged, the checkpoint kept
        res = self.apply(conf)
        self.assertEqual((res["created"], res["changed"], res["unchanged"]), (0, 0, 1), res)
        self.assertEqual(fedlib.peer_checkpoints(b.peer("a-node")), cps)

        # a wrong token: the round fails; the right one, applied, works again
        self.write("a-node.token", "not-the-token\n")
        res = self.apply(conf)
        self.assertEqual(res["changes"][0]["detail"], "token replaced", res)
        b.sync("a-node", expect=1)
        self.write("a-node.token", self.token + "\n")
        res = self.apply(conf)
        self.assertEqual(res["changes"][0]["detail"], "token replaced", res)
        self.assertNotIn(self.token, json.dumps(res))
        more = [fedlib.sdo(marks=[kzlib.G2]) for _ in range(2)]
        a.import_objects("intel", more)
        b.sync("a-node")
        self.assertEqual(b.count("from-a"), len(self.objs) + len(more))


if __name__ == "__main__":
    unittest.main()
