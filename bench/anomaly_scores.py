"""Candidate anomaly scores side by side: recipe 04's two anomaly kinds (real stress days, injected sign-flip breaks), five seeds.

    python bench/anomaly_scores.py                    # seeds 0-4, the recipe's VAE settings
    python bench/anomaly_scores.py --seeds 0 --hold 0.2
    python bench/anomaly_scores.py --factors --latent 2        # skfolio's five factor ETFs: fit 2014-2018, score 2019-2022
    python bench/anomaly_scores.py --weight 0.9               # `pattern_weight` of score_kind='size_or_pattern' (default: the library's, 0.85)
    python bench/anomaly_scores.py --candidates               # the prototype candidates (parts, rules) of the log's sections 2-3
    python bench/anomaly_scores.py --confirm --weight 0.85 --seeds 5,6,7,8,9 --draws 4,5,6,7,8   # log section 8
    python bench/anomaly_scores.py --validate [--factors --latent 2]   # pick `pattern_weight` on the last fifth of the training years, then score the test years with it (log section 7)

Fits on 1990-2014, scores 2015-2022 exactly as `nbs/recipes/04_anomaly_detection.ipynb` does, and prints the mean +- std
over seeds of the average precision (AP) of every candidate score on both columns; the shipped scores' table adds the share of
the test years' ordinary days each score flags at `contamination` (its threshold placed on the held-out calibration rows). Candidates are built from the VAE's
score parts, each part turned into a surprisal by a `TailCalibrator` fitted on rows the VAE did not train on (`--hold`
of the training rows, at random) and the surprisals combined by a sum (Fisher), a max (Tippett) or Stouffer's rule.
This is a benchmark for choosing a score, not a test; the log of what was tried is `bench/anomaly_scores_log.md`."""
from __future__ import annotations
import argparse, os
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, pandas as pd, torch
from scipy.stats import norm
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score
from puffin.data import load_sp500_returns, chronological_split
from puffin.anomaly import VAEAnomalyDetector, MahalanobisDetector, TailCalibrator
from puffin.deep.runtime import eval_mode


def recipe_data(rets: pd.DataFrame|None=None, start: str='2015-01-01', inject_seed: int=0):
    "The recipe's train/test split, stress-day labels (a) and injected-break evaluation set (b) (default: the 20 S&P 500 stocks; `inject_seed` draws the flipped days and signs)."
    rets = load_sp500_returns(dequantize=True, seed=0) if rets is None else rets
    train, test = chronological_split(rets, start)
    ew_train, ew_test = train.mean(axis=1), test.mean(axis=1)
    stress = (ew_test.abs() > ew_train.abs().quantile(0.99)).to_numpy()
    rng = np.random.default_rng(inject_seed)
    normal_idx = np.flatnonzero(~stress)
    src = rng.choice(normal_idx, size=int(0.05 * len(normal_idx)), replace=False)
    flipped = test.iloc[src].to_numpy().copy()
    for row in flipped: row[rng.choice(test.shape[1], test.shape[1] // 2, replace=False)] *= -1
    injected = pd.DataFrame(flipped, columns=test.columns, index=test.index[src])
    eval_a = (test, stress.astype(int))
    eval_b = (pd.concat([test.iloc[normal_idx], injected]), np.r_[np.zeros(len(normal_idx), int), np.ones(len(injected), int)])
    return train, test, eval_a, eval_b


def raw_parts(det: VAEAnomalyDetector, X) -> dict[str, np.ndarray]:
    "Every raw part a candidate may use: the detector's recon/kl/share plus the explained size ||x_hat||^2, ||x||^2 and the posterior."
    Xs = torch.from_numpy(det.scaler_.transform(np.asarray(X, dtype=np.float64)).astype(np.float32))
    with torch.no_grad(), eval_mode(det.model_):
        mu, lv = det.model_.encode(Xs)
        xh = det.model_.decode(mu)
    x2 = Xs.double().pow(2).sum(1).numpy()
    sse = (Xs - xh).double().pow(2).sum(1).numpy()
    mu, lv = mu.double().numpy(), lv.double().numpy()
    r2 = (Xs - xh).double().pow(2).numpy()
    return dict(r2=r2, kl=0.5 * (mu ** 2 + np.exp(lv) - lv - 1).sum(1), share=sse / (x2 + 1e-8), sse=sse, x2=x2,
                xhat2=xh.double().pow(2).sum(1).numpy(), mu2=(mu ** 2).sum(1),
                # the posterior's own distance: mu in units of the posterior sd (the "z-score" of the prior mean 0 under q(z|x))
                post=(mu ** 2 / np.exp(lv)).sum(1), mu=mu)


def candidates(P: dict, cal: dict) -> dict[str, np.ndarray]:
    "Candidate scores (higher = more abnormal) from the parts `P`, each part calibrated on the held-out rows' parts `cal`."
    c0 = np.median(cal['x2']); psi = cal['r2'].mean(0)
    for P_ in (P, cal):
        for f in (0.1, 0.3, 1.0): P_[f'share{f}'] = P_['sse'] / (P_['x2'] + f * c0)
        P_['wshare'] = (P_['r2'] / psi).sum(1) / (P_['x2'] + 0.3 * c0)
    mis_parts = ('share', 'share0.1', 'share0.3', 'share1.0', 'wshare', 'sse')
    S = {k: TailCalibrator(cal[k])(P[k]) for k in ('kl', 'xhat2', 'x2', 'post', 'mu2') + mis_parts}
    # latent Mahalanobis: mu under the held-out rows' aggregate posterior covariance
    C = np.cov(cal['mu'].T) + 1e-9 * np.eye(cal['mu'].shape[1]); Ci = np.linalg.inv(C); m0 = cal['mu'].mean(0)
    lm = lambda mu: (((mu - m0) @ Ci) * (mu - m0)).sum(1)
    S['latmaha'] = TailCalibrator(lm(cal['mu']))(lm(P['mu']))
    z = lambda s: np.where(s < 600, norm.isf(np.clip(np.exp(-np.minimum(s, 600)), 0, 1 - 1e-9)), np.sqrt(2 * s))   # surprisal -> one-sided z (its asymptote far out)
    out = {'kl': P['kl'], 'share': P['share'], 'xhat2': P['xhat2'], 'x2': P['x2'], 'post': P['post'], 'latmaha': S['latmaha'],
           'sum(kl,share) [calibrated]': S['kl'] + S['share']}
    for k in mis_parts: out[k] = S[k]
    for size in ('kl', 'xhat2', 'post'):
        for mis in mis_parts:
            out[f'max({size},{mis})'] = np.maximum(S[size], S[mis])
            out[f'stouffer({size},{mis})'] = z(S[size]) + z(S[mis])
            out[f'sum({size},{mis})'] = S[size] + S[mis]
    return out


def run(seed: int, hold: float, train, eval_a, eval_b, vae_kw: dict) -> pd.DataFrame:
    "AP of every candidate and the two baselines for one seed."
    rng = np.random.default_rng(1000 + seed)
    n = len(train); cal_idx = np.sort(rng.choice(n, int(hold * n), replace=False)) if hold > 0 else np.arange(n)
    fit_idx = np.setdiff1d(np.arange(n), cal_idx) if hold > 0 else np.arange(n)
    det = VAEAnomalyDetector(**vae_kw, seed=seed).fit(train.iloc[fit_idx])
    cal = raw_parts(det, train.iloc[cal_idx])
    maha = MahalanobisDetector().fit(train)
    forest = IsolationForest(random_state=seed).fit(train.to_numpy())
    rows = {}
    for col, (X, y) in (('stress AP', eval_a), ('breaks AP', eval_b)):
        sc = candidates(raw_parts(det, X), cal)
        sc['Mahalanobis'] = -maha.score_samples(X); sc['Isolation Forest'] = -forest.score_samples(X.to_numpy())
        bad = [k for k, v in sc.items() if not np.isfinite(v).all()]
        assert not bad, bad
        rows[col] = {k: average_precision_score(y, v) for k, v in sc.items()}
    return pd.DataFrame(rows)




def factor_returns() -> pd.DataFrame:
    "Daily log returns of skfolio's five factor ETFs (MTUM, QUAL, SIZE, USMV, VLUE), 2014-2022: a second market that ships offline."
    from skfolio.datasets import load_factors_dataset
    return np.log(load_factors_dataset()).diff().dropna()


def detector_table(seeds=range(5), data=None, **vae_kw) -> pd.DataFrame:
    "AP of the scores and parts `VAEAnomalyDetector.score_parts` reports (as shipped: held-out calibration), Mahalanobis and Isolation Forest, and the share of ordinary test days each flags, per seed."
    train, test, eval_a, eval_b = recipe_data() if data is None else data
    kw = dict(latent_dim=4, hidden_dims=[64, 32], epochs=50, batch_size=128, lr=1e-3) | vae_kw
    maha, out = MahalanobisDetector().fit(train), []
    for seed in seeds:
        det, forest = VAEAnomalyDetector(**kw, seed=seed).fit(train), IsolationForest(random_state=seed).fit(train.to_numpy())
        row, names = {}, ('size_or_pattern', 'tail', 'calibrated', 'chapter', 'kl', 'share', 'size', 'misfit', 'pattern')
        cal = det.score_parts(train.iloc[det.calibration_idx_])   # the held-out rows each score's threshold is placed on
        for col, (X, y) in (('stress AP', eval_a), ('breaks AP', eval_b)):
            p = det.score_parts(X)
            sc = {f'VAE {c}': p[c] for c in names}
            sc['Mahalanobis'], sc['Isolation Forest'] = -maha.score_samples(X), -forest.score_samples(X.to_numpy())
            row[col] = {k: average_precision_score(y, v) for k, v in sc.items()}
        # contamination on fresh ordinary days: the share of the test years' non-stress days above each score's threshold
        ordinary = eval_b[0].iloc[:int((eval_b[1] == 0).sum())]
        p = det.score_parts(ordinary)
        row[f'flagged at {det.contamination:.0%}'] = {f'VAE {c}': float((p[c] > det._threshold(cal[c].to_numpy())).mean()) for c in names}
        row[f'flagged at {det.contamination:.0%}'] |= {'Mahalanobis': float((maha.predict(ordinary) == -1).mean()),
                                                      'Isolation Forest': float((forest.predict(ordinary.to_numpy()) == -1).mean())}
        out.append(pd.DataFrame(row))
    return pd.concat(out, keys=list(seeds))


GRID = np.round(np.arange(0.5, 1.2001, 0.05), 2)   # the weights the validation rule chooses among (log section 7)


def weight_table(seeds, data, grid=GRID, **vae_kw) -> pd.DataFrame:
    "Per seed and anomaly kind: AP of max(S_size, w * S_pattern) for each w in `grid`, beside `share`, Mahalanobis and Isolation Forest; everything fitted on `data`'s training rows."
    train, test, eval_a, eval_b = data
    kw = dict(latent_dim=4, hidden_dims=[64, 32], epochs=50, batch_size=128, lr=1e-3) | vae_kw
    maha, rows = MahalanobisDetector().fit(train), {}
    for seed in seeds:
        det, forest = VAEAnomalyDetector(**kw, seed=seed).fit(train), IsolationForest(random_state=seed).fit(train.to_numpy())
        for col, (X, y) in (('stress AP', eval_a), ('breaks AP', eval_b)):
            p = det.score_parts(X)
            s, q = det.calibrators_['size'](p['size']), det.calibrators_['pattern'](p['pattern'])
            r = {f'{w:.2f}': average_precision_score(y, np.maximum(s, w * q)) for w in grid}
            rows[(seed, col)] = r | {'share': average_precision_score(y, p['share']), 'Mahalanobis': average_precision_score(y, -maha.score_samples(X)),
                                     'Isolation Forest': average_precision_score(y, -forest.score_samples(X.to_numpy()))}
    return pd.DataFrame(rows).T


def choose_weight(tab: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    "The log's rule: the w maximising R(w) = min(AP_stress(w) / AP_stress(IF), AP_breaks(w) / max(AP_breaks(share), AP_breaks(Mahalanobis))), five-seed mean APs (ties: the smaller w)."
    m = tab.groupby(level=1).mean()
    st, br = m.loc['stress AP'], m.loc['breaks AP']
    ws = [c for c in m.columns if c not in ('share', 'Mahalanobis', 'Isolation Forest')]
    out = pd.DataFrame({'stress AP': st[ws], 'breaks AP': br[ws], 'stress / IF': st[ws] / st['Isolation Forest'],
                        'breaks / best other': br[ws] / max(br['share'], br['Mahalanobis'])})
    out['R'] = out[['stress / IF', 'breaks / best other']].min(axis=1)
    out.index = out.index.astype(float)
    return float(out['R'].idxmax()), out


def validate(rets: pd.DataFrame, val_start: str, test_start: str, seeds, inject_seed: int=0, **vae_kw):
    "Pick the weight on the training years' last part (fit before `val_start`, validate `val_start`..`test_start`), then the test years' table for every w."
    train_all = rets.loc[rets.index < test_start]
    val = weight_table(seeds, recipe_data(train_all, val_start, inject_seed), **vae_kw)
    w, sel = choose_weight(val)
    test = weight_table(seeds, recipe_data(rets, test_start, inject_seed), **vae_kw)
    return w, sel, val, test


def _weight_aps(det: VAEAnomalyDetector, X, y, grid=GRID) -> np.ndarray:
    "AP of max(S_size, w * S_pattern) for each w in `grid`, and of `share` (last)."
    p = det.score_parts(X)
    s, q = det.calibrators_['size'](p['size']), det.calibrators_['pattern'](p['pattern'])
    return np.array([average_precision_score(y, np.maximum(s, w * q)) for w in grid] + [average_precision_score(y, p['share'])])


def fold_ratios(rets: pd.DataFrame, val_start: str, seeds, draws, **vae_kw) -> pd.DataFrame:
    "Rule B, one fold: fit on `rets` before `val_start`, validate on the rest; per w the stress ratio (five-seed means, NaN without stress days) and the breaks ratio (seeds x draws)."
    sets = [recipe_data(rets, val_start, k) for k in draws]
    train, (Xa, ya) = sets[0][0], sets[0][2]
    kw = dict(latent_dim=4, hidden_dims=[64, 32], epochs=50, batch_size=128, lr=1e-3) | vae_kw
    maha = MahalanobisDetector().fit(train)
    st, forest, br = [], [], []
    for seed in seeds:
        det = VAEAnomalyDetector(**kw, seed=seed).fit(train)
        if ya.sum():
            forest.append(average_precision_score(ya, -IsolationForest(random_state=seed).fit(train.to_numpy()).score_samples(Xa.to_numpy())))
            st.append(_weight_aps(det, Xa, ya)[:-1])
        br += [_weight_aps(det, *s_[3]) for s_ in sets]
    br = np.mean(br, 0)
    bar_b = max(br[-1], np.mean([average_precision_score(s_[3][1], -maha.score_samples(s_[3][0])) for s_ in sets]))
    out = pd.DataFrame({'stress AP': np.mean(st, 0) if st else np.nan, 'breaks AP': br[:-1]}, index=GRID)
    out['stress ratio'] = out['stress AP'] / np.mean(forest) if st else np.nan
    out['breaks ratio'] = out['breaks AP'] / bar_b
    print(f"fold validating from {val_start}: {len(train)} fitting days, {len(Xa)} validation days, {int(ya.sum())} stress days, {int(sets[0][3][1].sum())} breaks per draw; "
          f"bars: IF {np.mean(forest) if forest else float('nan'):.3f}, best other on breaks {bar_b:.3f} (share {br[-1]:.3f})")
    return out


def rule_b(rets: pd.DataFrame, val_starts: list[str], test_start: str, seeds=range(5), draws=range(5), **vae_kw) -> tuple[float, pd.DataFrame]:
    "Rule B (log section 7): mean ratios over the folds, R_B = their minimum; the middle of the weights with R_B > 1 (else the argmax)."
    train_all = rets.loc[rets.index < test_start]
    folds = {v: fold_ratios(train_all, v, seeds, draws, **vae_kw) for v in val_starts}
    t = pd.DataFrame({'stress ratio': pd.concat([f['stress ratio'] for f in folds.values()], axis=1).mean(axis=1),
                      'breaks ratio': pd.concat([f['breaks ratio'] for f in folds.values()], axis=1).mean(axis=1)})
    t['R_B'] = t.min(axis=1)
    for v, f in folds.items(): t[f'stress AP {v[:4]}'], t[f'breaks AP {v[:4]}'] = f['stress AP'], f['breaks AP']
    lead = t.index[t['R_B'] > 1]
    if len(lead): mid = (lead.min() + lead.max()) / 2; w = float(min(lead, key=lambda x: (abs(x - mid), x)))
    else: w = float(t['R_B'].idxmax())
    return w, t


def confirm(rets: pd.DataFrame, test_start: str, seeds, draws, weight: float, **vae_kw) -> pd.DataFrame:
    "Log section 8: fit on everything before `test_start` once per seed, score the test years' stress days and every draw of breaks at `weight`."
    sets = [recipe_data(rets, test_start, k) for k in draws]
    train, (Xa, ya) = sets[0][0], sets[0][2]
    kw = dict(latent_dim=4, hidden_dims=[64, 32], epochs=50, batch_size=128, lr=1e-3) | vae_kw
    maha, rows = MahalanobisDetector().fit(train), {}
    for seed in seeds:
        det, forest = VAEAnomalyDetector(**kw, seed=seed).fit(train), IsolationForest(random_state=seed).fit(train.to_numpy())
        rows[(seed, 'stress')] = {'score': _weight_aps(det, Xa, ya, [weight])[0], 'share': np.nan, 'Mahalanobis': np.nan,
                                  'Isolation Forest': average_precision_score(ya, -forest.score_samples(Xa.to_numpy()))}
        for k, s_ in zip(draws, sets):
            X, y = s_[3]
            score, share = _weight_aps(det, X, y, [weight])
            rows[(seed, f'breaks, draw {k}')] = {'score': score, 'share': share, 'Mahalanobis': average_precision_score(y, -maha.score_samples(X)),
                                                'Isolation Forest': average_precision_score(y, -forest.score_samples(X.to_numpy()))}
    return pd.DataFrame(rows).T


def _print_confirm(res: pd.DataFrame, weight: float) -> None:
    g = res.groupby(level=1, sort=False)
    print(f'five-seed mean +- std AP, score = max(S_size, {weight} * S_pattern):')
    print((g.mean().map('{:.3f}'.format) + ' ± ' + g.std().map('{:.3f}'.format)).to_string())
    m = g.mean()
    ok_a = m.loc['stress', 'score'] >= m.loc['stress', 'Isolation Forest']
    brk = [i for i in m.index if i.startswith('breaks')]
    ok_b = [m.loc[i, 'score'] >= max(m.loc[i, 'share'], m.loc[i, 'Mahalanobis']) for i in brk]
    print(f"(a) stress: {m.loc['stress', 'score']:.3f} vs Isolation Forest {m.loc['stress', 'Isolation Forest']:.3f}: {'pass' if ok_a else 'FAIL'}")
    for i, ok in zip(brk, ok_b): print(f"(b) {i}: {m.loc[i, 'score']:.3f} vs best other {max(m.loc[i, 'share'], m.loc[i, 'Mahalanobis']):.3f}: {'pass' if ok else 'FAIL'}")
    print('per seed:'); print(res['score'].unstack(0).round(3).to_string())


def _print_validation(w, sel, val, test):
    m = val.groupby(level=1).mean()
    print('validation years, baselines (five-seed mean AP):'); print(m[['share', 'Mahalanobis', 'Isolation Forest']].round(3).to_string())
    print('validation years, R(w):'); print(sel.round(3).to_string())
    print(f'chosen weight: {w:.2f}')
    g = test.groupby(level=1, sort=False)
    tm, ts = g.mean(), g.std()
    print('test years, five-seed mean +- std AP:')
    print((tm.map('{:.3f}'.format) + ' ± ' + ts.map('{:.3f}'.format)).T.to_string())
    k = f'{w:.2f}'
    print(f'test years at w = {k}, per seed:'); print(test[[k, 'share', 'Mahalanobis', 'Isolation Forest']].unstack(1).round(3).to_string())


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', default='0,1,2,3,4'); ap.add_argument('--hold', type=float, default=0.2)
    ap.add_argument('--epochs', type=int, default=50); ap.add_argument('--latent', type=int, default=4)
    ap.add_argument('--weight', type=float, default=VAEAnomalyDetector().pattern_weight, help="`pattern_weight` of score_kind='size_or_pattern' (default: the library's)")
    ap.add_argument('--candidates', action='store_true', help='the prototype candidates instead of the shipped scores')
    ap.add_argument('--factors', action='store_true', help="skfolio's factor ETFs (fit 2014-2018, score 2019-2022) instead of the S&P 500 stocks")
    ap.add_argument('--validate', action='store_true', help='choose pattern_weight on the last fifth of the training years (log section 7), then score the test years')
    ap.add_argument('--validate-b', action='store_true', help='rule B of log section 7: expanding-window folds, five break draws')
    ap.add_argument('--inject-seed', type=int, default=0, help='seed of the injected breaks (the recipe: 0)')
    ap.add_argument('--confirm', action='store_true', help='log section 8: the test years at --weight for --seeds and every break draw in --draws')
    ap.add_argument('--draws', default='4,5,6,7,8', help='--confirm: the break draws (inject seeds)')
    a = ap.parse_args()
    torch.set_num_threads(1)
    pd.set_option('display.width', 200); pd.set_option('display.max_rows', 200)
    if a.confirm:
        seeds, draws, kw = [int(s) for s in a.seeds.split(',')], [int(d) for d in a.draws.split(',')], dict(latent_dim=a.latent, epochs=a.epochs, calibration_split=a.hold)
        if a.factors: res = confirm(factor_returns(), '2019-01-01', seeds, draws, a.weight, hidden_dims=[32, 16], **kw)
        else: res = confirm(load_sp500_returns(dequantize=True, seed=0), '2015-01-01', seeds, draws, a.weight, **kw)
        _print_confirm(res, a.weight)
        raise SystemExit
    if a.validate_b:
        seeds, kw = [int(s) for s in a.seeds.split(',')], dict(latent_dim=a.latent, epochs=a.epochs, calibration_split=a.hold)
        if a.factors: w, t = rule_b(factor_returns(), ['2017-01-01', '2018-01-01'], '2019-01-01', seeds, hidden_dims=[32, 16], **kw)
        else: w, t = rule_b(load_sp500_returns(dequantize=True, seed=0), ['2000-01-01', '2005-01-01', '2010-01-01'], '2015-01-01', seeds, **kw)
        print(t.round(3).to_string()); print(f'rule B picks w = {w:.2f}')
        raise SystemExit
    if a.validate:
        seeds, kw = [int(s) for s in a.seeds.split(',')], dict(latent_dim=a.latent, epochs=a.epochs, calibration_split=a.hold)
        if a.factors: res = validate(factor_returns(), '2018-01-01', '2019-01-01', seeds, a.inject_seed, hidden_dims=[32, 16], **kw)
        else: res = validate(load_sp500_returns(dequantize=True, seed=0), '2010-01-01', '2015-01-01', seeds, a.inject_seed, **kw)
        _print_validation(*res)
        raise SystemExit
    if not a.candidates:
        data = recipe_data(factor_returns(), '2019-01-01') if a.factors else None
        if a.factors: print('factors: train/test', data[0].shape, data[1].shape, 'stress days', data[2][1].sum(), 'injected', data[3][1].sum())
        res = detector_table([int(s) for s in a.seeds.split(',')], data, latent_dim=a.latent, epochs=a.epochs, calibration_split=a.hold,
                             pattern_weight=a.weight, **(dict(hidden_dims=[32, 16]) if a.factors else {}))
        g = res.groupby(level=1, sort=False)
        print(g.mean().map('{:.3f}'.format) + ' ± ' + g.std().fillna(0).map('{:.3f}'.format))
        print(res.unstack(0).round(3).to_string())
        raise SystemExit
    train, test, eval_a, eval_b = recipe_data()
    kw = dict(latent_dim=a.latent, hidden_dims=[64, 32], epochs=a.epochs, batch_size=128, lr=1e-3)
    res = pd.concat([run(int(s), a.hold, train, eval_a, eval_b, kw) for s in a.seeds.split(',')], keys=a.seeds.split(','))
    g = res.groupby(level=1, sort=False)
    pd.set_option('display.width', 200); pd.set_option('display.max_rows', 200)
    print(g.mean().map('{:.3f}'.format) + ' ± ' + g.std().fillna(0).map('{:.3f}'.format))

