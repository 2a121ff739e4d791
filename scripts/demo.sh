#!/usr/bin/env bash
# The main job on a fresh clone: bootstrap (ONNX Runtime + models, idempotent),
# build, embed the shipped demo diary and show searches over it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
cargo build --release --bin moltsearch
exec ./target/release/moltsearch demo --file data/demo-diary.jsonl "$@"
