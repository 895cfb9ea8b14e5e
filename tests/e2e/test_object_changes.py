#!/usr/bin/env python3
"""Changing and deleting objects that exist: who may, and what a change may tell.

docs/SHARING.md "Writes" and docs/FEDERATION.md "Deletions and revocations":
- a DELETE removes only the versions the caller may see, and its tombstone names
  exactly those versions, so it never tells whether others remain;
- a peer's tombstone (POSTed with the peer's account, or pulled from the peer)
  removes only the versions that peer may see on this node or that came from it;
- only the creator versions an object (STIX 2.1): a new version keeps the
  created_by_ref of the stored ones; contributors and org admins version and
  delete only their organisation's objects; node admins any; a peer relays.
Every check that reads an identity or an id also runs with the string written
with JSON escapes ("identity\\u002d\\u002d..."), which must mean the same.

Run: python3 tests/e2e/test_object_changes.py  (KIZUNA=path/to/kizuna; CTest sets it)
"""

import json
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402
import fedlib  # noqa: E402
from fedlib import A2, C2, G2, R2, TOMBSTONE, RECIPIENTS_EXT, new_version, sdo, vkey  # noqa: E402


def escape_dashes(s):
    """s with every '-' written as the JSON escape \\u002d (the same string to a reader)."""
    return s.replace("-", "\\u002d")


def post_raw(client, coll, objects, rewrite=None):
    """POSTs an envelope whose JSON text is rewritten by rewrite(text) first."""
    text = json.dumps(kzlib.envelope(objects))
    if rewrite:
        text = rewrite(text)
    return client.post(kzlib.objects_path(coll), text.encode("utf-8"),
                       content_type=kzlib.TAXII_MT)


def status_counts(r):
    d = r.json or {}
    return r.status, d.get("success_count"), d.get("failure_count")


def tombstone(obj_ref, versions=None, like=None):
    """A tombstone for obj_ref (every version, or the listed ones), carrying the
    markings and recipients of `like`."""
    now = fedlib.ts()
    t = {"type": TOMBSTONE, "spec_version": "2.1", "id": "%s--%s" % (TOMBSTONE, uuid.uuid4()),
         "created": now, "modified": now, "object_ref": obj_ref}
    if versions:
        t["object_versions"] = list(versions)
    for k in ("created_by_ref", "object_marking_refs", "extensions"):
        if like and k in like:
            t[k] = like[k]
    return t


class ChangesCase(unittest.TestCase):
    nodes = ()

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.cleanup()


# ---------------------------------------------------------------- one node

class TestOneNode(ChangesCase):
    """Organisations a and b on one node, both writing to "shared"."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = fedlib.make_nodes("x-node")
        try:
            cls._setup(cls.nodes[0])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _setup(cls, n):
        cls.n = n
        n.collection("shared")
        cls.ia = "identity--%s" % uuid.uuid4()
        cls.ib = "identity--%s" % uuid.uuid4()
        n.org_add("org-a", identity=cls.ia)
        n.org_add("org-b", identity=cls.ib)
        cls.tok = {}
        for name, org, role in (("alice", "org-a", "contributor"), ("anna", "org-a", "org-admin"),
                                ("bob", "org-b", "contributor"), ("bert", "org-b", "org-admin"),
                                ("nora", "org-b", "node-admin")):
            cls.tok[name] = n.user_token(name, org, role)
        for org in ("org-a", "org-b"):
            n.grant("shared", org=org, write=True)
        n.grant("shared", user="nora", write=True)  # up to AMBER+STRICT, never RED
        n.start()

    def cl(self, name):
        return self.n.client(token=self.tok[name])

    def latest(self, oid, who="alice"):
        r = self.cl(who).get(kzlib.object_path("shared", oid))
        self.assertEqual(r.status, 200, r)
        objs = (r.json or {}).get("objects", [])
        self.assertEqual(len(objs), 1, r)
        return objs[0]

    def versions_stored(self, oid):
        return sorted(fedlib.version_of(o) for o in self.n.show_all(oid))

    def post_ok(self, who, objs, rewrite=None):
        r = post_raw(self.cl(who), "shared", objs, rewrite)
        self.assertEqual(status_counts(r), (202, len(objs), 0), r)

    def assert_refused(self, who, obj, why, rewrite=None):
        r = post_raw(self.cl(who), "shared", [obj], rewrite)
        self.assertEqual(status_counts(r), (202, 0, 1), "%s: %s must be refused: %r" % (
            who, why, r))

    # --- 6: only the creator versions an object

    def test_versions_keep_the_creator(self):
        ia, ib = self.ia, self.ib
        v1 = sdo(marks=[G2], created_by=ia)
        self.post_ok("alice", [v1])
        revoke = new_version(v1, revoked=True)
        self.assert_refused("bert", revoke, "org-b's admin revoking org-a's indicator (same "
                            "created_by_ref)")
        self.assert_refused("bert", revoke, "the same with created_by_ref JSON-escaped",
                            rewrite=lambda t: t.replace(ia, escape_dashes(ia)))
        self.assert_refused("bert", new_version(v1, revoked=True, created_by_ref=ib),
                            "a version of org-a's indicator created by org-b")
        self.assert_refused("bob", new_version(v1, revoked=True, created_by_ref=ib),
                            "a contributor's version of another org's indicator")
        self.assert_refused("bob", new_version(v1, revoked=True, created_by_ref=None),
                            "a version that drops created_by_ref")
        self.assert_refused("bob", new_version(v1, revoked=True, created_by_ref=ib),
                            "the same with the key created_by_ref JSON-escaped",
                            rewrite=lambda t: t.replace('"created_by_ref"',
                                                        '"created\\u005fby_ref"'))
        self.assert_refused("nora", new_version(v1, created_by_ref=ib),
                            "a node admin changing the creator")
        for who in ("alice", "bob", "nora"):
            got = self.latest(v1["id"], who)
            self.assertEqual(vkey(got), vkey(v1), "%s's latest version of org-a's indicator "
                             "is no longer org-a's: %r" % (who, got))
            self.assertNotIn("revoked", got)
        # the creator's own organisation versions it, also with the identity escaped
        v2 = new_version(v1, description="update")
        self.post_ok("alice", [v2], rewrite=lambda t: t.replace(ia, escape_dashes(ia)))
        v3 = new_version(v1, description="by the org admin")
        self.post_ok("anna", [v3])
        v4 = new_version(v1, description="by a node admin")
        self.post_ok("nora", [v4])
        self.assertEqual(vkey(self.latest(v1["id"], "bob")), vkey(v4))
        # re-posting an exact copy stays a silent success for anyone who may write
        self.post_ok("bert", [v1])

    def test_objects_without_creator(self):
        v1 = sdo(marks=[G2])  # no created_by_ref: org-a's, as its submitter
        self.post_ok("alice", [v1])
        self.assert_refused("bob", new_version(v1, revoked=True),
                            "a version of org-a's object that names no creator")
        self.assert_refused("bert", new_version(v1, revoked=True, created_by_ref=self.ib),
                            "adding a creator to another org's object")
        self.post_ok("alice", [new_version(v1, description="mine")])
        r = self.cl("bob").delete(kzlib.object_path("shared", v1["id"]))
        self.assertEqual(r.status, 403, "bob deletes org-a's object: %r" % r)
        self.assertEqual(len(self.versions_stored(v1["id"])), 2)

    def test_delete_only_own_organisations(self):
        ia = self.ia
        v1 = sdo(marks=[G2], created_by=ia)
        other = sdo(marks=[G2], created_by=ia)
        self.post_ok("alice", [v1, other])
        for who in ("bob", "bert"):
            r = self.cl(who).delete(kzlib.object_path("shared", v1["id"]))
            self.assertEqual(r.status, 403, "%s (org-b) deletes org-a's indicator: %r" % (who, r))
            self.assertEqual(self.versions_stored(v1["id"]), [v1["modified"]])
        r = self.cl("alice").delete(kzlib.object_path("shared", v1["id"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.versions_stored(v1["id"]), [])
        r = self.cl("nora").delete(kzlib.object_path("shared", other["id"]))
        self.assertEqual(r.status, 200, "a node admin deletes any object it sees: %r" % r)

    # --- 3: DELETE tells nothing of what the caller may not see

    def test_delete_tombstone_names_only_what_was_seen(self):
        self.check_tombstone_of_delete(escaped=False)

    def test_delete_tombstone_names_only_what_was_seen_escaped(self):
        self.check_tombstone_of_delete(escaped=True)

    def check_tombstone_of_delete(self, escaped):
        """nora (node admin, sees up to AMBER+STRICT) deletes two objects she sees one
        version of: `lone` has only that version, `hiding` also a TLP:RED one (its
        marking id JSON-escaped when escaped). The two tombstones she can read must
        not differ in what they tell."""
        ia = self.ia
        lone = sdo(marks=[A2], created_by=ia)
        hiding = sdo(marks=[A2], created_by=ia)
        hidden = new_version(hiding, object_marking_refs=[R2])
        self.post_ok("alice", [lone, hiding])
        self.post_ok("alice", [hidden],
                     rewrite=(lambda t: t.replace(R2, escape_dashes(R2))) if escaped else None)
        for o in (lone, hiding):
            r = self.cl("nora").delete(kzlib.object_path("shared", o["id"]))
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.versions_stored(hiding["id"]), [hidden["modified"]],
                         "the RED version nora may not see must stay")
        self.assertEqual(self.versions_stored(lone["id"]), [])
        items, _ = kzlib.walk_pages(self.cl("nora"), kzlib.objects_path("shared"),
                                    [("match[type]", TOMBSTONE), ("match[version]", "all")])
        tombs = {t["object_ref"]: t for t in items}
        for o in (lone, hiding):
            self.assertIn(o["id"], tombs, "nora does not see the tombstone of her DELETE")
            self.assertEqual(tombs[o["id"]].get("object_versions"), [o["modified"]],
                             "the tombstone names exactly the versions nora deleted, whether "
                             "or not others remain: %r" % tombs[o["id"]])
        shape = [sorted(set(tombs[o["id"]]) - {"id"}) for o in (lone, hiding)]
        self.assertEqual(shape[0], shape[1])

    def test_delete_invisible_is_404(self):
        self.check_delete_invisible(escaped=False)

    def test_delete_invisible_is_404_escaped(self):
        self.check_delete_invisible(escaped=True)

    def check_delete_invisible(self, escaped):
        """Org-a's TLP:RED object (its marking id JSON-escaped when escaped): a DELETE by
        anyone else answers as for an id that does not exist."""
        secret = sdo(marks=[R2], created_by=self.ia)
        self.post_ok("alice", [secret],
                     rewrite=(lambda t: t.replace(R2, escape_dashes(R2))) if escaped else None)
        ghost = kzlib.new_id("indicator")
        for who in ("bob", "bert", "nora"):
            r = self.cl(who).delete(kzlib.object_path("shared", secret["id"]))
            ref = self.cl(who).delete(kzlib.object_path("shared", ghost))
            self.assertEqual((r.status, r.body), (ref.status, ref.body),
                             "%s: DELETE of a RED object it may not see differs from one "
                             "that does not exist" % who)
            self.assertEqual(r.status, 404)
        self.assertEqual(self.versions_stored(secret["id"]), [secret["modified"]])


# ---------------------------------------------------------------- a peer's tombstones

class TestPeerTombstones(ChangesCase):
    """B holds objects of its own; A is its peer: A's account on B pushes (POSTs),
    and B pulls A's collection. A's tombstones delete on B only what A may see
    there, or what came from A."""

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
        for n in (a, b):
            n.collection("intel")
        # A's account on B reads and writes intel through a user grant (AMBER+STRICT)
        _, cls.tok_a_on_b = fedlib.admit(b, a, grants={"intel": ["user"]})
        _, tok_b_on_a = fedlib.admit(a, b, grants={"intel": ["user", "org"]})
        a.start()
        b.start()
        b.peer_add("a-node", a.url(), tok_b_on_a, pull=[("intel", "intel")],
                   key=a.node_key())

    def b_local(self, **kw):
        o = sdo(created_by=self.B.identity, **kw)
        self.B.import_objects("intel", [o])
        return o

    def held(self, o):
        return [fedlib.version_of(x) for x in self.B.show_all(o["id"])]

    def push_as_a(self, objs, rewrite=None):
        cl = self.B.client(token=self.tok_a_on_b)
        return post_raw(cl, "intel", objs, rewrite)

    def test_pushed_tombstones(self):
        red = self.b_local(marks=[R2])
        red_escaped = self.b_local(marks=[R2])
        red_listed = self.b_local(marks=[R2])
        named = self.b_local(marks=[R2], users=["carol@a-node"])
        clear = self.b_local(marks=[C2])
        ghost = kzlib.new_id("indicator")
        tombs = [tombstone(red["id"]), tombstone(red_listed["id"], [red_listed["modified"]]),
                 tombstone(named["id"], like=named), tombstone(clear["id"]),
                 tombstone(ghost)]
        r = self.push_as_a(tombs)
        self.assertEqual(status_counts(r), (202, len(tombs), 0), r)
        r = self.push_as_a([tombstone(red_escaped["id"])],
                           rewrite=lambda t: t.replace(red_escaped["id"],
                                                       escape_dashes(red_escaped["id"])))
        self.assertEqual(status_counts(r), (202, 1, 0), r)
        for o in (red, red_escaped, red_listed):
            self.assertEqual(self.held(o), [o["modified"]],
                             "a tombstone POSTed by peer a-node deleted a TLP:RED object of "
                             "B's that a-node may not see")
        self.assertEqual(self.held(named), [], "a RED object naming carol@a-node is a-node's "
                         "to see, so its tombstone deletes it")
        self.assertEqual(self.held(clear), [])

    def test_pulled_tombstones(self):
        a, b = self.A, self.B
        red = self.b_local(marks=[R2])
        red_escaped = self.b_local(marks=[R2])
        amber = self.b_local(marks=[A2])  # A's peer view on B has no grant for AMBER
        # an object B pulled from A: RED for bob@b-node, which A's view on B does not
        # show (it names no user of A), but it came from A
        from_a = sdo(marks=[R2], users=["bob@b-node"], created_by=a.identity)
        a.import_objects("intel", [from_a])
        b.sync(expect=0)
        self.assertEqual(self.held(from_a), [from_a["modified"]], "B did not pull A's object")
        # A's operator stores tombstones; B pulls them
        path = os.path.join(a.scratch, "tombs.json")
        text = json.dumps(kzlib.bundle([tombstone(red["id"]), tombstone(amber["id"]),
                                        tombstone(from_a["id"], like=from_a),
                                        tombstone(red_escaped["id"])]))
        text = text.replace(red_escaped["id"], escape_dashes(red_escaped["id"]))
        with open(path, "w") as f:
            f.write(text)
        a.import_file("intel", path)
        b.sync(expect=0)
        for o in (red, red_escaped, amber):
            self.assertEqual(self.held(o), [o["modified"]],
                             "a tombstone pulled from a-node deleted an object of B's that "
                             "a-node may not see")
        self.assertEqual(self.held(from_a), [], "a tombstone from a-node deletes what came "
                         "from a-node")

    def test_pulled_versions_keep_the_creator(self):
        a, b = self.A, self.B
        mine = self.b_local(marks=[C2])
        a.import_objects("intel", [new_version(mine, revoked=True, created_by_ref=a.identity)])
        b.sync(expect=None)
        self.assertEqual(self.held(mine), [mine["modified"]],
                         "a version pulled from a-node changed the creator of B's object")


if __name__ == "__main__":
    kzlib.main()
