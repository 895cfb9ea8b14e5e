#!/usr/bin/env python3
"""Generate the `kizuna match` benchmark: indicators and mixed logs.

Writes into --out:
  indicators.tsv   kind<TAB>value<TAB>ref, --indicators of them (default
                   1,000,000): ipv4 35%, cidr4 8%, cidr6 2%, ipv6 5%,
                   domain 25%, url 10%, email 5%, md5 4%, sha1 3%, sha256 3%
                   (CIDR blocks 10%)
  values.txt       the same values one per line, for grep -F -f / rg -F -f
  logs/*           about --size bytes (100M, 1G, ...) of Zeek conn/dns/http
                   TSV, Apache combined, RFC 3164 syslog and JSON lines, in
                   proportion; about 0.2% of lines carry an indicator value
                   written literally (so grep sees it too), and addresses
                   drawn from pools that the CIDR blocks do not cover.
Python 3 standard library only; the output depends on --seed alone.
"""

import argparse
import bisect
import ipaddress
import os
import random
import sys

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu amber basil cedar dune ember fjord grove heath iris jade kelp lotus maple "
         "nectar olive pine quartz reed sage thyme umber vale willow yarrow zephyr").split()
TLDS = ["com", "net", "org", "io", "info", "ru", "cn", "de", "jp", "co.jp", "co.uk", "xyz",
        "top", "biz", "in", "br", "fr", "nl", "com.au", "online"]


def parse_size(s):
    s = s.strip().upper()
    mult = 1
    if s[-1] in "KMG":
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[s[-1]]
        s = s[:-1]
    return int(float(s) * mult)


class Bench:
    def __init__(self, seed, n):
        self.r = random.Random(seed)
        self.n = n
        self.values = {}  # kind -> list of values

    def word(self):
        r = self.r
        return r.choice(WORDS) + r.choice(WORDS)[: r.randrange(2, 6)] + str(r.randrange(1000))

    def global_ipv4(self):
        r = self.r
        while True:
            a = r.getrandbits(32)
            first = a >> 24
            if first in (0, 10, 100, 127, 169, 172, 192, 198, 203) or first >= 224:
                continue
            return a

    def make_indicators(self, out):
        r = self.r
        n = self.n
        counts = [("ipv4", 0.35), ("cidr4", 0.08), ("cidr6", 0.02), ("ipv6", 0.05),
                  ("domain", 0.25), ("url", 0.10), ("email", 0.05), ("md5", 0.04),
                  ("sha1", 0.03), ("sha256", 0.03)]
        ref = 0
        self.cidr_ranges = []
        with open(os.path.join(out, "indicators.tsv"), "w") as ind, \
                open(os.path.join(out, "values.txt"), "w") as vals:
            for kind, frac in counts:
                k = int(n * frac)
                lst = []
                for _ in range(k):
                    if kind == "ipv4":
                        v = str(ipaddress.IPv4Address(self.global_ipv4()))
                    elif kind == "cidr4":
                        plen = r.choice([24] * 10 + [23, 22, 21, 20, 25, 26, 27, 28, 29, 30, 19, 18])
                        a = self.global_ipv4() & (0xffffffff << (32 - plen)) & 0xffffffff
                        self.cidr_ranges.append((a, a + (1 << (32 - plen)) - 1))
                        v = "%s/%d" % (ipaddress.IPv4Address(a), plen)
                    elif kind == "ipv6":
                        v = str(ipaddress.IPv6Address((0x2a00 << 112) | r.getrandbits(112)))
                    elif kind == "cidr6":
                        plen = r.choice([32, 40, 48, 48, 48, 56, 64, 64])
                        a = ((0x2a00 << 112) | r.getrandbits(112)) >> (128 - plen) << (128 - plen)
                        v = "%s/%d" % (ipaddress.IPv6Address(a), plen)
                    elif kind == "domain":
                        sub = self.word() + "." if r.random() < 0.3 else ""
                        v = sub + self.word() + "." + r.choice(TLDS)
                    elif kind == "url":
                        v = "http%s://%s.%s/%s/%s" % (r.choice(["", "s"]), self.word(),
                                                      r.choice(TLDS), self.word(),
                                                      r.choice(["login.php", "gate.php",
                                                                "index.html", "dl", "a.exe"]))
                        if r.random() < 0.3:
                            v += "?id=%d" % r.randrange(100000)
                    elif kind == "email":
                        v = "%s@%s.%s" % (self.word(), self.word(), r.choice(TLDS))
                    else:
                        v = "%0*x" % ({"md5": 32, "sha1": 40, "sha256": 64}[kind],
                                      r.getrandbits({"md5": 128, "sha1": 160, "sha256": 256}[kind]))
                    ref += 1
                    ind.write("%s\t%s\t%d\n" % (kind, v, ref))
                    vals.write(v + "\n")
                    lst.append(v)
                self.values[kind] = lst
        self.cidr_ranges.sort()
        merged = []
        for s, e in self.cidr_ranges:
            if merged and s <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.merged = merged
        self.merged_starts = [s for s, _ in merged]
        return ref

    def covered(self, a):
        i = bisect.bisect_right(self.merged_starts, a) - 1
        return i >= 0 and self.merged[i][0] <= a <= self.merged[i][1]

    def pools(self):
        r = self.r
        ip = set()
        while len(ip) < 50000:
            a = self.global_ipv4()
            if not self.covered(a):
                ip.add(str(ipaddress.IPv4Address(a)))
        self.ext_ips = sorted(ip)
        self.int_ips = ["10.%d.%d.%d" % (r.randrange(256), r.randrange(256), r.randrange(1, 255))
                        for _ in range(5000)] + ["192.168.%d.%d" % (r.randrange(256), r.randrange(1, 255))
                                                 for _ in range(2000)]
        # benign names under real TLDs (so a TLD filter cannot skip them),
        # none an indicator or a child of one
        inds = set(self.values["domain"])
        self.benign_domains = []
        while len(self.benign_domains) < 20000:
            base = self.word() + "." + r.choice(TLDS)
            name = r.choice(["www", "cdn", "api", "static", "mail"]) + "." + base
            if base not in inds and name not in inds:
                self.benign_domains.append(name)
        self.uas = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/%d.0.%d.%d Safari/537.36" % (r.randrange(90, 125), r.randrange(4000, 6000),
                                                         r.randrange(200)) for _ in range(200)]
        self.paths = ["/%s/%s.%s" % (r.choice(WORDS), r.choice(WORDS), r.choice(["js", "css", "png", "html", "php"]))
                      for _ in range(5000)]

    def plant(self):
        """An indicator value written literally, and a kind-appropriate one."""
        r = self.r
        kind = r.choice(["ipv4", "ipv4", "domain", "domain", "url", "email", "md5", "sha1", "sha256",
                         "ipv6", "cidr4"])
        if kind == "cidr4":
            s, e = r.choice(self.cidr_ranges)
            return "ipv4", str(ipaddress.IPv4Address(r.randint(s, e)))
        return kind, r.choice(self.values[kind])

    # --- the formats: each returns one line ------------------------------
    def conn(self, i, hit):
        r = self.r
        orig = r.choice(self.int_ips)
        resp = r.choice(self.ext_ips)
        if hit:
            kind, v = self.plant()
            if kind in ("ipv4", "ipv6"):
                resp = v
        return "%d.%06d\tC%012x\t%s\t%d\t%s\t%d\ttcp\t%s\t%.6f\t%d\t%d\tSF\tT\tF\t0\tShADadFf\t%d\t%d\t%d\t%d\t-" % (
            1714521600 + i, i, r.getrandbits(48), orig, r.randrange(1024, 65535), resp,
            r.choice([80, 443, 53, 22, 8080]), r.choice(["http", "ssl", "dns", "-"]), r.random(),
            r.randrange(100000), r.randrange(100000), r.randrange(100), r.randrange(10000),
            r.randrange(100), r.randrange(10000))

    def dns(self, i, hit):
        r = self.r
        q = r.choice(self.benign_domains)
        ans = r.choice(self.ext_ips)
        if hit:
            kind, v = self.plant()
            if kind == "domain":
                q = v
            elif kind == "ipv4":
                ans = v
        return "%d.%06d\tC%012x\t%s\t%d\t%s\t53\tudp\t%d\t%s\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t%s\t300.000000\tF" % (
            1714521600 + i, i, r.getrandbits(48), r.choice(self.int_ips), r.randrange(1024, 65535),
            r.choice(self.int_ips), r.randrange(65536), q, ans)

    def http(self, i, hit):
        r = self.r
        host = r.choice(self.benign_domains)
        uri = r.choice(self.paths)
        ref = "-"
        if hit:
            kind, v = self.plant()
            if kind == "url":
                ref = v
            elif kind == "domain":
                host = v
            else:
                uri += "?q=" + v
        return "%d.%06d\tC%012x\t%s\t%d\t%s\t80\t1\tGET\t%s\t%s\t%s\t1.1\t%s\t0\t%d\t200\tOK\t-\t-\t(empty)\t-\t-\t-\t-\t-\ttext/html" % (
            1714521600 + i, i, r.getrandbits(48), r.choice(self.int_ips), r.randrange(1024, 65535),
            r.choice(self.ext_ips), host, uri, ref, r.choice(self.uas), r.randrange(100000))

    def clf(self, i, hit):
        r = self.r
        client = r.choice(self.ext_ips)
        req = "GET %s HTTP/1.1" % r.choice(self.paths)
        ref = "https://%s/" % r.choice(self.benign_domains)
        ua = r.choice(self.uas)
        if hit:
            kind, v = self.plant()
            if kind == "ipv4":
                client = v
            elif kind == "url":
                ref = v
            else:
                req = "GET /search?q=%s HTTP/1.1" % v
        return '%s - - [%02d/May/2024:%02d:%02d:%02d +0000] "%s" %d %d "%s" "%s"' % (
            client, 1 + i % 28, i % 24, i % 60, (i * 7) % 60, req, r.choice([200, 200, 304, 404]),
            r.randrange(100, 90000), ref, ua)

    def syslog(self, i, hit):
        r = self.r
        msg = r.choice([
            "Accepted publickey for deploy from %s port %d ssh2" % (r.choice(self.ext_ips), r.randrange(1024, 65535)),
            "Connection closed by %s port %d [preauth]" % (r.choice(self.ext_ips), r.randrange(1024, 65535)),
            "pam_unix(cron:session): session opened for user root by (uid=0)",
            "DHCPACK on %s to 00:16:3e:%02x:%02x:%02x via eth0" % (r.choice(self.int_ips), r.randrange(256), r.randrange(256), r.randrange(256)),
            "query[A] %s from %s" % (r.choice(self.benign_domains), r.choice(self.int_ips)),
        ])
        if hit:
            kind, v = self.plant()
            msg = "alert: indicator %s seen by sensor" % v
        return "May %2d %02d:%02d:%02d host%d %s[%d]: %s" % (1 + i % 28, i % 24, i % 60, (i * 3) % 60,
                                                          r.randrange(50), r.choice(["sshd", "dnsmasq", "CRON", "kernel"]),
                                                          r.randrange(100, 30000), msg)

    def jsonl(self, i, hit):
        r = self.r
        dom = r.choice(self.benign_domains)
        src = r.choice(self.int_ips)
        dst = r.choice(self.ext_ips)
        extra = ""
        if hit:
            kind, v = self.plant()
            extra = ',"indicator":{"value":"%s"}' % v
        return ('{"@timestamp":"2024-05-01T%02d:%02d:%02d.%03dZ","event":{"kind":"event","category":"network",'
                '"action":"connection"},"source":{"ip":"%s","port":%d},"destination":{"ip":"%s","port":%d,'
                '"domain":"%s"},"network":{"transport":"tcp","bytes":%d},"user_agent":{"original":"%s"}%s}') % (
            i % 24, i % 60, (i * 7) % 60, i % 1000, src, r.randrange(1024, 65535), dst,
            r.choice([80, 443]), dom, r.randrange(100000), r.choice(self.uas), extra)

    ZEEK = {
        "conn": ("conn", "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
                 "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes "
                 "resp_pkts resp_ip_bytes tunnel_parents",
                 "time string addr port addr port enum string interval count count string bool bool count "
                 "string count count count count set[string]"),
        "dns": ("dns", "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id query qclass qclass_name "
                "qtype qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected",
                "time string addr port addr port enum count string count string count string count string "
                "bool bool bool bool count vector[string] vector[interval] bool"),
        "http": ("http", "ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri referrer "
                 "version user_agent request_body_len response_body_len status_code status_msg info_code "
                 "info_msg tags username password proxied orig_fuids resp_fuids resp_mime_types",
                 "time string addr port addr port count string string string string string string count count "
                 "count string count string set[enum] string string set[string] vector[string] vector[string] "
                 "vector[string]"),
    }

    def write_logs(self, out, size):
        parts = [("zeek_conn.log", self.conn, 0.25, "conn"), ("zeek_dns.log", self.dns, 0.15, "dns"),
                 ("zeek_http.log", self.http, 0.15, "http"), ("access.log", self.clf, 0.20, None),
                 ("syslog.log", self.syslog, 0.10, None), ("events.jsonl", self.jsonl, 0.15, None)]
        os.makedirs(os.path.join(out, "logs"), exist_ok=True)
        for name, fn, frac, zeek in parts:
            target = int(size * frac)
            written = 0
            i = 0
            with open(os.path.join(out, "logs", name), "w") as fh:
                if zeek:
                    path, fields, types = self.ZEEK[zeek]
                    head = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
                            "#path\t%s\n#open\t2024-05-01-00-00-00\n#fields\t%s\n#types\t%s\n") % (
                        path, "\t".join(fields.split()), "\t".join(types.split()))
                    fh.write(head)
                    written += len(head)
                buf = []
                while written < target:
                    line = fn(i, self.r.random() < 0.002) + "\n"
                    buf.append(line)
                    written += len(line)
                    i += 1
                    if len(buf) >= 4096:
                        fh.write("".join(buf))
                        buf = []
                fh.write("".join(buf))
            sys.stderr.write("gen: %s %d lines\n" % (name, i))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--indicators", type=int, default=1000000)
    ap.add_argument("--size", default="100M", help="log bytes, e.g. 100M or 1G")
    ap.add_argument("--seed", type=int, default=2024)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    b = Bench(a.seed, a.indicators)
    b.make_indicators(a.out)
    b.pools()
    b.write_logs(a.out, parse_size(a.size))


if __name__ == "__main__":
    main()
