"""Progress on the slow reports: `compare_generators` and `scorecard` show a bar over their rows with `verbose=True` (each row's discriminator takes about a second on real data), as `path_report` does over its generators; nothing without it; a `verbose` that is not a bool is refused before any work."""
import numpy as np, pandas as pd, pytest
from puffin.quality import compare_generators, scorecard, path_report

RET = pd.DataFrame(0.01 * np.random.default_rng(0).standard_normal((400, 3)), columns=list('abc'))
GENS = {'one': RET * 1.1, 'two': RET * 0.9}


@pytest.mark.parametrize('report', [compare_generators, scorecard])
def test_bar_over_the_rows(report, capsys):
    report(RET, GENS, max_rows=100, verbose=True)
    err = capsys.readouterr().err
    assert 'generators' in err and '5/5' in err   # the noise floor, two baselines, two generators


@pytest.mark.parametrize('report', [compare_generators, scorecard])
def test_quiet_by_default(report, capsys):
    report(RET, GENS, max_rows=100)
    assert capsys.readouterr().err == ''


@pytest.mark.parametrize('call', [lambda: compare_generators(RET, GENS, verbose='no'), lambda: scorecard(RET, GENS, verbose=1),
                                  lambda: path_report([RET.to_numpy()] * 4, [RET.to_numpy()] * 4, verbose='yes')])
def test_verbose_must_be_a_bool(call):
    with pytest.raises(ValueError, match='`verbose`'): call()
