#!/usr/bin/env bash
# On a machine with a CUDA GPU (a copy of this working tree, no internet): the device tests and the K-model GPU
# benchmark in its quick mode, a few minutes in all. Needs torch with CUDA already installed; exits cleanly otherwise.
#   bash bench/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg
PY=${PYTHON:-python}
if ! $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available()); raise SystemExit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: no torch with CUDA here; nothing to check"; exit 0
fi
$PY -c "import puffin" 2>/dev/null || $PY -m pip install --no-deps --no-build-isolation -q -e . || echo "gpu_check: pip install -e . failed; using PYTHONPATH"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null || true
status=0
timeout 180 $PY -m pytest tests/test_devices.py tests/test_multifit.py -q -p no:cacheprovider || status=$?
timeout 150 $PY bench/multifit_speed.py --device cuda --quick || status=$?
echo "gpu_check: exit status $status"
exit $status
