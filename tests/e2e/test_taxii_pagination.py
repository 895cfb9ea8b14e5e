"""Pagination (TAXII 2.1 3.4/3.7: limit, more, next; X-TAXII-Date-Added-Last
with added_after) through ~2,500 objects, and the cursor that survives
concurrent writes: polling with added_after = the last X-TAXII-Date-Added-Last
never skips or repeats an object, even while other clients POST."""

import json
import os
import threading
import time

import kzlib
from kzlib import NodeTestCase, objects_path, manifest_path, qs, post_objects

N_BULK = 2500


class Pagination(NodeTestCase):
    node_name = "pagination-node"

    @classmethod
    def setup_node(cls, node):
        cls.bulk = node.collection_add("bulk")
        cls.live = node.collection_add("live")
        cls.live2 = node.collection_add("live2")
        cls.mixed = node.collection_add("mixed")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        admin = cls.node.admin()
        cls.bulk_objs = [kzlib.indicator(i) for i in range(N_BULK)]
        t0 = time.monotonic()
        for i in range(0, N_BULK, 500):
            r = post_objects(admin, cls.bulk, cls.bulk_objs[i:i + 500])
            assert r.status == 202 and r.json["success_count"] == 500, r
        cls.post_seconds = time.monotonic() - t0
        items, _ = kzlib.walk_pages(admin, manifest_path(cls.bulk), limit=10000)
        cls.bulk_manifest = items
        cls.date_added = {m["id"]: m["date_added"] for m in items}

    def setUp(self):
        self.admin = self.node.admin()

    def check_headers(self, r, objs):
        if not objs:
            return
        self.assertDateAddedHeaders(r, self.date_added_of(objs[0]["id"]),
                                    self.date_added_of(objs[-1]["id"]))

    def date_added_of(self, oid):
        self.assertIn(oid, self.date_added, "%s is missing from the bulk manifest" % oid)
        return self.date_added[oid]

    # ------------------------------------------------------------ bulk walks
    def test_bulk_manifest_strictly_increasing(self):
        m = self.bulk_manifest
        self.assertEqual(len(m), N_BULK)
        self.assertEqual(len({x["id"] for x in m}), N_BULK)
        das = [x["date_added"] for x in m]
        for d in das:
            self.assertRegex(d, kzlib.TAXII_TS_RE)
        self.assertEqual(len(set(das)), N_BULK, "date_added values must be unique")
        self.assertEqual(das, sorted(das))
        # within one POST, objects keep the order they were sent in
        self.assertEqual([x["id"] for x in m], [o["id"] for o in self.bulk_objs])

    def test_default_page(self):
        r = self.admin.get(objects_path(self.bulk))
        d = self.assertOK(r)
        self.assertEqual(len(d["objects"]), 1000, "default page size is 1000")
        self.assertIs(d["more"], True)
        self.assertTrue(d.get("next"))
        self.check_headers(r, d["objects"])

    def test_next_walk(self):
        for limit in (100, 999, 2500, 3000):
            with self.subTest(limit=limit):
                items, pages = kzlib.walk_pages(self.admin, objects_path(self.bulk), limit=limit)
                self.assertEqual([o["id"] for o in items], [o["id"] for o in self.bulk_objs])
                self.assertEqual(len(pages), -(-N_BULK // limit))
                for i, p in enumerate(pages):
                    objs = p.json.get("objects", [])
                    self.assertLessEqual(len(objs), limit)
                    self.assertEqual(p.json["more"], i < len(pages) - 1)
                    if p.json["more"]:
                        self.assertTrue(p.json.get("next"))
                    else:
                        self.assertNotIn("next", p.json)
                    self.check_headers(p, objs)
        self.assertEqual(items, self.bulk_objs)

    def test_next_keeps_its_added_after(self):
        """TAXII 2.1 section 3.4: next goes with the same original query. A next sent
        beside a changed added_after is a 400 (issue 12: kizuna used to ignore the change
        silently); one sent without it (OpenCTI's TAXII connector does this) is served
        the same page, and the cursor it gets still belongs to the original query."""
        after = kzlib.stix_ts(kzlib.BASE_TIME, seconds=-3600)
        path = objects_path(self.bulk)
        first = self.admin.get(path + qs([("added_after", after), ("limit", "100")]))
        self.assertEqual(first.status, 200, first)
        nxt = first.json["next"]
        same = self.admin.get(path + qs([("added_after", after), ("limit", "100"),
                                         ("next", nxt)]))
        self.assertEqual(same.status, 200, same)
        moved = first.header("x-taxii-date-added-last")
        r = self.admin.get(path + qs([("added_after", moved), ("limit", "100"), ("next", nxt)]))
        self.assertEqual(r.status, 400, r)
        self.assertIn("added_after", r.body.decode())
        r = self.admin.get(path + qs([("match[type]", "indicator"), ("added_after", after),
                                      ("limit", "100"), ("next", nxt)]))
        self.assertEqual(r.status, 400, r)
        self.assertIn("other filters", r.body.decode())
        bare = self.admin.get(path + qs([("limit", "100"), ("next", nxt)]))
        self.assertEqual(bare.status, 200, bare)
        self.assertEqual(bare.json["objects"], same.json["objects"])
        # the cursor of the bare request continues the original query, with or
        # without its added_after, and still refuses a moved one
        nxt2 = bare.json["next"]
        with_after = self.admin.get(path + qs([("added_after", after), ("limit", "100"),
                                               ("next", nxt2)]))
        without = self.admin.get(path + qs([("limit", "100"), ("next", nxt2)]))
        self.assertEqual(with_after.status, 200, with_after)
        self.assertEqual(without.status, 200, without)
        self.assertEqual(with_after.json["objects"], without.json["objects"])
        self.assertNotEqual(with_after.json["objects"], same.json["objects"])
        r = self.admin.get(path + qs([("added_after", moved), ("limit", "100"), ("next", nxt2)]))
        self.assertEqual(r.status, 400, r)

    def test_next_walk_manifest_with_filters(self):
        ids = [o["id"] for o in self.bulk_objs[::7]]
        # split the id list over several requests so the URL stays reasonable
        chunk = ids[:60]
        items, pages = kzlib.walk_pages(self.admin, manifest_path(self.bulk),
                                        params=[("match[id]", ",".join(chunk)),
                                                ("match[type]", "indicator")], limit=7)
        self.assertEqual([x["id"] for x in items], chunk)
        self.assertEqual(len(pages), -(-len(chunk) // 7))

    def test_added_after_chaining(self):
        seen, last, pages = [], None, 0
        while True:
            params = [("limit", "150")]
            if last:
                params.append(("added_after", last))
            r = self.admin.get(objects_path(self.bulk) + qs(params))
            d = self.assertOK(r)
            objs = d.get("objects", [])
            pages += 1
            if not objs:
                self.assertEqual(d, {"more": False})
                break
            f, la = self.assertDateAddedHeaders(r)
            if last:
                self.assertGreater(f, last)
            self.check_headers(r, objs)
            seen.extend(o["id"] for o in objs)
            last = la
            self.assertLess(pages, 100)
        self.assertEqual(seen, [o["id"] for o in self.bulk_objs])

    def test_limit_cap(self):
        r = self.admin.get(objects_path(self.bulk) + qs([("limit", "999999999")]))
        d = self.assertOK(r)
        self.assertEqual(len(d["objects"]), N_BULK)  # the cap (10000) is above 2,500
        self.assertIs(d["more"], False)

    def test_post_speed(self):
        # the reference server times out on a few thousand objects; kizuna must not
        self.assertLess(self.post_seconds, 60.0)
        t0 = time.monotonic()
        self.admin.get(objects_path(self.bulk) + qs([("limit", "2500")]))
        self.assertLess(time.monotonic() - t0, 10.0)

    # ------------------------------------------------------------ concurrent writes
    def _writer(self, coll, batches, size, out, errors, pause=0.005, tag=0):
        c = self.node.admin()
        for b in range(batches):
            objs = [kzlib.indicator(100000 + tag * 10000 + b * size + i) for i in range(size)]
            r = post_objects(c, coll, objs)
            if r.status != 202 or r.json.get("success_count") != size:
                errors.append(r)
                return
            out.extend(o["id"] for o in objs)
            time.sleep(pause)

    def test_cursor_survives_concurrent_writes(self):
        admin = self.admin
        pre = [kzlib.indicator(50000 + i) for i in range(600)]
        for i in range(0, len(pre), 300):
            self.assertEqual(post_objects(admin, self.live, pre[i:i + 300]).status, 202)
        written, errors = [], []
        writers = [threading.Thread(target=self._writer,
                                    args=(self.live, 30, 10, written, errors, 0.005, t))
                   for t in range(2)]
        for w in writers:
            w.start()
        seen, last = [], None
        deadline = time.monotonic() + 90
        try:
            while True:
                self.assertLess(time.monotonic(), deadline, "polling did not converge")
                writing = any(w.is_alive() for w in writers)
                params = [("limit", "37")]
                if last:
                    params.append(("added_after", last))
                r = admin.get(objects_path(self.live) + qs(params))
                d = self.assertOK(r)
                objs = d.get("objects", [])
                if objs:
                    f, la = self.assertDateAddedHeaders(r)
                    if last:
                        self.assertGreater(f, last, "a page started at or before the cursor")
                    seen.extend(o["id"] for o in objs)
                    last = la
                elif not writing:
                    break
                else:
                    time.sleep(0.01)
        finally:
            for w in writers:
                w.join()
        self.assertEqual(errors, [])
        dup = len(seen) - len(set(seen))
        self.assertEqual(dup, 0, "%d objects were served twice" % dup)
        want = {o["id"] for o in pre} | set(written)
        missing = want - set(seen)
        self.assertFalse(missing, "%d objects were skipped by the added_after cursor"
                         % len(missing))
        self.assertEqual(len(seen), len(want))
        # the order served is the date_added order of the collection
        man, _ = kzlib.walk_pages(admin, manifest_path(self.live), limit=10000)
        self.assertEqual(seen, [m["id"] for m in man])
        das = [m["date_added"] for m in man]
        self.assertEqual(len(set(das)), len(das))
        self.assertEqual(das, sorted(das))

    def test_next_walk_during_concurrent_writes(self):
        admin = self.admin
        pre = [kzlib.indicator(60000 + i) for i in range(600)]
        for i in range(0, len(pre), 300):
            self.assertEqual(post_objects(admin, self.live2, pre[i:i + 300]).status, 202)
        written, errors = [], []
        w = threading.Thread(target=self._writer,
                             args=(self.live2, 40, 5, written, errors, 0.01, 7))
        w.start()
        try:
            items, pages = kzlib.walk_pages(admin, objects_path(self.live2), limit=25)
        finally:
            w.join()
        self.assertEqual(errors, [])
        got = [o["id"] for o in items]
        self.assertEqual(len(got), len(set(got)), "a next walk served an object twice")
        self.assertEqual(got[:len(pre)], [o["id"] for o in pre],
                         "objects present before the walk must all be served, in order")
        self.assertTrue(set(got[len(pre):]) <= set(written))
        # and resuming with added_after from the walk's last page picks up the rest
        last = pages[-1].header("X-TAXII-Date-Added-Last")
        rest, _ = kzlib.walk_pages(admin, objects_path(self.live2),
                                   params=[("added_after", last)], limit=1000)
        got += [o["id"] for o in rest]
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(set(got), {o["id"] for o in pre} | set(written))

    def test_date_added_across_processes(self):
        # the CLI (another process) and the server share one date_added sequence
        admin = self.admin
        a = kzlib.indicator(70001)
        b = kzlib.indicator(70002)
        c = kzlib.indicator(70003)
        self.assertEqual(post_objects(admin, self.mixed, [a]).status, 202)
        path = os.path.join(self.node.scratch, "mixed.json")
        with open(path, "w") as f:
            json.dump(kzlib.bundle([b]), f)
        self.node.import_file("mixed", path)
        self.assertEqual(post_objects(admin, self.mixed, [c]).status, 202)
        man = self.assertOK(admin.get(manifest_path(self.mixed)))["objects"]
        self.assertEqual([m["id"] for m in man], [a["id"], b["id"], c["id"]])
        das = [m["date_added"] for m in man]
        self.assertEqual(das, sorted(set(das)))


if __name__ == "__main__":
    kzlib.main()
