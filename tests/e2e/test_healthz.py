"""GET /healthz (issue 12, item 10): answered without a token, for load balancers
and monitoring: 200 {"status": "ok"} when the store is readable, and per federation
peer the time of its last successful sync and whether the latest round failed. It
says nothing else: no content, no accounts, no peer URL or error text."""

import json
import socket

import kzlib
from kzlib import NodeTestCase


def closed_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Healthz(NodeTestCase):
    node_name = "health-node"

    @classmethod
    def setup_node(cls, node):
        node.collection_add("intel")
        cls.peer_url = "http://127.0.0.1:%d/default/" % closed_port()
        node.run("peer", "add", "gone-node", "--url", cls.peer_url, "--token", "x" * 40,
                 "--pull", "intel=intel")
        # one round against a peer that is not there records a failure
        node.run("sync", "gone-node", check=False)

    def health(self, **kw):
        r = self.node.client().request("GET", "/healthz", accept=None, auth=False, **kw)
        return r, json.loads(r.body.decode())

    def test_ok_without_a_token(self):
        r, doc = self.health()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("application/json"), r)
        self.assertEqual(r.header("cache-control"), "no-store")
        self.assertEqual((doc["status"], doc["store"]), ("ok", "ok"))

    def test_peer_with_a_failed_round(self):
        _, doc = self.health()
        peers = {p["name"]: p for p in doc["peers"]}
        self.assertEqual(list(peers), ["gone-node"], doc)
        p = peers["gone-node"]
        self.assertIs(p["ok"], False, doc)
        self.assertIsNone(p["last_success"], doc)
        self.assertRegex(p["last_failure"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

    def test_sync_json(self):
        """`kizuna sync --json` (issue 12, item 9): one JSON object per peer, the error
        named when the round failed."""
        p = self.node.run("sync", "--json", check=False)
        self.assertEqual(p.returncode, 1, p)
        rows = [json.loads(line) for line in p.stdout.decode().splitlines()]
        self.assertEqual([r["peer"] for r in rows], ["gone-node"], rows)
        self.assertEqual((rows[0]["pulled"], rows[0]["pushed"]), (0, 0))
        self.assertTrue(rows[0]["error"], rows)

    def test_tells_nothing_else(self):
        r, doc = self.health()
        body = r.body.decode()
        self.assertEqual(set(doc), {"status", "store", "peers"})
        self.assertEqual(set(doc["peers"][0]), {"name", "last_success", "last_failure", "ok"})
        self.assertNotIn("127.0.0.1", body, "the peer's URL")
        # a token changes nothing, and a wrong one is not refused: nothing is protected
        r2, doc2 = self.health(headers={"Authorization": "Bearer nonsense"})
        self.assertEqual((r2.status, doc2), (200, doc))


if __name__ == "__main__":
    kzlib.main()
