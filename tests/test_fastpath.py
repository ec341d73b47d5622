"Edge cases of the fast engine that are not part of its lesson (moved from the fast path page)."
import torch
from puffin.deep.model import VAE
from puffin.deep.fastpath import FastEngine, _flushing_denormals

def test_an_epoch_puts_the_callers_denormal_setting_back():
    torch.manual_seed(0); eng = FastEngine(VAE(6, 2, [8], dropout=0.1), lr=1e-2); X = torch.randn(100, 6)
    was = _flushing_denormals()
    try:
        for setting in (True, False):   # an epoch flushes denormals (they are slow on x86), then restores the caller's choice
            torch.set_flush_denormal(setting); eng.train_epoch(X, 16)
            assert _flushing_denormals() == setting
    finally: torch.set_flush_denormal(was)

def test_a_private_generator_repeats_an_epoch_and_leaves_the_global_rng_alone():
    X = torch.randn(100, 6); out = []
    for _ in range(2):
        torch.manual_seed(0); eng = FastEngine(VAE(6, 2, [8], dropout=0.1), lr=1e-2, generator=torch.Generator().manual_seed(5))
        state = torch.get_rng_state(); out.append(eng.train_epoch(X, 16)); assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(out[0], out[1])
