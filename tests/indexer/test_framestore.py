"""The frame store: thumbnails read back exactly, damaged segments refused with DATA_LOSS."""
from __future__ import annotations

import numpy as np
import pytest

from indexer.errors import Code, VidatlasError
from indexer.framestore import FrameStore, write_segment

SHAPE = (6, 10)
COUNTS = [5, 1, 7]


@pytest.fixture()
def store(tmp_path):
    rng = np.random.default_rng(0)
    thumbs = [rng.integers(0, 256, (n, *SHAPE, 3), dtype=np.uint8) for n in COUNTS]
    for i, t in enumerate(thumbs):
        write_segment(tmp_path / f"{i}.npy", t)
    return FrameStore(tmp_path, [f"{i}.npy" for i in range(len(COUNTS))], COUNTS, SHAPE), np.concatenate(thumbs)


@pytest.mark.parametrize("frames", [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [12, 0, 5, 5, 7, 3, 4],
                                    [2, 4, 6, 8, 10], [], [11]])
def test_any_frames_in_any_order_come_back_exactly(store, frames):
    fs, truth = store
    got = fs.take(frames)
    assert got.shape == (len(frames), *SHAPE, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, truth[frames])
    if frames:
        np.testing.assert_array_equal(fs[frames[-1]], truth[frames[-1]])


def test_frames_out_of_range_are_not_found(store):
    fs, _ = store
    for bad in ([13], [0, -1]):
        with pytest.raises(VidatlasError) as e:
            fs.take(bad)
        assert e.value.code == Code.NOT_FOUND


@pytest.mark.parametrize("damage", ["truncate", "reshape", "garbage", "missing"])
def test_a_damaged_segment_is_data_loss_and_the_others_still_read(store, tmp_path, damage):
    fs, truth = store
    path = tmp_path / "2.npy"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-7])
    elif damage == "reshape":
        np.save(path, np.zeros((COUNTS[2], SHAPE[1], SHAPE[0], 3), np.uint8))
    elif damage == "garbage":
        path.write_bytes(b"not a numpy file" * 40)
    else:
        path.unlink()
    with pytest.raises(VidatlasError) as e:
        fs.take([12])
    assert e.value.code == Code.DATA_LOSS and "2.npy" in str(e.value)
    np.testing.assert_array_equal(fs.take([0, 5]), truth[[0, 5]])
