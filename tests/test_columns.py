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
    with pytest.raises(ValueError, match='`X`'): AETrainer('cpu').fit(m, df.iloc[:, :3], epochs=1)
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


def test_unscale_frame_checked_and_indexed(df):
    from puffin.data import fit_scaler, scale, unscale
    sc = fit_scaler(df)
    z = pd.DataFrame(scale(df, sc), columns=df.columns, index=df.index + 5)
    back = unscale(z, sc)
    assert back.index.equals(z.index) and list(back.columns) == COLS                     # a frame keeps its index
    with pytest.raises(ValueError, match='`arr`.*another order'): unscale(z[COLS[::-1]], sc)
    with pytest.raises(ValueError, match='`like`.*another order'): unscale(z, sc, like=df[COLS[::-1]])   # both are checked
    assert list(unscale(pd.DataFrame(z.to_numpy()), sc).columns) == COLS                 # numbered columns: by position


def test_series_end_points_checked(vae, df):
    from puffin.latent import latent_path
    latent_path(vae, df.iloc[0], df.iloc[1], 3)
    with pytest.raises(ValueError, match='`x_a`.*another order'): latent_path(vae, df[COLS[::-1]].iloc[0], df.iloc[1], 3)


def test_conditions_checked(df):
    from puffin.deep.generative import ConditionalVAE
    rows = df.assign(log_rv5=0.1, log_rv21=-0.2)
    torch.manual_seed(0); m = ConditionalVAE(4, 2, 2, [8]); AETrainer('cpu').fit(m, rows, epochs=1, seed=0)
    c = rows[['log_rv5', 'log_rv21']].iloc[[0]]
    m.sample(2, cond=c, seed=0); m.sample(2, cond=c.iloc[0], seed=0)
    for bad in (c[['log_rv21', 'log_rv5']], c[['log_rv21', 'log_rv5']].iloc[0]):
        with pytest.raises(ValueError, match='`cond`.*another order'): m.sample(2, cond=bad, seed=0)


def test_gaussian_nll_and_path_report_columns(df):
    from puffin.deep.generative import gaussian_nll
    from puffin.quality import path_report
    with pytest.raises(ValueError, match='`X`'): gaussian_nll(df, df[COLS[::-1]])
    long = pd.concat([df] * 10, ignore_index=True)
    windows = [long.iloc[i:i + 200] for i in range(0, 1000, 200)]
    with pytest.raises(ValueError, match='`paths`.*another order'): path_report([w[COLS[::-1]] for w in windows], windows)
    with pytest.raises(ValueError, match="`paths\\['a'\\]`"): path_report({'a': [w[COLS[::-1]] for w in windows]}, windows)


def test_sample_path_windows_in_the_fitted_order():
    from puffin.deep.generative import ConditionalVAE, sample_path, trailing_vol_condition
    from puffin.data import fit_scaler, scale
    rng = np.random.default_rng(0)
    ret = pd.DataFrame(0.01 * rng.standard_normal((300, 3)), index=pd.bdate_range('2010-01-01', periods=300), columns=['a', 'b', 'c'])
    sc = fit_scaler(ret)
    cond = trailing_vol_condition(ret, windows=(5, 21)); cm, cs = cond.mean(), cond.std()
    rows = pd.concat([pd.DataFrame(scale(ret, sc), index=ret.index, columns=ret.columns), (cond - cm) / cs], axis=1).dropna()
    torch.manual_seed(0); m = ConditionalVAE(3, 2, 2, [8]); AETrainer('cpu').fit(m, rows, epochs=1, seed=0)
    m.fit_aggregate_posterior(rows, n_components=2)
    sample_path(m, ret, 3, sc, cm, cs, windows=(5, 21), seed=0)
    with pytest.raises(ValueError, match='`windows`'): sample_path(m, ret, 3, sc, cm, cs, windows=(21, 5), seed=0)
