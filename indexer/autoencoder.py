"""The dense autoencoder with a 2-D bottleneck, and its training.

Sizes follow the seed article: encoder 256→50→10→2 (ELU + BatchNorm, tanh on the code),
decoder 2→6→22→76→256 (ELU + BatchNorm, linear output). Besides the reconstruction MSE the loss
holds the code's mean at 0 and its standard deviation at ``code_std`` (the activity
regulariser), and makes the 2-D code keep the log-ratio of distances of random triplets
``log((ε+|A−B|²)/(ε+|B−C|²))`` measured in the input space. That is the ``seed`` objective.

The ``neighbours`` objective first gives every frame its own position by UMAP's layout
optimisation over the fuzzy kNN graph of the input (``knngraph.py``, ``layout.py``), then adds
to the seed's terms the distance of each code from its frame's position, so that the encoder
learns the layout and places new frames near their neighbours. Its encoder is wider
(256→``encoder_width``→``encoder_width``/2→2); decoder, regulariser and triplet term are the seed's.

Training stops on convergence: every ``eval_every`` steps the loss is measured on a fixed
held-out slice of frames (never trained on); after
``patience`` measurements without a relative gain of ``stop_tol`` the learning rate drops 5x,
after the next such plateau training ends (or at ``max_steps``). Everything is decided from loss
values, which are deterministic on a fixed thread count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from .errors import VidatlasError
from .settings import MapSettings


def layer_sizes(d_in: int, d_code: int = 2, width: int = 0) -> tuple[list[int], list[int]]:
    """Weighted geometric means between input and code size, rounded down as in the seed
    (256 → 50, 10 → 2 and 2 → 6, 22, 76 → 256); ``width`` > 0 gives the encoder hidden layers of
    ``width`` and ``width // 2`` instead."""
    if width > 0:
        enc = [d_in, width, width // 2, d_code]
    else:
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
    def __init__(self, d_in: int, d_code: int = 2, width: int = 0):
        super().__init__()
        self.width = width
        enc, dec = layer_sizes(d_in, d_code, width)
        self.encoder = _stack(enc, nn.Tanh())
        self.decoder = _stack(dec, None)


def _log_ratio(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, eps: float) -> torch.Tensor:
    ab = ((a - b) ** 2).sum(-1)
    bc = ((b - c) ** 2).sum(-1)
    return torch.log((eps + ab) / (eps + bc))


@dataclass
class _Batch:
    idx: torch.Tensor  # the frames in the batch
    p1: torch.Tensor   # triplet partners (positions in idx)
    p2: torch.Tensor


class _Sampler:
    """Uniform batches of training frames; the held-out slice as one fixed batch."""

    def __init__(self, batch: int, hold: torch.Tensor):
        self.batch, self.hold = batch, hold
        self.train_rows = torch.nonzero(~hold).flatten()

    def draw(self, gen: torch.Generator, held_out: bool = False) -> _Batch:
        pool = torch.nonzero(self.hold).flatten() if held_out else self.train_rows
        idx = pool if held_out else pool[torch.randint(0, len(pool), (self.batch,), generator=gen)]
        return _Batch(idx, torch.randperm(len(idx), generator=gen), torch.randperm(len(idx), generator=gen))


class _Objective:
    """One batch's loss: the seed's terms, plus (``neighbours``) the distance of each code from
    its frame's layout position, in units of ``code_std``."""

    def __init__(self, data: torch.Tensor, settings: MapSettings, target: torch.Tensor | None):
        self.data, self.s, self.target = data, settings, target
        self.eps_in = 1e-3 * float(data.shape[1])  # inputs have unit variance per dimension

    def __call__(self, model: Autoencoder, b: _Batch) -> tuple[torch.Tensor, dict]:
        a = self.data[b.idx]
        code = model.encoder(a)
        l_recon = ((model.decoder(code) - a) ** 2).mean()
        l_act = (code.mean(0) ** 2).sum() + ((code.std(0) - self.s.code_std) ** 2).sum()
        with torch.no_grad():
            target = _log_ratio(a, a[b.p1], a[b.p2], self.eps_in)
        l_tri = ((_log_ratio(code, code[b.p1], code[b.p2], 1e-4) - target) ** 2).mean()
        loss = l_recon + self.s.activity_weight * l_act + self.s.triplet_weight * l_tri
        parts = {"recon": l_recon, "activity": l_act, "triplet": l_tri}
        if self.target is not None:
            l_lay = ((code - self.target[b.idx]) ** 2).sum(-1).mean() / self.s.code_std ** 2
            loss = loss + self.s.layout_weight * l_lay
            parts["layout"] = l_lay
        return loss, parts


def _held_out(n: int, gen: torch.Generator) -> torch.Tensor:
    """A fixed slice of frames the stop is measured on: 5 % (at least 16, at most 2048)."""
    size = max(16, min(2048, n // 20)) if n >= 64 else 0
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=gen)[:size]] = True
    return mask


def train_autoencoder(
    x: np.ndarray, settings: MapSettings, target: np.ndarray | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[Autoencoder, dict]:
    """Train on ``x`` (n, d) float32, with the frames' layout positions ``target`` (n, 2) for the
    ``neighbours`` objective; deterministic for a given ``settings.seed`` and thread count."""
    n, d = x.shape
    if n < 4:
        raise VidatlasError(f"need at least 4 frames to train the map, got {n}")
    if settings.objective not in ("seed", "neighbours"):
        raise VidatlasError(f"map objective must be 'seed' or 'neighbours', got {settings.objective!r}")
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    data = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    model = Autoencoder(d, width=settings.encoder_width if target is not None else 0)
    objective = _Objective(data, settings, None if target is None else torch.from_numpy(
        np.ascontiguousarray(target, np.float32)))
    batch = min(settings.batch_size, n)
    min_steps = settings.min_steps or (100 if target is not None else 200)
    max_steps = max(min_steps, min(settings.max_steps, settings.epochs * math.ceil(n / batch)))
    hold = _held_out(n, gen)
    sampler = _Sampler(batch, hold)
    val = sampler.draw(torch.Generator().manual_seed(settings.seed + 1), held_out=True) if hold.any() else None
    opt = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, fused=True)
    warmup = min(100, max_steps // 10)
    last_loss, last_held = math.nan, None  # at the last evaluation (training always ends on one)
    best, bad, drops, step = math.inf, 0, 0, 0
    stopped = "max_steps"
    model.train()
    for step in range(1, max_steps + 1):
        lr = settings.learning_rate * min(1.0, step / max(1, warmup)) * 0.2 ** drops
        for group in opt.param_groups:
            group["lr"] = lr
        loss, parts = objective(model, sampler.draw(gen))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % settings.eval_every and step != max_steps:
            continue
        last_loss = float(loss.detach())
        if val is not None:
            model.eval()
            with torch.no_grad():
                held = float(objective(model, val)[0])
            model.train()
            last_held = held
            if not math.isfinite(best) or held < best - settings.stop_tol * abs(best):
                best, bad = held, 0
            else:
                bad += 1
            if bad >= settings.patience and step >= min_steps:
                drops, bad = drops + 1, 0
                if drops == 2:
                    stopped = "converged"
                    break
        if on_step:
            on_step(step, max_steps, last_loss)
    model.eval()
    final = {k: float(v.detach()) for k, v in parts.items()} | {"loss": last_loss}
    if last_held is not None:
        final["held_out"] = last_held
    return model, {"steps": step, "max_steps": max_steps, "stopped": stopped, "batch": batch,
                   "objective": settings.objective, "final": final}


@torch.inference_mode()
def encode(model: Autoencoder, x: np.ndarray, errors: bool = True,
           chunk: int = 65536) -> tuple[np.ndarray, np.ndarray | None]:
    """2-D codes and (unless ``errors`` is false) per-row reconstruction MSE, the anomaly score."""
    codes = np.empty((len(x), 2), np.float32)
    mse = np.empty(len(x), np.float32) if errors else None
    for i in range(0, len(x), chunk):
        xb = torch.from_numpy(np.ascontiguousarray(x[i:i + chunk], np.float32))
        c = model.encoder(xb)
        codes[i:i + len(xb)] = c.numpy()
        if mse is not None:
            mse[i:i + len(xb)] = ((model.decoder(c) - xb) ** 2).mean(-1).numpy()
    return codes, mse
