"""The gRPC service end to end: a real server on a free port, a real Redis, real videos."""
import json
import shutil
import subprocess
import sys
import threading
import time

import grpc
import pytest
import redis

from indexer import read_bundle
from indexer.bundle import write_bundle
from indexer.labels import read_added
from indexer.samples import pan, photo, write_video
from service.api import vidatlas_pb2 as pb
from service.api import vidatlas_pb2_grpc as pb_grpc
from service.server import create_server
from service.settings import ServiceSettings
from testkit.media import transform
from tests.conftest import ODD, SCENES


@pytest.fixture(scope="module")
def served(tmp_path_factory, atlas, redis_server):
    root = tmp_path_factory.mktemp("served") / "atlas"
    shutil.copytree(atlas, root, ignore=shutil.ignore_patterns(".work"))
    settings = ServiceSettings(bundle=str(root), redis_url=redis_server.url, reload_interval_s=0.2,
                               max_clip_bytes=8 << 20, redis_backoff_s=0.3)
    server, port, holder, servicer = create_server(settings, "127.0.0.1:0")
    server.start()
    holder.watch()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield type("Served", (), dict(stub=pb_grpc.VidAtlasServiceStub(channel), holder=holder, servicer=servicer,
                                  root=root, address=f"127.0.0.1:{port}", channel=channel))
    holder.stop()
    server.stop(0)


def _similar(stub, k=5, **query):
    return stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(**query), k=k), timeout=60)


def _scene_frames(name, size=(192, 108), fps=8, seconds=3, **kw):
    return [f for ph, seed in SCENES[name] for f in pan(photo(ph), int(fps * seconds), size, seed)]


def _transformed(path, name, kind):
    return write_video(path, transform(_scene_frames(name), kind), fps=8, options={"crf": "32"})


def test_info_and_listing(served):
    info = served.stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    b = read_bundle(served.root)
    assert info.bundle_version == b.version and info.videos == len(b.video_ids) and info.backbone == "efficientnet_lite0"
    search = served.holder.current().searcher.settings
    assert info.parameters["search.probe_frames"] == str(search.probe_frames)
    assert info.parameters["service.redis_backoff_s"] == "0.3"  # this server's own setting
    assert not any("url" in k or "tls" in k or "token" in k for k in info.parameters)  # no secrets
    listed = served.stub.ListVideos(pb.ListVideosRequest(prefix="b/", page_size=1), timeout=10)
    assert [v.video_id for v in listed.videos] == ["b/lab"] and listed.next_page_token
    rest = served.stub.ListVideos(pb.ListVideosRequest(prefix="b/", page_token=listed.next_page_token), timeout=10)
    assert [v.video_id for v in rest.videos] == ["b/quarry", "b/quarry_reordered"]
    d = served.stub.DescribeVideo(pb.DescribeVideoRequest(video_id="real/bikes"), timeout=10)
    assert (d.video.width, d.video.height) == (640, 272) and d.video.frames == 10


def test_similar_by_id_excludes_itself_and_ranks_the_twin_first(served):
    resp = _similar(served.stub, video_id="b/quarry", k=4)
    ids = [r.video_id for r in resp.results]
    assert "b/quarry" not in ids and len(ids) == 4
    assert ids[0] == "b/quarry_reordered"  # same shots: the closest thing there is
    scores = [r.score for r in resp.results]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("kind", ["reencoded", "greyscale", "downscaled", "brighter", "logo", "faster",
                                  "cropped", "mirrored"])
def test_transformed_copy_is_found_first_and_above_the_reordered_twin(served, tmp_path, kind):
    clip = _transformed(tmp_path / f"{kind}.mp4", "b/quarry", kind)
    ids = [r.video_id for r in _similar(served.stub, clip=clip.read_bytes(), k=5).results]
    assert ids[0] == "b/quarry", (kind, ids)
    assert ids.index("b/quarry_reordered") > 0


def test_a_short_clip_is_found_inside_a_longer_video(served, tmp_path):
    frames = _scene_frames("a/museum")[24:48]  # the middle scene, 3 s of a 9 s video
    clip = write_video(tmp_path / "clip.mp4", frames, fps=8)
    top = _similar(served.stub, clip=clip.read_bytes(), k=3).results[0]
    assert top.video_id == "a/museum"
    assert 2.0 <= top.start_s <= 3.5 and 4.5 <= top.end_s <= 6.5  # the matched range in the long video


def test_a_copy_inset_into_other_footage_is_found(served, tmp_path):
    """3 s of a/museum shrunk into a box over footage of b/lab's place (coins, shot otherwise):
    the frames' features are the coins', yet the inset alone is a copy of a/museum's middle scene."""
    inside = _scene_frames("a/museum", size=(106, 60))[24:48]
    behind = list(pan(photo("coins"), 56, (192, 108), seed=21, zoom=0.6))
    frames = [b.copy() for b in behind]
    for f, g in zip(inside, frames[16:40]):
        g[40:100, 70:176] = f
    clip = write_video(tmp_path / "pip.mp4", frames, fps=8, options={"crf": "30"})
    top = _similar(served.stub, clip=clip.read_bytes(), k=3).results[0]
    assert top.video_id == "a/museum"
    assert 2.0 <= top.start_s < top.end_s <= 6.5 and 1.0 <= top.query_start_s < top.query_end_s <= 5.5


def test_time_range_query(served):
    """b/quarry's second shot (gravel, 3-6 s) is the first shot (0-3 s) of its reordered twin and
    appears nowhere else: a range query over it finds the twin, at the twin's own time."""
    r = _similar(served.stub, video_id="b/quarry", start_s=3.5, end_s=5.5, k=2).results[0]
    assert 3.5 <= r.query_start_s <= r.query_end_s <= 5.5
    assert r.video_id == "b/quarry_reordered"
    assert 0.0 <= r.start_s < r.end_s <= 3.2


def test_dissimilar_spreads_out_and_respects_a_query(served):
    resp = served.stub.FindDissimilar(pb.FindDissimilarRequest(k=4), timeout=10)
    ids = [r.video_id for r in resp.results]
    assert len(set(ids)) == 4
    # the twin pair is never both among the 4 most mutually dissimilar videos
    assert not {"b/quarry", "b/quarry_reordered"} <= set(ids)
    # content is the default; an old client's request (no mode) gets the same answer
    content = served.stub.FindDissimilar(pb.FindDissimilarRequest(k=4, mode=pb.DISSIMILAR_MODE_CONTENT), timeout=10)
    assert [r.video_id for r in content.results] == ids
    path = served.stub.FindDissimilar(pb.FindDissimilarRequest(k=4, mode=pb.DISSIMILAR_MODE_PATH), timeout=10)
    assert [r.video_id for r in path.results] == [m.video_id for m in served.holder.current().searcher.dissimilar(4, mode="path")]
    with pytest.raises(grpc.RpcError) as err:
        served.stub.FindDissimilar(pb.FindDissimilarRequest(k=4, mode=7), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    far = served.stub.FindDissimilar(pb.FindDissimilarRequest(k=3, query=pb.VideoQuery(video_id="b/quarry")), timeout=10)
    assert "b/quarry" not in [r.video_id for r in far.results]
    assert "b/quarry_reordered" not in [r.video_id for r in far.results]


def test_noise_and_flash_videos_are_the_top_outliers(served):
    resp = served.stub.Outliers(pb.OutliersRequest(k=2), timeout=10)
    assert {r.video_id for r in resp.results} == set(ODD)


def test_labels_from_clusters_then_from_added_labels(served):
    first = served.stub.LabelVideo(pb.LabelVideoRequest(query=pb.VideoQuery(video_id="a/harbour")), timeout=30)
    assert first.unsupervised and first.video_label.startswith("cluster-")
    rows = [pb.LabelRow(video_id="a/harbour", time_s=1, label="coffee"),
            pb.LabelRow(video_id="a/harbour", time_s=4, label="cat"),
            pb.LabelRow(video_id="a/harbour", time_s=7, label="rocket"),
            pb.LabelRow(video_id="b/quarry", time_s=1, label="brick")]
    log = served.root / "added-labels.jsonl"
    before = read_added(log)
    added = served.stub.AddLabels(pb.AddLabelsRequest(labels=rows), timeout=10)
    assert added.added == 4 and added.total >= 4
    resp = served.stub.LabelVideo(pb.LabelVideoRequest(query=pb.VideoQuery(video_id="a/harbour")), timeout=30)
    assert not resp.unsupervised
    assert [s.label for s in resp.segments] == ["coffee", "cat", "rocket"]
    by_time = {round(f.time_s): f.label for f in resp.frames}
    assert by_time[0] == "coffee" and by_time[5] == "cat" and by_time[8] == "rocket"
    # a label added at run time reaches other videos through the frame graph: the reordered
    # twin, never labelled, now carries "brick" on its brick shot (its last three seconds)
    twin = served.stub.LabelVideo(pb.LabelVideoRequest(query=pb.VideoQuery(video_id="b/quarry_reordered")), timeout=30)
    assert not twin.unsupervised and {f.label for f in twin.frames if f.time_s >= 6} == {"brick"}
    # labels survive a restart: they are kept beside the bundle
    assert read_added(log) == before + [{"video_id": r.video_id, "time_s": r.time_s, "label": r.label} for r in rows]


@pytest.mark.parametrize("call, code", [
    (lambda s: s.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id="nope"), k=3), timeout=10),
     grpc.StatusCode.NOT_FOUND),
    (lambda s: s.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id="a/harbour"), k=1000), timeout=10),
     grpc.StatusCode.INVALID_ARGUMENT),
    (lambda s: s.FindSimilar(pb.FindSimilarRequest(k=3), timeout=10), grpc.StatusCode.INVALID_ARGUMENT),
    (lambda s: s.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=b"not a video" * 100), k=3), timeout=10),
     grpc.StatusCode.INVALID_ARGUMENT),
    (lambda s: s.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=bytes(9 << 20)), k=3), timeout=10),
     grpc.StatusCode.RESOURCE_EXHAUSTED),
    (lambda s: s.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id="a/harbour", start_s=50), k=3),
                             timeout=10), grpc.StatusCode.INVALID_ARGUMENT),
    (lambda s: s.AddLabels(pb.AddLabelsRequest(labels=[pb.LabelRow(video_id="nope", time_s=1, label="x")]),
                           timeout=10), grpc.StatusCode.NOT_FOUND),
    (lambda s: s.ListVideos(pb.ListVideosRequest(page_size=5000), timeout=10), grpc.StatusCode.INVALID_ARGUMENT),
])
def test_errors_have_proper_status_codes(served, call, code):
    with pytest.raises(grpc.RpcError) as err:
        call(served.stub)
    assert err.value.code() == code


@pytest.mark.parametrize("field", ["start_s", "end_s"])
def test_a_non_finite_time_is_refused_by_name(served, field):
    with pytest.raises(grpc.RpcError) as err:
        _similar(served.stub, video_id="a/harbour", **{field: float("nan")})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.value.details()


def test_a_call_past_its_deadline_is_deadline_exceeded(served, tmp_path):
    """A new clip (never cached) must be decoded and embedded: far more than a 5 ms deadline.
    (An indexed video's answer is a table lookup that can beat even a 1 µs deadline on loopback.)"""
    clip = write_video(tmp_path / "fresh.mp4", list(pan(photo("rocket"), 48, (320, 180), seed=77)), fps=12)
    with pytest.raises(grpc.RpcError) as err:
        served.stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=clip.read_bytes()), k=3), timeout=0.005)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_no_bundle_is_failed_precondition(tmp_path):
    server, port, holder, _ = create_server(ServiceSettings(bundle=str(tmp_path), reload_interval_s=0), "127.0.0.1:0")
    server.start()
    try:
        stub = pb_grpc.VidAtlasServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        with pytest.raises(grpc.RpcError) as err:
            stub.GetInfo(pb.GetInfoRequest(), timeout=10)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        server.stop(0)


def test_results_are_cached_in_redis_with_version_and_ttl(served, redis_server):
    r = redis.Redis.from_url(redis_server.url)
    r.flushdb()  # other modules query copies of the same bundle through the same Redis
    req = pb.FindSimilarRequest(query=pb.VideoQuery(video_id="b/lab"), k=3)
    first = served.stub.FindSimilar(req, timeout=30)
    second = served.stub.FindSimilar(req, timeout=30)
    assert not first.cached and second.cached
    assert list(first.results) == list(second.results)
    keys = r.keys(f"vidatlas:{first.bundle_version}.*:similar:*")
    assert keys and all(0 < r.ttl(k) <= 3600 for k in keys)


def test_redis_down_means_slower_never_failed(served, redis_server):
    stats = served.servicer.cache
    redis_server.stop()
    try:
        errors = stats.errors
        for k in (2, 3, 4):
            resp = served.stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id="a/museum"), k=k), timeout=30)
            assert len(resp.results) == k and not resp.cached
        assert stats.errors > errors
    finally:
        redis_server.start()
    # once the back-off has passed, Redis is used again: an answer is cached there and read back
    req = pb.FindSimilarRequest(query=pb.VideoQuery(video_id="a/museum"), k=6)
    deadline = time.monotonic() + 30
    while not served.stub.FindSimilar(req, timeout=30).cached and time.monotonic() < deadline:
        time.sleep(served.servicer.settings.redis_backoff_s)
    assert served.stub.FindSimilar(req, timeout=30).cached


def test_identical_concurrent_misses_compute_once():
    from service.cache import LocalCache, ResultCache
    cache = ResultCache(LocalCache())
    calls = []
    gate = threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)
        return b"value"
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute("k", compute))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len(results) == 8 and all(v == b"value" for v, _ in results)
    assert sum(not hit for _, hit in results) == 1


def test_hot_reload_swaps_versions_and_refuses_bad_ones(served):
    old = served.holder.current().version
    new_path = write_bundle(served.root, read_bundle(served.root / old).content)
    deadline = time.monotonic() + 60  # a guard against a hang, not a timing
    while served.holder.current().version == old and time.monotonic() < deadline:
        served.stub.GetInfo(pb.GetInfoRequest(), timeout=10)  # requests keep succeeding meanwhile
        time.sleep(0.05)
    assert served.stub.GetInfo(pb.GetInfoRequest(), timeout=10).bundle_version == new_path.name
    # a corrupt version named by CURRENT is refused; the good one keeps serving
    bad = served.root / "v999999-20300101T000000Z"
    shutil.copytree(new_path, bad)
    (bad / "codes.npy").write_bytes(b"garbage")
    failures = served.holder.load_failures
    (served.root / "CURRENT").write_text(bad.name + "\n")
    deadline = time.monotonic() + 60  # a guard against a hang, not a timing
    while served.holder.load_failures == failures and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served.holder.load_failures > failures
    assert served.stub.GetInfo(pb.GetInfoRequest(), timeout=10).bundle_version == new_path.name
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    health = health_pb2_grpc.HealthStub(served.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING  # a refused bundle does not take it down
    (served.root / "CURRENT").write_text(new_path.name + "\n")


def test_cli_client_json_and_exit_codes(served, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "vidatlas", *args, "--server", served.address],
                              capture_output=True, text=True, timeout=120)
    out = cli("similar", "b/quarry", "--k", "3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [r["video_id"] for r in data["results"]][0] == "b/quarry_reordered"
    assert set(data["results"][0]) >= {"video_id", "score", "start_s", "end_s"}
    out = cli("label", "a/museum", "--json")
    label = json.loads(out.stdout)
    assert set(label) >= {"video_label", "confidence", "frames", "segments"}
    assert cli("dissimilar", "--k", "3").returncode == 0
    assert cli("outliers", "--k", "2", "--json").returncode == 0
    missing = cli("similar", "no/such/video")
    assert missing.returncode == 5 and missing.stderr.startswith("vidatlas: not_found:")
    labels = tmp_path / "l.csv"
    labels.write_text("video_id,time_s,label\nb/lab,1,microscope\n")
    assert "added 1 labels" in cli("labels", "add", str(labels)).stdout
    clip = _transformed(tmp_path / "c.mp4", "b/lab", "reencoded")
    out = cli("similar", str(clip), "--json")
    assert json.loads(out.stdout)["results"][0]["video_id"] == "b/lab"


def test_similar_modes_copy_verdict_and_old_clients(served, tmp_path):
    """No mode (an old client) means MODE_SEGMENTS; every result says whether it is a copy, and
    the response names the calibrated threshold; an unknown mode number is refused."""
    clip = _transformed(tmp_path / "c.mp4", "b/quarry", "reencoded").read_bytes()
    old = _similar(served.stub, clip=clip, k=3)
    new = served.stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=clip), k=3,
                                                        mode=pb.FindSimilarRequest.MODE_SEGMENTS), timeout=60)
    assert [r.video_id for r in old.results] == [r.video_id for r in new.results]
    top = old.results[0]
    assert top.video_id == "b/quarry" and top.is_copy and top.copy_score >= old.copy_threshold > 0
    assert top.segments and top.segments[0].score == pytest.approx(top.copy_score)
    whole = served.stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=clip), k=3,
                                                          mode=pb.FindSimilarRequest.MODE_WHOLE_VIDEO), timeout=60)
    assert whole.results[0].video_id == "b/quarry" and whole.results[0].is_copy
    settings = served.holder.current().searcher.settings  # a clip and a video_id are judged apart
    assert old.copy_threshold == pytest.approx(settings.copy_threshold)
    by_id = served.stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id="b/quarry"), k=3), timeout=60)
    assert by_id.copy_threshold == pytest.approx(settings.indexed_copy_threshold)
    assert all(r.is_copy == (r.copy_score >= by_id.copy_threshold) for r in by_id.results)
    with pytest.raises(grpc.RpcError) as err:
        served.stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id="b/quarry"), mode=7), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_find_duplicates_from_the_table_and_the_cli(served):
    assert served.holder.table_ready(timeout=300)
    resp = served.stub.FindDuplicates(pb.FindDuplicatesRequest(), timeout=30)
    assert resp.copy_threshold > 0 and resp.bundle_version
    quarry = [g for g in resp.groups if "b/quarry" in g.video_ids]
    assert quarry and "b/quarry_reordered" in quarry[0].video_ids
    assert all(p.copy_score >= resp.copy_threshold and p.segments for g in resp.groups for p in g.pairs)
    out = subprocess.run([sys.executable, "-m", "vidatlas", "duplicates", "--json", "--server", served.address],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [g["video_ids"] for g in data["groups"]] == [list(g.video_ids) for g in resp.groups]
    text = subprocess.run([sys.executable, "-m", "vidatlas", "similar", "b/quarry", "--k", "3", "--server",
                           served.address], capture_output=True, text=True, timeout=120)
    assert text.returncode == 0 and " copy " in text.stdout and "copy threshold" in text.stderr
    with pytest.raises(grpc.RpcError) as err:
        served.stub.FindDuplicates(pb.FindDuplicatesRequest(min_copy_score=-1), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
