"Test-wide settings: one torch thread (tiny models on few cores), a non-interactive matplotlib backend."
import os
os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('OMP_NUM_THREADS', '1')
import torch
torch.set_num_threads(1)
