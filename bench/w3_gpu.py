"""W3 with batch 64 on a GPU: the textbook loop against puffin's written-out step, plain and captured in a CUDA graph
(`fit_many` with one model), in one process, one run each after a short warm-up.

    python bench/w3_gpu.py            # needs CUDA
Prints seconds, the speed-up over the textbook loop and the final validation losses. A benchmark, not a test."""
from __future__ import annotations
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import torch
import bench.train_speed as ts
from puffin.deep.model import VAE
from puffin.deep.multifit import fit_many

def main():
    if not torch.cuda.is_available(): print('w3_gpu: no CUDA here'); return
    ts.DEVICE = 'cuda'
    w = dict(ts.WORKLOADS['W3-64']); X = ts.make_data(w)
    def fast(graph: bool, epochs: int):
        torch.manual_seed(ts.SEED); m = VAE(w['d'], w['k'], w['hidden'])
        torch.cuda.synchronize(); t = time.perf_counter()
        h = fit_many([m], X, [ts.SEED], epochs=epochs, batch_size=w['bs'], validation_split=w['val'], device='cuda', graph=graph)[0]
        torch.cuda.synchronize(); return time.perf_counter() - t, h['val_loss'][-1]
    fast(True, 1); fast(False, 1)                              # warm-up: CUDA context, kernels, graph capture paths
    res = {'fast step, CUDA graph': fast(True, w['epochs']), 'fast step, no graph': fast(False, w['epochs'])}
    tb = ts.run_textbook(w); res['textbook loop'] = (tb['seconds'], tb['val_loss'])
    print(f"W3/64 on {torch.cuda.get_device_name()}, torch {torch.__version__}")
    for k, (s, v) in res.items(): print(f"  {k:>22s}: {s:7.2f} s  val loss {v:.3f}  speed-up over textbook {res['textbook loop'][0] / s:5.2f}x")

if __name__ == '__main__': main()
