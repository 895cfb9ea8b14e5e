#!/usr/bin/env python3
"""Federation: kill -9 in the middle of a 100,000-object pull, then sync again.

docs/FEDERATION.md: 'Every page is validated and stored in one transaction
together with the new checkpoint (the page's X-TAXII-Date-Added-Last), so a
crash or a cut connection resumes exactly where it stopped: nothing is lost,
and an object fetched twice is a duplicate, never a second copy.'

Node A holds ~100,000 objects (bench/gen_bundle.py -n 80000); B pulls them
through a recording proxy; `kizuna sync` is killed with SIGKILL once B holds
between 10% and 90% of them; a second `kizuna sync` completes: B holds exactly
the (id, version) set it may see of A's, each once, and the second run resumed
from the checkpoint instead of starting again.

Run: python3 tests/e2e/test_federation_crash.py  (KIZUNA=path/to/kizuna)
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kzlib  # noqa: E402
import fedlib  # noqa: E402
from fedlib import ASTRICT, RED, level_of, vkey  # noqa: E402

N_INDICATORS = int(os.environ.get("KZ_FED_CRASH_N", "80000"))


def setUpModule():
    kzlib.need_binary()
    if not fedlib.have_federation():
        raise AssertionError("this kizuna has no `sync` command yet (docs/FEDERATION.md)")


class TestKillDuringPull(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.A, cls.B = fedlib.make_nodes("a-node", "b-node")
        cls.proxy = None
        try:
            a, b = cls.A, cls.B
            a.collection("intel")
            b.collection("intel")
            # B's account on A may see every level but RED (user, org and community grants)
            a.org_add("b-node-org", identity=b.identity)
            a.community_add("ab", "local", "b-node-org")
            _, cls.tok = fedlib.admit(a, b, grants={"intel": ["user", "org", "community:ab"]})
            src = kzlib.SOURCE_DIR or os.path.join(os.path.dirname(__file__), "..", "..")
            path = os.path.join(a.scratch, "bundle.json")
            subprocess.run([sys.executable, os.path.join(src, "bench", "gen_bundle.py"),
                            "-n", str(N_INDICATORS), "--compact", "-o", path], check=True)
            with open(path) as f:
                objs = json.load(f)["objects"]
            # What B may see, from the rules alone: every object but TLP:RED, and but
            # AMBER+STRICT, which no grant lets leave the node (the bundle names no
            # recipients; relationships only point at unmarked SDOs, AMBER).
            cls.want = {vkey(o) for o in objs if level_of(o) not in (RED, ASTRICT)}
            cls.total = len(objs)
            del objs
            t = time.monotonic()
            a.run("import", "--collection", "intel", path, timeout=600)
            cls.import_s = time.monotonic() - t
            os.unlink(path)
            a.start()
            cls.proxy = fedlib.Proxy(a.port, keep_bodies=False)
            b.org_add("a-node-org", identity=a.identity)
            b.peer_add("a-node", cls.proxy.url(), cls.tok, pull=[("intel", "intel")],
                       org="a-node-org", key=a.node_key())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.proxy:
            cls.proxy.close()
        rc = cls.A.stop() if cls.A.proc else 0
        for n in (cls.A, cls.B):
            n.cleanup()
        if rc != 0:
            raise AssertionError("A's kizuna serve exited %r after SIGTERM" % rc)

    def fetched(self):
        """(id, version) of every object in every objects page answered so far."""
        return [vkey(o) for o in self.proxy.pulled_objects()]

    def test_kill_9_then_resume(self):
        a, b = self.A, self.B
        n = len(self.want)
        self.assertEqual(a.count("intel"), self.total, "A did not import the whole bundle")
        # --- first run, killed between 10% and 90%
        cmd = [kzlib.KIZUNA, "--home", b.home, "sync", "a-node"]
        t = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        held, killed_at = 0, None
        while True:
            try:
                held = b.count("intel")
            except kzlib.CLIError:
                held = held  # the store may be busy for a moment
            if proc.poll() is not None:
                break
            # aim past a quarter (at least 10%, as the issue asks), before 90%
            if n * 0.25 <= held <= n * 0.90:
                os.kill(proc.pid, signal.SIGKILL)
                killed_at = held
                break
            if held > n * 0.90:
                break
            if time.monotonic() - t > 300:
                proc.kill()
                self.fail("the pull made no progress for 300 s (B holds %d)" % held)
            time.sleep(0.02)
        out, err = proc.communicate()
        first_s = time.monotonic() - t
        if killed_at is None:
            self.fail("could not kill the pull in the middle: it ended (exit %r) or passed 90%% "
                      "(B holds %d of %d) between two polls; stderr: %s" % (
                          proc.returncode, held, n, err.decode(errors="replace")[-1000:]))
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        after_kill = b.count("intel")
        first_fetched = self.fetched()
        checkpoints = fedlib.peer_checkpoints(b.peer("a-node"))
        self.assertTrue(any(checkpoints), "no checkpoint recorded after %d objects were stored; "
                        "peer list: %r" % (after_kill, b.peer("a-node")))
        cp1 = max(c for c in checkpoints if c)
        # --- second run, to the end
        self.proxy.clear()
        run = b.sync("a-node", expect=None, timeout=600)
        self.assertEqual(run.returncode, 0, "the second sync failed: %s"
                         % run.stderr.decode(errors="replace")[-2000:])
        second = self.fetched()
        cp2 = max(c for c in fedlib.peer_checkpoints(b.peer("a-node")) if c)
        # --- B now: exactly what it may see, each version once
        count = b.count("intel")
        got = [vkey(o) for o in b.export("intel")]
        self.assertEqual(len(got), len(set(got)), "a version twice in B's export")
        missing = self.want - set(got)
        extra = set(got) - self.want
        self.assertFalse(missing, "%d versions lost after kill -9, e.g. %s" % (
            len(missing), sorted(missing)[:5]))
        self.assertFalse(extra, "%d versions B may not see (TLP:RED?) or never on A: %s" % (
            len(extra), sorted(extra)[:5]))
        self.assertEqual(count, n, "B's collection holds %d rows for %d versions: a second copy"
                         % (count, n))
        # --- it resumed: the second run did not start from the beginning
        self.assertGreater(cp2, cp1, "the checkpoint did not advance")
        self.assertLess(len(second), n, "the second run fetched everything again (%d): it did "
                        "not resume from the checkpoint" % len(second))
        self.assertGreaterEqual(len(set(second) | set(first_fetched)), n)
        refetched = len(set(second) & set(first_fetched))
        # --- and a third run has nothing to do
        self.proxy.clear()
        b.sync("a-node", expect=0)
        self.assertEqual(self.fetched(), [], "a sync with nothing new fetched objects")
        self.assertEqual(b.count("intel"), n)
        print("\n  %d objects on A (%d B may see), imported in %.1fs; killed the pull at %d held "
              "(%.0f%%) after %.1fs; %d fetched before the kill; checkpoint %s -> %s; second run "
              "fetched %d (%d of them again) in %.1fs; total test %.0fs" % (
                  self.total, n, self.import_s, killed_at, 100.0 * killed_at / n, first_s,
                  len(first_fetched), cp1, cp2, len(second), refetched, run.elapsed,
                  time.monotonic() - self.t0), file=sys.stderr)


if __name__ == "__main__":
    fedlib.main()
