#!/usr/bin/env python3
"""Uploads a server can survive: a per-user budget of request bodies in flight
and a timeout on bodies that stall or dribble (README, [server] upload_budget
and body_timeout).

One user's parallel large POSTs past the budget are refused with 429 while
another user's are not; the budget comes back when a request ends, however it
ends; a body that stops (or sends a byte now and then) has its connection
closed within the configured timeout. Requests are raw sockets so that a test
can hold a body half sent; every wait is for an event (a response, a close),
with a deadline.

Run: python3 tests/e2e/test_upload_limits.py  (KIZUNA=path/to/kizuna)
"""

import json
import os
import select
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402
import fedlib  # noqa: E402
from fedlib import C2, sdo  # noqa: E402

MIB = 1024 * 1024
MAX_BODY = 3 * MIB   # [server] max_content_length
BUDGET = 4 * MIB     # [server] upload_budget: one 3 MiB body fits, two do not


def setUpModule():
    kzlib.need_binary()


def envelope_of_size(size):
    """A valid TAXII envelope of exactly `size` bytes (one object, padded with JSON
    whitespace)."""
    body = json.dumps({"objects": [sdo(marks=[C2])]}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


class Upload:
    """A POST on its own connection: headers (Expect: 100-continue), then the body
    when the caller says."""

    def __init__(self, node, token, coll, length=None, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", node.port), timeout=timeout)
        self.buf = b""
        head = ["POST %s HTTP/1.1" % kzlib.objects_path(coll),
                "Host: 127.0.0.1:%d" % node.port,
                "Authorization: Bearer %s" % token,
                "Accept: %s" % kzlib.TAXII_MT,
                "Content-Type: %s" % kzlib.TAXII_MT,
                "Expect: 100-continue"]
        head.append("Content-Length: %d" % length if length is not None
                    else "Transfer-Encoding: chunked")
        self.s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())

    def status_line(self):
        """Waits for the next status line (100 Continue or the answer): its code."""
        while b"\r\n\r\n" not in self.buf:
            got = self.s.recv(65536)
            if not got:
                raise AssertionError("connection closed before an answer")
            self.buf += got
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        code = int(head.split(b" ", 2)[1])
        if code != 100:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            while len(self.buf) < length:
                got = self.s.recv(65536)
                if not got:
                    break
                self.buf += got
            self.body = self.buf[:length]
            self.buf = self.buf[length:]
        return code

    def send(self, data, chunked=False):
        if chunked:
            self.s.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.s.sendall(data)

    def end_chunks(self):
        self.s.sendall(b"0\r\n\r\n")

    def closed_within(self, seconds, trickle=None):
        """Waits until the server closes the connection, sending `trickle` bytes (one
        at a time, every 0.2 s) meanwhile if given. Returns the seconds it took, or
        None when it stayed open."""
        t0 = time.monotonic()
        deadline = t0 + seconds
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.s], [], [], 0.2)
            if r:
                try:
                    if not self.s.recv(65536):
                        return time.monotonic() - t0
                except (ConnectionResetError, BrokenPipeError):
                    return time.monotonic() - t0
            elif trickle:
                try:
                    self.s.sendall(trickle[:1])
                except (ConnectionResetError, BrokenPipeError):
                    return time.monotonic() - t0
                trickle = trickle[1:] or trickle
        return None

    def close(self):
        self.s.close()


class UploadCase(unittest.TestCase):
    BODY_TIMEOUT = None

    @classmethod
    def setUpClass(cls):
        n = cls.node = fedlib.FedNode("uploads").setup()
        try:
            n.set_conf("server", "max_content_length", str(MAX_BODY))
            n.set_conf("server", "upload_budget", str(BUDGET))
            if cls.BODY_TIMEOUT:
                n.set_conf("server", "body_timeout", str(cls.BODY_TIMEOUT))
            cls.coll = n.collection("intel")
            cls.alice = n.user_token("alice", "local", "contributor")
            cls.bob = n.user_token("bob", "local", "contributor")
            n.grant("intel", user="alice", write=True)
            n.grant("intel", user="bob", write=True)
            n.start()
        except BaseException:
            n.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.node.stop()
        cls.node.cleanup()
        if rc != 0:
            raise AssertionError("kizuna serve exited %r" % rc)

    def post_whole(self, token, size):
        u = Upload(self.node, token, self.coll, length=size)
        try:
            code = u.status_line()
            if code == 100:
                u.send(envelope_of_size(size))
                code = u.status_line()
            return code
        finally:
            u.close()


class TestUploadBudget(UploadCase):

    def test_1_parallel_uploads_past_the_budget(self):
        held = Upload(self.node, self.alice, self.coll, length=MAX_BODY)
        try:
            self.assertEqual(held.status_line(), 100)  # read and charged: the budget holds it
            body = envelope_of_size(MAX_BODY)
            held.send(body[:MIB])
            # alice's second upload does not fit beside the first: refused before its body
            second = Upload(self.node, self.alice, self.coll, length=MAX_BODY)
            try:
                self.assertEqual(second.status_line(), 429)
                self.assertIn(b"upload_budget", second.body)
            finally:
                second.close()
            # nor does a chunked one, which declares nothing: refused as it grows
            chunked = Upload(self.node, self.alice, self.coll)
            try:
                self.assertEqual(chunked.status_line(), 100)
                for _ in range(2):
                    chunked.send(b" " * MIB, chunked=True)
                chunked.end_chunks()
                self.assertEqual(chunked.status_line(), 429)
            finally:
                chunked.close()
            # bob is not alice: his as large upload goes through meanwhile
            self.assertEqual(self.post_whole(self.bob, MAX_BODY), 202)
            # alice's first upload was never disturbed
            held.send(body[MIB:])
            self.assertEqual(held.status_line(), 202)
        finally:
            held.close()
        # and her budget is whole again
        self.assertEqual(self.post_whole(self.alice, MAX_BODY), 202)

class TestBodyTimeout(UploadCase):
    BODY_TIMEOUT = 1

    def test_1_stalled_body_is_closed(self):
        u = Upload(self.node, self.bob, self.coll, length=100000)
        try:
            self.assertEqual(u.status_line(), 100)
            u.send(b'{"objects": [')
            took = u.closed_within(15)
            self.assertIsNotNone(took, "a stalled body kept its connection for 15 s "
                                 "(body_timeout = 1)")
            self.assertLess(took, 5)
        finally:
            u.close()
        # what it was charged came back: a full upload fits the budget again
        self.assertEqual(self.post_whole(self.bob, MAX_BODY), 202)

    def test_2_dribbling_body_is_closed(self):
        u = Upload(self.node, self.bob, self.coll, length=100000)
        try:
            self.assertEqual(u.status_line(), 100)
            took = u.closed_within(15, trickle=b" " * 1000)
            self.assertIsNotNone(took, "a body sent a byte at a time kept its connection")
            self.assertLess(took, 6)
        finally:
            u.close()

    def test_3_a_steady_body_is_not_closed(self):
        """A 3 MiB body sent at once is read whole with body_timeout = 1."""
        self.assertEqual(self.post_whole(self.alice, MAX_BODY), 202)

    def test_4_budget_returns_when_a_client_gives_up(self):
        u = Upload(self.node, self.alice, self.coll, length=MAX_BODY)
        self.assertEqual(u.status_line(), 100)
        u.send(b'{"objects": [')
        u.close()  # hangs up mid-body: the server notices, at the latest by the body timeout
        deadline = time.monotonic() + 15
        code = None
        while time.monotonic() < deadline:  # the server notices the hang-up: wait for it
            code = self.post_whole(self.alice, MAX_BODY)
            if code == 202:
                break
            self.assertEqual(code, 429)
        self.assertEqual(code, 202, "alice's budget stayed taken after her client hung up")


if __name__ == "__main__":
    kzlib.main()
