import hashlib
import os

from indexer.digest import file_digest, weights_digest


def test_file_digest_is_the_sha256_of_the_file(tmp_path):
    path = tmp_path / "w.pth"
    data = os.urandom((1 << 22) + 5)  # more than one block
    path.write_bytes(data)
    assert file_digest(path) == file_digest(path, keep_cached=False) == hashlib.sha256(data).hexdigest()


def test_weights_are_read_once_while_size_and_time_stay_the_same(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(b"a" * 1000)
    first = weights_digest(path)
    assert first == hashlib.sha256(b"a" * 1000).hexdigest()
    stamp = os.stat(path).st_mtime_ns
    path.write_bytes(b"b" * 1000)  # other bytes, the same size, the time put back: not read again
    os.utime(path, ns=(stamp, stamp))
    assert weights_digest(path) == first
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))  # a newer file is read again
    assert weights_digest(path) == hashlib.sha256(b"b" * 1000).hexdigest()
