"Test-wide settings: one torch thread (tiny models on few cores), a non-interactive matplotlib backend."
import os
os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('OMP_NUM_THREADS', '1')
import torch
torch.set_num_threads(1)

import importlib.util
from pathlib import Path
import pytest

@pytest.fixture(scope='session')
def load_bench():
    "A loader of the scripts in bench/ as modules (`load_bench('train_speed')`): tests run their pieces on tiny workloads."
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1]/'bench'/f'{name}.py')
        mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
        return mod
    return load
