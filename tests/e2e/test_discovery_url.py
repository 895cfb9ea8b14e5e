"""The URLs discovery advertises (issue 11): GET /taxii2/ used to reflect any
Host header into `default` and `api_roots`, and without one advertised the
configuration's listen address instead of the one given with --listen.
Now they come from `[server] public_url` when set, else from the address
actually served (scheme, --listen, the bound port); a request's Host header
never changes them."""
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kzlib  # noqa: E402

HOSTILE_HOSTS = ["evil.example", "evil.example:443", "127.0.0.1:1", "kizuna.example.org",
                 "[::1]:8470", "localhost"]


def raw_get(port, target, host_line, token):
    """GET target over HTTP/1.0 with an exact Host line (or none); returns
    (status, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        req = b"GET " + target + b" HTTP/1.0\r\n"
        if host_line is not None:
            req += b"Host: " + host_line + b"\r\n"
        req += b"Accept: " + kzlib.TAXII_MT.encode() + b"\r\n"
        req += b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


class DefaultFollowsListen(kzlib.NodeTestCase):
    """No public_url: the URL is the --listen address (never kizuna.conf's
    127.0.0.1:8470, never a Host header)."""
    node_name = "disc-node"

    def expected(self):
        return "http://127.0.0.1:%d/default/" % self.node.port

    def test_default_follows_listen(self):
        self.assertNotEqual(self.node.port, 8470)
        d = self.assertOK(self.node.admin().get("/taxii2/"))
        self.assertEqual(d["default"], self.expected())
        self.assertEqual(d["api_roots"], [self.expected()])

    def test_hostile_host_is_not_reflected(self):
        for host in HOSTILE_HOSTS:
            r = self.node.admin().get("/taxii2/", headers={"Host": host})
            d = self.assertOK(r)
            self.assertEqual(d["default"], self.expected(), host)
            self.assertEqual(d["api_roots"], [self.expected()], host)
            if host != "127.0.0.1:1":
                self.assertNotIn(host.encode(), r.body)

    def test_without_host_header(self):
        st, body = raw_get(self.node.port, b"/taxii2/", None, self.node.admin_token)
        self.assertEqual(st, 200, body)
        self.assertIn(self.expected().encode(), body)
        self.assertNotIn(b":8470", body)

    def test_odd_host_lines(self):
        for host in (b"evil.example\t", b"a" * 300, b"evil.example/x", b"", b"ex\xc3\xa4mple"):
            st, body = raw_get(self.node.port, b"/taxii2/", host, self.node.admin_token)
            if st == 200:
                self.assertIn(self.expected().encode(), body, host)
                self.assertNotIn(b"evil", body, host)


class ConfiguredPublicURL(kzlib.NodeTestCase):
    """[server] public_url is what discovery advertises, whatever the listen
    address or the Host header."""
    node_name = "disc-conf-node"
    public = "https://kizuna.example.org:8470"

    @classmethod
    def setup_node(cls, node):
        conf = os.path.join(node.home, "kizuna.conf")
        with open(conf) as f:
            text = f.read()
        text = text.replace("[server]\n", "[server]\npublic_url = %s/\n" % cls.public, 1)
        with open(conf, "w") as f:
            f.write(text)

    def test_configured_value_is_used(self):
        want = self.public + "/default/"
        for headers in (None, {"Host": "evil.example"}, {"Host": "127.0.0.1:%d" % self.node.port}):
            d = self.assertOK(self.node.admin().get("/taxii2/", headers=headers))
            self.assertEqual(d["default"], want)
            self.assertEqual(d["api_roots"], [want])

    def test_startup_line_names_it(self):
        self.assertIn(self.public + "/taxii2/", self.node.stderr_text())


class BadPublicURL(unittest.TestCase):
    """A public_url that is not an http(s) base URL stops the node, naming the
    key, like any bad value in kizuna.conf."""

    def test_refused_at_start(self):
        node = kzlib.Node("disc-bad")
        try:
            node.init("disc-bad-node")
            conf = os.path.join(node.home, "kizuna.conf")
            with open(conf) as f:
                orig = f.read()
            for bad in ("kizuna.example.org", "https://user@evil.example",
                        "https://kizuna.example.org/?x=1", "javascript:alert(1)",
                        "https://kizuna.example.org/\"x"):
                with open(conf, "w") as f:
                    f.write(orig.replace("[server]\n", "[server]\npublic_url = %s\n" % bad, 1))
                p = subprocess.run([kzlib.KIZUNA, "--home", node.home, "serve", "--listen",
                                    "127.0.0.1:%d" % kzlib.free_port()],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(p.returncode, 2, (bad, p.stderr))
                self.assertIn(b"server.public_url", p.stderr, bad)
        finally:
            node.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
