"""The figures, the widgets and `latent_path` on inputs a user may pass (found by a review on 2026-12-06): each draws
what it was given, or fails up front naming its argument (before: a blank or wrong figure, or matplotlib's error)."""
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
import puffin
from puffin.deep.model import VAE
from puffin.plots import plot_history, plot_cross_sections, plot_marginals, plot_correlations, plot_qq
from puffin.widgets import LatentExplorer, PathExplorer
from puffin.latent import latent_path


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close('all')


@pytest.fixture(scope='module')
def vae():
    torch.manual_seed(0); return VAE(4, 2, [8]).eval()


R = np.random.default_rng(0).normal(size=(50, 4))


@pytest.mark.parametrize('loss', [5.0, 'abc', [[1., 2.], [3., 4.]], [1., 'x']])
def test_history_losses_must_be_numbers(loss):
    with pytest.raises(ValueError, match=r"`history\['train_loss'\]`"): plot_history({'train_loss': loss})
    with pytest.raises(ValueError, match=r"`history\['val_kl'\]`"): plot_history({'train_loss': [1., 2.], 'val_loss': [1., 2.], 'val_kl': loss})


def test_history_takes_arrays():
    "A history whose lists became numpy arrays (e.g. read back from a file) draws as the lists do."
    _, ax = plot_history({'train_loss': np.array([3., 2.]), 'train_kl': np.array([1., .5])})
    assert [list(l.get_ydata()) for l in ax.lines] == [[3., 2.], [1., .5]]


def test_history_ax_must_be_one_axes():
    _, axs = plt.subplots(1, 2)
    with pytest.raises(ValueError, match=r"`ax` must be one matplotlib Axes, got ndarray: pick one"): plot_history({'train_loss': [1.]}, ax=axs)
    with pytest.raises(ValueError, match=r"`ax` must be one matplotlib Axes, got ndarray: pick one"): plot_qq(R, R, ax=axs)   # AttributeError before
    assert plot_history({'train_loss': [1.]}, ax=axs[1])[1] is axs[1]


@pytest.mark.parametrize('rows, match', [(R[:0], 'rows'), (np.full((2, 4), np.nan), r'`rows` holds 8 NaN'), ([['a', 'b']], 'rows')])
def test_cross_sections_refuse_nothing_to_draw(rows, match):
    with pytest.raises(ValueError, match=match): plot_cross_sections(rows)


def test_cross_sections_labels_one_string():
    with pytest.raises(ValueError, match='`labels` must be a list'): plot_cross_sections(R[:3], labels='ABCD')


def test_marginals_assets_not_a_name_or_position():
    with pytest.raises(ValueError, match='`assets` must be an asset name'): plot_marginals(R, R, assets=1.0)
    assert [a.get_title() for a in plot_marginals(R, R, assets=range(2))[1]] == ['asset_0', 'asset_1']
    _, axs = plt.subplots(1, 2)
    with pytest.raises(ValueError, match='`ax` must be one matplotlib Axes'): plot_marginals(R, R, assets=[0, 1], ax=[axs[0], 'x'])


def test_correlations_refuse_a_constant_column():
    "A constant column has no correlation: before, the heatmap drew a NaN row and a NaN mean silently."
    C = R.copy(); C[:, 2] = 0.1
    with pytest.raises(ValueError, match=r"`synthetic` has constant columns \['asset_2'\]"): plot_correlations(R, C)
    with pytest.raises(ValueError, match=r"`real` has constant columns"): plot_correlations(C, R)


@pytest.mark.parametrize('limit', [None, '3', True, 0, float('inf')])
def test_latent_explorer_limit(vae, limit):
    with pytest.raises(ValueError, match='`limit` must be a positive number'): LatentExplorer(vae, limit=limit)


@pytest.mark.parametrize('z0', [[float('nan'), 0.], ['a', 'b']])
def test_latent_explorer_z0(vae, z0):
    with pytest.raises(ValueError, match='`z0`'): LatentExplorer(vae, z0=z0)


def test_latent_explorer_z0_requiring_grad(vae):
    ex = LatentExplorer(vae, z0=torch.tensor([0.5, -0.5], requires_grad=True))
    assert ex.z.tolist() == [0.5, -0.5]


@pytest.mark.parametrize('labels, match', [(['a', 'b'], '`labels` has 2 names for 4 decoded values'), ('abcd', '`labels` must be a list')])
def test_explorer_labels(vae, labels, match):
    with pytest.raises(ValueError, match=match): LatentExplorer(vae, labels=labels)
    with pytest.raises(ValueError, match=match): PathExplorer(vae, np.zeros((3, 2)), labels=labels)


def test_path_explorer_takes_z_not_latent_paths_pair(vae):
    pair = latent_path(vae, R[0], R[1], n_steps=5)
    with pytest.raises(ValueError, match=r"`z_path` must be latent points .* pass z"): PathExplorer(vae, pair)
    assert PathExplorer(vae, pair[1]).z_path.shape == (5, 2)
    with pytest.raises(ValueError, match='`z_path` holds NaN'): PathExplorer(vae, np.full((3, 2), np.nan))


@pytest.mark.parametrize('end', [lambda x: torch.tensor(x, dtype=torch.float32, requires_grad=True), lambda x: list(x),
                                 lambda x: torch.tensor(x, dtype=torch.float32), lambda x: pd.Series(x)])
def test_latent_path_one_row_in_any_form(vae, end):
    "The ends as a 1-D list or a tensor that requires grad (the docstring's 'a 1-D vector'): before, a list failed as not 2-D and a grad tensor crashed in numpy."
    want = latent_path(vae, R[0].astype(np.float32), R[1].astype(np.float32), n_steps=4)
    got = latent_path(vae, end(R[0].astype(np.float32)), end(R[1].astype(np.float32)), n_steps=4)
    torch.testing.assert_close(got[1], want[1]); torch.testing.assert_close(got[0], want[0])


def test_history_with_no_finite_loss():
    "A history whose losses are all NaN drew an empty figure; one finite epoch is enough to draw."
    with pytest.raises(ValueError, match=r"`history\['train_loss'\]` holds no finite loss"): plot_history({'train_loss': [float('nan')] * 3})
    assert len(plot_history({'train_loss': [float('nan'), 1.0]})[1].lines) == 1


def test_explorer_plot_ax_must_be_one_axes(vae):
    "The explorers' figure takes `ax` as the plots do (before: AttributeError: 'numpy.ndarray' object has no attribute 'figure')."
    ex, (_, axs) = LatentExplorer(vae), plt.subplots(1, 2)
    with pytest.raises(ValueError, match=r"`ax` must be one matplotlib Axes, got ndarray: pick one"): ex.plot(ax=axs)
    assert ex.plot(ax=axs[1])[1] is axs[1]


def test_marginals_refuse_a_constant_column_drawn():
    "A constant column drawn: before, numpy divide warnings and an empty panel (bins of width 0); like `plot_correlations`, it is refused."
    C = R.copy(); C[:, 2] = 0.1
    with pytest.raises(ValueError, match=r"`synthetic` has constant columns \['asset_2'\]"): plot_marginals(R, C, assets=[0, 2])
    with pytest.raises(ValueError, match=r"`real` has constant columns \['asset_2'\]"): plot_marginals(C, C, assets=[2])
    fig, axes = plot_marginals(R, C, assets=[0, 1])   # a constant column not drawn is no matter
    assert len(axes) == 2


@pytest.mark.parametrize('make', [lambda m: LatentExplorer(m), lambda m: PathExplorer(m, np.zeros((3, 3)))])
def test_explorers_refuse_a_model_that_is_not_a_vae(make):
    "Before: AttributeError: 'Linear' object has no attribute 'latent_dim'."
    with pytest.raises(TypeError, match='`model` must be a puffin VAE'): make(torch.nn.Linear(3, 3))


def test_explorer_in_a_plain_script_prints_nothing():
    "Outside IPython the Output context and display(fig) printed terminal junk and the figure's repr on construction and on every redraw."
    code = ("from puffin.deep.model import VAE\nfrom puffin.widgets import LatentExplorer, PathExplorer\nimport torch\n"
            "e = LatentExplorer(VAE(6, 2, [8])); e.controls[0].value = 1.0\n"
            "p = PathExplorer(e.model, torch.zeros(3, 2)); p.controls[0].value = 1.0\n"
            "assert e.redraws == 2 and p.redraws == 2 and e.z.tolist() == [1.0, 0.0] and e.decoded.shape == (6,)\n"
            "fig, ax = e.plot(); assert len(ax.patches) == 6\n")
    env = os.environ | dict(PYTHONPATH=str(Path(puffin.__file__).parents[1]), OMP_NUM_THREADS='1', MPLBACKEND='Agg')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout == '', repr(res.stdout)
