#!/usr/bin/env python3
"""The federation tests' shared part: the oracle and the node fixture.

Expected results are computed from docs/FEDERATION.md and docs/SHARING.md alone
(nothing here reads src/sync or src/policy); where the documents leave a choice,
the choice made is a READING, listed at the end of each run. The tests themselves
are split by concern so each file runs in a few tens of seconds even under
AddressSanitizer on a loaded machine: test_federation.py (markings, deletions),
test_federation_loops.py (rings and meshes, tampered pages),
test_federation_resilience.py (misbehaving peers, TLS) and
test_federation_serve.py (syncs run by `kizuna serve`).
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
from fedlib import (C2, G2, A2, AS2, R2, W1, G1, A1, R1, STATEMENT, CLEAR, GREEN,  # noqa: E402
                    AMBER, ASTRICT, RED, TOMBSTONE, sdo, new_version, relationship, sighting,
                    vkey, level_of, recipients_of, refs_of, SRO_REFS)

READINGS = [
    "R1 Levels are cumulative (as tests/e2e/policy_fixture.py reads SHARING.md): a reader "
    "AMBER reaches also gets GREEN, a named user gets any level. Push: whatever addresses the "
    "peer's organisation for AMBER also sends GREEN.",
    "R2 Pull: the serving node treats the peer's account (a user named after the peer's node, "
    "--role peer) as standing for every `name@PEERNODE` recipient, so TLP:RED naming "
    "`bob@b-node` is served to b-node's account, as the push table sends it (FEDERATION.md: "
    "'both directions apply the sharing rules').",
    "R3 AMBER naming a user of the peer (`bob@b-node`) goes to the peer (SHARING.md: AMBER is "
    "visible to 'the organisations or users the object names as recipients'; the push "
    "table only mentions the organisation).",
    "R4 A granular TLP marking is a TLP marking: an object with only a granular TLP:GREEN is "
    "GREEN, not the node default (policy_fixture's reading).",
    "R5 A relationship or sighting goes only if each referenced object that is in the same "
    "collection may go in at least one version; references outside the collection do not "
    "stop it.",
    "R6 A tombstone of an object carrying recipients carries those recipients too (FEDERATION.md: "
    "'so it reaches exactly the readers the object reached').",
    "R7 A round that stops because a page does not advance the checkpoint (paginate forever) is a "
    "failure of that peer: exit 1 and last_error.",
    "R8 `peer list --json` gives one record per peer with at least name, last_error and a last "
    "success field (last_success or last_success_at); the names are not fixed by the document.",
]


def setUpModule():
    kzlib.need_binary()
    if not fedlib.have_federation():
        raise AssertionError("this kizuna has no `sync` command yet (docs/FEDERATION.md: "
                             "`sync [PEER]`, `peer add|list|remove`, `node key`)")


def names_of(keys, names):
    return sorted("%s@%s" % (names.get(i, i), v) for i, v in keys)


# ---------------------------------------------------------------- the oracle

class Facts:
    """What the rules need to know about the peer as a reader of one collection.
    direction "pull": the serving node's SHARING.md rules for the peer's account;
    "push": FEDERATION.md's push table."""

    def __init__(self, node_name, org_identity, direction, community=False, org_grant=False,
                 user_grant=False, default_level=AMBER):
        self.node_name = node_name
        self.org_identity = org_identity
        self.direction = direction
        self.community = community
        self.org_grant = org_grant
        self.user_grant = user_grant
        self.default_level = default_level


def why_go(o, f):
    """Why this version may go to the peer (a short reason naming the rule, and the
    READING it depends on, if any), or None. Its marking only (FEDERATION.md's push table
    for "push", SHARING.md for the serving node's rules on "pull")."""
    lv = level_of(o, f.default_level)
    users, orgs = recipients_of(o)
    if lv == CLEAR:
        return "CLEAR"  # 'TLP:CLEAR always' / 'every reader of the collection'
    # AMBER: org grant, or the object names the organisation; pull also 'users granted the
    # collection individually'. 'An organisation recipient makes AMBER visible to it, never RED.'
    amber = []
    if f.org_grant:
        amber.append("org grant")
    if f.org_identity in orgs:
        amber.append("names the peer's org")
    if f.direction == "pull" and f.user_grant:
        amber.append("user grant")
    if lv == GREEN and f.community:
        return "GREEN, community grant"
    if lv == ASTRICT:
        # SHARING.md: AMBER+STRICT - 'federation never widens it': it leaves the node
        # only for a peer whose organisation the object names (FEDERATION.md's push table)
        return "AMBER+STRICT, names the peer's org" if f.org_identity in orgs else None
    if lv <= ASTRICT and amber:
        return "%s, %s%s" % (fedlib.LEVELS[lv], "/".join(amber), " (R1)" if lv == GREEN else "")
    named = [u for u in users if u.endswith("@" + f.node_name)]
    if named:
        if lv == RED:
            return "RED naming %s (%s)" % (named[0], "push table" if f.direction == "push"
                                           else "R2")
        return "%s naming %s (R3)" % (fedlib.LEVELS[lv], named[0])
    return None


def may_go(o, f):
    return why_go(o, f) is not None


def expected(objs, f):
    """(id, version) -> object of the versions that may go to the peer."""
    ok = {vkey(o): o for o in objs if may_go(o, f)}
    here = {o["id"] for o in objs}
    going = {k[0] for k in ok}
    out = {}
    for k, o in ok.items():
        # 'Relationships and sightings go only with what they point to.' (R5)
        if o["type"] in SRO_REFS and any(r in here and r not in going for r in refs_of(o)):
            continue
        out[k] = o
    return out


def catalog(peer, peer_org_identity, local):
    """Objects of every marking for one collection; returns (list of every version,
    {id: name}). peer: the peer's node name; local: this node's name."""
    objs, names = [], {}

    def add(name, *versions):
        for v in versions:
            objs.append(v)
        names[versions[0]["id"]] = name
        return versions[0]

    puser, luser, ouser = "bob@" + peer, "carol@" + local, "zed@c-elsewhere"
    porg = peer_org_identity
    clear2 = add("clear2", sdo(marks=[C2]))
    green2 = add("green2", sdo(marks=[G2]))
    amber2 = add("amber2", sdo(marks=[A2]))
    add("astrict2", sdo(marks=[AS2]))
    red2 = add("red2", sdo(marks=[R2]))
    add("white1", sdo(marks=[W1]))
    add("green1", sdo(marks=[G1]))
    add("amber1", sdo(marks=[A1]))
    add("red1", sdo(marks=[R1]))
    add("unmarked", sdo())
    add("statement_only", sdo(marks=[STATEMENT]))
    add("clear_and_statement", sdo(marks=[C2, STATEMENT]))
    add("multi_clear_amber", sdo(marks=[C2, A2]))
    add("multi_green_red1", sdo(marks=[G2, R1]))
    add("multi_white_green2", sdo(marks=[W1, G2]))
    add("granular_red", sdo(marks=[C2], granular=[(R2, ["description"])]))
    add("granular_amber_on_green", sdo(marks=[G2], granular=[(A2, ["name"])]))
    add("granular_green_only", sdo(granular=[(G2, ["name"])]))
    add("amber_rcpt_org", sdo(marks=[A2], orgs=[porg]))
    add("astrict_rcpt_org", sdo(marks=[AS2], orgs=[porg]))
    add("green_rcpt_org", sdo(marks=[G2], orgs=[porg]))
    add("red_rcpt_org", sdo(marks=[R2], orgs=[porg]))
    red_peer = add("red_rcpt_peeruser", sdo(marks=[R2], users=[puser, luser]))
    add("red1_rcpt_peeruser", sdo(marks=[R1], users=[puser]))
    add("red_rcpt_local", sdo(marks=[R2], users=[luser]))
    add("red_rcpt_other_node", sdo(marks=[R2], users=[ouser]))
    add("red_rcpt_org_and_other", sdo(marks=[R2], users=[ouser], orgs=[porg]))
    add("amber_rcpt_peeruser", sdo(marks=[A2], users=[puser]))
    add("astrict_rcpt_peeruser", sdo(marks=[AS2], users=[puser]))
    add("astrict_rcpt_local", sdo(marks=[AS2], users=[luser]))
    add("granular_red_rcpt_peeruser", sdo(marks=[C2], granular=[(R2, ["description"])],
                                          users=[puser]))
    add("malware_green", sdo("malware", marks=[G2]))
    add("malware_red", sdo("malware", marks=[R2]))
    m1 = sdo(marks=[C2])
    m2 = new_version(m1, object_marking_refs=[G2])
    m3 = new_version(m2, object_marking_refs=[A2])
    add("versions_clear_green_amber", m1, m2, m3)
    n1 = sdo(marks=[C2])
    n2 = new_version(n1, object_marking_refs=[R2])
    add("versions_clear_red", n1, n2)
    p1 = sdo(marks=[R2])
    p2 = new_version(p1, object_marking_refs=[C2])
    add("versions_red_clear", p1, p2)
    q1 = sdo(marks=[A2])
    q2 = new_version(q1, name="second version")
    add("versions_amber_amber", q1, q2)
    add("rel_clear_to_red", relationship(clear2["id"], red2["id"]))
    add("rel_clear_to_amber", relationship(clear2["id"], amber2["id"]))
    add("rel_clear_to_green", relationship(clear2["id"], green2["id"]))
    add("rel_clear_to_red_peeruser", relationship(clear2["id"], red_peer["id"]))
    add("rel_clear_to_elsewhere", relationship(clear2["id"], kzlib.new_id("malware")))
    add("rel_red_peeruser", relationship(clear2["id"], green2["id"], marks=[R2],
                                         extensions=red_peer["extensions"]))
    add("sighting_of_red", sighting(red2["id"]))
    add("sighting_of_green", sighting(green2["id"]))
    add("sighting_of_clear_where_red", sighting(clear2["id"], where_sighted_refs=[
        add("identity_red", sdo("identity", marks=[R2]))["id"]]))
    return objs, names


# ---------------------------------------------------------------- base

class FedCase(unittest.TestCase):
    """Nodes made in setUpClass (cls.nodes), all stopped and removed in tearDownClass."""

    nodes = ()
    proxies = ()

    @classmethod
    def tearDownClass(cls):
        errors = []
        for p in cls.proxies:
            try:
                p.close()
            except Exception:
                pass
        for n in cls.nodes:
            try:
                if n.proc is not None:
                    rc = n.stop()
                    if rc != 0:
                        errors.append("%s: kizuna serve exited %r after SIGTERM; stderr:\n%s"
                                      % (n.node_name, rc, n.stderr_text()[-1500:]))
            finally:
                n.cleanup()
        if errors:
            raise AssertionError("\n".join(errors))

    @classmethod
    def start_all(cls):
        for n in cls.nodes:
            n.start()

    def assertSnapshot(self, got, want, names, what, facts=None):
        """got/want: (id, version) -> object. Same keys, identical content. facts: to say
        why each missing version should be there."""
        missing = set(want) - set(got)
        extra = set(got) - set(want)
        msgs = []
        if missing:
            if facts is None:
                msgs.append("missing (allowed, not there): %s" % names_of(missing, names))
            else:
                msgs.append("missing (allowed, not there): %s" % sorted(
                    "%s [%s]" % (names.get(k[0], k[0]), why_go(want[k], facts) if
                                 want[k]["type"] not in SRO_REFS else "R5, " +
                                 str(why_go(want[k], facts))) for k in missing))
        if extra:
            msgs.append("extra (not allowed, or not from there): %s" % names_of(extra, names))
        for k in set(want) & set(got):
            if got[k] != want[k]:
                msgs.append("%s: content differs:\n  sent %s\n  held %s" % (
                    names_of([k], names)[0], json.dumps(want[k], sort_keys=True)[:600],
                    json.dumps(got[k], sort_keys=True)[:600]))
        if msgs:
            self.fail("%s:\n  %s" % (what, "\n  ".join(msgs)))


def forbidden_ids(objs, exp):
    """Ids none of whose versions may go."""
    going = {k[0] for k in exp}
    return {o["id"] for o in objs} - going


def print_readings():
    print("\nREADINGS (choices where the documents leave one):", file=sys.stderr)
    for r in READINGS:
        print("  " + r, file=sys.stderr)
