"""The latent helpers on a `ConditionalVAE`: rows are `[x | c]`; `augment_events` decodes each event's variations under its own conditions, `latent_path` moves the conditions along the line with the code. Checked against the model's own encode and decode."""
import numpy as np, pandas as pd, pytest, torch
from puffin.deep.generative import ConditionalVAE
from puffin.deep.model import VAE
from puffin.deep.runtime import seed_generator
from puffin.latent import augment_events, latent_path, active_units


@pytest.fixture(scope='module')
def cvae():
    torch.manual_seed(0)
    m = ConditionalVAE(3, 2, latent_dim=2, hidden_dims=[8], decoder='student_t')   # untrained: the checks are exact, training adds nothing
    return m.eval()


def rows(n, seed=0):
    return torch.randn(n, 5, generator=torch.Generator().manual_seed(seed))


def test_augment_events_decodes_under_each_events_conditions(cvae):
    ev = rows(3)
    out = augment_events(cvae, ev, n_per_event=4, noise_scale=0.5, seed=7)
    with torch.no_grad():
        mu, log_var = cvae.encode(ev)
        eps = torch.randn((3, 4, 2), generator=seed_generator(7, mu.device))
        z = (mu[:, None] + 0.5 * torch.exp(0.5 * log_var)[:, None] * eps).reshape(-1, 2)
        want = cvae.decode(z, ev[:, 3:].repeat_interleave(4, 0))
    assert out.shape == (12, 3)
    torch.testing.assert_close(out, want, rtol=0, atol=0)


def test_augment_events_conditions_matter(cvae):
    ev = rows(1)
    other = ev.clone(); other[:, 3:] += 3.0   # the same day's returns in another regime
    a, b = (augment_events(cvae, e, n_per_event=5, noise_scale=0.0) for e in (ev, other))
    assert not torch.allclose(a, b)


def test_latent_path_moves_the_conditions(cvae):
    a, b = rows(2)
    out, z = latent_path(cvae, a, b, n_steps=4)
    t = torch.linspace(0, 1, 4)[:, None]
    with torch.no_grad():
        want = cvae.decode(z, (1 - t) * a[3:] + t * b[3:])
    torch.testing.assert_close(out, want)
    assert out.shape == (4, 3) and z.shape == (4, 2)


def test_dataframe_rows_and_series_ends(cvae):
    df = pd.DataFrame(rows(4).numpy(), columns=['r1', 'r2', 'r3', 'vol5', 'vol21'])
    assert augment_events(cvae, df, n_per_event=2, seed=0).shape == (8, 3)
    assert latent_path(cvae, df.iloc[0], df.iloc[1], n_steps=3)[0].shape == (3, 3)
    assert active_units(cvae, df).shape == (2,)


def test_data_columns_alone_are_refused_naming_the_argument(cvae):
    with pytest.raises(ValueError, match='`X_events`'): augment_events(cvae, rows(2)[:, :3])
    with pytest.raises(ValueError, match='`x_a`'): latent_path(cvae, rows(1)[0, :3], rows(1)[0])


def test_plain_vae_unchanged():
    torch.manual_seed(0); v = VAE(5, 2, [8]).eval()
    ev = rows(2)
    with torch.no_grad():
        mu, log_var = v.encode(ev)
        eps = torch.randn((2, 3, 2), generator=seed_generator(1, mu.device))
        want = v.decode((mu[:, None] + 0.5 * torch.exp(0.5 * log_var)[:, None] * eps).reshape(-1, 2))
    torch.testing.assert_close(augment_events(v, ev, n_per_event=3, seed=1), want, rtol=0, atol=0)


def test_augment_events_takes_one_event_as_a_series():
    "`df.iloc[i]` is one event, as `latent_path` takes it; a 1-D array stays refused (one event, or one feature?)."
    torch.manual_seed(0); v = VAE(4, 2, [8])
    df = pd.DataFrame(np.random.default_rng(0).standard_normal((5, 4)), columns=list('abcd'))
    torch.testing.assert_close(augment_events(v, df.iloc[2], 3, seed=0), augment_events(v, df.iloc[[2]], 3, seed=0), rtol=0, atol=0)
    with pytest.raises(ValueError, match='`X_events` must be 2-D'): augment_events(v, df.iloc[2].to_numpy(), 3, seed=0)
