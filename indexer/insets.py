"""Pictures inside pictures: a copy shrunk into a rectangle laid over other footage (picture in
picture, a video wall, a frame within the frame). Its features are the background's, so a clip
with an inset is also searched as the inset alone (``service.embed``).

An inset's border is a straight edge that stays put while both pictures move: found on the
share of a few consecutive frames in which each pixel is on a line (moving edges pass by, the
border stays), as the rectangle whose four sides (fewer where it touches the frame's edges)
are edges along most of their length, with the picture changing on both sides of each, and
kept when neighbouring stretches of the clip agree on it, and when the picture inside moves on
its own: a rectangle of lines in one panning picture (a logo box, a row of bricks that the pan
hardly moves) moves with the picture around it.
"""
from __future__ import annotations

import numpy as np

EDGE = 16            # colour step (0-255, largest channel) across a border, two pixels apart
WINDOW = 6           # consecutive frames whose lines are pooled (1.5 s at a clip's 4 fps)
SIDE = 0.75          # share of a side's length on a line (pooled over the stretch's frames)
MIN_SIZE = 0.25      # an inset spans at least this share of the width and of the height ...
MAX_AREA = 0.8       # ... and at most this share of the picture (more is a crop, not an inset)
CANDIDATES = 20      # strongest lines each way tried as sides
SPAN = 2             # stretches apart (at most) that must both find a rectangle
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


def _rectangles(vert: np.ndarray, horiz: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Rectangles ``(x0, y0, x1, y1, support, sides on the frame's edge)`` (a row each; x0..x1 and
    y0..y1 their border's columns and rows) whose every side is on a line along at least ``SIDE``
    of its length with the picture changing on both sides of it, from line maps across columns
    (``vert``: a vertical side at column x) and across rows (``horiz``) and the mean change
    between frames (``active``); the ``KEEP`` best supported (by their weakest side not on the
    frame's edge, which needs no line). At most one side on the frame's edge: two lines meeting
    at a corner are too common in pictures to be taken for an inset."""
    h, w = vert.shape
    cv = np.vstack([np.zeros((1, w)), np.cumsum(vert, axis=0)])  # (h+1, w)
    ch = np.hstack([np.zeros((h, 1)), np.cumsum(horiz, axis=1)])  # (h, w+1)
    av = np.vstack([np.zeros((1, w)), np.cumsum(active, axis=0)])
    ah = np.hstack([np.zeros((h, 1)), np.cumsum(active, axis=1)])
    xs = np.unique(np.r_[_strongest(cv, int(MIN_SIZE * h)), 0, w - 1])
    ys = np.unique(np.r_[_strongest(ch.T, int(MIN_SIZE * w)), 0, h - 1])
    x0, x1 = np.meshgrid(xs, xs, indexing="ij")
    y0, y1 = np.meshgrid(ys, ys, indexing="ij")
    okx, oky = (x1 - x0 >= MIN_SIZE * w), (y1 - y0 >= MIN_SIZE * h)
    X0, Y0 = np.meshgrid(x0[okx], y0[oky], indexing="ij")
    X1, Y1 = np.meshgrid(x1[okx], y1[oky], indexing="ij")
    X0, Y0, X1, Y1 = X0.ravel(), Y0.ravel(), X1.ravel(), Y1.ravel()
    span_y, span_x = (Y1 - Y0 + 1).astype(np.float32), (X1 - X0 + 1).astype(np.float32)

    def column(c, x):  # mean of cumulative map c along column x, rows Y0..Y1
        x = np.clip(x, 0, w - 1)
        return (c[Y1 + 1, x] - c[Y0, x]) / span_y

    def row(c, y):
        y = np.clip(y, 0, h - 1)
        return (c[y, X1 + 1] - c[y, X0]) / span_x

    sides = np.stack([column(cv, X0), column(cv, X1), row(ch, Y0), row(ch, Y1)])
    changing = np.stack([np.minimum(column(av, X - GAP), column(av, X + GAP)) for X in (X0, X1)]
                        + [np.minimum(row(ah, Y - GAP), row(ah, Y + GAP)) for Y in (Y0, Y1)])
    border = np.stack([X0 == 0, X1 == w - 1, Y0 == 0, Y1 == h - 1])
    on_edge = border.sum(axis=0)
    support = np.where(border, 1.0, np.where(changing >= ACTIVE, sides, 0.0)).min(axis=0)
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


def _moves_on_its_own(grey: np.ndarray, pairs: np.ndarray, rect: tuple[int, int, int, int]) -> bool:
    """Whether the inside of ``rect`` (``(x0, y0, x1, y1)``, end exclusive) in ``grey``
    (``(n, h, w)`` float32) between frames ``t`` and ``t + 1`` for ``t`` in ``pairs`` (where it
    was found) moves unlike the largest strip of
    picture beside it: the median over frame pairs of how much worse the strip's shift matches
    the inside than the inside's own shift is at least ``OWN_MOTION``. Pairs where neither
    moves say nothing (a still camera on both sides). An inside that does not change from the
    first to the last frame of the longest run of these pairs without a cut beside it (mean
    difference under ``FROZEN``) is an overlay, not a moving picture (a slow one changes little
    between two frames, but more over the run; an overlay over part of a clip appears at a cut)."""
    x0, y0, x1, y1 = rect
    h, w = grey.shape[1:]
    strips = [(0, 0, x0, h), (x1, 0, w, h), (0, 0, w, y0), (0, y1, w, h)]
    sx0, sy0, sx1, sy1 = max(strips, key=lambda s: (min(s[2] - s[0], s[3] - s[1]), (s[2] - s[0]) * (s[3] - s[1])))
    if min(sx1 - sx0, sy1 - sy0) < 8:
        sx0, sy0, sx1, sy1 = x0, y0, x1, y1  # no picture beside it to compare with: its own motion only
    ratios, cuts = [], []
    for t in pairs:
        a, b = grey[t], grey[t + 1]
        ia, ib = a[y0:y1, x0:x1], b[y0:y1, x0:x1]
        sa, sb = a[sy0:sy1, sx0:sx1], b[sy0:sy1, sx0:sx1]
        own, around = _shift(ia, ib), _shift(sa, sb)
        cuts.append(_residual(sa, sb, around) > CUT)
        if own != (0, 0) or around != (0, 0):
            ratios.append((_residual(ia, ib, around) + 1) / (_residual(ia, ib, own) + 1))
    # the longest run of consecutive pairs without a cut around the rectangle (an overlay shown
    # over part of a clip only appears at a cut): its inside must change from first to last
    calm = np.asarray(pairs)[~np.asarray(cuts, bool)]
    run = max(np.split(calm, np.flatnonzero(np.diff(calm) != 1) + 1), key=len)
    if len(run) and _residual(grey[run[0], y0:y1, x0:x1], grey[run[-1] + 1, y0:y1, x0:x1], (0, 0)) < FROZEN:
        return False  # an overlay that never changes (a logo, a caption box, a still picture)
    return not ratios or float(np.median(ratios)) >= OWN_MOTION


def insets(frames: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Rectangles ``(x0, y0, x1, y1)`` (the inside, end exclusive) of pictures inset into ``frames``
    (``(n, h, w, 3)`` RGB uint8, consecutive), at most ``MAX_INSETS``; empty when there is none
    (or fewer than ``WINDOW`` frames). A rectangle counts where two neighbouring stretches of
    the clip find it (content's lines move, a border does not); the one most stretches find is
    taken first, then the one with fewest sides on the frame's edge (a side there is not seen,
    only allowed), then the best supported."""
    n = len(frames)
    if n < WINDOW:
        return []
    gx, gy = _edges(frames)
    vert, horiz = _lines(gx), _lines(gy.transpose(0, 2, 1)).transpose(0, 2, 1)
    change = _step(frames[1:], frames[:-1])
    found = []
    for a in range(0, n - WINDOW + 1, max(1, WINDOW // 2)):  # stretches overlapping by half
        # a line's share of the stretch's frames: a border holds in all, a moving edge passes by
        r = _rectangles(vert[a:a + WINDOW].mean(axis=0), horiz[a:a + WINDOW].mean(axis=0),
                        change[a:a + WINDOW - 1].mean(axis=0))
        found.append(np.hstack([r, np.full((len(r), 1), a)]))  # and the stretch it holds in
    kept = []  # rectangles a neighbouring stretch also finds
    for i in range(len(found) - 1):
        for j in range(i + 1, min(len(found), i + 1 + SPAN)):
            near = np.abs(found[i][:, None, :4] - found[j][None, :, :4]).max(axis=2) <= SAME
            kept += [found[i][near.any(axis=1)], found[j][near.any(axis=0)]]
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
        x0, y0, x1, y1 = np.median(rects[group, :4], axis=0).round().astype(int)
        # inside the border (a softened border's 2 pixels), or from the frame's edge
        inside = (int(x0) + 2 if x0 > 0 else 0, int(y0) + 2 if y0 > 0 else 0,
                  int(x1) - 1 if x1 < w - 1 else w, int(y1) - 1 if y1 < h - 1 else h)
        held = np.zeros(n, bool)  # the frames of the stretches that found it
        for a in rects[group, 6].astype(int):
            held[a:a + WINDOW] = True
        if grey is None:
            grey = frames.mean(axis=-1, dtype=np.float32)
        ix = np.clip(np.minimum(rects[:, 2], x1) - np.maximum(rects[:, 0], x0), 0, None)
        iy = np.clip(np.minimum(rects[:, 3], y1) - np.maximum(rects[:, 1], y0), 0, None)
        area = (rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1])
        if not _moves_on_its_own(grey, np.flatnonzero(held[:-1] & held[1:]), inside):
            # lines in one moving picture, or an overlay: so are the rectangles mostly the same as
            # it (one side moved); a true inset may still lie inside it
            left &= ~same[best] & (ix * iy <= 0.7 * (area + (x1 - x0) * (y1 - y0) - ix * iy))
            continue
        # the next is another picture: not one mostly inside this one's rectangle
        left &= ~same[best] & (ix * iy < 0.5 * area)
        out.append(inside)
    return out
