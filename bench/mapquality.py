"""Map quality and cost: the autoencoder map against PCA-2, UMAP and t-SNE on the same features.

    python bench/mapquality.py --quick     # 2k frames (the test suite runs this, without UMAP/t-SNE)
    python bench/mapquality.py --write     # 10k real frames, and 100k (10k real + jittered copies)

Features: efficientnet_lite0 features of camera pans over scikit-image photographs (real
backbone, real pictures), reduced by PCA to 256-D exactly as the indexer does. Metrics, on a
fixed sample of 2000 points: recall@10 (share of each point's 10 nearest neighbours in 256-D
that are also among its 10 nearest on the 2-D map) and trustworthiness (scikit-learn, k=10);
fit time; time to place 1000 new points on an existing map (t-SNE cannot: it refits).
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


def real_features(n: int, seed: int = 0) -> np.ndarray:
    from indexer.backbone import Backbone
    from indexer.decode import letterbox
    from indexer.samples import PHOTOS, pan, photo
    from indexer.settings import BackboneSettings
    b = Backbone(BackboneSettings(threads=0))
    rng = np.random.default_rng(seed)
    out, per = [], 20
    pics = {p: photo(p) for p in PHOTOS}
    while sum(len(x) for x in out) < n:
        name = PHOTOS[int(rng.integers(len(PHOTOS)))]
        frames = np.stack([letterbox(f, 224, 126) for f in pan(pics[name], per, (224, 126), int(rng.integers(1 << 30)),
                                                               zoom=float(rng.uniform(0.3, 0.9)))])
        out.append(b.features(frames))
    return np.concatenate(out)[:n]


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


def methods(with_external: bool):
    from indexer.mapmodel import MapModel
    from indexer.settings import MapSettings

    def ours(train, new):
        t0 = time.perf_counter()
        m = MapModel.fit(train, MapSettings())
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        placed = m.embed(new)[1]
        return m.embed(train)[1], fit, time.perf_counter() - t0, placed

    def pca2(train, new):
        from indexer.pca import fit_pca
        t0 = time.perf_counter()
        p = fit_pca(train, 2)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        p.transform(new)
        return p.transform(train), fit, time.perf_counter() - t0, None

    def umap_(train, new):
        import umap
        t0 = time.perf_counter()
        m = umap.UMAP(n_neighbors=15, random_state=0)
        low = m.fit_transform(train)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        m.transform(new)
        return low, fit, time.perf_counter() - t0, None

    def tsne(train, new):
        from sklearn.manifold import TSNE
        t0 = time.perf_counter()
        low = TSNE(n_components=2, init="pca", random_state=0).fit_transform(train)
        return low, time.perf_counter() - t0, None, None

    out = [("vidatlas autoencoder (PCA-256 -> 2-D)", ours), ("PCA-2", pca2)]
    if with_external:
        out += [("UMAP (umap-learn)", umap_), ("t-SNE (scikit-learn, Barnes-Hut)", tsne)]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--write", action="store_true")
    p.add_argument("--tsne-limit", type=int, default=20_000, help="skip t-SNE above this many frames")
    args = p.parse_args()
    from indexer.pca import fit_pca
    n_real = 2000 if args.quick else 10_000
    t0 = time.perf_counter()
    feats = real_features(n_real + 1000)
    extract_s = time.perf_counter() - t0
    train_real, new = feats[:n_real], feats[n_real:]
    sizes = [("2k", train_real)] if args.quick else [("10k", train_real)]
    if not args.quick:
        rng = np.random.default_rng(1)
        jitter = train_real.std(0) * 0.05
        big = np.concatenate([train_real + rng.normal(0, 1, train_real.shape) * jitter for _ in range(10)])
        sizes.append(("100k (10k real + 9 jittered copies)", big.astype(np.float32)))
    rows = []
    for label, train in sizes:
        pca = fit_pca(train, 256)
        high, high_new = pca.transform(train), pca.transform(new)
        sample = np.random.default_rng(2).choice(len(high), min(2000, len(high)), replace=False)
        for name, fn in methods(not args.quick):
            if "t-SNE" in name and len(train) > args.tsne_limit:
                rows.append([label, name, "—", "—", "not run (over the t-SNE limit)", "—"])
                continue
            low, fit_s, place_s, _ = fn(high, high_new)
            recall, trust = score(high, low, sample)
            rows.append([label, name, f"{recall:.3f}", f"{trust:.3f}", f"{fit_s:.1f}",
                         "refit needed" if place_s is None else f"{place_s * 1000:.0f}"])
            print(rows[-1], flush=True)
    body = "\n".join([
        f"Features: {n_real} frames of efficientnet_lite0 features from pans over scikit-image photos "
        f"(extracted in {extract_s:.0f} s), PCA to 256-D; metrics on 2000 sampled points, k = 10.", "",
        table(["frames", "method", "recall@10", "trustworthiness", "fit s", "place 1000 new (ms)"], rows)])
    print(body)
    if args.write:
        write_section("Map quality and cost (2-D maps)", body)


if __name__ == "__main__":
    main()
