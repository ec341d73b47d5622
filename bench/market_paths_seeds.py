"""Issue #23 point 1, seed by seed: settings of `puffin.paths.MarketPaths` against each seed's bars (recipe 08's protocol).

    python bench/market_paths_seeds.py                                   # the defaults, seeds 0-2
    python bench/market_paths_seeds.py --seeds 0 1 2 3 4 5 6 7 8 9 \\
        --settings '{}' '{"era_days": 0}' '{"reaction": 0.8, "market_persistence": null, "variance_scale": 1.0, "leverage_days": 0, "era_days": 0, "own_variance_cap": null}'

The last setting is the defaults before 2026-12-05 (section 6 of bench/market_paths_log.md): it draws the same paths as
they did, so its rows are recipe 08's old ones.

Recipe 08's protocol: fit on 1990-2014 (`load_sp500_returns(dequantize=True, seed=0)`), 60 paths of 500 days with
paths seed s + 100, `path_report(..., seed=s)` against the 12 real 500-day windows of 1990-2014 (memorisation against
the training days, 2015-2022 as holdout). All settings and filtered historical simulation (FHS) are scored in one
report per seed, so they share its floor. The bars of seed s: every group at or below min(floor, FHS), both window AUCs
at most the floor's + 0.03, at most 5 % of windows copied. Prints each setting's row and its margins per seed
(positive = a miss), then per setting how many seeds meet every bar and the mean margins. A benchmark, not a test:
about 15-20 s per seed and setting on a 2-core machine."""
from __future__ import annotations
import argparse, json, os, time, warnings
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, pandas as pd
from puffin.data import load_sp500_returns, chronological_split
from puffin.quality import path_report, real_windows, filtered_historical_simulation, GROUPS, FLOOR
from puffin.paths import MarketPaths

AUCS = ['window AUC', 'window AUC (vol-scaled)']
FHS = 'filtered historical simulation'


def margins(t: pd.DataFrame, name: str) -> pd.Series:
    "The margins of row `name` of one seed's report table: groups against min(floor, FHS), AUCs against floor + 0.03, copied against 5 %."
    m, fl, fh = t.loc[name], t.loc[FLOOR], t.loc[FHS]
    return pd.Series({g: m[g] - min(fl[g], fh[g]) for g in GROUPS} | {a: m[a] - fl[a] - 0.03 for a in AUCS} | {'copied': m['copied'] - 0.05})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--settings', nargs='+', default=['{}'], help='MarketPaths keyword arguments, one JSON object per setting')
    ap.add_argument('--paths', type=int, default=60)
    args = ap.parse_args(argv)
    warnings.filterwarnings('ignore', module='arch')
    returns = load_sp500_returns(dequantize=True, seed=0)
    train, test = chronological_split(returns, '2015-01-01')
    real_in = real_windows(train, 500)
    models = {s: MarketPaths(**json.loads(s)).fit(train) for s in args.settings}
    print(f"# MarketPaths seed by seed, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs; "
          f"{args.paths} paths of 500 days, seeds {args.seeds}\n")
    marg = {s: {} for s in args.settings}
    for seed in args.seeds:
        t0 = time.time()
        gens = {s: m.sample(500, args.paths, seed=seed + 100) for s, m in models.items()}
        gens[FHS] = filtered_historical_simulation(train, 500, args.paths, seed + 100)
        t = path_report(gens, real_in, train_windows=train, holdout=test, seed=seed).table
        print(f"## seed {seed} ({time.time() - t0:.0f} s)\n\n" + t[GROUPS + AUCS + ['copied']].round(3).to_string() + '\n')
        for s in args.settings:
            marg[s][seed] = margins(t, s)
            miss = ', '.join(f"{k} {v:+.3f}" for k, v in marg[s][seed].items() if v > 0)
            print(f"  {s}: {'meets every bar' if not miss else 'misses ' + miss}")
        print()
    print('## over the seeds: seeds meeting every bar, mean margins\n')
    for s in args.settings:
        M = pd.DataFrame(marg[s]).T
        print(f"{s}: {int((M <= 0).all(axis=1).sum())}/{len(M)}; " + ', '.join(f"{k} {v:+.3f}" for k, v in M.mean().items()))


if __name__ == '__main__':
    main()
