"""Collections of videos that share places: scikit-image photographs (the places), grouped into
categories (the classes), panned into shots of different lengths, framings and orders.

Built so that the two hard cases of content diversity and labelling exist on material we make:
* ``anchors``: videos whose place sets are disjoint and cover every photo — a set of
  ``len(anchors)`` videos with zero content overlap exists;
* ``reshoots``: the same places as an anchor, in another order, with other pans and shot lengths
  (far from the anchor as a path, identical in content);
* ``mixes``: videos of 2-4 places drawn from the pool — mostly one category, some from two —
  which overlap the anchors;
and every class holds several photographs that look nothing alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# category -> photographs that ship inside scikit-image (no download)
CLASSES = {
    "scene": ("astronaut", "chelsea", "coffee", "rocket"),
    "texture": ("brick", "grass", "gravel"),
    "science": ("immunohistochemistry", "cell", "retina", "hubble_deep_field", "moon"),
    "graphic": ("page", "text", "colorwheel", "logo", "shepp_logan_phantom"),
    "object": ("camera", "coins", "clock", "horse"),
}
CLASS_OF = {p: c for c, ps in CLASSES.items() for p in ps}
SIZE, FPS = (192, 108), 8  # the collections' frame size and rate


@dataclass(frozen=True)
class Shot:
    place: str      # a photograph's name
    seed: int       # the pan
    seconds: float

    @property
    def cls(self) -> str:
        return CLASS_OF[self.place]


def plan(seed: int = 0, mixes: int = 18, mixed_share: float = 0.3, classes: dict = CLASSES) -> dict[str, list[Shot]]:
    """video id -> its shots. Anchors split each class's photos into groups of two or three
    (disjoint over the whole collection), reshoots repeat an anchor's places in another order,
    mixes draw 2-4 shots (``mixed_share`` of them from two classes)."""
    rng = np.random.default_rng(seed)

    def shot(place: str) -> Shot:
        return Shot(place, int(rng.integers(1 << 30)), float(rng.choice([2.0, 3.0, 4.0, 5.0])))

    videos: dict[str, list[Shot]] = {}
    a = 0
    for cls, photos in classes.items():
        photos = list(rng.permutation(photos))
        groups = [photos[i:i + 2] for i in range(0, len(photos) - 3, 2)]
        groups.append(photos[2 * len(groups):])
        for g in groups:
            videos[f"anchor/{a:02d}"] = [shot(p) for p in g]
            order = list(rng.permutation(g)) + [g[int(rng.integers(len(g)))]]  # one place twice
            videos[f"reshoot/{a:02d}"] = [shot(p) for p in order]
            a += 1
    names = list(classes)
    for m in range(mixes):
        c1 = names[int(rng.integers(len(names)))]
        pool = list(classes[c1])
        count = int(rng.integers(2, 5))
        if rng.random() < mixed_share:
            count = max(count, 3)  # a clear majority class
            c2 = names[(names.index(c1) + 1 + int(rng.integers(len(names) - 1))) % len(names)]
            picks = list(rng.choice(pool, min(len(pool), count - 1), replace=False)) + [str(rng.choice(classes[c2]))]
        else:
            picks = list(rng.choice(pool, min(len(pool), count), replace=False))
        videos[f"mix/{m:02d}"] = [shot(str(p)) for p in rng.permutation(picks)]
    return videos


def frames(shots: list[Shot], size=SIZE, fps: int = FPS) -> list[np.ndarray]:
    """A planned video's frames (RGB uint8): each shot's pan, one after another."""
    from indexer.samples import pan, photo
    out: list[np.ndarray] = []
    for s in shots:
        out += list(pan(photo(s.place), int(round(s.seconds * fps)), size, s.seed))
    return out


def write(root: Path, videos: dict[str, list[Shot]], size=SIZE, fps: int = FPS,
          rendered: dict[str, list[np.ndarray]] | None = None) -> Path:
    """Encode every planned video under ``root`` as ``<id>.mp4`` (its :func:`frames`, or those in
    ``rendered`` when the caller has them already)."""
    from indexer.samples import write_video
    root = Path(root)
    for vid, shots in videos.items():
        write_video(root / f"{vid}.mp4", rendered[vid] if rendered else frames(shots, size, fps), fps=fps)
    return root


def place_at(shots: list[Shot], t: float) -> Shot:
    """The shot showing time ``t`` (seconds from the start)."""
    end = 0.0
    for s in shots:
        end += s.seconds
        if t < end - 1e-9:
            return s
    return shots[-1]


def overlap(chosen: list[str], videos: dict[str, list[Shot]]) -> float:
    """Mean pairwise Jaccard overlap of the places of ``chosen`` videos (0 = nothing shared)."""
    sets = [{s.place for s in videos[v]} for v in chosen]
    pairs = [(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))]
    if not pairs:
        return 0.0
    return float(np.mean([len(sets[i] & sets[j]) / len(sets[i] | sets[j]) for i, j in pairs]))
