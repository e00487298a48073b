"""Indexing end to end on real and synthetic videos: bundle, bad input, add, shards, resume."""
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from indexer import Code, VidatlasError, add, index, merge, read_bundle
from indexer.decode import read_samples
from indexer.digest import file_digest
from indexer.featurecache import FeatureCache
from indexer.mapmodel import MapModel
from indexer.insets import VERSION as INSETS_VERSION
from indexer.pipeline import VideoRows, fit_sample
from indexer.samples import scene_video
from tests.conftest import FAST, ODD, SCENES
from testkit.media import write_audio_only, write_huge_y4m

NV = 2 + len(SCENES) + len(ODD)  # videos in the shared collection


def test_bundle_holds_every_video_and_frame(atlas, collection):
    b = read_bundle(atlas)
    assert b.video_ids == sorted(["real/bikes", "real/carphone_pristine", *SCENES, *ODD])
    c = b.content
    n = len(c.frame_video)
    assert b.manifest["counts"] == {"videos": NV, "frames": n, "labels": 0, "failures": 0}
    assert c.codes.shape == (n, 2) and c.features.shape == (n, 256) and c.fingerprints.shape == (NV, 32, 2)
    assert np.linalg.norm(c.codes, axis=1).max() <= 1.0 + 1e-5  # stretched into the unit disk
    assert b.manifest["backbone"]["name"] == "efficientnet_lite0"
    assert len(b.manifest["backbone"]["weights_sha256"]) == 64
    assert (atlas / "CURRENT").read_text().strip() == b.path.name
    # frame rows are grouped by video and in time order within each
    assert np.all(np.diff(c.frame_video) >= 0)
    off = c.offsets
    for i in range(NV):
        assert np.all(np.diff(c.frame_time[off[i]:off[i + 1]]) > 0)
    # the frame store gives back exactly what decoding the video produces
    vid = b.video_ids.index("real/bikes")
    _, thumbs, _ = read_samples(collection / "real" / "bikes.mp4", FAST.sampling)
    np.testing.assert_array_equal(b.frames.take(range(off[vid], off[vid + 1])), thumbs)


def test_scenes_of_one_photo_land_together_on_the_map(atlas):
    """Frames of the same scene are closer on the map than frames of other scenes."""
    b = read_bundle(atlas)
    c = b.content
    ids = [b.video_ids[v] for v in c.frame_video]
    synthetic = [i for i, vid in enumerate(ids) if vid in SCENES]
    codes = c.codes[synthetic]
    labels = np.array([SCENES[ids[i]][min(2, int(c.frame_time[i] // 3))][0] for i in synthetic])  # photo name
    d = ((codes[:, None] - codes[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).mean() > 0.8


def _bad_inputs(root, clips):
    (root / "bad").mkdir()
    (root / "bad" / "empty.mp4").write_bytes(b"")
    (root / "bad" / "noise.mp4").write_bytes(np.random.default_rng(1).bytes(50_000))
    (root / "bad" / "shopping.mov").write_text("eggs, milk\n" * 40)
    data = clips["bikes"].read_bytes()
    (root / "bad" / "truncated.mp4").write_bytes(data[: len(data) // 3])
    write_huge_y4m(root / "bad" / "huge.y4m")
    write_audio_only(root / "bad" / "audio.m4a.mp4")
    (root / "notes.txt").write_text("not a video extension: passed over, not a failure")
    return {"bad/empty": "empty", "bad/noise": "not a readable video", "bad/shopping": "not a readable video",
            "bad/truncated": "not a readable video", "bad/huge": "exceeds the limit",
            "bad/audio.m4a": "no video stream"}


def test_bad_inputs_are_reported_and_the_rest_is_indexed(tmp_path, clips):
    root = tmp_path / "videos"
    scene_video(root / "good" / "one.mp4", [("coffee", 1), ("chelsea", 2)], size=(160, 96), fps=6, seconds=3)
    scene_video(root / "good" / "two.mp4", [("rocket", 3), ("coins", 4)], size=(160, 96), fps=6, seconds=3)
    expected = _bad_inputs(root, clips)
    report = index(root, tmp_path / "atlas", FAST)
    assert report.exit_status == 3
    assert report.other_files == 1
    failed = {f.video_id: f.reason for f in report.failures}
    assert set(failed) == set(expected)
    for vid, reason in expected.items():
        assert reason in failed[vid], (vid, failed[vid])
    b = read_bundle(tmp_path / "atlas")
    assert b.video_ids == ["good/one", "good/two"]
    assert {f["video_id"] for f in b.manifest["failures"]} == set(expected)
    assert "FAILED" in report.summary() and "bad/huge" in report.summary()


def test_nothing_indexable_is_an_error_and_publishes_nothing(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "x.mp4").write_bytes(b"\x00" * 10)
    with pytest.raises(VidatlasError) as err:
        index(tmp_path / "v", tmp_path / "atlas", FAST)
    assert err.value.code is Code.FAILED_PRECONDITION
    assert not (tmp_path / "atlas" / "CURRENT").exists()


def test_shards_then_merge_equal_a_single_run(tmp_path, collection, atlas):
    work = tmp_path / "shared-work"
    reports = [index(collection, tmp_path / "sharded", FAST, shard=(i, 3), work_dir=work) for i in range(3)]
    assert sum(r.videos for r in reports) == NV and all(r.bundle is None for r in reports)
    with pytest.raises(VidatlasError, match="has not finished"):
        merge(tmp_path / "sharded", 4, FAST, work_dir=work)
    t0 = time.monotonic()
    with pytest.raises(VidatlasError, match="4 of 4 missing"):  # --wait polls, then gives up
        merge(tmp_path / "sharded", 4, FAST, work_dir=work, wait_s=0.3, poll_s=0.05)
    assert time.monotonic() - t0 >= 0.3
    merged = merge(tmp_path / "sharded", 3, FAST, work_dir=work)
    a, b = read_bundle(atlas), read_bundle(merged.bundle)
    assert a.video_ids == b.video_ids
    for name in ("frame_time", "codes", "features", "fingerprints", "recon_error"):
        np.testing.assert_array_equal(getattr(a.content, name), getattr(b.content, name), err_msg=name)
    assert a.manifest["model_sha256"] == b.manifest["model_sha256"]


def test_past_fit_frames_the_map_is_fitted_on_a_sample_and_the_rest_placed_by_its_encoder(tmp_path, collection,
                                                                                          atlas):
    n = len(read_bundle(atlas).content.frame_time)
    settings = replace(FAST, map=replace(FAST.map, fit_frames=n // 2))
    b = read_bundle(index(collection, tmp_path / "atlas", settings, work_dir=tmp_path / "work").bundle)
    assert b.manifest["training"]["fit_frames"] == n // 2 and len(b.content.frame_time) == n
    assert read_bundle(atlas).manifest["training"]["fit_frames"] == n  # under the limit: every frame
    cache = FeatureCache(tmp_path / "work" / "features", b.manifest["extraction_key"])
    feats = np.concatenate([cache.features(v["content_hash"]) for v in b.content.videos])
    sample = fit_sample(n, settings.map)
    assert len(sample) == n // 2
    # the sampled frames are where a fit on them alone puts them
    np.testing.assert_array_equal(b.content.codes[sample], MapModel.fit(feats[sample], settings.map).codes)
    # every other frame is where the bundle's own map places it (as --add would)
    rest = np.setdiff1d(np.arange(n), sample)
    reduced, codes, _ = b.content.model.embed(feats[rest])
    np.testing.assert_allclose(b.content.codes[rest], codes, atol=1e-5)
    unit = reduced / np.linalg.norm(reduced, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(b.content.features[rest], np.float32), unit, atol=2e-3)
    # their reduced features were stacked on disk, not in memory, and the scratch file is gone
    assert not [p.name for p in (tmp_path / "work").rglob("placed*")]


def test_rerun_resumes_from_the_feature_cache(tmp_path, collection):
    out = tmp_path / "atlas"
    first = index(collection, out, FAST, shard=(0, 2))  # as if a run had stopped half-way
    second = index(collection, out, FAST)
    assert second.reused == first.videos and second.decoded == NV - first.videos
    third = index(collection, out, FAST)
    assert third.decoded == 0 and third.reused == NV
    versions = sorted(p.name for p in out.iterdir() if p.name.startswith("v"))
    assert len(versions) == 2  # each full run published a new version; the shard run none
    np.testing.assert_array_equal(read_bundle(out / versions[0]).content.codes,
                                  read_bundle(out / versions[1]).content.codes)


def _as_written_before_insets(version: Path) -> None:
    """A bundle version's records without ``insets``, as bundles were written before 2026-12-07."""
    path = version / "videos.json"
    path.write_text(json.dumps([{k: v for k, v in r.items() if k not in ("insets", "insets_version")}
                                for r in json.loads(path.read_text())]))
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["files"]["videos.json"] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
    (version / "manifest.json").write_text(json.dumps(manifest))


def test_add_embeds_new_videos_with_the_frozen_map(tmp_path, atlas):
    out = tmp_path / "atlas"
    shutil.copytree(atlas, out)
    insets = {r["id"]: r["insets"] for r in read_bundle(out).content.videos}
    _as_written_before_insets(read_bundle(out).path)
    old = read_bundle(out)
    assert not any("insets" in r for r in old.content.videos)
    new = tmp_path / "new"
    scene_video(new / "extra.mp4", [("astronaut", 40), ("moon", 41)], size=(192, 108), fps=8, seconds=3)
    labels = [{"video_id": "new/extra", "time_s": 1.0, "label": "space"}]
    report = add(new, out, FAST, labels=labels, prefix="new/")
    assert report.exit_status == 0 and report.decoded == 1
    b = read_bundle(out)
    assert b.version != old.version and b.manifest["base_version"] == old.version
    assert b.video_ids == sorted(old.video_ids + ["new/extra"])
    for vid in old.video_ids:  # old positions did not move
        i, j = old.video_ids.index(vid), b.video_ids.index(vid)
        np.testing.assert_array_equal(old.content.codes[old.content.offsets[i]:old.content.offsets[i + 1]],
                                      b.content.codes[b.content.offsets[j]:b.content.offsets[j + 1]])
    assert b.manifest["model_sha256"] == old.manifest["model_sha256"]
    # the videos carried over are given their insets, from the bundle's own thumbnails
    assert {r["id"]: r["insets"] for r in b.content.videos if r["id"] in insets} == insets
    assert [lb["label"] for lb in b.content.labels] == ["space"]
    assert read_bundle(old.path).version == old.version  # the old version is intact
    # adding the same folder again changes nothing but the version
    again = add(new, out, FAST, prefix="new/")
    assert again.decoded == 0 and len(read_bundle(out).video_ids) == len(b.video_ids)


def test_add_needs_an_existing_bundle(tmp_path, collection):
    with pytest.raises(VidatlasError) as err:
        add(collection, tmp_path / "none", FAST)
    assert err.value.code is Code.FAILED_PRECONDITION


def test_labels_are_stored_on_their_nearest_frames(tmp_path, atlas, collection):
    labels = [{"video_id": "a/harbour", "time_s": 4.2, "label": "cat"},
              {"video_id": "missing/video", "time_s": 1, "label": "x"}]
    report = index(collection, tmp_path / "atlas", FAST, labels=labels, work_dir=atlas / ".work")
    assert report.reused == NV  # a cache on another atlas is shared through --work-dir
    b = read_bundle(tmp_path / "atlas")
    [stored] = b.content.labels
    assert stored["label"] == "cat" and b.video_ids[b.content.frame_video[stored["frame"]]] == "a/harbour"
    assert b.content.frame_time[stored["frame"]] == 4.0
    assert any("missing/video" in w for w in report.warnings)


def test_results_do_not_depend_on_the_number_of_decode_workers(tmp_path, collection, atlas):
    from dataclasses import replace
    one = replace(FAST, sampling=replace(FAST.sampling, decode_workers=1, decode_threads=2))
    report = index(collection, tmp_path / "atlas", one)
    assert report.decoded == NV
    a, b = read_bundle(atlas), read_bundle(tmp_path / "atlas")
    np.testing.assert_array_equal(a.content.codes, b.content.codes)
    np.testing.assert_array_equal(a.frames.take(range(len(a.frames))), b.frames.take(range(len(b.frames))))


def test_add_reads_a_bundle_whose_map_settings_name_retired_fields():
    """A bundle written before a map setting was retired still takes ``--add``: its manifest's
    known map settings are kept, the retired one is ignored."""
    from dataclasses import asdict, replace

    from indexer.pipeline import _settings_of
    from indexer.settings import IndexSettings, MapSettings
    old_map = replace(MapSettings(), objective="seed", seed=7)
    manifest = {"sampling": asdict(FAST.sampling), "backbone": {"name": FAST.backbone.name},
                "map": {**asdict(old_map), "neighbour_weight": 1.0}}
    assert _settings_of(manifest, IndexSettings()).map == old_map


def test_a_bundles_insets_from_another_detector_version_are_found_again(atlas):
    """Carrying a bundle's videos into a new version (`index --add`) keeps their insets only
    when the detector that found them is this one; otherwise they are found again from the
    bundle's own thumbnails."""
    content = read_bundle(atlas).content
    fresh = [VideoRows.of_bundle(content, i).record for i in range(len(content.videos))]
    stale = replace(content, videos=[{**r, "insets": [[0, 0, 10, 10]], "insets_version": INSETS_VERSION - 1}
                                                 for r in content.videos])
    again = [VideoRows.of_bundle(stale, i).record for i in range(len(content.videos))]
    assert [r["insets"] for r in again] == [r["insets"] for r in fresh]
    assert all(r["insets_version"] == INSETS_VERSION for r in again)
    kept = replace(content, videos=[{**r, "insets": [[0, 0, 10, 10]]} for r in fresh])
    assert all(VideoRows.of_bundle(kept, i).record["insets"] == [[0, 0, 10, 10]] for i in range(len(fresh)))
