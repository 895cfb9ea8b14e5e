#!/bin/sh
# `kizuna export --format`: files for Zeek and Suricata, CSV and lists,
# from $KZ_TEST_DATA/export/*.json (every kind of value, an AND pattern, an
# address with a port, revoked, expired, not-yet-valid and TLP:RED
# indicators, names with tabs, quotes, newlines and Japanese, an IDN). Each
# file must equal the one under export/expected/ byte for byte, and is also
# checked on its own terms. Neither Zeek nor
# Suricata installs on the test machines, so each file is checked by a
# parser written here against the documented format (docs/EXPORTS.md):
# Zeek's intel input (#fields header, tab-separated, no quoting, \xNN
# escapes, Intel::* types), Suricata datasets (base64 strings, hex hashes,
# textual IPs), rules (header, balanced options, unique sids, the files
# they load present), and CSV read back by Python's csv module. The domain
# rules' subdomain matching is replayed (dotprefix, pcrexform, dataset).
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "skipped: no python3"; exit 0; }
D="$KZ_TEST_DATA/export"
new_node
H="$SCRATCH/home"
K() { "$KIZUNA" --home "$H" "$@"; }

for f in "$D"/*.json; do
    run 0 K import --collection intel "$f"
done
grep -qF "25 added, 0 duplicate, 0 rejected" "$SCRATCH/out" "$SCRATCH/err" || fail "import"
# greenie reads through a community grant: TLP:CLEAR and TLP:GREEN only,
# and is the named recipient of the TLP:RED indicator (still never exported)
K org add partner >/dev/null || fail "org add"
K user add greenie --org partner >/dev/null || fail "user add"
K community add c1 >/dev/null || fail "community add"
K community join c1 partner >/dev/null || fail "community join"
K grant intel --community c1 --read >/dev/null || fail "grant"

# --- usage
run 2 K export --collection intel --format zeek
expect_err "--format is stix, zeek-intel"
run 2 K export --collection intel --format suricata-dataset
expect_err "give --type ip, domain, md5, sha1 or sha256"
run 2 K export --collection intel --format suricata-dataset --type url
expect_err "no buffer holding a whole URL"
run 2 K export --collection intel --format suricata-dataset --type hash
run 2 K export --collection intel --type ip
expect_err "go with --format"
run 2 K export --collection intel --format zeek-intel --all-versions
run 2 K export --collection intel --format txt --type ipv4
run 2 K export --collection intel --format suricata-rules --sid-base 0
run 2 K export --collection intel --format zeek-intel --psl "$SCRATCH/no-such-psl"
run 0 K export --help
expect_out "suricata-dataset"

# --- the stix default is as before: a bundle, TLP:RED left out
run 0 K export --collection intel --out bundle.json
python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); assert b["type"]=="bundle" and len(b["objects"])==24, len(b["objects"])' bundle.json ||
    fail "default export"

# --- the export set, as docs/EXPORTS.md writes it
PSL="$D/psl.dat"
mkdir set
run 0 K export --collection intel --format zeek-intel --psl "$PSL" --out set/kizuna.intel
expect_err "kizuna export: zeek-intel: 26 lines from 20 of 21 active indicators, 5 values partial; left out: 1 invalid, 2 unsupported"
expect_err "warning: 3 values could not be written as zeek-intel"
run 0 K export --collection intel --format suricata-rules --psl "$PSL" --out set/kizuna.rules
expect_err "the rules load, from their own folder: kizuna-ip.lst"
for t in ip domain md5 sha1 sha256; do
    f=$t
    [ "$t" = domain ] && f=domains
    run 0 K export --collection intel --format suricata-dataset --type $t --psl "$PSL" --out "set/kizuna-$f.lst"
done
run 0 K export --collection intel --format suricata-dataset --type ip --psl "$PSL" --out /dev/null
expect_err "CIDR blocks are not dataset values"
run 0 K export --collection intel --format csv --psl "$PSL" --out set/kizuna.csv
run 0 K export --collection intel --format txt --psl "$PSL" --out set/all.txt
run 0 K export --collection intel --format txt --type domain --psl "$PSL" --out set/domains.txt
run 0 K export --collection intel --format zeek-intel --as greenie --psl "$PSL" --out green.intel
run 0 K export --collection intel --format zeek-intel --psl "$PSL" --out again.intel
cmp -s set/kizuna.intel again.intel || fail "two exports of the same store differ"
run 0 K audit
expect_out "zeek-intel:set/kizuna.intel"

# nothing hidden leaves, in any file
for s in red-secret 192.0.2.66 revoked.example expired.example future.example \
    '000000000016' 'has space'; do
    if grep -rqF -- "$s" set green.intel; then fail "an export holds $s"; fi
done

python3 - "$SCRATCH/set" "$SCRATCH/green.intel" "$D/bundle.json" <<'PY' || fail "format checks"
import base64, binascii, csv, ipaddress, json, os, re, sys

setdir, green, bundle = sys.argv[1:4]
problems = []
def bad(msg):
    problems.append(msg)

LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
def domain_ok(d):
    if not d or len(d) > 253 or not d.isascii():
        return False
    labels = d.split(".")
    return len(labels) >= 2 and all(LABEL.match(l) for l in labels) and not labels[-1].isdigit()

HEX = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}

# --- Zeek intel: Input Framework ASCII reader conventions
def zeek_unescape(s):
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s)

TYPES = {"Intel::ADDR", "Intel::SUBNET", "Intel::DOMAIN", "Intel::URL", "Intel::EMAIL",
         "Intel::FILE_HASH"}
def check_zeek(path):
    raw = open(path, "rb").read()
    text = raw.decode("utf-8")
    lines = text.split("\n")
    if lines[0] != "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url":
        bad("zeek: header %r" % lines[0])
    if lines[-1] != "":
        bad("zeek: no final newline")
    seen, items = set(), {}
    for n, line in enumerate(lines[1:-1], 2):
        f = line.split("\t")
        if len(f) != 5:
            bad("zeek line %d: %d fields" % (n, len(f)))
            continue
        if line.startswith("#"):
            bad("zeek line %d reads as a comment" % n)
        if any(c in line for c in "\r\x00\x0b\x0c"):
            bad("zeek line %d: control character" % n)
        for v in f:
            if v in ("-", "") or (len(v) > 1 and v[0] == '"' and v[-1] == '"'):
                bad("zeek line %d: unset, empty or quoted field %r" % (n, v))
        ind, typ, src, desc, url = (zeek_unescape(x) for x in f)
        if not re.fullmatch(r"indicator--[0-9a-f-]{36}", url) or "[TLP:" not in desc \
                or url not in desc:
            bad("zeek line %d: meta.url %r is not one of the indicators in %r" % (n, url, desc))
        if typ not in TYPES:
            bad("zeek line %d: type %s" % (n, typ))
        if src != "kizuna:kizuna":
            bad("zeek line %d: source %s" % (n, src))
        if (ind.lower(), typ) in seen:
            bad("zeek line %d: %s %s twice" % (n, ind, typ))
        seen.add((ind.lower(), typ))
        items[(ind, typ)] = desc
        try:
            if typ == "Intel::ADDR":
                ipaddress.ip_address(ind)
            elif typ == "Intel::SUBNET":
                ipaddress.ip_network(ind, strict=True)
                assert "/" in ind
            elif typ == "Intel::DOMAIN":
                assert domain_ok(ind), ind
            elif typ == "Intel::URL":
                assert "://" not in ind and "/" in ind
                host = re.split(r"[:/?]", ind, 1)[0]
                assert domain_ok(host) or ipaddress.ip_address(host.strip("[]")), host
            elif typ == "Intel::EMAIL":
                local, dom = ind.rsplit("@", 1)
                assert local and domain_ok(dom), ind
            elif typ == "Intel::FILE_HASH":
                assert len(ind) in HEX and re.fullmatch(r"[0-9a-f]+", ind), ind
        except Exception as e:
            bad("zeek line %d: %s %s does not parse: %r" % (n, typ, ind, e))
    return items

items = check_zeek(os.path.join(setdir, "kizuna.intel"))
want = {
    ("192.0.2.1", "Intel::ADDR"), ("198.51.100.7", "Intel::ADDR"),
    ("2001:db8::dead:beef", "Intel::ADDR"), ("203.0.113.0/24", "Intel::SUBNET"),
    ("2001:db8:1::/48", "Intel::SUBNET"), ("a.b.c.d.e.f.g.deep.example", "Intel::DOMAIN"),
    ("192.0.2.99", "Intel::ADDR"), ("203.0.113.77", "Intel::ADDR"),
    ("198.51.100.0/25", "Intel::SUBNET"), ("and-only.example", "Intel::DOMAIN"),
    ("evil.example.com/dropper.exe", "Intel::URL"),
    ("0123456789abcdef0123456789abcdef", "Intel::FILE_HASH"),
    ("amber-only.example", "Intel::DOMAIN"), ("evil.example.com", "Intel::DOMAIN"),
    ("github.io", "Intel::DOMAIN"), ("ok.example", "Intel::DOMAIN"),
    ("xn--bcher-kva.example", "Intel::DOMAIN"),
    ("evil.example.com:8080/a;b/gate.php?id=1&x=~", "Intel::URL"),
    ("login.example.net/", "Intel::URL"),
    ("xn--bcher-kva.example/stra%C3%9Fe?q=1", "Intel::URL"),
    ("#hash@example.org", "Intel::EMAIL"), ("Phish@example.org", "Intel::EMAIL"),
    ("d41d8cd98f00b204e9800998ecf8427e", "Intel::FILE_HASH"),
    ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "Intel::FILE_HASH"),
    ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "Intel::FILE_HASH"),
    ("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
     "Intel::FILE_HASH"),
}
if set(items) != want:
    bad("zeek: values %s missing, %s extra" % (want - set(items), set(items) - want))
d = items.get(("198.51.100.7", "Intel::ADDR"), "")
if 'C2 "server", with tab [TLP:CLEAR indicator--00000000-0000-4000-8000-000000000001]' not in d \
        or "Second report of the C2 [TLP:GREEN" not in d:
    bad("zeek: desc of 198.51.100.7: %r" % d)
for v, t in (("192.0.2.99", "Intel::ADDR"), ("203.0.113.77", "Intel::ADDR"),
             ("and-only.example", "Intel::DOMAIN"), ("198.51.100.0/25", "Intel::SUBNET"),
             ("0123456789abcdef0123456789abcdef", "Intel::FILE_HASH")):
    if not items.get((v, t), "").endswith(", partial]"):
        bad("zeek: %s is not marked partial: %r" % (v, items.get((v, t))))
for (v, t), d in items.items():
    if d.endswith(", partial]") and v not in ("192.0.2.99", "203.0.113.77", "and-only.example",
                                              "198.51.100.0/25",
                                              "0123456789abcdef0123456789abcdef"):
        bad("zeek: %s marked partial" % v)
if "悪性ドメイン (phishing)" not in items.get(("evil.example.com", "Intel::DOMAIN"), ""):
    bad("zeek: the Japanese name is lost")
if "URLs \\ with backslash" not in items.get(("login.example.net/", "Intel::URL"), ""):
    bad("zeek: the backslash in a name does not come back")

g = check_zeek(green)
for (ind, typ), desc in g.items():
    if "TLP:AMBER" in desc or "TLP:RED" in desc:
        bad("--as greenie: %s carries %s" % (ind, desc))
for v in ("amber-only.example", "192.0.2.1", "203.0.113.0/24"):
    if any(k[0] == v for k in g):
        bad("--as greenie: %s (TLP:AMBER) exported" % v)
if ("evil.example.com", "Intel::DOMAIN") not in g or "悪性" in g[("evil.example.com", "Intel::DOMAIN")]:
    bad("--as greenie: evil.example.com should come from the TLP:CLEAR indicator alone")

# --- Suricata datasets and hash lists
def lines_of(name):
    t = open(os.path.join(setdir, name), "rb").read().decode("ascii")
    if t and not t.endswith("\n"):
        bad("%s: no final newline" % name)
    return t.split("\n")[:-1]

domains = set()
for l in lines_of("kizuna-domains.lst"):
    try:
        v = base64.b64decode(l, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as e:
        bad("kizuna-domains.lst: %r: %s" % (l, e))
        continue
    if base64.b64encode(v.encode()).decode() != l or not domain_ok(v):
        bad("kizuna-domains.lst: %r is %r" % (l, v))
    domains.add(v)
if domains != {"a.b.c.d.e.f.g.deep.example", "amber-only.example", "evil.example.com",
               "ok.example", "xn--bcher-kva.example", "and-only.example"}:
    bad("kizuna-domains.lst holds %s" % sorted(domains))
for l in lines_of("kizuna-ip.lst"):
    try:
        ip = ipaddress.ip_address(l)
        if str(ip) != l:
            bad("kizuna-ip.lst: %s is not canonical" % l)
    except ValueError:
        bad("kizuna-ip.lst: %r" % l)
for name, n in (("kizuna-md5.lst", 32), ("kizuna-sha1.lst", 40), ("kizuna-sha256.lst", 64)):
    ls = lines_of(name)
    if not ls:
        bad("%s is empty" % name)
    for l in ls:
        if not re.fullmatch("[0-9a-f]{%d}" % n, l):
            bad("%s: %r" % (name, l))

# --- Suricata rules
RULE = re.compile(r"^(alert|drop|pass|reject) (\S+) (\S+) (\S+) (->|<>) (\S+) (\S+) \((.*)\)$")
def split_options(body):
    """keyword[:value]; ... with "..." strings, backslash escapes in them"""
    opts, cur, q, i = [], "", False, 0
    while i < len(body):
        c = body[i]
        if q and c == "\\":
            cur += body[i:i + 2]
            i += 2
            continue
        if c == '"':
            q = not q
        if c == ";" and not q:
            opts.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    if q:
        raise ValueError("unbalanced quotes")
    if cur.strip():
        raise ValueError("text after the last ';': %r" % cur)
    return opts

def content_bytes(v):
    assert v[0] == '"' and v[-1] == '"', v
    v, out, i = v[1:-1], b"", 0
    while i < len(v):
        if v[i] == "|":
            j = v.index("|", i + 1)
            out += bytes.fromhex(v[i + 1:j])
            i = j + 1
        else:
            assert v[i] not in '";\\', v
            out += v[i].encode()
            i += 1
    return out

def addresses(a):
    if a == "any":
        return
    assert a[0] == "[" and a[-1] == "]", a
    for x in a[1:-1].split(","):
        ipaddress.ip_network(x, strict=True)

KEYS = {"msg", "flow", "dns.query", "tls.sni", "http.host", "http.uri", "dotprefix",
        "to_lowercase", "pcrexform", "dataset", "classtype", "metadata", "sid", "rev",
        "content", "nocase", "bsize", "ip.src", "ip.dst", "threshold", "filemd5", "filesha1",
        "filesha256"}
FILES = {"kizuna-domains": "string", "kizuna-ip": "ip"}
sids, rules = set(), []
for n, line in enumerate(open(os.path.join(setdir, "kizuna.rules"), encoding="utf-8"), 1):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    if len(line.encode()) >= 8192:
        bad("rules line %d: %d bytes" % (n, len(line.encode())))
    m = RULE.match(line)
    if not m:
        bad("rules line %d does not parse: %s" % (n, line))
        continue
    try:
        opts = split_options(m.group(8))
        addresses(m.group(3)); addresses(m.group(6))
    except Exception as e:
        bad("rules line %d: %s" % (n, e))
        continue
    kv = [(o.split(":", 1) + [None])[:2] for o in opts]
    keys = [k for k, _ in kv]
    if keys[0] != "msg" or keys[-2:] != ["sid", "rev"]:
        bad("rules line %d: msg first, sid and rev last: %s" % (n, keys))
    for k, v in kv:
        if k not in KEYS:
            bad("rules line %d: keyword %s" % (n, k))
        if k == "sid":
            if v in sids:
                bad("rules line %d: sid %s twice" % (n, v))
            sids.add(v)
            if not (1000000 <= int(v) < 2000000):
                bad("rules line %d: sid %s outside the default range" % (n, v))
        if k in ("filemd5", "filesha1", "filesha256") and not os.path.exists(os.path.join(setdir, v)):
            bad("rules line %d: %s not in the export set" % (n, v))
        if k == "dataset":
            a = [x.strip() for x in v.split(",")]
            opt = dict(x.split(" ", 1) for x in a[2:])
            if a[0] != "isset" or FILES.get(a[1]) != opt.get("type") or opt.get("load") != a[1] + ".lst":
                bad("rules line %d: dataset %s" % (n, v))
            if not os.path.exists(os.path.join(setdir, opt.get("load", "?"))):
                bad("rules line %d: %s not in the export set" % (n, opt.get("load")))
        if k == "content":
            try:
                content_bytes(v)
            except Exception as e:
                bad("rules line %d: content %s: %s" % (n, v, e))
        if k == "msg" and not (v.startswith('"') and v.endswith('"')):
            bad("rules line %d: msg %s" % (n, v))
    rules.append((m.groups(), kv))

def sticky(kv, buf):
    """the options that follow a sticky buffer, up to the next one"""
    out, on = [], False
    for k, v in kv:
        if k in ("dns.query", "tls.sni", "http.host", "http.uri", "ip.src", "ip.dst"):
            on = k == buf
            continue
        if on:
            out.append((k, v))
    return out

def alerts(buf, name, keep):
    """replays the rules on one buffer value; returns the sids that fire.
    keep: a pcrexform that does not match leaves the buffer as it was
    (Suricata 7); else the rule does not match (Suricata 8)"""
    fired = []
    for hdr, kv in rules:
        sid = dict(kv)["sid"]
        ops = sticky(kv, buf)
        others = {k for k, _ in kv if k in ("dns.query", "tls.sni", "http.host", "http.uri",
                                            "ip.src", "ip.dst")} - {buf}
        if not ops or others:
            continue  # a URL rule needs its http.uri too
        data = name.lower() if buf == "http.host" else name
        ok = True
        for k, v in ops:
            if k == "dotprefix":
                data = "." + data
            elif k == "to_lowercase":
                data = data.lower()
            elif k == "pcrexform":
                mm = re.search(v[1:-1], data)
                if mm:
                    data = mm.group(1)
                elif not keep:
                    ok = False
            elif k == "dataset":
                ok = ok and data in domains
            elif k == "content":
                want_b = content_bytes(v)
                nocase = ("nocase", None) in ops
                d = data.encode()
                ok = ok and ((d.lower() == want_b.lower()) if nocase else (d == want_b))
            elif k == "bsize":
                ok = ok and len(data.encode()) == int(v)
        if ok:
            fired.append(sid)
    return fired

cases = {
    "evil.example.com": 1, "www.Evil.Example.com": 1, "a.b.evil.example.com": 1,
    "notevil.example.com": 0, "example.com": 0, "evil.example.com.au": 0,
    "xn--bcher-kva.example": 1, "shop.xn--bcher-kva.example": 1,
    "a.b.c.d.e.f.g.deep.example": 1, "z.a.b.c.d.e.f.g.deep.example": 1,
    "b.c.d.e.f.g.deep.example": 0, "github.io": 1, "someone.github.io": 0,
    "ok.example": 1, "amber-only.example": 1, "red-secret.example": 0,
}
for buf in ("dns.query", "tls.sni", "http.host"):
    for name, want_n in cases.items():
        for keep in (0, 1):
            got = alerts(buf, name, keep)
            if len(got) != want_n:
                bad("%s %s: %d alerts (%s), wanted %d" % (buf, name, len(got), got, want_n))

urls = [(h, kv) for h, kv in rules if any(k == "http.uri" for k, _ in kv)]
if len(urls) != 4:
    bad("%d URL rules, wanted 4" % len(urls))
for h, kv in urls:
    host = content_bytes(sticky(kv, "http.host")[0][1])
    if host not in (b"evil.example.com", b"login.example.net", b"xn--bcher-kva.example"):
        bad("URL rule for host %r" % host)
    uri = content_bytes(sticky(kv, "http.uri")[0][1])
    if h[6] != ("8080" if uri.startswith(b"/a;b/") else "any"):
        bad("the URL rule for %r has port %s" % (uri, h[6]))
if not any("[198.51.100.0/25,203.0.113.0/24,2001:db8:1::/48]" in (h[2], h[5]) for h, _ in rules):
    bad("no CIDR group rule")

# --- CSV, read back by Python's csv module
objs = {o["id"]: o for o in json.load(open(bundle, encoding="utf-8"))["objects"]}
with open(os.path.join(setdir, "kizuna.csv"), newline="", encoding="utf-8") as fh:
    rows = list(csv.reader(fh, strict=True))
if rows[0] != ["indicator_id", "type", "value", "name", "tlp", "valid_from", "valid_until",
               "collection", "partial"]:
    bad("csv header %s" % rows[0])
TLP = {"94868c89": "TLP:CLEAR", "bab4a63c": "TLP:GREEN", "55d920b0": "TLP:AMBER",
       "939a9414": "TLP:AMBER+STRICT"}
got = set()
for r in rows[1:]:
    if len(r) != 9:
        bad("csv row of %d fields: %s" % (len(r), r))
        continue
    o = objs.get(r[0])
    if not o:
        bad("csv: unknown id %s" % r[0])
        continue
    if r[3] != o.get("name", ""):
        bad("csv: name %r, the bundle says %r" % (r[3], o.get("name")))
    if r[4] != TLP[o["object_marking_refs"][0].split("--")[1][:8]]:
        bad("csv: %s marked %s" % (r[0], r[4]))
    if not r[5].startswith(o["valid_from"][:19]):
        bad("csv: valid_from %s" % r[5])
    if r[8] != ("true" if r[0][-2:] in ("12", "23", "24") or (r[0][-2:], r[1]) == ("25", "md5")
                else "false"):
        bad("csv: %s %s partial=%s" % (r[0], r[2], r[8]))
    got.add((r[0][-2:], r[1], r[2]))
for w in (("01", "ipv4", "198.51.100.7"), ("02", "ipv4", "198.51.100.7"),
          ("03", "cidr6", "2001:db8:1::/48"), ("06", "url", "ftp://files.example.org/x"),
          ("07", "url", "http://xn--bcher-kva.example/stra%C3%9Fe?q=1"),
          ("10", "sha512", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")):
    if w not in got:
        bad("csv lacks %s" % (w,))
if len(got) != len(rows) - 1:
    bad("csv: repeated rows")

# --- lists
all_txt = lines_of("all.txt")
if len(all_txt) != len(set(all_txt)):
    bad("all.txt repeats a value")
if lines_of("domains.txt") != ["a.b.c.d.e.f.g.deep.example", "amber-only.example",
                               "and-only.example", "evil.example.com", "github.io",
                               "ok.example", "xn--bcher-kva.example"]:
    bad("domains.txt: %s" % lines_of("domains.txt"))

for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# --- every file equals the expected one, byte for byte. The CSV's collection
# column is the node's random TAXII id: it is compared as COLLECTION.
# KZ_UPDATE_EXPECTED=1 rewrites the expected files instead (then review the
# diff before committing it).
E="$D/expected"
sed -E 's/,[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12},(true|false)\r$/,COLLECTION,\1\r/' \
    set/kizuna.csv >kizuna.csv.norm
for pair in set/kizuna.intel:kizuna.intel set/kizuna.rules:kizuna.rules \
    set/kizuna-ip.lst:kizuna-ip.lst set/kizuna-domains.lst:kizuna-domains.lst \
    set/kizuna-md5.lst:kizuna-md5.lst set/kizuna-sha1.lst:kizuna-sha1.lst \
    set/kizuna-sha256.lst:kizuna-sha256.lst kizuna.csv.norm:kizuna.csv set/all.txt:all.txt \
    set/domains.txt:domains.txt green.intel:green.intel; do
    got=${pair%%:*}
    want=$E/${pair#*:}
    if [ "${KZ_UPDATE_EXPECTED:-0}" = 1 ]; then
        cp "$got" "$want"
    elif ! cmp -s "$got" "$want"; then
        fail "$got differs from $want"
        diff "$want" "$got" | head -10 >&2
    fi
done

# --- more than one collection: the same indicators in two collections are
# one set of values, the same file; the audit log has an event for each
K collection add other >/dev/null || fail "collection add other"
for f in "$D"/*.json; do
    run 0 K import --collection other "$f"
done
run 0 K export --collection intel --collection other --collection intel --format zeek-intel \
    --psl "$PSL" --out two.intel
# an indicator held in both collections is one indicator in the summary too
expect_err "kizuna export: zeek-intel: 26 lines from 20 of 21 active indicators,"
cmp -s set/kizuna.intel two.intel || fail "two collections give another file"
run 0 K audit
[ "$(grep -c 'export .* zeek-intel:two.intel' "$SCRATCH/out")" = 2 ] ||
    fail "two collections: not two audit events"
run 2 K export --collection intel --collection other --out x.json
expect_err "a STIX bundle holds one collection"
run 0 K export --collection other --format txt --type url --psl "$PSL" --out other.txt
grep -qxF "ftp://files.example.org/x" other.txt || fail "--collection other: no ftp URL"

# --sid-base moves every sid
run 0 K export --collection intel --format suricata-rules --psl "$PSL" --sid-base 3000000 --out r2.rules
if grep -v '^#' r2.rules | grep -q 'sid:1[0-9]\{6\};'; then fail "--sid-base ignored"; fi
grep -q 'sid:3000202;' r2.rules || fail "--sid-base: no sid 3000202"

finish
