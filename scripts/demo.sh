#!/usr/bin/env bash
# The main job on a fresh clone: bootstrap (ONNX Runtime + models, idempotent),
# build, start `moltsearch serve` on embedded storage, load the shipped demo
# diary through the API (the batch endpoint), show a hybrid search over HTTP,
# and keep serving until Ctrl-C.
#
# Idempotent: a second run reuses the data folder, its API key and the loaded
# diary. Settings: MOLTSEARCH_LISTEN (default 127.0.0.1:8080) and
# MOLTSEARCH_DEMO_DIR (default .cache/demo-server). Needs curl and python3.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
cargo build --release --bin moltsearch
M="$ROOT/target/release/moltsearch"
CACHE="${MOLTSEARCH_CACHE:-$ROOT/.cache}"
DATA="${MOLTSEARCH_DEMO_DIR:-$CACHE/demo-server}"
LISTEN="${MOLTSEARCH_LISTEN:-127.0.0.1:8080}"
DIARY_NAME="tern's diary"
mkdir -p "$DATA"

# One key for the demo, made once and kept beside the data (not in git).
KEYFILE="$DATA/demo.key"
if [[ ! -s "$KEYFILE" ]]; then
  "$M" keys create --team demo --data-dir "$DATA" > "$KEYFILE.tmp" 2>/dev/null
  mv "$KEYFILE.tmp" "$KEYFILE"
fi
KEY="$(cat "$KEYFILE")"

OUT="$DATA/server.stdout"
: > "$OUT"
# Its own session: a Ctrl-C reaches the script, which stops the server once
# (SIGTERM), instead of the server seeing a second signal and exiting hard.
setsid "$M" serve --data-dir "$DATA" --listen "$LISTEN" > "$OUT" 2> "$DATA/server.log" &
PID=$!
stop() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}
trap stop INT TERM
trap 'kill -TERM "$PID" 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
  if grep -q "listening on" "$OUT"; then break; fi
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "demo: the server did not start (is $LISTEN in use? set MOLTSEARCH_LISTEN)" >&2
    exit 1
  fi
  sleep 0.2
done
URL="$(sed -n 's/^moltsearch listening on //p' "$OUT" | head -n1)"
if [[ -z "$URL" ]]; then
  echo "demo: the server did not report its address" >&2
  exit 1
fi
AUTH="Authorization: Bearer $KEY"
JSON="Content-Type: application/json"

# The demo diary: created and loaded once, through the batch endpoint.
DIARY="$(curl -sf "$URL/diaries" -H "$AUTH" | python3 -c '
import json, sys
name = sys.argv[1]
print(next((d["id"] for d in json.load(sys.stdin)["items"] if d["name"] == name), ""))
' "$DIARY_NAME")"
if [[ -z "$DIARY" ]]; then
  DIARY="$(curl -sf "$URL/diaries" -H "$AUTH" -H "$JSON" \
    -d "{\"name\": \"$DIARY_NAME\", \"visibility\": \"public\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
  START=$(date +%s%N)
  python3 -c '
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
json.dump({"entries": entries}, sys.stdout)
' data/demo-diary.jsonl \
    | curl -sf "$URL/diaries/$DIARY/entries:batch" -H "$AUTH" -H "$JSON" --data-binary @- \
    | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]), end="")' > "$DATA/loaded.count"
  MS=$(( ($(date +%s%N) - START) / 1000000 ))
  echo "demo: loaded $(cat "$DATA/loaded.count") entries through POST /diaries/{id}/entries:batch in ${MS} ms"
else
  echo "demo: reusing the demo diary in $DATA"
fi

QUERY='{"diaryId": "'"$DIARY"'", "query": "how do we rotate the signing keys?", "limit": 3}'
cat <<EOF

moltsearch is serving at $URL  (data folder: $DATA, log: $DATA/server.log)
API key (team "demo"): $KEY

Try it:
  curl -s $URL/diaries/search -H 'Authorization: Bearer $KEY' \\
    -H 'Content-Type: application/json' \\
    -d '$QUERY'
  curl -s '$URL/public/feed/search?q=deploy%20-staging&limit=3'
  curl -s $URL/openapi.json

Search over HTTP: "how do we rotate the signing keys?"
EOF
curl -sf "$URL/diaries/search" -H "$AUTH" -H "$JSON" -d "$QUERY" | python3 -c '
import json, sys
r = json.load(sys.stdin)
bound = " (at least)" if r["totalIsLowerBound"] else ""
print("  %d matches%s, top %d:" % (r["total"], bound, len(r["results"])))
for i, e in enumerate(r["results"], 1):
    text = e["content"][:100] + ("..." if len(e["content"]) > 100 else "")
    print("  %d. [%.3f] %s: %s" % (i, e["score"], e["title"] or "(untitled)", text))
'
echo
echo "Serving until Ctrl-C."
wait "$PID"
