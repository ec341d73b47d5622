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
    import importlib.util
    spec = importlib.util.spec_from_file_location('test_nbs', ROOT/'tools'/'test_nbs.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    a = _notebook(tmp_path/'a.ipynb', "1")
    b = _notebook(tmp_path/'b.ipynb', "#| slow\n1", "#| slow\n2")
    c = _notebook(tmp_path/'c.ipynb', "#| slow\n1")
    d = _notebook(tmp_path/'d.ipynb', "#| slow\n1")
    assert mod.longest_first([a, d, c, b]) == [b, c, d, a]
