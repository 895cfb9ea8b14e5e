"""The policy matrix fixture and its oracle (Python 3 standard library only).

The fixture is a world of organisations in two countries, two communities,
users of every role, collections with different mixes of grants and, in each
collection, objects of every marking (TLP 2.0, TLP 1.0, unmarked, non-TLP
statement, several markings, granular markings), producers, recipients
(kizuna's recipients extension), relationships and sightings pointing at
visible and invisible objects, and objects with several versions marked
differently per version.

The oracle implements docs/SHARING.md from the document alone (it does not
read src/policy/). Where the document leaves a choice, the choice made here is
written next to the code as READING and listed in READINGS; the test's report
names them.
"""

import json
import os
import re
import uuid

import kzlib

# ---------------------------------------------------------------- markings

# the TLP marking tables are kzlib's (SHARING.md's levels)
from kzlib import (LEVELS, CLEAR, GREEN, AMBER, ASTRICT, RED, LEVEL_OF_NAME,  # noqa: E402,F401
                   TLP1, TLP2, TLP_LEVEL, C2, G2, A2, AS2, R2, W1, G1, A1, R1)
# A non-TLP statement marking (its definition is not stored: a reference is enough).
STATEMENT = "marking-definition--4c7f3b1e-8a7d-4e36-9d7b-2f1a6c0e5b93"

RECIPIENTS_EXT = "extension-definition--bc477fd6-2822-4e86-a16f-e438280733f6"
# A producer identity no organisation on the node stands for.
EXT_PRODUCER = "identity--0f6b7c1a-3d2e-4b8f-9a6c-5e4d3c2b1a09"

SRO_REFS = {  # the types gated by what they point to, and the properties that point
    "relationship": ("source_ref", "target_ref"),
    "sighting": ("sighting_of_ref", "observed_data_refs", "where_sighted_refs"),
    "report": ("object_refs",),
    "grouping": ("object_refs",),
    "note": ("object_refs",),
    "opinion": ("object_refs",),
    "observed-data": ("object_refs",),
}
SCO_TYPES = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "file", "email-addr"}
ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TOKEN_RE = re.compile(r"kzpm[0-9a-f]{12}")

# Where SHARING.md leaves a choice, the oracle's choice (see READINGS; flip to follow the
# other reading once docs/SHARING.md settles it):
# match[version]=first/last (and the default last) pick among the versions the user may see
# (True), or among all versions, an invisible pick then returning nothing (False).
LAST_AMONG_VISIBLE = True
# A relationship/sighting needs each same-collection target visible in at least one version
# ("any"), or in its latest version ("last").
REF_RULE = "any"
# Exports (the operator's and --as USER) apply the relationship rule against what they
# export, so no exported relationship names a TLP:RED object that stays behind (True).
BULK_REF_RULE = True

READINGS = [
    "Levels are cumulative: whoever may see a level may see every less restrictive level "
    "(an organisation or user grant, which reaches TLP:AMBER, also shows TLP:GREEN; an "
    "organisation recipient sees the object at CLEAR..AMBER+STRICT; a user recipient at any "
    "level). SHARING.md's table lists each level's audience without saying so.",
    "Recipients and producers see an object only in a collection they may read (the section "
    "is 'Who may see an object in a collection one may read').",
    "A role grant matches users whose role is exactly that role (a grant to 'reader' does not "
    "reach contributors).",
    "Objects imported with `kizuna import` that name no created_by_ref have no producer (no "
    "organisation 'submitted' them).",
    "match[version] first/last and the default 'last' are chosen among the versions the user "
    "may see (the filter is part of the store's query), then added_after applies.",
    "A relationship, sighting or container is visible only if the user may see, by its "
    "marking, at least one version of each referenced object stored in the same collection, "
    "unless the user's organisation produced or POSTed it (outside bulk paths).",
    "A granular TLP marking is a TLP marking: an object with no object_marking_refs and only a "
    "granular TLP:GREEN is GREEN, not the node default.",
    "Exports: export --as U holds the versions U may see minus TLP:RED; the operator's export "
    "every version but TLP:RED; in both, a relationship or sighting goes only with a version "
    "of each same-collection object it points to (so no export names a TLP:RED object it "
    "leaves behind); without --all-versions, the latest of the exported versions per object.",
]

# ---------------------------------------------------------------- the world

ORGS = [  # name, country, kind
    ("in-cert", "IN", "cert"),
    ("in-power", "IN", "cii-operator"),
    ("jp-csirt", "JP", "cert"),
    ("jp-bank", "JP", "business"),
    ("outsider", "SG", "business"),
]
COMMUNITIES = {
    "in-jp-g2g": ["in-cert", "jp-csirt"],
    "in-jp-b2b": ["in-power", "jp-bank"],
}
USERS = [  # name, org, role ("admin" is made by init)
    ("admin", "local", "node-admin"),
    ("asha", "in-cert", "reader"),
    ("ravi", "in-cert", "contributor"),
    ("priya", "in-cert", "org-admin"),
    ("nadia", "in-cert", "node-admin"),
    ("vikram", "in-power", "reader"),
    ("meera", "in-power", "contributor"),
    ("taro", "jp-csirt", "reader"),
    ("hanako", "jp-csirt", "contributor"),
    ("kenji", "jp-csirt", "org-admin"),
    ("yuki", "jp-bank", "reader"),
    ("sato", "jp-bank", "contributor"),
    ("eve", "outsider", "reader"),
    ("mallory", "outsider", "contributor"),
    ("lou", "local", "reader"),
]
# grants: (kind, subject, read, write)
COLLECTIONS = {
    "g2g": [("community", "in-jp-g2g", True, True)],
    "b2b": [("community", "in-jp-b2b", True, True), ("org", "in-cert", True, False)],
    "orgs": [("org", "in-cert", True, True), ("org", "jp-csirt", True, False)],
    "personal": [("user", "taro", True, False), ("user", "hanako", True, True),
                 ("user", "yuki", True, True)],
    "roles": [("role", "reader", True, False)],
    "mixed": [("community", "in-jp-g2g", True, False), ("org", "jp-bank", True, True),
              ("user", "vikram", True, False), ("role", "contributor", True, False)],
    "hidden": [],
    # not part of the read matrix: the DELETE and write tests change them
    "deltest": [("org", "in-cert", True, True), ("community", "in-jp-g2g", True, False),
                ("user", "nadia", True, True)],
    "inbox": [("org", "in-cert", True, True), ("org", "jp-csirt", True, True),
              ("user", "yuki", True, True), ("user", "asha", True, True)],
}
MATRIX_COLLECTIONS = ["g2g", "b2b", "orgs", "personal", "roles", "mixed", "hidden"]
# For each collection, the collection whose "mal_red" its rel_to_external points at.
EXTERNAL_OF = {c: MATRIX_COLLECTIONS[(i + 1) % len(MATRIX_COLLECTIONS)]
               for i, c in enumerate(MATRIX_COLLECTIONS)}

# What each matrix collection gets POSTed over TAXII after the import:
# (user, key, object_marking_refs or None, recipient users, recipient orgs, created_by org)
POSTS = {
    "g2g": [("hanako", "post_astrict_hanako", [AS2], None, None, None),
            ("ravi", "post_red_ravi", [R2], None, None, None),
            ("ravi", "post_red_ravi_own_cbr", [R2], None, None, "in-cert")],
    "b2b": [("meera", "post_red_meera", [R2], None, None, None),
            ("sato", "post_amber_sato", [A2], None, None, None)],
    "orgs": [("ravi", "post_red_ravi", [R2], None, None, None),
             ("priya", "post_unmarked_priya", None, None, None, None),
             ("priya", "post_red_priya_for_jp", [R2], ["taro"], None, "jp-csirt")],
    "personal": [("hanako", "post_red_hanako", [R2], None, None, None),
                 ("hanako", "post_red_hanako_for_yuki", [R2], ["yuki"], None, None)],
    "roles": [("admin", "post_red_admin", [R2], None, None, None),
              ("admin", "post_green_admin_for_outsider", [G2], None, ["outsider"], None),
              ("admin", "post_red_admin_for_eve_org_jpbank", [R2], ["eve"], ["jp-bank"], None)],
    "mixed": [("sato", "post_red_sato", [R2], None, None, None),
              ("sato", "post_astrict_sato_for_meera", [AS2], ["meera"], None, None),
              ("sato", "post_amber_sato_for_inpower", [A2], None, ["in-power"], None)],
    "hidden": [("admin", "post_amber_admin", [A2], None, None, None),
               ("nadia", "post_red_nadia", [R2], None, None, None)],
}


class User:
    def __init__(self, name, org, role):
        self.name, self.org, self.role = name, org, role
        self.token = None
        self.basic = False  # HTTP Basic instead of Bearer

    def __repr__(self):
        return "%s(%s,%s)" % (self.name, self.org, self.role)


class Rec:
    """One stored version of one object in one collection."""

    def __init__(self, coll, key, obj, submitter=None, poster=None):
        self.coll = coll
        self.key = key
        self.obj = obj
        self.id = obj["id"]
        self.type = obj["type"]
        self.sco = self.type in SCO_TYPES
        self.version = None if self.sco else obj.get("modified", obj.get("created"))
        self.token = next(iter(TOKEN_RE.findall(json.dumps(obj))), None)
        self.submitter = submitter  # org that POSTed it (None: kizuna import)
        self.poster = poster        # user that POSTed it
        self.date_added = None

    @property
    def vkey(self):
        return (self.id, self.version)

    def __repr__(self):
        return "<%s %s %s v=%s>" % (self.coll, self.key, self.id, self.version)


class World:
    def __init__(self, node_name, default_marking="amber"):
        self.node_name = node_name
        self.default_marking = default_marking
        self.default_level = LEVEL_OF_NAME[default_marking]
        self.org_identity = {"local": None}
        for name, _, _ in ORGS:
            self.org_identity[name] = "identity--%s" % uuid.uuid4()
        self.identity_org = {}
        self.users = {n: User(n, o, r) for n, o, r in USERS}
        for i, u in enumerate(USERS):
            self.users[u[0]].basic = bool(i % 2)
        self.coll_ids = {}
        self.grants = {c: list(g) for c, g in COLLECTIONS.items()}
        self.recs = {c: [] for c in COLLECTIONS}   # every stored version, per collection
        self.ids = {}                              # (coll, key) -> STIX id
        self.statuses = []                         # (status id, poster)
        self._tick = 0
        self._memo = {}

    def set_local_identity(self, ident):
        self.org_identity["local"] = ident

    def finish_identities(self):
        self.identity_org = {v: k for k, v in self.org_identity.items() if v}

    def recipient(self, user):
        return "%s@%s" % (user, self.node_name)

    # ------------------------------------------------------------ grants
    def grant_matches(self, g, u):
        kind, subj = g[0], g[1]
        if kind == "user":
            return u.name == subj
        if kind == "org":
            return u.org == subj
        if kind == "community":
            return u.org in COMMUNITIES.get(subj, ())
        if kind == "role":
            return u.role == subj  # READING: exact role
        return False

    def readable(self, u, c):
        """SHARING.md: 'Node admins may read and write every collection'; otherwise a
        read grant to the user, its organisation, a community of it, or its role."""
        if u.role == "node-admin":
            return True
        return any(g[2] and self.grant_matches(g, u) for g in self.grants[c])

    def writable(self, u, c):
        """'Node admins may read and write every collection; readers never write.'"""
        if u.role == "node-admin":
            return True
        if u.role == "reader":
            return False
        return any(g[3] and self.grant_matches(g, u) for g in self.grants[c])

    def clearance(self, u, c):
        """The highest level the user's grants on c reach (None: cannot read).
        TLP:CLEAR 'every reader of the collection'; GREEN a community grant; AMBER and
        AMBER+STRICT an organisation or user grant; a role grant CLEAR only."""
        if not self.readable(u, c):
            return None
        cl = CLEAR
        for g in self.grants[c]:
            if not g[2] or not self.grant_matches(g, u):
                continue
            if g[0] == "community":
                cl = max(cl, GREEN)
            elif g[0] in ("org", "user"):
                cl = max(cl, ASTRICT)
        return cl

    # ------------------------------------------------------------ objects
    def level(self, obj):
        """'the most restrictive of object_marking_refs and the marking_refs of its
        granular markings ... An object with no TLP marking takes the node's
        default_marking'."""
        refs = list(obj.get("object_marking_refs", []))
        refs += [g["marking_ref"] for g in obj.get("granular_markings", []) if "marking_ref" in g]
        lv = [TLP_LEVEL[r] for r in refs if r in TLP_LEVEL]
        return max(lv) if lv else self.default_level

    def producer(self, rec):
        """'the organisation whose identity is the object's created_by_ref, or which
        submitted it when it names no creator'."""
        cbr = rec.obj.get("created_by_ref")
        if cbr:
            return self.identity_org.get(cbr)
        return rec.submitter

    def recipients(self, obj):
        ext = obj.get("extensions", {}).get(RECIPIENTS_EXT, {})
        r = ext.get("recipients", {})
        return list(r.get("users", [])), list(r.get("organizations", []))

    def marking_allows(self, u, rec, clearance):
        lv = self.level(rec.obj)
        if self.producer(rec) == u.org:
            return True
        users, orgs = self.recipients(rec.obj)
        if self.recipient(u.name) in users:
            return True  # a named user recipient: AMBER..RED (and below)
        if lv <= clearance:
            return True
        ident = self.org_identity.get(u.org)
        if ident and ident in orgs and lv <= ASTRICT:
            return True  # 'An organisation recipient makes AMBER visible to it, never RED.'
        return False

    def coll_ids_of(self, c):
        return self.by_id(c)

    def sees_marked(self, u, rec, bulk=False):
        """May user u see this version by its marking alone (TLP, producer, recipients,
        bulk's never-RED), before any gating by what it points to?"""
        bulk = bulk or u is None
        if u is None:
            ok = True
        else:
            cl = self.clearance(u, rec.coll)
            ok = cl is not None and self.marking_allows(u, rec, cl)
        if bulk and self.level(rec.obj) == RED:
            ok = False
        return ok

    def sees(self, u, rec, bulk=False):
        """May user u see this version of this object? bulk: in a bulk path (export), where
        TLP:RED never goes. u None: the node operator's export ('every object but
        TLP:RED')."""
        bulk = bulk or u is None
        key = (u.name if u else None, bulk, rec.coll, rec.vkey, rec.token)
        if key in self._memo:
            return self._memo[key]
        ok = self.sees_marked(u, rec, bulk)
        # READING (SHARING.md): outside bulk paths, a relationship, sighting or container
        # that the reader's organisation produced or POSTed is not gated by its targets
        own = (u is not None and not bulk and u.org is not None and
               (self.producer(rec) == u.org or rec.submitter == u.org))
        if ok and not own and rec.type in SRO_REFS and not (bulk and not BULK_REF_RULE):
            here = self.coll_ids_of(rec.coll)
            for prop in SRO_REFS[rec.type]:
                v = rec.obj.get(prop)
                refs = v if isinstance(v, list) else ([v] if v else [])
                for ref in refs:
                    if ref not in here:
                        continue
                    targets = self.by_id(rec.coll)[ref]
                    if REF_RULE == "last":
                        targets = [max(targets, key=lambda r2: r2.version or "")]
                    # READING: a target counts when its marking lets the reader see it
                    # (one level: what the target names in turn gates only the target)
                    if not any(self.sees_marked(u, r2, bulk) for r2 in targets):
                        ok = False
        self._memo[key] = ok
        return ok

    def visible(self, u, c, bulk=False):
        """Every version u may see in c (bulk: in an export), in date_added order."""
        key = ("visible", u.name if u else None, bulk, c)
        if key not in self._memo:
            if u is not None and not self.readable(u, c):
                self._memo[key] = []
            else:
                self._memo[key] = [r for r in self.sorted_recs(c) if self.sees(u, r, bulk)]
        return self._memo[key]

    def by_version(self, c):
        """{(id, version): Rec} of collection c."""
        key = ("by_version", c)
        if key not in self._memo:
            self._memo[key] = {r.vkey: r for r in self.recs[c]}
        return self._memo[key]

    def by_id(self, c):
        """{id: [Rec, ...]} of collection c."""
        key = ("by_id", c)
        if key not in self._memo:
            d = {}
            for r in self.recs[c]:
                d.setdefault(r.id, []).append(r)
            self._memo[key] = d
        return self._memo[key]

    def sorted_recs(self, c):
        return sorted(self.recs[c], key=lambda r: r.date_added or "")

    def clear_memo(self):
        self._memo = {}

    def add_recs(self, recs):
        for r in recs:
            self.recs[r.coll].append(r)
        self.clear_memo()

    # ------------------------------------------------------------ queries
    def select(self, recs, params):
        """TAXII filters over the versions a user may see (recs, all of one collection).
        params: list of (k, v)."""
        p = {}
        for k, v in params:
            if k in ("limit", "next"):
                continue
            p.setdefault(k, []).extend(v.split(",") if k.startswith("match[") else [v])
        ids = set(p.get("match[id]", [])) or None
        types = set(p.get("match[type]", [])) or None
        specs = set(p.get("match[spec_version]", [])) or None
        versions = p.get("match[version]", ["last"])
        after = p.get("added_after", [None])[0]
        by_id = {}
        for r in recs:
            if ids is not None and r.id not in ids:
                continue
            if types is not None and r.type not in types:
                continue
            if specs is not None and r.obj.get("spec_version", "2.1") not in specs:
                continue
            by_id.setdefault(r.id, []).append(r)
        out = []
        for oid, vs in by_id.items():
            chosen = set()
            if not LAST_AMONG_VISIBLE and vs:
                visible = set(map(id, vs))
                vs = self.by_id(vs[0].coll)[oid]
            else:
                visible = None
            ordered = sorted(vs, key=lambda r: r.version or "")
            for want in versions:
                if want == "all":
                    chosen.update(range(len(ordered)))
                elif want == "first":
                    chosen.add(0)
                elif want == "last":
                    chosen.add(len(ordered) - 1)
                else:
                    chosen.update(i for i, r in enumerate(ordered) if r.version == want)
            for i in chosen:
                r = ordered[i]
                if visible is not None and id(r) not in visible:
                    continue
                if after is not None and not (r.date_added > after):
                    continue
                out.append(r)
        return sorted(out, key=lambda r: r.date_added)

    # ------------------------------------------------------------ building
    def ts(self, extra=0):
        self._tick += 1
        return kzlib.stix_ts(kzlib.BASE_TIME, seconds=self._tick * 10 + extra)

    def the_id(self, c, key, kind):
        k = (c, key)
        if k not in self.ids:
            self.ids[k] = "%s--%s" % (kind, uuid.uuid4())
        return self.ids[k]


def _token():
    return "kzpm" + uuid.uuid4().hex[:12]


def make_obj(world, c, key, kind="indicator", marks=None, creator="ext", users=None, orgs=None,
             granular=None, created=None, modified=None, extra=None, oid=None):
    """A valid STIX 2.1 object. marks: object_marking_refs (None: none); creator: 'ext',
    an org name, or None (no created_by_ref); users: recipient user names (plain names get
    '@node'; names with '@' are kept); orgs: recipient organisation names."""
    tok = _token()
    created = created or world.ts()
    modified = modified or created
    oid = oid or world.the_id(c, key, kind)
    o = {"type": kind, "spec_version": "2.1", "id": oid, "created": created,
         "modified": modified}
    if kind == "indicator":
        o.update({"name": "%s %s" % (key, tok), "description": "policy matrix %s" % tok,
                  "pattern": "[ipv4-addr:value = '203.0.113.%d']" % (world._tick % 250 + 1),
                  "pattern_type": "stix", "valid_from": created})
    elif kind == "malware":
        o.update({"name": "%s %s" % (key, tok), "description": "policy matrix %s" % tok,
                  "is_family": False})
    elif kind == "identity":
        o.update({"name": "%s %s" % (key, tok), "identity_class": "organization",
                  "description": "policy matrix %s" % tok})
    elif kind == "observed-data":
        o.update({"first_observed": created, "last_observed": created, "number_observed": 1,
                  "labels": [tok]})
    elif kind in ("relationship", "sighting"):
        o["description"] = "policy matrix %s %s" % (key, tok)
    o["labels"] = o.get("labels", []) + ([] if kind == "observed-data" else [tok])
    if creator == "ext":
        o["created_by_ref"] = EXT_PRODUCER
    elif creator:
        o["created_by_ref"] = world.org_identity[creator]
    if marks:
        o["object_marking_refs"] = list(marks)
    if granular:
        o["granular_markings"] = [{"marking_ref": m, "selectors": list(s)} for m, s in granular]
    if users or orgs:
        rec = {}
        if users:
            rec["users"] = [x if "@" in x else world.recipient(x) for x in users]
        if orgs:
            rec["organizations"] = [world.org_identity[x] for x in orgs]
        o["extensions"] = {RECIPIENTS_EXT: {"extension_type": "property-extension",
                                            "recipients": rec}}
    if extra:
        o.update(extra)
    return o


def sco(value, marks=None):
    o = kzlib.ipv4(value)
    o.pop("object_marking_refs", None)
    if marks:
        o["object_marking_refs"] = list(marks)
    return o


def collection_objects(world, c, ci):
    """The imported objects of matrix collection c (index ci), in import order."""
    recs = []

    def add(key, **kw):
        o = make_obj(world, c, key, **kw)
        recs.append(Rec(c, key, o))
        return o

    # A: every marking (producer: an identity no organisation stands for)
    for key, marks, gran in [
            ("clear2", [C2], None), ("green2", [G2], None), ("amber2", [A2], None),
            ("astrict2", [AS2], None), ("red2", [R2], None),
            ("white1", [W1], None), ("green1", [G1], None), ("amber1", [A1], None),
            ("red1", [R1], None),
            ("unmarked", None, None), ("statement", [STATEMENT], None),
            ("stmt_green", [STATEMENT, G2], None),
            ("multi_green_red", [G2, R2], None), ("multi_clear_amber", [C2, A2], None),
            ("multi_white1_astrict2", [W1, AS2], None), ("multi_amber1_green2", [A1, G2], None),
            ("multi_green1_clear2", [G1, C2], None),
            ("gran_red_on_clear", [C2], [(R2, ["description"])]),
            ("gran_green_on_amber", [A2], [(G2, ["name"])]),
            ("gran_amber_unmarked", None, [(A2, ["description"])]),
            ("gran_green_unmarked", None, [(G2, ["description"])]),
            ("gran_red1_on_white1", [W1], [(R1, ["pattern"])]),
            ("gran_stmt_on_green", [G2], [(STATEMENT, ["description"])]),
            ("gran_stmt_unmarked", None, [(STATEMENT, ["description"])])]:
        add(key, marks=marks, granular=gran)
    for key, marks in [("nocreator_clear", [C2]), ("nocreator_amber", [A2]),
                       ("nocreator_red", [R2]), ("nocreator_unmarked", None)]:
        add(key, marks=marks, creator=None)
    # SCOs: the value carries the collection so ids differ per collection
    for n, (key, marks) in enumerate([("sco_clear", [C2]), ("sco_unmarked", None),
                                      ("sco_red", [R2])]):
        o = sco("198.18.%d.%d" % (ci, n + 1), marks)
        world.ids[(c, key)] = o["id"]
        recs.append(Rec(c, key, o))

    # B: producers
    for org in ["in-cert", "in-power", "jp-csirt", "jp-bank", "outsider", "local"]:
        add("prod_red_%s" % org, marks=[R2], creator=org)
    add("prod_astrict_jp-csirt", marks=[AS2], creator="jp-csirt")
    add("prod_green_outsider", marks=[G2], creator="outsider")
    add("prod_unmarked_in-power", marks=None, creator="in-power")
    add("prod_amber1_jp-bank", marks=[A1], creator="jp-bank")

    # C: recipients
    add("rcp_red_taro", marks=[R2], users=["taro"])
    add("rcp_red_taro_othernode", marks=[R2], users=["taro@other-node"])
    add("rcp_red_org_jpbank", marks=[R2], orgs=["jp-bank"])
    add("rcp_red_many", marks=[R2], users=["asha", "yuki", "eve", "lou"], orgs=["in-power"])
    add("rcp_red_admin", marks=[R2], users=["admin"])
    add("rcp_red1_nadia", marks=[R1], users=["nadia"])
    add("rcp_amber_org_jpbank", marks=[A2], orgs=["jp-bank"])
    add("rcp_astrict_vikram", marks=[AS2], users=["vikram"])
    add("rcp_green_org_outsider", marks=[G2], orgs=["outsider"])
    add("rcp_unmarked_meera", marks=None, users=["meera"])
    add("rcp_astrict_sato_org_incert", marks=[AS2], users=["sato"], orgs=["in-cert"])
    add("rcp_gran_red_kenji", marks=[G2], granular=[(R2, ["description"])], users=["kenji"])

    # D: relationships and sightings
    ident = world.ids
    add("mal_clear", kind="malware", marks=[C2])
    add("mal_green", kind="malware", marks=[G2])
    add("mal_red_taro", kind="malware", marks=[R2], users=["taro"])
    add("mal_red", kind="malware", marks=[R2])
    add("ident_green", kind="identity", marks=[G2])
    add("od_clear", kind="observed-data", marks=[C2],
        extra={"object_refs": [ident[(c, "sco_clear")]]})
    add("od_red_yuki", kind="observed-data", marks=[R2], users=["yuki"],
        extra={"object_refs": [ident[(c, "sco_unmarked")]]})

    def rel(key, src, tgt, marks=(C2,), rtype="related-to", **kw):
        return add(key, kind="relationship", marks=list(marks) if marks else None,
                   extra={"relationship_type": rtype, "source_ref": src, "target_ref": tgt},
                   **kw)

    I = lambda k: ident[(c, k)]  # noqa: E731
    # the multi-version objects get their ids now so relationships can point at them
    world.the_id(c, "mv_ind1", "indicator")
    world.the_id(c, "mv_mal2", "malware")
    world.the_id(c, "mv_ind5", "indicator")
    rel("rel_clear_clear", I("clear2"), I("mal_clear"), rtype="indicates")
    rel("rel_clear_to_green", I("clear2"), I("mal_green"), rtype="indicates")
    rel("rel_clear_to_red_taro", I("clear2"), I("mal_red_taro"), rtype="indicates")
    rel("rel_clear_to_red", I("clear2"), I("mal_red"), rtype="indicates")
    rel("rel_green_from_amber", I("amber2"), I("mal_clear"), marks=(G2,), rtype="indicates")
    rel("rel_red_taro_clear", I("clear2"), I("mal_clear"), marks=(R2,), users=["taro"])
    rel("rel_to_external", I("clear2"),
        world.the_id(EXTERNAL_OF[c], "mal_red", "malware"), rtype="indicates")
    rel("rel_to_nonexistent", I("clear2"), "malware--%s" % uuid.uuid4(), rtype="indicates")
    rel("rel_to_mv_mal2", I("clear2"), I("mv_mal2"), rtype="indicates")
    rel("rel_to_mv_ind1", I("mal_clear"), I("mv_ind1"))
    rel("rel_to_mv_ind5", I("mal_clear"), I("mv_ind5"))
    rel("rel_to_sco_unmarked", I("clear2"), I("sco_unmarked"))
    rel("rel_to_sco_clear", I("clear2"), I("sco_clear"))
    rel("rel_unmarked_clear", I("clear2"), I("mal_clear"), marks=None)
    rel("rel_clear_from_prod_red_jp", I("prod_red_jp-csirt"), I("mal_clear"), rtype="indicates")
    add("sight_clear", kind="sighting", marks=[C2],
        extra={"sighting_of_ref": I("clear2"), "where_sighted_refs": [I("ident_green")],
               "observed_data_refs": [I("od_clear")]})
    add("sight_od_red", kind="sighting", marks=[C2],
        extra={"sighting_of_ref": I("clear2"), "observed_data_refs": [I("od_red_yuki")]})
    add("sight_green_of_red_taro", kind="sighting", marks=[G2],
        extra={"sighting_of_ref": I("rcp_red_taro")})
    add("sight_clear_of_clear", kind="sighting", marks=[C2],
        extra={"sighting_of_ref": I("clear2")})
    # containers name objects as relationships do (issue 11, item 8)
    add("report_green_of_red", kind="report", marks=[G2],
        extra={"name": "report", "published": world.ts(),
               "object_refs": [I("clear2"), I("mal_red")]})
    add("report_green_of_clear", kind="report", marks=[G2],
        extra={"name": "report", "published": world.ts(),
               "object_refs": [I("clear2"), I("mal_clear")]})
    add("grouping_clear_of_red_taro", kind="grouping", marks=[C2],
        extra={"context": "suspicious-activity", "object_refs": [I("mal_red_taro")]})
    add("note_clear_of_sco_red", kind="note", marks=[C2],
        extra={"content": "seen", "object_refs": [I("sco_red")]})
    add("opinion_clear_to_nonexistent", kind="opinion", marks=[C2],
        extra={"opinion": "agree", "object_refs": ["malware--%s" % uuid.uuid4()]})

    # E: several versions, each marked on its own; imported out of order
    def versions(key, kind, specs, order, **kw):
        created = world.ts()
        objs = []
        for n, s in enumerate(specs):
            marks, users, orgs = s
            objs.append(make_obj(world, c, key, kind=kind, marks=marks, users=users, orgs=orgs,
                                 created=created,
                                 modified=kzlib.stix_ts(kzlib.BASE_TIME,
                                                        seconds=world._tick * 10 + n + 1),
                                 **kw))
        for i in order:
            recs.append(Rec(c, key, objs[i]))

    versions("mv_ind1", "indicator", [([G2], None, None), ([R2], None, None),
                                      ([A2], None, None)], [2, 0, 1])
    versions("mv_mal2", "malware", [([R2], ["taro"], None), ([C2], None, None)], [1, 0])
    versions("mv_ind3", "indicator", [([C2], None, None), ([AS2], None, ["jp-bank"]),
                                      (None, None, None)], [0, 1, 2])
    versions("mv_ind4", "indicator", [([R2], None, None), ([R2], ["yuki"], None)], [0, 1],
             creator="in-power")
    versions("mv_ind5", "indicator", [([C2], None, None), ([R2], None, None)], [0, 1])
    versions("mv_ind6", "indicator", [([R2], ["taro"], None), ([G1], None, None),
                                      ([W1], None, None), ([R1], ["asha"], None)], [3, 2, 1, 0])
    # the last objects added: invisible to almost everyone (pagination's last page)
    add("tail_red_1", marks=[R2])
    add("tail_red_2", marks=[R2], granular=[(R1, ["name"])])
    add("tail_red_admin_only", marks=[R2], users=["admin"])
    return recs


def posted_objects(world, c):
    """(user, Rec) for each object POSTed to c over TAXII: the producer of those that name
    no creator is the poster's organisation."""
    out = []
    for user, key, marks, users, orgs, creator in POSTS.get(c, []):
        o = make_obj(world, c, key, marks=marks, users=users, orgs=orgs, creator=creator)
        u = world.users[user]
        out.append((user, Rec(c, key, o, submitter=u.org, poster=user)))
    return out


def build_world(node_name, default_marking="amber", local_identity=None):
    """The whole fixture, before anything is stored. local_identity: the identity of the
    organisation "local" that `kizuna init` made."""
    world = World(node_name, default_marking)
    world.set_local_identity(local_identity or "identity--%s" % uuid.uuid4())
    world.posts = {}
    world.imports = {}
    world.finish_identities()
    for ci, c in enumerate(MATRIX_COLLECTIONS):
        world.imports[c] = collection_objects(world, c, ci)
    for c in MATRIX_COLLECTIONS:
        world.posts[c] = posted_objects(world, c)
    # deltest: objects the DELETE test works on
    d = []
    d.append(Rec("deltest", "d_red_nadia", make_obj(world, "deltest", "d_red_nadia",
                                                    marks=[R2], users=["nadia"])))
    d.append(Rec("deltest", "d_green", make_obj(world, "deltest", "d_green", marks=[G2])))
    d.append(Rec("deltest", "d_amber", make_obj(world, "deltest", "d_amber", marks=[A2])))
    created = world.ts()
    # the RED version names asha, so that nadia (a node admin) sees only the first
    for n, (marks, users) in enumerate([([G2], None), ([R2], ["asha"])]):
        d.append(Rec("deltest", "d_mv", make_obj(
            world, "deltest", "d_mv", marks=marks, users=users, created=created,
            modified=kzlib.stix_ts(kzlib.BASE_TIME, seconds=world._tick * 10 + n + 1))))
    world.imports["deltest"] = d
    # inbox: one object nobody at all may see (RED, no
    # recipients, no producer on the node), for the conflicting-POST test
    world.imports["inbox"] = [
        Rec("inbox", "inbox_red", make_obj(world, "inbox", "inbox_red", marks=[R2])),
        Rec("inbox", "inbox_clear", make_obj(world, "inbox", "inbox_clear", marks=[C2]))]
    return world


# ---------------------------------------------------------------- the node

def write_bundle(path, objs):
    with open(path, "w", encoding="utf-8") as f:
        f.write(kzlib.dumps(kzlib.bundle(objs)))


def set_default_marking(node, value):
    p = os.path.join(node.home, "kizuna.conf")
    with open(p, encoding="utf-8") as f:
        text = f.read()
    new, n = re.subn(r"(?m)^default_marking\s*=.*$", "default_marking = %s" % value, text)
    if n != 1:
        raise AssertionError("kizuna.conf has %d default_marking lines:\n%s" % (n, text))
    with open(p, "w", encoding="utf-8") as f:
        f.write(new)


def local_identity(node):
    for line in node.out("org", "list", "--json").splitlines():
        o = json.loads(line)
        if o["name"] == "local":
            return o["identity"]
    raise AssertionError("no organisation 'local' after init")


def setup_node(node, world):
    """Everything the CLI makes: orgs, communities, users, tokens, collections, grants,
    the imported fixture. Validates every fixture file first."""
    for name, cc, kind in ORGS:
        out = node.out("org", "add", name, "--country", cc, "--kind", kind,
                       "--identity", world.org_identity[name])
        if world.org_identity[name] not in out:
            raise AssertionError("org add %s printed %r" % (name, out))
    for cname, members in COMMUNITIES.items():
        node.run("community", "add", cname)
        for m in members:
            node.run("community", "join", cname, m)
    for u in world.users.values():
        if u.name != "admin":
            node.user_add(u.name, u.org, role=u.role)
        u.token = node.admin_token if u.name == "admin" else node.token_create(u.name)
    for c, grants in COLLECTIONS.items():
        world.coll_ids[c] = node.collection_add(c, title="policy %s" % c)
        for kind, subj, read, write in grants:
            args = ["grant", c, "--%s" % kind, subj]
            if read:
                args.append("--read")
            if write:
                args.append("--write")
            node.run(*args)
    files = []
    fdir = os.path.join(node.scratch, "fixture")
    os.makedirs(fdir, exist_ok=True)
    for c, recs in world.imports.items():
        p = os.path.join(fdir, "%s.json" % c)
        write_bundle(p, [r.obj for r in recs])
        files.append((c, p))
    posts = os.path.join(fdir, "posted.json")
    write_bundle(posts, [r.obj for p in world.posts.values() for _, r in p])
    v = node.run("validate", *([p for _, p in files] + [posts]), check=False)
    if v.returncode != 0:
        raise AssertionError("the fixture is not valid STIX 2.1:\n%s%s" % (
            v.stdout.decode(errors="replace"), v.stderr.decode(errors="replace")))
    for c, p in files:
        node.import_file(c, p)
        world.add_recs(world.imports[c])
    return files


def fill_date_added(node, world, colls):
    """date_added (and the version of SCOs) of every stored version, from the operator's
    `kizuna show ID --all-versions` (the CLI, not the TAXII paths under test)."""
    import concurrent.futures
    want = {}
    for c in colls:
        for r in world.recs[c]:
            if r.date_added is None:
                want.setdefault(r.id, []).append(r)
    coll_name = {v: k for k, v in world.coll_ids.items()}

    def one(item):
        oid, recs = item
        text = node.out("show", oid, "--all-versions")
        for block in re.split(r"\n(?=\S+--[0-9a-f-]{36}\n)", "\n" + text):
            m_c = re.search(r"^\s+collection\s+(\S+)\s+\(([0-9a-f-]{36})\)", block, re.M)
            m_v = re.search(r"^\s+version\s+(\S+)", block, re.M)
            m_a = re.search(r"^\s+added\s+(\S+)", block, re.M)
            if not (m_c and m_v and m_a):
                continue
            c = coll_name.get(m_c.group(2), m_c.group(1))
            for r in recs:
                if r.coll == c and (r.sco or r.version == m_v.group(1)):
                    r.date_added = m_a.group(1)
                    if r.sco:
                        r.version = m_v.group(1)
        missing = [r for r in recs if r.date_added is None]
        if missing:
            raise AssertionError("kizuna show %s did not list %r:\n%s" % (oid, missing, text))

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(one, want.items()))
    world.clear_memo()


# ---------------------------------------------------------------- leaks

def ids_in(text):
    return set(ID_RE.findall(text))


def tokens_in(text):
    return set(TOKEN_RE.findall(text))


def leak_sets(world, u, colls, bulk=False):
    """(forbidden ids, forbidden tokens) for user u (None: the operator's bulk view):
    every stored object id u may see in no collection and that no visible version names,
    and the token of every version u may not see."""
    all_ids, all_tokens = set(), set()
    ok_ids, ok_tokens = set(), set()
    for c in colls:
        for r in world.recs[c]:
            all_ids.add(r.id)
            if r.token:
                all_tokens.add(r.token)
        for r in world.visible(u, c, bulk):
            ok_ids.add(r.id)
            ok_ids |= ids_in(json.dumps(r.obj))
            if r.token:
                ok_tokens.add(r.token)
    return all_ids - ok_ids, all_tokens - ok_tokens


# ---------------------------------------------------------------- HTTP

class KeepAliveClient(kzlib.Client):
    """kzlib.Client with one persistent connection per thread for GETs (the matrix
    sends tens of thousands of them); other methods use a fresh connection."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        import threading
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns = []

    def close(self):
        with self._lock:
            for c in self._conns:
                c.close()
            self._conns = []

    def request(self, method, path, body=None, headers=None, accept=kzlib.TAXII_MT,
                content_type=None, auth=True, timeout=None):
        if method != "GET" or body is not None or headers or timeout is not None:
            return super().request(method, path, body=body, headers=headers, accept=accept,
                                   content_type=content_type, auth=auth, timeout=timeout)
        import http.client
        hdrs = {}
        if accept is not None:
            hdrs["Accept"] = accept
        a = self.auth_header() if auth else None
        if a:
            hdrs["Authorization"] = a
        for attempt in (0, 1):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self.connect()
                with self._lock:
                    self._conns.append(conn)
            try:
                conn.request("GET", path, headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                resp = kzlib.Response(r.status, r.reason, r.getheaders(), data)
                if (r.getheader("connection") or "").lower() == "close":
                    conn.close()
                    self._local.conn = None
                return resp
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")
