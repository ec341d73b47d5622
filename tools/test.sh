#!/usr/bin/env bash
# The test command: set up (tools/setup.sh), then run the whole suite with pytest. Ends with pytest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
. .venv/bin/activate
export OMP_NUM_THREADS=1 MPLBACKEND=Agg
exec python -m pytest tests "$@"
