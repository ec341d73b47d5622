"The exported package and the notebooks agree: `nbdev_export` and `nbdev_clean` change nothing."
from pathlib import Path
import filecmp, shutil, subprocess, sys
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def _copy_project(dst: Path) -> Path:
    for name in ('settings.ini', 'setup.py', 'pyproject.toml', '_quarto.yml', 'README.md'):
        if (ROOT/name).exists(): shutil.copy(ROOT/name, dst/name)
    shutil.copytree(ROOT/'nbs', dst/'nbs', symlinks=True, ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    shutil.copytree(ROOT/'puffin', dst/'puffin', ignore=shutil.ignore_patterns('__pycache__'))
    return dst

def _diff(a: Path, b: Path) -> list[str]:
    "Relative paths of files that differ, or exist on one side only, between trees `a` and `b`."
    out, cmp = [], filecmp.dircmp(a, b, ignore=['__pycache__', '.ipynb_checkpoints'])
    def walk(c, rel):
        out.extend(str(rel/n) for n in c.left_only + c.right_only + c.diff_files)
        for n, sub in c.subdirs.items(): walk(sub, rel/n)
    walk(cmp, Path('.'))
    return out

def test_export_has_no_drift(tmp_path):
    proj = _copy_project(tmp_path)
    subprocess.run([BIN/'nbdev_export'], cwd=proj, check=True, capture_output=True)
    drift = _diff(ROOT/'puffin', proj/'puffin')
    assert not drift, f"puffin/ differs from what the notebooks export: {drift}. Edit nbs/, then run nbdev_export."

def test_notebooks_are_clean(tmp_path):
    proj = _copy_project(tmp_path)
    subprocess.run([BIN/'nbdev_clean'], cwd=proj, check=True, capture_output=True)
    dirty = _diff(ROOT/'nbs', proj/'nbs')
    assert not dirty, f"notebooks not cleaned: {dirty}. Run nbdev_clean."

def test_drift_check_can_fail(tmp_path):
    proj = _copy_project(tmp_path)
    (proj/'puffin'/'deep'/'model.py').write_text('# hand edit\n')
    assert _diff(ROOT/'puffin', proj/'puffin') == ['deep/model.py']
