"Edge cases of the fast engine that are not part of its lesson (moved from the fast path page)."
import torch
from puffin.deep.model import VAE
from puffin.deep.fastpath import FastEngine, _flushing_denormals

def test_an_epoch_puts_the_callers_denormal_setting_back():
    torch.manual_seed(0); eng = FastEngine(VAE(6, 2, [8], dropout=0.1), lr=1e-2); X = torch.randn(100, 6)
    was = _flushing_denormals()
    try:
        for setting in (True, False):   # an epoch flushes denormals (they are slow on x86), then restores the caller's choice
            torch.set_flush_denormal(setting); eng.train_epoch(X, 16)
            assert _flushing_denormals() == setting
    finally: torch.set_flush_denormal(was)

def test_a_private_generator_repeats_an_epoch_and_leaves_the_global_rng_alone():
    X = torch.randn(100, 6); out = []
    for _ in range(2):
        torch.manual_seed(0); eng = FastEngine(VAE(6, 2, [8], dropout=0.1), lr=1e-2, generator=torch.Generator().manual_seed(5))
        state = torch.get_rng_state(); out.append(eng.train_epoch(X, 16)); assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(out[0], out[1])

import copy, pytest
from threadpoolctl import threadpool_info, threadpool_limits
from puffin.deep.model import Autoencoder
from puffin.deep.training import AETrainer

def _blas_threads(): return [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']

@pytest.mark.parametrize('make', [lambda: VAE(10, 3, [12, 8], dropout=0.2, beta=2.0), lambda: VAE(10, 3, [], beta=0.5),
                                  lambda: Autoencoder(10, 3, [12], dropout=0.1)], ids=['vae', 'vae-no-hidden', 'ae'])
def test_numpy_step_equals_the_torch_step(make):
    "Small products go through numpy: the same updates as torch's products, epoch by epoch and in a single `step`."
    torch.manual_seed(0); m = make(); X = torch.randn(100, 10)
    engines = [FastEngine(copy.deepcopy(m), lr=1e-2, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    engines[1]._numpy_pays = lambda n: False                                 # the torch products, as before numpy's
    for _ in range(3):
        parts = [e.train_epoch(X, 16) for e in engines]
        assert engines[0]._epochs[(100, 10, 16)]['np'] and not engines[1]._epochs[(100, 10, 16)]['np']
        torch.testing.assert_close(parts[0], parts[1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(engines[0].gflat, engines[1].gflat, atol=1e-5, rtol=1e-4)   # the last step's gradients
        torch.testing.assert_close(engines[0].flat, engines[1].flat, atol=1e-5, rtol=1e-5)
    xb, eps = torch.randn(16, 10), torch.randn(16, 3)
    masks = {j: torch.bernoulli(torch.full((16, engines[0].kinds[j][2]), 0.8)) / 0.8 for j in engines[0].drop}
    steps = [e.step(xb, eps if e.vae else None, masks) for e in engines]
    torch.testing.assert_close(steps[0], steps[1], atol=1e-5, rtol=1e-5)
    for (n, g0), (_, g1) in zip(engines[0].grads().items(), engines[1].grads().items()): torch.testing.assert_close(g0, g1, atol=1e-5, rtol=1e-4, msg=n)

def test_numpy_products_only_where_they_pay():
    "W1's and W2's products go through numpy, W3's (256 wide) through torch's BLAS, where numpy's is no faster."
    assert FastEngine(VAE(100, 20, [80, 50, 30]))._numpy_pays(64) and FastEngine(VAE(20, 8, [64, 32]))._numpy_pays(64)
    assert not FastEngine(VAE(100, 20, [256, 128]))._numpy_pays(64) and not FastEngine(VAE(100, 20, [80, 50, 30]))._numpy_pays(1024)

def test_numpy_products_run_on_torchs_threads_and_give_blas_its_setting_back():
    "Inside an epoch numpy's BLAS runs on torch's thread count; after it, and after a fit, numpy's own setting is back."
    torch.manual_seed(0); e = FastEngine(VAE(10, 3, [12])); seen, real = [], e._step_np
    e._step_np = lambda *st: (seen.append(_blas_threads()), real(*st))
    old = torch.get_num_threads()
    with threadpool_limits(2, user_api='blas'):
        before = _blas_threads()
        try:
            torch.set_num_threads(1); e.train_epoch(torch.randn(64, 10), 32)
        finally: torch.set_num_threads(old)
        assert seen and all(s == [1] * len(s) for s in seen)
        assert _blas_threads() == before
        AETrainer('cpu').fit(VAE(10, 3, [12]), torch.randn(64, 10), epochs=2, batch_size=32, seed=0, threads=1)
        assert _blas_threads() == before
