#!/usr/bin/env python3
"""The progress line of the long CLI operations (match, import, export, sync).

On a terminal (standard error a pseudo-terminal here) each shows a line
rewritten with '\\r' and ended with a newline; redirected to a pipe, or with
--no-progress, nothing of it appears, and standard output never carries it.

Run: python3 tests/e2e/test_cli_progress.py  (KIZUNA=path/to/kizuna)
"""
import json
import os
import pty
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402
import fedlib  # noqa: E402
from fedlib import A2, sdo  # noqa: E402


def on_tty(args, **kw):
    """Runs args with standard error on a pseudo-terminal; returns (exit
    status, stdout bytes, what the terminal received)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, **kw)
    os.close(slave)
    outbuf = []
    reader = threading.Thread(target=lambda: outbuf.append(p.stdout.read()))
    reader.start()  # a full stdout pipe must not stall the child
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    reader.join(timeout=120)
    p.stdout.close()
    p.wait(timeout=120)
    os.close(master)
    return p.returncode, b"".join(outbuf), seen.decode(errors="replace")


def redirected(args, **kw):
    p = subprocess.run(args, capture_output=True, timeout=120, **kw)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


class Progress(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.node = kzlib.Node("progress")
        cls.node.init("progress-node")
        cls.node.collection_add("intel")
        objs = [kzlib.indicator(i) for i in range(300)]
        cls.bundle = os.path.join(cls.node.scratch, "bundle.json")
        with open(cls.bundle, "w") as f:
            json.dump(kzlib.bundle(objs), f)
        cls.log = os.path.join(cls.node.scratch, "big.log")
        with open(cls.log, "w") as f:
            for i in range(200000):
                f.write("2026-11-26T10:00:00Z accept 10.%d.%d.%d -> 192.0.2.1 ok\n"
                        % (i % 250, (i // 250) % 250, i % 199))

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def cli(self, *args):
        return [kzlib.KIZUNA, "--home", self.node.home] + list(args)

    def check(self, args, what):
        rc, out, tty = on_tty(self.cli(*args))
        self.assertIn(rc, (0, 1), tty)
        self.assertRegex(tty, r"\rkizuna: %s: \d+ " % what, "no progress line on a terminal")
        self.assertNotIn(b"\r", out, "progress leaked to standard output")
        self.assertNotIn(b"kizuna: %s:" % what.encode(), out)
        rc2, out2, err = redirected(self.cli(*args))
        self.assertEqual(rc2, rc)
        self.assertNotIn("\r", err, "progress when standard error is no terminal")
        self.assertNotIn("kizuna: %s:" % what, err)
        rc3, out3, tty3 = on_tty(self.cli(*(list(args[:1]) + ["--no-progress"] + list(args[1:]))))
        self.assertEqual(rc3, rc)
        self.assertNotIn("kizuna: %s:" % what, tty3, "--no-progress still drew")
        return tty

    def test_import(self):
        tty = self.check(["import", "--collection", "intel", self.bundle], "import")
        self.assertIn("kizuna: import: 300 objects", tty)

    def test_match(self):
        tty = self.check(["match", self.log], "match")
        self.assertIn("kizuna: match: 200000 lines", tty)
        self.assertTrue(tty.rstrip("\r\n").endswith("suppressed by warninglists)"), tty[-200:])

    def test_export(self):
        self.node.run("import", "--collection", "intel", self.bundle)
        self.check(["export", "--collection", "intel", "--out",
                    os.path.join(self.node.scratch, "out.json")], "export")

    def test_sensor_exports(self):
        self.node.run("import", "--collection", "intel", self.bundle)
        for fmt in ("zeek-intel", "suricata-dataset", "csv"):
            with self.subTest(format=fmt):
                args = ["export", "--collection", "intel", "--format", fmt, "--out",
                        os.path.join(self.node.scratch, "out." + fmt)]
                if fmt == "suricata-dataset":
                    args += ["--type", "ip"]
                tty = self.check(args, "export")
                self.assertIn("kizuna: export: 300 indicators", tty)


class SyncProgress(unittest.TestCase):

    def test_sync(self):
        a, b = fedlib.make_nodes("prog-a", "prog-b")
        try:
            a.collection("intel")
            b.collection("intel")
            _, tok = fedlib.admit(a, b, grants={"intel": ["user"]})
            objs = []
            for _ in range(50):
                o = sdo(marks=[A2], created_by=a.identity)
                o["pattern"] = "[ipv4-addr:value = '198.51.100.7']"
                objs.append(o)
            a.import_objects("intel", objs)
            a.start()
            b.org_add("prog-a-org", identity=a.identity)
            b.peer_add("prog-a", a.url(), tok, pull=[("intel", "intel")], org="prog-a-org",
                       key=a.node_key())
            rc, out, tty = on_tty([kzlib.KIZUNA, "--home", b.home, "sync", "prog-a"])
            self.assertEqual(rc, 0, tty)
            self.assertRegex(tty, r"\rkizuna: prog-a: 50 objects pulled and pushed\r?\n")
            self.assertIn(b"prog-a: 50 pulled", out)
            self.assertNotIn(b"\r", out)
            rc, out, err = redirected([kzlib.KIZUNA, "--home", b.home, "sync", "prog-a"])
            self.assertEqual(rc, 0, err)
            self.assertNotIn("\r", err)
        finally:
            rc = a.stop() if a.proc else 0
            a.cleanup()
            b.cleanup()
            self.assertEqual(rc, 0)


if __name__ == "__main__":
    kzlib.need_binary()
    unittest.main(verbosity=2)
