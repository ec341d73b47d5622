"`tools/execute_nbs.py` stores what a fresh kernel prints: a notebook's outputs do not depend on which notebooks ran before it."
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _notebook(path: Path, *sources: str) -> Path:
    cells = [dict(cell_type='code', execution_count=None, id=f'c{i}', metadata={}, outputs=[], source=s) for i, s in enumerate(sources)]
    path.write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)))
    return path

def _printed(path: Path) -> str:
    return ''.join(''.join(o.get('text', '')) for c in json.loads(path.read_text())['cells'] for o in c.get('outputs', []))

def test_each_notebook_runs_in_a_fresh_process(tmp_path):
    first = _notebook(tmp_path/'a.ipynb', "import pandas as pd, torch\npd.set_option('display.precision', 1); torch.manual_seed(123); torch.set_num_threads(2)")
    second = _notebook(tmp_path/'b.ipynb', "import pandas as pd, torch\nprint(pd.get_option('display.precision'), torch.initial_seed() == 123, torch.get_num_threads())")
    subprocess.run([sys.executable, ROOT/'tools'/'execute_nbs.py', str(first), str(second)], cwd=ROOT, check=True, capture_output=True)
    assert _printed(second).split() == ['6', 'False', '1'], _printed(second)   # pandas' default, torch's own seed, one thread

def test_the_main_job_starts_the_longest_notebooks_first(tmp_path):
    "`tools/test_nbs.py` orders the notebooks by their `#| slow` cells, most first (ties by path), so two workers end together."
    mod = _test_nbs()
    a = _notebook(tmp_path/'a.ipynb', "1")
    b = _notebook(tmp_path/'b.ipynb', "#| slow\n1", "#| slow\n2")
    c = _notebook(tmp_path/'c.ipynb', "#| slow\n1")
    d = _notebook(tmp_path/'d.ipynb', "#| slow\n1")
    assert mod.longest_first([a, d, c, b]) == [b, c, d, a]

def _test_nbs():
    import importlib.util
    spec = importlib.util.spec_from_file_location('test_nbs', ROOT/'tools'/'test_nbs.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def test_the_main_job_finds_stale_recipe_outputs(tmp_path):
    "A recipe whose stored output no longer matches a fresh run is reported (its code cell's index); timings do not count."
    mod = _test_nbs()
    printed = lambda text: dict(outputs=[dict(output_type='stream', name='stdout', text=[text])])
    table = lambda v: dict(outputs=[dict(output_type='execute_result', data={'text/html': [f'<table><tr><td>{v}</td></tr></table>'], 'text/plain': [v]})])
    assert mod.output_text(printed('fit in 0.3 s, 8.1x, 91 GFLOP/s; AP 0.919\n')) == mod.output_text(printed('fit in 1.25 s, 6.4x, 78 GFLOP/s; AP 0.919'))
    styled = lambda uid: dict(outputs=[dict(output_type='display_data', data={'text/html': [f'<style type="text/css">#T_{uid}_row0 {{color: red}}</style><table id="T_{uid}"><tr><td>1</td></tr></table>']})])
    assert mod.output_text(styled('854f3')) == mod.output_text(styled('04682'))   # pandas' Styler draws a new id each run
    assert mod.output_text(printed('\x1b[2K\r\x1b[2K\r')) == mod.output_text(dict(outputs=[]))   # a widget's redraw, which execute_nbs does not store
    assert mod.stale_cells([printed('AP 0.919'), table('0.5'), table('0.7')], [printed('AP 0.913'), table('0.5'), table('0.8')]) == [0, 2]
    rec = tmp_path/'recipes'; rec.mkdir()
    nb = _notebook(rec/'r.ipynb', "print('AP', round(0.9131, 3))", "print('fit in', 0.1, 's')")
    cells = json.loads(nb.read_text()); cells['cells'][0]['outputs'] = printed('AP 0.919\n')['outputs']; cells['cells'][1]['outputs'] = printed('fit in 7.0 s\n')['outputs']
    nb.write_text(json.dumps(cells))
    ok, _, stale = mod.run_nb(nb, ['notest'], ['slow'])
    assert ok and stale == [0]

def test_the_main_job_runner_as_a_script(tmp_path):
    "`python tools/test_nbs.py` in a project of its own: both workers run (the pool must find `run_nb` by a module name), a stale recipe is a warning, a failing notebook exits 1."
    (tmp_path/'settings.ini').write_text("[DEFAULT]\nrepo = x\nlib_name = x\nversion = 0.0.1\nnbs_path = nbs\nlib_path = x\ndoc_path = _docs\ntst_flags = notest\n")
    (tmp_path/'nbs'/'recipes').mkdir(parents=True)
    _notebook(tmp_path/'nbs'/'a.ipynb', "print(1)")
    _notebook(tmp_path/'nbs'/'recipes'/'r.ipynb', "print('AP', 0.5)")   # stored without outputs: stale
    run = lambda: subprocess.run([sys.executable, ROOT/'tools'/'test_nbs.py', '--workers', '2'], cwd=tmp_path, capture_output=True, text=True)
    r = run()
    assert r.returncode == 0 and 'Success.' in r.stdout, r.stderr
    assert 'warning: r.ipynb: the stored outputs of code cells [0] differ' in r.stderr
    _notebook(tmp_path/'nbs'/'b.ipynb', "raise ValueError('boom')")
    r = run()
    assert r.returncode == 1 and 'b.ipynb' in r.stderr

def test_line_clearing_is_not_stored(tmp_path):
    "A widget's redraw calls `clear_output`, which outside a notebook prints only ANSI line clearing: nothing a reader should see."
    nb = _notebook(tmp_path/'a.ipynb', "from IPython.display import clear_output\nclear_output(); print('kept')")
    subprocess.run([sys.executable, ROOT/'tools'/'execute_nbs.py', str(nb)], cwd=ROOT, check=True, capture_output=True)
    assert _printed(nb) == 'kept\n', repr(_printed(nb))
