#!/usr/bin/env python3
"""Load generators for bench_taxii.sh (standard library only).

  taxii_load.py walk URL TOKEN [LIMIT]      read a collection page by page with next
  taxii_load.py post URL TOKEN FILE...      POST envelopes (one per file), concurrently
  taxii_load.py envelopes N SIZE SEED DIR   write N envelopes of SIZE new indicators
  taxii_load.py ts MICROS                   a TAXII timestamp
"""
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_bundle  # noqa: E402

ACCEPT = "application/taxii+json;version=2.1"


def conn_for(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120), u.path


def walk(url, token, limit=1000):
    c, path = conn_for(url)
    hdr = {"Authorization": "Bearer " + token, "Accept": ACCEPT}
    n, nxt, t0 = 0, None, time.perf_counter()
    while True:
        q = "?limit=%d" % limit + ("&next=" + nxt if nxt else "")
        c.request("GET", path + q, headers=hdr)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit("walk: HTTP %d %s" % (r.status, body[:200]))
        # count objects without building them: each starts with {"type":
        n += body.count(b'{"type":')
        m = re.search(rb'"next":"([^"]+)"', body[-200:])
        if not m:
            break
        nxt = m.group(1).decode()
    dt = time.perf_counter() - t0
    print(json.dumps({"objects": n, "seconds": round(dt, 3), "objects_per_s": round(n / dt)}))


def post(url, token, files):
    hdr = {"Authorization": "Bearer " + token, "Accept": ACCEPT, "Content-Type": ACCEPT}
    bodies = [open(f, "rb").read() for f in files]
    counts, errors = [0], []
    lock = threading.Lock()

    def worker(items):
        c, path = conn_for(url)
        for b in items:
            c.request("POST", path, body=b, headers=hdr)
            r = c.getresponse()
            st = json.loads(r.read())
            with lock:
                if r.status != 202:
                    errors.append(st)
                counts[0] += st.get("success_count", 0)

    nthreads = 4
    chunks = [bodies[i::nthreads] for i in range(nthreads)]
    threads = [threading.Thread(target=worker, args=(ch,)) for ch in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    if errors:
        sys.exit("post: %d errors, first %r" % (len(errors), errors[0]))
    print(json.dumps({"objects": counts[0], "seconds": round(dt, 3),
                      "objects_per_s": round(counts[0] / dt)}))


def envelopes(n, size, seed, out):
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        b = gen_bundle.generate(size, seed * 100000 + i)
        objs = [o for o in b["objects"] if o["type"] == "indicator"][:size]
        with open(os.path.join(out, "env%05d.json" % i), "w") as f:
            json.dump({"objects": objs}, f, separators=(",", ":"))


def ts(micros):
    t = int(micros)
    s, us = divmod(t, 1000000)
    print(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%06dZ" % us)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "walk":
        walk(a[1], a[2], int(a[3]) if len(a) > 3 else 1000)
    elif a[0] == "post":
        post(a[1], a[2], a[3:])
    elif a[0] == "envelopes":
        envelopes(int(a[1]), int(a[2]), int(a[3]), a[4])
    elif a[0] == "ts":
        ts(a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
