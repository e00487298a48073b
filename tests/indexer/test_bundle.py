"""Bundle publishing and the validating reader."""
import json
import shutil

import numpy as np
import pytest

from indexer import Code, VidatlasError, read_bundle
from indexer.bundle import write_bundle


@pytest.fixture
def copy(tmp_path, atlas):
    out = tmp_path / "atlas"
    shutil.copytree(atlas, out, ignore=shutil.ignore_patterns(".work"))
    return out


def test_reader_follows_current_and_opens_a_version_directly(copy):
    b = read_bundle(copy)
    assert read_bundle(b.path).version == b.version
    assert len(b.frames) == b.manifest["counts"]["frames"]
    assert b.frames[len(b.frames) - 1].shape == (*b.manifest["thumb_shape"], 3)
    with pytest.raises(VidatlasError) as err:
        b.frames[len(b.frames)]
    assert err.value.code is Code.NOT_FOUND


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete", "segment"])
def test_damaged_bundles_are_refused(copy, damage):
    root = read_bundle(copy).path
    target = root / "codes.npy"
    if damage == "flip_byte":
        data = bytearray(target.read_bytes())
        data[-1] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-8])
    elif damage == "delete":
        target.unlink()
    else:
        next((root / "thumbs").iterdir()).unlink()
    with pytest.raises(VidatlasError) as err:
        read_bundle(copy)
    assert err.value.code is Code.DATA_LOSS


def test_unknown_format_version_is_refused(copy):
    root = read_bundle(copy).path
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["format_version"] = 999
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(VidatlasError, match="v999") as err:
        read_bundle(copy)
    assert err.value.code is Code.FAILED_PRECONDITION


def test_missing_bundle_and_bad_pointer(tmp_path, copy):
    with pytest.raises(VidatlasError) as err:
        read_bundle(tmp_path / "nothing")
    assert err.value.code is Code.FAILED_PRECONDITION
    (copy / "CURRENT").write_text("../../etc\n")
    with pytest.raises(VidatlasError, match="no valid version"):
        read_bundle(copy)


def test_failed_write_leaves_the_served_version_untouched(copy):
    before = read_bundle(copy)
    content = before.content
    content.thumbs = [copy / "thumbs-that-do-not-exist.npy"] * len(content.thumbs)
    with pytest.raises(OSError):
        write_bundle(copy, content)
    assert (copy / "CURRENT").read_text().strip() == before.path.name
    assert not [p for p in copy.iterdir() if p.name.startswith(".staging")]
    assert read_bundle(copy).version == before.version


def test_new_versions_share_thumbnails_by_hard_link(copy):
    before = read_bundle(copy)
    after_path = write_bundle(copy, before.content)
    assert after_path.name > before.path.name
    assert read_bundle(copy).version == after_path.name  # its own manifest, not the copied one
    a = next((before.path / "thumbs").iterdir())
    b = after_path / "thumbs" / a.name
    assert a.stat().st_ino == b.stat().st_ino
    np.testing.assert_array_equal(read_bundle(copy).content.codes, before.content.codes)


def test_approximate_frame_index_is_measured_against_exact_search(tmp_path):
    """Past EXACT_LIMIT frames the frame index is an IVF; the manifest records its recall@10
    against exact search, and that figure is what the index read back really gives."""
    from indexer.frameindex import EXACT_LIMIT, recall
    from testkit.bundles import synthetic_bundle
    videos = EXACT_LIMIT // 100 + 40
    bundle = read_bundle(synthetic_bundle(tmp_path, videos, 100))
    recorded = bundle.manifest["frame_index"]
    assert recorded["kind"].startswith("IVF") and recorded["nprobe"] >= 1
    index = bundle.indexes["frames_features"]
    assert index.ivf is not None and index.ivf.nprobe == recorded["nprobe"]
    feats = bundle.content.features
    assert recall(index, feats) == pytest.approx(recorded["recall_at_10"], abs=1e-9)
    assert recorded["recall_at_10"] >= 0.9
    # and the measure can say no: one probe of many lists finds far fewer true neighbours
    index.ivf.nprobe = 1
    assert recall(index, feats) < recorded["recall_at_10"] - 0.1


def test_features_are_stored_unit_length_and_searched_without_a_copy(atlas):
    from query.search import Searcher
    bundle = read_bundle(atlas)
    assert bundle.manifest["features_unit"] is True
    assert bundle.content.features.dtype == np.float16  # half the bytes of float32, no second copy
    norms = np.linalg.norm(np.asarray(bundle.content.features, np.float64), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=2e-3)
    s = Searcher(bundle)
    assert isinstance(bundle.content.features, np.memmap) and np.shares_memory(s.feats, bundle.content.features)
