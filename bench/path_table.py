"""Issue #23's table: generators of 500-day market paths scored by `puffin.quality.path_report`, seed by seed.

    python bench/path_table.py                     # seeds 0-2: puffin's MarketPaths, FHS, GJR-GARCH-t, block bootstrap, recipe 07's CVAE paths
    python bench/path_table.py --seeds 0 --no-cvae # the baselines only (seconds per seed)

Data: the 20 S&P 500 stocks of `puffin.data.load_sp500_returns(dequantize=True, seed=0)` (offline), as in recipe 07.
Every generator is fitted on 1990-2014 and draws `--paths` paths of 500 days (seed + 100). Two tables per seed:

1. against the 12 real 500-day windows of 1990-2014 (`real_windows`), memorisation against the training days with
   2015-2022 as the holdout;
2. against the 4 real 500-day windows of 2015-2022, with the real 1990-2014 windows scored as if they were generated
   (the reference: how far the market moved).

The CVAE is recipe 07's `cvae-zi_student_t` (per-asset vol): `ConditionalVAE(20, 23, 8, [64, 32], decoder='zi_student_t')`,
free bits 0.1, linear KL warm-up over 2000 steps, 60 epochs on every training day, latents from a 10-component aggregate
posterior; its paths come from `sample_path` starting from the end of 1990-2014. A benchmark, not a test."""
from __future__ import annotations
import argparse, os, platform, time, warnings
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, pandas as pd
from puffin.data import load_sp500_returns, chronological_split
from puffin.quality import (path_report, real_windows, filtered_historical_simulation, gjr_garch_paths, block_bootstrap_paths,
                            GROUPS, FLOOR)
from puffin.paths import MarketPaths

COLS = GROUPS + ['window AUC', 'window AUC (vol-scaled)']


def cvae_paths(train: pd.DataFrame, returns: pd.DataFrame, n_days: int, n_paths: int, seed: int) -> np.ndarray:
    "Recipe 07's `cvae-zi_student_t` (per-asset 21-day vol conditions), trained with `seed`, sampled with `sample_path` (seed + 100)."
    import torch
    from puffin.deep.autoencoder import AETrainer
    from puffin.deep.generative import ConditionalVAE, trailing_vol_condition, sample_path
    from puffin.data import fit_scaler, scale
    torch.set_num_threads(1)
    scaler = fit_scaler(train)
    cond = trailing_vol_condition(returns, windows=(5, 21, 63), asset_windows=(21,)).loc[train.index]
    mean, std = cond.mean(), cond.std()
    C = ((cond - mean) / std).astype(np.float32)
    keep = C.notna().all(axis=1).to_numpy()
    D = np.c_[scale(train, scaler), C.to_numpy()][keep]
    torch.manual_seed(seed)
    m = ConditionalVAE(20, D.shape[1] - 20, 8, [64, 32], decoder='zi_student_t', free_bits=0.1, kl_schedule='linear', warmup_steps=2000)
    AETrainer('cpu').fit(m, D, epochs=60, batch_size=64, validation_split=0.0, seed=seed)
    m.fit_aggregate_posterior(D, n_components=10, seed=seed, latents='samples')
    paths = sample_path(m, train, n_days, scaler, mean, std, asset_windows=(21,), seed=seed + 100, n_paths=n_paths)
    return np.stack([np.asarray(p, dtype=np.float64) for p in paths])


def generators(train: pd.DataFrame, returns: pd.DataFrame, n_paths: int, seed: int, cvae: bool) -> tuple[dict, dict]:
    "name -> paths (n_paths x 500 x 20) of every generator, and the seconds each took."
    makers = {'puffin MarketPaths': lambda: MarketPaths().fit(train).sample(500, n_paths, seed + 100),
              'filtered historical simulation': lambda: filtered_historical_simulation(train, 500, n_paths, seed + 100),
              'GJR-GARCH(1,1,1)-t, constant correlation': lambda: gjr_garch_paths(train, 500, n_paths, seed + 100),
              'stationary block bootstrap (mean block 20)': lambda: block_bootstrap_paths(train, 500, n_paths, seed + 100)}
    if cvae: makers = {'puffin MarketPaths': makers.pop('puffin MarketPaths'),
                       'puffin CVAE paths (cvae-zi_student_t)': lambda: cvae_paths(train, returns, 500, n_paths, seed)} | makers
    out, secs = {}, {}
    for k, f in makers.items():
        t0 = time.time(); out[k] = f(); secs[k] = time.time() - t0
    return out, secs


def copying(rep, name: str) -> str:
    "The 'no copying' cell: yes, or the share of copied windows."
    c = rep.table.loc[name, 'copied']
    if np.isnan(c): return '–'
    return f"no: {c:.0%} of windows copied" if rep.copying()[name] else f"yes ({c:.0%})"


def markdown(rep) -> str:
    "The report's table as the issue prints it."
    head = '| generator | ' + ' | '.join(COLS) + ' | no copying |\n|---|' + '---|' * (len(COLS) + 1)
    rows = [f"| {k} | " + ' | '.join(f"{rep.table.loc[k, c]:.3f}" if 'AUC' in c else f"{rep.table.loc[k, c]:.2f}" for c in COLS)
            + f" | {copying(rep, k) if k != FLOOR else '–'} |" for k in rep.table.index]
    return '\n'.join([head, *rows])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--paths', type=int, default=20, help='paths of 500 days per generator')
    ap.add_argument('--no-cvae', action='store_true', help="skip recipe 07's CVAE (it trains one model per seed)")
    args = ap.parse_args(argv)
    warnings.filterwarnings('ignore', module='arch')   # the optimiser's convergence notes on near-integrated stocks
    returns = load_sp500_returns(dequantize=True, seed=0)
    train, test = chronological_split(returns, '2015-01-01')
    real_in, real_out = real_windows(train, 500), real_windows(test, 500)
    print(f"# path table, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node() or 'machine'} "
          f"({os.cpu_count()} CPUs), OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}\n")
    print(f"real windows: {len(real_in)} x 500 days of 1990-2014 ({real_in[0].index[0].date()} to {real_in[-1].index[-1].date()}), "
          f"{len(real_out)} x 500 days of 2015-2022; {args.paths} generated paths of 500 days per generator and seed\n")
    tabs = {}
    for seed in args.seeds:
        gens, secs = generators(train, returns, args.paths, seed, not args.no_cvae)
        t0 = time.time()
        rin = path_report(gens, real_in, train_windows=train, holdout=test, seed=seed)
        rout = path_report(gens | {'real 1990-2014 windows (scored as if generated)': [w.to_numpy() for w in real_in]}, real_out,
                           train_windows=train, holdout=test, seed=seed)
        tabs[seed] = (rin.table, rout.table)
        print(f"## seed {seed}: against 1990-2014\n\n{markdown(rin)}\n\n## seed {seed}: against 2015-2022\n\n{markdown(rout)}\n")
        took = ', '.join(f"{k.split(' (')[0]} {v:.1f}" for k, v in secs.items())
        print(f"seconds to generate: {took}; both reports {time.time() - t0:.1f}\n")
    for i, period in enumerate(['1990-2014', '2015-2022']):
        mean = pd.concat([t[i] for t in tabs.values()]).groupby(level=0, sort=False).mean()
        print(f"## mean over seeds {args.seeds}: against {period}\n\n" + mean[COLS + ['nearest-window ratio', 'copied']].round(3).to_string() + '\n')


if __name__ == '__main__':
    main()
