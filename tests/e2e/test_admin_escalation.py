"""Org admins must never reach node-admin rights through the account API
(issue 11: an org admin of `local`, the organisation `init` puts the node
admin `admin` in, minted a token for `admin` and then made node admins at
will). The rule (docs/SHARING.md, "Who manages accounts"): org admins manage
the readers, contributors and org admins of their own organisation, nothing
else; accounts they may not manage answer 404 as if they did not exist.

Every request is also tried with its strings JSON-escaped ("node\\u002dadmin"),
since the server must judge the decoded value, never the raw text."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kzlib  # noqa: E402

JSON = "application/json"


def token_id(tok):
    return kzlib.TOKEN_RE.match(tok).group(1)


class OrgAdminEscalation(kzlib.NodeTestCase):
    node_name = "escalation-node"

    @classmethod
    def setup_node(cls, node):
        # `local` is the organisation init made, with `admin` (node-admin) in it
        node.user_add("lboss", "local", role="org-admin")
        node.user_add("lwriter", "local", role="contributor")
        node.user_add("partner-node", "local", role="peer")
        node.org_add("jp-csirt", country="JP")
        node.user_add("hana", "jp-csirt", role="org-admin")
        node.user_add("taro", "jp-csirt", role="reader")
        cls.boss_tok = node.token_create("lboss")
        cls.peer_tok = node.token_create("partner-node")
        cls.hana_tok = node.token_create("hana")
        cls.taro_tok = node.token_create("taro")

    # --- helpers
    def raw(self, token, method, path, body=None):
        """body: bytes sent as they are (so escapes reach the server intact)."""
        c = self.node.client(token=token)
        r = c.request(method, path, body=body, accept=JSON,
                      content_type=JSON if body is not None else None)
        return r

    def boss(self, method, path, body=None):
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        return self.raw(self.boss_tok, method, path, body)

    def cli_users(self):
        """name -> (role, org) as the operator sees them."""
        out = {}
        for line in self.node.out("user", "list", "--json").splitlines():
            u = json.loads(line)
            out[u["name"]] = (u["role"], u["org"])
        return out

    def cli_tokens(self, user):
        """token id -> revoked? for user, as the operator sees them."""
        out = {}
        for line in self.node.out("token", "list", user).splitlines():
            parts = line.split()
            out[parts[0]] = "revoked" in parts
        return out

    def node_admins(self):
        return {n for n, (role, _) in self.cli_users().items() if role == "node-admin"}

    def assertNoNewNodeAdmin(self):
        # "second-admin" is the one a node admin makes below
        self.assertEqual(self.node_admins() - {"second-admin"}, {"admin"})

    # --- tokens of accounts above an org admin
    def test_cannot_mint_tokens_for_node_admin_or_peer(self):
        # the path's escapes are percent-escapes: "adm%69n" is "admin"
        for name, path in (("admin", "admin"), ("partner-node", "partner-node"),
                           ("admin", "adm%69n"), ("partner-node", "partner%2dnode")):
            before = self.cli_tokens(name)
            r = self.boss("POST", "/kizuna/admin/users/%s/tokens/" % path)
            self.assertEqual(r.status, 404, (path, r))
            self.assertNotIn(b"kz_", r.body)
            # nothing was made behind the refusal
            self.assertEqual(self.cli_tokens(name), before)

    def test_cannot_list_tokens_of_node_admin_or_peer(self):
        for name in ("admin", "partner-node"):
            r = self.boss("GET", "/kizuna/admin/users/%s/tokens/" % name)
            self.assertEqual(r.status, 404, (name, r))
            self.assertNotIn(token_id(self.node.admin_token).encode(), r.body)

    def test_cannot_revoke_tokens_of_node_admin_or_peer(self):
        for name, tok in (("admin", self.node.admin_token), ("partner-node", self.peer_tok)):
            r = self.boss("DELETE", "/kizuna/admin/tokens/%s/" % token_id(tok))
            self.assertEqual(r.status, 404, (name, r))
            self.assertFalse(self.cli_tokens(name)[token_id(tok)], (name, "was revoked"))
        self.assertEqual(self.node.client(token=self.node.admin_token).get("/taxii2/").status,
                         200)

    def test_listing_hides_accounts_above_org_admin(self):
        r = self.boss("GET", "/kizuna/admin/users/")
        self.assertEqual(r.status, 200, r)
        names = {u["name"] for u in json.loads(r.body)["users"]}
        self.assertIn("lboss", names)
        self.assertIn("lwriter", names)
        for hidden in ("admin", "partner-node", "hana", "taro"):
            self.assertNotIn(hidden, names)

    # --- roles
    def test_cannot_give_roles_above_org_admin(self):
        bodies = [
            {"name": "esc-a", "role": "node-admin"},
            {"name": "esc-b", "role": "peer"},
            b'{"name": "esc-c", "role": "node\\u002dadmin"}',
            b'{"name": "esc-d", "role": "\\u006eode-admin"}',
            b'{"name": "esc-e", "role": "p\\u0065er"}',
            b'{"n\\u0061me": "esc-f", "r\\u006fle": "node\\u002dadmin"}',
            b'{"name": "esc\\u002dg", "role": "node-admin", "org": "lo\\u0063al"}',
        ]
        for body in bodies:
            r = self.boss("POST", "/kizuna/admin/users/", body)
            self.assertEqual(r.status, 403, (body, r))
        users = self.cli_users()
        for n in "abcdefg":
            self.assertNotIn("esc-" + n, users)
        self.assertNoNewNodeAdmin()

    def test_cannot_change_roles_upward(self):
        # making an existing account again with a higher role is refused and
        # changes nothing; the role-changing request (PATCH) refuses a role
        # above the org admin's own (403), other methods do not exist
        for body in ({"name": "lwriter", "role": "org-admin"},
                     b'{"name": "lwr\\u0069ter", "role": "org\\u002dadmin"}',
                     {"name": "lboss", "role": "node-admin"},
                     b'{"name": "lboss", "role": "node\\u002dadmin"}',
                     {"name": "partner-node", "role": "node-admin"}):
            r = self.boss("POST", "/kizuna/admin/users/", body)
            self.assertIn(r.status, (403, 409), (body, r))
        users = self.cli_users()
        self.assertEqual(users["lwriter"], ("contributor", "local"))
        self.assertEqual(users["lboss"], ("org-admin", "local"))
        self.assertEqual(users["partner-node"], ("peer", "local"))
        for method in ("PUT", "PATCH", "POST"):
            r = self.boss(method, "/kizuna/admin/users/lwriter/", b'{"role": "node-admin"}')
            self.assertIn(r.status, (403, 404, 405), (method, r))
        self.assertEqual(self.cli_users()["lwriter"], ("contributor", "local"))
        self.assertNoNewNodeAdmin()

    # --- other organisations
    def test_cannot_act_on_other_orgs_users(self):
        for name in ("hana", "taro", "h%61na"):
            for method in ("GET", "POST"):
                r = self.boss(method, "/kizuna/admin/users/%s/tokens/" % name)
                self.assertEqual(r.status, 404, (method, name, r))
        for name, tok in (("hana", self.hana_tok), ("taro", self.taro_tok)):
            r = self.boss("DELETE", "/kizuna/admin/tokens/%s/" % token_id(tok))
            self.assertEqual(r.status, 404, (name, r))
            self.assertFalse(self.cli_tokens(name)[token_id(tok)])
        self.assertEqual(len(self.cli_tokens("hana")), 1)
        for body in ({"name": "spy-a", "org": "jp-csirt"},
                     b'{"name": "spy-b", "org": "jp\\u002dcsirt"}',
                     b'{"name": "spy-c", "\\u006frg": "jp-csirt", "role": "reader"}',
                     # an organisation that does not exist looks like another's
                     {"name": "spy-d", "org": "no-such-org"}):
            r = self.boss("POST", "/kizuna/admin/users/", body)
            self.assertEqual(r.status, 403, (body, r))
        self.assertFalse({"spy-a", "spy-b", "spy-c", "spy-d"} & set(self.cli_users()))

    def test_other_org_admin_cannot_reach_local(self):
        r = self.raw(self.hana_tok, "POST", "/kizuna/admin/users/lwriter/tokens/")
        self.assertEqual(r.status, 404, r)
        r = self.raw(self.hana_tok, "DELETE",
                     "/kizuna/admin/tokens/%s/" % token_id(self.boss_tok))
        self.assertEqual(r.status, 404, r)
        self.assertFalse(self.cli_tokens("lboss")[token_id(self.boss_tok)])

    # --- the body is read by the strict reader, decoded before it is judged
    def test_bodies_are_read_strictly(self):
        bad = [
            b'{"name": "dup1", "name": "dup2"}',
            b'{"name": "dup3", "n\\u0061me": "dup4"}',
            b'{"name": "extra", "role": "reader", "admin": true}',
            b'{"name": "nested", "role": {"is": "node-admin"}}',
            b'{"name": ["list"]}',
            b'{"name": 7}',
            b'{"role": "reader"}',
            b'["name", "x"]',
            b'"name"',
            b'{"name": "nul\\u0000x"}',
            b'{"name": "surrogate\\ud800"}',
            b'{"name": "bad\xff"}',
            b'{"name": "trailing"} {}',
            b'{"name": "x" "role": "reader"}',
            b'{"name": "r", "role": "node-admin\\u0000"}',
            b'{"name": "r2", "role": "reader\\u0000node-admin"}',
            b'{"name": "long", "org": "' + b"o" * 200 + b'"}',
            b'',
        ]
        for body in bad:
            r = self.boss("POST", "/kizuna/admin/users/", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(json.loads(r.body)["http_status"], 400)
        users = self.cli_users()
        for n in ("dup1", "dup2", "dup3", "dup4", "extra", "nested", "r", "r2", "long"):
            self.assertNotIn(n, users)
        # an unknown role is a mistake (400), a role above one's own a refusal (403)
        r = self.boss("POST", "/kizuna/admin/users/", {"name": "odd", "role": "root"})
        self.assertEqual(r.status, 400, r)
        r = self.boss("POST", "/kizuna/admin/users/", b'{"name": "odd", "role": "Node-Admin"}')
        self.assertEqual(r.status, 400, r)

    # --- what an org admin still does
    def test_org_admin_manages_its_own_with_escapes(self):
        r = self.boss("POST", "/kizuna/admin/users/",
                      b'{"name": "m\\u0065era", "role": "c\\u006fntributor", '
                      b'"org": "lo\\u0063al"}')
        self.assertEqual(r.status, 201, r)
        self.assertEqual(json.loads(r.body),
                         {"name": "meera", "org": "local", "role": "contributor"})
        r = self.boss("POST", "/kizuna/admin/users/meera/tokens/")
        self.assertEqual(r.status, 201, r)
        tok = json.loads(r.body)["token"]
        r = self.boss("DELETE", "/kizuna/admin/tokens/%s/" % token_id(tok))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(self.cli_tokens("meera")[token_id(tok)])
        r = self.boss("POST", "/kizuna/admin/users/", {"name": "deputy", "role": "org-admin"})
        self.assertEqual(r.status, 201, r)

    def test_node_admin_still_manages_everyone(self):
        r = self.raw(self.node.admin_token, "POST", "/kizuna/admin/users/",
                     b'{"name": "second-admin", "role": "node\\u002dadmin"}')
        self.assertEqual(r.status, 201, r)
        self.assertEqual(json.loads(r.body)["role"], "node-admin")
        r = self.raw(self.node.admin_token, "POST", "/kizuna/admin/users/partner-node/tokens/")
        self.assertEqual(r.status, 201, r)
        r = self.raw(self.node.admin_token, "GET", "/kizuna/admin/users/hana/tokens/")
        self.assertEqual(r.status, 200, r)
        # a node admin naming an organisation that does not exist learns so
        r = self.raw(self.node.admin_token, "POST", "/kizuna/admin/users/",
                     b'{"name": "lost", "org": "no-such-org"}')
        self.assertEqual(r.status, 404, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
