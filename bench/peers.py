"""The naive peers every quality bench runs beside vidatlas, and the tally of who ranks a true video first.

The peers: a video's mean frame feature (cosine with the query's), and votes of each query frame
for the video of its nearest indexed frame. :class:`Tally` keeps, per case, whether vidatlas
(segments mode, the default) and each peer put a holder of the copy first, whether vidatlas
calls a holder a copy, and the best copy score of queries that copy nothing.
"""
from __future__ import annotations

import numpy as np

from query.search import Searcher

SYSTEMS = ("vidatlas segments", "mean-feature", "frame-vote")
CALLED = "called a copy"
COLUMNS = (*SYSTEMS, CALLED)


def mean_features(s: Searcher) -> np.ndarray:
    """Each video's mean frame feature, unit-norm (the naive peers' summary of a video)."""
    m = np.stack([s.feats[s.offsets[i]:s.offsets[i + 1]].mean(0) for i in range(len(s.ids))]).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def peer_orders(s: Searcher, q, mean_feats: np.ndarray, k: int = 10) -> dict[str, list[str]]:
    """The naive peers' top ``k`` for query ``q``: by the cosine of mean features, and by votes of
    each query frame for the video of its nearest indexed frame."""
    votes = np.bincount(s.frame_video[np.argmax(q.feats @ s.feats.T, axis=1)], minlength=len(s.ids))
    return {"mean-feature": [s.ids[i] for i in np.argsort(-(mean_feats @ q.feats.mean(0)))[:k]],
            "frame-vote": [s.ids[i] for i in np.argsort(-votes.astype(float), kind="stable")[:k]]}


class Tally:
    """Per case (any hashable): rank 1 for vidatlas and the peers, and holders called a copy."""

    def __init__(self, s: Searcher):
        self.s, self.mean = s, mean_features(s)
        self.found: dict = {}
        self.negatives: list[float] = []

    def add(self, case, q, holders: list[str]) -> list:
        """Search ``q`` (k = 10) and count it under ``case``: found when a video of ``holders``
        comes first. Without holders it is a query that copies nothing: its best copy score is
        kept. Returns vidatlas's matches."""
        matches = self.s.similar(q, 10)
        if not holders:
            self.negatives.append(max((m.copy_score for m in matches), default=0.0))
            return matches
        orders = {SYSTEMS[0]: [m.video_id for m in matches], **peer_orders(self.s, q, self.mean)}
        got = self.found.setdefault(case, {name: [] for name in COLUMNS})
        for name in SYSTEMS:
            got[name].append(bool(orders[name]) and orders[name][0] in holders)
        got[CALLED].append(any(m.is_copy for m in matches if m.video_id in holders))
        return matches

    def rate(self, cases: list, column: str) -> float:
        """The share of the queries of ``cases`` counted in ``column``."""
        return float(np.mean([x for c in cases for x in self.found[c][column]]))

    def count(self, cases: list) -> int:
        return sum(len(self.found[c][SYSTEMS[0]]) for c in cases)

    def rows(self, columns: tuple[str, ...] = COLUMNS) -> list[list]:
        """A row a case (its name, queries, each column's share) and a bold row of them all."""
        out = [[case, self.count([case]), *(f"{self.rate([case], n):.2f}" for n in columns)] for case in self.found]
        every = list(self.found)
        return out + [["**all**", self.count(every), *(f"**{self.rate(every, n):.2f}**" for n in columns)]]
