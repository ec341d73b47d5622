"""Every code block of the chapter (tests/chapter/vae_chapter.md, a copy of the seed) runs verbatim against the
installed package, in order, in one namespace, and prints the shapes the chapter promises."""
from pathlib import Path
import contextlib, io, re
import numpy as np
import pytest, torch

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT/'tests'/'chapter'/'vae_chapter.md'
SEED = ROOT.parent/'shared'/'seed'/'000_355a0a963ac4b0cf.txt'

def chapter_blocks(text: str) -> list[str]:
    "The ```python blocks of a markdown chapter, in order."
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)

# The loss block shows the loss's internals on tensors named recon, x, mu, log_var, beta that the chapter never
# defines ("recon: reconstructed output, x: original input"). We bind them from the first block's model, a
# documented preamble, and check the block's result against `AETrainer.vae_loss`.
LOSS_PREAMBLE = """
import torch
x = torch.FloatTensor(market_data[:64]); model.eval()
with torch.no_grad(): recon, mu, log_var = model(x)
beta = model.beta
"""

EXPECTED = ["Latent shape: (1000, 20)", "Generated synthetic samples: torch.Size([100, 100])",
            "Generated 1000 synthetic market scenarios", "Shape: torch.Size([1000, 50])",
            "Generated 10 interpolated scenarios: (10, 50)", "Detected 50 anomalous market states",
            "Augmented rare events: (150, 50)"]

def test_chapter_copy_matches_seed():
    if not SEED.exists(): pytest.skip("../shared/seed is not beside this checkout")
    assert CHAPTER.read_text() == SEED.read_text()

def test_chapter_has_the_blocks():
    assert len(chapter_blocks(CHAPTER.read_text())) == 7

def test_chapter_blocks_run_verbatim(monkeypatch):
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    ns, out = {}, io.StringIO()
    for i, block in enumerate(chapter_blocks(CHAPTER.read_text())):
        if 'recon_loss = torch.nn.MSELoss' in block: exec(LOSS_PREAMBLE, ns)
        with contextlib.redirect_stdout(out): exec(compile(block, f'<chapter block {i}>', 'exec'), ns)
        if 'total_loss' in ns and i == 1:
            torch.testing.assert_close(ns['total_loss'], ns['AETrainer'].vae_loss(ns['recon'], ns['x'], ns['mu'], ns['log_var'], ns['beta']))
    printed = out.getvalue()
    for line in EXPECTED: assert line in printed, f"missing {line!r} in:\n{printed}"
    assert len(ns['history']['train_loss']) == 100 and np.isfinite(ns['history']['val_loss']).all()
