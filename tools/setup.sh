#!/usr/bin/env bash
# Set up a development environment on a fresh machine: a venv in .venv with torch 2.13.0, the package (editable) and
# the pinned nbdev 2 toolchain. Safe to re-run: it only installs what is missing, and keeps a torch that imports (on
# Linux, put the CPU build into .venv first, as the README shows: PyPI's Linux wheel is the CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned to the version the project is tested with; whichever wheel pip finds (PyPI on Linux: CUDA; a local
# folder of CPU wheels where pip is set to one). Override with PUFFIN_TORCH_SPEC.
python -c "import torch" 2>/dev/null || pip install -q "${PUFFIN_TORCH_SPEC:-torch==2.13.0}"
pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
pip check
