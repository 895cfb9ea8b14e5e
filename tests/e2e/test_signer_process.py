"""The node key lives in its own process (issue 11): `kizuna serve` forks a
child named kizuna-signer that holds the key and only signs; the serving
process never has signing.key open and never holds the key in its memory
(checked by scanning its writable memory for the secret seed). The signer is
confined (no new privileges, a seccomp filter). Signed pages verify with the
node's public key as before; once the signer is gone, a page asked for signed
is answered 503, never unsigned, while the rest of the API keeps working."""

import base64
import ctypes
import ctypes.util
import os
import signal
import time
import unittest

import kzlib

TARGET = "/default/collections/intel/objects/"


def children(pid):
    """(pid, comm) of the processes whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces or parentheses
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append((int(d), comm))
    return out


def open_files(pid):
    """What pid's file descriptors point at (an fd closed meanwhile is left
    out: the server opens and closes connections as it runs)."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except FileNotFoundError:
            pass
    return out


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


def memory_holds(pid, needle):
    """Whether any private writable mapping of pid contains needle."""
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if not parts[1].startswith("rw") or hi - lo > (1 << 30):
                continue
            if len(parts) > 5 and parts[5] in ("[vvar]", "[vsyscall]"):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            if needle in data:
                return True
    return False


def sodium():
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    lib.sodium_init()
    return lib


class SignerProcess(unittest.TestCase):

    def setUp(self):
        n = self.node = kzlib.Node("signer")
        n.init("signer-node")
        n.collection_add("intel")
        n.org_add("org-a")
        n.user_add("ana", "org-a")
        n.grant("intel", user="ana", read=True)
        self.token = n.token_create("ana")
        n.start()
        self.pid = n.proc.pid

    def tearDown(self):
        self.node.cleanup()

    def signer(self):
        kids = [p for p, comm in children(self.pid) if comm == "kizuna-signer"]
        self.assertEqual(len(kids), 1, children(self.pid))
        return kids[0]

    def get_signed(self, version="v1"):
        h = {"X-Kizuna-Want-Signature": version}
        if version == "v2":
            h["X-Kizuna-Nonce"] = "n" * 20
        return self.node.client(token=self.token).get(TARGET, headers=h)

    def test_serve_never_holds_the_key(self):
        key_path = os.path.join(self.node.home, "signing.key")
        with open(key_path) as f:
            secret = base64.b64decode(f.read().split()[1])
        signer = self.signer()
        self.assertEqual(status_field(signer, "NoNewPrivs"), "1")
        self.assertEqual(status_field(signer, "Seccomp"), "2")  # a filter
        # the serving process: the key file is not open, and neither the
        # seed nor the whole secret key is anywhere in its memory, even
        # after it had pages signed
        self.assertEqual(self.get_signed("v1").status, 200)
        self.assertEqual(self.get_signed("v2").status, 200)
        self.assertNotIn(os.path.realpath(key_path), open_files(self.pid))
        self.assertFalse(memory_holds(self.pid, secret[:32]), "the seed is in serve's memory")
        self.assertFalse(memory_holds(self.pid, secret), "the secret key is in serve's memory")
        # the scan does see the heap: the public key's text is there
        pub = self.node.out("node", "key").splitlines()[-1].strip()
        self.assertTrue(memory_holds(self.pid, pub.encode()))

    def test_signatures_verify_as_before(self):
        r = self.get_signed("v1")
        self.assertEqual(r.status, 200, r)
        sig = r.header("X-Kizuna-Signature")
        self.assertTrue(sig.startswith("v1 "), sig)
        pub = self.node.out("node", "key").splitlines()[-1].strip()
        pk = base64.b64decode(pub.split(":", 1)[1])
        msg = b"kizuna-sig-v1\n" + TARGET.encode() + b"\n" + r.body
        raw = base64.b64decode(sig[3:])
        lib = sodium()
        self.assertEqual(lib.crypto_sign_verify_detached(raw, msg, ctypes.c_ulonglong(len(msg)),
                                                         pk), 0)
        bad = msg + b" "
        self.assertNotEqual(lib.crypto_sign_verify_detached(raw, bad,
                                                            ctypes.c_ulonglong(len(bad)), pk), 0)

    def test_dead_signer_fails_closed(self):
        signer = self.signer()
        os.kill(signer, signal.SIGKILL)
        # wait until the signer is gone (a zombie until serve notices)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with open("/proc/%d/stat" % signer) as f:
                    if f.read().split(") ")[1].startswith("Z"):
                        break
            except OSError:
                break
            time.sleep(0.02)
        for version in ("v1", "v2"):
            r = self.get_signed(version)
            self.assertEqual(r.status, 503, r)
            self.assertIsNone(r.header("X-Kizuna-Signature"))
            self.assertIn(b"signer", r.body)
        # what asks for no signature is still served
        r = self.node.client(token=self.token).get(TARGET)
        self.assertEqual(r.status, 200, r)
        # and the server stops cleanly, reaping the signer
        self.assertEqual(self.node.stop(), 0)
        self.assertFalse(os.path.exists("/proc/%d" % signer))


if __name__ == "__main__":
    kzlib.need_binary()
    unittest.main(verbosity=2)
