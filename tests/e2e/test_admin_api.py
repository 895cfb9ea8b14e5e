"""The account API (/kizuna/admin/): node admins manage everyone, org admins
the users of their own organisation and their tokens, nobody else anything
(issue 4: "node admins manage everything; org admins manage their users")."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kzlib  # noqa: E402

JSON = "application/json"


class AdminAPI(kzlib.NodeTestCase):
    node_name = "admin-node"

    @classmethod
    def setup_node(cls, node):
        node.org_add("in-cert", country="IN")
        node.org_add("jp-csirt", country="JP")
        node.user_add("boss", "in-cert", role="org-admin")
        node.user_add("asha", "in-cert", role="contributor")
        node.user_add("taro", "jp-csirt", role="reader")
        cls.boss_tok = node.token_create("boss")
        cls.asha_tok = node.token_create("asha")

    def call(self, token, method, path, body=None):
        c = self.node.client(token=token)
        data = json.dumps(body).encode() if body is not None else None
        r = c.request(method, path, body=data, accept=JSON,
                      content_type=JSON if data is not None else None)
        try:
            doc = json.loads(r.body) if r.body else None
        except ValueError:
            doc = None
        return r, doc

    def test_org_admin_sees_and_manages_only_its_org(self):
        r, d = self.call(self.boss_tok, "GET", "/kizuna/admin/users/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith(JSON))
        names = {u["name"] for u in d["users"]}
        self.assertEqual(names, {"boss", "asha"})
        r, d = self.call(self.boss_tok, "POST", "/kizuna/admin/users/",
                         {"name": "meera", "role": "contributor"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(d, {"name": "meera", "org": "in-cert", "role": "contributor"})
        # a new token for meera, shown once, works at once
        r, d = self.call(self.boss_tok, "POST", "/kizuna/admin/users/meera/tokens/")
        self.assertEqual(r.status, 201, r)
        tok = d["token"]
        self.assertTrue(tok.startswith("kz_" + d["id"] + "_"))
        self.assertEqual(self.node.client(token=tok).get("/taxii2/").status, 200)
        r, d = self.call(self.boss_tok, "GET", "/kizuna/admin/users/meera/tokens/")
        self.assertEqual([t["id"] for t in d["tokens"]], [tok.split("_")[1]])
        self.assertNotIn(tok, r.body.decode())
        # revoking it stops it within a second
        r, d = self.call(self.boss_tok, "DELETE", "/kizuna/admin/tokens/%s/" % tok.split("_")[1])
        self.assertEqual(r.status, 200, r)
        t0 = time.monotonic()
        kzlib.wait_until(lambda: self.node.client(token=tok).get("/taxii2/").status == 401,
                         timeout=5, what="the revoked token to be refused")
        self.assertLess(time.monotonic() - t0, 1.5, "revocation took more than a second")

    def test_org_admin_cannot_reach_other_orgs(self):
        for method, path, body in (
                ("GET", "/kizuna/admin/users/taro/tokens/", None),
                ("POST", "/kizuna/admin/users/taro/tokens/", None),
                ("GET", "/kizuna/admin/users/nobody/tokens/", None)):
            r, d = self.call(self.boss_tok, method, path, body)
            self.assertEqual(r.status, 404, (path, r))
        r, _ = self.call(self.boss_tok, "POST", "/kizuna/admin/users/",
                         {"name": "spy", "org": "jp-csirt"})
        self.assertEqual(r.status, 403, r)
        for role in ("node-admin", "peer"):
            r, _ = self.call(self.boss_tok, "POST", "/kizuna/admin/users/",
                             {"name": "x" + role.replace("-", ""), "role": role})
            self.assertEqual(r.status, 403, (role, r))
        # a node admin's token cannot be revoked by an org admin
        admin_id = self.node.admin_token.split("_")[1]
        r, _ = self.call(self.boss_tok, "DELETE", "/kizuna/admin/tokens/%s/" % admin_id)
        self.assertEqual(r.status, 404, r)

    def test_node_admin_manages_everyone(self):
        r, d = self.call(self.node.admin_token, "GET", "/kizuna/admin/users/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue({"admin", "boss", "asha", "taro"} <= {u["name"] for u in d["users"]})
        r, d = self.call(self.node.admin_token, "POST", "/kizuna/admin/users/",
                         {"name": "hanako", "org": "jp-csirt", "role": "org-admin"})
        self.assertEqual(r.status, 201, r)
        r, _ = self.call(self.node.admin_token, "POST", "/kizuna/admin/users/",
                         {"name": "hanako", "org": "jp-csirt"})
        self.assertEqual(r.status, 409, r)

    def test_others_and_mistakes(self):
        r, _ = self.call(self.asha_tok, "GET", "/kizuna/admin/users/")
        self.assertEqual(r.status, 403, r)
        r, _ = self.call(None, "GET", "/kizuna/admin/users/")
        self.assertEqual(r.status, 401, r)
        c = self.node.client(token=self.boss_tok)
        r = c.request("POST", "/kizuna/admin/users/", body=b"{nope", accept=JSON,
                      content_type=JSON)
        self.assertEqual(r.status, 400, r)
        r = c.request("POST", "/kizuna/admin/users/", body=b'{"name":"a"}', accept=JSON,
                      content_type="text/plain")
        self.assertEqual(r.status, 415, r)
        for bad in ("", "a b", "x" * 200, "../etc"):
            r, _ = self.call(self.boss_tok, "POST", "/kizuna/admin/users/", {"name": bad})
            self.assertEqual(r.status, 400, (bad, r))
        r = c.request("PUT", "/kizuna/admin/users/", accept=JSON)
        self.assertEqual(r.status, 405, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
