#!/usr/bin/env bash
# The main job: set up, export the notebooks to the package, execute every notebook end to end (slow cells
# included) and build the documentation site into _docs/ (Quarto's `nbdev_docs` where Quarto is installed,
# the registry-only builder otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
setup_s=$SECONDS
. .venv/bin/activate
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MPLBACKEND=Agg
nbdev_export
# README.md is generated from nbs/index.ipynb; the site from every notebook listed in nbs/sidebar.yml, with the outputs
# stored in the notebooks: it builds in the background while the notebooks run (it needs nothing they produce)
site_log=$(mktemp)
{ if command -v quarto >/dev/null; then nbdev_readme && nbdev_docs; else python tools/build_site.py --readme && python tools/build_site.py; fi; } >"$site_log" 2>&1 &
site=$!; trap 'kill "$site" 2>/dev/null || true' EXIT   # a failed test run stops the build too
# every notebook, slow cells included, two at a time (one torch thread each), the longest first, and the seconds each took
python tools/test_nbs.py --workers "${PUFFIN_WORKERS:-2}"
notebooks_s=$SECONDS
if ! wait "$site"; then cat "$site_log"; echo "the site did not build" >&2; exit 1; fi
tail -n 1 "$site_log"; rm -f "$site_log"
echo "docs: $(pwd)/_docs/index.html"
# where the time went: the notebooks (the site builds beside them) and whatever of the site was left after them
echo "main job: $((SECONDS - setup_s)) s after $setup_s s of set-up (the notebooks done at $((notebooks_s - setup_s)) s, the site $((SECONDS - notebooks_s)) s after them)"
