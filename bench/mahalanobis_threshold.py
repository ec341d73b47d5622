"""Where `MahalanobisDetector` puts its threshold: the share of fresh rows it flags at contamination 5%, with the
threshold on the training rows' own scores (`cross_fit=False`) and on leave-one-out scores (`cross_fit=True`, the
default), for 2000 training rows of a 3-factor model at 20 to 1000 columns, three seeds each.

    python bench/mahalanobis_threshold.py

Prints each setting's flagged share of 5000 fresh rows (percent) per seed: 5 is the target."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np
from puffin.anomaly import MahalanobisDetector

def factor_rows(n: int, B: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    "n rows of a 3-factor model with loadings B (3 x d) plus noise of sd 0.5."
    return rng.standard_normal((n, 3)) @ B + 0.5 * rng.standard_normal((n, B.shape[1]))

def main():
    for d in (20, 100, 200, 500, 1000):
        rates = {False: [], True: []}
        for seed in range(3):
            rng = np.random.default_rng(seed); B = rng.standard_normal((3, d))
            X, fresh = factor_rows(2000, B, rng), factor_rows(5000, B, rng)
            for cross_fit in rates:
                det = MahalanobisDetector(contamination=0.05, cross_fit=cross_fit).fit(X)
                rates[cross_fit].append(100 * float((det.predict(fresh) == -1).mean()))
        fmt = lambda v: ', '.join(f'{r:.1f}' for r in v)
        print(f"{d:5d} columns: flagged % of fresh rows, in-sample threshold {fmt(rates[False])}; leave-one-out {fmt(rates[True])}")

if __name__ == '__main__': main()
