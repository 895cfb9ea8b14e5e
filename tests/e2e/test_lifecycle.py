"""Account lifecycle on a running node (issue 12, item 8): a disabled user's
tokens are refused on TAXII and the account API, at once when the change is
made over the API and within a second from the CLI, and work again once it
is enabled; the account API disables, re-roles and removes only the accounts
the caller manages, never above its own role; every change is audited with
the real actor. The bodies are sent plainly and, in a second run, with every
"-" and "_" (and some key letters) as JSON escapes. SIGHUP reloads
kizuna.conf: a good file's live settings apply, a bad one is refused and the
running settings are kept."""
import json
import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kzlib  # noqa: E402

JSON = "application/json"
COLLECTIONS = "/default/collections/"


class Lifecycle(kzlib.NodeTestCase):
    node_name = "life-node"
    escape = False

    @classmethod
    def setup_node(cls, node):
        node.org_add("in-cert", country="IN")
        node.org_add("jp-csirt", country="JP")
        node.user_add("boss", "in-cert", role="org-admin")
        node.user_add("reader1", "in-cert", role="reader")
        cls.tok = {"boss": node.token_create("boss"), "reader1": node.token_create("reader1")}
        for name, org, role in (("asha", "in-cert", "contributor"),
                                ("meera", "in-cert", "contributor"),
                                ("ravi", "in-cert", "contributor"),
                                ("kiran", "in-cert", "reader"),
                                ("taro", "jp-csirt", "reader")):
            node.user_add(name, org, role=role)
            cls.tok[name] = node.token_create(name)

    @classmethod
    def setUpClass(cls):
        cls._saved = kzlib.ESCAPE_STRINGS
        kzlib.ESCAPE_STRINGS = cls.escape
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        kzlib.ESCAPE_STRINGS = cls._saved
        super().tearDownClass()

    def body(self, plain, escaped):
        """The JSON text of a request: plain, or the escaped spelling."""
        return (escaped if self.escape else json.dumps(plain)).encode()

    def call(self, who, method, path, body=None):
        c = self.node.client(token=self.tok.get(who, who))
        r = c.request(method, path, body=body, accept=JSON,
                      content_type=JSON if body is not None else None)
        try:
            doc = json.loads(r.body) if r.body else None
        except ValueError:
            doc = None
        return r, doc

    def status(self, who):
        return self.node.client(token=self.tok[who]).get(COLLECTIONS).status

    def cli_users(self):
        out = self.node.out("user", "list", "--json")
        return {u["name"]: u for u in map(json.loads, out.splitlines())}

    DISABLE = ({"disabled": True}, '{"\\u0064isabled": true}')
    ENABLE = ({"disabled": False}, '{"disabl\\u0065d": false}')

    def test_org_admin_disables_and_enables_its_user_at_once(self):
        self.assertEqual(self.status("asha"), 200)
        r, d = self.call("boss", "PATCH", "/kizuna/admin/users/asha/", self.body(*self.DISABLE))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(d, {"name": "asha", "org": "in-cert", "role": "contributor",
                             "disabled": True})
        # at once: the server's credential cache was flushed by the change
        self.assertEqual(self.status("asha"), 401)
        r, _ = self.call("asha", "GET", "/kizuna/admin/users/")
        self.assertEqual(r.status, 401, r)
        self.assertTrue(self.cli_users()["asha"]["disabled"])
        r, d = self.call("boss", "PATCH", "/kizuna/admin/users/asha/", self.body(*self.ENABLE))
        self.assertEqual(r.status, 200, r)
        self.assertFalse(d["disabled"])
        self.assertEqual(self.status("asha"), 200)

    def test_cli_disable_refuses_tokens_on_a_running_server(self):
        self.assertEqual(self.status("taro"), 200)
        self.node.run("user", "disable", "taro")
        kzlib.wait_until(lambda: self.status("taro") == 401, timeout=5,
                         what="taro's token to be refused after user disable")
        self.node.run("user", "enable", "taro")
        kzlib.wait_until(lambda: self.status("taro") == 200, timeout=5,
                         what="taro's token to work again after user enable")

    def test_org_admin_reaches_only_its_own_accounts(self):
        for name in ("taro", "admin", "nobody"):
            for method, body in (("PATCH", self.body(*self.DISABLE)), ("DELETE", None)):
                r, _ = self.call("boss", method, "/kizuna/admin/users/%s/" % name, body)
                self.assertEqual(r.status, 404, (name, method, r))
        self.assertEqual(self.status("taro"), 200)
        self.assertIn("admin", self.cli_users())
        # not an admin at all: the account API refuses
        r, _ = self.call("reader1", "PATCH", "/kizuna/admin/users/kiran/",
                         self.body(*self.DISABLE))
        self.assertEqual(r.status, 403, r)
        self.assertFalse(self.cli_users()["kiran"]["disabled"])

    def test_roles_never_above_the_callers_own(self):
        for role, esc in (("node-admin", "node\\u002dadmin"), ("peer", "p\\u0065er")):
            for target in ("meera", "boss"):
                r, _ = self.call("boss", "PATCH", "/kizuna/admin/users/%s/" % target,
                                 self.body({"role": role}, '{"r\\u006fle": "%s"}' % esc))
                self.assertEqual(r.status, 403, (target, role, r))
        users = self.cli_users()
        self.assertEqual(users["meera"]["role"], "contributor")
        self.assertEqual(users["boss"]["role"], "org-admin")
        r, d = self.call("boss", "PATCH", "/kizuna/admin/users/meera/",
                         self.body({"role": "org-admin"}, '{"role": "org\\u002dadmin"}'))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(d["role"], "org-admin")
        r, d = self.call("boss", "PATCH", "/kizuna/admin/users/meera/",
                         self.body({"role": "reader", "disabled": False},
                                   '{"role": "r\\u0065ader", "disabled": false}'))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.cli_users()["meera"]["role"], "reader")

    def test_bad_bodies(self):
        for body in (b'{"disabled": "yes"}', b'{"role": 3}', b'{}', b'{"name": "x"}',
                     b'{"disabled": true, "org": "jp-csirt"}', b'[true]', b'{nope'):
            r, _ = self.call("boss", "PATCH", "/kizuna/admin/users/kiran/", body)
            self.assertEqual(r.status, 400, (body, r))
        r, _ = self.call("boss", "PATCH", "/kizuna/admin/users/kiran/",
                         self.body({"role": "emperor"}, '{"role": "emp\\u0065ror"}'))
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.cli_users()["kiran"]["role"], "reader")
        self.assertFalse(self.cli_users()["kiran"]["disabled"])

    def test_remove_user_revokes_tokens_and_is_audited(self):
        self.assertEqual(self.status("ravi"), 200)
        r, d = self.call("boss", "DELETE", "/kizuna/admin/users/ravi/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(d, {"name": "ravi", "removed": True})
        self.assertEqual(self.status("ravi"), 401)
        self.assertNotIn("ravi", self.cli_users())
        r, _ = self.call("boss", "DELETE", "/kizuna/admin/users/ravi/")
        self.assertEqual(r.status, 404, r)
        rows = [json.loads(line) for line in
                self.node.out("audit", "--user", "boss", "--json").splitlines()]
        self.assertTrue(any(a["action"] == "user-remove" and "user=ravi" in a["detail"]
                            for a in rows), rows)


class LifecycleEscaped(Lifecycle):
    escape = True


class Reload(kzlib.NodeTestCase):
    node_name = "reload-node"

    @classmethod
    def setup_node(cls, node):
        node.collection_add("intel")
        node.grant("intel", org="local", read=True, write=True)

    def conf(self):
        return os.path.join(self.node.home, "kizuna.conf")

    def set_conf(self, key, value, extra=""):
        """kizuna.conf with [server] key = value (replacing its line) and extra
        lines appended to [server]."""
        with open(self.conf()) as f:
            text = f.read()
        if re.search(r"(?m)^%s = .*$" % key, text):
            text = re.sub(r"(?m)^%s = .*$" % key, "%s = %s" % (key, value), text)
        else:
            text = text.replace("[server]\n", "[server]\n%s = %s\n" % (key, value))
        text = text.replace("[server]\n", "[server]\n" + extra)
        with open(self.conf(), "w") as f:
            f.write(text)

    def reload(self, expect):
        """Sends SIGHUP and waits for the next log line about the configuration."""
        before = self.node.stderr_text().count("kizuna: configuration ")
        self.node.signal(signal.SIGHUP)

        def line():
            lines = [ln for ln in self.node.stderr_text().splitlines()
                     if ln.startswith("kizuna: configuration ")]
            return lines[before] if len(lines) > before else None
        got = kzlib.wait_until(line, timeout=10, what="the reload's log line")
        self.assertIn(expect, got)
        return got

    def post(self, size):
        ind = kzlib.indicator(0)
        ind["description"] = "x" * size
        return self.node.admin().post(COLLECTIONS + "intel/objects/", kzlib.envelope([ind]))

    def test_reload_good_then_bad(self):
        self.assertEqual(self.post(6000).status, 202)
        self.set_conf("max_content_length", "2048")
        line = self.reload("configuration reloaded")
        self.assertIn("applied: server.max_content_length", line)
        self.assertIn("need a restart: none", line)
        self.assertEqual(self.post(6000).status, 413)
        # a setting that needs a restart is named, and the server keeps its address
        self.set_conf("listen", "127.0.0.1:1")
        line = self.reload("configuration reloaded")
        self.assertIn("need a restart: server.listen", line)
        self.assertEqual(self.node.admin().get("/taxii2/").status, 200)
        # a bad file is refused with its line and key; the running limit stays
        self.set_conf("max_content_length", "104857600", extra="bogus = 1\n")
        line = self.reload("configuration not reloaded")
        self.assertIn("kizuna.conf: line", line)
        self.assertIn('unknown key "bogus" in [server]', line)
        self.assertEqual(self.post(6000).status, 413)
        # fixed again: the new limit applies
        with open(self.conf()) as f:
            text = f.read().replace("bogus = 1\n", "")
        with open(self.conf(), "w") as f:
            f.write(text)
        line = self.reload("configuration reloaded")
        self.assertIn("server.max_content_length", line)
        self.assertEqual(self.post(6000).status, 202)


if __name__ == "__main__":
    unittest.main()
