"""kizuna match end to end: indicators made from tests/data/match/indicators.tsv
are imported as STIX, and `kizuna match` over the generated logs (every
format, gzip included, planted hits and near misses) must report exactly the
expected hits (tests/data/match/expected*.tsv, written by
tests/tools/gen_match_logs.py) -- no more, no fewer -- with and without
--subdomains; --report writes sightings addressed to the producer."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import kzlib  # noqa: E402
from match_stix import pattern  # noqa: E402

DATA = os.path.join(os.environ.get("KZ_TEST_DATA", "tests/data"), "match")


def read_tsv(name):
    with open(os.path.join(DATA, name)) as f:
        return [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]


class MatchCLI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = kzlib.Node("match-cli")
        cls.node.init("match-node")
        cls.node.collection_add("intel")
        cls.node.collection_add("sightings")
        cls.org = cls.node.run("org", "add", "producer-cert", "--country", "JP").stdout.decode().strip()
        cls.ids = {}
        objs = []
        for kind, value, ref in read_tsv("indicators.tsv"):
            iid = "indicator--%s" % uuid.uuid4()
            cls.ids.setdefault(ref, set()).add(iid)
            objs.append({"type": "indicator", "spec_version": "2.1", "id": iid,
                         "created": "2025-01-01T00:00:00.000Z",
                         "modified": "2025-01-01T00:00:00.000Z",
                         "name": "planted %s %s" % (kind, ref), "pattern": pattern(kind, value),
                         "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
                         "created_by_ref": cls.org,
                         "object_marking_refs": [
                             "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]})
        fd, cls.bundle = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(kzlib.bundle(objs), f)
        cls.node.run("validate", cls.bundle)
        cls.node.import_file("intel", cls.bundle)

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.bundle)
        cls.node.cleanup()

    def match(self, *args):
        logs = sorted(os.path.join(DATA, "logs", f) for f in os.listdir(os.path.join(DATA, "logs")))
        p = subprocess.run([kzlib.KIZUNA, "--home", self.node.home, "match", "--json"] +
                           list(args) + logs, capture_output=True, text=True, timeout=120)
        return p

    def hits(self, p):
        got = set()
        for line in p.stdout.splitlines():
            h = json.loads(line)
            for ind in h["indicators"]:
                got.add((os.path.basename(h["file"]), h["line"], ind["id"]))
        return got

    def expected(self, name):
        want = set()
        for row in read_tsv(name):
            f, line = row[0], int(row[1])
            for ref in row[5].split(","):  # one value may hit several indicators
                for iid in self.ids[ref]:
                    want.add((f, line, iid))
        return want

    def test_exact_hits(self):
        p = self.match()
        self.assertEqual(p.returncode, 1, p.stderr)
        got, want = self.hits(p), self.expected("expected.tsv")
        self.assertEqual(sorted(got - want)[:5], [], "false positives")
        self.assertEqual(sorted(want - got)[:5], [], "missed hits")

    def test_subdomains(self):
        p = self.match("--subdomains", "--threads", "2")
        got, want = self.hits(p), self.expected("expected_sub.tsv")
        self.assertEqual(sorted(got - want)[:5], [], "false positives")
        self.assertEqual(sorted(want - got)[:5], [], "missed hits")

    def test_single_format_and_stdin(self):
        path = os.path.join(DATA, "logs", "access.log")
        with open(path, "rb") as f:
            p = subprocess.run([kzlib.KIZUNA, "--home", self.node.home, "match", "--json",
                                "--format", "clf", "-"], input=f.read(), capture_output=True,
                               timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        got = {(h["line"]) for h in map(json.loads, p.stdout.decode().splitlines())}
        want = {int(r[1]) for r in read_tsv("expected.tsv") if r[0] == "access.log"}
        self.assertEqual(got, want)

    def test_no_hits_and_errors(self):
        fd, empty = tempfile.mkstemp()
        os.write(fd, b"nothing to see here\n1.2.3.45 notevil.com\n")
        os.close(fd)
        try:
            p = subprocess.run([kzlib.KIZUNA, "--home", self.node.home, "match", empty],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "")
            p = subprocess.run([kzlib.KIZUNA, "--home", self.node.home, "match", "/no/such/log"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2)
            self.assertIn("/no/such/log", p.stderr)
            p = subprocess.run([kzlib.KIZUNA, "--home", self.node.home, "match", "--format",
                                "nope", empty], capture_output=True, text=True)
            self.assertEqual(p.returncode, 2)
        finally:
            os.unlink(empty)

    def test_report_sightings(self):
        p = self.match("--report", "sightings")
        self.assertEqual(p.returncode, 1, p.stderr)
        out = self.node.out("export", "--collection", "sightings")
        sights = [o for o in json.loads(out)["objects"] if o["type"] == "sighting"]
        by_ind = {s["sighting_of_ref"]: s for s in sights}
        counts = {}
        for f, line, iid in self.hits(p):
            counts[iid] = counts.get(iid, 0) + 1
        self.assertEqual(set(by_ind), set(counts))
        for iid, s in by_ind.items():
            self.assertGreaterEqual(s["count"], 1)
            self.assertEqual(s["object_marking_refs"],
                             ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"])
            ext = s["extensions"]["extension-definition--bc477fd6-2822-4e86-a16f-e438280733f6"]
            self.assertEqual(ext["recipients"]["organizations"], [self.org])
            self.assertEqual(s["where_sighted_refs"], [s["created_by_ref"]])
        self.node.run("validate", "-", input=out.encode() if isinstance(out, str) else out)

    def test_unfindable_pattern_is_never_blamed(self):
        """A pattern that also matches without any indexable value is left
        out of the index whole: none of its values may hit, nor be blamed
        on the indicator stored after it."""
        home = kzlib.Node("match-incomplete")
        try:
            home.init("inc-node")
            home.collection_add("intel")

            def ind(pattern):
                return {"type": "indicator", "spec_version": "2.1",
                        "id": "indicator--%s" % uuid.uuid4(),
                        "created": "2025-01-01T00:00:00.000Z",
                        "modified": "2025-01-01T00:00:00.000Z", "pattern": pattern,
                        "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z"}
            partial = ind("[ipv4-addr:value = '198.51.100.23' OR file:name = 'dropper.exe']")
            after = ind("[domain-name:value = 'after.example']")
            fd, path = tempfile.mkstemp(suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump(kzlib.bundle([partial, after]), f)
            home.run("import", "--collection", "intel", path)
            os.unlink(path)
            fd, log = tempfile.mkstemp()
            os.write(fd, b"connect to 198.51.100.23 port 443\nlookup after.example\n")
            os.close(fd)
            p = subprocess.run([kzlib.KIZUNA, "--home", home.home, "match", "--json", log],
                               capture_output=True, text=True)
            os.unlink(log)
            self.assertEqual(p.returncode, 1, p.stderr)
            got = [(json.loads(l)["value"], [i["id"] for i in json.loads(l)["indicators"]])
                   for l in p.stdout.splitlines()]
            self.assertEqual(got, [("after.example", [after["id"]])])
            self.assertIn("1 not findable by value", p.stderr)
        finally:
            home.cleanup()

    def test_warninglists_suppress(self):
        shared = os.path.join(os.environ.get("KZ_SHARED_DATA", "/nonexistent"), "warninglists",
                              "lists")
        if not os.path.isdir(shared):
            self.skipTest("no shared warninglists")
        home = kzlib.Node("match-wl")
        try:
            home.init("wl-node")
            home.collection_add("intel")
            objs = [{"type": "indicator", "spec_version": "2.1",
                     "id": "indicator--%s" % uuid.uuid4(), "created": "2025-01-01T00:00:00.000Z",
                     "modified": "2025-01-01T00:00:00.000Z", "pattern": pattern(k, v),
                     "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
                     "object_marking_refs": [
                         "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}
                    for k, v in (("ipv4", "8.8.8.8"), ("domain", "evil-kizuna-test.example"))]
            fd, path = tempfile.mkstemp(suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump(kzlib.bundle(objs), f)
            p = home.run("import", "--collection", "intel", path)
            self.assertNotIn("warninglist", p.stderr.decode())  # none imported yet
            out = home.run("warninglist", "import", shared).stdout.decode()
            self.assertIn("136 warninglists imported", out)
            lists = home.run("warninglist", "list", "--json").stdout.decode().splitlines()
            self.assertEqual(len(lists), 136)
            p = home.run("import", "--collection", "intel", path)
            self.assertIn("8.8.8.8 is on the warninglist", p.stderr.decode())
            os.unlink(path)
            fd, log = tempfile.mkstemp()
            os.write(fd, b"query from 8.8.8.8 for evil-kizuna-test.example\n")
            os.close(fd)
            p = subprocess.run([kzlib.KIZUNA, "--home", home.home, "match", "--json", log],
                               capture_output=True, text=True)
            vals = [json.loads(l)["value"] for l in p.stdout.splitlines()]
            self.assertEqual(vals, ["evil-kizuna-test.example"])
            p = subprocess.run([kzlib.KIZUNA, "--home", home.home, "match", "--json",
                                "--show-suppressed", log], capture_output=True, text=True)
            rows = [json.loads(l) for l in p.stdout.splitlines()]
            sup = [r for r in rows if r["value"] == "8.8.8.8"]
            self.assertEqual(len(sup), 1)
            self.assertIn("suppressed_by", sup[0])
            os.unlink(log)
        finally:
            home.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
