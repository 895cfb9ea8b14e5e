"""Running `kizuna serve`: TLS with the node's self-signed certificate, the
refusal to serve plain HTTP beyond loopback, the request log (one JSON line
per request, the user, never a token), SIGHUP reopening the log, `log = -`,
and SIGTERM draining a slow request in flight before exiting 0."""

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest
import warnings

import kzlib
from kzlib import TAXII_MT, Node, objects_path, manifest_path, qs, post_objects

BYTES_KEYS = ("bytes", "bytes_sent", "size", "response_bytes")
MICRO_KEYS = ("microseconds", "us", "usec", "duration_us", "micros", "elapsed_us")


def read_log_lines(path):
    try:
        with open(path, "rb") as f:
            return [ln for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        return []


class Ops(unittest.TestCase):
    """One node; each test starts and stops its own server."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node("ops")
        try:
            cls.node.init("ops-node")
            cls.coll = cls.node.collection_add("intel")
            cls.node.org_add("cert-jp", kind="cert")
            cls.node.user_add("alice", "cert-jp", role="contributor")
            cls.node.grant("intel", user="alice", read=True, write=True)
            cls.alice_tok = cls.node.token_create("alice")
        except BaseException:
            cls.node.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def tearDown(self):
        if self.node.proc is not None:
            rc = self.node.stop()
            self.assertEqual(rc, 0, "serve exited %r after SIGTERM" % rc)
        self.node.tls = False

    def stop_ok(self):
        rc = self.node.stop()
        self.assertEqual(rc, 0, "serve exited %r after SIGTERM; stderr:\n%s"
                         % (rc, self.node.stderr_text()[-2000:]))

    # ------------------------------------------------------------ TLS
    def test_tls_with_self_signed_cert(self):
        self.node.start(tls=True)
        for name in ("localhost", "127.0.0.1"):
            c = kzlib.Client("127.0.0.1", self.node.port, token=self.node.admin_token,
                             tls_ca=self.node.cert, server_hostname=name)
            r = c.get("/taxii2/")
            self.assertEqual(r.status, 200, r)
            self.assertTrue(kzlib.is_taxii21(r.header("content-type")))
        # Basic over TLS, and a POST
        c = self.node.client(token=self.alice_tok, user="alice")
        r = post_objects(c, self.coll, [kzlib.indicator(1)])
        self.assertEqual(r.status, 202, r)
        # without trusting the certificate the handshake fails
        ctx = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=5) as raw:
            with self.assertRaises(ssl.SSLError):
                ctx.wrap_socket(raw, server_hostname="localhost")
        # plain HTTP on the TLS port gets no TAXII answer
        try:
            status, body = _raw(self.node.port, b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\n"
                                b"Authorization: Bearer " + self.node.admin_token.encode() +
                                b"\r\nConnection: close\r\n\r\n")
        except (ConnectionResetError, BrokenPipeError):
            status, body = None, b""
        self.assertNotEqual(status, 200)
        self.assertNotIn(b"api_roots", body)
        # old protocol versions are refused
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.node.cert)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            ctx = None
        if ctx is not None:
            with socket.create_connection(("127.0.0.1", self.node.port), timeout=5) as raw:
                with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
                    ctx.wrap_socket(raw, server_hostname="localhost")
        self.stop_ok()

    def test_plain_http_refused_beyond_loopback(self):
        for host in ("0.0.0.0", "[::]"):
            with self.subTest(listen=host):
                port = kzlib.free_port()
                p = subprocess.run([kzlib.KIZUNA, "--home", self.node.home, "serve", "--listen",
                                    "%s:%d" % (host, port)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=20)
                self.assertEqual(p.returncode, 2, p)
                err = p.stderr.decode(errors="replace")
                self.assertRegex(err.lower(), r"tls|https|loopback",
                                 "the refusal must say why: %r" % err)

    def test_tls_on_any_address(self):
        self.node.start(tls=True, listen_host="0.0.0.0")
        r = self.node.admin().get("/taxii2/")
        self.assertEqual(r.status, 200, r)
        self.stop_ok()

    def test_plain_on_ipv6_loopback(self):
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.bind(("::1", 0))
            port = s.getsockname()[1]
            s.close()
        except OSError:
            self.skipTest("no IPv6 loopback here")
        self.node.start(listen_host="[::1]", port=port, wait=False)
        deadline = time.time() + 15
        while True:
            try:
                c = kzlib.Client("::1", port, token=self.node.admin_token)
                r = c.get("/taxii2/", timeout=2)
                break
            except OSError:
                if self.node.proc.poll() is not None:
                    rc = self.node.proc.returncode
                    self.node.proc = None
                    self.node._stderr.close()
                    self.fail("serve --listen [::1]:PORT exited %d: %s"
                              % (rc, self.node.stderr_text()[-300:]))
                self.assertLess(time.time(), deadline)
                time.sleep(0.1)
        self.assertEqual(r.status, 200, r)
        self.stop_ok()

    # ------------------------------------------------------------ the log
    def test_log_lines(self):
        log = self.node.log_path
        before = len(read_log_lines(log))
        self.node.start()
        alice = self.node.client(token=self.alice_tok)
        alice_basic = self.node.client(token=self.alice_tok, user="alice")
        self.assertEqual(alice.get("/default/collections/").status, 200)
        self.assertEqual(alice_basic.get(objects_path("intel") + "?limit=5").status, 200)
        self.assertEqual(self.node.client().get("/taxii2/").status, 401)
        self.assertEqual(self.node.client(token="kz_0123456789abcdef_bogus").get("/taxii2/")
                         .status, 401)
        r = post_objects(alice, self.coll, [kzlib.indicator(2)])
        self.assertEqual(r.status, 202)
        self.assertEqual(alice.get("/default/collections/nosuch/").status, 404)
        self.stop_ok()  # a stop drains the requests and writes their log lines
        lines = read_log_lines(log)[before:]
        self.assertGreaterEqual(len(lines), 6, lines)
        recs = []
        for ln in lines:
            try:
                rec = json.loads(ln)
            except ValueError:
                self.fail("log line is not JSON: %r" % ln)
            self.assertIsInstance(rec, dict)
            recs.append(rec)
        for rec in recs:
            for k in ("method", "path", "status", "user"):
                if k == "user" and rec.get("status") == 401:
                    continue
                self.assertIn(k, rec, "log record lacks %s: %r" % (k, rec))
            self.assertTrue(any(k in rec for k in BYTES_KEYS), "no byte count: %r" % rec)
            self.assertTrue(any(k in rec for k in MICRO_KEYS), "no duration in µs: %r" % rec)
            self.assertIsInstance(rec["status"], int)
            b = next(rec[k] for k in BYTES_KEYS if k in rec)
            us = next(rec[k] for k in MICRO_KEYS if k in rec)
            self.assertIsInstance(b, int)
            self.assertIsInstance(us, int)
            self.assertGreaterEqual(us, 0)
        byreq = {(r_["method"], r_["path"].split("?")[0], r_["status"]): r_ for r_ in recs}
        k = ("GET", "/default/collections/", 200)
        self.assertIn(k, byreq, recs)
        self.assertEqual(byreq[k]["user"], "alice")
        k = ("GET", objects_path("intel"), 200)
        self.assertIn(k, byreq, recs)
        self.assertEqual(byreq[k]["user"], "alice")
        self.assertIn(("POST", objects_path(self.coll), 202), byreq)
        self.assertIn(("GET", "/default/collections/nosuch/", 404), byreq)
        self.assertEqual(sum(1 for r_ in recs if r_["status"] == 401), 2)
        self.assertGreater(byreq[("GET", "/default/collections/", 200)].get(
            next(k_ for k_ in BYTES_KEYS if k_ in recs[0])), 0)
        # never a token, nor the Basic credentials, in the log
        with open(log, "rb") as f:
            text = f.read()
        secret = self.alice_tok.rsplit("_", 1)[1].encode()
        self.assertNotIn(secret, text)
        self.assertNotIn(self.node.admin_token.rsplit("_", 1)[1].encode(), text)
        self.assertNotIn(base64.b64encode(("alice:" + self.alice_tok).encode()), text)
        self.assertNotIn(b"bogus", text)

    def test_sighup_reopens_log(self):
        log = self.node.log_path
        self.node.start()
        admin = self.node.admin()
        admin.get("/default/collections/mark-a/")
        kzlib.wait_until(lambda: "mark-a" in "".join(read_log_lines(log)), what="mark-a logged")
        moved = log + ".1"
        os.rename(log, moved)
        admin.get("/default/collections/mark-b/")
        kzlib.wait_until(lambda: "mark-b" in "".join(read_log_lines(moved)),
                         what="mark-b logged in the moved file")
        self.node.signal(signal.SIGHUP)
        # the signal is handled while requests go on: ask for mark-c only
        # once the new file is there
        kzlib.wait_until(lambda: os.path.exists(log), timeout=30,
                         what="SIGHUP to reopen %s" % log)
        admin.get("/default/collections/mark-c/")
        kzlib.wait_until(lambda: "mark-c" in "".join(read_log_lines(log)), timeout=30,
                         what="mark-c logged in the new file")
        new = "\n".join(read_log_lines(log))
        old = "\n".join(read_log_lines(moved))
        self.assertIn("mark-c", new)
        self.assertNotIn("mark-a", new)
        self.assertIn("mark-a", old)
        self.assertIn("mark-b", old)
        self.assertNotIn("mark-c", old)
        for ln in read_log_lines(log):
            json.loads(ln)
        # still serving, still logging after a second SIGHUP with nothing moved
        self.node.signal(signal.SIGHUP)
        self.assertEqual(admin.get("/taxii2/").status, 200)
        kzlib.wait_until(lambda: any("/taxii2/" in ln for ln in read_log_lines(log)),
                         what="the request after the second SIGHUP logged")
        self.assertIsNone(self.node.proc.poll())
        self.stop_ok()
        os.remove(moved)

    def test_log_to_stderr(self):
        conf = os.path.join(self.node.home, "kizuna.conf")
        with open(conf) as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^log\s*=")
        try:
            with open(conf, "w") as f:
                f.write(re.sub(r"(?m)^log\s*=.*$", "log = -", text))
            self.node.start()
            self.node.admin().get("/default/collections/stderr-mark/")
            self.stop_ok()  # a stop drains the requests and writes their log lines
            lines = [ln for ln in self.node.stderr_text().splitlines() if "stderr-mark" in ln]
            self.assertTrue(lines, "no log line on stderr with log = -")
            json.loads(lines[-1][lines[-1].index("{"):])
        finally:
            with open(conf, "w") as f:
                f.write(text)

    # ------------------------------------------------------------ SIGTERM
    def test_sigterm_drains_in_flight_request(self):
        self.node.start()
        n = 6000
        objs = [kzlib.indicator(200000 + i) for i in range(n)]
        body = json.dumps(kzlib.envelope(objs)).encode()
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                "Accept: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (objects_path(self.coll), self.node.admin_token, TAXII_MT, TAXII_MT,
                   len(body))).encode()
        s = socket.create_connection(("127.0.0.1", self.node.port), timeout=30)
        proc = self.node.proc
        try:
            s.sendall(head)
            step = max(1, len(body) // 40)
            termed = False
            for i in range(0, len(body), step):
                s.sendall(body[i:i + step])
                time.sleep(0.04)
                if not termed and i >= len(body) // 4:
                    proc.send_signal(signal.SIGTERM)
                    termed = True
            t_term = time.monotonic()
            resp = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                resp += c
                if b"\r\n\r\n" in resp:
                    head_, _, rest = resp.partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length:\s*(\d+)", head_)
                    if m and len(rest) >= int(m.group(1)):
                        break
        finally:
            s.close()
        self.assertTrue(resp.startswith(b"HTTP/1.1 202"), "in-flight POST after SIGTERM: %r"
                        % resp[:300])
        st = json.loads(resp.partition(b"\r\n\r\n")[2])
        self.assertEqual(st.get("success_count"), n, st)
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            self.fail("serve did not exit within 20 s of SIGTERM after draining")
        self.node.proc = None
        self.node._stderr.close()
        self.assertEqual(rc, 0, "exit status after SIGTERM: %r" % rc)
        self.assertLess(time.monotonic() - t_term, 20)
        # durable: a new server has every object
        self.node.start()
        items, _ = kzlib.walk_pages(self.node.admin(), manifest_path(self.coll), limit=10000)
        have = {m["id"] for m in items}
        self.assertTrue({o["id"] for o in objs} <= have)
        self.stop_ok()

    def test_sigterm_idle_exits_0_quickly(self):
        self.node.start()
        t0 = time.monotonic()
        self.stop_ok()
        self.assertLess(time.monotonic() - t0, 5.0)

    def test_sigterm_with_idle_keepalive_connection(self):
        self.node.start()
        s = socket.create_connection(("127.0.0.1", self.node.port), timeout=5)
        try:
            s.sendall(("GET /taxii2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                       % self.node.admin_token).encode())
            self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 200"))  # waits for the answer
            t0 = time.monotonic()
            self.stop_ok()
            self.assertLess(time.monotonic() - t0, 15.0,
                            "an idle keep-alive connection held up shutdown")
        finally:
            s.close()


def _raw(port, data, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                buf += c
        except socket.timeout:
            pass
    finally:
        s.close()
    status = None
    if buf.startswith(b"HTTP/1."):
        try:
            status = int(buf.split(b" ", 2)[1])
        except (IndexError, ValueError):
            pass
    return status, buf


if __name__ == "__main__":
    kzlib.main()
