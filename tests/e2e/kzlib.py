"""Helpers for kizuna's end-to-end TAXII 2.1 tests (Python 3 standard library only).

Every test file makes its own node in a scratch folder, starts `kizuna serve`
on a free loopback port, talks to it over HTTP(S) and stops it with SIGTERM
(checking that it exits 0). Nothing here depends on the server's code: the
expectations come from the OASIS TAXII 2.1 specification and kizuna's
documented contract (docs/internals/taxii-spec-notes.md).

Environment (set by CTest): KIZUNA (the binary), KZ_TEST_DATA (tests/data),
KZ_SOURCE_DIR (the repository root). With KZ_E2E_SCALEOUT=1 each node is the
deployment of docs/DEPLOYMENT.md instead: two servers over one PostgreSQL
behind nginx (tests/e2e/scaleout.py), and its port is nginx's.
"""

import base64
import datetime as _dt
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

import scaleout

KIZUNA = os.environ.get("KIZUNA", "")
TEST_DATA = os.environ.get("KZ_TEST_DATA", "")
SOURCE_DIR = os.environ.get("KZ_SOURCE_DIR", "")

TAXII_MT = "application/taxii+json;version=2.1"
STIX_MT = "application/stix+json;version=2.1"
TLP_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

# TLP markings by level (SHARING.md): the 2.0 ids, the 1.0 ids and the level
# each stands for ("TLP 1.0 markings count as their 2.0 equivalents (WHITE as
# CLEAR)").
LEVELS = ["clear", "green", "amber", "amber+strict", "red"]
CLEAR, GREEN, AMBER, ASTRICT, RED = range(5)
LEVEL_OF_NAME = {n: i for i, n in enumerate(LEVELS)}

TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1 = {
    "white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
# SHARING.md: "TLP 1.0 markings count as their 2.0 equivalents (WHITE as CLEAR)."
TLP_LEVEL = {
    TLP2["clear"]: CLEAR, TLP2["green"]: GREEN, TLP2["amber"]: AMBER,
    TLP2["amber+strict"]: ASTRICT, TLP2["red"]: RED,
    TLP1["white"]: CLEAR, TLP1["green"]: GREEN, TLP1["amber"]: AMBER, TLP1["red"]: RED,
}
C2, G2, A2, AS2, R2 = (TLP2[k] for k in LEVELS)
W1, G1, A1, R1 = (TLP1[k] for k in ("white", "green", "amber", "red"))

# A TAXII timestamp as kizuna writes it: microseconds, UTC, "Z".
TAXII_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# Any RFC 3339 UTC timestamp (STIX versions keep the precision they came with).
ANY_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TOKEN_RE = re.compile(r"^kz_([0-9a-f]{16})_[A-Za-z0-9_-]+$")


def need_binary():
    """Exits 2 (a setup error, not a pass) when KIZUNA is not a runnable file."""
    if not KIZUNA or not os.access(KIZUNA, os.X_OK):
        print("KIZUNA is not set to the kizuna binary", file=sys.stderr)
        sys.exit(2)


# ---------------------------------------------------------------- timestamps

def parse_ts(s):
    """RFC 3339 UTC timestamp -> (datetime, fraction digits as an int of ns)."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", s)
    if not m:
        raise ValueError("not a UTC RFC 3339 timestamp: %r" % (s,))
    base = _dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    frac = (m.group(2) or "0")[:9].ljust(9, "0")
    return (base, int(frac))


def stix_ts(base, seconds=0, ms=0):
    """A STIX timestamp with millisecond precision, `seconds` after `base`."""
    t = base + _dt.timedelta(seconds=seconds, milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


BASE_TIME = _dt.datetime(2025, 3, 1, 12, 0, 0)


# ---------------------------------------------------------------- STIX objects

def new_id(kind):
    return "%s--%s" % (kind, uuid.uuid4())


def indicator(i=0, modified=None, created=None, oid=None, name=None, marking=True):
    """A valid STIX 2.1 indicator, marked TLP:CLEAR (so TLP rules never hide it)."""
    created = created or stix_ts(BASE_TIME, seconds=i % 86400)
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": oid or new_id("indicator"),
        "created": created,
        "modified": modified or created,
        "name": name or ("kizuna e2e indicator %d" % i),
        "pattern": "[ipv4-addr:value = '10.%d.%d.%d']" % ((i >> 16) & 255, (i >> 8) & 255, i & 255),
        "pattern_type": "stix",
        "valid_from": created,
    }
    if marking:
        obj["object_marking_refs"] = [TLP_CLEAR]
    return obj


def malware(i=0, oid=None):
    ts = stix_ts(BASE_TIME, seconds=i)
    return {
        "type": "malware", "spec_version": "2.1", "id": oid or new_id("malware"),
        "created": ts, "modified": ts, "name": "e2e malware %d" % i, "is_family": False,
        "object_marking_refs": [TLP_CLEAR],
    }


# When true, dumps() writes every "-" and "_" in keys and string values as a
# JSON escape (\u002d, \u005f): the same STIX, spelled so that a reader that
# compared raw text instead of decoded values would misread it (issue 11:
# TLP written with escapes was ignored). Policy tests run once plainly and
# once with it set.
ESCAPE_STRINGS = False


def _escaped_str(s):
    return json.dumps(s).replace("-", "\\u002d").replace("_", "\\u005f")


def escaped_dumps(o):
    """JSON text of o with every "-" and "_" in strings (keys included) escaped."""
    if isinstance(o, dict):
        return "{" + ", ".join("%s: %s" % (_escaped_str(k), escaped_dumps(v))
                               for k, v in o.items()) + "}"
    if isinstance(o, (list, tuple)):
        return "[" + ", ".join(escaped_dumps(v) for v in o) + "]"
    if isinstance(o, str):
        return _escaped_str(o)
    return json.dumps(o)


def dumps(o):
    """The JSON text tests send: escaped_dumps when ESCAPE_STRINGS is set."""
    return escaped_dumps(o) if ESCAPE_STRINGS else json.dumps(o)


def unescape_ascii(text):
    """text with JSON \\u00XX escapes of ASCII characters decoded, so that
    scans for ids find them however the server's stored text spells them."""
    return re.sub(r"\\u00([0-7][0-9a-fA-F])", lambda m: chr(int(m.group(1), 16)), text)


def wait_until(pred, timeout=10.0, what="the condition"):
    """Polls pred() until it is true (returns its value) or fails after timeout
    seconds: tests wait for an event, never for a fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


def identity(i=0):
    ts = stix_ts(BASE_TIME, seconds=i)
    return {
        "type": "identity", "spec_version": "2.1", "id": new_id("identity"),
        "created": ts, "modified": ts, "name": "e2e identity %d" % i,
        "identity_class": "organization", "object_marking_refs": [TLP_CLEAR],
    }


def ipv4(value):
    """An SCO with its deterministic UUIDv5 id (no created/modified: the server
    picks a consistent version for it)."""
    jcs = json.dumps({"value": value}, separators=(",", ":"), ensure_ascii=False)
    return {
        "type": "ipv4-addr", "spec_version": "2.1",
        "id": "ipv4-addr--%s" % uuid.uuid5(SCO_NAMESPACE, jcs), "value": value,
        "object_marking_refs": [TLP_CLEAR],
    }


def envelope(objects):
    return {"objects": list(objects)}


def bundle(objects):
    return {"type": "bundle", "id": new_id("bundle"), "objects": list(objects)}


# ---------------------------------------------------------------- HTTP

class Response:
    """status, headers (lower-case name -> last value), header_list, body (bytes),
    json (parsed or None), raw_ctype."""

    def __init__(self, status, reason, header_list, body):
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = {}
        for k, v in header_list:
            self.headers[k.lower()] = v
        self.body = body
        self.json = None
        if body:
            try:
                self.json = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        text = self.body[:600].decode("utf-8", "replace") if self.body else ""
        return "<HTTP %d %s ctype=%r body=%s>" % (self.status, self.reason,
                                                 self.header("content-type"), text)


def media_type(value):
    """Parses a media type into (type/subtype lower-case, {param: value})."""
    if value is None:
        return None, {}
    parts = [p.strip() for p in value.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    return parts[0].lower(), params


def is_taxii21(ctype):
    mt, params = media_type(ctype)
    return mt == "application/taxii+json" and params.get("version") == "2.1"


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def bearer(token):
    return "Bearer " + token


class _TLSConnection(http.client.HTTPConnection):
    """Connects to the numeric address but verifies the certificate for
    `sni` (the name it is issued for: localhost, 127.0.0.1 or ::1)."""

    def __init__(self, host, port, ctx, sni, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ctx = ctx
        self._sni = sni

    def connect(self):
        super().connect()
        self.sock = self._ctx.wrap_socket(self.sock, server_hostname=self._sni)


class Client:
    """A small TAXII client over http.client: one connection per request."""

    def __init__(self, host, port, token=None, user=None, tls_ca=None, timeout=30.0,
                 server_hostname="localhost"):
        self.host = host
        self.port = port
        self.token = token
        self.user = user  # when set, HTTP Basic user:token; else Bearer
        self.tls_ca = tls_ca
        self.timeout = timeout
        self.server_hostname = server_hostname

    def with_auth(self, token=None, user=None):
        return Client(self.host, self.port, token=token, user=user, tls_ca=self.tls_ca,
                      timeout=self.timeout, server_hostname=self.server_hostname)

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.tls_ca)
        ctx.check_hostname = True
        return ctx

    def connect(self, timeout=None):
        t = self.timeout if timeout is None else timeout
        if self.tls_ca:
            return _TLSConnection(self.host, self.port, self.ssl_context(),
                                  self.server_hostname, t)
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def auth_header(self):
        if self.token is None:
            return None
        if self.user is not None:
            return basic(self.user, self.token)
        return bearer(self.token)

    def request(self, method, path, body=None, headers=None, accept=TAXII_MT,
                content_type=None, auth=True, timeout=None):
        hdrs = {}
        if accept is not None:
            hdrs["Accept"] = accept
        if auth:
            a = self.auth_header()
            if a:
                hdrs["Authorization"] = a
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = dumps(body).encode("utf-8")
            if content_type is None:
                content_type = TAXII_MT
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        if headers:
            for k, v in headers.items():
                if v is None:
                    hdrs.pop(k, None)
                else:
                    hdrs[k] = v
        conn = self.connect(timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.reason, r.getheaders(), data)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def qs(params):
    """Query string from a list of (key, value) pairs, keeping [] readable."""
    if not params:
        return ""
    return "?" + urllib.parse.urlencode(params, safe="[],:")


# ---------------------------------------------------------------- the node

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile(want):
    """Raises RLIMIT_NOFILE's soft limit towards `want`; returns the new soft limit.
    Call it before starting the server so the server inherits it too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class CLIError(AssertionError):
    pass


class Node:
    """A kizuna home in a scratch folder, its CLI and its server."""

    def __init__(self, name="e2e"):
        need_binary()
        self.scratch = tempfile.mkdtemp(prefix="kz-e2e-%s-" % name)
        self.home = os.path.join(self.scratch, "home")
        self.proc = None
        self.port = None
        self.tls = False
        self.stderr_path = os.path.join(self.scratch, "serve.stderr")
        self.admin_token = None
        self.front = scaleout.Front(self) if scaleout.enabled() else None
        self.pg_tablespace = None  # scaled out: the database's tablespace

    # --- CLI
    def run(self, *args, check=True, timeout=120, input=None):
        cmd = [KIZUNA, "--home", self.home] + [str(a) for a in args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           input=input)
        if check and p.returncode != 0:
            raise CLIError("%s -> exit %d\nstdout: %s\nstderr: %s" % (
                " ".join(cmd), p.returncode, p.stdout.decode(errors="replace")[:2000],
                p.stderr.decode(errors="replace")[:2000]))
        return p

    def out(self, *args, **kw):
        return self.run(*args, **kw).stdout.decode().strip()

    def init(self, node_name="e2e-node"):
        store = ()
        if self.front:
            store = ("--store", "postgresql", "--dsn",
                     scaleout.new_database(self.pg_tablespace))
        tok = self.out("init", "--node-name", node_name, *store)
        tok = tok.splitlines()[-1].strip() if tok else tok
        if not TOKEN_RE.match(tok):
            raise CLIError("init printed no token: %r" % tok)
        self.admin_token = tok
        return tok

    def collection_add(self, name, title=None, description=None):
        args = ["collection", "add", name]
        if title is not None:
            args += ["--title", title]
        if description is not None:
            args += ["--description", description]
        cid = self.out(*args).splitlines()[-1].strip()
        if not UUID4_RE.match(cid):
            raise CLIError("collection add printed %r, not a UUIDv4" % cid)
        return cid

    def org_add(self, name, country=None, sector=None, kind=None):
        args = ["org", "add", name]
        if country:
            args += ["--country", country]
        if sector:
            args += ["--sector", sector]
        if kind:
            args += ["--kind", kind]
        self.run(*args)

    def user_add(self, name, org, role="reader"):
        self.run("user", "add", name, "--org", org, "--role", role)

    def token_create(self, user):
        tok = self.out("token", "create", user).splitlines()[-1].strip()
        if not TOKEN_RE.match(tok):
            raise CLIError("token create printed %r" % tok)
        return tok

    def token_revoke(self, token):
        tid = TOKEN_RE.match(token).group(1)
        self.run("token", "revoke", tid)

    def grant(self, collection, user=None, org=None, read=False, write=False):
        args = ["grant", collection]
        if user:
            args += ["--user", user]
        if org:
            args += ["--org", org]
        if read:
            args.append("--read")
        if write:
            args.append("--write")
        self.run(*args)

    def import_file(self, collection, path):
        return self.run("import", "--collection", collection, path)

    # --- server
    @property
    def cert(self):
        return os.path.join(self.home, "tls", "node.crt")

    @property
    def key(self):
        return os.path.join(self.home, "tls", "node.key")

    @property
    def log_path(self):
        return os.path.join(self.home, "kizuna.log")

    def start(self, tls=False, listen_host="127.0.0.1", extra=(), wait=True, port=None):
        if self.front:
            return self._start_scaled_out(tls, extra, wait, port)
        self.port = port or free_port()
        self.tls = tls
        args = [KIZUNA, "--home", self.home, "serve", "--listen",
                "%s:%d" % (listen_host, self.port)]
        if tls:
            args += ["--tls-cert", self.cert, "--tls-key", self.key]
        args += list(extra)
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self._stderr)
        if wait:
            self.wait_ready()
        return self.proc

    def _start_scaled_out(self, tls, extra, wait, port):
        """Two servers speaking TLS (as off loopback), nginx in front on port."""
        f = self.front
        f.copy_home()
        f.port_a, f.port_b = free_port(), free_port()
        tls_args = ["--tls-cert", self.cert, "--tls-key", self.key]
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [KIZUNA, "--home", self.home, "serve", "--listen", "127.0.0.1:%d" % f.port_a]
            + tls_args + list(extra), stdout=subprocess.DEVNULL, stderr=self._stderr)
        f.proc_b = subprocess.Popen(
            [KIZUNA, "--home", f.home_b, "serve", "--listen", "127.0.0.1:%d" % f.port_b]
            + tls_args + list(extra), stdout=subprocess.DEVNULL, stderr=self._stderr)
        scaleout.wait_port(f.port_a, self.proc, "kizuna serve (a)")
        scaleout.wait_port(f.port_b, f.proc_b, "kizuna serve (b)")
        self.port = port or free_port()
        # passed through, TLS is the servers': clients speak it to nginx
        self.tls = tls or scaleout.passthrough()
        f.start_nginx(self.port, tls)
        if wait:
            self.wait_ready()
        return self.proc

    def wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("kizuna serve exited %s before answering; stderr:\n%s"
                                     % (self.proc.returncode, self.stderr_text()[-3000:]))
            try:
                r = self.client(token=self.admin_token).get("/taxii2/", timeout=2.0)
                if r.status:
                    return
            except (OSError, http.client.HTTPException, ssl.SSLError) as e:
                last = e
            time.sleep(0.05)
        raise AssertionError("kizuna serve did not answer within %.0fs (%r); stderr:\n%s"
                             % (timeout, last, self.stderr_text()[-3000:]))

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def client(self, token=None, user=None, timeout=30.0):
        return Client("127.0.0.1", self.port, token=token, user=user,
                      tls_ca=self.cert if self.tls else None, timeout=timeout)

    def admin(self):
        return self.client(token=self.admin_token)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20.0):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        rc_front = self.front.stop(timeout) if self.front else 0
        if self.proc is None:
            return rc_front
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self._stderr.close()
                return None
        self._stderr.close()
        return p.returncode if rc_front == 0 else rc_front

    def cleanup(self):
        if self.front:
            self.front.stop(5)
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(5)
            except Exception:
                pass
            self.proc = None
        if os.environ.get("KZ_KEEP_SCRATCH"):
            print("scratch kept at", self.scratch, file=sys.stderr)
        else:
            shutil.rmtree(self.scratch, ignore_errors=True)


# ---------------------------------------------------------------- test base

class NodeTestCase(unittest.TestCase):
    """One node per test class: init, `setup_node` (collections, users, ...),
    then serve. tearDownClass stops it with SIGTERM and checks exit 0."""

    node_name = "e2e"
    tls = False

    @classmethod
    def setUpClass(cls):
        cls.node = Node(cls.__name__)
        try:
            cls.node.init(cls.node_name)
            cls.setup_node(cls.node)
            cls.node.start(tls=cls.tls)
        except BaseException:
            cls.node.cleanup()
            raise

    @classmethod
    def setup_node(cls, node):
        pass

    @classmethod
    def tearDownClass(cls):
        node = cls.node
        try:
            if node.proc is not None:
                rc = node.stop()
                if rc != 0:
                    raise AssertionError("kizuna serve exited %r after SIGTERM (wanted 0); "
                                         "stderr tail:\n%s" % (rc, node.stderr_text()[-2000:]))
        finally:
            node.cleanup()

    # --- assertions
    def assertTaxiiType(self, r):
        """application/taxii+json;version=2.1, as taxii2-client checks it: after
        removing spaces, the first ';' token is the type and "version=2.1" is
        one of the others (both case-sensitive)."""
        ct = r.header("content-type") or ""
        tokens = ct.replace(" ", "").split(";")
        self.assertTrue(tokens[0] == "application/taxii+json" and "version=2.1" in tokens[1:],
                        "Content-Type %r is not %s: %r" % (ct, TAXII_MT, r))

    def assertOK(self, r, status=200):
        self.assertEqual(r.status, status, "wanted %d: %r" % (status, r))
        self.assertTaxiiType(r)
        return r.json

    def assertTaxiiError(self, r, status, statuses=None):
        """The status (or one of `statuses`), the TAXII media type and an error
        resource: a JSON object with a string title; http_status, if present,
        a string equal to the status."""
        allowed = statuses or (status,)
        self.assertIn(r.status, allowed, "wanted %s: %r" % (allowed, r))
        self.assertTaxiiType(r)
        self.assertIsInstance(r.json, dict, "error body is not a JSON object: %r" % r)
        self.assertIsInstance(r.json.get("title"), str, "error resource lacks a title: %r" % r)
        self.assertTrue(r.json["title"], "error title is empty: %r" % r)
        if "http_status" in r.json:
            self.assertEqual(r.json["http_status"], str(r.status),
                             "error http_status must be the status as a string (TAXII 2.1 "
                             "error resource): %r" % r)
        for k in ("description", "error_id", "error_code", "external_details"):
            if k in r.json:
                self.assertIsInstance(r.json[k], str, "%s must be a string: %r" % (k, r))
        if "details" in r.json:
            self.assertIsInstance(r.json["details"], dict)
        return r.json

    def assertNoEmptyLists(self, doc, where="response"):
        def walk(x, path):
            if isinstance(x, dict):
                for k, v in x.items():
                    if isinstance(v, list) and not v and path == "":
                        self.fail("%s: %s is an empty list; empty lists are omitted" % (where, k))
                    walk(v, path + "/" + k if path else k)
            elif isinstance(x, list):
                for v in x:
                    walk(v, path)
        walk(doc, "")

    def assertDateAddedHeaders(self, r, first=None, last=None):
        f = r.header("X-TAXII-Date-Added-First")
        la = r.header("X-TAXII-Date-Added-Last")
        self.assertIsNotNone(f, "no X-TAXII-Date-Added-First: %r" % r)
        self.assertIsNotNone(la, "no X-TAXII-Date-Added-Last: %r" % r)
        self.assertRegex(f, TAXII_TS_RE)
        self.assertRegex(la, TAXII_TS_RE)
        self.assertLessEqual(f, la)
        if first is not None:
            self.assertEqual(f, first)
        if last is not None:
            self.assertEqual(la, last)
        return f, la


# ---------------------------------------------------------------- paths

def coll_path(coll, root="default"):
    return "/%s/collections/%s/" % (root, coll)


def objects_path(coll, root="default"):
    return coll_path(coll, root) + "objects/"


def object_path(coll, oid, root="default"):
    return objects_path(coll, root) + urllib.parse.quote(oid, safe="-") + "/"


def versions_path(coll, oid, root="default"):
    return object_path(coll, oid, root) + "versions/"


def manifest_path(coll, root="default"):
    return coll_path(coll, root) + "manifest/"


def status_path(sid, root="default", slash=True):
    return "/%s/status/%s%s" % (root, sid, "/" if slash else "")


def post_objects(client, coll, objects, as_bundle=False, content_type=None):
    body = bundle(objects) if as_bundle else envelope(objects)
    ct = content_type or (STIX_MT if as_bundle else TAXII_MT)
    return client.post(objects_path(coll), body, content_type=ct)


def walk_pages(client, path, params=(), limit=None, key="objects", max_pages=100000):
    """Follows `next` from the first page; returns (items, pages)."""
    items, pages = [], []
    nxt = None
    for _ in range(max_pages):
        p = list(params)
        if limit is not None:
            p.append(("limit", str(limit)))
        if nxt is not None:
            p.append(("next", nxt))
        r = client.get(path + qs(p))
        if r.status != 200:
            raise AssertionError("page %d: %r" % (len(pages), r))
        pages.append(r)
        doc = r.json or {}
        items.extend(doc.get(key, []))
        if doc.get("more"):
            nxt = doc.get("next")
            if not nxt:
                raise AssertionError("more is true without next: %r" % r)
        else:
            return items, pages
    raise AssertionError("pagination did not end after %d pages" % max_pages)


def main():
    """unittest.main that exits non-zero on failure (CTest reads the exit code)."""
    need_binary()
    unittest.main(verbosity=2)


if __name__ == "__main__":
    print("kzlib is a helper module; run the test_taxii_*.py files", file=sys.stderr)
    sys.exit(2)
