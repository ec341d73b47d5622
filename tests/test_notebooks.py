"Every notebook is a test: run each one's cells (except `notest`/`slow` ones) with nbdev's own runner."
from pathlib import Path
import os
import pytest
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_'))
FLAGS = os.environ.get('PUFFIN_TEST_FLAGS', '').split()  # e.g. PUFFIN_TEST_FLAGS=slow runs the slow cells too

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(ROOT/'nbs')) for p in NOTEBOOKS])
def test_notebook(nb, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv('IN_TEST', '1')   # nbdev's runner sets it and never unsets it; set here, monkeypatch removes it afterwards
    ok, secs = run_notebook(nb, skip_flags=[f for f in ('notest', 'slow') if f not in FLAGS], force_flags=FLAGS)
    assert ok, f"{nb.name} failed (see the traceback above)"

def test_notebooks_found():
    assert {'00_model.ipynb', '02_training.ipynb'} <= {p.name for p in NOTEBOOKS}
