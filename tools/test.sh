#!/usr/bin/env bash
# The test command: set up (tools/setup.sh), then run the whole suite with pytest. Ends with pytest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# the docs site is tested in a real browser: headless Chromium from Debian's packages, installed when missing
bash tools/ensure_chromium.sh || echo "tools/test.sh: could not install chromium; the browser test will say so" >&2
. .venv/bin/activate
export OMP_NUM_THREADS=1 MPLBACKEND=Agg
exec python -m pytest tests "$@"
