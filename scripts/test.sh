#!/usr/bin/env bash
# Runs every check and test: bootstrap (ONNX Runtime + models, idempotent),
# formatting, clippy with warnings as errors, then the whole test suite with
# the real model. CI (.ci/run) calls exactly this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
export MOLTSEARCH_SHARED="${MOLTSEARCH_SHARED:-$ROOT/../shared}"
if [[ ! -d "$MOLTSEARCH_SHARED" ]]; then
  echo "test: shared data not found at $MOLTSEARCH_SHARED (set MOLTSEARCH_SHARED)" >&2
  exit 1
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --lib --bins --tests --examples
cargo test --workspace --doc
