#!/usr/bin/env python3
"""Generate a STIX 2.1 bundle of N indicators for kizuna's benchmarks.

The mix imitates what CERTs exchange: indicators for IPv4/IPv6 addresses and
CIDRs, domains, URLs, e-mail addresses and file hashes, a few malware and
threat-actor SDOs, relationships from indicators to them, and TLP 2.0 (and some
TLP 1.0) markings. Output is deterministic for a given --seed.
"""
import argparse
import json
import random
import sys
import uuid

TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
WORDS = ["alpha", "bravo", "cobalt", "delta", "ember", "falcon", "granite",
         "harbor", "indigo", "jasper", "kestrel", "lumen", "meridian", "nova"]
TLDS = ["com", "net", "org", "in", "jp", "co.jp", "co.in", "info", "io"]


def uid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ts(rng, year=2025):
    return "%d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        year, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
        rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999))


def domain(rng):
    return "%s-%s%d.%s" % (rng.choice(WORDS), rng.choice(WORDS),
                           rng.randint(0, 99999), rng.choice(TLDS))


def pattern(rng, i):
    k = i % 10
    if k in (0, 1):
        return "[ipv4-addr:value = '%d.%d.%d.%d']" % (
            rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255),
            rng.randint(1, 254)), "ipv4"
    if k == 2:
        return "[ipv4-addr:value ISSUBSET '%d.%d.%d.0/24']" % (
            rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255)), "cidr"
    if k == 3:
        return "[ipv6-addr:value = '2001:db8:%x:%x::%x']" % (
            rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16)), "ipv6"
    if k in (4, 5):
        return "[domain-name:value = '%s']" % domain(rng), "domain"
    if k == 6:
        return "[url:value = 'http://%s/%s/%d.php?id=%d']" % (
            domain(rng), rng.choice(WORDS), rng.randint(0, 999),
            rng.randint(0, 99999)), "url"
    if k == 7:
        return "[email-addr:value = '%s@%s']" % (rng.choice(WORDS), domain(rng)), "email"
    if k == 8:
        return "[file:hashes.'SHA-256' = '%064x']" % rng.getrandbits(256), "sha256"
    return ("[file:hashes.MD5 = '%032x' OR file:hashes.'SHA-1' = '%040x']"
            % (rng.getrandbits(128), rng.getrandbits(160))), "hash"


def marking(rng, i):
    r = i % 20
    if r < 6:
        return [TLP2["clear"]]
    if r < 11:
        return [TLP2["green"]]
    if r < 15:
        return [TLP2["amber"]]
    if r < 17:
        return [TLP2["amber+strict"]]
    if r == 17:
        return [TLP2["red"]]
    if r == 18:
        return [TLP1_GREEN]
    return None  # unmarked: the node's default applies


def generate(n, seed):
    rng = random.Random(seed)
    identity = "identity--" + uid(rng)
    objs = [{
        "type": "identity", "spec_version": "2.1", "id": identity,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": "CERT Example", "identity_class": "organization",
    }]
    targets = []
    for j in range(max(1, n // 1000)):
        t = "malware" if j % 2 == 0 else "threat-actor"
        o = {"type": t, "spec_version": "2.1", "id": t + "--" + uid(rng),
             "created_by_ref": identity, "created": ts(rng, 2024),
             "modified": ts(rng, 2025), "name": "%s %s %d" % (
                 rng.choice(WORDS).title(), rng.choice(WORDS).title(), j)}
        if t == "malware":
            o["is_family"] = True
            o["malware_types"] = ["remote-access-trojan"]
        else:
            o["threat_actor_types"] = ["nation-state"]
        objs.append(o)
        targets.append(o["id"])
    for i in range(n):
        pat, kind = pattern(rng, i)
        created = ts(rng, 2024)
        o = {"type": "indicator", "spec_version": "2.1", "id": "indicator--" + uid(rng),
             "created_by_ref": identity, "created": created, "modified": ts(rng, 2025),
             "name": "%s indicator %d" % (kind, i),
             "description": "Observed in campaign %s-%d against %s sector." % (
                 rng.choice(WORDS), rng.randint(1, 99), rng.choice(["energy", "finance", "telecom"])),
             "indicator_types": ["malicious-activity"],
             "pattern": pat, "pattern_type": "stix", "valid_from": created,
             "labels": ["kizuna-bench"], "confidence": rng.randint(10, 100)}
        m = marking(rng, i)
        if m:
            o["object_marking_refs"] = m
        objs.append(o)
        if i % 4 == 0:
            r = {"type": "relationship", "spec_version": "2.1",
                 "id": "relationship--" + uid(rng), "created_by_ref": identity,
                 "created": created, "modified": created,
                 "relationship_type": "indicates", "source_ref": o["id"],
                 "target_ref": rng.choice(targets)}
            if m:
                r["object_marking_refs"] = m
            objs.append(r)
    return {"type": "bundle", "id": "bundle--" + uid(rng), "objects": objs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100000, help="number of indicators")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--compact", action="store_true", help="no indentation")
    ap.add_argument("-o", "--out", default="-")
    a = ap.parse_args()
    b = generate(a.n, a.seed)
    out = sys.stdout if a.out == "-" else open(a.out, "w")
    json.dump(b, out, indent=None if a.compact else 1)
    out.write("\n")


if __name__ == "__main__":
    main()
