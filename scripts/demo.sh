#!/bin/sh
# The README's first command: installs what is missing, builds kizuna, and
# runs a demo node in ./kizuna-home (or $KIZUNA_HOME) with the embedded
# SQLite store and real content: the demo bundle shipped in share/demo/ and
# the MITRE ATT&CK bundles from ../shared/data/attack/ when present. It ends
# serving TAXII 2.1 on 127.0.0.1:8470 (KIZUNA_LISTEN to change) until ^C.
# Running it again reuses the node and its admin token (kizuna-home.token).
# KIZUNA=PATH runs that kizuna binary instead, without installing or building
# (the docs' example test runs the demo this way).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
if [ -n "${KIZUNA:-}" ]; then
    KZ=$KIZUNA
else
    sh scripts/install-deps.sh
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
    KZ="$root/build/kizuna"
fi
HOME_DIR=${KIZUNA_HOME:-$root/kizuna-home}
export KIZUNA_HOME="$HOME_DIR"

if [ ! -f "$HOME_DIR/kizuna.conf" ]; then
    "$KZ" init --node-name demo-node > "$HOME_DIR.token"
    chmod 600 "$HOME_DIR.token"
    "$KZ" collection add intel --title "Shared intelligence" \
        --description "Indicators, malware, actors and reports shared between partners" >/dev/null
    "$KZ" collection add attack --title "MITRE ATT&CK" \
        --description "The ATT&CK knowledge base as STIX 2.1" >/dev/null
    # the node's own organisation reads and writes both collections, and is in
    # the India-Japan government community that intel is shared with
    "$KZ" grant intel --org local --read --write
    "$KZ" grant attack --org local --read --write
    "$KZ" community add in-jp-g2g
    "$KZ" community join in-jp-g2g local
    "$KZ" grant intel --community in-jp-g2g --read
    "$KZ" import --collection intel share/demo/demo-bundle.json
    found=0
    for f in ../shared/data/attack/*.json; do
        [ -f "$f" ] || continue
        "$KZ" import --collection attack "$f"
        found=1
    done
    [ $found = 1 ] || echo "demo: ../shared/data/attack not found; only the shipped demo bundle was imported" >&2
fi
"$KZ" collection list
listen=${KIZUNA_LISTEN:-127.0.0.1:8470}
cat >&2 <<MSG

demo: node in $HOME_DIR, admin token in $HOME_DIR.token. The program is
$KZ (not installed); for the README's examples, in another terminal:
  export PATH="$(dirname "$KZ"):\$PATH"
  TOKEN=\$(cat $HOME_DIR.token)
  curl -H "Authorization: Bearer \$TOKEN" http://$listen/taxii2/
  curl -H "Authorization: Bearer \$TOKEN" "http://$listen/default/collections/intel/objects/?limit=5"

MSG
exec "$KZ" serve --listen "$listen" --log -
