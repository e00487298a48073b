"""Copied segments in FindSimilar: a short exact copy outranks a long loose resemblance, a query
with two copied pieces gets both back with their segments, matched ranges follow the copy's own
time (speed changes as slopes, never one frame), and duplicate groups come from the table."""
import dataclasses

import numpy as np
import pytest

from indexer import index, read_bundle
from indexer.samples import pan, photo, write_video
from indexer.pictures import Pictures, pixel_signature, signature_grid
from query.copies import crop_windows, local_align, pixel_agreement, register, scan_windows, segments, window_agreement
from query.neighbours import build, duplicate_groups
from query.search import SEGMENTS, WHOLE_VIDEO, Match, Searcher, rank_key
from query.settings import SearchSettings
from service.embed import ClipEmbedder
from service.settings import ServiceSettings
from testkit.media import hard_transform, rotate, transform
from tests.conftest import FAST, SCENES

FPS, SIZE = 8, (192, 108)
SCAN = (0.6, 0.67, 0.73, 0.8, 0.87, 0.93, 1.0)  # crop_scan_scales, off by default


@pytest.fixture(scope="module")
def searcher(atlas):
    return Searcher(read_bundle(atlas))


@pytest.fixture(scope="module")
def embed(searcher):
    embedder = ClipEmbedder(ServiceSettings())

    def run(frames, path):
        clip = write_video(path, frames, fps=FPS, options={"crf": "30"})
        return embedder.embed(searcher, clip.read_bytes(), dense=True)
    return run


def _video(name):
    """The frames ``tests.conftest`` indexed for ``name``: three 3 s pans."""
    return [f for ph, seed in SCENES[name] for f in pan(photo(ph), 3 * FPS, SIZE, seed)]


def _reshot(name, seconds, seed):
    """The places ``name`` shows, filmed again: other pans, another zoom."""
    rng = np.random.default_rng(seed)
    per = int(seconds * FPS) // len(SCENES[name])
    return [f for ph, _ in SCENES[name] for f in pan(photo(ph), per, SIZE, int(rng.integers(1 << 30)), zoom=0.5)]


def test_short_exact_copy_outranks_a_long_loose_match(searcher, embed, tmp_path):
    """9 s of a/harbour's places shot differently, then 3 s copied from the middle of a/museum:
    a/museum is the answer, with a segment on the copied piece at its own time."""
    query = _reshot("a/harbour", 9, seed=1) + _video("a/museum")[3 * FPS:6 * FPS]
    q = embed(query, tmp_path / "q.mp4")
    assert q.times[-1] - q.times[0] >= 10.5
    res = searcher.similar(q, 5)
    top = res[0]
    assert top.video_id == "a/museum", [(m.video_id, m.score) for m in res]
    seg = top.segments[0]
    assert 8.0 <= seg.query_start_s < seg.query_end_s <= 12.0  # on the copied piece
    assert 2.0 <= seg.start_s < seg.end_s <= 6.5                 # at the source's time (3-6 s)
    loose = {m.video_id: m for m in res}.get("a/harbour")
    assert loose is None or loose.copy_score < top.copy_score


def test_results_called_a_copy_rank_before_the_rest():
    """Segments mode's order: a copy (called) before a stronger resemblance that is not one."""
    loose, short, other = (Match(v, score, 0, 1, 0, 1, copy_score=c, is_copy=c >= 0.57)
                           for v, score, c in (("loose", 0.8, 0.5), ("short", 0.6, 0.7), ("other", 0.1, 0.0)))
    for called_first, order in ((True, ["short", "loose", "other"]), (False, ["loose", "short", "other"])):
        ranked = sorted([other, loose, short], key=lambda m: rank_key(m, called_first))
        assert [m.video_id for m in ranked] == order


def test_the_search_ranks_its_called_results_first(searcher, embed, tmp_path):
    """With ``called_first`` (off by default), whatever the threshold, a search's called results
    come first, each group in score order."""
    q = embed(_reshot("a/harbour", 9, seed=1) + _video("a/museum")[3 * FPS:6 * FPS], tmp_path / "q.mp4")
    k = len(searcher.ids)
    plain = Searcher(searcher.bundle, dataclasses.replace(searcher.settings, called_first=False)).similar(q, k)
    copy = {m.video_id: m.copy_score for m in plain}
    for t in sorted({c for c in copy.values() if c > 0}):
        res = Searcher(searcher.bundle, dataclasses.replace(searcher.settings, copy_threshold=t, called_first=True)).similar(q, k)
        assert sorted(m.video_id for m in res) == sorted(copy)
        assert [m.is_copy for m in res] == sorted((m.is_copy for m in res), reverse=True), t
        for called in (True, False):
            assert [m.video_id for m in res if m.is_copy is called] == \
                [m.video_id for m in plain if (copy[m.video_id] >= t) is called], (t, called)


def test_two_copied_pieces_come_back_as_two_results_with_segments(searcher, embed, tmp_path):
    pieces = {"a/museum": _video("a/museum")[4 * FPS:7 * FPS], "b/lab": _video("b/lab")[1 * FPS:4 * FPS]}
    query = _reshot("a/harbour", 3, 2) + pieces["a/museum"] + _reshot("a/harbour", 3, 3) + pieces["b/lab"]
    q = embed(query, tmp_path / "q.mp4")
    res = searcher.similar(q, 5)
    top2 = {m.video_id: m for m in res[:2]}
    assert set(top2) == set(pieces), [(m.video_id, m.score) for m in res]
    museum, lab = top2["a/museum"].segments[0], top2["b/lab"].segments[0]
    assert museum.query_end_s <= 6.5 and lab.query_start_s >= 8.0  # each segment on its own piece
    assert all(m.segments for m in top2.values())


def test_a_faster_copy_matches_along_a_slope(searcher, embed, tmp_path):
    q = embed(transform(_video("b/lab"), "faster"), tmp_path / "q.mp4")
    for mode in (SEGMENTS, WHOLE_VIDEO):
        top = searcher.similar(q, 3, mode)[0]
        assert top.video_id == "b/lab"
    seg = searcher.similar(q, 3)[0].segments[0]
    q_span, v_span = seg.query_end_s - seg.query_start_s, seg.end_s - seg.start_s
    assert q_span >= 2.0 and 1.5 <= v_span / q_span <= 2.5  # 2x speed: twice the video time


def test_matched_ranges_follow_a_distorted_copy(searcher, clips, tmp_path):
    """make demo's carphone case: the distorted clip's frames are not all matched to one frame."""
    q = ClipEmbedder(ServiceSettings()).embed(searcher, clips["carphone_distorted"].read_bytes(), dense=True)
    for mode in (SEGMENTS, WHOLE_VIDEO):
        top = searcher.similar(q, 3, mode)[0]
        assert top.video_id == "real/carphone_pristine"
        assert top.end_s - top.start_s >= 0.5 * (top.query_end_s - top.query_start_s) > 0, (mode, top)
        # the distortion (blocks, noise) costs it its backbone features, not its pictures' detail
        assert top.is_copy, (mode, top.copy_score)


def test_whole_video_mode_keeps_the_reordered_twin_below_the_copy(searcher, embed, tmp_path):
    q = embed(transform(_video("b/quarry"), "reencoded"), tmp_path / "q.mp4")
    for mode in (SEGMENTS, WHOLE_VIDEO):
        ids = [m.video_id for m in searcher.similar(q, 5, mode)]
        assert ids[0] == "b/quarry" and "b/quarry_reordered" in ids[1:], (mode, ids)


def test_local_alignment_finds_diagonals_and_never_stalls():
    """A synthetic similarity matrix: an exact diagonal (query 2-5 <-> video 10-13) and a 2x slope
    (query 8-11 <-> video 0-6) in noise below the threshold."""
    rng = np.random.default_rng(0)
    sim = rng.uniform(0.0, 0.4, (1, 14, 16)).astype(np.float32)
    for i in range(4):
        sim[0, 2 + i, 10 + i] = 0.95
        sim[0, 8 + i, 2 * i] = 0.9
    local = local_align(sim, 0.6)
    t = np.arange(16, dtype=float)
    found = segments(local, 0, t[:14], t, 1.0, 0.6, 1.5, 4, 0.05)
    spans = sorted((s.query_start_s, s.query_end_s, s.start_s, s.end_s) for s in found)
    assert spans == [(2, 5, 10, 13), (8, 11, 0, 6)]


def test_query_frames_piled_onto_one_video_frame_are_not_seconds_of_copy():
    """Five query frames all matching one video frame (a still moment of other footage over a
    pan) at the similarity five frames matching along the diagonal have: the diagonal is
    credited with its length, the pile with little more than the one frame it shows."""
    sim = np.full((2, 8, 8), 0.1, np.float32)
    sim[0, 1:6, 3] = 0.95
    sim[1, np.arange(1, 6), np.arange(1, 6)] = 0.95
    local = local_align(sim, 0.6)
    t = np.arange(8, dtype=float)
    pile, diagonal = (segments(local, row, t, t, 1.0, 0.6, 1.5, 4, 0.0)[0] for row in (0, 1))
    assert (diagonal.query_end_s - diagonal.query_start_s, diagonal.end_s - diagonal.start_s) == (4, 4)
    assert pile.start_s == pile.end_s == 3 and pile.query_end_s - pile.query_start_s >= 3
    assert pile.score < 0.8 * diagonal.score, (pile, diagonal)


def test_a_long_pile_onto_one_video_frame_is_weaker_than_a_short_diagonal():
    """Eight query frames piled onto one video frame (a dark or smooth picture is alike for a
    long time) gain more in all than four along the diagonal; strength, which ranks, credits the
    pile at most 2.5x the one frame it shows (the copy score only that frame)."""
    sim = np.full((2, 10, 10), 0.1, np.float32)
    sim[0, 1:9, 3] = 0.95
    sim[1, np.arange(1, 5), np.arange(1, 5)] = 0.95
    local = local_align(sim, 0.6)
    assert local.h[0].max() > local.h[1].max()  # the pile gains more
    t = np.arange(10, dtype=float)
    pile, diagonal = (segments(local, row, t, t, 1.0, 0.6, 1.5, 4, 0.0)[0] for row in (0, 1))
    assert pile.query_end_s - pile.query_start_s >= 6 and pile.start_s == pile.end_s == 3
    assert pile.strength < diagonal.strength, (pile, diagonal)


def test_a_run_at_another_speed_scores_the_moments_of_its_shorter_side():
    """Three query frames matching every other video frame (a 2x speed-up over 5 s of video, or two
    pans crossing one part of a photograph at different speeds) and three matching along the
    diagonal, at one similarity: the copy score is the same (three moments matched each), while
    the faster run's strength still credits the video's longer range."""
    sim = np.full((2, 8, 12), 0.1, np.float32)
    sim[0, np.arange(2, 5), 2 * np.arange(2, 5)] = 0.95
    sim[1, np.arange(2, 5), np.arange(2, 5)] = 0.95
    local = local_align(sim, 0.6)
    t = np.arange(12, dtype=float)
    fast, diagonal = (segments(local, row, t[:8], t, 1.0, 0.6, 1.5, 4, 0.0)[0] for row in (0, 1))
    assert (fast.end_s - fast.start_s, diagonal.end_s - diagonal.start_s) == (4, 2)
    assert fast.score == pytest.approx(diagonal.score)
    assert fast.strength == pytest.approx(diagonal.strength)


def test_indexed_videos_and_clips_are_called_copies_at_their_own_thresholds(searcher, embed, tmp_path):
    """A query by id (the bundle's 1 fps samples) is judged by ``indexed_copy_threshold``, a clip
    (its every frame) by ``copy_threshold``: the same copy score is a copy under one and not the
    other."""
    by_id = searcher.query_for_video("b/quarry")
    clip = embed(_video("b/quarry"), tmp_path / "q.mp4")
    for q, own, other in ((by_id, "indexed_copy_threshold", "copy_threshold"),
                          (clip, "copy_threshold", "indexed_copy_threshold")):
        score = max(m.copy_score for m in searcher.similar(q, 5))
        assert 0.1 < score < 0.99, score
        for mine, verdict in ((score - 0.01, True), (score + 0.01, False)):
            s = Searcher(searcher.bundle, dataclasses.replace(searcher.settings, **{own: mine, other: 1.0 - mine}))
            assert any(m.is_copy for m in s.similar(q, 5)) is verdict, (own, mine, score)
            assert s.copy_threshold_for(q) == pytest.approx(mine)


def test_duplicate_groups_come_from_the_table(searcher, monkeypatch):
    table = build(searcher)
    monkeypatch.setattr(searcher, "similar", lambda *a, **k: pytest.fail("duplicates must not search"))
    groups = duplicate_groups(searcher.ids, table, searcher.settings.indexed_copy_threshold)
    together = [g for g in groups if "b/quarry" in g.videos]
    assert together and "b/quarry_reordered" in together[0].videos  # they share two copied shots
    assert all(len(g.videos) >= 2 for g in groups)
    assert not any(v.startswith("c/") for g in groups for v in g.videos)  # noise and flashes copy nothing
    for g in groups:
        assert all(c >= searcher.settings.indexed_copy_threshold and segs for _, _, c, segs in g.pairs)


# -- pixel signatures: what tells a copy from another shot of the same place -------------------

def _thumbs(frames):
    """Frames as the bundle's 224x126 thumbnails."""
    import av
    return np.stack([av.VideoFrame.from_ndarray(f, format="rgb24").reformat(width=224, height=126)
                     .to_ndarray(format="rgb24") for f in frames])


def _agreement(query_frames, video_frames, scales=(1.0,)):
    q, v = pixel_signature(_thumbs(query_frames)), pixel_signature(_thumbs(video_frames), scales)
    return pixel_agreement(q, v, *signature_grid(126, 224))


def test_a_copy_agrees_whatever_its_brightness_colour_size_or_mirror_image():
    frames = list(pan(photo("chelsea"), 3, (192, 108), seed=4))
    for kind in ("greyscale", "brighter", "downscaled", "mirrored"):
        a = _agreement(transform(frames, kind), frames)
        assert np.diag(a).min() > 0.9, kind
        assert (a - np.eye(len(frames)) * 2).max() < np.diag(a).min(), kind  # the copied frame, not a neighbour


def test_a_crop_agrees_at_its_scale_and_a_logo_spoils_one_tile_only():
    frames = list(pan(photo("astronaut"), 3, (192, 108), seed=5))
    cropped = transform(frames, "cropped")  # ~80 % of the picture, centred
    assert np.diag(_agreement(cropped, frames)).max() < 0.6          # the whole picture: another framing
    assert np.diag(_agreement(cropped, frames, (1.0, 0.9, 0.8))).min() > 0.8  # its central 80 %: the copy
    assert np.diag(_agreement(transform(frames, "logo"), frames)).min() > 0.9


def test_a_caption_band_does_not_spoil_the_agreement():
    """Burnt-in subtitles (a dark band with bright marks over the bottom fifth) spoil the bottom
    tiles only: the copy still agrees almost fully, another shot of the place does not."""
    frames = list(pan(photo("astronaut"), 3, (192, 108), seed=5))
    captioned = hard_transform(frames, "subtitled", np.random.default_rng(2))
    assert np.diag(_agreement(captioned, frames)).min() > 0.9
    assert np.diag(_agreement(list(pan(photo("astronaut"), 3, (192, 108), seed=9)), frames)).max() < 0.3


def _off_centre(frames, top, bottom, left, right):
    """An off-centre crop that changes the aspect, scaled back to the full size (as copies are)."""
    import av
    h, w = frames[0].shape[:2]
    return [av.VideoFrame.from_ndarray(np.ascontiguousarray(f[round(h * top):h - round(h * bottom),
                                                                round(w * left):w - round(w * right)]), format="rgb24")
            .reformat(width=w, height=h).to_ndarray(format="rgb24") for f in frames]


@pytest.mark.parametrize("name, seed, crop", [("astronaut", 5, (0.03, 0.17, 0.16, 0.11)),
                                               ("coffee", 2, (0.19, 0.04, 0.05, 0.18))])
def test_an_off_centre_crop_is_registered_at_its_own_window(name, seed, crop):
    """No fixed grid of windows meets an off-centre crop closely enough for detail to line up;
    the pattern search from the grid's best finds the crop's window, fitted on three moments."""
    frames = list(pan(photo(name), 3, (192, 108), seed=seed))
    copy = _thumbs(_off_centre(frames, *crop))
    pictures = Pictures(_thumbs(frames))
    grid = signature_grid(126, 224)
    coarse = crop_windows((0.95, 0.85, 0.75, 0.65), (-0.06, 0.0, 0.06))
    q = pixel_signature(copy)
    start = window_agreement(q[:1], pictures.signature(coarse, [0])[0], *grid)[0]
    assert np.diag(pixel_agreement(q, pictures.signature(np.array([[0.0, 1, 0, 1]])), *grid)).max() < 0.7
    window, score = register([(q[i:i + 1], i) for i in range(3)], pictures, coarse[int(np.argmax(start))])
    truth = np.array([crop[0], 1 - crop[1], crop[2], 1 - crop[3]])
    assert np.abs(window[:4] - truth).max() < 0.025 and abs(window[4]) < 1, (window, truth)
    assert score > 0.9 and score > start.max() + 0.1
    # another photograph, registered the same way, stays far from a copy
    other = pixel_signature(_thumbs(list(pan(photo("rocket"), 3, (192, 108), seed=seed))))
    _, noise = register([(other[i:i + 1], i) for i in range(3)], pictures, coarse[int(np.argmax(start))])
    assert noise < 0.5


@pytest.mark.parametrize("name, seed, crop", [("rocket", 8, (0.18, 0.18, 0.18, 0.11)),
                                               ("chelsea", 34, (0.12, 0.06, 0.2, 0.07))])
def test_a_crop_is_registered_from_the_window_a_scan_at_every_position_finds(name, seed, crop):
    """The scan tries every width and height of a grid at every whole-cell position of the
    picture: its best window is within about a cell of the crop's own, close enough for the
    pattern search to finish there (these crops' best coarse window leads it elsewhere); another
    photograph finds nothing like it."""
    frames = list(pan(photo(name), 3, (192, 108), seed=seed))
    pictures = Pictures(_thumbs(frames))
    q = pixel_signature(_thumbs(_off_centre(frames, *crop)))
    scales = SCAN
    window, scanned = scan_windows(q[:1, 0], pictures, 0, scales)
    truth = np.array([crop[0], 1 - crop[1], crop[2], 1 - crop[3]])
    cell = max(1 / pictures.rows, 1 / pictures.cols)
    assert np.abs(window[:4] - truth).max() < 1.5 * cell and scanned > 0.8, (window, truth, scanned)
    window, score = register([(q[i:i + 1], i) for i in range(3)], pictures, window)
    assert np.abs(window[:4] - truth).max() < 0.025 and score > 0.95, (window, truth, score)
    other = pixel_signature(_thumbs(list(pan(photo("brick"), 3, (192, 108), seed=seed))))
    assert scan_windows(other[:1, 0], pictures, 0, scales)[1] < scanned - 0.3


@pytest.mark.parametrize("name, seed, degrees", [("chelsea", 3, 6.5), ("coffee", 8, -9.0)])
def test_a_rotated_copy_is_registered_at_its_turned_window(name, seed, degrees):
    """A copy rotated a few degrees (zoomed so that no corner is empty) agrees with no upright
    window; the coarse grid's turned windows and the pattern search find its angle and scale."""
    frames = list(pan(photo(name), 3, (192, 108), seed=seed))
    copy = _thumbs([rotate(f, degrees) for f in frames])
    pictures = Pictures(_thumbs(frames))
    grid = signature_grid(126, 224)
    q = pixel_signature(copy)
    upright = crop_windows((0.95, 0.85, 0.75, 0.65), (-0.06, 0.0, 0.06))
    st = SearchSettings()  # the served grid
    coarse = crop_windows(st.crop_search_scales, st.crop_search_shifts, st.crop_search_angles)
    assert window_agreement(q[:1], pictures.signature(upright, [0])[0], *grid).max() < 0.75
    start = window_agreement(q[:1], pictures.signature(coarse, [0])[0], *grid)[0]
    window, score = register([(q[i:i + 1], i) for i in range(3)], pictures, coarse[int(np.argmax(start))])
    a = np.deg2rad(abs(degrees))
    side = 1 / (np.cos(a) + np.sin(a) * 224 / 126)  # the share of the source a rotated copy shows
    assert abs(window[4] - degrees) < 1.0 and abs((window[1] - window[0]) - side) < 0.04, (window, degrees, side)
    assert score > 0.9


def test_an_off_centre_crop_inside_other_footage_is_found(searcher, embed, tmp_path):
    """3 s of a/museum cropped off-centre (aspect changed, scaled back) between other footage of
    places that other indexed videos show: found first, with its segment, and by the crop
    search, which the copy score shows (without it the piece scores lower)."""
    museum = _video("a/museum")
    piece = _off_centre(museum[3 * FPS + 4:6 * FPS + 4], 0.05, 0.16, 0.17, 0.04)
    other = [f for ph, seed in (("immunohistochemistry", 70), ("brick", 71)) for f in pan(photo(ph), 4 * FPS, SIZE, seed, zoom=0.6)]
    q = embed(other[:4 * FPS] + piece + other[4 * FPS:], tmp_path / "q.mp4")
    top = searcher.similar(q, 5)[0]
    assert top.video_id == "a/museum" and top.segments
    assert top.segments[0].query_start_s >= 3.5 and top.segments[0].query_end_s <= 7.5
    plain = Searcher(searcher.bundle, SearchSettings(crop_search_frames=0)).similar(q, 5)
    assert top.copy_score > max([m.copy_score for m in plain if m.video_id == "a/museum"], default=0.0) + 0.05


def test_a_clip_is_matched_at_its_every_frame_whatever_the_phase(searcher, embed, tmp_path):
    """A copy of b/lab starting 3 frames (0.375 s) after a sampled frame: its features are sampled
    at 4 fps, its pixel signatures at every frame, so each of the source's sampled frames in the
    copy meets its very picture."""
    q = embed(_video("b/lab")[3:6 * FPS + 3], tmp_path / "q.mp4")
    assert len(q.pixel_times) == 6 * FPS and len(q.times) < len(q.pixel_times)
    v = searcher.video_row("b/lab")
    a = pixel_agreement(q.pixels, searcher.pixels(v), *signature_grid(*searcher.bundle.frames.shape))
    inside = (searcher.frame_time[searcher.offsets[v]:searcher.offsets[v + 1]] >= 1) & \
        (searcher.frame_time[searcher.offsets[v]:searcher.offsets[v + 1]] <= 6)
    best = a.max(axis=0)[inside]
    assert len(best) >= 5 and best.min() > 0.95, best


OTHER_SCALES = SearchSettings(crop_scales=(1.0, 0.85))  # not the bundle's stored ones: computed from thumbnails


def test_stored_pixel_signatures_are_those_computed_from_thumbnails(atlas):
    """The bundle's pixels.npy holds, bit for bit, what the thumbnails give; a bundle without it
    (written before it existed) computes them, and the answers are the same."""
    bundle = read_bundle(atlas)
    assert bundle.pixels is not None and bundle.manifest["pixel_scales"] == list(SearchSettings().crop_scales)
    stored, computed = Searcher(bundle), Searcher(dataclasses.replace(bundle, pixels=None))
    for v in range(len(stored.ids)):
        np.testing.assert_array_equal(stored.pixels(v), computed.pixels(v))
    assert not stored._pixels and len(computed._pixels) == len(stored.ids)  # read, not computed and cached
    q = stored.query_for_video(stored.ids[0], 1.0, 4.0)
    assert stored.similar(q, 5) == computed.similar(q, 5)
    other = Searcher(bundle, OTHER_SCALES)  # other scales than stored: computed
    assert other.pixels(0).shape[1] == 2 and list(other._pixels) == [0]


def test_stored_self_agreement_is_that_computed_from_thumbnails(atlas):
    """pixel_self.npy holds each frame's Pictures.self_agreement (float16); a bundle without it
    computes it for an indexed query, and the answers are the same."""
    bundle = read_bundle(atlas)
    assert bundle.pixel_self is not None and len(bundle.pixel_self) == len(bundle.content.frame_video)
    np.testing.assert_array_equal(bundle.pixel_self, Pictures(bundle.frames.take(np.arange(len(bundle.pixel_self))))
                                  .self_agreement().astype(np.float16))
    stored, computed = Searcher(bundle), Searcher(dataclasses.replace(bundle, pixel_self=None))
    q = stored.query_for_video("a/museum", 2.0, 7.0)
    np.testing.assert_array_equal(stored._query_self_agreement(q), computed._query_self_agreement(q))
    assert stored.similar(q, 5) == computed.similar(q, 5)


def test_pixel_signatures_are_kept_within_their_budget(atlas):
    s = Searcher(read_bundle(atlas), dataclasses.replace(OTHER_SCALES, pixel_cache_mb=0))
    for v in range(3):
        s.pixels(v)
    assert list(s._pixels) == [2]  # only the newest video's: the budget holds no more
    assert s.pixels(0).shape[1] == len(s.settings.crop_scales)


def test_pixel_signatures_are_computed_for_the_frames_asked_for_only(atlas):
    """A search pays for the frames it compares, not for whole videos; what it gets is the same."""
    s = Searcher(read_bundle(atlas), OTHER_SCALES)
    whole = Searcher(read_bundle(atlas), OTHER_SCALES).pixels(1)
    assert s.pixels(1, np.zeros(len(whole), bool)).shape == (0, *whole.shape[1:])  # none asked for: none given
    s = Searcher(read_bundle(atlas), OTHER_SCALES)
    some = np.zeros(len(whole), bool)
    some[[0, 2, len(whole) - 1]] = True
    np.testing.assert_array_equal(s.pixels(1, some), whole[some])
    assert s._pixels[1][1].sum() == 3  # only those three were computed
    np.testing.assert_array_equal(s.pixels(1, np.array([2, 1, 2])), whole[[2, 1, 2]])
    assert s._pixels[1][1].sum() == 4
    np.testing.assert_array_equal(s.pixels(1), whole)
    assert s._pixels[1][1].all()


def test_tiny_thumbnails_give_finite_signatures_at_every_scale():
    """Synthetic bundles keep 4x4 thumbnails: a 70 % part of them is smaller than the grid."""
    rng = np.random.default_rng(0)
    thumbs = rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    sig = pixel_signature(thumbs, (1.0, 0.9, 0.8, 0.7))
    assert sig.shape == (3, 4, 16) and np.isfinite(sig.astype(np.float32)).all()
    # the crop search's scan keeps to windows whose cells are a pixel at least: here the whole picture
    window, score = scan_windows(sig[:1, 0].astype(np.float32), Pictures(thumbs), 0, SCAN)
    assert np.array_equal(window, [0, 1, 0, 1, 0]) and np.isfinite(score)


def test_a_smooth_picture_agrees_with_itself_a_cell_off():
    """A colour wheel's detail still agrees with itself moved by a cell; a photograph's does not."""
    smooth = Pictures(_thumbs(list(pan(photo("colorwheel"), 4, SIZE, seed=1)))).self_agreement()
    detailed = Pictures(_thumbs(list(pan(photo("coffee"), 4, SIZE, seed=1)))).self_agreement()
    assert smooth.min() > 0.75 and detailed.max() < 0.5, (smooth, detailed)


def test_another_shot_of_a_smooth_picture_is_not_a_copy_but_its_copy_is(searcher, embed, tmp_path):
    """a/museum pans over a colour wheel (3-6 s), whose pictures agree almost as well a cell off:
    reshot (other pans, another zoom), its agreement falls short of a copy's by less than a
    detailed picture's would. With the shortfall counted by the query's self agreement the reshoot
    scores lower than without, while a re-encoded copy of the scene is still a copy."""
    rng = np.random.default_rng(3)
    reshoot = [f for _ in range(4) for f in pan(photo("colorwheel"), 2 * FPS, SIZE, int(rng.integers(1 << 30)),
                                                 zoom=float(rng.uniform(0.6, 0.9)))]
    q = embed(reshoot, tmp_path / "reshoot.mp4")
    assert np.median(q.self_agreement) > 0.75
    plain = Searcher(searcher.bundle, dataclasses.replace(searcher.settings, smooth_gain=0.0))
    score = {name: max((m.copy_score for m in s.similar(q, 10) if m.video_id == "a/museum"), default=0.0)
             for name, s in (("plain", plain), ("served", searcher))}
    assert score["plain"] > 0.3 and score["served"] < score["plain"] - 0.1, score
    copy = embed(_video("a/museum")[3 * FPS:6 * FPS], tmp_path / "copy.mp4")
    top = searcher.similar(copy, 3)[0]
    assert top.video_id == "a/museum" and top.is_copy, top


def test_footage_at_a_high_frame_rate_gets_no_copy_score_from_its_many_frames(searcher, tmp_path):
    """a/museum's places reshot at 25 fps (1.5 s pans at its zoom): every frame is one more try
    at lining up with a sampled frame, and slot by slot the best of 25 agree better than the best
    of 8 would. Held at one offset through a segment (query.phase), the copy score falls; a copy
    of a/museum converted to 25 fps (each frame held 25/8 times) keeps its own."""
    embedder = ClipEmbedder(ServiceSettings())
    free = Searcher(searcher.bundle, dataclasses.replace(searcher.settings, phase_min_score=1.0))

    def scores(frames, name):
        clip = write_video(tmp_path / f"{name}.mp4", frames, fps=25, options={"crf": "30"})
        q = embedder.embed(searcher, clip.read_bytes(), dense=True)
        return {label: max(m.copy_score for m in s.similar(q, 10) if m.video_id == "a/museum")
                for label, s in (("free", free), ("held", searcher))}
    rng = np.random.default_rng(2)
    reshoot = [f for ph, _ in SCENES["a/museum"] for _ in range(2)
               for f in pan(photo(ph), 37, SIZE, int(rng.integers(1 << 30)), zoom=float(rng.uniform(0.65, 0.75)))]
    other = scores(reshoot, "reshoot")
    assert other["held"] < other["free"] - 0.15, other
    src = _video("a/museum")
    copy = scores([src[int(t * FPS)] for t in np.arange(0, len(src) / FPS, 1 / 25)], "copy")
    assert copy["held"] >= copy["free"] - 0.01 and copy["held"] >= searcher.settings.copy_threshold, copy


def _cropped_piece_query(tmp_path, videos: dict, start: int, crop: tuple, other_photo: str):
    """A searcher over ``videos`` (name -> shots of 4 s: photograph, pan seed, zoom) and an
    embedded clip: 3 s of "src" from frame ``start`` cropped off-centre by ``crop`` (top, bottom,
    left, right), between 4 s pans of the immunohistochemistry picture and of ``other_photo``."""
    frames = {name: [f for ph, seed, zoom in spec for f in pan(photo(ph), 4 * FPS, SIZE, seed, zoom=zoom)]
              for name, spec in videos.items()}
    for name, f in frames.items():
        write_video(tmp_path / "videos" / f"{name}.mp4", f, fps=FPS)
    index(tmp_path / "videos", tmp_path / "atlas", FAST)
    s = Searcher(read_bundle(tmp_path / "atlas"))
    piece = _off_centre(frames["src"][start:start + 3 * FPS], *crop)
    other = [f for ph, seed in (("immunohistochemistry", 72), (other_photo, 82)) for f in pan(photo(ph), 4 * FPS, SIZE, seed, zoom=0.6)]
    clip = write_video(tmp_path / "q.mp4", other[:4 * FPS] + piece + other[4 * FPS:], fps=FPS, options={"crf": "30"})
    return s, ClipEmbedder(ServiceSettings()).embed(s, clip.read_bytes(), dense=True)


def test_a_crop_is_found_where_another_shot_of_its_picture_is_nearer_by_features(tmp_path):
    """A video showing one photograph in three shots, wider and closer; a 3 s off-centre crop of
    its wide shot (a closer view) inside other footage of that photograph. By features the
    video's close shots, and another video's, are nearer than the copied frames, so the crop
    search also starts where the video's frames line up in time with the clip's: the video is
    found first and called a copy, which starting from the nearest frames alone does not do."""
    s, q = _cropped_piece_query(tmp_path, {
        "src": [("chelsea", 1, 0.9), ("coffee", 2, 0.6), ("chelsea", 3, 0.5), ("rocket", 4, 0.6), ("chelsea", 5, 0.55)],
        "other1": [("chelsea", 11, 0.5), ("chelsea", 12, 0.6), ("chelsea", 13, 0.6)],
        "other2": [("astronaut", 21, 0.6), ("chelsea", 22, 0.5), ("coffee", 23, 0.5)]}, 4, (0.19, 0.17, 0.05, 0.18), "chelsea")
    top = s.similar(q, 3)[0]
    assert top.video_id == "src" and top.is_copy, (top.video_id, top.copy_score)
    nearest_only = Searcher(s.bundle, dataclasses.replace(s.settings, crop_diagonal_starts=0)).similar(q, 3)
    assert max([m.copy_score for m in nearest_only if m.video_id == "src"], default=0.0) < top.copy_score - 0.1


def test_a_crop_the_coarse_windows_lead_astray_is_found_from_the_scan(tmp_path):
    """A 3 s off-centre crop of a pan over the rocket (the crop of the unit test above, whose
    coarse window's pattern search ends elsewhere) inside other footage of the rocket: the crop
    search registers it from the scan's window too, so its source is found first and called a
    copy; from the coarse windows alone it scores far less."""
    s, q = _cropped_piece_query(tmp_path, {
        "src": [("astronaut", 1, 0.7), ("rocket", 8, 0.7), ("coffee", 3, 0.7)],
        "other1": [("rocket", 11, 0.6), ("chelsea", 12, 0.6), ("camera", 13, 0.6)],
        "other2": [("astronaut", 21, 0.6), ("rocket", 22, 0.5), ("coffee", 23, 0.5)]}, 4 * FPS + 2, (0.18, 0.18, 0.18, 0.11), "rocket")
    top = Searcher(s.bundle, dataclasses.replace(s.settings, crop_scan_scales=SCAN)).similar(q, 3)[0]
    assert top.video_id == "src" and top.is_copy, (top.video_id, top.copy_score)
    coarse_only = s.similar(q, 3)  # the served search: from the coarse windows only
    assert max([m.copy_score for m in coarse_only if m.video_id == "src"], default=0.0) < top.copy_score - 0.1
