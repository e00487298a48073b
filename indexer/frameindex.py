"""The frame-feature index: which FAISS index a bundle gets, chosen from its frame count and a
memory budget; how it is built (trained on a sample, filled in chunks, never a second full copy
of the features); how well it finds neighbours (recall@10 against exact search); and how it is
read back (inverted lists memory-mapped from the bundle file, so loading does not grow with it).

The ladder, from most to fewest bytes a frame (``d`` = feature dimension, 256 by default), as
FAISS's "Guidelines to choose an index" and autofaiss order them:

===============  ==============  ================================================================
spec             bytes a frame   searched as
===============  ==============  ================================================================
``Flat``         4·d             exact; up to ``EXACT_LIMIT`` frames
``IVF…,SQ8``     d               8-bit scalar codes; recall@10 about 0.96 at 16 probes
``IVF…,SQ4``     d/2             4-bit codes; ``REFINE_SQ4``·k candidates re-scored on the features
``IVF…,PQ…x4fs`` d/4             4-bit fast-scan product codes; ``REFINE_PQ``·k re-scored
===============  ==============  ================================================================

The first rung whose resident size (the server's runtime, the per-frame arrays it keeps in
memory, and the codes) fits the budget is taken. When none fits, 4-bit codes are, and their
lists are paged in from disk as queries touch them (``resident`` is false in the manifest).
The server memory-maps the lists of every rung but fast-scan's, which FAISS cannot map.
Re-scoring reads the unit float16 features the bundle stores anyway (memory-mapped) for the
candidates only, so compressed codes cost no second copy of the features.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from . import cstdout
from .errors import Code, VidatlasError
from .settings import SERVER_RUNTIME_BYTES as RUNTIME_BYTES
from .settings import StoreSettings

EXACT_LIMIT = 20_000      # frames; above this the frame index is an IVF (approximate)
NPROBE = 16               # inverted lists searched per query, at first: doubled at build time until
MAX_NPROBE = 128          # recall@10 against exact search reaches RECALL_TARGET (or this many)
MAX_REFINE = 16           # (candidates re-scored per neighbour asked for: doubled the same way)
RECALL_TARGET = 0.95
MAX_NLIST = 8192          # 4·sqrt(n) lists up to here: k-means on 2 cores stays in minutes at 10M frames
TRAIN_PER_LIST = 40       # training sample: this many frames per list (FAISS asks for 39)
REFINE_SQ4 = 4            # compressed codes: candidates fetched per neighbour asked for, then re-scored
REFINE_PQ = 16            # (measured on clustered features: recall@10 0.97 and 0.997 with these)
CHUNK = 1 << 18           # frames normalised and added at a time
RECALL_QUERIES = 500      # frames whose neighbours the index is checked on at build time
ROW_BYTES = 40            # per frame held in memory: video, time, code, error, pixel stats, index id
DEFAULT_BUDGET = StoreSettings().budget_bytes  # the chart's server pod limit (helm/vidatlas/values.yaml)
ON_DISK = "on disk"       # the manifest's "lists" for lists joined into a file of their own


@dataclass(frozen=True)
class IndexPlan:
    """The frame index a bundle gets, as its manifest records it."""

    kind: str           # FAISS factory string
    bytes_per_frame: int  # code bytes a frame (the inverted lists' payload)
    refine: int         # candidates fetched per neighbour asked for and re-scored on the features (1 = none)
    nprobe: int
    resident: bool      # the lists fit the budget beside the runtime and the per-frame arrays
    budget: int

    @property
    def exact(self) -> bool:
        return self.kind == "Flat"


def nlist_for(n: int) -> int:
    return int(min(MAX_NLIST, max(1, 4 * np.sqrt(n))))


def choose(n: int, d: int, budget: int = DEFAULT_BUDGET) -> IndexPlan:
    """The index for ``n`` frames of dimension ``d`` under a server memory ``budget`` in bytes."""
    if budget <= RUNTIME_BYTES:
        raise VidatlasError(f"memory budget of {budget} bytes leaves nothing beside the server's own runtime",
                            Code.INVALID_ARGUMENT)
    room = budget - RUNTIME_BYTES - n * ROW_BYTES
    if n <= EXACT_LIMIT:
        return IndexPlan("Flat", 4 * d, 1, 0, 4 * d * n <= room, budget)
    nlist = nlist_for(n)
    ladder = [(f"IVF{nlist},SQ8", d, 1)]
    if d % 2 == 0:
        ladder.append((f"IVF{nlist},SQ4", d // 2, REFINE_SQ4))
        ladder.append((f"IVF{nlist},PQ{d // 2}x4fs", d // 4, REFINE_PQ))
    for kind, size, refine in ladder:
        if n * size <= room:
            return IndexPlan(kind, size, refine, NPROBE, True, budget)
    # past the budget: lists paged from disk. Fast-scan lists cannot be mapped (FAISS reads its
    # block lists whole), so the smallest codes kept in plain lists, which a query reads fewest pages of
    kind, size, refine = ladder[1] if len(ladder) > 1 else ladder[0]
    return IndexPlan(kind, size, refine, NPROBE, False, budget)


def named(kind: str, n: int, d: int, budget: int = DEFAULT_BUDGET) -> IndexPlan:
    """The plan for a FAISS factory string given by the user (``StoreSettings.frame_index``):
    codes below 8 bits a dimension are re-scored as the ladder's are."""
    try:
        index = faiss.index_factory(d, kind, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise VidatlasError(f"frame index {kind!r} is not a FAISS index for {d}-D features: {exc}",
                            Code.INVALID_ARGUMENT) from None
    if isinstance(faiss.downcast_index(index), faiss.IndexFlat):
        return IndexPlan("Flat", 4 * d, 1, 0, True, budget)
    try:
        size = int(faiss.extract_index_ivf(index).code_size)  # a list entry's code (the list number not stored)
    except RuntimeError:
        raise VidatlasError(f"frame index {kind!r}: only Flat and IVF indexes are served", Code.INVALID_ARGUMENT) from None
    refine = 1 if size >= d else REFINE_SQ4 if size * 2 >= d else REFINE_PQ
    fast_scan = kind.split(",")[-1].endswith("fs")  # block lists: always read whole
    return IndexPlan(kind, size, refine, NPROBE, fast_scan or n * (size + ROW_BYTES) + RUNTIME_BYTES <= budget,
                     budget)


def float32_rows(feats, rows) -> np.ndarray:
    """``feats[rows]`` as float32. Stored features are float16, and numpy widens float16 one
    element at a time (3 ms for 6,000 rows of 256); torch does it with the CPU's F16C
    instructions (0.2 ms), exactly (every float16 is a float32)."""
    x = np.asarray(feats[rows])
    if x.dtype != np.float16:
        return np.asarray(x, np.float32)
    import torch
    return torch.from_numpy(np.ascontiguousarray(x)).float().numpy()


def unit_rows(feats, a: int, b: int) -> np.ndarray:
    """Rows ``a:b`` of ``feats`` as unit float32."""
    x = np.array(feats[a:b], np.float32)
    faiss.normalize_L2(x)
    return x


def train(feats, plan: IndexPlan, seed: int = 0) -> faiss.Index:
    """The empty index of ``plan``, trained on a seeded sample of the unit rows of ``feats``."""
    n, d = feats.shape
    index = faiss.index_factory(d, plan.kind, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        nlist = faiss.extract_index_ivf(index).nlist
        rows = np.sort(np.random.default_rng(seed).choice(n, min(n, TRAIN_PER_LIST * nlist), replace=False))
        sample = np.array(feats[rows], np.float32)
        faiss.normalize_L2(sample)
        index.train(sample)
        del sample
        faiss.extract_index_ivf(index).nprobe = plan.nprobe
    return index


def build(feats, plan: IndexPlan, seed: int = 0, chunk: int = CHUNK) -> faiss.Index:
    """The index of ``plan`` over the unit rows of ``feats`` (any array, memory-mapped included)
    in this process's memory, filled ``chunk`` rows at a time. Bundles encode theirs in blocks
    joined on disk instead (:mod:`.encoding`)."""
    index = train(feats, plan, seed)
    for a in range(0, len(feats), chunk):
        index.add(unit_rows(feats, a, min(len(feats), a + chunk)))
    return index


class FrameIndex:
    """A FAISS inner-product index over a bundle's unit features, searched like one
    (``search(queries, k)`` → similarities, rows; -1 rows past the end). With ``refine`` > 1 it
    fetches ``refine``·k candidates from the codes and re-scores them exactly on ``feats``."""

    def __init__(self, index: faiss.Index, feats, refine: int = 1):
        self.index, self.feats, self.refine = index, feats, max(1, int(refine))

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def ivf(self) -> faiss.IndexIVF | None:
        try:
            return faiss.extract_index_ivf(self.index)
        except RuntimeError:
            return None

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, np.float32)
        if self.refine == 1:
            return self.index.search(queries, k)
        _, rows = self.index.search(queries, min(self.ntotal, k * self.refine))
        found = rows >= 0
        safe = np.where(found, rows, 0)
        cand = float32_rows(self.feats, safe.ravel()).reshape(*rows.shape, -1)
        sims = np.einsum("qd,qkd->qk", queries, cand)
        sims[~found] = -np.inf
        best = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        sims, rows = np.take_along_axis(sims, best, 1), np.take_along_axis(rows, best, 1)
        sims[rows < 0] = -np.inf
        if sims.shape[1] < k:
            pad = k - sims.shape[1]
            sims = np.pad(sims, ((0, 0), (0, pad)), constant_values=-np.inf)
            rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
        return sims.astype(np.float32), rows


def exact_neighbours(feats, queries: np.ndarray, k: int, chunk: int = CHUNK) -> np.ndarray:
    """Rows of the ``k`` largest inner products of each query over the unit rows of ``feats``,
    by brute force a chunk at a time (no full float32 copy of a large feature file)."""
    best_s = np.full((len(queries), 0), -np.inf, np.float32)
    best_r = np.zeros((len(queries), 0), np.int64)
    for a in range(0, len(feats), chunk):
        x = unit_rows(feats, a, min(len(feats), a + chunk))
        s = queries @ x.T
        top = np.argpartition(-s, min(k, s.shape[1] - 1), axis=1)[:, :k] if s.shape[1] > k else \
            np.broadcast_to(np.arange(s.shape[1]), s.shape)
        best_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], 1)
        best_r = np.concatenate([best_r, top + a], 1)
        keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
        best_s, best_r = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_r, keep, 1)
    return best_r


def _probe(feats, k: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of ``feats``'s own rows (unit float32) and their exact ``k`` nearest rows."""
    rows = np.sort(np.random.default_rng(seed).choice(len(feats), min(queries, len(feats)), replace=False))
    q = unit_rows(feats[rows], 0, len(rows))
    return q, exact_neighbours(feats, q, k)


def _overlap(truth: np.ndarray, found: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, found)]))


def recall(index, feats, k: int = 10, queries: int = RECALL_QUERIES, seed: int = 0) -> float:
    """recall@k of ``index`` (a FAISS index or :class:`FrameIndex`) against exact inner-product
    search over ``feats``, on a seeded sample of its own frames."""
    q, truth = _probe(feats, k, queries, seed)
    return _overlap(truth, index.search(q, k)[1])


def tune(index: FrameIndex, feats, target: float = RECALL_TARGET, k: int = 10, queries: int = RECALL_QUERIES,
         seed: int = 0) -> float:
    """Widen the search from the plan's until recall@k reaches ``target``, as autofaiss tunes
    search parameters to a recall: each step doubles either the probes (neighbours in lists
    not searched) or the candidates re-scored on the features (neighbours the codes misorder),
    whichever gains more, up to ``MAX_NPROBE`` and ``MAX_REFINE``. The exact neighbours are
    found once. Returns the recall reached; the index keeps the setting."""
    q, truth = _probe(feats, k, queries, seed)
    got = _overlap(truth, index.search(q, k)[1])
    ivf = index.ivf
    while ivf is not None and got < target:
        tried = []
        for probes, refine in ((2 * ivf.nprobe, index.refine), (ivf.nprobe, 2 * index.refine)):
            if (probes == ivf.nprobe or probes <= min(MAX_NPROBE, ivf.nlist)) and \
                    (refine == index.refine or refine <= MAX_REFINE):
                before = ivf.nprobe, index.refine
                ivf.nprobe, index.refine = probes, refine
                tried.append((_overlap(truth, index.search(q, k)[1]), -probes * refine, probes, refine))
                ivf.nprobe, index.refine = before
        if not tried:
            break
        got, _, ivf.nprobe, index.refine = max(tried)
    return got


def describe(plan: IndexPlan, index: FrameIndex, feats) -> dict:
    """What the manifest records: the plan with the search tuned on its data (probes and
    re-scored candidates), and for an approximate index the recall@10 reached against exact search."""
    got = 1.0 if plan.exact else round(tune(index, feats), 4)
    ivf = index.ivf
    nprobe = int(ivf.nprobe) if ivf is not None else 0
    on_disk = ivf is not None and isinstance(faiss.downcast_InvertedLists(ivf.invlists), faiss.OnDiskInvertedLists)
    return {**asdict(plan), "kind": "exact" if plan.exact else plan.kind, "nprobe": nprobe,
            "lists": ON_DISK if on_disk else "in the index file",
            "refine": int(index.refine), "recall_at_10": got, "recall_queries": 0 if plan.exact else RECALL_QUERIES,
            "recall_target": RECALL_TARGET}


def load(path: Path, feats, recorded: dict) -> FrameIndex:
    """The frame index of a bundle, searched with the recorded probes and re-scoring. An IVF's
    inverted lists are memory-mapped from ``path``: loading reads only the coarse quantiser, so
    its time does not grow with the bundle, and the OS keeps the lists in memory while the budget
    lets it, paging them from disk past it. FAISS's prefetch threads for mapped lists are off
    (started on every search, they doubled a search's time with the lists in memory). Fast-scan
    lists cannot be mapped and are read whole. Lists joined from encoded blocks
    (:mod:`.encoding`) are in a file of their own beside ``path``, mapped read-only (the server's
    volume may be)."""
    if recorded.get("lists") == ON_DISK:
        with cstdout.to_stderr():  # FAISS prints where it found the lists
            index = faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY)
    elif recorded.get("kind", "exact") == "exact" or recorded.get("kind", "").endswith("fs"):
        index = faiss.read_index(str(path))
    else:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
    if recorded.get("kind", "exact") != "exact":
        lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(index).invlists)
        if isinstance(lists, faiss.OnDiskInvertedLists):
            lists.prefetch_nthread = 0
    if recorded.get("kind", "exact") == "exact":
        return FrameIndex(index, feats)
    faiss.extract_index_ivf(index).nprobe = int(recorded.get("nprobe") or NPROBE)
    return FrameIndex(index, feats, int(recorded.get("refine", 1)))
