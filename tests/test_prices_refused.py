"""Price levels passed where daily returns go are refused, naming the argument, by every function that takes returns (the
rule of `puffin.quality._check_returns`, which `MarketPaths` shares: tests/test_market_paths.py); the real S&P 500
returns, the whole 1990-2022 panel, pass every one of them."""
import importlib.util, re, warnings
import numpy as np, pandas as pd, pytest
import puffin.quality as q
from puffin.data import load_sp500_returns, load_sp500_prices
from puffin.deep.generative import trailing_vol_condition

needs_arch = pytest.mark.skipif(importlib.util.find_spec('arch') is None, reason='the GARCH baselines need the optional `arch`')
FAST = dict(max_rows=200)                       # discriminator rows per class
PATHS = dict(n_halvings=1, max_iter=5)          # path_report's noise floor and classifier, small

# (function, argument): a call with `x` in that argument and real returns `r` in the others
CASES = [
    ('per_asset_metrics', 'real', lambda x, r: q.per_asset_metrics(x, r)),
    ('per_asset_metrics', 'synthetic', lambda x, r: q.per_asset_metrics(r, x)),
    ('correlation_metrics', 'real', lambda x, r: q.correlation_metrics(x, r)),
    ('portfolio_tail_metrics', 'synthetic', lambda x, r: q.portfolio_tail_metrics(r, x)),
    ('dcr_metrics', 'synthetic', lambda x, r: q.dcr_metrics(x, r.iloc[:300], r.iloc[300:])),
    ('dcr_metrics', 'train', lambda x, r: q.dcr_metrics(r, x, r)),
    ('dcr_metrics', 'holdout', lambda x, r: q.dcr_metrics(r.iloc[:300], r.iloc[300:], x)),
    ('gaussian_baseline', 'train', lambda x, r: q.gaussian_baseline(x, 10)),
    ('bootstrap_baseline', 'train', lambda x, r: q.bootstrap_baseline(x, 10)),
    ('quality_report', 'real', lambda x, r: q.quality_report(x, r, **FAST)),
    ('quality_report', 'synthetic', lambda x, r: q.quality_report(r, x, **FAST)),
    ('quality_report', 'train', lambda x, r: q.quality_report(r, r, train=x, holdout=r, **FAST)),
    ('quality_report', 'holdout', lambda x, r: q.quality_report(r, r, train=r, holdout=x, **FAST)),
    ('compare_generators', 'real', lambda x, r: q.compare_generators(x, **FAST)),
    ('compare_generators', "generators['g']", lambda x, r: q.compare_generators(r, {'g': x}, **FAST)),
    ('compare_generators', 'train', lambda x, r: q.compare_generators(r, train=x, **FAST)),
    ('compare_generators', 'holdout', lambda x, r: q.compare_generators(r, train=r, holdout=x, **FAST)),
    ('scorecard', 'real', lambda x, r: q.scorecard(x, {}, **FAST)),
    ('scorecard', "generators['g']", lambda x, r: q.scorecard(r, {'g': x}, **FAST)),
    ('tail_metrics', 'real', lambda x, r: q.tail_metrics(x, r)),
    ('goal_metrics', 'synthetic', lambda x, r: q.goal_metrics(r, x)),
    pytest.param('garch_t_copula', 'train', lambda x, r: q.garch_t_copula(x, 10, burn=10), marks=needs_arch),
    pytest.param('gjr_garch_paths', 'train', lambda x, r: q.gjr_garch_paths(x, 10, burn=10), marks=needs_arch),
    pytest.param('filtered_historical_simulation', 'train', lambda x, r: q.filtered_historical_simulation(x, 10, burn=10), marks=needs_arch),
    ('block_bootstrap_paths', 'train', lambda x, r: q.block_bootstrap_paths(x, 10)),
    ('abs_return_acf', 'returns', lambda x, r: q.abs_return_acf(x, 5)),
    ('abs_return_acf, a list of paths', 'returns', lambda x, r: q.abs_return_acf([x.iloc[:len(x) // 2], x.iloc[len(x) // 2:]], 5)),
    ('leverage_effect', 'returns', lambda x, r: q.leverage_effect(x, 5)),
    ('stress_rise', 'paths', lambda x, r: q.stress_rise(x)),
    ('real_windows', 'returns', lambda x, r: q.real_windows(x, 120)),
    ('path_report', 'paths', lambda x, r: q.path_report(x, q.real_windows(r, 120), **PATHS)),
    ('path_report', 'real_windows', lambda x, r: q.path_report(r, [x.iloc[i:i + 120] for i in range(0, len(x) - 119, 120)], **PATHS)),
    ('path_report', 'train_windows', lambda x, r: q.path_report(r, q.real_windows(r, 120), train_windows=x, holdout=r, **PATHS)),
    ('path_report', 'holdout', lambda x, r: q.path_report(r, q.real_windows(r, 120), train_windows=r, holdout=x, **PATHS)),
    ('trailing_vol_condition', 'returns', lambda x, r: trailing_vol_condition(x)),
]
IDS = [f'{c.values[0] if hasattr(c, "values") else c[0]}: {c.values[1] if hasattr(c, "values") else c[1]}' for c in CASES]


@pytest.fixture(scope='module')
def last_600():
    "The S&P 500 prices of the last 600 days and their log returns, dated."
    prices = load_sp500_prices().iloc[-601:]
    return prices.iloc[1:], np.log(prices).diff().iloc[1:]


@pytest.mark.parametrize('func, arg, call', CASES, ids=IDS)
def test_prices_are_refused_naming_the_argument(last_600, func, arg, call):
    prices, returns = last_600
    with pytest.raises(ValueError, match=re.escape(f'`{arg}` looks like price levels') + r'.*`puffin\.data\.log_returns\(prices\)`'):
        call(prices, returns)


@pytest.fixture(scope='module')
def panel():
    "The whole 1990-2022 panel, raw (in the argument under test) and dequantised (in the others: the memorisation checks need other rows)."
    raw, deq = load_sp500_returns(), load_sp500_returns(dequantize=True, seed=0)
    assert raw.index[0].year == 1990 and raw.index[-1].year == 2022 and raw.shape == deq.shape
    return raw, deq


@pytest.mark.parametrize('func, arg, call', CASES, ids=IDS)
def test_real_returns_pass(panel, func, arg, call):
    call(*panel)


def test_the_rule():
    "Above 0 on every day with a median above 0.05 is a price level; NaN days are left out; small positive series and |returns| are not refused; a list of paths is one stack of days."
    raw = load_sp500_returns().to_numpy()
    q._check_returns(np.abs(raw), None, 'x')                                   # |daily returns|: median near 0.01
    q._check_returns(1e-4 * (1 + np.random.default_rng(0).random((500, 2))), None, 'x')   # cash-like: above 0, tiny
    with warnings.catch_warnings():
        warnings.simplefilter('error')                                          # an all-NaN column: no warning, no refusal
        q._check_returns(np.c_[raw[:, :1], np.full(len(raw), np.nan)], None, 'x')
    px = np.where(np.arange(100)[:, None] % 7 == 0, np.nan, 50.0 + np.arange(100)[:, None])
    with pytest.raises(ValueError, match=r"`x` looks like price levels, not daily returns: columns \['b'\] .*median 100\)"):
        q._check_returns(np.c_[raw[:100, :1], px], ['a', 'b'], 'x')             # NaN days left out
    with pytest.raises(ValueError, match=r"`x` looks like .* columns \[1\]"):
        q._check_returns([np.c_[raw[:50, :1], px[:50]], np.c_[raw[50:100, :1], px[50:]]], None, 'x')   # positions without names
    q._check_returns([px, -px], None, 'x')                                       # one stack: days of both signs


def test_positive_by_design_not_refused(last_600):
    "`hill_tail_index` takes |r| or Pareto samples, `discriminator_auc` also runs on |returns| (the realistic-scenarios recipe): positive data passes."
    prices, returns = last_600
    assert q.hill_tail_index(prices, 0.05).shape == (20,)
    pct = 100 * returns.abs()                                                   # |returns| in percent: median above 0.05
    assert 0 <= q.discriminator_auc(pct, pct.sample(frac=1, random_state=0), max_rows=200, max_iter=5)['disc_auc'] <= 1
