#!/bin/sh
# Sensor export benchmark: a fresh node holds N generated indicators
# (default 1000000; IPs, CIDRs, domains, URLs, e-mails, hashes), and each
# `kizuna export --format` (zeek-intel, suricata-dataset --type ip and
# domain, suricata-rules, csv, txt) is timed, REPEAT times (best of),
# against the obvious alternative in the same run: `kizuna export` (the
# STIX bundle) piped into bench/export_alt.py, which json.loads it and
# pulls the pattern values out with a regex into a Zeek intel file.
# Speeds are indicators read per second; a ratio above 1 means kizuna is
# faster. Every output goes to a file through a redirect (no fsync on
# either side). Peak RSS is GNU time's %M (for the pipeline, per process).
#   bench/bench_export.sh [N]      REPEAT=3 by default
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
KZ=${KIZUNA:-$root/build/kizuna}
N=${1:-1000000}
REPEAT=${REPEAT:-3}
PY=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d /tmp/kz-bench-export-XXXXXX)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

"$KZ" --home "$work/home" init >/dev/null 2>&1
"$KZ" --home "$work/home" collection add bench >/dev/null
python3 bench/gen_bundle.py -n "$N" --compact -o "$work/b.json"
t0=$(now)
"$KZ" --home "$work/home" import --collection bench --quiet "$work/b.json"
t1=$(now)
rm -f "$work/b.json"

# run NAME ARG...: `kizuna export ARG...`, REPEAT times; appends "NAME
# seconds rss_kb lines" of the fastest to $work/results (stdout to
# $work/NAME.out, stderr to $work/NAME.err)
run() {
    name=$1
    shift
    for _ in $(seq "$REPEAT"); do
        s0=$(now)
        /usr/bin/time -f "%M" -o "$work/rss" "$KZ" --home "$work/home" export --collection bench \
            "$@" >"$work/$name.out" 2>"$work/$name.err"
        s1=$(now)
        echo "$s0 $s1 $(tail -1 "$work/rss")"
    done | awk '{ print $2 - $1, $3 }' | sort -n | head -1 |
        { read -r t rss; echo "$name $t $rss $(wc -l <"$work/$name.out")"; } >>"$work/results"
}
: >"$work/results"
run zeek-intel --format zeek-intel
run dataset-ip --format suricata-dataset --type ip
run dataset-domain --format suricata-dataset --type domain
run suricata-rules --format suricata-rules
run csv --format csv
run txt --format txt
# the alternative: one pipeline; RSS of each process
for _ in $(seq "$REPEAT"); do
    s0=$(now)
    /usr/bin/time -f "%M" -o "$work/rss1" "$KZ" --home "$work/home" export --collection bench |
        /usr/bin/time -f "%M" -o "$work/rss2" "$PY" bench/export_alt.py >"$work/alt.out"
    s1=$(now)
    echo "$s0 $s1 $(tail -1 "$work/rss1") $(tail -1 "$work/rss2")"
done | awk '{ print $2 - $1, $3, $4 }' | sort -n | head -1 |
    { read -r t r1 r2; echo "alt $t $r1 $r2 $(wc -l <"$work/alt.out")"; } >>"$work/results"

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "kizuna zeek-intel summary: $(tail -1 "$work/zeek-intel.err")"
"$PY" - "$N" "$t0" "$t1" "$work/results" <<'PY'
import sys
n = int(sys.argv[1])
imp = float(sys.argv[3]) - float(sys.argv[2])
rows = [l.split() for l in open(sys.argv[4])]
alt = next(r for r in rows if r[0] == "alt")
ta = float(alt[1])
label = {"zeek-intel": "zeek-intel", "dataset-ip": "suricata-dataset --type ip",
         "dataset-domain": "suricata-dataset --type domain", "suricata-rules": "suricata-rules",
         "csv": "csv", "txt": "txt"}
print(f"{n:,} indicators, imported in {imp:.1f} s")
print(f"  {'':53} {'time':>7} {'indicators/s':>13} {'lines':>10} {'peak RSS':>9}"
      f"  kizuna/alternative")
for name, t, rss, lines in (r for r in rows if r[0] != "alt"):
    t = float(t)
    print(f"  kizuna export --format {label[name]:<30} {t:6.2f}s {n/t:13,.0f} {int(lines):10,}"
          f" {int(rss)/1024:7.0f}MB  {ta/t:5.1f}x")
print(f"  {'alternative: kizuna export | export_alt.py':53} {ta:6.2f}s {n/ta:13,.0f}"
      f" {int(alt[4]):10,} {int(alt[3])/1024:7.0f}MB  (python3; its kizuna export:"
      f" {int(alt[2])/1024:.0f}MB)")
print("  (kizuna/alternative: the alternative's time over kizuna's, i.e. the ratio of"
      " indicators/s; above 1, kizuna is faster)")
PY
