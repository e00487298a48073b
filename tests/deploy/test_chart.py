"""The Helm chart, rendered with the Helm library (no helm binary, no cluster) and every manifest
validated against the Kubernetes schemas in strict mode."""
import json

import kubernetes_validate
import pytest
import yaml
from helm_python import Chart, HelmError, lint

CHART = "helm/vidatlas"
K8S = "1.33.0"
FULL = {"indexer": {"enabled": True, "shards": 6, "parallelism": 3, "schedule": "0 3 * * *"},
        "videos": {"existingClaim": "footage"}, "tls": {"enabled": True, "secretName": "vidatlas-tls", "clientAuth": True},
        "auth": {"enabled": True, "secretName": "vidatlas-token"}, "autoscaling": {"enabled": True},
        "bundle": {"existingClaim": "atlas"}, "redis": {"enabled": False, "externalUrl": "redis://cache:6379/0"},
        "service": {"extraEnv": {"VIDATLAS_SERVICE_REDIS_TIMEOUT_S": "0.1", "VIDATLAS_MAP_EPOCHS": 60}}}


@pytest.fixture(scope="module")
def chart():
    with Chart.load(CHART) as c:
        yield c


def render(chart, values=None) -> list[dict]:
    out = chart.render(values=values or {}, name="va", namespace="media")
    docs = [d for text in out.values() for d in yaml.safe_load_all(text) if d]
    for d in docs:
        kubernetes_validate.validate(d, K8S, strict=True)
    return docs


def kinds(docs):
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.mark.parametrize("values", [{}, FULL, {"metrics": {"enabled": False}, "podDisruptionBudget": {"enabled": False}},
                                    {"indexer": {"enabled": True}, "videos": {"existingClaim": "v"}}])
def test_renders_valid_manifests(chart, values):
    docs = render(chart, values)
    assert ("Deployment", "va-vidatlas") in kinds(docs)


def test_lint_is_clean():
    report = lint(CHART, strict=True)
    assert report["errors"] == []
    assert all(m["severity"] <= 1 for m in report["messages"]), report  # info only


def test_defaults_service_probes_redis_pvc_and_security(chart):
    docs = render(chart)
    assert kinds(docs) >= {("Deployment", "va-vidatlas"), ("Service", "va-vidatlas"), ("PersistentVolumeClaim", "va-vidatlas-bundle"),
                           ("Deployment", "va-vidatlas-redis"), ("Service", "va-vidatlas-redis"),
                           ("PodDisruptionBudget", "va-vidatlas")}
    assert not by_kind(docs, "Job") and not by_kind(docs, "CronJob") and not by_kind(docs, "HorizontalPodAutoscaler")
    dep = next(d for d in docs if d["metadata"]["name"] == "va-vidatlas" and d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    port = c["ports"][0]["containerPort"]
    assert c["readinessProbe"]["grpc"]["port"] == port and c["livenessProbe"]["grpc"]["port"] == port
    assert c["livenessProbe"]["grpc"]["service"] == "liveness"
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == 5 and pod["terminationGracePeriodSeconds"] == 40
    assert c["securityContext"]["readOnlyRootFilesystem"] and pod["securityContext"]["runAsNonRoot"]
    assert pod["securityContext"]["runAsUser"] == 10001
    env = env_of(c)
    assert env["VIDATLAS_SERVICE_REDIS_URL"] == "redis://va-vidatlas-redis:6379/0"
    assert env["VIDATLAS_SERVICE_MAX_CLIP_BYTES"] == "67108864" and env["VIDATLAS_SERVICE_PORT"] == str(port)
    assert {m["mountPath"] for m in c["volumeMounts"]} >= {"/data/atlas", "/tmp"}


def test_env_names_match_the_settings_objects(chart):
    from dataclasses import fields

    from indexer.settings import BackboneSettings, MapSettings, SamplingSettings, StoreSettings
    from service.settings import ServiceSettings
    known = {f"VIDATLAS_SERVICE_{f.name.upper()}" for f in fields(ServiceSettings)}
    known |= {f"VIDATLAS_SAMPLING_{f.name.upper()}" for f in fields(SamplingSettings)}
    known |= {f"VIDATLAS_BACKBONE_{f.name.upper()}" for f in fields(BackboneSettings)}
    known |= {f"VIDATLAS_MAP_{f.name.upper()}" for f in fields(MapSettings)} | {"VIDATLAS_LOG_FORMAT"}
    known |= {f"VIDATLAS_STORE_{f.name.upper()}" for f in fields(StoreSettings)}
    for d in render(chart, FULL):
        for spec in _pod_specs(d):
            for c in spec["containers"]:
                for name in env_of(c):
                    if name.startswith("VIDATLAS_"):
                        assert name in known, name


def _pod_specs(d):
    if d["kind"] in ("Deployment", "Job"):
        yield d["spec"]["template"]["spec"]
    elif d["kind"] == "CronJob":
        yield d["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_indexed_job_shards_then_merge_job(chart):
    docs = render(chart, FULL)
    jobs = {d["metadata"]["name"].rsplit("-", 2)[-2]: d for d in by_kind(docs, "Job")}
    extract, build = jobs["extract"], jobs["build"]
    assert extract["spec"]["completionMode"] == "Indexed"
    assert extract["spec"]["completions"] == 6 and extract["spec"]["parallelism"] == 3
    c = extract["spec"]["template"]["spec"]["containers"][0]
    assert c["args"][:2] == ["index", "/videos"]
    assert c["args"][c["args"].index("--shard") + 1] == "$(JOB_COMPLETION_INDEX)/6"
    idx = next(e for e in c["env"] if e["name"] == "JOB_COMPLETION_INDEX")
    assert "job-completion-index" in idx["valueFrom"]["fieldRef"]["fieldPath"]
    b = build["spec"]["template"]["spec"]["containers"][0]
    assert b["args"][b["args"].index("--merge") + 1] == "6" and "--wait" in b["args"]
    vols = {v["name"]: v for v in extract["spec"]["template"]["spec"]["volumes"]}
    assert vols["videos"]["persistentVolumeClaim"] == {"claimName": "footage", "readOnly": True}
    assert vols["bundle"]["persistentVolumeClaim"]["claimName"] == "atlas"
    assert by_kind(docs, "CronJob")[0]["spec"]["schedule"] == "0 3 * * *"
    # the similar-videos table: an Indexed Job waiting for the bundle this release's build publishes
    tag = b["args"][b["args"].index("--tag") + 1]
    near = jobs["neighbours"]
    assert near["spec"]["completionMode"] == "Indexed" and near["spec"]["completions"] == 4
    n = near["spec"]["template"]["spec"]["containers"][0]
    assert n["args"][:3] == ["neighbours", "--bundle", "/data/atlas"]
    assert n["args"][n["args"].index("--shard") + 1] == "$(JOB_COMPLETION_INDEX)/4"
    assert n["args"][n["args"].index("--wait-tag") + 1] == tag and tag.endswith("-1")
    assert n["args"][n["args"].index("--wait") + 1] == "172800"  # longer than the merge's own wait
    # the frame index: workers that wait for this release's build to publish its encode job
    enc = jobs["encode"]
    assert enc["spec"]["completions"] == 4 and enc["spec"]["parallelism"] == 3
    e = enc["spec"]["template"]["spec"]["containers"][0]
    assert e["args"][:4] == ["index", "--out", "/data/atlas", "--encode"]
    assert e["args"][e["args"].index("--tag") + 1] == tag
    assert {v["name"] for v in enc["spec"]["template"]["spec"]["volumes"]} >= {"bundle"}
    off = render(chart, {**FULL, "indexer": {**FULL["indexer"], "neighbourShards": 0, "encodeWorkers": 0}})
    assert {d["metadata"]["name"].rsplit("-", 2)[-2] for d in by_kind(off, "Job")} == {"extract", "build"}


def test_secrets_are_mounted_never_inlined(chart):
    docs = render(chart, FULL)
    assert not by_kind(docs, "Secret")
    dep = next(d for d in docs if d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["tls"]["secret"]["secretName"] == "vidatlas-tls"
    assert vols["auth"]["secret"]["secretName"] == "vidatlas-token"
    env = env_of(pod["containers"][0])
    assert env["VIDATLAS_SERVICE_TLS_CERT"] == "/etc/vidatlas/tls/tls.crt"
    assert env["VIDATLAS_SERVICE_TLS_CLIENT_CA"] == "/etc/vidatlas/tls/ca.crt"
    assert env["VIDATLAS_SERVICE_AUTH_TOKEN_FILE"] == "/etc/vidatlas/auth/token"
    assert env["VIDATLAS_SERVICE_REDIS_URL"] == "redis://cache:6379/0"
    assert "replicas" not in dep["spec"]  # the HPA owns the replica count
    assert ("PersistentVolumeClaim", "va-vidatlas-bundle") not in kinds(docs)


@pytest.mark.parametrize("bad", [{"service": {"replicas": 0}}, {"indexer": {"shards": "four"}},
                                 {"redis": {"externalUrl": "http://nope"}}, {"image": {"pullPolicy": "Sometimes"}},
                                 {"bundle": {"mountPath": "relative/path"}},
                                 {"service": {"extraEnv": {"PATH": "/evil"}}},
                                 {"indexer": {"memoryBudget": "lots"}}, {"indexer": {"encodeWorkers": -1}}])
def test_schema_rejects_bad_values(chart, bad):
    with pytest.raises(HelmError):
        chart.validate_schema(bad)


def test_indexer_without_a_videos_claim_fails_to_render(chart):
    with pytest.raises(HelmError, match="videos.existingClaim is required"):
        chart.render(values={"indexer": {"enabled": True}}, name="va")


def test_values_schema_is_valid_json():
    json.loads(open(f"{CHART}/values.schema.json").read())


def test_the_build_sizes_the_frame_index_for_the_servers_memory(chart):
    """The merge job's memory budget is the service pods' limit unless given, in a spelling the
    indexer reads as the same number of bytes."""
    from indexer.settings import StoreSettings, parse_bytes

    def budget(values):
        build = next(d for d in by_kind(render(chart, values), "Job") if "build" in d["metadata"]["name"])
        return env_of(build["spec"]["template"]["spec"]["containers"][0])["VIDATLAS_STORE_MEMORY_BUDGET"]

    base = {"indexer": {"enabled": True}, "videos": {"existingClaim": "v"}}
    assert parse_bytes(budget(base)) == StoreSettings().budget_bytes  # the chart's 4Gi pod limit
    bigger = {**base, "service": {"resources": {"limits": {"cpu": "2", "memory": "12Gi"}}}}
    assert parse_bytes(budget(bigger)) == 12 * 2**30
    given = {**bigger, "indexer": {"enabled": True, "memoryBudget": "6GiB"}}
    assert parse_bytes(budget(given)) == 6 * 2**30
