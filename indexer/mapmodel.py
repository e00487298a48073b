"""The frozen map: PCA, the trained encoder and the percentile stretch, as one object.

It turns backbone features into 2-D map positions for indexing, for ``--add`` and for an
unindexed query clip in the service, and is saved inside every bundle.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .autoencoder import Autoencoder, encode, train_autoencoder
from .errors import Code, VidatlasError
from .pca import Pca, fit_pca
from .settings import MapSettings

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


@dataclass
class MapModel:
    pca: Pca
    autoencoder: Autoencoder
    stretch: np.ndarray | None
    training: dict

    @classmethod
    def fit(cls, features: np.ndarray, settings: MapSettings,
            on_step: Callable[[int, int, float], None] | None = None) -> "MapModel":
        pca = fit_pca(features, settings.pca_dim)
        reduced = pca.transform(features)
        ae, training = train_autoencoder(reduced, settings, on_step)
        training["pca_explained_variance"] = pca.explained
        raw, _ = encode(ae, reduced)
        stretch = fit_stretch(raw) if settings.stretch else None
        return cls(pca, ae, stretch, training)

    def embed(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(reduced features, 2-D positions, reconstruction errors)`` for backbone features."""
        reduced = self.pca.transform(features)
        codes, errors = encode(self.autoencoder, reduced)
        if self.stretch is not None:
            codes = apply_stretch(codes, self.stretch)
        return reduced, codes, errors

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        torch.save({
            "pca_mean": torch.from_numpy(self.pca.mean),
            "pca_components": torch.from_numpy(self.pca.components),
            "pca_scale": self.pca.scale,
            "pca_explained": self.pca.explained,
            "autoencoder": self.autoencoder.state_dict(),
            "stretch": None if self.stretch is None else torch.from_numpy(self.stretch),
        }, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "MapModel":
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            pca = Pca(obj["pca_mean"].numpy(), obj["pca_components"].numpy(),
                      float(obj["pca_scale"]), float(obj["pca_explained"]))
            ae = Autoencoder(pca.dim)
            ae.load_state_dict(obj["autoencoder"])
        except Exception as exc:
            raise VidatlasError(f"map model unreadable: {exc}", Code.DATA_LOSS) from None
        ae.eval()
        stretch = None if obj["stretch"] is None else obj["stretch"].numpy()
        return cls(pca, ae, stretch, {})
