"""Execute notebooks top to bottom and save their outputs in place (figures and tables for the docs).

    python tools/execute_nbs.py [NOTEBOOK ...]      # default: every notebook under nbs/
    python tools/execute_nbs.py --slow              # also run cells flagged `#| slow`

Cells flagged `#| notest` (and `#| slow` unless --slow) or `#| eval: false` are skipped, as in `nbdev_test`; outputs are then cleaned
of volatile metadata with `nbdev_clean`, notebook by notebook. Each notebook runs in a fresh Python process, as in a fresh
kernel: run in one process, a notebook inherited the previous ones' global RNG state and pandas display options, so its
stored outputs depended on which notebooks ran before it. One intra-op thread (OMP_NUM_THREADS=1) unless set, as in the tests."""
from __future__ import annotations
import argparse, os, subprocess, sys, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.process import extract_directives

ROOT = Path(__file__).resolve().parents[1]

def _skip(flags: set[str]):
    "A preprocessor for `CaptureShell.run_all` that skips cells carrying any of `flags` (the source is left intact)."
    def f(cell):
        if cell.cell_type != 'code': return True
        directives = extract_directives(cell, remove=False)
        skip = bool(flags & set(directives)) or directives.get('eval:', [''])[0].lower() == 'false'
        if not skip: cell['outputs'] = []   # execnb stores outputs only when there are some: a cell that prints nothing now must not keep what it printed before
        return skip
    return f

def execute(nb_path: Path, slow: bool=False) -> float:
    "Run `nb_path` in a fresh shell from its own folder and write the outputs back; returns seconds taken."
    start, cwd = time.time(), os.getcwd()
    nb = read_nb(nb_path)
    shell = CaptureShell(nb_path)
    try:
        os.chdir(nb_path.parent)
        shell.run_all(nb, exc_stop=True, preproc=_skip({'notest'} if slow else {'notest', 'slow'}))
    finally: os.chdir(cwd)
    for cell in nb.cells:
        if cell.cell_type == 'code': cell['outputs'] = [o for o in map(_unclear, cell.outputs) if not _empty(o)]
    write_nb(nb, nb_path)
    return time.time() - start

def _empty(output) -> bool:
    "A display or result with nothing to show (an object that displays itself, e.g. a widget, leaves one behind), or printed text left empty by `_unclear`."
    if output.get('output_type') == 'stream': return not ''.join(output.get('text', ''))
    return output.get('output_type') in ('display_data', 'execute_result') and not output.get('data')

_CLEAR_LINE = '\x1b[2K\r'   # what IPython's `clear_output` prints outside a notebook (a widget's redraw): nothing a reader should see

def _unclear(output):
    "`output` without the terminal line clearing in its printed text."
    if output.get('output_type') == 'stream' and _CLEAR_LINE in ''.join(output.get('text', '')):
        output['text'] = ''.join(output['text']).replace(_CLEAR_LINE, '')
    return output

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', type=Path)
    ap.add_argument('--slow', action='store_true', help='also run cells flagged `#| slow`')
    ap.add_argument('--in-process', action='store_true', help=argparse.SUPPRESS)   # the child that runs one notebook
    args = ap.parse_args(argv)
    if args.in_process:
        for p in args.notebooks: print(f"{execute(p.resolve(), args.slow):6.1f} s  {p}", flush=True)
        return
    nbs = args.notebooks or sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
    env = os.environ | {'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
    for p in nbs:
        subprocess.run([sys.executable, __file__, '--in-process', *(['--slow'] if args.slow else []), str(p.resolve())], check=True, env=env)
        subprocess.run([Path(sys.executable).parent/'nbdev_clean', '--fname', str(p.resolve())], cwd=ROOT, check=True)

if __name__ == '__main__': main()
