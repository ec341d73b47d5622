#!/usr/bin/env bash
# Set up a development environment on a fresh machine: a venv in .venv with the CPU build of torch, the package
# (editable) and the pinned nbdev 2 toolchain. Safe to re-run: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build. Override with PUFFIN_TORCH_SPEC.
python -c "import torch" 2>/dev/null || pip install -q "${PUFFIN_TORCH_SPEC:-torch==2.13.0}"
pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
pip check
