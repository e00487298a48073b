"""One phase through a copied segment (query.phase): a copy's frames keep one line of time
against the video's, chance alignments of other footage do not."""
import numpy as np

from query import phase

FRAMES = 25  # pixel frames a slot (a clip at 25 fps, a bundle at 1 fps)


def _slots(peaks: list[float], slope: float = 1.0, low: float = 0.5, high: float = 0.95):
    """Agreement of 25 frames a slot (slot k: query seconds k..k+1) with the video frame at
    ``k / slope`` s: ``high`` at the frame ``peaks[k]`` seconds into the slot, ``low`` elsewhere."""
    n = len(peaks)
    agree = np.full((FRAMES * n, n), low, np.float32)
    times = [k + np.arange(FRAMES) / FRAMES for k in range(n)]
    groups = [np.arange(k * FRAMES, (k + 1) * FRAMES) for k in range(n)]
    for k, p in enumerate(peaks):
        agree[groups[k][np.argmin(np.abs(times[k] - k - p))], k] = high
    return agree, groups, times, np.arange(n) / slope


def test_a_copy_keeps_its_agreement_on_one_line():
    agree, groups, times, vt = _slots([0.2, 0.2, 0.2, 0.2])
    best, held = phase.held_agreement(agree, groups, times, vt)
    assert np.allclose(best, 0.95) and np.allclose(held, best)


def test_a_copy_at_another_speed_or_a_little_off_it_keeps_it_too():
    agree, groups, times, vt = _slots([0.2, 0.2, 0.2], slope=0.5)  # 2x faster: the video's frames 2 s apart
    assert np.allclose(phase.held_agreement(agree, groups, times, vt)[1], 0.95)
    agree, groups, times, vt = _slots([0.2, 0.32, 0.44, 0.56])  # 0.12 s a second off 1x
    assert np.allclose(phase.held_agreement(agree, groups, times, vt)[1], 0.95)
    agree, groups, times, vt = _slots([0.2, 0.44, 0.68, 0.92])  # 1.24x: on no speed the check knows
    assert np.isclose(phase.held_agreement(agree, groups, times, vt)[1], 0.95).sum() < 4


def test_peaks_at_unrelated_offsets_keep_one_of_them():
    agree, groups, times, vt = _slots([0.1, 0.8, 0.36, 0.04])
    best, held = phase.held_agreement(agree, groups, times, vt)
    assert np.allclose(best, 0.95) and np.isclose(held, 0.95).sum() <= 2, held
    lost = phase.loss(agree, groups, times, vt, used=best.astype(np.float64))
    assert np.isclose(lost, 0.45).sum() >= 2 and np.all(np.isclose(lost, 0) | np.isclose(lost, 0.45))


def test_only_pairs_the_search_compared_by_their_whole_pictures_lose():
    agree, groups, times, vt = _slots([0.1, 0.8, 0.36])
    best, _ = phase.held_agreement(agree, groups, times, vt)
    used = best.astype(np.float64) + np.array([0.0, 0.03, -0.95])  # a crop window's; not compared (0)
    assert phase.loss(agree, groups, times, vt, used)[1:].tolist() == [0.0, 0.0]


def test_a_pair_without_frames_keeps_its_best():
    agree, groups, times, vt = _slots([0.2, 0.2])
    groups[1], times[1] = groups[1][:0], times[1][:0]
    best, held = phase.held_agreement(agree, groups, times, vt)
    assert np.isnan(best[1]) and np.isnan(held[1]) and held[0] == best[0]
    assert phase.loss(agree, groups, times, vt, np.array([0.95, 0.7])).tolist() == [0.0, 0.0]


def test_a_path_meets_one_video_frame_a_slot_along_the_slope():
    ii, jj = phase.path(3, 6, 10, 16)  # 2x faster: two video frames a slot
    assert ii.tolist() == [3, 4, 5, 6] and jj.tolist() == [10, 12, 14, 16]
    ii, jj = phase.path(0, 4, 5, 7)  # slower: video frames repeat
    assert jj[0] == 5 and jj[-1] == 7 and np.all(np.diff(jj) >= 0) and len(jj) == 5
