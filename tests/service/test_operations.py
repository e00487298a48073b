"""Operating the service: metrics, health, auth, TLS/mTLS, limits, draining and SIGTERM."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.api import vidatlas_pb2 as pb
from service.api import vidatlas_pb2_grpc as pb_grpc
from service.server import Service
from service.settings import ServiceSettings
from testkit.net import free_port


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, atlas):
    root = tmp_path_factory.mktemp("ops") / "atlas"
    shutil.copytree(atlas, root, ignore=shutil.ignore_patterns(".work"))
    return root


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate, and a second,
    unrelated CA — made with openssl."""
    d = tmp_path_factory.mktemp("pki")

    def sh(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    for ca in ("ca", "other-ca"):
        sh("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca}",
           "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("server", "client"):
        sh("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
           "-out", f"{name}.csr")
        sh("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
           "-days", "2", "-extfile", "san.ext", "-out", f"{name}.pem")
    return d


def _start(settings):
    svc = Service(settings, "127.0.0.1:0").start()
    return svc, f"127.0.0.1:{svc.port}"


def test_metrics_count_rpcs_codes_cache_and_bundle(bundle_dir):
    svc, addr = _start(ServiceSettings(bundle=str(bundle_dir), reload_interval_s=0, metrics_port=free_port()))
    try:
        stub = pb_grpc.VidAtlasServiceStub(grpc.insecure_channel(addr))
        req = pb.FindSimilarRequest(query=pb.VideoQuery(video_id="a/museum"), k=3)
        stub.FindSimilar(req, timeout=30)
        stub.FindSimilar(req, timeout=30)
        with pytest.raises(grpc.RpcError):
            stub.DescribeVideo(pb.DescribeVideoRequest(video_id="nope"), timeout=10)
        text = urllib.request.urlopen(f"http://127.0.0.1:{svc.metrics_port}/metrics", timeout=5).read().decode()
        assert 'vidatlas_rpc_latency_seconds_count{method="FindSimilar"} 2.0' in text
        assert 'vidatlas_rpc_total{code="OK",method="FindSimilar"} 2.0' in text
        assert 'vidatlas_rpc_total{code="NOT_FOUND",method="DescribeVideo"} 1.0' in text
        assert 'vidatlas_cache_events_total{event="hit"} 1.0' in text
        assert 'vidatlas_cache_events_total{event="miss"} 1.0' in text
        assert f'vidatlas_bundle_info{{version="{svc.holder.state.version}"}} 1.0' in text
    finally:
        svc.stop(drain_s=0, grace_s=0)


def test_bearer_token_required_except_for_health(bundle_dir, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    svc, addr = _start(ServiceSettings(bundle=str(bundle_dir), reload_interval_s=0, auth_token_file=str(token)))
    try:
        ch = grpc.insecure_channel(addr)
        stub = pb_grpc.VidAtlasServiceStub(ch)
        for metadata in ((), (("authorization", "Bearer wrong"),)):
            with pytest.raises(grpc.RpcError) as err:
                stub.GetInfo(pb.GetInfoRequest(), timeout=10, metadata=metadata)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        ok = stub.GetInfo(pb.GetInfoRequest(), timeout=10, metadata=(("authorization", "Bearer s3cret-token"),))
        assert ok.videos > 0
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        svc.stop(drain_s=0, grace_s=0)


def test_tls_mtls_and_the_cli_with_a_token(bundle_dir, pki, tmp_path):
    token = tmp_path / "token"
    token.write_text("tok")
    svc, _ = _start(ServiceSettings(bundle=str(bundle_dir), reload_interval_s=0, tls_cert=str(pki / "server.pem"),
                                    tls_key=str(pki / "server.key"), tls_client_ca=str(pki / "ca.pem"),
                                    auth_token_file=str(token)))
    addr = f"localhost:{svc.port}"
    try:
        def client(ca, with_cert=True):
            creds = grpc.ssl_channel_credentials((pki / ca).read_bytes(),
                                                 (pki / "client.key").read_bytes() if with_cert else None,
                                                 (pki / "client.pem").read_bytes() if with_cert else None)
            return pb_grpc.VidAtlasServiceStub(grpc.secure_channel(addr, creds))
        md = (("authorization", "Bearer tok"),)
        assert client("ca.pem").GetInfo(pb.GetInfoRequest(), timeout=10, metadata=md).videos > 0
        with pytest.raises(grpc.RpcError) as err:  # the client trusts the wrong CA
            client("other-ca.pem").GetInfo(pb.GetInfoRequest(), timeout=5, metadata=md)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.RpcError) as err:  # no client certificate: mTLS refuses
            client("ca.pem", with_cert=False).GetInfo(pb.GetInfoRequest(), timeout=5, metadata=md)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        out = subprocess.run(
            [sys.executable, "-m", "vidatlas", "info", "--json", "--server", addr, "--tls-ca", str(pki / "ca.pem"),
             "--tls-cert", str(pki / "client.pem"), "--tls-key", str(pki / "client.key"), "--token-file", str(token)],
            capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert '"videos"' in out.stdout
        denied = subprocess.run(
            [sys.executable, "-m", "vidatlas", "info", "--server", addr, "--tls-ca", str(pki / "ca.pem"),
             "--tls-cert", str(pki / "client.pem"), "--tls-key", str(pki / "client.key")],
            capture_output=True, text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "VIDATLAS_TOKEN"})
        assert denied.returncode == 10 and "unauthenticated" in denied.stderr
    finally:
        svc.stop(drain_s=0, grace_s=0)


def test_oversized_request_is_resource_exhausted(bundle_dir):
    svc, addr = _start(ServiceSettings(bundle=str(bundle_dir), reload_interval_s=0, max_clip_bytes=1 << 20))
    try:
        stub = pb_grpc.VidAtlasServiceStub(grpc.insecure_channel(addr, options=[("grpc.max_send_message_length", 64 << 20)]))
        with pytest.raises(grpc.RpcError) as err:
            stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=bytes(3 << 20)), k=3), timeout=10)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        svc.stop(drain_s=0, grace_s=0)


def test_draining_reports_not_serving_and_finishes_in_flight_calls(bundle_dir, collection):
    svc, addr = _start(ServiceSettings(bundle=str(bundle_dir), reload_interval_s=0))
    ch = grpc.insecure_channel(addr)
    stub = pb_grpc.VidAtlasServiceStub(ch)
    health = health_pb2_grpc.HealthStub(ch)
    clip = (collection / "real" / "bikes.mp4").read_bytes()
    stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=clip), k=2), timeout=60)  # warm the backbone
    results = []
    call = threading.Thread(target=lambda: results.append(
        stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=clip), k=4), timeout=60)))
    stopper = threading.Thread(target=lambda: svc.stop(drain_s=1.0, grace_s=30))
    call.start()
    time.sleep(0.05)
    stopper.start()
    time.sleep(0.3)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING
    call.join(60)
    stopper.join(60)
    assert len(results) == 1 and len(results[0].results) == 4


def test_sigterm_lets_in_flight_calls_complete(bundle_dir, collection):
    port = free_port()
    env = {**os.environ, "VIDATLAS_SERVICE_DRAIN_S": "0.5"}
    proc = subprocess.Popen([sys.executable, "-m", "vidatlas", "serve", "--bundle", str(bundle_dir), "--port",
                             str(port), "--host", "127.0.0.1"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        stub = pb_grpc.VidAtlasServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        grpc.channel_ready_future(grpc.insecure_channel(f"127.0.0.1:{port}")).result(timeout=120)
        stub.GetInfo(pb.GetInfoRequest(), timeout=60, wait_for_ready=True)
        clip = (collection / "real" / "bikes.mp4").read_bytes()
        results = []
        call = threading.Thread(target=lambda: results.append(
            stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(clip=clip), k=3), timeout=120)))
        call.start()
        time.sleep(0.3)  # the call is being served (loading the backbone, decoding, embedding)
        proc.send_signal(signal.SIGTERM)
        call.join(120)
        assert len(results) == 1 and len(results[0].results) == 3
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_reflection_lists_the_services_when_enabled(bundle_dir):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    svc, addr = _start(ServiceSettings(bundle=str(bundle_dir), reload_interval_s=0, reflection=True))
    try:
        stub = reflection_pb2_grpc.ServerReflectionStub(grpc.insecure_channel(addr))
        [resp] = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                 timeout=10))
        names = {s.name for s in resp.list_services_response.service}
        assert {"vidatlas.v1.VidAtlasService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection"} <= names
    finally:
        svc.stop(drain_s=0, grace_s=0)


def test_json_logs(tmp_path):
    (tmp_path / "empty").mkdir()
    out = subprocess.run([sys.executable, "-m", "vidatlas", "--log-format", "json", "-v", "index",
                          str(tmp_path / "empty"), "--out", str(tmp_path / "atlas")],
                         capture_output=True, text=True, timeout=120)
    import json
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    assert out.returncode == 6 and lines and all({"time", "level", "logger", "message"} <= set(x) for x in lines)  # FAILED_PRECONDITION
    assert any(x["message"].startswith("finished discover") for x in lines)
