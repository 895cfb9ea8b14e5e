#!/usr/bin/env python3
"""The obvious script a user would write instead of `kizuna export --format
zeek-intel`: read the STIX bundle (`kizuna export` on stdin), pull the
values out of each indicator's pattern with a regular expression, and write
a Zeek Intelligence Framework file to stdout. For bench/bench_export.sh.

It does less than kizuna: no validity window or revocation check, no
normalisation (IDNA, RFC 5952, lowercase hashes), no check that a value
proves its pattern alone, no merging of repeated values, no escaping.
"""
import json
import re
import sys

COND = re.compile(r"([a-z0-9-]+):([A-Za-z0-9_.'-]+)\s*(=|ISSUBSET)\s*'((?:[^'\\]|\\.)*)'")
TYPES = {"ipv4-addr": "Intel::ADDR", "ipv6-addr": "Intel::ADDR", "domain-name": "Intel::DOMAIN",
         "url": "Intel::URL", "email-addr": "Intel::EMAIL", "file": "Intel::FILE_HASH"}


def main():
    bundle = json.loads(sys.stdin.read())
    out = ["#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"]
    for o in bundle.get("objects", []):
        if o.get("type") != "indicator" or o.get("pattern_type") != "stix":
            continue
        desc = re.sub(r"[\t\r\n]", " ", o.get("name", "")) + " " + o["id"]
        for typ, prop, op, value in COND.findall(o["pattern"]):
            kind = TYPES.get(typ)
            if not kind or (typ == "file" and not prop.startswith("hashes.")):
                continue
            if op == "ISSUBSET" or (kind == "Intel::ADDR" and "/" in value):
                kind = "Intel::SUBNET"
            if kind == "Intel::URL":
                value = re.sub(r"^https?://", "", value)
            out.append("%s\t%s\tbundle\t%s" % (value, kind, desc))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
