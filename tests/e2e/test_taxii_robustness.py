"""Hostile and heavy clients: path traversal and percent-encoding tricks in
ids and aliases, very long paths and headers, bodies over max_content_length
(Content-Length over the limit, a lying Content-Length, chunked encoding),
slowloris, and thousands of idle connections while other clients are served."""

import json
import os
import resource
import select
import socket
import threading
import time

import kzlib
from kzlib import TAXII_MT, NodeTestCase, objects_path, post_objects

FILE_MARKERS = (b"root:x:0:0", b"SQLite format 3", b"[server]", b"BEGIN ", b"PRIVATE KEY",
                b"signing_key", b"/bin/sh")


def raw_request(port, data, timeout=10.0, read_limit=1 << 20):
    """Sends raw bytes, reads until close/timeout. Returns (status or None, bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        try:
            while len(buf) < read_limit:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if b"\r\n\r\n" in buf:
                    head, _, rest = buf.partition(b"\r\n\r\n")
                    cl = None
                    for line in head.split(b"\r\n")[1:]:
                        if line.lower().startswith(b"content-length:"):
                            cl = int(line.split(b":", 1)[1].strip())
                    if cl is not None and len(rest) >= cl:
                        break
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        s.close()
    status = None
    if buf.startswith(b"HTTP/1."):
        try:
            status = int(buf.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = None
    return status, buf


class Robustness(NodeTestCase):
    node_name = "robust-node"

    @classmethod
    def setUpClass(cls):
        # sockets for the flood test: the server inherits the raised limit
        cls.nofile = kzlib.raise_nofile(20480)
        super().setUpClass()

    @classmethod
    def setup_node(cls, node):
        cls.coll = node.collection_add("intel")
        node.collection_add("other")

    def setUp(self):
        self.admin = self.node.admin()
        self.auth = ("Authorization: Bearer %s\r\n" % self.node.admin_token).encode()

    def alive(self):
        r = self.admin.get("/taxii2/", timeout=10)
        self.assertEqual(r.status, 200, "server not healthy afterwards: %r" % r)

    def assertHarmless(self, status, body, what, allow_200=False):
        self.assertIsNotNone(status, "%s: no HTTP answer (%r)" % (what, body[:200]))
        if allow_200:
            self.assertIn(status // 100, (2, 4), "%s -> %d" % (what, status))
        else:
            self.assertEqual(status // 100, 4, "%s -> %d %r" % (what, status, body[:300]))
        for m in FILE_MARKERS:
            self.assertNotIn(m, body, "%s leaked file content %r" % (what, m))

    # ------------------------------------------------------------ paths
    def test_traversal_and_encoding_tricks(self):
        c = self.coll
        paths = [
            "/default/collections/..%2f..%2f..%2fetc%2fpasswd/objects/",
            "/default/collections/%2e%2e%2f%2e%2e%2fkizuna.db/",
            "/default/collections/%2e%2e/objects/",
            "/default/collections/intel/objects/..%2f..%2f..%2f..%2fetc%2fpasswd/",
            "/default/collections/intel/objects/%2e%2e/",
            "/default/collections/intel/objects/%2e%2e/versions/",
            "/default/collections/intel%00/objects/",
            "/default/collections/intel%00.json/objects/",
            "/default/collections/%s%%00/objects/" % c,
            "/default/collections/intel/objects/indicator--%00/",
            "/default/collections/intel/objects/indicator--00000000-0000-4000-8000-000000000000%00/",
            "/default/collections/%252e%252e%252f%252e%252e%252fetc%252fpasswd/objects/",
            "/default/collections/intel/objects/%252e%252e%252fkizuna.conf/",
            "/default/collections/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd/objects/",
            "/default/collections/%e0%80%ae%e0%80%ae%e0%80%af/objects/",
            "/default/collections/%c0%af/objects/",
            "/default/collections/%ff%fe/objects/",
            "/default/collections/intel/objects/indicator--%2e%2e%2f%2e%2e/versions/",
            "/default/collections/intel/objects/indicator--0000%2f..%2f..%2fkizuna.db/",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/default%2fcollections%2f/",
            "/default/collections/intel;/objects/",
            "/default/collections/intel%3b/objects/",
            "/default/status/..%2f..%2fkizuna.log/",
            "/default/status/%2e%2e%2fkizuna.conf",
            "/taxii2/..%2f..%2fkizuna.conf",
            "/default/collections/%2561%2562/objects/",
            "/default/collections/intel%20/objects/",
            "/default/collections/%u002e%u002e/objects/",
            "/default/collections/\u00e9/objects/".encode("utf-8").decode("latin-1"),
            "/default/collections/" + "%41" * 3000 + "/objects/",
        ]
        for p in paths:
            with self.subTest(path=p[:120]):
                data = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: %s\r\n"
                        % (p, TAXII_MT)).encode("latin-1") + self.auth + b"Connection: close\r\n\r\n"
                status, body = raw_request(self.node.port, data)
                self.assertHarmless(status, body, p[:120])
                if status is not None and b"\r\n\r\n" in body:
                    head = body.split(b"\r\n\r\n", 1)[0].lower().replace(b" ", b"")
                    self.assertIn(b"content-type:application/taxii+json;version=2.1", head, p)
        self.alive()

    def test_raw_dot_segments_and_bytes(self):
        raw_paths = [b"/../../../../etc/passwd", b"/default/../../../../etc/passwd",
                     b"/default/collections/../../../../../etc/passwd/",
                     b"/default/collections/intel/objects/../../../../../kizuna.db/",
                     b"/default/collections/./intel/../intel/objects/../../../../kizuna.conf",
                     b"/default/collections/\xc0\xae\xc0\xae/objects/",
                     b"/default/collections/\xff\xfe/objects/",
                     b"/default/collections/intel/objects/indicator--\x01/",
                     b"//etc/passwd", b"/default//collections//intel//objects//",
                     b"\\..\\..\\etc\\passwd", b"/default/collections/intel\\..\\..\\kizuna.db"]
        for p in raw_paths:
            with self.subTest(path=p):
                data = (b"GET " + p + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: " +
                        TAXII_MT.encode() + b"\r\n" + self.auth + b"Connection: close\r\n\r\n")
                status, body = raw_request(self.node.port, data)
                self.assertHarmless(status, body, repr(p))
        self.alive()

    def test_tricks_in_query_strings(self):
        qss = ["?match[id]=../../etc/passwd", "?match[type]=%00", "?match[id]=%ff%fe",
               "?match[type]=indicator%00malware", "?added_after=%00",
               "?next=..%2f..%2fkizuna.db", "?limit=1%00", "?match[version]=%c0%ae",
               "?" + "&".join("p%d=%d" % (i, i) for i in range(3000)),
               "?match[type]=" + ",".join(["indicator"] * 2000),
               "?match%5Btype%5D=indicator", "?match[type]]=x", "?match[=x", "?=&&=&",
               "?match[type]=a&match[type]=b&" * 50]
        for q in qss:
            with self.subTest(query=q[:100]):
                data = ("GET %s%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: %s\r\n"
                        % (objects_path(self.coll), q, TAXII_MT)).encode("latin-1")
                status, body = raw_request(self.node.port, data + self.auth +
                                           b"Connection: close\r\n\r\n")
                self.assertHarmless(status, body, q[:100], allow_200=True)
        self.alive()

    def test_very_long_path_and_headers(self):
        cases = [
            ("path 16k", b"/default/collections/" + b"a" * 16000 + b"/objects/", b""),
            ("dots 5k", b"/default/" + b"%2e%2e/" * 5000, b""),
            ("path 200k", b"/default/collections/" + b"b" * 200000 + b"/", b""),
            ("header 100k", b"/taxii2/", b"X-Big: " + b"x" * 100000 + b"\r\n"),
            ("2000 headers", b"/taxii2/",
             b"".join(b"X-H%d: v\r\n" % i for i in range(2000))),
            ("huge auth", b"/taxii2/", b"Authorization: Bearer " + b"k" * 60000 + b"\r\n"),
        ]
        for name, path, extra in cases:
            with self.subTest(case=name):
                auth = b"" if b"Authorization" in extra else self.auth
                data = (b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: " +
                        TAXII_MT.encode() + b"\r\n" + auth + extra +
                        b"Connection: close\r\n\r\n")
                try:
                    status, body = raw_request(self.node.port, data)
                except (BrokenPipeError, ConnectionResetError):
                    status, body = "closed", b""
                if status != "closed" and status is not None:
                    self.assertHarmless(status, body, name)
                # else: the server hung up on an oversized request, which is fine
        self.alive()

    def test_malformed_requests(self):
        reqs = [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
                b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                b"POST /default/collections/intel/objects/ HTTP/1.1\r\nHost: x\r\n"
                b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                b"POST /default/collections/intel/objects/ HTTP/1.1\r\nHost: x\r\n"
                b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n0\r\n\r\n",
                b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe\r\n\r\n",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64)]
        for data in reqs:
            with self.subTest(req=data[:50]):
                try:
                    status, body = raw_request(self.node.port, data, timeout=10)
                except (BrokenPipeError, ConnectionResetError):
                    continue
                if status is not None:
                    if status != 505:  # HTTP Version Not Supported is fine
                        self.assertNotEqual(status // 100, 5, "%r -> %d" % (data[:50], status))
                    self.assertNotEqual(status // 100, 2, "%r -> %d" % (data[:50], status))
        self.alive()

    # ------------------------------------------------------------ bodies
    def max_content_length(self):
        return self.admin.get("/default/").json["max_content_length"]

    def test_413_chunked_not_read_to_the_end(self):
        mcl = self.max_content_length()
        limit_to_send = 2 * mcl + (16 << 20)
        s = socket.create_connection(("127.0.0.1", self.node.port), timeout=10)
        sent = 0
        got = b""
        try:
            head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: %s\r\nContent-Type: %s\r\n"
                    "Transfer-Encoding: chunked\r\n" % (objects_path(self.coll), TAXII_MT,
                                                         TAXII_MT)).encode()
            s.sendall(head + self.auth + b"\r\n")
            # a valid JSON prefix all the way (no nesting), so only the size can stop it
            first = b'{"objects": [' + b" " * ((1 << 20) - 13)
            piece = b" " * (1 << 20)
            chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
            s.sendall(b"%x\r\n" % len(first) + first + b"\r\n")
            sent = len(first)
            s.settimeout(2.0)
            while sent < limit_to_send:
                r, _, _ = select.select([s], [], [], 0)
                if r:
                    break
                try:
                    s.sendall(chunk)
                except socket.timeout:
                    break  # the server stopped reading
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(piece)
            s.settimeout(10.0)
            try:
                while b"\r\n\r\n" not in got:
                    c = s.recv(65536)
                    if not c:
                        break
                    got += c
            except (ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
        # A chunked body has no declared length, so the cap is found while
        # reading. libmicrohttpd cannot answer before the body ends, so
        # kizuna answers 413 when the client stops within 16 MiB past the
        # cap, and otherwise hangs up (HTTP allows closing the connection on
        # an oversized request). Either way it never reads the whole body.
        if got:
            self.assertTrue(got.startswith(b"HTTP/1.1 413") or got.startswith(b"HTTP/1.0 413"),
                            "wanted 413 or a closed connection for a chunked body over %d "
                            "bytes; sent %d, got %r" % (mcl, sent, got[:200]))
            self.assertIn(b"application/taxii+json", got.lower().replace(b" ", b""))
        self.assertLess(sent, limit_to_send, "the server read the whole oversized body")
        self.alive()

    def test_lying_content_length(self):
        # Content-Length says 20 bytes, 5 MiB follow: the 20 bytes are the body
        # (not JSON: 400); the rest is no valid request (4xx or the connection closes)
        junk = b"x" * (5 << 20)
        data = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: %s\r\nContent-Type: %s\r\n"
                "Content-Length: 20\r\n" % (objects_path(self.coll), TAXII_MT, TAXII_MT)).encode()
        try:
            status, body = raw_request(self.node.port, data + self.auth + b"\r\n" + junk)
        except (BrokenPipeError, ConnectionResetError):
            status, body = None, b""
        if status is not None:
            self.assertEqual(status // 100, 4, body[:300])
        # a Content-Length larger than what is sent, then the client goes quiet:
        # the server must not hang on to it forever nor answer 2xx
        self.alive()

    def test_body_at_limit_boundary(self):
        # a body just under max_content_length is never 413 (4.2.1)
        mcl = self.max_content_length()
        if mcl > (128 << 20):
            self.skipTest("max_content_length %d too large to post quickly" % mcl)
        obj = kzlib.indicator(1)
        body = json.dumps(kzlib.envelope([obj])).encode()
        body = body[:-1] + b" " * (mcl - 1 - len(body)) + b"}"
        r = self.admin.post(objects_path(self.coll), body, content_type=TAXII_MT)
        self.assertEqual(r.status, 202, r)

    # ------------------------------------------------------------ slowloris
    def test_slowloris_is_timed_out(self):
        n_slow = 20
        cap = 45.0
        socks = []
        for _ in range(n_slow):
            s = socket.create_connection(("127.0.0.1", self.node.port), timeout=5)
            s.sendall(b"GET /taxii2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            s.setblocking(False)
            socks.append(s)
        closed_at = {}
        latencies = []
        failures = []
        t0 = time.monotonic()
        next_client = t0
        try:
            while len(closed_at) < n_slow and time.monotonic() - t0 < cap:
                for i, s in enumerate(socks):
                    if i in closed_at:
                        continue
                    try:
                        s.send(b"a")
                        r, _, _ = select.select([s], [], [], 0)
                        if r:
                            data = s.recv(4096)
                            if not data or data.startswith(b"HTTP/"):
                                closed_at[i] = time.monotonic() - t0
                    except (BrokenPipeError, ConnectionResetError, BlockingIOError, OSError):
                        closed_at[i] = time.monotonic() - t0
                # other clients are served normally meanwhile
                if time.monotonic() >= next_client:
                    c0 = time.monotonic()
                    r = self.admin.get("/default/collections/", timeout=10)
                    latencies.append(time.monotonic() - c0)
                    if r.status != 200:
                        failures.append(r)
                    next_client = time.monotonic() + 0.5
                time.sleep(1.0)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(failures, [])
        self.assertTrue(latencies and max(latencies) < 2.0,
                        "normal clients were slowed down: max %.2fs" % max(latencies or [0]))
        self.assertEqual(len(closed_at), n_slow,
                         "%d of %d slowloris connections still open after %.0fs (one header "
                         "byte per second must be timed out)" % (n_slow - len(closed_at), n_slow,
                                                                 cap))
        print("slowloris connections dropped after %.1f..%.1fs" %
              (min(closed_at.values()), max(closed_at.values())))
        self.alive()

    # ------------------------------------------------------------ connection flood
    def test_many_idle_connections(self):
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft >= 10000 + 600:
            n = 10000
        elif soft >= 2000 + 300:
            n = 2000
        else:
            self.skipTest("RLIMIT_NOFILE %d is too low for 2,000 sockets" % soft)
        socks, refused = [], 0
        t0 = time.monotonic()
        try:
            for _ in range(n):
                if time.monotonic() - t0 > 60:
                    break
                try:
                    s = socket.create_connection(("127.0.0.1", self.node.port), timeout=5)
                    socks.append(s)
                except OSError:
                    refused += 1
            opened = time.monotonic() - t0
            results, errors = [], []

            def worker():
                c = self.node.admin()
                for _ in range(5):
                    c0 = time.monotonic()
                    try:
                        r = c.get(objects_path(self.coll), timeout=10)
                        results.append((r.status, time.monotonic() - c0))
                    except OSError as e:
                        errors.append(e)
            threads = [threading.Thread(target=worker) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            # a POST works too
            r = post_objects(self.node.admin(), self.coll, [kzlib.indicator(3)])
            self.assertEqual(r.status, 202, r)
        finally:
            for s in socks:
                s.close()
        print("opened %d idle connections (%d refused) in %.1fs" % (len(socks), refused, opened))
        self.assertEqual(errors, [], "requests failed while %d connections were idle" % n)
        self.assertEqual(len(results), 20)
        self.assertTrue(all(st == 200 for st, _ in results), results)
        worst = max(t for _, t in results)
        self.assertLess(worst, 2.0, "a request took %.2fs with %d idle connections" % (worst, n))
        self.assertGreaterEqual(len(socks), n - n // 100,
                                "only %d of %d connections could be opened (%d refused)"
                                % (len(socks), n, refused))
        self.alive()


if __name__ == "__main__":
    kzlib.main()
