"""Likelihood models: `fit` on autograd against `fit` on `LikelihoodEngine`, side by side, on recipe 07's workloads.

    python bench/likelihood_speed.py                          # every configuration, 10 epochs, seeds 0 1 2
    python bench/likelihood_speed.py --epochs 20 --configs gaussian,zi_student_t+large

Recipe 07's data: the 20 S&P 500 stocks' daily returns, training days before 2015 (6,300 x 20, scaled), held-out days
from 2015 (2,012); its configurations: free bits 0.1 and a linear KL warm-up over 2,000 steps, batch 64, every training
day (no validation split), latent 8 and hidden (64, 32), or latent 16 and hidden (128, 64) for '+large'; df(z) floored
at 3 for '+dfz'; the conditional models see the portfolio's (3 columns) or also each asset's (23) trailing volatility.
Each seed is one fit on each engine, the two alternating (autograd, engine, autograd, ...), one intra-op thread.
Prints a markdown table: median (min-max) seconds per fit of each engine and their ratio, the ratio of the fits'
process CPU seconds (medians; on a machine shared with other jobs the wall clock also counts waiting for a core, the
CPU seconds do not), and the held-out NLL
(`heldout_nll`'s importance-weighted estimate, nats per day) of each engine as mean (min-max) over the seeds: the two
engines draw their noise differently, so the NLLs agree within the seeds' spread, not to the digit.
This is a benchmark, not a test: timings on a busy machine are noisy (compare medians, rerun when the load changes)."""
from __future__ import annotations
import argparse, platform, statistics, time
import numpy as np
import torch

CONFIGS = ['gaussian', 'lowrank', 'student_t', 'zi_student_t', 'zi_student_t+dfz', 'zi_student_t+large',
           'zi_student_t+large+dfz', 'cvae-student_t', 'cvae-zi_student_t', 'cvae-zi_student_t+large']
COND = {'cvae-student_t': 'portfolio', 'cvae-zi_student_t': 'per-asset', 'cvae-zi_student_t+large': 'per-asset'}


def recipe_data() -> dict:
    "Recipe 07's rows: scaled returns (train, test) and `[x | c]` rows for the conditional models."
    from puffin.data import load_sp500_returns, chronological_split, fit_scaler, scale
    from puffin.deep.generative import trailing_vol_condition
    returns = load_sp500_returns(dequantize=True, seed=0)
    train, test = chronological_split(returns, '2015-01-01')
    scaler = fit_scaler(train)
    Xtr, Xte = scale(train, scaler).astype(np.float32), scale(test, scaler).astype(np.float32)
    def conditions(asset_windows=()):
        cond = trailing_vol_condition(returns, windows=(5, 21, 63), asset_windows=asset_windows)
        C = ((cond - cond.loc[train.index].mean()) / cond.loc[train.index].std()).astype(np.float32)
        keep = C.loc[train.index].notna().all(axis=1).to_numpy()
        return np.c_[Xtr, C.loc[train.index].to_numpy()][keep], np.c_[Xte, C.loc[test.index].to_numpy()]
    return {'plain': (Xtr, Xte), 'portfolio': conditions(), 'per-asset': conditions(asset_windows=(21,))}


def make_model(kind: str, width: int):
    "The recipe's model for configuration `kind` (rows of `width` columns)."
    from puffin.deep.generative import LikelihoodVAE, ConditionalVAE
    opts = dict(free_bits=0.1, kl_schedule='linear', warmup_steps=2000)
    base, *extras = kind.split('+')
    latent, hidden = (16, [128, 64]) if 'large' in extras else (8, [64, 32])
    if base.startswith('cvae'): return ConditionalVAE(20, width - 20, latent, hidden, decoder=base.split('-')[1], **opts)
    return LikelihoodVAE(20, latent, hidden, decoder=base, rank=3, **opts, **(dict(df_from_z=True, min_df=3.0) if 'dfz' in extras else {}))


def one_fit(kind: str, data: dict, path: str, seed: int, epochs: int) -> tuple[float, float, str, float]:
    "Seconds of one seeded fit on `path`, the held-out NLL of the trained model, the engine that ran and the fit's CPU seconds."
    from puffin.deep.training import AETrainer
    from puffin.deep.generative import heldout_nll
    Xtr, Xte = data[COND.get(kind, 'plain')]
    torch.manual_seed(seed); m = make_model(kind, Xtr.shape[1])
    t, c = time.perf_counter(), time.process_time()
    h = AETrainer('cpu').fit(m, Xtr, epochs=epochs, batch_size=64, validation_split=0.0, seed=seed, threads=1, path=path)
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    return secs, heldout_nll(m, Xte, n_samples=64, seed=0)['nll_iw'], h['path'], cpu


def spread(v: list) -> str:
    return f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--seeds', default='0,1,2', help='one fit per engine per seed (>= 3 for a median)')
    ap.add_argument('--configs', default=','.join(CONFIGS))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seeds, configs = [int(s) for s in args.seeds.split(',')], args.configs.split(',')
    data = recipe_data()
    print(f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} thread, torch {torch.__version__}, "
          f"{args.epochs} epochs on {len(data['plain'][0])} x 20 training rows, batch 64, seeds {seeds}\n")
    print('| configuration | autograd s | likelihood engine s | ratio | CPU s ratio | held-out NLL autograd | held-out NLL engine |')
    print('|---|---|---|---|---|---|---|')
    for kind in configs:
        r = {'autograd': ([], [], []), 'auto': ([], [], [])}
        for seed in seeds:
            for path in ('autograd', 'auto'):   # alternating: a change of load hits both
                secs, nll, engine, cpu = one_fit(kind, data, path, seed, args.epochs)
                assert engine == ('autograd' if path == 'autograd' else 'likelihood'), engine
                r[path][0].append(secs); r[path][1].append(nll); r[path][2].append(cpu)
        (ta, na, ca), (tl, nl, cl) = r['autograd'], r['auto']
        nll = lambda v: f"{statistics.mean(v):.2f} ({min(v):.2f}-{max(v):.2f})"
        print(f"| {kind} | {spread(ta)} | {spread(tl)} | {statistics.median(ta) / statistics.median(tl):.1f}x | {statistics.median(ca) / statistics.median(cl):.1f}x | {nll(na)} | {nll(nl)} |", flush=True)


if __name__ == '__main__':
    main()
