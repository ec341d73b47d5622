"""Run every notebook's cells as `nbdev_test --flags slow --timing` does, the longest notebooks first.

    python tools/test_nbs.py [--workers 2] [--fast]     # --fast: skip the `#| slow` cells, as plain `nbdev_test`

`nbdev_test` takes the notebooks in path order, which leaves the two longest, recipes 07 and 08, for last: they then
run side by side after everything else and set the job's length. Here the notebooks with the most `#| slow` cells
(a measure of their length that needs no earlier run) start first, so the workers are busy to the end together.
Prints each notebook's seconds, longest first, as `nbdev_test --timing` does, and exits 1 when one fails.

A recipe's prose quotes its stored outputs, so each recipe's fresh outputs are compared with the stored ones, machine
timings masked (a number with a unit of time, a speed-up `x`, GFLOP/s, flops or MB): the code cells that read
differently are listed as stale (re-execute the notebook with `python tools/execute_nbs.py --slow` and check its
prose). A warning, not a failure: another CPU's rounding may move a trained model's last digits."""
from __future__ import annotations
import argparse, json, os, re, sys, time
from pathlib import Path
from fastcore.parallel import parallel
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import NBProcessor, FrontmatterProc, CaptureShell
sys.path.insert(0, str(Path(__file__).resolve().parent))   # this folder: execute_nbs here, and test_nbs by name in the workers
from execute_nbs import _CLEAR_LINE   # what execute_nbs drops from the stored outputs

def slow_cells(nb: Path) -> int:
    "How many code cells of `nb` carry the `#| slow` flag (a mention in prose or an output does not count)."
    cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
    return sum(c['cell_type'] == 'code' and any(l.strip() == '#| slow' for l in ''.join(c['source']).splitlines()) for c in cells)

def longest_first(nbs: list[Path]) -> list[Path]:
    "`nbs` ordered by their number of `#| slow` cells, most first, then by path."
    return sorted(nbs, key=lambda p: (-slow_cells(p), str(p)))

_TIMING = re.compile(r'[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?\s*(?:ms|us|µs|secs?|seconds?|s|x|GFLOP/s|flops|MB|MiB|GB)\b')

def output_text(cell: dict) -> str:
    "What a reader sees of a code cell's outputs, as text: streams (without terminal line clearing), tables (HTML without its tags and style sheets), plain results; figures and widgets left out, timings masked, runs of white space as one."
    out = []
    for o in cell.get('outputs', []):
        d = o.get('data', {})
        if o.get('output_type') == 'stream': out.append(''.join(o['text']).replace(_CLEAR_LINE, ''))
        elif o.get('output_type') == 'error': out.append(o.get('ename', ''))
        elif 'text/html' in d: out.append(re.sub(r'<[^>]+>', ' ', re.sub(r'<style.*?</style>', ' ', ''.join(d['text/html']), flags=re.S)))   # a Styler's CSS names a random id
        elif 'text/plain' in d and not {'image/png', 'application/vnd.jupyter.widget-view+json'} & d.keys(): out.append(''.join(d['text/plain']))
    return re.sub(r'\s+', ' ', _TIMING.sub('<t>', '\n'.join(out))).strip()

def stale_cells(stored: list[dict], fresh: list[dict]) -> list[int]:
    "Indices among the code cells whose fresh outputs read differently from the stored ones."
    return [i for i, (a, b) in enumerate(zip(stored, fresh)) if output_text(a) != output_text(b)]

def run_nb(fn: Path, skip_flags: list, force_flags: list, basepath=None) -> tuple[bool, float, list[int]]:
    "nbdev's `test_nb` for one notebook, keeping what the run printed: (passed, seconds, stale code cells; recipes only)."
    if basepath: sys.path.insert(0, str(basepath))
    os.environ['IN_TEST'] = '1'
    flags = set(skip_flags) - set(force_flags)
    stored = [c for c in json.loads(fn.read_text(encoding='utf-8'))['cells'] if c['cell_type'] == 'code']
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    def no_eval(cell):
        if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True   # as nbdev's: a notebook does not re-export itself
        direc = getattr(cell, 'directives_', {}) or {}
        return direc.get('eval:', [''])[0].lower() == 'false' or bool(flags & direc.keys())
    start, shell = time.time(), CaptureShell(fn)
    try:
        with working_directory(fn.parent): shell.run_all(nb, exc_stop=True, preproc=no_eval)
    except Exception:
        sys.stderr.write(shell.prettytb(fname=fn) + '\n')
        return False, time.time() - start, []
    fresh = [dict(outputs=c.get('outputs', [])) for c in nb.cells if c.cell_type == 'code']
    return True, time.time() - start, stale_cells(stored, fresh) if fn.parent.name == 'recipes' else []

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--workers', type=int, default=2, help='notebooks run at once')
    ap.add_argument('--fast', action='store_true', help='skip the `#| slow` cells')
    args = ap.parse_args(argv)
    cfg = get_config()
    nbs = longest_first([Path(p).absolute() for p in nbglob(cfg.nbs_path, as_path=True)])
    skip, force = cfg.tst_flags.split(), ([] if args.fast else ['slow'])
    import test_nbs                          # the worker processes find `run_nb` by the name of a module they can import
    with working_directory(cfg.nbs_path):
        results = parallel(test_nbs.run_nb, nbs, skip_flags=skip, force_flags=force, n_workers=args.workers, basepath=cfg.config_path, pause=0.01)
    failed = [p.name for p, (ok, *_) in zip(nbs, results) if not ok]
    for p, (_, secs, _) in sorted(zip(nbs, results), key=lambda o: -o[1][1]): print(f"{p.name}: {int(secs)} secs")
    for p, (ok, _, stale) in zip(nbs, results):
        if ok and stale and not args.fast:
            print(f"warning: {p.name}: the stored outputs of code cells {stale} differ from this run: stale? "
                  f"(python tools/execute_nbs.py --slow {p.relative_to(cfg.config_path)}, then check the prose)", file=sys.stderr)
    if failed: print("notebooks that failed:", *failed, sep='\n\t', file=sys.stderr); return 1
    print("Success.")
    return 0

if __name__ == '__main__': sys.exit(main())
