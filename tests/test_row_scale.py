"""`fit` keeps the typical size of the training rows' columns on the model (`row_scale_`, saved with it), and the helpers that take rows for a fitted likelihood model, conditional model or plain autoencoder warn when the rows are 8 or more times larger or smaller: raw returns scored by a model fitted on standardised ones get a far lower held-out NLL, in other units."""
import re, warnings
import numpy as np, pandas as pd, pytest, torch
from puffin.deep.autoencoder import VAE, Autoencoder, AETrainer
from puffin.deep.generative import LikelihoodVAE, ConditionalVAE, heldout_nll, kl_diagnostics, save_generative, load_generative
from puffin.deep.multifit import fit_many
from puffin.deep.persist import save_model, load_model, FileFormatError
from puffin.latent import augment_events, latent_path, active_units

STD = np.random.default_rng(0).standard_normal((400, 4)).astype(np.float32)   # standardised rows: size about 1
RAW = STD * 0.015                                                           # the same days as raw daily returns


def warned(f) -> list[str]:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        f()
    return [str(x.message) for x in w if issubclass(x.category, UserWarning)]


def fitted(model, X, **kw):
    torch.manual_seed(0)
    AETrainer('cpu').fit(model, X, epochs=2, seed=0, **kw)
    return model


@pytest.fixture(scope='module')
def lik(): return fitted(LikelihoodVAE(4, 2, [8]), STD)


def test_fit_keeps_the_row_scale(lik):
    assert 0.8 < lik.row_scale_ < 1.2
    assert abs(fitted(LikelihoodVAE(4, 2, [8]), pd.DataFrame(RAW, columns=list('abcd'))).row_scale_ / lik.row_scale_ - 0.015) < 1e-6


def test_raw_rows_into_a_model_fitted_on_standardised_ones(lik):
    (msg,) = warned(lambda: heldout_nll(lik, RAW, n_samples=4))
    assert re.match(r"the columns of `X` have a typical size of 0\.01\d+ \(root mean square\), 1/66\.\dx? the size of the rows `model` was fitted on", msg), msg
    assert warned(lambda: heldout_nll(lik, STD, n_samples=4)) == []


def test_a_model_fitted_on_raw_returns_takes_raw_returns():
    "A likelihood model may be fitted on raw returns: then they are its scale, and standardised rows are the odd ones."
    m = fitted(LikelihoodVAE(4, 2, [8]), RAW)
    assert warned(lambda: heldout_nll(m, RAW, n_samples=4)) == []
    (msg,) = warned(lambda: kl_diagnostics(m, STD))
    assert '66.' in msg and 'x the size of the rows `model` was fitted on' in msg


def test_conditional_model_and_the_latent_helpers():
    c = fitted(ConditionalVAE(3, 1, 2, [8]), STD)
    for call in (lambda: augment_events(c, RAW[:3], 2, seed=0), lambda: latent_path(c, RAW[0], RAW[1]), lambda: active_units(c, RAW)):
        assert len(warned(call)) == 1
    assert warned(lambda: augment_events(c, STD[:3], 2, seed=0)) == []


def test_plain_autoencoder():
    a = fitted(Autoencoder(4, 2, [8]), STD)
    assert len(warned(lambda: AETrainer().extract_features(a, RAW))) == 1
    assert warned(lambda: AETrainer().extract_features(a, STD)) == []


def test_fit_many_keeps_each_models_scale():
    ms = []
    for i in range(2): torch.manual_seed(i); ms.append(LikelihoodVAE(4, 2, [8]))
    fit_many(ms, [STD, RAW], [0, 1], epochs=1)
    assert 0.8 < ms[0].row_scale_ < 1.2 and 0.012 < ms[1].row_scale_ < 0.018


def test_the_squared_error_vae_keeps_its_rule():
    "The chapter's VAE expects standardised columns whatever it was fitted on: its own message, from `scale_warning`'s bounds."
    v = fitted(VAE(4, 2, [8]), STD)
    (msg,) = warned(lambda: AETrainer().extract_features(v, RAW))
    assert 'far from the scale a squared-error VAE expects' in msg


def test_saved_and_loaded(tmp_path, lik):
    back = load_generative(save_generative(lik, tmp_path / 'g.pt'))
    assert back.row_scale_ == lik.row_scale_ and len(warned(lambda: heldout_nll(back, RAW, n_samples=4))) == 1
    v = fitted(VAE(4, 2, [8]), STD)
    assert load_model(save_model(v, tmp_path / 'v.pt')).row_scale_ == v.row_scale_


def test_files_without_a_row_scale_load_without_one(tmp_path, lik):
    "Files written before the scale was kept: no record, no warning (as before)."
    f = save_generative(lik, tmp_path / 'old.pt')
    payload = torch.load(f, weights_only=True); del payload['row_scale']; torch.save(payload, f)
    back = load_generative(f)
    assert not hasattr(back, 'row_scale_') and warned(lambda: heldout_nll(back, RAW, n_samples=4)) == []
    into = fitted(VAE(4, 2, [8]), STD)   # loading into a fitted model drops the scale its own fit left
    g = save_model(VAE(4, 2, [8]), tmp_path / 'unfitted.pt')
    assert not hasattr(load_model(g, into=into), 'row_scale_')


@pytest.mark.parametrize('bad', ['1.0', -1.0, float('nan'), True, [1.0]])
def test_a_damaged_row_scale_is_a_format_error(tmp_path, lik, bad):
    f = save_generative(lik, tmp_path / 'bad.pt')
    payload = torch.load(f, weights_only=True); payload['row_scale'] = bad; torch.save(payload, f)
    with pytest.raises(FileFormatError, match='row scale'): load_generative(f)


def test_fit_aggregate_posterior(lik):
    m = fitted(LikelihoodVAE(4, 2, [8]), STD)
    assert len(warned(lambda: m.fit_aggregate_posterior(RAW, n_components=2))) == 1
    assert warned(lambda: m.fit_aggregate_posterior(STD, n_components=2)) == []


@pytest.mark.parametrize('make', ['mahalanobis', 'vae'])
def test_detectors_warn_of_rows_in_other_units(make, tmp_path):
    "A detector scales rows itself: fitted on raw returns, it warns when given standardised rows (which it would scale again), naming itself."
    from puffin.anomaly import MahalanobisDetector, VAEAnomalyDetector
    det = MahalanobisDetector() if make == 'mahalanobis' else VAEAnomalyDetector(latent_dim=2, hidden_dims=[8], epochs=2, seed=0)
    det.fit(RAW)
    assert 0.012 < det.row_scale_ < 0.018
    assert warned(lambda: det.predict(RAW[:50])) == []
    for call in (lambda: det.score_samples(STD[:50]), lambda: det.predict(STD[:50]), lambda: det.decision_function(STD[:50])):
        (msg,) = warned(call)
        assert 'the size of the rows the detector was fitted on' in msg
    if make == 'vae':
        back = VAEAnomalyDetector.load(det.save(tmp_path / 'd.pt'))
        assert back.row_scale_ == det.row_scale_ and len(warned(lambda: back.score_samples(STD[:50]))) == 1
