"""The committed stubs are exactly what proto/generate.py makes from the .proto files."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_the_proto(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "proto" / "generate.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == ["vidatlas_pb2.py", "vidatlas_pb2.pyi", "vidatlas_pb2_grpc.py"]
    for name in generated:
        assert (tmp_path / name).read_text() == (ROOT / "service" / "api" / name).read_text(), name


def test_limits_are_documented_in_the_proto():
    text = (ROOT / "proto" / "vidatlas" / "v1" / "vidatlas.proto").read_text()
    for phrase in ("1 .. 100 results", "64 MiB", "RESOURCE_EXHAUSTED", "NOT_FOUND", "FAILED_PRECONDITION"):
        assert phrase in text
