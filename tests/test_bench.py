"""The speed benchmark's pieces run and agree on a tiny workload (the script itself takes minutes: it is not run here).
Its children set torch's and numpy's thread counts for their process; conftest's one thread makes that a no-op here."""
import math
import pytest

TINY = dict(n=120, d=6, k=2, hidden=[8], epochs=3, bs=16, val=0.2)

@pytest.fixture(scope='module')
def bench(load_bench): return load_bench('train_speed')

def test_textbook_and_fit_train_the_same_workload(bench):
    tb, ft = bench.run_textbook(TINY), bench.run_fit(TINY)
    assert ft['path'] == 'fast' and ft['threads'] == 1
    assert math.isfinite(tb['val_loss']) and math.isfinite(ft['val_loss'])
    assert abs(tb['val_loss'] - ft['val_loss']) < 0.25 * tb['val_loss']   # same model, data, seed and number of updates

@pytest.mark.parametrize('blas', ['torch', 'numpy'])
def test_floor_times_the_products_through_either_blas(bench, blas):
    res = bench.run_floor(TINY, blas)
    assert res['seconds'] > 0 and res['threads'] == 1

def test_table_lists_every_kind(bench, monkeypatch, capsys):
    "main() prints one row per workload with the floor through both libraries (children stubbed: no timing here)."
    for k in ('PUFFIN_BENCH_DEVICE', 'PUFFIN_BENCH_AMP'): monkeypatch.setenv(k, '')   # main() sets them for its children: put them back afterwards
    fake = dict(seconds=1.0, val_loss=1.5, threads=1, path='fast', peak_mb=10.0)
    monkeypatch.setattr(bench, 'spawn', lambda kind, name: dict(fake, seconds={'textbook': 4.0, 'fit': 1.0, 'floor': 0.5, 'floor_np': 0.4}[kind]))
    bench.main(['--runs', '1', '--workloads', 'W1'])
    row = [l for l in capsys.readouterr().out.splitlines() if l.startswith('| W1 ')][0]
    assert '| 4.0x |' in row and row.rstrip().endswith('| 0.5 | 2.00x | 0.4 |'), row

def test_fit_on_torchs_products_is_the_same_fit(bench):
    "The kind 'fit_torch' (the fast path before numpy's products) trains the same model to the same loss, and puts numpy's choice back."
    from puffin.deep.fastpath import FastEngine
    pays = FastEngine._numpy_pays
    a, b = bench.run_fit(TINY), bench.run_fit(TINY, 'torch')
    assert FastEngine._numpy_pays is pays and a['cpu'] >= 0 and b['cpu'] >= 0
    assert abs(a['val_loss'] - b['val_loss']) < 1e-4 * abs(a['val_loss'])

def test_products_table(bench, monkeypatch, capsys):
    "--torch-products --kinds fit,fit_torch prints only the before/after table, with the CPU ratio (children stubbed)."
    for k in ('PUFFIN_BENCH_DEVICE', 'PUFFIN_BENCH_AMP'): monkeypatch.setenv(k, '')
    fake = dict(val_loss=1.5, threads=1, path='fast', peak_mb=10.0)
    monkeypatch.setattr(bench, 'spawn', lambda kind, name: dict(fake, seconds={'fit': 1.0, 'fit_torch': 1.2}[kind], cpu={'fit': 0.5, 'fit_torch': 0.6}[kind]))
    bench.main(['--runs', '2', '--workloads', 'W1', '--torch-products', '--kinds', 'fit,fit_torch'])
    rows = [l for l in capsys.readouterr().out.splitlines() if l.startswith('| W1 ')]
    assert len(rows) == 1 and '| 1.20x | 1.20x (1.20-1.20) |' in rows[0], rows
