#!/usr/bin/env python3
"""Federation end to end: rings and meshes never echo, and tampered pages are refused.

Run: python3 tests/e2e/test_federation_loops.py  (KIZUNA=path/to/kizuna; CTest sets it)
KZ_KEEP_SCRATCH=1 keeps the nodes' homes for a post-mortem.
"""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402
import fedlib  # noqa: E402
from fedcase import *  # noqa: E402,F401,F403
from fedcase import setUpModule, print_readings  # noqa: E402,F401


# ---------------------------------------------------------------- loops

def provision_mesh(nodes, links):
    """links: (client, server, pull?, push?). Every server admits every client that
    talks to it; each client adds the server as a peer through a recording proxy.
    Returns ({server name: proxy}, {token: client name})."""
    proxies, who = {}, {}
    for n in nodes:
        n.collection("intel")
    tokens = {}
    for cl, sv, _, _ in links:
        if (cl.node_name, sv.node_name) not in tokens:
            _, tok = fedlib.admit(sv, cl, grants={"intel": ["user", "org"]})
            tokens[(cl.node_name, sv.node_name)] = tok
            who[tok] = cl.node_name
    for n in nodes:
        n.start()
        proxies[n.node_name] = fedlib.Proxy(n.port)
    for cl, sv, pull, push in links:
        org = "%s-org" % sv.node_name
        if org not in cl.orgs():
            cl.org_add(org, identity=sv.identity)
            cl.grant("intel", org=org, write=True)
        cl.peer_add(sv.node_name, proxies[sv.node_name].url(),
                    tokens[(cl.node_name, sv.node_name)],
                    pull=[("intel", "intel")] if pull else (),
                    push=[("intel", "intel")] if push else (), org=org, key=sv.node_key())
    return proxies, who


def transfers(proxies, who):
    """[(sender, receiver, mechanism, vkey)] from the proxies' logs, in time order."""
    out = []
    for sv, p in proxies.items():
        for e in p.exchanges():
            auth = dict((k.lower(), v) for k, v in e.req_headers).get("authorization", "")
            cl = who.get(auth.split(" ", 1)[-1], "?")
            if e.method == "POST":
                out += [(e.t, cl, sv, "push", vkey(o)) for o in e.objects("req")]
            elif e.is_objects_get() and e.status == 200:
                out += [(e.t, sv, cl, "pull", vkey(o)) for o in e.objects("resp")]
    return [x[1:] for x in sorted(out, key=lambda x: x[0])]


class LoopCase:
    """A mixin (not a TestCase itself): three nodes linked by cls.links(a, b, c)."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("a-node", "b-node", "c-node")
        try:
            a, b, c = cls.nodes
            links = cls.links(a, b, c)
            cls.mine = {}
            for n in cls.nodes:
                # created by the node's own organisation: relaying them on checks that a peer
                # account may write objects created by a third party
                objs = [sdo(marks=[C2], created_by=n.identity),
                        sdo(marks=[A2], created_by=n.identity), sdo(marks=[G2])]
                objs.append(new_version(objs[0]))
                cls.mine[n.node_name] = objs
            px, cls.who = provision_mesh(cls.nodes, links)
            cls.px = px
            cls.proxies = list(px.values())
            for n in cls.nodes:
                n.import_objects("intel", cls.mine[n.node_name])
        except BaseException:
            cls.tearDownClass()
            raise

    def test_no_echo(self):
        every = {vkey(o) for objs in self.mine.values() for o in objs}
        origin = {vkey(o): n for n, objs in self.mine.items() for o in objs}
        rounds, counts = [], []
        for r in range(5):
            for p in self.proxies:
                p.clear()
            for n in self.nodes:
                run = n.sync(expect=None)
                self.assertEqual(run.returncode, 0, "round %d, %s: sync exit %d: %s" % (
                    r + 1, n.node_name, run.returncode,
                    run.stderr.decode(errors="replace")[-2000:]))
            rounds.append(transfers(self.px, self.who))
            counts.append({n.node_name: n.count("intel") for n in self.nodes})
        seen_link = {}
        received_from = {}
        for r, tr in enumerate(rounds):
            for snd, rcv, mech, k in tr:
                key = (snd, rcv, mech, k)
                self.assertNotIn(key, seen_link, "%s went %s -> %s by %s twice (rounds %d and %d)"
                                 % (k, snd, rcv, mech, seen_link.get(key, 0) + 1, r + 1))
                seen_link[key] = r
                received_from.setdefault((rcv, k), set()).add(snd)
        for r, tr in enumerate(rounds):
            for snd, rcv, mech, k in tr:
                if mech != "push" or origin[k] == snd:
                    continue
                srcs = received_from.get((snd, k), set())
                self.assertFalse(srcs and srcs <= {rcv},
                                 "round %d: %s pushed %s back to %s, the only peer it had it "
                                 "from ('never pushed back to it')" % (r + 1, snd, k, rcv))
        self.assertEqual(rounds[-1], [], "objects still travel after convergence (echo): %s"
                         % rounds[-1][:10])
        self.assertEqual(rounds[-2], [], "objects still travel after convergence (echo): %s"
                         % rounds[-2][:10])
        want = len(every)
        for n in self.nodes:
            self.assertEqual(counts[-1][n.node_name], want,
                             "%s holds %d versions, wanted %d (each once); counts per round: %s"
                             % (n.node_name, counts[-1][n.node_name], want, counts))
            held = [vkey(o) for o in n.export("intel")]
            self.assertEqual(len(held), len(set(held)), "%s: a version twice" % n.node_name)
            self.assertEqual(set(held), every)
        self.assertEqual(counts[-1], counts[-2])
        self.assertEqual(counts[-2], counts[-3])


class TestLoopPushRing(LoopCase, FedCase):
    """A pushes to B, B to C, C to A."""
    @staticmethod
    def links(a, b, c):
        return [(a, b, False, True), (b, c, False, True), (c, a, False, True)]


class TestLoopPullRing(LoopCase, FedCase):
    """B pulls from A, C from B, A from C."""
    @staticmethod
    def links(a, b, c):
        return [(b, a, True, False), (c, b, True, False), (a, c, True, False)]


class TestLoopMesh(LoopCase, FedCase):
    """Every node pulls from and pushes to both others."""
    @staticmethod
    def links(a, b, c):
        out = []
        for x in (a, b, c):
            for y in (a, b, c):
                if x is not y:
                    out.append((x, y, True, True))
        return out


# ---------------------------------------------------------------- signatures

class TestTamperedPages(FedCase):
    """A proxy that flips one byte: with --key the page is refused, nothing of it is
    stored, `peer list` shows the error; without the signature, or with the wrong key,
    likewise. Without --key the signature is not checked."""

    N = 2500

    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("a-node", "b-node", "x-node")
        try:
            a, b, x = cls.A, cls.B, cls.X = cls.nodes
            a.collection("intel")
            for name in ("intel", "plain", "nosig", "wrongkey"):
                b.collection(name)
            _, cls.tok = fedlib.admit(a, b, grants={"intel": ["user", "org"]})
            cls.objs = [sdo(marks=[C2], name="tamper %d" % i) for i in range(cls.N)]
            a.import_objects("intel", cls.objs)
            a.start()
            cls.p = fedlib.Proxy(a.port)
            cls.proxies = [cls.p]
            cls.key_a = a.node_key()
            cls.key_x = x.node_key()
        except BaseException:
            cls.tearDownClass()
            raise

    def stored(self, coll):
        return {o["id"] for o in self.B.export(coll)}

    def test_1_flipped_byte_is_refused(self):
        b, p = self.B, self.p
        b.peer_add("a-node", p.url(), self.tok, pull=[("intel", "intel")], key=self.key_a)
        # flip the second objects page, or the first when there is only one
        p.set("flip", flip_nth="second-or-only")
        run = b.sync("a-node", expect=None)
        pages = [e for e in p.exchanges("GET") if e.is_objects_get() and e.status == 200]
        self.assertTrue(pages, "no objects page was fetched")
        self.assertTrue(any(e.tampered for e in pages), "the proxy tampered no page: %r" % pages)
        print("\n  %d objects pages fetched, page %d tampered" % (
            len(pages), [i for i, e in enumerate(pages) if e.tampered][0] + 1), file=sys.stderr)
        self.assertEqual(run.returncode, 1, "a tampered page must fail the sync (exit 1); "
                         "stderr: %s" % run.stderr.decode(errors="replace")[-1500:])
        tampered = [e for e in pages if e.tampered][0]
        before = set()
        for e in pages:
            if e is tampered:
                break
            before |= {o["id"] for o in e.objects()}
        in_page = {o["id"] for o in tampered.objects()} - before
        held = self.stored("intel")
        self.assertFalse(in_page & held, "%d objects of the tampered page were stored "
                         "(FEDERATION.md: 'nothing from that page is stored')"
                         % len(in_page & held))
        self.assertEqual(before - held, set(), "the good pages before the tampered one were not "
                         "kept ('Every page is ... stored in one transaction together with the "
                         "new checkpoint')")
        err = fedlib.peer_last_error(b.peer("a-node"))
        self.assertTrue(err, "`peer list` shows no last_error after a refused page: %r"
                        % b.peer("a-node"))
        print("\n  refused page, last_error: %r" % err, file=sys.stderr)
        # the proxy behaves again: everything arrives, each version once
        p.set("pass")
        b.sync("a-node", expect=0)
        self.assertEqual(self.stored("intel"), {o["id"] for o in self.objs})
        self.assertEqual(b.count("intel"), self.N)

    def test_2_missing_signature_is_refused(self):
        b, p2 = self.B, fedlib.Proxy(self.A.port)
        self.proxies.append(p2)
        orig = p2._send

        def strip(h, status, headers, body):
            orig(h, status, [(k, v) for k, v in headers if k.lower() != "x-kizuna-signature"],
                 body)
        p2._send = strip
        b.peer_add("a-node-nosig", p2.url(), self.tok, pull=[("nosig", "intel")], key=self.key_a)
        run = b.sync("a-node-nosig", expect=None)
        self.assertEqual(run.returncode, 1, "a page without X-Kizuna-Signature from a peer "
                         "added with --key must be refused")
        self.assertEqual(self.stored("nosig"), set())
        self.assertTrue(fedlib.peer_last_error(b.peer("a-node-nosig")))

    def test_3_wrong_key_is_refused(self):
        b = self.B
        b.peer_add("a-node-wrongkey", self.A.url(), self.tok, pull=[("wrongkey", "intel")],
                   key=self.key_x)
        run = b.sync("a-node-wrongkey", expect=None)
        self.assertEqual(run.returncode, 1, "pages signed by another key must be refused")
        self.assertEqual(self.stored("wrongkey"), set())
        self.assertTrue(fedlib.peer_last_error(b.peer("a-node-wrongkey")))

    def test_4_without_key_signature_not_checked(self):
        """FEDERATION.md: 'without --key the signature is simply not checked'."""
        b, p3 = self.B, fedlib.Proxy(self.A.port)
        self.proxies.append(p3)
        p3.set("flip", flip_nth=1)
        b.peer_add("a-node-plain", p3.url(), self.tok, pull=[("plain", "intel")])
        run = b.sync("a-node-plain", expect=None)
        self.assertEqual(run.returncode, 0, "without --key a (valid JSON) page is taken; "
                         "stderr: %s" % run.stderr.decode(errors="replace")[-1500:])
        self.assertEqual(self.stored("plain"), {o["id"] for o in self.objs})


def tearDownModule():
    print_readings()


if __name__ == "__main__":
    fedlib.main()
