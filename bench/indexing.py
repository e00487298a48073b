"""Indexing throughput on 720p25 H.264 at 1 fps sampling, against baselines measured in the same run.

    python bench/indexing.py --quick            # 30 s of generated 720p (seconds to run)
    python bench/indexing.py --seconds 300      # a 5-minute video
    python bench/indexing.py --video my.mp4     # your own file

The generated video pans over scikit-image photographs with film grain added, encoded with
libx264 (veryfast, crf 20, keyframe interval 250, 3 B-frames, one slice per frame): about
4 Mbit/s, as hard to decode as typical camera footage. Baselines:
  naive       decode every frame (FFmpeg threads), then the backbone, one after the other
  decode-all  decoding every frame alone
  backbone    the backbone alone on the sampled frames
  seed recipe the seed article's Xception at 299 px on two crops per frame (random weights)
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import scratch, table, write_section  # noqa: E402
from indexer import IndexSettings  # noqa: E402
from indexer.backbone import Backbone  # noqa: E402
from indexer.settings import available_cores  # noqa: E402
from indexer.decode import fit_size, letterbox  # noqa: E402
from indexer.pipeline import Extractor, Report  # noqa: E402
from indexer.discover import VideoFile  # noqa: E402
from indexer.samples import pan, photo, write_video  # noqa: E402

PHOTOS = ["hubble_deep_field", "coffee", "astronaut", "rocket", "chelsea", "immunohistochemistry"]


def make_video(path: Path, seconds: int, offset: int = 0) -> Path:
    """``seconds`` of 720p25 pans, 10 s per photo, starting at photo ``offset``."""
    rng = np.random.default_rng(offset)
    grain = [rng.normal(0, 5, (720, 1280, 3)).astype(np.int16) for _ in range(8)]

    def frames():
        n, per = seconds * 25, 250
        for start in range(0, n, per):
            for i, f in enumerate(pan(photo(PHOTOS[(start // per + offset) % len(PHOTOS)]), min(per, n - start), (1280, 720),
                                    start + 7919 * offset)):
                yield np.clip(f.astype(np.int16) + grain[(start + i) % 8], 0, 255).astype(np.uint8)
    return write_video(path, frames(), fps=25, options={"preset": "veryfast", "g": "250", "bf": "3", "crf": "20"})


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def decode_all(path: Path, fps: float, box=(224, 126)) -> tuple[np.ndarray, float]:
    """Every frame decoded (FFmpeg's threads), the sampled ones downscaled: the naive decoder."""
    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        thumbs, next_t = [], 0.0
        for f in c.decode(s):
            if f.time >= next_t - 1e-6:
                w, h = fit_size(f.width, f.height, *box)
                thumbs.append(letterbox(f.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray(), *box))
                next_t += 1 / fps
    return np.stack(thumbs), time.perf_counter() - t0


def seed_recipe(thumbs: np.ndarray, threads: int) -> float:
    """Xception (timm legacy_xception) at 299x299 on left and right square crops of each frame."""
    import timm
    import torch
    torch.set_num_threads(threads)
    model = timm.create_model("legacy_xception", pretrained=False, num_classes=0).eval()
    model = model.to(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(thumbs), 16):
            x = torch.from_numpy(thumbs[i:i + 16]).permute(0, 3, 1, 2).float() / 255
            h = x.shape[2]
            crops = torch.cat([x[..., :h], x[..., -h:]])
            crops = torch.nn.functional.interpolate(crops, size=(299, 299), mode="bilinear")
            model(crops.contiguous(memory_format=torch.channels_last))
    return time.perf_counter() - t0


def end_to_end(videos: int, seconds: int, write: bool, existing: Path | None = None, rounds: int = 2) -> None:
    """``vidatlas index`` as a user runs it (a new process, start-up included) on ``videos``
    generated videos; wall time and the run's own stage split. Alternated ``rounds`` times with
    the baseline of the same run: B-frames that other frames refer to decoded
    (``VIDATLAS_SAMPLING_SKIP_B_FRAMES=0``), as before x264's one-reference streams skipped them."""
    import json
    import os
    import subprocess
    tmp = scratch("vidatlas-e2e-")
    if existing:  # the videos of an earlier run (--video DIR)
        (tmp / "videos").symlink_to(existing.resolve())
    for i in range(0 if existing else videos):
        make_video(tmp / "videos" / f"v{i}.mp4", seconds, offset=i)
    cli = [sys.executable, "-m", "vidatlas"]
    t0 = time.perf_counter()
    subprocess.run(cli + ["index", "--help"], check=True, capture_output=True)
    help_s = time.perf_counter() - t0
    runs: dict[str, list] = {"served": [], "baseline": []}
    for r in range(rounds):
        for name in ("baseline", "served"):
            env = {**os.environ, "VIDATLAS_SAMPLING_SKIP_B_FRAMES": "0" if name == "baseline" else "1"}
            t0 = time.perf_counter()
            out = subprocess.run(cli + ["index", str(tmp / "videos"), "--out", str(tmp / f"atlas-{name}-{r}"),
                                        "--no-progress", "--json"], check=True, capture_output=True, text=True, env=env)
            runs[name].append((time.perf_counter() - t0, json.loads(out.stdout)))
    wall, report = min(runs["served"], key=lambda x: x[0])
    timings = report["timings"]
    stages = {k: v for k, v in timings.items() if k not in ("decode", "backbone", "total", "extract_wall") and not k.startswith("decoded")}
    inside = timings["total"]
    split = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
    walls = {name: " / ".join(f"{w:.1f}" for w, _ in r) for name, r in runs.items()}
    best_baseline = min(w for w, _ in runs["baseline"])
    text = (f"`vidatlas index` of {videos} x {seconds} s of 720p25 H.264 (x264 veryfast, GOP 250, 3 B-frames; 1 fps sampling, "
            f"{report['frames']} frames), a new process timed from outside, best of {rounds}: **{wall:.1f} s wall**, "
            f"{videos * seconds / wall:.1f}x real time. Stages inside that run ({inside:.1f} s): {split}; the rest, "
            f"{wall - inside:.1f} s, is start-up (imports, backbone load) and exit. `vidatlas index --help` "
            f"alone takes {help_s:.1f} s.\n\nEach run against the baseline of this run, alternated (B-frames other frames "
            f"refer to decoded, `VIDATLAS_SAMPLING_SKIP_B_FRAMES=0`): served {walls['served']} s, "
            f"baseline {walls['baseline']} s wall (x{best_baseline / wall:.2f}, best against best).")
    print(text)
    if write:
        write_section("Indexing end to end (5 x 60 s of 720p25)", text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="30 s of video (the test suite runs this)")
    p.add_argument("--seconds", type=int, default=120, help="length of the generated video")
    p.add_argument("--video", type=Path, help="benchmark this file instead of a generated one")
    p.add_argument("--no-seed-recipe", action="store_true", help="skip the slow Xception baseline")
    p.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    p.add_argument("--end-to-end", type=int, metavar="N",
                   help="instead: time `vidatlas index` on N generated videos of --seconds each")
    args = p.parse_args()
    if args.end_to_end:
        return end_to_end(args.end_to_end, args.seconds, args.write, args.video)
    seconds = 30 if args.quick else args.seconds
    tmp = scratch("vidatlas-bench-")
    video = args.video or make_video(tmp / f"720p25_{seconds}s.mp4", seconds)
    with av.open(str(video)) as c:
        s = c.streams.video[0]
        duration = float(c.duration / av.time_base)
        desc = f"{s.codec_context.name} {s.width}x{s.height} {float(s.average_rate):g} fps, {duration:.0f} s, " \
               f"{8 * video.stat().st_size / duration / 1e6:.1f} Mbit/s"
    cores = available_cores()
    settings = IndexSettings(progress=False)
    rows = []

    def row(name, wall, frames, cpu_s):
        rows.append([name, wall, frames / wall, duration / wall, cpu_s])

    c0 = cpu()
    thumbs, t_dec = decode_all(video, settings.sampling.fps)
    row("decode-all: every frame decoded (baseline)", t_dec, len(thumbs), cpu() - c0)
    import torch
    backbone = Backbone(settings.backbone)
    torch.set_num_threads(cores)
    backbone.features(thumbs[:4])
    c0 = cpu()
    t0 = time.perf_counter()
    backbone.features(thumbs)
    t_bb = time.perf_counter() - t0
    row("backbone alone on the sampled frames", t_bb, len(thumbs), cpu() - c0)
    row("naive = decode-all then backbone (baseline)", t_dec + t_bb, len(thumbs), float("nan"))
    ex = Extractor(settings, tmp / "work")
    c0 = cpu()
    report = Report()
    t0 = time.perf_counter()
    ex.run([VideoFile("bench", video)], report)
    t_ex = time.perf_counter() - t0
    row("vidatlas extraction (decode less + overlap)", t_ex, report.timings["decoded_frames"], cpu() - c0)
    if not args.no_seed_recipe:
        n = min(len(thumbs), 40)
        t_seed = seed_recipe(thumbs[:n], cores) * len(thumbs) / n
        row("seed recipe: Xception 299 px x 2 crops (backbone only)", t_seed, len(thumbs), float("nan"))
    body = [f"Input: {desc}; sampling 1 fps; {cores} cores.", "",
            table(["run", "wall s", "frames/s", "x real time", "CPU s"], rows), "",
            f"vidatlas extraction vs naive: **{(t_dec + t_bb) / t_ex:.2f}x** faster; "
            f"vs decode-all alone: {t_dec / t_ex:.2f}x. Stage times inside the run: decode "
            f"{report.timings['decode']:.1f} s (summed over parallel pieces), backbone {report.timings['backbone']:.1f} s."]
    text = "\n".join(body)
    print(text)
    if args.write:
        write_section("Indexing throughput (720p25 H.264, 1 fps)", text)


if __name__ == "__main__":
    main()
