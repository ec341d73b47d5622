"""`unscale` checks its input as the other functions of `puffin.data` do, and `chronological_split` refuses rows that
do not run forward in time (found by a review: `unscale` took zero rows to scikit-learn's unnamed error and read strings
of digits as numbers; `chronological_split` kept a repeated date twice)."""
import numpy as np, pandas as pd, pytest, torch
from puffin.data import chronological_split, fit_scaler, scale, unscale

DAYS = pd.DataFrame(np.random.default_rng(0).normal(0, 0.01, (40, 3)), columns=list('ABC'),
                    index=pd.bdate_range('2020-01-01', periods=40))


@pytest.fixture(scope='module')
def scaler():
    return fit_scaler(DAYS)


@pytest.mark.parametrize('arr, match', [
    (lambda: DAYS.iloc[:0], '`arr`'),                          # a frame: checked as every frame is
    (lambda: np.zeros((0, 3)), '`arr`'),
    (lambda: torch.zeros(0, 3), '`arr`'),
    (lambda: DAYS.astype(str), '`arr`'),       # strings of digits were read as numbers
    (lambda: DAYS.to_numpy().astype(str), '`arr`'),
    (lambda: np.ones((2, 3), dtype=bool), '`arr`'),
    (lambda: np.array([[0.1, None, 0.2]], dtype=object), '`arr`'),
    (lambda: DAYS.assign(B=np.inf), '`arr`'),
    (lambda: np.full((2, 3), np.nan), '`arr`'),
    (lambda: np.zeros((2, 4)), '`arr`'),
])
def test_unscale_refuses_bad_arr_by_name(scaler, arr, match):
    with pytest.raises(ValueError, match=match): unscale(arr(), scaler)


def test_unscale_checks_the_scaler_first():
    with pytest.raises(TypeError, match='`scaler`'): unscale(np.zeros((0, 3)), None)


@pytest.mark.parametrize('make', [
    lambda x: x, lambda x: x.astype(np.float64), lambda x: x.astype(np.float16), lambda x: torch.from_numpy(x),
    lambda x: torch.from_numpy(x).double().requires_grad_(), lambda x: x.tolist(), lambda x: np.rint(x).astype(np.int64),
    lambda x: pd.DataFrame(x, index=DAYS.index, columns=DAYS.columns), lambda x: pd.DataFrame(x),
    lambda x: pd.DataFrame(x, index=DAYS.index, columns=DAYS.columns).astype('Float64'),   # pandas' nullable dtype: refused once, by a review
])
def test_unscale_valid_input_unchanged(scaler, make):
    "Valid input maps back exactly as before the checks: `inverse_transform` of the values read as float64."
    arr = make(scale(DAYS, scaler))
    values = np.asarray(arr.detach() if hasattr(arr, 'detach') else arr, dtype=np.float64)
    out = unscale(arr, scaler)
    assert out.dtypes.eq(np.float64).all() and list(out.columns) == list('ABC')
    assert out.to_numpy().tobytes() == scaler.inverse_transform(values).tobytes()


@pytest.mark.parametrize('rows, match', [
    ([0, 1, 1, 2, 3, 4], '`df`'),      # the repeated day was kept twice in the train part
    (list(range(39, -1, -1)), '`df`'),
])
def test_chronological_split_refuses_dates_not_running_forward(rows, match):
    with pytest.raises(ValueError, match=match): chronological_split(DAYS.iloc[rows], DAYS.index[3])


def test_chronological_split_unchanged_on_forward_dates():
    train, test = chronological_split(DAYS, DAYS.index[10])
    assert train.equals(DAYS.iloc[:10]) and test.equals(DAYS.iloc[10:])
