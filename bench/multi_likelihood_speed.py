"""Likelihood models: K seeds trained together (`fit_many`) against K single seeded `fit`s, side by side, on recipe 07's workloads.

    python bench/multi_likelihood_speed.py                         # K = 3 and 5, recipe 07's configurations, 10 epochs
    python bench/multi_likelihood_speed.py --ks 3 --rounds 5 --configs zi_student_t+large+dfz

Recipe 07's data and models (bench/likelihood_speed.py's `recipe_data` and `make_model`): 6,300 x 20 training rows,
batch 64, no validation split, one intra-op thread. One round is the K single fits (each `AETrainer().fit` on the
likelihood engine, seeds 0..K-1) and the same K initial models through `fit_many`, the two in turn; the table prints
median (min-max) seconds per round of each, the ratio of the medians (wall clock and process CPU), and the largest
weight difference between a model trained together and its single fit (float rounding; it grows with the epochs).
This is a benchmark, not a test: timings on a busy machine are noisy (compare medians, rerun when the load changes)."""
from __future__ import annotations
import argparse, copy, platform, statistics, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from likelihood_speed import recipe_data, make_model, CONFIGS, COND, spread

MULTI = list(CONFIGS)   # every configuration of recipe 07 trains on the multi-likelihood engine (the low-rank decoder too, since 2026-12-06)


def timed(f) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - t, time.process_time() - c


def one_round(kind: str, data: dict, K: int, epochs: int) -> tuple[float, float, float, float, float]:
    "Seconds and CPU seconds of K single fits and of one `fit_many` of the same initial models, and their largest weight difference."
    from puffin.deep.training import AETrainer
    from puffin.deep.multifit import fit_many
    Xtr = data[COND.get(kind, 'plain')][0]
    models = []
    for s in range(K):
        torch.manual_seed(s); models.append(make_model(kind, Xtr.shape[1]))
    singles = copy.deepcopy(models)
    kw = dict(epochs=epochs, batch_size=64, validation_split=0.0, threads=1)
    ts, cs = timed(lambda: [AETrainer('cpu').fit(m, Xtr, seed=s, **kw) for s, m in enumerate(singles)])
    tm, cm = timed(lambda: fit_many(models, Xtr, list(range(K)), **kw))
    diff = max((p - q).abs().max().item() for a, b in zip(singles, models) for p, q in zip(a.parameters(), b.parameters()))
    return ts, cs, tm, cm, diff


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--ks', default='3,5', help='numbers of models trained together')
    ap.add_argument('--rounds', type=int, default=3, help='rounds per configuration and K (>= 3 for a median)')
    ap.add_argument('--configs', default=','.join(MULTI))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = recipe_data()
    print(f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, 1 thread, torch {torch.__version__}, "
          f"{args.epochs} epochs on {len(data['plain'][0])} x 20 training rows, batch 64, {args.rounds} rounds\n")
    print('| configuration | K | K single fits s | fit_many s | ratio | CPU s ratio | largest weight difference |')
    print('|---|---|---|---|---|---|---|')
    for kind in args.configs.split(','):
        for K in map(int, args.ks.split(',')):
            r = [one_round(kind, data, K, args.epochs) for _ in range(args.rounds)]
            ts, cs, tm, cm, diff = (list(v) for v in zip(*r))
            print(f"| {kind} | {K} | {spread(ts)} | {spread(tm)} | {statistics.median(ts) / statistics.median(tm):.2f}x | "
                  f"{statistics.median(cs) / statistics.median(cm):.2f}x | {max(diff):.1e} |", flush=True)


if __name__ == '__main__':
    main()
