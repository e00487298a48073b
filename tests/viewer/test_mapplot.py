"""The map picture: what is drawn, where, in which colour, and the command around it."""
import numpy as np
import pytest
from PIL import Image

from indexer import Code, VidatlasError, read_bundle
from indexer.errors import Exit
from vidatlas.cli import main as cli
from query.search import Searcher
from viewer.mapplot import MapSettings, render_map


@pytest.fixture(scope="module")
def searcher(atlas):
    return Searcher(read_bundle(atlas))


def drawn_path(plot, video_id) -> np.ndarray:
    ax = plot.figure.axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == f"path:{video_id}"]
    return np.asarray(line.get_xydata())


def check_path(searcher, plot, video_id):
    i = searcher.video_row(video_id)
    rows = np.arange(searcher.offsets[i], searcher.offsets[i + 1])
    order = np.argsort(searcher.frame_time[rows])
    xy = drawn_path(plot, video_id)
    np.testing.assert_allclose(xy, searcher.codes[rows][order], atol=1e-6)  # every frame, in time order
    chosen = next(c for c in plot.chosen if c.video_id == video_id)
    assert (np.diff(chosen.times) > 0).all()


def test_similar_draws_the_query_and_its_nearest_videos_in_time_order(searcher, tmp_path):
    plot = render_map(searcher.bundle, MapSettings(similar="a/harbour", k=3, width=1200, height=800), searcher)
    expected = [m.video_id for m in searcher.similar(searcher.query_for_video("a/harbour"), 3)]
    assert [c.video_id for c in plot.chosen] == ["a/harbour", *expected]
    for c in plot.chosen:
        check_path(searcher, plot, c.video_id)
    assert len(plot.figure.axes) == 1 + 4  # the map and one frame strip per path
    plot.save(tmp_path / "m.png")
    assert Image.open(tmp_path / "m.png").size == (1200, 800)


def test_dissimilar_draws_that_many_paths_with_frame_strips(searcher):
    plot = render_map(searcher.bundle, MapSettings(dissimilar=4, strip_frames=5), searcher)
    assert [c.video_id for c in plot.chosen] == [m.video_id for m in searcher.dissimilar(4)]
    strips = plot.figure.axes[1:]
    assert len(strips) == 4
    h, w = searcher.bundle.frames.shape
    for ax, c in zip(strips, plot.chosen):
        shown = ax.get_images()[0].get_array()
        assert shown.shape == (h, 5 * w + 4 * 4, 3)
        assert c.video_id in ax.get_title(loc="left")
        # the strip's first frame is the video's first frame
        np.testing.assert_array_equal(shown[:, :w], searcher.bundle.frames[int(c.frames[0])])


def isolated_frames(plot, codes, height, min_px=12):
    """Frames whose marker no other frame's overlaps and no legend or circle covers, picked from the layout
    this run's training produced (any correct map has some), with their pixel positions."""
    ax = plot.figure.axes[0]
    renderer = plot.figure.canvas.get_renderer()
    covers = [lg.get_window_extent(renderer).padded(4) for lg in [ax.get_legend(), *plot.figure.legends] if lg]
    xy = ax.transData.transform(codes)
    d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    # the dashed unit circle is drawn in a grey that a video colour can share
    px_per_unit = ax.transData.transform([[1.0, 0.0]])[0, 0] - ax.transData.transform([[0.0, 0.0]])[0, 0]
    on_circle = np.abs(np.hypot(*codes.T) - 1.0) * px_per_unit < 5
    keep = [f for f in range(len(xy)) if d[f].min() >= min_px and not on_circle[f]
            and not any(b.contains(*xy[f]) for b in covers)]
    return keep, np.column_stack([xy[:, 0], height - xy[:, 1]]).astype(int)


def colours_at(pixels, x, y, colours):
    """Which frame colours (alpha over white) appear in the 5x5 patch around a pixel."""
    patch = pixels[y - 2:y + 3, x - 2:x + 3].reshape(-1, 1, 3)  # grid lines may cross the centre
    over_white = 255 * (colours[:, 3:] * colours[:, :3] + (1 - colours[:, 3:]))
    return np.abs(patch - over_white[None]).max(-1).min(0) < 8, over_white


def test_frames_are_drawn_at_their_position_in_their_video_colour(searcher, tmp_path):
    plot = render_map(searcher.bundle, MapSettings(width=1000, height=1000, strips=False), searcher)
    plot.save(tmp_path / "m.png")
    pixels = np.asarray(Image.open(tmp_path / "m.png").convert("RGB"), np.float64)
    ax = plot.figure.axes[0]
    colours = ax.collections[0].get_facecolors()
    assert len(colours) == len(searcher.codes)
    frames, px = isolated_frames(plot, searcher.codes, 1000)
    assert len(frames) >= 5, "too few isolated frames to check the drawing"
    for f in frames:
        found, over_white = colours_at(pixels, *px[f], colours)
        # the frame's own colour is at its own position, and no other video's colour is
        assert found[f] and np.allclose(over_white[found], over_white[f]), (f, searcher.ids[searcher.frame_video[f]])
    # each frame has its own video's colour: frames of one video share one, videos differ
    per_video = {v: {tuple(c) for c in colours[searcher.frame_video == i]} for i, v in enumerate(searcher.ids)}
    assert all(len(c) == 1 for c in per_video.values())
    assert len({next(iter(c)) for c in per_video.values()}) == len(searcher.ids)
    groups = np.unique([tuple(c) for c in colours], axis=0)
    assert len(groups) == len(searcher.ids)  # one colour per video (fewer than 20 videos)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == searcher.ids


def test_colour_by_cluster_and_by_label(searcher, tmp_path):
    plot = render_map(searcher.bundle, MapSettings(colour_by="cluster"), searcher)
    d = ((searcher.codes[:, None] - searcher.centres[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(plot.frame_group, d.argmin(1))
    with pytest.raises(VidatlasError) as err:  # the suite's bundle has no labels
        render_map(searcher.bundle, MapSettings(colour_by="label"), searcher)
    assert err.value.code == Code.FAILED_PRECONDITION
    labels = ({"video_id": "a/harbour", "time_s": 0.0, "label": "cup"},
              {"video_id": "b/lab", "time_s": 4.0, "label": "cells"})
    plot = render_map(searcher.bundle, MapSettings(colour_by="label", labels=labels), searcher)
    assert plot.groups == ["cells", "cup"]
    a = searcher.offsets[searcher.video_row("a/harbour")]
    assert plot.groups[plot.frame_group[a]] == "cup"  # a labelled frame keeps its label
    with pytest.raises(VidatlasError) as err:
        render_map(searcher.bundle, MapSettings(colour_by="label", labels=({"video_id": "no/such", "time_s": 0.0,
                                                                           "label": "x"},)), searcher)
    assert err.value.code == Code.INVALID_ARGUMENT and "no/such" in str(err.value)


def test_colour_by_label_includes_labels_added_to_the_service(atlas, tmp_path):
    import json
    import shutil
    copy = tmp_path / "atlas"
    shutil.copytree(atlas, copy, ignore=shutil.ignore_patterns(".work"))
    (copy / "added-labels.jsonl").write_text(json.dumps({"video_id": "b/quarry", "time_s": 1.0, "label": "stone"}) + "\n")
    plot = render_map(read_bundle(copy), MapSettings(colour_by="label"))
    assert plot.groups == ["stone"]


def test_map_command(atlas, tmp_path, capsys):
    out = tmp_path / "x" / "map.png"
    assert cli(["map", "--bundle", str(atlas), "--out", str(out), "--dissimilar", "3", "--size", "900x600"]) == 0
    assert Image.open(out).size == (900, 600)
    assert "paths:" in capsys.readouterr().err
    assert cli(["map", "--bundle", str(atlas), "--out", str(out), "--similar", "no/such"]) == Exit.NOT_FOUND
    assert "unknown video id" in capsys.readouterr().err
    assert cli(["map", "--bundle", str(tmp_path / "none"), "--out", str(out)]) == Exit.FAILED_PRECONDITION
    assert "no bundle" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli(["map", "--bundle", str(atlas), "--size", "big"])
    assert exit_.value.code == 2
