"""How long pictures take: a poster (thumbnails and full resolution), the map PNG and the HTML
viewer, on a real bundle of many frames.

    python bench/pictures.py --quick            # ~300 frames (the test suite runs this)
    python bench/pictures.py --write            # 10k frames (400 s of 720p25 H.264 sampled at 25 fps)

The bundle is indexed here from generated 720p25 H.264 videos (pans over scikit-image photos with
film grain; libx264 veryfast crf 20, keyframe every 2 s, 3 B-frames), so that full-resolution
posters re-read real 720p sources. The baseline for each poster is the same poster made the naive
way in the same run: nearest frames by brute force and every tile resized again, even repeats.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import table, write_section  # noqa: E402
from indexer import IndexSettings, MapSettings, SamplingSettings, index, read_bundle  # noqa: E402
from indexer.samples import pan, photo, write_video  # noqa: E402
from query.search import Searcher  # noqa: E402
from viewer.mapplot import MapSettings as PlotSettings, render_map  # noqa: E402
from viewer.page import PageSettings, page_data, render_page  # noqa: E402
from viewer.poster import PosterSettings, render_poster  # noqa: E402
from viewer.tiles import Window  # noqa: E402

PHOTOS = ["hubble_deep_field", "coffee", "astronaut", "rocket", "chelsea", "immunohistochemistry", "brick",
          "camera", "coins", "moon", "page", "cell"]


def make_videos(root: Path, count: int, seconds: int) -> Path:
    rng = np.random.default_rng(0)
    grain = [rng.normal(0, 5, (720, 1280, 3)).astype(np.int16) for _ in range(4)]
    for v in range(count):
        def frames(v=v):
            per = 125  # a new shot every 5 s
            for start in range(0, seconds * 25, per):
                shot = PHOTOS[(v * 3 + start // per) % len(PHOTOS)]
                for i, f in enumerate(pan(photo(shot), per, (1280, 720), v * 1000 + start)):
                    yield np.clip(f.astype(np.int16) + grain[i % 4], 0, 255).astype(np.uint8)
        write_video(root / f"v{v:02d}.mp4", frames(), fps=25,
                    options={"preset": "veryfast", "g": "50", "bf": "3", "crf": "20"})
    return root


def naive_poster(bundle, w: Window) -> Image.Image:
    codes = np.asarray(bundle.content.codes)
    image = Image.new("RGB", (w.cols * w.tile_w, w.rows * w.tile_h))
    centres = w.centres()
    for r, c in np.ndindex(w.rows, w.cols):
        f = int(((codes - centres[r, c]) ** 2).sum(1).argmin())
        image.paste(Image.fromarray(bundle.frames[f]).resize((w.tile_w, w.tile_h), Image.Resampling.LANCZOS),
                    (c * w.tile_w, r * w.tile_h))
    return image


def naive_full_res(bundle, frames: np.ndarray, w: Window) -> int:
    """Every chosen frame re-read by decoding each source from its start (FFmpeg's threads)."""
    c = bundle.content
    by_video: dict[int, list[float]] = {}
    for f in {int(f) for f in frames.ravel() if f >= 0}:
        by_video.setdefault(int(c.frame_video[f]), []).append(float(c.frame_time[f]))
    got = 0
    for v, times in by_video.items():
        times.sort()
        with av.open(c.videos[v]["path"]) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                while times and frame.time >= times[0] - 1e-3:
                    frame.reformat(width=w.tile_w, height=w.tile_h, format="rgb24").to_ndarray()
                    times.pop(0)
                    got += 1
                if not times:
                    break
    return got


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a small bundle (the test suite runs this)")
    p.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    p.add_argument("--work", type=Path, help="keep the generated videos and bundle here and reuse them next time")
    args = p.parse_args()
    count, seconds, fps = (2, 10, 15.0) if args.quick else (10, 40, 25.0)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.work or Path(scratch)
        t_make = t_index = 0.0
        if not (tmp / "atlas" / "CURRENT").exists():
            (tmp / "videos").mkdir(parents=True, exist_ok=True)
            _, t_make = timed(lambda: make_videos(tmp / "videos", count, seconds))
            settings = IndexSettings(sampling=SamplingSettings(fps=fps), map=MapSettings(),
                                     progress=False)
            _, t_index = timed(lambda: index(tmp / "videos", tmp / "atlas", settings))
        bundle = read_bundle(tmp / "atlas")
        frames = len(bundle.content.frame_video)
        searcher = Searcher(bundle)
        rows = []
        seed = Window(cols=11, rows=18, tile_w=534, tile_h=300)  # the seed's 5874x5400 print
        small = Window(cols=11, rows=18, tile_w=224, tile_h=126)  # at the stored thumbnail size
        for name, w, full in [("poster 11x18 of 224x126 (thumbnails)", small, False),
                              ("poster 11x18 of 534x300 (thumbnails scaled)", seed, False),
                              ("poster 11x18 of 534x300 (--full-res from 720p sources)", seed, True)]:
            if not full:  # same page cache for ours and the baseline: read the chosen thumbnails once first
                render_poster(bundle, PosterSettings(window=w, progress=False))
            poster, t = timed(lambda: render_poster(bundle, PosterSettings(window=w, full_res=full, progress=False)))
            _, t_png = timed(lambda: poster.image.save(tmp / "p.png", compress_level=3))
            _, t_jpg = timed(lambda: poster.image.save(tmp / "p.jpg", quality=92))
            if full:
                _, t_naive = timed(lambda: naive_full_res(bundle, poster.frames, w))
                base = f"{t_naive:.2f} s (naive / ours = {t_naive / t:.1f}x)"
            else:
                _, t_naive = timed(lambda: naive_poster(bundle, w))
                base = f"{t_naive:.2f} s (naive / ours = {t_naive / t:.1f}x)"
            rows.append([name, f"{poster.image.width}x{poster.image.height}", poster.tiles_filled,
                         f"{t:.2f} s", f"{t_png:.2f} s", f"{t_jpg:.2f} s", base])
        plot, t_map = timed(lambda: render_map(bundle, PlotSettings(dissimilar=9), searcher))
        _, t_map_png = timed(lambda: plot.save(tmp / "m.png"))
        data, t_page = timed(lambda: page_data(bundle, PageSettings(progress=False), searcher))
        html = render_page(data)
        rows.append(["map --dissimilar 9 (1800x1100)", "", "", f"{t_map:.2f} s", f"{t_map_png:.2f} s", "", ""])
        rows.append([f"view: HTML page ({len(data['x'])} frames, {len(html) / 1e6:.1f} MB, similar k=5 for "
                     f"{len(bundle.video_ids)} videos)", "", "", f"{t_page:.2f} s", "", "", ""])
    text = (f"Bundle: {frames} frames of {count} generated 720p25 H.264 videos ({count * seconds} s, keyframe every "
            f"2 s) sampled at {fps:g} fps" + (f"; videos made in {t_make:.0f} s, indexed in {t_index:.0f} s"
                                               if t_index else "") + ".\n\n"
            + table(["picture", "pixels", "tiles filled", "render", "save PNG (zlib 3)", "save JPEG q92",
                     "naive baseline, same run"], rows)
            + "\n\nRender = choosing tiles + reading and scaling frames (+ decoding sources with --full-res); "
              "saving is separate. Naive thumbnail posters: brute-force nearest frame per tile and every tile "
              "resized again, even repeats. Naive --full-res: each source decoded from its start up to its last "
              "chosen frame.")
    print(text)
    if args.write:
        write_section("Pictures: poster, map and viewer", text)


if __name__ == "__main__":
    main()
