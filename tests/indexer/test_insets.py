"""Pictures inset into other footage are found (through a real H.264 encode and decode); pans
over photographs without an inset, logo boxes and rectangles in the filmed scene are not taken
for one."""
from __future__ import annotations

import json

import numpy as np
import pytest

from indexer import index, read_bundle
from indexer.decode import read_samples
from indexer.insets import _cumulative, _edges, _inside, _lines, _motions, _settle, insets
from indexer.insets import CHUNK as INSET_CHUNK, VERSION as INSETS_VERSION
from indexer.pipeline import _insets
from indexer.samples import pan, photo, write_video
from indexer.settings import SamplingSettings
from testkit.media import transform
from tests.conftest import FAST

SIZE = (192, 108)


def _thumbs(path, frames):
    _, thumbs, _ = read_samples(write_video(path, frames, fps=8, options={"crf": "30"}), SamplingSettings(fps=4))
    return thumbs


def _pip(inside, behind, box, frames=24, seed=3, zoom=0.7, behind_zoom=0.6):
    """``inside`` panned in ``box`` (x, y, width, height on the 192x108 frame) over ``behind`` panned."""
    x, y, w, h = box
    out = []
    for f, b in zip(pan(photo(inside), frames, (w, h), seed=seed, zoom=zoom),
                    pan(photo(behind), frames, SIZE, seed=seed + 1, zoom=behind_zoom)):
        g = b.copy()
        g[y:y + h, x:x + w] = f
        out.append(g)
    return out


def _pip_found(tmp_path, inside, behind, box, zoom, seed):
    """Whether ``inside`` panned in ``box`` over ``behind`` panned is found first, each side within 4 pixels."""
    x, y, w, h = box
    thumbs = _thumbs(tmp_path / "pip.mp4", _pip(inside, behind, box, seed=seed, zoom=zoom))
    found = insets(thumbs)
    assert found, "no inset found"
    sx, sy = thumbs.shape[2] / SIZE[0], thumbs.shape[1] / SIZE[1]  # the thumbnails are larger
    want = (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
    assert max(abs(a - b) for a, b in zip(found[0], want)) <= 4, (found, want)


@pytest.mark.parametrize("inside, behind, box, zoom", [
    ("astronaut", "chelsea", (20, 30, 120, 68), 0.7),   # x, y, width, height on the 192x108 frame
    ("camera", "coffee", (80, 10, 96, 54), 0.7),
    ("rocket", "grass", (0, 20, 110, 58), 0.7),         # at the frame's edge: one side not seen
    ("rocket", "grass", (30, 20, 110, 62), 0.97),       # a slow pan inside: frame pairs barely differ
])
def test_a_picture_inset_over_moving_footage_is_found(tmp_path, inside, behind, box, zoom):
    _pip_found(tmp_path, inside, behind, box, zoom, seed=3)


@pytest.mark.parametrize("behind", ["brick", "page"])
def test_an_inset_over_footage_full_of_lines_is_found(tmp_path, behind):
    """Bricks or lines of text behind make hundreds of rectangles of lines in every stretch of the
    clip; the inset's need not be among those a neighbouring stretch keeps, only show there."""
    _pip_found(tmp_path, "gravel", behind, (60, 30, 90, 52), 0.7, seed=1)


@pytest.mark.parametrize("start", ["half", "to the frame's edge", "its border"])
def test_a_side_settles_where_the_inside_and_the_picture_around_part(tmp_path, start):
    """Lines in an inset's own picture (a divider here), or none at all to the frame's edge, make
    rectangles with three of its sides and as much support as its own: from either, each side
    moves to the line where the inside's motion and the picture around's part; from its own
    border it stays."""
    x, y, w, h = 40, 24, 120, 68
    frames = _pip("astronaut", "chelsea", (x, y, w, h))
    for g in frames:
        g[y:y + h, x + w // 2] = 255  # a divider that stays put while the picture moves under it
    thumbs = _thumbs(tmp_path / "pip.mp4", frames)
    th, tw = thumbs.shape[1:3]
    sx, sy = tw / SIZE[0], th / SIZE[1]
    true = (round(x * sx) - 1, round(y * sy) - 1, round((x + w) * sx), round((y + h) * sy))  # its border's lines
    x0, y0, x1, y1 = true
    border = {"half": (x0, y0, round((x + w // 2) * sx), y1), "to the frame's edge": (x0, y0, tw - 1, y1),
              "its border": true}[start]
    grey = thumbs.mean(axis=-1, dtype=np.float32)
    vert, horiz = _lines(_edges(thumbs)[0]), _lines(_edges(thumbs)[1].transpose(0, 2, 1)).transpose(0, 2, 1)
    motions = _motions(grey, np.arange(len(thumbs) - 1), _inside(border, th, tw))
    settled = _settle(grey, motions, *_cumulative(vert.mean(axis=0), horiz.mean(axis=0)), border)
    assert max(abs(a - b) for a, b in zip(settled, true)) <= 3, (border, settled, true)


@pytest.mark.parametrize("name", ["brick", "coins", "page", "chelsea", "camera", "gravel", "grass"])
def test_a_pan_without_an_inset_has_none(tmp_path, name):
    assert insets(_thumbs(tmp_path / "pan.mp4", list(pan(photo(name), 24, SIZE, seed=5, zoom=0.6)))) == []


@pytest.mark.parametrize("name, seed", [("chelsea", 1), ("brick", 4), ("coins", 5), ("page", 1)])
def test_a_logo_box_over_a_pan_is_not_an_inset(tmp_path, name, seed):
    """An opaque box laid over moving footage has a border that stays put and the picture
    changing outside it, but nothing inside it moves."""
    frames = transform(list(pan(photo(name), 24, SIZE, seed=seed, zoom=0.6)), "logo", np.random.default_rng(seed))
    assert insets(_thumbs(tmp_path / "logo.mp4", frames)) == []


@pytest.mark.parametrize("name, seed", [("chelsea", 1), ("brick", 4)])
def test_a_logo_box_over_part_of_a_clip_is_not_an_inset(tmp_path, name, seed):
    """A logo shown over a copied piece only, between cuts to other footage: the inside changes
    across those cuts but not between them."""
    other = [list(pan(photo(p), 16, SIZE, seed=seed + k, zoom=0.6)) for k, p in ((10, "coffee"), (20, "grass"))]
    piece = transform(list(pan(photo(name), 24, SIZE, seed=seed, zoom=0.6)), "logo", np.random.default_rng(seed))
    assert insets(_thumbs(tmp_path / "logo.mp4", other[0] + piece + other[1])) == []


@pytest.mark.parametrize("name, zoom", [("chelsea", 0.9), ("coffee", 0.8), ("grass", 0.7)])
def test_a_frame_in_the_filmed_scene_is_not_an_inset(tmp_path, name, zoom):
    """A window or a painting that a slow pan passes over keeps its lines nearly in place, with
    the picture changing either side; it moves with the picture around it, not on its own."""
    image = photo(name).copy()
    h, w = image.shape[:2]
    inner = image[int(h * .3):int(h * .7), int(w * .3):int(w * .7)]
    inner[[0, 1, -2, -1]] = 255
    inner[:, [0, 1, -2, -1]] = 255
    assert insets(_thumbs(tmp_path / "scene.mp4", list(pan(image, 24, SIZE, seed=1, zoom=zoom)))) == []


def test_a_still_picture_with_a_frame_in_it_has_none(tmp_path):
    """A window or a painting in a still shot is a rectangle that stays put, but nothing moves
    either side of it."""
    still = next(iter(pan(photo("chelsea"), 1, SIZE, seed=6)))
    still[20:90, 40:150][[0, -1]] = 255
    still[20:90, 40:150][:, [0, -1]] = 255
    assert insets(_thumbs(tmp_path / "still.mp4", [still] * 24)) == []


def test_too_few_frames_have_none():
    assert insets(np.zeros((2, 126, 224, 3), np.uint8)) == []


def test_the_indexer_records_each_videos_insets_also_for_videos_cached_before(tmp_path):
    """``vidatlas index`` looks for insets on each video's sampled frames and records them with the
    video; a feature-cache entry written before insets were looked for, or by another version of
    the detector, gets them found again at the build."""
    x, y, w, h = 20, 30, 120, 68
    frames = _pip("astronaut", "chelsea", (x, y, w, h), frames=64, seed=2)
    write_video(tmp_path / "videos" / "pip.mp4", frames, fps=8, options={"crf": "30"})
    write_video(tmp_path / "videos" / "pan.mp4", list(pan(photo("chelsea"), 64, SIZE, seed=4, zoom=0.6)), fps=8)
    atlas = tmp_path / "atlas"

    def recorded(decoded: int) -> dict:
        report = index(tmp_path / "videos", atlas, FAST)
        assert report.exit_status == 0, report.summary()
        assert report.decoded == decoded
        return {r["id"]: r["insets"] for r in read_bundle(atlas).content.videos}
    first = recorded(decoded=2)
    assert first["pan"] == [] and len(first["pip"]) == 1
    sx, sy = SamplingSettings().thumb_width / SIZE[0], SamplingSettings().thumb_height / SIZE[1]
    want = (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
    assert max(abs(a - b) for a, b in zip(first["pip"][0], want)) <= 4, (first, want)
    def entries() -> dict:
        out = {}
        for entry in atlas.rglob("*.npz"):
            with np.load(entry) as z:
                out[entry] = dict(z)
        return out
    rewritten = 0
    for entry, members in entries().items():
        info = json.loads(members["info"].tobytes().decode())
        assert info["insets_version"] == INSETS_VERSION
        if rewritten == 0:  # as versions before insets cached them: none in the info
            del info["insets"], info["insets_version"]
        else:  # as another version of the detector found them: stale answers
            info["insets"], info["insets_version"] = [[0, 0, 10, 10]], INSETS_VERSION - 1
        np.savez(entry, **{**members, "info": np.frombuffer(json.dumps(info).encode(), np.uint8)})
        rewritten += 1
    assert rewritten == 2
    assert recorded(decoded=0) == first  # found from the cached thumbnails, not extracted again
    kept = [json.loads(m["info"].tobytes().decode()) for m in entries().values()]
    assert all(k["insets_version"] == INSETS_VERSION for k in kept)  # and kept, with this version


def test_a_long_video_is_scanned_in_chunks_and_keeps_the_inset_they_agree_on():
    """More sampled frames than ``INSET_CHUNK``: scanned a chunk at a time (memory stays bounded),
    the rectangle found in most chunks first."""
    x, y, w, h = 24, 36, 140, 78
    n = INSET_CHUNK + 40
    frames = []
    for f, b in zip(pan(photo("astronaut"), n, (w, h), seed=3, zoom=0.7), pan(photo("chelsea"), n, (224, 126), seed=4, zoom=0.6)):
        g = b.copy()
        g[y:y + h, x:x + w] = f
        frames.append(g)
    found = _insets(np.stack(frames))
    assert found and max(abs(a - b) for a, b in zip(found[0], (x, y, x + w, y + h))) <= 4, found
