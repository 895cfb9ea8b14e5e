"""The request patterns of the clients people run against kizuna, replayed
with the standard library (PyPI is out of reach here, so the libraries
themselves are not installed; when `taxii2client` happens to be importable
the real library is exercised too):

- OASIS taxii2-client 2.3 (taxii2client.v21): trailing slashes added to every
  URL, Collection URLs built from the collection *id*, `default` looked up
  verbatim in `api_roots`, the Content-Type check it applies to every GET,
  as_pages (limit omitted on the first page, then limit=<page size>&next=...),
  add_objects followed by a status poll at urljoin(collection, "../../status/<id>")
  -- without the trailing slash -- and datetime filters with trimmed fractions.
- MISP's TAXII push/pull (app/Model/TaxiiServer.php, taxii_push.py): the API
  root URL without trailing slash, "Authorization: basic <base64>" with a
  lower-case scheme, a Content-Type header on GET, limit=50&next=...
- OpenCTI's TAXII feed ingestion (ingestionManager.ts): GET
  <uri>/collections/<collection>/objects/ with next *and* the original
  added_after on every page; when the feed ends, added_after becomes the
  X-TAXII-Date-Added-Last header cut to milliseconds by Date.toISOString().
"""

import base64
import datetime
import json
import urllib.parse
import unittest

import kzlib
from kzlib import TAXII_MT, NodeTestCase, qs


def taxii2client_content_type_ok(content_type, accept=TAXII_MT):
    """taxii2client.common._HTTPConnection.valid_content_type for version 2.1."""
    accept_tokens = accept.replace(" ", "").split(";")
    ct_tokens = content_type.replace(" ", "").split(";")
    return all(t in ct_tokens for t in accept_tokens) and ct_tokens[0] == "application/taxii+json"


def taxii2client_format_datetime(dttm):
    """taxii2client.common._format_datetime (precision unset)."""
    ts = dttm.strftime("%Y-%m-%dT%H:%M:%S")
    if dttm.microsecond > 0:
        ts += "." + dttm.strftime("%f").rstrip("0")
    return ts + "Z"


def js_to_iso_string(taxii_ts):
    """What OpenCTI stores: new Date(header).toISOString() (milliseconds)."""
    base, frac = taxii_ts[:-1].split(".") if "." in taxii_ts else (taxii_ts[:-1], "0")
    return base + "." + (frac + "000")[:3] + "Z"


class Clients(NodeTestCase):
    node_name = "clients-node"

    @classmethod
    def setup_node(cls, node):
        cls.cid = node.collection_add("intel", title="Shared intel")
        node.org_add("partner", kind="cert")
        node.user_add("feeder", "partner", role="contributor")
        node.grant("intel", user="feeder", read=True, write=True)
        cls.tok = node.token_create("feeder")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.node.client(token=cls.tok, user="feeder")
        cls.seed = [kzlib.indicator(i) for i in range(23)]
        for i in range(0, 23, 5):
            r = kzlib.post_objects(c, cls.cid, cls.seed[i:i + 5])
            assert r.status == 202, r

    def setUp(self):
        self.c = self.node.client(token=self.tok, user="feeder")
        self.base = "http://127.0.0.1:%d" % self.node.port

    def get_url(self, url, params=None, headers=None, client=None):
        p = urllib.parse.urlparse(url)
        path = p.path + (("?" + p.query) if p.query else "")
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        return (client or self.c).get(path, headers=headers)

    def check_ct(self, r):
        self.assertTrue(taxii2client_content_type_ok(r.header("content-type") or ""),
                        "taxii2-client would reject Content-Type %r" % r.header("content-type"))

    # ------------------------------------------------------------ taxii2-client
    def test_taxii2client_flow(self):
        server_url = self.base + "/taxii2/"
        r = self.get_url(server_url)
        self.assertEqual(r.status, 200, r)
        self.check_ct(r)
        disc = r.json
        roots = [urllib.parse.urljoin(server_url, u) for u in disc.get("api_roots", [])]
        self.assertTrue(roots)
        self.assertIn(disc.get("default"), disc["api_roots"],
                      "taxii2-client finds the default API root only verbatim in api_roots")
        root_url = urllib.parse.urljoin(server_url, disc["default"])
        if not root_url.endswith("/"):
            root_url += "/"
        r = self.get_url(root_url)
        self.check_ct(r)
        info = r.json
        self.assertTrue(info.get("title") and info.get("versions")
                        and info.get("max_content_length") is not None)
        r = self.get_url(root_url + "collections/")
        self.check_ct(r)
        coll = None
        for item in r.json.get("collections", []):
            url = root_url + "collections/" + item["id"] + "/"
            self.assertIn(item["id"], url)
            self.assertTrue(item.get("title"))
            self.assertIsNotNone(item.get("can_read"))
            self.assertIsNotNone(item.get("can_write"))
            if item["id"] == self.cid:
                coll = url
        self.assertIsNotNone(coll)
        # Collection.refresh
        r = self.get_url(coll)
        self.check_ct(r)
        self.assertEqual(r.json["id"], self.cid)

        # as_pages(get_objects, per_request=0): the first call sends no limit
        objs = self.as_pages(coll + "objects/", per_request=0)
        self.assertTrue({o["id"] for o in self.seed} <= {o["id"] for o in objs})
        # as_pages(get_objects, per_request=4, type="indicator")
        objs = self.as_pages(coll + "objects/", per_request=4,
                             extra={"match[type]": "indicator"})
        self.assertEqual(len(objs), len({o["id"] for o in objs}))
        self.assertTrue({o["id"] for o in self.seed} <= {o["id"] for o in objs})
        # as_pages over the manifest
        man = self.as_pages(coll + "manifest/", per_request=7)
        self.assertTrue({o["id"] for o in self.seed} <= {m["id"] for m in man})

        # add_objects(dict) -> json.dumps(ensure_ascii=False).encode(), then the
        # status at urljoin(collection, "../../status/<id>") (no trailing slash)
        o = kzlib.indicator(500, name="\u7d46 taxii2-client")
        data = json.dumps({"objects": [o]}, ensure_ascii=False).encode("utf-8")
        r = self.c.post(urllib.parse.urlparse(coll + "objects/").path, data,
                        content_type=TAXII_MT)
        self.assertEqual(r.status, 202, r)
        st = r.json
        status_url = urllib.parse.urljoin(coll, "../../status/{}".format(st["id"]))
        self.assertFalse(status_url.endswith("/"))
        r = self.get_url(status_url)
        self.assertEqual(r.status, 200, r)
        self.check_ct(r)
        self.validate_status(r.json)
        # ApiRoot.get_status: with the slash
        r = self.get_url(root_url + "status/" + st["id"] + "/")
        self.assertEqual(r.status, 200, r)

        # get_object / object_versions / get_manifest(version="all") / delete_object
        r = self.get_url(coll + "objects/" + o["id"] + "/")
        self.check_ct(r)
        self.assertEqual(r.json["objects"], [o])
        r = self.get_url(coll + "objects/" + o["id"] + "/versions/")
        self.check_ct(r)
        self.assertEqual(len(r.json["versions"]), 1)
        r = self.get_url(coll + "manifest/", params={"match[version]": "all",
                                                     "match[id]": o["id"]})
        self.check_ct(r)
        self.assertEqual(len(r.json["objects"]), 1)
        # added_after as taxii2-client formats a datetime: trailing zeros trimmed
        da = r.json["objects"][0]["date_added"]
        dt = datetime.datetime.strptime(da, "%Y-%m-%dT%H:%M:%S.%fZ")
        before = dt - datetime.timedelta(microseconds=10)
        r = self.get_url(coll + "objects/",
                         params={"added_after": taxii2client_format_datetime(before)})
        self.assertEqual(r.status, 200, r)
        self.assertIn(o["id"], [x["id"] for x in r.json.get("objects", [])])
        r = self.get_url(coll + "objects/", params={
            "added_after": taxii2client_format_datetime(dt.replace(microsecond=0))})
        self.assertEqual(r.status, 200, r)
        r = self.c.delete(urllib.parse.urlparse(coll + "objects/" + o["id"] + "/").path)
        self.assertEqual(r.status, 200, r)

    def as_pages(self, url, per_request, extra=None):
        """taxii2client.v21.as_pages over a GET endpoint; returns the items."""
        def call(limit, nxt=None):
            params = dict(extra or {})
            if limit:                      # limit=0 is dropped ("if not arglist")
                params["limit"] = int(limit)
            if nxt:
                params["next"] = nxt
            r = self.get_url(url, params=params)
            self.assertEqual(r.status, 200, r)
            self.check_ct(r)
            return r.json
        out = []
        env = call(per_request)
        out += env.get("objects", [])
        got = len(env.get("objects", []))
        if env.get("more", False) and got != per_request:
            per_request = got
        pages = 1
        while env.get("more", False):
            env = call(per_request, env.get("next", ""))
            out += env.get("objects", [])
            pages += 1
            self.assertLess(pages, 1000)
        return out

    def validate_status(self, st):
        """taxii2client.v21.Status._validate_status."""
        for k in ("id", "status"):
            self.assertTrue(st.get(k), st)
        for k in ("total_count", "success_count", "failure_count", "pending_count"):
            self.assertIsNotNone(st.get(k), st)
        for lst, n in (("successes", "success_count"), ("pendings", "pending_count"),
                       ("failures", "failure_count")):
            if st.get(lst):
                self.assertEqual(len(st[lst]), st[n])
        self.assertEqual(st["success_count"] + st["pending_count"] + st["failure_count"],
                         st["total_count"])

    # ------------------------------------------------------------ MISP
    def test_misp_taxii_server_model(self):
        key = base64.b64encode(("feeder:" + self.tok).encode()).decode()
        hdrs = {"Authorization": "basic " + key,      # MISP writes the scheme lower-case
                "Content-type": TAXII_MT}             # ... and a Content-Type on GET
        anon = self.node.client()
        # getCollections: baseurl + '/' + api_root + '/collections/'
        r = anon.get("/default/collections/", headers=hdrs)
        self.assertEqual(r.status, 200, r)
        self.assertIn(self.cid, [c["id"] for c in r.json["collections"]])
        # getObjects: limit=50 then next
        seen, nxt = [], None
        while True:
            p = [("limit", "50")] + ([("next", nxt)] if nxt else [])
            r = anon.get(kzlib.objects_path(self.cid) + qs(p), headers=hdrs)
            self.assertEqual(r.status, 200, r)
            seen += [o["id"] for o in r.json.get("objects", [])]
            if not r.json.get("more"):
                break
            nxt = r.json["next"]
        self.assertTrue({o["id"] for o in self.seed} <= set(seen))
        # taxii_push.py: ApiRoot(baseurl + "/" + api_root) -- no trailing slash in
        # what MISP stores; taxii2-client adds it, plain HTTP clients may not
        r = anon.get("/default", headers=hdrs)
        self.assertIn(r.status, (200, 301, 308), r)
        r = anon.get("/default/", headers={"Authorization": "Basic " + key})
        self.assertEqual(r.status, 200, r)
        # push: an envelope POSTed by taxii2-client with HTTPBasicAuth
        o = kzlib.indicator(600)
        r = anon.post(kzlib.objects_path(self.cid),
                      json.dumps({"objects": [o]}, separators=(",", ":")).encode(),
                      content_type=TAXII_MT, headers={"Authorization": "Basic " + key})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["success_count"], 1)

    def test_auth_scheme_case_insensitive(self):
        # RFC 9110 11.1: the authentication scheme is case-insensitive
        key = base64.b64encode(("feeder:" + self.tok).encode()).decode()
        anon = self.node.client()
        for h in ("basic " + key, "BASIC " + key, "Basic " + key, "bearer " + self.tok,
                  "BEARER " + self.tok, "Bearer " + self.tok):
            with self.subTest(header=h.split(" ")[0]):
                r = anon.get("/taxii2/", headers={"Authorization": h})
                self.assertEqual(r.status, 200, r)

    # ------------------------------------------------------------ OpenCTI
    def test_opencti_feed_polling(self):
        uri = self.base + "/default"          # "uri" of the feed: the API root
        prepared = uri if uri.endswith("/") else uri + "/"
        url = prepared + "collections/" + self.cid + "/objects/"
        state = {"cursor": None, "added_after_start": "2020-01-01T00:00:00.000Z"}
        seen = []
        extra_written = []
        for cycle in range(40):
            params = {}
            if state["cursor"]:
                params["next"] = state["cursor"]
            if state["added_after_start"]:
                params["added_after"] = state["added_after_start"]
            params["limit"] = 6
            r = self.get_url(url, params=params)
            self.assertEqual(r.status, 200, r)
            data = r.json
            objs = data.get("objects", [])
            if objs:
                seen += [o["id"] for o in objs]
                if data.get("more") and data.get("next"):
                    state["cursor"] = data["next"]
                else:
                    last = r.header("X-TAXII-Date-Added-Last")
                    self.assertIsNotNone(last)
                    state["cursor"] = None
                    state["added_after_start"] = js_to_iso_string(last)
            else:
                if cycle > 5 and len(extra_written) >= 2:
                    break
            if cycle in (3, 9):   # new objects arrive between polls
                o = kzlib.indicator(700 + cycle)
                self.assertEqual(kzlib.post_objects(self.c, self.cid, [o]).status, 202)
                extra_written.append(o["id"])
        want = {o["id"] for o in self.seed} | set(extra_written)
        self.assertTrue(want <= set(seen), "OpenCTI-style polling skipped %d objects"
                        % len(want - set(seen)))

    # ------------------------------------------------------------ the real library
    def test_real_taxii2client_if_installed(self):
        try:
            from taxii2client.v21 import Server, as_pages  # noqa: F401
        except ImportError:
            self.skipTest("taxii2client is not installed (PyPI is out of reach here)")
        server = Server(self.base + "/taxii2/", user="feeder", password=self.tok)
        api_root = server.default
        self.assertIsNotNone(api_root)
        coll = next(c for c in api_root.collections if c.id == self.cid)
        n = 0
        for env in as_pages(coll.get_objects, per_request=5):
            n += len(env.get("objects", []))
        self.assertGreaterEqual(n, len(self.seed))
        status = coll.add_objects({"objects": [kzlib.indicator(800)]})
        self.assertEqual(status.status, "complete")
        status.refresh()
        self.assertEqual(status.success_count, 1)


if __name__ == "__main__":
    kzlib.main()
