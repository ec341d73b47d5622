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
    assert rep.table.loc['copies', 'copied'] > 0.2 and rep.table.loc['fresh', 'copied'] <= 0.05
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
    (dict(paths=np.ones((2, 300, 2))), ValueError, 'paths'),            # 2 assets, real has 3
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
    (dict(train_windows=np.ones((300, 2))), ValueError, 'train_windows'),
    (dict(train_windows=np.ones((300, 3)), holdout='x'), TypeError, 'holdout'),
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
