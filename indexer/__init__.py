"""vidatlas indexer: from a folder of videos to a versioned bundle.

Public entry points; everything else in this package is an implementation detail.
"""
from .bundle import Bundle, read_bundle, resolve
from .errors import Code, VidatlasError
from .mapmodel import MapModel
from .pipeline import Report, add, index, merge
from .settings import BackboneSettings, IndexSettings, MapSettings, SamplingSettings, from_env

__all__ = [
    "Bundle", "read_bundle", "resolve", "Code", "VidatlasError", "MapModel", "Report", "add", "index",
    "merge", "BackboneSettings", "IndexSettings", "MapSettings", "SamplingSettings", "from_env",
]
