"Library modules import no plotting or widget package at import time; only puffin.plots and puffin.widgets do."
import subprocess, sys
import pytest

LIBRARY = ['puffin.deep.autoencoder', 'puffin.deep.engine', 'puffin.deep.fastpath', 'puffin.deep.persist', 'puffin.deep.distributed',
           'puffin.deep.launch', 'puffin.deep.generative', 'puffin.data', 'puffin.quality', 'puffin.paths', 'puffin.anomaly', 'puffin.latent', 'puffin.generate']

def _imported_after(modules: list[str]) -> set[str]:
    code = f"import sys; {'; '.join(f'import {m}' for m in modules)}; print(' '.join(sorted({{n.split('.')[0] for n in sys.modules}})))"
    return set(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split())

def test_library_imports_no_plotting_or_widgets():
    loaded = _imported_after(LIBRARY)
    assert not loaded & {'matplotlib', 'ipywidgets', 'IPython'}, loaded & {'matplotlib', 'ipywidgets', 'IPython'}

@pytest.mark.parametrize('module, package', [('puffin.plots', 'matplotlib'), ('puffin.widgets', 'ipywidgets')])
def test_plotting_and_widget_modules_do(module, package):
    assert package in _imported_after([module])

def test_library_imports_no_widgets_in_a_kernel():
    "In a Jupyter kernel too (tqdm.auto, imported at module level, would load ipywidgets there): run the imports in a real ipykernel."
    nbformat, nbclient = pytest.importorskip('nbformat'), pytest.importorskip('nbclient')
    pytest.importorskip('ipykernel')
    code = ("import sys\nbefore = {n.split('.')[0] for n in sys.modules}\n" + '\n'.join(f'import {m}' for m in LIBRARY)
            + "\nprint(' '.join(sorted({n.split('.')[0] for n in sys.modules} - before)))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name='python3').execute()
    loaded = set(nb.cells[0].outputs[0]['text'].split())
    assert 'torch' in loaded, loaded   # the imports ran in this kernel
    assert not loaded & {'matplotlib', 'ipywidgets'}, loaded & {'matplotlib', 'ipywidgets'}

@pytest.mark.parametrize('module', ['puffin._args', 'puffin.data', 'puffin.quality', 'puffin.paths', 'puffin.plots'])
def test_torch_free_modules_load_no_torch(module):
    "The argument-checks page says these load without torch (the plots' Axes check once pulled it in through puffin.deep.checks)."
    assert 'torch' not in _imported_after([module])
