"""PCA from backbone features (≈1280-D) to the map's input size (≈256-D)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Pca:
    mean: np.ndarray        # (d_in,)
    components: np.ndarray  # (d_out, d_in), rows in order of decreasing variance
    scale: float            # divides projections so that the mean variance per output is 1
    explained: float        # fraction of the variance kept

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) - self.mean) @ self.components.T / self.scale).astype(np.float32)


def fit_pca(x: np.ndarray, dim: int, chunk: int = 65536) -> Pca:
    """Exact PCA in float64: through the covariance matrix, accumulated in chunks, or through the
    SVD of the frames when there are fewer frames than features."""
    x = np.asarray(x, np.float32)
    n, d = x.shape
    mean = x.mean(axis=0, dtype=np.float64)
    if dim <= n < d:
        # fewer frames than features (a small collection): the SVD of the centred frames gives the
        # same components as the d x d covariance's eigenvectors, in a fraction of the time
        _, singular, vt = np.linalg.svd(x.astype(np.float64) - mean, full_matrices=False)
        values = singular ** 2 / max(1, n - 1)
        total = float(values.sum()) or 1.0
        values, components = values[:dim], vt[:dim]
    else:
        cov = np.zeros((d, d), np.float64)
        for i in range(0, n, chunk):
            block = x[i:i + chunk].astype(np.float64) - mean
            cov += block.T @ block
        cov /= max(1, n - 1)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1][: min(dim, d)]
        values = np.clip(values[order], 0, None)
        components = vectors[:, order].T
        total = float(np.trace(cov)) or 1.0  # the sum of all eigenvalues, without a second decomposition
    # fix each component's sign so that the result does not depend on the LAPACK build
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components *= signs[:, None]
    scale = float(np.sqrt(max(values.mean(), 1e-12)))
    return Pca(mean.astype(np.float32), components.astype(np.float32), scale, float(values.sum() / total))
