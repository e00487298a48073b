"""Copied segments: local alignment of a query's frames against candidate videos' frames.

As in the matching track of the VSC 2022 challenge, a copy is a *segment*: a run of query frames
that matches a run of a video's frames along a near-diagonal of their similarity matrix. The
alignment is Smith-Waterman-like over the ``query × video`` cosine matrix of every candidate at
once (one numpy pass per query frame): each matched pair gains ``sim - match_threshold``, a run
continues from the previous query frame's match 1..``max_step`` video frames earlier (slopes:
``1`` is the copy's own speed, ``2`` a 2x speed-up) or on the same video frame at a penalty
(slow-downs), and a run restarts wherever its total would drop below zero. So a segment never
collapses onto one frame, and footage that only loosely resembles a video (similarities below
the threshold) forms no segment at all, however long it is.

Frame similarity here is ``(1 - pixel_weight) × feature cosine + pixel_weight × pixel agreement``,
or the pixel agreement alone where it is higher (a blocky or recoloured copy keeps its detail but not its features):
the backbone's features hardly tell a copy from another shot of the same place (other framing,
other motion: both near 0.9 cosine), while the pictures themselves do. Pixel agreement is the
normalised cross-correlation of the detail of small grey thumbnails (:func:`pixel_signature`, the
better of the picture and its mirror image), insensitive to brightness, contrast, colour and scale
changes. A clip's signatures are of its every frame, so a copy meets the very frame the bundle
sampled whatever the phase of its sampling.

Segments are ranked by their *strength*, the alignment's total gain squashed to 0..1
(``1 - 0.5 ** (gain / gain_half)``): a run of good matches through the whole copy beats a shorter
run of slightly better ones (a reordered twin's), and a few exact seconds beat many loose ones.
A segment's *copy score* rewards how exact it is and, up to a point, how long:
``exactness × (1 - 0.5 ** (seconds / length_half_s))``, with ``seconds`` the shorter of its query
and video ranges (a 2x speed-up's 3 s of query over 6 s of video matches three moments, not six)
and ``exactness`` the segment's mean similarity rescaled so that ``match_threshold`` is 0 and 1
is 1; it separates copies from other
footage of the same places better than the strength does, so it is the calibrated one: a
result's copy score is its best segment's, and it is a copy when that reaches
``copy_threshold`` for a clip (``bench/quality.py`` measures where non-copies stay below it 99 % of
the time) or ``indexed_copy_threshold`` for an indexed video (``bench/duplicates.py``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from indexer.pictures import Pictures, high_pass, tile_layout

from . import kernels

SLOWEST = 2.5  # a segment's strength is credited with the longer side's length, up to this many times the
# shorter: a 0.5x slow-down keeps its whole length, query frames piled onto a frame or two of a video (a still
# moment of other footage over a pan) do not count as seconds of copy. Its copy score counts the shorter side.
AGREEING_TILES = 5  # pixel agreement is the mean of the best 5 of the 6 tiles' (indexer.pictures.TILE_ROWS x TILE_COLS) ...
FEW_TILES, FEW_PENALTY = 3, 0.05  # ... or of the best 3 less this, where that is higher: a caption band or an
# overlay spoils a row of tiles; counting only the best 3 at full weight let other shots of a place score as copies


@functools.lru_cache(maxsize=8)
def crop_windows(scales: tuple[float, ...], shifts: tuple[float, ...], angles: tuple[float, ...] = ()) -> np.ndarray:
    """Windows ``(top, bottom, left, right, angle)`` of every width and height in ``scales``
    (independently: a crop may change the aspect), their centres moved by each of ``shifts``
    (fractions of the picture) across and down, kept inside the picture: where an off-centre crop
    that was scaled back to full size came from; and the centred ones turned by each of
    ``angles`` (degrees): where a rotated copy, zoomed so that no corner is empty, came from."""
    out = []
    for sy in scales:
        for sx in scales:
            for dy in shifts:
                for dx in shifts:
                    cy = min(max(0.5 + dy, sy / 2), 1 - sy / 2)
                    cx = min(max(0.5 + dx, sx / 2), 1 - sx / 2)
                    out.append((cy - sy / 2, cy + sy / 2, cx - sx / 2, cx + sx / 2, 0.0))
            out += [(0.5 - sy / 2, 0.5 + sy / 2, 0.5 - sx / 2, 0.5 + sx / 2, a) for a in angles]
    windows = np.unique(np.round(np.array(out, np.float64), 6), axis=0)
    windows.flags.writeable = False  # shared by every query (cached)
    return windows


def pixel_agreement(query: np.ndarray, video: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``(n, m)`` agreement of query signatures (their whole pictures) with video signatures at any
    of their scales, the better of the query picture and its mirror image: the mean of the
    ``AGREEING_TILES`` best of the tiles' normalised cross-correlations, or of the ``FEW_TILES``
    best less ``FEW_PENALTY`` where that is higher (an overlay, a caption band or a picture's
    rotated corners spoil some tiles, not the picture)."""
    _, bounds, mirror = tile_layout(rows, cols)
    q = query[:, 0].astype(np.float32)
    m, scales, cells = video.shape
    v = video.reshape(m * scales, cells).astype(np.float32)
    keep = min(AGREEING_TILES, len(bounds) - 1)
    few = min(FEW_TILES, keep)
    best = None
    for pic in (q, q[:, mirror]):
        top: list[np.ndarray] = []  # the ``keep`` largest so far, elementwise, largest first
        for a, b in zip(bounds[:-1], bounds[1:]):
            tile = pic[:, a:b] @ v[:, a:b].T
            for i in range(len(top)):  # one pass of an insertion network: tile goes in, the smaller moves down
                hi = np.maximum(top[i], tile)
                np.minimum(top[i], tile, out=tile)
                top[i] = hi
            if len(top) < keep:
                top.append(tile)
        mean = sum(top[1:], top[0]) / keep
        np.maximum(mean, sum(top[1:few], top[0]) / few - FEW_PENALTY, out=mean)
        agree = _max_of_scales(mean.reshape(len(q), m, scales))
        best = agree if best is None else np.maximum(best, agree)
    return best


def _max_of_scales(x: np.ndarray) -> np.ndarray:
    """``x.max(axis=2)`` for a short last axis, as elementwise maxima of its slices: the same
    values, without numpy's per-element reduction over 4 items (17x faster on 100 x 24k)."""
    out = x[..., 0].copy()
    for s in range(1, x.shape[2]):
        np.maximum(out, x[..., s], out=out)
    return out


def window_agreement(query: np.ndarray, video: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``(n, W)`` agreement of query signatures with one video frame's signatures at each of its
    ``W`` windows (``video`` is ``(W, cells)``)."""
    return pixel_agreement(query, video[:, None], rows, cols)


def register(pairs: list[tuple[np.ndarray, int]], pictures: Pictures, window: np.ndarray,
             steps: tuple[float, ...] = (0.03, 0.015, 0.0075), smallest: float = 0.4,
             degrees_per_step: float = 60.0) -> tuple[np.ndarray, float]:
    """The one window of video pictures that query pictures show, over ``pairs`` of ``(query
    signatures (n, 1, cells): frames of one moment, index of a video frame in pictures)``: refined
    from ``window`` by moving each edge in and out by ``steps`` while the mean agreement (each
    pair's best over its query frames; from three pairs on the worst is left out, as a moment past
    the copy's end) rises, a pattern search. A crop's own geometry, which no
    fixed grid of windows meets closely enough for detail to line up; fitted on several moments
    of a copy at once, it is a copy's geometry and not a fit to one picture's noise. Returns the
    window and its mean agreement. A window with an angle (a fifth column) is turned too, by
    ``degrees_per_step`` times each step (1.8, 0.9, 0.45 degrees)."""
    grid = pictures.rows, pictures.cols
    dims = len(window)
    moves = np.vstack([np.eye(dims), -np.eye(dims)])
    if dims == 5:
        moves[:, 4] *= degrees_per_step
    frames = np.array([f for _, f in pairs])

    def agreement(windows: np.ndarray) -> np.ndarray:  # the mean over the pairs, the worst left out from three on
        sigs = pictures.signature(windows, frames)
        each = np.sort([window_agreement(q, sigs[i], *grid).max(axis=0) for i, (q, _) in enumerate(pairs)], axis=0)
        return each[int(len(pairs) >= 3):].mean(axis=0)

    best = np.asarray(window, np.float64)
    score = float(agreement(best[None])[0])
    for step in steps:
        while True:
            tries = best + step * moves
            tries[:, [0, 2]] = np.maximum(tries[:, [0, 2]], 0.0)
            tries[:, [1, 3]] = np.minimum(tries[:, [1, 3]], 1.0)
            tries = tries[(tries[:, 1] - tries[:, 0] >= smallest) & (tries[:, 3] - tries[:, 2] >= smallest)]
            agree = agreement(tries)
            i = int(np.argmax(agree))
            if agree[i] <= score + 1e-4:
                break
            best, score = tries[i], float(agree[i])
    return best, score


def scan_windows(query: np.ndarray, pictures: Pictures, frame: int, scales: tuple[float, ...]) -> tuple[np.ndarray, float]:
    """The upright window of picture ``frame`` that query signatures ``query`` (``(n, cells)``:
    frames of one moment) agree with best, over every width and height in ``scales`` at every
    whole-cell position, and that agreement. At each size the picture is cut into cells of the
    window's cell size once, and every position is a slice of that grid, so the search is global
    over positions (a crop's detail lines up only within about a cell of its window, where
    :func:`register`'s pattern search starts from a coarse grid of windows and can climb to
    another, wrong one). A window's detail is high-passed with the picture around it rather than
    at its own border, close to what :meth:`Pictures.signature` gives."""
    rows, cols, h, w = pictures.rows, pictures.cols, pictures.h, pictures.w
    order, bounds, _ = tile_layout(rows, cols)
    sizes = np.diff(bounds)
    tile_of = np.repeat(np.arange(len(sizes)), sizes)  # each signature position's tile
    tiles = np.zeros((rows * cols, len(sizes)), np.float32)  # grid cell -> its tile
    tiles[order, tile_of] = 1
    sat = pictures.sat[frame].reshape(h + 1, w + 1)
    sizes_at = []  # each size's cell boundaries and how many positions it has (cells of a pixel at least)
    for sy in (v for v in scales if v * h / rows >= 1):
        ys = np.round(np.arange(int(rows / sy + 1e-9) + 1) * sy * h / rows).astype(np.int64)
        for sx in (v for v in scales if v * w / cols >= 1):
            xs = np.round(np.arange(int(cols / sx + 1e-9) + 1) * sx * w / cols).astype(np.int64)
            sizes_at.append((ys, xs, (len(ys) - rows) * (len(xs) - cols)))
    if not sizes_at:  # thumbnails of a cell a pixel: no smaller window has a grid
        return np.array([0.0, 1.0, 0.0, 1.0, 0.0]), -np.inf
    v = np.empty((sum(n for _, _, n in sizes_at), rows * cols), np.float32)  # every window's detail, grid order
    first = 0
    for ys, xs, n in sizes_at:
        at = sat[ys[:, None], xs[None, :]]
        g = at[1:, 1:] - at[:-1, 1:] - at[1:, :-1] + at[:-1, :-1]
        g /= (np.diff(ys)[:, None] * np.diff(xs)[None, :]).astype(np.float32)
        view = np.lib.stride_tricks.sliding_window_view(high_pass(g), (rows, cols))  # every position
        v[first:first + n] = view.reshape(n, rows * cols)
        first += n
    sums = v @ tiles
    norms = np.sqrt(np.maximum((v * v) @ tiles - sums * sums / sizes.astype(np.float32), 1e-6))
    # each query frame's tiles as columns of a block-diagonal matrix in grid order (they are
    # zero-mean: the dot with a window's tile is the dot with its zero-mean detail)
    q = np.asarray(query, np.float32)
    blocks = np.zeros((len(q), len(sizes), rows * cols), np.float32)
    blocks[:, tile_of, order] = q
    ncc = (v @ blocks.reshape(-1, rows * cols).T).reshape(len(v), len(q), len(sizes)) / np.maximum(norms, 1e-3)[:, None]
    ranked = np.sort(ncc, axis=2)[..., ::-1]  # the best tiles, as :func:`pixel_agreement` takes them
    keep = min(AGREEING_TILES, len(sizes))
    few = min(FEW_TILES, keep)
    agree = np.maximum(ranked[..., :keep].mean(axis=2), ranked[..., :few].mean(axis=2) - FEW_PENALTY).max(axis=1)
    i = int(np.argmax(agree))
    best = float(agree[i])
    for ys, xs, n in sizes_at:  # the window of position i
        if i < n:
            y, x = divmod(i, len(xs) - cols)
            return np.array([ys[y] / h, ys[y + rows] / h, xs[x] / w, xs[x + cols] / w, 0.0]), best
        i -= n
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Segment:
    """A query range matched to a video range, with its own copy score."""

    query_start_s: float
    query_end_s: float
    start_s: float
    end_s: float
    score: float         # the copy score: exactness x length factor (calibrated: see ``copy_threshold``)
    strength: float = 0.0  # the local alignment's total gain, squashed to 0..1: what segments are ranked by


@dataclass(frozen=True)
class Local:
    """Local alignment tables of a batch of candidates, each ``(candidates, query frames, video frames)``:
    the run's gain ``h`` ending at a cell, the sum of similarities along it, and the cell where it
    started, packed as ``query frame * video frames + video frame`` (unpacked only at the few
    cells that end a segment; the number of pairs follows from it, one per query frame)."""

    h: np.ndarray
    total: np.ndarray
    first: np.ndarray

    def start(self, row: int, ii: np.ndarray, jj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Query and video frame where the runs ending at cells ``(ii, jj)`` of candidate ``row`` began."""
        return np.divmod(self.first[row][ii, jj], self.first.shape[2])


def local_align(sim: np.ndarray, threshold: float, max_step: int = 2, repeat_penalty: float = 0.1) -> Local:
    """Local alignment of every candidate at once. ``sim`` is ``(candidates, n, m)``, padded
    with ``-inf`` for shorter videos."""
    return Local(*kernels.local(sim, threshold, max_step, repeat_penalty))


def segment_score(mean_sim: np.ndarray, seconds: np.ndarray, threshold: float, length_half_s: float) -> np.ndarray:
    exact = np.clip((mean_sim - threshold) / (1.0 - threshold), 0.0, 1.0)
    return exact * (1.0 - 0.5 ** (np.asarray(seconds, np.float64) / length_half_s))


def segments(local: Local, row: int, qtimes: np.ndarray, vtimes: np.ndarray, period: float, threshold: float,
             length_half_s: float, most: int, min_score: float, gain_half: float = 0.5) -> list[Segment]:
    """Candidate ``row``'s segments, strongest first (by total gain: a long run of good matches
    beats a short run of slightly better ones): runs ending at the strongest cells, each with a
    query range that overlaps no stronger one's; at most ``most``, none with a copy score below
    ``min_score``."""
    h = local.h[row]
    ends = np.argwhere(h > 0)
    if not len(ends):
        return []
    ii, jj = ends[:, 0], ends[:, 1]
    i0, j0 = local.start(row, ii, jj)
    # each run (one start) ends where its gain is highest: keep only that cell of every run
    run = i0.astype(np.int64) * h.shape[1] + j0
    by = np.lexsort((-h[ii, jj], run))
    head = np.r_[True, run[by][1:] != run[by][:-1]]
    keep = by[head]
    ii, jj, i0, j0 = ii[keep], jj[keep], i0[keep], j0[keep]
    mean = local.total[row][ii, jj] / np.maximum(ii - i0 + 1, 1)  # one pair per query frame
    qdur = qtimes[ii] - qtimes[i0] + period
    vdur = vtimes[jj] - vtimes[j0] + period
    longer = np.maximum(qdur, vdur)
    shorter = np.minimum(qdur, vdur)
    credited = np.minimum(longer, SLOWEST * shorter)
    # the copy score counts the seconds both sides show: a run at another speed is as much
    # evidence as its shorter side's moments (two pans that cross one part of a photograph at
    # different speeds match for a second or two at slopes of 0.5-2)
    score = segment_score(mean, shorter, threshold, length_half_s)
    # and its gain only as much of it: many query frames piled onto a few video frames (or the
    # other way) are not that much copy, however alike (smooth or dark pictures are)
    strength = 1.0 - 0.5 ** (h[ii, jj].astype(np.float64) * (credited / longer) / gain_half)
    order = np.lexsort((jj, ii, -strength))
    taken: list[Segment] = []
    spans: list[tuple[int, int]] = []
    for e in order:
        if len(taken) >= most:
            break
        if score[e] < min_score:
            continue
        a, b = int(i0[e]), int(ii[e])
        if any(a <= y and x <= b for x, y in spans):
            continue
        spans.append((a, b))
        taken.append(Segment(float(qtimes[a]), float(qtimes[b]), float(vtimes[j0[e]]), float(vtimes[jj[e]]),
                             float(score[e]), float(strength[e])))
    return taken
