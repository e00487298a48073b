"""The frozen map: PCA, the trained encoder and the percentile stretch, as one object.

It turns backbone features into 2-D map positions for ``--add`` and for an unindexed query
clip in the service, and is saved inside every bundle. The frames it was fitted on keep the
positions the fit gave them (``Fitted``): for the ``neighbours`` objective their layout
positions, which the encoder was trained to reproduce.
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .autoencoder import Autoencoder, encode, train_autoencoder
from .errors import Code, VidatlasError
from .knngraph import neighbour_graph
from .layout import optimise_layout
from .pca import Pca, fit_pca
from .settings import MapSettings, available_cores

_KNOTS = 257


def fit_stretch(codes: np.ndarray) -> np.ndarray:
    """Radius quantiles of the codes: the table that maps radii onto a uniform disk."""
    radius = np.linalg.norm(codes, axis=1)
    return np.quantile(radius, np.linspace(0, 1, _KNOTS)).astype(np.float64)


def apply_stretch(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Move each code along its ray so that radii become uniform over the unit disk.

    The radius's percentile p (from the training distribution) becomes radius sqrt(p), the
    radius at which a uniform disk holds the same share of points (the seed's "stretch").
    """
    radius = np.linalg.norm(codes, axis=1)
    # strictly increasing knots so that ties in the table do not make interp ambiguous
    knots = table + np.arange(len(table)) * 1e-12
    p = np.interp(radius, knots, np.linspace(0, 1, len(table)))
    scale = np.where(radius > 0, np.sqrt(p) / np.maximum(radius, 1e-12), 0.0)
    return (codes * scale[:, None]).astype(np.float32)


def layout_target(reduced: np.ndarray, settings: MapSettings) -> np.ndarray:
    """Every frame's layout position (UMAP's optimisation over the fuzzy kNN graph, from the first
    two principal components), scaled to the code's spread (mean 0, standard deviation
    ``code_std``)."""
    graph = neighbour_graph(reduced, settings.n_neighbors, settings.train_threads, search_threads=available_cores())
    y = optimise_layout(reduced[:, :2], *graph, settings.layout_epochs, settings.negatives, settings.seed).astype(np.float64)
    return (y * (settings.code_std / max(float(np.sqrt((y ** 2).sum(1).mean() / 2)), 1e-12))).astype(np.float32)


def inside_tanh(codes: np.ndarray, radius: float = 0.98) -> np.ndarray:
    """``codes`` with those beyond ``radius`` moved onto it (the encoder's codes lie in (-1, 1))."""
    r = np.linalg.norm(codes, axis=1, keepdims=True)
    return (codes * np.minimum(1.0, radius / np.maximum(r, 1e-12))).astype(np.float32)


@contextmanager
def fixed_threads(n: int, blas: bool = True):
    """Run torch (and numpy's BLAS) on exactly ``n`` threads, whatever the caller set before (the
    backbone sets its own count; a merge run sets none), and put the caller's settings back after."""
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n) if blas else nullcontext():
            yield
    finally:
        torch.set_num_threads(before)


@dataclass
class MapModel:
    pca: Pca
    autoencoder: Autoencoder
    stretch: np.ndarray | None
    training: dict

    @classmethod
    def fit(cls, features: np.ndarray, settings: MapSettings,
            on_step: Callable[[int, int, float], None] | None = None) -> "Fitted":
        """The map of ``features``, with the fitted frames' own positions (for ``neighbours``, their
        layout positions, which keep local neighbourhoods better than the encoder's output)."""
        with fixed_threads(settings.train_threads):
            pca = fit_pca(features, settings.pca_dim)
            reduced = pca.transform(features)
            target = layout_target(reduced, settings) if settings.objective == "neighbours" else None
            reachable = None if target is None else inside_tanh(target)
            ae, training = train_autoencoder(reduced, settings, reachable, on_step)
            training["pca_explained_variance"] = pca.explained
            raw, errors = encode(ae, reduced)
        if target is not None:
            # how far the encoder places the fitted frames from their own positions (code_std units)
            training["encoder_offset"] = float(np.sqrt(((raw - reachable) ** 2).sum(1).mean()) / settings.code_std)
            raw = target
        stretch = fit_stretch(raw) if settings.stretch else None
        model = cls(pca, ae, stretch, training)
        codes = raw if stretch is None else apply_stretch(raw, stretch)
        return Fitted(model, reduced, codes, errors)

    def embed(self, features: np.ndarray, errors: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(reduced features, 2-D positions, reconstruction errors)`` for backbone features; without
        ``errors`` (None) the decoder is not run, which is all that placing new frames needs."""
        reduced = self.pca.transform(features)
        with fixed_threads(1, blas=False):  # a tiny network: one thread, the same bits everywhere
            codes, mse = encode(self.autoencoder, reduced, errors)
        if self.stretch is not None:
            codes = apply_stretch(codes, self.stretch)
        return reduced, codes, mse

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        torch.save({
            "pca_mean": torch.from_numpy(self.pca.mean),
            "pca_components": torch.from_numpy(self.pca.components),
            "pca_scale": self.pca.scale,
            "pca_explained": self.pca.explained,
            "autoencoder": self.autoencoder.state_dict(),
            "encoder_width": self.autoencoder.width,
            "stretch": None if self.stretch is None else torch.from_numpy(self.stretch),
        }, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "MapModel":
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            pca = Pca(obj["pca_mean"].numpy(), obj["pca_components"].numpy(),
                      float(obj["pca_scale"]), float(obj["pca_explained"]))
            ae = Autoencoder(pca.dim, width=int(obj.get("encoder_width", 0)))
            ae.load_state_dict(obj["autoencoder"])
        except Exception as exc:
            raise VidatlasError(f"map model unreadable: {exc}", Code.DATA_LOSS) from None
        ae.eval()
        stretch = None if obj["stretch"] is None else obj["stretch"].numpy()
        return cls(pca, ae, stretch, {})


@dataclass
class Fitted:
    """A freshly fitted map and what it made of the frames it was fitted on."""
    model: MapModel
    reduced: np.ndarray  # PCA features
    codes: np.ndarray    # 2-D positions (stretched)
    errors: np.ndarray   # reconstruction errors
