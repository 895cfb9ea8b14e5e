"""A token revoked by another process than the server (the command line here;
another server over the same PostgreSQL in a cluster) is refused from the
server's next request on: the store's data version moves with the commit,
and the server drops its cached credential checks with its cached pages,
instead of trusting them for the rest of their second."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kzlib  # noqa: E402


class RevocationElsewhere(kzlib.NodeTestCase):
    node_name = "revoke-node"

    @classmethod
    def setup_node(cls, node):
        node.org_add("in-cert", country="IN")
        node.user_add("asha", "in-cert", role="reader")

    def test_revoked_by_another_process_is_refused_at_once(self):
        for _ in range(5):
            tok = self.node.token_create("asha")
            c = self.node.client(token=tok)
            # answered, so its check is cached by the server now
            self.assertEqual(c.get("/taxii2/").status, 200)
            self.assertEqual(c.get("/taxii2/").status, 200)
            self.node.token_revoke(tok)
            r = c.get("/taxii2/")
            self.assertEqual(r.status, 401, "a revoked token was still accepted: %r" % r)


if __name__ == "__main__":
    unittest.main()
