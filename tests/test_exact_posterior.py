"""`fit_aggregate_posterior(latents='exact')`: q(z) kept as it is (every training row's posterior), not a mixture fitted to it.
Issue 23: a 10-component mixture keeps the bulk of q(z), not its outskirts, and recipe 07's samples come out with lighter
tails than the training latents give (bench/one_day_seeds_log.md)."""
import numpy as np, pandas as pd, pytest, torch
from puffin.data import fit_scaler
from puffin.deep.generative import LikelihoodVAE, ConditionalVAE, encode_means, save_generative, load_generative, sample_path, trailing_vol_condition
from puffin.deep.runtime import seeded
from puffin.deep.training import AETrainer

ROWS = np.random.default_rng(0).standard_t(3, (300, 5)).astype(np.float32)

@pytest.fixture(scope='module')
def model():
    m = LikelihoodVAE(5, 2, [16], decoder='zi_student_t', df_from_z=True, min_df=3.0)
    AETrainer('cpu').fit(m, ROWS, epochs=3, batch_size=64, validation_split=0.0, seed=0)
    return m

def test_exact_draws_come_from_the_rows_posteriors(model):
    "The draws' mean and second moment are those of the equal-weight mixture of every row's q(z|x): mean of the means, mean of (variance + mean^2)."
    assert model.fit_aggregate_posterior(ROWS, latents='exact') is None
    mu, lv = encode_means(model, ROWS, log_var=True)
    assert sorted(model.aggregate_) == ['means', 'sds'] and model.aggregate_['means'].shape == (300, 2)
    with seeded(0, torch.device('cpu')): z = model._latents(200_000, 'aggregate')
    torch.testing.assert_close(z.mean(0), mu.mean(0), atol=0.02, rtol=0)
    torch.testing.assert_close(z.pow(2).mean(0), (lv.exp() + mu.pow(2)).mean(0), atol=0.03, rtol=0.02)
    a = model.sample(40, seed=1, from_='aggregate')
    assert torch.equal(a, model.sample(40, seed=1, from_='aggregate')) and torch.isfinite(a).all()

def test_exact_is_saved_with_the_model(model, tmp_path):
    model.fit_aggregate_posterior(ROWS, latents='exact')
    back = load_generative(save_generative(model, tmp_path/'exact.pt'))
    assert torch.equal(back.aggregate_['sds'], model.aggregate_['sds'])
    assert torch.equal(back.sample(8, seed=2, from_='aggregate'), model.sample(8, seed=2, from_='aggregate'))

def test_a_wrong_latents_names_the_argument(model):
    with pytest.raises(ValueError, match='latents'): model.fit_aggregate_posterior(ROWS, latents='posterior')

def test_conditional_model_samples_and_paths_from_the_exact_posterior():
    days = pd.DataFrame(ROWS[:, :3] * 0.01, columns=list('ABC'), index=pd.bdate_range('2020-01-01', periods=300))
    sc = fit_scaler(days)
    rows = np.hstack([sc.transform(days), np.random.default_rng(1).standard_normal((300, 3))]).astype(np.float32)
    m = ConditionalVAE(3, 3, 2, [16], decoder='student_t')
    AETrainer('cpu').fit(m, rows, epochs=2, batch_size=64, validation_split=0.0, seed=0)
    m.fit_aggregate_posterior(rows, latents='exact')
    assert m.sample(6, seed=0, from_='aggregate', cond=[0.0, 0.0, 0.0]).shape == (6, 3)
    vol = trailing_vol_condition(days, windows=(5, 10, 21))
    p = sample_path(m, days, 5, sc, vol.mean(), vol.std(), windows=(5, 10, 21), seed=0)
    assert p.shape == (5, 3) and np.isfinite(p.to_numpy()).all()
