"`LikelihoodEngine` against autograd: the model's own `loss_parts`, with the same eps and dropout masks, for each decoder."
import copy, itertools
import pytest
import torch
from torch import nn
from puffin.deep.generative import LikelihoodVAE, ConditionalVAE
from puffin.deep.engine import AutogradEngine
from puffin.deep.loss import kl_elementwise
from puffin.deep.training import AETrainer, pick_engine
from puffin.deep.likelihood_engine import LikelihoodEngine, likelihood_path_reason

DECODERS = [('gaussian', False), ('lowrank', False), ('student_t', False), ('student_t', True),
            ('mv_student_t', False), ('mv_student_t', True), ('zi_student_t', False), ('zi_student_t', True)]


def autograd_step(m, opt, x, eps, masks, drop):
    "One step of `m.loss_parts` on autograd with `eps` and the dropout `masks` injected: its parts and each parameter's gradient."
    m.train()
    m.reparameterize = lambda mu, lv, generator=None: mu + torch.exp(0.5 * lv) * eps
    for mod, j in zip([d for d in m.modules() if isinstance(d, nn.Dropout)], drop): mod.forward = lambda h, mk=masks[j]: h * mk
    parts = torch.stack(tuple(m.loss_parts(x)))
    opt.zero_grad(); parts[0].backward()
    grads = {n: p.grad.clone() for n, p in m.named_parameters()}
    opt.step()
    return parts.detach(), grads


def split_free_bits(m, x, eps) -> float:
    "A free-bits level between the mean KLs of the latent dimensions at the start: some dimensions clamped, some not."
    with torch.no_grad():
        mu, lv = m.encode(x)
        klm = kl_elementwise(mu, lv).mean(0).sort().values
    return float(klm[len(klm) // 2 - 1] + klm[len(klm) // 2]) / 2


def compare(make, steps=4, n=9, p=0.0, wd=0.0, split_bits=True):
    "Run `steps` Adam steps on autograd and on the engine from the same weights; loss parts, gradients, weights and step counter agree."
    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(n, make(0.).input_dim, generator=g), torch.randn(n, make(0.).latent_dim, generator=g)) for _ in range(steps)]
    data[1][0][:3, :2] = 0.                                   # exact zeros: the zero-inflated decoder's spike
    torch.manual_seed(0); a = make(p)
    if split_bits: a.free_bits = split_free_bits(a, *data[0])
    b = copy.deepcopy(a)
    assert likelihood_path_reason(b) is None
    opt, eng = torch.optim.Adam(a.parameters(), lr=1e-2, weight_decay=wd), LikelihoodEngine(b, lr=1e-2, weight_decay=wd)
    for s, (x, eps) in enumerate(data):
        masks = {j: torch.empty(n, eng.groups[j][0].out_features).bernoulli_(1 - p, generator=g).div_(1 - p) for j in eng.drop}
        ref, grads = autograd_step(a, opt, x, eps, masks, eng.drop)
        torch.testing.assert_close(eng.step(x, eps, masks), ref, rtol=1e-5, atol=1e-5)
        for name, gr in eng.grads().items(): torch.testing.assert_close(gr, grads[name], rtol=1e-4, atol=1e-6, msg=lambda e: f'{name}, step {s}: {e}')
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()): torch.testing.assert_close(pb, pa, rtol=1e-4, atol=1e-5, msg=lambda e: f'{name}: {e}')
    assert int(a.step) == int(b.step) == steps
    return eng


@pytest.mark.parametrize('decoder, dfz', DECODERS)
@pytest.mark.parametrize('p', [0.0, 0.2])
def test_likelihood_vae_matches_autograd(decoder, dfz, p):
    kw = dict(decoder=decoder, rank=2, kl_schedule='linear', warmup_steps=3, **(dict(df_from_z=True, min_df=3.0) if dfz else {}))
    compare(lambda q: LikelihoodVAE(6, 4, [8, 5], dropout=q, **kw), p=p)


@pytest.mark.parametrize('decoder, dfz', DECODERS)
def test_conditional_vae_matches_autograd(decoder, dfz):
    kw = dict(decoder=decoder, rank=2, kl_schedule='linear', warmup_steps=3, **(dict(df_from_z=True, min_df=3.0) if dfz else {}))
    compare(lambda q: ConditionalVAE(5, 3, 4, [8, 5], dropout=q, **kw), p=0.1)


@pytest.mark.parametrize('sched', [dict(kl_schedule='constant'), dict(kl_schedule='cyclical', warmup_steps=2, n_cycles=2, cycle_ratio=0.5)])
def test_schedules_no_free_bits_weight_decay(sched):
    compare(lambda q: LikelihoodVAE(6, 3, [8], decoder='zi_student_t', beta=2.0, **sched), steps=5, wd=0.01, split_bits=False)


def test_free_bits_mask_is_mixed():
    "The free-bits level the tests use clamps some latent dimensions and not others (else the mask would be untested)."
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(0); m = LikelihoodVAE(6, 4, [8, 5])
    x, eps = torch.randn(9, 6, generator=g), torch.randn(9, 4, generator=g)
    fb = split_free_bits(m, x, eps)
    with torch.no_grad(): klm = kl_elementwise(*m.encode(x)).mean(0)
    assert (klm < fb).any() and (klm >= fb).any()


def test_deeper_and_wider_stack():
    compare(lambda q: LikelihoodVAE(7, 5, [16, 12, 6], decoder='lowrank', rank=3, dropout=q, free_bits=0.01), p=0.3, n=17)


@pytest.mark.parametrize('decoder', ['gaussian', 'zi_student_t', 'mv_student_t'])
def test_evaluate_matches_autograd(decoder):
    "Eval mode: the negative ELBO, NLL and KL of `loss_parts` (same global-RNG draws of z with generator=None)."
    torch.manual_seed(0); m = LikelihoodVAE(6, 3, [8], decoder=decoder, dropout=0.2, free_bits=0.3)
    X = torch.randn(1500, 6)
    eng = LikelihoodEngine(copy.deepcopy(m))
    torch.manual_seed(5); got = eng.evaluate(X, 64)
    torch.manual_seed(5); ref = AutogradEngine(m).evaluate(X, 64)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    assert eng.evaluate(X[:0], 64).isnan().all()


def test_train_epoch_reports_the_steps_parts():
    "With lr=0 the weights stay put: an epoch's (loss, NLL, KL) is the row-weighted mean of its batches' parts under the same draws."
    torch.manual_seed(0); m = LikelihoodVAE(6, 3, [8], decoder='student_t', free_bits=0.05, kl_schedule='linear', warmup_steps=4)
    X = torch.randn(50, 6)
    eng = LikelihoodEngine(copy.deepcopy(m), lr=0.0, generator=torch.Generator().manual_seed(3))
    got = eng.train_epoch(X, 16)
    g = torch.Generator().manual_seed(3)
    perm = torch.randperm(50, generator=g); eps = torch.empty(50, 3).normal_(generator=g)
    ref = AutogradEngine(m, lr=0.0)
    tot = torch.zeros(3)
    for s in range(0, 50, 16):
        x, e = X[perm[s:s + 16]], eps[s:s + 16]
        m.reparameterize = lambda mu, lv, generator=None, e=e: mu + torch.exp(0.5 * lv) * e
        tot += torch.stack(tuple(m.loss_parts(x))).detach() * len(x)
    torch.testing.assert_close(got, tot / 50, rtol=1e-5, atol=1e-5)
    assert int(eng.model.step) == int(m.step) == 4


def test_fit_picks_it_and_keeps_the_model_whole():
    X = torch.randn(400, 8)
    torch.manual_seed(0); m = LikelihoodVAE(8, 2, [16], decoder='zi_student_t', kl_schedule='linear', warmup_steps=50)
    h = AETrainer('cpu').fit(m, X, epochs=3, batch_size=32, seed=0)
    assert h['path'] == 'likelihood' and h['epochs_run'] == 3
    assert int(m.step) == 3 * 10                                   # 320 training rows, 10 steps per epoch
    ptrs = [p.data_ptr() for p in m.parameters()]
    assert len(set(ptrs)) == len(ptrs) and all(p.is_contiguous() for p in m.parameters())   # released: no views of one buffer
    h2 = AETrainer('cpu').fit(ConditionalVAE(6, 2, 2, [16]), X, epochs=1, seed=0, path='fast')
    assert h2['path'] == 'likelihood'


def test_fit_is_repeatable_and_restores_best():
    X = torch.randn(300, 6)
    def run():
        torch.manual_seed(0); m = LikelihoodVAE(6, 2, [8], decoder='student_t', dropout=0.1)
        h = AETrainer('cpu').fit(m, X, epochs=6, seed=1, patience=1, min_delta=1e9)   # never improves after the first epoch
        return m, h
    (m1, h1), (m2, h2) = run(), run()
    assert h1 == h2 and h1['stopped_early'] and h1['best_epoch'] == 0
    assert int(m1.step) == 4                                       # the best epoch's step counter came back with its weights
    for a, b in zip(m1.parameters(), m2.parameters()): assert torch.equal(a, b)


def test_unsupported_models_fall_back_to_autograd():
    class MyVAE(LikelihoodVAE): pass
    cpu = torch.device('cpu')
    for m in (MyVAE(6, 2, [8]), LikelihoodVAE(6, 2, [8]).double()):
        assert likelihood_path_reason(m) is not None
        assert pick_engine(m, cpu, 'auto') is AutogradEngine
    frozen = LikelihoodVAE(6, 2, [8]); frozen.scale_head.bias.requires_grad_(False)
    assert 'frozen' in likelihood_path_reason(frozen)
    with pytest.raises(ValueError, match='path'): pick_engine(frozen, cpu, 'fast')


def test_bench_pieces_on_a_tiny_workload(monkeypatch, capsys):
    "bench/likelihood_speed.py: each configuration builds, fits on both engines and scores (tiny rows instead of recipe 07's)."
    import importlib.util, math
    from pathlib import Path
    spec = importlib.util.spec_from_file_location('likelihood_speed', Path(__file__).resolve().parents[1]/'bench'/'likelihood_speed.py')
    bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)
    g = torch.Generator().manual_seed(0)
    rows = lambda w: (torch.randn(96, w, generator=g).numpy(), torch.randn(40, w, generator=g).numpy())
    data = {'plain': rows(20), 'portfolio': rows(23), 'per-asset': rows(43)}
    for kind in ('zi_student_t+dfz', 'cvae-zi_student_t+large'):
        for path, engine in (('autograd', 'autograd'), ('auto', 'likelihood')):
            secs, nll, ran, cpu = bench.one_fit(kind, data, path, 0, 1)
            assert ran == engine and secs > 0 and cpu > 0 and math.isfinite(nll)
    monkeypatch.setattr(bench, 'recipe_data', lambda: data)
    monkeypatch.setattr(bench, 'one_fit', lambda kind, data, path, seed, epochs: (2.0 if path == 'autograd' else 0.5, 20.0, 'autograd' if path == 'autograd' else 'likelihood', 1.0 if path == 'autograd' else 0.5))
    bench.main(['--configs', 'gaussian', '--seeds', '0,1,2'])
    row = [l for l in capsys.readouterr().out.splitlines() if l.startswith('| gaussian ')][0]
    assert '| 4.0x | 2.0x |' in row, row


@pytest.mark.parametrize('dec, dfz', [('zi_student_t', True), ('mv_student_t', False)])
def test_modes_and_batch_sizes_mix(dec, dfz):
    "Buffers made by `evaluate` (inference mode under a written-out head, no_grad under autograd's) serve `step` and `train_epoch` after it, in any order; afterwards the model trains on autograd again."
    torch.manual_seed(0); m = LikelihoodVAE(6, 2, [8], decoder=dec, df_from_z=dfz, min_df=3.0)
    e, X = LikelihoodEngine(m, generator=torch.Generator().manual_seed(0)), torch.randn(64, 6)
    before = e.evaluate(X[:32], 32)                                         # the 32-row buffers come from `evaluate`
    e.step(X[:32]); e.train_epoch(X, 32); after = e.evaluate(X[:32], 32)
    assert torch.isfinite(before).all() and torch.isfinite(after).all() and not torch.equal(before, after)
    e.release()
    m.train(); m.loss_parts(X[:8])[0].backward()                              # ordinary parameters again
    assert all(p.grad is not None for p in m.parameters())


def test_numpy_products_keep_blas_threads():
    "The engine runs numpy's BLAS on torch's thread count during a fit and gives it its own setting back."
    from threadpoolctl import threadpool_info, threadpool_limits
    blas = lambda: [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']
    torch.manual_seed(0); m = LikelihoodVAE(6, 2, [8], decoder='zi_student_t')
    with threadpool_limits(2, user_api='blas'):   # a setting other than the fit's one thread, so that one left behind shows
        before = blas(); assert before and set(before) == {2}
        AETrainer('cpu').fit(m, torch.randn(64, 6), epochs=2, batch_size=32, seed=0, threads=1)
        assert blas() == before
