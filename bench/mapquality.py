"""Map quality and cost: the autoencoder map (both objectives) against PCA-2, UMAP and t-SNE.

    python bench/mapquality.py --quick     # 2k frames (the test suite runs this, without UMAP/t-SNE)
    python bench/mapquality.py --write     # 10k and 100k real frames, all methods, and the picture

Features: efficientnet_lite0 features of camera pans over scikit-image photographs (real
backbone, real pictures; 20 frames per pan, random photo, path and zoom), cached in the temp
directory so reruns skip extraction, reduced by PCA to 256-D exactly as the indexer does. The
10k set is the first 10,000 frames, the 100k set the first 100,000; 1000 further frames are
the "new" frames placed on each fitted map. Metrics on a fixed sample of 2000 frames:
recall@10 (share of each frame's 10 nearest neighbours in 256-D that are also among its 10
nearest on the 2-D map) and trustworthiness (scikit-learn, k=10); fit seconds; milliseconds to place
the 1000 new frames (vidatlas: median of 5 calls, a few ms). UMAP (umap-learn) and openTSNE (FFT-accelerated) run unseeded on every core
(a seeded UMAP runs on one thread); they and vidatlas are warmed up on a small fit first so that
numba's compilation (or loading from its cache) is not counted.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import table, write_section  # noqa: E402


def _pan_params(seed: int):
    """The endless, seeded sequence of pans (photo, pan seed, zoom) the features are taken from."""
    from indexer.samples import PHOTOS
    rng = np.random.default_rng(seed)
    while True:
        yield PHOTOS[int(rng.integers(len(PHOTOS)))], int(rng.integers(1 << 30)), float(rng.uniform(0.3, 0.9))


def real_features(n: int, seed: int = 0, skip: int = 0) -> np.ndarray:
    """Backbone features of ``n`` frames of 20-frame pans, after the first ``skip`` pans' frames
    (so a longer set continues a shorter one exactly)."""
    from indexer.backbone import Backbone
    from indexer.decode import letterbox
    from indexer.samples import pan, photo
    from indexer.settings import BackboneSettings
    b = Backbone(BackboneSettings(threads=0))
    per, out = 20, []
    params = _pan_params(seed)
    for _ in range(skip // per):
        next(params)
    while sum(len(x) for x in out) < n:
        name, pan_seed, zoom = next(params)
        frames = np.stack([letterbox(f, 224, 126) for f in pan(photo(name), per, (224, 126), pan_seed, zoom=zoom)])
        out.append(b.features(frames))
    return np.concatenate(out)[:n]


def cached_real_features(n: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """``real_features(n, seed)`` kept in the temp directory and grown in 10k steps, so reruns skip
    extraction; returns the features and the seconds this call spent extracting."""
    path = Path(tempfile.gettempdir()) / f"vidatlas-mapquality-features-{seed}.npy"
    have = np.load(path) if path.exists() else np.zeros((0, 1280), np.float32)
    t0 = time.perf_counter()
    while len(have) < n:
        more = real_features(min(10_000, n - len(have) + 20 - (n - len(have)) % 20), seed, skip=len(have))
        have = np.concatenate([have, more])
        np.save(path.with_suffix(".part.npy"), have)
        path.with_suffix(".part.npy").rename(path)
    return have[:n], time.perf_counter() - t0


def neighbours(x: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(x, np.float32))
    _, nn = index.search(np.ascontiguousarray(x[queries], np.float32), k + 1)
    return nn[:, 1:]


def score(high: np.ndarray, low: np.ndarray, sample: np.ndarray) -> tuple[float, float]:
    from sklearn.manifold import trustworthiness
    hi, lo = neighbours(high, sample, 10), neighbours(low, sample, 10)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(hi, lo)]))
    trust = float(trustworthiness(high[sample], low[sample], n_neighbors=10))
    return recall, trust


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def methods(with_external: bool):
    import dataclasses

    from indexer.mapmodel import MapModel
    from indexer.settings import MapSettings

    def ours(objective):
        def fit(train, new):
            settings = dataclasses.replace(MapSettings(), objective=objective)
            MapModel.fit(train[:500], settings)  # first use of numba's cache, torch and FAISS (as the peers' warm-ups)
            t0 = time.perf_counter()
            fitted = MapModel.fit(train, settings)
            fit_s = time.perf_counter() - t0
            m = fitted.model
            m.embed(new[:10], errors=False)  # first call (as UMAP's and openTSNE's warm-ups)
            place_s = float(np.median([timed(lambda: m.embed(new, errors=False)) for _ in range(5)]))  # ms: noisy
            return fitted.codes, fit_s, place_s, f"{m.training['steps']} steps ({m.training['stopped']})"
        return fit

    def pca2(train, new):
        from indexer.pca import fit_pca
        t0 = time.perf_counter()
        p = fit_pca(train, 2)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        p.transform(new)
        return p.transform(train), fit, time.perf_counter() - t0, ""

    def umap_(neighbours):
        def fit(train, new):
            import umap
            # numba compiles (5000 frames: the approximate-neighbour paths a large fit takes)
            umap.UMAP(n_neighbors=neighbours, n_jobs=-1).fit(train[:5000]).transform(new[:50])
            t0 = time.perf_counter()
            m = umap.UMAP(n_neighbors=neighbours, n_jobs=-1)
            low = m.fit_transform(train)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            m.transform(new)
            return low, fit_s, time.perf_counter() - t0, f"unseeded, 2 threads, {neighbours} neighbours"
        return fit

    def tsne(train, new):
        from openTSNE import TSNE
        TSNE(n_jobs=-1, verbose=False).fit(train[:500]).transform(new[:50])  # numba compiles
        t0 = time.perf_counter()
        emb = TSNE(n_jobs=-1, negative_gradient_method="fft", verbose=False).fit(train)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        emb.transform(new)
        return np.asarray(emb), fit, time.perf_counter() - t0, "unseeded, 2 threads, FFT"

    out = [("vidatlas, neighbours objective (default)", ours("neighbours")),
           ("vidatlas, seed objective", ours("seed")), ("PCA-2", pca2)]
    if with_external:
        out += [("UMAP (umap-learn)", umap_(15)), ("UMAP (umap-learn), 10 neighbours", umap_(10)),
                ("t-SNE (openTSNE)", tsne)]
    return out


def photo_of_frame(n: int, seed: int = 0) -> np.ndarray:
    """The photograph each of the first ``n`` frames pans over (for colouring the picture)."""
    from indexer.samples import PHOTOS
    params = _pan_params(seed)
    return np.repeat([PHOTOS.index(next(params)[0]) for _ in range((n + 19) // 20)], 20)[:n]


def draw(layouts: dict, colours: np.ndarray, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(layouts), figsize=(3.2 * len(layouts), 3.4), dpi=80)
    for ax, (name, low) in zip(np.atleast_1d(axes), layouts.items()):
        ax.scatter(low[:, 0], low[:, 1], c=colours, cmap="tab10", s=0.6, linewidths=0, rasterized=True)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", "datalim")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--write", action="store_true")
    p.add_argument("--sizes", default="10000,100000", help="training set sizes (frames)")
    p.add_argument("--picture", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "mapquality.png",
                   help="with --write: the 10k frames drawn by each method")
    args = p.parse_args()
    from indexer.pca import fit_pca
    sizes = [2000] if args.quick else [int(v) for v in args.sizes.split(",")]
    feats, extract_s = cached_real_features(max(sizes) + 1000)
    new = feats[max(sizes):]
    rows, layouts = [], {}
    for n in sizes:
        train = feats[:n]
        label = f"{n // 1000}k"
        pca = fit_pca(train, 256)
        high, high_new = pca.transform(train), pca.transform(new)
        sample = np.random.default_rng(2).choice(len(high), min(2000, len(high)), replace=False)
        for name, fn in methods(not args.quick):
            low, fit_s, place_s, note = fn(high, high_new)
            recall, trust = score(high, low, sample)
            rows.append([label, name, f"{recall:.3f}", f"{trust:.3f}", f"{fit_s:.1f}", f"{place_s * 1e3:.1f}", note])
            print(rows[-1], flush=True)
            if n == 10_000:
                layouts.setdefault(name.split(" (")[0].replace("vidatlas, ", "ours, "), low)
    body = "\n".join([
        f"Features: {max(sizes) + 1000} frames of efficientnet_lite0 features from pans over scikit-image photos "
        f"(all real; {'read from the cache' if extract_s < 1 else f'missing ones extracted in this run in {extract_s:.0f} s'}), PCA to "
        "256-D; metrics on 2000 sampled frames, k = 10; 1000 further frames placed on each map.", "",
        table(["frames", "method", "recall@10", "trustworthiness", "fit s", "place 1000 new ms", "note"], rows)])
    print(body)
    if args.write:
        if layouts:
            draw(layouts, photo_of_frame(10_000), args.picture)
        write_section("Map quality and cost (2-D maps)", body)


if __name__ == "__main__":
    main()
