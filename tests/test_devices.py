"""The public API on every device at hand: the CPU always, CUDA where a GPU is present (skipped otherwise).
Each test trains a tiny model on the device, then calls the functions a user chains after `fit` with rows that
live on the CPU (as numpy arrays and DataFrames do), and checks that seeded draws repeat and leave the caller's
CPU and CUDA random states alone."""
import numpy as np, pandas as pd, pytest, torch
from puffin.deep.autoencoder import VAE, AETrainer
from puffin.deep.persist import save_model, load_model
from puffin.deep.generative import (LikelihoodVAE, ConditionalVAE, heldout_nll, kl_diagnostics, encode_means,
                                    save_generative, load_generative, sample_path, trailing_vol_condition)
from puffin.latent import latent_path, augment_events, active_units
from puffin.anomaly import vae_score_parts
from puffin.data import fit_scaler

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU'))]
ROWS = np.random.default_rng(0).standard_normal((256, 6)).astype(np.float32)

def _rng_states() -> list:
    "The global random states a seeded call must leave alone: the CPU's, and every GPU's."
    return [torch.get_rng_state()] + (torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [])

def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))

def _trained(model, device, X=ROWS):
    h = AETrainer(device).fit(model, X, epochs=2, batch_size=64, seed=0)
    assert all(p.device.type == device for p in model.parameters()) and np.isfinite(h['val_loss']).all()
    return model

@pytest.mark.parametrize('device', DEVICES)
def test_vae_and_recipes_on(device):
    m = VAE(6, 2, [16])                                          # initial weights from the global RNG, as in PyTorch
    before = _rng_states()
    _trained(m, device)                                          # a seeded fit: on a GPU machine a CPU fit leaves the GPU's RNG alone too
    feats = AETrainer(device).extract_features(m, ROWS)
    assert isinstance(feats, np.ndarray) and feats.shape == (256, 2)
    a, b = m.sample(5, seed=1), m.sample(5, seed=1)
    assert a.device.type == device and torch.equal(a, b)
    rows, z = latent_path(m, ROWS[0], ROWS[1], n_steps=4)
    assert rows.shape == (4, 6) and z.device.type == device
    assert torch.equal(augment_events(m, ROWS[:3], 4, seed=0), augment_events(m, ROWS[:3], 4, seed=0))
    assert _same(before, _rng_states())
    assert active_units(m, ROWS).shape == (2,)
    parts = vae_score_parts(m, torch.from_numpy(ROWS))          # CPU rows, model wherever it was trained
    assert parts['recon'].shape == (256,) and np.isfinite(parts['kl']).all()

@pytest.mark.parametrize('device', DEVICES)
def test_save_and_load_on(device, tmp_path):
    m = _trained(VAE(6, 2, [16]), device)
    back = load_model(save_model(m, tmp_path / 'm.pt'))             # files hold CPU tensors: a GPU model loads anywhere
    x = torch.from_numpy(ROWS[:8])
    with torch.no_grad(): want = m.decode(m.encode(x.to(device))[0]).cpu()
    with torch.no_grad(): got = back.decode(back.encode(x)[0])
    torch.testing.assert_close(got, want)

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('decoder', ['gaussian', 'lowrank', 'student_t', 'zi_student_t'])
def test_likelihood_vae_on(device, decoder, tmp_path):
    m = _trained(LikelihoodVAE(6, 2, [16], decoder=decoder), device)
    before = _rng_states()
    nll = heldout_nll(m, ROWS[:64], n_samples=8, seed=0)
    assert nll == heldout_nll(m, ROWS[:64], n_samples=8, seed=0) and np.isfinite(list(nll.values())).all()
    kl = kl_diagnostics(m, ROWS)
    assert list(kl.index) == [0, 1] and np.isfinite(kl['kl']).all()
    m.fit_aggregate_posterior(ROWS, n_components=2)
    s = m.sample(32, seed=3, from_='aggregate')
    assert s.device.type == device and torch.equal(s, m.sample(32, seed=3, from_='aggregate')) and torch.isfinite(s).all()
    assert _same(before, _rng_states())
    back = load_generative(save_generative(m, tmp_path / 'g.pt'))   # a CPU model: the same decoder and mixture
    z = torch.randn(16, 2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad(): torch.testing.assert_close(back.decoder_dist(z).mean, m.decoder_dist(z.to(device)).mean.cpu())
    assert all(torch.equal(back.aggregate_[k], m.aggregate_[k].cpu()) for k in m.aggregate_)

@pytest.mark.parametrize('device', DEVICES)
def test_conditional_paths_on(device):
    days = pd.DataFrame(ROWS[:, :3] * 0.01, columns=list('ABC'), index=pd.bdate_range('2020-01-01', periods=256))
    sc = fit_scaler(days)
    cond = np.random.default_rng(1).standard_normal((256, 2)).astype(np.float32)
    m = _trained(ConditionalVAE(3, 2, 2, [16]), device, np.hstack([sc.transform(days), cond]).astype(np.float32))
    m.fit_aggregate_posterior(np.hstack([sc.transform(days), cond]), n_components=2)
    assert encode_means(m, np.hstack([ROWS[:4, :3], cond[:4]])).device.type == 'cpu'
    vol = trailing_vol_condition(days, windows=(5, 21))   # the conditions' statistics: standardised conditions, as the model was trained on
    before = _rng_states()
    p = sample_path(m, days, 10, sc, vol.mean(), vol.std(), windows=(5, 21), seed=0, n_paths=2)
    q = sample_path(m, days, 10, sc, vol.mean(), vol.std(), windows=(5, 21), seed=0, n_paths=2)
    assert _same(before, _rng_states())
    assert len(p) == 2 and p[0].shape == (10, 3) and all(a.equals(b) for a, b in zip(p, q)) and np.isfinite(p[1].to_numpy()).all()

@pytest.mark.parametrize('device', DEVICES)
def test_explorer_on(device):
    pytest.importorskip('ipywidgets')
    from puffin.widgets import LatentExplorer, PathExplorer
    m = _trained(VAE(6, 2, [16]), device)
    ex = LatentExplorer(m, z0=encode_means(m, ROWS[:1])[0])
    with torch.no_grad(): want = m.decode(ex.z[None].to(device)).cpu().numpy()[0]
    np.testing.assert_allclose(ex.decoded, want)
    _, z = latent_path(m, ROWS[0], ROWS[1], n_steps=5)
    pe = PathExplorer(m, z)
    pe.controls[0].value = 1.0
    assert torch.equal(pe.z.cpu(), z[-1].cpu()) and pe.redraws == 2

@pytest.mark.parametrize('device', DEVICES)
def test_default_trainer_trains_where_the_model_is(device):
    "`AETrainer()` leaves a model where it is: a new one on the CPU (where the chapter's code uses it), a moved one on its GPU."
    m = VAE(6, 2, [16]).to(device)
    h = AETrainer().fit(m, ROWS, epochs=1, seed=0)
    assert all(p.device.type == device for p in m.parameters()) and h['path'] == 'fast'   # the written-out step on the CPU and on CUDA
    assert AETrainer('cpu').extract_features(m, ROWS).shape == (256, 2)   # encodes where the model is, whatever the trainer's device
    with torch.no_grad(): assert m.decode(m.encode(torch.from_numpy(ROWS[:2]).to(device))[0]).shape == (2, 6)

@pytest.mark.parametrize('device', DEVICES)
def test_float64_models_and_numpy_seeds_on(device):
    "A float64 model takes float32 rows from the CPU everywhere; numpy integers seed like ints; an unseeded likelihood estimate is refused."
    torch.manual_seed(0); m = VAE(6, 2, [16]).double().to(device)
    torch.manual_seed(0); twin = VAE(6, 2, [16]).double().to(device)
    h = AETrainer().fit(m, ROWS, epochs=1, seed=np.int64(0))
    assert h['train_loss'] == AETrainer().fit(twin, ROWS, epochs=1, seed=0)['train_loss']   # np.int64(0) seeds as 0 does
    assert vae_score_parts(m, torch.from_numpy(ROWS[:5]))['recon'].shape == (5,)
    assert latent_path(m, ROWS[0], ROWS[1], n_steps=3)[0].dtype == torch.float64
    assert augment_events(m, ROWS[:2], 3, seed=np.int64(1)).shape == (6, 6) and active_units(m, ROWS).shape == (2,)
    assert encode_means(m, ROWS[:3]).dtype == torch.float64
    lm = LikelihoodVAE(6, 2, [16]).double().to(device)
    with pytest.raises(ValueError, match='`seed` must be an int'): heldout_nll(lm, ROWS[:8], seed=None)
    assert np.isfinite(heldout_nll(lm, ROWS[:8], n_samples=4, seed=np.int64(0))['nll_iw'])
