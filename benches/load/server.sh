#!/usr/bin/env bash
# Load test of `moltsearch serve` on loopback with wrk (Debian: apt-get
# install wrk), bounded in time, beside the in-process figures on the same
# folder, queries and texts (examples/inprocess_baseline.rs), in one session.
#
#   benches/load/server.sh [demo|wordnet|all]      (default: all)
#
# demo:    the shipped demo diary (300 entries)
# wordnet: 100k WordNet glosses from $MOLTSEARCH_SHARED (imported once into
#          .cache/bench/load-wordnet-100k, embedding them: minutes, cached)
# Each: hybrid search with query embedding at 1, 8 and 32 connections
# (p50/p99, requests/s, errors), single-entry creates at 8 connections,
# batch creates (250 per request) against the in-process embedding rate.
# Settings: DURATION (default 10s per wrk run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WHAT="${1:-all}"
DURATION="${DURATION:-10s}"
command -v wrk >/dev/null || { echo "load: wrk not found (apt-get install wrk)" >&2; exit 1; }
bash scripts/bootstrap.sh
cargo build --release --bin moltsearch -p moltsearch-server
cargo build --release -p moltsearch-engine --example inprocess_baseline
M="$ROOT/target/release/moltsearch"
BASE="$ROOT/target/release/examples/inprocess_baseline"
CACHE="${MOLTSEARCH_CACHE:-$ROOT/.cache}"
SHARED="${MOLTSEARCH_SHARED:-$ROOT/../shared}"
WORK="$(mktemp -d)"
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"

# The queries wrk sends (search.lua holds the same list), one per line.
python3 - "$ROOT/benches/load/search.lua" > "$WORK/queries.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
block = text[text.index("{"):text.index("}")]
for q in re.findall(r'"([^"]+)"', block):
    print(q)
EOF
# Texts for batch creates: 2,000 fortunes (the same for HTTP and in-process).
python3 - "$SHARED/data/fortunes/corpus.jsonl" > "$WORK/passages.txt" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    t = json.loads(line).get("text", "").replace("\n", " ").strip()
    if t:
        print(t[:2000]); n += 1
    if n == 2000: break
EOF

start_server() { # data-dir
  : > "$WORK/out"
  "$M" serve --data-dir "$1" --listen 127.0.0.1:0 --search-rate 0 --write-rate 0 \
    > "$WORK/out" 2> "$WORK/err" &
  PID=$!
  for _ in $(seq 1 3000); do grep -q "listening on" "$WORK/out" && break; sleep 0.1; done
  URL="$(sed -n 's/^moltsearch listening on //p' "$WORK/out")"
  [[ -n "$URL" ]] || { cat "$WORK/err" >&2; exit 1; }
}
stop_server() {
  kill -TERM "$PID"; wait "$PID" || true; PID=""
}

# wrk's summary as one line: p50, p99, requests/s, errors.
summarise() { # label, wrk output file
  python3 "$ROOT/benches/load/wrk_summary.py" "$1" "$2"
}

run_searches() { # label, diary-or-empty
  for c in 1 8 32; do
    local t=$(( c < 2 ? 1 : 2 ))
    KEY="$KEY" DIARY="$2" wrk -t"$t" -c"$c" -d"$DURATION" --latency -s benches/load/search.lua "$URL" \
      > "$WORK/wrk.txt"
    summarise "$1 search, $c conn" "$WORK/wrk.txt"
  done
}

run_writes() { # label, data-dir, diary
  KEY="$KEY" DIARY="$3" wrk -t2 -c8 -d"$DURATION" --latency -s benches/load/create.lua "$URL" \
    > "$WORK/wrk.txt"
  summarise "$1 single create, 8 conn" "$WORK/wrk.txt"
  python3 - "$WORK/passages.txt" "$URL" "$KEY" "$3" <<'EOF'
import json, sys, time, urllib.request
texts = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
url, key, diary = sys.argv[2], sys.argv[3], sys.argv[4]
start = time.perf_counter()
for i in range(0, len(texts), 250):
    body = json.dumps({"entries": [{"content": t} for t in texts[i:i + 250]]}).encode()
    req = urllib.request.Request(f"{url}/diaries/{diary}/entries:batch", data=body, method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 201, r.status
took = time.perf_counter() - start
print(f"batch create (250/request)          {len(texts) / took:8.1f} entries/s over HTTP ({len(texts)} entries)")
EOF
}

diary_of() { # name → id (created when missing)
  local id
  id="$(curl -sf "$URL/diaries" -H "Authorization: Bearer $KEY" | python3 -c '
import json, sys
print(next((d["id"] for d in json.load(sys.stdin)["items"] if d["name"] == sys.argv[1]), ""))' "$1")"
  if [[ -z "$id" ]]; then
    id="$(curl -sf "$URL/diaries" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
      -d "{\"name\": \"$1\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
  fi
  echo "$id"
}

if [[ "$WHAT" == demo || "$WHAT" == all ]]; then
  D="$WORK/demo"
  KEY="$("$M" keys create --team bench --data-dir "$D" 2>/dev/null)"
  start_server "$D"
  DIARY="$(diary_of demo)"
  python3 -c '
import json, sys
print(json.dumps({"entries": [json.loads(l) for l in open(sys.argv[1]) if l.strip()]}))' data/demo-diary.jsonl \
    | curl -sf "$URL/diaries/$DIARY/entries:batch" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' --data-binary @- > /dev/null
  stop_server
  echo "in-process (demo diary, same queries): $("$BASE" "$D" "$WORK/queries.txt" "$WORK/passages.txt")"
  start_server "$D"
  run_searches "demo (300)" ""
  W="$(diary_of writes)"
  run_writes "demo" "$D" "$W"
  stop_server
fi

if [[ "$WHAT" == wordnet || "$WHAT" == all ]]; then
  W100="$CACHE/bench/load-wordnet-100k"
  if [[ ! -f "$W100/meta.json" ]]; then
    echo "load: importing 100,000 WordNet glosses into $W100 (once; embeds them)" >&2
    head -n 100000 "$SHARED/data/wordnet/corpus.jsonl" > "$WORK/wordnet.jsonl"
    mkdir -p "$W100.tmp" && rm -rf "$W100.tmp"
    # Two glosses have titles over 255 characters: refused; --partial stores the rest.
    "$M" import --data-dir "$W100.tmp" --diary wordnet --format beir --partial "$WORK/wordnet.jsonl" \
      || [[ -f "$W100.tmp/meta.json" ]]
    mv "$W100.tmp" "$W100"
  fi
  cp -r "$W100" "$WORK/wordnet"
  D="$WORK/wordnet"
  # `import` writes to the nil-UUID team ("local").
  KEY="$("$M" keys create --team local --team-id 00000000-0000-0000-0000-000000000000 \
    --data-dir "$D" 2>/dev/null)"
  echo "in-process (100k WordNet, same queries): $("$BASE" "$D" "$WORK/queries.txt" "$WORK/passages.txt")"
  start_server "$D"
  run_searches "wordnet (100k)" ""
  W="$(diary_of writes)"
  run_writes "wordnet" "$D" "$W"
  stop_server
fi
