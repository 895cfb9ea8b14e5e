"""Two `kizuna serve` over one store elect one of them to run background sync
(store_leader_try "sync"): the first to start leads, the second waits, and
when the leader dies (killed, nothing closed) the second takes over within
seconds. On SQLite the lead is an flock on kizuna.db-leader-sync beside the
store; /proc/locks says which process holds it."""
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kzlib  # noqa: E402


def lock_holder(path):
    """The pid holding an flock on path, or None."""
    try:
        ino = os.stat(path).st_ino
    except FileNotFoundError:
        return None
    with open("/proc/locks") as f:
        for line in f:
            parts = line.split()
            # "1: FLOCK  ADVISORY  WRITE 4242 08:01:123 0 EOF" (no "->" waiters)
            if len(parts) >= 6 and parts[1] == "FLOCK" and parts[0] != "->":
                if int(parts[5].split(":")[2]) == ino:
                    return int(parts[4])
    return None


class SyncLeader(kzlib.NodeTestCase):
    node_name = "leader-node"

    def test_one_server_leads_and_another_takes_over(self):
        lock = os.path.join(self.node.home, "kizuna.db-leader-sync")
        first = self.node.proc.pid
        kzlib.wait_until(lambda: lock_holder(lock) == first, timeout=10,
                         what="the first server to lead sync")
        second = kzlib.Node("SyncLeader-second")
        second.home, second.admin_token = self.node.home, self.node.admin_token
        try:
            second.start()
            # the second asks every 2 s and is refused while the first lives
            self.assertEqual(lock_holder(lock), first)
            self.node.proc.send_signal(signal.SIGKILL)
            self.node.proc.wait()
            self.node.proc = None
            kzlib.wait_until(lambda: lock_holder(lock) == second.proc.pid, timeout=10,
                             what="the second server to take the lead")
            self.assertEqual(second.stop(), 0)
        finally:
            second.home = None
            second.cleanup()


if __name__ == "__main__":
    unittest.main()
