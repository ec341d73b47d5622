"""Run every notebook's cells as `nbdev_test --flags slow --timing` does, the longest notebooks first.

    python tools/test_nbs.py [--workers 2] [--fast]     # --fast: skip the `#| slow` cells, as plain `nbdev_test`

`nbdev_test` takes the notebooks in path order, which leaves the two longest, recipes 07 and 08, for last: they then
run side by side after everything else and set the job's length. Here the notebooks with the most `#| slow` cells
(a measure of their length that needs no earlier run) start first, so the workers are busy to the end together.
Prints each notebook's seconds, longest first, as `nbdev_test --timing` does, and exits 1 when one fails."""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path
from fastcore.parallel import parallel
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import test_nb

def slow_cells(nb: Path) -> int:
    "How many code cells of `nb` carry the `#| slow` flag (a mention in prose or an output does not count)."
    cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
    return sum(c['cell_type'] == 'code' and any(l.strip() == '#| slow' for l in ''.join(c['source']).splitlines()) for c in cells)

def longest_first(nbs: list[Path]) -> list[Path]:
    "`nbs` ordered by their number of `#| slow` cells, most first, then by path."
    return sorted(nbs, key=lambda p: (-slow_cells(p), str(p)))

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--workers', type=int, default=2, help='notebooks run at once')
    ap.add_argument('--fast', action='store_true', help='skip the `#| slow` cells')
    args = ap.parse_args(argv)
    cfg = get_config()
    nbs = longest_first([Path(p).absolute() for p in nbglob(cfg.nbs_path, as_path=True)])
    skip, force = cfg.tst_flags.split(), ([] if args.fast else ['slow'])
    with working_directory(cfg.nbs_path):
        results = parallel(test_nb, nbs, skip_flags=skip, force_flags=force, n_workers=args.workers, basepath=cfg.config_path, pause=0.01)
    failed = [p.name for p, (ok, _) in zip(nbs, results) if not ok]
    for p, (_, secs) in sorted(zip(nbs, results), key=lambda o: -o[1][1]): print(f"{p.name}: {int(secs)} secs")
    if failed: print("notebooks that failed:", *failed, sep='\n\t', file=sys.stderr); return 1
    print("Success.")
    return 0

if __name__ == '__main__': sys.exit(main())
