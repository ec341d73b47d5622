"""Training speed: the textbook PyTorch loop against `AETrainer.fit`, each run in a fresh process, in alternation.

    python bench/train_speed.py                                   # W1, W2, W3-256, W3-64, 3 runs each
    python bench/train_speed.py --runs 5 --workloads W1,W2
    python bench/train_speed.py --device cuda --workloads W3-256,W3-64 [--amp]   # the same table on a GPU
    python bench/train_speed.py --runs 5 --torch-products --kinds fit,fit_torch  # the fast path before/after numpy's products

Prints a markdown table: median (min-max) seconds of the textbook loop and of `fit`, their ratio, the final
validation losses (same seeds, same number of updates), the peak RSS of each child, and the matrix-product floor
(only the step's matrix products, same shapes, same thread count as the fit) with the fit's distance to it, and the
same products through numpy's BLAS (OpenBLAS in numpy's wheels; torch's x86 wheels use MKL): how much of the floor
is the BLAS library's. `--torch-products` adds the kind 'fit_torch': `fit` with every product through torch's BLAS
(the fast path before it took numpy's for small products), and a table of the two fits' wall and process CPU
seconds, the ratio taken round by round (on a shared machine the wall clock also counts waiting for a core).
The textbook loop runs on 1 thread; the fit on whatever `AETrainer`'s default (`auto_threads`) picks.
This is a benchmark, not a test: timings on a busy machine are noisy (compare medians)."""
from __future__ import annotations
import argparse, contextlib, json, os, statistics, subprocess, sys, time

WORKLOADS = {  # name: rows, features, latent, hidden, epochs, batch size, validation split
    'W1': dict(n=1000, d=100, k=20, hidden=[80, 50, 30], epochs=100, bs=64, val=0.2),
    'W2': dict(n=8000, d=20, k=8, hidden=[64, 32], epochs=100, bs=64, val=0.2),
    'W3-256': dict(n=200_000, d=100, k=20, hidden=[256, 128], epochs=3, bs=256, val=0.2),
    'W3-64': dict(n=200_000, d=100, k=20, hidden=[256, 128], epochs=3, bs=64, val=0.2),
}
SEED = 0
DEVICE = os.environ.get('PUFFIN_BENCH_DEVICE', 'cpu')  # set by --device for the child processes
AMP = os.environ.get('PUFFIN_BENCH_AMP') == '1'

def _sync():
    "Wait for queued GPU work, so the clock measures it."
    import torch
    if DEVICE.startswith('cuda'): torch.cuda.synchronize()

def make_data(w: dict):
    "The workload's rows as a float32 tensor: random normal (W1, W3) or a 5-factor model plus noise (W2, 'real-data shape')."
    import torch
    g = torch.Generator().manual_seed(123)
    if w['d'] == 20:
        f, l = torch.randn(w['n'], 5, generator=g), torch.randn(5, w['d'], generator=g)
        X = f @ l + 0.5 * torch.randn(w['n'], w['d'], generator=g)
        return (X - X.mean(0)) / X.std(0)
    return torch.randn(w['n'], w['d'], generator=g)

def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def run_textbook(w: dict) -> dict:
    "The chapter's original loop: TensorDataset + DataLoader(shuffle=True), loss.item() per batch, default Adam."
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from puffin.deep.model import VAE
    from puffin.deep.loss import vae_loss
    torch.set_num_threads(1)
    X = make_data(w)
    torch.manual_seed(SEED); model = VAE(w['d'], w['k'], w['hidden']).to(DEVICE)
    _sync(); t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(SEED)
    idx = torch.randperm(len(X)); n_val = int(round(len(X) * w['val']))
    train_loader = DataLoader(TensorDataset(X[idx[:len(X) - n_val]]), batch_size=w['bs'], shuffle=True)
    val_loader = DataLoader(TensorDataset(X[idx[len(X) - n_val:]]), batch_size=w['bs'])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(w['epochs']):
        model.train(); train_loss = 0.0
        for (batch,) in train_loader:
            batch = batch.to(DEVICE)
            optimizer.zero_grad()
            recon, mu, log_var = model(batch)
            loss = vae_loss(recon, batch, mu, log_var, model.beta)
            loss.backward(); optimizer.step()
            train_loss += loss.item()
        model.eval(); val_loss = 0.0
        with torch.no_grad():
            for (batch,) in val_loader:
                batch = batch.to(DEVICE)
                recon, mu, log_var = model(batch)
                val_loss += vae_loss(recon, batch, mu, log_var, model.beta).item() * len(batch)
        val_loss /= n_val
    _sync()
    return dict(seconds=time.perf_counter() - t0, cpu=time.process_time() - c0, val_loss=val_loss, threads=1)

def run_fit(w: dict, products: str='auto') -> dict:
    "`AETrainer.fit` with its defaults (engine and thread count chosen automatically); products='torch': every product through torch's BLAS."
    import torch
    from puffin.deep.model import VAE
    from puffin.deep.training import AETrainer, auto_threads
    from puffin.deep.fastpath import FastEngine
    X = make_data(w)
    torch.manual_seed(SEED); model = VAE(w['d'], w['k'], w['hidden'])
    threads = auto_threads(model, w['bs'])
    pays = FastEngine._numpy_pays
    if products == 'torch': FastEngine._numpy_pays = lambda self, n: False   # the fast path before numpy's products
    try:
        _sync(); t0, c0 = time.perf_counter(), time.process_time()
        h = AETrainer(DEVICE).fit(model, X, epochs=w['epochs'], batch_size=w['bs'], validation_split=w['val'], seed=SEED, amp=AMP)
        _sync()
    finally: FastEngine._numpy_pays = pays
    return dict(seconds=time.perf_counter() - t0, cpu=time.process_time() - c0, val_loss=h['val_loss'][-1], threads=threads, path=h['path'])

def run_floor(w: dict, blas: str='torch') -> dict:
    """Only the matrix products of the fit (forward and backward of every training step, forward of every validation
    pass), through torch's BLAS (`torch.mm`, MKL in the x86 wheels) or numpy's (`np.matmul`, OpenBLAS in its wheels)."""
    import torch
    from puffin.deep.model import VAE
    from puffin.deep.training import auto_threads
    torch.manual_seed(SEED); model = VAE(w['d'], w['k'], w['hidden'])
    threads = auto_threads(model, w['bs']); torch.set_num_threads(threads)
    ins = [w['d'], *w['hidden']]; outs = [*w['hidden'], 2 * w['k']]
    dec_ins = [w['k'], *w['hidden'][::-1]]; dec_outs = [*w['hidden'][::-1], w['d']]
    shapes = list(zip(ins, outs)) + list(zip(dec_ins, dec_outs))
    n_tr = w['n'] - int(round(w['n'] * w['val'])); n_va = w['n'] - n_tr
    def step_ops(n, backward):
        ops = []
        for li, (i, o) in enumerate(shapes):
            h, W, y = torch.randn(n, i), torch.randn(o, i), torch.empty(n, o)
            ops.append((h, W.t(), y))
            if backward:
                g, gW, dh = torch.randn(n, o), torch.empty(o, i), torch.empty(n, i)
                ops.append((g.t(), h, gW))
                if li: ops.append((g, W, dh))
        return ops
    plan = []
    sizes = [w['bs']] * (n_tr // w['bs']) + ([n_tr % w['bs']] if n_tr % w['bs'] else [])
    by_n = {n: step_ops(n, True) for n in set(sizes)}
    vsizes = [min(max(w['bs'], 1024), n_va - s) for s in range(0, n_va, max(w['bs'], 1024))]
    vby_n = {n: step_ops(n, False) for n in set(vsizes)}
    for n in sizes: plan += by_n[n]
    for n in vsizes: plan += vby_n[n]
    if blas == 'numpy':
        import numpy as np
        from threadpoolctl import threadpool_limits   # numpy's BLAS has its own thread pool: same thread count as torch's
        limit = threadpool_limits(threads)
        mm, plan = np.matmul, [tuple(t.numpy() for t in op) for op in plan]   # views of the same buffers, same layouts
    else: mm, limit = torch.mm, contextlib.nullcontext()
    with limit:
        for a, b, c in plan[:200]: mm(a, b, out=c)  # warm up
        t0 = time.perf_counter()
        for _ in range(w['epochs']):
            for a, b, c in plan: mm(a, b, out=c)
        return dict(seconds=time.perf_counter() - t0, threads=threads)

KINDS = ('textbook', 'fit', 'floor', 'floor_np', 'fit_torch')   # what a child process can run: the two loops, the floor through torch's BLAS and numpy's, fit on torch's products

def child(kind: str, name: str) -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    w = WORKLOADS[name]
    res = dict(zip(KINDS, (run_textbook, run_fit, run_floor, lambda w: run_floor(w, 'numpy'), lambda w: run_fit(w, 'torch'))))[kind](w)
    res['peak_mb'] = peak_rss_mb()
    if DEVICE.startswith('cuda'):
        import torch; res['gpu_mb'], res['gpu'] = torch.cuda.max_memory_allocated() / 2**20, torch.cuda.get_device_name()
    print('RESULT ' + json.dumps(res))

def spawn(kind: str, name: str) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), '--child', kind, name], capture_output=True, text=True)
    if out.returncode: raise RuntimeError(f"{kind} {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(next(l for l in out.stdout.splitlines() if l.startswith('RESULT '))[7:])

def fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3g} ({min(xs):.3g}-{max(xs):.3g})"

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--workloads', default='W1,W2,W3-256,W3-64')
    ap.add_argument('--device', default='cpu', help="'cpu' or 'cuda': where both loops run (the floor is timed on the CPU only)")
    ap.add_argument('--amp', action='store_true', help='fit with amp=True (bf16 autocast)')
    ap.add_argument('--torch-products', action='store_true', help="also fit with every product through torch's BLAS (kind 'fit_torch'): before/after")
    ap.add_argument('--kinds', default=None, help="CPU: only these kinds, comma separated (default: all; the main table needs textbook, fit, floor, floor_np)")
    ap.add_argument('--child', nargs=2, metavar=('KIND', 'WORKLOAD'), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child: return child(*args.child)
    names = args.workloads.split(',')
    os.environ['PUFFIN_BENCH_DEVICE'], os.environ['PUFFIN_BENCH_AMP'] = args.device, '1' if args.amp else '0'
    kinds = KINDS[:4] if args.device == 'cpu' else KINDS[:2]   # the floors are timed on the CPU only
    if args.torch_products: kinds += ('fit_torch',)
    if args.kinds: kinds = tuple(k for k in kinds if k in args.kinds.split(','))
    res = {(k, n): [] for n in names for k in KINDS}
    for r in range(args.runs):
        for n in names:
            for k in kinds:
                res[k, n].append(spawn(k, n)); res[k, n][-1].setdefault('cpu', float('nan'))
                print(f"run {r + 1}/{args.runs} {n:7s} {k:8s} {res[k, n][-1]['seconds']:.3f} s", file=sys.stderr, flush=True)
    if args.device != 'cpu':
        return print_gpu_table(res, names, args)
    if 'fit_torch' in kinds: print_products_table(res, names, args)
    if not all(k in kinds for k in KINDS[:4]): return
    print(f"\n{os.cpu_count()} CPUs; textbook loop on 1 thread, `fit` on `auto_threads`; {args.runs} runs each, fresh process per run.\n")
    print("| workload | textbook s | fit s | speed-up | fit path, threads | val loss textbook | val loss fit | peak MB textbook | peak MB fit | matmul floor s | fit / floor | floor, numpy's BLAS s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        tb, ft, fl = res['textbook', n], res['fit', n], res['floor', n]
        s = lambda rs, key='seconds': [x[key] for x in rs]
        ratio = statistics.median(s(tb)) / statistics.median(s(ft))
        floor, floor_np = statistics.median(s(fl)), statistics.median(s(res['floor_np', n]))
        print(f"| {n} | {fmt(s(tb))} | {fmt(s(ft))} | {ratio:.1f}x | {ft[0]['path']}, {ft[0]['threads']} | "
              f"{statistics.median(s(tb, 'val_loss')):.4f} | {statistics.median(s(ft, 'val_loss')):.4f} | "
              f"{statistics.median(s(tb, 'peak_mb')):.0f} | {statistics.median(s(ft, 'peak_mb')):.0f} | "
              f"{floor:.3g} | {statistics.median(s(ft)) / floor:.2f}x | {floor_np:.3g} |")

def print_products_table(res: dict, names: list, args) -> None:
    "The fast path before (every product through torch's BLAS) and after (numpy's where they pay): wall and CPU seconds."
    s = lambda rs, key='seconds': [x[key] for x in rs]
    paired = lambda a, b: [x / y for x, y in zip(a, b)]
    print(f"\n`fit` with torch's products (before) and with numpy's where they pay (after); {args.runs} runs each, fresh process per run, alternating.\n")
    print("| workload | before s | after s | before CPU s | after CPU s | speed-up wall (medians) | speed-up CPU, round by round | val loss before / after |")
    print("|---|---|---|---|---|---|---|---|")
    for n in names:
        b, a = res['fit_torch', n], res['fit', n]
        r = paired(s(b, 'cpu'), s(a, 'cpu'))
        print(f"| {n} | {fmt(s(b))} | {fmt(s(a))} | {fmt(s(b, 'cpu'))} | {fmt(s(a, 'cpu'))} | "
              f"{statistics.median(s(b)) / statistics.median(s(a)):.2f}x | {statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f}) | "
              f"{statistics.median(s(b, 'val_loss')):.4f} / {statistics.median(s(a, 'val_loss')):.4f} |")

def print_gpu_table(res: dict, names: list, args) -> None:
    "The GPU table: both loops on the same card, peak GPU memory instead of the CPU floor."
    s = lambda rs, key='seconds': [x[key] for x in rs]
    print(f"\n{res['fit', names[0]][0]['gpu']}; fit amp={args.amp}; {args.runs} runs each, fresh process per run.\n")
    print("| workload | textbook s | fit s | speed-up | fit path | val loss textbook | val loss fit | peak GPU MB textbook | peak GPU MB fit |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in names:
        tb, ft = res['textbook', n], res['fit', n]
        print(f"| {n} | {fmt(s(tb))} | {fmt(s(ft))} | {statistics.median(s(tb)) / statistics.median(s(ft)):.1f}x | {ft[0]['path']} | "
              f"{statistics.median(s(tb, 'val_loss')):.4f} | {statistics.median(s(ft, 'val_loss')):.4f} | "
              f"{statistics.median(s(tb, 'gpu_mb')):.0f} | {statistics.median(s(ft, 'gpu_mb')):.0f} |")

if __name__ == '__main__': main()
