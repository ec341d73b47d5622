"""Calls the documentation promises, which the code refused or answered differently (found by a review on 2026-12-06)."""
import numpy as np, pandas as pd, pytest
from puffin.data import fit_scaler, scale, unscale
from puffin.quality import compare_generators, scorecard


@pytest.fixture(scope='module')
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(0, 0.01, (300, 3)), columns=list('ABC'), index=pd.bdate_range('2020-01-01', periods=300))


@pytest.mark.parametrize('columns', [None, [0, 1, 2], np.arange(3)])
def test_unscale_numbered_frame_keeps_its_index(frame, columns):
    "'a DataFrame `arr` keeps its index; its column names, unless numbered, must be the scaler's': numbered columns lost the dates (a RangeIndex) or were refused (an explicit 0, 1, 2)."
    sc = fit_scaler(frame)
    out = unscale(pd.DataFrame(scale(frame, sc), index=frame.index, columns=columns), sc)
    assert out.index.equals(frame.index) and list(out.columns) == list('ABC')
    np.testing.assert_allclose(out.to_numpy(), frame.to_numpy(), atol=1e-7)


def test_unscale_named_frame_still_checked(frame):
    sc = fit_scaler(frame)
    with pytest.raises(ValueError, match='`arr`'): unscale(pd.DataFrame(scale(frame, sc), columns=list('ACB')), sc)


def test_train_alone_fits_the_baselines(frame):
    "`train` 'fits the baselines and enables DCR (with `holdout`)': alone it was refused by every inner report."
    real, train = frame.iloc[:150], frame.iloc[150:]
    gen = {'g': frame.iloc[::2].to_numpy()}
    rep = compare_generators(real, gen, train=train, max_rows=200)
    assert rep.summary['dcr_ratio'].isna().all() and rep.summary.loc['g', 'disc_auc'] > 0   # no DCR without a holdout; the rest scored
    assert len(scorecard(real, gen, train=train, max_rows=200)) == 4
    with pytest.raises(ValueError, match='`holdout` needs `train`'): compare_generators(real, gen, holdout=train, max_rows=200)
