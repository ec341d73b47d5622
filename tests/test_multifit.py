"""`fit_many`: each of K models ends as its own seeded fast `fit` would (weights within float rounding, same histories),
with dropout, per-model beta, early stopping and divergence; bad input names the argument; on CUDA (skipped
without a GPU) the same results as the CPU fits, with and without a CUDA graph."""
import math, pytest, torch
from puffin.deep.model import VAE, Autoencoder
from puffin.deep.training import AETrainer, TrainingDiverged
from puffin.deep.generative import LikelihoodVAE
from puffin.deep.multifit import fit_many

X = torch.randn(240, 10, generator=torch.Generator().manual_seed(0))
KEYS = ('train_loss', 'train_recon', 'train_kl', 'val_loss', 'val_recon', 'val_kl')

def _models(make, n=3, seed=0):
    torch.manual_seed(seed); return [make(i) for i in range(n)]

def _assert_same(singles, many, hs, hm, atol=1e-5):
    for a, b, h1, h2 in zip(singles, many, hs, hm, strict=True):   # one history per model: a short list fails
        for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(q.detach().cpu(), p.detach(), atol=atol, rtol=0, msg=name)
        for k in KEYS: assert h1[k] == pytest.approx(h2[k], rel=1e-4, abs=1e-5), k
        for k in ('best_epoch', 'stopped_early', 'epochs_run', 'interrupted'): assert h1[k] == h2[k], k

def _both(make, seeds=(3, 4, 5), device=None, graph=False, **kw):
    singles, many = _models(make, len(seeds)), _models(make, len(seeds))
    hs = [AETrainer().fit(m, X, seed=s, path='fast', **kw) for m, s in zip(singles, seeds)]
    hm = fit_many(many, X, list(seeds), device=device, graph=graph, **kw)
    return singles, many, hs, hm

@pytest.mark.parametrize('make', [lambda i: VAE(10, 3, [12, 8], dropout=0.2), lambda i: Autoencoder(10, 3, [12, 8], dropout=0.1),
                                  lambda i: Autoencoder(10, 3, [12]), lambda i: VAE(10, 3, [12], beta=[0.5, 1.0, 4.0][i])],
                         ids=['vae-dropout', 'ae-dropout', 'ae', 'vae-betas'])
def test_equals_single_fits(make):
    _assert_same(*_both(make, epochs=4, batch_size=32))

def test_odd_batches_no_validation_chronological():
    _assert_same(*_both(lambda i: VAE(10, 3, [12]), epochs=3, batch_size=50, validation_split=0))
    _assert_same(*_both(lambda i: VAE(10, 3, [12]), epochs=3, batch_size=50, chronological=True, weight_decay=0.01))

def test_rows_of_its_own_per_model():
    "X as a list of K row sets: model i ends as its single fit on X[i] (the rows differ, their count does not), chronological split included."
    Xs = [X[torch.randperm(240, generator=torch.Generator().manual_seed(s))[:200]] for s in (7, 8, 9)]
    for kw in (dict(), dict(chronological=True, validation_split=0.25)):
        singles, many = _models(lambda i: VAE(10, 3, [12], dropout=0.1)), _models(lambda i: VAE(10, 3, [12], dropout=0.1))
        hs = [AETrainer().fit(m, Xi, seed=s, path='fast', epochs=3, batch_size=32, **kw) for m, Xi, s in zip(singles, Xs, (3, 4, 5))]
        hm = fit_many(many, [x.numpy() for x in Xs[:2]] + [Xs[2]], [3, 4, 5], epochs=3, batch_size=32, **kw)   # arrays and tensors alike
        _assert_same(singles, many, hs, hm)

@pytest.mark.parametrize('restore_best', [True, False])
def test_early_stopping_per_model(restore_best):
    singles, many, hs, hm = _both(lambda i: VAE(10, 3, [12], dropout=0.3), seeds=(0, 1, 2, 3), epochs=30, lr=3e-2,
                                  batch_size=16, patience=2, restore_best=restore_best)
    assert any(h['stopped_early'] for h in hs) and len({h['epochs_run'] for h in hs}) > 1   # models stop at different epochs
    _assert_same(singles, many, hs, hm, atol=1e-4)

def test_a_diverging_model_stops_alone():
    def make(i):
        m = VAE(10, 3, [12])
        if i == 1:
            with torch.no_grad(): m.fc_log_var.bias.fill_(200.)   # exp(log_var) overflows: the loss is inf
        return m
    singles, many = _models(make), _models(make)
    with pytest.raises(TrainingDiverged): AETrainer().fit(singles[1], X, epochs=3, seed=4)
    hs = [AETrainer().fit(m, X, epochs=3, seed=s) for m, s in zip(singles[::2], (3, 5))]
    with pytest.warns(UserWarning, match=r'`models\[1\]` diverged'): hm = fit_many(many, X, [3, 4, 5], epochs=3)
    assert 'diverged' in hm[1]['diverged'] and hm[1]['epochs_run'] == 0 and hm[0]['diverged'] is None
    assert many[1].fc_log_var.bias[0].item() == 200.                         # its weights from before the epoch
    _assert_same(singles[::2], many[::2], hs, hm[::2])

def test_snapshot_into_the_last_one():
    "`multi_loop` snapshots every epoch into the same buffer: the copy lands there, and holds still while the weights move."
    from puffin.deep.multifit import MultiEngine
    e = MultiEngine(_models(lambda i: VAE(10, 3, [12]), 2))
    s = e.snapshot(); first = s.clone()
    with torch.no_grad(): e.flat.add_(1.)
    assert torch.equal(s, first) and e.snapshot(s) is s and torch.equal(s, e.flat)
    e.release()

def test_leaves_global_rng_and_grad_mode():
    ms = _models(lambda i: VAE(10, 3, [12]), 2)
    before = torch.get_rng_state()
    with torch.inference_mode(): fit_many(ms, X, [0, 1], epochs=1)
    assert torch.equal(before, torch.get_rng_state())
    loss = ms[0].train()(X)[0].sum(); loss.backward()                           # ordinary parameters again: autograd works
    assert ms[0].fc_mu.weight.grad is not None

def test_bad_input_names_the_argument():
    v = VAE(10, 3, [12])
    cases = [(lambda: fit_many([v, VAE(10, 3, [8])], X, [0, 1]), ValueError, 'models[1]'),
             (lambda: fit_many([v, VAE(10, 3, [12], dropout=0.1)], X, [0, 1]), ValueError, 'models[1]'),
             (lambda: fit_many([v, LikelihoodVAE(10, 3, [12])], X, [0, 1]), ValueError, 'models[1]'),
             (lambda: fit_many([v, 'vae'], X, [0, 1]), TypeError, 'models[1]'),
             (lambda: fit_many([v, v], X, [0, 1]), ValueError, 'models'),
             (lambda: fit_many([], X, []), TypeError, 'models'),
             (lambda: fit_many(v, X, [0]), TypeError, 'models'),
             (lambda: fit_many([v], X, [0, 1]), ValueError, 'seeds'),
             (lambda: fit_many([v], X, 0), ValueError, 'seeds'),
             (lambda: fit_many([v], X, [1.5]), ValueError, 'seeds[0]'),
             (lambda: fit_many([v], X, [None]), ValueError, 'seeds[0]'),
             (lambda: fit_many([v], X[:, :4], [0]), ValueError, '`X`'),
             (lambda: fit_many([v, VAE(10, 3, [12])], [X], [0, 1]), ValueError, '`X`'),
             (lambda: fit_many([v, VAE(10, 3, [12])], [X, X[:200]], [0, 1]), ValueError, 'X[1]'),
             (lambda: fit_many([v, VAE(10, 3, [12])], [X[:, :4], X[:, :4]], [0, 1]), ValueError, 'X[0]'),
             (lambda: fit_many([v, VAE(10, 3, [12])], [X, X.clone().fill_(float('nan'))], [0, 1]), ValueError, 'X[1]'),
             (lambda: fit_many([v, VAE(10, 3, [12])], [X, 'rows'], [0, 1]), TypeError, 'X[1]'),
             (lambda: fit_many([v], X, [0], epochs=0), ValueError, 'epochs'),
             (lambda: fit_many([v], X, [0], batch_size=0), ValueError, 'batch_size'),
             (lambda: fit_many([v], X, [0], patience=-1), ValueError, 'patience'),
             (lambda: fit_many([v], X, [0], device='nope'), ValueError, 'device')]
    for f, exc, name in cases:
        with pytest.raises(exc, match=__import__('re').escape(name)): f()

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')

@cuda
@pytest.mark.parametrize('graph', [False, True])
def test_cuda_reproduces_the_cpu_fits(graph):
    torch.backends.cuda.matmul.allow_tf32 = False
    singles, many, hs, hm = _both(lambda i: VAE(10, 3, [12, 8], dropout=0.2), device='cuda', graph=graph, epochs=4, batch_size=32)
    assert all(p.device.type == 'cuda' for m in many for p in m.parameters())
    _assert_same(singles, many, hs, hm, atol=1e-4)

def test_benchmark_arms_train_the_same_models():
    "bench/multifit_speed.py's two CPU arms on a tiny workload: the same models (the script itself takes a minute: not run here)."
    import importlib.util, pathlib
    spec = importlib.util.spec_from_file_location('multifit_speed', pathlib.Path(__file__).resolve().parents[1]/'bench'/'multifit_speed.py')
    b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)
    w, Xw = dict(n=120, d=6, k=2, hidden=[8], epochs=2, bs=16, val=0.2), torch.randn(120, 6)
    (t1, seq), (t2, many), (t3, bmm) = b.arm_sequential(w, 3, Xw), b.arm_many(w, 3, Xw), b.arm_many_bmm(w, 3, Xw)
    assert all(wall > 0 and cpu >= 0 for wall, cpu in (t1, t2, t3))
    assert b.max_diff(seq, many) < 1e-5 and b.max_diff(seq, bmm) < 1e-5
    from puffin.deep.multifit import MultiEngine
    assert MultiEngine._step_np.__name__ == '_step_np'                        # the bmm arm put numpy's step back
    from puffin.deep.fastpath import FastEngine
    pays = FastEngine._numpy_pays
    (t4, seq_torch) = b.arm_sequential_torch(w, 3, Xw)
    assert b.max_diff(seq, seq_torch) < 1e-5 and FastEngine._numpy_pays is pays   # the single fits on torch's products: the same models

@pytest.mark.parametrize('make', [lambda i: VAE(10, 3, [12, 8], dropout=0.2, beta=[0.5, 2.0][i]), lambda i: Autoencoder(10, 3, [12], dropout=0.1)],
                         ids=['vae', 'ae'])
def test_numpy_step_equals_the_torch_step(make):
    "The CPU's numpy products against the `bmm` step that CUDA runs (here on the CPU): the same updates, step by step."
    from puffin.deep.multifit import MultiEngine
    engines = [MultiEngine(_models(make, 2), lr=1e-2, generators=[torch.Generator().manual_seed(s) for s in (0, 1)]) for _ in range(2)]
    Xk = torch.stack([X[:100], X[100:200]])
    with torch.inference_mode():
        for e in engines: ep = e._plan(100, 10, 32); e._draw(ep, 100); ep['xv'].copy_(Xk)
        for a, b in zip(engines[0]._epochs[(100, 10, 32)]['steps'], engines[1]._epochs[(100, 10, 32)]['steps']):
            engines[0]._step_np(*a); engines[1]._step(*b[:9])
            torch.testing.assert_close(engines[0].flat, engines[1].flat, atol=1e-6, rtol=0)

def test_numpy_products_leave_blas_threads_and_stay_quiet():
    "numpy's BLAS runs on torch's thread count during the fit and gets its own setting back; inf in a diverging model warns nothing."
    import warnings
    from threadpoolctl import threadpool_info, threadpool_limits
    blas = lambda: [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']
    ms = _models(lambda i: VAE(10, 3, [12]), 2)
    with torch.no_grad(): ms[1].fc_log_var.bias.fill_(200.)                   # exp(log_var) overflows
    with threadpool_limits(2, user_api='blas'), warnings.catch_warnings():   # not the fit's one thread, so that one left behind shows
        before = blas(); assert before and set(before) == {2}
        warnings.simplefilter('error', RuntimeWarning)
        with pytest.warns(UserWarning, match='diverged'): hm = fit_many(ms, X, [0, 1], epochs=2, threads=1)   # fit_many's own warning; no RuntimeWarning from the inf
        assert blas() == before
    assert hm[1]['diverged'] and hm[0]['diverged'] is None


# ---- likelihood models: `fit_many` trains them on `MultiLikelihoodEngine` (puffin.deep.multi_likelihood)
from puffin.deep.generative import ConditionalVAE
from puffin.deep.multi_likelihood import MultiLikelihoodEngine, multi_likelihood_reason

def _lik(**kw):
    return lambda i: LikelihoodVAE(10, 3, [12, 8], free_bits=0.1, kl_schedule='linear', warmup_steps=20, **kw)

def _assert_same_lik(singles, many, hs, hm, atol=1e-5):
    _assert_same(singles, many, hs, hm, atol)
    for a, b, h in zip(singles, many, hm, strict=True):
        assert int(a.step) == int(b.step), 'step'                     # the KL schedule's counter, as the single fit leaves it
        assert h['path'] == 'multi-likelihood'

def _both_lik(make, seeds=(3, 4, 5), **kw):
    singles, many = _models(make, len(seeds)), _models(make, len(seeds))
    hs = [AETrainer().fit(m, X, seed=s, **kw) for m, s in zip(singles, seeds)]
    return singles, many, hs, fit_many(many, X, list(seeds), **kw)

@pytest.mark.parametrize('make', [_lik(decoder='gaussian'), _lik(decoder='student_t'), _lik(decoder='zi_student_t', dropout=0.2),
                                  _lik(decoder='zi_student_t', df_from_z=True, min_df=3.0), _lik(decoder='lowrank', rank=2, dropout=0.2),
                                  lambda i: LikelihoodVAE(10, 3, [12], decoder='student_t', beta=[0.5, 1.0, 2.0][i])],
                         ids=['gaussian', 'student_t', 'zi-dropout', 'zi-dfz', 'lowrank', 'betas'])
def test_likelihood_models_equal_single_fits(make):
    _assert_same_lik(*_both_lik(make, epochs=4, batch_size=32))

def test_conditional_models_and_odd_batches():
    _assert_same_lik(*_both_lik(lambda i: ConditionalVAE(8, 2, 3, [12], decoder='zi_student_t', free_bits=0.1), epochs=3, batch_size=50, validation_split=0))

def test_likelihood_early_stopping_restores_each_models_step():
    "Early stopping with restore_best: each model ends at its best epoch's weights and at that epoch's step counter, as its single fit."
    singles, many, hs, hm = _both_lik(_lik(decoder='student_t'), epochs=12, batch_size=32, patience=1, lr=3e-2)
    _assert_same_lik(singles, many, hs, hm, atol=1e-4)
    assert any(h['stopped_early'] for h in hm)

def test_other_decoders_train_one_after_the_other():
    "A decoder without a model-axis head (the multivariate Student-t, autograd's head) takes each model's own fit: identical weights."
    assert 'mv_student_t' in multi_likelihood_reason([LikelihoodVAE(10, 3, [12], decoder='mv_student_t')])
    singles, many, hs, hm = _both_lik(lambda i: LikelihoodVAE(10, 3, [12], decoder='mv_student_t'), epochs=2)
    for a, b in zip(singles, many):
        for p, q in zip(a.parameters(), b.parameters()): assert torch.equal(p, q)
    assert [h['path'] for h in hm] == ['likelihood'] * 3

def test_likelihood_bad_input_names_the_argument():
    zi = LikelihoodVAE(10, 3, [12], decoder='zi_student_t')
    cases = [(lambda: fit_many([zi, LikelihoodVAE(10, 3, [8], decoder='zi_student_t')], X, [0, 1]), ValueError, 'models[1]'),
             (lambda: fit_many([zi, LikelihoodVAE(10, 3, [12], decoder='student_t')], X, [0, 1]), ValueError, 'models[1]'),
             (lambda: fit_many([zi, VAE(10, 3, [12])], X, [0, 1]), ValueError, 'models[1]'),
             (lambda: fit_many([zi, 'vae'], X, [0, 1]), TypeError, 'models[1]'),
             (lambda: fit_many([zi], X, [0], device='meta'), ValueError, 'device'),
             (lambda: MultiLikelihoodEngine([LikelihoodVAE(10, 3, [12], decoder='mv_student_t')]), ValueError, 'mv_student_t')]
    for f, exc, name in cases:
        with pytest.raises(exc, match=name.replace('[', r'\[').replace(']', r'\]')): f()


def test_one_model_alone_equals_its_fit_bit_for_bit():
    "K = 1 (the multifit page says so): the same products, one at a time, as the single fast fit: the same weights, bit for bit; the losses summed in another order."
    torch.manual_seed(0); a = VAE(10, 3, [12, 8], dropout=0.1)
    torch.manual_seed(0); b = VAE(10, 3, [12, 8], dropout=0.1)
    ha = AETrainer('cpu').fit(a, X, epochs=5, seed=7, path='fast')
    hb = fit_many([b], X, [7], epochs=5)[0]
    for p, q in zip(a.parameters(), b.parameters(), strict=True): assert torch.equal(p, q)
    for k in KEYS: assert ha[k] == pytest.approx(hb[k], rel=1e-6, abs=0), k


# ---- per-model dropout rates, divergence reported alike on every path, seeds as an array, mixed kinds
import re, warnings
import numpy as np

@pytest.mark.parametrize('make', [lambda i: LikelihoodVAE(10, 3, [12, 8], decoder='student_t', dropout=[0.1, 0.4][i]),
                                  lambda i: ConditionalVAE(8, 2, 3, [12], decoder='gaussian', dropout=[0.3, 0.05][i])],
                         ids=['likelihood', 'conditional'])
def test_likelihood_models_keep_their_own_dropout_rates(make):
    "Dropout rates that differ (on for all): each model trains with its own rate, not `models[0]`'s, and ends as its own seeded fit."
    _assert_same_lik(*_both_lik(make, seeds=(3, 4), epochs=3, batch_size=32))

def _poisoned(make, bad):
    "Models from `make`, those in `bad` with a log-variance bias of 200: exp(log_var) overflows in the first step."
    ms = _models(make, 3)
    for i in bad:
        with torch.no_grad(): ms[i].fc_log_var.bias.fill_(200.)
    return ms

@pytest.mark.parametrize('make', [lambda i: VAE(10, 3, [12])] + [(lambda dec: lambda i: LikelihoodVAE(10, 3, [12], decoder=dec, **(dict(rank=2) if dec == 'lowrank' else {})))(dec)
                                  for dec in ('gaussian', 'student_t', 'zi_student_t', 'lowrank', 'mv_student_t')],
                         ids=['vae', 'gaussian', 'student_t', 'zi_student_t', 'lowrank', 'mv_student_t'])
def test_diverging_models_stop_alone_and_are_named(make):
    "Every kind and decoder: a diverging model stops alone with its weights from before the epoch and its history's `diverged` set, the others train on as their own fits, and one UserWarning names the diverged ones."
    many = _poisoned(make, (0, 2))
    with pytest.warns(UserWarning, match=r"`models\[0\]`, `models\[2\]` diverged.*'diverged'") as rec:
        hm = fit_many(many, X, [3, 4, 5], epochs=2)
    assert sum('diverged' in str(w.message) for w in rec) == 1
    assert all('diverged' in h for h in hm) and hm[1]['diverged'] is None
    for i in (0, 2):
        assert 'training diverged' in hm[i]['diverged'] and hm[i]['epochs_run'] == 0 and many[i].fc_log_var.bias[0].item() == 200.
    single = _models(make, 3)[1]
    hs = AETrainer().fit(single, X, epochs=2, seed=4)
    _assert_same([single], many[1:2], [hs], hm[1:2])

@pytest.mark.parametrize('path', ['auto', 'autograd'])
@pytest.mark.parametrize('decoder', ['gaussian', 'student_t', 'zi_student_t', 'lowrank', 'mv_student_t'])
def test_a_diverging_likelihood_fit_is_training_diverged(decoder, path):
    "A likelihood model whose outputs overflow, on either engine: its fit stops as diverged (TrainingDiverged, weights from before), not with torch.distributions' ValueError or the Cholesky's LinAlgError."
    m = _poisoned(lambda i: LikelihoodVAE(10, 3, [12], decoder=decoder, **(dict(rank=2) if decoder == 'lowrank' else {})), (0,))[0]
    before = [p.clone() for p in m.parameters()]
    with pytest.raises(TrainingDiverged, match='epoch 1'): AETrainer().fit(m, X, epochs=2, seed=0, path=path)
    assert all(torch.equal(p, q) for p, q in zip(m.parameters(), before))

def test_a_model_diverging_late_keeps_its_epochs_one_after_the_other():
    "The sequential path (mv_student_t): a model diverging after some whole epochs keeps their history and weights, as a fit of that many epochs leaves them."
    make = lambda i: LikelihoodVAE(10, 3, [12], decoder='mv_student_t')
    many = _models(make, 2)
    with pytest.warns(UserWarning, match=r'`models\[\d\]`'): hm = fit_many(many, X * 100, [1, 2], epochs=6, lr=0.3)
    i = next(i for i, h in enumerate(hm) if h['diverged'])
    e = hm[i]['epochs_run']; assert e >= 1                                      # it diverged after whole epochs
    single = _models(make, 2)[i]
    hs = AETrainer().fit(single, X * 100, epochs=e, lr=0.3, seed=[1, 2][i])
    _assert_same([single], many[i:i + 1], [hs], hm[i:i + 1])

def test_ctrl_c_stops_the_fits_one_after_the_other(monkeypatch):
    "The sequential path (mv_student_t): Ctrl-C in one model's fit stops fit_many, as on the engine; the models not reached are not trained and their histories say interrupted."
    import puffin.deep.multi_likelihood as ml
    calls, real = [], ml._own_fit
    def ctrl_c_in_the_second(m, x, seed, s):
        calls.append(seed)
        return real(m, x, seed, s) if len(calls) == 1 else ml._history('likelihood') | dict(interrupted=True, epochs_run=1)
    monkeypatch.setattr(ml, '_own_fit', ctrl_c_in_the_second)
    many = _models(lambda i: LikelihoodVAE(10, 3, [12], decoder='mv_student_t'), 3)
    untouched = [p.clone() for p in many[2].parameters()]
    hs = fit_many(many, X, [1, 2, 3], epochs=1)
    assert calls == [1, 2] and [h['interrupted'] for h in hs] == [False, True, True] and hs[2]['epochs_run'] == 0
    assert all(torch.equal(p, q) for p, q in zip(many[2].parameters(), untouched))

def test_seeds_as_a_numpy_array():
    "Any sequence of ints, a 1-D integer array too; floats, None, a wrong length and 2-D arrays are refused, naming `seeds`."
    a, b = _models(lambda i: VAE(10, 3, [12]), 2), _models(lambda i: VAE(10, 3, [12]), 2)
    ha, hb = fit_many(a, X, np.arange(2), epochs=2), fit_many(b, X, (0, 1), epochs=2)
    _assert_same(a, b, ha, hb, atol=0)
    v = VAE(10, 3, [12])
    for seeds, name in [(np.array([0.5, 1.5]), 'seeds[0]'), (np.array([0, None], dtype=object), 'seeds[1]'), (np.arange(3), 'seeds'),
                        (np.arange(2)[:, None], 'seeds'), (None, 'seeds'), ('01', 'seeds'), (np.int64(0), 'seeds')]:
        with pytest.raises(ValueError, match=re.escape(f'`{name}`')): fit_many([v, VAE(10, 3, [12])], X, seeds)

@pytest.mark.parametrize('order', [0, 1], ids=['vae-first', 'likelihood-first'])
def test_mixed_kinds_are_refused_alike_in_either_order(order):
    ms = [VAE(10, 3, [12]), LikelihoodVAE(10, 3, [12])][::1 if order == 0 else -1]
    with pytest.raises(ValueError, match=rf"`models\[1\]` is a {type(ms[1]).__name__}: fit_many trains models of one kind, and `models\[0\]` is a {type(ms[0]).__name__}"):
        fit_many(ms, X, [0, 1])
