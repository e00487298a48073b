"""vidatlas indexer: from a folder of videos to a versioned bundle.

Public entry points; everything else in this package is an implementation detail. The bundle
and pipeline names load torch, timm and FAISS, so they are imported on first use: a command
that only talks to the service starts without them.
"""
from importlib import import_module

from .errors import Code, VidatlasError
from .settings import BackboneSettings, IndexSettings, MapSettings, SamplingSettings, from_env

_LAZY = {"Bundle": "bundle", "read_bundle": "bundle", "resolve": "bundle", "MapModel": "mapmodel",
         "Report": "pipeline", "add": "pipeline", "index": "pipeline", "merge": "pipeline"}

__all__ = [
    "Bundle", "read_bundle", "resolve", "Code", "VidatlasError", "MapModel", "Report", "add", "index",
    "merge", "BackboneSettings", "IndexSettings", "MapSettings", "SamplingSettings", "from_env",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'indexer' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
