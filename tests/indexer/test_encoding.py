"""The frame index encoded in blocks by several workers and joined on disk: the same index as one
process filling it, whoever encodes which block, read back read-only from a moved directory."""
from __future__ import annotations

import os
import shutil
import threading
import time

import faiss
import numpy as np
import pytest

from indexer import encoding
from indexer import frameindex as fi


def _clustered(n: int, d: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n // 50, d)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 0.4, (n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Unit float16 features as a bundle's stage holds them, inside an atlas directory."""
    atlas = tmp_path_factory.mktemp("atlas")
    (atlas / "stage").mkdir()
    np.save(atlas / "stage" / "features.npy", _clustered(6_000))
    return atlas, atlas / "stage" / "features.npy"


def _lists(index: faiss.Index) -> list[tuple[bytes, bytes]]:
    """Every inverted list's codes and ids, in order."""
    ivf = faiss.extract_index_ivf(index)
    inv = ivf.invlists
    out = []
    for i in range(ivf.nlist):
        size = inv.list_size(i)
        codes = faiss.rev_swig_ptr(inv.get_codes(i), size * inv.code_size).tobytes() if size else b""
        ids = faiss.rev_swig_ptr(inv.get_ids(i), size).tobytes() if size else b""
        out.append((codes, ids))
    return out


@pytest.mark.parametrize("kind", ["IVF32,SQ8", "IVF32,SQ4"])
def test_blocks_by_several_workers_join_into_the_index_one_process_fills(tmp_path, stored, kind):
    atlas, path = stored
    feats = np.load(path, mmap_mode="r")
    plan = fi.named(kind, *feats.shape)
    whole = fi.build(feats, plan)  # one process, every row, in memory
    job = encoding.publish(tmp_path / "encode", atlas, fi.train(feats, plan), path, block=700, tag="run-1")
    assert job.blocks == 9 and encoding.find(tmp_path / "encode", atlas, "run-1") == job
    assert encoding.find(tmp_path / "encode", atlas, "run-2") is None
    # three workers at once (FAISS adds without the GIL), then the merge's own pass
    counts = []
    workers = [threading.Thread(target=lambda: counts.append(encoding.work_on(job))) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    encoding.encode(job)
    assert sum(counts) == 9 and not job.missing()  # every block encoded once, none twice
    out = tmp_path / "out"
    out.mkdir()
    joined = encoding.join(job, out)
    assert joined.ntotal == whole.ntotal == len(feats)
    assert _lists(joined) == _lists(whole)  # entry for entry: codes and row ids
    faiss.write_index(joined, str(out / "frames_features.faiss"))
    del joined
    encoding.done(job)
    assert not job.dir.exists()
    # the bundle's directory is renamed when it is published: the lists are found beside the index
    moved = tmp_path / "published"
    os.rename(out, moved)
    loaded = fi.load(moved / "frames_features.faiss", feats, {"kind": kind, "lists": fi.ON_DISK, "nprobe": 8})
    lists = faiss.downcast_InvertedLists(loaded.ivf.invlists)
    assert isinstance(lists, faiss.OnDiskInvertedLists) and lists.read_only and lists.prefetch_nthread == 0
    faiss.extract_index_ivf(whole).nprobe = 8
    q = fi.unit_rows(feats, 0, 200)
    d1, i1 = whole.search(q, 10)
    d2, i2 = loaded.search(q, 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(d1, d2)


def test_a_claim_left_by_a_stopped_worker_is_taken_over_and_a_live_one_waited_for(tmp_path, stored, monkeypatch):
    atlas, path = stored
    feats = np.load(path, mmap_mode="r")
    plan = fi.named("IVF16,SQ8", *feats.shape)
    job = encoding.publish(tmp_path / "encode", atlas, fi.train(feats, plan), path, block=2_000, tag="")
    assert job.blocks == 3
    # block 0: a worker that stopped long ago; block 1: a worker still at it, which finishes soon
    job.claim_file(0).touch()
    old = time.time() - encoding.STALE_S - 60
    os.utime(job.claim_file(0), (old, old))
    job.claim_file(1).touch()
    monkeypatch.setattr(encoding, "POLL_S", 0.05)
    helper = encoding.Job(job.dir, job.features, job.rows, job.blocks, job.tag)

    def live_worker():
        time.sleep(0.5)
        trained = faiss.read_index(str(job.dir / "trained.faiss"))
        encoding._encode(helper, trained, feats, 1)
        job.claim_file(1).unlink()
    t = threading.Thread(target=live_worker)
    t.start()
    assert encoding.work_on(job) == 2  # blocks 0 (taken over) and 2, not 1
    assert job.missing() == [1]
    encoding.encode(job)  # waits for the live worker's block
    t.join()
    assert not job.missing()
    assert encoding.join(job, tmp_path).ntotal == len(feats)


def test_a_second_merge_of_the_same_run_replaces_the_first_ones_job(tmp_path, stored):
    atlas, path = stored
    feats = np.load(path, mmap_mode="r")
    trained = fi.train(feats, fi.named("IVF16,SQ8", *feats.shape))
    first = encoding.publish(tmp_path, atlas, trained, path, block=10**6, tag="r")
    other = encoding.publish(tmp_path, atlas, trained, path, block=10**6, tag="another run")
    second = encoding.publish(tmp_path, atlas, trained, path, block=10**6, tag="r")
    assert not first.dir.exists() and second.dir.exists() and other.dir.exists()
    assert encoding.find(tmp_path, atlas, "r") == second
    shutil.rmtree(second.dir)


def test_an_encode_worker_waits_for_its_runs_job_encodes_it_and_stops_once_the_run_is_out(tmp_path, stored):
    """`vidatlas index --encode`'s work: the job of its run only, all of it when alone; nothing
    once the run's bundle is published; a clear error when no job comes."""
    import dataclasses

    from indexer import pipeline
    from indexer.errors import VidatlasError
    from indexer.settings import IndexSettings
    atlas, path = stored
    feats = np.load(path, mmap_mode="r")
    work = tmp_path / "work"
    settings = dataclasses.replace(IndexSettings(), tag="release-3", progress=False)
    with pytest.raises(VidatlasError, match="no frame index to encode for run 'release-3'"):
        pipeline.encode(atlas, settings, work, wait_s=0.2, poll_s=0.05)
    trained = fi.train(feats, fi.named("IVF16,SQ8", *feats.shape))
    other = encoding.publish(work / "encode", atlas, trained, path, block=1_000, tag="release-2")
    job = encoding.publish(work / "encode", atlas, trained, path, block=1_000, tag="release-3")
    report = pipeline.encode(atlas, settings, work)
    assert report.encoded_blocks == job.blocks == 6 and not job.missing()
    assert len(other.missing()) == other.blocks  # another run's job is left alone
    assert "6 blocks encoded here" in report.summary()
    # once a bundle of the run is out, a late worker has nothing to wait for
    shutil.rmtree(job.dir)
    version = atlas / "v000001-20260101T000000Z"
    version.mkdir()
    (version / "manifest.json").write_text('{"run_tag": "release-3"}')
    (atlas / "CURRENT").write_text(version.name + "\n")
    assert pipeline.encode(atlas, settings, work, wait_s=30).encoded_blocks == 0


def test_bundles_written_before_encoding_in_blocks_still_load(tmp_path, stored):
    """Their lists are inside the index file (no "lists" in the manifest): mapped from it as before."""
    _, path = stored
    feats = np.load(path, mmap_mode="r")
    whole = fi.build(feats, fi.named("IVF32,SQ8", *feats.shape))
    faiss.write_index(whole, str(tmp_path / "frames_features.faiss"))
    loaded = fi.load(tmp_path / "frames_features.faiss", feats, {"kind": "IVF32,SQ8", "nprobe": 8})
    assert isinstance(faiss.downcast_InvertedLists(loaded.ivf.invlists), faiss.OnDiskInvertedLists)
    faiss.extract_index_ivf(whole).nprobe = 8
    q = fi.unit_rows(feats, 0, 100)
    np.testing.assert_array_equal(whole.search(q, 10)[1], loaded.search(q, 10)[1])


def test_a_worker_whose_job_ends_under_it_stops_without_an_error(tmp_path, stored, monkeypatch):
    atlas, path = stored
    feats = np.load(path, mmap_mode="r")
    job = encoding.publish(tmp_path, atlas, fi.train(feats, fi.named("IVF16,SQ8", *feats.shape)), path,
                           block=1_000, tag="r")
    real = encoding._encode
    calls = []

    def encode_then_merge_ends(job_, trained, feats_, i):
        calls.append(i)
        if len(calls) == 2:
            shutil.rmtree(job.dir)  # the merge finished (or a new merge of the run replaced it)
        real(job_, trained, feats_, i)
    monkeypatch.setattr(encoding, "_encode", encode_then_merge_ends)
    assert encoding.work_on(job) == 1 and calls == [0, 1]
