"""PCA, the kNN graph, the autoencoder (both objectives), the stretch and the saved map model."""
import dataclasses

import numpy as np
import pytest
import torch

from indexer import knngraph
from indexer.layout import optimise_layout
from indexer.autoencoder import Autoencoder, encode, layer_sizes, train_autoencoder
from indexer.mapmodel import MapModel, apply_stretch, fit_stretch, inside_tanh, layout_target
from indexer.pca import fit_pca
from indexer.paths import fingerprint, fingerprints
from indexer.settings import MapSettings

SMALL = MapSettings(epochs=10, min_steps=200, seed=3, batch_size=256)
SEED = MapSettings(objective="seed", epochs=10, min_steps=200, seed=3, batch_size=256)


def _clusters(n_per=60, d=64, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (k, d))
    x = np.concatenate([c + rng.normal(0, 1, (n_per, d)) for c in centres]).astype(np.float32)
    return x, np.repeat(np.arange(k), n_per)


def _walks(n_walks=8, steps=150, d=32, seed=0):
    """Noisy random walks: each point's true neighbours are its neighbours along its walk."""
    rng = np.random.default_rng(seed)
    return np.concatenate([np.cumsum(rng.normal(0, 1, (steps, d)), 0) + rng.normal(0, 0.3, (steps, d))
                           for _ in range(n_walks)]).astype(np.float32)


def _knn(z, k):
    d = ((z[:, None].astype(np.float64) - z[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, 1, kind="stable")[:, :k]


def _recall(high, low, k=10):
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(_knn(high, k), _knn(low, k))]))


def test_layer_sizes_and_parameter_counts_follow_the_seed():
    assert layer_sizes(256) == ([256, 50, 10, 2], [2, 6, 22, 76, 256])
    model = Autoencoder(256)
    trainable = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert trainable(model.encoder) == 13502 and trainable(model.decoder) == 21840
    assert isinstance(model.encoder[-1], torch.nn.Tanh)
    wide = Autoencoder(256, width=128)  # the neighbours objective: wider encoder, the seed's decoder
    assert layer_sizes(256, width=128)[0] == [256, 128, 64, 2]
    assert trainable(wide.decoder) == 21840


def test_knn_graph_is_exact_symmetric_and_skips_each_point_itself():
    x, _ = _clusters(n_per=30, d=16)
    x[5] = x[4]  # an exact duplicate must still not be its own neighbour
    idx, dist = knngraph.knn(x, 6, threads=1)
    assert not (idx == np.arange(len(x))[:, None]).any()
    np.testing.assert_array_equal(np.sort(idx, 1), np.sort(_knn(x, 6), 1))
    assert 4 in idx[5] and 5 in idx[4] and np.all(np.diff(dist, axis=1) >= -1e-5)
    rows, cols, w = knngraph.fuzzy_graph(idx, dist)
    m = {(int(r), int(c)): float(v) for r, c, v in zip(rows, cols, w)}
    assert all(m[(c, r)] == pytest.approx(v) for (r, c), v in m.items())  # fuzzy union is symmetric
    assert all(0 < v <= 1 + 1e-9 for v in m.values()) and all(r != c for r, c in m)
    # each point's nearest neighbour has weight 1 (distance minus rho = 0)
    assert all(m[(i, int(idx[i, 0]))] == pytest.approx(1.0) for i in range(len(x)))


def test_approximate_knn_above_the_exact_limit_is_deterministic_and_close(monkeypatch):
    x = _walks(steps=250)
    exact, _ = knngraph.knn(x, 10, threads=1)
    monkeypatch.setattr(knngraph, "EXACT_UP_TO", 100)
    a, da = knngraph.knn(x, 10, threads=1)
    b, db = knngraph.knn(x, 10, threads=1, search_threads=2)  # the map build searches on every core
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(da, db)
    found = np.mean([len(set(p) & set(q)) / 10 for p, q in zip(a, exact)])
    assert found > 0.8


def test_neighbours_objective_keeps_more_neighbours_than_the_seed_and_pca():
    """On random walks (like video paths) the graph objective keeps a clearly larger share of each
    point's 10 nearest neighbours than the seed's objective or a linear 2-D projection, and its
    encoder places frames it never saw by their neighbours' positions."""
    x = _walks()
    fit, new = np.arange(len(x)) % 10 != 0, np.arange(len(x)) % 10 == 0
    kept = {}
    for name, s in (("neighbours", SMALL), ("seed", SEED)):
        fitted = MapModel.fit(x[fit], dataclasses.replace(s, pca_dim=32, epochs=40))
        kept[name] = _recall(fitted.reduced, fitted.codes)
        assert fitted.model.training["objective"] == name
        if name == "seed":  # the seed's map places fitted frames by its encoder
            np.testing.assert_allclose(fitted.model.embed(x[fit])[1], fitted.codes, atol=1e-5)
        else:
            # a held-back frame lands closer to its nearest fitted frame than a typical fitted pair is
            _, placed, _ = fitted.model.embed(x[new])
            nearest = ((x[new][:, None].astype(np.float64) - x[fit][None]) ** 2).sum(-1).argmin(1)
            gap = np.linalg.norm(placed - fitted.codes[nearest], axis=1)
            pairs = np.linalg.norm(fitted.codes[:, None] - fitted.codes[None], axis=-1)
            assert np.median(gap) < 0.2 * np.median(pairs), (np.median(gap), np.median(pairs))
    kept["pca2"] = _recall(x, fit_pca(x, 2).transform(x))
    assert kept["neighbours"] > kept["seed"] + 0.1 and kept["neighbours"] > kept["pca2"] + 0.1, kept


def _target(x, settings):
    return inside_tanh(layout_target(x, settings)) if settings.objective == "neighbours" else None


def test_layout_untangles_a_mixed_start_and_is_deterministic():
    """From a start that mixes the clusters, UMAP's optimisation over the graph gives each point a
    2-D nearest neighbour from its own cluster; the same graph and seed give the same bits."""
    x, y = _clusters()
    graph = knngraph.neighbour_graph(x, 10, threads=1)
    start = np.random.default_rng(0).normal(size=(len(x), 2))
    same = lambda z: (y[_knn(z, 1)[:, 0]] == y).mean()  # noqa: E731
    assert same(start) < 0.5
    a = optimise_layout(start, *graph, 200, 5, seed=1)
    np.testing.assert_array_equal(a, optimise_layout(start, *graph, 200, 5, seed=1))
    assert same(a) > 0.95 and np.abs(a.mean(0)).max() < 1e-3
    assert not np.array_equal(a, optimise_layout(start, *graph, 200, 5, seed=2))


def test_training_stops_on_convergence_before_the_cap():
    x, _ = _clusters()
    for s in (SMALL, SEED):
        _, hist = train_autoencoder(x, dataclasses.replace(s, epochs=2000, max_steps=2000), _target(x, s))
        assert hist["max_steps"] == 2000 and hist["stopped"] == "converged"
        assert s.min_steps <= hist["steps"] < hist["max_steps"]


@pytest.mark.parametrize("d", [32, 400], ids=["more-frames-than-features", "fewer-frames-than-features"])
def test_pca_matches_the_covariance_eigenvectors_and_keeps_variance(d):
    x, _ = _clusters(d=d)
    pca = fit_pca(x, 8)
    centred = (x - x.mean(0)).astype(np.float64)
    values, vectors = np.linalg.eigh(centred.T @ centred / (len(x) - 1))
    top = vectors[:, np.argsort(values)[::-1][:8]].T
    np.testing.assert_allclose(np.abs(pca.components), np.abs(top), atol=1e-4)
    assert pca.explained == pytest.approx(np.sort(values)[::-1][:8].sum() / values.sum(), rel=1e-4)
    y = pca.transform(x)
    assert y.shape == (len(x), 8) and abs(y.var(0).mean() - 1) < 0.05


@pytest.mark.parametrize("settings", [SMALL, SEED], ids=["neighbours", "seed"])
def test_training_is_deterministic_and_regularised(settings):
    x, _ = _clusters()
    target = _target(x, settings)
    if target is not None:
        np.testing.assert_array_equal(target, _target(x, settings))
    a, hist = train_autoencoder(x, settings, target)
    b, again = train_autoencoder(x, settings, target)
    ca, _ = encode(a, x)
    cb, _ = encode(b, x)
    np.testing.assert_array_equal(ca, cb)
    assert hist == again
    assert np.abs(ca.mean(0)).max() < 0.1
    assert np.all(np.abs(ca.std(0) - settings.code_std) < 0.15)
    assert hist["objective"] == settings.objective and hist["steps"] <= hist["max_steps"]


def test_unknown_objective_is_refused():
    from indexer import IndexSettings, VidatlasError
    with pytest.raises(VidatlasError, match="objective"):
        IndexSettings(map=MapSettings(objective="tsne")).validate()


@pytest.mark.parametrize("settings", [SMALL, SEED], ids=["neighbours", "seed"])
def test_map_separates_clusters_and_keeps_neighbours(settings):
    x, y = _clusters()
    fitted = MapModel.fit(x, settings)
    _, codes, err = fitted.model.embed(x)
    # nearest neighbour in 2-D is in the same cluster for nearly all points: by the fitted frames'
    # own positions and by where the encoder places them
    for c in (fitted.codes, codes):
        d = ((c[:, None] - c[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        assert (y[d.argmin(1)] == y).mean() > 0.95
    assert err.shape == (len(x),) and np.all(err >= 0)
    np.testing.assert_array_equal(err, fitted.errors)


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


@pytest.mark.parametrize("settings", [SMALL, SEED], ids=["neighbours", "seed"])
def test_model_round_trips_through_bytes(settings):
    x, _ = _clusters()
    model = MapModel.fit(x, settings).model
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
