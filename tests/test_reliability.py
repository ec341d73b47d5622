"""Cross-module reliability: every public entry point rejects bad input by name, seeded work repeats bit for bit and
leaves torch's and numpy's global RNGs alone, and nothing returns NaN silently."""
import math
import numpy as np, pandas as pd, pytest, torch
from puffin.deep.autoencoder import VAE, Autoencoder, AETrainer, TrainingDiverged
from puffin.data import chronological_split, fit_scaler, scale, unscale, log_returns
from puffin.quality import quality_report
from puffin.latent import latent_path, augment_events
from puffin.anomaly import VAEAnomalyDetector

RNG = np.random.default_rng(0)
DAYS = pd.DataFrame(RNG.standard_normal((300, 4)) * 0.01, columns=list('ABCD'), index=pd.bdate_range('2010-01-01', periods=300))

def _nan_days():
    bad = DAYS.copy(); bad.iloc[5, 2] = np.nan
    return bad

@pytest.mark.parametrize('call, exc, match', [
    (lambda: AETrainer('cpu').fit(VAE(4, 2), _nan_days(), epochs=1), ValueError, '`X` contains NaN'),
    (lambda: quality_report(_nan_days(), DAYS), ValueError, '`real` holds 1 NaN'),
    (lambda: fit_scaler(_nan_days()), ValueError, '`train` holds 1 NaN'),
    (lambda: VAEAnomalyDetector(epochs=1).fit(_nan_days()), ValueError, '`X` contains NaN'),
    (lambda: VAEAnomalyDetector(contamination=0.7).fit(DAYS), ValueError, '`contamination`'),   # settings are checked by fit (scikit-learn's rule)
    (lambda: VAEAnomalyDetector(contamination=0).fit(DAYS), ValueError, '`contamination`'),
    (lambda: chronological_split(DAYS, '2030-01-01'), ValueError, '`split_date`'),
    (lambda: log_returns(DAYS.abs() + 1, tick=0), ValueError, '`tick`'),
    (lambda: unscale(np.ones((3, 3)), fit_scaler(DAYS)), ValueError, '`arr` must be 2-D with 4 columns'),
    (lambda: latent_path(VAE(4, 2), np.zeros((1, 3)), np.zeros((1, 4))), ValueError, '`x_a`'),
    (lambda: augment_events(VAE(4, 2), np.full((2, 4), np.inf)), ValueError, '`X_events`'),
    (lambda: VAE(4, 2, beta=-0.1), ValueError, '`beta`'),
    (lambda: AETrainer('cpu').fit(VAE(4, 2), DAYS.assign(E='x'), epochs=1), TypeError, r"`X` has non-numeric columns \['E'\]"),
    (lambda: AETrainer('cpu').fit(VAE(1, 1, [4]), DAYS['A'], epochs=1), ValueError, '`X` must be 2-D.*one feature'),     # a Series: 1-D, with the reshape to use
    (lambda: AETrainer('cpu').fit(VAE(4, 2), DAYS, epochs=1, threads=0), ValueError, '`threads`'),
    (lambda: VAEAnomalyDetector(epochs=1).fit(DAYS.iloc[:8]), ValueError, '`X` has 8 rows.*at least 10'),
    (lambda: scale(DAYS[list('DCBA')], fit_scaler(DAYS)), ValueError, "`df` has the scaler's columns in another order"),
    (lambda: VAE(4, 2).sample(3, seed=1.5), ValueError, '`seed`'),
])
def test_bad_input_is_named(call, exc, match):
    with pytest.raises(exc, match=match): call()

def _global_rng_states():
    return torch.get_rng_state(), np.random.get_state()[1].copy()

def test_seeded_work_repeats_and_leaves_global_rngs_alone():
    "Model construction draws its initial weights from torch's global RNG, as in PyTorch; everything seeded after it must not."
    X, scaler = scale(DAYS, fit_scaler(DAYS)), fit_scaler(DAYS)
    models = {}
    for key in ('a', 'b', 'c'):
        torch.manual_seed(0); models[key] = VAE(4, 2, hidden_dims=[8])
    before = _global_rng_states()
    def run(vae, seed):
        h = AETrainer('cpu').fit(vae, X, epochs=3, seed=seed)
        s = vae.sample(50, seed=seed)
        aug = augment_events(vae, X[:3], n_per_event=5, seed=seed)
        rep = quality_report(DAYS, unscale(s, scaler), seed=seed).summary.drop(columns='data')
        return h, s, aug, rep
    a, b, c = run(models['a'], 1), run(models['b'], 1), run(models['c'], 2)
    after = _global_rng_states()
    assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1]), "a seeded call touched a global RNG"
    assert a[0]['train_loss'] == b[0]['train_loss'] and a[0]['val_loss'] == b[0]['val_loss']
    assert torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])
    pd.testing.assert_frame_equal(a[3], b[3])
    assert a[0]['train_loss'] != c[0]['train_loss'] and not torch.equal(a[1], c[1])

def test_detector_scores_repeat():
    X = DAYS.to_numpy()
    s1 = VAEAnomalyDetector(epochs=2, seed=3).fit(X).decision_function(X)
    s2 = VAEAnomalyDetector(epochs=2, seed=3).fit(X).decision_function(X)
    assert np.array_equal(s1, s2) and np.isfinite(s1).all()

def test_divergence_names_epoch_and_keeps_finite_weights():
    vae = VAE(4, 2, hidden_dims=[8])
    with pytest.raises(TrainingDiverged, match=r'epoch \d+.*lower `lr`'):
        AETrainer('cpu').fit(vae, DAYS.to_numpy() * 1e30, epochs=3, lr=1.0, seed=0)
    assert all(torch.isfinite(p).all() for p in vae.parameters())
    assert not vae.training, "a failed fit left the model in train mode (dropout on)"

def test_divergence_carries_the_history_so_far():
    "TrainingDiverged.history holds the whole epochs before the one that diverged (fit_many's one-after-the-other fits keep it)."
    class Breaks(Autoencoder):   # its output turns NaN after 3 training steps: in epoch 3 of one step each
        calls = 0
        def forward(self, x):
            if self.training: self.calls += 1
            out = super().forward(x)
            return out * float('nan') if self.calls > 2 else out
    X = DAYS.to_numpy()[:32]
    with pytest.raises(TrainingDiverged, match='epoch 3') as e:
        AETrainer('cpu').fit(Breaks(4, 2), X, epochs=5, batch_size=64, validation_split=0.25, seed=0, path='autograd')
    h = e.value.history
    assert h['epochs_run'] == 2 and len(h['train_loss']) == len(h['val_loss']) == 2 and all(map(math.isfinite, h['train_loss']))

def test_early_stop_ends_with_a_full_progress_bar(capsys):
    "Early stopping is a normal end: the terminal bar ends at epochs_run/epochs_run (a short bar reads as an error; red in a notebook)."
    h = AETrainer('cpu').fit(VAE(4, 2, hidden_dims=[8]), DAYS.to_numpy(), epochs=200, patience=1, min_delta=10.0, verbose=True, seed=0)
    n = h['epochs_run']
    assert h['stopped_early'] and n < 200
    assert f"| {n}/{n} " in capsys.readouterr().err
