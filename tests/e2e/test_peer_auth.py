#!/usr/bin/env python3
"""Peer authentication and checks against a TAXII 2.1 server that is not kizuna.

The fake server below behaves like medallion (the OASIS reference server) in what
matters here: it knows only HTTP Basic, answers every failure with a TAXII 2.1
error resource (section 3.6.1: title, description, http_status), and serves one
API root with collections by id. kizuna registers it with `peer add --user`,
reads the token from a file or standard input, syncs from it, reports the
server's own error words and a hint on 401, checks it once with `--check` or
`peer check`, and replaces its credentials with `peer credentials`
(docs/FEDERATION.md, "Peer authentication").
"""

import base64
import http.server
import json
import os
import threading
import unittest
import urllib.parse

import fedlib
import kzlib

MT = "application/taxii+json;version=2.1"
USER = "alice"
PASSWORD = "s3cret-Pa55word"
READ_ONLY = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
WRITABLE = "52892447-4d7e-4f70-b94d-d7f22742ff63"
MISSING = "0b6c6b1e-6f3c-4c9e-9e7a-3d1f0e6a7b55"

# The error resource's words, sent with JSON escapes (\u0055 is U, \u0020 a space)
# and a terminal escape in the description that must not reach kizuna's output.
ERR_TITLE = "Unauthorized"
ERR_DESC = "the password for this account is wrong"
ERR_BODY_401 = ('{"title":"\\u0055nauthorized","description":"the\\u0020password for '
                'this account is wrong\\u001b[31m","http_status":"401"}')


class FakeTaxii:
    """A TAXII 2.1 server on loopback with HTTP Basic only (like medallion)."""

    def __init__(self, objects):
        self.objects = objects            # collection id -> [(date_added, object)]
        self.password = PASSWORD
        self.seen_auth = []               # every Authorization header received
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send_json(self, status, body, extra=()):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", MT)
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def error(self, status, title, desc):
                self.send_json(status, {"title": title, "description": desc,
                                        "http_status": str(status)})

            def authorised(self):
                h = self.headers.get("Authorization", "")
                with fake.lock:
                    fake.seen_auth.append(h)
                want = "Basic " + base64.b64encode(
                    ("%s:%s" % (USER, fake.password)).encode()).decode()
                if h == want:
                    return True
                self.send_json(401, ERR_BODY_401.encode(),
                               extra=[("WWW-Authenticate", 'Basic realm="taxii"')])
                return False

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                parts = [p for p in url.path.split("/") if p]
                if not self.authorised():
                    return
                if parts == ["taxii2"]:
                    return self.send_json(200, {"title": "fake", "api_roots": ["/api1/"]})
                if parts == ["api1"]:
                    return self.send_json(200, {"title": "Fake API root", "versions": [MT],
                                                "max_content_length": 10485760})
                if len(parts) >= 3 and parts[:2] == ["api1", "collections"]:
                    cid = parts[2]
                    if cid not in fake.objects:
                        return self.error(404, "Collection not found",
                                          "no collection %s" % cid)
                    if len(parts) == 3:
                        return self.send_json(200, {"id": cid, "title": "coll " + cid[:4],
                                                    "can_read": True,
                                                    "can_write": cid == WRITABLE,
                                                    "media_types": [MT]})
                    if len(parts) == 4 and parts[3] == "objects":
                        return self.objects_page(cid, urllib.parse.parse_qs(url.query))
                return self.error(404, "Not found", "no such resource")

            def objects_page(self, cid, q):
                after = q.get("added_after", [""])[0]
                rows = sorted(fake.objects[cid], key=lambda r: r[0])
                rows = [r for r in rows if not after or r[0] > after]
                extra = []
                if rows:
                    extra = [("X-TAXII-Date-Added-First", rows[0][0]),
                             ("X-TAXII-Date-Added-Last", rows[-1][0])]
                body = {"more": False}
                if rows:
                    body["objects"] = [o for _, o in rows]
                self.send_json(200, body, extra)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, root="api1"):
        return "http://127.0.0.1:%d/%s/" % (self.port, root)

    def auth_headers(self):
        with self.lock:
            return list(self.seen_auth)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def date_added(i):
    return "2026-01-01T00:00:%02d.000000Z" % i


class PeerAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objs = [fedlib.sdo(marks=(fedlib.C2,)) for _ in range(3)]
        cls.fake = FakeTaxii({READ_ONLY: [(date_added(i + 1), o) for i, o in enumerate(cls.objs)],
                              WRITABLE: []})
        cls.node = fedlib.FedNode("auth-node").setup()
        cls.node.collection("intel")
        cls.node.collection("outbox")

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()
        cls.node.cleanup()

    def setUp(self):
        self.fake.password = PASSWORD

    def token_file(self, text, name="token"):
        path = os.path.join(self.node.scratch, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def add(self, name, *extra, token_file=None, input=None, check=False, url=None):
        args = ["peer", "add", name, "--url", url or self.fake.url(),
                "--token-file", token_file or self.token_file(PASSWORD + "\n")]
        return self.node.run(*(args + list(extra)), check=check, input=input)

    def text(self, p):
        return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")

    def test_basic_user_sync_and_list(self):
        p = self.add("medallion-a", "--user", USER, "--pull", "intel=" + READ_ONLY)
        self.assertEqual(p.returncode, 0, self.text(p))
        self.node.sync("medallion-a")
        self.assertEqual(self.node.count("intel"), len(self.objs))
        want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        self.assertIn(want, self.fake.auth_headers())
        rec = self.node.peer("medallion-a")
        self.assertEqual(rec["auth"], "basic")
        self.assertEqual(rec["user"], USER)
        self.assertEqual(rec["last_error"], "")
        for args in (("peer", "list"), ("peer", "list", "--json")):
            out = self.node.out(*args)
            self.assertNotIn(PASSWORD, out)
        self.assertIn("auth HTTP Basic as %s" % USER, self.node.out("peer", "list"))

    def test_bearer_to_basic_server_gets_error_and_hint(self):
        # no --user: Bearer, which a Basic-only server refuses (the medallion case)
        p = self.add("medallion-b", "--pull", "intel=" + READ_ONLY)
        self.assertEqual(p.returncode, 0, self.text(p))
        self.assertEqual(self.node.peer("medallion-b")["auth"], "bearer")
        self.assertIsNone(self.node.peer("medallion-b")["user"])
        s = self.node.sync("medallion-b", expect=1)
        err = s.stderr.decode()
        self.assertIn("HTTP 401", err)
        self.assertIn("%s: %s" % (ERR_TITLE, ERR_DESC), err)  # JSON escapes decoded
        self.assertIn("kizuna peer credentials medallion-b", err)
        self.assertIn("--user", err)
        self.assertIn("sent as Bearer", err)
        self.assertNotIn("\x1b", err)
        self.assertIn("Bearer " + PASSWORD, self.fake.auth_headers())
        last = self.node.peer("medallion-b")["last_error"]
        self.assertIn("%s: %s" % (ERR_TITLE, ERR_DESC), last)
        self.assertIn("peer credentials", last)
        self.assertNotIn("\x1b", last)

    def test_credentials_replace_token_and_scheme(self):
        bad = self.token_file("wrong-password\n", "bad")
        p = self.add("medallion-c", "--user", USER, "--pull", "intel=" + READ_ONLY,
                     token_file=bad)
        self.assertEqual(p.returncode, 0, self.text(p))
        s = self.node.sync("medallion-c", expect=1)
        self.assertIn("sent as HTTP Basic", s.stderr.decode())
        self.assertIn(ERR_DESC, s.stderr.decode())
        # a rotated token; the scheme stays Basic as alice
        p = self.node.run("peer", "credentials", "medallion-c", "--token-file", "-",
                          input=(PASSWORD + "\n").encode(), check=False)
        self.assertEqual(p.returncode, 0, self.text(p))
        self.node.sync("medallion-c")
        self.assertEqual(self.node.peer("medallion-c")["last_error"], "")
        self.assertEqual(self.node.peer("medallion-c")["user"], USER)
        audit = self.node.out("audit")
        self.assertIn("peer-auth", audit)
        self.assertIn("peer=medallion-c auth=unchanged", audit)
        self.assertNotIn(PASSWORD, audit)
        # --bearer switches the scheme: this server refuses it again
        p = self.node.run("peer", "credentials", "medallion-c", "--bearer", "--token-file",
                          self.token_file(PASSWORD + "\n"), check=False)
        self.assertEqual(p.returncode, 0, self.text(p))
        self.assertEqual(self.node.peer("medallion-c")["auth"], "bearer")
        self.node.sync("medallion-c", expect=1)
        p = self.node.run("peer", "credentials", "no-such-peer", "--token-file",
                          self.token_file(PASSWORD + "\n"), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no-such-peer", p.stderr.decode())

    def test_token_from_stdin(self):
        p = self.add("medallion-d", "--user", USER, "--pull", "intel=" + READ_ONLY,
                     token_file="-", input=(PASSWORD + "\n").encode())
        self.assertEqual(p.returncode, 0, self.text(p))
        self.node.sync("medallion-d")
        # an empty line is no token, and nothing is added
        p = self.add("medallion-e", "--user", USER, token_file="-", input=b"\n")
        self.assertEqual(p.returncode, 2, self.text(p))
        self.assertIn("empty", p.stderr.decode())
        self.assertNotIn("medallion-e", self.node.peers())
        # a file with more than the token is refused
        p = self.add("medallion-e", "--user", USER,
                     token_file=self.token_file("tok\nsecond line\n", "two"))
        self.assertEqual(p.returncode, 2, self.text(p))
        self.assertNotIn("medallion-e", self.node.peers())

    def test_url_with_credentials_refused(self):
        url = "http://%s:%s@127.0.0.1:%d/api1/" % (USER, "Url-Pa55", self.fake.port)
        p = self.add("medallion-f", url=url)
        self.assertEqual(p.returncode, 2, self.text(p))
        err = p.stderr.decode()
        self.assertIn("--user", err)
        self.assertIn("--token-file", err)
        self.assertNotIn("Url-Pa55", err)
        self.assertNotIn("medallion-f", self.node.peers())

    def test_check_reports_and_refuses(self):
        # a missing collection and a read-only one linked for push: not added, exit 1
        p = self.add("medallion-g", "--user", USER, "--check", "--pull", "intel=" + MISSING,
                     "--push", "outbox=" + READ_ONLY)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 1, self.text(p))
        self.assertRegex(out, r"ok +connection: plain http")
        self.assertRegex(out, r"ok +authentication: accepted \(HTTP Basic as user alice\)")
        self.assertRegex(out, r"FAIL +pull %s: .*no collection" % MISSING)
        self.assertIn("Collection not found", out)
        self.assertRegex(out, r"FAIL +push %s: .*can_write is false" % READ_ONLY)
        self.assertNotIn("medallion-g", self.node.peers())
        # wrong credentials: the 401 is named as such
        p = self.add("medallion-g", "--user", USER, "--check", "--pull", "intel=" + READ_ONLY,
                     token_file=self.token_file("nope\n", "nope"))
        self.assertEqual(p.returncode, 1, self.text(p))
        self.assertRegex(p.stdout.decode(), r"FAIL +authentication: .*HTTP 401")
        self.assertNotIn("medallion-g", self.node.peers())
        # the discovery URL instead of the API root
        p = self.add("medallion-g", "--user", USER, "--check", url=self.fake.url("taxii2"))
        self.assertEqual(p.returncode, 1, self.text(p))
        self.assertIn("discovery", p.stdout.decode())
        # nothing listening
        port = kzlib.free_port()
        p = self.add("medallion-g", "--user", USER, "--check",
                     url="http://127.0.0.1:%d/api1/" % port)
        self.assertEqual(p.returncode, 1, self.text(p))
        self.assertRegex(p.stdout.decode(), r"FAIL +connection: .*refused")
        # all well: added
        p = self.add("medallion-g", "--user", USER, "--check", "--pull", "intel=" + READ_ONLY,
                     "--push", "outbox=" + WRITABLE)
        self.assertEqual(p.returncode, 0, self.text(p))
        self.assertRegex(p.stdout.decode(), r"ok +push %s: .*can_write" % WRITABLE)
        self.assertIn("medallion-g", self.node.peers())
        # `peer check` of the stored peer, before and after the password changed
        p = self.node.run("peer", "check", "medallion-g", check=False)
        self.assertEqual(p.returncode, 0, self.text(p))
        self.assertRegex(p.stdout.decode(), r"ok +pull %s" % READ_ONLY)
        self.fake.password = "rotated-Pa55"
        p = self.node.run("peer", "check", "medallion-g", check=False)
        self.assertEqual(p.returncode, 1, self.text(p))
        self.assertRegex(p.stdout.decode(), r"FAIL +authentication: .*HTTP 401")

    def test_help_says_token_file(self):
        out = self.node.out("peer", "add", "--help")
        self.assertIn("--token-file", out)
        self.assertIn("ps", out)


class KizunaPeerCheckTest(unittest.TestCase):
    """--check and Bearer between two kizuna nodes (the default scheme)."""

    def setUp(self):
        self.a, self.b = fedlib.make_nodes("chk-a", "chk-b")
        self.a.collection("intel")
        self.a.collection("ro")
        _, self.tok = fedlib.admit(self.a, self.b, grants={"intel": ["user"]})
        self.a.grant("ro", user="chk-b", read=True, write=False)
        self.b.collection("local")
        self.a.import_objects("intel", [fedlib.sdo(marks=(fedlib.C2,))])
        self.a.start()

    def tearDown(self):
        self.a.cleanup()
        self.b.cleanup()

    def test_check_and_sync_with_bearer(self):
        tf = os.path.join(self.b.scratch, "tok")
        with open(tf, "w") as f:
            f.write(self.tok + "\n")
        p = self.b.run("peer", "add", "chk-a", "--url", self.a.url(), "--token-file", tf,
                       "--check", "--pull", "local=intel", "--push", "local=ro", check=False)
        self.assertEqual(p.returncode, 1, p.stdout.decode() + p.stderr.decode())
        out = p.stdout.decode()
        self.assertRegex(out, r"ok +authentication: accepted \(Bearer token\)")
        self.assertRegex(out, r"ok +pull intel")
        self.assertRegex(out, r"FAIL +push ro: .*can_write is false")
        self.assertNotIn("chk-a", self.b.peers())
        p = self.b.run("peer", "add", "chk-a", "--url", self.a.url(), "--token-file", tf,
                       "--check", "--pull", "local=intel", check=False)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.b.sync("chk-a")
        self.assertEqual(self.b.count("local"), 1)
        self.assertEqual(self.b.peer("chk-a")["auth"], "bearer")


class TlsCheckTest(unittest.TestCase):
    """--check names a certificate problem as TLS, before the first sync would."""

    def setUp(self):
        self.a, self.b = fedlib.make_nodes("tls-a", "tls-b")
        self.a.collection("intel")
        _, self.tok = fedlib.admit(self.a, self.b, grants={"intel": ["user"]})
        self.b.collection("local")
        self.a.start(tls=True)
        self.url = "https://127.0.0.1:%d/default/" % self.a.port
        self.tf = os.path.join(self.b.scratch, "tok")
        with open(self.tf, "w") as f:
            f.write(self.tok + "\n")

    def tearDown(self):
        self.a.cleanup()
        self.b.cleanup()

    def add(self, *extra):
        return self.b.run("peer", "add", "tls-a", "--url", self.url, "--token-file", self.tf,
                          "--check", "--pull", "local=intel", *extra, check=False)

    def test_untrusted_certificate_then_ca(self):
        p = self.add()
        self.assertEqual(p.returncode, 1, p.stdout.decode() + p.stderr.decode())
        self.assertRegex(p.stdout.decode(), r"FAIL +connection: TLS: the peer's certificate is "
                                            r"not trusted")
        self.assertNotIn("tls-a", self.b.peers())
        p = self.add("--ca", os.path.join(self.b.scratch, "no-such-ca.pem"))
        self.assertEqual(p.returncode, 1, p.stdout.decode() + p.stderr.decode())
        self.assertRegex(p.stdout.decode(), r"FAIL +connection: TLS: the CA file")
        p = self.add("--ca", self.a.cert)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertRegex(p.stdout.decode(), r"ok +connection: https, the peer's certificate "
                                            r"verified")
        self.assertIn("tls-a", self.b.peers())


if __name__ == "__main__":
    fedlib.main()
