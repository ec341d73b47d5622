"Edge cases of `puffin.paths.MarketPaths` (the lesson is nbs/api/16_market_paths.ipynb): bad arguments, determinism, states."
import threading
from dataclasses import replace
import numpy as np, pandas as pd, pytest
import puffin.paths
from puffin.paths import GJR, MarketPaths, fit_gjr


@pytest.fixture(scope='module')
def returns():
    "Three years of a 4-asset market whose common variance follows a GJR recursion (returns x 100 scale inside), seeded."
    rng, g, s2 = np.random.default_rng(0), GJR(0.0, 0.05, 0.03, 0.12, 0.88), 1.0
    m = np.empty(750)
    for t in range(750):
        m[t] = np.sqrt(s2) * rng.standard_t(6) / np.sqrt(1.5); s2 = g.step(s2, m[t])
    x = (m[:, None] * np.array([0.8, 1.0, 1.2, 0.9]) + 0.6 * rng.standard_normal((750, 4))) / 100
    return pd.DataFrame(x, index=pd.bdate_range('2000-01-03', periods=750), columns=list('ABCD'))


@pytest.fixture(scope='module')
def fitted(returns): return MarketPaths().fit(returns)


@pytest.mark.parametrize('setting, value', [('regime_width', 0.0), ('regime_width', 0.6), ('reaction', 1.5), ('leverage_shift', -0.1),
                                            ('max_idio_persistence', 1.0), ('max_kick', 0.5), ('reaction', True), ('burn', -1), ('burn', 2.5),
                                            ('market_persistence', 1.0), ('market_persistence', 'high'), ('variance_scale', 0.0), ('variance_scale', 'high'),
                                            ('variance_scale', np.inf), ('leverage_days', -1), ('leverage_days', 2.5), ('leverage_strength', -0.1),
                                            ('leverage_strength', True), ('era_days', -1), ('era_days', 5.0), ('era_days', 10_000),
                                            ('own_variance_cap', 0.0), ('own_variance_cap', 1.5), ('own_variance_cap', 'q99'),
                                            ('stress_elasticity', -0.1), ('stress_elasticity', 1.5), ('stress_elasticity', True)])
def test_bad_setting_named(returns, setting, value):
    with pytest.raises(ValueError, match=f'`{setting}`'): MarketPaths(**{setting: value}).fit(returns)


@pytest.mark.parametrize('bad, exc', [(lambda r: r.iloc[:100], ValueError), (lambda r: r.assign(A=0.01), ValueError),
                                      (lambda r: r.assign(A=np.nan), ValueError), (lambda r: r.to_numpy()[:, 0], ValueError)])
def test_bad_returns_named(returns, bad, exc):
    with pytest.raises(exc, match='`returns`'): MarketPaths().fit(bad(returns))


def test_prices_refused(returns, fitted):
    "Price levels passed for returns are refused where they enter, naming `returns` and what to pass; a cash-like column, above 0 every day but small, is returns."
    prices = 50 * np.exp(returns.cumsum())
    for bad in (prices, prices.to_numpy(), returns.assign(B=prices.B)):
        with pytest.raises(ValueError, match=r'`returns` looks like price levels.*`puffin\.data\.log_returns\(prices\)`'): MarketPaths().fit(bad)
    with pytest.raises(ValueError, match='`returns` looks like price levels'): fitted.states(prices)
    MarketPaths(variance_scale=1.0).fit(returns.assign(CASH=1e-4 * (1 + np.random.default_rng(0).random(len(returns)))))


@pytest.mark.parametrize('call, field, value, who', [(1, 'alpha', -0.1, 'the equal-weight market'), (3, 'omega', np.nan, "asset 'B'"),
                                                      (2, 'beta', np.inf, "asset 'A'"), (4, 's2', np.nan, "asset 'C'")])
def test_invalid_recursion_refused(returns, monkeypatch, call, field, value, who):
    "A GJR fit that is not a valid recursion (call 1 is the market's, then one per asset) is refused naming the series and the parameter, not stored."
    n, real = [0], puffin.paths.fit_gjr
    def spoiled(r):
        g, s2 = real(r); n[0] += 1
        if n[0] != call: return g, s2
        return (g, np.full_like(s2, value)) if field == 's2' else (replace(g, **{field: value}), s2)
    monkeypatch.setattr(puffin.paths, 'fit_gjr', spoiled)
    m = MarketPaths()
    with pytest.raises(ValueError, match=f"`returns`: the variance recursion of {who}.*{'variances not finite' if field == 's2' else field + '='}"): m.fit(returns)
    with pytest.raises(RuntimeError, match='fit'): m.sample(5)


def test_failed_fit_leaves_the_model_as_it_was(returns, monkeypatch):
    "A fit that fails after the recursions are fitted (here in the variance factor's simulation) changes nothing: a fitted model keeps its state, a fresh one stays unfitted."
    m = MarketPaths().fit(returns)
    before = {k: v for k, v in vars(m).items() if k.endswith('_')}
    def boom(*a, **k): raise FloatingPointError('simulated failure')
    monkeypatch.setattr(MarketPaths, '_target_variance', boom)
    with pytest.raises(FloatingPointError): m.fit(returns.iloc[:500])
    assert set(k for k in vars(m) if k.endswith('_')) == set(before)
    assert all(vars(m)[k] is v for k, v in before.items())
    fresh = MarketPaths()
    with pytest.raises(FloatingPointError): fresh.fit(returns)
    with pytest.raises(RuntimeError, match='fit'): fresh.sample(5)


def test_sample_before_fit():
    with pytest.raises(RuntimeError, match='fit'): MarketPaths().sample(5)


@pytest.mark.parametrize('kw, name', [(dict(n_days=0), 'n_days'), (dict(n_days=5, n_paths=0), 'n_paths'), (dict(n_days=5, seed=-1), 'seed'),
                                      (dict(n_days=5, seed=1.5), 'seed')])
def test_bad_sample_args_named(fitted, kw, name):
    with pytest.raises(ValueError, match=f'`{name}`'): fitted.sample(**kw)


def test_bad_state(fitted, returns):
    s2m, h = fitted.states(returns)
    with pytest.raises(TypeError, match='`state`'): fitted.sample(5, state=s2m)
    with pytest.raises(ValueError, match='`state`'): fitted.sample(5, n_paths=3, state=(s2m[:2], h[:2]))
    with pytest.raises(ValueError, match='`state`'): fitted.sample(5, state=(-1.0, h[0]))
    with pytest.raises(ValueError, match='`returns`'): fitted.states(returns.iloc[:, :2])


def test_seeded_and_thread_safe(fitted):
    one = fitted.sample(50, n_paths=3, seed=7)
    out = {}
    ts = [threading.Thread(target=lambda i=i: out.__setitem__(i, fitted.sample(50, n_paths=3, seed=7))) for i in range(2)]
    for t in ts: t.start()
    for t in ts: t.join()
    np.testing.assert_array_equal(out[0], one); np.testing.assert_array_equal(out[1], one)
    assert not np.array_equal(fitted.sample(50, n_paths=3, seed=8), one)


def test_state_starts_the_paths(fitted, returns):
    "A path from a state of high market variance is more volatile over its first days than one from a low state."
    s2m, h = fitted.states(returns)
    hi, lo = int(np.argmax(s2m)), int(np.argmin(s2m))
    vol = lambda t: fitted.sample(5, n_paths=400, seed=0, state=(s2m[t], h[t])).std()
    assert vol(hi) > 1.5 * vol(lo)
    assert s2m.shape == (len(returns) + 1,) and h.shape == (len(returns) + 1, 4)


def test_paths_scale_and_no_blow_up(fitted, returns):
    p = fitted.sample(1000, n_paths=20, seed=0)
    assert p.shape == (20, 1000, 4) and np.isfinite(p).all()
    assert 0.5 < p.std() / returns.to_numpy().std() < 2


def test_fit_gjr_recovers_leverage():
    "A series with gamma > 0 fits a gamma well above alpha; one without, a gamma near 0."
    def sim(g, n=5000, seed=0):
        rng, s2, out = np.random.default_rng(seed), 1.0, np.empty(n)
        for t in range(n):
            out[t] = np.sqrt(s2) * rng.standard_normal(); s2 = g.step(s2, out[t])
        return out
    lev = fit_gjr(sim(GJR(0.0, 0.05, 0.02, 0.12, 0.9)))[0]
    sym = fit_gjr(sim(GJR(0.0, 0.05, 0.08, 0.0, 0.9)))[0]
    assert lev.gamma > 3 * lev.alpha and sym.gamma < 0.04 and abs(sym.alpha - 0.08) < 0.03


def test_bad_trailing_state(fitted, returns):
    "A state's third part, the trailing market surprises, must have `leverage_days` columns; `states(trailing=)` takes a bool."
    s2m, h, trail = fitted.states(returns, trailing=True)
    assert trail.shape == (len(returns) + 1, fitted.leverage_days)
    with pytest.raises(ValueError, match='`state`'): fitted.sample(5, state=(s2m[-1], h[-1], trail[-1, :2]))
    with pytest.raises(ValueError, match='`state`'): fitted.sample(5, state=(s2m[-1], h[-1], np.full(fitted.leverage_days, np.nan)))
    with pytest.raises(TypeError, match='`trailing`'): fitted.states(returns, trailing=1)
    assert fitted.sample(5, n_paths=2, seed=0, state=(s2m[-1], h[-1], trail[-1])).shape == (2, 5, 4)


def test_market_settings(returns):
    "`market_persistence` sets the market recursion's persistence; `variance_scale` scales the paths' variance; `'auto'` makes the paths' market as volatile as the training days'."
    auto = MarketPaths(market_persistence=0.95).fit(returns)
    ratio = auto.sample(500, n_paths=200, seed=1).mean(2).var() / returns.mean(axis=1).var()
    assert 0.85 < ratio < 1.15 and auto.variance_scale_ > 0, (ratio, auto.variance_scale_)
    m = MarketPaths(market_persistence=0.95, variance_scale=1.0).fit(returns)
    assert abs(m.market_.persistence(m.surprises_[0]) - 0.95) < 1e-9
    big = MarketPaths(market_persistence=0.95, variance_scale=4.0).fit(returns)
    ratio = big.sample(500, n_paths=50, seed=0).mean(2).std() / m.sample(500, n_paths=50, seed=0).mean(2).std()
    assert 1.6 < ratio < 2.4


def test_leverage_term_after_falls(returns):
    "After falling days the leverage term raises the volatility, after rising days it lowers it; `leverage_strength=0` leaves it out."
    m = MarketPaths(leverage_strength=0.3, era_days=0).fit(returns)
    s2m, h = m.start_
    vol = lambda trail: m.sample(5, n_paths=2000, seed=0, state=(s2m, h, np.full(m.leverage_days, trail)))[:, 0].std()
    assert vol(-2.0) > 1.5 * vol(2.0)
    off = MarketPaths(leverage_strength=0.0, era_days=0).fit(returns)
    assert np.array_equal(off.sample(5, n_paths=3, seed=0, state=(s2m, h, np.full(5, -2.0))), off.sample(5, n_paths=3, seed=0, state=(s2m, h)))


def test_eras_carry_an_assets_own_level():
    "An asset whose own volatility was low for the first half of the training days and high for the second: the era levels follow, and with `era_days` its volatility relative to another asset's differs more between paths than without (seeded)."
    rng = np.random.default_rng(1)
    m = 0.5 * rng.standard_normal(1000)
    own = rng.standard_normal((1000, 3)) * np.c_[np.r_[np.full(500, 0.2), np.full(500, 2.0)], np.ones((1000, 2))]
    x = pd.DataFrame((m[:, None] + own) / 100, columns=list('ABC'))
    eras = MarketPaths(era_days=250).fit(x).eras_
    assert eras.shape == (751, 3) and eras[0, 0] < 0.8 and eras[-1, 0] > 1.2
    def spread(e):   # a fixed, strong market (not 'auto', which picks about 1 here and differs a little between the two fits): its share is the same in both
        p = MarketPaths(era_days=e, variance_scale=1.45).fit(x).sample(250, n_paths=200, seed=0)
        return np.log(p[:, :, 0].std(1) / p[:, :, 1].std(1)).std()
    assert spread(250) > 1.2 * spread(0)


def test_own_variance_cap(returns):
    "No asset's own variance goes above the `own_variance_cap` quantile of its fitted own variances, on paths or over history."
    m = MarketPaths(own_variance_cap=0.5).fit(returns)
    s2m, h = m.states(returns)
    assert (h[1:] <= m.own_cap_ + 1e-12).all()
    loose = MarketPaths(own_variance_cap=1.0).fit(returns)
    assert (m.own_cap_ < loose.own_cap_).all()
    assert np.isinf(MarketPaths(own_variance_cap=None).fit(returns).own_cap_).all()   # None: no cap
    hs = []
    orig = m._next_variances
    def spy(*a, **k):
        out = orig(*a, **k); hs.append(out[1]); return out
    m._next_variances = spy
    m.sample(100, n_paths=5, seed=0)
    assert (np.array(hs) <= m.own_cap_ + 1e-12).all()


def test_stress_elasticity(returns, fitted):
    """The own parts' factor has mean square 1 over the training days' market volatility and falls as it rises; paths
    with elasticity are more correlated in their most volatile windows than the same seeds' paths without; 0 is the model as fitted."""
    from puffin.quality import stress_rise
    m = MarketPaths(stress_elasticity=0.5).fit(returns)
    g = m._stress(m.sorted_vol_)
    np.testing.assert_allclose(np.mean(g ** 2), 1.0, rtol=1e-12)
    assert np.all(np.diff(g) <= 0) and g[0] > 1 > g[-1]
    rise = lambda mp: np.mean([stress_rise(mp.sample(250, n_paths=40, seed=s)) for s in (0, 1)])
    assert rise(m) > rise(fitted) + 0.02, (rise(m), rise(fitted))
    assert fitted._stress(m.sorted_vol_) == 1.0
    np.testing.assert_array_equal(MarketPaths(stress_elasticity=0.0).fit(returns).sample(20, n_paths=3, seed=4), fitted.sample(20, n_paths=3, seed=4))
