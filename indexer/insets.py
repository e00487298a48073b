"""Pictures inside pictures: a copy shrunk into a rectangle laid over other footage (picture in
picture, a video wall, a frame within the frame). Its features are the background's, so a clip
with an inset is also searched as the inset alone (``service.embed``).

An inset's border is a straight edge that stays put while both pictures move: found on the
share of a few consecutive frames in which each pixel is on a line (moving edges pass by, the
border stays), as the rectangle whose four sides (fewer where it touches the frame's edges)
are edges along most of their length, with the picture changing on both sides of each, and
kept when neighbouring stretches of the clip agree on it, and when the picture inside moves on
its own: a rectangle of lines in one panning picture (a logo box, a row of bricks that the pan
hardly moves) moves with the picture around it. Each side of a rectangle kept then settles on
the line where the inside's motion and the picture around's part: lines in the inset's own
picture make smaller rectangles with as much support as its border.
"""
from __future__ import annotations

import numpy as np

from .decode import letterbox, refit

VERSION = 2          # of the detector's answers: bump on any change to them. Insets kept with another
                     # (a feature cache's entries, a bundle's records; none before 2026-12-08) are found again
EDGE = 16            # colour step (0-255, largest channel) across a border, two pixels apart
WINDOW = 6           # consecutive frames whose lines are pooled (1.5 s at a clip's 4 fps)
INDEX_WINDOW = 4     # ... and at an index's sampling rate (4 s at 1 fps; with 6, videos under 12 s miss more)
CHUNK = 240          # frames scanned at once by :func:`scan` (4 min at 1 fps): bounded memory on long videos
SIDE = 0.75          # share of a side's length on a line (pooled over the stretch's frames)
MIN_SIZE = 0.25      # an inset spans at least this share of the width and of the height ...
MAX_AREA = 0.8       # ... and at most this share of the picture (more is a crop, not an inset)
CANDIDATES = 20      # strongest lines each way tried as sides
SPAN = 2             # stretches apart (at most) that must both show a rectangle: one finding it, ...
CONFIRM = 0.6        # ... the other with its every side on a line along at least this share, ...
STANDS_OUT = 0.15    # ... by this much more than the less lined of the parallels ...
BESIDE = 4           # ... this many pixels either side
SAME = 4             # pixels within which two stretches' rectangles are the same
MAX_INSETS = 2
TRIES = 6            # rectangles checked for motion of their own, at most
KEEP = 64            # rectangles kept from each stretch
MAX_KEPT = 1024      # best supported rectangles grouped over the clip (a grid of lines finds one in every cell)
GAP = 3              # pixels either side of a side where the picture must be changing ...
ACTIVE = 0.5         # ... by this much between frames, on average (0-255): not a still picture
OWN_MOTION = 1.25    # the inside's own shift between frames must match it this much better than the
                     # shift of the picture around it (median over frame pairs; 1 = moves with it)
FROZEN = 3.0         # ... and change from the first frame where it was found to the last by at least this
                     # much (mean |difference|, 0-255; a logo box over a pan: at most 1.5 through H.264,
                     # a slow inset whose frame pairs barely change: 25 and more), over the longest run
CUT = 20.0           # of frames where the picture beside it does not cut (mean |difference| once its own
                     # shift is undone: a pan leaves a few, a cut to other footage 30 and more)
SETTLE_LINE = 0.5    # a side found may move to another line along at least this share of its length ...
SETTLE_MOTION = 1.0  # ... if the strip between moves with the side it joins by this much: its mean |difference|
                     # (0-255) under the other side's shift less under that side's, over the frame pairs
                     # where the two shifts differ


def _step(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The largest channel's ``|a - b|`` of RGB uint8 pictures, in uint8 (no wider copies)."""
    out = None
    for c in range(3):
        x, y = a[..., c], b[..., c]
        d = np.maximum(x, y) - np.minimum(x, y)
        out = d if out is None else np.maximum(out, d, out=out)
    return out


def _edges(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge strength across columns and across rows, ``(n, h, w)`` each (zero at the frame's
    edge): the largest channel's step between the pixels either side (a border softened by
    scaling and compression still steps within two pixels)."""
    gx = np.zeros(frames.shape[:3], np.uint8)
    gy = np.zeros(frames.shape[:3], np.uint8)
    gx[:, :, 1:-1] = _step(frames[:, :, 2:], frames[:, :, :-2])
    gy[:, 1:-1] = _step(frames[:, 2:], frames[:, :-2])
    return gx, gy


def _lines(g: np.ndarray) -> np.ndarray:
    """``(n, h, w)`` booleans: pixels where a line across the last axis runs, an edge at least
    ``EDGE`` that is the local maximum across it, widened by a pixel (a border's position
    jitters by one)."""
    peak = (g >= EDGE)
    peak[..., 1:-1] &= (g[..., 1:-1] >= g[..., :-2]) & (g[..., 1:-1] >= g[..., 2:])
    out = peak.copy()
    out[..., 1:] |= peak[..., :-1]
    out[..., :-1] |= peak[..., 1:]
    return out


def _strongest(cum: np.ndarray, length: int) -> np.ndarray:
    """The ``CANDIDATES`` columns of a cumulative line map (``(h+1, w)``) holding the densest
    stretches of ``length`` pixels, none within 2 of another (a line is 3 pixels wide)."""
    dense = ((cum[length:] - cum[:-length]) / length).max(axis=0)
    out: list[int] = []
    for x in np.argsort(-dense, kind="stable"):
        if len(out) == CANDIDATES:
            break
        if all(abs(int(x) - y) > 2 for y in out):
            out.append(int(x))
    return np.array(out, np.int64)


def _cumulative(vert: np.ndarray, horiz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Line maps summed down the columns of ``vert`` (``(h+1, w)``) and along the rows of
    ``horiz`` (``(h, w+1)``), for the mean along any side in two lookups."""
    h, w = vert.shape
    return (np.vstack([np.zeros((1, w)), np.cumsum(vert, axis=0)]),
            np.hstack([np.zeros((h, 1)), np.cumsum(horiz, axis=1)]))


def _sides(cv: np.ndarray, ch: np.ndarray, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray,
           span: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
    """``(4, m)``: the means of cumulative maps ``cv`` along columns ``x0`` and ``x1`` and of ``ch``
    along rows ``y0`` and ``y1`` (left, right, top, bottom; clipped to the frame), over the
    rectangles' extent (``span``'s ``(x0, y0, x1, y1)`` when given: the lines beside the sides)."""
    h, w = ch.shape[0], cv.shape[1]
    sx0, sy0, sx1, sy1 = (x0, y0, x1, y1) if span is None else span
    span_y, span_x = (sy1 - sy0 + 1).astype(np.float32), (sx1 - sx0 + 1).astype(np.float32)
    col = [(cv[sy1 + 1, x] - cv[sy0, x]) / span_y for x in (np.clip(x0, 0, w - 1), np.clip(x1, 0, w - 1))]
    row = [(ch[y, sx1 + 1] - ch[y, sx0]) / span_x for y in (np.clip(y0, 0, h - 1), np.clip(y1, 0, h - 1))]
    return np.stack(col + row)


def _held(cv: np.ndarray, ch: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Whether each rectangle (``(x0, y0, x1, y1)`` rows) shows in another stretch's cumulative
    line maps: every side not on the frame's edge on a line along at least ``CONFIRM`` of its
    length (at the best of its position and a pixel either way: a border moves by one through
    scaling and compression), by ``STANDS_OUT`` more than the less lined of the parallels
    ``BESIDE`` pixels either side (a fine texture is lines everywhere, a border has another
    picture on at least one side)."""
    h, w = ch.shape[0], cv.shape[1]
    x0, y0, x1, y1 = (rects[:, i].astype(np.int64) for i in range(4))
    at = {d: _sides(cv, ch, x0 + d, y0 + d, x1 + d, y1 + d, (x0, y0, x1, y1)) for d in (-BESIDE, -1, 0, 1, BESIDE)}
    best = np.maximum(np.maximum(at[-1], at[0]), at[1])
    ok = (best >= CONFIRM) & (best - np.minimum(at[-BESIDE], at[BESIDE]) >= STANDS_OUT)
    return (ok | np.stack([x0 == 0, x1 == w - 1, y0 == 0, y1 == h - 1])).all(axis=0)


def _rectangles(cv: np.ndarray, ch: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Rectangles ``(x0, y0, x1, y1, support, sides on the frame's edge)`` (a row each; x0..x1 and
    y0..y1 their border's columns and rows) whose every side is on a line along at least ``SIDE``
    of its length with the picture changing on both sides of it, from the cumulative line maps
    (:func:`_cumulative`) across columns (``cv``: a vertical side at column x) and across rows
    (``ch``) and the mean change between frames (``active``); the ``KEEP`` best supported (by
    their weakest side not on the frame's edge, which needs no line). At most one side on the
    frame's edge: two lines meeting at a corner are too common in pictures to be taken for an inset."""
    h, w = active.shape
    av, ah = _cumulative(active, active)
    xs = np.unique(np.r_[_strongest(cv, int(MIN_SIZE * h)), 0, w - 1])
    ys = np.unique(np.r_[_strongest(ch.T, int(MIN_SIZE * w)), 0, h - 1])
    x0, x1 = np.meshgrid(xs, xs, indexing="ij")
    y0, y1 = np.meshgrid(ys, ys, indexing="ij")
    okx, oky = (x1 - x0 >= MIN_SIZE * w), (y1 - y0 >= MIN_SIZE * h)
    X0, Y0 = np.meshgrid(x0[okx], y0[oky], indexing="ij")
    X1, Y1 = np.meshgrid(x1[okx], y1[oky], indexing="ij")
    X0, Y0, X1, Y1 = X0.ravel(), Y0.ravel(), X1.ravel(), Y1.ravel()
    sides = _sides(cv, ch, X0, Y0, X1, Y1)
    changing = np.minimum(_sides(av, ah, X0 - GAP, Y0 - GAP, X1 - GAP, Y1 - GAP, (X0, Y0, X1, Y1)),
                          _sides(av, ah, X0 + GAP, Y0 + GAP, X1 + GAP, Y1 + GAP, (X0, Y0, X1, Y1)))
    border = np.stack([X0 == 0, X1 == w - 1, Y0 == 0, Y1 == h - 1])
    on_edge = border.sum(axis=0)
    support = np.where(border, 1.0, np.where(changing >= ACTIVE, sides, 0.0)).min(axis=0)
    span_y, span_x = (Y1 - Y0 + 1).astype(np.float32), (X1 - X0 + 1).astype(np.float32)
    ok = (support >= SIDE) & (on_edge <= 1) & (span_x * span_y <= MAX_AREA * w * h)
    out = np.stack([X0, Y0, X1, Y1, support, on_edge], axis=1)[ok]
    return out[np.argsort(-out[:, 4], kind="stable")[:KEEP]]


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """The whole-pixel translation ``(dy, dx)`` taking grey picture ``a`` to ``b`` (phase
    correlation, Hann-windowed)."""
    h, w = a.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    fa, fb = np.fft.rfft2((a - a.mean()) * win), np.fft.rfft2((b - b.mean()) * win)
    cross = fb * np.conj(fa)
    peak = np.fft.irfft2(cross / (np.abs(cross) + 1e-6), s=(h, w))
    dy, dx = np.unravel_index(int(np.argmax(peak)), peak.shape)
    return (int(dy) - h if dy > h // 2 else int(dy), int(dx) - w if dx > w // 2 else int(dx))


def _residual(a: np.ndarray, b: np.ndarray, d: tuple[int, int]) -> float:
    """Mean absolute difference between ``b`` and ``a`` moved by ``d`` where they overlap."""
    (dy, dx), (h, w) = d, a.shape
    if abs(dy) > h - 4 or abs(dx) > w - 4:
        return float("inf")
    moved = b[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)]
    return float(np.abs(moved - a[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]).mean())


def _strip_beside(rect: tuple[int, int, int, int], h: int, w: int) -> tuple[int, int, int, int]:
    """The largest strip of picture beside ``rect`` (``(x0, y0, x1, y1)``, end exclusive), or the
    rectangle itself when no strip is 8 pixels wide."""
    x0, y0, x1, y1 = rect
    strips = [(0, 0, x0, h), (x1, 0, w, h), (0, 0, w, y0), (0, y1, w, h)]
    sx0, sy0, sx1, sy1 = max(strips, key=lambda s: (min(s[2] - s[0], s[3] - s[1]), (s[2] - s[0]) * (s[3] - s[1])))
    return (sx0, sy0, sx1, sy1) if min(sx1 - sx0, sy1 - sy0) >= 8 else rect


def _motions(grey: np.ndarray, pairs: np.ndarray, rect: tuple[int, int, int, int]) -> list[tuple]:
    """``(t, own, around)`` for each ``t`` in ``pairs``: the whole-pixel shift between frames ``t``
    and ``t + 1`` of ``grey`` (``(n, h, w)`` float32) inside ``rect`` (``(x0, y0, x1, y1)``, end
    exclusive) and in the largest strip of picture beside it (:func:`_strip_beside`)."""
    x0, y0, x1, y1 = rect
    sx0, sy0, sx1, sy1 = _strip_beside(rect, *grey.shape[1:])
    return [(int(t), _shift(grey[t, y0:y1, x0:x1], grey[t + 1, y0:y1, x0:x1]),
             _shift(grey[t, sy0:sy1, sx0:sx1], grey[t + 1, sy0:sy1, sx0:sx1])) for t in pairs]


def _settle(grey: np.ndarray, motions: list[tuple], cv: np.ndarray, ch: np.ndarray,
            border: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """``border`` (``(x0, y0, x1, y1)``, its sides' columns and rows) with each side moved to the
    line that best parts the two motions: a picture's own lines (bricks, a window frame) can make
    a smaller rectangle inside the inset, or one reaching the frame's edge, with as much support
    as its border. A side moves to another line of the pooled maps ``cv`` / ``ch``
    (:func:`_cumulative`; along at least ``SETTLE_LINE`` of the side; never to the frame's edge,
    which a rectangle is found at as it is) when the strip between the two moves with the side it
    would join: between frames ``t`` and ``t + 1`` the inside's shift explains the strip better
    than the shift of the largest strip of picture beside it (``motions``: :func:`_motions` of the
    border's inside) (or worse, for a strip it gives up) by
    ``SETTLE_MOTION`` on average, compared within the strip (a pixel moved across a border is
    covered by the other picture); of several such lines, the one whose strip gains most over its
    length. Sides move one at a time, left, right, top, bottom, and only to a rectangle
    :func:`_rectangles` could find. Unchanged where the two shifts agree (nothing parts them)."""
    x0, y0, x1, y1 = border
    h, w = grey.shape[1:]
    moves = [(t, own, around) for t, own, around in motions if own != around]
    if not moves:
        return border

    def joins(strip: tuple[int, int, int, int]) -> float:
        """How much better the inside's shift explains ``strip`` (x0, y0, x1, y1, end exclusive)
        than the shift around it, mean |difference| (0-255) over the frame pairs; 0 if too thin."""
        ax, ay, bx, by = strip
        out = np.array([_residual(grey[t, ay:by, ax:bx], grey[t + 1, ay:by, ax:bx], around)
                        - _residual(grey[t, ay:by, ax:bx], grey[t + 1, ay:by, ax:bx], own) for t, own, around in moves])
        return float(out.mean()) if np.isfinite(out).all() else 0.0

    def side(p: int, lo: int, hi: int, lines: np.ndarray, first: bool, strip) -> int:
        """Where a side at ``p`` settles among the lines (``lines``: each position's share) in
        ``[lo, hi]``; ``first`` for a left or top side (the inside lies after it); ``strip(a, b)``
        the strip between positions ``a < b``."""
        best, at = 0.0, p
        for q in np.flatnonzero(lines >= SETTLE_LINE).tolist():
            if not lo <= q <= hi or abs(q - p) < 3:
                continue
            m = joins(strip(min(p, q), max(p, q))) * (1 if (q < p) == first else -1)
            if m >= SETTLE_MOTION and m * abs(q - p) > best:
                best, at = m * abs(q - p), q
        return at

    def fits(x0: int, y0: int, x1: int, y1: int) -> bool:  # what :func:`_rectangles` allows
        edge = (x0 == 0) + (y0 == 0) + (x1 == w - 1) + (y1 == h - 1)
        return edge <= 1 and (x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_AREA * w * h

    min_w, min_h = int(MIN_SIZE * w), int(MIN_SIZE * h)
    lines = (cv[y1 + 1] - cv[y0]) / (y1 - y0 + 1)  # each column's line share along the sides' rows
    columns = lambda a, b: (a + 1, y0 + 2, b, y1 - 1)  # noqa: E731  (the strip between columns a < b)
    q = side(x0, 0, x1 - min_w, lines, True, columns)
    x0 = q if fits(q, y0, x1, y1) else x0
    q = side(x1, x0 + min_w, w - 1, lines, False, columns)
    x1 = q if fits(x0, y0, q, y1) else x1
    lines = (ch[:, x1 + 1] - ch[:, x0]) / (x1 - x0 + 1)
    rows = lambda a, b: (x0 + 2, a + 1, x1 - 1, b)  # noqa: E731  (the settled columns)
    q = side(y0, 0, y1 - min_h, lines, True, rows)
    y0 = q if fits(x0, q, x1, y1) else y0
    q = side(y1, y0 + min_h, h - 1, lines, False, rows)
    y1 = q if fits(x0, y0, x1, q) else y1
    return x0, y0, x1, y1


def _moves_on_its_own(grey: np.ndarray, motions: list[tuple], rect: tuple[int, int, int, int]) -> bool:
    """Whether the inside of ``rect`` (``(x0, y0, x1, y1)``, end exclusive) in ``grey``
    (``(n, h, w)`` float32) between frames ``t`` and ``t + 1`` (``motions``: :func:`_motions` of
    ``rect`` over the pairs where it was found) moves unlike the largest strip of picture beside it: the median over frame pairs of how much worse the strip's shift matches
    the inside than the inside's own shift is at least ``OWN_MOTION``. Pairs where neither
    moves say nothing (a still camera on both sides). An inside that does not change from the
    first to the last frame of the longest run of these pairs without a cut beside it (mean
    difference under ``FROZEN``) is an overlay, not a moving picture (a slow one changes little
    between two frames, but more over the run; an overlay over part of a clip appears at a cut)."""
    x0, y0, x1, y1 = rect
    sx0, sy0, sx1, sy1 = _strip_beside(rect, *grey.shape[1:])  # (itself if none: its own motion only)
    ratios, cuts = [], []
    for t, own, around in motions:
        a, b = grey[t], grey[t + 1]
        ia, ib = a[y0:y1, x0:x1], b[y0:y1, x0:x1]
        sa, sb = a[sy0:sy1, sx0:sx1], b[sy0:sy1, sx0:sx1]
        cuts.append(_residual(sa, sb, around) > CUT)
        if own != (0, 0) or around != (0, 0):
            ratios.append((_residual(ia, ib, around) + 1) / (_residual(ia, ib, own) + 1))
    # the longest run of consecutive pairs without a cut around the rectangle (an overlay shown
    # over part of a clip only appears at a cut): its inside must change from first to last
    calm = np.array([t for t, _, _ in motions], np.int64)[~np.asarray(cuts, bool)]
    run = max(np.split(calm, np.flatnonzero(np.diff(calm) != 1) + 1), key=len)
    if len(run) and _residual(grey[run[0], y0:y1, x0:x1], grey[run[-1] + 1, y0:y1, x0:x1], (0, 0)) < FROZEN:
        return False  # an overlay that never changes (a logo, a caption box, a still picture)
    return not ratios or float(np.median(ratios)) >= OWN_MOTION


def insets(frames: np.ndarray, window: int = WINDOW) -> list[tuple[int, int, int, int]]:
    """Rectangles ``(x0, y0, x1, y1)`` (the inside, end exclusive) of pictures inset into ``frames``
    (``(n, h, w, 3)`` RGB uint8, consecutive), at most ``MAX_INSETS``; empty when there is none
    (or fewer than ``window`` frames: the stretch whose lines are pooled). A rectangle counts where one stretch of the clip finds it
    and a neighbouring one shows its sides as lines too, if more weakly (content's lines move, a
    border does not); the one most stretches find is taken first, then the one with fewest sides
    on the frame's edge (a side there is not seen, only allowed), then the best supported."""
    n = len(frames)
    if n < window:
        return []
    gx, gy = _edges(frames)
    vert, horiz = _lines(gx), _lines(gy.transpose(0, 2, 1)).transpose(0, 2, 1)
    change = _step(frames[1:], frames[:-1])
    found, maps = [], []
    starts = range(0, n - window + 1, max(1, window // 2))  # stretches overlapping by half
    for a in starts:
        # a line's share of the stretch's frames: a border holds in all, a moving edge passes by
        maps.append(_cumulative(vert[a:a + window].mean(axis=0), horiz[a:a + window].mean(axis=0)))
        r = _rectangles(*maps[-1], change[a:a + window - 1].mean(axis=0))
        found.append(np.hstack([r, np.full((len(r), 1), a)]))  # and the stretch it holds in
    # rectangles whose sides a neighbouring stretch also shows as lines, if more weakly (a border
    # between pictures of like colour fades in and out; and where the lines of a picture's own
    # make hundreds of rectangles, a neighbour's own short list need not hold the inset's)
    kept = []  # (with the finder's frames only)
    for i, r in enumerate(found):
        near = [j for j in range(max(0, i - SPAN), min(len(found), i + SPAN + 1)) if j != i]
        if len(r) and near:
            kept.append(r[np.any([_held(*maps[j], r) for j in near], axis=0)])
    rects = np.concatenate(kept) if kept else np.zeros((0, 7))
    if not len(rects):
        return []
    rects = rects[np.argsort(-rects[:, 4], kind="stable")[:MAX_KEPT]]  # bounds the pairwise comparison below
    same = np.abs(rects[:, None, :4] - rects[None, :, :4]).max(axis=2) <= SAME
    count = same.sum(axis=1)
    h, w = frames.shape[1:3]
    out: list[tuple[int, int, int, int]] = []
    left = np.ones(len(rects), bool)
    grey, tries = None, 0
    while left.any() and len(out) < MAX_INSETS and tries < TRIES:
        tries += 1
        pick = np.flatnonzero(left)
        best = pick[np.lexsort((-rects[pick, 4], rects[pick, 5], -count[pick]))[0]]
        group = same[best] & left
        x0, y0, x1, y1 = (int(v) for v in np.median(rects[group, :4], axis=0).round())
        held = np.zeros(n, bool)  # the frames of the stretches that found it
        for a in rects[group, 6].astype(int):
            held[a:a + window] = True
        if grey is None:
            grey = frames.mean(axis=-1, dtype=np.float32)
        inside = _inside((x0, y0, x1, y1), h, w)
        ix = np.clip(np.minimum(rects[:, 2], x1) - np.maximum(rects[:, 0], x0), 0, None)
        iy = np.clip(np.minimum(rects[:, 3], y1) - np.maximum(rects[:, 1], y0), 0, None)
        area = (rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1])
        motions = _motions(grey, np.flatnonzero(held[:-1] & held[1:]), inside)
        if not _moves_on_its_own(grey, motions, inside):
            # lines in one moving picture, or an overlay: so are the rectangles mostly the same as
            # it (one side moved); a true inset may still lie inside it
            left &= ~same[best] & (ix * iy <= 0.7 * (area + (x1 - x0) * (y1 - y0) - ix * iy))
            continue
        # the next is another picture: not one mostly inside this one's rectangle
        left &= ~same[best] & (ix * iy < 0.5 * area)
        out.append(_inside(_settle(grey, motions, *_cumulative(vert[held].mean(axis=0), horiz[held].mean(axis=0)),
                                   (x0, y0, x1, y1)), h, w))
    return out


def _inside(border: tuple[int, int, int, int], h: int, w: int) -> tuple[int, int, int, int]:
    """The inside of a rectangle whose sides are on columns and rows ``border`` (a softened
    border's 2 pixels off), or from the frame's edge, end exclusive."""
    x0, y0, x1, y1 = border
    return (x0 + 2 if x0 > 0 else 0, y0 + 2 if y0 > 0 else 0, x1 - 1 if x1 < w - 1 else w, y1 - 1 if y1 < h - 1 else h)


def scan(frames: np.ndarray, window: int = INDEX_WINDOW, chunk: int = CHUNK) -> list[tuple[int, int, int, int]]:
    """:func:`insets` of a whole video's ``frames`` (an array or a memory map), ``chunk`` frames at
    a time (overlapping by a stretch): the rectangles most chunks find first."""
    groups: list[list[tuple[int, int, int, int]]] = []
    for a in range(0, max(1, len(frames) - window + 1), chunk - window):
        for r in insets(np.asarray(frames[a:a + chunk]), window):
            group = next((g for g in groups if max(abs(x - y) for x, y in zip(g[0], r)) <= SAME), None)
            if group is None:
                groups.append([r])
            else:
                group.append(r)
    return [g[0] for g in sorted(groups, key=len, reverse=True)[:MAX_INSETS]]


def alone(frames: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    """The picture inside ``rect`` of every frame, scaled up (aspect kept) into the frame's size,
    centred on black."""
    x0, y0, x1, y1 = rect
    h, w = frames.shape[1:3]
    return np.stack([letterbox(refit(f[y0:y1, x0:x1], w, h), w, h) for f in frames])
