"""Loading bundles: large files checksummed after a first load starts serving, before a hot swap."""
from __future__ import annotations

import shutil

from indexer.bundle import read_bundle, write_bundle
from service.settings import ServiceSettings
from service.state import Holder


def _copy(atlas, tmp_path):
    root = tmp_path / "atlas"
    shutil.copytree(atlas, root, ignore=shutil.ignore_patterns(".work", ".neighbours"))
    return root


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _holder(root, inline_mb=0):
    return Holder(ServiceSettings(bundle=str(root), reload_interval_s=0, precompute_similar=False,
                                  verify_inline_mb=inline_mb))


def test_a_first_load_serves_at_once_and_keeps_serving_a_whole_bundle(atlas, tmp_path):
    holder = _holder(_copy(atlas, tmp_path))
    assert holder.load() and holder.current() is not None
    assert holder._verifier is not None  # every file is over 0 MB: all checked after serving started
    holder._verifier.join(120)
    assert holder.state is not None and holder.load_failures == 0


def test_a_first_load_whose_large_file_is_damaged_is_dropped_and_not_loaded_again(atlas, tmp_path):
    root = _copy(atlas, tmp_path)
    _flip_last_byte(read_bundle(root, verify=False).path / "codes.npy")
    holder = _holder(root)
    assert holder.load()  # sizes match: it serves while the checksums run
    holder._verifier.join(120)
    assert holder.state is None and holder.load_failures == 1 and "checksum mismatch" in holder.last_error
    assert not holder.load() and holder.state is None  # the same version is not tried again
    # checked before serving (the default for small files), the same damage is refused at once
    inline = _holder(root, inline_mb=256)
    assert not inline.load() and inline.load_failures == 1 and inline._verifier is None


def test_a_hot_swap_keeps_the_old_bundle_until_the_new_ones_large_files_pass(atlas, tmp_path):
    root = _copy(atlas, tmp_path)
    holder = _holder(root)
    assert holder.load()
    holder._verifier.join(120)
    old = holder.current().version
    new = write_bundle(root, read_bundle(root).content)
    _flip_last_byte(new / "codes.npy")
    assert not holder.load()
    assert holder.current().version == old and holder.load_failures == 1
