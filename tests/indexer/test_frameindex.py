"""The frame index chosen by memory budget, re-scored on the stored features, mapped past the budget."""
from __future__ import annotations

import dataclasses

import faiss
import numpy as np
import pytest

from indexer import frameindex as fi
from indexer.errors import Code, VidatlasError
from indexer.settings import StoreSettings, parse_bytes


def _clustered(n: int, d: int = 256, seed: int = 0) -> np.ndarray:
    """Unit float16 rows around n/100 centres, as a bundle stores them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n // 100, d)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 0.35, (n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)


def _budget_for(n: int, bytes_per_frame: int) -> int:
    """The budget in which codes of ``bytes_per_frame`` just fit beside the runtime and the rows."""
    return fi.RUNTIME_BYTES + n * (fi.ROW_BYTES + bytes_per_frame)


def test_the_budget_picks_the_most_exact_codes_that_fit():
    n, d = 10_000_000, 256
    plans = [fi.choose(n, d, b) for b in (parse_bytes("64GiB"), _budget_for(n, d), _budget_for(n, d) - 1,
                                          _budget_for(n, d // 2) - 1, parse_bytes("1GiB"))]
    sizes = [p.bytes_per_frame for p in plans[:-1]]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 3  # 8-bit, 4-bit, product codes
    assert plans[0].kind == plans[1].kind and "SQ8" in plans[0].kind and plans[0].refine == 1
    for p in plans[:-1]:
        assert p.resident and n * (p.bytes_per_frame + fi.ROW_BYTES) + fi.RUNTIME_BYTES <= p.budget
    # not even product codes fit in 1 GiB: lists FAISS can map, paged from disk
    assert not plans[-1].resident and "x4fs" not in plans[-1].kind
    assert all(p.refine > 1 for p in plans[2:])  # compressed codes are re-scored on the features
    assert fi.choose(fi.EXACT_LIMIT, d).exact and not fi.choose(fi.EXACT_LIMIT + 1, d).exact


@pytest.mark.parametrize("text", ["4", "700MiB", "abc", "-3GiB", "4 parsecs"])
def test_a_budget_the_server_cannot_live_in_is_refused_before_any_work(text):
    with pytest.raises(VidatlasError, match="size|nothing beside"):
        StoreSettings(memory_budget=text).budget_bytes
    assert StoreSettings(memory_budget="4Gi").budget_bytes == StoreSettings().budget_bytes == 4 * 2**30


@pytest.fixture(scope="module")
def feats():
    return _clustered(40_000)


@pytest.mark.parametrize("bytes_per_frame", [128, 64])
def test_compressed_codes_re_scored_on_the_features_find_the_true_neighbours(feats, bytes_per_frame):
    plan = fi.choose(len(feats), feats.shape[1], _budget_for(len(feats), bytes_per_frame))
    assert plan.bytes_per_frame == bytes_per_frame and plan.refine > 1
    codes = fi.build(feats, plan)
    rescored = fi.recall(fi.FrameIndex(codes, feats, plan.refine), feats)
    assert rescored >= 0.95
    # the codes alone are far from it: the re-scoring is doing the work
    assert fi.recall(fi.FrameIndex(codes, feats, 1), feats) < rescored - 0.2
    sims, rows = fi.FrameIndex(codes, feats, plan.refine).search(np.asarray(feats[:5], np.float32), 10)
    exact = np.einsum("qd,qkd->qk", np.asarray(feats[:5], np.float32), np.asarray(feats[rows], np.float32))
    np.testing.assert_allclose(sims, exact, atol=1e-5)  # exact cosines, best first
    assert (np.diff(sims, axis=1) <= 0).all()


def test_a_search_asking_for_more_than_there_is_pads_with_minus_one(feats):
    small = feats[:30]
    plan = fi.IndexPlan("Flat", 1024, 4, 0, True, fi.DEFAULT_BUDGET)
    sims, rows = fi.FrameIndex(fi.build(small, plan), small, plan.refine).search(np.asarray(small[:2], np.float32), 50)
    assert rows.shape == (2, 50) and (rows[:, 30:] == -1).all() and np.isneginf(sims[:, 30:]).all()
    assert sorted(rows[0, :30]) == list(range(30))


def test_lists_are_memory_mapped_from_the_bundle_file_unless_fast_scan(feats, tmp_path):
    q = np.asarray(feats[::997], np.float32)
    for bytes_per_frame, mapped in ((128, True), (64, False)):
        plan = fi.choose(len(feats), feats.shape[1], _budget_for(len(feats), bytes_per_frame))
        assert plan.resident and ("fs" in plan.kind) is not mapped
        built = fi.FrameIndex(fi.build(feats, plan), feats, plan.refine)
        path = tmp_path / f"{plan.kind}.faiss"
        faiss.write_index(built.index, str(path))
        loaded = fi.load(path, feats, fi.describe(plan, built, feats))
        lists = faiss.downcast_InvertedLists(loaded.ivf.invlists)
        assert isinstance(lists, faiss.OnDiskInvertedLists) is mapped
        assert any(str(path) in line for line in open("/proc/self/maps")) is mapped
        for a, b in zip(built.search(q, 10), loaded.search(q, 10)):
            np.testing.assert_array_equal(a, b)
        assert loaded.ivf.nprobe == built.ivf.nprobe and loaded.refine == built.refine
        del loaded, lists


def test_exact_neighbours_in_chunks_equal_one_brute_force_pass(feats):
    q = np.asarray(feats[:20], np.float32)
    chunked = fi.exact_neighbours(feats[:5000], q, 10, chunk=777)
    whole = np.argsort(-(q @ np.asarray(feats[:5000], np.float32).T), axis=1, kind="stable")[:, :10]
    assert (chunked[:, 0] == np.arange(20)).all()
    assert np.mean([len(set(a) & set(b)) for a, b in zip(chunked, whole)]) >= 9.9  # float ties aside


def test_a_named_index_is_built_read_and_re_scored_like_a_chosen_one(tmp_path):
    from indexer.bundle import read_bundle
    from testkit.bundles import synthetic_bundle
    for bad in ("IVF16,SQ3", "HNSW32"):
        with pytest.raises(VidatlasError, match="not a FAISS index|only Flat and IVF") as e:
            fi.named(bad, 1000, 256)
        assert e.value.code == Code.INVALID_ARGUMENT
    plans = {k: fi.named(k, 10**6, 256) for k in ("Flat", "IVF64,SQ8", "IVF64,SQ4", "IVF64,PQ128x4fs")}
    assert [p.refine for p in plans.values()] == [1, 1, fi.REFINE_SQ4, fi.REFINE_PQ]
    assert plans["Flat"].exact and plans["IVF64,PQ128x4fs"].bytes_per_frame == 64
    path = synthetic_bundle(tmp_path, 40, 50, frame_index="IVF16,PQ128x4fs")
    bundle = read_bundle(path)
    assert bundle.manifest["frame_index"]["kind"] == "IVF16,PQ128x4fs"
    index = bundle.indexes["frames_features"]
    assert index.refine == fi.REFINE_PQ and index.ivf.nlist == 16
    assert bundle.manifest["frame_index"]["recall_at_10"] == pytest.approx(fi.recall(index, bundle.content.features))


def test_the_search_is_widened_until_the_recall_target_and_no_further(feats):
    plan = dataclasses.replace(fi.choose(len(feats), feats.shape[1]), nprobe=1)
    index = fi.FrameIndex(fi.build(feats, plan), feats, plan.refine)
    assert index.ivf.nprobe == 1 and fi.recall(index, feats) < fi.RECALL_TARGET
    got = fi.tune(index, feats)
    assert got >= fi.RECALL_TARGET and got == fi.recall(index, feats)
    probes, refine = index.ivf.nprobe, index.refine
    assert probes * refine > 1
    # one doubling fewer, of either, does not reach it
    if probes > 1:
        index.ivf.nprobe = probes // 2
        assert fi.recall(index, feats) < fi.RECALL_TARGET
        index.ivf.nprobe = probes
    if refine > 1:
        index.refine = refine // 2
        assert fi.recall(index, feats) < fi.RECALL_TARGET


def test_codes_that_misorder_neighbours_get_more_candidates_re_scored_not_more_probes(feats):
    """4-bit codes with every list probed: the misses are the codes' order, which only
    re-scoring mends."""
    plan = dataclasses.replace(fi.choose(len(feats), feats.shape[1], _budget_for(len(feats), 128)), refine=1)
    index = fi.FrameIndex(fi.build(feats, plan), feats, plan.refine)
    index.ivf.nprobe = index.ivf.nlist
    assert fi.recall(index, feats) < fi.RECALL_TARGET
    assert fi.tune(index, feats) >= fi.RECALL_TARGET and index.refine > 1 and index.ivf.nprobe == index.ivf.nlist
