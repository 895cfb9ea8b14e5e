#!/bin/sh
# Internationalised names end to end: $KZ_TEST_DATA/idn/bundle.json holds
# domain, URL and e-mail indicators written with Japanese, fullwidth,
# Turkish, German and Greek names (and one IDNA2008 refuses). Every export
# format must carry their IDNA A-labels (UTS #46 nontransitional, as
# resolvers and sensors see them: ＥＸＡＭＰＬＥ.jp is example.jp, İstanbul.tr
# is xn--istanbul-o0e.tr, straße.de is xn--strae-oqa.de), never UTF-8 or the
# old hand-made forms, and `kizuna match` must find them in a Zeek DNS log
# of A-labels and in a text log of U-labels.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "skipped: no python3"; exit 0; }
D="$KZ_TEST_DATA/idn"
new_node
H="$SCRATCH/home"
K() { "$KIZUNA" --home "$H" "$@"; }

run 0 K import --collection intel "$D/bundle.json"
grep -qF "9 added, 0 duplicate, 0 rejected" "$SCRATCH/out" "$SCRATCH/err" || fail "import"

# --- plain list: the values exactly
run 0 K export --collection intel --format txt --out all.txt
expect_err "left out: 1 invalid"
cmp -s all.txt "$D/expected/all.txt" || {
    fail "txt export differs from expected/all.txt"
    diff all.txt "$D/expected/all.txt" | head >&2
}

# --- Zeek intel: indicator and type columns
run 0 K export --collection intel --format zeek-intel --out idn.intel
grep -v '^#' idn.intel | cut -f1,2 >zeek-values.tsv
cmp -s zeek-values.tsv "$D/expected/zeek-values.tsv" || {
    fail "zeek-intel values differ from expected/zeek-values.tsv"
    diff zeek-values.tsv "$D/expected/zeek-values.tsv" | head >&2
}

# --- Suricata: the domain dataset (base64) and the rules' contents
run 0 K export --collection intel --format suricata-dataset --type domain --out kizuna-domains.lst
run 0 K export --collection intel --format suricata-rules --out kizuna.rules
python3 - <<'PY' || fail "suricata files"
import base64
got = sorted(base64.b64decode(l).decode() for l in open("kizuna-domains.lst").read().split())
want = sorted(["example.jp", "xn--hxargifdar.gr", "xn--istanbul-o0e.tr", "xn--strae-oqa.de",
               "xn--wgv71a119e.jp"])
assert got == want, got
rules = open("kizuna.rules", "rb").read()
assert b'http.host; content:"xn--bcher-kva.example"' in rules, "URL host rule"
PY

# --- nothing non-ASCII or hand-made reaches a sensor file
for f in all.txt kizuna-domains.lst; do
    LC_ALL=C grep -q '[^ -~]' "$f" && fail "$f holds non-ASCII bytes"
done
cut -f1 idn.intel | LC_ALL=C grep -q '[^ -~]' && fail "idn.intel indicators hold non-ASCII bytes"
for bad in xn--example- xn--stanbul strasse.de ab--; do
    grep -qF -- "$bad" all.txt idn.intel kizuna.rules && fail "'$bad' exported"
done

# --- matching: A-labels in a DNS log, U-labels and fullwidth in text
run 1 K match "$D/match/logs/dns.log"
for l in "dns.log:9: query: xn--istanbul-o0e.tr -> indicator--00000000-0000-4000-8000-000000000101" \
    "dns.log:10: query: example.jp -> indicator--00000000-0000-4000-8000-000000000102" \
    "dns.log:11: query: XN--STRAE-OQA.DE -> indicator--00000000-0000-4000-8000-000000000103" \
    "dns.log:14: query: ελληνικά.gr -> indicator--00000000-0000-4000-8000-000000000104"; do
    expect_out "$l"
done
grep -q "dns.log:1[235]:" "$SCRATCH/out" && fail "strasse.de, a child of 日本語.jp or 公司.cn matched"
run 1 K match --subdomains "$D/match/logs/dns.log"
expect_out "dns.log:13: query: www.xn--wgv71a119e.jp -> indicator--00000000-0000-4000-8000-000000000105"
run 1 K match "$D/match/logs/notes.txt"
for l in "notes.txt:1: text: İstanbul.tr -> indicator--00000000-0000-4000-8000-000000000101" \
    "notes.txt:2: text: ＥＸＡＭＰＬＥ.jp -> indicator--00000000-0000-4000-8000-000000000102" \
    "notes.txt:4: text: info@ｔｏｋｙｏ.jp -> indicator--00000000-0000-4000-8000-000000000107" \
    "notes.txt:5: text: straße.de -> indicator--00000000-0000-4000-8000-000000000103" \
    "notes.txt:8: text: info@tokyo.jp -> indicator--00000000-0000-4000-8000-000000000107"; do
    expect_out "$l"
done
finish
