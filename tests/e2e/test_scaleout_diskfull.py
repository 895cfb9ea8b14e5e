"""Two servers over one PostgreSQL behind nginx, with the database's disk full
(issue 13): writes are refused with 507 and nothing of a refused envelope
lands, reads go on through both servers, and what was acknowledged stays.
The database lives in a tablespace on a small tmpfs of its own; the test is
skipped where no tmpfs can be mounted (not root, or a container without the
right), and (77) without PostgreSQL and nginx unless KZ_TEST_PG_REQUIRED.
"""

import os
import unittest

os.environ["KZ_E2E_SCALEOUT"] = "1"

import kzlib  # noqa: E402
import scaleout  # noqa: E402
from kzlib import indicator, objects_path, object_path, post_objects  # noqa: E402


def ids_of(r):
    return {o["id"] for o in (r.json or {}).get("objects", [])}


class DiskFull(kzlib.NodeTestCase):
    """The node's database in a tablespace on a 24 MiB tmpfs, filled by POSTs."""
    node_name = "diskfull"

    @classmethod
    def setUpClass(cls):
        cls.tablespace = scaleout.small_tablespace(24)
        if not cls.tablespace:
            raise unittest.SkipTest("no tmpfs can be mounted here for a small tablespace")
        cls.node = kzlib.Node(cls.__name__)
        cls.node.pg_tablespace = cls.tablespace
        try:
            cls.node.init(cls.node_name)
            cls.node.collection_add("intel")
            cls.node.start()
        except BaseException:
            cls.node.cleanup()
            raise

    def test_full_disk_is_507_and_reads_go_on(self):
        client = self.node.admin()
        acked, full, i = [], None, 0
        big = "x" * 2000
        while full is None and i < 2000:
            objs = [indicator(100000 + i * 200 + k, name=big) for k in range(200)]
            i += 1
            r = post_objects(client, "intel", objs)
            if r.status == 202:
                self.assertEqual(r.json.get("status"), "complete", r)
                acked.extend(o["id"] for o in objs)
            elif r.status == 507:
                full = objs
            else:
                self.assertIn(r.status, (202, 507), r)
        self.assertIsNotNone(full, "the disk never filled")
        self.assertTaxiiError(r, 507)
        # reads go on, through both servers
        for _ in range(4):
            self.assertEqual(client.get(objects_path("intel") + "?limit=5").status, 200)
        # nothing of the refused envelope landed; everything acknowledged did
        r = client.get(objects_path("intel") + "?match[id]=%s,%s" % (full[0]["id"],
                                                                    full[-1]["id"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(ids_of(r), set())
        for oid in (acked[0], acked[len(acked) // 2], acked[-1]):
            self.assertEqual(client.get(object_path("intel", oid)).status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
