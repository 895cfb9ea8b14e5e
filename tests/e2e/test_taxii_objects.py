"""TAXII 2.1 collection content: Add Objects (5.5) and the status resource
(4.3), Get Objects (5.4) with every filter (3.5) alone and combined, Get An
Object (5.6), Get Object Versions (5.8), Get Object Manifests (5.3), Delete An
Object (5.7), the X-TAXII-Date-Added-* headers (3.2), sorting by date_added
(3.3), parameter errors (400), 413/415/400 on POST."""

import json
import socket
import time
import uuid

import kzlib
from kzlib import (TAXII_MT, STIX_MT, NodeTestCase, objects_path, object_path, versions_path,
                   manifest_path, status_path, qs, post_objects, parse_ts, stix_ts, BASE_TIME)


def ids(doc, key="objects"):
    return [o["id"] for o in (doc or {}).get(key, [])]


class Objects(NodeTestCase):
    node_name = "objects-node"

    @classmethod
    def setup_node(cls, node):
        cls.coll = node.collection_add("intel", title="Intel")
        cls.filt = node.collection_add("filters", title="Filters")
        cls.vers = node.collection_add("versions", title="Versions")
        cls.dele = node.collection_add("deletes", title="Deletes")
        cls.other = node.collection_add("other", title="Other")
        cls.same = node.collection_add("same", title="Same versions")
        node.org_add("cert-jp", kind="cert")
        node.user_add("poster", "cert-jp", role="contributor")
        node.user_add("peeker", "cert-jp", role="contributor")
        node.user_add("reader", "cert-jp", role="reader")
        for c in ("intel", "filters", "versions", "deletes"):
            node.grant(c, user="poster", read=True, write=True)
            node.grant(c, user="peeker", read=True, write=True)
            node.grant(c, user="reader", read=True)
        cls.poster_tok = node.token_create("poster")
        cls.peeker_tok = node.token_create("peeker")
        cls.reader_tok = node.token_create("reader")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the filter fixture: posted one by one so each has its own date_added
        admin = cls.node.admin()
        cls.ind = [kzlib.indicator(i) for i in range(3)]
        cls.mal = [kzlib.malware(i) for i in range(2)]
        cls.ide = [kzlib.identity(0)]
        cls.sco = [kzlib.ipv4("198.51.100.7")]
        cls.fixture = [cls.ind[0], cls.mal[0], cls.ind[1], cls.ide[0], cls.mal[1], cls.sco[0],
                       cls.ind[2]]
        for o in cls.fixture:
            r = post_objects(admin, cls.filt, [o])
            assert r.status == 202 and r.json.get("success_count") == 1, r
        r = admin.get(manifest_path(cls.filt))
        assert r.status == 200, r
        cls.fixture_manifest = r.json["objects"]
        # three versions of one indicator, posted oldest first, and a second
        # object whose versions arrive newest first
        cls.vid = kzlib.new_id("indicator")
        cls.vtimes = [stix_ts(BASE_TIME, 0), stix_ts(BASE_TIME, 60), stix_ts(BASE_TIME, 120)]
        cls.vobjs = [kzlib.indicator(1, oid=cls.vid, created=cls.vtimes[0], modified=t,
                                     name="v%d" % n) for n, t in enumerate(cls.vtimes)]
        for o in cls.vobjs:
            r = post_objects(admin, cls.vers, [o])
            assert r.status == 202 and r.json.get("success_count") == 1, r
        cls.rid = kzlib.new_id("indicator")
        cls.robjs = [kzlib.indicator(2, oid=cls.rid, created=cls.vtimes[0], modified=t,
                                     name="r%d" % n) for n, t in enumerate(cls.vtimes)]
        for o in reversed(cls.robjs):
            r = post_objects(admin, cls.vers, [o])
            assert r.status == 202 and r.json.get("success_count") == 1, r

    def setUp(self):
        self.admin = self.node.admin()
        self.poster = self.node.client(token=self.poster_tok)
        self.peeker = self.node.client(token=self.peeker_tok)
        self.reader = self.node.client(token=self.reader_tok)

    # ------------------------------------------------------------ helpers
    def check_status(self, st, total, ok, bad, pending=0):
        self.assertIsInstance(st, dict)
        self.assertRegex(st.get("id", ""), r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                           r"[0-9a-f]{12}$")
        self.assertEqual(st.get("status"), "complete")
        self.assertEqual(st.get("total_count"), total, st)
        self.assertEqual(st.get("success_count"), ok, st)
        self.assertEqual(st.get("failure_count"), bad, st)
        self.assertEqual(st.get("pending_count"), pending, st)
        self.assertEqual(st["success_count"] + st["failure_count"] + st["pending_count"],
                         st["total_count"])
        if "request_timestamp" in st:
            self.assertRegex(st["request_timestamp"], kzlib.ANY_TS_RE)
        for key, n in (("successes", ok), ("failures", bad), ("pendings", pending)):
            if n == 0:
                self.assertNotIn(key, st, "empty %s must be omitted: %r" % (key, st))
            else:
                self.assertEqual(len(st.get(key, [])), n, st)
                for d in st[key]:
                    self.assertIsInstance(d.get("id"), str)
                    self.assertIsInstance(d.get("version"), str, d)
                    if "message" in d:
                        self.assertIsInstance(d["message"], str)
        return st

    def manifest_of(self, coll, params=()):
        r = self.admin.get(manifest_path(coll) + qs(list(params) + [("limit", "10000")]))
        self.assertOK(r)
        return r.json.get("objects", [])

    # ------------------------------------------------------------ POST
    def test_post_envelope_and_status(self):
        objs = [kzlib.indicator(i) for i in range(5)]
        r = post_objects(self.poster, self.coll, objs)
        st = self.check_status(self.assertOK(r, 202), 5, 5, 0)
        self.assertEqual({d["id"] for d in st["successes"]}, {o["id"] for o in objs})
        for d in st["successes"]:
            o = next(x for x in objs if x["id"] == d["id"])
            self.assertEqual(parse_ts(d["version"]), parse_ts(o["modified"]))
        # durable and visible before the 202
        got = ids(self.admin.get(objects_path(self.coll) + qs([("limit", "10000")])).json)
        self.assertTrue({o["id"] for o in objs} <= set(got))
        # the status resource, with and without the trailing slash
        for slash in (True, False):
            r2 = self.poster.get(status_path(st["id"], slash=slash))
            self.assertEqual(self.assertOK(r2), st)
        # a node admin may read it too
        self.assertEqual(self.assertOK(self.admin.get(status_path(st["id"]))), st)
        # another user may not
        r3 = self.peeker.get(status_path(st["id"]))
        self.assertTaxiiError(r3, 404, statuses=(403, 404))

    def test_post_bundle(self):
        objs = [kzlib.indicator(i) for i in range(3)]
        for ct in (STIX_MT, TAXII_MT):
            objs = [kzlib.indicator(i) for i in range(3)]
            r = post_objects(self.poster, self.coll, objs, as_bundle=True, content_type=ct)
            self.check_status(self.assertOK(r, 202), 3, 3, 0)
            for o in objs:
                self.assertOK(self.admin.get(object_path(self.coll, o["id"])))

    def test_post_sco_status_has_version(self):
        # 4.3.2 status-details: id and version are required. An SCO has no
        # modified/created: its version is the server's consistent value, the same
        # string the manifest and the versions endpoint show.
        o = kzlib.ipv4("203.0.113.77")
        r = post_objects(self.poster, self.coll, [o])
        st = self.check_status(self.assertOK(r, 202), 1, 1, 0)
        man = self.manifest_of(self.coll, [("match[id]", o["id"])])
        self.assertEqual(st["successes"][0]["version"], man[0]["version"])
        # posting it again is an exact duplicate: a success, same version
        st2 = self.check_status(self.assertOK(post_objects(self.poster, self.coll, [o]), 202),
                                1, 1, 0)
        self.assertEqual(st2["successes"][0]["version"], man[0]["version"])

    def test_post_by_alias(self):
        o = kzlib.indicator(42)
        r = self.poster.post(objects_path("intel"), kzlib.envelope([o]))
        self.check_status(self.assertOK(r, 202), 1, 1, 0)
        self.assertOK(self.admin.get(object_path(self.coll, o["id"])))

    def test_post_failures_duplicates_conflicts(self):
        good = kzlib.indicator(1)
        r = post_objects(self.poster, self.coll, [good])
        self.check_status(self.assertOK(r, 202), 1, 1, 0)
        bad = kzlib.indicator(2)
        del bad["pattern"]
        badid = kzlib.indicator(3)
        badid["id"] = "indicator--not-a-uuid"
        conflict = dict(good, name="same id and version, different content")
        dup = dict(good)
        fresh = kzlib.indicator(4)
        r = post_objects(self.poster, self.coll, [bad, dup, conflict, fresh, badid])
        st = self.check_status(self.assertOK(r, 202), 5, 2, 3)
        okids = sorted(d["id"] for d in st["successes"])
        self.assertEqual(okids, sorted([good["id"], fresh["id"]]))
        fails = {d["id"]: d for d in st["failures"]}
        self.assertIn(bad["id"], fails)
        self.assertIn("pattern", fails[bad["id"]].get("message", ""),
                      "the failure must name the property at fault: %r" % fails[bad["id"]])
        self.assertIn("indicator--not-a-uuid", fails)
        self.assertIn("id", fails["indicator--not-a-uuid"].get("message", ""))
        self.assertIn(good["id"], fails, "a different object with the same id and version "
                                         "must be a failure: %r" % st)
        self.assertTrue(fails[good["id"]].get("message"))
        # the stored object is the first one, unchanged
        d = self.assertOK(self.admin.get(object_path(self.coll, good["id"])))
        self.assertEqual(d["objects"], [good])
        # nothing of the invalid ones was stored
        self.assertTaxiiError(self.admin.get(object_path(self.coll, bad["id"])), 404)

    def test_post_objects_roundtrip_intact(self):
        o = kzlib.indicator(5)
        o["x_kizuna_e2e"] = {"nested": [1, 2, {"k": "\u7d46"}], "flag": True}
        o["description"] = "multi\nline \"quoted\" \u65e5\u672c"
        r = post_objects(self.poster, self.coll, [o])
        self.check_status(self.assertOK(r, 202), 1, 1, 0)
        d = self.assertOK(self.admin.get(object_path(self.coll, o["id"])))
        self.assertEqual(d["objects"], [o])

    def test_post_415(self):
        body = json.dumps(kzlib.envelope([kzlib.indicator(6)])).encode()
        for ct in ("application/json", "text/plain", "application/taxii+json;version=2.0",
                   "application/stix+json;version=2.0", "application/x-www-form-urlencoded",
                   "application/taxii+json;version=2.1x", "multipart/form-data; boundary=x"):
            with self.subTest(ct=ct):
                r = self.poster.post(objects_path(self.coll), body, content_type=ct)
                self.assertTaxiiError(r, 415)

    def test_post_content_type_variants_ok(self):
        for ct in ("application/taxii+json;version=2.1", "application/taxii+json; version=2.1",
                   "application/stix+json;version=2.1", "Application/TAXII+JSON;Version=2.1",
                   "application/taxii+json;charset=utf-8;version=2.1",
                   "application/taxii+json; version=2.1; charset=UTF-8",
                   "application/stix+json; charset=utf-8; version=2.1"):
            with self.subTest(ct=ct):
                o = kzlib.indicator(8)
                body = json.dumps(kzlib.envelope([o])).encode()
                r = self.poster.post(objects_path(self.coll), body, content_type=ct)
                self.check_status(self.assertOK(r, 202), 1, 1, 0)

    def test_post_malformed_400(self):
        for body in (b"{", b"not json", b"\xff\xfe{}", b'{"objects": [1, ', b"",
                     b'{"objects": [}', b'{"objects": []} trailing', b"\x00"):
            with self.subTest(body=body):
                r = self.poster.post(objects_path(self.coll), body, content_type=TAXII_MT)
                self.assertTaxiiError(r, 400)

    def test_post_not_an_envelope_400(self):
        # valid JSON that is no envelope: 400 (kizuna) -- TAXII 2.1 3.6 would also
        # allow 422 "when sending a malformed body"
        for body in (b"[]", b'{"objects": {}}', b'{"objects": "x"}', b"42", b'"text"',
                     b"null"):
            with self.subTest(body=body):
                r = self.poster.post(objects_path(self.coll), body, content_type=TAXII_MT)
                self.assertTaxiiError(r, 400, statuses=(400, 422))

    def test_post_non_object_items_are_failures_or_400(self):
        r = self.poster.post(objects_path(self.coll), b'{"objects": [1, "x", null]}',
                             content_type=TAXII_MT)
        if r.status == 202:
            self.check_status(r.json, 3, 0, 3)
        else:
            self.assertTaxiiError(r, 400)

    def test_status_unknown_404(self):
        for sid in (str(uuid.uuid4()), "not-a-uuid", "0" * 36):
            for slash in (True, False):
                self.assertTaxiiError(self.admin.get(status_path(sid, slash=slash)), 404,
                                      statuses=(400, 404))

    def test_objects_sharing_a_version_timestamp_are_all_listed(self):
        # Different objects often share a `modified` value (one feed run, one
        # second). 5.4: Get Objects returns every object of the collection (its
        # latest version, 3.5.1); 5.3 lists a manifest record for each.
        ts = stix_ts(BASE_TIME, 3600)
        objs = [kzlib.indicator(900, created=ts), kzlib.malware(900), kzlib.indicator(901,
                                                                                    created=ts)]
        objs[1]["created"] = objs[1]["modified"] = ts
        r = post_objects(self.admin, self.same, objs)
        self.check_status(self.assertOK(r, 202), 3, 3, 0)
        for path in (objects_path(self.same), manifest_path(self.same)):
            for params in ([], [("match[version]", "all")], [("match[version]", "last")]):
                with self.subTest(path=path, params=params):
                    d = self.assertOK(self.admin.get(path + qs(params)))
                    self.assertEqual(ids(d), [o["id"] for o in objs])

    # ------------------------------------------------------------ GET objects: filters
    def get_objs(self, params, coll=None):
        r = self.admin.get(objects_path(coll or self.filt) + qs(params))
        return self.assertOK(r), r

    def test_get_all_sorted_by_date_added(self):
        d, r = self.get_objs([])
        self.assertEqual(ids(d), [o["id"] for o in self.fixture])
        self.assertEqual(d["objects"], self.fixture)
        self.assertIs(d.get("more"), False)
        self.assertNotIn("next", d)
        m = self.fixture_manifest
        self.assertEqual([x["id"] for x in m], [o["id"] for o in self.fixture])
        self.assertDateAddedHeaders(r, m[0]["date_added"], m[-1]["date_added"])

    def test_filter_type(self):
        d, _ = self.get_objs([("match[type]", "indicator")])
        self.assertEqual(ids(d), [o["id"] for o in self.ind])
        d, _ = self.get_objs([("match[type]", "indicator,malware")])
        self.assertEqual(ids(d), [o["id"] for o in self.fixture
                                  if o["type"] in ("indicator", "malware")])
        d, _ = self.get_objs([("match[type]", "ipv4-addr")])
        self.assertEqual(ids(d), [self.sco[0]["id"]])

    def test_filter_repeated_keys_are_merged(self):
        # kizuna: match[type]=a&match[type]=b is match[type]=a,b
        d, _ = self.get_objs([("match[type]", "indicator"), ("match[type]", "malware")])
        self.assertEqual(ids(d), [o["id"] for o in self.fixture
                                  if o["type"] in ("indicator", "malware")])
        a, b = self.ind[0]["id"], self.mal[1]["id"]
        d, _ = self.get_objs([("match[id]", a), ("match[id]", b)])
        self.assertEqual(ids(d), [a, b])

    def test_filter_id(self):
        a, b = self.ind[1]["id"], self.mal[0]["id"]
        d, r = self.get_objs([("match[id]", a)])
        self.assertEqual(ids(d), [a])
        d, _ = self.get_objs([("match[id]", "%s,%s" % (a, b))])
        self.assertEqual(ids(d), [b, a])  # date_added order, not request order

    def test_filter_spec_version(self):
        d, _ = self.get_objs([("match[spec_version]", "2.1")])
        self.assertEqual(ids(d), [o["id"] for o in self.fixture])
        d, _ = self.get_objs([("match[spec_version]", "2.0,2.1")])
        self.assertEqual(len(ids(d)), len(self.fixture))
        d, r = self.get_objs([("match[spec_version]", "2.0")])
        self.assertEqual(d, {"more": False}, "empty envelope must be {\"more\": false}: %r" % r)

    def test_filters_are_anded(self):
        d, _ = self.get_objs([("match[type]", "malware"), ("match[id]", self.ind[0]["id"])])
        self.assertEqual(d, {"more": False})
        d, _ = self.get_objs([("match[type]", "indicator,malware"),
                              ("match[id]", "%s,%s" % (self.ind[0]["id"], self.mal[1]["id"])),
                              ("match[spec_version]", "2.1"), ("match[version]", "last")])
        self.assertEqual(ids(d), [self.ind[0]["id"], self.mal[1]["id"]])

    def test_added_after(self):
        m = self.fixture_manifest
        d, r = self.get_objs([("added_after", m[2]["date_added"])])
        self.assertEqual(ids(d), [x["id"] for x in m[3:]])
        self.assertDateAddedHeaders(r, m[3]["date_added"], m[-1]["date_added"])
        d, _ = self.get_objs([("added_after", m[2]["date_added"]), ("match[type]", "indicator")])
        self.assertEqual(ids(d), [self.ind[2]["id"]])
        d, r = self.get_objs([("added_after", m[-1]["date_added"])])
        self.assertEqual(d, {"more": False}, r)
        # a timestamp with less precision is fine too
        d, _ = self.get_objs([("added_after", "2000-01-01T00:00:00Z")])
        self.assertEqual(len(ids(d)), len(self.fixture))
        d, _ = self.get_objs([("added_after", "2000-01-01T00:00:00.1Z")])
        self.assertEqual(len(ids(d)), len(self.fixture))

    def test_limit_small_pages(self):
        m = self.fixture_manifest
        d, r = self.get_objs([("limit", "2")])
        self.assertEqual(ids(d), [x["id"] for x in m[:2]])
        self.assertIs(d["more"], True)
        self.assertIsInstance(d.get("next"), str)
        self.assertTrue(d["next"])
        self.assertDateAddedHeaders(r, m[0]["date_added"], m[1]["date_added"])
        items, pages = kzlib.walk_pages(self.admin, objects_path(self.filt), limit=2)
        self.assertEqual([o["id"] for o in items], [x["id"] for x in m])
        self.assertEqual(len(pages), 4)
        for p in pages:
            self.assertLessEqual(len(p.json.get("objects", [])), 2)
        # the same walk with a filter keeps the filter on every page
        items, _ = kzlib.walk_pages(self.admin, objects_path(self.filt),
                                    params=[("match[type]", "indicator")], limit=1)
        self.assertEqual([o["id"] for o in items], [o["id"] for o in self.ind])

    def test_unknown_params_ignored(self):
        d, _ = self.get_objs([("foo", "bar"), ("format", "xml"), ("limitx", "0")])
        self.assertEqual(len(ids(d)), len(self.fixture))

    def test_bad_params_400(self):
        bad = [("limit", "0"), ("limit", "-1"), ("limit", "abc"), ("limit", "1.5"),
               ("limit", "0x10"), ("limit", "1e3"),
               ("match[version]", "notatime"), ("match[version]", "last,notatime"),
               ("match[version]", "2025-13-45T00:00:00Z"), ("match[version]", "LAST"),
               ("added_after", "yesterday"), ("added_after", "2025-01-01"),
               ("added_after", "2025-01-01T00:00:00"), ("added_after", "2025-02-30T00:00:00Z"),
               ("next", "garbage"), ("next", "A" * 300)]
        paths = [objects_path(self.filt), manifest_path(self.filt),
                 object_path(self.filt, self.ind[0]["id"]),
                 versions_path(self.filt, self.ind[0]["id"])]
        for k, v in bad:
            for p in paths:
                if k == "match[version]" and p.endswith("/versions/"):
                    continue  # 5.8 takes no match[version]
                with self.subTest(param=k, value=v, path=p):
                    self.assertTaxiiError(self.admin.get(p + qs([(k, v)])), 400)

    def test_empty_param_values_never_500(self):
        for k in ("limit", "match[version]", "added_after", "next", "match[type]", "match[id]"):
            with self.subTest(param=k):
                r = self.admin.get(objects_path(self.filt) + qs([(k, "")]))
                self.assertIn(r.status, (200, 400), r)
                self.assertTaxiiType(r)

    def test_limit_huge_is_capped(self):
        d, _ = self.get_objs([("limit", "999999999")])
        self.assertEqual(len(ids(d)), len(self.fixture))
        self.assertIs(d["more"], False)
        # beyond any integer type: capped like any big limit, or refused; never a 5xx
        r = self.admin.get(objects_path(self.filt) + qs([("limit", "9" * 30)]))
        self.assertIn(r.status, (200, 400), r)

    def test_forged_next_400(self):
        d, _ = self.get_objs([("limit", "2")])
        nxt = d["next"]
        forged = [nxt[:-1] + ("A" if nxt[-1] != "A" else "B"), nxt[::-1], nxt + "x",
                  nxt[:len(nxt) // 2], "\u00e9" + nxt]
        for f in forged:
            with self.subTest(next=f):
                self.assertTaxiiError(self.admin.get(objects_path(self.filt) +
                                                     qs([("limit", "2"), ("next", f)])), 400)
        # a next from one collection is no key to another
        r = self.admin.get(objects_path(self.vers) + qs([("limit", "2"), ("next", nxt)]))
        self.assertIn(r.status, (200, 400), r)
        if r.status == 200:
            self.assertFalse(set(ids(r.json)) & {o["id"] for o in self.fixture})

    def test_next_injection_does_not_reach_headers(self):
        r = self.admin.get(objects_path(self.filt) + "?next=%0d%0aX-Injected:%201")
        self.assertTaxiiError(r, 400)
        self.assertIsNone(r.header("X-Injected"))

    # ------------------------------------------------------------ object by id
    def test_get_object(self):
        o = self.mal[1]
        r = self.admin.get(object_path(self.filt, o["id"]))
        d = self.assertOK(r)
        self.assertEqual(d["objects"], [o])
        self.assertIs(d.get("more"), False)
        recs = [x for x in self.fixture_manifest if x["id"] == o["id"]]
        self.assertEqual(len(recs), 1, "%s missing from the manifest" % o["id"])
        self.assertDateAddedHeaders(r, recs[0]["date_added"], recs[0]["date_added"])
        r = self.admin.get(object_path("filters", o["id"]))
        self.assertEqual(self.assertOK(r)["objects"], [o])

    def test_get_object_404(self):
        for oid in ("indicator--%s" % uuid.uuid4(), self.vid, "not-an-id",
                    "indicator--00000000-0000-0000-0000-000000000000"):
            with self.subTest(oid=oid):
                r = self.admin.get(object_path(self.filt, oid))
                self.assertTaxiiError(r, 404, statuses=(400, 404) if "--" not in oid else None)
        # objects of one collection are not reachable through another
        r = self.admin.get(object_path(self.coll, self.ind[0]["id"]))
        self.assertTaxiiError(r, 404)

    def test_object_versions_match(self):
        v = self.vobjs
        path = object_path(self.vers, self.vid)
        d = self.assertOK(self.admin.get(path))
        self.assertEqual(d["objects"], [v[2]], "default match[version] is last")
        cases = {"last": [v[2]], "first": [v[0]], "all": v, "first,last": [v[0], v[2]],
                 self.vtimes[1]: [v[1]], "%s,%s" % (self.vtimes[0], self.vtimes[2]): [v[0], v[2]],
                 "first,%s" % self.vtimes[1]: [v[0], v[1]]}
        for mv, want in cases.items():
            with self.subTest(match_version=mv):
                r = self.admin.get(path + qs([("match[version]", mv)]))
                d = self.assertOK(r)
                self.assertEqual(d["objects"], want)
                self.assertDateAddedHeaders(r)
        # first/last go by version (modified), not by arrival
        r = self.robjs
        rp = object_path(self.vers, self.rid)
        self.assertEqual(self.assertOK(self.admin.get(rp))["objects"], [r[2]])
        self.assertEqual(self.assertOK(self.admin.get(
            rp + qs([("match[version]", "first")])))["objects"], [r[0]])
        # all: sorted by date_added, i.e. the order they arrived in
        self.assertEqual(self.assertOK(self.admin.get(
            rp + qs([("match[version]", "all")])))["objects"], [r[2], r[1], r[0]])
        # a timestamp that is no version: nothing (an empty envelope or 404)
        r2 = self.admin.get(path + qs([("match[version]", "2001-01-01T00:00:00.000Z")]))
        if r2.status == 200:
            self.assertEqual(r2.json, {"more": False})
        else:
            self.assertTaxiiError(r2, 404)

    def test_objects_endpoint_versions(self):
        base = objects_path(self.vers)
        d = self.assertOK(self.admin.get(base + qs([("match[id]", self.vid)])))
        self.assertEqual(d["objects"], [self.vobjs[2]])
        d = self.assertOK(self.admin.get(base + qs([("match[id]", self.vid),
                                                    ("match[version]", "all")])))
        self.assertEqual(d["objects"], self.vobjs)
        d = self.assertOK(self.admin.get(base + qs([("match[version]", "first")])))
        self.assertEqual(d["objects"], [self.vobjs[0], self.robjs[0]])

    def test_versions_endpoint(self):
        r = self.admin.get(versions_path(self.vers, self.vid))
        d = self.assertOK(r)
        self.assertIs(d.get("more"), False)
        self.assertEqual([parse_ts(x) for x in d["versions"]], [parse_ts(t) for t in self.vtimes])
        for x in d["versions"]:
            self.assertRegex(x, kzlib.ANY_TS_RE)
        self.assertDateAddedHeaders(r)
        self.assertNotIn("objects", d)
        # pagination of versions
        items, pages = kzlib.walk_pages(self.admin, versions_path(self.vers, self.vid), limit=1,
                                        key="versions")
        self.assertEqual([parse_ts(x) for x in items], [parse_ts(t) for t in self.vtimes])
        self.assertEqual(len(pages), 3)
        # added_after on versions
        man = self.manifest_of(self.vers, [("match[id]", self.vid), ("match[version]", "all")])
        d = self.assertOK(self.admin.get(versions_path(self.vers, self.vid) +
                                         qs([("added_after", man[0]["date_added"])])))
        self.assertEqual([parse_ts(x) for x in d["versions"]],
                         [parse_ts(t) for t in self.vtimes[1:]])
        d = self.assertOK(self.admin.get(versions_path(self.vers, self.vid) +
                                         qs([("match[spec_version]", "2.1")])))
        self.assertEqual(len(d["versions"]), 3)
        # arrival order: versions of rid came newest first
        d = self.assertOK(self.admin.get(versions_path(self.vers, self.rid)))
        self.assertEqual(sorted(parse_ts(x) for x in d["versions"]),
                         [parse_ts(t) for t in self.vtimes])
        # unknown object
        self.assertTaxiiError(self.admin.get(versions_path(self.vers, "indicator--%s" %
                                                           uuid.uuid4())), 404)

    # ------------------------------------------------------------ manifest
    def test_manifest(self):
        r = self.admin.get(manifest_path(self.filt))
        d = self.assertOK(r)
        recs = d["objects"]
        self.assertIs(d.get("more"), False)
        self.assertEqual([x["id"] for x in recs], [o["id"] for o in self.fixture])
        prev = None
        for rec, obj in zip(recs, self.fixture):
            self.assertEqual(set(rec) - {"media_type"}, {"id", "date_added", "version"}, rec)
            self.assertEqual(rec.get("media_type", STIX_MT), STIX_MT)
            self.assertRegex(rec["date_added"], kzlib.TAXII_TS_RE)
            if prev is not None:
                self.assertGreater(rec["date_added"], prev, "date_added must strictly increase")
            prev = rec["date_added"]
            if "modified" in obj:
                self.assertEqual(parse_ts(rec["version"]), parse_ts(obj["modified"]))
            else:
                self.assertRegex(rec["version"], kzlib.ANY_TS_RE)
        self.assertDateAddedHeaders(r, recs[0]["date_added"], recs[-1]["date_added"])
        # the SCO's server-chosen version is consistent between calls and endpoints
        sid = self.sco[0]["id"]
        v1 = next(x["version"] for x in recs if x["id"] == sid)
        v2 = self.assertOK(self.admin.get(versions_path(self.filt, sid)))["versions"]
        self.assertEqual(v2, [v1])

    def test_manifest_filters(self):
        d = self.assertOK(self.admin.get(manifest_path(self.filt) +
                                         qs([("match[type]", "malware")])))
        self.assertEqual([x["id"] for x in d["objects"]], [o["id"] for o in self.mal])
        d = self.assertOK(self.admin.get(manifest_path(self.vers) +
                                         qs([("match[id]", self.vid), ("match[version]", "all")])))
        self.assertEqual([parse_ts(x["version"]) for x in d["objects"]],
                         [parse_ts(t) for t in self.vtimes])
        d = self.assertOK(self.admin.get(manifest_path(self.vers) +
                                         qs([("match[id]", self.vid)])))
        self.assertEqual(len(d["objects"]), 1)
        self.assertEqual(parse_ts(d["objects"][0]["version"]), parse_ts(self.vtimes[2]))
        items, pages = kzlib.walk_pages(self.admin, manifest_path(self.filt), limit=3)
        self.assertEqual(items, self.fixture_manifest)
        self.assertEqual(len(pages), 3)
        m = self.fixture_manifest
        r = self.admin.get(manifest_path(self.filt) + qs([("added_after", m[4]["date_added"])]))
        self.assertEqual(self.assertOK(r)["objects"], m[5:])
        self.assertDateAddedHeaders(r, m[5]["date_added"], m[-1]["date_added"])
        d = self.assertOK(self.admin.get(manifest_path(self.filt) +
                                         qs([("match[type]", "no-such-type")])))
        self.assertEqual(d, {"more": False})

    def test_date_added_unique_across_collections(self):
        a = kzlib.indicator(11)
        b = kzlib.indicator(12)
        ra = post_objects(self.admin, self.other, [a])
        rb = post_objects(self.admin, self.coll, [b])
        self.assertEqual(ra.status, 202)
        self.assertEqual(rb.status, 202)
        da = self.manifest_of(self.other, [("match[id]", a["id"])])[0]["date_added"]
        db = self.manifest_of(self.coll, [("match[id]", b["id"])])[0]["date_added"]
        self.assertLess(da, db)
        # the same object in two collections keeps one record per collection
        rc = post_objects(self.admin, self.other, [b])
        self.assertEqual(rc.status, 202)
        dc = self.manifest_of(self.other, [("match[id]", b["id"])])[0]["date_added"]
        self.assertGreater(dc, db)

    # ------------------------------------------------------------ delete
    def test_delete_one_version_then_all(self):
        oid = kzlib.new_id("indicator")
        vs = [kzlib.indicator(3, oid=oid, created=self.vtimes[0], modified=t)
              for t in self.vtimes]
        for o in vs:
            self.assertEqual(post_objects(self.poster, self.dele, [o]).status, 202)
        path = object_path(self.dele, oid)
        r = self.poster.delete(path + qs([("match[version]", "first")]))
        self.assertEqual(r.status, 200, r)
        self.assertTaxiiType(r)
        d = self.assertOK(self.admin.get(versions_path(self.dele, oid)))
        self.assertEqual([parse_ts(x) for x in d["versions"]],
                         [parse_ts(t) for t in self.vtimes[1:]])
        r = self.poster.delete(path + qs([("match[version]", self.vtimes[2])]))
        self.assertEqual(r.status, 200, r)
        d = self.assertOK(self.admin.get(path))
        self.assertEqual(d["objects"], [vs[1]])
        # re-add v3, then DELETE without filters removes every version (5.7)
        self.assertEqual(post_objects(self.poster, self.dele, [vs[2]]).status, 202)
        r = self.poster.delete(path)
        self.assertEqual(r.status, 200, r)
        self.assertTaxiiType(r)
        if r.body:
            self.assertIsNotNone(r.json, "a DELETE body, if any, is JSON: %r" % r)
        self.assertTaxiiError(self.admin.get(path), 404)
        self.assertTaxiiError(self.admin.get(versions_path(self.dele, oid)), 404)
        self.assertEqual(self.manifest_of(self.dele, [("match[id]", oid),
                                                      ("match[version]", "all")]), [])
        d = self.assertOK(self.admin.get(objects_path(self.dele) + qs([("match[id]", oid)])))
        self.assertEqual(d, {"more": False})
        # deleting again: 404
        self.assertTaxiiError(self.poster.delete(path), 404)

    def test_delete_spec_version_filter(self):
        oid = kzlib.new_id("indicator")
        o = kzlib.indicator(4, oid=oid)
        self.assertEqual(post_objects(self.poster, self.dele, [o]).status, 202)
        path = object_path(self.dele, oid)
        r = self.poster.delete(path + qs([("match[spec_version]", "2.0")]))
        self.assertIn(r.status, (200, 404), r)
        self.assertOK(self.admin.get(path))
        r = self.poster.delete(path + qs([("match[spec_version]", "2.1")]))
        self.assertEqual(r.status, 200, r)
        self.assertTaxiiError(self.admin.get(path), 404)

    def test_delete_errors(self):
        o = kzlib.indicator(9)
        self.assertEqual(post_objects(self.poster, self.dele, [o]).status, 202)
        path = object_path(self.dele, o["id"])
        self.assertTaxiiError(self.reader.delete(path), 403)
        self.assertTaxiiError(self.poster.delete(path + qs([("match[version]", "bogus")])), 400)
        self.assertTaxiiError(self.poster.delete(object_path(self.dele, "indicator--%s" %
                                                             uuid.uuid4())), 404)
        self.assertOK(self.admin.get(path))

    def test_delete_by_alias(self):
        o = kzlib.indicator(10)
        self.assertEqual(post_objects(self.poster, self.dele, [o]).status, 202)
        r = self.poster.delete(object_path("deletes", o["id"]))
        self.assertEqual(r.status, 200, r)
        self.assertTaxiiError(self.admin.get(object_path(self.dele, o["id"])), 404)

    # ------------------------------------------------------------ 413
    def test_413_content_length_over_limit_not_read(self):
        mcl = self.assertOK(self.admin.get("/default/"))["max_content_length"]
        s = socket.create_connection(("127.0.0.1", self.node.port), timeout=10)
        try:
            head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                    "Accept: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                    % (objects_path(self.coll), self.node.admin_token, TAXII_MT, TAXII_MT,
                       mcl + 1))
            s.sendall(head.encode() + b'{"objects": [')
            t0 = time.monotonic()
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 413") or data.startswith(b"HTTP/1.0 413"),
                            "wanted 413 before the body was sent, got %r" % data[:200])
            self.assertLess(time.monotonic() - t0, 5.0)
            self.assertIn(b"application/taxii+json", data.lower().replace(b" ", b""))
        finally:
            s.close()
        # at the limit is not 413 (4.2.1: "Requests with total body length values
        # smaller than this value MUST NOT result in an HTTP 413")
        r = self.admin.post(objects_path(self.coll), b"{}", content_type=TAXII_MT)
        self.assertNotEqual(r.status, 413)


if __name__ == "__main__":
    kzlib.main()
