"""A model fitted on a DataFrame keeps its column names (`feature_names_in_`): every helper that feeds it rows refuses a
DataFrame whose columns differ in name or order (a reordered frame would otherwise give each input the wrong column,
silently); arrays are taken as they are; the names survive saving and loading, and a fit on an array forgets them."""
import numpy as np, pandas as pd, pytest, torch
from puffin.deep.autoencoder import VAE, AETrainer
from puffin.deep.generative import LikelihoodVAE, encode_means, heldout_nll, save_generative, load_generative
from puffin.deep.multifit import fit_many
from puffin.deep.persist import save_model, load_model, FileFormatError
from puffin.anomaly import vae_score_parts
from puffin.latent import augment_events

COLS = ['SPY', 'AAPL', 'MSFT', 'JPM']


@pytest.fixture(scope='module')
def df(): return pd.DataFrame(np.random.default_rng(0).standard_normal((120, 4)), columns=COLS)


@pytest.fixture(scope='module')
def vae(df):
    torch.manual_seed(0); m = VAE(4, 2, [8]); AETrainer('cpu').fit(m, df, epochs=2, seed=0); return m


def test_fit_keeps_names(vae):
    assert vae.feature_names_in_ == COLS


@pytest.mark.parametrize('call', [lambda m, X: AETrainer('cpu').extract_features(m, X), lambda m, X: vae_score_parts(m, X),
                                  lambda m, X: encode_means(m, X), lambda m, X: augment_events(m, X, 2, seed=0),
                                  lambda m, X: heldout_nll(m, X, seed=0)],
                         ids=['extract_features', 'vae_score_parts', 'encode_means', 'augment_events', 'heldout_nll'])
def test_reordered_or_renamed_columns_refused(vae, df, call):
    same = call(vae, df)
    with pytest.raises(ValueError, match='`X.*another order'): call(vae, df[COLS[::-1]])
    with pytest.raises(ValueError, match="`X.*'SPY'"): call(vae, df.rename(columns={'SPY': 'QQQ'}))
    arr = call(vae, df.to_numpy())   # no names: taken as they are
    first = lambda r: next(iter(r.values())) if isinstance(r, dict) else r
    np.testing.assert_array_equal(np.asarray(first(arr)), np.asarray(first(same)))


def test_refused_call_and_array_fit(df):
    torch.manual_seed(0); m = VAE(4, 2, [8]); AETrainer('cpu').fit(m, df, epochs=1, seed=0)
    with pytest.raises(ValueError, match='X'): AETrainer('cpu').fit(m, df.iloc[:, :3], epochs=1)
    assert m.feature_names_in_ == COLS                                          # a refused fit leaves the names
    with pytest.raises(ValueError, match='path'): AETrainer('cpu').fit(m, df.rename(columns={'SPY': 'QQQ'}), epochs=1, path='fast', amp=True)
    assert m.feature_names_in_ == COLS                                          # also when the engine refuses it
    AETrainer('cpu').fit(m, df.to_numpy(), epochs=1, seed=0)
    assert not hasattr(m, 'feature_names_in_')                                  # an array's fit forgets them
    AETrainer('cpu').extract_features(m, df[COLS[::-1]])                         # and nothing is checked then


def test_fit_many_names_each_model(df):
    ms = [VAE(4, 2, [8]) for _ in range(2)]
    fit_many(ms, [df, df.to_numpy()], [0, 1], epochs=1)
    assert ms[0].feature_names_in_ == COLS and not hasattr(ms[1], 'feature_names_in_')
    lik = [LikelihoodVAE(4, 2, [8]) for _ in range(2)]
    fit_many(lik, df, [0, 1], epochs=1)
    assert all(m.feature_names_in_ == COLS for m in lik)


def test_names_saved_and_loaded(vae, df, tmp_path):
    assert load_model(save_model(vae, tmp_path / 'm.pt')).feature_names_in_ == COLS
    plain = VAE(4, 2, [8]); plain.feature_names_in_ = ['x']
    assert not hasattr(load_model(save_model(VAE(4, 2, [8]), tmp_path / 'n.pt'), into=plain), 'feature_names_in_')   # the file's (none) win
    torch.manual_seed(0); lik = LikelihoodVAE(4, 2, [8]); AETrainer('cpu').fit(lik, df, epochs=1, seed=0)
    assert load_generative(save_generative(lik, tmp_path / 'g.pt')).feature_names_in_ == COLS
    payload = torch.load(tmp_path / 'm.pt', weights_only=True); payload['feature_names'] = [1, 2]
    torch.save(payload, tmp_path / 'bad.pt')
    with pytest.raises(FileFormatError, match='column names'): load_model(tmp_path / 'bad.pt')
