"""Many fits at once: `fit_many` against K sequential fits, side by side, alternating, in one process.

    python bench/multifit_speed.py                        # CPU: K = 8 models of W1, 8 sequential fast fits vs fit_many
    python bench/multifit_speed.py --runs 5
    python bench/multifit_speed.py --device cuda          # GPU: W2 with K = 1 and K = 64 (and with a CUDA graph)
    python bench/multifit_speed.py --device cuda --quick  # the same with 10 epochs: a smoke run of a few seconds

Prints each arm's median (min-max) seconds over `--runs` alternating rounds and the ratio the issue asks about:
CPU, the throughput of fit_many over K sequential fits (goal >= 1.5x); GPU, the time of K = 64 models over K = 1
(goal <= 2x). Also checks that fit_many's models equal the sequential fits' (CPU) or the CPU fit's (GPU).
On the CPU each arm's process CPU seconds are printed too, and the ratio taken round by round (each round's
arms ran back to back): on a machine shared with other jobs the wall clock also counts the time the process waited
for a core, the CPU seconds do not. `--torch-products` adds the arm 'fit_many bmm': fit_many with its products
through `torch.bmm` as before numpy's (the step CUDA runs), for a before/after in the same run; `--torch-single` adds
the arm 'sequential torch': the K sequential fits with every product through torch's BLAS, as the single fast path
did before it took numpy's for small products. `--floor` adds the arm 'floor': only fit_many's products (training and
validation) and its Adam updates, replayed on its own buffers, as many as its fit runs; sequential / floor is the most
any K-model training that does those products could gain over the sequential fits.
A benchmark, not a test: on a shared machine timings are noisy (compare medians)."""
from __future__ import annotations
import argparse, os, statistics, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import torch
from bench.train_speed import WORKLOADS, make_data
from puffin.deep.model import VAE
from puffin.deep.training import AETrainer
from puffin.deep.multifit import fit_many

def models(w: dict, K: int) -> list:
    "K VAEs of workload `w`, model i initialised from seed i."
    out = []
    for i in range(K): torch.manual_seed(i); out.append(VAE(w['d'], w['k'], w['hidden']))
    return out

def sync(device: str) -> None:
    if device.startswith('cuda'): torch.cuda.synchronize()

def arm_sequential(w, K, X, device='cpu', **_):
    ms = models(w, K); t, c = time.perf_counter(), time.process_time()
    for i, m in enumerate(ms): AETrainer('cpu').fit(m, X, epochs=w['epochs'], batch_size=w['bs'], validation_split=w['val'], seed=i)
    return (time.perf_counter() - t, time.process_time() - c), ms

def arm_many(w, K, X, device='cpu', graph=False):
    ms = models(w, K); sync(device); t, c = time.perf_counter(), time.process_time()
    fit_many(ms, X, list(range(K)), epochs=w['epochs'], batch_size=w['bs'], validation_split=w['val'], device=device, graph=graph)
    sync(device)
    return (time.perf_counter() - t, time.process_time() - c), ms

def arm_sequential_torch(w, K, X):
    "The K sequential fast fits with every product through torch's BLAS (the single fast path before numpy's products)."
    from puffin.deep.fastpath import FastEngine
    pays = FastEngine._numpy_pays
    FastEngine._numpy_pays = lambda self, n: False
    try: return arm_sequential(w, K, X)
    finally: FastEngine._numpy_pays = pays

def arm_many_bmm(w, K, X):
    "fit_many with the CPU products through `torch.bmm` (the CUDA step run on the CPU), numpy's switched off for the call."
    from puffin.deep.multifit import MultiEngine
    np_step = MultiEngine._step_np
    MultiEngine._step_np = lambda self, *st: self._step(*st[:9])
    try: return arm_many(w, K, X)
    finally: MultiEngine._step_np = np_step

def _products(st) -> None:
    "One training step's products only (numpy's, on the step's own buffers `st`, as `_step_np` calls them): no ReLU, head, residual or Adam."
    import numpy as np
    B, xn, xTn, on, mm = st[0], st[9], st[10], st[11], np.matmul
    h = xn
    for kind, A, vn, rt, v, nxt, j in B.nfwd: mm(h, A, out=on if vn is None else vn); h = nxt
    for GWn, hTn, gn, Wxn, dn, *_ in B.nbwd: mm(hTn, gn, out=GWn); mm(gn, Wxn, out=dn)
    mm(xTn, B.ng0, out=B.nGW0)

def _val_products(B) -> None:
    "The validation pass's forward products on its buffers `B`."
    import numpy as np
    h = B.xin_n
    for kind, A, vn, rt, v, nxt, j in B.nfwd: np.matmul(h, A, out=B.o_n if vn is None else vn); h = nxt

def arm_floor(w, K, X):
    """The least any K-model step can cost here: fit_many once (untimed) to capture its buffers, then, timed, only the
    fit's products (every step's, and every validation pass's) and its fused Adam updates, as many as the fit ran,
    on the same buffers and thread. No ReLU, head, residual, draws or bookkeeping: a lower bound on fit_many's time."""
    from puffin.deep.multifit import MultiEngine
    from puffin.deep.fastpath import _adam_update
    from puffin.deep.runtime import _numpy_products
    cap, tr, ev = {}, MultiEngine.train_epoch, MultiEngine.evaluate
    def train_epoch(self, X, bs):
        out = tr(self, X, bs); cap['eng'], cap['steps'] = self, next(iter(self._epochs.values()))['steps']; return out
    def evaluate(self, X, bs):
        out = ev(self, X, bs); cap['val'] = [B for B in self._bufs.values() if B.xin is not None]; return out
    MultiEngine.train_epoch, MultiEngine.evaluate = train_epoch, evaluate
    try: _, ms = arm_many(w, K, X)
    finally: MultiEngine.train_epoch, MultiEngine.evaluate = tr, ev
    eng, steps, val = cap['eng'], cap['steps'], cap['val']
    t, c = time.perf_counter(), time.process_time()
    with torch.inference_mode(), _numpy_products():
        for _ in range(w['epochs']):
            for st in steps: _products(st); _adam_update(eng)
            for B in val: _val_products(B)
    return (time.perf_counter() - t, time.process_time() - c), ms

def max_diff(a: list, b: list) -> float:
    return max((p.detach().cpu() - q.detach().cpu()).abs().max().item() for m, n in zip(a, b) for p, q in zip(m.parameters(), n.parameters()))

def run(arms: dict, runs: int) -> dict:
    "Each arm once to warm up, then `runs` rounds, the arms alternating inside each round; (wall, CPU) seconds per arm."
    times, cpu, last = {k: [] for k in arms}, {k: [] for k in arms}, {}
    for k, f in arms.items(): last[k] = f()[1]
    for r in range(runs):
        for k, f in (arms.items() if r % 2 == 0 else reversed(arms.items())):
            (s, c), last[k] = f(); times[k].append(s); cpu[k].append(c)
            print(f"  round {r + 1} {k:>14s} {s:7.3f} s wall {c:7.3f} s CPU", flush=True)
    return times, cpu, last

def fmt(ts: list) -> str:
    return f"{statistics.median(ts):7.3f} s ({min(ts):.3f}-{max(ts):.3f})"

def paired(a: list, b: list) -> str:
    "Median (min-max) of the round-by-round ratios a / b."
    rs = [x / y for x, y in zip(a, b)]
    return f"{statistics.median(rs):.2f}x ({min(rs):.2f}-{max(rs):.2f})"

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cpu'); ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--K', type=int, default=None, help='models (default 8 on the CPU, 64 on a GPU)')
    ap.add_argument('--quick', action='store_true', help='10 epochs instead of 100')
    ap.add_argument('--no-graph', action='store_true', help='GPU: skip the CUDA-graph arms')
    ap.add_argument('--torch-products', action='store_true', help="CPU: add the arm 'fit_many bmm' (products through torch.bmm)")
    ap.add_argument('--floor', action='store_true', help="CPU: add the arm 'floor': only fit_many's products and Adam updates, timed on its own buffers (a lower bound)")
    ap.add_argument('--torch-single', action='store_true', help="CPU: add the arm 'sequential torch' (the single fits on torch's products)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, 1 intra-op thread; runs {a.runs}; the machine may be shared: compare medians")
    if a.device == 'cpu':
        w = dict(WORKLOADS['W1'], epochs=10 if a.quick else 100); K = a.K or 8; X = make_data(w)
        print(f"W1, K = {K}, {w['epochs']} epochs")
        arms = {'sequential': lambda: arm_sequential(w, K, X), 'fit_many': lambda: arm_many(w, K, X)}
        if a.torch_products: arms['fit_many bmm'] = lambda: arm_many_bmm(w, K, X)
        if a.torch_single: arms['sequential torch'] = lambda: arm_sequential_torch(w, K, X)
        if a.floor: arms['floor'] = lambda: arm_floor(w, K, X)
        times, cpu, last = run(arms, a.runs)
        for k in arms: print(f"{k:>14s} wall {fmt(times[k])}, CPU {fmt(cpu[k])}")
        for k in [k for k in arms if k not in ('sequential', 'sequential torch', 'floor')]:
            ratio = statistics.median(times['sequential']) / statistics.median(times[k])
            print(f"throughput ratio {k} / sequential: {ratio:.2f}x wall (medians), round by round {paired(times['sequential'], times[k])} wall, "
                  f"{paired(cpu['sequential'], cpu[k])} CPU (goal >= 1.5x)")
        if a.torch_single:
            print(f"single fast path, numpy's products against torch's: sequential torch / sequential {statistics.median(times['sequential torch']) / statistics.median(times['sequential']):.2f}x wall (medians), "
                  f"round by round {paired(times['sequential torch'], times['sequential'])} wall, {paired(cpu['sequential torch'], cpu['sequential'])} CPU; "
                  f"fit_many against it: {paired(cpu['sequential torch'], cpu['fit_many'])} CPU")
        if a.floor:
            print(f"the bound: sequential / floor {paired(times['sequential'], times['floor'])} wall, {paired(cpu['sequential'], cpu['floor'])} CPU "
                  f"(the most any K-model training doing these products and Adam updates could gain; fit_many is at "
                  f"{paired(cpu['floor'], cpu['fit_many'])} of the floor's CPU speed)")
        print(f"max weight difference fit_many vs sequential: {max_diff(last['sequential'], last['fit_many']):.2e} (100 epochs of rounding, see the multifit page)")
        return
    if not torch.cuda.is_available(): print("no CUDA GPU here: nothing to time"); return
    torch.backends.cuda.matmul.allow_tf32 = False
    w = dict(WORKLOADS['W2'], epochs=10 if a.quick else 100); K = a.K or 64; X = make_data(w)
    print(f"W2 on {torch.cuda.get_device_name()}, K = 1 and {K}, {w['epochs']} epochs")
    arms = {'K=1': lambda: arm_many(w, 1, X, a.device), f'K={K}': lambda: arm_many(w, K, X, a.device)}
    if not a.no_graph:
        arms |= {'K=1 graph': lambda: arm_many(w, 1, X, a.device, True), f'K={K} graph': lambda: arm_many(w, K, X, a.device, True)}
    times, _, last = run(arms, a.runs)
    for k, ts in times.items(): print(f"{k:>14s} {fmt(ts)}")
    med = {k: statistics.median(ts) for k, ts in times.items()}
    print(f"time ratio K={K} / K=1: {med[f'K={K}'] / med['K=1']:.2f}x (goal <= 2x)")
    if not a.no_graph:
        print(f"with CUDA graphs: {med[f'K={K} graph'] / med['K=1 graph']:.2f}x; graph speed-up K=1 {med['K=1'] / med['K=1 graph']:.2f}x, K={K} {med[f'K={K}'] / med[f'K={K} graph']:.2f}x")
    cpu = models(w, 2); fit_many(cpu, X, [0, 1], epochs=w['epochs'], batch_size=w['bs'], validation_split=w['val'])
    print(f"GPU vs CPU fit_many, first 2 models: max weight difference {max_diff(cpu, last[f'K={K}'][:2]):.2e}"
          + (f" (graph {max_diff(cpu, last[f'K={K} graph'][:2]):.2e})" if not a.no_graph else ''))

if __name__ == '__main__': main()
