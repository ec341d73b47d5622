"""bench/one_day_seeds.py's judging and tail helpers on stub numbers (the bench itself trains 5 models per configuration: it is not run here)."""
import numpy as np, pandas as pd
import pytest


@pytest.fixture(scope='module')
def bench(load_bench): return load_bench('one_day_seeds')

def test_judged_uses_the_mean_floor_and_each_line(bench):
    "A: AUC <= 0.55; K: 0.67 <= kurtosis ratio <= 1.5; V: every VaR/ES error within max(goal, the floor's mean over the seeds)."
    errs = dict(var_err_max=[0.10, 0.30], es_err_max=[0.20, 0.20], port_var_err=[0.04, 0.04], port_es_err=[0.05, 0.05])
    floors = {f'floor_{k}': [0.2, 0.1] for k in bench.ERRS}   # mean 0.15: above the VaR goal 0.05 and the ES goal 0.10
    t = pd.DataFrame(dict(auc=[0.55, 0.56], kurt_ratio=[0.66, 1.5], **errs, **floors))
    out, lines = bench.judged(t)
    assert lines['var_err_max'] == pytest.approx(0.15) and lines['es_err_max'] == pytest.approx(0.15)
    assert list(out.met) == ['A--', '-K-']   # seed 0: ES 0.20 > 0.15; seed 1: VaR 0.30 > 0.15

def test_winsorised_kurtosis_ignores_a_few_extreme_draws(bench):
    x = np.random.default_rng(0).standard_normal((6300, 3))
    y = x.copy(); y[0] = 40.0   # one wild day per column
    assert bench.mean_kurt(y) > 50 * max(bench.mean_kurt(x), 0.05)
    assert abs(bench.winsor_kurt(y) - bench.winsor_kurt(x)) < 0.1

def test_market_paths_days_are_independent_first_days(bench):
    "The 'MarketPaths' row draws each synthetic day as the first day of its own path: `n` days with the training columns, seeded."
    from puffin.paths import MarketPaths
    rng = np.random.default_rng(0)
    train = pd.DataFrame(0.01 * rng.standard_t(5, (400, 3)) + 0.005 * rng.standard_normal((400, 1)), columns=list('abc'))
    m = MarketPaths(era_days=50).fit(train)
    d = dict(train=train)
    a, b = bench.draw(m, 30, 7, d), bench.draw(m, 30, 7, d)
    assert list(a.columns) == list('abc') and a.shape == (30, 3)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(a.to_numpy(), m.sample(1, 30, seed=7)[:, 0])
    assert np.isnan(bench.df_share(m, 10, 0, d))
