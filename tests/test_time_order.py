"""Rows that run through time are checked to run forward: newest-first dates (as a vendor's CSV has them, read with or
without `parse_dates`) would reverse every return, hold out the oldest days as the "last" ones and run every variance
recursion backwards, silently. Yes/no settings take only True or False: the string 'False' is truthy."""
import io
import numpy as np, pandas as pd, pytest, torch
from puffin.data import log_returns, fit_scaler
from puffin.deep.autoencoder import VAE, AETrainer
from puffin.deep.generative import LikelihoodVAE, trailing_vol_condition
from puffin.deep.multifit import fit_many
from puffin.anomaly import VAEAnomalyDetector, MahalanobisDetector
from puffin.paths import MarketPaths
from puffin.quality import real_windows, block_bootstrap_paths


@pytest.fixture(scope='module')
def returns():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.standard_normal((300, 3)), index=pd.bdate_range('2010-01-01', periods=300), columns=['a', 'b', 'c'])


def test_prices_with_string_dates():
    prices = pd.DataFrame({'A': [100., 110., 121.]}, index=pd.to_datetime(['2020-01-01', '2020-01-02', '2020-01-03']))
    csv = pd.read_csv(io.StringIO(prices.to_csv()), index_col=0)                        # no parse_dates: dates are strings
    np.testing.assert_allclose(log_returns(csv).to_numpy(), log_returns(prices).to_numpy())  # oldest first: taken
    newest_first = pd.read_csv(io.StringIO(prices.iloc[::-1].to_csv()), index_col=0)
    with pytest.raises(ValueError, match='`prices`.*parse_dates'): log_returns(newest_first)
    log_returns(pd.DataFrame({'A': [1., 2.]}, index=['b', 'a']))                           # strings that are no dates: no order to check


@pytest.mark.parametrize('call, name', [
    (lambda r: AETrainer('cpu').fit(VAE(3, 2, [4]), r, epochs=1, chronological=True), 'X'),
    (lambda r: fit_many([VAE(3, 2, [4]), VAE(3, 2, [4])], r, [0, 1], epochs=1, chronological=True), 'X'),
    (lambda r: VAEAnomalyDetector(latent_dim=1, hidden_dims=[4], epochs=1, validation_split=0.2).fit(r), 'X'),
    (lambda r: MarketPaths().fit(r), 'returns'),
    (lambda r: trailing_vol_condition(r), 'returns'),
    (lambda r: real_windows(r, 100), 'returns'),
    (lambda r: block_bootstrap_paths(r, 10), 'train'),
], ids=['fit', 'fit_many', 'detector', 'MarketPaths', 'trailing_vol_condition', 'real_windows', 'block_bootstrap_paths'])
def test_newest_first_refused(returns, call, name):
    with pytest.raises(ValueError, match=f'`{name}` dates must be in ascending order'): call(returns.iloc[::-1])


def test_order_free_calls_take_any_order(returns):
    "A random split, or a detector without validation rows, does not depend on the order: taken as it is."
    AETrainer('cpu').fit(VAE(3, 2, [4]), returns.iloc[::-1], epochs=1, seed=0)
    VAEAnomalyDetector(latent_dim=1, hidden_dims=[4], epochs=1).fit(returns.iloc[::-1])


@pytest.mark.parametrize('call, name', [
    (lambda r: AETrainer('cpu').fit(VAE(3, 2, [4]), r, epochs=1, chronological='False'), 'chronological'),
    (lambda r: AETrainer('cpu').fit(VAE(3, 2, [4]), r, epochs=1, restore_best='no'), 'restore_best'),
    (lambda r: AETrainer('cpu').fit(VAE(3, 2, [4]), r, epochs=1, verbose=1), 'verbose'),
    (lambda r: LikelihoodVAE(3, 2, [4]).sample(3, seed=0, noise='False'), 'noise'),
    (lambda r: MahalanobisDetector(scale='False').fit(r), 'scale'),
    (lambda r: MahalanobisDetector(cross_fit='False').fit(r), 'cross_fit'),
    (lambda r: VAEAnomalyDetector(scale='False', epochs=1).fit(r), 'scale'),
], ids=['chronological', 'restore_best', 'verbose', 'noise', 'mahalanobis-scale', 'cross_fit', 'vae-scale'])
def test_yes_no_settings_take_bools(returns, call, name):
    with pytest.raises(ValueError, match=f'`{name}` must be True or False'): call(returns)
    assert AETrainer('cpu').fit(VAE(3, 2, [4]), returns, epochs=1, chronological=np.bool_(True))['epochs_run'] == 1   # numpy's bools are bools


def test_scaler_needs_two_rows(returns):
    with pytest.raises(ValueError, match='`train`'): fit_scaler(returns.iloc[:1])
