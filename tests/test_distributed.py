"""Data-parallel training across 2 CPU processes with torchrun (gloo): it finishes, every rank ends with the same
weights, and the final validation loss matches a single-process fit with the same global batch and seed."""
import json, math, os, subprocess, sys, time
from pathlib import Path
import pytest, torch
from puffin.deep.autoencoder import VAE, AETrainer
from puffin.deep.model import Autoencoder
from puffin.deep.launch import synthetic_workload
import torch.distributed as dist
from puffin.deep.distributed import _fingerprint, _zero_gradients, is_main_process, launched_by_torchrun, world_size

ARGS = dict(rows=3000, features=12, latent=3, hidden=[32, 16], epochs=4, batch=64, seed=0)
TOLERANCE = 0.05  # relative: the two runs see the same global batches but draw different reparameterisation noise

def _single_process_history():
    X = synthetic_workload(ARGS['rows'], ARGS['features'], ARGS['seed'])
    torch.manual_seed(ARGS['seed'])
    model = VAE(ARGS['features'], ARGS['latent'], hidden_dims=ARGS['hidden'])
    return AETrainer('cpu').fit(model, X, epochs=ARGS['epochs'], batch_size=ARGS['batch'], seed=ARGS['seed'], path='autograd')

def test_torchrun_two_processes(tmp_path):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'puffin.deep.launch',
           '--rows', str(ARGS['rows']), '--features', str(ARGS['features']), '--latent', str(ARGS['latent']),
           '--hidden', *map(str, ARGS['hidden']), '--epochs', str(ARGS['epochs']), '--batch-size', str(ARGS['batch']),
           '--seed', str(ARGS['seed']), '--threads', '1', '--out', str(tmp_path), '--dump-ranks']
    env = os.environ | {'OMP_NUM_THREADS': '1'}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    history = json.loads((tmp_path/'history.json').read_text())
    assert history['path'] == 'ddp' and history['world_size'] == 2 and history['epochs_run'] == ARGS['epochs']
    w0, w1 = (torch.load(tmp_path/f'rank{r}.pt', weights_only=True) for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "ranks ended with different weights"
    single = _single_process_history()
    rel = abs(history['val_loss'][-1] - single['val_loss'][-1]) / single['val_loss'][-1]
    assert rel < TOLERANCE, f"DDP val loss {history['val_loss'][-1]:.4f} vs single process {single['val_loss'][-1]:.4f}"
    assert (tmp_path/'model.pt').exists() and 'ddp x2' in res.stdout

def _torchrun_result(script: Path, source: str) -> dict:
    "Write `source` to `script`, run it in 2 processes under torchrun, and return the JSON rank 0 printed after 'RESULT '."
    script.write_text(source)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(script)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=os.environ | {'OMP_NUM_THREADS': '1'})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads(next(l for l in res.stdout.splitlines() if l.startswith('RESULT '))[7:])

TINY = """
import json, torch
from puffin.deep.autoencoder import VAE, AETrainer
from puffin.deep.distributed import is_main_process
torch.manual_seed(0); X = torch.randn(21, 6)
h = AETrainer('cpu').fit(VAE(6, 2, hidden_dims=[8]), X, epochs=2, batch_size=8, validation_split=0.05, seed=0)  # 1 validation row, 2 ranks
out = dict(val_loss=h['val_loss'])
h = AETrainer('cpu').fit(VAE(6, 2, hidden_dims=[8]), X[:2], epochs=1, validation_split=0.5, seed=0)  # 1 training row, 1 validation row
out['few'] = h['train_loss'] + h['val_loss']
if is_main_process(): print('RESULT ' + json.dumps(out))
"""

def test_torchrun_tiny_shards(tmp_path):
    "A validation set smaller than the number of ranks gives a finite loss; so does one training row for two ranks; two fits in one script do not hang."
    out = _torchrun_result(tmp_path/'tiny.py', TINY)
    assert len(out['val_loss']) == 2 and all(math.isfinite(v) for v in out['val_loss']), out
    assert len(out['few']) == 2 and all(math.isfinite(v) for v in out['few']), out

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_cuda_fit_matches_history_shape():
    X = synthetic_workload(2000, 12, 0)
    h = AETrainer('cuda').fit(VAE(12, 3, hidden_dims=[32]), X, epochs=2, seed=0)
    assert h['path'] == 'autograd' and len(h['val_loss']) == 2

GUARDS = """
import json, os, torch
from puffin.deep.autoencoder import VAE, AETrainer
from puffin.deep.model import Autoencoder
from puffin.deep.generative import LikelihoodVAE
from puffin.deep.distributed import is_main_process
RANK = int(os.environ['RANK'])   # the group is joined by the first fit
out = {}
def attempt(name, f):
    try: out[name] = f()
    except Exception as e: out[name] = f'{type(e).__name__}: {e}'
torch.manual_seed(0); X = torch.randn(120, 6)
# a refusal on one rank is a refusal on all: rank 1 alone gets a NaN, both raise, neither waits for the other
Xr = X.clone()
if RANK == 1: Xr[5, 0] = float('nan')
attempt('nan_on_one', lambda: AETrainer('cpu').fit(VAE(6, 2, [8]), Xr, epochs=1, seed=0)['epochs_run'])
attempt('rows_differ', lambda: AETrainer('cpu').fit(VAE(6, 2, [8]), X[:100 + RANK], epochs=1, seed=0)['epochs_run'])
attempt('rows_reversed', lambda: AETrainer('cpu').fit(VAE(6, 2, [8]), X.flip(0) if RANK == 1 else X, epochs=1, seed=0)['epochs_run'])
attempt('batch_differs', lambda: AETrainer('cpu').fit(VAE(6, 2, [8]), X, epochs=1, batch_size=16 + 16 * RANK, seed=0)['epochs_run'])
attempt('path_fast', lambda: AETrainer('cpu').fit(VAE(6, 2, [8]), X, epochs=1, path='fast')['path'])
attempt('batch_1', lambda: AETrainer('cpu').fit(VAE(6, 2, [8]), X, epochs=1, batch_size=1)['path'])
attempt('seed_neg', lambda: AETrainer('cpu').fit(VAE(6, 2, [8]), X, epochs=1, seed=-5)['epochs_run'])
attempt('amp', lambda: AETrainer('cpu').fit(VAE(6, 2, [8]), X, epochs=1, amp=True, seed=0)['amp'])
attempt('likelihood', lambda: AETrainer('cpu').fit(LikelihoodVAE(6, 2, [8], kl_schedule='linear', warmup_steps=10), X, epochs=2, batch_size=16, seed=0)['train_loss'])
# full-batch training on 5 rows (3 on one rank, 2 on the other) follows the single-process optimisation
torch.manual_seed(0); ae = Autoencoder(6, 2, [8]); x5 = torch.randn(5, 6)
AETrainer('cpu').fit(ae, x5, epochs=20, batch_size=5, validation_split=0, path='autograd', seed=0)
out['ae5'] = [p.detach().flatten().tolist() for p in ae.parameters()]
if is_main_process(): print('RESULT ' + json.dumps(out))
"""

def test_torchrun_guards(tmp_path):
    "Refusals reach every rank; likelihood models, amp and uneven batches train under DDP as in one process."
    out = _torchrun_result(tmp_path/'guards.py', GUARDS)
    assert out['nan_on_one'].startswith('RuntimeError: another process of this torchrun job refused'), out['nan_on_one']   # rank 0's view
    for k in ('rows_differ', 'rows_reversed', 'batch_differs'): assert 'passed `fit` different rows or settings' in out[k], (k, out[k])
    assert "path='fast' is not possible under torchrun" in out['path_fast'], out['path_fast']
    assert 'smaller than the 2 processes' in out['batch_1'], out['batch_1']
    assert out['seed_neg'] == 1 and out['amp'] is True, out
    assert len(out['likelihood']) == 2 and all(math.isfinite(v) for v in out['likelihood']), out['likelihood']
    torch.manual_seed(0); ae = Autoencoder(6, 2, [8]); x5 = torch.randn(5, 6)
    AETrainer('cpu').fit(ae, x5, epochs=20, batch_size=5, validation_split=0, path='autograd', seed=0)
    single = torch.cat([p.detach().flatten() for p in ae.parameters()])
    ddp = torch.tensor([v for p in out['ae5'] for v in p])
    assert torch.allclose(single, ddp, atol=1e-5), (single - ddp).abs().max()

LAST_BATCH = """
import json, os, torch
from pathlib import Path
from puffin.deep.autoencoder import AETrainer
from puffin.deep.model import Autoencoder
from puffin.deep.generative import LikelihoodVAE
from puffin.deep.distributed import is_main_process
def flat(m): return torch.cat([p.detach().flatten() for p in m.parameters()])
def run(model, X, **kw):
    h = AETrainer('cpu').fit(model, X, validation_split=0, path='autograd', seed=0, **kw)
    return dict(w=flat(model).tolist(), train_loss=h['train_loss'])
torch.manual_seed(0); X = torch.randn(9, 6)
out = {}
torch.manual_seed(0); out['last1'] = run(Autoencoder(6, 2, [8]), X, epochs=2, batch_size=4, chronological=True)  # batches of 4, 4 and 1: rank 1 has no row of the last
torch.manual_seed(0); out['one_row'] = run(Autoencoder(6, 2, [8]), X[:1], epochs=3)                             # rank 1 has no row, ever
torch.manual_seed(0); lv = LikelihoodVAE(6, 2, [8], kl_schedule='linear', warmup_steps=10)
out['likelihood'] = run(lv, X, epochs=2, batch_size=4) | dict(step=int(lv.step))
# every rank writes what it ended with (the test compares them); a collective of the script's own here (all_gather)
# made 5 of 24 runs abort at exit under load, in gloo's teardown (before puffin left the group with a barrier)
Path(__file__).with_name(f"rank{os.environ['RANK']}.json").write_text(json.dumps(out))
if is_main_process(): print('RESULT ' + json.dumps(out))
"""

def _single_process_weights(X, **kw):
    torch.manual_seed(0); ae = Autoencoder(6, 2, [8])
    h = AETrainer('cpu').fit(ae, X, validation_split=0, path='autograd', seed=0, **kw)
    return torch.cat([p.detach().flatten() for p in ae.parameters()]), h['train_loss']

def test_torchrun_last_batch_smaller_than_world(tmp_path):
    "Every row trains in every epoch: a last batch with fewer rows than ranks (and a training set with fewer rows than ranks) gives a single process's weights and loss, the rank without a row adding a zero gradient."
    out = _torchrun_result(tmp_path/'last_batch.py', LAST_BATCH)
    other = json.loads((tmp_path/'rank1.json').read_text())
    torch.manual_seed(0); X = torch.randn(9, 6)
    # the chronological split draws no permutation, so the single process shuffles the epochs as rank 0 does
    for key, Xs, kw in (('last1', X, dict(epochs=2, batch_size=4, chronological=True)), ('one_row', X[:1], dict(epochs=3))):
        single, loss = _single_process_weights(Xs, **kw)
        ddp = torch.tensor(out[key]['w'])
        assert out[key]['w'] == other[key]['w'], f"{key}: ranks ended with different weights"
        assert torch.allclose(single, ddp, atol=1e-5), (key, (single - ddp).abs().max())
        assert torch.allclose(torch.tensor(out[key]['train_loss']), torch.tensor(loss), rtol=1e-5), (key, out[key]['train_loss'], loss)
    lv = out['likelihood']   # a likelihood model counts every batch, as in one process: 2 epochs of 4 + 4 + 1 rows
    assert lv['step'] == 6 and lv['w'] == other['likelihood']['w'] and all(math.isfinite(v) for v in lv['train_loss'] + lv['w']), lv

FAILING_RANK = """
import os, torch
from puffin.deep.autoencoder import AETrainer
from puffin.deep.model import Autoencoder
torch.manual_seed(0); X = torch.randn(64, 6)
AETrainer('cpu').fit(Autoencoder(6, 2, [8]), X, epochs=1, seed=0)
if os.environ['RANK'] == '0': raise ValueError('rank 0 fails here')
AETrainer('cpu').fit(Autoencoder(6, 2, [8]), X, epochs=50, seed=0)
"""

def test_torchrun_failing_rank_ends_the_job_quickly(tmp_path):
    "At exit the processes leave the gloo group together (a barrier), except after an uncaught error: then the failing rank leaves at once and the job fails fast, not after the barrier's 30 s timeout."
    script = tmp_path/'failing.py'; script.write_text(FAILING_RANK)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(script)]
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=os.environ | {'OMP_NUM_THREADS': '1'})
    took = time.perf_counter() - start
    assert res.returncode != 0 and 'rank 0 fails here' in res.stderr, res.stderr[-2000:]
    assert took < 25, f"the job took {took:.0f} s to fail: the failing rank waited at the exit barrier"


def test_fingerprint_and_zero_gradients():
    "The job fingerprint tells reordered rows and columns apart; a rank without a row sends exact zeros, also where inf * 0 would be NaN (moved from the scaling-out page)."
    X = torch.randn(100, 6)
    assert _fingerprint(X) != _fingerprint(X.flip(0)) and _fingerprint(X) != _fingerprint(X[:, [1, 0, 2, 3, 4, 5]])
    lin = torch.nn.Linear(3, 2)
    with _zero_gradients(lin): ((lin(torch.ones(1, 3)) * float('inf')).sum() * 0).backward()
    assert torch.equal(lin.weight.grad, torch.zeros(2, 3)) and torch.equal(lin.bias.grad, torch.zeros(2))
    lin.zero_grad(); lin(torch.ones(1, 3)).sum().backward()
    assert torch.equal(lin.bias.grad, torch.ones(2))   # the hooks are gone after the block


def test_is_main_process_outside_torchrun(monkeypatch):
    "A process torchrun did not launch is the main one, also with a stray RANK in its environment (it would never save otherwise); under torchrun, before the group is joined, only rank 0 is."
    assert not dist.is_initialized()
    monkeypatch.delenv('WORLD_SIZE', raising=False); monkeypatch.setenv('RANK', '1')
    assert (is_main_process(), launched_by_torchrun(), world_size()) == (True, False, 1)
    monkeypatch.setenv('WORLD_SIZE', '1'); assert is_main_process()          # torchrun --nproc_per_node=1
    monkeypatch.setenv('WORLD_SIZE', '2'); assert launched_by_torchrun() and not is_main_process()
    monkeypatch.setenv('RANK', '0'); assert is_main_process()
