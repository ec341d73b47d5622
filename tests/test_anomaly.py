"""The anomaly detectors as scikit-learn estimators, `contamination` on fresh rows, and memory when scoring many rows."""
import json, os, subprocess, sys, textwrap, warnings
import numpy as np, pytest, torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import check_estimator
import puffin.anomaly as anomaly
from puffin.anomaly import MahalanobisDetector, VAEAnomalyDetector, vae_score_parts
from puffin.deep.model import VAE

TINY = dict(latent_dim=1, hidden_dims=[4], epochs=2, batch_size=64)   # check_estimator fits dozens of times: seconds, not minutes

# The threshold is set on leave-one-out scores so that `contamination` holds on new rows; the training rows themselves,
# scored by the covariance fitted on them, are then flagged somewhat less often than `contamination`, while these two checks
# want exactly `contamination` of them from `predict`. cross_fit=False (the in-sample threshold) passes them: tested below.
CROSS_FIT = {'check_outliers_train': "threshold_ is set on leave-one-out scores so that contamination holds on new rows; "
                                     "predict on the training rows (in-sample scores) flags fewer",
             'check_outliers_fit_predict': "fit_predict is fit(X).predict(X), as scikit-learn requires, so it flags fewer than "
                                           "contamination of the training rows (see check_outliers_train)"}
# The VAE detector places its threshold on held-out calibration rows (`calibration_split`), for the same reason: the rows
# it trained on score lower, so `predict` flags fewer than `contamination` of the training rows. calibration_split=0 passes.
HELD_OUT = {k: v.replace('leave-one-out scores', 'held-out calibration rows') for k, v in CROSS_FIT.items()}

@pytest.mark.parametrize('est, expected', [(MahalanobisDetector(), CROSS_FIT), (MahalanobisDetector(cross_fit=False), {}),
                                           (MahalanobisDetector(estimator='empirical', scale=False), CROSS_FIT),
                                           (VAEAnomalyDetector(**TINY), HELD_OUT),
                                           (VAEAnomalyDetector(**TINY, score_kind='calibrated'), HELD_OUT),
                                           (VAEAnomalyDetector(**TINY, score_kind='tail'), HELD_OUT),
                                           (VAEAnomalyDetector(**TINY, score_kind='size_or_pattern'), HELD_OUT),
                                           (VAEAnomalyDetector(**TINY, calibration_split=0), {})])
def test_check_estimator(est, expected):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        check_estimator(est, expected_failed_checks=expected)

def _factor(n, d, rng, B): return rng.standard_normal((n, B.shape[1])) @ B.T + 0.5 * rng.standard_normal((n, d))

def test_pipeline_and_tags():
    X = np.random.default_rng(0).standard_normal((200, 3))
    for det in (MahalanobisDetector(), VAEAnomalyDetector(**TINY)):
        p = make_pipeline(StandardScaler(), det).fit(X)
        assert set(np.unique(p.predict(X))) == {-1, 1} and set(np.unique(p.fit_predict(X))) == {-1, 1}
        assert det.__sklearn_tags__().estimator_type == 'outlier_detector'

@pytest.mark.parametrize('d', [20, 200, 500])
def test_mahalanobis_contamination_holds_on_new_rows(d):
    "Fitted on 2000 rows, fresh rows of the same distribution are flagged at 5% +- 2.5% up to 500 columns (rows / 4)."
    rng = np.random.default_rng(d); B = rng.normal(0, 1, (d, 3))
    Xtr, Xte = _factor(2000, d, rng, B), _factor(4000, d, rng, B)
    for est in ('ledoit_wolf', 'empirical'):
        m = MahalanobisDetector(contamination=0.05, estimator=est).fit(Xtr)
        assert 0.025 <= (m.predict(Xte) == -1).mean() <= 0.075, (est, d, (m.predict(Xte) == -1).mean())
        assert abs(m.labels_.mean() - 0.05) < 0.002
    if d >= 200:   # the in-sample threshold, as before: far too many
        assert (MahalanobisDetector(cross_fit=False).fit(Xtr).predict(Xte) == -1).mean() > 0.2

@pytest.mark.parametrize('d', [20, 500])
def test_vae_contamination_holds_on_new_rows(d):
    rng = np.random.default_rng(d); B = rng.normal(0, 1, (d, 3))
    Xtr, Xte = _factor(2000, d, rng, B), _factor(4000, d, rng, B)
    for kind in ('chapter', 'calibrated', 'tail', 'size_or_pattern'):
        share = (VAEAnomalyDetector(score_kind=kind).fit(Xtr).predict(Xte) == -1).mean()
        assert 0.025 <= share <= 0.075, (kind, d, share)

OVERFIT = dict(epochs=400, latent_dim=16, hidden_dims=[256, 128], batch_size=64)   # a VAE wide and long enough to fit its rows' noise

@pytest.mark.parametrize('d', [20, 250])
def test_vae_contamination_holds_when_it_overfits(d):
    "1000 rows, up to 250 columns (rows / 4), 400 epochs: the held-out threshold flags 5% +- 2.5% of fresh rows; the in-sample one did not."
    rng = np.random.default_rng(d); B = rng.normal(0, 1, (d, 3))
    Xtr, Xte = _factor(1000, d, rng, B), _factor(4000, d, rng, B)
    for kind in ('chapter', 'calibrated', 'tail', 'size_or_pattern'):
        share = (VAEAnomalyDetector(score_kind=kind, **OVERFIT).fit(Xtr).predict(Xte) == -1).mean()
        assert 0.025 <= share <= 0.075, (kind, d, share)
    in_sample = (VAEAnomalyDetector(calibration_split=0, **OVERFIT).fit(Xtr).predict(Xte) == -1).mean()
    assert in_sample > 0.075, in_sample   # the training rows' own scores run low: too many fresh rows flagged

def test_calibration_rows():
    "20% of the rows, drawn with the seed, are held out of training; too few to hold out 10: calibrated in-sample."
    X = np.random.default_rng(0).standard_normal((200, 4))
    det = VAEAnomalyDetector(**TINY).fit(X)
    assert len(det.calibration_idx_) == 40 and len(np.unique(det.calibration_idx_)) == 40
    np.testing.assert_array_equal(VAEAnomalyDetector(**TINY).fit(X).calibration_idx_, det.calibration_idx_)
    assert not np.array_equal(VAEAnomalyDetector(**TINY, seed=1).fit(X).calibration_idx_, det.calibration_idx_)
    assert det.history_['train_loss'] and len(VAEAnomalyDetector(**TINY, calibration_split=0).fit(X).calibration_idx_) == 200
    assert len(VAEAnomalyDetector(**TINY).fit(X[:40]).calibration_idx_) == 40   # 8 rows would be too few to calibrate on
    for bad in (1.0, -0.1, '0.2', True):
        with pytest.raises(ValueError, match='calibration_split'): VAEAnomalyDetector(**TINY, calibration_split=bad).fit(X)

@pytest.mark.parametrize('d', [200, 1000])
@pytest.mark.parametrize('kind', ['tail', 'size_or_pattern'])
def test_tail_score_on_wide_panels(d, kind):
    "The tail scores on 200 and 1000 columns (1500 rows): finite, contamination holds on fresh rows, sign-flipped rows rank high."
    rng = np.random.default_rng(d); B = rng.normal(0, 1, (d, 3))
    Xtr, Xte = _factor(1500, d, rng, B), _factor(2000, d, rng, B)
    flip = Xte[:100] * np.where(np.arange(d) % 2, -1, 1)
    det = VAEAnomalyDetector(score_kind=kind, epochs=20).fit(Xtr)
    s = -det.score_samples(np.vstack([Xte, flip]))
    assert np.isfinite(s).all() and 0.025 <= (s[:2000] > det.threshold_).mean() <= 0.075
    assert (s[2000:] > det.threshold_).mean() > 0.7   # half the signs flipped: most flagged (those of quiet rows can pass)

def test_pattern_sees_breaks_in_a_volatile_regime():
    "Fitted on calm rows, scored on rows three times as volatile: `pattern` (residual in units of the day's own size) still ranks sign-flipped rows above ordinary ones; `misfit` (absolute cap) and the old `tail` score do not."
    rng = np.random.default_rng(20); B = rng.normal(0, 1, (20, 3))
    det = VAEAnomalyDetector(score_kind='size_or_pattern', epochs=20).fit(_factor(2000, 20, rng, B))
    X = 3 * _factor(1000, 20, rng, B)
    flip = X[:200] * np.where(rng.random((200, 20)) < 0.5, -1, 1)
    p, y = det.score_parts(np.vstack([X, flip])), np.r_[np.zeros(1000), np.ones(200)]
    auc = {k: roc_auc_score(y, p[k]) for k in ('pattern', 'misfit', 'tail', 'size_or_pattern')}
    assert auc['pattern'] > 0.95 and auc['pattern'] > auc['misfit'] + 0.2 and auc['tail'] < 0.5, auc

def test_size_or_pattern_finds_both_kinds():
    "One score for crashes (rows with a large common move) and broken patterns (half the signs flipped): both are flagged, ordinary rows at about `contamination`."
    rng = np.random.default_rng(5); B = rng.normal(1, 0.3, (20, 2))
    det = VAEAnomalyDetector(score_kind='size_or_pattern', epochs=20).fit(_factor(2000, 20, rng, B))
    X = _factor(2000, 20, rng, B)
    crash = rng.normal(6, 0.5, (100, 1)) * B[:, :1].T + 0.5 * rng.standard_normal((100, 20))   # a 6-sigma move of the first factor
    flip = X[:100] * np.where(np.arange(20) % 2, -1, 1)
    flagged = lambda Z: (det.predict(Z) == -1).mean()
    # most flipped rows pass at the default pattern_weight; a larger weight flags more of them
    assert 0.025 <= flagged(X) <= 0.075 and flagged(crash) > 0.95 and flagged(flip) > 0.6, (flagged(X), flagged(crash), flagged(flip))

def test_pattern_weight_and_older_files(tmp_path):
    "`pattern_weight` is checked and saved; a detector saved or pickled before `size_or_pattern` existed loads, scores as before, and reports no `size_or_pattern`."
    X = np.random.default_rng(0).standard_normal((300, 4))
    for bad in (0, -1.0, np.inf, np.nan, '1', True):
        with pytest.raises(ValueError, match='pattern_weight'): VAEAnomalyDetector(**TINY, pattern_weight=bad).fit(X)
    det = VAEAnomalyDetector(**TINY, score_kind='size_or_pattern', pattern_weight=0.5).fit(X)
    det2 = VAEAnomalyDetector.load(det.save(tmp_path/'d.pt'))
    assert det2.pattern_weight == det2.pattern_weight_ == 0.5
    np.testing.assert_array_equal(det2.score_samples(X), det.score_samples(X))
    tail = VAEAnomalyDetector(**TINY, score_kind='tail').fit(X)
    d = torch.load(tail.save(tmp_path/'t.pt'), weights_only=True)   # as written before `pattern` and `pattern_weight`
    assert d['version'] == 2   # an older puffin refuses the file rather than score `size_or_pattern` as 'tail'
    del d['calibration_ref']['pattern'], d['settings']['pattern_weight'], d['fitted']['pattern_weight']; d['version'] = 1
    torch.save(d, tmp_path/'old.pt')
    old = VAEAnomalyDetector.load(tmp_path/'old.pt')
    np.testing.assert_array_equal(old.score_samples(X), tail.score_samples(X))
    assert old.get_params()['pattern_weight'] == VAEAnomalyDetector().pattern_weight == 0.85 and 'size_or_pattern' not in old.score_parts(X) and 'tail' in old.score_parts(X)
    import pickle, copy
    op = copy.copy(tail); del op.pattern_weight, op.pattern_weight_; op.calibrators_ = {k: v for k, v in op.calibrators_.items() if k != 'pattern'}
    op2 = pickle.loads(pickle.dumps(op))
    assert op2.get_params()['pattern_weight'] == 0.85   # the default
    np.testing.assert_array_equal(op2.score_samples(X), tail.score_samples(X))

def test_constant_rows_refused():
    for est in ('ledoit_wolf', 'empirical'):
        with pytest.raises(ValueError, match='`X`'): MahalanobisDetector(estimator=est).fit(np.full((50, 3), 2.0))

def test_old_score_name():
    "`score_kind` was once `score`, a name that hid scikit-learn's `score` method: the keyword is refused, naming it; a detector pickled with it loads with its `score_kind` and scores as before."
    with pytest.raises(TypeError, match="'score'"): VAEAnomalyDetector(score='calibrated', **TINY)
    X = np.random.default_rng(0).standard_normal((200, 3))
    det = VAEAnomalyDetector(**TINY, score_kind='calibrated').fit(X)
    state = det.__getstate__(); state['score'] = state.pop('score_kind')
    old = VAEAnomalyDetector.__new__(VAEAnomalyDetector); old.__setstate__(state)
    assert old.score_kind == 'calibrated' and 'score' not in vars(old) and 'score' not in old.get_params()
    np.testing.assert_array_equal(old.score_samples(X), det.score_samples(X))

def test_scores_in_chunks(monkeypatch):
    "Chunked scoring gives the same scores as one pass; the chunk helper is what splits them."
    rng = np.random.default_rng(0); X = rng.standard_normal((1000, 5))
    m, v = MahalanobisDetector().fit(X), VAEAnomalyDetector(**TINY).fit(X)
    whole_m, whole_v = m.score_samples(X), v.score_samples(X)
    calls = []
    real = anomaly._in_chunks
    monkeypatch.setattr(anomaly, '_CHUNK_ROWS', 64)
    monkeypatch.setattr(anomaly, '_in_chunks', lambda f, X: calls.append(len(X)) or real(f, X))
    np.testing.assert_array_equal(m.score_samples(X), whole_m)
    np.testing.assert_allclose(v.score_samples(X), whole_v, rtol=1e-6)
    assert calls and max(calls) == 1000
    out = []
    np.testing.assert_array_equal(real(lambda x: out.append(len(x)) or x.sum(1), X), X.sum(1))
    assert out == [64] * 15 + [40]

def test_rows_alone_or_together():
    "A row's parts agree to float64 rounding whether it is scored alone or with other rows (measured: up to 2.1e-15 relative); fresh rows' calibrated scores too (the calibration rows' own can move by a step of the empirical tail probability)."
    rng = np.random.default_rng(0); X, Xnew = rng.standard_normal((300, 5)), rng.standard_normal((60, 5))
    det = VAEAnomalyDetector(**TINY, score_kind='size_or_pattern').fit(X)
    together, parts = det.score_samples(Xnew), det.score_parts(Xnew).to_numpy()
    alone = np.array([det.score_samples(Xnew[i:i + 1])[0] for i in range(len(Xnew))])
    parts_alone = np.vstack([det.score_parts(Xnew[i:i + 1]).to_numpy() for i in range(len(Xnew))])
    np.testing.assert_allclose(alone, together, rtol=1e-12, atol=0)      # float64 rounding, with room for another BLAS
    np.testing.assert_allclose(parts_alone, parts, rtol=1e-12, atol=0)

_PEAK = textwrap.dedent("""
    import json, resource, sys, numpy as np
    from puffin.anomaly import MahalanobisDetector, VAEAnomalyDetector
    rng = np.random.default_rng(0); X = rng.standard_normal((1_000_000, 5))
    det = MahalanobisDetector().fit(X[:2000]) if sys.argv[1] == 'm' else VAEAnomalyDetector(epochs=1).fit(X[:2000])
    det.decision_function(X[:100_000])   # warm up: libraries' own buffers
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s = det.decision_function(X)
    print(json.dumps(dict(growth_mb=(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, n=len(s))))
""")

@pytest.mark.skipif(sys.platform != 'linux', reason='ru_maxrss is in KiB on Linux')
@pytest.mark.parametrize('kind', ['m', 'v'])
def test_scoring_a_million_rows_keeps_memory_flat(kind):
    "Peak memory growth of decision_function on 10^6 x 5 rows (40 MB of input), in a fresh process: the VAE's grew ~1 GB in one pass."
    out = subprocess.run([sys.executable, '-c', _PEAK, kind], capture_output=True, text=True, check=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r['n'] == 1_000_000 and r['growth_mb'] < 200, r

def _formula_parts(m, X, W, offset, cap=9.0) -> dict:
    "The score parts from their formulas on the scoring page, in numpy from the model's encoder and decoder."
    with torch.no_grad():
        m.eval(); mu, lv = m.encode(X); xh = m.decode(mu).double().numpy(); mu, lv = mu.double().numpy(), lv.double().numpy()
    x = X.double().numpy(); r = x - xh; sse, x2 = (r ** 2).sum(1), (x ** 2).sum(1); wr2, e = (r @ W.T) ** 2, x2 + offset + 1e-8
    return dict(recon=sse / x.shape[1], kl=0.5 * (mu ** 2 + np.exp(lv) - 1 - lv).sum(1), share=sse / (x2 + 1e-8), size=(xh ** 2).sum(1),
                misfit=np.minimum(wr2, cap).sum(1) / e, pattern=np.log1p(wr2 / (e / x.shape[1])[:, None]).sum(1))

@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU'))])
def test_score_parts_with_misfit_on(device):
    "vae_score_parts with a whitening matrix (numpy, on the CPU) and rows on the CPU equals the parts' formulas, for a model on the CPU or the GPU."
    torch.manual_seed(0); m = VAE(6, 2, [16]); X = torch.randn(50, 6)
    W = np.linalg.inv(np.linalg.cholesky(np.cov(np.random.default_rng(0).standard_normal((100, 6)).T)))
    want = _formula_parts(m, X, W, 0.5)
    got = vae_score_parts(m.to(device), X, whiten=W, offset=0.5)
    assert set(got) == {'recon', 'kl', 'share', 'size', 'misfit', 'pattern'}
    for k in want: np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-6)

@pytest.mark.parametrize('kind', ['chapter', 'tail', 'size_or_pattern'])
def test_degenerate_rows_fit(kind):
    "Constant rows, a constant column, one column: every score fits and scores finite (the misfit's whitener gets a tiny ridge)."
    X = np.random.default_rng(0).standard_normal((200, 4))
    for Z in (np.ones((200, 3)), np.c_[X, np.ones(200)], X[:, :1]):
        assert np.isfinite(VAEAnomalyDetector(**TINY, score_kind=kind).fit(Z).score_samples(Z)).all()

# `fit_detectors` trains the K detectors' VAEs together (`fit_many`); everything else is `fit`'s own code. Measured on the
# settings below (10-30 epochs, dropout, early stopping, 2026-12-05): scores of separate and joint fits differ by at most
# 5e-7 of the largest score, thresholds by 2e-7, weights by 1.2e-7 (the float rounding of the batched products); the tests
# allow 1e-4 of the largest score (another machine's BLAS rounds differently) and 1e-5 on the weights.
FD_TOL = 1e-4

@pytest.mark.parametrize('kw', [dict(score_kind='size_or_pattern'), dict(score_kind='tail', dropout=0.1, epochs=30),
                                dict(validation_split=0.2, patience=2, epochs=30, lr=1e-2, scale=False)],
                         ids=['default', 'dropout', 'early-stopping'])
def test_fit_detectors_equal_separate_fits(kw):
    rng = np.random.default_rng(5); B = rng.normal(0, 1, (6, 2))
    X, Xte = _factor(400, 6, rng, B), _factor(100, 6, rng, B)
    kw = dict(latent_dim=2, hidden_dims=[8], epochs=10, batch_size=32) | kw
    dets = anomaly.fit_detectors(X, [0, 3, 7], **kw)
    for s, d in zip([0, 3, 7], dets, strict=True):   # one detector per seed: a short list fails
        one = VAEAnomalyDetector(**kw, seed=s).fit(X)
        assert d.get_params() == one.get_params() and d.history_['path'] == 'multi'
        np.testing.assert_array_equal(d.calibration_idx_, one.calibration_idx_)
        if one.scaler_ is not None: np.testing.assert_array_equal(d.scaler_.mean_, one.scaler_.mean_)
        for k in ('epochs_run', 'best_epoch', 'stopped_early'): assert d.history_[k] == one.history_[k], k
        for p, q in zip(d.model_.parameters(), one.model_.parameters(), strict=True): torch.testing.assert_close(p, q, atol=1e-5, rtol=0)
        a, b = d.score_samples(Xte), one.score_samples(Xte)
        assert np.abs(a - b).max() <= FD_TOL * np.abs(b).max(), np.abs(a - b).max()
        assert abs(d.threshold_ - one.threshold_) <= FD_TOL * abs(one.threshold_)
        np.testing.assert_allclose(d.decision_scores_, one.decision_scores_, rtol=0, atol=FD_TOL * np.abs(one.decision_scores_).max())

def test_fit_detectors_bad_input():
    from puffin.deep.training import TrainingDiverged
    X = np.random.default_rng(0).standard_normal((100, 3))
    f = anomaly.fit_detectors
    cases = [(lambda: f(X, 3, **TINY), ValueError, 'seeds'), (lambda: f(X, [], **TINY), ValueError, 'seeds'),
             (lambda: f(X, np.arange(4).reshape(2, 2), **TINY), ValueError, 'seeds'),
             (lambda: f(X, [0, None], **TINY), ValueError, 'seeds[1]'), (lambda: f(X, [0, 1.5], **TINY), ValueError, 'seeds[1]'),
             (lambda: f(X, [0, 1], **TINY, contamination=0.7), ValueError, 'contamination'),
             (lambda: f(X, [0, 1], **TINY, alpha=1), TypeError, 'alpha'),
             (lambda: f(X, [0, 1], **TINY, seed=3), TypeError, 'seed'),
             (lambda: f(X[:8], [0, 1], **TINY), ValueError, '`X`'),
             (lambda: f(np.c_[X[:, :2], np.full(100, np.nan)], [0, 1], **TINY), ValueError, '`X`'),
             (lambda: f(X, [0, 1], **{**TINY, 'lr': 1e4, 'epochs': 3}), TrainingDiverged, 'seed')]
    for g, exc, name in cases:
        with pytest.raises(exc, match=__import__('re').escape(name)): g()

def test_fit_detectors_seeds_array_and_divergence_without_warning():
    "A 1-D integer array of seeds is taken as fit_many takes it; a diverged detector is TrainingDiverged alone, without fit_many's warning before it."
    from puffin.deep.training import TrainingDiverged
    X = np.random.default_rng(0).standard_normal((100, 3))
    a, b = anomaly.fit_detectors(X, np.arange(2), **TINY), anomaly.fit_detectors(X, [0, 1], **TINY)
    np.testing.assert_array_equal(a[1].decision_function(X), b[1].decision_function(X))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with pytest.raises(TrainingDiverged, match='seed'): anomaly.fit_detectors(X, [0, 1], **{**TINY, 'lr': 1e4, 'epochs': 3})

def test_detectors_benchmark_arms_fit_the_same_detectors():
    "bench/detectors_speed.py's two arms on a tiny workload: the same detectors (the script itself takes seconds on the recipe's data: not run here)."
    import importlib.util, pathlib
    spec = importlib.util.spec_from_file_location('detectors_speed', pathlib.Path(__file__).resolve().parents[1]/'bench'/'detectors_speed.py')
    b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)
    X = np.random.default_rng(0).standard_normal((200, 4))
    (t1, seq), (t2, joint) = b.arm_sequential(X, [0, 1], TINY), b.arm_together(X, [0, 1], TINY)
    assert all(wall > 0 and cpu >= 0 for wall, cpu in (t1, t2)) and len(seq) == len(joint) == 2
    assert b.score_gap(joint, seq, X) < FD_TOL
