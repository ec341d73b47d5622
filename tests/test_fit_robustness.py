"fit under threads, interruption and no-grad contexts (issue #20, points 5 and 6): each test failed on the code before."
import threading, time
import numpy as np, pytest, torch
from puffin.deep.autoencoder import VAE, AETrainer
from puffin.deep.fastpath import FastEngine

X = np.random.default_rng(0).standard_normal((400, 10)).astype(np.float32)

def fit_weights(path, seed):
    "A fresh model with seeded initial weights (drawn before any thread starts)."
    torch.manual_seed(100 + seed); return VAE(10, 3, [32, 16], dropout=0.1)

def trained(m, path, seed, **kw):
    "`m`'s weights after a seeded fit, as one flat tensor."
    AETrainer('cpu').fit(m, X, epochs=kw.pop('epochs', 4), batch_size=32, seed=seed, path=path, **kw)
    return torch.cat([p.detach().flatten() for p in m.parameters()])

@pytest.mark.parametrize('path', ['fast', 'autograd'])
def test_two_threads_fit_as_one_after_the_other(path):
    models = {s: fit_weights(path, s) for s in (1, 2)}
    alone = {s: trained(fit_weights(path, s), path, s) for s in (1, 2)}
    got = {}
    threads = [threading.Thread(target=lambda s=s: got.__setitem__(s, trained(models[s], path, s))) for s in (1, 2)]
    for t in threads: t.start()
    for t in threads: t.join()
    for s in (1, 2): assert torch.equal(got[s], alone[s]), (path, s, (got[s] - alone[s]).abs().max())

def test_a_seeded_fast_fit_leaves_another_threads_draws_alone():
    stop, got, models = threading.Event(), [], [fit_weights('fast', s) for s in range(3)]
    def draw():
        torch.manual_seed(123)
        while not stop.is_set(): got.append(torch.rand(1).item()); time.sleep(0.0005)   # draws all through the fits
    t = threading.Thread(target=draw); t.start()
    for s, m in enumerate(models): trained(m, 'fast', s, epochs=12)   # seeded fits on the fast path, while the thread draws
    stop.set(); t.join()
    torch.manual_seed(123)
    assert len(got) >= 10 and got == torch.rand(len(got)).tolist()   # the numbers it would have drawn alone

class Interrupt:
    "Make the engine's `train_epoch` raise KeyboardInterrupt on call number `at` (1-based), like Ctrl-C in the middle of an epoch."
    def __init__(self, monkeypatch, at):
        self.n, real = 0, FastEngine.train_epoch
        def epoch(eng, *a, **k):
            self.n += 1
            if self.n == at:
                real(eng, *a, **k)   # the epoch's steps ran (weights moved), then Ctrl-C
                raise KeyboardInterrupt
            return real(eng, *a, **k)
        monkeypatch.setattr(FastEngine, 'train_epoch', epoch)

@pytest.mark.parametrize('patience', [None, 50])
def test_ctrl_c_keeps_the_history_and_the_best_weights(monkeypatch, patience):
    expected_model = fit_weights('fast', 0)
    expected = trained(expected_model, 'fast', 0, epochs=6, patience=patience)
    m = fit_weights('fast', 0)
    Interrupt(monkeypatch, at=7)
    with pytest.warns(UserWarning, match='interrupted'):
        h = AETrainer('cpu').fit(m, X, epochs=20, batch_size=32, seed=0, path='fast', patience=patience)
    assert h['interrupted'] and h['epochs_run'] == 6 and len(h['train_loss']) == 6 and not h['stopped_early']
    assert torch.equal(torch.cat([p.detach().flatten() for p in m.parameters()]), expected)   # best (patience) or last whole epoch
    assert not m.training

@pytest.mark.parametrize('path', ['fast', 'autograd'])
@pytest.mark.parametrize('ctx', [torch.no_grad, torch.inference_mode])
def test_fit_inside_no_grad_and_inference_mode(path, ctx):
    m = fit_weights(path, 0)
    with ctx(): inside = trained(m, path, 0, epochs=2)
    assert all(not p.is_inference() for p in m.parameters())
    assert torch.equal(inside, trained(fit_weights(path, 0), path, 0, epochs=2))   # the same fit as outside the block
    assert AETrainer('cpu').fit(m, X, epochs=1, seed=0, path='autograd')['epochs_run'] == 1   # a later autograd fit still works
