"""POSTs that ingest stores in batches (a store call per STORE_PUT_BATCH =
128 objects, one statement on PostgreSQL): an envelope longer than a batch,
small enough to be read on one thread and large enough (256 KiB) to be
prepared on a second, must come out exactly as if each object had been
stored alone. The status lists every object in envelope order; a version
later in the envelope than another of its id sees it (its flags, and the
write policy's owner of the id); a tombstone deletes what came before it in
the envelope and nothing after; a conflict or an invalid object in the
middle of a batch fails alone. Runs on SQLite and, as a scaleout/ test, on
PostgreSQL behind two servers.
"""

import json

import kzlib
from kzlib import (NodeTestCase, TAXII_MT, objects_path, object_path, versions_path,
                   post_objects, stix_ts, BASE_TIME)

TOMBSTONE = "x-kizuna-tombstone"


def indicator(i, pad=0, **kw):
    o = kzlib.indicator(i, **kw)
    if pad:
        o["description"] = "padding " * (pad // 8)
    return o


def tombstone(object_ref, when):
    return {"type": TOMBSTONE, "spec_version": "2.1", "id": kzlib.new_id(TOMBSTONE),
            "created": when, "modified": when, "object_ref": object_ref,
            "object_marking_refs": [kzlib.TLP_CLEAR]}


class PostBatches(NodeTestCase):
    node_name = "batches"

    @classmethod
    def setup_node(cls, node):
        node.collection_add("intel")

    def setUp(self):
        self.admin = self.node.admin()

    def post(self, objects, escaped=False):
        if escaped:
            r = self.admin.post(objects_path("intel"),
                                kzlib.escaped_dumps(kzlib.envelope(objects)).encode(),
                                content_type=TAXII_MT)
        else:
            r = post_objects(self.admin, "intel", objects)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json.get("status"), "complete", r)
        return r.json

    def versions(self, oid):
        r = self.admin.get(versions_path("intel", oid))
        if r.status == 404:
            return []
        self.assertEqual(r.status, 200, r)
        return r.json.get("versions", [])

    def latest(self, oid):
        r = self.admin.get(object_path("intel", oid))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["objects"]), 1, r.json)
        return r.json["objects"][0]

    def mixed_envelope(self, n, pad):
        """n objects with, at known places, an invalid one, a second version
        of an earlier id, a duplicate and a conflict, spread over batches."""
        objs = [indicator(1000 + i, pad=pad) for i in range(n)]
        del objs[3]["pattern"]  # invalid
        v2 = dict(objs[10], modified=stix_ts(BASE_TIME, 3600), name="second version")
        objs[70] = v2
        objs[100] = dict(objs[20])  # the same object again: a duplicate
        objs[120] = dict(objs[30], name="same id and version, other content")  # a conflict
        return objs, {3, 120}

    def check_mixed(self, objs, failed, st):
        self.assertEqual(st["total_count"], len(objs))
        self.assertEqual(st["failure_count"], len(failed), st.get("failures"))
        self.assertEqual([f["id"] for f in st["failures"]], [objs[i]["id"] for i in sorted(failed)])
        # successes in envelope order, each with its version
        want = [(o["id"], o["modified"]) for i, o in enumerate(objs) if i not in failed]
        got = [(s["id"], s["version"]) for s in st["successes"]]
        self.assertEqual([g[0] for g in got], [w[0] for w in want])
        for (gid, gv), (wid, wv) in zip(got, want):
            self.assertEqual(kzlib.parse_ts(gv), kzlib.parse_ts(wv), gid)
        # the second version is the latest, and both are there
        self.assertEqual(self.latest(objs[10]["id"])["name"], "second version")
        self.assertEqual(len(self.versions(objs[10]["id"])), 2)
        # the conflict left the first object as it was; the invalid one is absent
        self.assertEqual(self.latest(objs[30]["id"]), objs[30])
        self.assertEqual(self.versions(objs[3]["id"]), [])
        self.assertEqual(len(self.versions(objs[20]["id"])), 1)
        for i in (0, 127, 128, 129, 255, 256, 299):
            self.assertEqual(self.latest(objs[i]["id"]), objs[i], i)

    def test_envelope_of_several_batches_read_on_one_thread(self):
        objs, failed = self.mixed_envelope(300, pad=0)
        self.assertLess(len(json.dumps(kzlib.envelope(objs))), 256 * 1024)
        self.check_mixed(objs, failed, self.post(objs))

    def test_envelope_of_several_batches_prepared_on_a_second_thread(self):
        objs, failed = self.mixed_envelope(300, pad=1200)
        self.assertGreater(len(json.dumps(kzlib.envelope(objs))), 256 * 1024)
        self.check_mixed(objs, failed, self.post(objs))

    def test_a_later_version_in_the_same_envelope_keeps_the_creator(self):
        """The owner the write policy checks a version against is the one
        stored by an earlier object of the same envelope, even in its batch."""
        for escaped in (False, True):
            with self.subTest(escaped=escaped):
                a, b = kzlib.new_id("identity"), kzlib.new_id("identity")
                first = indicator(1, created=stix_ts(BASE_TIME, 5))
                first["created_by_ref"] = a
                second = dict(first, modified=stix_ts(BASE_TIME, 65), created_by_ref=b)
                third = dict(first, modified=stix_ts(BASE_TIME, 125), name="third")
                filler = [indicator(2000 + i) for i in range(5)]
                st = self.post([first] + filler + [second, third], escaped=escaped)
                self.assertEqual(st["failure_count"], 1, st)
                self.assertEqual(st["failures"][0]["id"], first["id"])
                self.assertIn("created_by_ref", st["failures"][0].get("message", ""))
                self.assertEqual(self.latest(first["id"])["name"], "third")
                self.assertEqual(len(self.versions(first["id"])), 2)

    def test_a_tombstone_deletes_what_came_before_it_and_nothing_after(self):
        x = indicator(7, created=stix_ts(BASE_TIME, 7))
        later = dict(x, modified=stix_ts(BASE_TIME, 600), name="after the tombstone")
        filler = [indicator(3000 + i) for i in range(40)]
        objs = ([x] + filler[:20] + [tombstone(x["id"], stix_ts(BASE_TIME, 300))] +
                filler[20:] + [later])
        st = self.post(objs)
        self.assertEqual(st["success_count"], len(objs), st.get("failures"))
        vs = self.versions(x["id"])
        self.assertEqual(len(vs), 1, vs)
        self.assertEqual(self.latest(x["id"])["name"], "after the tombstone")
        for f in filler:
            self.assertEqual(self.latest(f["id"]), f)


if __name__ == "__main__":
    kzlib.main()
