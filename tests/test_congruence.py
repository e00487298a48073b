"""The same questions asked every way a user can ask them give the same answers: through the
library (query.Searcher on the bundle), through gRPC, and through the CLI's --json output
(qdrant-client's congruence tests)."""
import json
import shutil
import subprocess
import sys

import grpc
import pytest

from indexer import read_bundle
from query.labelling import label
from query.search import Searcher
from service.api import vidatlas_pb2 as pb
from service.api import vidatlas_pb2_grpc as pb_grpc
from service.embed import ClipEmbedder
from service.server import create_server
from service.settings import ServiceSettings

FIELDS = ("video_id", "score", "start_s", "end_s", "query_start_s", "query_end_s")


def rows(results) -> list[dict]:
    """Matches (library), Result messages (gRPC) or --json dicts, as comparable rows."""
    out = []
    for r in results:
        get = r.get if isinstance(r, dict) else lambda f, r=r: getattr(r, f)
        out.append({f: round(get(f), 6) if f != "video_id" else get(f) for f in FIELDS})
    return out


@pytest.fixture(scope="module")
def ways(tmp_path_factory, atlas):
    root = tmp_path_factory.mktemp("congruence") / "atlas"
    shutil.copytree(atlas, root, ignore=shutil.ignore_patterns(".work"))
    # no similar-videos table: every way searches (the table's own equality is tested in tests/query)
    settings = ServiceSettings(bundle=str(root), reload_interval_s=0, precompute_similar=False)
    server, port, holder, _ = create_server(settings, "127.0.0.1:0")
    server.start()
    address = f"127.0.0.1:{port}"
    searcher = Searcher(read_bundle(root))

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "vidatlas", *map(str, args), "--json", "--server", address],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    yield searcher, pb_grpc.VidAtlasServiceStub(grpc.insecure_channel(address)), cli, settings
    server.stop(0)


@pytest.mark.parametrize("video, start, end", [("b/quarry", 0, 0), ("a/museum", 0, 0), ("real/bikes", 0, 0),
                                               ("b/quarry", 3.5, 5.5), ("a/harbour", 1, 4)])
def test_find_similar(ways, video, start, end):
    searcher, stub, cli, _ = ways
    lib = searcher.similar(searcher.query_for_video(video, start, end), 4)
    rpc = stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id=video, start_s=start, end_s=end), k=4),
                           timeout=60).results
    args = ["similar", video, "--k", 4] + (["--start", start, "--end", end] if end else [])
    assert rows(lib) == rows(rpc) == rows(cli(*args)["results"])
    assert len(lib) == 4


def test_find_similar_for_a_clip(ways, collection):
    searcher, stub, cli, settings = ways
    path = collection / "a" / "museum.mp4"
    lib = searcher.similar(ClipEmbedder(settings).embed(searcher, path.read_bytes(), dense=True), 3)  # as FindSimilar
    rpc = stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=path.read_bytes()), k=3), timeout=60).results
    assert rows(lib) == rows(rpc) == rows(cli("similar", path, "--k", 3)["results"])


@pytest.mark.parametrize("to", [None, "c/noise"])
def test_find_dissimilar(ways, to):
    searcher, stub, cli, _ = ways
    q = searcher.query_for_video(to) if to else None
    lib = searcher.dissimilar(4, q)
    req = pb.FindDissimilarRequest(k=4, query=pb.VideoQuery(video_id=to) if to else None)
    rpc = stub.FindDissimilar(req, timeout=60).results
    assert rows(lib) == rows(rpc) == rows(cli("dissimilar", "--k", 4, *(["--to", to] if to else []))["results"])


def test_outliers(ways):
    searcher, stub, cli, _ = ways
    lib = searcher.outliers(3)
    rpc = stub.Outliers(pb.OutliersRequest(k=3), timeout=60).results
    assert rows(lib) == rows(rpc) == rows(cli("outliers", "--k", 3)["results"])


def test_label_video(ways):
    searcher, stub, cli, _ = ways
    lib = label(searcher, searcher.query_for_video("a/harbour"), [])
    rpc = stub.LabelVideo(pb.LabelVideoRequest(query=pb.VideoQuery(video_id="a/harbour")), timeout=60)
    js = cli("label", "a/harbour")
    assert lib.video_label == rpc.video_label == js["video_label"]
    assert [lb for _, lb, _ in lib.frames] == [f.label for f in rpc.frames] == [f["label"] for f in js["frames"]]
    assert [(round(a, 6), round(b, 6), lb) for a, b, lb in lib.segments] == \
        [(round(s.start_s, 6), round(s.end_s, 6), s.label) for s in rpc.segments] == \
        [(round(s["start_s"], 6), round(s["end_s"], 6), s["label"]) for s in js["segments"]]
