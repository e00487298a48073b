"""The dense autoencoder with a 2-D bottleneck, and its training.

Sizes follow the seed article: encoder 256→50→10→2 (ELU + BatchNorm, tanh on the code),
decoder 2→6→22→76→256 (ELU + BatchNorm, linear output). Besides the reconstruction MSE the loss
holds the code's mean at 0 and its standard deviation at ``code_std`` (the activity
regulariser), and makes the 2-D code keep the log-ratio of distances of random triplets
``log((ε+|A−B|²)/(ε+|B−C|²))`` measured in the input space.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from .errors import VidatlasError
from .settings import MapSettings


def layer_sizes(d_in: int, d_code: int = 2) -> tuple[list[int], list[int]]:
    """Weighted geometric means between input and code size, rounded down as in the seed
    (256 → 50, 10 → 2 and 2 → 6, 22, 76 → 256)."""
    enc = [d_in, int((d_in**2 * d_code) ** (1 / 3)), int((d_in * d_code**2) ** (1 / 3)), d_code]
    dec = [d_code] + [int((d_in**k * d_code ** (4 - k)) ** (1 / 4)) for k in (1, 2, 3)] + [d_in]
    return enc, dec


def _stack(sizes: list[int], last: nn.Module | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.ELU(), nn.BatchNorm1d(b)]
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    def __init__(self, d_in: int, d_code: int = 2):
        super().__init__()
        enc, dec = layer_sizes(d_in, d_code)
        self.encoder = _stack(enc, nn.Tanh())
        self.decoder = _stack(dec, None)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return code, self.decoder(code)


def _log_ratio(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, eps: float) -> torch.Tensor:
    ab = ((a - b) ** 2).sum(-1)
    bc = ((b - c) ** 2).sum(-1)
    return torch.log((eps + ab) / (eps + bc))


def train_autoencoder(
    x: np.ndarray, settings: MapSettings, on_step: Callable[[int, int, float], None] | None = None
) -> tuple[Autoencoder, dict]:
    """Train on ``x`` (n, d) float32; deterministic for a given ``settings.seed``."""
    n, d = x.shape
    if n < 4:
        raise VidatlasError(f"need at least 4 frames to train the map, got {n}")
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    data = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    model = Autoencoder(d)
    batch = min(settings.batch_size, n)
    steps = max(settings.min_steps, settings.epochs * math.ceil(n / batch))
    opt = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.learning_rate, total_steps=steps)
    eps_in = 1e-3 * float(d)  # inputs have unit variance per dimension
    eps_code = 1e-4
    history = {"loss": [], "recon": [], "activity": [], "triplet": []}
    model.train()
    for step in range(steps):
        idx = torch.randint(0, n, (batch,), generator=gen)
        a = data[idx]
        code, recon = model(a)
        l_recon = ((recon - a) ** 2).mean()
        l_act = (code.mean(0) ** 2).sum() + ((code.std(0) - settings.code_std) ** 2).sum()
        p1 = torch.randperm(batch, generator=gen)
        p2 = torch.randperm(batch, generator=gen)
        with torch.no_grad():
            target = _log_ratio(a, a[p1], a[p2], eps_in)
        l_tri = ((_log_ratio(code, code[p1], code[p2], eps_code) - target) ** 2).mean()
        loss = l_recon + settings.activity_weight * l_act + settings.triplet_weight * l_tri
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            for k, v in (("loss", loss), ("recon", l_recon), ("activity", l_act), ("triplet", l_tri)):
                history[k].append(float(v.detach()))
            if on_step:
                on_step(step + 1, steps, history["loss"][-1])
    model.eval()
    return model, {"steps": steps, "batch": batch, "final": {k: v[-1] for k, v in history.items()}}


@torch.inference_mode()
def encode(model: Autoencoder, x: np.ndarray, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """2-D codes and per-row reconstruction MSE (the anomaly score)."""
    codes = np.empty((len(x), 2), np.float32)
    errors = np.empty(len(x), np.float32)
    for i in range(0, len(x), chunk):
        xb = torch.from_numpy(np.ascontiguousarray(x[i:i + chunk], np.float32))
        c, r = model(xb)
        codes[i:i + len(xb)] = c.numpy()
        errors[i:i + len(xb)] = ((r - xb) ** 2).mean(-1).numpy()
    return codes, errors
