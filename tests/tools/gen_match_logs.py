#!/usr/bin/env python3
"""Generate logs with planted indicator hits, and the exact hit set expected.

Writes into --out:
  indicators.tsv     kind<TAB>value<TAB>ref, the indicators to index
  logs/<file>        logs in every format kizuna match reads (Zeek TSV, Zeek
                     JSON, CLF, JSON lines, RFC 5424 and 3164 syslog, text,
                     and a gzip-compressed log)
  formats.tsv        file<TAB>format the detector must choose
  expected.tsv       file<TAB>line<TAB>field<TAB>kind<TAB>normalised<TAB>refs
                     for a scan without --subdomains (refs comma-separated)
  expected_sub.tsv   the same with --subdomains

Planted hits cover every indicator kind in every format where a field can
hold it, in several spellings that normalise to the indicator (case, default
ports, percent-encoded unreserved characters, dot segments, IPv6 text
forms), at line starts and ends, in quoted fields, in URL query strings and
in JSON escapes; near misses (1.2.3.45 for 1.2.3.4, notevil.com for
evil.com, an address just past a CIDR block, a changed local part, a
34-digit "hash", a child of a public suffix) sit beside them and must not
hit. Python 3 standard library only; the output depends on --seed alone.
"""

import argparse
import gzip
import ipaddress
import json
import os
import random
import string

PUBLIC_SUFFIX_INDICATORS = ["github.io"]  # indicators that are public suffixes
TLDS = ["com", "net", "org", "io", "jp", "de", "co.jp", "co.uk", "com.au"]
WORDS = ["alpha", "bravo", "coral", "delta", "ember", "falcon", "garnet", "harbor",
         "indigo", "juniper", "kestrel", "lumen", "meadow", "nimbus", "onyx", "prism"]


class Gen:
    def __init__(self, seed, lines):
        self.r = random.Random(seed)
        self.lines = lines
        self.nref = 0
        self.ind = []                 # (kind, value, ref)
        self.nets = []                # (network, ref) for ipv4/ipv6 and cidr
        self.domains = {}             # domain -> [refs]
        self.urls = {}                # canonical url -> [refs]
        self.emails = {}              # canonical email -> [refs]
        self.hashes = {}              # lowercase hex -> (kind, [refs])
        self.exp = []                 # (file, line, field, kind, norm, refs, mode)
        self.make_indicators()

    # --- indicators -------------------------------------------------------
    def ref(self):
        self.nref += 1
        return self.nref

    def add(self, kind, value, ref=None):
        ref = self.ref() if ref is None else ref
        self.ind.append((kind, value, ref))
        return ref

    def rand_ipv4(self):
        while True:
            a = ipaddress.IPv4Address(self.r.getrandbits(32))
            if a.is_global and not a.is_multicast and str(a).split(".")[0] not in ("0", "255"):
                return a

    def rand_ipv6(self):
        return ipaddress.IPv6Address((0x2400 << 112) | self.r.getrandbits(108))

    def word(self):
        return self.r.choice(WORDS) + str(self.r.randrange(10, 99))

    def hexs(self, n):
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def make_indicators(self):
        r = self.r
        for _ in range(12):
            a = self.rand_ipv4()
            self.nets.append((ipaddress.ip_network(str(a) + "/32"), self.add("ipv4", str(a))))
        # nested blocks: a /16, a /24 inside it, an address inside both
        base = self.rand_ipv4()
        n16 = ipaddress.ip_network(str(base) + "/16", strict=False)
        n24 = ipaddress.ip_network(str(n16.network_address + 256 * r.randrange(1, 200)) + "/24")
        inner = n24.network_address + r.randrange(1, 250)
        self.nets.append((n16, self.add("cidr4", str(n16))))
        self.nets.append((n24, self.add("cidr4", str(n24))))
        self.nets.append((ipaddress.ip_network(str(inner) + "/32"), self.add("ipv4", str(inner))))
        for plen in (20, 26, 28, 30):
            n = ipaddress.ip_network(str(self.rand_ipv4()) + "/%d" % plen, strict=False)
            self.nets.append((n, self.add("cidr4", str(n))))
        for _ in range(6):
            a = self.rand_ipv6()
            self.nets.append((ipaddress.ip_network(str(a) + "/128"), self.add("ipv6", str(a))))
        b6 = self.rand_ipv6()
        n32 = ipaddress.ip_network(str(b6) + "/32", strict=False)
        n48 = ipaddress.ip_network(str(n32.network_address + (r.getrandbits(16) << 80)) + "/48")
        self.nets.append((n32, self.add("cidr6", str(n32))))
        self.nets.append((n48, self.add("cidr6", str(n48))))
        n64 = ipaddress.ip_network(str(self.rand_ipv6()) + "/64", strict=False)
        self.nets.append((n64, self.add("cidr6", str(n64))))
        for i in range(14):
            d = self.word() + "." + TLDS[i % len(TLDS)]
            self.domains.setdefault(d, []).append(self.add("domain", d))
        for _ in range(3):
            d = "%s.%s.com" % (self.word(), self.word())
            self.domains.setdefault(d, []).append(self.add("domain", d))
        dup = sorted(self.domains)[0]  # one value, two indicators
        self.domains[dup].append(self.add("domain", dup.upper()))
        for d in PUBLIC_SUFFIX_INDICATORS:
            self.domains.setdefault(d, []).append(self.add("domain", d))
        for i in range(10):
            host = "web-" + self.word() + ".example" + str(i) + ".net"
            scheme = "https" if i % 2 else "http"
            port = ":8080" if i % 5 == 4 else ""
            path = "/" + "/".join(self.word() for _ in range(1 + i % 3))
            query = "?id=%d&ref=%s" % (r.randrange(1000), self.word()) if i % 3 == 0 else ""
            u = "%s://%s%s%s%s" % (scheme, host, port, path, query)
            self.urls.setdefault(u, []).append(self.add("url", u))
        for _ in range(6):
            local = r.choice(["John.Doe", "alerts", "Ops-Team", "x.y+tag", "M.Sato"]) + str(r.randrange(99))
            e = local + "@" + "mail" + self.word() + ".org"
            self.emails.setdefault(e, []).append(self.add("email", e))
        for kind, n, count in (("md5", 32, 5), ("sha1", 40, 5), ("sha256", 64, 5), ("sha512", 128, 3)):
            for _ in range(count):
                h = self.hexs(n)
                self.hashes[h] = (kind, [self.add(kind, h)])

    # --- semantics (the contract the scanner must meet) --------------------
    def ip_refs(self, addr):
        a = ipaddress.ip_address(addr)
        return sorted({ref for net, ref in self.nets if a.version == net.version and a in net})

    def domain_refs(self, d, sub):
        d = d.lower().rstrip(".")
        refs = set(self.domains.get(d, []))
        if sub:
            labels = d.split(".")
            for i in range(1, len(labels) - 1):
                parent = ".".join(labels[i:])
                if parent in self.domains and parent not in PUBLIC_SUFFIX_INDICATORS:
                    refs.update(self.domains[parent])
        return sorted(refs)

    def covered_ip(self, a):
        return bool(self.ip_refs(str(a)))

    def benign_ipv4(self):
        while True:
            a = self.rand_ipv4()
            if not self.covered_ip(a):
                return str(a)

    def benign_ipv6(self):
        while True:
            a = self.rand_ipv6()
            if not self.covered_ip(a):
                return str(a)

    def benign_domain(self):
        while True:
            d = "www.%s.example" % self.word()
            if not self.domain_refs(d, True):
                return d

    # --- planting -----------------------------------------------------------
    def expect(self, f, line, field, kind, norm, refs, mode="both"):
        """A hit the scan must report; mode: "both", or only "plain" (no
        --subdomains) or only "sub" (with --subdomains)."""
        if refs:
            self.exp.append((f, line, field, kind, norm, refs, mode))

    def pick_ip(self, v6=False):
        """An address that hits: an exact indicator or one inside a block."""
        nets = [(n, ref) for n, ref in self.nets if n.version == (6 if v6 else 4)]
        net, _ = self.r.choice(nets)
        if net.num_addresses == 1:
            a = net.network_address
        else:
            a = net.network_address + self.r.randrange(1, min(net.num_addresses - 1, 1 << 20))
        return str(a), self.ip_refs(str(a))

    def ip_near_miss(self, v6=False):
        """An address that looks like a hit but is not one."""
        nets = [n for n, _ in self.nets if n.version == (6 if v6 else 4)]
        for _ in range(50):
            net = self.r.choice(nets)
            if v6:
                a = net.broadcast_address + 1
            elif net.num_addresses == 1 and str(net.network_address).split(".")[3] != "255":
                s = str(net.network_address)
                cand = s + str(self.r.randrange(0, 10))  # 1.2.3.4 -> 1.2.3.45
                try:
                    a = ipaddress.ip_address(cand)
                except ValueError:
                    continue
            else:
                a = net.broadcast_address + 1
            if not self.covered_ip(a):
                return str(a)
        return self.benign_ipv4()

    def ipv6_text(self, a):
        a = ipaddress.IPv6Address(a)
        return self.r.choice([a.compressed, a.exploded, a.compressed.upper()])

    def pick_domain(self, allow_sub=True):
        d = self.r.choice(sorted(k for k in self.domains if k not in PUBLIC_SUFFIX_INDICATORS))
        seen = d
        sub_only = False
        if allow_sub and self.r.random() < 0.35:
            seen = self.r.choice(["www", "cdn", "a.b", "mail"]) + "." + d
            sub_only = True
        if self.r.random() < 0.4:
            seen = "".join(c.upper() if self.r.random() < 0.5 else c for c in seen)
        return seen, sub_only

    def domain_near_miss(self):
        d = self.r.choice(sorted(k for k in self.domains if k not in PUBLIC_SUFFIX_INDICATORS))
        ps = PUBLIC_SUFFIX_INDICATORS[0]
        for cand in self.r.sample(["not" + d, d + "x", d.replace(".", "-", 1) + ".example",
                                   "evil." + ps, d + ".au", "x" + d.split(".")[0] + ".org"], 6):
            if not self.domain_refs(cand, True) and cand.count(".") >= 1:
                return cand
        return self.benign_domain()

    def url_variant(self, u):
        """A spelling of canonical URL u that normalises back to u."""
        r = self.r
        scheme, rest = u.split("://", 1)
        host, _, tail = rest.partition("/")
        tail = "/" + tail
        port = ""
        if ":" in host:
            host, port = host.split(":")
            port = ":" + port
        choice = r.randrange(5)
        if choice == 0:
            scheme, host = scheme.upper(), host.upper()
        elif choice == 1 and not port:
            port = ":80" if scheme == "http" else ":443"
        elif choice == 2:
            # percent-encode an unreserved letter of the path
            q = tail.find("?")
            limit = q if q >= 0 else len(tail)
            idx = [i for i, c in enumerate(tail[:limit]) if c in string.ascii_lowercase]
            if idx:
                i = r.choice(idx)
                tail = tail[:i] + "%%%02X" % ord(tail[i]) + tail[i + 1:]
        elif choice == 3:
            tail = "/./" + tail[1:] if r.random() < 0.5 else "/zz/.." + tail
        return "%s://%s%s%s" % (scheme, host, port, tail)

    def pick_url(self):
        u = self.r.choice(sorted(self.urls))
        return self.url_variant(u), u, self.urls[u]

    def pick_email(self):
        e = self.r.choice(sorted(self.emails))
        local, dom = e.split("@")
        seen = local + "@" + (dom.upper() if self.r.random() < 0.5 else dom)
        return seen, e, self.emails[e]

    def email_near_miss(self):
        e = self.r.choice(sorted(self.emails))
        local, dom = e.split("@")
        flipped = local.swapcase() if local.swapcase() != local else local + "x"
        return flipped + "@" + dom

    def pick_hash(self, kind=None):
        hs = sorted(h for h, (k, _) in self.hashes.items() if kind is None or k == kind)
        h = self.r.choice(hs)
        k, refs = self.hashes[h]
        seen = h.upper() if self.r.random() < 0.4 else h
        return seen, k, h, refs

    def hash_near_miss(self):
        h = self.r.choice(sorted(self.hashes))
        return h + self.r.choice("0123456789abcdef")  # one digit too long: not a digest

    # --- a planted value for a free-text field -------------------------------
    def text_plant(self, kind):
        """(text, [(kind, norm, refs, sub_only)]) for one free-text value."""
        r = self.r
        if kind == "ipv4":
            a, refs = self.pick_ip()
            return a, [("ipv4", a, refs, False)]
        if kind == "ipv6":
            a, refs = self.pick_ip(v6=True)
            return self.ipv6_text(a), [("ipv6", ipaddress.IPv6Address(a).compressed, refs, False)]
        if kind == "domain":
            d, sub_only = self.pick_domain()
            norm = d.lower()
            return d, [("domain", norm, None, sub_only)]
        if kind == "url":
            seen, canon, refs = self.pick_url()
            return seen, [("url", canon, refs, False)]
        if kind == "email":
            seen, canon, refs = self.pick_email()
            return seen, [("email", canon, refs, False)]
        seen, k, h, refs = self.pick_hash()
        return seen, [(k, h, refs, False)]

    def miss_plant(self, kind):
        if kind == "ipv4":
            return self.ip_near_miss()
        if kind == "ipv6":
            return self.ip_near_miss(v6=True)
        if kind == "domain":
            return self.domain_near_miss()
        if kind == "url":
            u = self.r.choice(sorted(self.urls))
            return u.split("?")[0] + "/other" if "?" not in u else u + "&x=1"
        if kind == "email":
            return self.email_near_miss()
        return self.hash_near_miss()

    def record(self, f, line, field, hits):
        for kind, norm, refs, _ in hits:
            if kind != "domain":
                self.expect(f, line, field, kind, norm, refs)
                continue
            exact = self.domain_refs(norm, False)
            sub = self.domain_refs(norm, True)
            if exact == sub:
                self.expect(f, line, field, kind, norm, exact)
            else:
                self.expect(f, line, field, kind, norm, exact, "plain")
                self.expect(f, line, field, kind, norm, sub, "sub")

    # --- the formats -----------------------------------------------------------
    KINDS = ["ipv4", "ipv6", "domain", "url", "email", "md5"]

    def kind_cycle(self, i, kinds=None):
        kinds = kinds or self.KINDS
        return kinds[i % len(kinds)]

    def zeek_header(self, path, fields, types):
        return ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
                "#unset_field\t-", "#path\t" + path, "#open\t2024-05-01-00-00-00",
                "#fields\t" + "\t".join(fields), "#types\t" + "\t".join(types)]

    def zeek_conn(self, f):
        fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
                  "service", "duration", "orig_bytes", "conn_state", "history"]
        types = ["time", "string", "addr", "port", "addr", "port", "enum", "string",
                 "interval", "count", "string", "string"]
        out = self.zeek_header("conn", fields, types)
        for i in range(self.lines):
            ln = len(out) + 1
            v6 = i % 3 == 2
            orig = self.benign_ipv6() if v6 else self.benign_ipv4()
            resp = self.benign_ipv6() if v6 else self.benign_ipv4()
            mode = i % 4
            if mode in (0, 1):
                a, refs = self.pick_ip(v6)
                norm = ipaddress.ip_address(a).compressed
                if mode == 0:
                    resp = self.ipv6_text(a) if v6 else a
                    self.expect(f, ln, "id.resp_h", "ipv6" if v6 else "ipv4", norm, refs)
                else:
                    orig = self.ipv6_text(a) if v6 else a
                    self.expect(f, ln, "id.orig_h", "ipv6" if v6 else "ipv4", norm, refs)
            elif mode == 2:
                resp = self.ip_near_miss(v6)
            row = ["%d.%06d" % (1714521600 + i, i), "C" + self.hexs(17), orig,
                   str(self.r.randrange(1024, 65535)), resp, str(self.r.choice([53, 80, 443])),
                   "tcp", self.r.choice(["http", "ssl", "-", "dns"]), "0.%06d" % i,
                   str(self.r.randrange(1000)), "SF", "ShADadFf"]
            out.append("\t".join(row))
        out.append("#close\t2024-05-01-01-00-00")
        return out

    def zeek_dns(self, f):
        fields = ["ts", "uid", "id.orig_h", "id.resp_h", "query", "qtype_name", "rcode_name",
                  "answers", "TTLs"]
        types = ["time", "string", "addr", "addr", "string", "string", "string",
                 "vector[string]", "vector[interval]"]
        out = self.zeek_header("dns", fields, types)
        for i in range(self.lines):
            ln = len(out) + 1
            query = self.benign_domain()
            answers = [self.benign_ipv4()]
            mode = i % 4
            if mode == 0:
                d, _ = self.pick_domain()
                query = d
                self.record(f, ln, "query", [("domain", d.lower(), None, False)])
            elif mode == 1:
                a, refs = self.pick_ip()
                answers = [self.benign_ipv4(), a] if i % 2 else [a]
                self.expect(f, ln, "answers", "ipv4", a, refs)
            elif mode == 2:
                query = self.domain_near_miss()
                answers = [self.ip_near_miss()]
            row = ["%d.%06d" % (1714521600 + i, i), "C" + self.hexs(17), self.benign_ipv4(),
                   self.benign_ipv4(), query, "A", "NOERROR", ",".join(answers),
                   ",".join("3600.000000" for _ in answers)]
            out.append("\t".join(row))
        return out

    def zeek_http(self, f):
        fields = ["ts", "uid", "id.orig_h", "id.resp_h", "method", "host", "uri", "referrer",
                  "user_agent", "status_code"]
        types = ["time", "string", "addr", "addr", "string", "string", "string", "string",
                 "string", "count"]
        out = self.zeek_header("http", fields, types)
        for i in range(self.lines):
            ln = len(out) + 1
            host = self.benign_domain()
            uri = "/index.html"
            ref = "-"
            ua = "Mozilla/5.0 (X11; Linux x86_64)"
            mode = i % 6
            if mode == 0:  # a URL indicator from host + uri
                canon = self.r.choice(sorted(u for u in self.urls if u.startswith("http://") and
                                             ":8080" not in u))
                host, _, rest = canon[len("http://"):].partition("/")
                uri = "/" + rest
                if self.r.random() < 0.5:
                    host = host.upper()
                self.expect(f, ln, "host+uri", "url", canon, self.urls[canon])
            elif mode == 1:  # an indicator domain as the Host
                d, sub_only = self.pick_domain()
                host = d
                self.record(f, ln, "host", [("domain", d.lower(), None, sub_only)])
            elif mode == 2:  # values in the query string
                kind = self.kind_cycle(i // 6, ["ipv4", "md5", "domain", "email"])
                text, hits = self.text_plant(kind)
                uri = "/search?q=%s&page=2" % text
                self.record(f, ln, "uri", hits)
            elif mode == 3:  # a referrer URL
                seen, canon, refs = self.pick_url()
                ref = seen
                self.expect(f, ln, "referrer", "url", canon, refs)
            elif mode == 4:
                uri = "/q?d=%s&ip=%s" % (self.domain_near_miss(), self.ip_near_miss())
                ua = "Mozilla/5.0 build %s" % self.hash_near_miss()
            row = ["%d.%06d" % (1714521600 + i, i), "C" + self.hexs(17), self.benign_ipv4(),
                   self.benign_ipv4(), "GET", host, uri, ref, ua, "200"]
            out.append("\t".join(row))
        return out

    def zeek_files_json(self, f):
        out = []
        for i in range(self.lines):
            ln = len(out) + 1
            obj = {"ts": 1714521600.5 + i, "fuid": "F" + self.hexs(17), "uid": "C" + self.hexs(17),
                   "tx_hosts": [self.benign_ipv4()], "rx_hosts": [self.benign_ipv4()],
                   "source": "HTTP", "mime_type": "application/octet-stream",
                   "md5": self.hexs(32), "sha1": self.hexs(40), "sha256": self.hexs(64)}
            mode = i % 5
            if mode in (0, 1):
                kind = ["md5", "sha1", "sha256"][i % 3]
                seen, k, h, refs = self.pick_hash(kind)
                obj[kind] = seen
                self.expect(f, ln, kind, k, h, refs)
            elif mode == 2:
                a, refs = self.pick_ip()
                obj["tx_hosts"] = [self.benign_ipv4(), a]
                self.expect(f, ln, "tx_hosts", "ipv4", a, refs)
            elif mode == 3:
                obj["md5"] = self.hash_near_miss()[:31] + "g"
                obj["rx_hosts"] = [self.ip_near_miss()]
            out.append(json.dumps(obj, separators=(",", ":")))
        return out

    def clf(self, f, n=None):
        out = []
        months = "Jan Feb Mar Apr May Jun".split()
        for i in range(n or self.lines):
            ln = len(out) + 1
            client = self.benign_ipv4()
            user = "-"
            req = "GET /static/app.js HTTP/1.1"
            ref = "https://%s/" % self.benign_domain()
            ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
            mode = i % 7
            if mode == 0:
                a, refs = self.pick_ip()
                client = a
                self.expect(f, ln, "client", "ipv4", a, refs)
            elif mode == 1:  # query string
                kind = self.kind_cycle(i // 7)
                text, hits = self.text_plant(kind)
                req = "GET /redirect?to=%s HTTP/1.1" % text
                self.record(f, ln, "request", hits)
            elif mode == 2:  # referer URL and its host
                if i % 2:
                    seen, canon, refs = self.pick_url()
                    ref = seen
                    self.expect(f, ln, "referer", "url", canon, refs)
                else:
                    d, sub_only = self.pick_domain()
                    ref = "http://%s/landing?x=1" % d
                    self.record(f, ln, "referer", [("domain", d.lower(), None, sub_only)])
            elif mode == 3:  # quoted user agent with escaped quotes
                seen, canon, refs = self.pick_email()
                ua = 'Mozilla/5.0 (compatible; \\"%s\\")' % seen
                self.expect(f, ln, "user_agent", "email", canon, refs)
            elif mode == 4:
                client = self.ip_near_miss()
                req = "GET /x?h=%s&d=%s HTTP/1.1" % (self.hash_near_miss(), self.domain_near_miss())
                ua = "curl/8.0 %s" % self.email_near_miss().replace("@", " at ")
            elif mode == 5:  # a percent-encoded URL in the query string
                seen, canon, refs = self.pick_url()
                enc = "".join(c if c.isalnum() or c in "-._~" else "%%%02X" % ord(c) for c in canon)
                req = "GET /out?u=%s HTTP/1.1" % enc
                self.expect(f, ln, "request", "url", canon, refs)
            elif mode == 6:  # hash and authenticated user holding an e-mail
                seen, k, h, refs = self.pick_hash()
                req = "GET /files/%s HTTP/1.1" % seen
                self.expect(f, ln, "request", k, h, refs)
            ts = "[%02d/%s/2024:%02d:%02d:%02d +0000]" % (1 + i % 28, months[i % 6], i % 24,
                                                          i % 60, (i * 7) % 60)
            out.append('%s - %s %s "%s" 200 %d "%s" "%s"' % (client, user, ts, req,
                                                            self.r.randrange(100, 9000), ref, ua))
        return out

    def jsonl(self, f):
        out = []
        for i in range(self.lines):
            ln = len(out) + 1
            obj = {"@timestamp": "2024-05-01T00:00:%02dZ" % (i % 60), "event": {"kind": "alert",
                   "src": {"ip": self.benign_ipv4()}}, "tags": ["prod", "web"],
                   "message": "connection from %s" % self.benign_domain(), "count": i}
            kind = self.kind_cycle(i)
            mode = i % 3
            text, hits = self.text_plant(kind)
            if mode == 0:
                if kind in ("ipv4", "ipv6"):
                    obj["event"]["src"]["ip"] = text
                    self.record(f, ln, "event.src.ip", hits)
                else:
                    obj["event"]["indicator"] = {"value": text}
                    self.record(f, ln, "event.indicator.value", hits)
            elif mode == 1:
                obj["tags"] = ["x", "seen %s" % text]
                self.record(f, ln, "tags", hits)
            else:
                obj["message"] = "%s was observed" % text
                self.record(f, ln, "message", hits)
            if i % 4 == 3:
                obj["near"] = [self.miss_plant(self.kind_cycle(i + 1)), {"deep": self.miss_plant("ipv4")}]
            line = json.dumps(obj, separators=(",", ":"))
            if i % 5 == 0:
                line = line.replace("/", "\\/")  # JSON escapes some encoders write
            out.append(line)
        return out

    def syslog5424(self, f):
        out = []
        for i in range(self.lines):
            ln = len(out) + 1
            host = "fw%02d.example" % (i % 7)
            sd = '[origin ip="%s" software="fw"]' % self.benign_ipv4()
            msg = "session closed for %s" % self.benign_domain()
            kind = self.kind_cycle(i)
            text, hits = self.text_plant(kind)
            mode = i % 4
            if mode == 0 and kind == "ipv4":
                host = text
                self.record(f, ln, "host", hits)
            elif mode in (0, 1) and kind in ("ipv4", "ipv6", "domain"):
                sd = '[origin ip="%s" note="q\\"x\\""]' % text
                self.record(f, ln, "sd.origin.ip", hits)
            elif mode == 2:
                msg = "%s %s" % (text, msg)  # at the start of MSG
                self.record(f, ln, "msg", hits)
            else:
                msg = "%s: %s" % (msg, text)  # at the end of the line
                self.record(f, ln, "msg", hits)
            if i % 3 == 1:
                msg += " near %s" % self.miss_plant(self.kind_cycle(i + 2))
            out.append("<134>1 2024-05-01T00:%02d:00.000Z %s filterlog %d - %s %s" %
                       (i % 60, host, 1000 + i, sd, msg))
        return out

    def syslog3164(self, f):
        out = []
        for i in range(self.lines):
            ln = len(out) + 1
            kind = self.kind_cycle(i + 1)
            text, hits = self.text_plant(kind)
            pri = "<38>" if i % 2 else ""
            if i % 3 == 0:
                msg = "Accepted publickey for root from %s port 22 ssh2" % text
            elif i % 3 == 1:
                msg = "%s" % text
            else:
                msg = "query (%s) denied" % text
            if i % 4 == 0:
                msg += " near %s" % self.miss_plant(self.kind_cycle(i))
            self.record(f, ln, "msg", hits)
            out.append("%sMay %2d 12:%02d:%02d gw%d sshd[%d]: %s" % (pri, 1 + i % 28, i % 60, i % 60,
                                                                   i % 3, 400 + i, msg))
        return out

    def text(self, f):
        out = []
        for i in range(self.lines):
            ln = len(out) + 1
            kind = self.kind_cycle(i)
            text, hits = self.text_plant(kind)
            wrap = self.r.choice(["%s", "(%s)", "<%s>", "'%s'", "\"%s\"", "%s.", "[%s],"])
            body = wrap % text
            if kind == "domain" and wrap == "%s." and self.r.random() < 0.5:
                body = text + ". Next"  # a trailing dot ends a sentence
            pos = i % 3
            if pos == 0:
                line = body + " was seen in the incident report"
            elif pos == 1:
                line = "the analyst flagged " + body
            else:
                line = "see " + body + " and also " + self.miss_plant(self.kind_cycle(i + 3))
            if i == 5:  # an indicator that is a public suffix matches itself only
                line += " hosted on %s" % PUBLIC_SUFFIX_INDICATORS[0]
                ps = PUBLIC_SUFFIX_INDICATORS[0]
                self.expect(f, ln, "text", "domain", ps, self.domains[ps])
            self.record(f, ln, "text", hits)
            out.append(line)
        return out

    # --- output -------------------------------------------------------------
    def write(self, out):
        os.makedirs(os.path.join(out, "logs"), exist_ok=True)
        files = [
            ("zeek_conn.log", "zeek", self.zeek_conn),
            ("zeek_dns.log", "zeek", self.zeek_dns),
            ("zeek_http.log", "zeek", self.zeek_http),
            ("zeek_files.json", "zeek-json", self.zeek_files_json),
            ("access.log", "clf", self.clf),
            ("events.jsonl", "jsonl", self.jsonl),
            ("syslog5424.log", "syslog", self.syslog5424),
            ("syslog3164.log", "syslog", self.syslog3164),
            ("notes.txt", "text", self.text),
        ]
        formats = []
        for name, fmt, fn in files:
            lines = fn(name)
            with open(os.path.join(out, "logs", name), "w", newline="\n") as fh:
                fh.write("\n".join(lines) + "\n")
            formats.append((name, fmt))
        gz = "access2.log.gz"
        lines = self.clf(gz, self.lines // 2)
        with open(os.path.join(out, "logs", gz), "wb") as fh:
            fh.write(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
        formats.append((gz, "clf"))
        with open(os.path.join(out, "indicators.tsv"), "w", newline="\n") as fh:
            for kind, value, ref in self.ind:
                fh.write("%s\t%s\t%d\n" % (kind, value, ref))
        with open(os.path.join(out, "formats.tsv"), "w", newline="\n") as fh:
            for name, fmt in formats:
                fh.write("%s\t%s\n" % (name, fmt))
        for fname, sub in (("expected.tsv", False), ("expected_sub.tsv", True)):
            rows = set()
            for f, line, field, kind, norm, refs, mode in self.exp:
                if mode == ("plain" if sub else "sub"):
                    continue
                rows.add("%s\t%d\t%s\t%s\t%s\t%s" % (f, line, field, kind, norm,
                                                     ",".join(str(x) for x in refs)))
            with open(os.path.join(out, fname), "w", newline="\n") as fh:
                for row in sorted(rows):
                    fh.write(row + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--lines", type=int, default=40, help="lines per log file")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    Gen(a.seed, a.lines).write(a.out)


if __name__ == "__main__":
    main()
