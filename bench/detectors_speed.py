"""Recipe 04's five detectors: five sequential `VAEAnomalyDetector(..., seed=s).fit(train)` against one
`fit_detectors(train, range(5), ...)`, side by side, alternating, in one process.

    python bench/detectors_speed.py             # 5 rounds after one warm-up round
    python bench/detectors_speed.py --runs 3

The settings are those of the recipe's 5-seed table (latent 4, widths [64, 32], 50 epochs, batch 128, lr 1e-3,
score_kind='size_or_pattern'), on its data: the 20 S&P 500 stocks, dequantised with seed 0, 1990-2014 (6300 days;
each seed's VAE trains on 5040 of them, the other 1260 calibrate it). Prints each arm's median (min-max) wall and
process CPU seconds, the ratio sequential / fit_detectors of the medians and round by round (each round's arms ran
back to back; on a shared machine the wall clock also counts the time spent waiting for a core, CPU seconds do
not), and how far apart the two arms' scores of the test years (2015-2022) are.
Both arms include everything `fit` does besides training (scaling, whitening, scoring every training day,
calibrating), which `fit_detectors` runs detector by detector as `fit` does: only the training is batched.
A benchmark, not a test: on a shared machine timings are noisy (compare medians)."""
from __future__ import annotations
import argparse, os, statistics, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np, torch
from bench.multifit_speed import run, fmt, paired
from puffin.anomaly import VAEAnomalyDetector, fit_detectors

SETTINGS = dict(latent_dim=4, hidden_dims=[64, 32], epochs=50, batch_size=128, lr=1e-3, score_kind='size_or_pattern')

def recipe_data():
    "The recipe's training years (1990-2014) and test years (2015-2022)."
    from puffin.data import load_sp500_returns, chronological_split
    return chronological_split(load_sp500_returns(dequantize=True, seed=0), '2015-01-01')

def arm_sequential(X, seeds, kw=SETTINGS):
    "One detector per seed, fitted one after another."
    t, c = time.perf_counter(), time.process_time()
    dets = [VAEAnomalyDetector(**kw, seed=s).fit(X) for s in seeds]
    return (time.perf_counter() - t, time.process_time() - c), dets

def arm_together(X, seeds, kw=SETTINGS):
    "The same detectors from one `fit_detectors` call: their VAEs train together."
    t, c = time.perf_counter(), time.process_time()
    dets = fit_detectors(X, seeds, **kw)
    return (time.perf_counter() - t, time.process_time() - c), dets

def score_gap(a: list, b: list, X) -> float:
    "The largest difference between the two arms' anomaly scores of `X`, relative to the largest score."
    return max(float(np.abs(p.score_samples(X) - q.score_samples(X)).max() / np.abs(q.score_samples(X)).max()) for p, q in zip(a, b))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=5); ap.add_argument('--K', type=int, default=5, help='detectors (seeds 0..K-1)')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    train, test = recipe_data()
    seeds = list(range(a.K))
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, 1 intra-op thread; runs {a.runs}; the machine may be shared: compare medians")
    print(f"recipe 04's {a.K} detectors on {train.shape[0]} x {train.shape[1]} training days: {SETTINGS}")
    arms = {'sequential': lambda: arm_sequential(train, seeds), 'fit_detectors': lambda: arm_together(train, seeds)}
    times, cpu, last = run(arms, a.runs)
    for k in arms: print(f"{k:>14s} wall {fmt(times[k])}, CPU {fmt(cpu[k])}")
    print(f"ratio sequential / fit_detectors: {statistics.median(times['sequential']) / statistics.median(times['fit_detectors']):.2f}x wall, "
          f"{statistics.median(cpu['sequential']) / statistics.median(cpu['fit_detectors']):.2f}x CPU (medians); round by round "
          f"{paired(times['sequential'], times['fit_detectors'])} wall, {paired(cpu['sequential'], cpu['fit_detectors'])} CPU")
    print(f"largest score difference on the test years, relative to the largest score: {score_gap(last['fit_detectors'], last['sequential'], test):.1e}")

if __name__ == '__main__': main()
