#!/usr/bin/env python3
"""`kizuna match --report` reports every hit once, however often it runs.

A sighting is one per indicator, observed value and reporting organisation,
with a deterministic id: a re-run over the same lines writes nothing; a re-run
over a log that gained lines adds their occurrences to count and last_seen as
a new version of the same sighting; a rotated (renamed) log is still the one
read; a file given twice counts once; an indicator stored after a file was
read is still looked for in it (a retro-hunt); a file that cannot be read to
its end adds nothing. first_seen/last_seen are the log lines' own times (and
absent when no line has one), RFC 3164 years inferred from the file's
modification time.

Run: python3 tests/e2e/test_match_rerun.py  (KIZUNA=path/to/kizuna)
"""
import calendar
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402

AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"  # TLP 1.0
AMBER2 = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"  # TLP 2.0


def indicator(pattern, created_by):
    return {"type": "indicator", "spec_version": "2.1", "id": "indicator--%s" % uuid.uuid4(),
            "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
            "name": pattern, "pattern": pattern, "pattern_type": "stix",
            "valid_from": "2025-01-01T00:00:00Z", "created_by_ref": created_by,
            "object_marking_refs": [AMBER]}


class MatchRerun(unittest.TestCase):

    def setUp(self):
        self.node = kzlib.Node("match-rerun")
        self.node.init("rerun-node")
        self.node.collection_add("intel")
        self.node.collection_add("sightings")
        self.producer = self.node.out("org", "add", "producer-cert").splitlines()[-1].strip()
        self.ip = indicator("[ipv4-addr:value = '198.51.100.7']", self.producer)
        self.dom = indicator("[domain-name:value = 'evil.example']", self.producer)
        self.net = indicator("[ipv4-addr:value ISSUBSET '203.0.113.0/24']", self.producer)
        self.add_indicators(self.ip, self.dom, self.net)
        self.env = dict(os.environ, TZ="UTC")

    def tearDown(self):
        self.node.cleanup()

    def add_indicators(self, *objs, escaped=False):
        path = os.path.join(self.node.scratch, "ind-%s.json" % uuid.uuid4())
        with open(path, "w") as f:
            b = kzlib.bundle(list(objs))
            f.write(kzlib.escaped_dumps(b) if escaped else json.dumps(b))
        self.node.import_file("intel", path)

    def log(self, name, text, mode="w"):
        path = os.path.join(self.node.scratch, name)
        with open(path, mode) as f:
            f.write(text)
        return path

    def match(self, *args, expect=None):
        p = subprocess.run([kzlib.KIZUNA, "--home", self.node.home, "match", "--json", "--report",
                            "sightings"] + list(args), capture_output=True, text=True,
                           env=self.env, timeout=60)
        if expect is not None:
            self.assertEqual(p.returncode, expect, p.stderr)
        return p

    def sightings(self, all_versions=False):
        args = ["export", "--collection", "sightings"] + (["--all-versions"] if all_versions else [])
        return [o for o in json.loads(self.node.out(*args))["objects"] if o["type"] == "sighting"]

    def by_value(self):
        got = {}
        for s in self.sightings():
            key = (s["sighting_of_ref"], s["description"])
            self.assertNotIn(key, got, "two sightings for one indicator and value")
            got[key] = s
        return got

    def test_rerun_append_rotate(self):
        log = self.log("fw.log",
                       "2026-11-26T10:00:00Z accept 198.51.100.7:443 -> 10.0.0.5\n"
                       "2026-11-26T10:00:01Z lookup evil.example\n"
                       "2026-11-26T10:00:02Z accept 198.51.100.7:443 -> 10.0.0.6\n")
        p = self.match(log, expect=1)
        self.assertIn("2 sightings reported to collection sightings (2 new, 0 updated)", p.stderr)
        first = self.by_value()
        ip = first[(self.ip["id"], "observed as 198.51.100.7")]
        self.assertEqual(ip["count"], 2)
        self.assertEqual(ip["first_seen"], "2026-11-26T10:00:00.000Z")
        self.assertEqual(ip["last_seen"], "2026-11-26T10:00:02.000Z")
        self.assertEqual(first[(self.dom["id"], "observed as evil.example")]["count"], 1)
        versions = len(self.sightings(all_versions=True))

        # the same lines again, and the same file twice: nothing new
        p = self.match(log, log, expect=1)
        self.assertIn("0 sightings reported", p.stderr)
        self.assertEqual(len(self.sightings(all_versions=True)), versions)
        self.assertEqual(self.by_value(), first)

        # lines appended: their occurrences only, as a new version
        self.log("fw.log", "2026-11-26T11:00:00Z accept 198.51.100.7:80 -> 10.0.0.9\n", "a")
        p = self.match(log, expect=1)
        self.assertIn("1 sightings reported to collection sightings (0 new, 1 updated)", p.stderr)
        now = self.by_value()
        ip2 = now[(self.ip["id"], "observed as 198.51.100.7")]
        self.assertEqual(ip2["id"], ip["id"])
        self.assertEqual(ip2["count"], 3)
        self.assertEqual(ip2["first_seen"], ip["first_seen"])
        self.assertEqual(ip2["last_seen"], "2026-11-26T11:00:00.000Z")
        self.assertEqual(ip2["created"], ip["created"])
        self.assertGreater(kzlib.parse_ts(ip2["modified"]), kzlib.parse_ts(ip["modified"]))
        self.assertEqual(now[(self.dom["id"], "observed as evil.example")],
                         first[(self.dom["id"], "observed as evil.example")])

        # rotated: the old file under a new name, and a fresh one
        os.rename(log, log + ".1")
        fresh = self.log("fw.log", "2026-11-26T12:00:00Z lookup evil.example\n")
        p = self.match(log + ".1", fresh, expect=1)
        self.assertIn("1 sightings reported", p.stderr)
        dom = self.by_value()[(self.dom["id"], "observed as evil.example")]
        self.assertEqual(dom["count"], 2)
        self.assertEqual(dom["last_seen"], "2026-11-26T12:00:00.000Z")
        self.assertEqual(self.by_value()[(self.ip["id"], "observed as 198.51.100.7")]["count"], 3)

        # compressed later, or read from a pipe: the same content
        before = self.by_value()
        versions = len(self.sightings(all_versions=True))
        gz = log + ".2.gz"
        with open(log + ".1", "rb") as src, gzip.open(gz, "wb") as dst:
            shutil.copyfileobj(src, dst)
        p = self.match(gz, expect=1)
        self.assertIn("0 sightings reported", p.stderr)
        with open(log + ".1", "rb") as src:
            p = subprocess.run([kzlib.KIZUNA, "--home", self.node.home, "match", "--report",
                                "sightings", "-"], stdin=src, capture_output=True, text=True,
                               env=self.env, timeout=60)
        self.assertIn("0 sightings reported", p.stderr)
        self.assertEqual(self.by_value(), before)
        self.assertEqual(len(self.sightings(all_versions=True)), versions)

        # an indicator stored after the file was read is looked for in it
        late = indicator("[ipv4-addr:value = '10.0.0.6']", self.producer)
        self.add_indicators(late)
        p = self.match(log + ".1", expect=1)
        self.assertIn("1 sightings reported", p.stderr)
        got = self.by_value()
        self.assertEqual(got[(late["id"], "observed as 10.0.0.6")]["count"], 1)
        self.assertEqual(got[(self.ip["id"], "observed as 198.51.100.7")]["count"], 3)
        self.node.run("validate", "-", input=self.node.out("export", "--collection",
                                                           "sightings").encode())

    def test_escaped_indicator(self):
        """The same with the indicator stored as JSON-escaped text
        ("indicator\\u002d\\u002d..."): one sighting, the same id, marked once."""
        esc = indicator("[domain-name:value = 'escaped.example']", self.producer)
        esc["object_marking_refs"] = [AMBER2]
        self.add_indicators(esc, escaped=True)
        log = self.log("esc.log", "2026-11-26T10:00:00Z lookup escaped.example\n")
        self.match(log, expect=1)
        self.match(log, expect=1)
        s = self.by_value()[(esc["id"], "observed as escaped.example")]
        self.assertEqual(s["count"], 1)
        self.assertEqual(s["object_marking_refs"], [AMBER2])
        self.assertEqual(len(self.sightings(all_versions=True)), 1)
        self.node.run("validate", "-", input=self.node.out("export", "--collection",
                                                           "sightings").encode())

    def test_concurrent_reports_never_double_count(self):
        """Two runs over the same log at once: the one that finishes second
        reports nothing and says to run again (it would count the lines the
        first one counted)."""
        log = self.log("both.log", "2026-11-26T10:00:00Z accept 198.51.100.7\n")
        first = subprocess.Popen([kzlib.KIZUNA, "--home", self.node.home, "match", "--report",
                                  "sightings", "-"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        # it has read the ledger once it says how many indicators it holds
        line = first.stderr.readline().decode()
        self.assertIn("active indicators", line)
        self.match(log, expect=1)
        with open(log, "rb") as f:
            first.stdin.write(f.read())
        first.stdin.close()
        first.wait(timeout=60)
        err = first.stderr.read().decode()
        first.stdout.close()
        first.stderr.close()
        self.assertEqual(first.returncode, 2, err)
        self.assertIn("ran meanwhile: nothing reported, run again", err)
        self.assertEqual(self.by_value()[(self.ip["id"], "observed as 198.51.100.7")]["count"], 1)
        p = self.match(log, expect=1)  # run again: the same content, nothing new
        self.assertIn("0 sightings reported", p.stderr)

    def test_one_sighting_per_value(self):
        log = self.log("net.log", "2026-11-26T10:00:00Z from 203.0.113.5\n"
                                  "2026-11-26T10:00:01Z from 203.0.113.9\n"
                                  "2026-11-26T10:00:02Z from 203.0.113.5\n")
        self.match(log, expect=1)
        got = self.by_value()
        self.assertEqual(got[(self.net["id"], "observed as 203.0.113.5")]["count"], 2)
        self.assertEqual(got[(self.net["id"], "observed as 203.0.113.9")]["count"], 1)
        ids = {s["id"] for s in got.values()}
        self.assertEqual(len(ids), 2)

    def test_lines_without_time(self):
        log = self.log("plain.log", "accept 198.51.100.7\n")
        p = self.match(log, expect=1)
        self.assertNotIn('"time"', p.stdout)
        s = self.by_value()[(self.ip["id"], "observed as 198.51.100.7")]
        self.assertNotIn("first_seen", s)
        self.assertNotIn("last_seen", s)

    def test_line_times_per_format(self):
        logs = {
            "access.log": ('198.51.100.7 - - [10/Oct/2025:13:55:36 -0700] "GET / HTTP/1.1" 200 1\n',
                           "2025-10-10T20:55:36.000000Z"),
            "eve.json": ('{"timestamp":"2025-11-24T21:27:09.534255+0100","src_ip":"198.51.100.7"}\n',
                         "2025-11-24T20:27:09.534255Z"),
            "conn.log": ("#separator \\x09\n#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\taddr\n"
                         "1750000000.25\tC1\t198.51.100.7\n", "2025-06-15T15:06:40.250000Z"),
            "auth5424.log": ("<34>1 2025-10-11T22:14:15.003Z gw sshd - - - from 198.51.100.7\n",
                             "2025-10-11T22:14:15.003000Z"),
        }
        for name, (text, want) in logs.items():
            with self.subTest(name):
                p = self.match(self.log(name, text), expect=1)
                self.assertEqual(json.loads(p.stdout.splitlines()[0])["time"], want)

    def test_rfc3164_year_from_mtime(self):
        log = self.log("auth.log", "Dec 30 10:00:00 gw sshd[1]: from 198.51.100.7\n"
                                   "Jan  2 09:00:00 gw sshd[1]: from 198.51.100.7\n")
        mtime = calendar.timegm((2026, 1, 3, 0, 0, 0))
        os.utime(log, (mtime, mtime))
        p = self.match(log, expect=1)
        times = [json.loads(l)["time"] for l in p.stdout.splitlines()]
        self.assertEqual(times, ["2025-12-30T10:00:00.000000Z", "2026-01-02T09:00:00.000000Z"])
        s = self.by_value()[(self.ip["id"], "observed as 198.51.100.7")]
        self.assertEqual((s["first_seen"], s["last_seen"]),
                         ("2025-12-30T10:00:00.000Z", "2026-01-02T09:00:00.000Z"))

    def test_future_and_broken_times_are_no_time(self):
        future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 86400))
        log = self.log("odd.log", "%s accept 198.51.100.7\n"
                                  "2026-02-30T10:00:00Z accept 198.51.100.7\n" % future)
        p = self.match(log, expect=1)
        self.assertNotIn('"time"', p.stdout)
        self.assertNotIn("last_seen", self.by_value()[(self.ip["id"], "observed as 198.51.100.7")])

    def test_unfinished_file_adds_nothing(self):
        lines = "".join("2026-11-26T10:00:00Z accept 198.51.100.7 %s\n" % uuid.uuid4().hex
                        for _ in range(20000))
        data = gzip.compress(lines.encode())
        path = os.path.join(self.node.scratch, "cut.log.gz")
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
        p = self.match(path)
        self.assertIn("198.51.100.7", p.stdout, "hits before the damage are printed")
        self.assertIn("skipped", p.stderr)
        self.assertEqual(self.sightings(), [])


if __name__ == "__main__":
    kzlib.need_binary()
    unittest.main(verbosity=2)
