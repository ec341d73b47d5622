"""`training_rows` without a job (alone, where the model is) does what it does with the job `fit` builds outside torchrun."""
import warnings
import numpy as np, pytest, torch
from puffin.deep import distributed
from puffin.deep.model import VAE
from puffin.deep.training import FitSettings, training_rows


def _rows_and_warnings(X, model, job):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        rows = training_rows(model, X, FitSettings(), job)
    return rows, [str(w.message) for w in caught]


@pytest.mark.parametrize('scale', [1.0, 0.02])   # 0.02: the scale warning
@pytest.mark.parametrize('double', [False, True])
def test_alone_is_a_cpu_job(scale, double):
    X = np.random.default_rng(0).standard_normal((50, 4)) * scale
    make = lambda: VAE(4, 2).double() if double else VAE(4, 2)
    alone, warned_alone = _rows_and_warnings(X, make(), None)
    job, warned_job = _rows_and_warnings(X, make(), distributed.FitJob(torch.device('cpu')))
    assert torch.equal(alone, job) and alone.device.type == 'cpu' and alone.dtype == (torch.float64 if double else torch.float32)
    assert warned_alone == warned_job and len(warned_alone) == (scale != 1.0)


def test_alone_refuses_what_a_job_refuses():
    with pytest.raises(ValueError, match='`X`'): training_rows(VAE(4, 2), np.zeros((50, 3)), FitSettings())
    with pytest.raises(TypeError, match='model'): training_rows(np.zeros((50, 4)), np.zeros((50, 4)), FitSettings())   # fit(X, model), swapped
