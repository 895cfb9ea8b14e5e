"""Helpers for kizuna's federation end-to-end tests (Python 3 standard library only).

Built on kzlib: nodes made with `kizuna init --node-name NAME`, provisioned for
each other as docs/FEDERATION.md's walk-through does it (an organisation that
stands for the partner, a user with `--role peer` named after the partner's
node, a token, grants), linked with `kizuna peer add`, synced with
`kizuna sync`. A small HTTP proxy sits between nodes when a test needs to see
or spoil the traffic: it records every exchange and can flip a byte, answer
500, answer garbage, be slow, hang, or paginate forever.

Nothing here reads src/sync or src/policy: the expectations of the tests come
from docs/FEDERATION.md and docs/SHARING.md.
"""

import http.client
import http.server
import json
import os
import re
import socket
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid

import kzlib
from kzlib import KIZUNA, CLIError

# ---------------------------------------------------------------- markings

# the TLP marking tables are kzlib's (SHARING.md's levels)
from kzlib import (LEVELS, CLEAR, GREEN, AMBER, ASTRICT, RED, LEVEL_OF_NAME,  # noqa: E402,F401
                   TLP1, TLP2, TLP_LEVEL, C2, G2, A2, AS2, R2, W1, G1, A1, R1)
# A statement marking (not TLP): an object carrying only this one takes the node default.
STATEMENT = "marking-definition--4c7f3b1e-8a7d-4e36-9d7b-2f1a6c0e5b93"
RECIPIENTS_EXT = "extension-definition--bc477fd6-2822-4e86-a16f-e438280733f6"
TOMBSTONE = "x-kizuna-tombstone"

SRO_REFS = {
    "relationship": ("source_ref", "target_ref"),
    "sighting": ("sighting_of_ref", "observed_data_refs", "where_sighted_refs"),
}
ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                   r"[0-9a-f]{12}")


def level_of(obj, default_level=AMBER):
    """SHARING.md: 'the most restrictive of object_marking_refs and the marking_refs of
    its granular markings ... An object with no TLP marking takes the node's
    default_marking'."""
    refs = list(obj.get("object_marking_refs", []))
    refs += [g["marking_ref"] for g in obj.get("granular_markings", []) if "marking_ref" in g]
    lv = [TLP_LEVEL[r] for r in refs if r in TLP_LEVEL]
    return max(lv) if lv else default_level


def recipients_of(obj):
    r = obj.get("extensions", {}).get(RECIPIENTS_EXT, {}).get("recipients", {})
    return list(r.get("users", [])), list(r.get("organizations", []))


def version_of(obj):
    return obj.get("modified") or obj.get("created")


def vkey(obj):
    return (obj["id"], version_of(obj))


def refs_of(obj):
    out = []
    for prop in SRO_REFS.get(obj["type"], ()):
        v = obj.get(prop)
        if isinstance(v, list):
            out += v
        elif v:
            out.append(v)
    return out


# ---------------------------------------------------------------- STIX builders

_T0 = kzlib.BASE_TIME
_tick = [0]


def ts(seconds=None):
    """A fresh millisecond STIX timestamp (monotonic across the test run)."""
    if seconds is None:
        _tick[0] += 1
        seconds = _tick[0]
    return kzlib.stix_ts(_T0, seconds=seconds)


def sdo(kind="indicator", marks=None, users=None, orgs=None, granular=None, name=None,
        oid=None, created=None, modified=None, created_by=None, extra=None):
    """A valid STIX 2.1 SDO (indicator by default) with the given markings and
    recipients (kizuna's recipients extension)."""
    created = created or ts()
    o = {"type": kind, "spec_version": "2.1", "id": oid or kzlib.new_id(kind),
         "created": created, "modified": modified or created,
         "name": name or ("fed %s %s" % (kind, uuid.uuid4().hex[:8]))}
    if kind == "indicator":
        n = uuid.uuid4().int
        o.update({"pattern": "[ipv4-addr:value = '10.%d.%d.%d']" % ((n >> 16) & 255,
                                                                     (n >> 8) & 255, n & 255),
                  "pattern_type": "stix", "valid_from": created})
    elif kind == "malware":
        o["is_family"] = False
    elif kind == "identity":
        o["identity_class"] = "organization"
    if marks:
        o["object_marking_refs"] = list(marks)
    if granular:
        o["granular_markings"] = [{"marking_ref": m, "selectors": list(s)} for m, s in granular]
        if kind == "indicator":
            o.setdefault("description", "granular marking target")
    if users or orgs:
        rec = {}
        if users:
            rec["users"] = list(users)
        if orgs:
            rec["organizations"] = list(orgs)
        o["extensions"] = {RECIPIENTS_EXT: {"extension_type": "property-extension",
                                            "recipients": rec}}
    if created_by:
        o["created_by_ref"] = created_by
    if extra:
        o.update(extra)
    return o


def new_version(obj, **changes):
    """The next version of obj: a later `modified`, the given properties changed
    (a value of None removes the property)."""
    o = json.loads(json.dumps(obj))
    o["modified"] = ts()
    for k, v in changes.items():
        if v is None:
            o.pop(k, None)
        else:
            o[k] = v
    return o


def relationship(src, tgt, marks=(C2,), **kw):
    created = ts()
    o = {"type": "relationship", "spec_version": "2.1", "id": kzlib.new_id("relationship"),
         "created": created, "modified": created, "relationship_type": "related-to",
         "source_ref": src, "target_ref": tgt}
    if marks:
        o["object_marking_refs"] = list(marks)
    o.update(kw)
    return o


def sighting(of, marks=(C2,), **kw):
    created = ts()
    o = {"type": "sighting", "spec_version": "2.1", "id": kzlib.new_id("sighting"),
         "created": created, "modified": created, "sighting_of_ref": of, "count": 1}
    if marks:
        o["object_marking_refs"] = list(marks)
    o.update(kw)
    return o


def write_bundle(path, objs):
    with open(path, "w") as f:
        json.dump(kzlib.bundle(objs), f)
    return path


# ---------------------------------------------------------------- nodes

def _parse_json_output(text):
    """`--json` output (one JSON document, or one per line) as a list."""
    text = text.strip()
    if not text:
        return []
    try:
        doc = json.loads(text)
        return doc if isinstance(doc, list) else [doc]
    except ValueError:
        pass
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def pick(d, *names, default=None):
    """The first of `names` present (and not None) in dict d."""
    for n in names:
        if isinstance(d, dict) and d.get(n) is not None:
            return d[n]
    return default


class FedNode(kzlib.Node):
    """A kizuna node for federation tests: its node name, its own organisation's
    identity, its public key, its collections, and the peer/sync commands."""

    def __init__(self, node_name):
        super().__init__(node_name)
        self.node_name = node_name
        self.identity = None     # the identity of its own organisation ("local")
        self.pubkey = None
        self.colls = {}          # alias -> id

    def setup(self, default_marking=None, sync_interval=None):
        self.init(self.node_name)
        orgs = self.orgs()
        self.identity = orgs["local"]["identity"]
        if default_marking:
            self.set_conf("node", "default_marking", default_marking)
        if sync_interval is not None:
            self.set_conf("sync", "interval", str(sync_interval))
        return self

    # --- configuration
    def set_conf(self, section, key, value):
        path = os.path.join(self.home, "kizuna.conf")
        with open(path) as f:
            lines = f.read().splitlines()
        out, cur, done = [], None, False
        for line in lines:
            s = line.strip()
            if s.startswith("[") and s.endswith("]"):
                if cur == section and not done:
                    out.append("%s = %s" % (key, value))
                    done = True
                cur = s[1:-1].strip()
            elif cur == section and "=" in s and not s.startswith(("#", ";")) \
                    and s.split("=", 1)[0].strip() == key:
                out.append("%s = %s" % (key, value))
                done = True
                continue
            out.append(line)
        if not done:
            if cur != section:
                out.append("[%s]" % section)
            out.append("%s = %s" % (key, value))
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")

    # --- directory
    def orgs(self):
        return {o["name"]: o for o in _parse_json_output(self.out("org", "list", "--json"))}

    def org_add(self, name, country=None, kind=None, identity=None):
        args = ["org", "add", name]
        if country:
            args += ["--country", country]
        if kind:
            args += ["--kind", kind]
        if identity:
            args += ["--identity", identity]
        return self.out(*args).splitlines()[-1].strip()

    def community_add(self, name, *members):
        self.run("community", "add", name)
        for m in members:
            self.run("community", "join", name, m)

    def grant(self, collection, user=None, org=None, community=None, role=None,
              read=True, write=False):
        args = ["grant", collection]
        for flag, v in (("--user", user), ("--org", org), ("--community", community),
                        ("--role", role)):
            if v:
                args += [flag, v]
        if read:
            args.append("--read")
        if write:
            args.append("--write")
        self.run(*args)

    def collection(self, alias):
        if alias not in self.colls:
            self.colls[alias] = self.collection_add(alias)
        return self.colls[alias]

    def collections(self):
        """alias -> the `collection list --json` record (its "objects" count)."""
        return {c["alias"]: c for c in _parse_json_output(self.out("collection", "list",
                                                                     "--json"))}

    def count(self, alias):
        return int(self.collections()[alias]["objects"])

    def user_token(self, name, org, role="contributor"):
        self.user_add(name, org, role)
        return self.token_create(name)

    # --- content
    def import_objects(self, alias, objs, check=True):
        path = os.path.join(self.scratch, "imp-%s.json" % uuid.uuid4().hex[:8])
        write_bundle(path, objs)
        return self.run("import", "--collection", alias, path, check=check)

    def show_all(self, oid):
        """Every stored version of oid, in every collection (the operator's view,
        TLP:RED included): a list of objects."""
        p = self.run("show", oid, "--json", "--all-versions", check=False)
        if p.returncode == 1:
            return []
        if p.returncode != 0:
            raise CLIError("show %s -> exit %d: %s" % (oid, p.returncode,
                                                       p.stderr.decode(errors="replace")))
        return [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]

    def export(self, alias, all_versions=True, as_user=None, tombstones=False):
        args = ["export", "--collection", alias]
        if all_versions:
            args.append("--all-versions")
        if tombstones:
            args.append("--tombstones")
        if as_user:
            args += ["--as", as_user]
        return json.loads(self.out(*args, timeout=600)).get("objects", [])

    def snapshot(self, alias, known_ids=()):
        """(id, version) -> object for everything the collection holds: the operator's
        export (all versions, everything but TLP:RED) plus `show` of each known id
        (which includes TLP:RED). `show` does not say which collection holds the
        object, so known_ids should be ids that only this collection could hold."""
        snap = {}
        for o in self.export(alias):
            snap[vkey(o)] = o
        for oid in known_ids:
            for o in self.show_all(oid):
                snap[vkey(o)] = o
        return snap

    # --- federation
    def node_key(self):
        k = self.out("node", "key").splitlines()[-1].strip()
        self.pubkey = k
        return k

    def url(self, root="default"):
        return "http://127.0.0.1:%d/%s/" % (self.port, root)

    def peer_add(self, name, url, token, pull=(), push=(), org=None, communities=(),
                 key=None, ca=None, check=True):
        args = ["peer", "add", name, "--url", url, "--token", token]
        for l, r in pull:
            args += ["--pull", "%s=%s" % (l, r)]
        for l, r in push:
            args += ["--push", "%s=%s" % (l, r)]
        if org:
            args += ["--org", org]
        for c in communities:
            args += ["--community", c]
        if key:
            args += ["--key", key]
        if ca:
            args += ["--ca", ca]
        return self.run(*args, check=check)

    def peer_remove(self, name, check=True):
        return self.run("peer", "remove", name, check=check)

    def sync(self, peer=None, expect=0, timeout=300):
        """`kizuna sync [PEER]`; checks the exit status when expect is not None.
        Returns the CompletedProcess with .elapsed (seconds, wall clock)."""
        args = ["sync"] + ([peer] if peer else [])
        t0 = time.monotonic()
        p = self.run(*args, check=False, timeout=timeout)
        p.elapsed = time.monotonic() - t0
        if expect is not None and p.returncode != expect:
            raise CLIError("kizuna --home %s sync %s -> exit %d (wanted %d) after %.1fs\n"
                           "stdout: %s\nstderr: %s" % (
                               self.home, peer or "", p.returncode, expect, p.elapsed,
                               p.stdout.decode(errors="replace")[-3000:],
                               p.stderr.decode(errors="replace")[-3000:]))
        return p

    def peers(self):
        """name -> the `peer list --json` record."""
        doc = _parse_json_output(self.out("peer", "list", "--json"))
        if len(doc) == 1 and isinstance(doc[0], dict) and "name" not in doc[0]:
            doc = doc[0].get("peers", [])
        return {p["name"]: p for p in doc}

    def peer(self, name):
        ps = self.peers()
        if name not in ps:
            raise AssertionError("peer %s not in `peer list --json`: %r" % (name, ps))
        return ps[name]


def peer_last_error(p):
    return pick(p, "last_error", "error")


def peer_last_success(p):
    return pick(p, "last_success", "last_success_at", "last_ok")


def peer_checkpoints(p):
    """Every checkpoint-looking string anywhere in the record (links may nest them)."""
    out = []

    def walk(x, key=""):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
        elif isinstance(x, str) and "checkpoint" in key.lower():
            out.append(x)
    walk(p)
    return out


# ---------------------------------------------------------------- provisioning

def make_nodes(*names, default_marking=None, sync_interval=None):
    nodes = []
    try:
        for n in names:
            nodes.append(FedNode(n).setup(default_marking=default_marking,
                                          sync_interval=sync_interval))
    except BaseException:
        for n in nodes:
            n.cleanup()
        raise
    return nodes


def admit(server, partner, org=None, communities=(), grants=None):
    """On `server`, let `partner`'s node in, as FEDERATION.md's walk-through does:
    an organisation standing for the partner (with the partner's own organisation
    identity, so created_by_ref means the same on both sides), a user named after
    the partner's node with --role peer, a token, grants. `grants` maps a
    collection alias to the list of grant kinds ("user", "org", "community:NAME")
    with read/write; default: a read+write user grant on nothing.
    Returns (org name, token)."""
    org = org or "%s-org" % partner.node_name
    if org not in server.orgs():
        server.org_add(org, country="JP", kind="cert", identity=partner.identity)
    for c in communities:
        server.run("community", "join", c, org)
    server.user_add(partner.node_name, org, "peer")
    token = server.token_create(partner.node_name)
    for coll, kinds in (grants or {}).items():
        server.collection(coll)
        for k in kinds:
            if k == "user":
                server.grant(coll, user=partner.node_name, read=True, write=True)
            elif k == "org":
                server.grant(coll, org=org, read=True, write=True)
            elif k.startswith("community:"):
                server.grant(coll, community=k.split(":", 1)[1], read=True, write=True)
            else:
                raise ValueError(k)
    return org, token


# ---------------------------------------------------------------- the proxy

class Exchange:
    __slots__ = ("method", "path", "req_headers", "req_body", "status", "resp_headers",
                 "resp_body", "tampered", "t")

    def __init__(self, method, path, req_headers, req_body):
        self.method, self.path = method, path
        self.req_headers, self.req_body = req_headers, req_body
        self.status, self.resp_headers, self.resp_body = None, [], b""
        self.tampered = False
        self.t = time.monotonic()

    def json(self, which="resp"):
        body = self.resp_body if which == "resp" else self.req_body
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, AttributeError):
            return None

    def objects(self, which="resp"):
        d = self.json(which)
        return d.get("objects", []) if isinstance(d, dict) else []

    def is_objects_get(self):
        return self.method == "GET" and urllib.parse.urlsplit(self.path).path.endswith(
            "/objects/")

    def __repr__(self):
        return "<%s %s -> %s%s>" % (self.method, self.path, self.status,
                                    " tampered" if self.tampered else "")


MODES = ("pass", "flip", "e500", "garbage", "slow", "hang", "forever", "refuse", "huge")
HUGE = 65 * 1024 * 1024  # FEDERATION.md: "a page larger than 64 MiB is refused"


class Proxy:
    """A loopback HTTP proxy in front of one node. mode:
      pass     forward
      flip     forward, flipping one byte of the body of objects pages (GET .../objects/):
               every one, or only the flip_nth one (1-based; "second-or-only": the second,
               or the first when it is the last); the byte is a letter inside
               a "name" value, so the JSON stays valid and only a signature can tell
      e500     answer every request 500 (a TAXII error resource)
      garbage  answer every request 200, TAXII media type, a body that is not JSON
      slow     wait `delay` seconds, then forward
      hang     accept, read the request, answer nothing until release() (or 600 s)
      forever  objects pages: forward the request without its `next`, answer that page
               with more=true and a fresh `next`, for ever (the checkpoint never advances)
      refuse   close the connection without answering
      huge     objects pages: a valid envelope of more than 64 MiB
    fail_first: answer that many requests 500 before behaving as `mode`.
    Every exchange is recorded in .log (bodies kept unless keep_bodies is False)."""

    def __init__(self, target_port, mode="pass", keep_bodies=True):
        self.target_port = target_port
        self.mode = mode
        self.delay = 0.0
        self.flip_nth = None
        self.fail_first = 0
        self.keep_bodies = keep_bodies
        self.log = []
        self.objects_pages = 0
        self.forever_pages = 0
        self.lock = threading.Lock()
        self._release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        line = self.rfile.readline()
                        n = int(line.split(b";")[0].strip() or b"0", 16)
                        if n == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(n)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                try:
                    proxy._serve(self)
                except (BrokenPipeError, ConnectionResetError, socket.timeout):
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a client that hangs up mid-answer (a refused huge page) is not a test failure
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, root="default"):
        return "http://127.0.0.1:%d/%s/" % (self.port, root)

    def set(self, mode, delay=None, flip_nth=None, fail_first=0):
        assert mode in MODES, mode
        with self.lock:
            self.mode = mode
            self.fail_first = fail_first
            if delay is not None:
                self.delay = delay
            self.flip_nth = flip_nth
            self.objects_pages = 0
            self.forever_pages = 0
            self._release.clear()

    def release(self):
        """Lets hanging requests go (their connections are closed unanswered)."""
        self._release.set()

    def clear(self):
        with self.lock:
            self.log = []

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    # --- views of the log
    def exchanges(self, method=None):
        with self.lock:
            return [e for e in self.log if method is None or e.method == method]

    def pulled_objects(self):
        """Every object in every objects page answered (GET .../objects/)."""
        out = []
        for e in self.exchanges("GET"):
            if e.is_objects_get() and e.status == 200:
                out += e.objects("resp")
        return out

    def pushed_objects(self):
        """Every object in every POST body."""
        out = []
        for e in self.exchanges("POST"):
            out += e.objects("req")
        return out

    def all_text(self):
        """Every byte exchanged (both directions), as text, to look for ids in."""
        parts = []
        for e in self.exchanges():
            parts.append(e.path)
            for k, v in e.resp_headers:
                parts.append("%s: %s" % (k, v))
            for body in (e.req_body, e.resp_body):
                if body:
                    parts.append(body.decode("utf-8", "replace"))
        return "\n".join(parts)

    # --- the work
    def _send(self, h, status, headers, body):
        h.send_response(status)
        for k, v in headers:
            if k.lower() in ("transfer-encoding", "connection", "content-length", "date",
                             "server", "keep-alive"):
                continue
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)
        h.wfile.flush()

    def _forward(self, h, path, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=600)
        hdrs = {}
        for k, v in h.headers.items():
            if k.lower() in ("host", "connection", "transfer-encoding", "content-length",
                             "accept-encoding", "keep-alive", "te", "expect"):
                continue
            hdrs[k] = v
        hdrs["Host"] = "127.0.0.1:%d" % self.target_port
        try:
            conn.request(h.command, path, body=body if body or h.command == "POST" else None,
                         headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return r.status, r.getheaders(), data
        finally:
            conn.close()

    def _flip_this(self, nth, data):
        n = self.flip_nth
        if n is None:
            return True
        if n == "second-or-only":
            return nth == 2 or (nth == 1 and _last_page(data))
        return n == nth

    def _serve(self, h):
        body = h._body()
        ex = Exchange(h.command, h.path, list(h.headers.items()),
                      body if self.keep_bodies else b"")
        with self.lock:
            mode, delay = self.mode, self.delay
            if self.fail_first > 0:
                self.fail_first -= 1
                mode = "e500"
            self.log.append(ex)
        is_objects = ex.is_objects_get()
        if mode == "refuse":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            ex.status = 0
            return
        if mode == "hang":
            self._release.wait(600)
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            ex.status = 0
            return
        if mode == "e500":
            err = json.dumps({"title": "internal error", "http_status": "500",
                              "description": "the proxy says so"}).encode()
            ex.status, ex.resp_body = 500, err
            self._send(h, 500, [("Content-Type", kzlib.TAXII_MT)], err)
            return
        if mode == "garbage":
            junk = b"<html>\x00\xff this is not JSON {{{ \"more\": tru" + os.urandom(64)
            ex.status, ex.resp_body = 200, junk
            self._send(h, 200, [("Content-Type", kzlib.TAXII_MT)], junk)
            return
        if mode == "huge" and is_objects:
            pad = b"A" * HUGE
            body = b'{"more":false,"objects":[],"x_pad":"' + pad + b'"}'
            ex.status, ex.resp_body = 200, b"(huge)"
            self._send(h, 200, [("Content-Type", kzlib.TAXII_MT)], body)
            return
        if mode == "slow" and delay:
            time.sleep(delay)
        path = h.path
        if mode == "forever" and is_objects:
            parts = urllib.parse.urlsplit(path)
            q = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
                 if k != "next"]
            path = urllib.parse.urlunsplit(("", "", parts.path,
                                            urllib.parse.urlencode(q, safe="[],:"), ""))
        try:
            status, headers, data = self._forward(h, path, body)
        except (OSError, http.client.HTTPException) as e:
            msg = json.dumps({"title": "bad gateway", "http_status": "502",
                              "description": "proxy: %s" % e}).encode()
            ex.status, ex.resp_body = 502, msg
            self._send(h, 502, [("Content-Type", kzlib.TAXII_MT)], msg)
            return
        if is_objects and status == 200:
            with self.lock:
                self.objects_pages += 1
                nth = self.objects_pages
            if mode == "flip" and self._flip_this(nth, data):
                data = flip_a_byte(data)
                ex.tampered = True
            elif mode == "forever":
                try:
                    doc = json.loads(data.decode("utf-8"))
                    with self.lock:
                        self.forever_pages += 1
                        n = self.forever_pages
                    doc["more"] = True
                    doc["next"] = "forever-%d" % n
                    data = json.dumps(doc).encode("utf-8")
                    ex.tampered = True
                except ValueError:
                    pass
        ex.status, ex.resp_headers = status, headers
        ex.resp_body = data if self.keep_bodies else b""
        if not self.keep_bodies and is_objects and status == 200:
            # keep only the ids and versions of large pages
            try:
                doc = json.loads(data.decode("utf-8"))
                ex.resp_body = json.dumps({"objects": [
                    {"id": o.get("id"), "modified": version_of(o)}
                    for o in doc.get("objects", [])], "more": doc.get("more")}).encode()
            except ValueError:
                pass
        self._send(h, status, headers, data)


def _last_page(data):
    try:
        return not json.loads(data.decode("utf-8")).get("more")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


def flip_a_byte(data):
    """Flips one bit of one letter inside the first "name" string value of the body
    (the JSON stays valid, the content changes), else of the middle byte."""
    b = bytearray(data)
    i = data.find(b'"name":"')
    if i < 0:
        i = data.find(b'"name": "')
        i = i + 9 if i >= 0 else -1
    else:
        i += 8
    if i >= 0:
        for j in range(i, min(len(b), i + 200)):
            c = b[j]
            if c == 0x22:
                break
            if 0x61 <= c <= 0x7a or 0x41 <= c <= 0x5a:
                b[j] ^= 0x01
                return bytes(b)
    if b:
        b[len(b) // 2] ^= 0x01
    return bytes(b)


# ---------------------------------------------------------------- utilities

def wait_for(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("%s not met within %.0fs (last: %r)" % (what, timeout, last))


def timed_runs(fn, n):
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        fn()
        out.append(time.monotonic() - t0)
    return out


def median(xs):
    return statistics.median(xs)


def cli_startup(node, n=7):
    """The median wall clock of a trivial command that opens the node's home
    (`peer list --json`): the process start-up to subtract from sync timings."""
    return median(timed_runs(lambda: node.run("peer", "list", "--json"), n))


def have_federation():
    """True when this kizuna has the federation commands."""
    p = subprocess.run([KIZUNA, "sync", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode == 0


def taxii_versions(client, coll, types=None):
    """(id, version) -> object: everything `client` sees in coll, every version
    (types: match[type], e.g. the tombstones a user who is no peer gets only by asking)."""
    params = [("match[version]", "all")]
    if types:
        params.append(("match[type]", ",".join(types)))
    items, _ = kzlib.walk_pages(client, kzlib.objects_path(coll), params=params, limit=1000)
    return {vkey(o): o for o in items}


def main():
    kzlib.need_binary()
    import unittest
    unittest.main(verbosity=2)
