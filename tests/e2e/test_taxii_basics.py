"""TAXII 2.1 server information and access: discovery (4.1), API root (4.2),
collections (5.1, 5.2), authentication (401 + WWW-Authenticate, Bearer and
Basic, revocation within 1 s), authorisation (403/404 and can_read/can_write),
content negotiation (406), unknown paths (404), wrong methods (405), paths
without the trailing slash."""

import base64
import json
import threading
import time
import urllib.parse

import kzlib
from kzlib import (TAXII_MT, STIX_MT, NodeTestCase, coll_path, objects_path, manifest_path,
                   status_path, qs)


class Basics(NodeTestCase):
    node_name = "basics-node"

    @classmethod
    def setup_node(cls, node):
        cls.intel = node.collection_add("intel", title="Shared intel",
                                        description="IN-JP shared indicators")
        cls.secret = node.collection_add("secret", title="Restricted")
        cls.orgcoll = node.collection_add("orgshare", title="Org share")
        cls.plain = node.collection_add("plain")
        node.org_add("cert-jp", country="JP", sector="government", kind="cert")
        node.org_add("acme", country="IN", kind="business")
        node.user_add("alice", "cert-jp", role="reader")
        node.user_add("bob", "acme", role="contributor")
        node.user_add("carol", "acme", role="contributor")
        node.org_add("lonely", kind="business")
        node.user_add("nobody", "lonely", role="reader")
        node.grant("intel", user="alice", read=True)
        node.grant("intel", user="bob", read=True, write=True)
        node.grant("orgshare", org="acme", read=True, write=True)
        cls.alice_tok = node.token_create("alice")
        cls.bob_tok = node.token_create("bob")
        cls.carol_tok = node.token_create("carol")
        cls.nobody_tok = node.token_create("nobody")
        # populate intel so that reads have something to return
        objs = [kzlib.indicator(i) for i in range(3)]
        cls.intel_objs = objs
        path = node.scratch + "/seed.json"
        with open(path, "w") as f:
            json.dump(kzlib.bundle(objs), f)
        node.import_file("intel", path)

    def setUp(self):
        self.admin = self.node.admin()
        self.alice = self.node.client(token=self.alice_tok)
        self.bob = self.node.client(token=self.bob_tok)
        self.carol = self.node.client(token=self.carol_tok)
        self.nobody = self.node.client(token=self.nobody_tok)
        self.anon = self.node.client()

    # ------------------------------------------------------------ discovery
    def test_discovery_resource(self):
        r = self.admin.get("/taxii2/")
        d = self.assertOK(r)
        self.assertIsInstance(d, dict)
        self.assertIsInstance(d.get("title"), str)
        self.assertTrue(d["title"])
        for k in ("description", "contact"):
            if k in d:
                self.assertIsInstance(d[k], str)
        self.assertIn("api_roots", d)
        self.assertIsInstance(d["api_roots"], list)
        base = "http://127.0.0.1:%d/taxii2/" % self.node.port
        roots = [urllib.parse.urlparse(urllib.parse.urljoin(base, u)).path for u in d["api_roots"]]
        self.assertIn("/default/", roots)
        self.assertIn("default", d)
        self.assertEqual(urllib.parse.urlparse(urllib.parse.urljoin(base, d["default"])).path,
                         "/default/")
        # TAXII 2.1 4.1.1: the default API root MUST be one of api_roots
        self.assertIn(d["default"], d["api_roots"])
        self.assertNoEmptyLists(d)
        # every URL it advertises answers
        for u in d["api_roots"]:
            self.assertEqual(self.admin.get(urllib.parse.urlparse(
                urllib.parse.urljoin(base, u)).path).status, 200)

    def test_discovery_requires_auth(self):
        r = self.anon.get("/taxii2/")
        self.assertTaxiiError(r, 401)
        self.assertTrue(r.header("WWW-Authenticate"), "401 without WWW-Authenticate: %r" % r)

    def test_discovery_for_every_user(self):
        for c in (self.alice, self.bob, self.nobody):
            self.assertOK(c.get("/taxii2/"))

    # ------------------------------------------------------------ API root
    def test_api_root_resource(self):
        d = self.assertOK(self.admin.get("/default/"))
        self.assertIsInstance(d.get("title"), str)
        self.assertTrue(d["title"])
        self.assertIsInstance(d.get("versions"), list)
        self.assertIn(TAXII_MT, d["versions"])
        self.assertIsInstance(d.get("max_content_length"), int)
        self.assertNotIsInstance(d.get("max_content_length"), bool)
        self.assertGreater(d["max_content_length"], 0)
        if "description" in d:
            self.assertIsInstance(d["description"], str)
        self.assertNoEmptyLists(d)

    def test_unknown_api_root(self):
        for p in ("/nosuchroot/", "/nosuchroot/collections/",
                  "/nosuchroot/collections/%s/objects/" % self.intel,
                  "/nosuchroot/status/%s/" % "2d086da7-4bdc-4f91-900e-d77486753710"):
            self.assertTaxiiError(self.admin.get(p), 404)

    # ------------------------------------------------------------ collections
    def check_collection(self, c):
        for k in ("id", "title", "can_read", "can_write"):
            self.assertIn(k, c, "collection lacks %s: %r" % (k, c))
        self.assertRegex(c["id"], kzlib.UUID4_RE)
        self.assertIsInstance(c["title"], str)
        self.assertIsInstance(c["can_read"], bool)
        self.assertIsInstance(c["can_write"], bool)
        self.assertEqual(c.get("media_types"), [STIX_MT])
        self.assertNoEmptyLists(c)

    def test_collections_admin_sees_all(self):
        d = self.assertOK(self.admin.get("/default/collections/"))
        self.assertNoEmptyLists(d)
        byid = {c["id"]: c for c in d["collections"]}
        for cid in (self.intel, self.secret, self.orgcoll, self.plain):
            self.assertIn(cid, byid)
            self.check_collection(byid[cid])
            self.assertTrue(byid[cid]["can_read"])
            self.assertTrue(byid[cid]["can_write"])
        c = byid[self.intel]
        self.assertEqual(c["title"], "Shared intel")
        self.assertEqual(c.get("description"), "IN-JP shared indicators")
        self.assertEqual(c.get("alias"), "intel")
        self.assertEqual(byid[self.plain].get("alias"), "plain")

    def test_collection_by_id_and_alias(self):
        a = self.assertOK(self.admin.get(coll_path(self.intel)))
        b = self.assertOK(self.admin.get(coll_path("intel")))
        self.check_collection(a)
        self.assertEqual(a, b)
        self.assertEqual(a["id"], self.intel)
        listed = {c["id"]: c for c in self.admin.get("/default/collections/").json["collections"]}
        self.assertEqual(listed[self.intel], a)

    def test_collections_filtered_per_user(self):
        d = self.assertOK(self.alice.get("/default/collections/"))
        ids = {c["id"]: c for c in d.get("collections", [])}
        self.assertEqual(set(ids), {self.intel})
        self.assertTrue(ids[self.intel]["can_read"])
        self.assertFalse(ids[self.intel]["can_write"])
        d = self.assertOK(self.bob.get("/default/collections/"))
        ids = {c["id"]: c for c in d.get("collections", [])}
        self.assertEqual(set(ids), {self.intel, self.orgcoll})
        self.assertTrue(ids[self.intel]["can_write"])
        # an org grant reaches every member
        d = self.assertOK(self.carol.get("/default/collections/"))
        ids = {c["id"]: c for c in d.get("collections", [])}
        self.assertEqual(set(ids), {self.orgcoll})
        self.assertTrue(ids[self.orgcoll]["can_read"])
        self.assertTrue(ids[self.orgcoll]["can_write"])

    def test_collections_empty_is_omitted(self):
        r = self.nobody.get("/default/collections/")
        d = self.assertOK(r)
        self.assertNotIn("collections", d, "an empty list must be omitted, not []: %r" % r)

    def test_ungranted_collection_is_404(self):
        # kizuna: 404 when the user has no grant at all (it may not know the collection)
        for p in (coll_path(self.secret), coll_path("secret"), objects_path(self.secret),
                  objects_path("secret"), manifest_path(self.secret),
                  objects_path(self.secret) + "indicator--2d086da7-4bdc-4f91-900e-d77486753710/",
                  objects_path(self.secret)
                  + "indicator--2d086da7-4bdc-4f91-900e-d77486753710/versions/"):
            self.assertTaxiiError(self.alice.get(p), 404)
        r = self.alice.post(objects_path(self.secret), kzlib.envelope([kzlib.indicator(9)]))
        self.assertTaxiiError(r, 404)

    def test_write_without_right_is_403(self):
        r = self.alice.post(objects_path(self.intel), kzlib.envelope([kzlib.indicator(7)]))
        self.assertTaxiiError(r, 403)
        r = self.alice.post(objects_path("intel"), kzlib.envelope([kzlib.indicator(7)]))
        self.assertTaxiiError(r, 403)
        oid = self.intel_objs[0]["id"]
        r = self.alice.delete(objects_path(self.intel) + oid + "/")
        self.assertTaxiiError(r, 403)
        # and the object is still there
        self.assertOK(self.admin.get(objects_path(self.intel) + oid + "/"))

    def test_reader_reads(self):
        d = self.assertOK(self.alice.get(objects_path("intel")))
        got = {o["id"] for o in d.get("objects", [])}
        self.assertTrue({o["id"] for o in self.intel_objs} <= got)

    def test_unknown_collection_404(self):
        for p in (coll_path("nosuch"), objects_path("nosuch"), manifest_path("nosuch"),
                  coll_path("2d086da7-4bdc-4f91-900e-d77486753710")):
            self.assertTaxiiError(self.admin.get(p), 404)

    # ------------------------------------------------------------ authentication
    def test_bearer_and_basic(self):
        self.assertOK(self.node.client(token=self.alice_tok).get("/default/collections/"))
        self.assertOK(self.node.client(token=self.alice_tok, user="alice")
                      .get("/default/collections/"))
        self.assertOK(self.node.client(token=self.node.admin_token, user="admin")
                      .get("/taxii2/"))

    def test_401_cases(self):
        tok = self.alice_tok
        secret_swapped = tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB")
        other_id = "kz_%s_%s" % ("0123456789abcdef", tok.split("_", 2)[2])
        cases = {
            "no header": None,
            "unknown bearer": kzlib.bearer(secret_swapped),
            "forged id": kzlib.bearer(other_id),
            "garbage bearer": kzlib.bearer("not-a-token"),
            "empty bearer": "Bearer ",
            "bare scheme": "Bearer",
            "unknown scheme": "Token " + tok,
            "basic wrong password": kzlib.basic("alice", secret_swapped),
            "basic other user's token": kzlib.basic("bob", tok),
            "basic unknown user": kzlib.basic("mallory", tok),
            "basic not base64": "Basic !!!not-base64!!!",
            "basic no colon": "Basic " + base64.b64encode(b"alice").decode(),
        }
        for name, value in cases.items():
            for path in ("/taxii2/", "/default/", "/default/collections/",
                         objects_path(self.intel)):
                with self.subTest(case=name, path=path):
                    r = self.anon.get(path, headers={"Authorization": value})
                    self.assertTaxiiError(r, 401)
                    self.assertTrue(r.header("WWW-Authenticate"),
                                    "401 without WWW-Authenticate: %r" % r)
                    # no information about the collection leaks in the error
                    self.assertNotIn(b"Shared intel", r.body)

    def test_401_on_post_and_delete(self):
        r = self.anon.post(objects_path(self.intel), kzlib.envelope([kzlib.indicator(1)]))
        self.assertTaxiiError(r, 401)
        r = self.anon.delete(objects_path(self.intel) + self.intel_objs[0]["id"] + "/")
        self.assertTaxiiError(r, 401)
        r = self.anon.get(status_path("2d086da7-4bdc-4f91-900e-d77486753710"))
        self.assertTaxiiError(r, 401)

    def test_revoked_token_401_within_1s(self):
        self.node.user_add("revokee", "cert-jp", role="reader")
        tok = self.node.token_create("revokee")
        c = self.node.client(token=tok)
        self.assertOK(c.get("/taxii2/"))
        # keep a client hammering while the token is revoked: it must never
        # see a 5xx, and after 1 s every answer is 401
        stop = threading.Event()
        bad = []

        def hammer():
            while not stop.is_set():
                r = c.get("/default/collections/")
                if r.status not in (200, 401):
                    bad.append(r)
        t = threading.Thread(target=hammer)
        t.start()
        try:
            self.node.token_revoke(tok)
            t0 = time.monotonic()
            while True:
                r = c.get("/taxii2/")
                if r.status == 401:
                    break
                self.assertLess(time.monotonic() - t0, 1.0,
                                "revoked token still accepted after 1 s: %r" % r)
                time.sleep(0.02)
        finally:
            stop.set()
            t.join()
        self.assertEqual(bad, [])
        for p in ("/taxii2/", "/default/", "/default/collections/", objects_path(self.intel)):
            self.assertTaxiiError(c.get(p), 401)
        self.assertTaxiiError(self.node.client(token=tok, user="revokee").get("/taxii2/"), 401)
        # token list shows it (revoked) and other tokens still work
        self.assertIn(kzlib.TOKEN_RE.match(tok).group(1),
                      self.node.out("token", "list", "revokee"))
        self.assertOK(self.alice.get("/taxii2/"))

    def test_new_token_works_at_once(self):
        self.node.user_add("newcomer", "cert-jp", role="reader")
        tok = self.node.token_create("newcomer")
        self.assertOK(self.node.client(token=tok).get("/taxii2/"))

    # ------------------------------------------------------------ media types
    def test_accept_ok(self):
        for accept in (TAXII_MT, "application/taxii+json", "*/*", "application/*", None,
                       "application/taxii+json; version=2.1",
                       "APPLICATION/TAXII+JSON;VERSION=2.1",
                       "text/html, application/taxii+json;version=2.1",
                       "application/taxii+json;version=2.1;q=0.9, text/html;q=0.1",
                       "text/html;q=0.9, */*;q=0.1"):
            for p in ("/taxii2/", "/default/", "/default/collections/", objects_path(self.intel)):
                with self.subTest(accept=accept, path=p):
                    self.assertOK(self.admin.get(p, accept=accept))

    def test_accept_406(self):
        for accept in ("text/html", "application/json", "application/taxii+json;version=2.0",
                       "application/stix+json;version=2.1", "application/xml",
                       "text/*", "application/taxii+json;version=3.0", "image/png, text/plain"):
            for p in ("/taxii2/", "/default/", "/default/collections/", coll_path(self.intel),
                      objects_path(self.intel), manifest_path(self.intel)):
                with self.subTest(accept=accept, path=p):
                    self.assertTaxiiError(self.admin.get(p, accept=accept), 406)
        r = self.admin.post(objects_path(self.intel), kzlib.envelope([kzlib.indicator(5)]),
                            accept="text/html")
        self.assertTaxiiError(r, 406)

    def test_content_type_on_every_response(self):
        for p in ("/taxii2/", "/default/", "/default/collections/", coll_path(self.intel),
                  objects_path(self.intel), manifest_path(self.intel), "/nope/",
                  "/default/collections/nope/"):
            r = self.admin.get(p)
            self.assertTaxiiType(r)

    # ------------------------------------------------------------ paths and methods
    def test_unknown_paths_404(self):
        oid = self.intel_objs[0]["id"]
        for p in ("/", "/taxii2/extra/", "/taxii/", "/taxii2/default/", "/default/nosuch/",
                  "/default/collections/%s/nosuch/" % self.intel,
                  "/default/collections/%s/objects/%s/versions/extra/" % (self.intel, oid),
                  "/default/collections/%s/objects/%s/nosuch/" % (self.intel, oid),
                  "/default/status/", "/favicon.ico", "/index.html", "/default/collections//"):
            with self.subTest(path=p):
                self.assertTaxiiError(self.admin.get(p), 404, statuses=(404, 400))

    def wrong_method_cases(self):
        oid = self.intel_objs[0]["id"]
        return [("POST", "/taxii2/"), ("DELETE", "/taxii2/"), ("PUT", "/default/"),
                ("POST", "/default/collections/"), ("DELETE", coll_path(self.intel)),
                ("PUT", objects_path(self.intel)), ("PATCH", objects_path(self.intel)),
                ("DELETE", objects_path(self.intel)), ("POST", manifest_path(self.intel)),
                ("POST", objects_path(self.intel) + oid + "/"),
                ("PUT", objects_path(self.intel) + oid + "/"),
                ("DELETE", objects_path(self.intel) + oid + "/versions/"),
                ("POST", status_path("2d086da7-4bdc-4f91-900e-d77486753710"))]

    def send_wrong(self, method, p):
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        return self.admin.request(method, p, body=body, content_type=TAXII_MT if body else None)

    def test_wrong_method_405(self):
        for method, p in self.wrong_method_cases():
            with self.subTest(method=method, path=p):
                self.assertTaxiiError(self.send_wrong(method, p), 405)
        oid = self.intel_objs[0]["id"]
        self.assertOK(self.admin.get(objects_path(self.intel) + oid + "/"))

    def test_405_has_allow_header(self):
        # RFC 9110 15.5.6: "The origin server MUST generate an Allow header field in
        # a 405 response containing a list of the target resource's currently
        # supported methods."
        want = {"/taxii2/": {"GET"}, "/default/": {"GET"}, "/default/collections/": {"GET"},
                objects_path(self.intel): {"GET", "POST"}}
        for method, p in self.wrong_method_cases():
            with self.subTest(method=method, path=p):
                r = self.send_wrong(method, p)
                allow = r.header("Allow")
                self.assertTrue(allow, "405 without Allow: %r" % r)
                methods = {m.strip().upper() for m in allow.split(",")}
                self.assertNotIn(method, methods)
                if p in want:
                    self.assertTrue(want[p] <= methods, allow)

    def test_head_is_not_a_500(self):
        r = self.admin.request("HEAD", "/taxii2/")
        self.assertIn(r.status, (200, 405))

    def test_without_trailing_slash(self):
        for p in ("/taxii2", "/default", "/default/collections",
                  "/default/collections/%s" % self.intel, "/default/collections/intel",
                  "/default/collections/%s/objects" % self.intel,
                  "/default/collections/%s/manifest" % self.intel,
                  "/default/collections/intel/objects/%s" % self.intel_objs[0]["id"],
                  "/default/collections/intel/objects/%s/versions" % self.intel_objs[0]["id"]):
            with self.subTest(path=p):
                r = self.admin.get(p)
                if r.status in (301, 302, 307, 308):
                    self.assertTrue(r.header("Location").rstrip().endswith("/")
                                    or "/?" in r.header("Location"))
                else:
                    self.assertOK(r)

    def test_query_string_on_info_endpoints_ignored(self):
        self.assertOK(self.admin.get("/taxii2/?foo=bar"))
        self.assertOK(self.admin.get("/default/collections/?x=1"))


if __name__ == "__main__":
    kzlib.main()
