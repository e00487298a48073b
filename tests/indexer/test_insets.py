"""Pictures inset into other footage are found (through a real H.264 encode and decode); pans
over photographs without an inset are not taken for one."""
from __future__ import annotations

import numpy as np
import pytest

from indexer.decode import read_samples
from indexer.insets import insets
from indexer.samples import pan, photo, write_video
from indexer.settings import SamplingSettings

SIZE = (192, 108)


def _thumbs(path, frames):
    _, thumbs, _ = read_samples(write_video(path, frames, fps=8, options={"crf": "30"}), SamplingSettings(fps=4))
    return thumbs


@pytest.mark.parametrize("inside, behind, box", [
    ("astronaut", "chelsea", (20, 30, 120, 68)),   # x, y, width, height on the 192x108 frame
    ("camera", "coffee", (80, 10, 96, 54)),
    ("rocket", "grass", (0, 20, 110, 58)),         # at the frame's edge: one side not seen
])
def test_a_picture_inset_over_moving_footage_is_found(tmp_path, inside, behind, box):
    x, y, w, h = box
    small = list(pan(photo(inside), 24, (w, h), seed=3, zoom=0.7))
    frames = []
    for f, b in zip(small, pan(photo(behind), 24, SIZE, seed=4, zoom=0.6)):
        g = b.copy()
        g[y:y + h, x:x + w] = f
        frames.append(g)
    thumbs = _thumbs(tmp_path / "pip.mp4", frames)
    found = insets(thumbs)
    assert found, "no inset found"
    sx, sy = thumbs.shape[2] / SIZE[0], thumbs.shape[1] / SIZE[1]  # the thumbnails are larger
    want = (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
    assert max(abs(a - b) for a, b in zip(found[0], want)) <= 4, (found, want)


@pytest.mark.parametrize("name", ["brick", "coins", "page", "chelsea", "camera"])
def test_a_pan_without_an_inset_has_none(tmp_path, name):
    assert insets(_thumbs(tmp_path / "pan.mp4", list(pan(photo(name), 24, SIZE, seed=5, zoom=0.6)))) == []


def test_a_still_picture_with_a_frame_in_it_has_none(tmp_path):
    """A window or a painting in a still shot is a rectangle that stays put, but nothing moves
    either side of it."""
    still = next(iter(pan(photo("chelsea"), 1, SIZE, seed=6)))
    still[20:90, 40:150][[0, -1]] = 255
    still[20:90, 40:150][:, [0, -1]] = 255
    assert insets(_thumbs(tmp_path / "still.mp4", [still] * 24)) == []


def test_too_few_frames_have_none():
    assert insets(np.zeros((2, 126, 224, 3), np.uint8)) == []
