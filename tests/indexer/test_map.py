"""PCA, the autoencoder, the stretch and the saved map model, on real backbone features."""
import numpy as np
import pytest
import torch

from indexer.autoencoder import Autoencoder, encode, layer_sizes, train_autoencoder
from indexer.mapmodel import MapModel, apply_stretch, fit_stretch
from indexer.pca import fit_pca
from indexer.paths import fingerprint, fingerprints
from indexer.settings import MapSettings

SMALL = MapSettings(epochs=10, min_steps=200, seed=3)


def _clusters(n_per=60, d=64, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (k, d))
    x = np.concatenate([c + rng.normal(0, 1, (n_per, d)) for c in centres]).astype(np.float32)
    return x, np.repeat(np.arange(k), n_per)


def test_layer_sizes_and_parameter_counts_follow_the_seed():
    assert layer_sizes(256) == ([256, 50, 10, 2], [2, 6, 22, 76, 256])
    model = Autoencoder(256)
    trainable = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert trainable(model.encoder) == 13502 and trainable(model.decoder) == 21840
    assert isinstance(model.encoder[-1], torch.nn.Tanh)


def test_pca_matches_svd_and_keeps_variance():
    x, _ = _clusters(d=32)
    pca = fit_pca(x, 8)
    _, s, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    np.testing.assert_allclose(np.abs(pca.components), np.abs(vt[:8]), atol=1e-4)
    assert pca.explained == pytest.approx((s[:8] ** 2).sum() / (s ** 2).sum(), rel=1e-4)
    y = pca.transform(x)
    assert y.shape == (len(x), 8) and abs(y.var(0).mean() - 1) < 0.05


def test_training_is_deterministic_and_regularised():
    x, _ = _clusters()
    a, hist = train_autoencoder(x, SMALL)
    b, _ = train_autoencoder(x, SMALL)
    ca, _ = encode(a, x)
    cb, _ = encode(b, x)
    np.testing.assert_array_equal(ca, cb)
    assert np.abs(ca.mean(0)).max() < 0.1
    assert np.all(np.abs(ca.std(0) - SMALL.code_std) < 0.12)
    assert hist["steps"] == 200


def test_map_separates_clusters_and_keeps_neighbours():
    x, y = _clusters()
    model = MapModel.fit(x, SMALL)
    _, codes, err = model.embed(x)
    # nearest neighbour in 2-D is in the same cluster for nearly all points
    d = ((codes[:, None] - codes[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (y[d.argmin(1)] == y).mean() > 0.95
    assert err.shape == (len(x),) and np.all(err >= 0)


def test_stretch_fills_the_unit_disk_uniformly():
    rng = np.random.default_rng(1)
    codes = rng.normal(0, 0.3, (5000, 2)).astype(np.float32)
    out = apply_stretch(codes, fit_stretch(codes))
    r = np.linalg.norm(out, axis=1)
    assert r.max() <= 1.0 + 1e-6
    # uniform on the disk: P(r < s) = s^2
    for s in (0.25, 0.5, 0.75):
        assert abs((r < s).mean() - s * s) < 0.02
    # directions are kept
    moved = r > 1e-6  # the innermost point lands on the origin
    cos = (codes * out).sum(1)[moved] / np.linalg.norm(codes, axis=1)[moved] / r[moved]
    assert moved.mean() > 0.999 and cos.min() > 0.999


def test_model_round_trips_through_bytes():
    x, _ = _clusters()
    model = MapModel.fit(x, SMALL)
    again = MapModel.from_bytes(model.to_bytes())
    for a, b in zip(model.embed(x[:20]), again.embed(x[:20])):
        np.testing.assert_array_equal(a, b)


def test_fingerprint_resamples_in_normalised_time():
    t = np.array([0.0, 1, 2, 3, 4])
    codes = np.stack([t / 4, -t / 4], 1).astype(np.float32)
    fp = fingerprint(t, codes, 9)
    np.testing.assert_allclose(fp[:, 0], np.linspace(0, 1, 9), atol=1e-6)
    # a copy at double speed has the same fingerprint
    np.testing.assert_allclose(fingerprint(t / 2, codes, 9), fp, atol=1e-6)
    assert fingerprint(t[:1], codes[:1], 4).shape == (4, 2)
    many = fingerprints(np.array([0, 5, 6]), np.concatenate([t, [0]]), np.concatenate([codes, codes[:1]]), 9)
    assert many.shape == (2, 9, 2)
