"""Regenerate the committed gRPC stubs from proto/vidatlas/v1/*.proto into service/api/.

    python proto/generate.py            # writes service/api/vidatlas_pb2*.py
    python proto/generate.py --out DIR  # writes elsewhere (the drift test diffs the two)

Pinned: the stubs are made by grpcio-tools (see pyproject's [dev] extra); protobuf at run time
must be at least the version they were generated with.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT = ROOT / "service" / "api"


def generate(out: Path) -> list[Path]:
    from grpc_tools import protoc
    import grpc_tools

    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(PROTO_DIR.glob("vidatlas/v1/*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}", *map(str, protos)]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    written = []
    # flatten vidatlas/v1/x_pb2.py into out/ and make the stub's import package-relative
    for path in sorted((out / "vidatlas" / "v1").glob("*.py*")):
        text = path.read_text()
        text = re.sub(r"^from vidatlas\.v1 import (\w+) as", r"from . import \1 as", text, flags=re.M)
        target = out / path.name
        target.write_text(text)
        path.unlink()
        written.append(target)
    for d in (out / "vidatlas" / "v1", out / "vidatlas"):
        d.rmdir()
    return written


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=OUT)
    for f in generate(p.parse_args().out):
        print(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f, file=sys.stderr)
