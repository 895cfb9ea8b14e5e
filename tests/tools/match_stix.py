#!/usr/bin/env python3
"""STIX indicators for the match tests and benchmark: pattern() turns a line
of an indicators.tsv (kind, value, ...) as tests/tools/gen_match_logs.py and
bench/gen_match_bench.py write them into a STIX pattern; run as a program,
it writes every line of such a file as a TLP:CLEAR indicator in one bundle.

    match_stix.py INDICATORS.tsv OUT.json
"""
import json
import sys
import uuid

HASH_KEYS = {"md5": "MD5", "sha1": "'SHA-1'", "sha256": "'SHA-256'", "sha512": "'SHA-512'"}
TLP_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"


def pattern(kind, value):
    v = value.replace("\\", "\\\\").replace("'", "\\'")
    if kind in ("ipv4", "ipv6"):
        return "[%s-addr:value = '%s']" % (kind, v)
    if kind in ("cidr4", "cidr6"):
        return "[ipv%s-addr:value ISSUBSET '%s']" % (kind[-1], v)
    if kind == "domain":
        return "[domain-name:value = '%s']" % v
    if kind == "url":
        return "[url:value = '%s']" % v
    if kind == "email":
        return "[email-addr:value = '%s']" % v
    return "[file:hashes.%s = '%s']" % (HASH_KEYS[kind], v)


def write_bundle(tsv, out):
    out.write('{"type":"bundle","id":"bundle--%s","objects":[' % uuid.uuid4())
    first = True
    for line in tsv:
        if not line.strip() or line.startswith("#"):
            continue
        kind, value = line.rstrip("\n").split("\t")[:2]
        o = {"type": "indicator", "spec_version": "2.1", "id": "indicator--%s" % uuid.uuid4(),
             "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
             "pattern": pattern(kind, value), "pattern_type": "stix",
             "valid_from": "2025-01-01T00:00:00Z", "object_marking_refs": [TLP_CLEAR]}
        out.write(("" if first else ",") + json.dumps(o, separators=(",", ":")))
        first = False
    out.write("]}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    with open(sys.argv[1]) as tsv, open(sys.argv[2], "w") as out:
        write_bundle(tsv, out)
