"""The frame index encoded in blocks by any number of workers and joined on disk, as FAISS's
"Indexing 1G vectors" builds it (``faiss.contrib.ondisk``):

1. the merge trains the index (coarse quantiser and codebooks) on a sample and publishes a
   *job* in the shared work directory: the trained empty index and where the stored unit
   features are, in blocks of ``block`` frames;
2. workers (the merge itself, and ``vidatlas index --encode`` on other machines) claim blocks,
   add their rows to a copy of the trained index (ids = global row numbers) and write each
   block's inverted lists to a file;
3. the merge joins the blocks' lists into one on-disk file, list by list, reading each block
   memory-mapped: no process ever holds more than one block's lists.

Blocks are contiguous rows in order, so the joined lists are entry for entry those of one index
filled with every row: one worker or forty give the same index. A claim only saves duplicate
work (a block file is written atomically and is the same whoever writes it): a worker touches
its claim between chunks, and a claim untouched for ``STALE_S`` seconds may be taken over.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from . import cstdout, frameindex
from .debris import tag as temp_tag
from .errors import Code, VidatlasError

BLOCK = 1 << 20      # frames a block: its lists (264 MB at 8-bit codes) are what a worker holds
STALE_S = 300.0      # a claim untouched this long is abandoned (a chunk of adds takes seconds)
POLL_S = 2.0         # the merge, waiting for blocks other workers hold
LISTS = "frames_features.ivfdata"  # the joined lists, beside the index file
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A published encode job: ``dir`` holds ``job.json``, ``trained.faiss`` and the blocks."""

    dir: Path
    features: Path
    rows: int
    blocks: int
    tag: str

    def bounds(self, i: int) -> tuple[int, int]:
        return i * self.rows // self.blocks, (i + 1) * self.rows // self.blocks

    def block_file(self, i: int) -> Path:
        return self.dir / f"block-{i:05d}.faiss"

    def claim_file(self, i: int) -> Path:
        return self.dir / f"block-{i:05d}.claim"

    def missing(self) -> list[int]:
        return [i for i in range(self.blocks) if not self.block_file(i).is_file()]

    @classmethod
    def read(cls, directory: Path, atlas: Path) -> "Job":
        spec = json.loads((directory / "job.json").read_text())
        return cls(directory, Path(atlas) / spec["features"], spec["rows"], spec["blocks"], spec["tag"])


def _jobs(root: Path):
    for spec in sorted(Path(root).glob("*/job.json")):
        try:
            yield spec.parent, json.loads(spec.read_text())
        except (OSError, ValueError):  # removed or being replaced under us
            continue


def publish(root: Path, atlas: Path, trained: faiss.Index, features: Path, block: int, tag: str) -> Job:
    """Make the job for the unit ``features`` file (inside ``atlas``) under ``root``, replacing
    any earlier job of the same ``tag`` (a merge of the same run that died)."""
    for old, spec in _jobs(root):
        if spec.get("tag") == tag:
            shutil.rmtree(old, ignore_errors=True)
    rows = int(np.load(features, mmap_mode="r").shape[0])
    directory = Path(root) / f"{uuid.uuid4().hex[:12]}{temp_tag()}"  # swept if its merge dies
    directory.mkdir(parents=True)
    faiss.write_index(trained, str(directory / "trained.faiss"))
    spec = {"features": str(Path(features).relative_to(atlas)), "rows": rows,
            "blocks": max(1, -(-rows // max(1, block))), "tag": tag}
    staged = directory / f"job.json{temp_tag()}"
    staged.write_text(json.dumps(spec))
    os.replace(staged, directory / "job.json")  # last: a worker sees a job only once it is whole
    return Job(directory, Path(features), rows, spec["blocks"], tag)


def find(root: Path, atlas: Path, tag: str) -> Job | None:
    """The published job of run ``tag`` under ``root``, if there is one."""
    for directory, spec in _jobs(root):
        if spec.get("tag") == tag:
            return Job.read(directory, atlas)
    return None


def _claim(job: Job, i: int) -> bool:
    path = job.claim_file(i)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            if time.time() - path.stat().st_mtime < STALE_S:
                return False
        except FileNotFoundError:  # its worker just finished, or gave up: look at the block
            return not job.block_file(i).is_file() and _claim(job, i)
        path.touch()  # abandoned: taken over (should two take it, both write the same block)
        return True
    os.close(fd)
    return True


def _encode(job: Job, trained: faiss.Index, feats, i: int) -> None:
    a, b = job.bounds(i)
    index = faiss.clone_index(trained)
    for lo in range(a, b, frameindex.CHUNK):
        hi = min(b, lo + frameindex.CHUNK)
        index.add_with_ids(frameindex.unit_rows(feats, lo, hi), np.arange(lo, hi, dtype=np.int64))
        job.claim_file(i).touch()  # still at it
    staged = job.dir / f"{job.block_file(i).name}{temp_tag()}"
    faiss.write_index(index, str(staged))
    os.replace(staged, job.block_file(i))


def work_on(job: Job, progress=None) -> int:
    """Encode every block of ``job`` nobody else holds; returns how many this process encoded.
    A job that ends meanwhile (its merge done, or replaced by a new merge of the run) ends this."""
    trained, feats, done = None, None, 0
    try:
        for i in range(job.blocks):
            if job.block_file(i).is_file() or not _claim(job, i):
                continue
            try:
                if job.block_file(i).is_file():  # finished (and its claim let go) just before ours
                    continue
                if trained is None:
                    trained = faiss.read_index(str(job.dir / "trained.faiss"))
                    feats = np.load(job.features, mmap_mode="r")
                _encode(job, trained, feats, i)
                done += 1
                if progress is not None:
                    progress.update(1)
            finally:
                job.claim_file(i).unlink(missing_ok=True)
    except (FileNotFoundError, RuntimeError):  # FAISS reports a missing file as a RuntimeError
        if job.dir.is_dir():
            raise
        log.info("encode job %s ended while this worker was at it", job.dir.name)
    return done


def encode(job: Job) -> int:
    """Work on ``job`` until every block is written: this process's blocks, then the ones other
    workers hold (taking over any whose worker stopped touching its claim). Returns how many
    blocks this process encoded."""
    mine = work_on(job)
    while job.missing():
        time.sleep(POLL_S)
        mine += work_on(job)
    return mine


def join(job: Job, out_dir: Path) -> faiss.Index:
    """The trained index with every block's lists: joined into ``out_dir/LISTS`` (on disk,
    list by list), or for fast-scan codes, which FAISS keeps only in memory, merged there."""
    index = faiss.read_index(str(job.dir / "trained.faiss"))
    ivf = faiss.extract_index_ivf(index)
    if isinstance(faiss.downcast_InvertedLists(ivf.invlists), faiss.BlockInvertedLists):  # fast-scan codes
        for i in range(job.blocks):
            index.merge_from(faiss.read_index(str(job.block_file(i))), 0)
        return index
    blocks = [faiss.read_index(str(job.block_file(i)), faiss.IO_FLAG_MMAP) for i in range(job.blocks)]
    sources = faiss.InvertedListsPtrVector()
    for block in blocks:
        sources.push_back(faiss.extract_index_ivf(block).invlists)
    with cstdout.to_stderr():  # FAISS prints "resizing …" as the file grows
        lists = faiss.OnDiskInvertedLists(ivf.nlist, ivf.code_size, str(Path(out_dir) / LISTS))
        total = lists.merge_from_multiple(sources.data(), sources.size(), False)
    if total != job.rows:
        raise VidatlasError(f"the encoded blocks hold {total} frames, not {job.rows}", Code.INTERNAL)
    del sources, blocks  # the blocks' mappings closed (they own their lists)
    index.ntotal = ivf.ntotal = total
    ivf.replace_invlists(lists, True)
    lists.this.disown()  # the index owns the lists now
    lists.filename = LISTS  # written by name only: the bundle's directory is renamed, and a reader finds
    return index            # the lists beside the index (IO_FLAG_ONDISK_SAME_DIR)


def done(job: Job) -> None:
    shutil.rmtree(job.dir, ignore_errors=True)


@dataclass(frozen=True)
class Room:
    """Where a merge publishes its encode job: for workers on other machines, ``root`` (the
    shared work directory's ``encode`` folder) as run ``tag``; None keeps it private to the
    bundle's stage (an untagged run, which no worker could name). Blocks of ``block`` frames."""

    root: Path | None = None
    tag: str = ""
    block: int = BLOCK


def build(feats_path: Path, atlas: Path, plan: frameindex.IndexPlan, room: Room, out_dir: Path) -> faiss.Index:
    """The IVF index of ``plan`` over the stored unit features at ``feats_path``: trained here,
    encoded by this process and any workers that join (:func:`work_on`), joined into ``out_dir``."""
    t0 = time.perf_counter()
    trained = frameindex.train(np.load(feats_path, mmap_mode="r"), plan)
    job = publish(room.root or out_dir, atlas, trained, feats_path, room.block, room.tag)
    try:
        t1 = time.perf_counter()
        mine = encode(job)
        t2 = time.perf_counter()
        index = join(job, out_dir)
        log.info("frame index %s: trained in %.1f s; %d blocks of %d frames encoded in %.1f s (%d here); "
                 "joined in %.1f s", plan.kind, t1 - t0, job.blocks, room.block, t2 - t1, mine,
                 time.perf_counter() - t2)
        return index
    finally:
        done(job)
