"""Credentials on the wire (issue 11): HTTP Basic with an empty user name, and
a Bearer token followed by a NUL byte and junk, were both accepted. Both are
401 now; the exact token, as Bearer or as Basic with its own user, still
works. Requests are written byte for byte on a socket, since HTTP libraries
refuse to send a NUL."""
import base64
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kzlib  # noqa: E402

ACCEPT = b"Accept: " + kzlib.TAXII_MT.encode() + b"\r\n"


def raw_status(port, headers, target=b"/taxii2/"):
    """Sends GET target with the given header lines; returns the status."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
                  b"Connection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    line = data.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 else None


def basic(user, token):
    return b"Basic " + base64.b64encode(user + b":" + token)


class AuthHeaders(kzlib.NodeTestCase):
    node_name = "auth-node"

    @classmethod
    def setup_node(cls, node):
        node.user_add("asha", "local", role="reader")
        cls.asha = node.token_create("asha").encode()

    def auth(self, value, first=True):
        line = b"Authorization: " + value + b"\r\n"
        return raw_status(self.node.port, line + ACCEPT if first else ACCEPT + line)

    def test_exact_credentials_still_work(self):
        self.assertEqual(self.auth(b"Bearer " + self.asha), 200)
        self.assertEqual(self.auth(b"Bearer " + self.asha, first=False), 200)
        self.assertEqual(self.auth(basic(b"asha", self.asha)), 200)
        self.assertEqual(self.node.client(token=self.asha.decode(), user="asha")
                         .get("/taxii2/").status, 200)

    def test_basic_with_empty_user_is_refused(self):
        self.assertEqual(self.auth(basic(b"", self.asha)), 401)
        r = self.node.client(token=self.asha.decode(), user="").get("/taxii2/")
        self.assertEqual(r.status, 401, r)
        self.assertTrue(r.header("WWW-Authenticate"))

    def test_basic_with_another_user_is_refused(self):
        for user in (b"admin", b"Asha", b" asha", b"asha "):
            self.assertEqual(self.auth(basic(user, self.asha)), 401, user)

    def test_bearer_with_nul_and_junk_is_refused(self):
        for tail in (b"\x00junk", b"\x00 junk", b"\x00X-Kizuna-Want-Signature: v1",
                     b"\x00\x00x", b"\x00" + self.asha):
            self.assertEqual(self.auth(b"Bearer " + self.asha + tail), 401, tail)
            # the last header line too, where the headers end after it
            self.assertEqual(self.auth(b"Bearer " + self.asha + tail, first=False), 401, tail)

    def test_basic_with_nul_and_junk_is_refused(self):
        self.assertEqual(self.auth(basic(b"asha", self.asha) + b"\x00junk"), 401)
        # a NUL inside the decoded user:token
        self.assertEqual(self.auth(basic(b"asha\x00x", self.asha)), 401)
        self.assertEqual(self.auth(basic(b"asha", self.asha + b"\x00junk")), 401)

    def test_bearer_with_junk_is_refused(self):
        for tail in (b" junk", b",x", b"x", b";"):
            self.assertEqual(self.auth(b"Bearer " + self.asha + tail), 401, tail)


if __name__ == "__main__":
    unittest.main(verbosity=2)
