"Library modules import no plotting or widget package at import time; only puffin.plots and puffin.widgets do."
import subprocess, sys
import pytest

LIBRARY = ['puffin.deep.autoencoder', 'puffin.deep.engine', 'puffin.deep.fastpath', 'puffin.deep.persist', 'puffin.deep.distributed',
           'puffin.deep.launch', 'puffin.deep.generative', 'puffin.data', 'puffin.quality', 'puffin.anomaly', 'puffin.generate']

def _imported_after(modules: list[str]) -> set[str]:
    code = f"import sys; {'; '.join(f'import {m}' for m in modules)}; print(' '.join(sorted({{n.split('.')[0] for n in sys.modules}})))"
    return set(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split())

def test_library_imports_no_plotting_or_widgets():
    loaded = _imported_after(LIBRARY)
    assert not loaded & {'matplotlib', 'ipywidgets', 'IPython'}, loaded & {'matplotlib', 'ipywidgets', 'IPython'}

@pytest.mark.parametrize('module, package', [('puffin.plots', 'matplotlib'), ('puffin.widgets', 'ipywidgets')])
def test_plotting_and_widget_modules_do(module, package):
    assert package in _imported_after([module])
