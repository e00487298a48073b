"""What ``vidatlas demo`` shows after indexing: a similarity query against the new bundle."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from indexer import read_bundle


def query_demo(atlas: Path) -> int:
    bundle = read_bundle(atlas)
    c = bundle.content
    ids = bundle.video_ids
    query = "real/carphone_pristine" if "real/carphone_pristine" in ids else ids[0]
    qi = ids.index(query)
    fp = c.fingerprints.reshape(len(ids), -1)
    d, nn = bundle.indexes["fingerprints"].search(np.ascontiguousarray(fp[qi:qi + 1]), min(5, len(ids)))
    print(f"videos whose map paths are closest to {query!r}:", file=sys.stderr)
    for dist, j in zip(d[0], nn[0]):
        if j != qi:
            print(f"  {ids[j]:40s} path distance {dist:.3f}")
    return 0
