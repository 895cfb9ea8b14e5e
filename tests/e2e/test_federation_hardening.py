#!/usr/bin/env python3
"""Federation against a hostile relay or peer: replayed signed pages,
AMBER+STRICT leaving the node, plain-HTTP peer URLs that only look like
loopback, a peer page over the cap, and a checkpoint pushed into the far
future.

The contract is docs/FEDERATION.md ("Signatures", "Pull", "Push",
"Resilience") and docs/SHARING.md (AMBER+STRICT: "federation never widens
it"). Nodes run on loopback; the relays are fedlib.Proxy subclasses that
record, replay or rewrite what passes.

Run: python3 tests/e2e/test_federation_hardening.py  (KIZUNA=path/to/kizuna)
"""

import calendar
import json
import os
import sys
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402
import fedlib  # noqa: E402
from fedlib import A2, AS2, C2, sdo  # noqa: E402

SKEW_S = 300  # FEDERATION.md: a peer's clock may be this far from ours


def setUpModule():
    kzlib.need_binary()


class FedCase(unittest.TestCase):
    nodes = ()
    proxies = ()

    @classmethod
    def tearDownClass(cls):
        for p in cls.proxies:
            try:
                p.close()
            except Exception:
                pass
        errors = []
        for n in cls.nodes:
            try:
                if n.proc is not None and n.stop() != 0:
                    errors.append("%s did not stop cleanly:\n%s" % (n.node_name,
                                                                    n.stderr_text()[-1500:]))
            finally:
                n.cleanup()
        if errors:
            raise AssertionError("\n".join(errors))

    def held(self, node, coll):
        return {o["id"] for o in node.export(coll)}


class ReplayRelay(fedlib.Proxy):
    """Forwards, and keeps every objects page it saw by request path; once `replay`
    is set, answers a request for a path it kept with the kept page (status, headers,
    the signature among them, and body) instead of asking the node."""

    def __init__(self, port):
        super().__init__(port)
        self.kept = {}
        self.replay = False
        self.replayed = 0
        self.strip_nonce = False
        orig = self._forward

        def forward(h, path, body):
            with self.lock:
                kept = self.kept.get(path) if self.replay else None
            if kept is not None:
                with self.lock:
                    self.replayed += 1
                return kept
            if self.strip_nonce:
                del h.headers["X-Kizuna-Nonce"]
                h.headers.replace_header("X-Kizuna-Want-Signature", "v1")
            got = orig(h, path, body)
            if got[0] == 200 and "/objects/" in path:
                with self.lock:
                    self.kept.setdefault(path, got)
            return got
        self._forward = forward


class TestReplayedPages(FedCase):
    """A relay keeps a signed page and serves it again for a new request for the same
    target (a new link starts from the same empty checkpoint): sync refuses it, so the
    relay cannot withhold what the peer added since."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("a-node", "b-node")
        try:
            a, b = cls.A, cls.B = cls.nodes
            a.collection("intel")
            for c in ("first", "second", "third"):
                b.collection(c)
            _, cls.tok = fedlib.admit(a, b, grants={"intel": ["user"]})
            cls.old = [sdo(marks=[C2], name="old %d" % i) for i in range(3)]
            a.import_objects("intel", cls.old)
            a.start()
            cls.relay = ReplayRelay(a.port)
            cls.proxies = [cls.relay]
            cls.key = a.node_key()
        except BaseException:
            cls.tearDownClass()
            raise

    def test_1_replayed_page_is_refused(self):
        a, b, relay = self.A, self.B, self.relay
        b.peer_add("a-node", relay.url(), self.tok, pull=[("first", "intel")], key=self.key)
        b.sync("a-node", expect=0)
        self.assertEqual(self.held(b, "first"), {o["id"] for o in self.old})
        self.assertTrue(relay.kept, "the relay kept no page")
        # the peer adds an object; the relay answers the next identical request with
        # the page it kept, which does not have it
        new = sdo(marks=[C2], name="added after the capture")
        a.import_objects("intel", [new])
        relay.replay = True
        b.peer_add("a-node-2", relay.url(), self.tok, pull=[("second", "intel")], key=self.key)
        run = b.sync("a-node-2", expect=None)
        self.assertGreater(relay.replayed, 0, "the relay replayed nothing")
        err = run.stderr.decode(errors="replace")
        self.assertEqual(run.returncode, 1, "a replayed page must fail the sync; stderr: %s"
                         % err[-1500:])
        self.assertIn("this request", fedlib.peer_last_error(b.peer("a-node-2")) or "")
        self.assertEqual(self.held(b, "second"), set(), "objects of a replayed page were stored")
        # the same link through an honest path gets everything, the new object too
        relay.replay = False
        relay.kept.clear()
        b.sync("a-node-2", expect=0)
        self.assertEqual(self.held(b, "second"), {o["id"] for o in self.old} | {new["id"]})

    def test_2_stripped_nonce_is_refused(self):
        """A relay that strips the nonce (so the node signs v1, replayable) is refused."""
        b, relay = self.B, self.relay
        relay.replay = False
        relay.strip_nonce = True
        try:
            b.peer_add("a-node-3", relay.url(), self.tok, pull=[("third", "intel")],
                       key=self.key)
            run = b.sync("a-node-3", expect=None)
        finally:
            relay.strip_nonce = False
        self.assertEqual(run.returncode, 1, "a v1 page must be refused from a peer with --key")
        self.assertIn("kizuna-sig-v1", fedlib.peer_last_error(b.peer("a-node-3")) or "")
        self.assertEqual(self.held(b, "third"), set())

    def test_4_stale_signing_time_is_refused(self):
        """A page whose signed time is more than 300 s from the puller's clock is refused
        before its signature is even checked."""
        b, relay = self.B, self.relay
        orig = relay._send

        def old_time(h, status, headers, body):
            out = []
            for k, v in headers:
                if k.lower() == "x-kizuna-signature" and v.startswith("v2 "):
                    _, when, sig = v.split(" ", 2)
                    v = "v2 %d %s" % (int(when) - SKEW_S - 60, sig)
                out.append((k, v))
            orig(h, status, out, body)
        relay._send = old_time
        try:
            b.collection("fourth")
            b.peer_add("a-node-4", relay.url(), self.tok, pull=[("fourth", "intel")],
                       key=self.key)
            run = b.sync("a-node-4", expect=None)
        finally:
            relay._send = orig
        self.assertEqual(run.returncode, 1)
        self.assertIn("more than %d s from this node's clock" % SKEW_S,
                      fedlib.peer_last_error(b.peer("a-node-4")) or "")
        self.assertEqual(self.held(b, "fourth"), set())

    def test_3_server_signs_per_request(self):
        """Old clients (v1, no nonce) still get v1; v2 binds nonce and time; a v2 request
        without a usable nonce is a 400."""
        a = self.A
        c = a.client(token=self.tok)
        path = kzlib.objects_path(a.colls["intel"]) + "?limit=2"
        r1 = c.get(path, headers={"X-Kizuna-Want-Signature": "v1"})
        self.assertEqual(r1.status, 200)
        self.assertTrue((r1.header("X-Kizuna-Signature") or "").startswith("v1 "))
        sigs = set()
        for _ in range(2):  # the second answer comes from the response cache
            nonce = uuid.uuid4().hex
            r = c.get(path, headers={"X-Kizuna-Want-Signature": "v2", "X-Kizuna-Nonce": nonce})
            self.assertEqual(r.status, 200)
            sig = r.header("X-Kizuna-Signature") or ""
            parts = sig.split(" ")
            self.assertEqual(len(parts), 3, sig)
            self.assertEqual(parts[0], "v2")
            self.assertLess(abs(int(parts[1]) - time.time()), 60, "signed time is not now")
            sigs.add(parts[2])
        self.assertEqual(len(sigs), 2, "two nonces, one signature: the nonce is not signed")
        for bad in (None, "short", "x" * 129, "bad nonce with spaces!!"):
            hdr = {"X-Kizuna-Want-Signature": "v2"}
            if bad is not None:
                hdr["X-Kizuna-Nonce"] = bad
            self.assertEqual(c.get(path, headers=hdr).status, 400, repr(bad))


FAR = "9999-12-31T23:59:59.999999Z"


class RewriteRelay(fedlib.Proxy):
    """Forwards, rewriting X-TAXII-Date-Added-Last of objects pages to `date` while
    `date` is set."""

    def __init__(self, port):
        super().__init__(port)
        self.date = None
        orig = self._send

        def send(h, status, headers, body):
            if self.date:
                headers = [(k, self.date if k.lower() == "x-taxii-date-added-last" else v)
                           for k, v in headers]
            orig(h, status, headers, body)
        self._send = send


def ts_seconds(text):
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


class TestFarFutureCheckpoint(FedCase):
    """A peer says its page ends at 9999-12-31: the link's checkpoint moves no further
    than now plus the allowed skew, and what the peer adds later still arrives."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("a-node", "b-node")
        try:
            a, b = cls.A, cls.B = cls.nodes
            a.collection("intel")
            b.collection("plain")
            b.collection("signed")
            _, cls.tok = fedlib.admit(a, b, grants={"intel": ["user"]})
            a.import_objects("intel", [sdo(marks=[C2]) for _ in range(3)])
            a.start()
            cls.relay = RewriteRelay(a.port)
            cls.proxies = [cls.relay]
        except BaseException:
            cls.tearDownClass()
            raise

    def checkpoints(self, peer):
        return [c for c in fedlib.peer_checkpoints(self.B.peer(peer)) if c]

    def test_1_checkpoint_capped(self):
        a, b, relay = self.A, self.B, self.relay
        b.peer_add("a-node", relay.url(), self.tok, pull=[("plain", "intel")])
        relay.date = FAR
        t0 = time.time()
        b.sync("a-node", expect=0)
        self.assertEqual(b.count("plain"), 3)
        for cp in self.checkpoints("a-node"):
            self.assertLessEqual(ts_seconds(cp), time.time() + SKEW_S,
                                 "checkpoint %s is past now + %d s (synced at %d)"
                                 % (cp, SKEW_S, t0))
        # the peer adds an object; the relay is honest again: it arrives
        later = sdo(marks=[C2], name="added after the far-future page")
        a.import_objects("intel", [later])
        relay.date = None
        b.sync("a-node", expect=0)
        self.assertIn(later["id"], self.held(b, "plain"))

    def test_2_signed_date_cannot_be_rewritten(self):
        """With --key the date is signed with the page: a rewritten one is refused."""
        b, relay = self.B, self.relay
        b.peer_add("a-node-signed", relay.url(), self.tok, pull=[("signed", "intel")],
                   key=self.A.node_key())
        relay.date = FAR
        try:
            run = b.sync("a-node-signed", expect=None)
        finally:
            relay.date = None
        self.assertEqual(run.returncode, 1)
        self.assertEqual(b.count("signed"), 0)


class TestHugePageOnce(FedCase):
    """FEDERATION.md: 'a page larger than 64 MiB is refused' - fetched once, not retried,
    with an error naming the cap."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("a-node", "b-node")
        try:
            a, b = cls.A, cls.B = cls.nodes
            a.collection("intel")
            b.collection("intel")
            _, cls.tok = fedlib.admit(a, b, grants={"intel": ["user"]})
            a.start()
            cls.p = fedlib.Proxy(a.port, keep_bodies=False)
            cls.proxies = [cls.p]
        except BaseException:
            cls.tearDownClass()
            raise

    def test_huge_page_fetched_once(self):
        b, p = self.B, self.p
        b.peer_add("a-node", p.url(), self.tok, pull=[("intel", "intel")])
        p.set("huge")
        run = b.sync("a-node", expect=None)
        self.assertEqual(run.returncode, 1)
        gets = [e for e in p.exchanges("GET") if e.is_objects_get()]
        self.assertEqual(len(gets), 1, "the huge page was asked for %d times" % len(gets))
        err = fedlib.peer_last_error(b.peer("a-node")) or ""
        self.assertIn("64 MiB", err)


class TestPlainHttpLoopbackOnly(unittest.TestCase):
    """Plain http only to a loopback address, not to a name that starts with '127.'."""

    @classmethod
    def setUpClass(cls):
        cls.node = fedlib.FedNode("a-node").setup()

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def test_urls(self):
        tok = "kz_" + "0" * 8
        cases = [
            ("http://127.evil.example:8470/default/", False),
            ("http://127.0.0.1.nip.example/default/", False),
            ("http://127.0.0.1@evil.example/default/", False),
            ("http://10.0.0.1:8470/default/", False),
            ("http://127.0.0.1:8470/default/", True),
            ("http://127.3.4.5:8470/default/", True),
            ("http://[::1]:8470/default/", True),
            ("http://localhost:8470/default/", True),
            ("https://127.evil.example:8470/default/", True),
        ]
        for i, (url, ok) in enumerate(cases):
            with self.subTest(url=url):
                p = self.node.peer_add("p%d" % i, url, tok, check=False)
                err = p.stderr.decode(errors="replace")
                if ok:
                    self.assertEqual(p.returncode, 0, err)
                else:
                    self.assertNotEqual(p.returncode, 0, "accepted %s" % url)
                    self.assertIn("loopback", err)


# ---------------------------------------------------------------- AMBER+STRICT

def escaped(s):
    """s with every '-' written as a JSON escape."""
    return s.replace("-", "\\u002d")


def raw_object(marking, org=None, user=None, escape=False, name=None):
    """The JSON text of an indicator (marking, recipients), optionally with the marking
    and recipient strings JSON-escaped ('-' as \\u002d)."""
    o = sdo(marks=[marking], name=name)
    rec = {}
    if org:
        rec["organizations"] = ["@ORG@"]
    if user:
        rec["users"] = ["@USER@"]
    if rec:
        o["extensions"] = {fedlib.RECIPIENTS_EXT: {"extension_type": "property-extension",
                                                   "recipients": rec}}
    text = json.dumps(o)
    esc = escaped if escape else (lambda x: x)
    text = text.replace('"@ORG@"', '"%s"' % esc(org or ""))
    text = text.replace('"@USER@"', '"%s"' % esc(user or ""))
    text = text.replace('"%s"' % marking, '"%s"' % esc(marking))
    return o["id"], text


class TestStrictStaysHome(FedCase):
    """A grants b-node's account (a user grant and an organisation grant, the widest)
    on intel. AMBER+STRICT goes to b-node, by pull and by push, only when the object
    names b-node's organisation; naming a user on b-node or the grants are not enough.
    AMBER (the control) goes. Each case also with JSON-escaped strings."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("a-node", "b-node")
        try:
            cls._setup(*cls.nodes)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _setup(cls, a, b):
        cls.A, cls.B = a, b
        a.collection("intel")
        org, tok_b_on_a = fedlib.admit(a, b, grants={"intel": ["user", "org"]})
        _, tok_a_on_b = fedlib.admit(b, a, grants={"pull-intel": ["user"],
                                                   "push-intel": ["user"]})
        cls.go, cls.stay = set(), set()
        texts = []
        for esc in (False, True):
            for marking, org_id, user, goes in (
                    (AS2, None, None, False),
                    (AS2, b.identity, None, True),
                    (AS2, None, "bob@b-node", False),
                    (A2, None, None, True)):
                oid, text = raw_object(marking, org=org_id, user=user, escape=esc)
                texts.append(text)
                (cls.go if goes else cls.stay).add(oid)
        path = os.path.join(a.scratch, "strict.json")
        with open(path, "w") as f:
            f.write('{"type":"bundle","id":"bundle--%s","objects":[%s]}'
                    % (uuid.uuid4(), ",".join(texts)))
        a.run("import", "--collection", "intel", path)
        a.start()
        b.start()
        a.peer_add("b-node", b.url(), tok_a_on_b, push=[("intel", "push-intel")], org=org)
        b.peer_add("a-node", a.url(), tok_b_on_a, pull=[("pull-intel", "intel")],
                   key=a.node_key())

    def test_pull(self):
        self.B.sync("a-node", expect=0)
        held = self.held(self.B, "pull-intel")
        self.assertEqual(held & self.stay, set(), "AMBER+STRICT left a-node by a pull")
        self.assertEqual(self.go - held, set(), "what may go did not")

    def test_push(self):
        self.A.sync("b-node", expect=0)
        held = self.held(self.B, "push-intel")
        self.assertEqual(held & self.stay, set(), "AMBER+STRICT left a-node by a push")
        self.assertEqual(self.go - held, set(), "what may go did not")



class TestQueryFixedForARound(FedCase):
    """TAXII 2.1 section 3.4: `next` goes with the same original query. Sync used to send
    its moving checkpoint as added_after beside `next`, which medallion refuses (400) and
    kizuna now refuses too: within a round every request that carries `next` repeats the
    added_after of the round's first request (issue 12, item 1)."""

    N = 2300  # three pages of SYNC_PAGE_LIMIT (1000)

    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("a-node", "b-node")
        try:
            a, b = cls.A, cls.B = cls.nodes
            a.collection("intel")
            b.collection("intel")
            _, cls.tok = fedlib.admit(a, b, grants={"intel": ["user"]})
            a.import_objects("intel", [sdo(marks=[C2], name="r1 %d" % i) for i in range(cls.N)])
            a.start()
            cls.p = fedlib.Proxy(a.port)
            cls.proxies = [cls.p]
        except BaseException:
            cls.tearDownClass()
            raise

    def queries(self):
        out = []
        for e in self.p.exchanges("GET"):
            if e.is_objects_get():
                q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(e.path).query))
                out.append((q.get("added_after"), q.get("next"), e.status))
        return out

    def check_round(self, qs):
        self.assertGreaterEqual(len(qs), 3, "expected several pages: %r" % qs)
        self.assertIsNone(qs[0][1], "a round starts without next: %r" % (qs,))
        for after, nxt, status in qs:
            self.assertEqual(status, 200, qs)
            if nxt:
                self.assertEqual(after, qs[0][0], "next sent beside another added_after: %r"
                                 % (qs,))

    def test_pages_keep_the_query(self):
        a, b, p = self.A, self.B, self.p
        b.peer_add("a-node", p.url(), self.tok, pull=[("intel", "intel")], key=a.node_key())
        b.sync("a-node", expect=0)
        self.check_round(self.queries())
        self.assertEqual(b.count("intel"), self.N)
        # a second round starts from the checkpoint and keeps that added_after
        a.import_objects("intel", [sdo(marks=[C2], name="r2 %d" % i) for i in range(self.N)])
        p.clear()
        run = b.run("sync", "a-node", "--json")
        self.assertEqual(json.loads(run.stdout.decode()),
                         {"peer": "a-node", "pulled": self.N, "pushed": 0, "rejected": 0,
                          "error": None})
        qs = self.queries()
        self.assertIsNotNone(qs[0][0], "the second round asks from its checkpoint")
        self.check_round(qs)
        self.assertEqual(b.count("intel"), 2 * self.N)

if __name__ == "__main__":
    kzlib.main()
