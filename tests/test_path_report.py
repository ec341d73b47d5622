"""`path_report` on a small toy market: the noise floor, clustering of i.i.d. days, the memorisation check, bad inputs, seeds."""
import numpy as np, pandas as pd, pytest
from puffin.quality import path_report, real_windows, PathReport, GROUPS, FLOOR

FAST = dict(max_iter=20, n_halvings=2)   # a weak classifier and two halvings: a second per report


def toy_market(n_paths: int, days: int=250, phi: float=0.97, s: float=0.15, lev: float=-0.15, seed: int=0) -> np.ndarray:
    "Paths (n_paths x days x 3): one AR(1) log-vol with leverage shared by the assets, equicorrelated shocks."
    g = np.random.default_rng(seed)
    e = g.standard_normal((n_paths, days, 3)) @ np.linalg.cholesky(np.full((3, 3), 0.5) + 0.5 * np.eye(3)).T
    h, out = np.zeros(n_paths), np.empty((n_paths, days, 3))
    for t in range(days):
        out[:, t] = 0.01 * np.exp(h)[:, None] * e[:, t]
        h = phi * h + lev * e[:, t].mean(1) + s * g.standard_normal(n_paths)
    return out


def block_copies(train: np.ndarray, n_paths: int, days: int, block: int=20, seed: int=0) -> np.ndarray:
    "Paths stitched from `block`-day stretches of `train`: a generator that copies."
    starts = np.random.default_rng(seed).integers(0, len(train) - block, size=(n_paths, days // block))
    return np.stack([np.concatenate([train[i:i + block] for i in row]) for row in starts])


@pytest.fixture(scope='module')
def real(): return toy_market(8, seed=1)


def test_floor_is_computed(real):
    rep = path_report(toy_market(8, seed=2), real, **FAST)
    assert isinstance(rep, PathReport)
    assert list(rep.table.index) == ['synthetic', FLOOR] and list(rep.table.columns[:5]) == GROUPS
    floor = rep.table.loc[FLOOR]
    assert np.isfinite(floor[GROUPS + ['window AUC', 'window AUC (vol-scaled)']].to_numpy(float)).all() and (floor[GROUPS] > 0).all()
    assert np.isnan(floor['copied'])   # no memorisation check for two halves of real data
    assert rep.lines['floor error'].notna().all() and len(rep.lines) == 21
    pd.testing.assert_series_equal(rep.summary, rep.table.iloc[0])


def test_iid_days_score_worse_than_real_on_clustering(real):
    g = np.random.default_rng(0)
    iid = g.standard_normal((8, 250, 3)) @ np.linalg.cholesky(np.full((3, 3), 0.5) + 0.5 * np.eye(3)).T * real.std()
    rep = path_report({'iid gaussian': iid, 'same toy': toy_market(8, seed=2)}, real, **FAST)
    t = rep.table
    assert t.loc['iid gaussian', 'clustering'] > max(t.loc[FLOOR, 'clustering'], t.loc['same toy', 'clustering'])
    assert t.loc['iid gaussian', 'clustering'] > 0.8   # no clustering at all: every ACF line ~ -100 %
    assert t.loc['iid gaussian', 'window AUC'] > t.loc['same toy', 'window AUC']


def test_block_bootstrap_of_training_days_is_flagged(real):
    train = toy_market(1, days=2000, seed=3)[0]
    rep = path_report({'fresh': toy_market(4, 260, seed=4), 'copies': block_copies(train, 4, 260)}, real, train_windows=train, **FAST)
    assert rep.copying().to_dict() == {'fresh': False, 'copies': True}
    assert rep.table.loc['copies', 'copied'] > 0.2 and rep.table.loc['fresh', 'copied'] <= 0.1
    # the holdout defaults to `real_windows`; passing it is the same
    again = path_report({'fresh': toy_market(4, 260, seed=4), 'copies': block_copies(train, 4, 260)}, real, train_windows=[train], holdout=list(real), **FAST)
    pd.testing.assert_frame_equal(rep.table, again.table)


def test_holdout_on_training_days_is_refused(real):
    with pytest.raises(ValueError, match='holdout'):
        path_report(toy_market(4, seed=2), real, train_windows=real.reshape(-1, 3), holdout=real[:2], **FAST)


def test_deterministic_given_seed(real):
    syn = toy_market(6, seed=5)
    a, b = path_report(syn, real, seed=3, **FAST), path_report(syn, real, seed=3, **FAST)
    pd.testing.assert_frame_equal(a.table, b.table); pd.testing.assert_frame_equal(a.lines, b.lines)
    c = path_report(syn, real, seed=4, **FAST)
    assert not c.table.loc[FLOOR].equals(a.table.loc[FLOOR])   # another seed, other halvings


@pytest.mark.parametrize('kwargs, exc, arg', [
    (dict(paths='abc'), TypeError, 'paths'),
    (dict(paths=[np.array([['a'] * 3] * 300)]), TypeError, 'paths'),
    (dict(paths=np.zeros((2, 50, 3))), ValueError, 'paths'),            # too short for lag 100
    (dict(paths=np.zeros((2, 300, 2))), ValueError, 'paths'),           # 2 assets, real has 3 (zeros: ones would be refused as prices)
    (dict(paths=np.full((2, 300, 3), np.nan)), ValueError, 'paths'),
    (dict(paths={}), ValueError, 'paths'),
    (dict(paths={FLOOR: np.ones((2, 300, 3))}), ValueError, 'paths'),
    (dict(real_windows={'a': 1}), TypeError, 'real_windows'),
    (dict(real_windows=np.zeros((3, 300, 3))), ValueError, 'real_windows'),   # fewer than 4 windows: no halves
    (dict(seed=-1), ValueError, 'seed'),
    (dict(seed=1.5), ValueError, 'seed'),
    (dict(n_halvings=0), ValueError, 'n_halvings'),
    (dict(max_iter=True), ValueError, 'max_iter'),
    (dict(max_copied=1.5), ValueError, 'max_copied'),
    (dict(train_windows=np.zeros((300, 2))), ValueError, 'train_windows'),   # 2 assets
    (dict(train_windows=np.zeros((300, 3)), holdout='x'), TypeError, 'holdout'),
])
def test_bad_inputs_name_the_argument(real, kwargs, exc, arg):
    args = dict(paths=toy_market(2, 300, seed=2), real_windows=real, max_iter=5, n_halvings=1) | kwargs
    with pytest.raises(exc, match=f'`{arg}`'):
        path_report(**args)


def test_real_windows():
    df = pd.DataFrame(np.random.default_rng(0).standard_normal((1100, 2)), index=pd.bdate_range('2000-01-03', periods=1100))
    w = real_windows(df, 500)
    assert [len(x) for x in w] == [500, 500] and w[1].index[0] == df.index[500]
    assert len(real_windows(df, 500, step=100)) == 7
    for kwargs, exc, arg in [(dict(returns=df.to_numpy()), TypeError, 'returns'), (dict(returns=df, days=1), ValueError, 'days'),
                             (dict(returns=df, step=0), ValueError, 'step'), (dict(returns=df, days=2000), ValueError, 'returns')]:
        with pytest.raises(exc, match=f'`{arg}`'): real_windows(**kwargs)


# --- the path baselines ---
from puffin.quality import gjr_garch_paths, filtered_historical_simulation, block_bootstrap_paths, garch_t_copula
needs_arch = pytest.mark.skipif(__import__('importlib').util.find_spec('arch') is None, reason='the GARCH baselines need the optional `arch`')
BASELINES = [gjr_garch_paths, filtered_historical_simulation, block_bootstrap_paths]


@pytest.fixture(scope='module')
def train(): return pd.DataFrame(toy_market(1, days=2000, seed=3)[0], columns=['a', 'b', 'c'])


@pytest.mark.parametrize('f', BASELINES)
def test_baselines_shape_and_seed(f, train):
    if f is not block_bootstrap_paths: pytest.importorskip('arch')
    a = f(train, 120, n_paths=3, seed=0)
    assert a.shape == (3, 120, 3) and np.isfinite(a).all()
    assert np.array_equal(a, f(train, 120, n_paths=3, seed=0)) and not np.array_equal(a, f(train, 120, n_paths=3, seed=1))
    assert f(train, 50, seed=0).shape == (1, 50, 3)


@pytest.mark.parametrize('f', BASELINES)
@pytest.mark.parametrize('kwargs, exc, arg', [(dict(n_days=0), ValueError, 'n_days'), (dict(n_paths=1.5), ValueError, 'n_paths'),
                                              (dict(seed=-2), ValueError, 'seed'), (dict(train=np.ones((10, 2, 2))), ValueError, 'train'),
                                              (dict(train=pd.DataFrame({'a': ['x'] * 20})), ValueError, 'train')])
def test_baselines_bad_inputs(f, train, kwargs, exc, arg):
    args = dict(train=train, n_days=10) | kwargs
    with pytest.raises(exc, match=f'`{arg}`'): f(**args)


def test_block_bootstrap_copies_whole_days_in_blocks_of_20():
    ix = np.repeat(np.arange(5000.)[:, None], 2, 1)   # each day's "returns" are its number: a path shows what it copied
    bb = block_bootstrap_paths(ix, 3000, n_paths=4, seed=1)
    assert (bb[..., 0] == bb[..., 1]).all()   # whole days: the cross-section is kept
    jumps = (np.diff(bb[..., 0], axis=1) % 5000 != 1).sum()
    assert abs(bb[..., 0].size / (jumps + 4) - 20) < 2
    with pytest.raises(ValueError, match='`mean_block`'): block_bootstrap_paths(ix, 10, mean_block=0)


def test_block_bootstrap_of_training_days_is_flagged_as_copying(real, train):
    rep = path_report({'block bootstrap': block_bootstrap_paths(train, 250, 6, seed=0), 'fresh': toy_market(6, seed=7)}, real,
                      train_windows=train, **FAST)
    assert rep.copying().to_dict() == {'block bootstrap': True, 'fresh': False}


@needs_arch
def test_gjr_paths_have_leverage_and_fhs_keeps_days(train):
    g = gjr_garch_paths(train, 2000, n_paths=2, seed=0)
    from puffin.quality import leverage_effect
    assert leverage_effect(list(g), 5)['asset mean'].mean() < -0.02   # the toy's falls raise its vol: the GJR term picks that up
    assert gjr_garch_paths(train, 300, 1, seed=5).shape == (1, 300, 3)


def _garch_t_copula_before(train, n, seed=0, burn=500, max_persistence=0.999):
    "garch_t_copula as it was written before the path baselines shared its fit and recursion: the reference."
    from arch import arch_model
    from scipy import stats
    x = np.asarray(train, dtype=np.float64)
    fits = [arch_model(100 * x[:, j], mean='Constant', vol='GARCH', p=1, q=1, dist='t').fit(disp='off') for j in range(x.shape[1])]
    mu, om, al, be, nu = np.array([[f.params['mu'], f.params['omega'], f.params['alpha[1]'], f.params['beta[1]'], f.params['nu']] for f in fits]).T
    cap = al + be > max_persistence
    k = np.where(cap, max_persistence / (al + be), 1.0)
    al, be = al * k, be * k
    om = np.where(cap, (100 * x).var(0) * (1 - al - be), om)
    sr = np.column_stack([np.asarray(f.std_resid) for f in fits]); sr = sr[np.isfinite(sr).all(1)]
    u = stats.t.cdf(sr * np.sqrt(nu / (nu - 2)), nu)
    R = np.atleast_2d(np.corrcoef(stats.norm.ppf(np.clip(u, 1e-10, 1 - 1e-10)), rowvar=False))
    rng = np.random.default_rng(seed)
    e = stats.t.ppf(stats.norm.cdf(rng.standard_normal((burn + n, x.shape[1])) @ np.linalg.cholesky(R).T), nu) * np.sqrt((nu - 2) / nu)
    s2, out = om / (1 - al - be), np.empty_like(e)
    for t in range(len(e)):
        out[t] = mu + np.sqrt(s2) * e[t]
        s2 = om + al * (out[t] - mu) ** 2 + be * s2
    return out[burn:] / 100


@needs_arch
def test_garch_t_copula_unchanged_by_the_shared_helpers(train):
    for seed in (0, 3):
        np.testing.assert_array_equal(garch_t_copula(train, 200, seed=seed), _garch_t_copula_before(train, 200, seed=seed))


def test_bench_prints_the_issue_table(real, load_bench):
    "bench/path_table.py's table printer on a small report (the script itself trains and fits for minutes: not run here)."
    bench = load_bench('path_table')
    train = toy_market(1, days=2000, seed=3)[0]
    rep = path_report({'copies': block_copies(train, 4, 260), 'fresh': toy_market(4, 260, seed=4)}, real, train_windows=train, **FAST)
    lines = bench.markdown(rep).splitlines()
    assert lines[0].startswith('| generator | clustering |') and len(lines) == 5
    assert 'no: ' in lines[2] and '| yes (' in lines[3] and lines[4].startswith(f'| {FLOOR} |')


def test_progress_bar_only_when_verbose(real, capsys):
    "verbose=True shows a bar over the generators and the floor's halvings (here 1 + 2 steps); the default prints nothing; the table is the same."
    shown = path_report(toy_market(8, seed=2), real, verbose=True, **FAST)
    err = capsys.readouterr().err
    assert 'path report' in err and '3/3' in err, err
    quiet = path_report(toy_market(8, seed=2), real, **FAST)
    assert capsys.readouterr().err == ''
    pd.testing.assert_frame_equal(shown.table, quiet.table)
