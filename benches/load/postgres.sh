#!/usr/bin/env bash
# Postgres as the source of truth, measured beside embedded storage in one
# session, on loopback, bounded in time:
#   single-entry creates at 1, 8 and 32 connections (wrk), both modes;
#   batch import rate (`moltsearch import`, 5,000 WordNet glosses), both modes;
#   search latency at 1 connection, both modes;
#   feed lag: writes through server A, each polled on server B until visible;
#   catch-up: B stopped, 5,000 entries written, B restarted (its log's catch_up_ms);
#   rebuild: the cache rebuilt from Postgres vs `reindex` of an embedded folder.
#
#   benches/load/postgres.sh            (DURATION=8s per wrk run; N=5000 entries)
#
# Postgres: a throwaway cluster from initdb/pg_ctl on PATH (as the postgres
# user when run as root) on a free port in a temp folder, removed at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-8s}"
N="${N:-5000}"
command -v wrk >/dev/null || { echo "postgres.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
command -v initdb >/dev/null || { echo "postgres.sh: initdb not found (PostgreSQL server binaries)" >&2; exit 1; }
bash scripts/bootstrap.sh >/dev/null
cargo build --release --bin moltsearch -p moltsearch-server 2>/dev/null
M="$ROOT/target/release/moltsearch"
SHARED="${MOLTSEARCH_SHARED:-$ROOT/../shared}"
WORK="$(mktemp -d /tmp/moltsearch-pgbench.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
AS=()
[[ "$(id -u)" == 0 ]] && AS=(runuser -u postgres --)
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  "${AS[@]}" pg_ctl -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/pg" && [[ ${#AS[@]} -gt 0 ]] && chown postgres:postgres "$WORK/pg"
"${AS[@]}" initdb -D "$WORK/pg" -A trust -U postgres >/dev/null
"${AS[@]}" pg_ctl -D "$WORK/pg" -o "-p $PORT -k $WORK/pg -c listen_addresses=127.0.0.1" -l "$WORK/pg/log" -w start >/dev/null
psql -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE bench" >/dev/null
URL="postgres://postgres@127.0.0.1:$PORT/bench"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F), $(postgres --version)"

start() { # name, args... → URL_<name>, PID_<name>
  local name="$1"; shift
  "$M" serve --listen 127.0.0.1:0 --search-rate 0 --write-rate 0 "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 3000); do grep -q "listening on" "$WORK/$name.out" && break; sleep 0.1; done
  eval "URL_$name=\"$(sed -n 's/^moltsearch listening on //p' "$WORK/$name.out")\""
  eval "PID_$name=$pid"
}
summarise() { # label, wrk output file
  python3 "$ROOT/benches/load/wrk_summary.py" "$1" "$2" 40
}
diary() { # url key name → id
  curl -sf "$1/diaries" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -d "{\"name\": \"$3\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
head -n "$N" "$SHARED/data/wordnet/corpus.jsonl" > "$WORK/wordnet.jsonl"

# Embedded storage beside Postgres, same binary and settings.
KEY_E="$("$M" keys create --team bench --data-dir "$WORK/embedded" 2>/dev/null)"
KEY_P="$("$M" keys create --team bench --database-url "$URL" 2>/dev/null)"
start E --data-dir "$WORK/embedded"
start A --data-dir "$WORK/cache-a" --database-url "$URL"
start B --data-dir "$WORK/cache-b" --database-url "$URL"
DE="$(diary "$URL_E" "$KEY_E" creates)"
DP="$(diary "$URL_A" "$KEY_P" creates)"
for c in 1 8 32; do
  t=$(( c < 2 ? 1 : 2 ))
  KEY="$KEY_E" DIARY="$DE" wrk -t"$t" -c"$c" -d"$DURATION" --latency -s benches/load/create.lua "$URL_E" > "$WORK/wrk.txt"
  summarise "embedded create, $c conn" "$WORK/wrk.txt"
  KEY="$KEY_P" DIARY="$DP" wrk -t"$t" -c"$c" -d"$DURATION" --latency -s benches/load/create.lua "$URL_A" > "$WORK/wrk.txt"
  summarise "postgres create, $c conn" "$WORK/wrk.txt"
done
for mode in E A; do
  eval "u=\$URL_$mode"; k="$KEY_P"; [[ $mode == E ]] && k="$KEY_E"
  KEY="$k" wrk -t1 -c1 -d"$DURATION" --latency -s benches/load/search.lua "$u" > "$WORK/wrk.txt"
  summarise "$([[ $mode == E ]] && echo embedded || echo postgres) search, 1 conn" "$WORK/wrk.txt"
done

# Feed lag: 300 single writes through A, each polled on B until visible.
python3 - "$URL_A" "$URL_B" "$KEY_P" "$DP" <<'PY'
import json, sys, time, threading, urllib.request
a, b, key, diary = sys.argv[1:5]
H = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
def call(url, data=None):
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data else None, headers=H,
                                 method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None
lags = []
for i in range(300):
    _, e = call(f"{a}/diaries/{diary}/entries", {"content": f"feed lag probe {i}"})
    acked = time.perf_counter()
    while call(f"{b}/entries/{e['id']}")[0] != 200:
        time.sleep(0.001)
    lags.append((time.perf_counter() - acked) * 1e3)
lags.sort()
print(f"feed lag A→B (300 writes, 1 writer)         p50 {lags[150]:7.2f} ms   p99 {lags[296]:7.2f} ms   max {lags[-1]:.1f} ms")
PY

# Batch import, both modes (embedding-bound), with no server running: on
# one machine every other server's feed would index the same rows at once.
kill -TERM "$PID_B" "$PID_A" "$PID_E"; wait "$PID_B" "$PID_A" "$PID_E" 2>/dev/null || true
for mode in embedded postgres; do
  args=(--data-dir "$WORK/import-$mode")
  [[ $mode == postgres ]] && args+=(--database-url "$URL")
  start_t=$(date +%s.%N)
  "$M" import "${args[@]}" --diary wordnet --format beir --partial "$WORK/wordnet.jsonl" >/dev/null 2>&1 || true
  end_t=$(date +%s.%N)
  python3 -c "print(f'import $N WordNet glosses, $mode:'.ljust(44) + f'{$N / ($end_t - $start_t):8.1f} entries/s ({$end_t - $start_t:.1f} s)')"
done

# Catch-up: B was stopped before the import above wrote N entries; restart it.
start B --data-dir "$WORK/cache-b" --database-url "$URL"
python3 - "$WORK/B.err" "$N" <<'PY'
import re, sys
line = [l for l in open(sys.argv[1]) if "index cache open" in l][-1]
ms = int(re.search(r"catch_up_ms=(\d+)", line).group(1)); n = int(sys.argv[2])
how = re.search(r"cache=(\w+)", line).group(1)
print(f"catch-up after a restart ({n} entries):".ljust(44) + f"{n / max(ms, 1) * 1e3:8.1f} entries/s ({ms} ms; cache {how})")
PY
# Rebuild: the cache from Postgres vs an embedded folder's reindex.
kill -TERM "$PID_B"; wait "$PID_B" 2>/dev/null || true
/usr/bin/time -f "%e" -o "$WORK/t1" "$M" reindex --database-url "$URL" --data-dir "$WORK/cache-b" >/dev/null 2>&1
/usr/bin/time -f "%e" -o "$WORK/t2" "$M" reindex --data-dir "$WORK/import-embedded" >/dev/null 2>&1
TOTAL="$(psql -h 127.0.0.1 -p "$PORT" -U postgres -d bench -Atc 'SELECT count(*) FROM diary_entries')"
python3 -c "
t1, t2 = float(open('$WORK/t1').read()), float(open('$WORK/t2').read())
print('rebuild from Postgres ($TOTAL entries):'.ljust(44) + f'{$TOTAL / t1:8.1f} entries/s ({t1:.2f} s)')
print('embedded reindex ($N entries):'.ljust(44) + f'{$N / t2:8.1f} entries/s ({t2:.2f} s)')"
