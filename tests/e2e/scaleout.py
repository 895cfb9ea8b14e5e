"""A node as docs/DEPLOYMENT.md builds it: two `kizuna serve` processes over one
PostgreSQL, behind nginx configured by docs/deploy/nginx-kizuna.conf.

kzlib.Node uses this when KZ_E2E_SCALEOUT=1 (CTest's scaleout/ tests), so that
the TAXII suites written against one server run unchanged through nginx, whose
round robin sends consecutive requests to different servers: a POST on one and
the GET after it on the other, a token revoked through one and refused by the
other. Each process (test file) starts one throw-away PostgreSQL cluster with
tests/pglib.sh and gives each node a database of its own.
"""

import atexit
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

SOURCE_DIR = os.environ.get("KZ_SOURCE_DIR", "")
PGLIB = os.path.join(SOURCE_DIR, "tests", "pglib.sh")
NGINX_SNIPPET = os.path.join(SOURCE_DIR, "docs", "deploy", "nginx-kizuna.conf")
NGINX_PASSTHROUGH = os.path.join(SOURCE_DIR, "docs", "deploy", "nginx-kizuna-passthrough.conf")
NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"

_cluster = {}


def _have_pg():
    bins = os.environ.get("KZ_PG_BIN")
    dirs = [bins] if bins else [os.path.join("/usr/lib/postgresql", v, "bin")
                                for v in (os.listdir("/usr/lib/postgresql")
                                          if os.path.isdir("/usr/lib/postgresql") else [])]
    return any(os.access(os.path.join(d, "initdb"), os.X_OK) for d in dirs)


def passthrough():
    """Whether nginx passes TLS through to the servers (KZ_E2E_PASSTHROUGH=1,
    docs/deploy/nginx-kizuna-passthrough.conf) instead of terminating it."""
    return os.environ.get("KZ_E2E_PASSTHROUGH") == "1"


def enabled():
    """Whether nodes are scaled out; exits 77 (CTest's "skipped") when asked
    for on a machine without PostgreSQL or nginx, unless the suite requires
    them (KZ_TEST_PG_REQUIRED, set by scripts/test.sh, which installs both)."""
    if os.environ.get("KZ_E2E_SCALEOUT") != "1":
        return False
    missing = [w for w, ok in (("PostgreSQL", _have_pg()), ("nginx", shutil.which("nginx")),
                               ("nginx's stream module",
                                not passthrough() or os.path.exists(NGINX_STREAM_MODULE)))
               if not ok]
    if missing:
        if os.environ.get("KZ_TEST_PG_REQUIRED"):
            raise RuntimeError("scale-out tests need %s" % " and ".join(missing))
        print("skipped: no %s" % " and ".join(missing))
        raise SystemExit(77)
    return True


def _stop_cluster():
    if _cluster.get("dir"):
        subprocess.run(["sh", PGLIB, "stop", _cluster["dir"]], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def cluster_dsn():
    """The DSN of this process's PostgreSQL cluster, started on first use."""
    if "dsn" not in _cluster:
        d = tempfile.mkdtemp(prefix="kz-pg-", dir="/tmp")
        p = subprocess.run(["sh", PGLIB, "start", d], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            subprocess.run(["sh", PGLIB, "stop", d])
            raise RuntimeError("pglib.sh could not start PostgreSQL (exit %d): %s"
                               % (p.returncode, p.stderr.decode(errors="replace")[-2000:]))
        _cluster["dir"] = d
        _cluster["dsn"] = p.stdout.decode().strip()
        atexit.register(_stop_cluster)
    return _cluster["dsn"]


def new_database(tablespace=None):
    """A fresh database on the cluster (in tablespace, when given); returns
    its DSN."""
    dsn = cluster_dsn()
    name = "kz_" + uuid.uuid4().hex[:12]
    sql = "CREATE DATABASE %s%s" % (name, " TABLESPACE " + tablespace if tablespace else "")
    subprocess.run(["psql", "-q", "-X", dsn, "-c", sql], check=True, stdout=subprocess.DEVNULL)
    return re.sub(r"dbname=\S+", "dbname=" + name, dsn)


def small_tablespace(megabytes):
    """A tablespace on a tmpfs of its own, megabytes large, so that a test can
    fill PostgreSQL's disk; None when this machine lets no tmpfs be mounted
    (not root, or a container without the right)."""
    d = tempfile.mkdtemp(prefix="kz-ts-", dir="/tmp")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % megabytes, "tmpfs",
                       d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        os.rmdir(d)
        return None
    # lazily: the cluster still has its files open when the process ends
    atexit.register(lambda: (subprocess.run(["umount", "-l", d]), shutil.rmtree(d, True)))
    if os.getuid() == 0:
        shutil.chown(d, "nobody", "nogroup")  # the cluster's owner (pglib.sh)
    name = "small_" + uuid.uuid4().hex[:8]
    subprocess.run(["psql", "-q", "-X", cluster_dsn(), "-c",
                    "CREATE TABLESPACE %s LOCATION '%s'" % (name, d)], check=True,
                   stdout=subprocess.DEVNULL)
    return name


def nginx_config(scratch, listen_port, upstream_ports, home, tls):
    """The deployment doc's nginx snippet with this test's addresses, ports and
    certificate paths, inside a minimal nginx.conf of its own."""
    with open(NGINX_SNIPPET) as f:
        snippet = f.read()
    servers = "".join("    server 127.0.0.1:%d max_fails=1 fail_timeout=5s;\n" % p
                      for p in upstream_ports)
    snippet = re.sub(r"(    server kizuna-[a-z]\.internal:8470[^\n]*\n)+", servers, snippet)
    listen = "listen 127.0.0.1:%d%s;" % (listen_port, " ssl" if tls else "")
    snippet = snippet.replace("listen 443 ssl;", listen)
    if not tls:
        snippet = re.sub(r"\n    ssl_certificate[^\n]*", "", snippet)
    snippet = snippet.replace("/etc/kizuna/tls/", os.path.join(home, "tls") + "/")
    if "/etc/kizuna" in snippet or "kizuna-a.internal" in snippet:
        raise RuntimeError("nginx-kizuna.conf changed shape: scaleout.py no longer fits it")
    tmp = os.path.join(scratch, "nginx-tmp")
    os.makedirs(tmp, exist_ok=True)
    conf = os.path.join(scratch, "nginx.conf")
    with open(conf, "w") as f:
        f.write("daemon off;\nworker_processes 1;\npid %s/nginx.pid;\n"
                "error_log %s/nginx.err;\nevents { worker_connections 512; }\n"
                "http {\n    access_log off;\n"
                "    client_body_temp_path %s/body;\n    proxy_temp_path %s/proxy;\n"
                "    fastcgi_temp_path %s/fcgi;\n    uwsgi_temp_path %s/uwsgi;\n"
                "    scgi_temp_path %s/scgi;\n%s\n}\n"
                % (scratch, scratch, tmp, tmp, tmp, tmp, tmp, snippet))
    return conf


def nginx_passthrough_config(scratch, listen_port, upstream_ports):
    """The deployment doc's TLS pass-through file with this test's addresses
    and port, in a minimal nginx.conf of its own that loads the stream
    module."""
    with open(NGINX_PASSTHROUGH) as f:
        snippet = f.read()
    servers = "".join("        server 127.0.0.1:%d max_fails=1 fail_timeout=5s;\n" % p
                      for p in upstream_ports)
    snippet = re.sub(r"(        server kizuna-[a-z]\.internal:8470[^\n]*\n)+", servers, snippet)
    snippet = snippet.replace("listen 443;", "listen 127.0.0.1:%d;" % listen_port)
    if "kizuna-a.internal" in snippet or "127.0.0.1:%d;" % listen_port not in snippet:
        raise RuntimeError("nginx-kizuna-passthrough.conf changed shape: scaleout.py no longer "
                           "fits it")
    conf = os.path.join(scratch, "nginx.conf")
    with open(conf, "w") as f:
        f.write("daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/nginx.err;\n"
                "load_module %s;\nevents { worker_connections 512; }\n%s\n"
                % (scratch, scratch, NGINX_STREAM_MODULE, snippet))
    return conf


class WriteLoad:
    """Threads POSTing one new indicator at a time to collection coll through
    the node's front and reading a page after each, until stopped: what a
    test does to a database under load. statuses holds every answer
    (status, method, the body's start); acked the ids of the objects whose
    POST was answered complete."""

    def __init__(self, node, token, coll, bases):
        import kzlib  # kzlib imports this module: not at the top
        self.kzlib, self.node, self.token, self.coll = kzlib, node, token, coll
        self.acked, self.statuses = [], []
        self.lock, self.stop_event = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(b,)) for b in bases]

    def _run(self, base):
        kzlib = self.kzlib
        client = self.node.client(token=self.token)  # through the front: every server
        i = 0
        while not self.stop_event.is_set():
            o = kzlib.indicator(base + i)
            i += 1
            try:
                r = kzlib.post_objects(client, self.coll, [o])
                g = client.get(kzlib.objects_path(self.coll) + "?limit=10")
            except OSError:
                continue
            with self.lock:
                self.statuses.extend([(r.status, "POST", r.body[:200]),
                                      (g.status, "GET", g.body[:200])])
                if r.status == 202 and (r.json or {}).get("status") == "complete":
                    self.acked.append(o["id"])

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self, timeout=60):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("%s exited %s before listening" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s did not listen on %d within %.0fs" % (what, port, timeout))


class Front:
    """The second server and nginx of a scaled-out node (the first server is
    kzlib.Node's own process)."""

    def __init__(self, node):
        self.node = node
        self.home_b = node.home + "-b"
        self.proc_b = None
        self.nginx = None
        self.nginx_err = None
        self.port_a = self.port_b = None

    def copy_home(self):
        # a second server of the same node: a copy of the first one's home
        # (its signing key is the node's identity), as DEPLOYMENT.md says
        if os.path.exists(self.home_b):
            shutil.rmtree(self.home_b)
        shutil.copytree(self.node.home, self.home_b, symlinks=True)

    def start_nginx(self, port, tls):
        if passthrough():
            conf = nginx_passthrough_config(self.node.scratch, port, (self.port_a, self.port_b))
        else:
            conf = nginx_config(self.node.scratch, port, (self.port_a, self.port_b),
                                self.node.home, tls)
        self.nginx_err = open(os.path.join(self.node.scratch, "nginx.stderr"), "ab")
        self.nginx = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL,
                                      stderr=self.nginx_err)
        wait_port(port, self.nginx, "nginx")

    def stop(self, timeout=20.0):
        rc = 0
        for p in (self.nginx, self.proc_b):
            if p is None or p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rc = None
        if self.proc_b is not None and rc == 0 and self.proc_b.returncode != 0:
            rc = self.proc_b.returncode
        self.nginx = self.proc_b = None
        if self.nginx_err:
            self.nginx_err.close()
            self.nginx_err = None
        return rc
