"""The quality reports warn when a sample is in other units than the real rows (a forgotten `unscale`, percent returns): the scores would measure the units, not the generator."""
import re, warnings
import numpy as np, pandas as pd, pytest
from puffin.quality import quality_report, compare_generators, scorecard, path_report

SD = pd.DataFrame(np.random.default_rng(0).standard_normal((600, 3)), columns=list('abc'))   # standardised rows: size about 1
RET = SD * 0.015   # the same days as daily returns: every column 1/66.7 the size


def warned(f) -> list[str]:
    "The texts of the UserWarnings `f()` gives (every one, repeats included)."
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        f()
    assert all(x.category is UserWarning for x in w), [x.category for x in w]
    return [str(x.message) for x in w]


def test_scaled_samples_against_returns():
    (msg,) = warned(lambda: quality_report(RET, SD, max_rows=200))
    assert msg.startswith('`synthetic` is 66.7x the size of `real` (typical column root mean square ')
    assert 'puffin.data.unscale(samples, scaler, like=real)' in msg


def test_scaled_real_against_returns():
    (msg,) = warned(lambda: quality_report(SD, RET, max_rows=200))
    assert msg.startswith('`synthetic` is 1/66.7 the size of `real`') and '`real` looks standardised (or in percent)' in msg


def test_neither_side_near_one():
    (msg,) = warned(lambda: quality_report(RET, RET * 20, max_rows=200))   # 0.3 against 0.015: no side looks standardised
    assert msg.startswith('`synthetic` is 20x') and 'same units' in msg


def test_train_in_other_units():
    (msg,) = warned(lambda: quality_report(RET, RET * 1.2, train=SD[:400], holdout=RET[400:], max_rows=200))
    assert re.match(r'`train` is 6\d\.\dx the size of `real`', msg), msg


def test_compare_generators_names_the_generator_once():
    msgs = warned(lambda: compare_generators(RET, {'ok': RET * 1.5, 'vae': SD}, max_rows=200))
    assert len(msgs) == 1 and msgs[0].startswith("`generators['vae']` is 66.7x the size of `real`")


def test_scorecard_train_once():
    msgs = warned(lambda: scorecard(RET, {'ok': RET}, train=SD[:400], holdout=SD[400:], max_rows=200))
    assert len(msgs) == 1 and re.match(r'`train` is 6\d\.\dx the size of `real`', msgs[0]), msgs   # not once more per row


@pytest.mark.parametrize('factor', [1.0, 5.0, 0.2, 1 / 7.9])
def test_no_warning_within_the_gap(factor):
    "A generator 5x too volatile is a bad generator in the right units: its vol ratio says so, no warning."
    assert warned(lambda: quality_report(RET, RET * factor, max_rows=200)) == []


def test_zero_and_nan_columns_are_left_to_the_checks():
    half_nan = RET.copy(); half_nan.iloc[:300] = np.nan   # NaN days are left out of the size
    assert warned(lambda: quality_report(RET.dropna(), half_nan.dropna(), max_rows=200)) == []


def test_path_report_names_the_paths():
    g = np.random.default_rng(1)
    real = [0.01 * g.standard_normal((120, 2)) for _ in range(4)]
    paths = {'fine': [0.01 * g.standard_normal((120, 2)) for _ in range(4)], 'scaled': [g.standard_normal((120, 2)) for _ in range(4)]}
    msgs = warned(lambda: path_report(paths, real, max_iter=5, n_halvings=1))
    assert len(msgs) == 1 and msgs[0].startswith("`paths` ('scaled') is") and 'the size of `real_windows`' in msgs[0]
    assert 'unscale them first' in msgs[0]


def test_warning_points_at_the_callers_line():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        compare_generators(RET, {'vae': SD}, max_rows=200)
    assert w[0].filename == __file__


@pytest.mark.parametrize('plot', ['plot_marginals', 'plot_qq'])
def test_plots_warn_too(plot):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import puffin.plots
    f = getattr(puffin.plots, plot)
    (msg,) = warned(lambda: f(RET, SD))
    assert msg.startswith('`synthetic` is 66.7x the size of `real`')
    assert warned(lambda: f(RET, RET * 2)) == []
    plt.close('all')


@pytest.mark.parametrize('call, arg', [(lambda: compare_generators(RET, {'gaussian': SD}), '`generators`'),
                                       (lambda: path_report([SD.to_numpy()[:150]] * 4, [RET.to_numpy()[:150]] * 4, seed=-1), '`seed`'),
                                       (lambda: __import__('puffin.plots').plots.plot_marginals(RET, SD, bins=0), '`bins`')])
def test_bad_arguments_fail_before_any_warning(call, arg):
    "The warning is for a call that will run: an argument the call refuses fails first, without it."
    with warnings.catch_warnings():
        warnings.simplefilter('error')   # a warning first would raise here, not the ValueError
        with pytest.raises(ValueError, match=arg): call()
