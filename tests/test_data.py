"""`unscale` checks its input as the other functions of `puffin.data` do, and `chronological_split` refuses rows that
do not run forward in time (found by a review: `unscale` took zero rows to scikit-learn's unnamed error and read strings
of digits as numbers; `chronological_split` kept a repeated date twice)."""
import numpy as np, pandas as pd, pytest, torch
from puffin.data import chronological_split, fit_scaler, scale, unscale, log_returns

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


# A new user's first tries (found by a new-user test): each refusal names the argument and says the way out.

@pytest.mark.parametrize('split_date', [2020, 2020.0, np.int64(2020), np.float64(2020.5), True, np.bool_(False)])
def test_chronological_split_refuses_a_number(split_date):
    "pandas reads a number as nanoseconds after 1970: `2020` split at 1970-01-01, and the error blamed an empty train part."
    with pytest.raises(ValueError, match=r"`split_date` must be a date such as '2020-01-01' or a pd\.Timestamp, got the number"):
        chronological_split(DAYS, split_date)


@pytest.mark.parametrize('split_date', ['2020-13-01', 'yesterday', '', None])
def test_chronological_split_refuses_a_string_that_is_no_date(split_date):
    "pandas' DateParseError did not name `split_date`; '' and None were read as NaT and blamed an empty train part."
    with pytest.raises(ValueError, match=r"`split_date` must be a date such as '2020-01-01'"): chronological_split(DAYS, split_date)


@pytest.mark.parametrize('split_date', ['2020-01-15', pd.Timestamp('2020-01-15'), np.datetime64('2020-01-15'),
                                        __import__('datetime').date(2020, 1, 15), __import__('datetime').datetime(2020, 1, 15)])
def test_chronological_split_takes_dates_as_before(split_date):
    train, test = chronological_split(DAYS, split_date)
    assert train.equals(DAYS[DAYS.index < '2020-01-15']) and test.equals(DAYS[DAYS.index >= '2020-01-15'])


PRICES = pd.DataFrame({'A': [1.0, 2.0, 3.0, 4.0], 'B': [5.0, 6.0, 7.0, 8.0]}, index=pd.bdate_range('2020-01-01', periods=4))

@pytest.mark.parametrize('value, what', [(0.0, r'must be strictly positive to take logs: 1 zero or negative'),
                                         (-1.0, r'must be strictly positive to take logs: 1 zero or negative'),
                                         (np.nan, r'holds 1 NaN/inf values'), (np.inf, r'holds 1 NaN/inf values')])
def test_log_returns_says_where_a_bad_price_is(value, what):
    prices = PRICES.copy(); prices.iloc[2, 1] = value
    with pytest.raises(ValueError, match=rf"`prices` {what} \(first bad rows: \['2020-01-03'\], in columns \['B'\]\)"): log_returns(prices)


def test_bad_values_located_in_a_frame_without_dates():
    with pytest.raises(ValueError, match=r"`train` holds 3 NaN/inf values \(first bad rows: \[1, 3\], in columns \['A', 'B'\]\)"):
        fit_scaler(pd.DataFrame({'A': [0.1, np.nan, 0.2, np.nan], 'B': [0.1, 0.2, 0.3, np.inf]}))


@pytest.mark.parametrize('call, match', [
    (lambda: log_returns(PRICES['A']), r"`prices` must be a pandas DataFrame, got Series: make it a one-column frame with `series\.to_frame\(\)`"),
    (lambda: fit_scaler(DAYS.to_numpy()), r"`train` must be a pandas DataFrame, got ndarray: wrap it as `pd\.DataFrame\("),
    (lambda: fit_scaler(torch.tensor(DAYS.to_numpy())), r"`train` must be a pandas DataFrame, got Tensor: wrap it as `pd\.DataFrame\("),
])
def test_not_a_frame_says_how_to_make_one(call, match):
    with pytest.raises(TypeError, match=match): call()


def _read_without_index_col(prices: pd.DataFrame, **col) -> pd.DataFrame:
    "`prices` as `pd.read_csv(path)` gives it: the dates in a 'Date' column of strings."
    return prices.rename_axis('Date').reset_index().assign(Date=lambda d: d.Date.dt.strftime('%Y-%m-%d')).rename(columns=col)

@pytest.mark.parametrize('prices, column', [
    (_read_without_index_col(PRICES), 'Date'),
    (_read_without_index_col(PRICES, Date='day'), 'day'),                   # strings that read as dates
    (PRICES.rename_axis('Date').reset_index(), 'Date'),                      # `parse_dates=['Date']` without `index_col`
    (PRICES.assign(Timestamp=['a', 'b', 'c', 'd']), 'Timestamp'),            # by its name
])
def test_a_date_column_gets_a_hint(prices, column):
    with pytest.raises(ValueError, match=rf"`prices` has non-numeric columns: .*; '{column}' looks like dates: make it the index, "
                                         rf"e\.g\. `pd\.read_csv\(path, index_col='{column}', parse_dates=True\)`"):
        log_returns(prices)


def test_other_text_columns_get_no_hint():
    with pytest.raises(ValueError, match=r"^`prices` has non-numeric columns: \['Sector'\]$"): log_returns(PRICES.assign(Sector='Tech'))


def test_chronological_split_on_date_strings_says_how_to_convert():
    returns = log_returns(_read_without_index_col(PRICES).set_index('Date'))   # date strings as index: log_returns takes them
    with pytest.raises(ValueError, match=r"`df` needs a DatetimeIndex, got Index: its dates are strings; convert them with `df\.index = pd\.to_datetime\(df\.index\)`"):
        chronological_split(returns, '2020-01-03')


def test_scale_names_an_extra_column_as_unknown_to_the_scaler(scaler):
    with pytest.raises(ValueError, match=r"`df` has columns \['SPY'\] unknown to the scaler$"): scale(DAYS.assign(SPY=0.0), scaler)
