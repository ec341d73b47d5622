"Property-based tests (hypothesis) of the model and trainer over shapes, sizes, batch sizes, dtypes and scales."
import numpy as np
import warnings
import pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
from puffin.deep.autoencoder import VAE, Autoencoder, AETrainer, TrainingDiverged, as_tensor, kl_per_sample

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
dims = st.integers(1, 12)
hidden = st.lists(st.integers(1, 16), min_size=0, max_size=3)

@SETTINGS
@given(d=dims, k=dims, h=hidden, n=st.integers(1, 9), dropout=st.sampled_from([0.0, 0.3]))
def test_vae_shapes(d, k, h, n, dropout):
    vae = VAE(d, k, hidden_dims=h, dropout=dropout)
    recon, mu, log_var = vae(torch.randn(n, d))
    assert recon.shape == (n, d) and mu.shape == log_var.shape == (n, k)
    assert vae.sample(n, seed=0).shape == (n, d) and vae.hidden_dims == tuple(h)

@SETTINGS
@given(n=st.integers(2, 40), batch=st.integers(1, 64), split=st.sampled_from([0.0, 0.25]), chrono=st.booleans())
def test_fit_any_batch_size(n, batch, split, chrono):
    "Batches larger than the data, data not divisible by the batch, with and without validation."
    X = np.random.default_rng(n).standard_normal((n, 3))
    if split and round(n * split) < 1: return
    h = AETrainer('cpu').fit(VAE(3, 2, hidden_dims=[4]), X, epochs=2, batch_size=batch, validation_split=split, chronological=chrono, seed=0)
    assert len(h['train_loss']) == 2 and np.isfinite(h['train_loss']).all()
    assert len(h['val_loss']) == (2 if split else 0)

@SETTINGS
@given(dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int32]), n=st.integers(1, 5), d=st.integers(1, 5))
def test_numeric_dtypes_become_float32(dtype, n, d):
    t = as_tensor(np.ones((n, d), dtype=dtype))
    assert t.dtype == torch.float32 and t.shape == (n, d)

@pytest.mark.parametrize('dtype', [np.float16, torch.float16, torch.bfloat16])
def test_half_precision_rejected(dtype):
    X = np.ones((3, 2), dtype=dtype) if isinstance(dtype, type) else torch.ones(3, 2, dtype=dtype)
    with pytest.raises(TypeError, match='float32'): as_tensor(X)

@SETTINGS
@given(scale=st.sampled_from([1e-3, 1.0, 1e3, 1e6]), seed=st.integers(0, 3))
def test_fit_is_finite_or_fails_loudly_across_scales(scale, seed):
    "Unscaled data may overflow the KL term's exp(log_var): then the fit must stop with advice, never return NaNs; it warns about the scale either way."
    X = np.random.default_rng(seed).standard_normal((64, 4)) * scale
    expect = pytest.warns(UserWarning, match='typical standard deviation') if scale != 1 else warnings.catch_warnings()
    try:
        with expect:
            if scale == 1: warnings.simplefilter('error')   # standardised data: no warning at all
            h = AETrainer('cpu').fit(VAE(4, 2, hidden_dims=[8]), X, epochs=2, lr=1e-3, seed=seed)
    except TrainingDiverged as e:
        assert scale > 1 and 'scaled' in str(e)
        return
    assert np.isfinite(h['train_loss']).all() and np.isfinite(h['val_loss']).all()

@SETTINGS
@given(n=st.integers(1, 20), k=st.integers(1, 6), seed=st.integers(0, 100))
def test_kl_non_negative(n, k, seed):
    g = torch.Generator().manual_seed(seed)
    mu, log_var = torch.randn(n, k, generator=g) * 3, torch.randn(n, k, generator=g) * 3
    assert (kl_per_sample(mu, log_var) >= -1e-5).all()

@SETTINGS
@given(d=dims, k=dims, h=hidden)
def test_autoencoder_shapes(d, k, h):
    assert Autoencoder(d, k, hidden_dims=h)(torch.randn(3, d)).shape == (3, d)

@SETTINGS
@given(seed=st.integers(0, 2**31 - 1))
def test_sampling_leaves_global_rng_alone(seed):
    vae, state = VAE(3, 2, hidden_dims=[4]), torch.get_rng_state()
    a, b = vae.sample(4, seed=seed), vae.sample(4, seed=seed)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), state)
