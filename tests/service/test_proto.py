"""The contract: stubs generated from the proto, buf lint (STANDARD) clean, no breaking change
against the released image, and the limits the proto states are the ones the service enforces."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from query.search import DEFAULT_K, MAX_K
from service.settings import ServiceSettings
from service.state import MAX_LABELS_PER_CALL
from testkit import tools

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto" / "vidatlas" / "v1" / "vidatlas.proto"


def buf(*args, cwd=ROOT):
    return subprocess.run([tools.buf(), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_committed_stubs_match_the_proto(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "proto" / "generate.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == ["vidatlas_pb2.py", "vidatlas_pb2.pyi", "vidatlas_pb2_grpc.py"]
    for name in generated:
        assert (tmp_path / name).read_text() == (ROOT / "service" / "api" / name).read_text(), name


def test_buf_lint_standard_is_clean():
    out = buf("lint", "proto")
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_breaking_change_against_the_released_contract(tmp_path):
    out = buf("breaking", "proto", "--against", "proto/vidatlas-v1.binpb")
    assert out.returncode == 0, out.stdout + out.stderr
    # and the check can fail: a renamed field is caught
    broken = tmp_path / "proto"
    (broken / "vidatlas" / "v1").mkdir(parents=True)
    (broken / "buf.yaml").write_text((ROOT / "proto" / "buf.yaml").read_text())
    (broken / "vidatlas" / "v1" / "vidatlas.proto").write_text(
        PROTO.read_text().replace("string bundle_version = 2;", "string version = 2;", 1))
    out = buf("breaking", broken, "--against", ROOT / "proto" / "vidatlas-v1.binpb")
    assert out.returncode != 0 and "bundle_version" in out.stdout + out.stderr


def test_limits_stated_in_the_proto_are_the_enforced_ones():
    text = PROTO.read_text()
    k_min, k_max, k_default = map(int, re.search(r"k\s+(\d+) \.\. (\d+) results \(0 means the default, (\d+)\)",
                                                 text).groups())
    assert (k_min, k_max, k_default) == (1, MAX_K, DEFAULT_K)
    mib, seconds = map(int, re.search(r"clip bytes\s+at most (\d+) MiB;.* at most (\d+) s", text).groups())
    s = ServiceSettings()
    assert mib << 20 == s.max_clip_bytes and seconds == s.max_clip_seconds
    assert int(re.search(r"labels per call\s+at most (\d+)", text).group(1)) == MAX_LABELS_PER_CALL
    for status in ("INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED"):
        assert status in text


@pytest.mark.parametrize("name", ["FindSimilar", "FindDissimilar", "Outliers", "DescribeVideo", "GetInfo"])
def test_one_request_and_one_response_message_per_rpc(name):
    from service.api import vidatlas_pb2 as pb
    method = pb.DESCRIPTOR.services_by_name["VidAtlasService"].methods_by_name[name]
    assert (method.input_type.name, method.output_type.name) == (f"{name}Request", f"{name}Response")
